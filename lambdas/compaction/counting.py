"""The hourly count of people per pending text (docs/common-text.md), run by compaction before
it rewrites a closed hour.

Every batch file a closed hour holds names its sender (the pseudonym of the enrolled agent, in
its metadata) and holds the ids of the texts still pending in it; together with each row's
subject that is one contribution (text, agent, subject). The contributions of the last
`WINDOW_DAYS` live beside the program's lake data, in sixteen Parquet shards by the text id's
first hex digit (`interactions/program=<p>/_common/pending-<x>.parquet`), under the program's key:
purged with the program, shredded with its key, searched by erase-subject like any lake file.

One run: the hours closed since the last count (the watermark, `_common/counted-through.json`)
are read, their contributions merged into each shard (a contribution is kept once, with the hour it
was last seen; expired ones and suppressed subjects are dropped), and every text that reaches
the program's `min_people` is recorded as common in the vocabulary and leaves the shard. A text
is released by the first batch that carries it after that. Hours count once: ingest partitions by
arrival, so a closed hour never receives another batch file, and compaction rewrites an hour only
after it was counted (the compacted parts no longer say who sent what).

The watermark is written after the shards: a crash between them leaves it behind, and the next
run counts those hours again, which changes nothing (a contribution is kept once).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

from lambdas.adapters.text_store import TextStore
from lambdas.core import common_text as ct
from lambdas.core.compaction import PartName, read_input
from lambdas.core.lake import partition_prefix, program_prefix, put_args
from lambdas.core.state import ProgramStatus
from lambdas.governance.s3 import delete_other_versions

SHARDS = 16
READ_CONCURRENCY = 8
_COLUMNS = ["subject_pid", *(c for f in ct.TEXT_FIELDS for c in (f.text, f.id))]


def epoch_hour(at: datetime) -> int:
    return int(at.astimezone(UTC).timestamp() // 3600)


def hour_start(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * 3600, UTC)


def shard_of(text_id: str) -> int:
    """Ids are "h:" + hex of an HMAC: evenly spread over the shards."""
    return int(text_id[2], 16) % SHARDS


def state_prefix(program: str) -> str:
    return f"{program_prefix(program)}_common/"


def shard_key(program: str, shard: int) -> str:
    return f"{state_prefix(program)}pending-{shard:x}.parquet"


@dataclass
class CountResult:
    outcome: str = "nothing_to_do"  # counted, nothing_to_do, withdrawn
    hours: int = 0  # hours counted in this run
    files: int = 0  # batch files read
    files_without_agent: int = 0  # batch files nobody enrolled sent: they count nobody
    contributions: int = 0  # (text, agent, subject) read this run
    pending_texts: int = 0  # texts still pending after the run
    became_common: int = 0  # texts recorded as common in the vocabulary by this run
    counted_through: str | None = None  # the last hour counted (ISO), after the run
    seconds: float = 0.0
    reason: str = ""


class PendingCounts:
    """One program's pending counts in S3 and what they take part in."""

    def __init__(
        self,
        *,
        program: str,
        bucket: str,
        s3: Any,
        store: TextStore,
        min_people: int,
        key_arn: Callable[[], str],
        window_days: int = ct.WINDOW_DAYS,
    ) -> None:
        self.program, self.bucket, self.s3, self.store = program, bucket, s3, store
        self.min_people, self.window_days = min_people, window_days
        self._key_arn = key_arn

    # -- the watermark ------------------------------------------------------------------------

    def watermark(self) -> int | None:
        """The last hour counted (None before the first count, or if unreadable: then the
        lookback is counted again, which changes nothing for what was counted)."""
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self._watermark_key)["Body"].read()
            return int(json.loads(body)["counted_through"])
        except (ClientError, ValueError, KeyError, TypeError):
            return None

    @property
    def _watermark_key(self) -> str:
        return f"{state_prefix(self.program)}counted-through.json"

    # -- a run ----------------------------------------------------------------------------------

    def count(
        self,
        hours: list[datetime],
        status: ProgramStatus,
        changed: Callable[[], bool],
        now: datetime,
    ) -> CountResult:
        """Count `hours` (closed, oldest first) into the shards; see the module docstring. Only
        the shards that receive contributions are read and written (a shard's expired entries
        are dropped whenever it is next written, and never counted meanwhile)."""
        result = CountResult()
        if not hours:
            return result
        through = epoch_hour(hours[-1])
        new = [self._contributions(hour, result) for hour in hours]
        fresh = pa.concat_tables([ct.PENDING.empty_table(), *new])
        result.contributions = fresh.num_rows
        result.hours = len(hours)
        oldest = epoch_hour(now) - self.window_days * 24
        by_shard: dict[int, list[int]] = {}
        for row, text_id in enumerate(fresh["text_id"].to_pylist()):
            by_shard.setdefault(shard_of(text_id), []).append(row)
        for shard, rows in sorted(by_shard.items()):
            if changed():  # a subject was suppressed, or the program paused: start again later
                result.outcome, result.reason = "withdrawn", "program status changed"
                return result
            merged = ct.merge_pending(
                [self._read_shard(shard), fresh.take(pa.array(rows, pa.int64()))],
                oldest_hour=oldest,
                suppressed=status.suppressed_subjects,
            )
            reached = ct.common(merged, self.min_people)
            if reached:
                result.became_common += self.store.mark_common(
                    self.program, reached, now_s=now.timestamp()
                )
                merged = ct.without_texts(merged, reached)
            result.pending_texts += len(pc.unique(merged["text_id"]))
            self._write(shard_key(self.program, shard), pending_parquet(merged))
        self._write(self._watermark_key, json.dumps({"counted_through": through}).encode())
        result.outcome = "counted"
        result.counted_through = hour_start(through).isoformat()
        return result

    def _contributions(self, hour: datetime, result: CountResult) -> pa.Table:
        """The contributions of one closed hour's batch files (read READ_CONCURRENCY at a
        time: they are small, so latency, not bandwidth, sets the pace)."""
        at = epoch_hour(hour)

        def read(file: tuple[str, str]) -> pa.Table | None:
            key, version = file
            body = self.s3.get_object(Bucket=self.bucket, Key=key, VersionId=version)["Body"].read()
            agent = (pq.read_metadata(io.BytesIO(body)).metadata or {}).get(ct.AGENT_METADATA)
            if not agent:
                return None
            return ct.contributions(read_input(body).select(_COLUMNS), agent.decode(), at)

        files = list(self._batch_files(partition_prefix(self.program, hour)))
        with ThreadPoolExecutor(READ_CONCURRENCY, thread_name_prefix="count-read") as pool:
            tables = list(pool.map(read, files))
        result.files += len(files)
        result.files_without_agent += sum(t is None for t in tables)
        found = [t for t in tables if t is not None]
        return pa.concat_tables(found) if found else ct.PENDING.empty_table()

    def _batch_files(self, prefix: str) -> Iterator[tuple[str, str]]:
        """The current batch files (not compacted parts) directly under an hour's prefix."""
        for page in self.s3.get_paginator("list_object_versions").paginate(
            Bucket=self.bucket, Prefix=prefix
        ):
            for version in page.get("Versions", []):
                name = version["Key"][len(prefix) :]
                if (
                    version["IsLatest"]
                    and name.endswith(".parquet")
                    and "/" not in name
                    and PartName.parse(name) is None
                ):
                    yield version["Key"], version["VersionId"]

    # -- shards ---------------------------------------------------------------------------------

    def _read_shard(self, shard: int) -> pa.Table:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=shard_key(self.program, shard))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
                raise
            return ct.PENDING.empty_table()
        return pq.read_table(io.BytesIO(body["Body"].read()), schema=ct.PENDING)

    def _write(self, key: str, data: bytes) -> None:
        """Write the object's new version, then delete every older one: an old version of a
        shard would still hold what expired or what an erasure took out."""
        written = self.s3.put_object(
            Bucket=self.bucket, Key=key, Body=data, **put_args(self._key_arn())
        )
        delete_other_versions(self.s3, self.bucket, key, written.get("VersionId"))


def pending_parquet(pending: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pending, sink, compression="zstd", use_dictionary=["agent_pid", "subject_pid"])
    return sink.getvalue()


def hours_to_count(closed: list[datetime], watermark: int | None) -> list[datetime]:
    """The closed hours (oldest first) after the watermark."""
    return [h for h in closed if watermark is None or epoch_hour(h) > watermark]


def counted(hour: datetime, watermark: int | None) -> bool:
    return watermark is not None and epoch_hour(hour) <= watermark

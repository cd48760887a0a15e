"""Release reaches the past: texts released after an object was written are filled into it.

Compaction fills released texts into every hour it compacts. An hour compacted before one of its
texts was released (the usual case: a text becomes common at the hourly count, which runs before
the hour is compacted, and is released by the next batch that carries it) is filled in again at
fixed ages (`CompactionConfig.refill_after_hours`, 3 and 24 hours by default), so each object is
rewritten at most that many more times whatever the number of releases.

An object is read first through its text and id columns only (ranged GETs); only if one of its
pending texts is released now is it read whole, filled in and written back under the same key
(its metadata kept: a part's manifest, a batch file's sender), and its older versions deleted.
Rows of suppressed (erased) subjects are left out, and the program's status is read again after
the write: if a subject was suppressed meanwhile, the object is written once more without them.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lambdas.adapters.text_store import TextStore
from lambdas.core import common_text as ct
from lambdas.core.compaction import read_input
from lambdas.core.lake import put_args, to_parquet
from lambdas.core.state import ProgramStatus
from lambdas.governance.s3 import RangedObject, delete_other_versions

_TEXT_COLUMNS = [c for f in ct.TEXT_FIELDS for c in (f.text, f.id)]


@dataclass
class RefillResult:
    partition: str
    objects: int = 0  # objects examined
    rewritten: int = 0
    texts_filled: int = 0  # values filled in
    rows_suppressed: int = 0
    outcome: str = "nothing_to_do"  # refilled, nothing_to_do, withdrawn


class Refill:
    def __init__(
        self, *, program: str, bucket: str, s3: Any, store: TextStore, key_arn: Callable[[], str]
    ) -> None:
        self.program, self.bucket, self.s3, self.store = program, bucket, s3, store
        self._key_arn = key_arn

    def partition(
        self, prefix: str, start: ProgramStatus, status_now: Callable[[], ProgramStatus]
    ) -> RefillResult:
        result = RefillResult(prefix)
        for version in self._current(prefix):
            result.objects += 1
            released = self._released(version)
            if not released:
                continue
            now = status_now()
            if not now.collecting:
                result.outcome = "withdrawn"
                return result
            self._rewrite(version, released, now, result)
            after = status_now()
            if not after.suppressed_subjects <= now.suppressed_subjects:
                # an erasure began while we wrote: write the object once more without them
                self._rewrite(self._latest(version["Key"]), {}, after, result, force=True)
                result.outcome = "withdrawn"
                return result
        if result.rewritten:
            result.outcome = "refilled"
        return result

    def _released(self, version: dict[str, Any]) -> dict[str, str]:
        """The released texts among the object's pending ones (its text columns only)."""
        source = RangedObject(
            self.s3,
            self.bucket,
            version["Key"],
            size=int(version["Size"]),
            version_id=version["VersionId"],
        )
        try:
            parquet = pq.ParquetFile(source)
            present = [c for c in _TEXT_COLUMNS if c in parquet.schema_arrow.names]
            if not present:
                return {}
            texts = parquet.read(columns=present)
        except (pa.ArrowException, OSError):
            return {}  # not a lake file we can read: leave it
        pending = ct.pending_ids(texts)
        if not pending:
            return {}
        return self.store.resolve(self.program, dict.fromkeys(pending)).released

    def _rewrite(
        self,
        version: dict[str, Any],
        released: dict[str, str],
        status: ProgramStatus,
        result: RefillResult,
        *,
        force: bool = False,
    ) -> None:
        key = version["Key"]
        current = self.s3.get_object(Bucket=self.bucket, Key=key, VersionId=version["VersionId"])
        body = current["Body"].read()
        own = {
            k: v
            for k, v in (pq.read_metadata(io.BytesIO(body)).metadata or {}).items()
            if not k.startswith(b"ARROW:")
        }
        table = read_input(body)
        table, filled = ct.fill(table, released)
        if status.suppressed_subjects:
            gone = pa.array(sorted(status.suppressed_subjects), pa.string())
            keep = pc.invert(pc.is_in(table["subject_pid"], value_set=gone))
            kept = table.filter(keep)
            result.rows_suppressed += table.num_rows - kept.num_rows
            table = kept
        if not filled and not force:
            return
        metadata = {**current.get("Metadata", {}), "rows": str(table.num_rows)}
        written = self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=to_parquet(table, own),
            **put_args(self._key_arn()),
            Metadata=metadata,
        )
        delete_other_versions(self.s3, self.bucket, key, written.get("VersionId"))
        result.rewritten += 1
        result.texts_filled += filled

    # -- S3 ---------------------------------------------------------------------------------

    def _current(self, prefix: str) -> Iterator[dict[str, Any]]:
        for page in self.s3.get_paginator("list_object_versions").paginate(
            Bucket=self.bucket, Prefix=prefix
        ):
            for version in page.get("Versions", []):
                name = version["Key"][len(prefix) :]
                if version["IsLatest"] and name.endswith(".parquet") and "/" not in name:
                    yield version

    def _latest(self, key: str) -> dict[str, Any]:
        listing = self.s3.list_object_versions(Bucket=self.bucket, Prefix=key)
        (latest,) = (v for v in listing.get("Versions", []) if v["Key"] == key and v["IsLatest"])
        return dict(latest)

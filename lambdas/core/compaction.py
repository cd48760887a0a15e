"""Compaction of closed hour partitions: many small batch files become a few large ones, sorted
by subject_pid then ts, without losing or duplicating a row (docs/compaction.md).

This module is the pure part: names, manifests, what a partition's listing means, and the
streaming rewrite. `lambdas/compaction/service.py` moves the bytes.

Names. A run writes `compacted-<run>-<part>of<parts>.parquet` next to the batch files it
replaces (a batch file is `<uuid>.parquet`, so the two never collide). A run is complete when
all its parts are present; every part's Parquet metadata holds the manifest (`ilake.compaction`:
run id, part number and the names of the inputs), so any one part tells which inputs the run
covers.

Order of a run (the crash-safety argument): write every part, then delete the inputs (all
versions). So at any crash point the partition holds either an incomplete run with all its
inputs (the next run deletes the stray parts and compacts the inputs again), or a complete run
with some of its inputs left (the next run deletes them, it does not compact them twice).

Flat memory. The sort is a bucket sort on the pseudonym: subject_pid is a hex HMAC, uniformly
spread, so splitting its range into B equal slices gives buckets of even size whose order is
the sort order. Each input is split into per-bucket spill files (Arrow IPC, zstd) as it is read;
then each bucket is loaded alone, sorted and appended to the part being written. Peak memory is
one bucket plus one row group, whatever the number or size of the inputs, and B is chosen from
the partition's size so that a bucket fits the memory budget. (One subject's rows of one hour
are never split, so a single subject larger than the budget would exceed it; an hour of one
person's events is a few MB.)
"""

from __future__ import annotations

import bisect
import json
import math
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from .lake import INTERACTIONS, WRITER_OPTIONS

MANIFEST_KEY = b"ilake.compaction"
SORT_KEYS = [("subject_pid", "ascending"), ("ts", "ascending")]
_PART = re.compile(r"compacted-(?P<run>[0-9a-f]{32})-(?P<part>\d{4})of(?P<parts>\d{4})\.parquet")
_SPILL_OPTIONS = ipc.IpcWriteOptions(compression="zstd")
MAX_BUCKETS = 4096
BUCKET_OVERHEAD = 3
MAX_PARTS = 9999
MAX_FILE_BYTES = 4 * 2**30  # a part is written with one PUT (at most 5 GiB)


@dataclass(frozen=True, slots=True)
class CompactionConfig:
    """Tunables, from the environment in the Lambda (COMPACTION_* variables) and the CLI."""

    target_file_bytes: int = 128 * 2**20  # a part is closed once it reaches this size
    row_group_rows: int = 262_144  # about 8-16 MiB of zstd per row group here (docs/compaction.md)
    memory_budget_bytes: int = 512 * 2**20  # for sorting one bucket (see bucket_count)
    grace_s: int = 900  # an hour is closed this long after it ends (a batch may still land)
    lookback_hours: int = 48  # hours examined per run
    min_inputs: int = 2  # fewer small files than this are left as they are
    max_run_bytes: int = 512 * 2**20  # of input per slice: one slice takes minutes, not hours
    # ages (hours after an hour ends) at which texts released since are filled into it again
    refill_after_hours: tuple[int, ...] = (3, 24)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CompactionConfig:
        e = os.environ if env is None else env
        d = cls()
        config = cls(
            target_file_bytes=int(e.get("COMPACTION_TARGET_FILE_BYTES", d.target_file_bytes)),
            row_group_rows=int(e.get("COMPACTION_ROW_GROUP_ROWS", d.row_group_rows)),
            memory_budget_bytes=int(e.get("COMPACTION_MEMORY_BUDGET_BYTES", d.memory_budget_bytes)),
            grace_s=int(e.get("COMPACTION_GRACE_S", d.grace_s)),
            lookback_hours=int(e.get("COMPACTION_LOOKBACK_HOURS", d.lookback_hours)),
            min_inputs=int(e.get("COMPACTION_MIN_INPUTS", d.min_inputs)),
            max_run_bytes=int(e.get("COMPACTION_MAX_RUN_BYTES", d.max_run_bytes)),
            refill_after_hours=tuple(
                int(h)
                for h in e.get(
                    "COMPACTION_REFILL_AFTER_HOURS", ",".join(map(str, d.refill_after_hours))
                ).split(",")
                if h.strip()
            ),
        )
        if not 0 < config.target_file_bytes <= MAX_FILE_BYTES:
            raise ValueError("COMPACTION_TARGET_FILE_BYTES must be at most 4 GiB (one S3 PUT)")
        return config


# -- names and manifests -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartName:
    run: str
    part: int
    parts: int

    @property
    def name(self) -> str:
        return f"compacted-{self.run}-{self.part:04d}of{self.parts:04d}.parquet"

    @classmethod
    def parse(cls, name: str) -> PartName | None:
        match = _PART.fullmatch(name)
        if match is None:
            return None
        part, parts = int(match["part"]), int(match["parts"])
        return cls(match["run"], part, parts) if 1 <= part <= parts else None


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a part records in its Parquet metadata: its run and every input the run replaces."""

    run: str
    part: int
    inputs: tuple[str, ...]  # object names inside the partition

    def to_metadata(self) -> dict[bytes, bytes]:
        body = {"run": self.run, "part": self.part, "inputs": list(self.inputs)}
        return {MANIFEST_KEY: json.dumps(body, separators=(",", ":")).encode()}

    @classmethod
    def from_metadata(cls, metadata: Mapping[bytes, bytes] | None) -> Manifest | None:
        raw = (metadata or {}).get(MANIFEST_KEY)
        if raw is None:
            return None
        try:
            body = json.loads(raw)
            inputs = tuple(str(name) for name in body["inputs"])
            return cls(str(body["run"]), int(body["part"]), inputs)
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True)
class PartitionPlan:
    """What one hour partition's current objects say about past runs and work to do."""

    complete_runs: dict[str, tuple[str, ...]]  # run -> its parts, all present
    stray_parts: tuple[str, ...]  # parts of runs that never completed (a crash mid-write)
    small_files: tuple[str, ...]  # batch files: inputs, unless a complete run covers them


def plan_partition(names: Iterable[str]) -> PartitionPlan:
    """Classify the current object names of one partition (names only: no reads)."""
    runs: dict[str, list[PartName]] = {}
    small: list[str] = []
    for name in names:
        part = PartName.parse(name)
        if part is not None:
            runs.setdefault(part.run, []).append(part)
        elif name.endswith(".parquet") and not name.startswith("compacted-"):
            small.append(name)
    complete: dict[str, tuple[str, ...]] = {}
    stray: list[str] = []
    for run, parts in runs.items():
        expected = {parts[0].parts}
        numbers = {p.part for p in parts}
        if {p.parts for p in parts} == expected and numbers == set(range(1, parts[0].parts + 1)):
            complete[run] = tuple(p.name for p in sorted(parts, key=lambda p: p.part))
        else:
            stray += [p.name for p in parts]
    return PartitionPlan(complete, tuple(sorted(stray)), tuple(sorted(small)))


def closed_hours(now: datetime, grace_s: int, lookback_hours: int) -> list[datetime]:
    """Starts of the hours (oldest first) that ended at least `grace_s` ago, within lookback."""
    now = now.astimezone(UTC)
    newest = (now - timedelta(seconds=grace_s)).replace(minute=0, second=0, microsecond=0)
    # the hour starting at `newest` ends after now - grace: the last closed one is before it
    return [newest - timedelta(hours=h) for h in range(lookback_hours, 0, -1)]


def refill_due(hour: datetime, now: datetime, ages_hours: Iterable[int]) -> bool:
    """Whether `hour` (its start) reached one of the refill ages in the hour before `now`: an
    hourly run meets each age of each hour once."""
    age = now.astimezone(UTC) - (hour + timedelta(hours=1))
    return any(timedelta(hours=a) <= age < timedelta(hours=a + 1) for a in ages_hours)


def bucket_count(input_bytes: int, arrow_per_file_byte: float, budget_bytes: int) -> int:
    """Buckets so that sorting one (its Arrow data estimated from the Parquet size) fits the
    budget: the bucket as read, its sorted copy and the allocator's slack, about 3x its data."""
    wanted = math.ceil(input_bytes * arrow_per_file_byte * BUCKET_OVERHEAD / max(1, budget_bytes))
    return max(1, min(MAX_BUCKETS, wanted))


# -- the streaming rewrite -------------------------------------------------------------------------


@dataclass
class RewriteStats:
    rows_in: int = 0
    rows_suppressed: int = 0  # rows of erased subjects, not written back
    rows_out: int = 0
    parts: list[Path] = field(default_factory=list)
    peak_bucket_bytes: int = 0  # Arrow memory of the largest bucket


class SortedRewrite:
    """Tables in (any order), sorted Parquet parts out, with memory bounded by one bucket.

    `add()` splits each table into per-bucket spill files under `workdir`; `finish()` sorts the
    buckets one at a time, in order, into parts of about `target_file_bytes`, each carrying the
    manifest `manifest(part_number)` in its metadata.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        buckets: int,
        config: CompactionConfig,
        suppressed: frozenset[str] = frozenset(),
    ) -> None:
        self._dir = workdir
        self._dir.mkdir(parents=True, exist_ok=True)
        self._config = config
        self._buckets = buckets
        # bucket b holds the pseudonyms in [bounds[b-1], bounds[b]): equal slices of hex space
        self._bounds = [format(b * 2**32 // buckets, "08x") for b in range(1, buckets)]
        self._suppressed = pa.array(sorted(suppressed), pa.string())
        self._spills: dict[int, tuple[pa.NativeFile, ipc.RecordBatchStreamWriter]] = {}
        self.stats = RewriteStats()

    def add(self, table: pa.Table) -> None:
        """Take one input's rows (already in the lake schema)."""
        self.stats.rows_in += table.num_rows
        subjects = table["subject_pid"]
        if len(self._suppressed):
            keep = pc.invert(pc.is_in(subjects, value_set=self._suppressed))
            kept = table.filter(keep)
            self.stats.rows_suppressed += table.num_rows - kept.num_rows
            table, subjects = kept, kept["subject_pid"]
        if table.num_rows == 0:
            return
        distinct = pc.unique(subjects)
        of_distinct = [bisect.bisect_right(self._bounds, pid) for pid in distinct.to_pylist()]
        if len(set(of_distinct)) == 1:  # the usual batch: one agent, one subject, one bucket
            self._spill(of_distinct[0]).write_table(table)
            return
        buckets = pc.take(
            pa.array(of_distinct, pa.int32()), pc.index_in(subjects, value_set=distinct)
        )
        for bucket in sorted(set(of_distinct)):
            self._spill(bucket).write_table(table.filter(pc.equal(buckets, bucket)))

    def _spill(self, bucket: int) -> ipc.RecordBatchStreamWriter:
        if bucket not in self._spills:
            sink = pa.OSFile(str(self._dir / f"bucket-{bucket:04d}.arrow"), "wb")
            writer = ipc.new_stream(sink, INTERACTIONS, options=_SPILL_OPTIONS)
            self._spills[bucket] = (sink, writer)
        return self._spills[bucket][1]

    def finish(self, manifest: Manifest) -> RewriteStats:
        """Write the parts (local files); `manifest.part` is set per part."""
        config, stats = self._config, self.stats
        pending: list[pa.Table] = []
        pending_rows = 0
        writer: pq.ParquetWriter | None = None
        sink: pa.NativeFile | None = None

        def open_part() -> tuple[pq.ParquetWriter, pa.NativeFile]:
            number = len(stats.parts) + 1
            if number > MAX_PARTS:
                raise ValueError("a partition this large needs a larger target_file_bytes")
            target = self._dir / f"part-{number:04d}.parquet"
            schema = INTERACTIONS.with_metadata(
                Manifest(manifest.run, number, manifest.inputs).to_metadata()
            )
            stats.parts.append(target)
            out = pa.OSFile(str(target), "wb")  # unbuffered: tell() is what the file holds
            return pq.ParquetWriter(out, schema, **WRITER_OPTIONS), out

        def close_part() -> None:
            nonlocal writer, sink
            if writer is not None and sink is not None:
                writer.close()
                sink.close()
            writer = sink = None

        def write_group(rows: pa.Table) -> None:
            nonlocal writer, sink
            if writer is None or sink is None:
                writer, sink = open_part()
            writer.write_table(rows, row_group_size=config.row_group_rows)
            stats.rows_out += rows.num_rows
            if sink.tell() >= config.target_file_bytes:
                close_part()

        for bucket in sorted(self._spills):
            spill_file, spill = self._spills.pop(bucket)
            spill.close()
            spill_file.close()
            spill_path = self._dir / f"bucket-{bucket:04d}.arrow"
            with pa.OSFile(str(spill_path), "rb") as source:
                rows = ipc.open_stream(source).read_all()
            spill_path.unlink()
            stats.peak_bucket_bytes = max(stats.peak_bucket_bytes, rows.nbytes)
            rows = rows.sort_by(SORT_KEYS)
            pending.append(rows)
            pending_rows += rows.num_rows
            del rows
            while pending_rows >= config.row_group_rows:
                joined = pa.concat_tables(pending)
                write_group(joined.slice(0, config.row_group_rows))
                rest = joined.slice(config.row_group_rows)
                pending, pending_rows = ([rest] if rest.num_rows else []), rest.num_rows
        if pending_rows:
            write_group(pa.concat_tables(pending))
        close_part()
        return stats

    def close(self) -> None:
        """Drop the spill files and parts (after upload, or on failure)."""
        for sink, spill in self._spills.values():
            spill.close()
            sink.close()
        self._spills.clear()
        shutil.rmtree(self._dir, ignore_errors=True)


def read_input(data: bytes | pa.Buffer) -> pa.Table:
    """One batch file in the lake schema (older files gain the newer columns as nulls)."""
    return pq.read_table(pa.BufferReader(data), schema=INTERACTIONS)

"""The pure part of compaction: names, manifests, plans, closed hours and the sorted rewrite."""

from __future__ import annotations

import hashlib
import random
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambdas.core.compaction import (
    CompactionConfig,
    Manifest,
    PartName,
    SortedRewrite,
    bucket_count,
    closed_hours,
    plan_partition,
)
from lambdas.core.lake import INTERACTIONS

RUN = "0123456789abcdef0123456789abcdef"
TS = pa.timestamp("ms", tz="UTC")


def pid(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()[:32]


def batch(rows: int, *, seed: int, subjects: int) -> pa.Table:
    """A batch file's rows in the lake schema: only what the rewrite looks at is varied."""
    rng = random.Random(seed)
    columns = {f.name: pa.nulls(rows, f.type) for f in INTERACTIONS}
    columns |= {
        "event_id": pa.array([str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(rows)]),
        "batch_id": pa.array([f"b{seed}"] * rows),
        "seq": pa.array(range(rows), pa.int64()),
        "ts": pa.array([rng.randrange(3_600_000) for _ in range(rows)], TS),
        "received_at": pa.array([0] * rows, TS),
        "type": pa.array(["pointer.click"] * rows),
        "subject_pid": pa.array([pid(rng.randrange(subjects)) for _ in range(rows)]),
        "device_pid": pa.array(["d"] * rows),
        "session_pid": pa.array(["s"] * rows),
        "policy_version": pa.array(["1"] * rows),
        "schema_version": pa.array(["interactions/1"] * rows),
    }
    return pa.table(columns, schema=INTERACTIONS)


def test_part_names_round_trip_and_reject_look_alikes() -> None:
    part = PartName(RUN, 2, 3)
    assert part.name == f"compacted-{RUN}-0002of0003.parquet"
    assert PartName.parse(part.name) == part
    for name in (
        f"compacted-{RUN}-0004of0003.parquet",  # part beyond the count
        f"compacted-{RUN}-0000of0003.parquet",
        f"compacted-{RUN[:-1]}-0001of0001.parquet",
        f"{uuid.uuid4()}.parquet",
        f"compacted-{RUN}-0001of0001.parquet.tmp",
    ):
        assert PartName.parse(name) is None


def test_manifest_round_trips_through_parquet_metadata(tmp_path: Path) -> None:
    manifest = Manifest(RUN, 1, ("a.parquet", "b.parquet"))
    path = tmp_path / "m.parquet"
    pq.write_table(
        batch(3, seed=1, subjects=1).replace_schema_metadata(manifest.to_metadata()), path
    )
    assert Manifest.from_metadata(pq.read_metadata(path).metadata) == manifest
    assert Manifest.from_metadata(None) is None
    assert Manifest.from_metadata({b"ilake.compaction": b"{not json"}) is None
    assert Manifest.from_metadata({b"ilake.compaction": b'{"run": "x"}'}) is None


def test_plan_tells_complete_runs_stray_parts_and_small_files() -> None:
    other = "f" * 32
    names = [
        PartName(RUN, 1, 2).name,
        PartName(RUN, 2, 2).name,
        PartName(other, 1, 3).name,  # parts 2 and 3 never written: a crash mid-upload
        PartName(other, 3, 3).name,
        "11111111-1111-4111-8111-111111111111.parquet",
        "22222222-2222-4222-8222-222222222222.parquet",
        "notes.txt",
    ]
    plan = plan_partition(names)
    assert plan.complete_runs == {RUN: (PartName(RUN, 1, 2).name, PartName(RUN, 2, 2).name)}
    assert plan.stray_parts == (PartName(other, 1, 3).name, PartName(other, 3, 3).name)
    assert plan.small_files == (
        "11111111-1111-4111-8111-111111111111.parquet",
        "22222222-2222-4222-8222-222222222222.parquet",
    )


def test_parts_disagreeing_on_the_count_are_not_a_complete_run() -> None:
    plan = plan_partition([PartName(RUN, 1, 1).name, PartName(RUN, 2, 2).name])
    assert plan.complete_runs == {}
    assert len(plan.stray_parts) == 2


@pytest.mark.parametrize(
    ("now", "newest_closed"),
    [
        (datetime(2026, 11, 20, 12, 14, tzinfo=UTC), datetime(2026, 11, 20, 10, tzinfo=UTC)),
        (datetime(2026, 11, 20, 12, 15, tzinfo=UTC), datetime(2026, 11, 20, 11, tzinfo=UTC)),
        (datetime(2026, 11, 21, 0, 20, tzinfo=UTC), datetime(2026, 11, 20, 23, tzinfo=UTC)),
    ],
)
def test_an_hour_closes_a_grace_period_after_it_ends(
    now: datetime, newest_closed: datetime
) -> None:
    hours = closed_hours(now, grace_s=900, lookback_hours=3)
    assert hours[-1] == newest_closed
    assert len(hours) == 3
    assert hours == sorted(hours)


def test_bucket_count_fits_the_budget_and_is_bounded() -> None:
    assert bucket_count(0, 3.0, 256 * 2**20) == 1
    assert bucket_count(2**30, 4.0, 512 * 2**20) == 24  # 4 GiB of Arrow, 3x each to sort
    assert bucket_count(2**50, 10.0, 1) == 4096


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sizes=st.lists(st.integers(0, 80), min_size=1, max_size=12),
    subjects=st.integers(1, 30),
    buckets=st.integers(1, 9),
    row_group_rows=st.integers(1, 64),
    target=st.sampled_from([1, 20_000, 10**9]),
    suppress=st.integers(0, 3),
)
def test_rewrite_keeps_every_row_once_sorted_in_row_groups_of_the_size_asked(
    tmp_path_factory: pytest.TempPathFactory,
    sizes: list[int],
    subjects: int,
    buckets: int,
    row_group_rows: int,
    target: int,
    suppress: int,
) -> None:
    tables = [batch(n, seed=i, subjects=subjects) for i, n in enumerate(sizes)]
    suppressed = frozenset(pid(n) for n in range(suppress))
    config = CompactionConfig(target_file_bytes=target, row_group_rows=row_group_rows)
    workdir = tmp_path_factory.mktemp("rewrite")
    rewrite = SortedRewrite(workdir, buckets=buckets, config=config, suppressed=suppressed)
    for table in tables:
        rewrite.add(table)
    stats = rewrite.finish(Manifest(RUN, 0, ("in.parquet",)))

    rows_in = [r for t in tables for r in t.select(["event_id", "subject_pid"]).to_pylist()]
    kept = [r["event_id"] for r in rows_in if r["subject_pid"] not in suppressed]
    out = [pq.read_table(p) for p in stats.parts]
    written = [r for t in out for r in t.select(["event_id", "subject_pid", "ts"]).to_pylist()]
    assert Counter(r["event_id"] for r in written) == Counter(kept)
    assert not any(r["subject_pid"] in suppressed for r in written)
    order = [(r["subject_pid"], r["ts"]) for r in written]
    assert order == sorted(order)
    assert (stats.rows_in, stats.rows_out) == (len(rows_in), len(kept))
    assert stats.rows_suppressed == len(rows_in) - len(kept)
    for number, path in enumerate(stats.parts, start=1):
        meta = pq.read_metadata(path)
        assert Manifest.from_metadata(meta.metadata) == Manifest(RUN, number, ("in.parquet",))
        groups = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        assert all(g <= row_group_rows for g in groups)
        if path != stats.parts[-1]:
            assert path.stat().st_size >= target
    if target == 10**9:
        assert len(stats.parts) == (1 if kept else 0)
    rewrite.close()
    assert not workdir.exists()


def test_a_bucket_holds_only_its_slice_of_the_pseudonyms(tmp_path: Path) -> None:
    """Memory is one bucket: with B buckets, no bucket holds much more than 1/B of the rows."""
    rewrite = SortedRewrite(tmp_path / "w", buckets=8, config=CompactionConfig())
    tables = [batch(500, seed=i, subjects=400) for i in range(8)]
    for table in tables:
        rewrite.add(table)
    stats = rewrite.finish(Manifest(RUN, 0, ()))
    total = sum(t.nbytes for t in tables)
    assert 0 < stats.peak_bucket_bytes < total / 8 * 1.6

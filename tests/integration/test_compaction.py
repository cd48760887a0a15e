"""Compaction under moto: every row kept exactly once, sorted, in large files under the program's
key, and a crash at any point followed by a rerun leaves neither a duplicate nor a loss."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pyarrow.parquet as pq
import pytest

from ilake.simulate import make_batch
from lambdas.compaction import handler as compaction
from lambdas.core.compaction import Manifest, PartName
from lambdas.core.erasure import without_subject
from lambdas.core.lake import object_key, partition_prefix, program_prefix, put_args, to_parquet
from lambdas.core.pipeline import decode_envelope, process_batch
from lambdas.core.programs import load_programs
from tests.support.lake import TEST_PROGRAMS, Lake, lake_environment, provisioned_lake

pytestmark = pytest.mark.integration
PROGRAM, OTHER = "menu-navigation", "everything"
NOW = datetime(2026, 11, 20, 12, 10, tzinfo=UTC)
CLOSED = datetime(2026, 11, 20, 10, 5, tzinfo=UTC)  # hour 10 ended 70 minutes before NOW
OPEN = datetime(2026, 11, 20, 11, 40, tzinfo=UTC)  # hour 11 ended 10 minutes ago: in its grace
CURRENT = datetime(2026, 11, 20, 12, 5, tzinfo=UTC)


class Lakeside(Lake):
    """The provisioned lake, and batch files written into it as ingest writes them."""

    def write(
        self, program: str, at: datetime, *, seed: int, subject: str = "jdoe", n: int = 60
    ) -> str:
        """One batch file in the hour of `at`, as ingest writes it; returns its key."""
        spec = load_programs(TEST_PROGRAMS)[program]
        batch = make_batch(
            n, seed=seed, start_ms=int(at.timestamp() * 1000) - 60_000, subject=subject
        )
        outcome = process_batch(
            decode_envelope(msgspec.json.encode(batch)),
            spec,
            self.pseudonymizer(program),
            received_at_ms=int(at.timestamp() * 1000),
        )
        assert outcome.table is not None
        key = object_key(program, at, outcome.batch_id)
        self.clients.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=to_parquet(outcome.table),
            **put_args(self.key_arns[program]),
        )
        return key

    def suppress(self, program: str, pids: list[str]) -> None:
        self.set_state(program, "ACTIVE", suppressed=pids)


@pytest.fixture
def lakeside(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lakeside]:
    monkeypatch.setenv("COMPACTION_ROW_GROUP_ROWS", "100")
    with provisioned_lake(lake_environment(), kind=Lakeside) as lake:
        yield lake


def compact(program: str = PROGRAM, now: datetime = NOW) -> dict[str, Any]:
    return compaction.handler({"program": program, "now": now.isoformat()})


def event_ids(rows: list[dict[str, Any]]) -> Counter[str]:
    return Counter(r["event_id"] for r in rows)


def fill(
    lake: Lakeside, at: datetime, files: int, *, program: str = PROGRAM, seed: int = 0
) -> list[str]:
    subjects = ["ana", "bo", "cy", "dee"]
    return [
        lake.write(program, at, seed=seed + i, subject=subjects[i % len(subjects)])
        for i in range(files)
    ]


def test_rows_in_equal_rows_out_sorted_in_large_files_under_the_programs_key(
    lakeside: Lakeside,
) -> None:
    closed = partition_prefix(PROGRAM, CLOSED)
    inputs = fill(lakeside, CLOSED, 12)
    before = lakeside.rows(closed)
    untouched = {
        at: fill(lakeside, at, 2, seed=100 + i) for i, at in enumerate((OPEN, CURRENT))
    }  # the hour still in its grace period, and the current hour (ingest is writing there)
    other = fill(lakeside, CLOSED, 3, program=OTHER, seed=200)

    result = compact()

    [partition] = result["partitions"]
    assert partition["outcome"] == "compacted"
    assert (partition["inputs"], partition["rows"]) == (12, len(before))
    after = lakeside.rows(closed)
    assert event_ids(after) == event_ids(before)  # the multiset: none lost, none doubled
    assert all(v["Key"] not in inputs for v in lakeside.versions(closed).all)  # no version is left
    parts = lakeside.current(closed)
    assert [PartName.parse(k.rsplit("/", 1)[1]) is not None for k in parts] == [True] * len(parts)
    order = [(r["subject_pid"], r["ts"]) for r in after]
    assert order == sorted(order)  # across parts too: parts are in sort order
    for key in parts:
        head = lakeside.clients.s3.head_object(Bucket=lakeside.bucket, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == lakeside.key_arns[PROGRAM]
        body = lakeside.clients.s3.get_object(Bucket=lakeside.bucket, Key=key)["Body"].read()
        meta = pq.read_metadata(io.BytesIO(body))
        manifest = Manifest.from_metadata(meta.metadata)
        assert manifest is not None
        assert sorted(manifest.inputs) == sorted(k.rsplit("/", 1)[1] for k in inputs)
        assert meta.row_group(0).column(0).compression == "ZSTD"
        assert all(meta.row_group(i).num_rows <= 100 for i in range(meta.num_row_groups))
    for at, keys in untouched.items():
        assert lakeside.current(partition_prefix(PROGRAM, at)) == sorted(keys)
    assert lakeside.current(program_prefix(OTHER)) == sorted(other)


def test_parts_are_cut_at_the_target_size(
    lakeside: Lakeside, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPACTION_TARGET_FILE_BYTES", "12000")
    fill(lakeside, CLOSED, 16)
    before = lakeside.rows(partition_prefix(PROGRAM, CLOSED))
    [partition] = compact()["partitions"]
    parts = lakeside.current(partition_prefix(PROGRAM, CLOSED))
    assert partition["parts"] == len(parts) > 1
    sizes = [
        lakeside.clients.s3.head_object(Bucket=lakeside.bucket, Key=k)["ContentLength"]
        for k in parts
    ]
    assert all(size >= 12000 for size in sizes[:-1])  # every part but the last reached the target
    assert event_ids(lakeside.rows(partition_prefix(PROGRAM, CLOSED))) == event_ids(before)


def test_a_second_run_finds_nothing_to_do(lakeside: Lakeside) -> None:
    fill(lakeside, CLOSED, 4)
    compact()
    parts = lakeside.versions(partition_prefix(PROGRAM, CLOSED))
    assert compact()["partitions"] == []
    assert lakeside.versions(partition_prefix(PROGRAM, CLOSED)) == parts


def test_crash_between_writing_parts_and_deleting_inputs_then_rerun(
    lakeside: Lakeside, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = partition_prefix(PROGRAM, CLOSED)
    inputs = fill(lakeside, CLOSED, 10)
    before = lakeside.rows(prefix)
    real = compaction.Compaction._delete_all_versions

    def crash_on_inputs(self: Any, prefix: str, names: set[str]) -> int:
        if any(PartName.parse(n) is None for n in names):
            # delete three inputs, then die: a crash in the middle of the deletions
            real(self, prefix, set(sorted(names)[:3]))
            raise RuntimeError("injected crash")
        return real(self, prefix, names)

    monkeypatch.setattr(compaction.Compaction, "_delete_all_versions", crash_on_inputs)
    with pytest.raises(RuntimeError):
        compact()
    # a complete run next to seven of its inputs: their rows show twice until the next run
    left = [k for k in lakeside.current(prefix) if PartName.parse(k.rsplit("/", 1)[1]) is None]
    assert len(left) == 7
    doubled = event_ids([r for k in left for r in lakeside.table(k).to_pylist()])
    assert event_ids(lakeside.rows(prefix)) == event_ids(before) + doubled
    monkeypatch.setattr(compaction.Compaction, "_delete_all_versions", real)
    lease = lakeside.clients.dynamodb.get_item(
        TableName=lakeside.settings.program_state_table,
        Key={"program": {"S": f"{PROGRAM}#compaction"}},
    )
    assert "Item" not in lease  # released on the way out

    [partition] = compact()["partitions"]
    assert partition["outcome"] == "recovered"
    assert partition["finished_earlier_run"] == 7
    assert event_ids(lakeside.rows(prefix)) == event_ids(before)
    assert all(v["Key"] not in inputs for v in lakeside.versions(prefix).all)


def test_crash_while_uploading_parts_then_rerun(
    lakeside: Lakeside, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPACTION_TARGET_FILE_BYTES", "12000")
    prefix = partition_prefix(PROGRAM, CLOSED)
    fill(lakeside, CLOSED, 16)
    before = lakeside.rows(prefix)
    real_upload = compaction.Compaction._upload
    calls = []

    def crash_on_second(self: Any, *args: Any) -> None:
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("injected crash")
        real_upload(self, *args)

    monkeypatch.setattr(compaction.Compaction, "_upload", crash_on_second)
    with pytest.raises(RuntimeError):
        compact()
    monkeypatch.setattr(compaction.Compaction, "_upload", real_upload)
    stray = [k for k in lakeside.current(prefix) if PartName.parse(k.rsplit("/", 1)[1])]
    assert len(stray) == 1  # one part of an incomplete run, next to every input

    [partition] = compact()["partitions"]
    assert partition["outcome"] == "compacted"
    assert partition["stray_parts_deleted"] == 1
    assert event_ids(lakeside.rows(prefix)) == event_ids(before)
    assert all(v["Key"] not in stray for v in lakeside.versions(prefix).all)


def test_rows_of_erased_subjects_are_not_written_back(lakeside: Lakeside) -> None:
    prefix = partition_prefix(PROGRAM, CLOSED)
    fill(lakeside, CLOSED, 8)
    before = lakeside.rows(prefix)
    erased = lakeside.pid(PROGRAM, "bo")
    lakeside.suppress(PROGRAM, [erased])
    [partition] = compact()["partitions"]
    gone = sum(r["subject_pid"] == erased for r in before)
    assert gone > 0
    assert partition["rows_suppressed"] == gone
    assert event_ids(lakeside.rows(prefix)) == event_ids(
        [r for r in before if r["subject_pid"] != erased]
    )


def test_a_subject_suppressed_during_the_run_withdraws_it(
    lakeside: Lakeside, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = partition_prefix(PROGRAM, CLOSED)
    inputs = fill(lakeside, CLOSED, 6)
    real_upload = compaction.Compaction._upload

    def erasure_starts(self: Any, *args: Any) -> None:
        real_upload(self, *args)
        lakeside.suppress(PROGRAM, [lakeside.pid(PROGRAM, "ana")])

    monkeypatch.setattr(compaction.Compaction, "_upload", erasure_starts)
    [partition] = compact()["partitions"]
    assert partition["outcome"] == "withdrawn"
    assert lakeside.current(prefix) == sorted(inputs)  # the parts went, the inputs stay
    assert all(
        PartName.parse(v["Key"].rsplit("/", 1)[1]) is None for v in lakeside.versions(prefix).all
    )


def test_an_erasure_of_a_compacted_file_keeps_its_manifest(
    lakeside: Lakeside, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Crash recovery reads the manifest; erasure rewrites compacted files and must keep it."""
    prefix = partition_prefix(PROGRAM, CLOSED)
    fill(lakeside, CLOSED, 4)
    compact()
    [key] = lakeside.current(prefix)
    body = lakeside.clients.s3.get_object(Bucket=lakeside.bucket, Key=key)["Body"].read()
    data, removed = without_subject(body, lakeside.pid(PROGRAM, "ana"))
    assert data is not None
    assert removed > 0
    assert Manifest.from_metadata(
        pq.read_metadata(io.BytesIO(data)).metadata
    ) == Manifest.from_metadata(pq.read_metadata(io.BytesIO(body)).metadata)


def test_paused_programs_and_a_held_lease_are_left_alone(lakeside: Lakeside) -> None:
    prefix = partition_prefix(PROGRAM, CLOSED)
    inputs = fill(lakeside, CLOSED, 3)
    lakeside.clients.dynamodb.put_item(
        TableName=lakeside.settings.program_state_table,
        Item={"program": {"S": PROGRAM}, "state": {"S": "PAUSED"}},
    )
    assert compact()["skipped"] == "program is PAUSED"
    lakeside.suppress(PROGRAM, ["0" * 32])  # ACTIVE again
    lakeside.clients.dynamodb.put_item(
        TableName=lakeside.settings.program_state_table,
        Item={
            "program": {"S": f"{PROGRAM}#compaction"},
            "owner": {"S": "another-run"},
            "until": {"N": str(int(datetime.now(UTC).timestamp()) + 600)},
        },
    )
    assert compact()["skipped"] == "another compaction run holds the lease"
    assert lakeside.current(prefix) == sorted(inputs)
    lakeside.clients.dynamodb.put_item(  # an expired lease (its run died) is taken over
        TableName=lakeside.settings.program_state_table,
        Item={
            "program": {"S": f"{PROGRAM}#compaction"},
            "owner": {"S": "another-run"},
            "until": {"N": str(int((datetime.now(UTC) - timedelta(seconds=5)).timestamp()))},
        },
    )
    assert compact()["partitions"][0]["outcome"] == "compacted"


def test_a_large_hour_is_compacted_in_slices_within_one_run(
    lakeside: Lakeside, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPACTION_MAX_RUN_BYTES", "40000")  # about three batch files a slice
    prefix = partition_prefix(PROGRAM, CLOSED)
    inputs = fill(lakeside, CLOSED, 10)
    before = lakeside.rows(prefix)
    slices = compact()["partitions"]
    assert len(slices) > 2
    assert all(s["outcome"] == "compacted" for s in slices)
    assert sum(s["inputs"] for s in slices) == 10
    assert [s["inputs_left"] for s in slices][-1] == 0
    assert event_ids(lakeside.rows(prefix)) == event_ids(before)
    assert not set(lakeside.current(prefix)) & set(inputs)
    runs = {PartName.parse(k.rsplit("/", 1)[1]).run for k in lakeside.current(prefix)}  # type: ignore[union-attr]
    assert len(runs) == len(slices)

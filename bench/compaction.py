"""Compaction benchmark: throughput, peak memory, files before and after, and an
analyst query before vs after, for hour partitions of 1,000 and 10,000 small files.

    .venv/bin/python bench/compaction.py [--s3-files 1000] [--local-files 1000 10000]

Two parts, each run in child processes so that a child's peak RSS (ru_maxrss) is compaction's
own memory, next to a baseline child that only imports the same modules (same run):

- End to end through S3 (--s3-files): the compaction Lambda's handler against moto in server
  mode (a process of its own), then `ilake query`'s DuckDB path on the small files and on the
  compacted ones. moto cannot go to 10,000 objects of 100 KB here: it rescans the bucket on every
  listing and its answers time out (measured: a read timeout after 10,000 files, 1 GiB).
- Memory flatness at 1,000 and 10,000 files, ~1 GiB (--local-files): the same code the handler
  runs on the bytes it GETs (read_input, bucket_count, SortedRewrite in slices of
  COMPACTION_MAX_RUN_BYTES), reading the batch files from a local directory instead of S3.

The batch files are synthetic but shaped like ingest's: one subject per batch (2,000 subjects,
uniform hex pseudonyms), zstd, the lake schema, random event ids.
"""

from __future__ import annotations

import argparse
import binascii
import json
import os
import resource
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ENV = {
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "LAKE_BUCKET": "ilake-bench-lake",
    "PROGRAM_STATE_TABLE": "ilake-bench-state",
    "IDEMPOTENCY_TABLE": "ilake-bench-idempotency",
    "COMMON_TEXTS_TABLE": "ilake-bench-common-texts",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "POWERTOOLS_METRICS_DISABLED": "true",
}
os.environ.update(ENV)

PROGRAM = "menu-navigation"
NOW = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)
SUBJECTS = 2_000
TYPES = ["pointer.click", "pointer.move", "key.shortcut", "menu.select", "window.focus"]
APPS = ["Excel", "Word", "Chrome", "Outlook", "Figma", "Terminal", "Slack-denied", "Teams"]
QUERY = (
    "SELECT app_name, count(*) AS uses FROM interactions WHERE program = '{program}' "
    "AND dt = '{dt}' AND hour = {hour} AND type = 'key.shortcut' GROUP BY 1 ORDER BY 2 DESC"
)


def hour_of(index: int) -> datetime:
    """Each partition size gets an hour of its own."""
    return datetime(2026, 11, 20, 2 + index, 10, tzinfo=UTC)


def synthetic_batch(rng: np.random.Generator, rows: int, subject: str, batch: int) -> pa.Table:
    """One batch file's rows, vectorized (numpy), in the lake schema."""
    from lambdas.core.lake import INTERACTIONS

    def pick(values: list[str | None]) -> pa.Array:
        indices = pa.array(rng.integers(0, len(values), rows, dtype=np.int32))
        return pa.DictionaryArray.from_arrays(
            indices, pa.array(values, pa.string())
        ).dictionary_decode()

    start = int(NOW.timestamp() * 1000) - 3 * 3_600_000
    ts = np.sort(start + rng.integers(0, 3_600_000, rows))
    # random ids, as agents' UUIDs are (they are most of a file's bytes after compression)
    hexes = np.frombuffer(binascii.hexlify(rng.bytes(16 * rows)), dtype="S32")
    ids = pa.array(hexes).cast(pa.string())
    columns = {f.name: pa.nulls(rows, f.type) for f in INTERACTIONS}
    columns |= {
        "event_id": ids,
        "batch_id": pa.array([f"{batch:08x}-0000-4000-8000-000000000000"] * rows),
        "seq": pa.array(np.arange(rows)),
        "ts": pa.array(ts).cast(pa.timestamp("ms", tz="UTC")),
        "received_at": pa.array(np.full(rows, start + 3_600_000)).cast(
            pa.timestamp("ms", tz="UTC")
        ),
        "type": pick(TYPES),
        "subject_pid": pa.array([subject] * rows),
        "device_pid": pa.array([subject[::-1]] * rows),
        "session_pid": pa.array([f"{batch:032x}"] * rows),
        "app_name": pick(APPS),
        "window_title": pick([f"Document {i} - <EMAIL>" for i in range(300)]),
        "x": pa.array(np.round(rng.random(rows), 4)),
        "y": pa.array(np.round(rng.random(rows), 4)),
        "key": pick(["s", "c", "v", "z", None]),
        "policy_version": pa.array(["2026-11-01"] * rows),
        "schema_version": pa.array(["interactions/1"] * rows),
    }
    return pa.table(columns, schema=INTERACTIONS)


def pseudonyms(rng: np.random.Generator) -> list[str]:
    """SUBJECTS pseudonyms spread over the whole hex range, as HMAC digests are."""
    words = rng.integers(0, 2**64, (SUBJECTS, 2), dtype=np.uint64)
    return [f"{int(v):016x}{int(w):016x}" for v, w in words]


def seed(
    s3: Any, bucket: str, key_arn: str, files: int, file_kb: int, at: datetime
) -> tuple[int, int]:
    """`files` batch files of about `file_kb` KB each in the hour of `at`; (bytes, rows)."""
    from lambdas.core.lake import object_key, put_args, to_parquet

    rng = np.random.default_rng(files)
    probe = len(to_parquet(synthetic_batch(rng, 10_000, "0" * 32, 0))) / 10_000
    rows = max(1, int(file_kb * 1000 / probe))
    subjects = pseudonyms(rng)
    args = put_args(key_arn)

    def put(i: int) -> int:
        body = to_parquet(
            synthetic_batch(
                np.random.default_rng(i), rows, subjects[i % SUBJECTS], files * 100_000 + i
            )
        )
        s3.put_object(
            Bucket=bucket, Key=object_key(PROGRAM, at, str(uuid.uuid4())), Body=body, **args
        )
        return len(body)

    with ThreadPoolExecutor(4) as pool:
        sizes = list(pool.map(put, range(files)))
    return sum(sizes), rows * files


def write_local(directory: Path, files: int, file_kb: int) -> tuple[int, int]:
    """`files` batch files in a local directory, as `seed` puts them in S3; (bytes, rows)."""
    from lambdas.core.lake import to_parquet

    rng = np.random.default_rng(files)
    probe = len(to_parquet(synthetic_batch(rng, 10_000, "0" * 32, 0))) / 10_000
    rows = max(1, int(file_kb * 1000 / probe))
    subjects = pseudonyms(rng)
    total = 0
    for i in range(files):
        body = to_parquet(
            synthetic_batch(np.random.default_rng(i), rows, subjects[i % SUBJECTS], i)
        )
        (directory / f"{uuid.uuid4()}.parquet").write_bytes(body)
        total += len(body)
    return total, rows * files


def rewrite_local(directory: str) -> dict[str, object]:
    """What the handler does with the inputs' bytes, in slices, from local files."""
    import tempfile

    from lambdas.core.compaction import (
        CompactionConfig,
        Manifest,
        SortedRewrite,
        bucket_count,
        read_input,
    )

    config = CompactionConfig()
    paths = sorted(Path(directory).glob("*.parquet"))
    slices: list[list[Path]] = [[]]
    size = 0
    for path in paths:
        if size >= config.max_run_bytes:
            slices.append([])
            size = 0
        slices[-1].append(path)
        size += path.stat().st_size
    rows = parts = out_bytes = peak_bucket = 0
    for inputs in slices:
        first = inputs[0].read_bytes()
        buckets = bucket_count(
            sum(p.stat().st_size for p in inputs),
            read_input(first).nbytes / len(first),
            config.memory_budget_bytes,
        )
        with tempfile.TemporaryDirectory() as work:
            rewrite = SortedRewrite(Path(work) / "rewrite", buckets=buckets, config=config)
            for path in inputs:
                rewrite.add(read_input(path.read_bytes()))
            stats = rewrite.finish(Manifest("0" * 32, 0, tuple(p.name for p in inputs)))
            rows += stats.rows_out
            parts += len(stats.parts)
            out_bytes += sum(p.stat().st_size for p in stats.parts)
            peak_bucket = max(peak_bucket, stats.peak_bucket_bytes)
            rewrite.close()
    return {"slices": len(slices), "rows": rows, "parts": parts, "output_bytes": out_bytes,
            "peak_bucket_mb": peak_bucket / 2**20}  # fmt: skip


def child(mode: str, endpoint: str, at: str) -> None:
    """Run in a fresh process: compaction (or the baseline listing) or the query; print JSON."""
    os.environ["AWS_ENDPOINT_URL"] = endpoint or ""
    started = time.perf_counter()
    out: dict[str, object] = {}
    if mode == "local":
        out |= rewrite_local(at)
    elif mode == "local-baseline":
        from lambdas.core.compaction import SortedRewrite  # noqa: F401 - the same imports

        out["files"] = len(list(Path(at).glob("*.parquet")))
    elif mode in ("compact", "baseline"):
        from lambdas.compaction import handler
        from lambdas.core.lake import partition_prefix

        hour = datetime.fromisoformat(at)
        if mode == "compact":
            result = handler.handler({"program": PROGRAM, "now": NOW.isoformat()})
            slices = [
                p for p in result["partitions"] if p["partition"] == partition_prefix(PROGRAM, hour)
            ]
            out["partition"] = {  # the hour's slices (COMPACTION_MAX_RUN_BYTES each), added up
                "outcome": "compacted" if all(p["outcome"] == "compacted" for p in slices) else "x",
                "slices": len(slices),
                **{
                    k: sum(p[k] for p in slices)
                    for k in ("inputs", "input_bytes", "rows", "parts", "output_bytes", "seconds")
                },
            }
        else:
            s3, _, _ = handler._clients()
            pages = s3.get_paginator("list_objects_v2").paginate(
                Bucket=os.environ["LAKE_BUCKET"], Prefix=partition_prefix(PROGRAM, hour)
            )
            out["objects"] = sum(len(p.get("Contents", [])) for p in pages)
    else:
        from ilake.query import open_lake, run_duckdb

        hour = datetime.fromisoformat(at)
        con = open_lake(endpoint_url=endpoint, bucket=os.environ["LAKE_BUCKET"], region="eu-west-1")
        result = run_duckdb(
            con, QUERY.format(program=PROGRAM, dt=f"{hour:%Y-%m-%d}", hour=hour.hour)
        )
        out["rows"] = [list(r) for r in result.rows]
    out["seconds"] = time.perf_counter() - started
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def run_child(mode: str, endpoint: str, at: datetime | str) -> dict:  # type: ignore[type-arg]
    where = at.isoformat() if isinstance(at, datetime) else at
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--endpoint", endpoint, "--at", where],
        capture_output=True, text=True, check=False, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{mode} child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def cap_memory() -> None:
    """moto keeps every object in memory: cap it, so it fails alone instead of the machine."""
    resource.setrlimit(resource.RLIMIT_AS, (16 * 2**30, 16 * 2**30))


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit("the moto server did not start")


def peak_rss_mb(pid: int) -> float:
    """A running process's peak resident set (VmHWM), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--s3-files", type=int, nargs="*", default=[1000])
    parser.add_argument("--local-files", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--file-kb", type=int, default=100)
    parser.add_argument("--child")
    parser.add_argument("--endpoint")
    parser.add_argument("--at")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.endpoint, args.at)
        return

    import boto3

    from ilake.local import free_port
    from ilake.provision import Clients, provision
    from lambdas.core.settings import BUNDLED_PROGRAMS, Settings

    port = free_port()
    # moto in a process of its own: its memory (it keeps every object) is not compaction's
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=cap_memory,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    wait_for(port)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    try:
        settings = Settings.from_env()
        clients = Clients.create(boto3.Session(region_name="eu-west-1"))
        programs = sorted(p.stem for p in BUNDLED_PROGRAMS.glob("*.toml"))
        arns = provision(
            clients, settings, programs, agents_table="ilake-bench-agents", region="eu-west-1"
        )
        print(f"compaction benchmark: moto server, {args.file_kb} KB batch files, "
              f"{SUBJECTS:,} subjects, target 128 MiB parts, memory budget 512 MiB")  # fmt: skip
        for index, files in enumerate(args.s3_files):
            at = hour_of(index)
            started = time.perf_counter()
            total, rows = seed(
                clients.s3, settings.lake_bucket, arns[PROGRAM], files, args.file_kb, at
            )
            print(f"\n{files:,} files: {total / 2**20:,.0f} MiB, {rows:,} rows, seeded in "
                  f"{time.perf_counter() - started:.0f} s")  # fmt: skip
            baseline = run_child("baseline", endpoint, at)
            query_before = run_child("query", endpoint, at)
            compacted = run_child("compact", endpoint, at)
            part = compacted["partition"]
            assert part["outcome"] == "compacted", part
            assert part["rows"] == rows, (part["rows"], rows)
            query_after = run_child("query", endpoint, at) if query_before else None
            after = run_child("baseline", endpoint, at)["objects"]
            mbps = part["input_bytes"] / 2**20 / part["seconds"]
            rows_s = part["rows"] / part["seconds"]
            print(f"  compaction: {part['inputs']:,} files -> {after} parts in "
                  f"{part['slices']} slice(s) of <= 512 MiB, "
                  f"{part['output_bytes'] / 2**20:,.0f} MiB, in {part['seconds']:.1f} s = "
                  f"{mbps:.1f} MB/s of input ({rows_s:,.0f} rows/s)")  # fmt: skip
            print(f"  peak RSS: compaction {compacted['peak_rss_mb']:.0f} MB; baseline "
                  f"(same imports, list only) {baseline['peak_rss_mb']:.0f} MB")  # fmt: skip
            if query_before and query_after:
                assert query_before["rows"] == query_after["rows"]
                print(f"  query (shortcuts per app in the hour, ilake query's DuckDB path): "
                      f"{query_before['seconds']:.1f} s on {files:,} files, "
                      f"{query_after['seconds']:.1f} s on {after} parts "
                      f"(same answer)")  # fmt: skip
        print(f"\nmoto server peak RSS: {peak_rss_mb(server.pid):,.0f} MB (holds every object)")
    finally:
        server.terminate()
        server.wait()
    local_part(args.local_files, args.file_kb)


def local_part(sizes: list[int], file_kb: int) -> None:
    import shutil
    import tempfile

    if sizes:
        print("\nmemory flatness: the handler's rewrite on local files (no S3)")
    for files in sizes:
        directory = Path(tempfile.mkdtemp(prefix="ilake-bench-compaction-"))
        try:
            total, rows = write_local(directory, files, file_kb)
            baseline = run_child("local-baseline", "", str(directory))
            done = run_child("local", "", str(directory))
            assert done["rows"] == rows, (done["rows"], rows)
            mbps = total / 2**20 / done["seconds"]
            print(f"  {files:,} files, {total / 2**20:,.0f} MiB, {rows:,} rows -> "
                  f"{done['parts']} parts ({done['output_bytes'] / 2**20:,.0f} MiB) in "
                  f"{done['slices']} slice(s), {done['seconds']:.0f} s = {mbps:.1f} MB/s; "
                  f"peak RSS {done['peak_rss_mb']:.0f} MB (baseline {baseline['peak_rss_mb']:.0f}"
                  f" MB), largest bucket {done['peak_bucket_mb']:.0f} MiB")  # fmt: skip
        finally:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()

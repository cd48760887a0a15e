"""Compaction benchmark (issue 7): throughput, peak memory, files before and after, and an
analyst query before vs after, for hour partitions of 1,000 and 10,000 small files.

    .venv/bin/python bench/compaction.py [--files 1000 10000] [--file-kb 100] [--query-max 10000]

The lake is moto in server mode (a process of its own); compaction runs in a child process
against it, so the child's peak RSS (ru_maxrss) is compaction's own memory, next to the RSS of
a child that only imports the same modules and lists the partition (the baseline, same run). Flat
memory means the compaction child's peak does not grow with the number or total size of the
input files. The batch files are synthetic but shaped like ingest's: one subject per batch
(about 2,000 subjects), zstd, the lake schema, random event ids.

The query is `ilake query`'s path (DuckDB over the pyarrow S3 dataset through the endpoint):
shortcut uses per app in the partition, run once on the small files and once on the compacted
ones (skipped above --query-max files: DuckDB then reads every footer through moto, ~minutes).
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


def seed(
    s3: Any, bucket: str, key_arn: str, files: int, file_kb: int, at: datetime
) -> tuple[int, int]:
    """`files` batch files of about `file_kb` KB each in the hour of `at`; (bytes, rows)."""
    from lambdas.core.lake import object_key, put_args, to_parquet

    rng = np.random.default_rng(files)
    probe = len(to_parquet(synthetic_batch(rng, 10_000, "0" * 32, 0))) / 10_000
    rows = max(1, int(file_kb * 1000 / probe))
    subjects = [
        f"{int(v):016x}{int(w):016x}"
        for v, w in rng.integers(0, 2**64, (SUBJECTS, 2), dtype=np.uint64)
    ]
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


def child(mode: str, endpoint: str, at: str) -> None:
    """Run in a fresh process: compaction (or the baseline listing) or the query; print JSON."""
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    started = time.perf_counter()
    out: dict[str, object] = {}
    if mode in ("compact", "baseline"):
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


def run_child(mode: str, endpoint: str, at: datetime) -> dict:  # type: ignore[type-arg]
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--endpoint", endpoint, "--at", at.isoformat()],
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
    parser.add_argument("--files", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--file-kb", type=int, default=100)
    parser.add_argument("--query-max", type=int, default=10000)
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
        for index, files in enumerate(args.files):
            at = hour_of(index)
            started = time.perf_counter()
            total, rows = seed(
                clients.s3, settings.lake_bucket, arns[PROGRAM], files, args.file_kb, at
            )
            print(f"\n{files:,} files: {total / 2**20:,.0f} MiB, {rows:,} rows, seeded in "
                  f"{time.perf_counter() - started:.0f} s")  # fmt: skip
            baseline = run_child("baseline", endpoint, at)
            query_before = run_child("query", endpoint, at) if files <= args.query_max else None
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


if __name__ == "__main__":
    main()

"""Local API benchmark: what the local HTTP front costs next to the in-process core.

    .venv/bin/python bench/local_api.py [--batches 60] [--sizes 200,2000] [--agents 1,4,8]

For each batch size, on the same gzip batches of the `menu-navigation` program, in one run:
(a) core:    decode -> validate -> policy -> Parquet bytes, in this process (no AWS calls);
(b) handler: the same body through the real authorizer and ingest handler in this process, via
             local mode's API Gateway shim, against the moto server (authorizer lookup, program
             state, idempotency record, secret, S3 put, metrics);
(c) HTTP:    N concurrent simulated agents posting over loopback HTTP to `ilake local up`'s front.
The gap (a)->(b) is the AWS calls against moto; (b)->(c) is the HTTP front. Local mode runs one
Lambda "container" (invocations are serialized, as in one Lambda sandbox), so more agents add
queueing, not parallelism.
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

from ilake.loadgen import Agent  # noqa: E402
from ilake.local import LocalStack, free_port, handle  # noqa: E402
from ilake.simulate import make_batch  # noqa: E402
from ilake_contract.redact import Redactor  # noqa: E402
from lambdas.core.lake import to_parquet  # noqa: E402
from lambdas.core.pipeline import decode_envelope, process_batch  # noqa: E402
from lambdas.core.programs import load_programs  # noqa: E402
from lambdas.core.pseudonym import Pseudonymizer  # noqa: E402
from lambdas.core.settings import BUNDLED_PROGRAMS  # noqa: E402

PROGRAM = "menu-navigation"


def batches(size: int, count: int, now_ms: int) -> list[dict]:
    """`count` distinct batches (fresh ids: every post is a real write, not a replay)."""
    template = [make_batch(size, seed=i, start_ms=now_ms - 300_000) for i in range(4)]
    return [{**template[i % 4], "batch_id": str(uuid.uuid4())} for i in range(count)]


def run_core(bodies: list[bytes]) -> float:
    program = load_programs(BUNDLED_PROGRAMS)[PROGRAM]
    redactor = Redactor(program.text.detectors, program.url_mode)
    pseudonyms = Pseudonymizer(b"bench-secret-0123456789abcdef0123")
    received = int(time.time() * 1000)
    started = time.perf_counter()
    for body in bodies:
        outcome = process_batch(
            decode_envelope(gzip.decompress(body)),
            program,
            pseudonyms,
            received_at_ms=received,
            redactor=redactor,
        )
        if outcome.table is not None:
            to_parquet(outcome.table)
    return time.perf_counter() - started


def run_handler(bodies: list[bytes], token: str) -> float:
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    started = time.perf_counter()
    for body in bodies:
        status, _, _ = handle("POST", f"/v1/programs/{PROGRAM}/batches", headers, body)
        assert status == 200, status
    return time.perf_counter() - started


def run_http(plan: list[dict], api_url: str, token: str, agents: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()
    shares = [plan[i::agents] for i in range(agents)]

    def agent(share: list[dict]) -> None:
        client = Agent(api_url, token, PROGRAM)
        for batch in share:
            t = time.perf_counter()
            status, _, _ = client.post(batch)
            assert status == 200, status
            with lock:
                latencies.append(time.perf_counter() - t)
        client.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(agents) as pool:
        list(pool.map(agent, shares))
    return time.perf_counter() - started, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=60, help="batches per measurement")
    parser.add_argument("--sizes", default="200,2000", help="events per batch")
    parser.add_argument("--agents", default="1,4,8", help="concurrent agents over HTTP")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    agent_counts = [int(a) for a in args.agents.split(",")]

    state_dir = Path(tempfile.mkdtemp(prefix="ilake-bench-"))
    with LocalStack(programs_dir=BUNDLED_PROGRAMS, state_dir=state_dir, port=free_port()) as state:
        token = state.programs[PROGRAM]["token"]
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        print(f"local API benchmark: {args.batches} batches per row, program {PROGRAM}")
        print(f"{'path':>24} {'events/batch':>12} {'events/s':>10} {'batches/s':>9} "
              f"{'p50 ms':>7} {'p95 ms':>7} {'vs core':>7}")  # fmt: skip
        for size in sizes:
            encode = msgspec.json.encode
            warm = batches(size, 5, now_ms)
            run_handler([gzip.compress(encode(b)) for b in warm], token)  # warm caches
            plan = batches(size, args.batches, now_ms)
            bodies = [gzip.compress(encode(b)) for b in plan]
            core = run_core(bodies)
            rows = [("core (in-process)", core, None)]
            plan = batches(size, args.batches, now_ms)
            bodies = [gzip.compress(encode(b)) for b in plan]
            rows.append(("handler + moto", run_handler(bodies, token), None))
            for agents in agent_counts:
                plan = batches(size, args.batches, now_ms)
                seconds, latencies = run_http(plan, state.api_url, token, agents)
                rows.append((f"HTTP, {agents} agent(s)", seconds, latencies))
            for label, seconds, latencies in rows:
                events = size * args.batches
                p50 = p95 = ""
                if latencies:
                    cuts = statistics.quantiles(latencies, n=20)
                    p50, p95 = f"{cuts[9] * 1e3:.1f}", f"{cuts[18] * 1e3:.1f}"
                print(
                    f"{label:>24} {size:>12,} {events / seconds:>10,.0f} "
                    f"{args.batches / seconds:>9,.1f} {p50:>7} {p95:>7} {core / seconds:>7.2f}"
                )


if __name__ == "__main__":
    main()

"""Agent SDK benchmark: record() cost on the caller's thread, throughput to the local
API, spool size per 1,000 events.

    .venv/bin/python bench/agent.py [--events 50000]

record() = ClientPolicy.capture (msgspec checks the JSON types in C; Python does the memoized
decisions: app, window, target, keys, redaction; the minimized event is encoded) + the
encrypted spool append, durable against a crash of the process (on Linux into a mapped,
reserved segment: no system call per record; elsewhere one write per record). It is measured
with the sender thread idle (the server is down), next to its parts measured alone in the same
run: msgspec's encode of the raw events (a floor), capture alone, and the spool append alone.
Times are the best of --repeat passes (this machine is shared: the best pass is the one least
disturbed); the spool size is measured once the spool is closed (the segment being written is
reserved whole while it is open).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

from ilake.local import LocalStack, free_port  # noqa: E402
from ilake.simulate import Session  # noqa: E402
from ilake_agent.client import Client, Limits  # noqa: E402
from ilake_agent.policy import ClientPolicy  # noqa: E402
from ilake_agent.spool import Spool  # noqa: E402
from lambdas.core.programs import load_programs  # noqa: E402
from lambdas.core.settings import BUNDLED_PROGRAMS  # noqa: E402

PROGRAM = "menu-navigation"


def events(n: int) -> list[dict]:
    session = Session(1, subject="jdoe", device="LAPTOP-1", start_ms=1_795_000_000_000)
    out: list[dict] = []
    end = session.ts
    while len(out) < n:
        end += 600_000
        out += session.until(end)
    return out[:n]


def per_event_us(fn, items, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, time.perf_counter() - started)
    return best / len(items) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3, help="passes; the best one counts")
    args = parser.parse_args()
    stream = events(args.events)
    policy = ClientPolicy.from_policy(load_programs(BUNDLED_PROGRAMS)[PROGRAM].public_policy())
    captured_raw = [e for e in stream if policy.apply(e) is not None]
    work = Path(tempfile.mkdtemp(prefix="ilake-agent-bench-"))
    try:
        encode = msgspec.json.encode
        floor = per_event_us(encode, captured_raw, args.repeat)
        capture_us = per_event_us(policy.capture, captured_raw, args.repeat)
        encoded = [c[0] for c in map(policy.capture, captured_raw) if not isinstance(c, str)]
        spool = Spool(work / "raw", key=os.urandom(32))
        append_us = per_event_us(spool.append, encoded, args.repeat)
        spool.close()

        down = Client(
            f"http://127.0.0.1:{free_port()}", "ilk_bench", PROGRAM, spool_dir=work / "down",
            policy=policy, limits=Limits(max_age_s=3600, max_events=10**9),
        )  # fmt: skip
        record_us = per_event_us(down.record, stream)
        record_captured_us = per_event_us(down.record, captured_raw, args.repeat)
        records = down.spool.stats().records  # the stream's captured events, 1 + repeat times
        down.close(timeout_s=0)
        on_disk = sum(p.stat().st_size for p in (work / "down").rglob("*.seg"))
        print(f"agent benchmark: {len(stream):,} simulated events ({len(captured_raw):,} "
              f"captured by {PROGRAM}'s policy)")  # fmt: skip
        print(f"  record() on the caller's thread: {record_us:.2f} us/event over the stream; "
              f"{record_captured_us:.2f} us per captured event (parts measured alone, per "
              f"captured event: capture {capture_us:.2f} us, append {append_us:.2f}; msgspec's "
              f"encode of the raw event {floor:.2f})")  # fmt: skip
        print(f"  spool: {records:,} records in {on_disk / 1e6:.2f} MB = "
              f"{on_disk / max(1, records) * 1000 / 1e3:.1f} KB per 1,000 events "
              f"(encrypted, length-prefixed JSON)")  # fmt: skip

        state_dir = work / "state"
        state_dir.mkdir()
        with LocalStack(programs_dir=BUNDLED_PROGRAMS, state_dir=state_dir, port=free_port()) as st:
            up = Client(st.api_url, st.programs[PROGRAM]["token"], PROGRAM,
                        spool_dir=work / "up", limits=Limits(max_events=1000))  # fmt: skip
            started = time.perf_counter()
            for event in stream:
                up.record(event)
            assert up.flush(timeout_s=600)
            seconds = time.perf_counter() - started
            up.close()
            c = up.counters
            print(f"  to the local API: {c.recorded:,} events recorded and delivered in "
                  f"{c.batches_sent} batches in {seconds:.1f} s = {c.recorded / seconds:,.0f} "
                  f"events/s (bench/local_api.py has the local path's own cost)")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

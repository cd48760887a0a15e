"""The hourly count of people per pending text (lambdas/compaction/counting.py) at a realistic
diversity, and what common text costs per million events.

    .venv/bin/python bench/common_count.py [--people 1000] [--new-texts 300] [--events 20000]

The pending counts hold one row per (text, agent, subject) seen in the last WINDOW_DAYS. With
`--people` people each sending `--new-texts` texts a day nobody sent before (most never become
common), the state holds people x new texts x window days rows, in 16 shards by text id; every
hour brings each active person's new texts of the hour and the pending ones they see again.
Ids are uniform, so every shard is touched every hour: one shard's merge (read its Parquet, add
the hour, drop expired, group, count people, write) is measured here on synthetic rows of the
real shape, and a run is 16 of them. Nothing runs against S3: its requests are counted instead.

The cost model adds, per million events, what common text adds to the variable cost docs/cost.md
states for ingest (DynamoDB reads of the batch's texts, the count's Lambda time and requests,
the shards' storage), at list prices (us-east-1, on-demand).
"""

from __future__ import annotations

import argparse
import io
import resource
import secrets
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lambdas.compaction.counting import SHARDS, pending_parquet  # noqa: E402
from lambdas.core import common_text as ct  # noqa: E402

LAMBDA_GB_S = 0.0000133334  # arm64
LAMBDA_GB = 2.0  # the compaction function's memory
S3_GET, S3_PUT = 0.0004 / 1000, 0.005 / 1000
S3_GB_MONTH = 0.023
DYNAMODB_RRU = 0.125 / 1e6  # on-demand read request unit (4 KB, strongly consistent = 1)
DYNAMODB_WRU = 0.625 / 1e6
BASELINE_PER_MILLION = 0.0136  # docs/cost.md, before common text
WORKING_DAYS = 21  # a month's working days
ACTIVE_HOURS = 8  # a person's working hours a day


def ids(n: int, shard: int) -> list[str]:
    """`n` text ids of one shard: "h:" + 16 hex digits, the first one the shard's."""
    digit = format(shard, "x")
    return [f"h:{digit}{secrets.token_hex(8)[1:]}" for _ in range(n)]


def pids(n: int) -> list[str]:
    return [secrets.token_hex(16) for _ in range(n)]


def shard_state(
    people: int, new_texts: int, window_days: int, now_hour: int
) -> tuple[pa.Table, list[str], list[str]]:
    """One shard of the state: each person's new texts of every working day in the window."""
    agents, subjects = pids(people), pids(people)
    per_person = new_texts * window_days // SHARDS
    rows = people * per_person
    texts = ids(rows, 3)
    person = [i // per_person for i in range(rows)]
    hours = [now_hour - (i % (window_days * 24)) for i in range(rows)]
    table = pa.table(
        {
            "text_id": texts,
            "agent_pid": [agents[p] for p in person],
            "subject_pid": [subjects[p] for p in person],
            "last_seen_hour": pa.array(hours, pa.int32()),
        },
        schema=ct.PENDING,
    )
    return table, agents, subjects


def hour_of(
    state: pa.Table, agents: list[str], subjects: list[str], new_texts: int, now_hour: int
) -> pa.Table:
    """One shard's slice of an hour: every person's new texts of the hour, and as many pending
    texts seen again (their own titles, reopened)."""
    new = max(1, new_texts // ACTIVE_HOURS // SHARDS)
    people = len(agents)
    fresh = ids(people * new, 3)
    again = state.slice(0, min(state.num_rows, people * new))
    return pa.concat_tables(
        [
            pa.table(
                {
                    "text_id": fresh,
                    "agent_pid": [agents[i // new] for i in range(len(fresh))],
                    "subject_pid": [subjects[i // new] for i in range(len(fresh))],
                    "last_seen_hour": pa.array([now_hour] * len(fresh), pa.int32()),
                },
                schema=ct.PENDING,
            ),
            again.set_column(
                3,
                ct.PENDING.field("last_seen_hour"),
                pa.array([now_hour] * again.num_rows, pa.int32()),
            ),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--new-texts", type=int, default=300, help="per person per day")
    parser.add_argument("--events", type=int, default=20_000, help="per person per day")
    parser.add_argument("--window-days", type=int, default=ct.WINDOW_DAYS)
    parser.add_argument("--batch-events", type=int, default=1_000)
    parser.add_argument("--texts-per-batch", type=float, default=40.0)
    args = parser.parse_args()

    now_hour = int(time.time() // 3600)
    state, agents, subjects = shard_state(args.people, args.new_texts, args.window_days, now_hour)
    stored = pending_parquet(state)
    hour = hour_of(state, agents, subjects, args.new_texts, now_hour)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        old = pq.read_table(io.BytesIO(stored), schema=ct.PENDING)
        merged = ct.merge_pending([old, hour], oldest_hour=now_hour - args.window_days * 24)
        reached = ct.common(merged, 10)
        merged = ct.without_texts(merged, reached)
        written = pending_parquet(merged)
        timings.append(time.perf_counter() - started)
    shard_s = min(timings)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    run_s = shard_s * SHARDS
    state_bytes = len(written) * SHARDS

    print(
        f"state: {args.people:,} people x {args.new_texts} new texts a day x "
        f"{args.window_days} days = {state.num_rows * SHARDS:,} rows in {SHARDS} shards, "
        f"{state_bytes / 2**20:.0f} MiB of Parquet"
    )
    print(
        f"one shard: {state.num_rows:,} rows + {hour.num_rows:,} of the hour -> merged in "
        f"{shard_s * 1000:.0f} ms (best of 3); peak RSS {peak:.0f} MiB "
        f"(before the merges {rss_before:.0f} MiB)"
    )
    print(f"a run (16 shards, one at a time): about {run_s:.1f} s of one core")

    events_month = args.people * args.events * WORKING_DAYS
    runs_month = 24 * 30
    count_lambda = run_s * LAMBDA_GB * LAMBDA_GB_S * runs_month
    count_requests = runs_month * SHARDS * (S3_GET + S3_PUT)
    storage = state_bytes / 2**30 * S3_GB_MONTH * 2  # the shards, and a day of old versions
    batches_per_million = 1e6 / args.batch_events
    # one lookup of the batch's uncached texts; in a warm container most are cached
    lookups = batches_per_million * (1 + args.texts_per_batch / 100) * DYNAMODB_RRU
    per_million = (count_lambda + count_requests + storage) / (events_month / 1e6) + lookups
    print(
        f"cost: {events_month / 1e6:,.0f} M events a month ({args.events:,} per person a "
        f"working day); the count {count_lambda:.2f} $/month Lambda + "
        f"{count_requests:.3f} $ requests + {storage:.3f} $ storage; lookups at ingest "
        f"{lookups:.5f} $ per million events"
    )
    base = BASELINE_PER_MILLION
    print(
        f"common text adds {per_million:.5f} $ per million events to about {base} $: "
        f"x{(base + per_million) / base:.2f}"
    )
    per_pair = args.new_texts / args.events * 1e6 * DYNAMODB_WRU
    print(
        "for comparison, counting each new (person, text) at ingest with one DynamoDB write: "
        f"{per_pair:.4f} $ per million events, x{(base + per_pair) / base:.2f}"
    )


if __name__ == "__main__":
    main()

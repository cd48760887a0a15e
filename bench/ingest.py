"""Ingest benchmark: the ingest core against the floor, the common-text store's calls, memory
and cold init.

    .venv/bin/python bench/ingest.py [--repeat N]

(a) core:  gzip+base64 body -> decode -> validate -> policy (texts in "common" mode: ids, and
    the released texts filled in) -> Parquet bytes (what the handler does between the HTTP
    request and the S3 put, but for the store's round trips, measured apart in (c));
(b) floor: the same body -> JSON parse -> the same Arrow columns -> Parquet, with no validation
    and no policy. Both run in this process on the same batches, interleaved, so the ratio is
    stable even when absolute times are not. Peak RSS and cold init run in fresh processes.
(c) store: the common-text store's calls per batch (lambdas/adapters/text_store.py) against moto in
    this process, for typical batches (a new container, then a warm one) and for a batch whose
    every title differs, with moto's time and an estimate for DynamoDB.
(d) the slowest full-size batches: 5 MiB of the redactor's costliest texts (the fuzz suite's
    adversarial units), each distinct, against 5 MiB of benign text that triggers every detector.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ilake.simulate import make_batch  # noqa: E402
from ilake_contract.redact import Redactor  # noqa: E402
from lambdas.core.common_text import fill  # noqa: E402
from lambdas.core.decode import decode_body  # noqa: E402
from lambdas.core.lake import INTERACTIONS, SCHEMA_VERSION, to_parquet  # noqa: E402
from lambdas.core.pipeline import decode_envelope, process_batch  # noqa: E402
from lambdas.core.programs import parse_program  # noqa: E402
from lambdas.core.pseudonym import Pseudonymizer  # noqa: E402

NOW_MS = 1_795_000_000_000
MAX_BYTES = 5 * 1024 * 1024
# Worst realistic policy: every event type collected, every text kept (redacted, "common").
BENCH_PROGRAM = b"""
name = "bench"
version = 1
purpose = "Benchmark policy: every event type, every text kept, redacted, once common."
owner = "bench"
lawful_basis = "legitimate_interests"
dpia_ref = "n/a"
notice_version = "n/a"
retention_days = 1
[collect]
event_types = ["pointer.move", "pointer.click", "pointer.scroll", "pointer.drag", "key.shortcut",
  "key.press", "text.input", "menu.select", "window.focus", "clipboard", "capture.pause",
  "capture.resume"]
pointer_sample_ms = 0
coordinate_precision = 3
[text]
window_titles = "common"
target_names = "common"
menu_labels = "common"
urls = "common"
"""
PROGRAM = parse_program(BENCH_PROGRAM, "bench")
# The same policy with texts hashed (no ids, no filling): what "common" adds, measured apart.
HASHED = parse_program(
    BENCH_PROGRAM.replace(b'"common"', b'"hash"').replace(b'urls = "hash"', b'urls = "drop"'),
    "bench",
)
PSEUDONYMS = Pseudonymizer(b"b" * 32)
REDACTOR = Redactor(PROGRAM.text.detectors, PROGRAM.url_mode)  # built once, as the service does


def body_of(batch: dict) -> str:
    """The request body as API Gateway hands it over: gzip, then base64."""
    return base64.b64encode(gzip.compress(msgspec.json.encode(batch), 6)).decode()


def core(body: str) -> bytes:
    raw = decode_body(body, base64_encoded=True, encoding="gzip", max_bytes=MAX_BYTES)
    outcome = process_batch(
        decode_envelope(raw), PROGRAM, PSEUDONYMS, received_at_ms=NOW_MS, redactor=REDACTOR
    )
    assert outcome.table is not None
    # every text of the batch released (the most filling): the store's answer, minus its calls
    table, _ = fill(outcome.table, outcome.common_texts)
    return to_parquet(table, {b"ilake.agent": b"0" * 32})


def core_hashed(body: str) -> bytes:
    raw = decode_body(body, base64_encoded=True, encoding="gzip", max_bytes=MAX_BYTES)
    outcome = process_batch(decode_envelope(raw), HASHED, PSEUDONYMS, received_at_ms=NOW_MS)
    assert outcome.table is not None
    return to_parquet(outcome.table)


def floor(body: str) -> bytes:
    raw = decode_body(body, base64_encoded=True, encoding="gzip", max_bytes=MAX_BYTES)
    batch = msgspec.json.decode(raw)
    rows = []
    for e in batch["events"]:
        app, win, disp = e.get("app") or {}, e.get("window") or {}, e.get("display") or {}
        target = e.get("target") or {}
        rows.append(
            (
                e["event_id"],
                batch["batch_id"],
                e["seq"],
                e["ts"],
                NOW_MS,
                e["type"],
                e["subject"],
                e["device_id"],
                e["session_id"],
                app.get("name"),
                app.get("bundle_id"),
                win.get("title"),
                None,
                win.get("url"),
                None,
                disp.get("w"),
                disp.get("h"),
                disp.get("scale"),
                e.get("x"),
                e.get("y"),
                e.get("x2"),
                e.get("y2"),
                e.get("button"),
                e.get("clicks"),
                e.get("dx"),
                e.get("dy"),
                target.get("role"),
                target.get("name"),
                None,
                e.get("modifiers"),
                e.get("key"),
                None,
                e.get("menu_path"),
                None,
                None,
                None,
                None,
                None,
                None,
                e.get("op"),
                e.get("mime"),
                e.get("length"),
                e.get("reason"),
                None,
                batch["agent"]["version"],
                batch["agent"]["os"],
                "bench@1",
                SCHEMA_VERSION,
            )
        )
    columns = zip(*rows, strict=True)
    arrays = [pa.array(c, type=f.type) for c, f in zip(columns, INTERACTIONS, strict=True)]
    return to_parquet(pa.Table.from_arrays(arrays, schema=INTERACTIONS))


def throughput(fn, bodies: list[str], n_events: int, repeat: int) -> list[float]:
    rates = []
    for _ in range(repeat):
        start = time.perf_counter()
        for body in bodies:
            fn(body)
        rates.append(n_events * len(bodies) / (time.perf_counter() - start))
    return rates


def fresh(code: str, *args: str) -> str:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "POWERTOOLS_METRICS_NAMESPACE": "bench",
        "POWERTOOLS_SERVICE_NAME": "bench",
    }
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()


PEAK_RSS = """
import os, resource, sys
from bench.ingest import core
body = open(sys.argv[1]).read()
resident = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
core(body)
print(resident / 2**20, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""
INIT_BARE = """
import time; t = time.perf_counter()
import msgspec, pyarrow.parquet, boto3
boto3.client("s3")
print(time.perf_counter() - t)
"""
INIT_HANDLER = """
import time; t = time.perf_counter()
import lambdas.ingest.handler
print(time.perf_counter() - t)
"""


# A DynamoDB request within the region, batched reads included: single-digit milliseconds.
DYNAMODB_MS = 6.0


def store_calls() -> None:
    """(c): the store's calls for one batch at a time, as one container sees them."""
    import boto3
    from moto import mock_aws

    from lambdas.adapters.text_store import LOOKUP_CONCURRENCY, TextStore
    from lambdas.core.resources import COMMON_TEXTS

    for name, value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench")):
        os.environ.setdefault(name, value)

    def texts_of(batch: dict) -> dict[str, str]:
        raw = msgspec.json.encode(batch)
        outcome = process_batch(
            decode_envelope(raw), PROGRAM, PSEUDONYMS, received_at_ms=NOW_MS, redactor=REDACTOR
        )
        return outcome.common_texts

    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        dynamodb.create_table(
            TableName="texts",
            KeySchema=COMMON_TEXTS.key_schema,
            AttributeDefinitions=COMMON_TEXTS.attribute_definitions,
            BillingMode="PAY_PER_REQUEST",
        )
        start = NOW_MS - 900_000
        typical = [texts_of(make_batch(1_000, seed=i, start_ms=start)) for i in range(20)]
        shared = {tid: text for texts in typical for tid, text in texts.items()}
        # the texts every simulated person shares were counted common and released earlier
        earlier = TextStore(dynamodb, "texts")
        earlier.mark_common("bench", dict.fromkeys(shared, 10), now_s=0)
        earlier.resolve("bench", shared)
        store = TextStore(dynamodb, "texts")  # a container of its own
        print(f"{'batch':>30} {'distinct texts':>15} {'store calls':>12} {'moto ms':>8} "
              f"{'DynamoDB ms (est.)':>19}")  # fmt: skip
        unique = texts_of(make_batch(10_000, seed=99, start_ms=start, unique_titles=True))
        # a person's own titles, pending: looked up once, then cached until a count marks texts
        own = {f"h:{i:016x}": f"own title {i}" for i in range(5)}
        store.resolve("bench", own)
        for label, texts in (
            ("1,000 events, new container", typical[0]),
            ("1,000 events, warm container", typical[1]),
            ("the same, with pending texts", {**typical[1], **own}),
            ("10,000 events, every title new", unique),
        ):
            started = time.perf_counter()
            found = store.resolve("bench", texts)
            moto_ms = (time.perf_counter() - started) * 1000
            rounds = 1 + max(0, found.calls - 1 + LOOKUP_CONCURRENCY - 1) // LOOKUP_CONCURRENCY
            estimate = rounds * DYNAMODB_MS if found.calls else 0.0
            print(f"{label:>30} {len(texts):>15,} {found.calls:>12} {moto_ms:>8.1f} "
                  f"{estimate:>19.0f}")  # fmt: skip
        warm = [store.resolve("bench", texts).calls for texts in typical[2:]]
        print(f"warm container over {len(warm)} more typical batches: "
              f"{statistics.mean(warm):.2f} store calls per batch (mean)")  # fmt: skip


def adversarial_batches() -> None:
    """(d): full-size (5 MiB) batches of the costliest texts for the redactor: every event with a
    distinct max-length title, button name and menu labels made of one adversarial unit (from
    the fuzz suite), against the same batch of benign text that triggers every detector. API
    Gateway gives the integration 29 s; the ingest function must finish well inside it."""
    from tests.support.builders import RECEIVED_AT_MS
    from tests.unit import fuzz_inputs as fz
    from tests.unit.test_fuzz import TITLE, batch_body, distinct

    units = [u for group in fz.ADVERSARIAL.values() for u in group] + fz.ADVERSARIAL_MIXED
    redactor = Redactor()

    def full_size(texts: list[str]) -> bytes:
        low, high = 1, 6_000  # the most events that fit into the body limit
        while low < high:
            mid = (low + high + 1) // 2
            if len(batch_body(distinct(texts, mid, TITLE))) <= MAX_BYTES:
                low = mid
            else:
                high = mid - 1
        return batch_body(distinct(texts, low, TITLE))

    def seconds(body: bytes) -> float:
        started = time.perf_counter()
        outcome = process_batch(
            decode_envelope(body),
            PROGRAM,
            PSEUDONYMS,
            received_at_ms=RECEIVED_AT_MS,
            redactor=redactor,
        )
        assert outcome.table is not None
        return time.perf_counter() - started

    # a first pass over every unit at 50 events finds the costliest; those run at full size
    per_unit = {}
    for unit in units:
        per_unit[unit] = seconds(batch_body(distinct([unit], 50, TITLE)))
    worst = sorted(per_unit, key=per_unit.__getitem__, reverse=True)[:4]
    print(f"{'full-size batch (5 MiB)':>32} {'events':>7} {'seconds':>8}")
    benign = full_size([fz.benign_text(TITLE)])
    label = "benign text, every detector"
    print(f"{label:>32} {benign.count(b'event_id'):>7} {seconds(benign):>8.2f}")
    for label, texts in [("every adversarial text", units)] + [(repr(u), [u]) for u in worst]:
        body = full_size(texts)
        print(f"{label[:32]:>32} {body.count(b'event_id'):>7} {seconds(body):>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--init-runs", type=int, default=7)
    args = parser.parse_args()
    print(
        f"python {sys.version.split()[0]}, pyarrow {pa.__version__}, msgspec {msgspec.__version__}"
    )
    print(
        f"{'batch':>22} {'core ev/s':>11} {'floor ev/s':>11} {'ratio':>6} "
        f"{'hash mode ev/s':>15} {'ratio':>6}"
    )
    for label, size, count, unique in (
        ("1,000 events", 1_000, 20, False),
        ("10,000 events", 10_000, 3, False),
        ("10,000 unique titles", 10_000, 3, True),
    ):
        bodies = [
            body_of(make_batch(size, seed=i, start_ms=NOW_MS - 900_000, unique_titles=unique))
            for i in range(count)
        ]
        core(bodies[0]), floor(bodies[0]), core_hashed(bodies[0])  # warm up
        core_rates, floor_rates, hashed_rates = [], [], []
        for _ in range(args.repeat):  # interleaved: all see the same machine state
            core_rates += throughput(core, bodies, size, 1)
            floor_rates += throughput(floor, bodies, size, 1)
            hashed_rates += throughput(core_hashed, bodies, size, 1)
        c, f = statistics.median(core_rates), statistics.median(floor_rates)
        h = statistics.median(hashed_rates)
        print(f"{label:>22} {c:>11,.0f} {f:>11,.0f} {c / f:>6.2f} {h:>15,.0f} {h / f:>6.2f}")

    with tempfile.NamedTemporaryFile("w", suffix=".b64") as spool:
        spool.write(body_of(make_batch(10_000, seed=7, start_ms=NOW_MS - 900_000)))
        spool.flush()
        before, peak = map(float, fresh(PEAK_RSS, spool.name).split())
    print(
        f"peak RSS, one 10,000-event batch in a fresh process: {peak:.0f} MiB "
        f"(resident before the batch, after imports and reading the body: {before:.0f} MiB)"
    )
    bare = statistics.median(float(fresh(INIT_BARE)) for _ in range(args.init_runs))
    handler = statistics.median(float(fresh(INIT_HANDLER)) for _ in range(args.init_runs))
    print(
        f"cold init: handler module {handler * 1000:.0f} ms, bare import set + S3 client "
        f"{bare * 1000:.0f} ms, ratio {handler / bare:.2f}"
    )
    adversarial_batches()
    # last: after moto's in-process mock, a fresh process's peak RSS read up to 70 MiB higher
    # here (the same batch, the same code), so the memory figure above is taken before it
    store_calls()


if __name__ == "__main__":
    main()

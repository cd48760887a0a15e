"""Governance benchmark: purge and erase-subject, executed by moto's Step Functions.

    .venv/bin/python bench/governance.py [--objects 20000] [--files 1000] [--subjects 10]

(a) purge:  a program with `--objects` object versions (small placeholder objects: the purge
    never reads them), approved, run to PURGED; wall time and S3 calls by operation.
(b) erase:  a program with `--files` real batch files (pipeline output, `--subjects` people, one
    person per file as one agent's batches are); erase one person; wall time, files scanned,
    row groups read, S3 calls by operation.
S3 calls are counted at moto's S3 backend, so they include the state machine's own aws-sdk calls.
The case to plan for is 100,000 objects: moto lists versions by scanning the whole bucket on
every page (quadratic overall) and held 12 GB at 100,000 objects here, so the default is 20,000;
the S3 calls are linear by construction (one listing and one DeleteObjects per 1,000 versions,
one verifying listing), which is what the AWS estimate extrapolates.
The AWS estimate uses DeleteObjects' 1,000 keys per call and S3's published rates per prefix
(3,500 PUT/COPY/POST/DELETE and 5,500 GET/HEAD requests per second), with the latencies stated.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import boto3
import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.update(
    {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "LAKE_BUCKET": "ilake-bench-lake",
        "PROGRAM_STATE_TABLE": "ilake-bench-state",
        "IDEMPOTENCY_TABLE": "ilake-bench-idempotency",
        "COMMON_TEXTS_TABLE": "ilake-bench-common-texts",
        "AGENTS_TABLE": "ilake-bench-agents",
        "AUDIT_TABLE": "ilake-bench-audit",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
)

import logging  # noqa: E402

from moto import mock_aws  # noqa: E402

from ilake import workflows  # noqa: E402
from ilake.provision import Clients, provision  # noqa: E402
from ilake.simulate import make_batch  # noqa: E402
from lambdas.core.lake import object_key, program_prefix, to_parquet  # noqa: E402
from lambdas.core.pipeline import decode_envelope, process_batch  # noqa: E402
from lambdas.core.programs import load_programs  # noqa: E402
from lambdas.core.pseudonym import Pseudonymizer  # noqa: E402
from lambdas.core.settings import BUNDLED_PROGRAMS, Settings  # noqa: E402

PROGRAM = "menu-navigation"
AUDIT_TABLE = os.environ["AUDIT_TABLE"]
S3_CALLS: Counter[str] = Counter()
# Assumptions for the AWS estimate, per call (us-east-1, same region, small keys).
LIST_S, DELETE_BATCH_S, GET_S, PUT_S, STEP_S = 0.10, 0.40, 0.03, 0.05, 0.05
DELETE_RATE, GET_RATE = 3_500, 5_500  # per second per prefix, S3's published request rates


def count_s3_calls() -> None:
    """Count S3 operations where moto serves them (client-side counting would miss SFN's)."""
    from moto.s3.models import S3Backend

    # API operations only (moto's DeleteObjects calls delete_object per key internally)
    for name in ("list_object_versions", "delete_objects", "get_object", "put_object",
                 "head_object"):  # fmt: skip
        original = getattr(S3Backend, name)

        def counted(self, *args, __name=name, __original=original, **kwargs):  # type: ignore[no-untyped-def]
            S3_CALLS[__name] += 1
            return __original(self, *args, **kwargs)

        setattr(S3Backend, name, counted)


def setup() -> tuple[Clients, Settings, dict[str, str], object]:
    session = boto3.Session(region_name="eu-west-1")
    settings = Settings.from_env()
    clients = Clients.create(session)
    programs = sorted(load_programs(BUNDLED_PROGRAMS))
    provision(clients, os.environ, programs, region="eu-west-1")
    machines = workflows.provision_governance(session, settings, programs, audit_table=AUDIT_TABLE)
    sfn = session.client("stepfunctions")
    return clients, settings, machines, sfn


def bench_purge(objects: int) -> None:
    clients, settings, machines, sfn = setup()
    prefix = program_prefix(PROGRAM)
    started = time.perf_counter()
    for i in range(objects):
        key = f"{prefix}dt=2026-11-{1 + i % 27:02d}/hour={i % 24:02d}/{i:08d}.parquet"
        clients.s3.put_object(Bucket=settings.lake_bucket, Key=key, Body=b"x" * 64)
    print(f"purge: {objects:,} objects written in {time.perf_counter() - started:.1f} s")
    gov = workflows.Governance(sfn, clients.dynamodb, machines, settings.program_state_table,
                               AUDIT_TABLE)  # fmt: skip
    pause = {"program": PROGRAM, "reason": "bench", "requested_by": "alice", "lock": False}
    assert gov.wait(gov.start("pause", pause), 60).status == "SUCCEEDED"
    S3_CALLS.clear()
    started = time.perf_counter()
    execution = gov.start("purge", {"program": PROGRAM, "reason": "bench", "requested_by": "alice"})
    threading.Thread(
        target=gov.approve,
        args=(
            PROGRAM,
            "bob",
        ),
        daemon=True,
    ).start()
    outcome = gov.wait(execution, 3600)
    seconds = time.perf_counter() - started
    assert outcome.status == "SUCCEEDED", outcome
    assert outcome.output is not None
    assert outcome.output["objects"] == objects
    pages = math.ceil(objects / 1000)
    aws_s = pages * (LIST_S + DELETE_BATCH_S + 3 * STEP_S) + LIST_S + 6 * STEP_S
    floor_s = objects / DELETE_RATE  # if every key shared one prefix
    print(f"purge: {objects:,} object versions deleted under moto in {seconds:.1f} s "
          f"({objects / seconds:,.0f} versions/s); S3 calls {dict(S3_CALLS)}")  # fmt: skip
    print(f"purge, AWS estimate: {pages} pages x (ListObjectVersions {LIST_S}s + DeleteObjects "
          f"{DELETE_BATCH_S}s + 3 steps x {STEP_S}s) + verify = {aws_s:.0f} s; "
          f"S3's {DELETE_RATE:,}/s per-prefix DELETE rate bounds it at >= {floor_s:.0f} s "
          f"if all keys shared one prefix (they are spread over dt/hour prefixes)")  # fmt: skip


def bench_erase(files: int, subjects: int) -> None:
    clients, settings, machines, sfn = setup()
    program = load_programs(BUNDLED_PROGRAMS)[PROGRAM]
    secret = clients.secretsmanager.get_secret_value(SecretId=settings.secret_name(PROGRAM))
    pseudonyms = Pseudonymizer(secret["SecretString"].encode())
    key_arn = clients.kms.describe_key(KeyId=settings.key_alias(PROGRAM))["KeyMetadata"]["Arn"]
    now_ms = int(time.time() * 1000)
    started = time.perf_counter()
    from datetime import UTC, datetime

    for i in range(files):
        batch = make_batch(200, seed=i, start_ms=now_ms - 600_000, subject=f"user{i % subjects}")
        body = gzip.decompress(gzip.compress(msgspec.json.encode(batch)))
        outcome = process_batch(decode_envelope(body), program, pseudonyms, received_at_ms=now_ms)
        if outcome.table is None:  # every event of the batch was outside the policy
            continue
        clients.s3.put_object(
            Bucket=settings.lake_bucket,
            Key=object_key(PROGRAM, datetime.now(UTC), outcome.batch_id),
            Body=to_parquet(outcome.table),
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=key_arn,
        )
    print(f"erase: {files:,} batch files ({subjects} people) written in "
          f"{time.perf_counter() - started:.1f} s")  # fmt: skip
    gov = workflows.Governance(sfn, clients.dynamodb, machines, settings.program_state_table,
                               AUDIT_TABLE)  # fmt: skip
    S3_CALLS.clear()
    started = time.perf_counter()
    payload = {"program": PROGRAM, "subject": "user0", "reason": "bench", "requested_by": "dpo"}
    outcome = gov.wait(gov.start("erase-subject", payload), 3600)
    seconds = time.perf_counter() - started
    assert outcome.status == "SUCCEEDED", outcome
    out = outcome.output or {}
    print(f"erase: {out['rows']:,} rows in {out['files']} of {out['files_scanned']:,} files "
          f"erased under moto in {seconds:.1f} s; row groups read {out['row_groups_read']} of "
          f"{out['row_groups']} (footer statistics ruled out the rest, twice: find and verify); "
          f"S3 calls {dict(S3_CALLS)}")  # fmt: skip
    gets = S3_CALLS["get_object"]
    rewrite_s = GET_S + PUT_S + LIST_S + DELETE_BATCH_S
    aws_s = (2 * math.ceil(files / 1000) * LIST_S + gets * GET_S / 8
             + out["files"] / 4 * rewrite_s + 8 * STEP_S)  # fmt: skip
    print(f"erase, AWS estimate: {gets:,} ranged GETs at {GET_S}s with 8 in flight, "
          f"{out['files']} rewrites 4 at a time (Map MaxConcurrency) = {aws_s:.0f} s; "
          f"GET rate bound {gets / GET_RATE:.1f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=20_000, help="0 skips the purge")
    parser.add_argument("--files", type=int, default=1_000)
    parser.add_argument("--subjects", type=int, default=10)
    args = parser.parse_args()
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    count_s3_calls()
    if args.objects:
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            bench_purge(args.objects)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        bench_erase(args.files, args.subjects)
    print(json.dumps({"s3_calls_last_run": dict(S3_CALLS)}))


if __name__ == "__main__":
    main()

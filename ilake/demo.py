"""`ilake demo`: the ingest story end to end, in one process, on embedded moto.

Provisions what the CDK app declares for ingest (bucket, tables, per-program keys and secrets),
enrolls one agent per program, and has simulated agents post gzip batches through the real
authorizer and ingest handlers (via the API Gateway shim). Then it shows what was stored and what
was not: counts, redactions, encryption headers, a few rows, a replay and a paused program.
No AWS account, no network.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import time
import uuid
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec

from .local import REGION, handle
from .simulate import make_batch

ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "demo",
    "AWS_SECRET_ACCESS_KEY": "demo",
    "LAKE_BUCKET": "ilake-demo-lake",
    "PROGRAM_STATE_TABLE": "ilake-demo-program-state",
    "IDEMPOTENCY_TABLE": "ilake-demo-idempotency",
    "AGENTS_TABLE": "ilake-demo-agents",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_METRICS_DISABLED": "true",
}


def post(token: str, program: str, batch: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """One agent request through the same API Gateway shim local mode serves over HTTP."""
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    body = gzip.compress(msgspec.json.encode(batch))
    status, _, payload = handle("POST", f"/v1/programs/{program}/batches", headers, body)
    return status, json.loads(payload)


def run(programs_dir: Path, *, batches: int = 3, events: int = 2_000) -> None:
    os.environ.update({**ENV, "PROGRAMS_DIR": str(programs_dir)})
    warnings.filterwarnings("ignore", module="aws_lambda_powertools")  # metrics are off here
    import boto3
    import pyarrow.parquet as pq
    from moto import mock_aws

    from lambdas.core.agents import enroll_agent
    from lambdas.core.programs import load_programs
    from lambdas.core.settings import Settings

    from .provision import Clients, provision

    programs = load_programs(programs_dir)
    with mock_aws():
        settings = Settings.from_env()
        clients = Clients.create(boto3.Session(region_name=REGION))
        key_arns = provision(
            clients, settings, programs, agents_table=ENV["AGENTS_TABLE"], region=REGION
        )
        tokens = {
            p: enroll_agent(
                clients.dynamodb, ENV["AGENTS_TABLE"], program=p, agent_id=f"{p}-laptop-1"
            )
            for p in programs
        }
        print(f"Interaction Lake demo (embedded moto, region {REGION})")
        print(f"programs: {', '.join(programs)}; one agent token each (stored as SHA-256 only)\n")

        now = int(time.time() * 1000)
        for name in programs:
            totals: Counter[str] = Counter()
            rejected: Counter[str] = Counter()
            redactions: Counter[str] = Counter()
            started = time.perf_counter()
            last: dict[str, Any] = {}
            for i in range(batches):
                batch = make_batch(events, seed=i, start_ms=now - 600_000, subject=f"user{i % 2}")
                status, answer = post(tokens[name], name, batch)
                totals[str(status)] += 1
                totals["accepted"] += answer.get("accepted", 0)
                rejected.update(answer.get("rejected", {}))
                redactions.update(answer.get("redactions", {}))
                last = {"batch": batch, "answer": answer}
            elapsed = time.perf_counter() - started
            print(f"== {name}: {batches} batches x {events} events in {elapsed:.2f} s")
            print(f"   accepted {totals['accepted']}, not stored by reason {dict(rejected)}")
            print(f"   redactions by detector {dict(redactions)}")
            key = last["answer"].get("object")
            if key:
                head = clients.s3.head_object(Bucket=settings.lake_bucket, Key=key)
                print(f"   object {key}")
                print(
                    f"   encryption {head['ServerSideEncryption']}, program key "
                    f"{head['SSEKMSKeyId'] == key_arns[name]}, bucket key "
                    f"{head.get('BucketKeyEnabled')}"
                )
                data = clients.s3.get_object(Bucket=settings.lake_bucket, Key=key)["Body"].read()
                rows = pq.read_table(
                    io.BytesIO(data),
                    columns=[
                        "type",
                        "subject_pid",
                        "app_name",
                        "window_title",
                        "target_name",
                        "key",
                        "key_class",
                        "text_length",
                    ],
                ).to_pylist()
                shown: dict[str, dict[str, Any]] = {}
                for row in rows:
                    shown.setdefault(row["type"], {k: v for k, v in row.items() if v is not None})
                for row in list(shown.values())[:5]:
                    print(f"   row {row}")
            status, replay = post(tokens[name], name, last["batch"])
            print(f"   replay of the last batch: {status}, same answer {replay == last['answer']}")
            print()

        other = next(iter(programs))
        wrong = next(p for p in programs if p != other)
        status, _ = post(tokens[wrong], other, make_batch(10, start_ms=now))
        print(f"token of {wrong!r} used on {other!r}: {status}")
        status, _ = post("ilk_not-a-real-token-000000000000", other, make_batch(10, start_ms=now))
        print(f"unknown token: {status}")
        clients.dynamodb.put_item(
            TableName=settings.program_state_table,
            Item={"program": {"S": other}, "state": {"S": "PAUSED"}},
        )
        status, answer = post(
            tokens[other], other, dict(make_batch(10, start_ms=now), batch_id=str(uuid.uuid4()))
        )
        print(f"{other!r} paused: {status} {answer}")
        versions = clients.s3.list_object_versions(Bucket=settings.lake_bucket).get("Versions", [])
        print(
            f"\nobjects in the lake: {len(versions)}; typed text, clipboard content and raw "
            "subjects stored: none (see tests/integration/test_privacy_properties.py)"
        )

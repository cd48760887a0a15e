"""Support for tests of common text through the real handlers on moto: a controllable ingest
clock, batches of window titles from enrolled agents, the hourly count, and every stored byte."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import uuid
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lambdas.compaction import handler as compaction
from lambdas.core.common_text import TEXT_FIELDS, text_id
from lambdas.core.lake import program_prefix
from lambdas.core.pipeline import decode_envelope, process_batch
from lambdas.core.programs import load_programs
from lambdas.core.pseudonym import Pseudonymizer
from lambdas.ingest import handler as ingest_handler
from lambdas.ingest import service as service_module
from tests.support.api import gzip_event, invoke
from tests.support.lake import TEST_PROGRAMS, Lake

PROGRAM = "everything"  # min_people = 5
K = 5


class Clock(dt.datetime):
    """The ingest service's clock, set by the test: batches land in the hour it says."""

    at: ClassVar[dt.datetime] = dt.datetime.now(dt.UTC)

    @classmethod
    def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
        return cls.at


def use_clock(monkeypatch: pytest.MonkeyPatch, at: dt.datetime) -> None:
    monkeypatch.setattr(Clock, "at", at)
    monkeypatch.setattr(service_module, "datetime", Clock)


def secret(lake: Lake, program: str = PROGRAM) -> Pseudonymizer:
    return lake.pseudonymizer(program)


def tid(lake: Lake, text: str, program: str = PROGRAM) -> str:
    return text_id(secret(lake, program), text)


def focus_batch(subject: str, titles: list[str], at: dt.datetime) -> dict[str, Any]:
    ts = int(at.timestamp() * 1000) - 60_000
    return {
        "schema": "interaction/1",
        "batch_id": str(uuid.uuid4()),
        "sent_at": ts,
        "agent": {"version": "1.0", "os": "linux"},
        "events": [
            {
                "event_id": str(uuid.uuid4()),
                "type": "window.focus",
                "ts": ts + i,
                "seq": i,
                "session_id": f"session-{subject}",
                "subject": subject,
                "device_id": f"device-{subject}",
                "app": {"name": "Google Chrome", "bundle_id": "com.google.Chrome"},
                "window": {"title": title},
                "display": {"w": 1920, "h": 1080, "scale": 1.0},
            }
            for i, title in enumerate(titles)
        ],
    }


def post(
    batch: dict[str, Any], agent: str, program: str = PROGRAM
) -> tuple[int, dict[str, Any], dict[str, str]]:
    return invoke(gzip_event(program, batch, agent_id=agent))


def count(now: dt.datetime, program: str = PROGRAM) -> dict[str, Any]:
    """The hourly run (count, compact, refill) as if it were `now`."""
    return compaction.handler({"program": program, "now": now.isoformat()})


def release_all(lake: Lake, batch: dict[str, Any], program: str = PROGRAM) -> int:
    """Record every common text of `batch` as common, as if enough people had sent each: the
    handler then releases them all, the most text a row can ever hold in clear. Returns how
    many texts that is."""
    body = json.dumps(batch).encode()
    declared = load_programs(TEST_PROGRAMS)[program]
    outcome = process_batch(
        decode_envelope(body), declared, secret(lake, program), received_at_ms=batch["sent_at"]
    )
    for tid_ in outcome.common_texts:
        lake.clients.dynamodb.put_item(
            TableName=lake.settings.common_texts_table,
            Item={
                "program": {"S": program},
                "text_id": {"S": tid_},
                "status": {"S": "common"},
                "people": {"N": str(K)},
            },
        )
    ingest_handler.service().texts.clear_cache()
    return len(outcome.common_texts)


def released_by(logs: str) -> int:
    """The handler's own count of texts it released (its EMF metric lines)."""
    total = 0
    for text in logs.splitlines():
        try:
            line = json.loads(text)
        except ValueError:
            continue
        if isinstance(line, dict) and "TextsReleased" in line:
            total += int(sum(line["TextsReleased"]))
    return total


def stored_everywhere(
    lake: Lake, *, since: dt.datetime | None = None, tables: set[str] | None = None
) -> str:
    """Every byte the deployment stores, as text: each S3 object version (raw, gunzipped when
    gzip, and every string of it when it is Parquet), written `since` a time if given (a text
    first sent after it cannot be in an older object), and every item of every DynamoDB table
    (or of `tables`)."""
    s3, bucket = lake.clients.s3, lake.settings.lake_bucket
    found: list[str] = []
    for version in lake.objects():
        if since is not None and version["LastModified"] < since - dt.timedelta(seconds=2):
            continue
        data = s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])[
            "Body"
        ].read()
        found.append(data.decode("utf-8", "replace"))
        if data[:2] == b"\x1f\x8b":
            found.append(gzip.decompress(data).decode("utf-8", "replace"))
        if data[:4] == b"PAR1":
            table = pq.read_table(io.BytesIO(data))
            found.append(json.dumps(table.to_pylist(), default=str))
            found.append(repr(table.schema.metadata))
    ddb = lake.clients.dynamodb
    for name in ddb.list_tables()["TableNames"]:
        if tables is not None and name not in tables:
            continue
        for page in ddb.get_paginator("scan").paginate(TableName=name):
            found.append(json.dumps(page["Items"]))
    return "\n".join(found)


def current_rows(
    lake: Lake, program: str = PROGRAM, *, since: dt.datetime | None = None
) -> pa.Table:
    """Every row of the program's current lake objects (written `since` a time, if given)."""
    tables = [
        lake.table(version["Key"])
        for version in lake.versions(f"{program_prefix(program)}dt=").versions
        if version["IsLatest"]
        and (since is None or version["LastModified"] >= since - dt.timedelta(seconds=2))
    ]
    return pa.concat_tables(tables) if tables else pa.table({})


def texts_of(rows: pa.Table, tid_: str) -> list[str | None]:
    """What each value with the id `tid_` holds, in every text column."""
    held: list[str | None] = []
    for field in TEXT_FIELDS:
        for text, ident in zip(
            rows[field.text].to_pylist(), rows[field.id].to_pylist(), strict=True
        ):
            if field.is_list:
                held += [t for t, i in zip(text or [], ident or [], strict=False) if i == tid_]
            elif ident == tid_:
                held.append(text)
    return held


def store_item(lake: Lake, tid_: str, program: str = PROGRAM) -> dict[str, Any] | None:
    item = lake.clients.dynamodb.get_item(
        TableName=lake.settings.common_texts_table,
        Key={"program": {"S": program}, "text_id": {"S": tid_}},
    ).get("Item")
    return dict(item) if item else None

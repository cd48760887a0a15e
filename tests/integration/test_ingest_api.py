"""The ingest Lambda end to end against moto: every answer of docs/api.md, and what gets stored."""

from __future__ import annotations

import base64
import gzip
import io
import json
import time
import uuid
import zlib
from typing import Any

import pyarrow.parquet as pq
import pytest

from ilake.simulate import make_batch
from lambdas.core.lake import INTERACTIONS
from tests.support.api import api_event, gzip_event, invoke, json_event
from tests.support.lake import Lake

pytestmark = pytest.mark.integration


def now_ms() -> int:
    return int(time.time() * 1000)


def batch(n: int = 50, **kwargs: Any) -> dict[str, Any]:
    return make_batch(n, start_ms=now_ms() - 60_000, **kwargs)


def assert_nothing_written(lake: Lake) -> None:
    assert lake.objects() == []
    assert lake.idempotency_items() == []


def test_accepted_batch_becomes_one_encrypted_parquet_object(lake: Lake) -> None:
    sent = batch(200, seed=3)
    status, body, _ = invoke(gzip_event("everything", sent))

    assert status == 200
    assert body["batch_id"] == sent["batch_id"]
    assert body["accepted"] + sum(body["rejected"].values()) == 200
    assert set(body["rejected"]) <= {"denied_app"}  # the simulator sometimes switches to Slack
    key = body["object"]
    assert key.startswith("interactions/program=everything/dt=")
    assert key.endswith(f"/{sent['batch_id']}.parquet")
    assert "/hour=" in key

    [version] = lake.objects()
    head = lake.clients.s3.head_object(Bucket=lake.settings.lake_bucket, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == lake.key_arns["everything"]
    assert head["BucketKeyEnabled"] is True
    data = lake.clients.s3.get_object(Bucket=lake.settings.lake_bucket, Key=key)["Body"].read()
    table = pq.read_table(io.BytesIO(data))
    assert table.schema.equals(INTERACTIONS)
    assert table.num_rows == body["accepted"]
    assert version["Key"] == key


def test_plain_json_body_is_accepted(lake: Lake) -> None:
    status, body, _ = invoke(json_event("everything", batch(10)))
    assert status == 200
    assert body["object"] is not None


def test_replay_returns_the_first_answer_and_writes_nothing_new(lake: Lake) -> None:
    sent = batch(30, seed=5)
    first = invoke(gzip_event("everything", sent))
    second = invoke(gzip_event("everything", sent))
    assert first[0] == second[0] == 200
    assert first[1] == second[1]
    assert len(lake.objects()) == 1


def test_a_replay_adds_no_metric_but_replays(
    lake: Lake, capsys: pytest.CaptureFixture[str]
) -> None:
    """The events of a batch are counted when it is stored; a retry of it counts as a replay
    only, so the metrics say what the lake holds whatever the agents retry."""

    def emf(out: str) -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
        return [line for line in lines if line.get("service") == "ingest"]

    sent = batch(30, seed=6)
    sent["events"][0]["type"] = "no.such.type"  # one rejection, to see Rejected.* too
    sent["events"][1]["redacted"] = {"email": 2}  # what the agent replaced before sending
    sent["not_captured"] = {"denied_app": 5}  # what the agent did not capture at all
    capsys.readouterr()
    first = invoke(gzip_event("everything", sent))
    [stored] = emf(capsys.readouterr().out)
    for _ in range(3):
        assert invoke(gzip_event("everything", sent))[1] == first[1]
    replays = emf(capsys.readouterr().out)
    assert stored["EventsAccepted"] == [first[1]["accepted"]]
    assert stored["Rejected.unknown_type"] == [1.0]
    assert stored["Batches"] == [1.0]
    assert stored["AgentRedactions.email"] == [2.0]
    assert stored["NotCaptured.denied_app"] == [5.0]
    assert len(replays) == 3
    for line in replays:
        names = {m["Name"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
        assert names == {"Replays"}
        assert line["Replays"] == [1.0]


def test_same_batch_id_with_other_payload_is_409(lake: Lake) -> None:
    sent = batch(30, seed=5)
    assert invoke(gzip_event("everything", sent))[0] == 200
    altered = dict(sent, events=sent["events"][:-1])
    status, body, _ = invoke(gzip_event("everything", altered))
    assert status == 409
    assert body["error"] == "batch_conflict"
    assert len(lake.objects()) == 1


@pytest.mark.parametrize(
    "program",
    ["nope", "..", "..%2F..%2Fetc", "Everything", "a" * 300, "menu navigation", "<script>"],
)
def test_unknown_or_odd_program_is_404_without_echo(lake: Lake, program: str) -> None:
    status, body, _ = invoke(json_event(program, batch(5)))
    assert status == 404
    assert body == {"error": "unknown_program", "message": "no such program"}
    assert_nothing_written(lake)


def test_token_for_another_program_is_403(lake: Lake) -> None:
    status, body, _ = invoke(
        json_event("everything", batch(5), authorized_program="menu-navigation")
    )
    assert status == 403
    assert body["error"] == "forbidden"
    status, _, _ = invoke(json_event("everything", batch(5), authorized_program=None))
    assert status == 403
    assert_nothing_written(lake)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, 415),
        ({"Content-Type": "text/plain"}, 415),
        ({"Content-Type": "application/json; charset=latin-1"}, 415),
        ({"Content-Type": "application/json", "Content-Encoding": "br"}, 415),
        ({"Content-Type": "application/json; charset=utf-8"}, 200),
    ],
)
def test_content_type_and_encoding(lake: Lake, headers: dict[str, str], expected: int) -> None:
    status, _, _ = invoke(api_event("everything", json.dumps(batch(5)), headers=headers))
    assert status == expected
    if expected != 200:
        assert_nothing_written(lake)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (None, "malformed_batch"),
        ("", "malformed_batch"),
        ("{not json", "malformed_batch"),
        ('{"schema": "interaction/1", "batch_id": NaN}', "malformed_batch"),
        ("[" * 100_000, "malformed_batch"),
        ('{"schema": "interaction/1"}', "malformed_batch"),
        ("42", "malformed_batch"),
    ],
)
def test_malformed_bodies_are_400(lake: Lake, body: str | None, error: str) -> None:
    status, answer, _ = invoke(api_event("everything", body))
    assert status == 400
    assert answer["error"] == error
    assert_nothing_written(lake)


def test_wrong_schema_major_is_400(lake: Lake) -> None:
    sent = dict(batch(5), schema="interaction/2")
    status, body, _ = invoke(json_event("everything", sent))
    assert (status, body["error"]) == (400, "unsupported_schema")
    assert_nothing_written(lake)


def test_zero_events_is_200_and_writes_no_object(lake: Lake) -> None:
    status, body, _ = invoke(json_event("everything", dict(batch(1), events=[])))
    assert status == 200
    assert (body["accepted"], body["object"]) == (0, None)
    assert lake.objects() == []


def test_body_over_the_limit_is_413(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_BODY_BYTES", "20000")
    status, body, _ = invoke(json_event("everything", batch(200)))
    assert (status, body["error"]) == (413, "too_large")
    assert_nothing_written(lake)


def test_too_many_events_is_413(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_EVENTS", "10")
    status, _, _ = invoke(gzip_event("everything", batch(11)))
    assert status == 413
    assert_nothing_written(lake)


def test_gzip_bomb_is_413_not_expanded(lake: Lake) -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b" " * (1 << 20)
    bomb = b"".join(packer.compress(chunk) for _ in range(64)) + packer.flush()  # 64 MiB inflated
    event = api_event(
        "everything",
        base64.b64encode(bomb).decode(),
        base64_encoded=True,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    status, body, _ = invoke(event)
    assert (status, body["error"]) == (413, "too_large")
    assert_nothing_written(lake)


def test_corrupt_gzip_is_400(lake: Lake) -> None:
    event = api_event(
        "everything",
        base64.b64encode(gzip.compress(b'{"a": 1}')[:-6]).decode(),
        base64_encoded=True,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert invoke(event)[0] == 400
    assert_nothing_written(lake)


@pytest.mark.parametrize("state", ["PAUSED", "PURGING", "PURGED"])
def test_program_not_collecting_is_423_and_tells_agents_to_stop(lake: Lake, state: str) -> None:
    lake.set_state("everything", state)
    status, body, _ = invoke(gzip_event("everything", batch(5)))
    assert status == 423
    assert body["collect"] is False
    assert body["status"] == state.lower()
    assert_nothing_written(lake)


def test_resumed_program_accepts_again(lake: Lake) -> None:
    lake.set_state("everything", "PAUSED")
    assert invoke(gzip_event("everything", batch(5)))[0] == 423
    lake.set_state("everything", "ACTIVE")
    assert invoke(gzip_event("everything", batch(5)))[0] == 200


def test_missing_secret_is_500_with_nothing_written(lake: Lake) -> None:
    lake.clients.secretsmanager.delete_secret(
        SecretId=lake.settings.secret_name("everything"), ForceDeleteWithoutRecovery=True
    )
    status, body, _ = invoke(gzip_event("everything", batch(5)))
    assert status == 500
    assert body == {"error": "internal_error", "message": "internal error; nothing was stored"}
    assert_nothing_written(lake)


def test_missing_key_is_500_with_nothing_written(lake: Lake) -> None:
    lake.clients.kms.delete_alias(AliasName=lake.settings.key_alias("everything"))
    status, _, _ = invoke(gzip_event("everything", batch(5)))
    assert status == 500
    assert_nothing_written(lake)


def test_disabled_key_is_500_with_nothing_written(lake: Lake) -> None:
    key_id = lake.key_arns["everything"].rsplit("/", 1)[1]
    lake.clients.kms.disable_key(KeyId=key_id)
    assert invoke(gzip_event("everything", batch(5)))[0] == 500
    assert_nothing_written(lake)


def test_bad_events_are_counted_and_good_ones_kept(lake: Lake) -> None:
    sent = batch(20, seed=11)
    events = sent["events"]
    good = [e for e in events if e["app"]["name"] != "Slack"]
    bad = [
        dict(good[0], type="keylogger.raw"),
        dict(good[1], ts=-5),  # outside the schema's static bounds: a broken clock too
        dict(good[2], ts=now_ms() + 86_400_000),
        dict(good[3], event_id=good[8]["event_id"].upper()),  # same UUID, other case
        {k: v for k, v in good[5].items() if k != "subject"},
        dict(good[6], seq="seven"),
        dict(good[7], session_id="x" * 5000),
    ]
    sent["events"] = good[8:] + bad
    status, body, _ = invoke(gzip_event("everything", sent))
    assert status == 200
    assert body["accepted"] == len(good) - 8  # the duplicate's first copy is kept
    assert body["rejected"] == {
        "unknown_type": 1,
        "ts_out_of_range": 2,
        "duplicate_event_id": 1,
        "missing_field": 1,
        "wrong_type": 1,
        "bad_length": 1,
    }


def test_policy_endpoint(lake: Lake) -> None:
    status, body, _ = invoke(api_event("menu-navigation", None, route="policy", method="GET"))
    assert status == 200
    assert body["program"] == "menu-navigation"
    assert "menu.select" in body["collect"]["event_types"]
    assert body["text"]["window_titles"] == "common"
    assert body["text"]["min_people"] == 10
    assert any("1password" in p for p in body["apps"]["deny"])
    status, _, _ = invoke(
        api_event(
            "menu-navigation", None, route="policy", method="GET", authorized_program="everything"
        )
    )
    assert status == 403


def test_suppressed_subject_is_dropped_at_ingest(lake: Lake) -> None:
    sent = batch(10, seed=2)
    first = invoke(gzip_event("everything", sent))[1]
    data = lake.clients.s3.get_object(Bucket=lake.settings.lake_bucket, Key=first["object"])
    pid = pq.read_table(io.BytesIO(data["Body"].read())).column("subject_pid")[0].as_py()
    lake.set_state("everything", "ACTIVE", suppressed=[pid])
    again = dict(batch(10, seed=3), batch_id=str(uuid.uuid4()))
    status, body, _ = invoke(gzip_event("everything", again))
    assert status == 200
    assert body["accepted"] == 0
    assert body["rejected"]["suppressed_subject"] >= 1


def test_same_batch_while_first_is_being_stored_is_429_with_retry_after(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambdas.ingest import service as service_module

    sent = batch(10, seed=9)
    inner: list[tuple[int, dict[str, Any], dict[str, str]]] = []
    real = service_module.process_batch

    def process_while_a_retry_arrives(*args: Any, **kwargs: Any) -> Any:
        if not inner:
            inner.append(invoke(gzip_event("everything", sent)))  # the agent retries too early
        return real(*args, **kwargs)

    monkeypatch.setattr(service_module, "process_batch", process_while_a_retry_arrives)
    status, first, _ = invoke(gzip_event("everything", sent))
    [(retry_status, retry_body, retry_headers)] = inner
    assert (retry_status, retry_body["error"]) == (429, "batch_in_progress")
    assert retry_headers["Retry-After"] == "1"
    assert status == 200
    assert len(lake.objects()) == 1
    assert invoke(gzip_event("everything", sent))[1] == first  # and later gets the stored answer


def test_storage_failure_is_500_and_the_batch_can_be_retried(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    from lambdas.ingest.handler import service

    sent = batch(10, seed=4)
    s3 = service()._s3
    real_put = s3.put_object

    def failing_put(**kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "x"}}, "PutObject")

    monkeypatch.setattr(s3, "put_object", failing_put)
    status, body, _ = invoke(gzip_event("everything", sent))
    assert (status, body["error"]) == (500, "internal_error")
    assert_nothing_written(lake)  # no object, and no idempotency record to block the retry
    monkeypatch.setattr(s3, "put_object", real_put)
    assert invoke(gzip_event("everything", sent))[0] == 200
    assert len(lake.objects()) == 1


def test_logs_and_metrics_carry_no_content(lake: Lake, capsys: pytest.CaptureFixture[str]) -> None:
    sent = batch(100, seed=12)
    titles = {e["window"]["title"] for e in sent["events"]}
    invoke(gzip_event("everything", sent))
    invoke(json_event("everything", dict(sent, schema="interaction/9")))
    out = capsys.readouterr().out
    assert '"batch stored"' in out
    assert '"EventsAccepted"' in out
    for title in titles:
        assert title not in out
    assert "jdoe" not in out
    assert "LAPTOP-42" not in out


def test_weak_secret_is_500_with_nothing_written(lake: Lake) -> None:
    lake.clients.secretsmanager.put_secret_value(
        SecretId=lake.settings.secret_name("everything"), SecretString="too-short"
    )
    assert invoke(gzip_event("everything", batch(5)))[0] == 500
    assert_nothing_written(lake)


def test_a_method_the_api_does_not_have_is_404_not_a_fault(lake: Lake, capsys: Any) -> None:
    for method, route in (("GET", "batches"), ("POST", "policy"), ("DELETE", "policy")):
        status, answer, _ = invoke(api_event("everything", None, method=method, route=route))
        assert (status, answer["error"]) == (404, "not_found")
    assert '"Faults"' not in capsys.readouterr().out

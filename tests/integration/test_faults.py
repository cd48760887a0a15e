"""Fault injection at every AWS call on the ingest write path: a failure never half-writes.

See docs/design.md#acknowledged-means-durable.

Each call the ingest Lambda makes for a batch (program state, idempotency record, secret, key,
object) fails in turn, the ways AWS calls fail: a 5xx, throttling, a read timeout, no connection,
a disabled or deleted key, and a call that took effect but whose answer was lost. Whatever fails:

- the answer is 200 or a fixed 5xx body (a 429 only while an earlier attempt's idempotency
  record is still "in progress"), and neither the body nor the logs echo submitted content;
- every object in the lake is a complete Parquet file holding exactly the acknowledged rows;
- a 200 names an object that exists, is SSE-KMS under the program's key and holds the rows;
- once the fault is gone, re-sending the same batch gets 200 and its rows are in exactly one
  current object; a record left "in progress" blocks retries (429, Retry-After) only until the
  Lambda's time limit has passed.

Faults are raised inside botocore's `_make_api_call`, so they are what the service sees after
botocore's own retries gave up. `test_the_write_path_is_every_call_listed_here` pins the list of
calls, so a new AWS call on the write path fails that test until it is listed and faulted.
The moto resources are provisioned once for the module and emptied between tests.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow.parquet as pq
import pytest
from aws_lambda_powertools.utilities.idempotency.persistence import dynamodb as idempotency_store
from botocore.client import BaseClient
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from ilake.simulate import make_batch
from lambdas.core import resources
from lambdas.core.errors import ServiceFault
from lambdas.core.lake import INTERACTIONS, program_prefix
from lambdas.ingest import handler as ingest_handler
from lambdas.ingest import service as service_module
from tests.support.api import FakeContext, gzip_event, invoke
from tests.support.lake import Lake, lake_environment, provisioned_lake

pytestmark = pytest.mark.integration

PROGRAM = "everything"
ENV = lake_environment()
STATE_TABLE = ENV[resources.PROGRAM_STATE.env]
IDEMPOTENCY_TABLE = ENV[resources.IDEMPOTENCY.env]
LAMBDA_TIME_MS = FakeContext.get_remaining_time_in_millis()  # the function's timeout, 29 s
FAULT_BODY = ServiceFault().body()

Call = tuple[str, str, str | None]  # service, operation, DynamoDB table

STATE_READ: Call = ("dynamodb", "GetItem", STATE_TABLE)
RECORD_START: Call = ("dynamodb", "PutItem", IDEMPOTENCY_TABLE)  # INPROGRESS, or the replay
SECRET: Call = ("secretsmanager", "GetSecretValue", None)
KEY: Call = ("kms", "DescribeKey", None)
TEXTS: Call = ("dynamodb", "BatchGetItem", None)  # which of the batch's texts are released
OBJECT: Call = ("s3", "PutObject", None)
RECORD_DONE: Call = ("dynamodb", "UpdateItem", IDEMPOTENCY_TABLE)  # COMPLETED with the answer
RECORD_RELEASE: Call = ("dynamodb", "DeleteItem", IDEMPOTENCY_TABLE)  # after a failure inside

WRITE_PATH = (STATE_READ, RECORD_START, SECRET, KEY, TEXTS, OBJECT, RECORD_DONE)
REPLAY_PATH = (STATE_READ, RECORD_START)


# -- faults ----------------------------------------------------------------------------------

Proceed = Callable[[], Any]
Strike = Callable[[Any, str, Proceed], Any]  # (client, operation, proceed) -> answer or raise


def _service(client: Any) -> str:
    return str(client.meta.service_model.service_name)


def error(code: str, status: int) -> Strike:
    """An AWS error answer, raised as the modeled exception class botocore would raise."""

    def strike(client: Any, operation: str, proceed: Proceed) -> Any:
        answer = {
            "Error": {"Code": code, "Message": "injected fault"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        raise client.exceptions.from_code(code)(answer, operation)

    return strike


def by_service(codes: dict[str, tuple[str, int]]) -> Strike:
    def strike(client: Any, operation: str, proceed: Proceed) -> Any:
        return error(*codes[_service(client)])(client, operation, proceed)

    return strike


def read_timeout(client: Any, operation: str, proceed: Proceed) -> Any:
    raise ReadTimeoutError(endpoint_url=client.meta.endpoint_url)


def no_connection(client: Any, operation: str, proceed: Proceed) -> Any:
    raise EndpointConnectionError(endpoint_url=client.meta.endpoint_url)


def after_effect(strike: Strike) -> Strike:
    """The call reaches AWS and takes effect; only its answer is lost."""

    def struck(client: Any, operation: str, proceed: Proceed) -> Any:
        proceed()
        return strike(client, operation, proceed)

    return struck


def key_state(state: str) -> Strike:
    """DescribeKey answers, but the key is not usable (a disabled key is not an error there)."""

    def strike(client: Any, operation: str, proceed: Proceed) -> Any:
        answer = proceed()
        answer["KeyMetadata"].update(KeyState=state, Enabled=False)
        return answer

    return strike


INTERNAL = by_service(
    {
        "dynamodb": ("InternalServerError", 500),
        "s3": ("InternalError", 500),
        "kms": ("KMSInternalException", 500),
        "secretsmanager": ("InternalServiceError", 500),
    }
)
UNAVAILABLE = by_service(
    {
        "dynamodb": ("ServiceUnavailable", 503),
        "s3": ("ServiceUnavailable", 503),
        "kms": ("DependencyTimeoutException", 503),
        "secretsmanager": ("ServiceUnavailable", 503),
    }
)
THROTTLED = by_service(
    {
        "dynamodb": ("ProvisionedThroughputExceededException", 400),
        "s3": ("SlowDown", 503),
        "kms": ("ThrottlingException", 400),
        "secretsmanager": ("ThrottlingException", 400),
    }
)
KINDS: dict[str, Strike] = {
    "500": INTERNAL,
    "503": UNAVAILABLE,
    "throttled": THROTTLED,
    "read-timeout": read_timeout,
    "no-connection": no_connection,
}
AFTER_EFFECT_KINDS: dict[str, Strike] = {
    "500-after-effect": after_effect(INTERNAL),
    "read-timeout-after-effect": after_effect(read_timeout),
}
# Faults only some calls have: the program's key disabled or pending deletion, as KMS, S3
# (SSE-KMS) and Secrets Manager (the secret is encrypted under the program's key) report them.
SPECIFIC_KINDS: dict[Call, dict[str, Strike]] = {
    KEY: {
        "key-disabled": key_state("Disabled"),
        "key-pending-deletion": key_state("PendingDeletion"),
        "NotFoundException": error("NotFoundException", 400),
        "DisabledException": error("DisabledException", 400),
        "KMSInvalidStateException": error("KMSInvalidStateException", 400),
    },
    OBJECT: {
        "KMS.DisabledException": error("KMS.DisabledException", 400),
        "KMS.KMSInvalidStateException": error("KMS.KMSInvalidStateException", 400),
        "AccessDenied": error("AccessDenied", 403),
    },
    SECRET: {
        "DecryptionFailure": error("DecryptionFailure", 400),
        "ResourceNotFoundException": error("ResourceNotFoundException", 400),
    },
}


@dataclass
class Injector:
    """Wraps every botocore client's API calls; faults apply only while the handler runs."""

    faults: dict[Call, Strike] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    struck: list[Call] = field(default_factory=list)
    armed: bool = False

    def handle(self, real: Any, client: Any, operation: str, params: dict[str, Any]) -> Any:
        if not self.armed:
            return real(client, operation, params)
        call: Call = (_service(client), operation, params.get("TableName"))
        self.calls.append(call)
        strike = self.faults.get(call)
        if strike is None:
            return real(client, operation, params)
        self.struck.append(call)
        return strike(client, operation, lambda: real(client, operation, params))

    def send(self, sent: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        self.calls.clear()
        self.armed = True
        try:
            return invoke(gzip_event(PROGRAM, sent))
        finally:
            self.armed = False


# -- fixtures --------------------------------------------------------------------------------


class _IngestClock(dt.datetime):
    """The ingest service's clock, held still: a retry lands in the same hour partition unless a
    test moves it on purpose."""

    at: ClassVar[dt.datetime] = dt.datetime.now(dt.UTC)

    @classmethod
    def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
        return cls.at


@pytest.fixture(scope="module")
def provisioned() -> Iterator[Lake]:
    """moto resources for the whole module: provisioning takes about a second."""
    with pytest.MonkeyPatch.context() as patch, provisioned_lake(ENV) as lake:
        for name, value in ENV.items():
            patch.setenv(name, value)
        yield lake


@pytest.fixture
def lake(provisioned: Lake, monkeypatch: pytest.MonkeyPatch) -> Lake:
    """The module's resources, emptied: no objects, no idempotency records, no program state;
    the ingest service is a new container's (the autouse fixture reset the handlers)."""
    _empty(provisioned)
    monkeypatch.setattr(_IngestClock, "at", dt.datetime.now(dt.UTC))
    monkeypatch.setattr(service_module, "datetime", _IngestClock)
    return provisioned


@pytest.fixture
def injector(monkeypatch: pytest.MonkeyPatch) -> Injector:
    injector = Injector()
    real = BaseClient._make_api_call

    def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        return injector.handle(real, client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", make_api_call)
    return injector


def _empty(lake: Lake) -> None:
    s3, ddb, bucket = lake.clients.s3, lake.clients.dynamodb, lake.settings.lake_bucket
    listing = s3.list_object_versions(Bucket=bucket)
    doomed = [
        {"Key": v["Key"], "VersionId": v["VersionId"]}
        for v in [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]
    ]
    if doomed:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed})
    for table, key in ((IDEMPOTENCY_TABLE, "id"), (STATE_TABLE, "program")):
        for item in ddb.scan(TableName=table)["Items"]:
            ddb.delete_item(TableName=table, Key={key: item[key]})


# -- what must hold --------------------------------------------------------------------------


def batch(seed: int) -> dict[str, Any]:
    start = int(_IngestClock.at.timestamp() * 1000) - 60_000
    return make_batch(20, seed=seed, start_ms=start)


def submitted_text(sent: dict[str, Any]) -> set[str]:
    """Submitted strings that must never reach an answer or a log line."""
    found: set[str] = set()
    for event in sent["events"]:
        found |= {event["subject"], event["device_id"], event["session_id"]}
        found.add(event["window"]["title"])
        found |= {event[k] for k in ("text", "content") if k in event}
        found.add(event.get("target", {}).get("name", ""))
        found |= set(event.get("menu_path", []))
    return {text for text in found if len(text) >= 6}


def record(lake: Lake) -> dict[str, Any] | None:
    """The batch's idempotency record (Powertools hashes the key, so: the only record)."""
    items = lake.idempotency_items()
    assert len(items) <= 1
    return items[0] if items else None


def versions(lake: Lake) -> list[dict[str, Any]]:
    return lake.versions(program_prefix(PROGRAM)).versions


def rows_of(lake: Lake, version: dict[str, Any]) -> list[str]:
    """The object version's event ids; it must be a complete Parquet file of the lake schema."""
    got = lake.clients.s3.get_object(
        Bucket=lake.bucket, Key=version["Key"], VersionId=version["VersionId"]
    )
    table = pq.read_table(io.BytesIO(got["Body"].read()))
    assert table.schema.equals(INTERACTIONS)
    assert table.num_rows == int(got["Metadata"]["rows"])
    return [str(e) for e in table.column("event_id").to_pylist()]


def assert_complete_objects(lake: Lake, sent: dict[str, Any]) -> None:
    """Whatever is in the lake (all versions) is whole and holds only this batch's events."""
    ids = {e["event_id"] for e in sent["events"]}
    for version in versions(lake):
        rows = rows_of(lake, version)
        assert rows
        assert set(rows) <= ids
        assert len(rows) == len(set(rows))


def assert_durable(lake: Lake, answer: dict[str, Any], sent: dict[str, Any]) -> None:
    """A 200: the named object exists, SSE-KMS under the program's key, with the accepted rows;
    every version in the lake holds exactly those rows, and exactly one current object does."""
    assert answer["batch_id"] == sent["batch_id"]
    assert answer["accepted"] > 0
    head = lake.clients.s3.head_object(Bucket=lake.settings.lake_bucket, Key=answer["object"])
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == lake.key_arns[PROGRAM]
    assert head["BucketKeyEnabled"] is True
    everything = versions(lake)
    [current] = [v for v in everything if v["IsLatest"]]
    assert current["Key"] == answer["object"]
    acknowledged = rows_of(lake, current)
    assert len(acknowledged) == len(set(acknowledged)) == answer["accepted"]
    for version in everything:  # an earlier attempt's version of the same key, if any
        assert sorted(rows_of(lake, version)) == sorted(acknowledged)


def assert_no_echo(sent: dict[str, Any], *texts: str) -> None:
    submitted = submitted_text(sent)
    assert submitted
    for text in texts:
        leaked = sorted(s for s in submitted if s in text)
        assert not leaked


def lambda_time_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Powertools' clock moves past the in-progress record's expiry (the Lambda's time limit)."""
    later = dt.timedelta(milliseconds=LAMBDA_TIME_MS + 1000)

    class Later(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
            return dt.datetime.now(tz) + later

    class Clock:
        datetime = Later

    monkeypatch.setattr(idempotency_store, "dt", Clock)


def retry_until_stored(
    lake: Lake, injector: Injector, sent: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """The agent re-sends the same batch until it is acknowledged, as its spool does."""
    left = record(lake)
    status, answer, headers = injector.send(sent)
    if left is not None and left["status"]["S"] == "INPROGRESS":
        assert (status, answer["error"], headers["Retry-After"]) == (429, "batch_in_progress", "1")
        expiry = int(left["in_progress_expiration"]["N"])
        assert expiry <= int(dt.datetime.now().timestamp() * 1000) + LAMBDA_TIME_MS
        lambda_time_passed(monkeypatch)
        status, answer, headers = injector.send(sent)
    assert status == 200, answer
    assert_durable(lake, answer, sent)
    assert record(lake)["status"]["S"] == "COMPLETED"  # type: ignore[index]  # replays from now on
    return answer


# -- every call on the write path, every way it fails ----------------------------------------


@dataclass(frozen=True)
class Expect:
    status: int  # the first answer
    stored: bool  # an object exists after the first answer
    record: str | None  # the idempotency record left after the first answer


EXPECT: dict[tuple[Call, bool], Expect] = {
    # (call, the call took effect before failing): what the first answer leaves behind
    (STATE_READ, False): Expect(500, stored=False, record=None),
    (RECORD_START, False): Expect(500, stored=False, record=None),
    # the record was written but Powertools cannot know: it blocks until the Lambda's limit
    (RECORD_START, True): Expect(500, stored=False, record="INPROGRESS"),
    (SECRET, False): Expect(500, stored=False, record=None),
    (KEY, False): Expect(500, stored=False, record=None),
    # the vocabulary does not answer: fail closed, every text stored as its id only (no text
    # is released by this batch; a later one or compaction fills them in)
    (TEXTS, False): Expect(200, stored=True, record="COMPLETED"),
    (OBJECT, False): Expect(500, stored=False, record=None),
    # a PutObject whose answer was lost: the object exists; the retry overwrites the same key
    (OBJECT, True): Expect(500, stored=True, record=None),
    # the batch is durable, only the record's COMPLETED update failed: answered as stored
    (RECORD_DONE, False): Expect(200, stored=True, record="INPROGRESS"),
    (RECORD_DONE, True): Expect(200, stored=True, record="COMPLETED"),
    # releasing the record after a failed PutObject fails: it blocks until the Lambda's limit
    (RECORD_RELEASE, False): Expect(500, stored=False, record="INPROGRESS"),
    (RECORD_RELEASE, True): Expect(500, stored=False, record=None),
}
MUTATING = (RECORD_START, OBJECT, RECORD_DONE, RECORD_RELEASE)


def _label(call: Call) -> str:
    service, operation, table = call
    tables = {STATE_TABLE: "(program-state)", IDEMPOTENCY_TABLE: "(idempotency)"}
    where = tables.get(table, "") if table else ""
    return f"{service}.{operation}{where}"


def _cases() -> Iterator[Any]:
    for call in (*WRITE_PATH, RECORD_RELEASE):
        kinds = [(name, strike, False) for name, strike in KINDS.items()]
        kinds += [(name, strike, False) for name, strike in SPECIFIC_KINDS.get(call, {}).items()]
        if call in MUTATING:
            kinds += [(name, strike, True) for name, strike in AFTER_EFFECT_KINDS.items()]
        for name, strike, took_effect in kinds:
            yield pytest.param(call, strike, took_effect, id=f"{_label(call)}-{name}")


@pytest.mark.parametrize(("call", "strike", "took_effect"), list(_cases()))
def test_fault_on_the_write_path(
    lake: Lake,
    injector: Injector,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    call: Call,
    strike: Strike,
    took_effect: bool,
) -> None:
    sent = batch(seed=sum(map(ord, repr(call))))
    if call == RECORD_RELEASE:  # Powertools releases its record only after a failure inside
        injector.faults[OBJECT] = UNAVAILABLE
    injector.faults[call] = strike
    expect = EXPECT[call, took_effect]

    status, answer, _ = injector.send(sent)

    assert call in injector.struck
    assert status == expect.status, answer
    if status == 500:
        assert answer == FAULT_BODY
    else:
        assert_durable(lake, answer, sent)
    assert bool(versions(lake)) is expect.stored
    assert_complete_objects(lake, sent)
    left = record(lake)
    assert (left and left["status"]["S"]) == expect.record

    injector.faults.clear()
    stored = retry_until_stored(lake, injector, sent, monkeypatch)
    if status == 200:  # a later attempt (after an in-progress record lapsed) answers the same
        assert stored == answer
    assert_no_echo(sent, repr(answer), repr(stored), capsys.readouterr().out)


@pytest.mark.parametrize("call", REPLAY_PATH, ids=_label)
@pytest.mark.parametrize("kind", ["500", "read-timeout"])
def test_fault_while_replaying_an_acknowledged_batch(
    lake: Lake,
    injector: Injector,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    call: Call,
    kind: str,
) -> None:
    sent = batch(seed=7)
    status, first, _ = injector.send(sent)
    assert status == 200
    injector.faults[call] = KINDS[kind]
    status, answer, _ = injector.send(sent)
    assert call in injector.struck
    assert (status, answer) == (500, FAULT_BODY)
    injector.faults.clear()
    assert retry_until_stored(lake, injector, sent, monkeypatch) == first
    assert len(versions(lake)) == 1
    assert_no_echo(sent, capsys.readouterr().out)


def test_the_write_path_is_every_call_listed_here(lake: Lake, injector: Injector) -> None:
    """The enumeration the faults are parametrized over, checked against what the handler does."""
    sent = batch(seed=1)
    assert injector.send(sent)[0] == 200
    assert tuple(injector.calls) == WRITE_PATH
    assert injector.send(sent)[0] == 200
    assert tuple(injector.calls) == REPLAY_PATH

    other = batch(seed=2)  # the secret and the key ARN are cached for the container's life
    injector.faults[OBJECT] = INTERNAL
    assert injector.send(other)[0] == 500
    # (the texts' status is cached too: looked up again only if the batch has new texts)
    cached_path = tuple(call for call in injector.calls if call != TEXTS)
    assert cached_path == (STATE_READ, RECORD_START, OBJECT, RECORD_RELEASE)
    ingest_handler.service.cache_clear()  # a new container
    assert injector.send(other)[0] == 500
    assert tuple(injector.calls) == (*WRITE_PATH[:-1], RECORD_RELEASE)


# -- faults after the write: telemetry -------------------------------------------------------


class TelemetryDown(Exception):
    pass


def _failing(
    real: Callable[..., Any], fired: list[str], *, when: Callable[..., bool]
) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        if when(*args, **kwargs):
            fired.append(real.__name__)
            raise TelemetryDown
        return real(*args, **kwargs)

    return call


@pytest.mark.parametrize("where", ["metric", "log-line", "metrics-flush"])
def test_telemetry_fault_after_the_write_never_leads_to_a_second_copy(
    lake: Lake,
    injector: Injector,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    """Metrics and logs come after the object and the COMPLETED record: whatever they do to the
    answer (a 500, or a crashed invocation API Gateway answers with 502), the agent's retry is a
    replay of the stored answer, never a second copy."""
    metrics, logger = ingest_handler.metrics, ingest_handler.logger
    sent = batch(seed=3)
    fired: list[str] = []
    with pytest.MonkeyPatch.context() as fault:
        if where == "metric":
            is_first = lambda name, *_, **__: name == "Batches"  # noqa: E731
            fault.setattr(metrics, "add_metric", _failing(metrics.add_metric, fired, when=is_first))
        elif where == "log-line":
            is_stored = lambda msg, *_, **__: msg == "batch stored"  # noqa: E731
            fault.setattr(logger, "info", _failing(logger.info, fired, when=is_stored))
        else:  # the EMF line printed when the handler returns
            emf = metrics.provider
            always = lambda *_, **__: True  # noqa: E731
            fault.setattr(emf, "flush_metrics", _failing(emf.flush_metrics, fired, when=always))
        try:
            status, answer, _ = injector.send(sent)
        except TelemetryDown:
            status, answer = 502, {}  # the invocation failed: API Gateway answers 502
    assert fired
    assert status == {"metric": 500, "log-line": 500, "metrics-flush": 502}[where]
    if status == 500:
        assert answer == FAULT_BODY
    [version] = versions(lake)
    assert record(lake)["status"]["S"] == "COMPLETED"  # type: ignore[index]
    stored = retry_until_stored(lake, injector, sent, monkeypatch)
    assert versions(lake) == [version]  # the replay wrote nothing
    assert stored["object"] == version["Key"]
    assert_no_echo(sent, repr(answer), capsys.readouterr().out)


# -- what is still open ----------------------------------------------------------------------


@pytest.mark.xfail(
    strict=True,
    reason="A PutObject that stored the object but whose answer was lost is answered 500; the "
    "ingest role may only PutObject, so the service cannot check what landed, and a retry in "
    "the next hour writes the rows again under that hour's key.",
)
def test_lost_put_answer_then_a_retry_in_the_next_hour_stores_the_rows_once(
    lake: Lake, injector: Injector, monkeypatch: pytest.MonkeyPatch
) -> None:
    top = _IngestClock.at.replace(minute=0, second=0, microsecond=0)
    monkeypatch.setattr(_IngestClock, "at", top - dt.timedelta(seconds=1))
    sent = batch(seed=4)
    injector.faults[OBJECT] = after_effect(read_timeout)
    assert injector.send(sent)[0] == 500
    injector.faults.clear()
    monkeypatch.setattr(_IngestClock, "at", top + dt.timedelta(seconds=1))
    assert injector.send(sent)[0] == 200
    current = [v for v in versions(lake) if v["IsLatest"]]
    assert len(current) == 1  # fails: two current objects, one per hour, with the same rows

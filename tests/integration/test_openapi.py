"""The HTTP API's OpenAPI document, and the running API held to it.

The document is generated from the handler's routes and the pipeline's types
(lambdas/ingest/openapi.py) and served by local mode at GET /openapi.json. Schemathesis loads it
from there and sends what it generates to the local stack: no answer may be a 5xx, and every
answer's status, content type, headers and body must be the ones the document declares. Answers
that generated data rarely reaches (409, 413, 415, 423, ...) are provoked on purpose and held
to the same document.
"""

from __future__ import annotations

import gzip
import json
import os
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import requests
import schemathesis
from jsonschema import Draft202012Validator, ValidationError
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ilake.local import RESOURCE_NAMES, LocalState
from ilake.simulate import make_batch
from lambdas.core import errors
from lambdas.core.programs import load_programs
from lambdas.core.settings import BUNDLED_PROGRAMS
from lambdas.ingest.openapi import openapi_document
from tests.support.lake import TEST_PROGRAMS
from tests.support.local import local_client, running_local_stack

pytestmark = [pytest.mark.integration, pytest.mark.enable_socket]

ROOT = Path(__file__).resolve().parents[2]
BATCHES = "/v1/programs/{program}/batches"
POLICY = "/v1/programs/{program}/policy"
PROGRAM = "menu-navigation"  # schemathesis posts to this one, with its token
OTHER = "shortcut-learning"  # the provoked answers use this one (it gets paused)
SEED = 20261127
SCALE = int(os.environ.get("ILAKE_FUZZ_SCALE", "1"))  # scripts/guarantees.py runs more
EXAMPLES = 40 * SCALE  # generated requests per operation (fewer when fewer distinct ones exist)
OTHER_EXAMPLES = 10 * SCALE
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# every answer of each route (docs/api.md)
POST_STATUSES = {"200", "400", "401", "403", "404", "409", "413", "415", "423", "429", "500", "503"}
GET_STATUSES = {"200", "401", "403", "404", "429", "500", "503"}


@pytest.fixture(autouse=True)
def _lazy_schemathesis_on_pytest_9_2(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32.5 (`from_fixture`) renames the running test through `Node._nodeid`,
    which pytest 9.2 replaced with `_id`; give it the attribute it reads (names only)."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalState]:
    with running_local_stack(tmp_path_factory.mktemp("ilake")) as state:
        yield state


@pytest.fixture(scope="module")
def document(local: LocalState) -> dict[str, Any]:
    with urllib.request.urlopen(f"{local.api_url}/openapi.json", timeout=30) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json"
        served: dict[str, Any] = json.loads(response.read())
    return served


def _load(state: LocalState, token: str, examples: int, **parameters: str) -> Any:
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "suppress-health-check": ["too_slow"],  # a loaded machine is not a failure
            "headers": {"Authorization": f"Bearer {token}"},
            "parameters": {f"path.{name}": value for name, value in parameters.items()},
            "generation": {"mode": "positive", "max-examples": examples, "database": "none"},
            # the coverage phase's boundary cases are not bounded by max-examples (700+ here)
            "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        }
    )
    return schemathesis.openapi.from_url(f"{state.api_url}/openapi.json", config=config)


@pytest.fixture(scope="module")
def api(local: LocalState) -> Any:
    """The served document, every request with PROGRAM's token and for PROGRAM."""
    return _load(local, local.programs[PROGRAM]["token"], EXAMPLES, program=PROGRAM)


@pytest.fixture(scope="module")
def api_any_program(local: LocalState) -> Any:
    """The served document, PROGRAM's token, the program name generated."""
    return _load(local, local.programs[PROGRAM]["token"], OTHER_EXAMPLES)


@pytest.fixture(scope="module")
def tally() -> Counter[str]:
    """What schemathesis sent and got, for the checks below and the published figures."""
    return Counter()


DAY_MS = 86_400_000


def _integers(value: Any) -> Any:
    """Integral floats as integers. JSON Schema counts 5.0 as an integer and schemathesis sends
    such values; the API's decoder (msgspec) refuses them (400, or the event rejected), as
    docs/api.md says. Sent as integers, the batches get past the envelope."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integers(v) for v in value]
    if isinstance(value, dict):
        return {k: _integers(v) for k, v in value.items()}
    return value


def _deepen(body: dict[str, Any]) -> dict[str, Any]:
    """Steer a generated batch past the checks a schema cannot state, so that it reaches the
    policy, the redactor and the lake: event times within the last 29 days (the API refuses
    older events and future ones), and a batch id that follows from the content (generated ids
    repeat, and a repeated id with another body is a 409; an identical body is a replay)."""
    body = _integers(body)
    now = int(time.time() * 1000)
    for event in body.get("events") or []:
        if isinstance(event, dict) and isinstance(event.get("ts"), int):
            event["ts"] = now - event["ts"] % (29 * DAY_MS)
    content = json.dumps({k: v for k, v in body.items() if k != "batch_id"}, sort_keys=True)
    body["batch_id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, content))
    return body


def _call(case: Any, tally: Counter[str]) -> Any:
    """Send the case (gzip-compressed when it says so) and hold the answer to the document."""
    kwargs: dict[str, Any] = {}
    if isinstance(case.body, dict):
        case.body = _deepen(case.body)
    if (case.headers or {}).get("Content-Encoding") == "gzip" and not isinstance(case.body, NotSet):
        kwargs["data"] = gzip.compress(json.dumps(case.body).encode())
    try:
        response = case.call_and_validate(checks=CHECKS, **kwargs)
    except Exception:
        tally["answers off the document or 5xx"] += 1  # (hypothesis then shrinks and retries)
        raise
    tally[f"{case.method} {response.status_code}"] += 1
    tally["gzip"] += "data" in kwargs
    if isinstance(case.body, dict) and response.status_code == 200:
        tally["events stored"] += response.json()["accepted"]
    return response


# --- the document ----------------------------------------------------------------------------


def test_served_document_is_valid_openapi_and_lists_every_answer(
    document: dict[str, Any],
) -> None:
    validate(document)  # OpenAPI 3.1, its JSON Schemas and every $ref resolve
    assert document == openapi_document()  # local mode serves what the module generates
    assert set(document["paths"]) == {BATCHES, POLICY}
    post = document["paths"][BATCHES]["post"]
    get = document["paths"][POLICY]["get"]
    assert set(document["paths"][BATCHES]) == {"post"}
    assert set(document["paths"][POLICY]) == {"get"}
    assert set(post["responses"]) >= POST_STATUSES
    assert set(get["responses"]) >= GET_STATUSES
    for operation in (post, get):
        assert operation["security"] == [{"bearerAuth": []}]
        for status, response in operation["responses"].items():
            assert response["description"]
            assert set(response["content"]) == {"application/json"}, status
        retry_after = operation["responses"]["429"]["headers"]["Retry-After"]
        assert retry_after["required"] is True
    bearer = document["components"]["securitySchemes"]["bearerAuth"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Batch"
    }
    encoding = next(p for p in post["parameters"] if p["name"] == "Content-Encoding")
    assert (encoding["in"], encoding["required"]) == ("header", False)
    assert "gzip" in encoding["schema"]["enum"]
    assert get["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Policy"
    }


def test_committed_copy_is_current() -> None:
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert committed == openapi_document(), (
        "docs/openapi.json is stale: .venv/bin/python -m lambdas.ingest.openapi > docs/openapi.json"
    )


def _validator(document: dict[str, Any], path: str, method: str, status: str) -> Any:
    """A JSON Schema validator for one answer's body, refs resolved inside the document."""
    schema = document["paths"][path][method]["responses"][status]["content"]["application/json"]
    return Draft202012Validator({**document, **schema["schema"]})


def test_every_error_body_and_every_programs_policy_match_the_document(
    document: dict[str, Any],
) -> None:
    samples: list[errors.IngestError] = [
        errors.MalformedBatch(),
        errors.MalformedBatch("the body is empty"),
        errors.MalformedBatch(detail="$.events[3].ts"),
        errors.UnsupportedSchema(),
        errors.Unauthorized(),
        errors.Forbidden(),
        errors.UnknownProgram(),
        errors.BatchConflict(),
        errors.TooLarge(),
        errors.UnsupportedMedia(),
        errors.ProgramNotCollecting("PAUSED"),
        errors.ProgramNotCollecting("PURGING"),
        errors.ProgramNotCollecting("PURGED"),
        errors.BatchInProgress(),
        errors.ServiceFault(),
    ]
    for error in samples:
        body = error.body()
        _validator(document, BATCHES, "post", str(error.status)).validate(body)
        if str(error.status) in document["paths"][POLICY]["get"]["responses"]:
            _validator(document, POLICY, "get", str(error.status)).validate(body)
    # and a body the document does not allow is caught: the checks above can fail
    with pytest.raises(ValidationError, match="is not valid"):
        _validator(document, BATCHES, "post", "400").validate({"error": "x", "message": "m"})
    programs = {**load_programs(BUNDLED_PROGRAMS), **load_programs(TEST_PROGRAMS)}
    policy = _validator(document, POLICY, "get", "200")
    for program in programs.values():
        policy.validate(json.loads(json.dumps(program.public_policy())))


# --- schemathesis against the running stack --------------------------------------------------

api_schema = schemathesis.pytest.from_fixture("api")
any_program_schema = schemathesis.pytest.from_fixture("api_any_program")


@api_schema.parametrize()
def test_api_answers_as_documented(case: Any, tally: Counter[str]) -> None:
    _call(case, tally)


@any_program_schema.parametrize()
def test_other_programs_are_refused_as_documented(case: Any, tally: Counter[str]) -> None:
    response = _call(case, tally)
    if case.path_parameters["program"] != PROGRAM:
        assert response.status_code in (403, 404)  # the token is PROGRAM's: nothing else


def test_schemathesis_reached_the_handler(
    tally: Counter[str], record_property: Callable[[str, object], None]
) -> None:
    """The runs above were not vacuous: batches were stored and policies read, some gzipped."""
    if not tally:
        pytest.skip("the schemathesis tests did not run (deselected)")
    answers = {key: n for key, n in tally.items() if key.split()[0] in ("GET", "POST")}
    off = tally["answers off the document or 5xx"]
    record_property("figure: API requests generated by schemathesis", sum(answers.values()))
    record_property("figure: API answers off the OpenAPI document or 5xx", off)
    assert off == 0, tally  # (the tests above failed already)
    assert tally["POST 200"] >= EXAMPLES // 2, tally  # most generated batches were stored
    assert tally["events stored"] > 0, tally  # and some of their events reached the lake
    assert tally["GET 200"] >= 1, tally
    assert tally["gzip"] >= 3, tally


# --- answers provoked on purpose -------------------------------------------------------------


def _send(
    state: LocalState,
    route: str,
    *,
    token: str | None,
    program: str = OTHER,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    sent = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    method = "POST" if route == "batches" else "GET"
    return requests.request(
        method,
        f"{state.api_url}/v1/programs/{program}/{route}",
        data=body,
        headers=sent,
        timeout=30,
    )


def test_provoked_answers_match_the_document(local: LocalState, api: Any) -> None:
    post = api[BATCHES]["POST"]
    get = api[POLICY]["GET"]
    token = local.programs[OTHER]["token"]
    batch = make_batch(20, seed=8, start_ms=int(time.time() * 1000) - 60_000)
    encoded = msgspec.json.encode(batch)
    zipped = {"Content-Encoding": "gzip"}
    wrong_schema = msgspec.json.encode({**batch, "schema": "interaction/2"})
    wrong_type = msgspec.json.encode({**batch, "sent_at": "yesterday"})
    conflicting = msgspec.json.encode({**batch, "events": batch["events"][:5]})
    bomb = gzip.compress(b" " * (6 * 1024 * 1024))
    seen: list[tuple[int, dict[str, Any]]] = []

    def expect(status: int, operation: Any, route: str, **kwargs: Any) -> None:
        response = _send(local, route, **kwargs)
        assert response.status_code == status, response.text
        case = operation.Case(path_parameters={"program": kwargs.get("program", OTHER)})
        case.validate_response(response, checks=CHECKS)
        seen.append((status, response.json()))

    expect(200, post, "batches", token=token, body=gzip.compress(encoded), headers=zipped)
    expect(200, post, "batches", token=token, body=encoded)  # the replay
    expect(409, post, "batches", token=token, body=conflicting)
    expect(400, post, "batches", token=token, body=b"{not json")
    expect(400, post, "batches", token=token, body=b"")
    expect(400, post, "batches", token=token, body=b"\x1f\x8b not gzip", headers=zipped)
    expect(400, post, "batches", token=token, body=wrong_schema)
    expect(400, post, "batches", token=token, body=wrong_type)
    expect(401, post, "batches", token=None, body=encoded)
    expect(401, post, "batches", token="ilk_" + "x" * 40, body=encoded)
    expect(403, post, "batches", token=local.programs[PROGRAM]["token"], body=encoded)
    expect(413, post, "batches", token=token, body=bomb, headers=zipped)
    expect(415, post, "batches", token=token, body=encoded, headers={"Content-Type": "text/plain"})
    expect(415, post, "batches", token=token, body=encoded, headers={"Content-Encoding": "br"})
    expect(200, get, "policy", token=token)
    expect(401, get, "policy", token=None)
    expect(403, get, "policy", token=local.programs[PROGRAM]["token"])
    local_client(local, "dynamodb").put_item(
        TableName=RESOURCE_NAMES["PROGRAM_STATE_TABLE"],
        Item={"program": {"S": OTHER}, "state": {"S": "PAUSED"}},
    )
    expect(423, post, "batches", token=token, body=encoded)
    bodies = dict(seen)
    assert bodies[423] == {"status": "paused", "collect": False, "error": "not_collecting"}
    assert any(body.get("field") == "$.sent_at" for status, body in seen if status == 400)
    assert bodies[409]["error"] == "batch_conflict"

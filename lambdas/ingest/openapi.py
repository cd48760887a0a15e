"""The OpenAPI 3.1 document of the HTTP API (docs/api.md), generated so that it cannot drift.

Powertools' resolver writes the paths, operations and answers from the routes' metadata in
`lambdas.ingest.handler`; this module adds what the resolver cannot see:
- the request body of POST .../batches, generated from the msgspec types the pipeline decodes
  with (`ilake_contract.schema`), and the optional `Content-Encoding: gzip` header;
- the body of every answer, by status: our errors from the error types in `lambdas.core.errors`
  (their codes grouped by status), the 423 from the program states, the policy from the program
  file types, and API Gateway's own `{"message": ...}` answers where the gateway may answer;
- the bearer security scheme and the `Retry-After` header of a 429.

Local mode serves it at GET /openapi.json; docs/openapi.json is a copy a test keeps current:

    .venv/bin/python -m lambdas.ingest.openapi > docs/openapi.json

Nothing here runs in the Lambda: the handler does not import this module (generation needs
pydantic, which the Lambda bundle does not carry).
"""

from __future__ import annotations

import json
import sys
import uuid
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

from ilake_contract import schema as s
from lambdas.core import errors
from lambdas.core.decode import ENCODINGS, JSON_TYPES
from lambdas.core.pipeline import _SCHEMA_OK, Limits
from lambdas.core.programs import PROGRAM_NAME, AppPolicy, CollectPolicy, ProgramFile, TextPolicy
from lambdas.core.state import ProgramState

TITLE = "Interaction Lake ingest API"
VERSION = "1"
REF = "#/components/schemas/{name}"
JSON = "application/json"  # what every answer is (handler._json)
GZIP_ENCODINGS = sorted(e for e in ENCODINGS if e)  # "" is "no header"
RETRY_AFTER = "Retry-After"
# Which answers API Gateway (or local mode's stand-in, ilake/local.py) may give itself, with its
# own body `{"message": ...}`: authorizer verdicts, its request validator, payload limit,
# throttling, and failures of the integration. 404 for a path that matches no route.
GATEWAY_STATUSES = frozenset({400, 401, 403, 404, 413, 429, 500, 502, 503, 504})
DEFAULTS = Limits()  # what the ingest function runs with unless its environment says otherwise

_DESCRIPTION = """\
Agents post interaction batches and read their program's collection policy. Every route needs
`Authorization: Bearer <token>`; a token is scoped to one program and one agent. Answers are JSON
and never echo submitted content. See docs/api.md for the prose and docs/design.md#http-api for
the contract.
"""


# --- request ---------------------------------------------------------------------------------


def _batch_type() -> type[Struct]:
    """The batch as agents send it: the pipeline's own envelope, with its events typed.

    `Envelope` keeps `events` raw so each event is judged on its own; here they get the event
    union the pipeline decodes them with, and `schema` the pattern the pipeline accepts.
    """
    fields: list[tuple[Any, ...]] = []
    for field in msgspec.structs.fields(s.Envelope):
        kind = field.type
        if field.name == "events":
            kind = Annotated[
                list[s.Event],
                Meta(
                    max_length=DEFAULTS.max_events,
                    description=f"The events (at most {DEFAULTS.max_events:,} by default). An "
                    "event that breaks its type's schema or the program's policy is rejected and "
                    "counted by reason; it does not fail the batch. Unknown fields are dropped and "
                    "counted.",
                ),
            ]
        elif field.name == "schema":
            kind = Annotated[
                kind,
                Meta(
                    pattern=f"^{_SCHEMA_OK.pattern}$",
                    description="`interaction/1`, or a minor version `interaction/1.N` whose "
                    "unknown fields are dropped and counted.",
                ),
            ]
        if field.required:
            fields.append((field.name, kind))
        else:
            fields.append((field.name, kind, field.default))
    return msgspec.defstruct(
        "Batch",
        fields,
        kw_only=True,
        namespace={
            "__doc__": "A batch of interaction events (schema `interaction/1`, "
            "docs/event-schema.md). Integers (times, counters, sizes) are written as JSON "
            "integers: `5`, not `5.0` or `5e0`, which the API refuses although JSON Schema "
            "counts them as integers."
        },
    )


# --- answers ---------------------------------------------------------------------------------

Count = Annotated[int, Meta(ge=0)]


class BatchAnswer(Struct, forbid_unknown_fields=True):
    """What was stored: counts and the object key, never submitted content."""

    batch_id: uuid.UUID
    accepted: Annotated[int, Meta(ge=0, description="Events stored.")]
    rejected: Annotated[
        dict[str, Count],
        Meta(description="Events not stored, by reason: invalid events and policy drops."),
    ]
    redactions: Annotated[
        dict[str, Count],
        Meta(
            description="Detector matches, dropped unknown fields and discarded clipboard "
            "content, by kind."
        ),
    ]
    object: Annotated[
        str | None,
        Meta(description="The lake object's key; null when no event was kept."),
    ]


def _required(name: str, struct: type[Struct], doc: str) -> type[Struct]:
    """`struct`'s fields, all required (the policy answer spells out every default)."""
    fields = [(f.name, f.type) for f in msgspec.structs.fields(struct)]
    return msgspec.defstruct(
        name, fields, forbid_unknown_fields=True, kw_only=True, namespace={"__doc__": doc}
    )


def _policy_type() -> type[Struct]:
    """The answer of GET .../policy (`Program.public_policy`), typed from the program file."""
    program_fields = {f.name: f.type for f in msgspec.structs.fields(ProgramFile)}
    top = ("purpose", "owner", "lawful_basis", "notice_version", "retention_days")
    fields: list[tuple[str, Any]] = [
        ("program", Annotated[str, Meta(pattern=PROGRAM_NAME.pattern)]),
        ("policy_version", Annotated[str, Meta(description="`<program>@<file version>`.")]),
        *((name, program_fields[name]) for name in top),
        ("collect", _required("PolicyCollect", CollectPolicy, "What is collected at all.")),
        ("text", _required("PolicyText", TextPolicy, "What happens to free text; detectors.")),
        (
            "apps",
            _required(
                "PolicyApps",
                AppPolicy,
                "Apps whose events are dropped whole (built-in and program denials), and the "
                "allowlist if any.",
            ),
        ),
    ]
    return msgspec.defstruct(
        "Policy",
        fields,
        forbid_unknown_fields=True,
        kw_only=True,
        namespace={"__doc__": "The program's effective collection policy."},
    )


class Error(Struct, forbid_unknown_fields=True):
    """An error of ours: a fixed code and message, never built from submitted content."""

    error: str
    message: str
    field: Annotated[
        str | msgspec.UnsetType,
        Meta(description="A field path in our schema (`$.events[3].ts`), never a value."),
    ] = msgspec.UNSET


class GatewayError(Struct, forbid_unknown_fields=True):
    """API Gateway's own answer (authorizer verdicts, validator, limits, throttling, failures)."""

    message: str | None


def _error_codes() -> dict[int, list[str]]:
    """Our error codes by HTTP status, from every error type in lambdas.core.errors."""
    found: dict[int, set[str]] = {}
    pending = [errors.IngestError]
    while pending:
        kind = pending.pop()
        pending.extend(kind.__subclasses__())
        if kind is not errors.ProgramNotCollecting:  # its own body: see _not_collecting
            found.setdefault(kind.status, set()).add(kind.code)
    return {status: sorted(codes) for status, codes in found.items()}


def _not_collecting() -> dict[str, Any]:
    """The 423 body (`ProgramNotCollecting.body`): the program's state, lowercased."""
    return {
        "title": "NotCollecting",
        "description": "The program does not collect: stop capturing and drop the spool.",
        "type": "object",
        "properties": {
            "status": {
                "enum": sorted(
                    state.value.lower() for state in ProgramState if state != ProgramState.ACTIVE
                )
            },
            "collect": {"const": False},
            "error": {"const": errors.ProgramNotCollecting.code},
        },
        "required": ["status", "collect", "error"],
        "additionalProperties": False,
    }


def _components() -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    """The schemas, and each error status's body schema."""
    batch, policy = _batch_type(), _policy_type()
    (_, _, _, error, _), schemas = msgspec.json.schema_components(
        [batch, BatchAnswer, policy, Error, GatewayError], ref_template=REF
    )
    schemas["NotCollecting"] = _not_collecting()
    gateway = {"$ref": REF.format(name="GatewayError")}
    bodies: dict[int, dict[str, Any]] = {423: {"$ref": REF.format(name="NotCollecting")}}
    for status, codes in sorted(_error_codes().items()):
        name = f"Error{status}"
        schemas[name] = {
            "title": name,
            "allOf": [error],
            "properties": {"error": {"enum": codes}},
        }
        bodies[status] = {"$ref": REF.format(name=name)}
    for status in sorted(GATEWAY_STATUSES):
        ours = bodies.get(status)
        bodies[status] = {"anyOf": [ours, gateway]} if ours else gateway
    return schemas, bodies


# --- the document ----------------------------------------------------------------------------


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the HTTP API, as a JSON-ready dict."""
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    from lambdas.ingest.handler import app  # importing it reads no setting and calls no AWS

    document: dict[str, Any] = json.loads(
        app.get_openapi_json_schema(
            title=TITLE,
            version=VERSION,
            description=_DESCRIPTION,
            security_schemes={
                "bearerAuth": HTTPBearer(
                    description="An agent token, scoped to one program and one agent "
                    "(checked by the REQUEST authorizer; stored only as a SHA-256 hash)."
                )
            },
        )
    )
    schemas, bodies = _components()
    components = document.setdefault("components", {})
    components["schemas"] = schemas  # Powertools' validation models: unused, the API has none
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"] == "program":
                    parameter["description"] = "The program's name, as in its program file."
            for status, response in operation["responses"].items():
                if status == "200":
                    continue
                if int(status) not in bodies:
                    raise ValueError(f"{method.upper()} {path}: no body known for {status}")
                response["content"] = {JSON: {"schema": bodies[int(status)]}}
                if status == "429":
                    response["headers"] = {
                        RETRY_AFTER: {
                            "description": "Seconds to wait before retrying.",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 0},
                        }
                    }
            if operation["operationId"] == "postBatch":
                operation["parameters"].append(
                    {
                        "name": "Content-Encoding",
                        "in": "header",
                        "required": False,
                        "description": "`gzip` (recommended) when the body is gzip-compressed "
                        "JSON. The limits apply to the decoded body; a gzip bomb is refused, not "
                        "expanded.",
                        "schema": {"type": "string", "enum": GZIP_ENCODINGS},
                    }
                )
                operation["requestBody"] = {
                    "required": True,
                    "description": "A batch of schema `interaction/1`, as UTF-8 JSON.",
                    "content": {
                        media: {"schema": {"$ref": REF.format(name="Batch")}}
                        for media in sorted(JSON_TYPES)  # what check_media accepts
                    },
                }
    return document


def main() -> None:
    json.dump(openapi_document(), sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

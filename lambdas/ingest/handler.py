"""Ingest Lambda: a thin Powertools REST adapter over `IngestService`.

Routes: POST /v1/programs/{program}/batches and GET /v1/programs/{program}/policy.
Logs and metrics carry counts, reasons, detector names and our own identifiers (program, batch
id, agent id), never submitted content; errors answer with fixed messages.
"""

from __future__ import annotations

import json
import time
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.core.errors import BatchInProgress, IngestError, ServiceFault
from lambdas.core.pipeline import Limits
from lambdas.core.settings import Settings
from lambdas.ingest.service import BatchRequest, IngestService

logger = Logger(service="ingest")
metrics = Metrics(namespace="InteractionLake", service="ingest")
app = APIGatewayRestResolver()


@cache
def service() -> IngestService:
    """Built on first use and kept for the container's life (clients, programs, caches)."""
    return IngestService(
        Settings.from_env(),
        s3=boto3.client("s3"),
        dynamodb=boto3.client("dynamodb"),
        kms=boto3.client("kms"),
        secretsmanager=boto3.client("secretsmanager"),
    )


def _authorized(name: str) -> str | None:
    """`program` or `agent_id` from the authorizer's context (never from the request)."""
    context = app.current_event.request_context.authorizer.get_context() or {}
    value = context.get(name)
    return value if isinstance(value, str) else None


# OpenAPI route metadata (lambdas/ingest/openapi.py builds the document from it). The routes say
# which answers they give and what each means; openapi.py attaches the bodies by status, from the
# error types in lambdas/core/errors.py, and the request body, from ilake_contract.schema.
_SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}]
_GATEWAY = ' (or API Gateway\'s own `{"message": ...}` answer)'
_DEFAULTS = Limits()  # the limits the route descriptions quote (settings may set others)
_COMMON: dict[int, str] = {
    401: "No, malformed, unknown, revoked or expired token (API Gateway, through the authorizer).",
    403: "The token is not valid for this program" + _GATEWAY + ".",
    404: "No program file declares this name (any odd characters included).",
    429: "Throttled by API Gateway; wait for `Retry-After` seconds and retry.",
    500: "A fault on our side (missing or weak secret, missing or disabled key, storage error); "
    "nothing was written. Retry later" + _GATEWAY + ".",
    502: "The handler failed (API Gateway or local mode); nothing was written. Retry later.",
    503: "The service is unavailable (API Gateway); nothing was written. Retry later.",
    504: "The handler timed out (API Gateway); retry later, the batch id makes the retry safe.",
}


def _answers(
    answer: str, schema: str, errors: dict[int, str] | None = None
) -> dict[int, OpenAPIResponse]:
    """The route's answers: 200 with `schema`, then every error status with its meaning."""
    described = {**_COMMON, **(errors or {})}
    responses: dict[int, OpenAPIResponse] = {
        200: {
            "description": answer,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }
    }
    responses.update({status: {"description": described[status]} for status in sorted(described)})
    return responses


@app.post(
    "/v1/programs/<program>/batches",
    summary="Store a batch of interaction events",
    description=(
        "Agents post batches of schema `interaction/1` (docs/event-schema.md), as JSON, "
        "gzip-compressed or not. The batch is validated, minimized and redacted under the "
        "program's policy and stored as one encrypted Parquet object, at most once per batch id. "
        "Bad events inside a good batch are rejected and counted by reason without failing the "
        "batch. Answers never echo submitted content."
    ),
    operation_id="postBatch",
    tags=["batches"],
    security=_SECURITY,
    responses=_answers(
        "Stored, or an idempotent replay of a stored batch (the first answer again). `object` "
        "is null when no event was kept.",
        "BatchAnswer",
        {
            400: "Malformed body (empty, invalid JSON, base64 or gzip, wrong envelope fields or "
            "types, too deeply nested) or an unsupported schema version" + _GATEWAY + ".",
            409: "This batch id was already stored with a different body.",
            413: f"Over the size limit ({_DEFAULTS.max_body_bytes // 2**20} MiB decoded by "
            "default; a gzip bomb stops at the limit) or the event limit "
            f"({_DEFAULTS.max_events:,} by default)" + _GATEWAY + ".",
            415: "Not `application/json`, not UTF-8, or a `Content-Encoding` other than gzip or "
            "identity.",
            423: "The program is paused, purging or purged: stop capturing and drop the spool.",
            429: "The same batch is being stored right now, or API Gateway throttled the agent: "
            "retry after `Retry-After` seconds.",
        },
    ),
)
def post_batch(program: str) -> Response[str]:
    started = time.perf_counter()
    event = app.current_event
    request = BatchRequest(
        program=program,
        authorized_program=_authorized("program"),
        agent_id=_authorized("agent_id"),
        content_type=event.headers.get("content-type"),
        content_encoding=event.headers.get("content-encoding"),
        body=event.body,
        base64_encoded=bool(event.is_base64_encoded),
    )
    stored = service().ingest(request)
    answer = stored.response
    metrics.add_dimension("program", program)  # a declared program name: bounded and safe
    if stored.replay:
        # the events were counted when the batch was stored: an agent's retry adds nothing
        metrics.add_metric("Replays", MetricUnit.Count, 1)
        logger.info("batch replayed", extra={"program": program, "batch_id": answer["batch_id"]})
        return _json(200, answer)
    metrics.add_metric("Batches", MetricUnit.Count, 1)
    metrics.add_metric("EventsAccepted", MetricUnit.Count, answer["accepted"])
    metrics.add_metric("EventsRejected", MetricUnit.Count, sum(answer["rejected"].values()))
    metrics.add_metric("EventsRedacted", MetricUnit.Count, stored.events_redacted)
    for reason, n in answer["rejected"].items():
        metrics.add_metric(f"Rejected.{reason}", MetricUnit.Count, n)
    for detector, n in answer["redactions"].items():
        metrics.add_metric(f"Redactions.{detector}", MetricUnit.Count, n)
    for detector, n in stored.agent_redactions.items():  # done on the agent, before sending
        metrics.add_metric(f"AgentRedactions.{detector}", MetricUnit.Count, n)
    for reason, n in stored.not_captured.items():  # never sent: the agent's counts only
        metrics.add_metric(f"NotCaptured.{reason}", MetricUnit.Count, n)
    metrics.add_metric("TextsReleased", MetricUnit.Count, stored.texts_released)
    if stored.text_store_failed:
        metrics.add_metric("TextStoreUnavailable", MetricUnit.Count, 1)
    metrics.add_metric("BytesIn", MetricUnit.Bytes, stored.bytes_in)
    metrics.add_metric("BytesOut", MetricUnit.Bytes, stored.bytes_out)
    metrics.add_metric("LatencyMs", MetricUnit.Milliseconds, (time.perf_counter() - started) * 1e3)
    logger.info(
        "batch stored",
        extra={
            "program": program,
            "batch_id": answer["batch_id"],
            "agent_id": app.current_event.request_context.authorizer.principal_id,
            "accepted": answer["accepted"],
            "rejected": answer["rejected"],
            "redactions": answer["redactions"],
            "object": answer["object"],
        },
    )
    return _json(200, answer)


@app.get(
    "/v1/programs/<program>/policy",
    summary="Read the program's effective collection policy",
    description=(
        "What the program collects and how its text is treated (purpose, owner, lawful basis, "
        "notice version, retention, event types, pointer sampling, coordinate precision, text "
        "modes, PII detectors, denied and allowed apps), so an agent can show its user what is "
        "captured and capture nothing more."
    ),
    operation_id="getPolicy",
    tags=["policy"],
    security=_SECURITY,
    responses=_answers("The program's effective collection policy.", "Policy"),
)
def get_policy(program: str) -> Response[str]:
    policy = service().policy(program, _authorized("program"))
    metrics.add_metric("PolicyReads", MetricUnit.Count, 1)
    return _json(200, policy)


@app.exception_handler(IngestError)  # type: ignore[untyped-decorator]
def ingest_error(error: IngestError) -> Response[str]:
    logger.info("batch refused", extra={"status": error.status, "error": error.code})
    if error.status >= 500:
        metrics.add_metric("Faults", MetricUnit.Count, 1)
    else:
        metrics.add_metric(f"Refused.{error.status}", MetricUnit.Count, 1)
    headers = {"Retry-After": "1"} if isinstance(error, BatchInProgress) else None
    return _json(error.status, error.body(), headers)


@app.not_found
def not_found(error: NotFoundError) -> Response[str]:
    # API Gateway routes only the two documented methods here; anything else that reaches the
    # function (local mode, a changed integration) is a refusal, not a fault
    metrics.add_metric("Refused.404", MetricUnit.Count, 1)
    return _json(404, {"error": "not_found", "message": "no such route"})


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def unexpected(error: Exception) -> Response[str]:
    # The type only: an exception's message or traceback may quote submitted data.
    logger.error("unexpected failure", extra={"error_type": type(error).__name__})
    metrics.add_metric("Faults", MetricUnit.Count, 1)
    return _json(500, ServiceFault().body())


def _json(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response[str]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body, separators=(",", ":")),
        headers=headers,
    )


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    service().idempotency.register_lambda_context(context)
    return app.resolve(event, context)

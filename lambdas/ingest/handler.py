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
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.core.errors import BatchInProgress, IngestError, ServiceFault
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


def _authorized_program() -> str | None:
    context = app.current_event.request_context.authorizer.get_context() or {}
    program = context.get("program")
    return program if isinstance(program, str) else None


@app.post("/v1/programs/<program>/batches")
def post_batch(program: str) -> Response[str]:
    started = time.perf_counter()
    event = app.current_event
    request = BatchRequest(
        program=program,
        authorized_program=_authorized_program(),
        content_type=event.headers.get("content-type"),
        content_encoding=event.headers.get("content-encoding"),
        body=event.body,
        base64_encoded=bool(event.is_base64_encoded),
    )
    stored = service().ingest(request)
    answer = stored.response
    metrics.add_dimension("program", program)  # a declared program name: bounded and safe
    metrics.add_metric("Batches", MetricUnit.Count, 1)
    metrics.add_metric("EventsAccepted", MetricUnit.Count, answer["accepted"])
    metrics.add_metric("EventsRejected", MetricUnit.Count, sum(answer["rejected"].values()))
    metrics.add_metric("EventsRedacted", MetricUnit.Count, stored.events_redacted)
    for reason, n in answer["rejected"].items():
        metrics.add_metric(f"Rejected.{reason}", MetricUnit.Count, n)
    for detector, n in answer["redactions"].items():
        metrics.add_metric(f"Redactions.{detector}", MetricUnit.Count, n)
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


@app.get("/v1/programs/<program>/policy")
def get_policy(program: str) -> Response[str]:
    policy = service().policy(program, _authorized_program())
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

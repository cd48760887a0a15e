"""API Gateway's side of the ingest handler, in process: proxy events as the gateway sends them
after the authorizer, a fake Lambda context, and one call of the real handler."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import msgspec

from ilake.apigw import proxy_event
from lambdas.ingest import handler as ingest_handler


class FakeContext:
    function_name = "ingest"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:ingest"
    aws_request_id = "00000000-0000-4000-8000-000000000000"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 29_000


def api_event(
    program: str,
    body: str | None,
    *,
    route: str = "batches",
    method: str = "POST",
    base64_encoded: bool = False,
    headers: dict[str, str] | None = None,
    authorized_program: str | None = "__same__",
    agent_id: str = "agent-1",
) -> dict[str, Any]:
    """An API Gateway REST proxy event as the ingest Lambda receives it after the authorizer
    (which names the program and the enrolled agent the token belongs to)."""
    headers = {"Content-Type": "application/json"} if headers is None else headers
    authorizer: dict[str, Any] = {"principalId": agent_id}
    scope = program if authorized_program == "__same__" else authorized_program
    if scope is not None:
        authorizer |= {"program": scope, "agent_id": agent_id}
    return proxy_event(
        method,
        f"/v1/programs/{program}/{route}",
        headers,
        body,
        base64_encoded=base64_encoded,
        authorizer=authorizer,
    )


def gzip_event(program: str, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    body = base64.b64encode(gzip.compress(msgspec.json.encode(batch))).decode()
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    return api_event(program, body, base64_encoded=True, headers=headers, **kwargs)


def json_event(program: str, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return api_event(program, json.dumps(batch), **kwargs)


def invoke(event: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
    response = ingest_handler.handler(event, FakeContext())
    headers = dict(response.get("headers") or {})
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name] = values[-1]
    return response["statusCode"], json.loads(response["body"]), headers

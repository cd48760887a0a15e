"""Fixtures for handler tests: moto-backed resources, API Gateway proxy events, a fake context."""

from __future__ import annotations

import base64
import functools
import gzip
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import msgspec
import pytest
from moto import mock_aws

from ilake.apigw import proxy_event
from ilake.local import LocalStack, LocalState, free_port
from ilake.provision import Clients, provision
from lambdas.authorizer import handler as authorizer_handler
from lambdas.core.settings import BUNDLED_PROGRAMS, Settings
from lambdas.ingest import handler as ingest_handler

REGION = "eu-west-1"
TEST_PROGRAMS = Path(__file__).parent / "programs"


@dataclass
class Lake:
    clients: Clients
    settings: Settings
    key_arns: dict[str, str]
    agents_table: str

    def objects(self) -> list[dict[str, Any]]:
        listing = self.clients.s3.list_object_versions(Bucket=self.settings.lake_bucket)
        return listing.get("Versions", [])

    def idempotency_items(self) -> list[dict[str, Any]]:
        scan = self.clients.dynamodb.scan(TableName=self.settings.idempotency_table)
        return scan["Items"]

    def set_state(self, program: str, state: str, suppressed: list[str] | None = None) -> None:
        item: dict[str, Any] = {"program": {"S": program}, "state": {"S": state}}
        if suppressed:
            item["suppressed_subjects"] = {"SS": suppressed}
        self.clients.dynamodb.put_item(TableName=self.settings.program_state_table, Item=item)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "LAKE_BUCKET": "ilake-lake-test",
        "PROGRAM_STATE_TABLE": "ilake-program-state",
        "IDEMPOTENCY_TABLE": "ilake-idempotency",
        "AGENTS_TABLE": "ilake-agents",
        "COMMON_TEXTS_TABLE": "ilake-common-texts",
        "PROGRAMS_DIR": str(TEST_PROGRAMS),
        "POWERTOOLS_METRICS_NAMESPACE": "InteractionLakeTest",
        "POWERTOOLS_DEV": "false",
    }.items():
        monkeypatch.setenv(name, value)


class _CurrentStdout:
    """Writes to whatever sys.stdout is now (capsys swaps it per test)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture(autouse=True)
def _logs_to_capsys() -> None:
    """Powertools loggers keep the stdout they were created with; make them follow capsys so
    tests can assert on everything a handler prints (logs and EMF metrics alike)."""
    for logger in (ingest_handler.logger, authorizer_handler.logger):
        for handler in logger._logger.handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.stream = _CurrentStdout()


@pytest.fixture
def lake(aws_env: None) -> Iterator[Lake]:
    with mock_aws():
        settings = Settings.from_env()
        clients = Clients.create(_session())
        programs = [p.stem for p in TEST_PROGRAMS.glob("*.toml")]
        key_arns = provision(
            clients, settings, programs, agents_table="ilake-agents", region=REGION
        )
        ingest_handler.service.cache_clear()
        yield Lake(clients, settings, key_arns, "ilake-agents")
        ingest_handler.service.cache_clear()


@functools.cache
def _session() -> boto3.Session:
    """One session for all tests: botocore caches its service models per session."""
    return boto3.Session(region_name=REGION)


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


@contextmanager
def running_local_stack(state_dir: Path) -> Iterator[LocalState]:
    """Local mode on free loopback ports; afterwards the environment and the handlers' cached
    clients are as before (local mode points them at its moto server)."""
    saved = dict(os.environ)
    stack = LocalStack(programs_dir=BUNDLED_PROGRAMS, state_dir=state_dir, port=free_port())
    try:
        yield stack.start()
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(saved)
        ingest_handler.service.cache_clear()
        authorizer_handler._dynamodb.cache_clear()


def local_client(state: LocalState, service: str) -> Any:
    """A boto3 client for the local stack's moto server, whatever the environment says."""
    return boto3.client(
        service,
        endpoint_url=state.aws_endpoint_url,
        region_name=state.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )

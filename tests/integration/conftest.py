"""Fixtures of the handler tests: the handlers' environment, a provisioned lake on moto, fresh
handler caches for every test, and handler logs that follow capsys. What they build on lives in
tests/support."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest

from lambdas.authorizer import handler as authorizer_handler
from lambdas.ingest import handler as ingest_handler
from tests.support.handlers import reset_handler_caches
from tests.support.lake import Lake, lake_environment, provisioned_lake


@pytest.fixture(autouse=True)
def _fresh_handlers() -> Iterator[None]:
    """Every test meets the handlers as a new Lambda container does, and leaves none behind."""
    reset_handler_caches()
    yield
    reset_handler_caches()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in lake_environment().items():
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
    with provisioned_lake(lake_environment()) as provisioned:
        yield provisioned

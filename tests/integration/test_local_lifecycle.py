"""Commands against local mode as a user runs them: a stack that stops while a command works is
said in one line."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ilake.cli import main
from ilake.local import LocalStack, free_port
from lambdas.authorizer import handler as authorizer_handler
from lambdas.core.settings import BUNDLED_PROGRAMS
from lambdas.ingest import handler as ingest_handler

pytestmark = [pytest.mark.integration, pytest.mark.enable_socket]


@pytest.fixture
def stoppable(tmp_path: Path) -> Iterator[tuple[LocalStack, Path]]:
    saved = dict(os.environ)
    stack = LocalStack(programs_dir=BUNDLED_PROGRAMS, state_dir=tmp_path, port=free_port())
    try:
        stack.start()
        yield stack, tmp_path
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(saved)
        ingest_handler.service.cache_clear()
        authorizer_handler._dynamodb.cache_clear()


@pytest.mark.parametrize(
    ("command", "seam"),
    [
        (["agents", "list", "-p", "menu-navigation"], "lambdas.core.agents.list_agents"),
        (["query", "SELECT count(*) FROM interactions"], "ilake.query.open_lake"),
    ],
    ids=["agents list", "query"],
)
def test_a_stack_that_stops_while_a_command_works_is_said_in_one_line(
    stoppable: tuple[LocalStack, Path],
    command: list[str],
    seam: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The state file was current when the command read it; the stack is gone by the time the
    command talks to it (the seam stops it just before)."""
    stack, state_dir = stoppable
    module, name = seam.rsplit(".", 1)
    original = getattr(importlib.import_module(module), name)

    def stop_first(*args: Any, **kwargs: Any) -> Any:
        stack.stop()
        return original(*args, **kwargs)

    monkeypatch.setattr(f"{module}.{name}", stop_first)
    assert main([*command, "--state-dir", str(state_dir)]) == 2
    captured = capsys.readouterr()
    err = " ".join(captured.err.split())
    assert err.startswith("error: local mode does not answer at http://127.0.0.1:"), err
    assert err.count("error:") == 1
    assert "Traceback" not in captured.err

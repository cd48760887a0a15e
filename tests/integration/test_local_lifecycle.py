"""Commands against local mode as a user runs them: `ilake compact` prints its table and nothing
else, Ctrl-C on `ilake simulate` still prints what was delivered, a simulation that could not
deliver exits 2, and a stack that stops while a command works is said in one line."""

from __future__ import annotations

import importlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ilake.cli import main
from ilake.loadgen import Agent
from ilake.local import LocalStack, LocalState, free_port
from ilake.simulate import make_batch
from lambdas.core.settings import BUNDLED_PROGRAMS
from tests.support.local import local_client, running_local_stack

pytestmark = [pytest.mark.integration, pytest.mark.enable_socket]
TABLE = ("┏", "┃", "┡", "│", "└")  # every line of a rich table starts with one of these


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalState, Path]]:
    state_dir = tmp_path_factory.mktemp("ilake")
    with running_local_stack(state_dir) as state:
        yield state, state_dir


def ilake(state_dir: Path, *argv: str) -> subprocess.Popen[str]:
    """`ilake` in a process of its own, the handlers logging at INFO (a line per event)."""
    env = {k: v for k, v in os.environ.items() if k != "POWERTOOLS_LOG_LEVEL"}
    return subprocess.Popen(
        [sys.executable, "-m", "ilake.cli", *argv, "--state-dir", str(state_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def lake_rows(state_dir: Path, program: str, capsys: pytest.CaptureFixture[str]) -> int:
    capsys.readouterr()
    sql = f"SELECT count(*) AS n FROM interactions WHERE program = '{program}'"
    assert main(["query", sql, "-f", "json", "--state-dir", str(state_dir)]) == 0
    return int(json.loads(capsys.readouterr().out)[0]["n"])


def test_compact_prints_its_table_and_nothing_else(stack: tuple[LocalState, Path]) -> None:
    state, state_dir = stack
    program = "shortcut-learning"
    agent = Agent(state.api_url, state.programs[program]["token"], program)
    for seed in range(3):
        batch = make_batch(40, seed=seed, start_ms=int(time.time() * 1000) - 60_000)
        assert agent.post(batch)[0] == 200
    agent.close()
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    process = ilake(state_dir, "compact", "-p", program, "--now", later)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    lines = stdout.splitlines()
    assert lines
    assert all(line.startswith(TABLE) for line in lines), stdout
    assert re.search(r"│ shortcut-learning │ compact +│", stdout)
    assert "{" not in stderr
    logged = [json.loads(line) for line in (state_dir / "local.log").read_text().splitlines()]
    compaction = {line["message"] for line in logged if line["service"] == "compaction"}
    assert {"count", "partition"} <= compaction


def test_ctrl_c_on_simulate_prints_what_was_delivered_and_exits_130(
    stack: tuple[LocalState, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    state, state_dir = stack
    program = "menu-navigation"
    s3 = local_client(state, "s3")
    prefix = f"interactions/program={program}/"
    assert s3.list_objects_v2(Bucket=state.bucket, Prefix=prefix).get("KeyCount", 0) == 0
    process = ilake(state_dir, "simulate", "-p", program, "--agents", "2", "--minutes", "300")
    try:
        deadline = time.monotonic() + 120
        while not s3.list_objects_v2(Bucket=state.bucket, Prefix=prefix).get("KeyCount", 0):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no batch delivered within 120 s"
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert re.search(rf"{program}: 2 agents, \d+ batches \(\d+ x 200\)", stdout), stdout
    assert "agents stopped early: interrupted 2" in stdout
    assert "interrupted: the summary counts what was delivered before Ctrl-C" in stderr
    assert "Traceback" not in stderr
    accepted = int(re.search(r"accepted ([\d,]+)", stdout).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert 0 < accepted == lake_rows(state_dir, program, capsys)


def test_simulate_exits_2_when_the_agents_could_not_deliver(
    stack: tuple[LocalState, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A paused program answers 423: the agents stop and wipe their spools; the summary is
    printed and the command fails with the count."""
    state, state_dir = stack
    program = "shortcut-learning"
    dynamodb = local_client(state, "dynamodb")
    key = {"program": {"S": program}}
    dynamodb.put_item(TableName="ilake-local-program-state", Item={**key, "state": {"S": "PAUSED"}})
    try:
        argv = ["simulate", "-p", program, "--agents", "2", "--minutes", "1"]
        assert main([*argv, "--state-dir", str(state_dir)]) == 2
    finally:
        dynamodb.delete_item(TableName="ilake-local-program-state", Key=key)
    captured = capsys.readouterr()
    assert f"{program}: 2 agents" in captured.out
    err = " ".join(captured.err.split())
    assert re.fullmatch(
        r"error: [\d,]+ events recorded by the agents were not delivered; agents stopped early: "
        r"program paused 2",
        err,
    ), err


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


@pytest.mark.parametrize(
    ("command", "seam"),
    [
        (["agents", "list", "-p", "menu-navigation"], "lambdas.adapters.agents_table.list_agents"),
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

"""`ilake smoke` against a running local stack over real HTTP: every step passes on a healthy
stack and leaves it as it found it; a failing step is one line and exit 1, after the temporary
agent is revoked and a pause the test made is resumed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ilake.smoke
from ilake.cli import main
from ilake.local import RESOURCE_NAMES, LocalState, free_port
from ilake.smoke import SMOKE_AGENT_PREFIX, SmokeFailed
from ilake.workflows import Governance
from lambdas.adapters.agents_table import list_agents
from lambdas.core.agents import TOKEN_PREFIX
from tests.support.local import local_client, running_local_stack

pytestmark = [pytest.mark.integration, pytest.mark.enable_socket]
PROGRAM = "menu-navigation"
STEPS = [
    "program state",
    "enroll",
    "policy",
    "post",
    "lake object",
    "query",
    "pause",
    "post while paused",
    "resume",
    "post after resume",
    "revoke",
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalState, Path]]:
    state_dir = tmp_path_factory.mktemp("ilake")
    with running_local_stack(state_dir) as state:
        yield state, state_dir


def governance(state: LocalState) -> Governance:
    return Governance.local(
        state,
        state_table=RESOURCE_NAMES["PROGRAM_STATE_TABLE"],
        audit_table=RESOURCE_NAMES["AUDIT_TABLE"],
    )


def program_state(state: LocalState, program: str) -> str:
    record = next((r for r in governance(state).status() if r["program"] == program), {})
    return str(record.get("state", "ACTIVE"))


def smoke_agents(state: LocalState, program: str) -> list[dict[str, Any]]:
    agents = list_agents(local_client(state, "dynamodb"), RESOURCE_NAMES["AGENTS_TABLE"], program)
    return [a for a in agents if a["agent_id"].startswith(SMOKE_AGENT_PREFIX)]


def smoke(state_dir: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["smoke", "-p", PROGRAM, "--state-dir", str(state_dir), *extra])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert TOKEN_PREFIX not in captured.out + captured.err  # never a token
    return code, captured.out, captured.err


def step_lines(out: str) -> dict[str, str]:
    """Step name -> its line, for the lines `ilake smoke` prints per step."""
    lines: dict[str, str] = {}
    for line in out.splitlines():
        mark, _, rest = line.partition("  ")
        if mark in ("pass", "FAIL"):
            name = rest[:18].strip()
            lines[name] = line
    return lines


def test_every_step_passes_on_a_running_stack(
    stack: tuple[LocalState, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    state, state_dir = stack
    before = len(governance(state).audit(PROGRAM))
    code, out, err = smoke(state_dir, capsys)
    assert code == 0, err
    lines = step_lines(out)
    assert list(lines) == STEPS
    assert all(line.startswith("pass") for line in lines.values()), out
    assert "DuckDB" in lines["query"]
    assert "moto's Athena runs no SQL" in lines["query"]
    assert " 423 " in lines["post while paused"]
    assert "401" in lines["revoke"]
    assert "smoke test passed: 11 steps" in out
    # the stack is as it was: program ACTIVE, the temporary agent revoked, both changes audited
    assert program_state(state, PROGRAM) == "ACTIVE"
    assert {a["status"] for a in smoke_agents(state, PROGRAM)} == {"revoked"}
    actions = [r["action"] for r in governance(state).audit(PROGRAM)[before:]]
    assert actions == ["pause", "resume"]


def test_the_rows_it_counts_are_in_the_lake(
    stack: tuple[LocalState, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The query step's count is the lake's: the object it names holds that many rows."""
    import io

    import pyarrow.parquet as pq

    state, state_dir = stack
    code, out, _ = smoke(state_dir, capsys)
    assert code == 0
    line = step_lines(out)["post"]
    stored = int(line.split("200: ")[1].split(" of ")[0])
    key = line.rsplit("object ", 1)[1]
    body = local_client(state, "s3").get_object(Bucket=state.bucket, Key=key)["Body"].read()
    table = pq.read_table(io.BytesIO(body))
    assert table.num_rows == stored
    assert f"{stored} rows with its batch id" in step_lines(out)["query"]


def test_a_paused_program_fails_the_first_step_and_stays_paused(
    stack: tuple[LocalState, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    state, state_dir = stack
    program = "shortcut-learning"
    paused = governance(state)
    execution = paused.start(
        "pause", {"program": program, "reason": "test", "requested_by": "qa", "lock": False}
    )
    assert paused.wait(execution, 60).status == "SUCCEEDED"
    try:
        capsys.readouterr()
        code = main(["smoke", "-p", program, "--state-dir", str(state_dir)])
        captured = capsys.readouterr()
        assert code == 1
        [line] = captured.err.strip().splitlines()
        assert line.startswith("error: smoke test failed at program state: ")
        assert "is PAUSED" in line
        assert program_state(state, program) == "PAUSED"  # not resumed: it did not pause it
        assert smoke_agents(state, program) == []  # nothing enrolled
    finally:
        resumed = paused.start(
            "resume", {"program": program, "reason": "test", "requested_by": "qa"}
        )
        assert paused.wait(resumed, 60).status == "SUCCEEDED"


def test_a_wrong_endpoint_fails_in_one_line_and_revokes_the_agent(
    stack: tuple[LocalState, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    state, state_dir = stack
    nowhere = f"http://127.0.0.1:{free_port()}"
    code, out, err = smoke(state_dir, capsys, "--api-url", nowhere)
    assert code == 1
    [line] = err.strip().splitlines()
    assert line == (
        f"error: smoke test failed at policy: cannot reach {nowhere}: ConnectionRefusedError"
    )
    assert step_lines(out)["policy"].startswith("FAIL")
    assert "cleanup: revoke" in out
    assert all(a["status"] == "revoked" for a in smoke_agents(state, PROGRAM))


def test_a_failure_after_the_pause_resumes_the_program(
    stack: tuple[LocalState, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pause that does not bite (here: made to look so) stops the run; the way out resumes
    the program the smoke test paused and revokes its agent."""
    state, state_dir = stack

    def not_refused(run: Any, policy: Any) -> str:
        raise SmokeFailed("post while paused", "expected 423, got 200")

    monkeypatch.setattr(ilake.smoke, "_post_refused", not_refused)
    code, out, err = smoke(state_dir, capsys)
    assert code == 1
    assert err.strip() == "error: smoke test failed at post while paused: expected 423, got 200"
    assert "pass  cleanup: resume" in out
    assert program_state(state, PROGRAM) == "ACTIVE"
    assert all(a["status"] == "revoked" for a in smoke_agents(state, PROGRAM))

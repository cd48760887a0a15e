"""Governance through the `ilake` commands against local mode: the same state machines the CDK
app deploys, run by moto's Step Functions, while agents post over real HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from ilake.cli import main
from ilake.loadgen import Agent
from ilake.local import LocalState
from ilake.simulate import make_batch
from tests.support.local import running_local_stack

pytestmark = [pytest.mark.integration, pytest.mark.enable_socket]
MENU, SHORTCUTS = "menu-navigation", "shortcut-learning"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalState, Path]]:
    state_dir = tmp_path_factory.mktemp("ilake")
    with running_local_stack(state_dir) as state:
        for program in (MENU, SHORTCUTS):
            agent = Agent(state.api_url, state.programs[program]["token"], program)
            for seed in range(6):
                subject = "jdoe" if seed % 2 else "asmith"
                batch = make_batch(
                    60, seed=seed, start_ms=int(time.time() * 1000) - 60_000, subject=subject
                )
                assert agent.post(batch)[0] == 200
            agent.close()
        yield state, state_dir


def cli(state_dir: Path, *argv: str) -> int:
    return main([*argv, "--state-dir", str(state_dir)])


def post(state: LocalState, program: str, seed: int, subject: str = "jdoe") -> tuple[int, Any]:
    agent = Agent(state.api_url, state.programs[program]["token"], program)
    batch = make_batch(20, seed=seed, start_ms=int(time.time() * 1000) - 60_000, subject=subject)
    status, answer, _ = agent.post(batch)
    agent.close()
    return status, answer


def count(state_dir: Path, sql: str, capsys: pytest.CaptureFixture[str]) -> int:
    capsys.readouterr()
    assert cli(state_dir, "query", sql, "-f", "json") == 0
    return int(json.loads(capsys.readouterr().out)[0]["n"])


def test_erase_through_the_cli(
    stack: tuple[LocalState, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    state, state_dir = stack
    rows = f"SELECT count(*) AS n FROM interactions WHERE program = '{MENU}'"
    before = count(state_dir, rows, capsys)
    argv = ["erase", "-p", MENU, "--subject", "JDoe", "--reason", "art. 17", "--by", "dpo"]
    assert cli(state_dir, *argv) == 0
    printed = capsys.readouterr().out
    outcome = json.loads(printed.split("erase-subject succeeded: ", 1)[1])
    assert outcome["files"] == 3
    assert count(state_dir, rows, capsys) == before - outcome["rows"]
    pid = outcome["subject_pid"]
    gone = f"SELECT count(*) AS n FROM interactions WHERE subject_pid = '{pid}'"
    assert count(state_dir, gone, capsys) == 0
    status, answer = post(state, MENU, seed=40, subject="jdoe")
    assert (status, answer["accepted"]) == (200, 0)
    assert answer["rejected"]["suppressed_subject"] > 0


def test_erase_of_a_misspelt_subject_is_refused_until_forced(
    stack: tuple[LocalState, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """0 rows: exit 2 with one line saying what to do, nothing suppressed, the refusal audited;
    --force then suppresses the name's future events."""
    state, state_dir = stack
    argv = ["erase", "-p", MENU, "--subject", "asmiht", "--reason", "art. 17", "--by", "dpo"]
    capsys.readouterr()
    assert cli(state_dir, *argv) == 2
    captured = capsys.readouterr()
    [said] = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert said == (
        f"error: refused: 0 rows of that subject in {MENU}; nothing was erased or suppressed. "
        "Check the spelling of --subject, or add --force to suppress their future events anyway"
    )
    assert "asmiht" not in captured.err + captured.out
    assert "succeeded" not in captured.out
    status, answer = post(state, MENU, seed=41, subject="asmiht")
    assert (status, answer["accepted"] > 0) == (200, True)  # not suppressed
    capsys.readouterr()
    assert cli(state_dir, "audit", "-p", MENU, "-f", "json") == 0
    last = json.loads(capsys.readouterr().out)[-1]
    assert (last["action"], last["outcome"]) == (
        "erase-subject",
        "refused: no row of this subject and not suppressed",
    )

    assert cli(state_dir, *argv[:4], "newcomer", *argv[5:], "--force") == 0
    outcome = json.loads(capsys.readouterr().out.split("erase-subject succeeded: ", 1)[1])
    assert (outcome["rows"], outcome["forced"]) == (0, True)
    status, answer = post(state, MENU, seed=42, subject="newcomer")
    assert (status, answer["accepted"]) == (200, 0)
    assert answer["rejected"]["suppressed_subject"] > 0


def test_pause_lock_then_purge_with_a_second_persons_approval(
    stack: tuple[LocalState, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    state, state_dir = stack
    argv = ["pause", "-p", SHORTCUTS, "--reason", "incident 42", "--by", "alice", "--lock"]
    assert cli(state_dir, *argv) == 0
    status, answer = post(state, SHORTCUTS, seed=50)
    assert (status, answer["collect"]) == (423, False)
    capsys.readouterr()
    assert cli(state_dir, "status") == 0
    assert "PAUSED" in capsys.readouterr().out

    purged: dict[str, int] = {}

    def purge() -> None:
        purged["code"] = cli(
            state_dir, "purge", "-p", SHORTCUTS, "--reason", "DPIA withdrawn", "--by", "alice"
        )

    worker = threading.Thread(target=purge)
    worker.start()
    assert cli(state_dir, "approve", "-p", SHORTCUTS, "--by", "alice") == 2
    assert "cannot approve" in capsys.readouterr().err
    assert cli(state_dir, "approve", "-p", SHORTCUTS, "--by", "bob") == 0
    worker.join(timeout=120)
    assert purged["code"] == 0

    s3 = boto3.client("s3", region_name=state.region)
    listing = s3.list_object_versions(
        Bucket=state.bucket, Prefix=f"interactions/program={SHORTCUTS}/"
    )
    assert "Versions" not in listing
    assert "DeleteMarkers" not in listing
    kms = boto3.client("kms", region_name=state.region)
    key = kms.describe_key(KeyId=state.programs[SHORTCUTS]["key_id"])["KeyMetadata"]
    assert key["KeyState"] == "PendingDeletion"
    assert post(state, SHORTCUTS, seed=51)[0] == 423
    assert post(state, MENU, seed=52, subject="asmith")[0] == 200  # the other program is untouched

    capsys.readouterr()
    assert cli(state_dir, "audit", "-p", SHORTCUTS, "-f", "json") == 0
    trail = json.loads(capsys.readouterr().out)
    assert [(r["action"], r["outcome"]) for r in trail] == [
        ("pause", "paused"),
        ("purge-approval", "refused: self-approval"),
        ("purge-approval", "approved"),
        ("purge", "purged"),
    ]
    assert trail[-1]["requested_by"] == "alice"
    assert trail[-1]["approved_by"] == "bob"
    assert trail[-1]["objects"] == 6
    assert trail[-1]["execution"].startswith("arn:aws:states:")


def test_a_failed_workflow_exits_2_with_its_error(
    stack: tuple[LocalState, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, state_dir = stack
    capsys.readouterr()
    assert cli(state_dir, "resume", "-p", MENU, "--reason", "r", "--by", "bob") == 2
    assert "resume failed: NotPaused" in capsys.readouterr().err


def test_a_purge_of_an_active_program_is_refused_before_it_starts(
    stack: tuple[LocalState, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing printed about approval, no workflow started, nothing audited: one line, exit 2."""
    _, state_dir = stack
    before = cli(state_dir, "audit", "-p", MENU, "-f", "json")
    trail = json.loads(capsys.readouterr().out)
    assert before == 0
    argv = ["purge", "-p", MENU, "--reason", "r", "--by", "alice", "--no-wait"]
    assert cli(state_dir, *argv) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == (
        f"error: refused: {MENU} is ACTIVE; a purge needs a PAUSED program (ilake pause first)"
    )
    assert "approval" not in captured.out + captured.err
    assert cli(state_dir, "audit", "-p", MENU, "-f", "json") == 0
    assert json.loads(capsys.readouterr().out) == trail

"""Every `ilake` command through the ways its environment or its input can be wrong: no local
stack, a stale or corrupt state file, AWS without a region or credentials, bad values. Each
must end in one line on stderr and a documented exit code (2), never a traceback (exit 3 would
mean an error no command foresaw)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
import typer.main

from ilake.cli import app, main

pytestmark = pytest.mark.enable_socket

P = ["-p", "menu-navigation"]
WHO = ["--reason", "audit", "--by", "dpo"]

# Per command: argv that need local mode (run against a missing, stale and corrupt state dir).
LOCAL = {
    "simulate": ["simulate", *P, "--minutes", "0.1"],
    "query": ["query", "SELECT 1"],
    "report": ["report"],
    "agents enroll": ["agents", "enroll", *P, "--agent-id", "L-1"],
    "agents list": ["agents", "list", *P],
    "agents revoke": ["agents", "revoke", *P, "--agent-id", "L-1"],
    "pause": ["pause", *P, *WHO],
    "resume": ["resume", *P, *WHO],
    "purge": ["purge", *P, *WHO],
    "approve": ["approve", *P, "--by", "bob"],
    "erase": ["erase", *P, "--subject", "jdoe", *WHO],
    "status": ["status"],
    "audit": ["audit"],
    "compact": ["compact", *P],
    "retention check": ["retention", "check"],
    "agent run": ["agent", "run", *P, "--token-file", "agent.token", "--minutes", "0.1"],
    "smoke": ["smoke", *P],
}
# Per command: argv with a bad value, whatever the environment.
BAD_VALUES = {
    "programs list": ["--programs", "/nonexistent/programs", "programs", "list"],
    "programs show": ["programs", "show", "no-such-program"],
    "programs validate": ["--programs", "/nonexistent/programs", "programs", "validate"],
    "local up": ["local", "up", "--state-dir", "/nonexistent/state"],
    "demo": ["demo", "--agents", "0"],
    "simulate": ["simulate", *P, "--agents", "0"],
    "query": ["query", "--named", "menu-paths", "--program", "menu-navigation", "--dt", "2-30"],
    "report": ["report", "--days", "0"],
    "agents enroll": ["agents", "enroll", *P, "--agent-id", "L-1", "--ttl-days", "0"],
    "agents list": ["agents", "list", "-p", "nope"],
    "agents revoke": ["agents", "revoke", "-p", "nope", "--agent-id", "L-1"],
    "pause": ["pause", *P, "--reason", " ", "--by", "dpo"],
    "resume": ["resume", *P, "--reason", "r", "--by", ""],
    "purge": ["purge", "-p", "nope", *WHO],
    "approve": ["approve", *P, "--by", "  "],
    "erase": ["erase", *P, "--subject", " ", *WHO],
    "status": ["status", "--aws"],
    "audit": ["audit", "-p", "nope"],
    "agent run": ["agent", "run", *P, "--token-file", "/nonexistent/token"],
    "agent pause": ["agent", "pause", "-p", "../menu-navigation"],
    "agent resume": ["agent", "resume", "-p", "Menu Navigation"],
    "compact": ["compact", *P, "--now", "yesterday"],
    "retention check": ["retention", "check", "--today", "soon"],
    "smoke": ["smoke", "-p", "nope"],
}


def commands() -> set[str]:
    found: set[str] = set()
    stack: list[tuple[str, object]] = [("", typer.main.get_command(app))]
    while stack:
        prefix, command = stack.pop()
        children = getattr(command, "commands", None)
        if children:
            stack += [(f"{prefix} {name}".strip(), child) for name, child in children.items()]
        else:
            found.add(prefix)
    return found


def test_every_command_has_its_failure_cases() -> None:
    assert commands() == set(BAD_VALUES), "add the new command's failure cases here"
    assert set(LOCAL) <= commands()


def one_line_refusal(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The one line of the refusal: ours, or the one reason in a usage error's box."""
    code = main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert code == 2, (argv, code, captured.err)
    lines = [line for line in captured.err.splitlines() if line.strip()]
    if lines[0].startswith("Usage: "):  # click's usage error: usage, hint, a boxed reason
        lines = [line.strip("│ ") for line in lines[2:] if line.startswith("│")]
    assert len(lines) == 1, captured.err
    return lines[0]


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AWS configuration from this machine, and a working directory of our own."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    import boto3

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # it caches credentials found before
    monkeypatch.chdir(tmp_path)
    token = tmp_path / "agent.token"
    token.write_text("ilk_not_a_real_token\n")
    token.chmod(0o600)


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_a_bad_value_is_refused_in_one_line(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    one_line_refusal(BAD_VALUES[name], capsys)


@pytest.mark.parametrize("name", sorted(LOCAL))
def test_no_local_stack_says_how_to_start_one(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = one_line_refusal([*LOCAL[name], "--state-dir", str(tmp_path)], capsys)
    assert "ilake local up" in line


@pytest.mark.parametrize("name", sorted(LOCAL))
def test_a_corrupt_state_file_is_refused(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "local.json").write_text('{"api_url": ')
    one_line_refusal([*LOCAL[name], "--state-dir", str(tmp_path)], capsys)


def dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again: nothing listens there


@pytest.mark.parametrize("name", sorted(LOCAL))
def test_a_state_file_left_by_a_stopped_stack_is_recognised(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = {
        "api_url": f"http://127.0.0.1:{dead_port()}",
        "aws_endpoint_url": f"http://127.0.0.1:{dead_port()}",
        "region": "us-east-1",
        "bucket": "ilake-local-lake",
        "programs": {
            "menu-navigation": {"token": "ilk_x", "key_id": "k"},
            "shortcut-learning": {"token": "ilk_y", "key_id": "k"},
        },
    }
    path = tmp_path / "local.json"
    path.write_text(json.dumps(state))
    path.chmod(0o600)
    line = one_line_refusal([*LOCAL[name], "--state-dir", str(tmp_path)], capsys)
    assert "ilake local up" in line

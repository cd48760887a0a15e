"""The `ilake` command without a running stack: program commands, help texts and error exits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ilake.cli import app, main

COMMANDS = [
    ["demo"],
    ["simulate"],
    ["query"],
    ["report"],
    ["programs", "list"],
    ["programs", "show"],
    ["programs", "validate"],
    ["agents", "enroll"],
    ["agents", "list"],
    ["agents", "revoke"],
    ["local", "up"],
    ["pause"],
    ["resume"],
    ["purge"],
    ["approve"],
    ["erase"],
    ["status"],
    ["audit"],
    ["agent", "run"],
    ["compact"],
    ["retention", "check"],
]


def test_every_command_is_listed_here() -> None:
    """A new command must get a --help test below: compare with the app's own registry."""
    import typer.main

    root = typer.main.get_command(app)
    found = []
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        if subcommands:
            found += [[name, sub] for sub in subcommands]
        else:
            found.append([name])
    assert sorted(found) == sorted(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--help"]) == 0
    text = capsys.readouterr().out
    assert "Example" in text
    assert f"ilake {' '.join(command)}" in text or "mkdir -p .ilake && ilake local up" in text


def test_programs_validate_lists_every_valid_program(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["programs", "validate"]) == 0
    out = capsys.readouterr().out
    assert "ok menu-navigation (menu-navigation@2" in out
    assert "ok shortcut-learning (shortcut-learning@2" in out


def test_an_invalid_program_file_exits_1_naming_the_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "broken.toml").write_text('name = "broken"\nversion = "one"\n')
    for command in (["programs", "validate"], ["programs", "list"]):
        assert main(["--programs", str(tmp_path), *command]) == 1
        err = capsys.readouterr().err
        assert "broken.toml" in err
        assert "version" in err


def test_programs_list_shows_each_program_with_its_retention(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["programs", "list"]) == 0
    out = capsys.readouterr().out
    assert "menu-navigation" in out
    assert "180 days" in out
    assert "shortcut-learning" in out


def test_programs_show_prints_the_effective_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["programs", "show", "shortcut-learning"]) == 0
    policy = json.loads(capsys.readouterr().out)
    assert policy["text"]["window_titles"] == "common"
    assert policy["text"]["min_people"] == 10
    assert "1Password" in " ".join(policy["apps"]["deny"]) or policy["apps"]["deny"]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (
            ["pause", "-p", "menu-navigation", "--reason", "r", "--by", " "],
            "--by must not be empty",
        ),
        (["resume", "-p", "menu-navigation", "--reason", "", "--by", "bob"], "--reason must not"),
        (["purge", "-p", "menu-navigation", "--reason", "\t", "--by", "a"], "--reason must not"),
        (["approve", "-p", "menu-navigation", "--by", ""], "--by must not be empty"),
        (
            ["erase", "-p", "menu-navigation", "--subject", "x", "--reason", "r", "--by", "  "],
            "--by must not be empty",
        ),
        (
            ["erase", "-p", "menu-navigation", "--subject", " ", "--reason", "r", "--by", "d"],
            "--subject must not be empty",
        ),
        (["audit", "-p", "no-such-program"], "no such program: 'no-such-program'"),
    ],
    ids=[
        "pause-by",
        "resume-reason",
        "purge-reason",
        "approve-by",
        "erase-by",
        "erase-subject",
        "audit-unknown",
    ],
)
def test_governance_refuses_blank_who_and_why_and_unknown_programs(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An audit record needs who and why; refused before any stack is looked for, one line."""
    assert main([*argv, "--state-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert said in err
    assert len(err.splitlines()) == 1


def test_unknown_program_exits_2_and_names_the_declared_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["programs", "show", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no such program: 'nope'" in err
    assert "menu-navigation" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["bogus"],
        ["query", "--format", "xml", "SELECT 1"],
        ["simulate"],  # --program is required
        ["simulate", "--program", "menu-navigation", "--agents", "0"],
        ["agents", "enroll", "--program", "menu-navigation"],  # --agent-id is required
    ],
    ids=["unknown-command", "bad-format", "missing-program", "zero-agents", "missing-agent-id"],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["query", "SELECT 1"],
        ["report"],
        ["simulate", "--program", "menu-navigation"],
        ["agents", "list", "--program", "menu-navigation"],
        ["pause", "-p", "menu-navigation", "--reason", "r", "--by", "a"],
        ["status"],
        ["audit"],
    ],
    ids=["query", "report", "simulate", "agents", "pause", "status", "audit"],
)
def test_commands_that_need_local_mode_say_how_to_start_it(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--state-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "local.json not found" in err
    assert "ilake local up" in err


def test_query_needs_sql_or_a_named_query_but_not_both(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["query"]) == 2
    assert main(["query", "SELECT 1", "--named", "menu-paths"]) == 2
    assert main(["query", "--named", "no-such-query", "--program", "menu-navigation"]) == 2
    assert "known: " in capsys.readouterr().err
    assert main(["query", "--named", "menu-paths"]) == 2
    assert "--program" in capsys.readouterr().err


def test_aws_agents_commands_need_the_stacks_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["agents", "list", "--program", "menu-navigation", "--aws"]) == 2
    assert "--table" in capsys.readouterr().err


def test_aws_governance_commands_need_the_stacks_tables(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["status", "--aws"]) == 2
    assert "--state-table and --audit-table" in capsys.readouterr().err


def test_local_up_refuses_a_missing_state_dir_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["local", "up", "--state-dir", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_local_up_refuses_a_non_loopback_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["local", "up", "--host", "0.0.0.0", "--state-dir", str(tmp_path)]) == 2
    assert "loopback only" in capsys.readouterr().err


def test_a_corrupt_state_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "local.json").write_text('{"api_url": 1}')
    assert main(["query", "SELECT 1", "--state-dir", str(tmp_path)]) == 2
    assert "not a local mode state file" in capsys.readouterr().err


@pytest.mark.parametrize(
    "url", ["api.example.com", "localhost:8080", "ftp://api.example.com", "http://", "%%garbage",
            "http://[::1", "http://host:99999"],
)  # fmt: skip
def test_agent_run_refuses_a_malformed_api_url_in_one_line(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("ilk_" + "t" * 43)
    token_file.chmod(0o600)
    argv = ["agent", "run", "-p", "menu-navigation", "--token-file", str(token_file),
            "--api-url", url, "--spool-dir", str(tmp_path / "spool")]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "error: --api-url: the API URL must be an http:// or https:// URL with a host, e.g. "
        "https://api.example.com"
    )
    assert not (tmp_path / "spool").exists()  # refused before anything is set up

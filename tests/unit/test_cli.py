"""The `ilake` command without a running stack: program commands, help texts and error exits."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
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
    ["agent", "pause"],
    ["agent", "resume"],
    ["compact"],
    ["retention", "check"],
    ["smoke"],
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


def test_an_unknown_named_query_is_refused_without_repeating_its_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["query", "--named", "menu-paths' --", "--program", "menu-navigation"]) == 2
    err = capsys.readouterr().err
    assert "no such named query" in err
    assert "menu-paths'" not in err


@pytest.mark.parametrize(
    "dt",
    ["2026-12-02' OR '1'='1", "2026-02-30", "20261202", "2026-W48-3", "yesterday", ""],
    ids=["injection", "no-such-day", "compact", "week-date", "word", "empty"],
)
def test_a_dt_that_is_not_a_calendar_day_is_refused_before_anything_runs(
    dt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused with one line naming the option and the format, never the value, before local
    mode is even looked for (tmp_path holds no local.json)."""
    argv = ["query", "--named", "daily-volume", "--program", "menu-navigation", "--dt", dt]
    assert main([*argv, "--state-dir", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "--dt must be a calendar day written YYYY-MM-DD" in captured.err
    assert "local.json" not in captured.err
    if dt:
        assert dt not in captured.err
    assert "Traceback" not in captured.err


@pytest.mark.parametrize("option", [["--program", "menu-navigation"], ["--dt", "2026-12-02"]])
def test_program_and_dt_go_with_a_named_query_only(
    option: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Given with your own SQL they would filter nothing: refused rather than ignored."""
    assert main(["query", "SELECT count(*) FROM interactions", *option]) == 2
    assert "--program and --dt go with --named" in capsys.readouterr().err


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


AWS_ENV = ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID",
           "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL")  # fmt: skip
AWS_COMMANDS = [
    ["agents", "list", "-p", "menu-navigation", "--aws", "--table", "agents"],
    ["agents", "enroll", "-p", "menu-navigation", "--agent-id", "L-1", "--aws", "--table", "a"],
    ["agents", "revoke", "-p", "menu-navigation", "--agent-id", "L-1", "--aws", "--table", "a"],
    ["status", "--aws", "--state-table", "s", "--audit-table", "a"],
    ["audit", "--aws", "--state-table", "s", "--audit-table", "a"],
    ["pause", "-p", "menu-navigation", "--reason", "r", "--by", "b", "--aws",
     "--state-table", "s", "--audit-table", "a"],
    ["query", "--athena", "--aws", "SELECT 1"],
    ["smoke", "--aws", "-p", "menu-navigation"],
]  # fmt: skip


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    import boto3

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # it caches credentials found before


@pytest.mark.parametrize("argv", AWS_COMMANDS, ids=lambda argv: " ".join(argv[:2]))
def test_aws_without_a_region_says_which_variable_to_set(
    argv: list[str], no_aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "no AWS region: set AWS_DEFAULT_REGION" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", AWS_COMMANDS, ids=lambda argv: " ".join(argv[:2]))
def test_aws_without_credentials_says_what_is_missing(
    argv: list[str],
    no_aws: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "no usable AWS credentials" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_an_unforeseen_fault_is_one_line_that_quotes_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import ilake.cli.programs as cli

    def explode() -> None:
        raise ValueError("jane.roe@example.com typed this")

    monkeypatch.setattr(cli, "declared_programs", explode)
    assert main(["programs", "list"]) == 3
    err = capsys.readouterr().err
    assert "unexpected ValueError" in err
    assert "jane.roe" not in err
    assert "Traceback" not in err


def test_ctrl_c_exits_130_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import ilake.cli.programs as cli

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "declared_programs", interrupted)
    assert main(["programs", "list"]) == 130
    assert "Traceback" not in capsys.readouterr().err


def test_help_paragraphs_are_left_to_the_terminal_to_wrap() -> None:
    """A docstring's line breaks inside a paragraph cut sentences in two at 80 columns."""
    from ilake.cli.base import reflow

    text = "First line\ngoes on.\n\nExamples:\n  ilake a\n  ilake b\nThen prose\nagain."
    assert (
        reflow(text) == "First line goes on.\n\nExamples:\n  ilake a\n  ilake b\nThen prose again."
    )
    import typer.main

    group = typer.main.get_command(app)
    seen = 0
    stack = [group]
    while stack:
        command = stack.pop()
        stack += list(getattr(command, "commands", {}).values())
        if command.help:
            assert reflow(command.help) == command.help.strip(), command.name
            seen += 1
    assert seen >= len(COMMANDS)


def test_an_unknown_program_that_is_not_a_name_is_not_echoed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["programs", "show", "x'; DROP TABLE interactions;--\x1b[2J"]) == 2
    err = capsys.readouterr().err
    assert "DROP" not in err
    assert "\x1b" not in err
    assert "(not a program name)" in err


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1_764_633_600, "2025-12-02 00:00:00"),
        ("2026-12-02T16:46:04.123456+00:00", "2026-12-02 16:46:04"),
        ("2026-12-02T17:46:04+01:00", "2026-12-02 16:46:04"),
        ("2026-12-02T16:46:04", "2026-12-02 16:46:04"),
        (
            "2026-12-02T16:46:04.123+00:00#410fab30-9ee6-4249-89b1-336483f0e441",
            "2026-12-02 16:46:04",
        ),
        (None, ""),
        ("not a time", "not a time"),
    ],
)
def test_every_command_shows_times_one_way(value: object, shown: str) -> None:
    from ilake.ui import utc

    assert utc(value) == shown  # type: ignore[arg-type]


@pytest.fixture
def aws_agents_table(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """An agents table in moto, and the options that point `ilake agents` at it (--aws)."""
    from moto import mock_aws

    from lambdas.core import resources

    for name, value in {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        boto3.client("dynamodb").create_table(
            TableName="agents",
            KeySchema=resources.AGENTS.key_schema,
            AttributeDefinitions=resources.AGENTS.attribute_definitions,
            BillingMode="PAY_PER_REQUEST",
        )
        yield ["--program", "menu-navigation", "--aws", "--table", "agents"]


def enroll(where: list[str], capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, Any]:
    capsys.readouterr()
    code = main(["agents", "enroll", "--agent-id", "LAPTOP-42", *where, *extra])
    return code, capsys.readouterr()


def test_enrolling_an_enrolled_agent_id_is_refused_unless_replace(
    aws_agents_table: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, first = enroll(aws_agents_table, capsys)
    assert code == 0
    code, refused = enroll(aws_agents_table, capsys)
    assert code == 2
    assert refused.out == ""  # no second token
    assert refused.err.strip() == (
        "error: refused: LAPTOP-42 already has 1 active token(s) in menu-navigation; "
        "add --replace to revoke it and issue a new one"
    )
    code, replaced = enroll(aws_agents_table, capsys, "--replace")
    assert code == 0
    assert "revoked 1 earlier token(s)" in replaced.err
    assert replaced.out.strip() != first.out.strip()

    assert main(["agents", "list", *aws_agents_table, "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(row["agent"], row["status"]) for row in listed] in (
        [("LAPTOP-42", "revoked"), ("LAPTOP-42", "active")],
        [("LAPTOP-42", "active"), ("LAPTOP-42", "revoked")],  # the same second: by fingerprint
    )


def test_the_fingerprint_enroll_prints_matches_the_token_and_its_listed_row(
    aws_agents_table: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """An operator holding a token file can find its row: sha256 of the token, first 12."""
    import hashlib

    code, first = enroll(aws_agents_table, capsys)
    assert code == 0
    code, second = enroll(aws_agents_table, capsys, "--replace")
    assert code == 0
    prints = {}
    for enrolled in (first, second):
        token = enrolled.out.strip()
        printed = re.search(r"token fingerprint ([0-9a-f]+)", enrolled.err)
        assert printed is not None
        assert printed.group(1) == hashlib.sha256(token.encode()).hexdigest()[:12]
        assert token not in enrolled.err
        prints[printed.group(1)] = "revoked" if enrolled is first else "active"

    assert main(["agents", "list", *aws_agents_table, "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {row["fingerprint"]: row["status"] for row in listed} == prints
    for row in listed:  # UTC to the second, as `ilake status` and `ilake audit` print times
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row["enrolled (UTC)"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row["expires (UTC)"])
    assert main(["agents", "list", *aws_agents_table]) == 0
    table = capsys.readouterr().out
    assert "fingerprint" in table
    assert all(fingerprint in table for fingerprint in prints)


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

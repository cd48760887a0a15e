"""The `ilake` command's program subcommands and its error exits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ilake.cli import main


def test_programs_check_lists_every_valid_program(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["programs", "check"]) == 0
    out = capsys.readouterr().out
    assert "ok menu-navigation (menu-navigation@1" in out
    assert "ok shortcut-learning (shortcut-learning@1" in out


def test_programs_check_names_the_file_and_field_of_an_invalid_program(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "broken.toml").write_text('name = "broken"\nversion = "one"\n')
    assert main(["--programs", str(tmp_path), "programs", "check"]) == 1
    err = capsys.readouterr().err
    assert "broken.toml" in err
    assert "version" in err


def test_programs_policy_prints_the_effective_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["programs", "policy", "shortcut-learning"]) == 0
    policy = json.loads(capsys.readouterr().out)
    assert policy["text"]["window_titles"] == "hash"
    assert main(["programs", "policy", "nope"]) == 1


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

"""A program's key alias and secret name are said once, in lambdas/core/names.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lambdas.core import names, resources
from lambdas.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
NAMES = ROOT / "lambdas" / "core" / "names.py"
# What a copy of either name looks like: its fixed parts, however the program is spliced in.
COPY = re.compile(r"alias/ilake|/pseudonymization\b")
SOURCES = ("*.py", "*.json", "*.toml")
SKIPPED = {".venv", ".venv-scan", ".venv-compare", "cdk.out", "docs", ".git", "node_modules"}


def repository_files() -> list[Path]:
    return [
        path
        for pattern in SOURCES
        for path in ROOT.rglob(pattern)
        if not SKIPPED & set(path.relative_to(ROOT).parts)
    ]


def test_no_file_but_the_names_module_spells_a_key_alias_or_secret_name() -> None:
    this = Path(__file__).resolve()
    copies = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in repository_files()
        if path.resolve() not in (NAMES, this)
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if COPY.search(line)
    ]
    assert not copies, "derive these from lambdas.core.names instead"


def test_the_copy_finder_would_find_a_copy() -> None:
    assert COPY.search(NAMES.read_text())
    assert COPY.search('f"ilake/{program}/pseudonymization"')
    assert COPY.search("States.Format('alias/ilake/{}', $.program)")


@pytest.mark.parametrize("program", ["everything", "menu-navigation"])
def test_settings_and_the_workflows_name_what_the_names_module_names(program: str) -> None:
    settings = Settings("bucket", "state", "idempotency", "texts")
    substitutions = resources.workflow_substitutions(
        programs=[program],
        program_state_table="state",
        audit_table="audit",
        lake_bucket="bucket",
        key_alias_prefix=names.KEY_ALIAS_PREFIX,
        secret_prefix=names.SECRET_NAME_PREFIX,
        common_texts_table="texts",
    )
    assert settings.key_alias(program) == names.key_alias(program)
    assert settings.secret_name(program) == names.secret_name(program)
    # what States.Format makes of the templates, with the program as its one argument
    assert substitutions["KeyAliasFormat"].replace("{}", program) == names.key_alias(program)
    assert substitutions["SecretNameFormat"].replace("{}", program) == names.secret_name(program)


def test_a_prefix_from_the_environment_reaches_both_names() -> None:
    settings = Settings.from_env(
        {
            "LAKE_BUCKET": "bucket",
            **resources.table_environment("ilake-"),
            "KEY_ALIAS_PREFIX": "alias/other/",
            "SECRET_NAME_PREFIX": "other/",
        }
    )
    assert settings.key_alias("p") == names.key_alias("p", "alias/other/") == "alias/other/p"
    assert settings.secret_name("p") == names.secret_name("p", "other/")

"""The runtime's settings: the ingest limits survive the trip through the environment, and the
tables are found under the variables their declarations name."""

from __future__ import annotations

from dataclasses import fields

import pytest

from lambdas.core import resources
from lambdas.core.pipeline import DAY_MS, Limits
from lambdas.core.settings import (
    LIMIT_VARIABLES,
    Settings,
    limits_environment,
    limits_from_env,
)

TABLES = resources.table_environment("ilake-")
ENVIRONMENT = {"LAKE_BUCKET": "ilake-lake", **TABLES}


def test_the_default_limits_round_trip_through_the_environment() -> None:
    settings = Settings.from_env({**ENVIRONMENT, **limits_environment()})
    assert settings.limits == Limits()


def test_other_limits_round_trip_too() -> None:
    limits = Limits(
        max_body_bytes=20_000, max_events=10, max_event_age_ms=2 * DAY_MS, max_clock_skew_ms=1
    )
    assert limits_from_env(limits_environment(limits)) == limits


def test_no_limit_variables_means_the_defaults() -> None:
    assert Settings.from_env(ENVIRONMENT).limits == Limits()


def test_every_limit_has_a_variable() -> None:
    assert set(LIMIT_VARIABLES) == {limit.name for limit in fields(Limits)}
    assert set(limits_environment()) == {variable for variable, _ in LIMIT_VARIABLES.values()}


def test_an_age_that_is_not_whole_days_is_refused() -> None:
    with pytest.raises(ValueError, match="max_event_age_ms"):
        limits_environment(Limits(max_event_age_ms=DAY_MS + 1))


def test_each_table_is_read_under_its_declared_variable() -> None:
    settings = Settings.from_env(ENVIRONMENT)
    assert settings.program_state_table == TABLES[resources.PROGRAM_STATE.env]
    assert settings.idempotency_table == TABLES[resources.IDEMPOTENCY.env]
    assert settings.common_texts_table == TABLES[resources.COMMON_TEXTS.env]


def test_table_names_need_every_declared_table() -> None:
    assert resources.table_names(TABLES) == {
        table: f"ilake-{table.name}" for table in resources.TABLES
    }
    without_audit = {k: v for k, v in TABLES.items() if k != resources.AUDIT.env}
    with pytest.raises(KeyError):
        resources.table_names(without_audit)

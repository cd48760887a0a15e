"""Runtime settings, read once from the environment the CDK app (or local mode) sets.

The ingest limits travel as variables built from `Limits` itself (`limits_environment`, which
infra uses) and are parsed back here, so the defaults are stated once, in `Limits`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from . import names
from .names import KEY_ALIAS_PREFIX, SECRET_NAME_PREFIX
from .pipeline import DAY_MS, Limits
from .resources import COMMON_TEXTS, IDEMPOTENCY, PROGRAM_STATE

BUNDLED_PROGRAMS = Path(__file__).resolve().parents[2] / "programs"
IDEMPOTENCY_TTL_S = 7 * 86_400  # an agent's spool may retry a batch for days
# Each limit's variable and the unit it is given in (an age in whole days reads better).
LIMIT_VARIABLES: dict[str, tuple[str, int]] = {
    "max_body_bytes": ("MAX_BODY_BYTES", 1),
    "max_events": ("MAX_EVENTS", 1),
    "max_event_age_ms": ("MAX_EVENT_AGE_DAYS", DAY_MS),
    "max_clock_skew_ms": ("MAX_CLOCK_SKEW_MS", 1),
}


def limits_environment(limits: Limits | None = None) -> dict[str, str]:
    """The variables that give the ingest function `limits` (the defaults unless given)."""
    limits = limits or Limits()
    environment = {}
    for limit in fields(Limits):
        variable, unit = LIMIT_VARIABLES[limit.name]
        value, rest = divmod(getattr(limits, limit.name), unit)
        if rest:
            raise ValueError(f"{limit.name} is not a whole number of {variable}'s unit")
        environment[variable] = str(value)
    return environment


def limits_from_env(env: Mapping[str, str]) -> Limits:
    """`Limits` from the variables `limits_environment` writes; an absent one is the default."""
    defaults = Limits()
    values = {}
    for limit in fields(Limits):
        variable, unit = LIMIT_VARIABLES[limit.name]
        given = env.get(variable)
        values[limit.name] = int(given) * unit if given else getattr(defaults, limit.name)
    return Limits(**values)


@dataclass(frozen=True, slots=True)
class Settings:
    lake_bucket: str
    program_state_table: str
    idempotency_table: str
    common_texts_table: str
    programs_dir: Path = BUNDLED_PROGRAMS
    key_alias_prefix: str = KEY_ALIAS_PREFIX
    secret_name_prefix: str = SECRET_NAME_PREFIX
    idempotency_ttl_s: int = IDEMPOTENCY_TTL_S
    secret_cache_s: int = 300
    limits: Limits = field(default_factory=Limits)

    def key_alias(self, program: str) -> str:
        return names.key_alias(program, self.key_alias_prefix)

    def secret_name(self, program: str) -> str:
        return names.secret_name(program, self.secret_name_prefix)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        return cls(
            lake_bucket=e["LAKE_BUCKET"],
            # each table under the variable its declaration names (lambdas.core.resources)
            program_state_table=e[PROGRAM_STATE.env],
            idempotency_table=e[IDEMPOTENCY.env],
            common_texts_table=e[COMMON_TEXTS.env],
            programs_dir=Path(e.get("PROGRAMS_DIR") or BUNDLED_PROGRAMS),
            key_alias_prefix=e.get("KEY_ALIAS_PREFIX", KEY_ALIAS_PREFIX),
            secret_name_prefix=e.get("SECRET_NAME_PREFIX", SECRET_NAME_PREFIX),
            idempotency_ttl_s=int(e.get("IDEMPOTENCY_TTL_S", IDEMPOTENCY_TTL_S)),
            limits=limits_from_env(e),
        )

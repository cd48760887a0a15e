"""Runtime settings, read once from the environment the CDK app (or local mode) sets."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .pipeline import DAY_MS, Limits

BUNDLED_PROGRAMS = Path(__file__).resolve().parents[2] / "programs"
KEY_ALIAS_PREFIX = "alias/ilake/"
SECRET_NAME_PREFIX = "ilake/"  # noqa: S105 - a name prefix, not a secret
IDEMPOTENCY_TTL_S = 7 * 86_400  # an agent's spool may retry a batch for days


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
        return f"{self.key_alias_prefix}{program}"

    def secret_name(self, program: str) -> str:
        return f"{self.secret_name_prefix}{program}/pseudonymization"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        e = dict(os.environ if env is None else env)
        defaults = Limits()
        return cls(
            lake_bucket=e["LAKE_BUCKET"],
            program_state_table=e["PROGRAM_STATE_TABLE"],
            idempotency_table=e["IDEMPOTENCY_TABLE"],
            common_texts_table=e["COMMON_TEXTS_TABLE"],
            programs_dir=Path(e.get("PROGRAMS_DIR") or BUNDLED_PROGRAMS),
            key_alias_prefix=e.get("KEY_ALIAS_PREFIX", KEY_ALIAS_PREFIX),
            secret_name_prefix=e.get("SECRET_NAME_PREFIX", SECRET_NAME_PREFIX),
            idempotency_ttl_s=int(e.get("IDEMPOTENCY_TTL_S", IDEMPOTENCY_TTL_S)),
            limits=Limits(
                max_body_bytes=int(e.get("MAX_BODY_BYTES", defaults.max_body_bytes)),
                max_events=int(e.get("MAX_EVENTS", defaults.max_events)),
                max_event_age_ms=int(e.get("MAX_EVENT_AGE_DAYS", 30)) * DAY_MS,
            ),
        )

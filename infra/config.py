"""The app's configuration: program files plus the context flags, read in one place.

`python app.py` and the CDK CLI must synthesize the same template, so the app loads cdk.json's
context itself (`load_context`); what the CLI passes (cdk.json again, and `-c name=value`, which
wins) is read back from the app's node (`app_context`), so a flag set on the command line counts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from constructs import Node

from lambdas.core.programs import Program, load_programs

ROOT = Path(__file__).resolve().parents[1]


def load_context(cdk_json: Path = ROOT / "cdk.json") -> dict[str, Any]:
    context: dict[str, Any] = json.loads(cdk_json.read_text())["context"]
    return context


# Every flag AppConfig reads (docs/deploying.md#context-flags); reading another is an error.
CONTEXT_KEYS: tuple[str, ...] = (
    "ilake:programsDir",
    "ilake:destroyData",
    "ilake:waf",
    "ilake:authorizerCacheSeconds",
    "ilake:throttleRate",
    "ilake:throttleBurst",
    "ilake:ingestConcurrency",
    "ilake:logRetentionDays",
    "ilake:athenaBytesCutoff",
    "ilake:alarmEmail",
    "ilake:domainName",
    "ilake:certificateArn",
)


def app_context(node: Node) -> dict[str, Any]:
    """The flags as the app sees them: its own context under what the CDK CLI passed."""
    values = {key: node.try_get_context(key) for key in CONTEXT_KEYS}
    return {key: value for key, value in values.items() if value is not None}


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


@dataclass(frozen=True, kw_only=True)
class AppConfig:
    programs: dict[str, Program]
    destroy_data: bool = False  # RETAIN unless the operator explicitly opts into destruction
    waf: bool = False
    authorizer_cache_s: int = 300
    throttle_rate: int = 200
    throttle_burst: int = 400
    ingest_concurrency: int | None = None
    log_retention_days: int = 90
    athena_bytes_cutoff: int = 10 * 1024**3
    alarm_email: str | None = None
    domain_name: str | None = None  # with certificate_arn: a custom domain, TLS 1.2 minimum
    certificate_arn: str | None = None

    @classmethod
    def from_context(cls, flags: dict[str, Any]) -> AppConfig:
        def get(key: str, default: Any = None) -> Any:
            if key not in CONTEXT_KEYS:
                raise KeyError(f"{key} is not a declared context flag")
            return flags.get(key, default)

        programs_dir = ROOT / str(get("ilake:programsDir", "programs"))
        concurrency = get("ilake:ingestConcurrency")
        return cls(
            programs=load_programs(programs_dir),
            destroy_data=_flag(get("ilake:destroyData", False)),
            waf=_flag(get("ilake:waf", False)),
            authorizer_cache_s=int(get("ilake:authorizerCacheSeconds", 300)),
            throttle_rate=int(get("ilake:throttleRate", 200)),
            throttle_burst=int(get("ilake:throttleBurst", 400)),
            ingest_concurrency=int(concurrency) if concurrency not in (None, "") else None,
            log_retention_days=int(get("ilake:logRetentionDays", 90)),
            athena_bytes_cutoff=int(get("ilake:athenaBytesCutoff", 10 * 1024**3)),
            alarm_email=get("ilake:alarmEmail") or None,
            domain_name=get("ilake:domainName") or None,
            certificate_arn=get("ilake:certificateArn") or None,
        )

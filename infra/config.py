"""The app's configuration: program files plus cdk.json context, read in one place.

`python app.py` and the CDK CLI must synthesize the same template, so both read cdk.json's context
through `load_context` (the CLI passes it too; the values are the same).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdas.core.programs import Program, load_programs

ROOT = Path(__file__).resolve().parents[1]


def load_context(cdk_json: Path = ROOT / "cdk.json") -> dict[str, Any]:
    context: dict[str, Any] = json.loads(cdk_json.read_text())["context"]
    return context


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
    def from_context(cls, context: dict[str, Any]) -> AppConfig:
        programs_dir = ROOT / str(context.get("ilake:programsDir", "programs"))
        concurrency = context.get("ilake:ingestConcurrency")
        return cls(
            programs=load_programs(programs_dir),
            destroy_data=_flag(context.get("ilake:destroyData", False)),
            waf=_flag(context.get("ilake:waf", False)),
            authorizer_cache_s=int(context.get("ilake:authorizerCacheSeconds", 300)),
            throttle_rate=int(context.get("ilake:throttleRate", 200)),
            throttle_burst=int(context.get("ilake:throttleBurst", 400)),
            ingest_concurrency=int(concurrency) if concurrency not in (None, "") else None,
            log_retention_days=int(context.get("ilake:logRetentionDays", 90)),
            athena_bytes_cutoff=int(context.get("ilake:athenaBytesCutoff", 10 * 1024**3)),
            alarm_email=context.get("ilake:alarmEmail") or None,
            domain_name=context.get("ilake:domainName") or None,
            certificate_arn=context.get("ilake:certificateArn") or None,
        )

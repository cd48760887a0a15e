"""Compaction Lambda: a thin adapter over `Compaction` (lambdas/compaction/service.py).

Run hourly per program by an EventBridge rule (`{"program": "<p>"}`, optionally `"now"` with a
time zone) and by `ilake compact` in local mode. The answer and the log lines carry names and
counts, never content.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools import Logger

from lambdas.adapters.text_store import TextStore
from lambdas.core import names, resources
from lambdas.core.compaction import CompactionConfig
from lambdas.core.programs import PROGRAM_NAME, Program, load_programs
from lambdas.core.settings import BUNDLED_PROGRAMS

from .service import Compaction

logger = Logger(service="compaction")


@cache
def _clients() -> tuple[Any, Any, Any]:
    return boto3.client("s3"), boto3.client("dynamodb"), boto3.client("kms")


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    program = str(event.get("program", ""))
    if not PROGRAM_NAME.fullmatch(program):
        raise ValueError("not a program name")
    now = datetime.fromisoformat(event["now"]) if event.get("now") else datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    config = CompactionConfig.from_env()
    declared = _programs().get(program)
    if declared is None:
        raise ValueError("no program file declares this program")
    s3, dynamodb, kms = _clients()
    job = Compaction(
        program=program,
        bucket=os.environ["LAKE_BUCKET"],
        state_table=os.environ[resources.PROGRAM_STATE.env],
        key_alias=names.key_alias(
            program, os.environ.get("KEY_ALIAS_PREFIX", names.KEY_ALIAS_PREFIX)
        ),
        config=config,
        s3=s3,
        dynamodb=dynamodb,
        kms=kms,
        texts=_text_store(dynamodb, os.environ[resources.COMMON_TEXTS.env]),
        min_people=declared.text.min_people if declared.has_common_text else None,
        report=_log,
    )
    return job.run(now, context.get_remaining_time_in_millis if context is not None else None)


def _log(step: str, fields: dict[str, Any]) -> None:
    logger.info(step, extra=fields)


@cache
def _programs() -> dict[str, Program]:
    return load_programs(Path(os.environ.get("PROGRAMS_DIR") or BUNDLED_PROGRAMS))


@cache
def _text_store(dynamodb: Any, table: str) -> TextStore:
    """Kept for the container's life (released texts stay released), per client and table."""
    return TextStore(dynamodb, table)

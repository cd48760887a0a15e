"""Retention by the data's day: which lake objects are past their program's retention.

S3 lifecycle rules (one per program, infra/lake_storage.py) expire an object `retention_days`
after it was *created*. A file rewritten later (compacted an hour after its data arrived, or
rewritten by an erasure months later) starts a new clock, so the lifecycle rule alone can keep
data past its retention. The partition day (`dt=`, the ingestion day) is the data's own age;
`past_retention` lists objects by it, so the gap can be seen (`ilake retention check`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from .lake import program_prefix

_DAY = re.compile(r"/dt=(\d{4}-\d{2}-\d{2})/")


@dataclass(frozen=True, slots=True)
class PastRetention:
    key: str
    day: date  # the partition day
    days_past: int  # days beyond the program's retention
    size: int


def partition_day(key: str) -> date | None:
    match = _DAY.search(key)
    if match is None:
        return None
    try:
        return date.fromisoformat(match[1])
    except ValueError:
        return None


def past_retention(
    s3: Any, bucket: str, program: str, retention_days: int, today: date
) -> Iterator[PastRetention]:
    """Current objects of `program` whose partition day is more than `retention_days` ago.

    Keys sort by day (`dt=YYYY-MM-DD`), so the listing stops at the first day still retained:
    it reads only what is past retention (normally nothing, lifecycle having deleted it).
    """
    keep_from = today - timedelta(days=retention_days)
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=program_prefix(program)
    )
    for page in pages:
        for entry in page.get("Contents", []):
            day = partition_day(entry["Key"])
            if day is None:
                continue
            if day >= keep_from:
                return
            yield PastRetention(entry["Key"], day, (keep_from - day).days, int(entry["Size"]))

"""Retention by the data's day: which lake objects are past their program's retention.

S3 lifecycle rules (one per program, infra/lake_storage.py) expire an object `retention_days`
after it was *created*. A file rewritten later (compacted an hour after its data arrived, or
rewritten by an erasure months later) starts a new clock, so the lifecycle rule alone can keep
data past its retention. The partition day (`dt=`, the ingestion day) is the data's own age;
`beyond_retention` picks objects by it, so the gap can be seen (`ilake retention check`, which
lists the bucket through lambdas/adapters/lake_bucket.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

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


def beyond_retention(
    objects: Iterable[tuple[str, int]], retention_days: int, today: date
) -> Iterator[PastRetention]:
    """The objects (key, size), in key order, whose partition day is more than `retention_days`
    ago. Keys sort by day (`dt=YYYY-MM-DD`), so this stops at the first day still retained: a
    lazy listing is read only as far as what is past retention (normally nothing, lifecycle
    having deleted it)."""
    keep_from = today - timedelta(days=retention_days)
    for key, size in objects:
        day = partition_day(key)
        if day is None:
            continue
        if day >= keep_from:
            return
        yield PastRetention(key, day, (keep_from - day).days, size)

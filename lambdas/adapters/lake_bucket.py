"""The lake bucket (S3): listings of a program's current objects."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from lambdas.core.lake import program_prefix
from lambdas.core.retention import PastRetention, beyond_retention


def current_objects(s3: Any, bucket: str, prefix: str) -> Iterator[tuple[str, int]]:
    """(key, size) of every current object under `prefix`, in key order, a page at a time:
    a consumer that stops early stops the listing."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Contents", []):
            yield entry["Key"], int(entry["Size"])


def past_retention(
    s3: Any, bucket: str, program: str, retention_days: int, today: date
) -> Iterator[PastRetention]:
    """Current objects of `program` whose partition day is more than `retention_days` ago,
    read only as far as the first day still retained."""
    return beyond_retention(
        current_objects(s3, bucket, program_prefix(program)), retention_days, today
    )

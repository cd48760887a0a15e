"""Retention by partition day: what is past retention, and a listing read no further than that."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from lambdas.core.retention import beyond_retention, partition_day

PREFIX = "interactions/program=p/"


def listing(days: list[str], read: list[str]) -> Iterator[tuple[str, int]]:
    """Objects in key order, noting each one handed out."""
    for day in days:
        key = f"{PREFIX}dt={day}/hour=07/batch.parquet"
        read.append(day)
        yield key, 100


def test_objects_older_than_retention_are_listed_with_how_far_past() -> None:
    read: list[str] = []
    days = ["2027-01-01", "2027-01-09", "2027-01-11", "2027-01-20"]
    found = list(beyond_retention(listing(days, read), 30, date(2027, 2, 10)))
    assert [(f.day.isoformat(), f.days_past, f.size) for f in found] == [
        ("2027-01-01", 10, 100),
        ("2027-01-09", 2, 100),
    ]
    assert read == ["2027-01-01", "2027-01-09", "2027-01-11"]  # stopped at the first day kept


def test_keys_without_a_day_are_skipped() -> None:
    objects = [(f"{PREFIX}dt=2027-13-01/x.parquet", 1), (f"{PREFIX}stray.parquet", 1)]
    assert list(beyond_retention(iter(objects), 1, date(2027, 6, 1))) == []
    assert partition_day(f"{PREFIX}dt=2027-02-30/hour=00/x.parquet") is None

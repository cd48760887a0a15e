"""Local mode's stand-in for CloudWatch Logs' metric extraction, and reading the counts back.

In the cloud the ingest Lambda prints EMF documents (Powertools Metrics) and CloudWatch turns them
into metrics. Local mode captures what the handler prints on its own thread, puts the EMF
documents into moto's CloudWatch with PutMetricData, and passes every other line through. The
report then reads `Rejected.*` sums with the same calls it would make against AWS.
"""

from __future__ import annotations

import io
import json
import sys
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

NAMESPACE = "InteractionLake"  # lambdas/ingest/handler.py: Metrics(namespace=...)
_MAX_DATA_PER_CALL = 1000


class _ThreadRouter(io.TextIOBase):
    """sys.stdout that sends one thread's writes to a buffer and everyone else's through."""

    def __init__(self, target: TextIO) -> None:
        self.target = target
        self.local = threading.local()

    def write(self, text: str) -> int:
        buffer: io.StringIO | None = getattr(self.local, "buffer", None)
        return (buffer or self.target).write(text)

    def flush(self) -> None:
        self.target.flush()

    def isatty(self) -> bool:
        return self.target.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.target, "encoding", "utf-8")


_router_lock = threading.Lock()


@contextmanager
def captured_stdout() -> Iterator[io.StringIO]:
    """Capture what this thread prints (other threads keep printing to the terminal)."""
    with _router_lock:
        if not isinstance(sys.stdout, _ThreadRouter):
            sys.stdout = _ThreadRouter(sys.stdout)
        router = sys.stdout
    buffer = io.StringIO()
    router.local.buffer = buffer
    try:
        yield buffer
    finally:
        router.local.buffer = None


def forward(printed: str, cloudwatch: Any) -> None:
    """Put the EMF documents among `printed` lines into CloudWatch; print the other lines."""
    data: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in printed.splitlines():
        document = _emf(line)
        if document is None:
            if line.strip():
                print(line)
            continue
        for namespace, datum in metric_data(document):
            data[namespace].append(datum)
    for namespace, items in data.items():
        for start in range(0, len(items), _MAX_DATA_PER_CALL):
            cloudwatch.put_metric_data(
                Namespace=namespace, MetricData=items[start : start + _MAX_DATA_PER_CALL]
            )


def _emf(line: str) -> dict[str, Any] | None:
    if not line.startswith('{"_aws"'):
        return None
    try:
        document = json.loads(line)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def metric_data(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(namespace, MetricDatum) for every metric of an EMF document, per dimension set."""
    meta = document["_aws"]
    timestamp = datetime.fromtimestamp(meta["Timestamp"] / 1000, UTC)
    for directive in meta["CloudWatchMetrics"]:
        for dimension_set in directive.get("Dimensions") or [[]]:
            dimensions = [{"Name": name, "Value": str(document[name])} for name in dimension_set]
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                values = value if isinstance(value, list) else [value]
                yield (
                    directive["Namespace"],
                    {
                        "MetricName": metric["Name"],
                        "Dimensions": dimensions,
                        "Timestamp": timestamp,
                        "Unit": metric.get("Unit", "None"),
                        "Values": [float(v) for v in values],
                    },
                )


def sums_by_program(
    cloudwatch: Any, prefix: str, *, days: int = 14, now: datetime | None = None
) -> dict[str, dict[str, int]]:
    """program -> metric name without `prefix` -> sum over the last `days` days."""
    end = now or datetime.now(UTC)
    totals: dict[str, dict[str, int]] = defaultdict(dict)
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for page in cloudwatch.get_paginator("list_metrics").paginate(Namespace=NAMESPACE):
        for metric in page["Metrics"]:
            name = metric["MetricName"]
            dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
            identity = (name, tuple(sorted(dimensions.items())))
            if not name.startswith(prefix) or "program" not in dimensions or identity in seen:
                continue  # moto lists a metric once per put; CloudWatch once
            seen.add(identity)
            points = cloudwatch.get_metric_statistics(
                Namespace=NAMESPACE,
                MetricName=name,
                Dimensions=metric["Dimensions"],
                StartTime=end - timedelta(days=days),
                EndTime=end + timedelta(minutes=5),
                Period=86400,
                Statistics=["Sum"],
            )["Datapoints"]
            total = int(sum(p["Sum"] for p in points))
            if total:
                program = totals[dimensions["program"]]
                key = name[len(prefix) :]
                program[key] = program.get(key, 0) + total
    return dict(totals)

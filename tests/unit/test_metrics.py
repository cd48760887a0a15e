"""Local mode's EMF extraction: the handler's metrics reach CloudWatch, its other output does not
get lost, and another thread's output is never captured."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from ilake.metrics import captured_stdout, forward, metric_data

EMF = {
    "_aws": {
        "Timestamp": 1_795_763_317_809,
        "CloudWatchMetrics": [
            {
                "Namespace": "InteractionLake",
                "Dimensions": [["program", "service"]],
                "Metrics": [
                    {"Name": "Rejected.denied_app", "Unit": "Count"},
                    {"Name": "LatencyMs", "Unit": "Milliseconds"},
                ],
            }
        ],
    },
    "program": "menu-navigation",
    "service": "ingest",
    "Rejected.denied_app": [3.0],
    "LatencyMs": 12.5,
}


class FakeCloudWatch:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def put_metric_data(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


def test_an_emf_document_becomes_one_datum_per_metric_with_its_dimensions() -> None:
    data = list(metric_data(EMF))
    assert [namespace for namespace, _ in data] == ["InteractionLake"] * 2
    rejected, latency = (datum for _, datum in data)
    assert rejected["MetricName"] == "Rejected.denied_app"
    assert rejected["Values"] == [3.0]
    assert rejected["Unit"] == "Count"
    assert rejected["Dimensions"] == [
        {"Name": "program", "Value": "menu-navigation"},
        {"Name": "service", "Value": "ingest"},
    ]
    assert rejected["Timestamp"] == datetime.fromtimestamp(1_795_763_317.809, UTC)
    assert latency["Values"] == [12.5]  # a scalar value, not a list


def test_forward_puts_metrics_and_prints_the_other_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cloudwatch = FakeCloudWatch()
    printed = f'{{"level":"INFO","message":"batch stored"}}\n{json.dumps(EMF)}\n\n'
    forward(printed, cloudwatch)
    assert len(cloudwatch.calls) == 1
    assert cloudwatch.calls[0]["Namespace"] == "InteractionLake"
    assert len(cloudwatch.calls[0]["MetricData"]) == 2
    assert capsys.readouterr().out == '{"level":"INFO","message":"batch stored"}\n'


def test_forward_sends_at_most_1000_data_per_call() -> None:
    many = dict(EMF)
    names = [f"Rejected.r{i}" for i in range(1500)]
    many["_aws"] = {
        "Timestamp": EMF["_aws"]["Timestamp"],  # type: ignore[index]
        "CloudWatchMetrics": [
            {"Namespace": "InteractionLake", "Dimensions": [["program"]],
             "Metrics": [{"Name": n, "Unit": "Count"} for n in names]}
        ],
    }  # fmt: skip
    many |= {n: [1.0] for n in names}
    cloudwatch = FakeCloudWatch()
    forward(json.dumps(many), cloudwatch)
    assert [len(c["MetricData"]) for c in cloudwatch.calls] == [1000, 500]


def test_capture_takes_only_this_threads_output(capsys: pytest.CaptureFixture[str]) -> None:
    started, release = threading.Event(), threading.Event()

    def other_thread() -> None:
        started.wait()
        print("from another thread")
        release.set()

    worker = threading.Thread(target=other_thread)
    worker.start()
    with captured_stdout() as mine:
        print("from the handler")
        started.set()
        release.wait(5)
    worker.join()
    print("after")
    assert mine.getvalue() == "from the handler\n"
    assert capsys.readouterr().out == "from another thread\nafter\n"

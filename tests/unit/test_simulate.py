"""Simulated sessions (what `ilake simulate` sends) and the simulated agents' HTTP behaviour."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from ilake import loadgen
from ilake.loadgen import Summary, plan, simulate
from ilake.simulate import APPS, session_batches
from lambdas.core.schema import EVENT_TYPES

from .conftest import RECEIVED_AT_MS, encode, ingest

END_MS = RECEIVED_AT_MS - 1_000


def events_of(batches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for batch in batches for e in batch["events"]]


@pytest.fixture(scope="module")
def hour() -> list[dict[str, Any]]:
    return session_batches(5, subject="jdoe", device="LAPTOP-1", minutes=60, end_ms=END_MS)


def test_a_session_is_deterministic_for_a_seed(hour: list[dict[str, Any]]) -> None:
    again = session_batches(5, subject="jdoe", device="LAPTOP-1", minutes=60, end_ms=END_MS)
    assert again == hour
    other = session_batches(6, subject="jdoe", device="LAPTOP-1", minutes=60, end_ms=END_MS)
    assert other != hour


def test_a_session_covers_its_minutes_in_order_at_a_human_pace(
    hour: list[dict[str, Any]],
) -> None:
    events = events_of(hour)
    times = [e["ts"] for e in events]
    assert times == sorted(times)
    assert times[0] >= END_MS - 60 * 60_000
    assert times[-1] <= END_MS
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert len({e["seq"] for e in events}) == len(events)
    assert 0.5 <= len(events) / 3600 <= 5  # events per second, as a person works
    assert len({e["event_id"] for e in events}) == len(events)


def test_a_session_has_every_kind_of_work(hour: list[dict[str, Any]]) -> None:
    types = Counter(e["type"] for e in events_of(hour))
    assert set(types) == set(EVENT_TYPES)
    assert types["pointer.move"] > types["pointer.click"] > types["menu.select"]


def test_a_session_carries_personal_data_for_redaction_to_find(
    hour: list[dict[str, Any]],
) -> None:
    titles = " ".join(e["window"]["title"] for e in events_of(hour))
    assert "@example.com" in titles
    assert "4111 1111 1111 1111" in titles
    assert "/Users/jdoe" in titles or "C:\\Users\\jdoe" in titles
    assert any(e["app"]["name"] == APPS[-1][0] for e in events_of(hour))  # a denied app


def test_batches_flush_every_30_seconds_of_activity_and_cap_events(
    hour: list[dict[str, Any]],
) -> None:
    assert 100 <= len(hour) <= 121
    for batch in hour:
        assert batch["schema"] == "interaction/1"
        assert 0 < len(batch["events"]) <= 2_000
        assert max(e["ts"] for e in batch["events"]) <= batch["sent_at"]
    capped = session_batches(
        5,
        subject="jdoe",
        device="LAPTOP-1",
        minutes=60,
        end_ms=END_MS,
        flush_ms=3_600_000,
        max_events=500,
    )
    assert all(len(b["events"]) <= 500 for b in capped)
    assert events_of(capped) == events_of(hour)


def test_every_simulated_batch_is_a_valid_batch_for_the_pipeline(
    hour: list[dict[str, Any]],
) -> None:
    outcome = ingest(encode(hour[0]), received_at_ms=RECEIVED_AT_MS)
    assert outcome.accepted + sum(outcome.rejected.values()) == len(hour[0]["events"])
    assert "invalid_value" not in outcome.rejected
    assert "missing_field" not in outcome.rejected


def test_plan_gives_each_agent_its_own_person_and_staggers_sessions() -> None:
    plans = plan(agents=3, minutes=5, seed=1, end_ms=END_MS, spread_hours=6)
    subjects = [{e["subject"] for e in events_of(batches)} for batches in plans]
    assert [len(s) for s in subjects] == [1, 1, 1]
    assert len(set.union(*subjects)) == 3
    last = [max(e["ts"] for e in events_of(batches)) for batches in plans]
    assert last[0] > last[1] + 3_600_000 > last[2] + 2 * 3_600_000


# --- the simulated agents' HTTP behaviour, with a scripted server ---------------------------


class ScriptedAgent:
    """Answers each post with the next scripted status."""

    script: list[int] = []
    posts: list[str] = []

    def __init__(self, api_url: str, token: str, program: str) -> None:
        pass

    def post(self, batch: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        ScriptedAgent.posts.append(batch["batch_id"])
        status = ScriptedAgent.script.pop(0)
        if status == 200:
            answer = {"accepted": len(batch["events"]), "rejected": {"denied_app": 1}}
            return 200, answer | {"redactions": {"email": 2}}, {}
        return status, {}, {"Retry-After": "1"} if status == 429 else {}

    def close(self) -> None:
        pass


def run_scripted(monkeypatch: pytest.MonkeyPatch, script: list[int], batches: int) -> Summary:
    monkeypatch.setattr(loadgen, "Agent", ScriptedAgent)
    ScriptedAgent.script, ScriptedAgent.posts = list(script), []
    plans = [[{"batch_id": f"b{i}", "events": [{}] * 10} for i in range(batches)]]
    naps: list[float] = []
    summary = simulate(plans, api_url="http://x", token="t", program="p", sleep=naps.append)
    summary.naps = naps  # type: ignore[attr-defined]
    return summary


def test_retries_reuse_the_batch_id_and_honour_retry_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    summary = run_scripted(monkeypatch, [503, 429, 200, 200], batches=2)
    assert ScriptedAgent.posts == ["b0", "b0", "b0", "b1"]
    assert summary.retries == 2
    assert summary.batches == Counter({200: 2})
    assert summary.accepted == 20
    assert summary.rejected == Counter({"denied_app": 2})
    assert summary.redactions == Counter({"email": 4})
    assert summary.naps[1] >= 1.0  # type: ignore[attr-defined]


@pytest.mark.parametrize(("status", "why"), [(423, "program paused"), (401, "unauthorized")])
def test_an_agent_stops_when_told(monkeypatch: pytest.MonkeyPatch, status: int, why: str) -> None:
    summary = run_scripted(monkeypatch, [200, status], batches=5)
    assert ScriptedAgent.posts == ["b0", "b1"]
    assert summary.stopped == Counter({why: 1})
    assert summary.batches == Counter({200: 1, status: 1})


def test_an_agent_gives_up_after_max_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    summary = run_scripted(monkeypatch, [500] * 5 + [200], batches=2)
    assert ScriptedAgent.posts == ["b0"] * 5 + ["b1"]
    assert summary.batches == Counter({500: 1, 200: 1})

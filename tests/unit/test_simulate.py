"""Simulated sessions (what `ilake simulate` sends) and the simulated agents, which record them
through the agent SDK: against a scripted server and against the real ingest pipeline."""

from __future__ import annotations

import functools
import gzip
import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ilake import loadgen
from ilake.loadgen import LIMITS, Summary, plan, simulate
from ilake.simulate import APPS, session_batches
from ilake.ui import undelivered
from ilake_agent.client import Client, Limits
from ilake_contract.schema import EVENT_TYPES
from lambdas.core.pipeline import Limits as IngestLimits
from lambdas.core.programs import Program, load_programs
from tests.support.builders import PROGRAMS_DIR, RECEIVED_AT_MS, encode, make_program
from tests.support.data_path import ingest

END_MS = RECEIVED_AT_MS - 1_000


@pytest.fixture(autouse=True)
def agents_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The simulated agents live at the tests' arrival time: they check each event's time
    against their clock as the server does against its own."""
    at_arrival = functools.partial(float, RECEIVED_AT_MS / 1000)
    monkeypatch.setattr(loadgen, "Client", functools.partial(Client, clock=at_arrival))


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


# --- the simulated agents: the agent SDK against a scripted server -----------------------------

FAST = Limits(max_events=2_000, max_age_s=3600, backoff_base_s=0.001, backoff_max_s=0.01)
PROGRAMS = load_programs(PROGRAMS_DIR)


class ScriptedServer:
    """One simulated agent's HTTP transport: the program's policy, then scripted statuses for
    the posts (200 when the script runs out), answered with fixed counts."""

    def __init__(self, script: list[int], program: Program) -> None:
        self.script, self.program = script, program
        self.posts: list[dict[str, Any]] = []

    def get(self, path: str, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        return 200, self.program.public_policy(), {}

    def post(
        self, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        batch = json.loads(gzip.decompress(body))
        self.posts.append(batch)
        status = self.script.pop(0) if self.script else 200
        if status != 200:
            return status, {"error": "x"}, {"Retry-After": "0"} if status == 429 else {}
        n = len(batch["events"])
        answer = {"accepted": n - 1, "rejected": {"sampled_out": 1}, "redactions": {"url": 2}}
        return 200, answer, {}

    def close(self) -> None:
        pass


def scripted(
    script: list[int], windows: int, program: Program | None = None, flush_timeout_s: float = 60
) -> tuple[Summary, ScriptedServer]:
    server = ScriptedServer(script, program or make_program())
    plans = [
        session_batches(3, subject="jdoe", device="LAPTOP-1", minutes=windows / 2, end_ms=END_MS)
    ]
    assert len(plans[0]) == windows
    summary = simulate(
        plans,
        api_url="http://x",
        tokens=["t"],
        program="p",
        transport=lambda: server,
        limits=FAST,
        flush_timeout_s=flush_timeout_s,
    )
    return summary, server


def test_each_planned_window_is_one_batch_and_retries_reuse_its_id() -> None:
    summary, server = scripted([503, 429, 200], windows=3)
    ids = [post["batch_id"] for post in server.posts]
    assert ids[0] == ids[1] == ids[2] != ids[3] != ids[4]  # a retry is the same batch
    assert len(set(ids)) == 3
    assert summary.retries == 2
    assert summary.batches == Counter({200: 3})
    sent = sum(len(post["events"]) for post in server.posts[2:])
    assert summary.events_sent == sent
    assert summary.accepted == sent - 3
    assert summary.rejected == Counter({"sampled_out": 3})
    assert summary.server_redactions == Counter({"url": 6})
    assert summary.stopped == Counter()


@pytest.mark.parametrize(("status", "why"), [(423, "program paused"), (401, "unauthorized")])
def test_an_agent_stops_when_told(status: int, why: str) -> None:
    summary, server = scripted([200, status], windows=5)
    assert len(server.posts) == 2  # nothing of the last three windows is sent
    assert summary.stopped == Counter({why: 1})
    assert summary.batches == Counter({200: 1, status: 1})


def test_the_agents_policy_decides_what_leaves_and_the_summary_counts_it() -> None:
    program = PROGRAMS["menu-navigation"]
    summary, server = scripted([], windows=4, program=program)
    sent = [e for post in server.posts for e in post["events"]]
    assert {e["type"] for e in sent} <= program.allowed_types
    assert all(e["app"].get("name") != "Slack" for e in sent)
    assert summary.events == len(sent) + sum(summary.not_captured.values())
    assert set(summary.not_captured) <= {"type_not_collected", "denied_app"}
    assert summary.not_captured["type_not_collected"] > 0
    assert summary.redactions["email"] > 0  # planted in the simulated titles
    assert "@example.com" not in json.dumps(sent)


def test_a_refused_policy_request_stops_the_agent_before_it_records() -> None:
    class Refusing(ScriptedServer):
        def get(self, path: str, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
            return 403, {}, {}

    server = Refusing([], make_program())
    plans = plan(agents=2, minutes=1, seed=1, end_ms=END_MS)
    summary = simulate(
        plans, api_url="http://x", tokens=["t"], program="p", transport=lambda: server, limits=FAST
    )
    assert summary.stopped == Counter({"forbidden": 2})
    assert server.posts == []
    assert summary.events == 0


def test_each_agent_has_its_own_spool_in_a_temporary_directory_removed_afterwards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    seen: set[Path] = set()

    class Watching(ScriptedServer):
        def post(
            self, path: str, body: bytes, headers: dict[str, str]
        ) -> tuple[int, Any, dict[str, str]]:
            seen.update(p for p in tmp_path.rglob("*.seg"))
            return super().post(path, body, headers)

    lock = threading.Lock()
    servers: list[Watching] = []

    def transport() -> Watching:
        with lock:
            servers.append(Watching([], make_program()))
            return servers[-1]

    plans = plan(agents=3, minutes=1, seed=2, end_ms=END_MS)
    summary = simulate(
        plans, api_url="http://x", tokens=["t"], program="p", transport=transport, limits=FAST
    )
    assert summary.batches[200] == sum(len(p) for p in plans)
    assert len({path.parent.parent.name for path in seen}) == 3  # agent-0, agent-1, agent-2
    assert list(tmp_path.iterdir()) == []  # spools and keys removed


def test_the_limits_cut_batches_by_flush_and_count_never_by_age() -> None:
    assert LIMITS.max_events == 2_000
    assert LIMITS.max_age_s >= 3600


# --- the summary against the real ingest pipeline ---------------------------------------------


class PipelineServer(ScriptedServer):
    """Answers every post with what the real ingest pipeline makes of it."""

    def post(
        self, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        outcome = ingest(gzip.decompress(body), self.program, received_at_ms=RECEIVED_AT_MS)
        self.posts.append(json.loads(gzip.decompress(body)))
        answer = {
            "accepted": outcome.accepted,
            "rejected": outcome.rejected,
            "redactions": outcome.redactions,
        }
        return 200, answer, {}


@pytest.mark.parametrize("name", ["menu-navigation", "shortcut-learning", "permissive"])
def test_the_summary_counts_what_the_server_would_have_counted_on_the_raw_events(
    name: str,
) -> None:
    """The server sees placeholders, so the agents count redactions; the summary must give the
    counts the server reports for the same sessions sent raw, batch by batch."""
    program = PROGRAMS.get(name) or make_program()
    plans = plan(agents=3, minutes=20, seed=4, end_ms=END_MS)
    summary = simulate(
        plans,
        api_url="http://x",
        tokens=["t"],
        program=name,
        transport=lambda: PipelineServer([], program),
        limits=FAST,
    )

    raw_rejected: Counter[str] = Counter()
    raw_redactions: Counter[str] = Counter()
    raw_accepted = 0
    # each agent's sessions sent raw as one batch: the server then samples pointer moves across
    # the whole session, as the agent does (per batch, it would start again at each batch)
    everything = IngestLimits(max_events=10**6, max_body_bytes=2**30)
    for batches in plans:
        merged = {**batches[0], "events": [e for batch in batches for e in batch["events"]]}
        outcome = ingest(encode(merged), program, received_at_ms=RECEIVED_AT_MS, limits=everything)
        raw_accepted += outcome.accepted
        raw_rejected.update(outcome.rejected)
        raw_redactions.update(outcome.redactions)

    assert summary.redactions == raw_redactions
    if name == "menu-navigation":
        assert raw_redactions["email"] > 0
        assert raw_redactions["card"] > 0
    assert summary.accepted == raw_accepted > 0
    # what the server refused from the raw events: the agents refused it first, or the server
    assert summary.not_captured["type_not_collected"] == raw_rejected.pop("type_not_allowed", 0)
    assert summary.not_captured["denied_app"] == raw_rejected.pop("denied_app", 0)
    assert summary.not_captured["sampled_out"] == raw_rejected.pop("sampled_out", 0)
    assert summary.rejected == raw_rejected
    # nothing is left for the server to find: the agents' own placeholders are not counted again
    assert summary.server_redactions == {}


# --- stopping: Ctrl-C and what was not delivered ----------------------------------------------


def test_a_stop_ends_every_agent_after_the_window_it_is_delivering() -> None:
    """`ilake simulate`'s Ctrl-C: the summary counts what was delivered, and nothing after."""
    stop = threading.Event()

    class StopsAfterTwo(ScriptedServer):
        def post(
            self, path: str, body: bytes, headers: dict[str, str]
        ) -> tuple[int, Any, dict[str, str]]:
            answer = super().post(path, body, headers)
            if len(self.posts) == 2:
                stop.set()  # as Ctrl-C does while the second window is on its way
            return answer

    server = StopsAfterTwo([], make_program())
    plans = [session_batches(3, subject="jdoe", device="LAPTOP-1", minutes=3, end_ms=END_MS)]
    assert len(plans[0]) == 6
    summary = simulate(
        plans,
        api_url="http://x",
        tokens=["t"],
        program="p",
        transport=lambda: server,
        limits=FAST,
        stop=stop,
    )
    assert len(server.posts) == 2
    assert summary.batches == Counter({200: 2})
    assert summary.stopped == Counter({"interrupted": 1})
    delivered = sum(len(post["events"]) for post in server.posts)
    assert summary.events_sent == delivered
    assert summary.events == len(events_of(plans[0][:2]))  # the rest was never recorded
    assert summary.undelivered == 0


def test_events_the_server_never_acknowledged_are_counted_as_undelivered() -> None:
    """A stack that stops answering: the agent gives up on the window and says how many
    recorded events did not get through (`ilake simulate` then exits 2 with that count)."""
    summary, server = scripted([503] * 10_000, windows=2, flush_timeout_s=0.3)
    recorded = len(server.posts[0]["events"])
    assert summary.undelivered == recorded > 0
    assert summary.stopped == Counter({"not delivered in time": 1})
    assert summary.accepted == 0
    assert undelivered(summary) == (
        f"{recorded:,} events recorded by the agents were not delivered; "
        "agents stopped early: not delivered in time 1"
    )
    assert undelivered(Summary(program="p", agents=1)) is None

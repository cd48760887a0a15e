"""The agent client's delivery logic with a scripted server: batching, retries under the same id
and body, Retry-After, 413 splits, 400 drops, 401/403/404 stops, 423 pause."""

from __future__ import annotations

import gzip
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ilake_agent.client import (
    INFLIGHT,
    AgentStopped,
    Client,
    HttpTransport,
    Limits,
    PolicyUnavailable,
)
from lambdas.core.programs import load_programs
from tests.support.builders import PROGRAMS_DIR, RECEIVED_AT_MS, make_event

PROGRAM = "menu-navigation"
FAST = Limits(max_events=10, max_age_s=0.02, backoff_base_s=0.001, backoff_max_s=0.01)


def at_arrival() -> float:
    """The agents' clock: the unit tests' events are stamped just before RECEIVED_AT_MS."""
    return RECEIVED_AT_MS / 1000


class ScriptedServer:
    """Answers POSTs from a script of statuses (then 200 forever); records every request."""

    def __init__(self, *statuses: int, retry_after: str | None = None) -> None:
        self.script = list(statuses)
        self.retry_after = retry_after
        self.posts: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def get(self, path: str, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        program = load_programs(PROGRAMS_DIR)[PROGRAM]
        return 200, program.public_policy(), {}

    def post(
        self, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        batch = json.loads(gzip.decompress(body))
        with self.lock:
            self.posts.append({"path": path, "body": body, "batch": batch, "headers": headers})
            status = self.script.pop(0) if self.script else 200
        if status == 200:
            return 200, {"accepted": len(batch["events"]), "rejected": {}, "redactions": {}}, {}
        extra = {"Retry-After": self.retry_after} if self.retry_after else {}
        return status, {"error": "x"}, extra

    def close(self) -> None:
        pass


@pytest.fixture
def naps() -> list[float]:
    return []


def client(tmp_path: Path, server: ScriptedServer, naps: list[float], **kwargs: Any) -> Client:
    return Client(
        "http://agent.test", "ilk_test", PROGRAM,
        spool_dir=tmp_path / "spool", transport=server, limits=kwargs.pop("limits", FAST),
        clock=at_arrival, **kwargs,
    )  # fmt: skip


def clicks(n: int) -> list[dict[str, Any]]:
    return [make_event("pointer.click", seq=i) for i in range(n)]


def sent_ids(server: ScriptedServer) -> list[str]:
    return [e["event_id"] for post in server.posts for e in post["batch"]["events"]]


def test_the_policy_is_fetched_and_applied_before_the_spool(
    tmp_path: Path, naps: list[float]
) -> None:
    server = ScriptedServer()
    agent = client(tmp_path, server, naps)
    assert agent.record(make_event("pointer.click"))
    assert not agent.record(make_event("key.press"))  # not collected by menu-navigation
    assert not agent.record(make_event(app={"name": "Slack"}))  # denied by default
    assert agent.counters.not_captured == 2
    assert "menu" in agent.describe().lower()
    assert agent.close(timeout_s=5)


def test_batches_are_cut_by_count_and_every_event_is_sent_once(
    tmp_path: Path, naps: list[float]
) -> None:
    server = ScriptedServer()
    agent = client(tmp_path, server, naps)
    recorded = clicks(35)
    for event in recorded:
        agent.record(event)
    assert agent.flush(timeout_s=10)
    assert sorted(sent_ids(server)) == sorted(e["event_id"] for e in recorded)
    assert all(len(p["batch"]["events"]) <= 10 for p in server.posts)
    assert agent.counters.events_delivered == 35
    assert all(p["headers"]["Content-Encoding"] == "gzip" for p in server.posts)
    assert all(p["headers"]["Authorization"] == "Bearer ilk_test" for p in server.posts)
    agent.close()


def test_flush_sends_at_once_whatever_the_age_bound(tmp_path: Path, naps: list[float]) -> None:
    server = ScriptedServer()
    agent = client(tmp_path, server, naps, limits=Limits(max_events=1000, max_age_s=3600))
    recorded = clicks(3)
    for event in recorded:
        agent.record(event)
    started = time.monotonic()
    assert agent.flush(timeout_s=10)
    assert time.monotonic() - started < 5  # not held back until the events are an hour old
    assert sorted(sent_ids(server)) == sorted(e["event_id"] for e in recorded)
    assert len(server.posts) == 1
    agent.record(make_event())  # after a flush, the age bound applies again
    time.sleep(0.3)
    assert len(server.posts) == 1
    agent.close()


@pytest.mark.parametrize("failure", [500, 503, 429])
def test_retries_send_the_same_id_and_the_same_body(
    tmp_path: Path, naps: list[float], failure: int
) -> None:
    server = ScriptedServer(failure, failure)
    agent = client(tmp_path, server, naps)
    for event in clicks(5):
        agent.record(event)
    assert agent.flush(timeout_s=10)
    first, second, third = server.posts[:3]
    assert first["batch"]["batch_id"] == second["batch"]["batch_id"] == third["batch"]["batch_id"]
    assert gzip.decompress(first["body"]) == gzip.decompress(third["body"])  # same digest
    assert agent.counters.retries == 2
    agent.close()


def test_retry_after_is_honoured(tmp_path: Path, naps: list[float]) -> None:
    server = ScriptedServer(429, retry_after="1")
    agent = client(tmp_path, server, naps)
    agent.record(make_event())
    started = time.monotonic()
    assert agent.flush(timeout_s=10)
    assert time.monotonic() - started >= 1.0  # backoff alone would be <= 0.01 s here
    assert agent.counters.retries == 1
    agent.close()


def test_a_413_splits_the_batch_and_nothing_is_lost(tmp_path: Path, naps: list[float]) -> None:
    server = ScriptedServer(413, 413)
    agent = client(tmp_path, server, naps)
    recorded = clicks(8)
    for event in recorded:
        agent.record(event)
    assert agent.flush(timeout_s=10)
    sizes = [len(p["batch"]["events"]) for p in server.posts]
    assert sizes[:3] == [8, 4, 2]
    ids = [e["event_id"] for p in server.posts[2:] for e in p["batch"]["events"]]
    assert sorted(ids) == sorted(e["event_id"] for e in recorded)
    assert agent.counters.splits_413 == 2
    agent.close()


def test_a_400_drops_the_batch_and_counts_it(tmp_path: Path, naps: list[float]) -> None:
    server = ScriptedServer(400)
    agent = client(tmp_path, server, naps)
    for event in clicks(10):
        agent.record(event)
    assert agent.flush(timeout_s=10)
    assert agent.counters.batches_dropped_400 == 1
    assert agent.counters.events_dropped_400 == 10
    assert agent.spool.stats().records == 0
    agent.close()


@pytest.mark.parametrize(("status", "error"), [(401, "unauthorized"), (403, "forbidden")])
def test_401_and_403_stop_the_agent_and_keep_the_spool(
    tmp_path: Path, naps: list[float], status: int, error: str
) -> None:
    server = ScriptedServer(status)
    agent = client(tmp_path, server, naps)
    for event in clicks(3):
        agent.record(event)
    assert not agent.flush(timeout_s=5)
    assert agent.error == error
    assert not agent.record(make_event())
    assert agent.spool.stats().records == 3  # kept for a new token
    agent.close(timeout_s=0.1)


def test_a_423_stops_capture_and_wipes_the_spool(tmp_path: Path, naps: list[float]) -> None:
    server = ScriptedServer(423)
    agent = client(tmp_path, server, naps)
    for event in clicks(25):
        agent.record(event)
    assert agent.flush(timeout_s=10)
    assert agent.paused
    assert agent.spool.stats().records == 0
    assert not (tmp_path / "spool" / INFLIGHT).exists()
    assert not agent.record(make_event())
    agent.close()


def test_a_refused_policy_request_stops_before_anything_is_captured(tmp_path: Path) -> None:
    class Refusing(ScriptedServer):
        def get(self, path: str, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
            return 401, {}, {}

    with pytest.raises(AgentStopped, match="unauthorized"):
        Client("http://agent.test", "ilk_bad", PROGRAM, spool_dir=tmp_path, transport=Refusing())


def test_a_restart_resends_the_inflight_batch_with_its_id(
    tmp_path: Path, naps: list[float]
) -> None:
    """A crash after the server stored a batch but before the ack: the restart must send the
    same id and body again, which the server answers as a replay."""
    down = ScriptedServer(*([503] * 1000))
    agent = client(tmp_path, down, naps)
    for event in clicks(10):
        agent.record(event)
    deadline = time.monotonic() + 5
    while not down.posts and time.monotonic() < deadline:
        time.sleep(0.01)
    agent._stop.set()  # simulate the crash: no flush, no ack
    agent._wake.set()
    agent._sender.join(5)
    agent.spool.close()
    first = down.posts[0]

    up = ScriptedServer()
    again = client(tmp_path, up, naps)
    assert again.flush(timeout_s=10)
    assert up.posts[0]["batch"]["batch_id"] == first["batch"]["batch_id"]
    assert gzip.decompress(up.posts[0]["body"]) == gzip.decompress(first["body"])
    again.close()


class Down(ScriptedServer):
    """The network is gone: every POST fails."""

    def post(
        self, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        raise OSError("unreachable")


PLANTED = [
    "jane.roe@example.com",
    "4111 1111 1111 1111",
    "AKIAIOSFODNN7EXAMPLE",
    "DE89 3704 0044 0532 0130 00",
]


def test_no_planted_secret_reaches_the_spool_in_clear_or_at_all(tmp_path: Path) -> None:
    agent = Client(
        "http://agent.test", "ilk_test", PROGRAM, spool_dir=tmp_path / "spool",
        transport=Down(), limits=Limits(max_age_s=3600), clock=at_arrival,
    )  # fmt: skip
    for secret in PLANTED:
        agent.record(make_event(window={"title": f"Inbox - {secret}"}))
        agent.record(make_event("menu.select", menu_path=["Share", f"Send to {secret}"]))
        agent.record(make_event(target={"role": "button", "name": f"Pay {secret}"}))
    assert agent.counters.recorded == 3 * len(PLANTED)
    _, records = agent.spool.peek(1000, 2**30)
    plaintext = b"".join(records)
    for secret in PLANTED:
        assert secret.encode() not in plaintext  # redacted before the spool
    on_disk = b"".join(p.read_bytes() for p in (tmp_path / "spool").rglob("*") if p.is_file())
    for secret in PLANTED:
        assert secret.encode() not in on_disk
    assert b"Inbox" not in on_disk  # and encrypted at rest
    agent.close(timeout_s=0)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def test_a_million_queued_events_stay_within_the_spool_bound_and_flat_memory(
    tmp_path: Path,
) -> None:
    bound = 8 * 2**20
    agent = Client(
        "http://agent.test", "ilk_test", PROGRAM, spool_dir=tmp_path / "spool",
        transport=Down(), limits=Limits(max_age_s=3600), clock=at_arrival, spool_max_bytes=bound,
    )  # fmt: skip
    event = make_event("pointer.click")
    for _ in range(10_000):  # warm up: caches and the first segments
        agent.record(event)
    baseline = _rss_bytes()
    for _ in range(1_000_000):
        agent.record(event)
    growth = _rss_bytes() - baseline
    stats = agent.spool.stats()
    on_disk = sum(p.stat().st_size for p in (tmp_path / "spool").rglob("*") if p.is_file())
    assert on_disk <= bound + 4 * 2**20  # the bound plus at most the segment being written
    assert stats.dropped_oldest > 0
    assert stats.records + stats.dropped_oldest == 1_010_000  # every record kept or counted
    assert growth < 32 * 2**20, growth  # memory does not grow with the queue
    agent.close(timeout_s=0)


def test_a_damaged_spool_segment_is_skipped_counted_and_delivery_goes_on(
    tmp_path: Path,
) -> None:
    spool_dir = tmp_path / "spool"
    offline = Client(
        "http://agent.test", "ilk_test", PROGRAM, spool_dir=spool_dir,
        transport=Down(), limits=Limits(max_age_s=3600), clock=at_arrival,
    )  # fmt: skip
    for event in clicks(5):
        offline.record(event)
    offline.close(timeout_s=0)
    [segment] = sorted(spool_dir.glob("*.seg"))
    data = bytearray(segment.read_bytes())
    data[-5] ^= 0x01  # one bit of the last record's tag
    segment.write_bytes(bytes(data))

    server = ScriptedServer()
    again = Client(
        "http://agent.test", "ilk_test", PROGRAM, spool_dir=spool_dir, transport=server,
        limits=FAST, clock=at_arrival,
    )  # fmt: skip
    later = clicks(3)
    for event in later:
        again.record(event)
    assert again.flush(timeout_s=10)
    assert again.counters.unreadable_segments == 1
    assert {e["event_id"] for e in later} <= set(sent_ids(server))
    again.close()


class FlakyPolicy(ScriptedServer):
    """The policy request first fails as scripted (an OSError, or a status), then answers."""

    def __init__(self, *failures: Any) -> None:
        super().__init__()
        self.failures = list(failures)
        self.gets = 0

    def get(self, path: str, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        self.gets += 1
        if self.failures:
            failure = self.failures.pop(0)
            if isinstance(failure, OSError):
                raise failure
            return failure, {"error": "x"}, {}
        return super().get(path, headers)


def test_the_first_policy_request_is_retried_like_a_batch(tmp_path: Path) -> None:
    server = FlakyPolicy(ConnectionRefusedError(111, "Connection refused"), 503, 429, OSError())
    agent = client(tmp_path, server, [])
    assert server.gets == 5
    assert agent.counters.policy_retries == 4
    assert agent.record(make_event("pointer.click"))
    agent.close()


@pytest.mark.parametrize(
    ("failure", "why"),
    [
        (ConnectionRefusedError(111, "Connection refused"), "unreachable (connection refused)"),
        (OSError(-2, "Name or service not known"), "unreachable (unknown host)"),
        (503, "the API answered 503"),
    ],
    ids=["refused", "unknown-host", "503"],
)
def test_no_policy_within_the_deadline_is_one_line_naming_the_problem(
    tmp_path: Path, failure: Any, why: str
) -> None:
    server = FlakyPolicy(*[failure] * 1000)
    with pytest.raises(PolicyUnavailable) as refused:
        client(tmp_path, server, [], policy_timeout_s=0.02)
    message = str(refused.value)
    assert message.startswith("no policy within 0.02 s: ")
    assert why in message
    assert "\n" not in message
    assert "ilk_test" not in message
    assert server.gets >= 1
    assert isinstance(refused.value, OSError)  # what callers already catch for the network


def test_a_policy_answer_that_is_neither_ok_nor_retryable_stops_at_once(tmp_path: Path) -> None:
    server = FlakyPolicy(400)
    with pytest.raises(AgentStopped, match="HTTP 400"):
        client(tmp_path, server, [], policy_timeout_s=60)
    assert server.gets == 1


@pytest.mark.parametrize(
    "url",
    ["api.example.com", "localhost:8080", "ftp://api.example.com", "http://", "garbage",
     "http://[::1", "http://host:99999", "https://api.example.com:port", "http://a b.com", ""],
)  # fmt: skip
def test_a_malformed_api_url_is_refused_without_quoting_it(url: str) -> None:
    with pytest.raises(ValueError, match="the API URL must be") as refused:
        HttpTransport(url)
    assert str(refused.value) == (  # one fixed line, whatever was given
        "the API URL must be an http:// or https:// URL with a host, e.g. https://api.example.com"
    )

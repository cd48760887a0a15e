"""Simulated agents (`ilake simulate`): each simulated employee's session recorded through the
agent SDK (`ilake_agent.Client`), as real agents do, and delivered over HTTP.

Each simulated agent is a thread with its own `Client`, spool and spool key in a temporary
directory that is removed afterwards. It records its session's events with `record()` and
flushes after every 30 seconds of session time (the batches the session plan cuts), so the
same seed gives the same events, cut into the same batches (a window the policy leaves empty
sends none; batch ids are the SDK's own, random). The SDK does the rest: the program's policy
and redaction on the agent, the encrypted spool, retries under the same batch id honouring
Retry-After, and stopping on 401, 403 and 423.

The summary adds up counts, never content: what the agents did not capture, by reason (it
never left the machines); what the server refused, by reason, and accepted; the redactions the
agents made, by detector, counted as the server would have counted them on the raw events
(the server sees placeholders only); and batches by status, retries and early stops.
`Agent` is a bare HTTP client for posting hand-made batches (the demo's and tests' checks of
the API itself).
"""

from __future__ import annotations

import gzip
import http.client
import json
import random
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec

from ilake_agent.client import AgentStopped, Client, Counters, Limits, Transport
from ilake_agent.keys import KeyFile

from .simulate import AGENT, session_batches

SUBJECTS = ["jdoe", "asmith", "mgarcia", "lchen", "okafor", "nkumar", "epetrov", "sdubois"]
STOP = {401: "unauthorized", 403: "forbidden", 404: "unknown program", 423: "program paused"}
INTERRUPTED = "interrupted"  # told to stop (Ctrl-C) before its session was over
# Batches are cut by flush() at the end of each planned window, or by count as a plan would
# (2,000 events); never by age, which would make them depend on timing.
LIMITS = Limits(max_events=2_000, max_age_s=24 * 3600, backoff_base_s=0.05, backoff_max_s=2.0)
FLUSH_TIMEOUT_S = 60.0  # a window not delivered by then: the agent gives up (counted)


@dataclass
class Summary:
    program: str
    agents: int
    events: int = 0  # what the simulated employees did: the events given to record()
    not_captured: Counter[str] = field(default_factory=Counter)  # by the agents' policy
    batches: Counter[int] = field(default_factory=Counter)  # final HTTP status -> batches
    events_sent: int = 0  # in batches the server answered 200: accepted + rejected
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # by the server, per event
    redactions: Counter[str] = field(default_factory=Counter)  # on the agents, by detector
    server_redactions: Counter[str] = field(default_factory=Counter)  # found again by the server
    retries: int = 0
    stopped: Counter[str] = field(default_factory=Counter)  # why agents stopped early
    undelivered: int = 0  # recorded on the agents, never acknowledged (spooled, or wiped on 423)
    seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def add(self, counters: Counters) -> None:
        """One agent's counters (after its client closed)."""
        self.not_captured.update(counters.not_captured_by)
        self.batches.update(counters.batches)
        self.events_sent += counters.events_delivered + counters.events_rejected_by_server
        self.accepted += counters.events_delivered
        self.rejected.update(counters.rejected)
        self.redactions.update(counters.redactions)
        self.server_redactions.update(counters.server_redactions)
        self.retries += counters.retries
        self.undelivered += counters.recorded - (
            counters.events_delivered
            + counters.events_rejected_by_server
            + counters.events_dropped_400
        )


class Agent:
    """A bare HTTP client: gzip JSON posts of hand-made batches over a keep-alive connection."""

    def __init__(self, api_url: str, token: str, program: str, *, timeout: float = 30) -> None:
        url = urlsplit(api_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"not an http(s) URL: {api_url}")
        self._https = url.scheme == "https"
        self._host: str = url.hostname
        self._port, self._timeout = url.port, timeout
        self._conn = self._connect()
        self.path = f"{url.path.rstrip('/')}/v1/programs/{program}/batches"
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def _connect(self) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout)
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)

    def post(self, batch: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        return self.send(gzip.compress(msgspec.json.encode(batch), compresslevel=5))

    def send(
        self, body: bytes, *, encoding: str = "gzip"
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """POST a prepared body; (status, JSON answer, headers)."""
        headers = {**self.headers, "Content-Encoding": encoding}
        try:
            self._conn.request("POST", self.path, body=body, headers=headers)
            response = self._conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):
            self._conn.close()
            self._conn = self._connect()
            raise
        try:
            answer = json.loads(payload) if payload else {}
        except ValueError:
            answer = {}
        return response.status, answer, dict(response.getheaders())

    def close(self) -> None:
        self._conn.close()


def plan(
    *,
    agents: int,
    minutes: float,
    seed: int = 0,
    end_ms: int | None = None,
    spread_hours: float = 0,
) -> list[list[dict[str, Any]]]:
    """Per agent, the batches of `minutes` of one employee's work. The sessions end at `end_ms`
    (now), or staggered over the last `spread_hours` as a day's work is (an agent that spooled
    while offline posts them late, as the SDK does)."""
    end = end_ms if end_ms is not None else int(time.time() * 1000)
    step = int(spread_hours * 3_600_000 / agents)
    return [
        session_batches(
            seed * 1000 + i,
            subject=f"{SUBJECTS[i % len(SUBJECTS)]}{i // len(SUBJECTS) or ''}",
            device=f"LAPTOP-{seed:02d}{i:03d}",
            minutes=minutes,
            end_ms=end - i * step,
        )
        for i in range(agents)
    ]


def simulate(
    plans: list[list[dict[str, Any]]],
    *,
    api_url: str,
    tokens: list[str],
    program: str,
    seed: int = 0,
    on_events: Callable[[int], None] | None = None,
    transport: Callable[[], Transport] | None = None,
    limits: Limits = LIMITS,
    flush_timeout_s: float = FLUSH_TIMEOUT_S,
    stop: threading.Event | None = None,
) -> Summary:
    """Record every agent's planned windows through its own SDK client, the agents
    concurrently, each in order, agent i with `tokens[i]` (one enrolled agent per person, so
    that texts many of them see become common; a single token is used by every agent);
    `transport` (tests) makes each agent's HTTP transport. Once `stop` is set, every agent
    ends after the window it is delivering, so the summary counts what was delivered."""
    summary = Summary(program=program, agents=len(plans))
    lock = threading.Lock()

    def run_agent(index: int, batches: list[dict[str, Any]], root: Path) -> None:
        home = root / f"agent-{index}"
        home.mkdir(mode=0o700)
        try:
            client = Client(
                api_url,
                tokens[index % len(tokens)],
                program,
                spool_dir=home / "spool",
                key_store=KeyFile(home / "spool.key"),  # a throwaway key: never the OS keyring
                spool_max_bytes=64 * 2**20,
                spool_segment_bytes=2**20,
                limits=limits,
                transport=transport() if transport else None,
                agent=AGENT,
                rng=random.Random(seed * 1000 + index),  # noqa: S311 - backoff jitter
            )
        except (AgentStopped, OSError) as exc:  # the policy request was refused or failed
            with lock:
                summary.stopped[str(exc) if isinstance(exc, AgentStopped) else "unreachable"] += 1
            return
        stopped: str | None = None
        recorded = 0
        try:
            for batch in batches:
                if stop is not None and stop.is_set():
                    stopped = INTERRUPTED
                    break
                for event in batch["events"]:
                    client.record(event)
                recorded += len(batch["events"])
                delivered = client.flush(timeout_s=flush_timeout_s)
                if on_events:
                    on_events(len(batch["events"]))
                stopped = _stopped(client, delivered)
                if stopped:
                    break
        finally:
            client.close(timeout_s=0 if stopped else flush_timeout_s)
            with lock:
                summary.events += recorded
                summary.add(client.counters)
                if stopped:
                    summary.stopped[stopped] += 1

    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="ilake-simulate-") as root,
        ThreadPoolExecutor(max_workers=max(1, len(plans)), thread_name_prefix="agent") as pool,
    ):
        futures = [
            pool.submit(run_agent, i, batches, Path(root)) for i, batches in enumerate(plans)
        ]
        for future in futures:
            future.result()
    summary.seconds = time.perf_counter() - started
    return summary


def _stopped(client: Client, delivered: bool) -> str | None:
    """Why an agent stops early, or None to go on."""
    if client.paused:
        return STOP[423]
    if client.error:
        return client.error
    if not delivered:
        return "not delivered in time"
    return None

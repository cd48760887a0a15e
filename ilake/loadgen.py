"""Simulated agents posting their sessions over HTTP, as real agents do (`ilake simulate`).

Each agent is a thread with its own keep-alive connection; it posts its batches in order, gzip
encoded, retrying 429/5xx/network failures with backoff under the same batch id (so a retry is
an idempotent replay), and stopping on 401/403/423 as an agent must. The summary adds up what
the server answered: counts by reason and by detector, never content.
"""

from __future__ import annotations

import gzip
import http.client
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import msgspec

from .simulate import session_batches

SUBJECTS = ["jdoe", "asmith", "mgarcia", "lchen", "okafor", "nkumar", "epetrov", "sdubois"]
RETRYABLE = {429, 500, 502, 503, 504}
STOP = {401: "unauthorized", 403: "forbidden", 404: "unknown program", 423: "program paused"}


@dataclass
class Summary:
    program: str
    agents: int
    batches: Counter[int] = field(default_factory=Counter)  # HTTP status -> batches
    events_sent: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    redactions: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    stopped: Counter[str] = field(default_factory=Counter)  # why agents stopped early
    seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        return self.events_sent / self.seconds if self.seconds else 0.0

    def add(self, status: int, events: int, answer: dict[str, Any]) -> None:
        self.batches[status] += 1
        self.events_sent += events
        if status == 200:
            self.accepted += int(answer.get("accepted", 0))
            self.rejected.update(answer.get("rejected", {}))
            self.redactions.update(answer.get("redactions", {}))


class Agent:
    """One agent's HTTP client: gzip JSON posts over a keep-alive connection."""

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
    token: str,
    program: str,
    seed: int = 0,
    max_attempts: int = 5,
    on_batch: Callable[[int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Summary:
    """Post every agent's planned batches, the agents concurrently, each in order."""
    agents = len(plans)
    summary = Summary(program=program, agents=agents)
    lock = threading.Lock()
    jitter = random.Random(seed)  # noqa: S311 - backoff jitter, not security

    def run_agent(batches: list[dict[str, Any]]) -> None:
        agent = Agent(api_url, token, program)
        try:
            for batch in batches:
                status, answer, retries = _post_with_retries(
                    agent, batch, max_attempts, sleep, jitter
                )
                with lock:
                    summary.retries += retries
                    summary.add(status, len(batch["events"]), answer)
                if on_batch:
                    on_batch(len(batch["events"]))
                if status in STOP:
                    with lock:
                        summary.stopped[STOP[status]] += 1
                    return
        finally:
            agent.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, agents), thread_name_prefix="agent") as pool:
        for future in [pool.submit(run_agent, plan) for plan in plans]:
            future.result()
    summary.seconds = time.perf_counter() - started
    return summary


def _post_with_retries(
    agent: Agent,
    batch: dict[str, Any],
    max_attempts: int,
    sleep: Callable[[float], None],
    jitter: random.Random,
) -> tuple[int, dict[str, Any], int]:
    """Post until an answer that is not worth retrying; full-jitter exponential backoff."""
    status, answer = 0, dict[str, Any]()
    headers: dict[str, str] = {}
    for attempt in range(max_attempts):
        try:
            status, answer, headers = agent.post(batch)
        except (OSError, http.client.HTTPException):
            status, answer, headers = 0, {}, {}
        if status not in RETRYABLE and status != 0:
            return status, answer, attempt
        if attempt + 1 < max_attempts:
            retry_after = headers.get("Retry-After")
            delay = float(retry_after) if retry_after and retry_after.isdigit() else 0.0
            sleep(max(delay, jitter.uniform(0, 0.1 * 2**attempt)))
    return status, answer, max_attempts - 1

"""The agent client: record events on any thread, deliver each exactly once, stop when told.

`record(event)` minimizes the event under the program's policy (`ClientPolicy.capture`), then
appends it to the encrypted on-disk spool; once it returns, the event survives a crash of the
process. A sender thread delivers the spool in order, in gzip batches cut by count, bytes and
age. `counters` adds up what happened, in counts only: events not captured by reason, the
redactions done on this machine by detector (as the server would have counted them on the raw
events), and the server's answers.

Exactly once: a batch's id and contents are fixed before its first attempt and kept in the
spool directory (`inflight.json`), so every retry, and the first attempt after a restart,
sends the same id with the same body; the server's idempotency turns a repeat into a replay.
Records leave the spool only when the server acknowledged them.

Server answers (docs/api.md): 200 -> acknowledged; 423 -> the program is paused: stop capturing
and wipe the spool; 401/403/404 -> stop and surface the error (the spool is kept for a new
token); 413 -> split the batch; 400 -> drop the batch and count it; 409 -> cannot happen for a
fixed body, treated as 400; 5xx, 429 and network errors -> retry with full-jitter exponential
backoff, honouring Retry-After. The policy request at start is retried the same way, until
`policy_timeout_s`; then `PolicyUnavailable`.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import json
import os
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import msgspec

from .keys import KeyStore, default_key_store
from .policy import ClientPolicy
from .spool import Spool, SpoolCorruptError

AGENT = {"version": "0.1.0", "os": "unknown", "os_version": "unknown"}
RETRYABLE = {429, 500, 502, 503, 504}
STOPPING = {401: "unauthorized", 403: "forbidden", 404: "unknown program"}
INFLIGHT = "inflight.json"
SAMPLED_OUT = "sampled_out"  # the server's reason for a pointer move within the sampling interval


class Transport(Protocol):
    """POST one body; (status, JSON answer, headers). Raises OSError on network failure."""

    def post(
        self, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]: ...

    def get(self, path: str, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]: ...


class HttpTransport:
    """A keep-alive HTTP(S) connection to the API; reconnects after a failure."""

    def __init__(self, api_url: str, *, timeout_s: float = 30) -> None:
        """Refuses (ValueError, naming no part of the URL: it may hold credentials) anything
        but an http(s) URL with a host and a valid port."""
        try:
            url = urlsplit(api_url)
            port = url.port  # raises for a port that is not a number from 0 to 65535
        except (ValueError, TypeError, AttributeError):
            raise ValueError(_BAD_URL) from None
        if (
            url.scheme not in ("http", "https")
            or not url.hostname
            or any(ch.isspace() or not ch.isprintable() for ch in api_url)
        ):
            raise ValueError(_BAD_URL)
        self._https, self._host, self._port = url.scheme == "https", url.hostname, port
        self._base, self._timeout = url.path.rstrip("/"), timeout_s
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = kind(self._host, self._port, timeout=self._timeout)
        return self._conn

    def _request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        connection = self._connection()
        try:
            connection.request(method, self._base + path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            self._conn = None
            raise OSError(str(exc)) from None
        try:
            answer = json.loads(payload) if payload else {}
        except ValueError:
            answer = {}
        return response.status, answer, dict(response.getheaders())

    def post(
        self, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        return self._request("POST", path, body, headers)

    def get(self, path: str, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        return self._request("GET", path, None, headers)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


_BAD_URL = (
    "the API URL must be an http:// or https:// URL with a host, e.g. https://api.example.com"
)


class AgentStopped(Exception):
    """The server refused this agent (401/403/404); the message says which."""


class PolicyUnavailable(ConnectionError):
    """No policy within the deadline: the API was unreachable or kept answering 5xx/429. The
    message says which, in one line, with nothing from the request."""


@dataclass
class Counters:
    recorded: int = 0
    not_captured: int = 0  # dropped by the policy before the spool
    not_captured_by: dict[str, int] = field(default_factory=dict)  # reason -> events
    redactions: dict[str, int] = field(default_factory=dict)  # detector -> count, on this machine
    batches_sent: int = 0
    batches: dict[int, int] = field(default_factory=dict)  # final HTTP status -> batches
    events_delivered: int = 0
    events_rejected_by_server: int = 0  # per-event rejections inside acknowledged batches
    batches_dropped_400: int = 0
    events_dropped_400: int = 0
    splits_413: int = 0
    retries: int = 0
    policy_retries: int = 0  # policy requests retried at start (network errors, 5xx, 429)
    unreadable_segments: int = 0  # spool damage: the rest of a segment could not be decrypted
    rejected: dict[str, int] = field(default_factory=dict)  # by the server: reason -> events
    server_redactions: dict[str, int] = field(default_factory=dict)  # what the server still found


@dataclass(frozen=True)
class Limits:
    max_events: int = 1_000
    max_bytes: int = 1 * 2**20  # of encoded events, before gzip
    max_age_s: float = 5.0  # a recorded event waits at most this long before a send starts
    backoff_base_s: float = 0.5
    backoff_max_s: float = 60.0


class Client:
    """One program's agent: `record()` from any thread, `flush()`, `close()`."""

    def __init__(
        self,
        api_url: str,
        token: str,
        program: str,
        *,
        spool_dir: Path,
        policy: ClientPolicy | None = None,
        limits: Limits = Limits(),
        spool_max_bytes: int = 256 * 2**20,
        spool_segment_bytes: int = 4 * 2**20,
        key_store: KeyStore | None = None,
        transport: Transport | None = None,
        agent: dict[str, str] | None = None,
        rng: random.Random | None = None,
        policy_timeout_s: float = 30,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Fetches the policy first (retried until `policy_timeout_s`); `clock` (seconds) is
        the one the server's bounds on an event's time are checked with at capture."""
        self.program, self.limits = program, limits
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self._transport: Any = transport or HttpTransport(api_url)
        self._agent = agent or AGENT
        self._rng = rng or random.Random()  # noqa: S311 - backoff jitter, not security
        self.counters = Counters()
        self.paused = False
        self.error: str | None = None
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._flushes = 0  # flush() calls waiting: send now, whatever the age (under _lock)
        self._stop = threading.Event()
        # Counters and the sender's bookkeeping; record() also holds it across its append, so
        # a pause's wipe (under the same lock) cannot slip between its check and the append.
        self._lock = threading.Lock()
        self._retry_after = 0.0
        self._clock = clock
        spool_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._dir = spool_dir
        self.policy = policy or self.fetch_policy(policy_timeout_s)
        key = (key_store or default_key_store(spool_dir)).load_or_create()
        self.spool = Spool(
            spool_dir, key=key, max_bytes=spool_max_bytes, segment_bytes=spool_segment_bytes
        )
        self._pending = 0  # recorded since the sender last looked
        self._not_sent: dict[str, int] = {}  # not captured since the last batch cut, by reason
        self._sample_ms = self.policy.pointer_sample_ms or 0
        self._last_move: dict[str, int] = {}  # session -> ts of the last pointer move kept
        self._retry_after = 0.0
        self._oldest_unsent: float | None = None
        self._sender = threading.Thread(target=self._run, name="ilake-agent-sender", daemon=True)
        self._sender.start()

    # -- the caller's side -------------------------------------------------------------------

    def fetch_policy(self, timeout_s: float = 30) -> ClientPolicy:
        """GET the program's effective policy: what this agent may capture, and nothing more.

        Network errors, 5xx and 429 are retried with the batches' backoff (honouring
        Retry-After) until `timeout_s`, then PolicyUnavailable; 401/403/404 and any other
        answer stop the agent at once (AgentStopped)."""
        deadline = time.monotonic() + timeout_s
        attempt = 0
        while True:
            self._retry_after = 0.0
            try:
                status, answer, headers = self._transport.get(
                    f"/v1/programs/{self.program}/policy", dict(self._headers)
                )
            except OSError as exc:
                problem = f"the API is unreachable ({_network_problem(exc)})"
            else:
                if status == 200:
                    return ClientPolicy.from_policy(answer, clock=self._clock)
                if status not in RETRYABLE:
                    self._stop_with(status)
                    raise AgentStopped(self.error or f"policy request answered {status}")
                problem = f"the API answered {status}"
                retry_after = headers.get("Retry-After", "")
                self._retry_after = float(retry_after) if retry_after.isdigit() else 0.0
            attempt += 1
            left = deadline - time.monotonic()
            if left <= 0:
                raise PolicyUnavailable(f"no policy within {timeout_s:g} s: {problem}")
            self.counters.policy_retries += 1
            time.sleep(min(left, self._backoff(attempt)))

    def describe(self) -> str:
        return self.policy.describe()

    def record(self, event: dict[str, Any]) -> bool:
        """Capture one event; False when it is not captured (policy, paused or stopped)."""
        if self.paused or self.error:
            return False
        captured = self.policy.capture(event)
        if self._sample_ms and not isinstance(captured, str) and event["type"] == "pointer.move":
            captured = self._sampled(event, captured)
        if isinstance(captured, str):  # why not: counted, the event itself goes nowhere
            with self._lock:
                counters = self.counters
                counters.not_captured += 1
                counters.not_captured_by[captured] = counters.not_captured_by.get(captured, 0) + 1
                self._not_sent[captured] = self._not_sent.get(captured, 0) + 1
            return False
        record, redactions = captured
        if redactions:  # the counts travel with the event: the lake counts every placeholder
            record = b'%s,"redacted":%s}' % (record[:-1], msgspec.json.encode(_bounded(redactions)))
        with self._lock:
            if self.paused:
                return False
            self.spool.append(record)
            counters = self.counters
            counters.recorded += 1
            if redactions:
                done = counters.redactions
                for detector, n in redactions.items():
                    done[detector] = done.get(detector, 0) + n
            self._pending += 1
            if self._oldest_unsent is None:
                self._oldest_unsent = time.monotonic()
            if self._pending >= self.limits.max_events:
                self._wake.set()
        return True

    def _sampled(
        self, event: dict[str, Any], captured: tuple[bytes, Any]
    ) -> tuple[bytes, Any] | str:
        """At most one pointer move per session every `pointer_sample_ms`, as the server keeps
        them: the moves between are never spooled (counted as `sampled_out`)."""
        session, ts = event["session_id"], event["ts"]
        with self._lock:
            previous = self._last_move.get(session)
            if previous is not None and 0 <= ts - previous < self._sample_ms:
                return SAMPLED_OUT
            if len(self._last_move) >= 4096:  # sessions end; their last moves need not stay
                self._last_move.clear()
            self._last_move[session] = ts
        return captured

    def flush(self, timeout_s: float = 30) -> bool:
        """Deliver everything recorded so far; True when the spool is empty (or paused).
        While a flush waits, batches go out whatever their age."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            self._flushes += 1
        try:
            while time.monotonic() < deadline:
                if self.paused or self.error:
                    return self.paused
                self._idle.clear()
                self._wake.set()
                if (
                    self.spool.stats().records == 0
                    and not (self._dir / INFLIGHT).exists()
                    and not self._not_sent
                ):
                    return True
                self._idle.wait(min(0.2, max(0.0, deadline - time.monotonic())))
            return self.spool.stats().records == 0
        finally:
            with self._lock:
                self._flushes -= 1

    def close(self, timeout_s: float = 30) -> bool:
        """Flush within the deadline, then stop the sender; undelivered events stay spooled."""
        delivered = self.flush(timeout_s)
        self._stop.set()
        self._wake.set()
        self._sender.join(timeout=max(1.0, timeout_s))
        self.spool.close()
        with contextlib.suppress(Exception):
            self._transport.close()
        return delivered

    # -- the sender thread -------------------------------------------------------------------

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set() and not self.paused and not self.error:
            if not self._due():
                self._idle.set()
                self._wake.wait(self._wait_s())
                self._wake.clear()
                continue
            outcome = self._send_one()
            if outcome == "retry":
                self.counters.retries += 1
                attempt += 1
                if self._stop.wait(self._backoff(attempt)):
                    return
            else:
                attempt = 0

    def _due(self) -> bool:
        """Send when a batch is full, the oldest unsent event is old enough, or on flush."""
        if (self._dir / INFLIGHT).exists():
            return True  # finish what was started, even across a restart
        if self.spool.stats().records == 0:
            with self._lock:  # on flush, counts of events not captured go out on their own
                return self._flushes > 0 and bool(self._not_sent)
        with self._lock:
            full = self._pending >= self.limits.max_events
            old = self._oldest_unsent is None or (
                time.monotonic() - self._oldest_unsent >= self.limits.max_age_s
            )
            return full or old or self._flushes > 0

    def _wait_s(self) -> float:
        with self._lock:
            if self._oldest_unsent is None:
                return self.limits.max_age_s
            return max(0.01, self.limits.max_age_s - (time.monotonic() - self._oldest_unsent))

    def _backoff(self, attempt: int) -> float:
        cap = min(self.limits.backoff_max_s, self.limits.backoff_base_s * 2**attempt)
        return max(self._retry_after, self._rng.uniform(0, cap))

    def _inflight(self) -> dict[str, Any]:
        """The batch being delivered: fixed id, size and send time, kept across restarts."""
        path = self._dir / INFLIGHT
        try:
            return dict(json.loads(path.read_text()))
        except FileNotFoundError:
            pass
        _, records = self.spool.peek(self.limits.max_events, self.limits.max_bytes)
        batch: dict[str, Any] = {
            "batch_id": str(uuid.uuid4()),
            "records": len(records),
            "sent_at": int(time.time() * 1000),
        }
        with self._lock:  # fixed with the batch, so every retry sends the same counts
            if self._not_sent and (records or self._flushes):
                batch["not_captured"], self._not_sent = self._not_sent, {}
        _write_private(path, json.dumps(batch).encode())
        return batch

    def _send_one(self) -> str:
        try:
            batch = self._inflight()
            cursor, records = self.spool.peek(batch["records"], 2**62)
        except SpoolCorruptError as damaged:
            # A record failed authentication (disk damage or tampering): what cannot be read
            # cannot be sent. Give up the rest of that segment, count it, and go on.
            self.spool.ack(damaged.skip)
            (self._dir / INFLIGHT).unlink(missing_ok=True)
            self.counters.unreadable_segments += 1
            return "done"
        if not records and not batch.get("not_captured"):
            (self._dir / INFLIGHT).unlink(missing_ok=True)
            return "done"
        if len(records) < batch["records"]:
            # The spool's size or age bound dropped records of this batch: its contents changed,
            # so it must not reuse the id (the server would answer 409). Re-cut it.
            batch = {**batch, "batch_id": str(uuid.uuid4()), "records": len(records)}
            _write_private(self._dir / INFLIGHT, json.dumps(batch).encode())
        with self._lock:
            self._pending = max(0, self._pending - len(records))
            self._oldest_unsent = time.monotonic() if self._pending else None
        not_captured = batch.get("not_captured")
        body = (
            b'{"schema":"interaction/1","batch_id":"%s","sent_at":%d,"agent":%s,%s"events":[%s]}'
            % (
                batch["batch_id"].encode(),
                batch["sent_at"],
                msgspec.json.encode(self._agent),
                b'"not_captured":%s,' % msgspec.json.encode(not_captured) if not_captured else b"",
                b",".join(records),
            )
        )
        headers = {**self._headers, "Content-Encoding": "gzip"}
        self._retry_after = 0.0
        try:
            status, answer, response_headers = self._transport.post(
                f"/v1/programs/{self.program}/batches", gzip.compress(body, 5), headers
            )
        except OSError:
            return "retry"
        if status == 200:
            self._delivered(cursor, answer, len(records))
            self._count_batch(status)
            return "done"
        if status == 423:
            self._count_batch(status)
            self._paused()
            return "done"
        if status in STOPPING:
            self._count_batch(status)
            self._stop_with(status)
            return "done"
        if status == 413 and len(records) > 1:
            self.counters.splits_413 += 1
            smaller = {**batch, "batch_id": str(uuid.uuid4()), "records": len(records) // 2}
            _write_private(self._dir / INFLIGHT, json.dumps(smaller).encode())
            return "done"
        if status in (400, 409, 413):  # the batch can never be accepted as it is: drop it
            self._count_batch(status)
            self.counters.batches_dropped_400 += 1
            self.counters.events_dropped_400 += len(records)
            self._acknowledge(cursor)
            return "done"
        if status in RETRYABLE:
            retry_after = response_headers.get("Retry-After", "")
            self._retry_after = float(retry_after) if retry_after.isdigit() else 0.0
        return "retry"

    def _delivered(self, cursor: Any, answer: dict[str, Any], sent: int) -> None:
        self._acknowledge(cursor)
        counters = self.counters
        counters.batches_sent += 1
        counters.events_delivered += int(answer.get("accepted", 0))
        for reason, n in dict(answer.get("rejected") or {}).items():
            counters.rejected[reason] = counters.rejected.get(reason, 0) + int(n)
            counters.events_rejected_by_server += int(n)
        for detector, n in dict(answer.get("redactions") or {}).items():
            found = counters.server_redactions
            found[detector] = found.get(detector, 0) + int(n)

    def _count_batch(self, status: int) -> None:
        with self._lock:
            self.counters.batches[status] = self.counters.batches.get(status, 0) + 1

    def _acknowledge(self, cursor: Any) -> None:
        self.spool.ack(cursor)
        (self._dir / INFLIGHT).unlink(missing_ok=True)

    def _paused(self) -> None:
        """The program stopped collecting: capture nothing more and keep nothing. `paused`
        turns true with the wipe done, so a flush that sees it finds the spool empty."""
        with self._lock:
            self.spool.wipe()
            (self._dir / INFLIGHT).unlink(missing_ok=True)
            self.paused = True
        self._idle.set()

    def _stop_with(self, status: int) -> None:
        self.error = STOPPING.get(status, f"HTTP {status}")
        self._idle.set()


def _bounded(counts: dict[str, int]) -> dict[str, int]:
    """Redaction counts as the schema bounds them (an event never holds 10,000 matches)."""
    return {kind: min(n, 10_000) for kind, n in counts.items()}


def _network_problem(exc: OSError) -> str:
    """What went wrong on the network, in a few words that quote nothing sent or received."""
    text = exc.strerror or str(exc)
    if "refused" in text.lower():
        return "connection refused"
    if "timed out" in text.lower():
        return "timed out"
    if "name or service" in text.lower() or "nodename" in text.lower() or "resolution" in text:
        return "unknown host"
    return "network error"


def _write_private(path: Path, data: bytes) -> None:
    """Write a small file atomically, readable by the owner only."""
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(descriptor, data)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)

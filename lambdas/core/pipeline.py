"""The ingest core: JSON bytes -> validated, minimized rows -> Arrow table. No AWS here.

Pure functions over plain data, so the whole data path is tested and benchmarked in isolation.
Envelope problems raise; per-event problems are counted by reason and never fail the batch.
Here: the envelope and its events decoded, then the batch put together from admission
(lambdas/core/admission.py: which events are kept) and row building (lambdas/core/rows.py: the
lake's columns, by name), both under the program's policy applied once per distinct value
(lambdas/core/batch_policy.py).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pyarrow as pa

from ilake_contract import schema as s
from ilake_contract.redact import Redactor
from ilake_contract.validation import DAY_MS as DAY_MS  # settings and tests read it here
from ilake_contract.validation import (
    INVALID_REASONS,
    MAX_CLOCK_SKEW_MS,
    MAX_EVENT_AGE_MS,
    POLICY_REASONS,
    SERVER_ONLY_REASONS,
    lenient,
    reason,
)

from .admission import admit
from .batch_policy import BatchPolicy
from .common_text import pending_ids
from .errors import MalformedBatch, TooLarge, UnsupportedSchema
from .programs import Program
from .pseudonym import Pseudonymizer
from .rows import build_rows


@dataclass(frozen=True, slots=True)
class Limits:
    max_body_bytes: int = 5 * 1024 * 1024
    max_events: int = 10_000
    max_event_age_ms: int = MAX_EVENT_AGE_MS  # agents spool offline; older events are refused
    max_clock_skew_ms: int = MAX_CLOCK_SKEW_MS


@dataclass(slots=True)
class BatchOutcome:
    batch_id: str
    table: pa.Table | None
    accepted: int
    rejected: dict[str, int]
    redactions: dict[str, int]
    redacted_events: int = 0  # stored events holding a placeholder (agent's or ours)
    # id -> canonical text of every text kept in "common" mode: in memory only, to release the
    # texts that are common (the rows hold only the ids until then)
    common_texts: dict[str, str] = field(default_factory=dict)
    # what the agents did before sending, in counts: redactions in the stored events, by
    # detector, and events they did not capture since their previous batch, by reason
    agent_redactions: dict[str, int] = field(default_factory=dict)
    not_captured: dict[str, int] = field(default_factory=dict)


# --- envelope --------------------------------------------------------------------------------

_ENVELOPE = msgspec.json.Decoder(s.Envelope)
_SCHEMA_OK = re.compile(r"interaction/1(?:\.\d{1,4})?")
# the path msgspec names, never a value: `$.agent.os`, `$.not_captured[...]` (a dict's value),
# "`key` in `$.not_captured`" (a dict's key)
_FIELD_PATH = re.compile(r" - at (?:`key` in )?`(\$(?:\.[a-z_]+|\[\d+\]|\[\.\.\.\])*)`$")


def decode_envelope(body: bytes) -> s.Envelope:
    """Parse the batch envelope; the events stay raw. Raises 400s that name only our fields."""
    try:
        envelope = _ENVELOPE.decode(body)
    except msgspec.ValidationError as exc:
        raise MalformedBatch(detail=_safe_path(exc)) from None
    except (msgspec.DecodeError, RecursionError):  # deep nesting is refused, not a crash
        raise MalformedBatch("the body is not valid JSON") from None
    except UnicodeDecodeError:  # msgspec raises it for invalid UTF-8 inside a string
        raise MalformedBatch(_NOT_UTF8) from None
    if not _SCHEMA_OK.fullmatch(envelope.schema):
        raise UnsupportedSchema()
    return envelope


_NOT_UTF8 = "the body is not valid UTF-8"


def _safe_path(exc: msgspec.ValidationError) -> str | None:
    match = _FIELD_PATH.search(str(exc))
    return match.group(1) if match else None


# --- events ----------------------------------------------------------------------------------

_EVENTS = msgspec.json.Decoder(list[s.Event])
_RAW_EVENTS = msgspec.json.Decoder(list[msgspec.Raw])
_ONE_EVENT = msgspec.json.Decoder(s.Event)
_ANY = msgspec.json.Decoder()


def decode_events(raw: msgspec.Raw, limits: Limits) -> tuple[list[Any], Counter[str], int]:
    """Typed events, rejections by reason, and the number of unknown fields dropped.

    Fast path: the whole array in one strict decode. Only a batch with a problem pays for the
    event-by-event path that tells which events are bad and why.
    """
    try:
        events = _EVENTS.decode(raw)
    except (msgspec.ValidationError, RecursionError):
        pass
    except UnicodeDecodeError:  # the envelope keeps events raw, so their UTF-8 is checked here
        raise MalformedBatch(_NOT_UTF8) from None
    else:
        if len(events) > limits.max_events:
            raise TooLarge()
        return events, Counter(), 0
    try:
        raws = _RAW_EVENTS.decode(raw)
    except (msgspec.ValidationError, RecursionError):
        raise MalformedBatch(detail="$.events") from None
    if len(raws) > limits.max_events:
        raise TooLarge()
    try:
        return _decode_one_by_one(raws)
    except UnicodeDecodeError:  # the body is not JSON text: the whole batch is malformed
        raise MalformedBatch(_NOT_UTF8) from None


def _decode_one_by_one(raws: list[msgspec.Raw]) -> tuple[list[Any], Counter[str], int]:
    """The slow path: each event judged on its own, unknown fields dropped and counted."""
    good: list[Any] = []
    rejected: Counter[str] = Counter()
    dropped_fields = 0
    for item in raws:
        try:
            good.append(_ONE_EVENT.decode(item))
            continue
        except RecursionError:
            rejected["invalid_event"] += 1
            continue
        except msgspec.ValidationError as exc:
            if "unknown field" not in str(exc):
                rejected[reason(exc)] += 1
                continue
        # Unknown fields (e.g. from a newer minor schema): drop them, count them, judge the rest.
        try:
            obj = _ANY.decode(item)
        except msgspec.ValidationError as exc:  # a value no type can hold (1e400) in an extra
            rejected[reason(exc)] += 1
            continue
        verdict = lenient(obj)
        if isinstance(verdict, str):
            rejected[verdict] += 1
            continue
        good.append(verdict[0])
        dropped_fields += verdict[1]
    return good, rejected, dropped_fields


# The reasons an agent may give for events it did not capture: its policy's own, and ours (it
# refuses what we would refuse). Any other code is counted as "other": metric names stay bounded.
NOT_CAPTURED_REASONS = frozenset(
    {"type_not_collected", "no_stand_in"}
    | set(INVALID_REASONS)
    | set(POLICY_REASONS)
    | set(SERVER_ONLY_REASONS)
)


def not_captured(claimed: dict[str, int] | None) -> dict[str, int]:
    """An agent's not-captured counts with unknown reason codes folded into "other"."""
    if not claimed:
        return {}
    folded: Counter[str] = Counter()
    for code, n in claimed.items():
        folded[code if code in NOT_CAPTURED_REASONS else "other"] += n
    return dict(folded)


# --- the batch -------------------------------------------------------------------------------

# What an agent's version and OS may look like to be stored; anything else is stored as "other"
_AGENT_FIELD = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._+-]{0,63}")


def process_batch(
    envelope: s.Envelope,
    program: Program,
    pseudonyms: Pseudonymizer,
    *,
    received_at_ms: int,
    limits: Limits = Limits(),
    suppressed_subjects: frozenset[str] = frozenset(),
    redactor: Redactor | None = None,
) -> BatchOutcome:
    """Validate, minimize and tabulate one batch under `program`'s policy: decode the events,
    admit them (lambdas/core/admission.py), build their rows (lambdas/core/rows.py)."""
    events, rejected, dropped_fields = decode_events(envelope.events, limits)
    policy = BatchPolicy(
        program, pseudonyms, redactor or Redactor(program.text.detectors, program.url_mode), events
    )
    extra: Counter[str] = Counter()
    if dropped_fields:
        extra["unknown_field"] = dropped_fields
    batch_id = str(envelope.batch_id)
    agent_version = policy.token(envelope.agent.version, _AGENT_FIELD)
    agent_os = policy.token(envelope.agent.os, _AGENT_FIELD)
    admitted = admit(
        events,
        policy,
        rejected,
        earliest_ms=received_at_ms - limits.max_event_age_ms,
        latest_ms=received_at_ms + limits.max_clock_skew_ms,
        suppressed_subjects=suppressed_subjects,
    )
    if not admitted.events:
        return BatchOutcome(
            batch_id,
            None,
            0,
            dict(rejected),
            dict(extra),
            not_captured=not_captured(envelope.not_captured),
        )
    rows = build_rows(
        admitted,
        policy,
        batch_id=batch_id,
        received_at_ms=received_at_ms,
        agent_version=agent_version,
        agent_os=agent_os,
    )
    return BatchOutcome(
        batch_id,
        rows.table,
        rows.table.num_rows,
        dict(rejected),
        rows.tally.totals(extra),
        rows.redacted_rows,
        _stored_texts(policy.common_texts, rows.table),
        agent_redactions=dict(rows.claimed),
        not_captured=not_captured(envelope.not_captured),
    )


def _stored_texts(texts: dict[str, str], table: pa.Table) -> dict[str, str]:
    """The common texts of the rows kept (not of events refused after their texts were read)."""
    if not texts:
        return {}
    stored = pending_ids(table)
    return {tid: text for tid, text in texts.items() if tid in stored}

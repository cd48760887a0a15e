"""The ingest core: JSON bytes -> validated, minimized rows -> Arrow table. No AWS here.

Pure functions over plain data, so the whole data path is tested and benchmarked in isolation.
Per-event problems are counted by reason and never fail the batch; envelope problems raise.
Texts, pseudonyms and app decisions repeat heavily inside a batch (every event carries its
window title), so each is computed once per batch and memoized for that batch only: nothing
submitted outlives the request.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import msgspec
import pyarrow as pa

from ilake_contract import schema as s
from ilake_contract.redact import Redactor, normalize
from ilake_contract.validation import DAY_MS as DAY_MS  # settings and tests read it here
from ilake_contract.validation import (
    INVALID_REASONS,
    MAX_CLOCK_SKEW_MS,
    MAX_EVENT_AGE_MS,
    POINTER_TYPES,
    POLICY_REASONS,
    SERVER_ONLY_REASONS,
    lenient,
    reason,
)
from ilake_contract.vocabulary import (
    CAPTURE_REASONS,
    MIME,
    MODIFIER_ORDER,
    ROLE,
    classify_key,
    safe_token,
    shortcut_key,
    text_classes,
)

from .common_text import canonical, pending_ids, text_id
from .errors import MalformedBatch, TooLarge, UnsupportedSchema
from .lake import INTERACTIONS, SCHEMA_VERSION
from .prefilter import BULK_MIN_TEXTS, redact_all
from .programs import Program
from .pseudonym import Pseudonymizer


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


# --- per-field policy ------------------------------------------------------------------------

_AGENT_FIELD = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._+-]{0,63}")


@dataclass(slots=True)
class _BatchContext:
    """Per-batch memo tables; dropped with the batch, so nothing submitted outlives it."""

    program: Program
    pseudonyms: Pseudonymizer
    redactor: Redactor
    events: list[Any]  # the batch's, for the bulk prefilter
    common_texts: dict[str, str] = field(default_factory=dict)
    _bulk_done: bool = False
    _pids: dict[tuple[str, str], str] = field(default_factory=dict)
    _texts: dict[tuple[str, str], _Kept] = field(default_factory=dict)
    _who: dict[tuple[str, str, str], _Who] = field(default_factory=dict)
    _places: dict[tuple[Any, ...], _Place | None] = field(default_factory=dict)
    _origins: dict[tuple[Any, ...], tuple[_Who, _Place | None]] = field(default_factory=dict)
    _apps: dict[s.App | None, tuple[str | None, str | None, dict[str, int]] | None] = field(
        default_factory=dict
    )

    def pid(self, kind: str, value: str) -> str:
        key = (kind, value)
        pid = self._pids.get(key)
        if pid is None:
            pid = self._pids[key] = self.pseudonyms.pid(kind, value)
        return pid

    def text(self, mode: str, value: str | None) -> _Kept:
        """Apply a text mode to one value, memoized: (what the row keeps in clear, the text's
        id in "common" modes, redactions). Modes: the program's drop, hash and common; "url"
        (a URL in common mode: its host is the text); "redact" for app names and tokens."""
        if value is None or mode == "drop":
            return _NOTHING
        key = (mode, value)
        done = self._texts.get(key)
        if done is None:
            done = self._texts[key] = self._apply(mode, value)
        return done

    def _apply(self, mode: str, value: str) -> _Kept:
        if mode == "hash":
            return self.pseudonyms.text_hash(normalize(value)), None, _NO_COUNTS
        if mode == "url":
            result = self.redactor.redact(value if "://" in value else f"https://{value}")
            single = result.counts.get("url") == 1 and " " not in result.text
            return None, self._common(result.text) if single else None, result.counts or _URL
        result = self.redactor.redact(value)
        if mode == "common":
            return None, self._common(result.text), result.counts
        return result.text, None, result.counts

    def prefetch(self) -> None:
        """Redact the batch's distinct window titles at once, with the detectors' triggers found
        in bulk: called when a batch turns out to have many (a browser-heavy person's batch,
        every title new), so that a typical batch, a few windows over and over, never pays for
        looking. Target names and menu labels are a program's own labels: they repeat, and are
        redacted one at a time as they come."""
        self._bulk_done = True
        if self.program.text.window_titles != "common":
            return
        memo, common = self._texts, self._common
        titles = list(
            {
                ev.window.title
                for ev in self.events
                if ev.window is not None
                and ev.window.title is not None
                and ("common", ev.window.title) not in memo
            }
        )
        for title, result in zip(titles, redact_all(self.redactor, titles), strict=True):
            memo["common", title] = (None, common(result.text), result.counts)

    def _common(self, redacted: str) -> str | None:
        """The id of a text kept in "common" mode; the text stays in memory, for release."""
        text = canonical(redacted)
        if not text:
            return None
        tid = text_id(self.pseudonyms, text)
        self.common_texts[tid] = text
        return tid

    def token(
        self, value: str | None, pattern: re.Pattern[str], *, lower: bool = False
    ) -> str | None:
        """A token-shaped value (MIME type, agent version), or "other". The shape alone
        is not enough: a bare secret has it too ("application/4111111111111111"), so a value in
        which a detector finds anything is "other" as well."""
        if value is None:
            return None
        kept = safe_token(value.lower() if lower else value, pattern)
        if kept != "other" and self.text("redact", value)[2]:
            return "other"
        return kept

    def origin(self, ev: Any) -> tuple[_Who, _Place | None]:
        """Who sent an event and where it happened (None: the app is denied). Consecutive
        events share both, so one lookup answers most events; a new title costs only its place
        (the people behind it are memoized apart)."""
        key = (ev.subject, ev.device_id, ev.session_id, ev.app, ev.window)
        origin = self._origins.get(key)
        if origin is None:
            who = self.who(ev.subject, ev.device_id, ev.session_id)
            origin = self._origins[key] = (who, self.place(ev.app, ev.window))
        return origin

    def who(self, subject: str, device: str, session: str) -> _Who:
        """The pseudonyms of who sent an event: the same for all of a session's events."""
        key = (subject, device, session)
        who = self._who.get(key)
        if who is None:
            who = self._who[key] = _Who(
                self.pid("subject", subject),
                self.pid("device", device),
                self.pid("session", session),
            )
        return who

    def place(self, app: s.App | None, window: s.Window | None) -> _Place | None:
        """Where an event happened (app and window, as the policy keeps them), or None if the
        app is denied. Consecutive events share it, so it is worked out once per distinct one."""
        key = (app, window)
        places = self._places
        if key in places:  # a miss raising KeyError would cost every new title an exception
            return places[key]
        if len(places) == BULK_MIN_TEXTS and not self._bulk_done:
            self.prefetch()
        place = places[key] = self._make_place(app, window)
        return place

    def _make_place(self, app: s.App | None, window: s.Window | None) -> _Place | None:
        kept_app = self._app(app)
        if kept_app is None:
            return None
        policy = self.program.text
        title, url = (window.title, window.url) if window else (None, None)
        kept_title, title_id, title_counts = self.text(policy.window_titles, title)
        host, host_id, host_counts = self.text("url" if policy.urls == "common" else "drop", url)
        return _Place(
            kept_app[0],
            kept_app[1],
            kept_title,
            title_id,
            host,
            host_id,
            _merge(kept_app[2], title_counts, host_counts),
        )

    def _app(self, app: s.App | None) -> tuple[str | None, str | None, dict[str, int]] | None:
        """An app as the row keeps it (name, bundle id, their redactions), or None if denied:
        once per app, whatever windows it shows."""
        if app in self._apps:
            return self._apps[app]
        name, bundle_id = (app.name, app.bundle_id) if app else (None, None)
        kept: tuple[str | None, str | None, dict[str, int]] | None = None
        if not self.program.app_denied(name, bundle_id):
            kept_name, _, name_counts = self.text("redact", name)
            kept_bundle, _, bundle_counts = self.text("redact", bundle_id)
            kept = (kept_name, kept_bundle, _merge(name_counts, bundle_counts))
        self._apps[app] = kept
        return kept


class _Who(NamedTuple):
    subject_pid: str
    device_pid: str
    session_pid: str


class _Place(NamedTuple):
    app_name: str | None
    bundle_id: str | None
    title: str | None
    title_id: str | None
    host: str | None
    host_id: str | None
    counts: dict[str, int]


_Kept = tuple[str | None, str | None, dict[str, int]]  # see _BatchContext.text
_NO_COUNTS: dict[str, int] = {}
_NOTHING: _Kept = (None, None, _NO_COUNTS)
_URL = {"url": 1}
_CLIPBOARD_CONTENT = {"clipboard_content": 1}


def _merge(*parts: dict[str, int]) -> dict[str, int]:
    nonempty = [p for p in parts if p]
    if len(nonempty) <= 1:
        return nonempty[0] if nonempty else _NO_COUNTS
    merged: Counter[str] = Counter()
    for part in nonempty:
        merged.update(part)
    return dict(merged)


class _Tally:
    """Redaction totals for the batch. Per-event count dicts are shared (memoized) objects, so
    they are tallied by identity and multiplied out once at the end."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: dict[int, list[Any]] = {}

    def add(self, counts: dict[str, int]) -> None:
        entry = self._seen.get(id(counts))
        if entry is None:
            self._seen[id(counts)] = [counts, 1]
        else:
            entry[1] += 1

    def totals(self, extra: Counter[str]) -> dict[str, int]:
        total = Counter(extra)
        for counts, times in self._seen.values():
            for name, n in counts.items():
                total[name] += n * times
        return dict(total)


# --- the batch -------------------------------------------------------------------------------


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
    """Validate, minimize and tabulate one batch under `program`'s policy."""
    events, rejected, dropped_fields = decode_events(envelope.events, limits)
    text_policy = program.text
    ctx = _BatchContext(
        program, pseudonyms, redactor or Redactor(text_policy.detectors, program.url_mode), events
    )
    extra: Counter[str] = Counter()
    if dropped_fields:
        extra["unknown_field"] = dropped_fields
    tally = _Tally()
    claimed: Counter[str] = Counter()  # the agent's redactions in the events stored
    redacted_rows = 0
    batch_id = str(envelope.batch_id)
    agent_version = ctx.token(envelope.agent.version, _AGENT_FIELD)
    agent_os = ctx.token(envelope.agent.os, _AGENT_FIELD)
    earliest = received_at_ms - limits.max_event_age_ms
    latest = received_at_ms + limits.max_clock_skew_ms
    allowed = program.allowed_types
    sample_ms = program.collect.pointer_sample_ms
    precision = program.collect.coordinate_precision
    target_mode = text_policy.target_names
    menu_mode = text_policy.menu_labels
    policy_version = program.policy_version

    seen: set[str] = set()
    last_move: dict[str, int] = {}
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    for ev in events:
        etype = ev.__struct_config__.tag
        if etype not in allowed:
            rejected["type_not_allowed"] += 1
            continue
        event_id = ev.event_id.lower()
        if event_id in seen:
            rejected["duplicate_event_id"] += 1
            continue
        seen.add(event_id)
        ts = ev.ts
        if ts < earliest or ts > latest:
            rejected["ts_out_of_range"] += 1
            continue
        who, place = ctx.origin(ev)
        if place is None:
            rejected["denied_app"] += 1
            continue
        if who.subject_pid in suppressed_subjects:
            rejected["suppressed_subject"] += 1
            continue
        display = ev.display
        pointer = etype in POINTER_TYPES
        if pointer:
            if display is None:
                rejected["missing_display"] += 1
                continue
            if etype == "pointer.move" and sample_ms:
                previous = last_move.get(ev.session_id)
                if previous is not None and 0 <= ts - previous < sample_ms:
                    rejected["sampled_out"] += 1
                    continue
                last_move[ev.session_id] = ts

        counts = place.counts
        x = y = x2 = y2 = dx = dy = None
        button = clicks = target_role = target_name = target_id = None
        modifiers = key = key_class = menu_path = menu_ids = None
        text_len = letters = digits = spaces = symbols = None
        clip_op = clip_mime = clip_len = reason = None
        if pointer:
            w, h = display.w, display.h
            x = round(min(max(ev.x / w, 0.0), 1.0), precision)
            y = round(min(max(ev.y / h, 0.0), 1.0), precision)
            if etype == "pointer.click":
                button, clicks = ev.button, ev.clicks
            elif etype == "pointer.scroll":
                dx, dy = ev.dx, ev.dy
            elif etype == "pointer.drag":
                x2 = round(min(max(ev.x2 / w, 0.0), 1.0), precision)
                y2 = round(min(max(ev.y2 / h, 0.0), 1.0), precision)
                button = ev.button
        if etype in _TARGET_TYPES and ev.target is not None:
            target = ev.target
            target_role = safe_token(target.role, ROLE)
            name = target.name if target.name is not None else target.automation_id
            target_name, target_id, target_counts = ctx.text(target_mode, name)
            counts = _merge(counts, target_counts)
        if etype == "key.shortcut":
            mods = frozenset(ev.modifiers)
            modifiers = [m for m in MODIFIER_ORDER if m in mods]
            key, key_class = shortcut_key(mods, ev.key)
        elif etype == "key.press":
            key, key_class = classify_key(ev.key)
        elif etype == "text.input":
            text_len, letters, digits, spaces, symbols = text_classes(ev.text)
        elif etype == "menu.select":
            if menu_mode != "drop":
                menu_path = []
                ids = []
                for label in ev.menu_path:
                    kept, label_id, label_counts = ctx.text(menu_mode, label)
                    menu_path.append(kept)
                    ids.append(label_id)
                    counts = _merge(counts, label_counts)
                menu_ids = ids if menu_mode == "common" else None
        elif etype == "clipboard":
            clip_op = ev.op
            clip_mime = ctx.token(ev.mime, MIME, lower=True)
            clip_len = (
                ev.length
                if ev.length is not None
                else (len(ev.content) if ev.content is not None else None)
            )
            if ev.content is not None:
                counts = _merge(counts, _CLIPBOARD_CONTENT)
        elif etype in ("capture.pause", "capture.resume") and ev.reason is not None:
            reason = ev.reason if ev.reason in CAPTURE_REASONS else "other"

        if counts:
            tally.add(counts)
        if ev.redacted:  # replaced by the agent before sending: the row counts it too
            claimed.update(ev.redacted)
            counts = _merge(counts, ev.redacted)
        redacted_rows += bool(counts)
        append(
            (
                event_id,
                batch_id,
                ev.seq,
                ts,
                received_at_ms,
                etype,
                who.subject_pid,
                who.device_pid,
                who.session_pid,
                place.app_name,
                place.bundle_id,
                place.title,
                place.title_id,
                place.host,
                place.host_id,
                display.w if display else None,
                display.h if display else None,
                display.scale if display else None,
                x,
                y,
                x2,
                y2,
                button,
                clicks,
                dx,
                dy,
                target_role,
                target_name,
                target_id,
                modifiers,
                key,
                key_class,
                menu_path,
                menu_ids,
                text_len,
                letters,
                digits,
                spaces,
                symbols,
                clip_op,
                clip_mime,
                clip_len,
                reason,
                _items(counts) if counts else None,
                agent_version,
                agent_os,
                policy_version,
                SCHEMA_VERSION,
            )
        )

    table = rows_to_table(rows) if rows else None
    return BatchOutcome(
        batch_id,
        table,
        len(rows),
        dict(rejected),
        tally.totals(extra),
        redacted_rows,
        _stored_texts(ctx.common_texts, table),
        agent_redactions=dict(claimed),
        not_captured=not_captured(envelope.not_captured),
    )


def _stored_texts(texts: dict[str, str], table: pa.Table | None) -> dict[str, str]:
    """The common texts of the rows kept (not of events refused after their texts were read)."""
    if table is None or not texts:
        return {}
    stored = pending_ids(table)
    return {tid: text for tid, text in texts.items() if tid in stored}


_TARGET_TYPES = frozenset({"pointer.click", "text.input", "menu.select"})


def _items(counts: dict[str, int]) -> list[tuple[str, int]]:
    return list(counts.items())


def rows_to_table(rows: list[tuple[Any, ...]]) -> pa.Table:
    columns = zip(*rows, strict=True)
    arrays = [pa.array(col, type=f.type) for col, f in zip(columns, INTERACTIONS, strict=True)]
    return pa.Table.from_arrays(arrays, schema=INTERACTIONS)

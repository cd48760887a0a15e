"""Row building: the admitted events as the lake's columns, each filled by its name.

Every column of `INTERACTIONS` (lambdas/core/lake.py) is filled by name, never by position:
the columns every event has are built whole, and those of a few event types start as nulls and
get a value only where an event of such a type has one. A column of the schema that nothing
fills, a name the schema lacks, or a column filled twice is an error: adding or reordering a
schema field cannot shift a value into another column, nor leave one silently empty.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ilake_contract.validation import POINTER_TYPES
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

from . import lake
from .admission import Admitted
from .batch_policy import BatchPolicy, merge

_TARGET_TYPES = frozenset({"pointer.click", "text.input", "menu.select"})
_CLIPBOARD_CONTENT = {"clipboard_content": 1}


class Columns:
    """A table's columns under construction, by name, for a known number of rows."""

    __slots__ = ("_schema", "_values", "rows")

    def __init__(self, rows: int, schema: pa.Schema) -> None:
        self.rows, self._schema = rows, schema
        self._values: dict[str, list[Any]] = {}

    def put(self, name: str, values: list[Any]) -> None:
        """A whole column: a value (or a null) for every row."""
        if self._schema.get_field_index(name) < 0:
            raise KeyError(f"the lake schema has no column {name!r}")
        if name in self._values:
            raise KeyError(f"column {name!r} is filled twice")
        if len(values) != self.rows:
            raise ValueError(f"column {name!r} has {len(values)} values for {self.rows} rows")
        self._values[name] = values

    def sparse(self, name: str) -> list[Any]:
        """A column of nulls, to be set only at the rows of the event types that have it."""
        values: list[Any] = [None] * self.rows
        self.put(name, values)
        return values

    def table(self) -> pa.Table:
        missing = [name for name in self._schema.names if name not in self._values]
        if missing:
            raise ValueError(f"no values for the lake columns {missing}")
        arrays = [pa.array(self._values[f.name], type=f.type) for f in self._schema]
        return pa.Table.from_arrays(arrays, schema=self._schema)


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


@dataclass(slots=True)
class Rows:
    """The batch's table, and the redactions in it."""

    table: pa.Table
    tally: _Tally  # ours: the policy's redactions in the stored events
    claimed: Counter[str]  # the agent's: placeholders it put in the stored events
    redacted_rows: int  # rows holding a placeholder (the agent's or ours)


def build_rows(
    admitted: Admitted,
    policy: BatchPolicy,
    *,
    batch_id: str,
    received_at_ms: int,
    agent_version: str | None,
    agent_os: str | None,
) -> Rows:
    """The admitted events as a table of the lake schema, one row per event, in batch order."""
    events, types, whos, places = admitted.events, admitted.types, admitted.whos, admitted.places
    n = len(events)
    program = policy.program
    columns = Columns(n, lake.INTERACTIONS)
    put = columns.put

    put("event_id", admitted.event_ids)
    put("batch_id", [batch_id] * n)
    put("seq", [ev.seq for ev in events])
    put("ts", [ev.ts for ev in events])
    put("received_at", [received_at_ms] * n)
    put("type", types)
    put("subject_pid", [who.subject_pid for who in whos])
    put("device_pid", [who.device_pid for who in whos])
    put("session_pid", [who.session_pid for who in whos])
    put("app_name", [place.app_name for place in places])
    put("app_bundle_id", [place.bundle_id for place in places])
    put("window_title", [place.title for place in places])
    put("window_title_id", [place.title_id for place in places])
    put("window_host", [place.host for place in places])
    put("window_host_id", [place.host_id for place in places])
    displays = [ev.display for ev in events]
    put("display_w", [d.w if d is not None else None for d in displays])
    put("display_h", [d.h if d is not None else None for d in displays])
    put("display_scale", [d.scale if d is not None else None for d in displays])
    put("agent_version", [agent_version] * n)
    put("agent_os", [agent_os] * n)
    put("policy_version", [program.policy_version] * n)
    put("schema_version", [lake.SCHEMA_VERSION] * n)

    sparse = columns.sparse
    x, y, x2, y2 = sparse("x"), sparse("y"), sparse("x2"), sparse("y2")
    button, clicks = sparse("button"), sparse("clicks")
    scroll_dx, scroll_dy = sparse("scroll_dx"), sparse("scroll_dy")
    target_role, target_name = sparse("target_role"), sparse("target_name")
    target_name_id = sparse("target_name_id")
    modifiers, key, key_class = sparse("modifiers"), sparse("key"), sparse("key_class")
    menu_path, menu_path_ids = sparse("menu_path"), sparse("menu_path_ids")
    text_length, text_letters = sparse("text_length"), sparse("text_letters")
    text_digits, text_spaces = sparse("text_digits"), sparse("text_spaces")
    text_symbols = sparse("text_symbols")
    clipboard_op, clipboard_mime = sparse("clipboard_op"), sparse("clipboard_mime")
    clipboard_length, capture_reason = sparse("clipboard_length"), sparse("capture_reason")
    redactions = sparse("redactions")

    precision = program.collect.coordinate_precision
    target_mode, menu_mode = program.text.target_names, program.text.menu_labels
    tally = _Tally()
    claimed: Counter[str] = Counter()
    redacted_rows = 0
    for i, (ev, etype, place) in enumerate(zip(events, types, places, strict=True)):
        counts = place.counts
        if etype in POINTER_TYPES:
            display = ev.display  # admission refused pointer events without one
            w, h = display.w, display.h
            x[i] = round(min(max(ev.x / w, 0.0), 1.0), precision)
            y[i] = round(min(max(ev.y / h, 0.0), 1.0), precision)
            if etype == "pointer.click":
                button[i], clicks[i] = ev.button, ev.clicks
            elif etype == "pointer.scroll":
                scroll_dx[i], scroll_dy[i] = ev.dx, ev.dy
            elif etype == "pointer.drag":
                x2[i] = round(min(max(ev.x2 / w, 0.0), 1.0), precision)
                y2[i] = round(min(max(ev.y2 / h, 0.0), 1.0), precision)
                button[i] = ev.button
        if etype in _TARGET_TYPES and ev.target is not None:
            target = ev.target
            target_role[i] = safe_token(target.role, ROLE)
            name = target.name if target.name is not None else target.automation_id
            target_name[i], target_name_id[i], name_counts = policy.text(target_mode, name)
            counts = merge(counts, name_counts)
        if etype == "key.shortcut":
            mods = frozenset(ev.modifiers)
            modifiers[i] = [m for m in MODIFIER_ORDER if m in mods]
            key[i], key_class[i] = shortcut_key(mods, ev.key)
        elif etype == "key.press":
            key[i], key_class[i] = classify_key(ev.key)
        elif etype == "text.input":
            (text_length[i], text_letters[i], text_digits[i], text_spaces[i], text_symbols[i]) = (
                text_classes(ev.text)
            )
        elif etype == "menu.select":
            if menu_mode != "drop":
                labels, ids = [], []
                for label in ev.menu_path:
                    kept, label_id, label_counts = policy.text(menu_mode, label)
                    labels.append(kept)
                    ids.append(label_id)
                    counts = merge(counts, label_counts)
                menu_path[i] = labels
                menu_path_ids[i] = ids if menu_mode == "common" else None
        elif etype == "clipboard":
            clipboard_op[i] = ev.op
            clipboard_mime[i] = policy.token(ev.mime, MIME, lower=True)
            clipboard_length[i] = (
                ev.length
                if ev.length is not None
                else (len(ev.content) if ev.content is not None else None)
            )
            if ev.content is not None:
                counts = merge(counts, _CLIPBOARD_CONTENT)
        elif etype in ("capture.pause", "capture.resume") and ev.reason is not None:
            capture_reason[i] = ev.reason if ev.reason in CAPTURE_REASONS else "other"

        if counts:
            tally.add(counts)
        if ev.redacted:  # replaced by the agent before sending: the row counts it too
            claimed.update(ev.redacted)
            counts = merge(counts, ev.redacted)
        if counts:
            redacted_rows += 1
            redactions[i] = list(counts.items())
    return Rows(columns.table(), tally, claimed, redacted_rows)

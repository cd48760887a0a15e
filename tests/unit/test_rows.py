"""Rows are filled by column name: every column of a stored row checked by name for an event of
each type, and the same rows whatever the order of the lake schema's fields."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from ilake_contract.schema import EVENT_TYPES
from lambdas.core import lake
from lambdas.core.common_text import text_id
from lambdas.core.pseudonym import Pseudonymizer
from tests.support.builders import RECEIVED_AT_MS, SECRET, make_event, make_program
from tests.support.data_path import rows, run

PSEUDONYMS = Pseudonymizer(SECRET)
BATCH_ID = "3f2c4a9e-8b7d-4c61-9e0f-2a1b3c4d5e6f"
TS = RECEIVED_AT_MS - 60_000
DISPLAY = {"w": 2000, "h": 1000, "scale": 2.0}
WINDOW = {"title": "main.py - project", "url": "https://docs.example.org/page?q=1"}

# Per event type: its fields as sent, and the columns its row has beyond every row's own.
BY_TYPE: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "pointer.move": ({"x": 500, "y": 750}, {"x": 0.25, "y": 0.75}),
    "pointer.click": (
        {
            "x": 1500, "y": 100, "button": "right", "clicks": 2,
            "target": {"role": "button", "name": "Save"},
        },
        {
            "x": 0.75, "y": 0.1, "button": "right", "clicks": 2,
            "target_role": "button", "target_name": "Save",
            "target_name_id": text_id(PSEUDONYMS, "Save"),
        },
    ),
    "pointer.scroll": (
        {"x": 200, "y": 300, "dx": 1.5, "dy": -3.0},
        {"x": 0.1, "y": 0.3, "scroll_dx": 1.5, "scroll_dy": -3.0},
    ),
    "pointer.drag": (
        {"x": 600, "y": 400, "x2": 1000, "y2": 900, "button": "middle"},
        {"x": 0.3, "y": 0.4, "x2": 0.5, "y2": 0.9, "button": "middle"},
    ),
    "key.shortcut": (
        {"modifiers": ["shift", "ctrl"], "key": "S"},
        {"modifiers": ["ctrl", "shift"], "key": "s", "key_class": "letter"},
    ),
    "key.press": ({"key": "Enter"}, {"key": "Enter", "key_class": "named"}),
    "text.input": (
        {"text": "hi 42!?", "target": {"role": "textbox", "name": "Search"}},
        {
            "text_length": 7, "text_letters": 2, "text_digits": 2, "text_spaces": 1,
            "text_symbols": 2, "target_role": "textbox", "target_name": "Search",
            "target_name_id": text_id(PSEUDONYMS, "Search"),
        },
    ),
    "menu.select": (
        {"menu_path": ["File", "Save As"]},
        {
            "menu_path": ["File", "Save As"],
            "menu_path_ids": [text_id(PSEUDONYMS, "File"), text_id(PSEUDONYMS, "Save As")],
        },
    ),
    "window.focus": ({}, {}),
    "clipboard": (
        {"op": "cut", "mime": "text/html", "length": 12},
        {"clipboard_op": "cut", "clipboard_mime": "text/html", "clipboard_length": 12},
    ),
    "capture.pause": ({"reason": "idle"}, {"capture_reason": "idle"}),
    "capture.resume": ({"reason": "reboot"}, {"capture_reason": "other"}),
}  # fmt: skip


def sent(etype: str, seq: int) -> dict[str, Any]:
    fields, _ = BY_TYPE[etype]
    return make_event(
        etype,
        seq=seq,
        ts=TS + seq,
        display=DISPLAY,
        window=WINDOW,
        redacted={"email": seq + 1},  # placeholders the agent put in: counted in the row
        **fields,
    )


def expected(etype: str, event: dict[str, Any], batch_id: str) -> dict[str, Any]:
    """The row of `event`, every column named: nulls but where its type has a value."""
    _, columns = BY_TYPE[etype]
    assert set(columns) <= set(lake.COLUMNS)
    seq = event["seq"]
    return dict.fromkeys(lake.COLUMNS) | {
        "event_id": event["event_id"].lower(),
        "batch_id": batch_id,
        "seq": seq,
        "ts": datetime.fromtimestamp((TS + seq) / 1000, UTC),
        "received_at": datetime.fromtimestamp(RECEIVED_AT_MS / 1000, UTC),
        "type": etype,
        "subject_pid": PSEUDONYMS.pid("subject", "jdoe"),
        "device_pid": PSEUDONYMS.pid("device", "LAPTOP-42"),
        "session_pid": PSEUDONYMS.pid("session", "session-1"),
        "app_name": "Visual Studio Code",
        "app_bundle_id": "com.microsoft.VSCode",
        "window_title": "main.py - project",
        "window_title_id": text_id(PSEUDONYMS, "main.py - project"),
        "window_host": "docs.example.org",
        "window_host_id": text_id(PSEUDONYMS, "docs.example.org"),
        "display_w": 2000,
        "display_h": 1000,
        "display_scale": 2.0,
        "redactions": [("url", 1), ("email", seq + 1)],
        "agent_version": "1.4.2",
        "agent_os": "macos",
        "policy_version": "unit-test@3",
        "schema_version": lake.SCHEMA_VERSION,
        **columns,
    }


def every_type() -> tuple[list[dict[str, Any]], list[str]]:
    types = sorted(EVENT_TYPES)
    assert set(types) == set(BY_TYPE)
    events = [sent(etype, seq) for seq, etype in enumerate(types, start=1)]
    events[0]["event_id"] = events[0]["event_id"].upper()  # stored lower-cased
    return events, types


def stored(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    outcome = run(events, make_program(), batch_id=BATCH_ID)
    assert outcome.rejected == {}
    return rows(outcome)


def test_every_column_of_every_event_type_holds_its_own_value() -> None:
    events, types = every_type()
    got = stored(events)
    assert [row["type"] for row in got] == types
    for etype, event, row in zip(types, events, got, strict=True):
        want = expected(etype, event, BATCH_ID)
        assert list(row) == list(lake.COLUMNS)
        for name in lake.COLUMNS:
            assert row[name] == want[name], f"{etype}: column {name}"


def test_a_reordered_schema_stores_the_same_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    events, _ = every_type()
    as_declared = stored(events)
    fields = list(lake.INTERACTIONS)
    shuffled = pa.schema(fields[1::2] + fields[-2::-2])  # every field, none where it was
    assert all(a.name != b.name for a, b in zip(fields, shuffled, strict=True))
    monkeypatch.setattr(lake, "INTERACTIONS", shuffled)
    reordered = stored(events)
    assert [list(row) for row in reordered] == [shuffled.names] * len(events)
    assert reordered == as_declared  # dicts: the same value under every name


def test_a_column_nothing_fills_or_a_name_the_schema_lacks_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events, _ = every_type()
    declared = lake.INTERACTIONS
    monkeypatch.setattr(lake, "INTERACTIONS", declared.append(pa.field("new", pa.string())))
    with pytest.raises(ValueError, match="new"):
        run(events, make_program())
    narrowed = pa.schema([f for f in declared if f.name != "clicks"])
    monkeypatch.setattr(lake, "INTERACTIONS", narrowed)
    with pytest.raises(KeyError, match="clicks"):
        run(events, make_program())

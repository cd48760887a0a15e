"""Builders: one valid event per type, a batch around it, program files and programs."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import msgspec

from ilake_contract.schema import EVENT_TYPES
from lambdas.core.programs import Program, parse_program

PROGRAMS_DIR = Path(__file__).resolve().parents[2] / "programs"
RECEIVED_AT_MS = 1_800_000_000_000  # 2027-01-15T08:00:00Z
SECRET = b"unit-test-secret-0123456789abcdef"
DISPLAY = {"w": 2000, "h": 1000, "scale": 1.0}

_TYPE_FIELDS: dict[str, dict[str, Any]] = {
    "pointer.move": {"x": 500, "y": 250},
    "pointer.click": {"x": 500, "y": 250, "button": "left", "clicks": 1},
    "pointer.scroll": {"x": 500, "y": 250, "dx": 0.0, "dy": -3.0},
    "pointer.drag": {"x": 500, "y": 250, "x2": 1000, "y2": 500, "button": "left"},
    "key.shortcut": {"modifiers": ["ctrl"], "key": "s"},
    "key.press": {"key": "Enter"},
    "text.input": {"text": "hello"},
    "menu.select": {"menu_path": ["File", "Save"]},
    "window.focus": {},
    "clipboard": {"op": "copy", "mime": "text/plain"},
    "capture.pause": {"reason": "user"},
    "capture.resume": {"reason": "user"},
}


def make_event(etype: str = "pointer.click", **fields: Any) -> dict[str, Any]:
    """A valid event of `etype`; keyword fields override, a value of None removes the field."""
    event: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "type": etype,
        "ts": RECEIVED_AT_MS - 60_000,
        "seq": 1,
        "session_id": "session-1",
        "subject": "jdoe",
        "device_id": "LAPTOP-42",
        "app": {"name": "Visual Studio Code", "bundle_id": "com.microsoft.VSCode"},
        "window": {"title": "main.py - project"},
        "display": dict(DISPLAY),
        **_TYPE_FIELDS.get(etype, {}),
    }
    event.update(fields)
    return {k: v for k, v in event.items() if v is not None}


def make_batch(events: list[Any], **fields: Any) -> dict[str, Any]:
    batch: dict[str, Any] = {
        "schema": "interaction/1",
        "batch_id": str(uuid.uuid4()),
        "sent_at": RECEIVED_AT_MS - 1_000,
        "agent": {"version": "1.4.2", "os": "macos", "os_version": "15.1"},
        "events": events,
    }
    batch.update(fields)
    return {k: v for k, v in batch.items() if v is not None}


def encode(batch: dict[str, Any]) -> bytes:
    return json.dumps(batch).encode()


PROGRAM_HEADER = """\
name = "{name}"
version = 3
purpose = "Unit-test program with a purpose long enough"
owner = "ml-platform@example.com"
lawful_basis = "consent"
dpia_ref = "DPIA-TEST-1"
notice_version = "2026-01"
retention_days = 30
"""


def toml_value(value: Any) -> str:
    return json.dumps(value)  # strings, ints and lists of strings are the same in TOML and JSON


def program_toml(name: str = "unit-test", **sections: dict[str, Any]) -> str:
    """A program file; `sections` maps a table name (collect, text, apps) to its keys."""
    lines = [PROGRAM_HEADER.format(name=name)]
    for section, keys in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {toml_value(value)}" for key, value in keys.items())
    return "\n".join(lines) + "\n"


def make_program(
    *,
    collect: dict[str, Any] | None = None,
    text: dict[str, Any] | None = None,
    apps: dict[str, Any] | None = None,
) -> Program:
    """A permissive program (every type, no sampling, every text and URL host kept in "common"
    mode at the lowest threshold), with any key overridden per section."""
    sections = {
        "collect": {
            "event_types": sorted(EVENT_TYPES),
            "pointer_sample_ms": 0,
            "coordinate_precision": 4,
            **(collect or {}),
        },
        "text": {
            "window_titles": "common",
            "target_names": "common",
            "menu_labels": "common",
            "urls": "common",
            "min_people": 5,
            **(text or {}),
        },
    }
    if apps:
        sections["apps"] = apps
    return parse_program(program_toml(**sections).encode(), "unit-test.toml", "unit-test")


def without_sampling(program: Program) -> Program:
    """`program` with pointer sampling off: the agent captures every move, the server keeps
    one per interval, so the agent's counts compare to the server's without sampling."""
    collect = msgspec.structs.replace(program.collect, pointer_sample_ms=0)
    return Program(msgspec.structs.replace(program.file, collect=collect), program.digest)

"""Event schema v1 (docs/event-schema.md): what agents send, as typed msgspec structs.

msgspec decodes and validates in one C pass (~735k events/s here, ~4x pydantic), so the limits
(string lengths, numeric ranges, enums) live in the types. Every struct forbids unknown fields so
the fast path can tell a conforming event from one carrying extra data; the ingest pipeline then
falls back to a lenient decoder that drops and counts the extras (docs/design.md#fail-closed).
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from .redact import DETECTORS

SCHEMA_MAJOR = "interaction/1"
# A program's name: a partition value, a key alias and a URL path segment.
PROGRAM_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")

# Epoch milliseconds between 2000-01-01 and 2100-01-01: anything outside is a broken clock or a
# hostile value. The pipeline narrows this further relative to the arrival time.
EpochMs = Annotated[int, Meta(ge=946_684_800_000, le=4_102_444_800_000)]
Coordinate = Annotated[float, Meta(ge=-1_000_000, le=1_000_000)]  # also refuses NaN/inf
Delta = Annotated[float, Meta(ge=-100_000, le=100_000)]
# A UUID checked as text: ~2x faster than decoding uuid.UUID and formatting it back.
EventId = Annotated[
    str,
    Meta(pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"),
]
Id = Annotated[str, Meta(min_length=1, max_length=256)]
ShortText = Annotated[str, Meta(max_length=256)]
Title = Annotated[str, Meta(max_length=1024)]
UrlText = Annotated[str, Meta(max_length=4096)]
KeyName = Annotated[str, Meta(min_length=1, max_length=32)]
Pixels = Annotated[int, Meta(ge=1, le=100_000)]
# Typed text and clipboard bodies are never stored; the caps only bound the work of measuring them.
Body = Annotated[str, Meta(max_length=1_048_576)]

# What an agent already replaced or left out of an event before sending it, in counts only: the
# server adds them to the row's `redactions`, so the lake counts every placeholder it holds.
REDACTION_KINDS: tuple[str, ...] = (*DETECTORS, "unknown_field", "clipboard_content")
RedactionKind = Annotated[str, Meta(pattern=f"^(?:{'|'.join(REDACTION_KINDS)})$")]
Redacted = Annotated[
    dict[RedactionKind, Annotated[int, Meta(ge=1, le=10_000)]],
    Meta(
        max_length=32,
        description="Set by the agent SDK, never by a recorder: what it replaced with a "
        "placeholder (by detector) or left out (`unknown_field`, `clipboard_content`) before "
        "sending, in counts. Added to the stored row's `redactions`.",
    ),
]
# Why an agent did not capture events since its previous batch (its policy or its validation):
# a reason code, never content. Codes the server does not know are counted as "other".
ReasonCode = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
NotCaptured = Annotated[
    dict[ReasonCode, Annotated[int, Meta(ge=1, le=100_000_000)]],
    Meta(
        max_length=32,
        description="Events the agent did not capture since its previous batch, by reason "
        "(its policy's or its validation's), in counts. Counted in the `NotCaptured.<reason>` "
        "metrics when the batch is first stored; reasons the server does not know count as "
        "`other`.",
    ),
]

Button = Literal["left", "right", "middle", "back", "forward"]
Modifier = Literal["ctrl", "alt", "shift", "meta"]


class _Strict(Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """Base for events: unknown fields are detected (then dropped and counted)."""


class _Nested(Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True, frozen=True):
    """Nested objects are frozen, hence hashable: the pipeline memoizes per (app, window)."""


class App(_Nested, frozen=True):
    name: ShortText | None = None
    bundle_id: ShortText | None = None


class Window(_Nested, frozen=True):
    title: Title | None = None
    url: UrlText | None = None


class Display(_Nested, frozen=True):
    w: Pixels
    h: Pixels
    scale: Annotated[float, Meta(gt=0, le=16)] = 1.0


class Target(_Nested, frozen=True):
    role: Annotated[str, Meta(max_length=64)] | None = None
    name: Title | None = None
    automation_id: ShortText | None = None


class Agent(Struct, kw_only=True):
    version: Annotated[str, Meta(max_length=64)]
    os: Annotated[str, Meta(max_length=32)]
    os_version: Annotated[str, Meta(max_length=64)] | None = None


class EventBase(_Strict, tag_field="type"):
    """Fields every event carries."""

    event_id: EventId
    ts: EpochMs
    seq: Annotated[int, Meta(ge=0, le=2**53)]
    session_id: Id
    subject: Id
    device_id: Id
    app: App | None = None
    window: Window | None = None
    display: Display | None = None
    redacted: Redacted | None = None  # set by the agent SDK, counts only


class PointerMove(EventBase, tag="pointer.move", kw_only=True):
    x: Coordinate
    y: Coordinate


class PointerClick(EventBase, tag="pointer.click", kw_only=True):
    x: Coordinate
    y: Coordinate
    button: Button = "left"
    clicks: Annotated[int, Meta(ge=1, le=5)] = 1
    target: Target | None = None


class PointerScroll(EventBase, tag="pointer.scroll", kw_only=True):
    x: Coordinate
    y: Coordinate
    dx: Delta = 0.0
    dy: Delta = 0.0


class PointerDrag(EventBase, tag="pointer.drag", kw_only=True):
    x: Coordinate
    y: Coordinate
    x2: Coordinate
    y2: Coordinate
    button: Button = "left"


class KeyShortcut(EventBase, tag="key.shortcut", kw_only=True):
    modifiers: Annotated[list[Modifier], Meta(max_length=4)]
    key: KeyName


class KeyPress(EventBase, tag="key.press", kw_only=True):
    key: KeyName


class TextInput(EventBase, tag="text.input", kw_only=True):
    target: Target | None = None
    text: Body = ""


class MenuSelect(EventBase, tag="menu.select", kw_only=True):
    menu_path: Annotated[list[ShortText], Meta(max_length=16)]
    target: Target | None = None


class WindowFocus(EventBase, tag="window.focus", kw_only=True):
    pass


class Clipboard(EventBase, tag="clipboard", kw_only=True):
    op: Literal["copy", "cut", "paste"]
    mime: Annotated[str, Meta(max_length=128)] | None = None
    length: Annotated[int, Meta(ge=0, le=2**40)] | None = None
    content: Body | None = None


class CapturePause(EventBase, tag="capture.pause", kw_only=True):
    reason: Annotated[str, Meta(max_length=64)] | None = None


class CaptureResume(EventBase, tag="capture.resume", kw_only=True):
    reason: Annotated[str, Meta(max_length=64)] | None = None


Event = (
    PointerMove
    | PointerClick
    | PointerScroll
    | PointerDrag
    | KeyShortcut
    | KeyPress
    | TextInput
    | MenuSelect
    | WindowFocus
    | Clipboard
    | CapturePause
    | CaptureResume
)

EVENT_CLASSES: tuple[type[EventBase], ...] = (
    PointerMove,
    PointerClick,
    PointerScroll,
    PointerDrag,
    KeyShortcut,
    KeyPress,
    TextInput,
    MenuSelect,
    WindowFocus,
    Clipboard,
    CapturePause,
    CaptureResume,
)
EVENT_TYPES: frozenset[str] = frozenset(str(c.__struct_config__.tag) for c in EVENT_CLASSES)
EVENT_CLASS_BY_TYPE: dict[str, type[EventBase]] = {
    str(c.__struct_config__.tag): c for c in EVENT_CLASSES
}
# Nested objects by field name, so the lenient path can drop unknown fields at every level.
NESTED: dict[str, type[Struct]] = {
    "app": App,
    "window": Window,
    "display": Display,
    "target": Target,
}


class Envelope(Struct, kw_only=True):
    """The batch around the events. Events stay raw so each is judged on its own."""

    schema: Annotated[str, Meta(max_length=32)]
    batch_id: uuid.UUID
    sent_at: EpochMs
    agent: Agent
    events: msgspec.Raw
    not_captured: NotCaptured | None = None  # the agent's events not captured, by reason

"""Is one event valid, and if not, why: the checks the server and the agent share.

The ingest pipeline judges every event of a batch with these; the agent judges every event it
is given with the same ones before capturing it, so an event the server would refuse is refused
on the employee's machine already, under the same reason code. msgspec only (no pyarrow), so
the agent can import it.

A reason is a fixed code: msgspec's own messages can quote the input, so they are never shown.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from . import schema as s

DAY_MS: Final = 86_400_000
MAX_EVENT_AGE_MS: Final = 30 * DAY_MS  # agents spool offline; older events are refused
MAX_CLOCK_SKEW_MS: Final = 10 * 60_000  # how far in the future an event's clock may run
POINTER_TYPES: Final = frozenset(
    {"pointer.move", "pointer.click", "pointer.scroll", "pointer.drag"}
)

# Why the server does not store an event, in plain words. The first group is decided by the
# event alone (the agent decides them too); the rest by the program's policy, the batch or the
# server's state.
INVALID_REASONS: Final[dict[str, str]] = {
    "unknown_type": "`type` names no event type of the schema",
    "missing_field": "a required field is missing",
    "wrong_type": "a value of the wrong JSON type (a string for a number, null where a value "
    "is required, an array for an object, ...)",
    "bad_length": "a text or list too long (or an empty id)",
    "out_of_range": "a number outside its range",
    "invalid_value": "a value not among those allowed (a button, a modifier, an event id that "
    "is not a UUID, ...)",
    "invalid_event": "an event nested too deeply to read",
    "ts_out_of_range": "`ts` more than 30 days old or more than 10 minutes ahead of the "
    "receiver's clock (or outside 2000-2100)",
    "missing_display": "a pointer event without `display` (its coordinates cannot be normalized)",
}
POLICY_REASONS: Final[dict[str, str]] = {
    "type_not_allowed": "a type the program does not collect",
    "denied_app": "from an app the program denies, or outside its allowlist",
}
SERVER_ONLY_REASONS: Final[dict[str, str]] = {
    "duplicate_event_id": "an event id already seen in the same batch (the first copy is kept)",
    "sampled_out": "a pointer move within the program's sampling interval of the previous one "
    "of its session",
    "suppressed_subject": "from a person whose data was erased",
}

_REASONS = (
    ("`$.ts`", "ts_out_of_range"),  # outside the static bounds: the same fault as a bad clock
    ("Invalid value", "unknown_type"),  # the tag; other invalid values say "enum" or "UUID"
    ("missing required field", "missing_field"),
    ("matching regex", "invalid_value"),
    ("of length", "bad_length"),
    ("Invalid enum value", "invalid_value"),
    ("Invalid UUID", "invalid_value"),
    ("out of range", "out_of_range"),
    (">=", "out_of_range"),
    ("<=", "out_of_range"),
    (">", "out_of_range"),
    ("Expected", "wrong_type"),
)


def reason(exc: msgspec.ValidationError) -> str:
    """A fixed reason code for a validation error; the message itself may quote content."""
    message = str(exc)
    for needle, code in _REASONS:
        if needle in message:
            if code == "unknown_type" and not message.endswith("`$.type`"):
                return "invalid_value"
            return code
    return "invalid_event"


FIELDS: Final[dict[type[msgspec.Struct], frozenset[str]]] = {
    cls: frozenset(f.encode_name for f in msgspec.structs.fields(cls))
    for cls in (*s.EVENT_CLASSES, *s.NESTED.values())
}


def without_unknown_fields(
    obj: dict[str, Any], cls: type[msgspec.Struct]
) -> tuple[dict[str, Any], int]:
    """A copy of an event with only the fields its type defines (at every level), and the
    number of fields left out: newer minor schemas add fields, which are dropped, not refused."""
    known = FIELDS[cls]
    kept: dict[str, Any] = {}
    dropped = 0
    for key, value in obj.items():
        if key == "type":
            kept[key] = value  # the tag lives at the top only
        elif key not in known:
            dropped += 1
        elif key in s.NESTED and isinstance(value, dict):
            nested = FIELDS[s.NESTED[key]]
            kept[key] = {k: v for k, v in value.items() if k in nested}
            dropped += len(value) - len(kept[key])
        else:
            kept[key] = value
    return kept, dropped


def lenient(obj: Any) -> tuple[Any, int] | str:
    """An event whose strict reading found unknown fields: (the typed event, the number of
    unknown fields dropped), or why it is refused."""
    tag = obj.get("type") if isinstance(obj, dict) else None
    event_cls = s.EVENT_CLASS_BY_TYPE.get(tag) if isinstance(tag, str) else None
    if event_cls is None:
        return "unknown_type"
    stripped, dropped = without_unknown_fields(obj, event_cls)
    try:
        return msgspec.convert(stripped, s.Event), dropped
    except msgspec.ValidationError as exc:
        return reason(exc)


def judge(obj: Any) -> tuple[Any, int] | str:
    """One decoded event (a JSON value): (the typed event, unknown fields dropped), or why the
    server refuses it whatever the program (one of INVALID_REASONS but the two that depend on
    the receiver: the clock and the display, see `ts_ok` and `needs_display`)."""
    try:
        return msgspec.convert(obj, s.Event), 0
    except RecursionError:
        return "invalid_event"
    except msgspec.ValidationError as exc:
        if "unknown field" not in str(exc):
            return reason(exc)
    try:
        return lenient(obj)
    except RecursionError:
        return "invalid_event"


def ts_ok(ts: int, now_ms: int, max_age_ms: int = MAX_EVENT_AGE_MS) -> bool:
    """The event's time is within what the receiver accepts at `now_ms`."""
    return now_ms - max_age_ms <= ts <= now_ms + MAX_CLOCK_SKEW_MS


def needs_display(etype: str) -> bool:
    """Pointer coordinates are stored relative to the display, so pointer events need one."""
    return etype in POINTER_TYPES

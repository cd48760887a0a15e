"""`capture()`, what `record()` spools: `apply()`'s rules (policy.py) on the caller's thread, for
every event, fast.

msgspec checks every field in one C pass, into a shape per event type (the server's own types
and limits, missing kept apart from null, unknown fields refused); Python then does only what
needs it, on memoized decisions, and the result is encoded (memoized objects as pre-encoded
JSON). An event the shape refuses goes through `apply()`'s own code, which decides and counts
exactly. Tests check that `capture()` spools exactly `apply()`'s result for any JSON event. The
one difference is outside JSON: msgspec reads a subclass of str or int (an enum member) as its
JSON value, where `apply()` refuses it; what is sent is then the plain value's event. A tuple is
read as the JSON array it encodes to by both.

Alongside, `capture()` gives the redactions the server would have counted for the raw event
(the server sees placeholders only): per detector, once per event and text, in "common" mode
only (the server counts nothing for a hashed text), a reduced URL at least once, dropped
clipboard content and unknown fields. Not counted: unknown fields of events the agent does not
capture (the server counts them before refusing such an event). Counted although the server
would not have: the redactions in events it refuses after the agent captured them (pointer
sampling, a clock that drifted while the event was spooled, a suppressed subject). Why an event
is not captured is one of NOT_CAPTURED: POLICY_REASONS or the server's INVALID_REASONS.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import msgspec
from msgspec import UNSET

from ilake_contract.schema import EVENT_CLASS_BY_TYPE, EVENT_TYPES, NESTED, EventId
from ilake_contract.validation import POINTER_TYPES

from .policy_rules import (
    CLIPBOARD_CONTENT,
    DENIED_APP,
    MAX_AGE_S,
    MAX_SKEW_S,
    MEMO_SIZE,
    MISSING,
    MISSING_DISPLAY,
    NO_STAND_IN,
    NOT_COLLECTED,
    TS_OUT_OF_RANGE,
    UNKNOWN_TYPE,
    WRONG_TYPE,
    Counts,
    Memo,
    NoStandIn,
    Reject,
    invalid_reason,
    merge,
    mime_sent,
    modifiers_sent,
    reason_sent,
    surrogate_text,
)

if TYPE_CHECKING:
    from .policy import ClientPolicy

_FastTail = Callable[[Any, Counts], Counts]
_encode = msgspec.json.encode
_convert = msgspec.convert


class FastCapture:
    """`capture()` for one policy: the shapes of the types it collects, the work per type after
    the shape, and its decisions memoized by the parsed (frozen, hashable) app, window or
    target itself, so that no key tuple is built per event."""

    __slots__ = (
        "_app",
        "_clock",
        "_key",
        "_menu",
        "_minimize",
        "_parsed",
        "_shapes",
        "_tails",
        "_target",
        "_window",
    )

    def __init__(self, policy: ClientPolicy) -> None:
        # the policy's memoized decisions, shared with apply(), bound once
        self._clock = policy._clock
        self._app = policy._app
        self._window = policy._window
        self._target = policy._target
        self._key = policy._key
        self._menu = policy._menu
        self._minimize = policy._minimize
        self._parsed: dict[Any, Memo | None] = {}
        self._shapes = {etype: _SHAPES[etype] for etype in sorted(policy.event_types)}
        self._tails = self._compile_tails()

    def capture(self, event: dict[str, Any]) -> tuple[bytes, Counts] | str:
        """What `record()` spools for one event: (the minimized event as JSON, the redactions
        the server would have counted for the raw event), or why it is not captured (one of
        NOT_CAPTURED). The JSON is `apply()`'s result, encoded.

        msgspec checks every field in one C pass (into a shape per event type with the server's
        types and limits); Python then does only what needs it, on memoized decisions. An event
        the shape refuses (an invalid value, an unknown field) goes through `apply()`'s own code,
        which asks the server's checks why (or drops and counts the unknown fields).
        """
        if not isinstance(event, dict):
            return invalid_reason(event)
        etype = event.get("type")
        if type(etype) is not str:
            return invalid_reason(event)
        shape = self._shapes.get(etype)
        if shape is None:
            return NOT_COLLECTED if etype in EVENT_TYPES else UNKNOWN_TYPE
        try:
            ev: Any = _convert(event, shape)
        except (msgspec.ValidationError, TypeError, RecursionError):
            return self._capture_exactly(event)
        if not _event_id_ok(ev.event_id):
            return self._capture_exactly(event)  # the server's reason, in the server's order
        now = self._clock()  # in seconds: float arithmetic, 1 ms apart is still told apart
        if not now - MAX_AGE_S <= ev.ts / 1000 <= now + MAX_SKEW_S:
            return TS_OUT_OF_RANGE
        try:
            app = ev.app
            origin = self._parsed.get(app, MISSING)
            if origin is MISSING:
                key = (None, None) if app is None or app is UNSET else (app.name, app.bundle_id)
                origin = self._remember(app, self._app(*key))
            if origin is None:
                return DENIED_APP
            if etype in POINTER_TYPES and (ev.display is None or ev.display is UNSET):
                return MISSING_DISPLAY
            ev.app = origin[2]  # type: ignore[index]
            counts: Counts = origin[1]  # type: ignore[index]
            window = ev.window
            if window is not None and window is not UNSET:
                done = self._parsed.get(window) or self._remember(
                    window, self._window(window.title, window.url)
                )
                ev.window = done[2] if done[0] else UNSET
                if done[1]:
                    counts = merge(counts, done[1])
            tail = self._tails.get(etype)
            if tail is not None:
                counts = tail(ev, counts)
        except Reject:
            return WRONG_TYPE
        except NoStandIn:
            return NO_STAND_IN
        try:
            return _encode(ev), counts
        except TypeError:  # a value msgspec cannot encode (an object of another class)
            return WRONG_TYPE

    def _capture_exactly(self, event: dict[str, Any]) -> tuple[bytes, Counts] | str:
        minimized = self._minimize(event)
        if isinstance(minimized, str):
            return minimized
        try:
            return _encode(minimized[0]), minimized[1]
        except TypeError:
            return WRONG_TYPE

    def _remember(self, parsed: Any, done: Any) -> Any:
        if len(self._parsed) >= MEMO_SIZE:
            self._parsed.clear()
        self._parsed[parsed] = done
        return done

    def _compile_tails(self) -> dict[str, _FastTail]:
        """Per event type, the work on its own fields after the shape checked their types."""

        def target(ev: Any, counts: Counts) -> Counts:
            t = ev.target
            if t is not None and t is not UNSET:
                done = self._parsed.get(t) or self._remember(
                    t, self._target(t.role, t.name, t.automation_id)
                )
                ev.target = done[2]
                if done[1]:
                    counts = merge(counts, done[1])
            return counts

        def shortcut(ev: Any, counts: Counts) -> Counts:
            mods = ev.modifiers
            modifiers = () if mods is None or mods is UNSET else modifiers_sent(mods)
            if isinstance(ev.key, str):
                ev.key = self._key(ev.key, modifiers)
            return counts

        def press(ev: Any, counts: Counts) -> Counts:
            if isinstance(ev.key, str):
                ev.key = self._key(ev.key, None)
            return counts

        def text_input(ev: Any, counts: Counts) -> Counts:
            if isinstance(ev.text, str):
                ev.text = surrogate_text(ev.text)
            return target(ev, counts)

        def menu(ev: Any, counts: Counts) -> Counts:
            labels = ev.menu_path
            if labels is not None and labels is not UNSET:
                ev.menu_path, found = self._menu(labels)
                counts = merge(counts, found)
            return target(ev, counts)

        def clipboard(ev: Any, counts: Counts) -> Counts:
            if isinstance(ev.mime, str):
                ev.mime = mime_sent(ev.mime)
            content = ev.content
            if isinstance(content, str):
                ev.content = UNSET  # never sent; its length is
                if (ev.length is None or ev.length is UNSET) and type(content) is str:
                    ev.length = len(content)
                counts = merge(counts, CLIPBOARD_CONTENT)
            return counts

        def capture_reason(ev: Any, counts: Counts) -> Counts:
            if isinstance(ev.reason, str):
                ev.reason = reason_sent(ev.reason)
            return counts

        tails: dict[str, _FastTail] = {
            "pointer.click": target,
            "key.shortcut": shortcut,
            "key.press": press,
            "text.input": text_input,
            "menu.select": menu,
            "clipboard": clipboard,
            "capture.pause": capture_reason,
            "capture.resume": capture_reason,
        }
        return {t: tails[t] for t in self._shapes if t in tails}


# --- the shapes events are converted into ------------------------------------------------------

# The server's own types of every field (so the server's limits are checked in the same C pass),
# unknown fields refused (apply()'s code drops and counts them). A missing optional field stays
# UNSET (left out when encoded), a null stays None (sent as null), as apply() keeps them apart.
# The event id is checked apart, with the server's own pattern compiled once: msgspec runs a
# pattern through `re` on every value, at twice the cost (about as much as the rest of the
# shape). An id it refuses goes through `apply()`, which asks the server's checks why.
_EVENT_ID_PATTERN: Final = next(
    m.pattern
    for m in typing.get_args(EventId)[1:]
    if isinstance(m, msgspec.Meta) and m.pattern is not None
)
_event_id_ok: Final = re.compile(_EVENT_ID_PATTERN).search  # msgspec's own test: re.search


def _nested_shape(cls: type[msgspec.Struct]) -> type[msgspec.Struct]:
    """The server's nested object (its fields, types, limits and encoding), untracked by the
    garbage collector: it holds only strings and numbers, and one is made per event."""
    fields = [
        (f.encode_name, f.type) if f.required else (f.encode_name, f.type, f.default)
        for f in msgspec.structs.fields(cls)
    ]
    config = cls.__struct_config__
    return msgspec.defstruct(
        f"_{cls.__name__}",
        fields,
        kw_only=True,
        forbid_unknown_fields=config.forbid_unknown_fields,
        omit_defaults=config.omit_defaults,
        frozen=True,
        gc=False,
    )


_NESTED_SHAPES: Final = {name: _nested_shape(cls) for name, cls in NESTED.items()}


def _shape_of(etype: str) -> type[msgspec.Struct]:
    fields: list[Any] = [("type", str)]
    for f in msgspec.structs.fields(EVENT_CLASS_BY_TYPE[etype]):
        if f.name == "redacted":
            continue  # the SDK's own: a recorder's claim is an unknown field, dropped
        if f.name == "event_id":
            fields.append((f.encode_name, str))
        elif f.name in _NESTED_SHAPES:  # all optional: the object or null
            fields.append((f.encode_name, _NESTED_SHAPES[f.name] | None | msgspec.UnsetType, UNSET))
        elif f.required:
            fields.append((f.encode_name, f.type))
        else:
            fields.append((f.encode_name, f.type | msgspec.UnsetType, UNSET))
    return msgspec.defstruct(
        f"_Shape_{etype.replace('.', '_')}",
        fields,
        kw_only=True,
        forbid_unknown_fields=True,
        gc=False,
    )


_SHAPES: Final = {etype: _shape_of(etype) for etype in EVENT_CLASS_BY_TYPE}

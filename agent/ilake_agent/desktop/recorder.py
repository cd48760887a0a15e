"""The desktop's privacy rules at the source: a backend's raw input in, the program's events out.

A `Recorder` is the backend's `RawSink`: it turns pointer, key and focus changes into
interaction/1 events (docs/event-schema.md) and hands each to a sink (the agent Client's
`record`, which minimizes, samples pointer moves and spools). It creates only what the policy
lets it keep:

- a type the program does not collect is never built (a pointer move then costs a few checks);
  a pointer move within the program's `pointer_sample_ms` of the last one built is not built
  either (the Client and the server would drop it as `sampled_out`: at 100 moves a second and
  a 250 ms interval, 96 of every 100 cost only that check);
- while the focused app is denied (the policy's app rules, on WM_CLASS and name; a window that
  names no application is unknown and counts as denied) nothing at all is built, not even its
  focus event; until a backend reports the first focus, nothing is built
  either (an unknown window may be a password manager), nor between a backend's `FocusMoving`
  and the `FocusChanged` that answers the latest one (input typed into a window the moment it
  got the focus belongs to that window, which may be denied: it is dropped, never put under
  the window before);
- printable keys only ever arrive as a class, and leave as that class's stand-in (the policy's
  KEY_SURROGATES), so typed text cannot be put back together; window titles are left out of the
  events when the program drops them;
- between `pause()` and `resume()` nothing is built but the `capture.pause` and `capture.resume`
  that frame the silence.

Clicks count up (2 for a double click, at most 5) when the same button goes down again within
the platform's interval and a few pixels; a press that moves beyond the drag threshold before
its release is a `pointer.drag`, not a click. Bare modifier presses are not events: they are
the `modifiers` of the shortcut they start.

Every event carries what the Client does not fill: event_id, ts (wall-clock ms when the input
arrived), seq (per session), session_id, subject, device_id, the focused app and window, and
`display` on pointer events (the server needs it to normalize coordinates). Events are built,
numbered and handed to the sink under one lock, so seq and the spool agree whatever thread the
backend calls from. The nested app, window and display objects are shared between events: a
sink must not change them.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Final

from ilake_contract.apps import app_denied, glob_regex
from ilake_contract.vocabulary import CAPTURE_REASONS, MODIFIER_ORDER, classify_key, shortcut_key

from ..policy import KEY_SURROGATES, MAX_SHORT, MAX_TITLE, ClientPolicy, surrogate_key
from .backend import (
    Button,
    ButtonChanged,
    FocusChanged,
    FocusMoving,
    KeyChanged,
    KeyClass,
    PointerMoved,
    RawInput,
    Screen,
    Scrolled,
)

# X11 desktops' defaults (GTK's gtk-double-click-time, gtk-double-click-distance and
# gtk-dnd-drag-threshold; Qt's are alike), in ms and logical pixels.
DOUBLE_CLICK_MS: Final = 400
DOUBLE_CLICK_PX: Final = 5
DRAG_PX: Final = 8
MAX_CLICKS: Final = 5  # the schema's bound on `clicks`

# The key names a backend reports for the modifiers, as the schema names them in shortcuts.
# Left and right keys alike; AltGr (None) types characters: it is neither a modifier of
# shortcuts nor an event.
MODIFIER_KEYS: Final[dict[str, str | None]] = {
    **{
        f"{name}{side}": modifier
        for name, modifier in (
            ("ctrl", "ctrl"),
            ("control", "ctrl"),
            ("alt", "alt"),
            ("option", "alt"),
            ("shift", "shift"),
            ("meta", "meta"),
            ("super", "meta"),
            ("cmd", "meta"),
            ("command", "meta"),
            ("win", "meta"),
        )
        for side in ("", "_l", "_r")
    },
    "alt_gr": None,
    "altgr": None,
    "iso_level3_shift": None,
}
_COMMAND: Final = frozenset({"ctrl", "alt", "meta"})  # a key held with one of these is a shortcut

# What a printable key leaves as: its class's stand-in, the one the policy sends and the server
# treats the same as any character of that class (the backend's `punct` is the server's symbol).
STAND_INS: Final[dict[KeyClass, str]] = {
    "letter": KEY_SURROGATES["letter"][0],
    "digit": KEY_SURROGATES["digit"][0],
    "space": KEY_SURROGATES["space"][0],
    "punct": KEY_SURROGATES["symbol"][0],
}

Sink = Callable[[dict[str, Any]], object]


class _Press:
    """A button held down: where and when it went down, its click count, whether it dragged."""

    __slots__ = ("clicks", "dragged", "t_ms", "x", "y")

    def __init__(self, x: int, y: int, t_ms: int, clicks: int) -> None:
        self.x, self.y, self.t_ms, self.clicks, self.dragged = x, y, t_ms, clicks, False


class Recorder:
    """One capture session's events from raw input: call it from any thread (a `RawSink`)."""

    def __init__(
        self,
        sink: Sink,
        policy: ClientPolicy,
        *,
        session_id: str,
        subject: str,
        device_id: str,
        screen: Screen,
        clock: Callable[[], float] = time.time,
        double_click_ms: int = DOUBLE_CLICK_MS,
        double_click_px: int = DOUBLE_CLICK_PX,
        drag_px: int = DRAG_PX,
    ) -> None:
        self._sink = sink
        self._clock = clock  # seconds, wall clock: the schema's ts
        types = policy.event_types
        self._moves = "pointer.move" in types
        self._clicks = "pointer.click" in types
        self._drags = "pointer.drag" in types
        self._scrolls = "pointer.scroll" in types
        self._shortcuts = "key.shortcut" in types
        self._presses = "key.press" in types
        self._focus_events = "window.focus" in types
        self._pauses = "capture.pause" in types
        self._resumes = "capture.resume" in types
        self._sample_ms = policy.pointer_sample_ms or 0
        self._last_move_ts: int | None = None  # the ts of the last move built (the Client's rule)
        self._titles = policy.window_titles != "drop"
        # the policy's own decision over the same lists (ClientPolicy and the server use it too)
        self._deny = glob_regex(policy.deny)
        self._allow = glob_regex(policy.allow) if policy.allow is not None else None
        self._who = {"session_id": session_id, "subject": subject, "device_id": device_id}
        self._display = {"w": screen.w, "h": screen.h, "scale": screen.scale}
        self._interval_ms = double_click_ms
        self._near = double_click_px * screen.scale  # physical pixels, as the pointer reports
        self._drag = drag_px * screen.scale
        self._lock = threading.Lock()
        self._seq = 0
        self._paused = False
        self._focus: tuple[Any, ...] | None = None  # (app name, app id, title kept): not yet known
        self._denied = True
        self._moving = False  # between a FocusMoving and the FocusChanged that answers it
        self._awaited: int | None = None  # the latest FocusMoving's token
        self._base: dict[str, Any] = dict(self._who)  # the envelope of every event
        self._pointer_base: dict[str, Any] = {**self._who, "display": self._display}
        # True while events may be built: the focus is known, its app allowed, not paused
        self._live = False
        self._live_moves = False
        self._held: set[str] = set()  # modifiers down, tracked even when nothing is built
        self._down: dict[Button, _Press] = {}
        self._last_click: tuple[Button, _Press] | None = None
        self._released: list[ButtonChanged] = []  # releases held while the focus moves
        self._keys: dict[tuple[str, tuple[str, ...]], str | None] = {}

    @property
    def paused(self) -> bool:
        return self._paused

    # -- the backend's side ------------------------------------------------------------------

    def __call__(self, raw: RawInput, /) -> None:
        if type(raw) is PointerMoved:
            # the hot path: nothing held down, and moves not kept or this one within the
            # sampling interval: no lock and no allocation (rechecked under the lock)
            if self._down:
                with self._lock:
                    self._moved(raw)
            elif self._live_moves:
                last = self._last_move_ts
                if last is None or not 0 <= self._clock() * 1000 - last < self._sample_ms:
                    with self._lock:
                        self._moved(raw)
        elif type(raw) is ButtonChanged:
            with self._lock:
                self._button(raw)
        elif type(raw) is KeyChanged:
            with self._lock:
                self._key(raw)
        elif type(raw) is Scrolled:
            if self._live and self._scrolls:
                with self._lock:
                    if self._live:
                        self._emit_pointer("pointer.scroll", x=raw.x, y=raw.y, dx=raw.dx, dy=raw.dy)
        elif type(raw) is FocusChanged:
            with self._lock:
                self._focused(raw)
        elif type(raw) is FocusMoving:
            with self._lock:
                self._moving = True
                self._awaited = raw.token
                self._last_click = None  # a double click does not span two windows
                for held in self._released:  # the move it focused is not the one answered
                    self._down.pop(held.button, None)
                self._released.clear()
                self._relive()

    # -- the employee's side -----------------------------------------------------------------

    def pause(self, reason: str = "user") -> bool:
        """Stop building events, after a `capture.pause`; False when already paused."""
        with self._lock:
            if self._paused:
                return False
            if self._framed() and self._pauses:
                self._emit("capture.pause", reason=_reason(reason))
            self._paused = True
            self._down.clear()
            self._last_click = None
            self._released.clear()
            self._relive()
            return True

    def resume(self, reason: str = "user") -> bool:
        """Build events again, starting with a `capture.resume`; False when not paused."""
        with self._lock:
            if not self._paused:
                return False
            self._paused = False
            self._relive()
            if self._framed() and self._resumes:
                self._emit("capture.resume", reason=_reason(reason))
            return True

    # -- raw input, under the lock -----------------------------------------------------------

    def _moved(self, raw: PointerMoved) -> None:
        x, y = raw.x, raw.y
        for press in self._down.values():
            if not press.dragged and max(abs(x - press.x), abs(y - press.y)) > self._drag:
                press.dragged = True
        if self._live_moves:
            ts = int(self._clock() * 1000)
            last = self._last_move_ts
            if self._sample_ms and last is not None and 0 <= ts - last < self._sample_ms:
                return  # what the Client's sampling would drop, by the same rule on ts
            self._last_move_ts = ts
            self._send("pointer.move", self._pointer_base, {"x": x, "y": y}, ts)

    def _button(self, raw: ButtonChanged) -> None:
        if not raw.pressed and not self._live:
            if self._moving and not self._paused and raw.button in self._down:
                self._released.append(raw)  # a focusing click: judged with the answer
            else:
                self._down.pop(raw.button, None)  # released while nothing is built: no click
            return
        if not self._live or not (self._clicks or self._drags):
            return
        button, x, y = raw.button, raw.x, raw.y
        if raw.pressed:
            clicks = 1
            last = self._last_click
            if last is not None and last[0] == button:
                previous = last[1]
                if (
                    0 <= raw.t_ms - previous.t_ms <= self._interval_ms
                    and max(abs(x - previous.x), abs(y - previous.y)) <= self._near
                ):
                    clicks = min(previous.clicks + 1, MAX_CLICKS)
            self._down[button] = _Press(x, y, raw.t_ms, clicks)
            return
        press = self._down.pop(button, None)
        if press is None:
            return  # went down while nothing was built (paused, a denied app, before start)
        if press.dragged or max(abs(x - press.x), abs(y - press.y)) > self._drag:
            self._last_click = None
            if self._drags:
                self._emit_pointer("pointer.drag", x=press.x, y=press.y, x2=x, y2=y, button=button)
            return
        self._last_click = (button, press)
        if self._clicks:
            self._emit_pointer(
                "pointer.click", x=press.x, y=press.y, button=button, clicks=press.clicks
            )

    def _key(self, raw: KeyChanged) -> None:
        name = raw.name
        if name is not None:
            lowered = name.lower()
            if lowered in MODIFIER_KEYS:  # state only: a modifier is part of the shortcut it starts
                modifier = MODIFIER_KEYS[lowered]
                if modifier is not None:
                    if raw.pressed:
                        self._held.add(modifier)
                    else:
                        self._held.discard(modifier)
                return
        if not raw.pressed or not self._live or not (self._presses or self._shortcuts):
            return
        if name is None:
            typed = raw.typed
            if typed is not None and self._presses:
                self._emit("key.press", key=STAND_INS[typed])
            return
        held = self._held
        if held and (held & _COMMAND or classify_key(name)[0] is not None):
            if self._shortcuts:  # ctrl+s, shift+Tab: modifiers in the schema's order
                modifiers = [m for m in MODIFIER_ORDER if m in held]
                key = self._sent_key(name, tuple(modifiers))
                if key is not None:
                    self._emit("key.shortcut", modifiers=modifiers, key=key)
            return
        if self._presses:
            key = self._sent_key(name, ())
            if key is not None:
                self._emit("key.press", key=key)

    def _sent_key(self, name: str, modifiers: tuple[str, ...]) -> str | None:
        """The schema's name of a key the server keeps, else its class's stand-in (None when
        no stand-in exists, as the policy would not capture it). Memoized: keys repeat."""
        memo = (name, modifiers)
        sent = self._keys.get(memo, _UNKNOWN)
        if sent is _UNKNOWN:
            mods = frozenset(modifiers)
            kept = shortcut_key(mods, name)[0] if modifiers else classify_key(name)[0]
            sent = kept if kept is not None else surrogate_key(name, mods if modifiers else None)
            if sent is not None and not 1 <= len(sent) <= 32:
                sent = None
            if len(self._keys) >= 1024:
                self._keys.clear()
            self._keys[memo] = sent
        return sent  # type: ignore[return-value]

    def _focused(self, raw: FocusChanged) -> None:
        if self._moving:
            if self._awaited is not None and raw.answers != self._awaited:
                return  # an older answer, or a report from before the latest move
        elif raw.answers is not None:
            return  # a late answer to a move that a newer answer has already settled
        name = raw.app_name[:MAX_SHORT] if raw.app_name else None
        app_id = raw.app_id[:MAX_SHORT] if raw.app_id else None
        title = raw.title[:MAX_TITLE] if raw.title and self._titles else None
        focus = (name, app_id, title)
        if focus == self._focus:
            if self._moving:  # the focus came back to the same window: no new event
                self._moving = False
                self._relive()
                self._release_held()
            return
        self._moving = False
        self._focus = focus
        # the whole name decides as well as the one sent: either denied is denied; a window
        # that names no application at all is unknown, and may be a password manager
        self._denied = (
            (name is None and app_id is None)
            or app_denied(self._deny, self._allow, raw.app_name, raw.app_id)
            or app_denied(self._deny, self._allow, name, app_id)
        )
        app = {k: v for k, v in (("name", name), ("bundle_id", app_id)) if v is not None}
        context: dict[str, Any] = {**self._who}
        if app:
            context["app"] = app
        if title is not None:
            context["window"] = {"title": title}
        self._base = context
        self._pointer_base = {**context, "display": self._display}
        if self._denied:
            self._down.clear()  # a press here never becomes a click or a drag elsewhere
            self._last_click = None
        self._relive()
        if self._live and self._focus_events:
            self._emit("window.focus")
        self._release_held()

    def _release_held(self) -> None:
        """The release that came while the focus moved: a click (or drag) of the window that
        got the focus, or nothing when that one is denied (its press is gone by then)."""
        released, self._released = self._released, []
        for raw in released:
            if self._live:
                self._button(raw)
            else:
                self._down.pop(raw.button, None)

    def _framed(self) -> bool:
        """Whether a pause or resume is recorded: the focus is known and its app allowed (a
        focus move in flight does not hide the employee's own action)."""
        return self._focus is not None and not self._denied

    def _relive(self) -> None:
        self._live = (
            self._focus is not None and not self._denied and not self._paused and not self._moving
        )
        self._live_moves = self._live and self._moves

    # -- events ------------------------------------------------------------------------------

    def _emit(self, etype: str, **fields: Any) -> None:
        self._send(etype, self._base, fields)

    def _emit_pointer(self, etype: str, **fields: Any) -> None:
        self._send(etype, self._pointer_base, fields)  # the base with the display

    def _send(
        self, etype: str, base: dict[str, Any], fields: dict[str, Any], ts: int | None = None
    ) -> None:
        self._seq += 1
        self._sink(
            {
                "event_id": str(uuid.uuid4()),
                "type": etype,
                "ts": int(self._clock() * 1000) if ts is None else ts,
                "seq": self._seq,
                **base,
                **fields,
            }
        )


_UNKNOWN: Final = object()

DRAG_POLL_MS: Final = 50  # how often the pointer is asked for when only drags need it
IDLE_POLL_MS: Final = 1_000  # ... when nothing built needs it (a click carries its own x, y)


def pointer_pace(policy: ClientPolicy) -> int | None:
    """How often a backend need say where the pointer is (None: every motion). A program
    that samples moves gets positions at its interval, which is all the recorder would build
    from them; a press's drag is then judged on those positions and the release's."""
    types = policy.event_types
    if "pointer.move" in types:
        return policy.pointer_sample_ms or None
    return DRAG_POLL_MS if "pointer.drag" in types else IDLE_POLL_MS


def _reason(reason: str) -> str:
    """A pause reason as the schema's vocabulary has it, or "other"."""
    return reason if reason in CAPTURE_REASONS else "other"

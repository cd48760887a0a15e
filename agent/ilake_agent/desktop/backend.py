"""What a platform backend reports: raw input, already stripped of typed characters.

A backend (X11 today: `x11.py`) listens to the pointer, the keyboard and the focused window
and calls a `RawSink` from its own threads. It never hands over the character a printable key
types: only that key's class (`letter`, `digit`, `space`, `punct`), so what is typed exists
nowhere in the agent, not even in memory beyond the platform's own callback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Button = Literal["left", "right", "middle", "back", "forward"]
KeyClass = Literal["letter", "digit", "space", "punct"]


@dataclass(frozen=True, slots=True)
class Screen:
    """The display the pointer moves on, in physical pixels, and its scale factor."""

    w: int
    h: int
    scale: float = 1.0


@dataclass(frozen=True, slots=True)
class PointerMoved:
    x: int
    y: int
    # When the input happened, in ms of a clock of the backend's (X11: the server's event time,
    # so that intervals do not stretch or shrink with when the agent got to read them; a polled
    # position: the agent's monotonic clock). The recorder compares t_ms only between button
    # presses (a double click), never across kinds.
    t_ms: int


@dataclass(frozen=True, slots=True)
class ButtonChanged:
    x: int
    y: int
    button: Button
    pressed: bool
    t_ms: int


@dataclass(frozen=True, slots=True)
class Scrolled:
    x: int
    y: int
    dx: float
    dy: float
    t_ms: int


@dataclass(frozen=True, slots=True)
class KeyChanged:
    """A key went down or up. `name` is the schema's key name for a non-printing key
    ("Enter", "Tab", "F5", "ctrl", "shift", "alt", "meta", ...) or a printable key's lower-case
    name when a shortcut modifier (ctrl, alt, meta) is held ("s" in ctrl+s); otherwise None,
    and `typed` says only which class of character the key would type."""

    name: str | None
    typed: KeyClass | None
    pressed: bool
    t_ms: int


@dataclass(frozen=True, slots=True)
class FocusChanged:
    """Another window got the focus: its application (WM_CLASS on X11) and title. `answers`
    is the token of the `FocusMoving` this report resolves, None when it is not an answer."""

    app_name: str | None
    app_id: str | None  # the platform's application id: WM_CLASS instance on X11
    title: str | None
    t_ms: int
    answers: int | None = None


@dataclass(frozen=True, slots=True)
class FocusMoving:
    """The focus is changing, and which window gets it is not known yet. A backend that learns
    of the change in order with the input (before the keys typed into the new window) says so
    at once and later answers it with a `FocusChanged` whose `answers` is this `token`, even
    when the window is the same as before. Only the answer to the latest move names the new
    window: input between a move and that answer may belong to either window. Without a token,
    the next `FocusChanged` answers it."""

    t_ms: int
    token: int | None = None


RawInput = PointerMoved | ButtonChanged | Scrolled | KeyChanged | FocusChanged | FocusMoving


class RawSink(Protocol):
    def __call__(self, raw: RawInput, /) -> None: ...


class Backend(Protocol):
    """A platform's input source. `start` returns once listening; `stop` is idempotent.

    `pointer_every_ms` is how often the pointer's position is wanted (the program's sampling
    interval): a backend may then report where the pointer is at that pace rather than every
    motion (X11 asks the server, so a fast mouse costs nothing more than a still one). None:
    every motion."""

    def screen(self) -> Screen: ...

    def start(self, sink: RawSink, *, pointer_every_ms: int | None = None) -> None: ...

    def running(self) -> bool:
        """False once the backend can no longer read input (its display went away)."""
        ...

    def stop(self) -> None: ...


class BackendUnavailable(Exception):
    """This session cannot be captured as promised (no X display, Wayland, a missing
    library); the message says why in one line, and the agent does not start."""

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
    t_ms: int  # the backend's monotonic clock, in ms


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
    """Another window got the focus: its application (WM_CLASS on X11) and title."""

    app_name: str | None
    app_id: str | None  # the platform's application id: WM_CLASS instance on X11
    title: str | None
    t_ms: int


@dataclass(frozen=True, slots=True)
class FocusMoving:
    """The focus is changing, and which window gets it is not known yet: a backend that learns
    of the change in order with the input (before the keys typed into the new window) says so
    at once, and reports the window with a `FocusChanged` as soon as it has read it, even when
    it is the same window as before."""

    t_ms: int


RawInput = PointerMoved | ButtonChanged | Scrolled | KeyChanged | FocusChanged | FocusMoving


class RawSink(Protocol):
    def __call__(self, raw: RawInput, /) -> None: ...


class Backend(Protocol):
    """A platform's input source. `start` returns once listening; `stop` is idempotent."""

    def screen(self) -> Screen: ...

    def start(self, sink: RawSink) -> None: ...

    def stop(self) -> None: ...


class BackendUnavailable(Exception):
    """This session cannot be captured as promised (no X display, Wayland, a missing
    library); the message says why in one line, and the agent does not start."""

"""The Linux/X11 backend: the pointer and keys through the RECORD extension, the focused window
through window properties, all with python-xlib.

Input is read the way pynput's xorg backend reads it (a RECORD context over every client's
device events, XTEST-injected ones included), but on the display this backend was given and
without building key objects: a key event carries a keycode, the keycode's unshifted keysym is
looked up, and a printable key leaves this module only as its class. The character is a local
of `_key` and nothing else.

The focused window: with a window manager, the root's `_NET_ACTIVE_WINDOW`, watched through
PropertyNotify; on a bare X server (Xvfb, no window manager) the input focus, walked up to the
top-level window that has a WM_CLASS. That is rechecked on every FocusIn, map or title change
the watcher is told of, and once a second otherwise (one round trip; nothing busy-waits).
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from Xlib import XK, X, Xatom, display, error
from Xlib.ext import record
from Xlib.protocol import rq

from ilake_contract.vocabulary import char_class

from .backend import (
    BackendUnavailable,
    Button,
    ButtonChanged,
    FocusChanged,
    KeyChanged,
    KeyClass,
    PointerMoved,
    RawSink,
    Screen,
    Scrolled,
)

_BUTTONS: dict[int, Button] = {1: "left", 2: "middle", 3: "right", 8: "back", 9: "forward"}
_WHEEL: dict[int, tuple[float, float]] = {4: (0, 1), 5: (0, -1), 6: (-1, 0), 7: (1, 0)}

# Keysym names (Xlib.XK) -> the names contract/ilake_contract/vocabulary.py keeps.
_NAMED: dict[str, str] = {
    "Return": "Enter",
    "KP_Enter": "Enter",
    "Tab": "Tab",
    "ISO_Left_Tab": "Tab",
    "Escape": "Escape",
    "BackSpace": "Backspace",
    "Delete": "Delete",
    "KP_Delete": "Delete",
    "Insert": "Insert",
    "Home": "Home",
    "End": "End",
    "Prior": "PageUp",
    "Next": "PageDown",
    "Up": "ArrowUp",
    "Down": "ArrowDown",
    "Left": "ArrowLeft",
    "Right": "ArrowRight",
    "Caps_Lock": "CapsLock",
    "Num_Lock": "NumLock",
    "Scroll_Lock": "ScrollLock",
    "Print": "PrintScreen",
    "Pause": "Pause",
    "Menu": "ContextMenu",
    "Control_L": "ctrl",
    "Control_R": "ctrl",
    "Shift_L": "shift",
    "Shift_R": "shift",
    "Alt_L": "alt",
    "Alt_R": "alt",
    "Meta_L": "meta",
    "Meta_R": "meta",
    "Super_L": "meta",
    "Super_R": "meta",
    **{f"F{i}": f"F{i}" for i in range(1, 25)},
}
_NAMED_BY_KEYSYM: dict[int, str] = {
    XK.string_to_keysym(symbol): name for symbol, name in _NAMED.items()
}
# ctrl, alt (Mod1) and meta (Mod4, the Super key): a printable key under these is a shortcut.
_SHORTCUT_MASK = X.ControlMask | X.Mod1Mask | X.Mod4Mask
_POLL_S = 1.0  # the focus watcher's fallback recheck, when no event woke it


def _now_ms() -> int:
    return time.monotonic_ns() // 1_000_000


_KEY_CLASS: dict[str, KeyClass] = {"letter": "letter", "digit": "digit", "space": "space"}


def _key_class(ch: str) -> KeyClass:
    """The vocabulary's class of the character a key types; symbols and the rest are punct."""
    return _KEY_CLASS.get(char_class(ch), "punct")


def _open(name: str | None) -> Any:
    try:
        return display.Display(name)
    except (error.DisplayError, OSError) as exc:
        shown = name or os.environ.get("DISPLAY") or "(DISPLAY is not set)"
        raise BackendUnavailable(f"cannot open the X display {shown}: {exc}") from None


class X11Backend:
    """Captures one X display: pointer, keys (as names or classes), the focused window."""

    def __init__(self, display: str | None = None) -> None:
        self._name = display
        self._control = _open(display)
        if not self._control.has_extension("RECORD"):
            self._control.close()
            raise BackendUnavailable("the X server has no RECORD extension: input cannot be read")
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._context: int | None = None
        self._wake_r, self._wake_w = -1, -1
        self._started = False

    def screen(self) -> Screen:
        screen = self._control.screen()
        return Screen(w=screen.width_in_pixels, h=screen.height_in_pixels, scale=self._scale())

    def _scale(self) -> float:
        """Xft.dpi / 96 from the root's resource database (xrdb), else 1.0."""
        root = self._control.screen().root
        try:
            prop = root.get_full_property(Xatom.RESOURCE_MANAGER, Xatom.STRING)
        except error.XError:
            return 1.0
        if prop is None:
            return 1.0
        raw = prop.value
        text = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
        for line in text.splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Xft.dpi":
                with contextlib.suppress(ValueError):
                    dpi = float(value.strip())
                    if dpi > 0:
                        return dpi / 96.0
        return 1.0

    def start(self, sink: RawSink) -> None:
        with self._lock:
            if self._started or self._stopping.is_set():
                raise RuntimeError("a backend starts once, and not after stop()")
            self._started = True
        recorder = _open(self._name)
        watcher = _open(self._name)
        context = recorder.record_create_context(
            0,
            [record.AllClients],
            [
                {
                    "core_requests": (0, 0),
                    "core_replies": (0, 0),
                    "ext_requests": (0, 0, 0, 0),
                    "ext_replies": (0, 0, 0, 0),
                    "delivered_events": (0, 0),
                    "device_events": (X.KeyPress, X.MotionNotify),
                    "errors": (0, 0),
                    "client_started": False,
                    "client_died": False,
                }
            ],
        )
        self._context = context
        self._wake_r, self._wake_w = os.pipe()
        ready = threading.Event()
        self._threads = [
            threading.Thread(
                target=self._record,
                args=(recorder, context, sink, ready),
                name="ilake-x11-input",
                daemon=True,
            ),
            threading.Thread(
                target=self._watch_focus, args=(watcher, sink), name="ilake-x11-focus", daemon=True
            ),
        ]
        for thread in self._threads:
            thread.start()
        # RECORD's first reply (StartOfData) marks the context live: input from here on is seen.
        ready.wait(timeout=5.0)

    def stop(self) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            self._stopping.set()
        if self._context is not None:
            with contextlib.suppress(error.XError, OSError):
                self._control.record_disable_context(self._context)
                self._control.flush()
        if self._wake_w >= 0:
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5.0)
        with contextlib.suppress(error.XError, OSError):
            if self._context is not None:
                self._control.record_free_context(self._context)
            self._control.close()
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._wake_r = self._wake_w = -1

    # -- pointer and keys ---------------------------------------------------------------------

    def _record(self, recorder: Any, context: int, sink: RawSink, ready: threading.Event) -> None:
        parse = rq.EventField(None).parse_binary_value
        # Keycode -> keysym with no shift: 's' for both s and S (the key's name, not what it typed).
        lookup: Callable[[int, int], int] = recorder.keycode_to_keysym

        def on_reply(reply: Any) -> None:
            if reply.category == record.StartOfData:
                ready.set()
            if reply.category != record.FromServer or self._stopping.is_set():
                return
            data = reply.data
            while data:
                event, data = parse(data, recorder.display, None, None)
                raw = self._translate(event, lookup)
                if raw is not None:
                    sink(raw)

        try:
            recorder.record_enable_context(context, on_reply)
        except (error.XError, error.ConnectionClosedError, OSError):
            pass  # the server went away: nothing more to capture
        finally:
            ready.set()
            with contextlib.suppress(error.XError, OSError):
                recorder.close()

    @staticmethod
    def _translate(
        event: Any, lookup: Callable[[int, int], int]
    ) -> PointerMoved | ButtonChanged | Scrolled | KeyChanged | None:
        t = _now_ms()
        kind = event.type
        if kind == X.MotionNotify:
            return PointerMoved(x=event.root_x, y=event.root_y, t_ms=t)
        if kind in (X.ButtonPress, X.ButtonRelease):
            wheel = _WHEEL.get(event.detail)
            if wheel is not None:  # a wheel notch is a press and a release: count the press
                if kind != X.ButtonPress:
                    return None
                return Scrolled(x=event.root_x, y=event.root_y, dx=wheel[0], dy=wheel[1], t_ms=t)
            button = _BUTTONS.get(event.detail)
            if button is None:
                return None
            return ButtonChanged(
                x=event.root_x, y=event.root_y, button=button, pressed=kind == X.ButtonPress, t_ms=t
            )
        if kind in (X.KeyPress, X.KeyRelease):
            return _key(event.detail, event.state, lookup, kind == X.KeyPress, t)
        return None

    # -- the focused window -------------------------------------------------------------------

    def _watch_focus(self, watcher: Any, sink: RawSink) -> None:
        focus = _FocusReader(watcher)
        last: tuple[int, str | None] | None = None
        try:
            focus.listen()
            while not self._stopping.is_set():
                current = focus.read()
                if current is not None and (current.window, current.title) != last:
                    last = (current.window, current.title)
                    sink(
                        FocusChanged(
                            app_name=current.app_name,
                            app_id=current.app_id,
                            title=current.title,
                            t_ms=_now_ms(),
                        )
                    )
                if not focus.wait(self._wake_r, _POLL_S):
                    continue
        except (error.ConnectionClosedError, OSError):
            pass  # the server went away
        finally:
            with contextlib.suppress(error.XError, OSError):
                watcher.close()


def _key(
    keycode: int, state: int, lookup: Callable[[int, int], int], pressed: bool, t_ms: int
) -> KeyChanged | None:
    """A key's schema name, or the class of what it types (the shifted keysym: '!' is punct)
    and, under ctrl/alt/meta, its unshifted keysym as the shortcut's key ('s' in ctrl+shift+s)."""
    base = lookup(keycode, 0)
    named = _NAMED_BY_KEYSYM.get(base)
    if named is not None:
        return KeyChanged(name=named, typed=None, pressed=pressed, t_ms=t_ms)
    shifted = lookup(keycode, 1) if state & X.ShiftMask else 0
    ch = XK.keysym_to_string(shifted or base)
    if not ch or len(ch) != 1 or not ch.isprintable():
        return None  # a media or vendor key: nothing the schema names
    typed = _key_class(ch)
    name = None
    if state & _SHORTCUT_MASK:
        key = XK.keysym_to_string(base)
        if key and len(key) == 1 and key.isascii() and key.isprintable() and not key.isspace():
            name = key.lower()
    return KeyChanged(name=name, typed=typed, pressed=pressed, t_ms=t_ms)


@dataclass(frozen=True, slots=True)
class _Focused:
    window: int
    app_name: str | None
    app_id: str | None
    title: str | None


class _FocusReader:
    """Which top-level window has the focus, and the events that say it may have changed."""

    _MASK = X.FocusChangeMask | X.PropertyChangeMask | X.StructureNotifyMask

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._root = conn.screen().root
        self._active = conn.intern_atom("_NET_ACTIVE_WINDOW")
        self._net_name = conn.intern_atom("_NET_WM_NAME")
        self._utf8 = conn.intern_atom("UTF8_STRING")
        self._watched: set[int] = set()

    def listen(self) -> None:
        """PropertyNotify on the root (_NET_ACTIVE_WINDOW), new top-levels, FocusIn on each."""
        self._root.change_attributes(
            event_mask=X.PropertyChangeMask | X.SubstructureNotifyMask | X.FocusChangeMask
        )
        with contextlib.suppress(error.XError):
            for child in self._root.query_tree().children:
                self._watch(child)
        self._conn.flush()

    def _watch(self, window: Any) -> None:
        if window.id in self._watched:
            return
        with contextlib.suppress(error.XError):
            window.change_attributes(event_mask=self._MASK)
            self._watched.add(window.id)

    def wait(self, wake_fd: int, timeout: float) -> bool:
        """Block until an X event, a stop, or the timeout; drain what arrived."""
        if not self._conn.pending_events():
            readable, _, _ = select.select([self._conn.fileno(), wake_fd], [], [], timeout)
            if wake_fd in readable:
                return False
        while self._conn.pending_events():
            event = self._conn.next_event()
            if event.type == X.CreateNotify:
                self._watch(event.window)
            elif event.type == X.DestroyNotify:
                self._watched.discard(event.window.id)
        self._conn.flush()
        return True

    def read(self) -> _Focused | None:
        try:
            window = self._focused_window()
            if window is None:
                return None
            self._watch(window)
            instance, cls = window.get_wm_class() or (None, None)
            return _Focused(window.id, cls or None, instance or None, self._title(window))
        except error.XError:
            return None  # the window went away between two requests: the next event tells

    def _focused_window(self) -> Any:
        active = self._root.get_full_property(self._active, Xatom.WINDOW)
        if active is not None and len(active.value) and active.value[0]:
            return self._conn.create_resource_object("window", active.value[0])
        focus = self._conn.get_input_focus().focus
        if not hasattr(focus, "id") or focus.id == self._root.id:
            # PointerRoot or the root itself: the top-level window under the pointer has it.
            focus = self._root.query_pointer().child
            if not hasattr(focus, "id") or focus.id in (0, self._root.id):
                return None
        return self._top_level(focus)

    def _top_level(self, window: Any) -> Any:
        """The window itself or its nearest ancestor that names its application (WM_CLASS)."""
        while window.id != self._root.id:
            if window.get_wm_class():
                return window
            parent = window.query_tree().parent
            if not hasattr(parent, "id") or parent.id == 0:
                break
            window = parent
        return None

    def _title(self, window: Any) -> str | None:
        prop = window.get_full_property(self._net_name, self._utf8)
        if prop is not None and prop.value:
            raw = prop.value
            return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        name = window.get_wm_name()
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        return name or None

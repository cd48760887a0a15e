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
import itertools
import os
import select
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from Xlib import XK, X, Xatom, display, error
from Xlib.ext import record

from ilake_contract.vocabulary import char_class

from .backend import (
    BackendUnavailable,
    Button,
    ButtonChanged,
    FocusChanged,
    FocusMoving,
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
XK.load_keysym_group("xkb")  # ISO_Left_Tab (shift+Tab) and the rest of the XKB keysyms
_NAMED_BY_KEYSYM: dict[int, str] = {
    keysym: name
    for symbol, name in _NAMED.items()
    if (keysym := XK.string_to_keysym(symbol)) != X.NoSymbol  # an unbound keycode names nothing
}
# ctrl, alt (Mod1) and meta (Mod4, the Super key): a printable key under these is a shortcut.
_SHORTCUT_MASK = X.ControlMask | X.Mod1Mask | X.Mod4Mask
_POLL_S = 1.0  # the focus watcher's fallback recheck, when no event woke it
# How long the watcher, having found another window focused with no FocusIn recorded, lets the
# recorded stream catch up before it answers its own move.
_SETTLE_S = 0.05

# The recorded stream holds 32-byte core events in this client's (native) byte order, as
# python-xlib reads them too: device events (type, detail, sequence, time, root, event, child,
# root_x, root_y, event_x, event_y, state, same_screen) and the delivered FocusIn (its window
# at 4). The type's high bit marks a SendEvent.
_DEVICE = struct.Struct("=BBHLLLLhhhhHB1x")
_FOCUS_IN = struct.Struct("=4xL24x")
_EVENT_SIZE = 32


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
        self._wake_r, self._wake_w = -1, -1  # stop() wakes the focus watcher
        self._nudge_r, self._nudge_w = -1, -1  # a recorded FocusIn wakes it
        self._started = False
        # Focus moves: tokens shared by both threads; the recorded FocusIns the watcher has not
        # answered yet (token -> the window the server delivered it for), under _lock.
        self._tokens = itertools.count(1)
        self._unanswered: dict[int, int] = {}

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

    def start(self, sink: RawSink, *, pointer_every_ms: int | None = None) -> None:
        with self._lock:
            if self._started or self._stopping.is_set():
                raise RuntimeError("a backend starts once, and not after stop()")
            self._started = True
        recorder = _open(self._name)
        keys = _open(self._name)  # the record thread's own, for keymap reloads
        watcher = _open(self._name)
        # Device input, and in the same stream the FocusIn the server delivers to any client
        # (the focus watcher selects it on every top-level window): a focus move comes in order
        # with the keys typed after it.
        context = recorder.record_create_context(
            0,
            [record.AllClients],
            [
                _range(
                    # every motion, or none: the watcher then asks where the pointer is
                    device=(
                        X.KeyPress,
                        X.MotionNotify if pointer_every_ms is None else X.ButtonRelease,
                    ),
                    delivered=(X.FocusIn, X.FocusIn),
                ),
            ],
        )
        self._context = context
        self._wake_r, self._wake_w = os.pipe()
        self._nudge_r, self._nudge_w = os.pipe()
        ready = threading.Event()
        self._threads = [
            threading.Thread(
                target=self._record,
                args=(recorder, _Keymap(keys), context, sink, ready),
                name="ilake-x11-input",
                daemon=True,
            ),
            threading.Thread(
                target=self._watch_focus,
                args=(watcher, sink, pointer_every_ms),
                name="ilake-x11-focus",
                daemon=True,
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
        for fd in (self._wake_r, self._wake_w, self._nudge_r, self._nudge_w):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._wake_r = self._wake_w = self._nudge_r = self._nudge_w = -1

    # -- pointer and keys ---------------------------------------------------------------------

    def _record(
        self, recorder: Any, keymap: _Keymap, context: int, sink: RawSink, ready: threading.Event
    ) -> None:
        device, focus_in = _DEVICE.unpack_from, _FOCUS_IN.unpack_from
        last_focus_in = (0, 0)  # (window, ms): the same FocusIn's copies for other clients

        def on_reply(reply: Any) -> None:
            nonlocal last_focus_in
            if reply.category == record.StartOfData:
                ready.set()
            if reply.category != record.FromServer or self._stopping.is_set():
                return
            data = reply.data
            for offset in range(0, len(data) - _EVENT_SIZE + 1, _EVENT_SIZE):
                kind = data[offset] & 0x7F
                if X.KeyPress <= kind <= X.MotionNotify:
                    raw = _translate(device(data, offset), keymap)
                    if raw is not None:
                        sink(raw)
                elif kind == X.FocusIn:
                    (window,) = focus_in(data, offset)
                    now = _now_ms()
                    if window != last_focus_in[0] or now - last_focus_in[1] > 20:
                        last_focus_in = (window, now)
                        self._focus_moving(window, now, sink)

        try:
            recorder.record_enable_context(context, on_reply)
        except (error.XError, error.ConnectionClosedError, OSError):
            pass  # the server went away: nothing more to capture
        finally:
            ready.set()
            for conn in (recorder, keymap.conn):
                with contextlib.suppress(error.XError, OSError):
                    conn.close()

    def _focus_moving(self, window: int, t_ms: int, sink: RawSink) -> None:
        """A FocusIn in the recorded stream: stop building now, and ask the watcher which
        application that window belongs to."""
        token = next(self._tokens)
        sink(FocusMoving(t_ms=t_ms, token=token))
        with self._lock:
            self._unanswered[token] = window
        with contextlib.suppress(OSError):
            os.write(self._nudge_w, b".")

    # -- the focused window -------------------------------------------------------------------

    def _watch_focus(self, watcher: Any, sink: RawSink, pointer_every_ms: int | None) -> None:
        """Answers each recorded FocusIn with the application of the window it was for; reports
        the first focus, title changes, and a move no FocusIn was recorded for (found by a
        property change or the once-a-second check: then a move of its own goes first, so that
        nothing is built under the old window while the recorded stream catches up). With
        `pointer_every_ms`, also where the pointer is at that pace, when it has moved."""
        focus = _FocusReader(watcher)
        last: _Focused | None = None
        every = pointer_every_ms / 1000 if pointer_every_ms else None
        now = time.monotonic()
        next_check, next_poll = now, now
        pointer: tuple[int, int] | None = None
        woke = "timeout"
        try:
            focus.listen()
            while not self._stopping.is_set():
                now = time.monotonic()
                if woke != "timeout" or now >= next_check:
                    next_check = now + _POLL_S
                    last = self._check_focus(focus, sink, last)
                if every is not None and now >= next_poll:
                    next_poll = max(next_poll + every, now)
                    where = focus.pointer()
                    if where is not None and where != pointer:
                        pointer = where
                        sink(PointerMoved(x=where[0], y=where[1], t_ms=_now_ms()))
                wait = next_check if every is None else min(next_check, next_poll)
                woke = focus.wait(self._wake_r, self._nudge_r, max(wait - time.monotonic(), 0))
                if woke == "stop":
                    break
        except (error.ConnectionClosedError, OSError):
            pass  # the server went away
        finally:
            with contextlib.suppress(error.XError, OSError):
                watcher.close()

    def _check_focus(
        self, focus: _FocusReader, sink: RawSink, last: _Focused | None
    ) -> _Focused | None:
        """Answer a recorded move, or see whether the focus or its title changed by itself;
        what was last reported."""
        answered = self._answer(focus, sink)
        if answered is not None:
            return answered
        current = focus.read()
        if current is None or current == last:
            return last
        if last is not None and current.window != last.window:
            token = next(self._tokens)
            sink(FocusMoving(t_ms=_now_ms(), token=token))
            focus.wait(-1, self._nudge_r, _SETTLE_S)
            self._answer(focus, sink)
            current = focus.read() or current
            sink(current.report(answers=token))
        else:
            sink(current.report())
        return current

    def _answer(self, focus: _FocusReader, sink: RawSink) -> _Focused | None:
        """Answer the latest recorded FocusIn (an earlier one is settled by it): the window
        the server delivered it for, or what has the focus now when that window names no
        application (the root, a frame without a client)."""
        with self._lock:
            if not self._unanswered:
                return None
            token = max(self._unanswered)
            window = self._unanswered[token]
            self._unanswered.clear()
        current = focus.resolve(window) or focus.read()
        if current is None:
            current = _Focused(0, None, None, None)  # nothing focused: an unknown window
        sink(current.report(answers=token))
        return current


def _range(device: tuple[int, int] = (0, 0), delivered: tuple[int, int] = (0, 0)) -> dict[str, Any]:
    """A RECORD range: these device and delivered events, nothing else."""
    return {
        "core_requests": (0, 0),
        "core_replies": (0, 0),
        "ext_requests": (0, 0, 0, 0),
        "ext_replies": (0, 0, 0, 0),
        "delivered_events": delivered,
        "device_events": device,
        "errors": (0, 0),
        "client_started": False,
        "client_died": False,
    }


class _Keymap:
    """Keycode -> keysyms, this backend's own copy: loaded at the first key and again after
    the server says the keyboard mapping changed (a layout switch, xmodmap, `xdotool type`
    binding a spare keycode to a character the layout lacks). The server tells every client
    with a MappingNotify before it handles the next input, so the one on this connection (the
    record thread's own) is read before the key it precedes is looked up. (RECORD does not
    record MappingNotify among delivered events.)"""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self._first: int = conn.display.info.min_keycode
        self._count: int = conn.display.info.max_keycode - self._first + 1
        self._rows: list[tuple[int, ...]] = []
        self.stale = True

    def refresh(self) -> None:
        """Mark the table stale if a keyboard MappingNotify has arrived (one syscall)."""
        conn = self.conn
        while conn.pending_events():
            event = conn.next_event()
            if event.type == X.MappingNotify and event.request == X.MappingKeyboard:
                self.stale = True

    def keysym(self, keycode: int, index: int) -> int:
        if self.stale:
            self.stale = False
            rows = self.conn.get_keyboard_mapping(self._first, self._count)
            self._rows = [tuple(row) for row in rows]
        row = keycode - self._first
        if 0 <= row < len(self._rows) and index < len(self._rows[row]):
            return self._rows[row][index]
        return 0  # NoSymbol


def _translate(
    event: tuple[int, ...], keymap: _Keymap
) -> PointerMoved | ButtonChanged | Scrolled | KeyChanged | None:
    """A decoded device event (see _DEVICE) as raw input: no key objects, no characters."""
    kind, detail, _, t, _, _, _, x, y, _, _, state, _ = event
    kind &= 0x7F  # t: the server's time of the event, whenever this thread reads it
    if kind == X.MotionNotify:
        return PointerMoved(x=x, y=y, t_ms=t)
    if kind == X.ButtonPress or kind == X.ButtonRelease:
        wheel = _WHEEL.get(detail)
        if wheel is not None:  # a wheel notch is a press and a release: count the press
            if kind != X.ButtonPress:
                return None
            return Scrolled(x=x, y=y, dx=wheel[0], dy=wheel[1], t_ms=t)
        button = _BUTTONS.get(detail)
        if button is None:
            return None
        return ButtonChanged(x=x, y=y, button=button, pressed=kind == X.ButtonPress, t_ms=t)
    keymap.refresh()
    return _key(detail, state, keymap.keysym, kind == X.KeyPress, t)


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

    def report(self, answers: int | None = None) -> FocusChanged:
        return FocusChanged(
            app_name=self.app_name,
            app_id=self.app_id,
            title=self.title,
            t_ms=_now_ms(),
            answers=answers,
        )


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

    def wait(self, wake_fd: int, nudge_fd: int, timeout: float) -> str:
        """Block until a stop ("stop"), a recorded FocusIn ("nudge"), an X event that may
        change what is focused or its title ("x"), or the timeout ("timeout"). The focus
        events of this connection do not count: their copies in the recorded stream do."""
        fds = [fd for fd in (self._conn.fileno(), wake_fd, nudge_fd) if fd >= 0]
        if not self._conn.pending_events():
            readable, _, _ = select.select(fds, [], [], timeout)
            if wake_fd in readable:
                return "stop"
            if nudge_fd in readable:
                os.read(nudge_fd, 4096)
                return "nudge"
        woke = "timeout"
        while self._conn.pending_events():
            event = self._conn.next_event()
            if event.type in (X.FocusIn, X.FocusOut):
                continue
            woke = "x"
            if event.type == X.CreateNotify:
                self._watch(event.window)
            elif event.type == X.DestroyNotify:
                self._watched.discard(event.window.id)
        self._conn.flush()
        return woke

    def pointer(self) -> tuple[int, int] | None:
        """Where the pointer is, in root window pixels (one round trip)."""
        try:
            reply = self._root.query_pointer()
        except error.XError:
            return None
        return (reply.root_x, reply.root_y)

    def read(self) -> _Focused | None:
        """The application and title of the window that has the focus now."""
        try:
            return self._describe(self._focused_window())
        except error.XError:
            return None  # the window went away between two requests: the next event tells

    def resolve(self, window_id: int) -> _Focused | None:
        """The application and title of the window a FocusIn was for: that window, an
        ancestor, or (a window manager's frame) a child that names its application."""
        if window_id in (0, self._root.id):
            return None
        try:
            window = self._conn.create_resource_object("window", window_id)
            return self._describe(self._top_level(window) or self._client_below(window))
        except error.XError:
            return None

    def _describe(self, window: Any) -> _Focused | None:
        if window is None:
            return None
        self._watch(window)
        instance, cls = window.get_wm_class() or (None, None)
        return _Focused(window.id, cls or None, instance or None, self._title(window))

    def _client_below(self, window: Any, depth: int = 2) -> Any:
        """The first child, breadth first and `depth` levels down, that has a WM_CLASS."""
        level = [window]
        for _ in range(depth):
            level = [child for parent in level for child in parent.query_tree().children]
            for child in level:
                if child.get_wm_class():
                    return child
        return None

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

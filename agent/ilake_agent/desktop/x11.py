"""The Linux/X11 backend: the pointer and keys through the RECORD extension, the focused window
through window properties, all with python-xlib.

Input is read the way pynput's xorg backend reads it (a RECORD context over every client's
device events, XTEST-injected ones included), but on the display this backend was given and
without building key objects: a key event carries a keycode, the keycode's unshifted keysym is
looked up, and a printable key leaves this module only as its class. The character is a local
of `_key` and nothing else.

Which application the keys go to: the input focus, walked up to the top-level window that has
a WM_CLASS (or down from a window manager's frame to its client). Every focus change reaches
the record thread in the same RECORD stream as the keys (the FocusIn and FocusOut delivered to
the watcher, which selects them on the root and every top-level), becomes a `FocusMoving`
before the next key, and is answered by the watcher thread; when the keys follow the pointer
(PointerRoot) or a keyboard grab takes them, the answer is an unknown window, under which the
recorder builds nothing. The watcher also rechecks on title and structure changes and once a
second (docs/agent.md#focus-changes-in-order-with-the-input).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import socket
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

# The recorded stream holds 32-byte core events: device events in this client's (native) byte
# order, as python-xlib reads them too (type, detail, sequence, time, root, event, child, root_x,
# root_y, event_x, event_y, state, same_screen); delivered FocusIn/FocusOut (type, detail,
# sequence, window, mode) in the byte order of the client they were delivered to, which the
# reply's `client_swapped` says. The type's high bit marks a SendEvent (another client's
# forgery: it moves no focus).
_DEVICE = struct.Struct("=BBHLLLLhhhhHB1x")
_NATIVE = "<" if struct.pack("=H", 1) == b"\x01\x00" else ">"
_FOCUS = {
    False: struct.Struct(f"{_NATIVE}BBHLB23x"),
    True: struct.Struct(f"{'>' if _NATIVE == '<' else '<'}BBHLB23x"),
}
_SEND_EVENT = 0x80
# FocusIn/FocusOut details that mean the keys follow the pointer (PointerRoot, no focus).
_POINTER_DETAILS = frozenset({X.NotifyPointer, X.NotifyPointerRoot, X.NotifyDetailNone})
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
        # Focus moves: tokens shared by both threads; the recorded focus events the watcher has
        # not answered yet (token -> where the keys go: see _where_to), under _lock.
        self._tokens = itertools.count(1)
        self._unanswered: dict[int, int | None] = {}
        self._grabbed = False  # a keyboard grab is active: the input focus is not where keys go

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
        connections: list[Any] = []
        try:
            recorder = _open(self._name)
            connections.append(recorder)
            keys = _open(self._name)  # the record thread's own, for keymap reloads
            connections.append(keys)
            watcher = _open(self._name)
            connections.append(watcher)
            # Device input, and in the same stream the FocusIn and FocusOut the server delivers
            # to any client (the focus watcher selects them on the root and every top-level
            # window): a focus move comes in order with the keys typed after it.
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
                        delivered=(X.FocusIn, X.FocusOut),
                    ),
                ],
            )
        except BaseException:
            for conn in connections:
                with contextlib.suppress(error.XError, error.ConnectionClosedError, OSError):
                    conn.close()
            raise
        self._context = context
        self._wake_r, self._wake_w = os.pipe()
        self._nudge_r, self._nudge_w = os.pipe()
        os.set_blocking(self._nudge_w, False)  # a watcher that lags never stalls the input
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
        if not ready.wait(timeout=5.0) or not self.running():
            self.stop()
            raise BackendUnavailable("the X server does not record input for this agent")

    def running(self) -> bool:
        """Whether input is still being read (False once the server went away)."""
        return bool(self._threads) and all(thread.is_alive() for thread in self._threads)

    def stop(self) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            self._stopping.set()
        # A record thread that has ended closed its connection, and the server freed the
        # context with it: disabling or freeing it then is only an X error.
        live = bool(self._threads) and self._threads[0].is_alive()
        if self._context is not None and live:
            with contextlib.suppress(error.XError, error.ConnectionClosedError, OSError):
                self._control.record_disable_context(self._context)
                self._control.flush()
        if self._wake_w >= 0:
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5.0)
        with contextlib.suppress(error.XError, error.ConnectionClosedError, OSError):
            if self._context is not None and live:
                self._control.record_free_context(self._context)
        with contextlib.suppress(error.XError, error.ConnectionClosedError, OSError):
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
        device = _DEVICE.unpack_from
        last_focus: tuple[int, ...] | None = None  # the same event's copies for other clients

        def on_reply(category: int, client_swapped: bool, data: bytes) -> None:
            nonlocal last_focus
            if category == record.StartOfData:
                ready.set()
            if category != record.FromServer or self._stopping.is_set():
                return
            focus = _FOCUS[client_swapped].unpack_from
            for offset in range(0, len(data) - _EVENT_SIZE + 1, _EVENT_SIZE):
                kind = data[offset]
                if X.KeyPress <= kind & 0x7F <= X.MotionNotify:
                    last_focus = None
                    raw = _translate(device(data, offset), keymap)
                    if raw is not None:
                        sink(raw)
                elif kind in (X.FocusIn, X.FocusOut):  # not a SendEvent's: that bit is clear
                    kind, detail, _, window, mode = focus(data, offset)
                    seen = (kind, detail, window, mode)
                    if seen != last_focus:
                        last_focus = seen
                        if mode in (X.NotifyGrab, X.NotifyUngrab):
                            self._grabbed = mode == X.NotifyGrab
                        # while a grab holds the keyboard, the keys go to the grabbing client,
                        # wherever the input focus moves meanwhile: no app is known
                        where = None if self._grabbed else _where_to(kind, detail, window)
                        self._focus_moving(where, sink)

        try:
            _read_records(recorder, context, on_reply)
        except (error.XError, error.ConnectionClosedError):
            pass  # the server went away: nothing more to capture
        finally:
            ready.set()
            # python-xlib must not read the RECORD stream it never asked for: end the socket
            # first, so that close() finds it closed
            with contextlib.suppress(OSError):
                recorder.display.socket.shutdown(socket.SHUT_RDWR)
            for conn in (recorder, keymap.conn):
                with contextlib.suppress(error.XError, error.ConnectionClosedError, OSError):
                    conn.close()

    def _focus_moving(self, where: int | None, sink: RawSink) -> None:
        """A focus event in the recorded stream: stop building now, and ask the watcher which
        application the keys go to from here (`where`: see _where_to)."""
        token = next(self._tokens)
        sink(FocusMoving(t_ms=_now_ms(), token=token))
        with self._lock:
            self._unanswered[token] = where
        with contextlib.suppress(OSError):  # BlockingIOError: the watcher is woken already
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
                    try:
                        last = self._check_focus(focus, sink, last)
                    except (error.ConnectionClosedError, OSError):
                        raise
                    except Exception:  # what python-xlib makes of an odd window: fail closed
                        last = self._unknown(sink)
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
            with contextlib.suppress(error.XError, error.ConnectionClosedError, OSError):
                watcher.close()

    def _check_focus(
        self, focus: _FocusReader, sink: RawSink, last: _Focused | None
    ) -> _Focused | None:
        """Answer a recorded move, or see whether the focus or its title changed by itself;
        what the recorder was last told."""
        answered = self._answer(focus, sink)
        if answered is not None:
            return answered[1]
        if self._grabbed:
            return last  # the keys go to the grabbing window, whatever has the input focus
        current = focus.read()
        if current is None or current == last:
            return last
        if last is None or current.window == last.window:
            sink(current.report())  # the first focus, or a new title
            return current
        # Another window, and no focus event recorded for it: a move of our own first, and
        # time for the recorded stream to bring the one that explains it, if any.
        token = next(self._tokens)
        sink(FocusMoving(t_ms=_now_ms(), token=token))
        with contextlib.suppress(OSError):
            select.select([self._nudge_r], [], [], _SETTLE_S)
        answered = self._answer(focus, sink)
        if answered is not None and answered[0] > token:
            return answered[1]  # the recorder took that one
        current = focus.read() or _UNKNOWN_FOCUS
        sink(current.report(answers=token))
        return current

    def _unknown(self, sink: RawSink) -> _Focused:
        """Answer every move with an unknown window: nothing is built until the next answer."""
        with self._lock:
            self._unanswered.clear()
        token = next(self._tokens)
        sink(FocusMoving(t_ms=_now_ms(), token=token))
        sink(_UNKNOWN_FOCUS.report(answers=token))
        return _UNKNOWN_FOCUS

    def _answer(self, focus: _FocusReader, sink: RawSink) -> tuple[int, _Focused] | None:
        """Answer the latest recorded focus event (an earlier one is settled by it) with the
        application the keys go to; an unknown one (nothing is built) when that is not known
        for sure."""
        with self._lock:
            if not self._unanswered:
                return None
            token = max(self._unanswered)
            where = self._unanswered[token]
            self._unanswered.clear()
        if where is None:
            current = _UNKNOWN_FOCUS
        elif where == _FOCUS_NOW:
            current = focus.read() or _UNKNOWN_FOCUS
        else:
            current = focus.resolve(where) or _UNKNOWN_FOCUS
        sink(current.report(answers=token))
        return token, current


_FOCUS_NOW = -1  # where the keys go: to whatever has the input focus when the watcher reads it


def _where_to(kind: int, detail: int, window: int) -> int | None:
    """Where a recorded FocusIn or FocusOut outside a keyboard grab sends the keys: the window
    it names (FocusIn), the input focus as the watcher will read it (FocusOut: the FocusIn that
    follows may say more), or None when they follow the pointer (PointerRoot, no focus)."""
    if detail in _POINTER_DETAILS:
        return None
    return window if kind == X.FocusIn else _FOCUS_NOW


_ENABLE_CONTEXT = 5  # RECORD's minor opcode
_REPLY = struct.Struct("=BBHLBB2xLLL8x")  # type, category, sequence, length, element header, ...


def _read_records(conn: Any, context: int, on_reply: Callable[[int, bool, bytes], None]) -> None:
    """Enable a RECORD context and read its replies straight from the connection's socket
    until EndOfData (after a disable from another connection) or the server goes away: what
    python-xlib's record_enable_context does, without a reply object, its locks and a select
    per reply (about 30% of the backend's CPU per input, measured). Nothing else is read from
    this connection: the record thread shuts its socket down before python-xlib closes it.
    An X error here can only be the context's: it ends the stream."""
    sock = conn.display.socket
    major = conn.display.get_extension_major(record.extname)
    conn.flush()  # the context's creation, still in python-xlib's buffer
    try:
        sock.sendall(struct.pack("=BBHL", major, _ENABLE_CONTEXT, 2, context))
    except OSError:
        return  # the server went away
    pending = bytearray()
    while True:
        try:
            chunk = sock.recv(1 << 16)
        except OSError:
            return  # the server went away
        if not chunk:
            return  # the server closed the connection
        pending += chunk
        offset, size = 0, len(pending)
        while size - offset >= 32:
            kind, category, _, length, _, swapped, _, _, _ = _REPLY.unpack_from(pending, offset)
            end = offset + 32 + 4 * length if kind == 1 else offset + 32
            if end > size:
                break  # the rest of this reply is still on its way
            if kind == 0:
                return  # an error: the context cannot be enabled, nothing will follow
            if kind == 1:  # a reply; an event (32 bytes, a MappingNotify) has no place here
                if category == record.EndOfData:
                    return
                on_reply(category, bool(swapped), bytes(pending[offset + 32 : end]))
            offset = end
        del pending[:offset]


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
    """A window that has the focus, and what names its application."""

    window: int
    app_name: str | None
    app_id: str | None
    title: str | None

    def report(self, answers: int | None = None) -> FocusChanged:
        """What the recorder is told; an unknown window names no application, and the
        recorder builds nothing while it has the focus."""
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
        self._net_name = conn.intern_atom("_NET_WM_NAME")
        self._utf8 = conn.intern_atom("UTF8_STRING")
        self._watched: set[int] = set()

    def listen(self) -> None:
        """Focus events on the root and every top-level (their copies reach the RECORD
        stream), new top-levels, and property changes (a title; a window manager's
        `_NET_ACTIVE_WINDOW`, only as a hint to look again)."""
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
        """The application and title of the window that has the input focus now, the one the
        keys go to (unknown when they follow the pointer); None when it vanished mid-read."""
        try:
            focus = self._conn.get_input_focus().focus
            if not hasattr(focus, "id") or focus.id in (0, self._root.id):
                return _UNKNOWN_FOCUS  # PointerRoot, None or the root: the keys follow the pointer
            return self._describe(self._top_level(focus) or self._client_below(focus))
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
            return _UNKNOWN_FOCUS  # no window of it names an application
        self._watch(window)
        try:
            instance, cls = window.get_wm_class() or (None, None)
            title = self._title(window)
        except (TypeError, ValueError, UnicodeError):
            return _UNKNOWN_FOCUS  # a WM_CLASS or title python-xlib cannot read: unknown
        return _Focused(window.id, cls or None, instance or None, title)

    def _client_below(self, window: Any, depth: int = 2) -> Any:
        """The first child, breadth first and `depth` levels down, that has a WM_CLASS (a
        window manager's frame holds its client)."""
        level = [window]
        for _ in range(depth):
            level = [child for parent in level for child in parent.query_tree().children]
            for child in level:
                with contextlib.suppress(TypeError, ValueError):
                    if child.get_wm_class():
                        return child
        return None

    def _top_level(self, window: Any) -> Any:
        """The window itself or its nearest ancestor that names its application (WM_CLASS)."""
        while window.id != self._root.id:
            with contextlib.suppress(TypeError, ValueError):
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


_UNKNOWN_FOCUS = _Focused(0, None, None, None)

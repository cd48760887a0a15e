"""The X11 backend under Xvfb, driven by xdotool: what it reports is what was done, and what
was typed is reported only as character classes (docs/agent.md#platforms)."""

from __future__ import annotations

import dataclasses
import resource
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from Xlib import XK, X, Xatom, display
from Xlib.ext import xtest
from Xlib.protocol import event as xevent

from ilake_agent.desktop import x11
from ilake_agent.desktop.backend import (
    BackendUnavailable,
    ButtonChanged,
    FocusChanged,
    FocusMoving,
    KeyChanged,
    PointerMoved,
    RawInput,
    Screen,
    Scrolled,
)
from ilake_agent.desktop.x11 import X11Backend
from tests.support.desktop import HEIGHT, WIDTH, Geometry, TestWindow, Xdotool, wait_for, xvfb
from tests.support.desktop import wm_name_only as legacy_window

pytestmark = pytest.mark.integration


class Collected:
    """A thread-safe sink: the backend calls it from its own threads."""

    def __init__(self) -> None:
        self._items: list[RawInput] = []
        self._lock = threading.Lock()

    def __call__(self, raw: RawInput) -> None:
        with self._lock:
            self._items.append(raw)

    def mark(self) -> int:
        with self._lock:
            return len(self._items)

    def since(self, mark: int) -> list[RawInput]:
        with self._lock:
            return self._items[mark:]

    def wait(self, mark: int, done: Callable[[list[RawInput]], bool], what: str) -> list[RawInput]:
        wait_for(lambda: done(self.since(mark)), what=what)
        return self.since(mark)


@pytest.fixture(scope="module")
def desktop() -> Iterator[str]:
    with xvfb() as name:
        yield name


@pytest.fixture(scope="module")
def captured(desktop: str) -> Iterator[tuple[X11Backend, Collected]]:
    backend = X11Backend(desktop)
    sink = Collected()
    backend.start(sink)
    yield backend, sink
    backend.stop()


@pytest.fixture(scope="module")
def xdo(desktop: str) -> Xdotool:
    return Xdotool(desktop)


def keys(items: list[RawInput]) -> list[KeyChanged]:
    return [i for i in items if isinstance(i, KeyChanged)]


def presses(items: list[RawInput]) -> list[KeyChanged]:
    return [k for k in keys(items) if k.pressed]


def test_screen_is_the_xvfb_screen(captured: tuple[X11Backend, Collected]) -> None:
    backend, _ = captured
    assert backend.screen() == Screen(w=WIDTH, h=HEIGHT, scale=1.0)


def test_scale_comes_from_xft_dpi(desktop: str, captured: tuple[X11Backend, Collected]) -> None:
    backend, _ = captured
    conn = display.Display(desktop)
    root = conn.screen().root
    root.change_property(Xatom.RESOURCE_MANAGER, Xatom.STRING, 8, b"Xft.dpi:\t144\n")
    conn.sync()
    try:
        assert backend.screen() == Screen(w=WIDTH, h=HEIGHT, scale=1.5)
    finally:
        root.delete_property(Xatom.RESOURCE_MANAGER)
        conn.close()


def test_moves_at_the_driven_coordinates(
    captured: tuple[X11Backend, Collected], xdo: Xdotool
) -> None:
    _, sink = captured
    mark = sink.mark()
    for x, y in ((321, 234), (700, 50), (5, 790)):
        xdo.mousemove(x, y)
    moved = sink.wait(
        mark,
        lambda got: (
            PointerMoved in {type(g) for g in got}
            and {(g.x, g.y) for g in got if isinstance(g, PointerMoved)}
            >= {(321, 234), (700, 50), (5, 790)}
        ),
        "three pointer moves",
    )
    assert all(isinstance(g, PointerMoved) for g in moved)


def test_at_a_pace_the_pointer_is_asked_for_not_recorded_at_every_motion(
    desktop: str, xdo: Xdotool
) -> None:
    """A program that samples moves every 100 ms: a path of 120 moves in about 1.2 s is
    reported as at most one position per 100 ms, each one the path went through, the last
    where it ended; a pointer at rest is not reported again."""
    backend = X11Backend(desktop)
    sink = Collected()
    backend.start(sink, pointer_every_ms=100)
    try:
        xdo.mousemove(0, 0)
        wait_for(lambda: (0, 0) in positions(sink.since(0)), what="the pointer at 0, 0")
        mark = sink.mark()
        path: list[str | int] = []
        for step in range(1, 121):
            path += ["mousemove", step * 5, step * 3, "sleep", "0.01"]
        started = time.monotonic()
        xdo(*path)
        took = time.monotonic() - started
        got = sink.wait(mark, lambda got: (600, 360) in positions(got), "the end of the path")
        moved = positions(got)
        assert 3 <= len(moved) <= took / 0.1 + 2, (len(moved), took)
        assert set(moved) <= {(step * 5, step * 3) for step in range(1, 121)}
        time.sleep(0.5)
        assert positions(sink.since(mark)) == moved  # at rest: nothing more
    finally:
        backend.stop()


def positions(items: list[RawInput]) -> list[tuple[int, int]]:
    return [(i.x, i.y) for i in items if isinstance(i, PointerMoved)]


@pytest.mark.parametrize(
    ("number", "button"),
    [(1, "left"), (2, "middle"), (3, "right"), (8, "back"), (9, "forward")],
)
def test_clicks_report_the_button_and_where(
    captured: tuple[X11Backend, Collected], xdo: Xdotool, number: int, button: str
) -> None:
    _, sink = captured
    xdo.mousemove(400, 300)
    mark = sink.mark()
    xdo.click(number)
    got = sink.wait(
        mark, lambda got: len([g for g in got if isinstance(g, ButtonChanged)]) >= 2, "a click"
    )
    clicks = [g for g in got if isinstance(g, ButtonChanged)]
    assert [(c.button, c.pressed, c.x, c.y) for c in clicks] == [
        (button, True, 400, 300),
        (button, False, 400, 300),
    ]


@pytest.mark.parametrize(
    ("number", "delta"), [(4, (0, 1)), (5, (0, -1)), (6, (-1, 0)), (7, (1, 0))]
)
def test_wheel_notches_are_scrolls_not_clicks(
    captured: tuple[X11Backend, Collected], xdo: Xdotool, number: int, delta: tuple[int, int]
) -> None:
    _, sink = captured
    xdo.mousemove(200, 100)
    mark = sink.mark()
    xdo("click", "--repeat", 3, "--delay", 10, number)
    got = sink.wait(
        mark, lambda got: len([g for g in got if isinstance(g, Scrolled)]) >= 3, "three notches"
    )
    scrolls = [g for g in got if isinstance(g, Scrolled)]
    assert [(s.dx, s.dy, s.x, s.y) for s in scrolls] == [(*delta, 200, 100)] * 3
    assert not [g for g in got if isinstance(g, ButtonChanged)]


def test_ctrl_s_is_a_shortcut_with_its_key(
    captured: tuple[X11Backend, Collected], xdo: Xdotool
) -> None:
    _, sink = captured
    mark = sink.mark()
    xdo.key("ctrl+s")
    got = sink.wait(mark, lambda got: len(keys(got)) >= 4, "ctrl+s down and up")
    assert [(k.name, k.pressed) for k in presses(got)] == [("ctrl", True), ("s", True)]
    assert presses(got)[1].typed == "letter"


def test_a_shortcut_names_the_unshifted_key(
    captured: tuple[X11Backend, Collected], xdo: Xdotool
) -> None:
    _, sink = captured
    mark = sink.mark()
    xdo.key("ctrl+shift+t", "alt+F4", "super+e", "ctrl+1")
    got = sink.wait(mark, lambda got: len(keys(got)) >= 18, "four shortcuts")
    assert [k.name for k in presses(got)] == [
        *("ctrl", "shift", "t"),
        *("alt", "F4"),
        *("meta", "e"),
        *("ctrl", "1"),
    ]


def test_typing_is_reported_only_as_classes(
    captured: tuple[X11Backend, Collected], xdo: Xdotool
) -> None:
    backend, sink = captured
    mark = sink.mark()
    xdo.type("hello 42!")
    # '!' is shift+1: shift is a named key, the '1' key under shift types punctuation.
    got = sink.wait(mark, lambda got: len(presses(got)) >= 10, "nine characters typed")
    assert [(k.name, k.typed) for k in presses(got)] == [
        *[(None, "letter")] * 5,
        (None, "space"),
        (None, "digit"),
        (None, "digit"),
        ("shift", None),
        (None, "punct"),
    ]
    typed = set("hello42!")
    for item in got:
        for field in dataclasses.fields(item):
            assert getattr(item, field.name) not in typed, (type(item).__name__, field.name)
        shown = repr(item)
        assert not any(f"'{ch}'" in shown for ch in typed), shown
        assert "hello" not in shown
    assert "hello" not in repr(vars(backend))


def test_characters_the_layout_lacks_are_letters_not_what_a_stale_keymap_says(
    captured: tuple[X11Backend, Collected], xdo: Xdotool
) -> None:
    """`xdotool type` binds a spare keycode to a character the layout lacks, types it and
    unbinds it: the backend reads the new mapping before the key, so each is a letter."""
    _, sink = captured
    xdo.key("F5")  # the keymap is loaded before the mapping changes
    mark = sink.mark()
    xdo.type("éßü")
    got = sink.wait(mark, lambda got: len(presses(got)) >= 3, "three characters typed")
    assert [(k.name, k.typed) for k in presses(got)] == [(None, "letter")] * 3


@pytest.fixture
def keyboard(desktop: str) -> Iterator[display.Display]:
    conn = display.Display(desktop)
    yield conn
    conn.close()


def fake_key(conn: display.Display, keycode: int) -> None:
    for kind in (X.KeyPress, X.KeyRelease):
        xtest.fake_input(conn, kind, keycode)
    conn.sync()


def test_a_remapped_key_is_reported_under_its_new_name(
    captured: tuple[X11Backend, Collected], xdo: Xdotool, keyboard: display.Display
) -> None:
    _, sink = captured
    keycode = keyboard.keysym_to_keycode(XK.string_to_keysym("a"))
    [before] = keyboard.get_keyboard_mapping(keycode, 1)
    xdo.key("F5")  # the keymap is loaded before the mapping changes
    mark = sink.mark()
    keyboard.change_keyboard_mapping(keycode, [[XK.string_to_keysym("F7")] * len(before)])
    keyboard.sync()
    try:
        fake_key(keyboard, keycode)
        got = sink.wait(mark, lambda got: bool(presses(got)), "the remapped key")
        assert [(k.name, k.typed) for k in presses(got)] == [("F7", None)]
    finally:
        keyboard.change_keyboard_mapping(keycode, [list(before)])
        keyboard.sync()
    mark = sink.mark()
    fake_key(keyboard, keycode)  # and back: a letter again
    got = sink.wait(mark, lambda got: bool(presses(got)), "the key restored")
    assert [(k.name, k.typed) for k in presses(got)] == [(None, "letter")]


def test_a_keycode_bound_to_nothing_is_no_key(
    captured: tuple[X11Backend, Collected], xdo: Xdotool, keyboard: display.Display
) -> None:
    _, sink = captured
    first = keyboard.display.info.min_keycode
    rows = keyboard.get_keyboard_mapping(first, keyboard.display.info.max_keycode - first + 1)
    unbound = next(first + i for i, row in enumerate(rows) if not any(row))
    mark = sink.mark()
    fake_key(keyboard, unbound)
    xdo.key("F6")  # what follows it, to know the unbound key has been read
    got = sink.wait(mark, lambda got: any(k.name == "F6" for k in keys(got)), "F6")
    assert [(k.name, k.typed) for k in presses(got)] == [("F6", None)]


@pytest.mark.parametrize(
    ("keysym", "name"),
    [
        ("Return", "Enter"),
        ("KP_Enter", "Enter"),
        ("Tab", "Tab"),
        ("F5", "F5"),
        ("F12", "F12"),
        ("Escape", "Escape"),
        ("BackSpace", "Backspace"),
        ("Delete", "Delete"),
        ("Up", "ArrowUp"),
        ("Left", "ArrowLeft"),
        ("Prior", "PageUp"),
        ("Home", "Home"),
        ("Control_R", "ctrl"),
        ("Alt_L", "alt"),
        ("Super_L", "meta"),
        ("Shift_R", "shift"),
    ],
)
def test_named_keys_use_the_vocabularys_names(
    captured: tuple[X11Backend, Collected], xdo: Xdotool, keysym: str, name: str
) -> None:
    _, sink = captured
    mark = sink.mark()
    xdo.key(keysym)
    # xdotool presses a modifier keysym as that modifier too: ctrl may come down twice.
    got = sink.wait(
        mark, lambda got: keys(got) and not keys(got)[-1].pressed, f"{keysym} down and up"
    )
    assert {(k.name, k.typed) for k in keys(got)} == {(name, None)}
    assert keys(got)[0].pressed


def focus_changes(items: list[RawInput]) -> list[FocusChanged]:
    return [i for i in items if isinstance(i, FocusChanged)]


def key_owners(items: list[RawInput]) -> list[str | None]:
    """The app each key press belongs to by the backend's focus protocol (as the recorder
    reads it): None while a move is unanswered, else the app of the last answer or report."""
    app: str | None = None
    awaited: int | None = None
    owners: list[str | None] = []
    for item in items:
        if isinstance(item, FocusMoving):
            awaited = item.token
        elif isinstance(item, FocusChanged):
            if awaited is not None and item.answers == awaited:
                awaited, app = None, item.app_name
            elif awaited is None and item.answers is None:
                app = item.app_name
        elif isinstance(item, KeyChanged) and item.pressed:
            owners.append(None if awaited is not None else app)
    return owners


def test_keys_typed_the_moment_the_focus_moves_never_belong_to_the_window_before(
    captured: tuple[X11Backend, Collected],
    xdo: Xdotool,
    two_windows: tuple[TestWindow, TestWindow],
) -> None:
    """The focus moves and a burst is typed at once, in one xdotool process: the move is in
    the recorded stream before the first key, so every key belongs to the new window or to
    none (while its application is being read), never to the window the focus left."""
    _, sink = captured
    editor, vault = two_windows
    xdo.focus(editor.id)
    wait_for(lambda: owner_now(sink) == "Code", what="the editor focused")
    for window, left in ((vault, "Code"), (editor, "1Password")) * 3:
        mark = sink.mark()
        xdo("windowfocus", window.id, "type", "--delay", 0, "abcdefghijkl")
        got = sink.wait(mark, lambda got: len(presses(got)) >= 12, "twelve keys")
        owners = key_owners(sink.since(0)[: mark + len(got)])[-12:]
        assert left not in owners, owners
        first_key = got.index(presses(got)[0])
        assert any(isinstance(item, FocusMoving) for item in got[:first_key])
        focused = window.wm_class[1]
        wait_for(lambda: owner_now(sink) == focused, what="the move answered")  # noqa: B023


@pytest.fixture
def two_windows(desktop: str) -> Iterator[tuple[TestWindow, TestWindow]]:
    editor = TestWindow(
        desktop, title="Editor", wm_class=("code", "Code"), geometry=Geometry(0, 0, 300, 300)
    )
    vault = TestWindow(
        desktop,
        title="Vault",
        wm_class=("1password", "1Password"),
        geometry=Geometry(400, 0, 300, 300),
    )
    yield editor, vault
    editor.close()
    vault.close()


def type_letters(conn: display.Display, n: int) -> None:
    keycode = conn.keysym_to_keycode(XK.string_to_keysym("a"))
    for _ in range(n):
        fake_key(conn, keycode)


def owners_of_the_next(sink: Collected, n: int, drive: Callable[[], None]) -> list[str | None]:
    mark = sink.mark()
    drive()
    got = sink.wait(mark, lambda got: len(presses(got)) >= n, f"{n} keys")
    return key_owners(sink.since(0)[: mark + len(got)])[-n:]


def owner_now(sink: Collected) -> str | None:
    return key_owners([*sink.since(0), KeyChanged(None, "letter", True, 0)])[-1]


def test_keys_that_follow_the_pointer_belong_to_no_app(
    captured: tuple[X11Backend, Collected],
    xdo: Xdotool,
    keyboard: display.Display,
    two_windows: tuple[TestWindow, TestWindow],
) -> None:
    """With the input focus PointerRoot (no window manager), keys go to whatever window the
    pointer is over, and no focus event says when it crosses: they are built under no app."""
    _, sink = captured
    editor, _ = two_windows
    xdo.focus(editor.id)
    wait_for(lambda: owner_now(sink) == "Code", what="the editor focused")
    keyboard.set_input_focus(X.PointerRoot, X.RevertToPointerRoot, X.CurrentTime)
    keyboard.sync()
    xdo.mousemove(500, 100)  # over the vault
    owners = owners_of_the_next(sink, 20, lambda: type_letters(keyboard, 20))
    assert set(owners) == {None}, owners


def test_keys_a_keyboard_grab_takes_belong_to_no_app(
    captured: tuple[X11Backend, Collected],
    xdo: Xdotool,
    keyboard: display.Display,
    two_windows: tuple[TestWindow, TestWindow],
) -> None:
    """A screen locker grabs the keyboard on the root while the editor keeps the input focus:
    what is typed goes to the locker and is built under no app; the ungrab gives it back."""
    _, sink = captured
    editor, _ = two_windows
    xdo.focus(editor.id)
    wait_for(lambda: owner_now(sink) == "Code", what="the editor focused")
    locker = display.Display(keyboard.get_display_name())
    try:
        locker.screen().root.grab_keyboard(True, X.GrabModeAsync, X.GrabModeAsync, X.CurrentTime)
        locker.sync()
        owners = owners_of_the_next(sink, 20, lambda: type_letters(keyboard, 20))
        time.sleep(1.2)  # the watcher's own check has run: it must not undo that
        owners += owners_of_the_next(sink, 5, lambda: type_letters(keyboard, 5))
        # the input focus moves during the grab: the keys still go to the grabbing client
        keyboard.set_input_focus(editor.id, X.RevertToParent, X.CurrentTime)
        owners += owners_of_the_next(sink, 5, lambda: type_letters(keyboard, 5))
        assert set(owners) == {None}, owners
        locker.ungrab_keyboard(X.CurrentTime)
        locker.sync()
        wait_for(lambda: owner_now(sink) == "Code", what="the editor's keys back")
    finally:
        locker.close()


def test_a_forged_focus_event_moves_nothing(
    captured: tuple[X11Backend, Collected],
    xdo: Xdotool,
    keyboard: display.Display,
    two_windows: tuple[TestWindow, TestWindow],
) -> None:
    """Any client may send a FocusIn (SendEvent) naming the editor while the vault has the
    focus: the keys still belong to the vault."""
    _, sink = captured
    editor, vault = two_windows
    xdo.focus(vault.id)
    wait_for(lambda: owner_now(sink) == "1Password", what="the vault focused")
    target = keyboard.create_resource_object("window", editor.id)
    forged = xevent.FocusIn(window=target, detail=X.NotifyNonlinear, mode=X.NotifyNormal)

    def forge_and_type() -> None:
        target.send_event(forged, event_mask=X.FocusChangeMask, propagate=False)
        type_letters(keyboard, 20)

    assert set(owners_of_the_next(sink, 20, forge_and_type)) == {"1Password"}


def test_a_window_focused_the_moment_it_is_created_never_lends_its_keys(
    desktop: str, captured: tuple[X11Backend, Collected], xdo: Xdotool, keyboard: display.Display
) -> None:
    """A new password manager window, mapped, focused and typed into at once (before the
    watcher can select its events): none of its keys belong to the editor."""
    _, sink = captured
    editor = TestWindow(
        desktop, title="Editor", wm_class=("code", "Code"), geometry=Geometry(0, 0, 300, 300)
    )
    opened: list[TestWindow] = []
    try:
        for _ in range(3):
            xdo.focus(editor.id)
            wait_for(lambda: owner_now(sink) == "Code", what="the editor focused")

            def open_and_type() -> None:
                vault = TestWindow(
                    desktop,
                    title="Vault",
                    wm_class=("1password", "1Password"),
                    geometry=Geometry(400, 0, 300, 300),
                )
                opened.append(vault)
                keyboard.set_input_focus(vault.id, X.RevertToParent, X.CurrentTime)
                type_letters(keyboard, 10)

            owners = owners_of_the_next(sink, 10, open_and_type)
            assert "Code" not in owners, owners
    finally:
        for window in (*opened, editor):
            window.close()


def test_a_window_the_watcher_cannot_read_is_unknown_and_the_watcher_lives_on(
    desktop: str,
    xdo: Xdotool,
    keyboard: display.Display,
    two_windows: tuple[TestWindow, TestWindow],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    editor, vault = two_windows
    broken = [True]
    resolve = x11._FocusReader.resolve

    def flaky(self: Any, window_id: int) -> Any:
        if broken[0]:
            raise RuntimeError("what an odd property makes of python-xlib")
        return resolve(self, window_id)

    monkeypatch.setattr(x11._FocusReader, "resolve", flaky)
    backend = X11Backend(desktop)
    sink = Collected()
    backend.start(sink)
    try:
        xdo.focus(editor.id)
        assert set(owners_of_the_next(sink, 5, lambda: type_letters(keyboard, 5))) == {None}
        assert all(thread.is_alive() for thread in backend._threads)
        broken[0] = False
        xdo.focus(vault.id)
        wait_for(lambda: owner_now(sink) == "1Password", what="the vault, read again")
    finally:
        backend.stop()


def test_focus_follows_the_focused_window_its_title_and_class(
    desktop: str, captured: tuple[X11Backend, Collected], xdo: Xdotool
) -> None:
    _, sink = captured
    report = TestWindow(
        desktop,
        title="Quarterly report - draft ✓",
        wm_class=("ilake-test", "IlakeTest"),
        geometry=Geometry(100, 120, 400, 300),
    )
    vault = TestWindow(
        desktop,
        title="Vault",
        wm_class=("1password", "1Password"),
        geometry=Geometry(600, 120, 300, 200),
    )
    try:
        mark = sink.mark()
        xdo.focus(report.id)
        got = sink.wait(
            mark,
            lambda got: any(f.app_name == "IlakeTest" for f in focus_changes(got)),
            "focus on the report window",
        )
        change = [f for f in focus_changes(got) if f.app_name == "IlakeTest"][-1]
        assert (change.app_name, change.app_id, change.title) == (
            "IlakeTest",
            "ilake-test",
            "Quarterly report - draft ✓",
        )

        mark = sink.mark()
        report.set_title("Quarterly report - final")
        got = sink.wait(
            mark,
            lambda got: any(f.title == "Quarterly report - final" for f in focus_changes(got)),
            "the new title",
        )
        assert focus_changes(got)[-1].app_id == "ilake-test"

        mark = sink.mark()
        xdo.focus(vault.id)
        got = sink.wait(
            mark,
            lambda got: any(f.app_name == "1Password" for f in focus_changes(got)),
            "focus on the denied app",
        )
        assert [(f.app_name, f.app_id, f.title) for f in focus_changes(got)][-1] == (
            "1Password",
            "1password",
            "Vault",
        )
    finally:
        report.close()
        vault.close()


def test_title_falls_back_to_wm_name(
    desktop: str, captured: tuple[X11Backend, Collected], xdo: Xdotool
) -> None:
    _, sink = captured
    conn, window = legacy_window(desktop, title="Legacy editor", wm_class=("xedit", "Xedit"))
    try:
        mark = sink.mark()
        xdo.focus(window.id)
        got = sink.wait(
            mark,
            lambda got: any(f.app_name == "Xedit" for f in focus_changes(got)),
            "focus on the legacy window",
        )
        assert focus_changes(got)[-1].title == "Legacy editor"
    finally:
        window.destroy()
        conn.close()


def test_the_input_focus_decides_not_a_window_managers_active_window(
    desktop: str, captured: tuple[X11Backend, Collected], xdo: Xdotool
) -> None:
    """The keys go to the input focus: a root `_NET_ACTIVE_WINDOW` naming another window
    (a window manager that lags, or a popup that took the focus) changes nothing."""
    _, sink = captured
    focused = TestWindow(
        desktop, title="Terminal", wm_class=("xterm", "XTerm"), geometry=Geometry(0, 0, 200, 200)
    )
    active = TestWindow(
        desktop, title="Browser", wm_class=("navigator", "Firefox"), geometry=Geometry(300, 0, 9, 9)
    )
    conn = display.Display(desktop)
    root = conn.screen().root
    atom = conn.intern_atom("_NET_ACTIVE_WINDOW")
    try:
        xdo.focus(focused.id)
        mark = sink.mark()
        root.change_property(atom, Xatom.WINDOW, 32, [active.id])
        conn.sync()
        time.sleep(1.2)  # the property change and the once-a-second check have been seen
        focused.set_title("Terminal 2")
        got = sink.wait(
            mark,
            lambda got: any(f.title == "Terminal 2" for f in focus_changes(got)),
            "the new title",
        )
        assert {f.app_name for f in focus_changes(got)} == {"XTerm"}
    finally:
        root.delete_property(atom)
        conn.sync()
        conn.close()
        focused.close()
        active.close()


def test_an_unreachable_display_is_one_line() -> None:
    with pytest.raises(BackendUnavailable) as raised:
        X11Backend("unix:4321")  # a local socket nobody listens on
    message = str(raised.value)
    assert "unix:4321" in message
    assert "\n" not in message


def test_no_display_at_all_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(BackendUnavailable, match="DISPLAY is not set"):
        X11Backend()


def test_without_a_name_the_display_is_dollar_display(
    desktop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPLAY", desktop)
    backend = X11Backend()
    try:
        assert backend.screen().w == WIDTH
    finally:
        backend.stop()


def test_stop_is_idempotent_and_ends_the_threads(desktop: str, xdo: Xdotool) -> None:
    backend = X11Backend(desktop)
    sink = Collected()
    before = set(threading.enumerate())
    backend.start(sink)
    ours = [t for t in threading.enumerate() if t not in before]
    assert ours
    assert all(t.daemon for t in ours)
    backend.stop()
    backend.stop()
    assert not any(t.is_alive() for t in ours)
    mark = sink.mark()
    xdo.mousemove(10, 10)
    xdo.key("Return")
    assert sink.since(mark) == []


def test_idle_capture_costs_next_to_no_cpu(captured: tuple[X11Backend, Collected]) -> None:
    """No busy loop: over 3 s without input the process uses a tiny share of a core."""
    stop = threading.Event()
    before = resource.getrusage(resource.RUSAGE_SELF)
    wall = 3.0
    stop.wait(wall)
    after = resource.getrusage(resource.RUSAGE_SELF)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert used / wall < 0.02, f"{used / wall:.1%} of a core while idle"


def test_stop_without_start_is_safe(desktop: str) -> None:
    backend = X11Backend(desktop)
    backend.stop()
    backend.stop()
    with pytest.raises(RuntimeError):
        backend.start(Collected())


def test_a_started_backend_cannot_start_again(captured: tuple[X11Backend, Collected]) -> None:
    backend, _ = captured
    with pytest.raises(RuntimeError):
        backend.start(Collected())

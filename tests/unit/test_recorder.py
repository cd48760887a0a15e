"""The desktop recorder from scripted raw input: each event type built as the schema wants,
only what the policy collects, nothing from a denied app or while paused, and typed text
never reconstructible (a hypothesis property)."""

from __future__ import annotations

import gzip
import json
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ilake_agent.client import Client, Limits
from ilake_agent.desktop.backend import (
    ButtonChanged,
    FocusChanged,
    FocusMoving,
    KeyChanged,
    PointerMoved,
    RawInput,
    RawSink,
    Screen,
    Scrolled,
)
from ilake_agent.desktop.recorder import (
    DRAG_POLL_MS,
    DRAG_PX,
    IDLE_POLL_MS,
    STAND_INS,
    Recorder,
    pointer_pace,
)
from ilake_agent.policy import KEY_SURROGATES, ClientPolicy
from ilake_contract.schema import EVENT_TYPES
from ilake_contract.validation import judge
from ilake_contract.vocabulary import NAMED_KEYS, shortcut_key
from lambdas.core.programs import load_programs
from tests.support.builders import PROGRAMS_DIR

NOW_S = 1_800_000_000.0
SCREEN = Screen(w=1920, h=1080, scale=1.0)
EDITOR_FIELDS = ("Code", "code", "main.py - project", 0)
EDITOR = FocusChanged(*EDITOR_FIELDS)


def policy(*types: str, deny: list[str] | None = None, **text: str) -> ClientPolicy:
    """A policy collecting `types` (every type if none), denying only the built-in apps."""
    return ClientPolicy.from_policy(
        {
            "program": "desktop-test",
            "collect": {"event_types": list(types or EVENT_TYPES)},
            "text": {"window_titles": "common", **text},
            "apps": {"deny": deny or [], "allow": []},
        },
        clock=lambda: NOW_S,
    )


class FakeBackend:
    """A backend that replays scripted raw input into its sink, on the caller's thread."""

    def __init__(self, screen: Screen = SCREEN) -> None:
        self._screen = screen
        self.sink: RawSink | None = None

    def screen(self) -> Screen:
        return self._screen

    def running(self) -> bool:
        return self.sink is not None

    def start(self, sink: RawSink, *, pointer_every_ms: int | None = None) -> None:
        self.sink = sink

    def stop(self) -> None:
        self.sink = None

    def feed(self, *raws: RawInput) -> None:
        assert self.sink is not None
        for raw in raws:
            self.sink(raw)


class Capture:
    """A recorder on a fake backend; `events` is what reached the sink, in order."""

    def __init__(self, rules: ClientPolicy | None = None, *, focus: bool = True) -> None:
        self.events: list[dict[str, Any]] = []
        self.backend = FakeBackend()
        self.recorder = Recorder(
            self.events.append,
            rules or policy(),
            session_id="session-1",
            subject="jdoe",
            device_id="LAPTOP-42",
            screen=self.backend.screen(),
            clock=lambda: NOW_S,
        )
        self.backend.start(self.recorder)
        if focus:
            self.feed(EDITOR)
            self.events.clear()

    def feed(self, *raws: RawInput) -> list[dict[str, Any]]:
        before = len(self.events)
        self.backend.feed(*raws)
        return self.events[before:]

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]


def click(x: int, y: int, t: int, button: Any = "left") -> tuple[RawInput, RawInput]:
    return ButtonChanged(x, y, button, True, t), ButtonChanged(x, y, button, False, t + 60)


def key(name: str | None, typed: Any = None, t: int = 0) -> tuple[RawInput, RawInput]:
    return KeyChanged(name, typed, True, t), KeyChanged(name, typed, False, t + 30)


# --- each event type, built as the schema wants --------------------------------------------------


def test_every_event_carries_the_envelope_the_client_does_not_fill() -> None:
    capture = Capture(focus=False)
    capture.feed(EDITOR, PointerMoved(10, 20, 5), *key("enter", t=6))
    focus, move, press = capture.events
    for event in capture.events:
        assert uuid.UUID(event["event_id"]).version == 4
        assert event["ts"] == int(NOW_S * 1000)
        assert (event["session_id"], event["subject"], event["device_id"]) == (
            "session-1", "jdoe", "LAPTOP-42",
        )  # fmt: skip
        assert event["app"] == {"name": "Code", "bundle_id": "code"}
        assert event["window"] == {"title": "main.py - project"}
        assert not isinstance(judge(event), str), (event, judge(event))  # the server accepts it
    assert [e["seq"] for e in capture.events] == [1, 2, 3]
    assert len({e["event_id"] for e in capture.events}) == 3
    assert focus["type"] == "window.focus"
    assert move["display"] == {"w": 1920, "h": 1080, "scale": 1.0}  # pointer events need it
    assert "display" not in press


def test_pointer_moves_clicks_and_scrolls_keep_their_coordinates() -> None:
    capture = Capture()
    [move] = capture.feed(PointerMoved(101, 202, 0))
    [scroll] = capture.feed(Scrolled(300, 400, 0.0, -3.0, 10))
    [single] = capture.feed(*click(640, 480, 1_000, "right"))
    assert (move["type"], move["x"], move["y"]) == ("pointer.move", 101, 202)
    assert (scroll["type"], scroll["x"], scroll["y"], scroll["dx"], scroll["dy"]) == (
        "pointer.scroll", 300, 400, 0.0, -3.0,
    )  # fmt: skip
    assert (single["type"], single["x"], single["y"]) == ("pointer.click", 640, 480)
    assert (single["button"], single["clicks"]) == ("right", 1)


def test_clicks_count_up_within_the_interval_and_a_few_pixels_to_at_most_five() -> None:
    capture = Capture()
    counts = []
    for i in range(7):
        [event] = capture.feed(*click(500 + i % 2, 300, 10_000 + i * 200))  # 1 px of jitter
        counts.append(event["clicks"])
    assert counts == [1, 2, 3, 4, 5, 5, 5]
    too_late = capture.feed(*click(500, 300, 10_000 + 6 * 200 + 401))
    assert too_late[0]["clicks"] == 1
    too_far = capture.feed(*click(520, 300, 10_000 + 6 * 200 + 500))
    assert too_far[0]["clicks"] == 1
    other_button = capture.feed(*click(520, 300, 10_000 + 6 * 200 + 600, "middle"))
    assert other_button[0]["clicks"] == 1


def test_a_press_that_moves_beyond_the_threshold_is_a_drag_not_a_click() -> None:
    capture = Capture(policy("pointer.click", "pointer.drag"))
    drag = capture.feed(
        ButtonChanged(100, 100, "left", True, 0),
        PointerMoved(130, 140, 20),
        PointerMoved(105, 103, 40),  # back near the start: still a drag
        ButtonChanged(105, 103, "left", False, 60),
    )
    assert drag == [
        {**drag[0], "type": "pointer.drag", "x": 100, "y": 100, "x2": 105, "y2": 103,
         "button": "left"},
    ]  # fmt: skip
    assert "clicks" not in drag[0]
    released_far = capture.feed(
        ButtonChanged(10, 10, "left", True, 100),
        ButtonChanged(10, 10 + DRAG_PX + 1, "left", False, 160),
    )
    assert [e["type"] for e in released_far] == ["pointer.drag"]
    jitter = capture.feed(
        ButtonChanged(10, 10, "left", True, 200),
        PointerMoved(10 + DRAG_PX, 10, 210),
        ButtonChanged(10 + DRAG_PX, 10, "left", False, 260),
    )
    assert [(e["type"], e["clicks"]) for e in jitter] == [("pointer.click", 1)]


def test_a_drag_ends_the_click_count() -> None:
    capture = Capture()
    capture.feed(*click(50, 50, 0))
    capture.feed(
        ButtonChanged(50, 50, "left", True, 100), ButtonChanged(90, 50, "left", False, 150)
    )
    [after] = capture.feed(*click(50, 50, 200))
    assert after["clicks"] == 1


def test_shortcuts_list_their_modifiers_in_the_schemas_order() -> None:
    capture = Capture()
    events = capture.feed(
        KeyChanged("meta", None, True, 0),
        KeyChanged("shift", None, True, 1),
        KeyChanged("ctrl_l", None, True, 2),
        *key("p", t=3),
        KeyChanged("ctrl_l", None, False, 4),
        *key("Tab", t=5),  # shift and meta still held
        KeyChanged("meta", None, False, 6),
        *key("tab", t=7),  # shift alone, with a named key: a shortcut too
        KeyChanged("shift", None, False, 8),
    )
    assert [(e["type"], e["modifiers"], e["key"]) for e in events] == [
        ("key.shortcut", ["ctrl", "shift", "meta"], "p"),
        ("key.shortcut", ["shift", "meta"], "Tab"),
        ("key.shortcut", ["shift"], "Tab"),
    ]


def test_a_shortcut_that_types_a_character_sends_only_its_class() -> None:
    capture = Capture()
    events = capture.feed(
        KeyChanged("ctrl", None, True, 0),
        KeyChanged("alt", None, True, 1),
        *key("@", t=2),  # AltGr on many layouts: typing, not a command
        *key(None, "letter", t=3),  # a key the backend could only classify
    )
    assert [(e["type"], e["key"]) for e in events] == [
        ("key.shortcut", KEY_SURROGATES["symbol"][0]),
        ("key.press", STAND_INS["letter"]),
    ]
    assert shortcut_key(frozenset(events[0]["modifiers"]), events[0]["key"])[0] is None


def test_named_keys_by_their_schema_name_printable_keys_by_their_class() -> None:
    capture = Capture()
    events = capture.feed(
        *key("enter"), *key("F5"), *key("escape"), *key("left"),
        *key(None, "letter"), *key(None, "digit"), *key(None, "space"), *key(None, "punct"),
        *key("shift"), *key("ctrl"), *key("alt_gr"),  # bare modifiers: no events
        *key("volume_mute"),  # not a key the schema names: its class's stand-in
    )  # fmt: skip
    assert [e["type"] for e in events] == ["key.press"] * 9
    assert [e["key"] for e in events] == [
        "Enter", "F5", "Escape", "ArrowLeft", "a", "0", " ", "!", "Unidentified",
    ]  # fmt: skip


def test_key_releases_and_unclassified_keys_make_no_events() -> None:
    capture = Capture()
    assert capture.feed(KeyChanged("enter", None, False, 0), *key(None, None)) == []


def test_window_focus_names_the_app_and_title_and_is_not_repeated() -> None:
    capture = Capture()
    browser = FocusChanged("Firefox", "Navigator", "Docs - Mozilla Firefox", 10)
    [focus] = capture.feed(browser, browser)
    assert focus["type"] == "window.focus"
    assert focus["app"] == {"name": "Firefox", "bundle_id": "Navigator"}
    assert focus["window"] == {"title": "Docs - Mozilla Firefox"}
    [move] = capture.feed(PointerMoved(1, 2, 11))
    assert (move["app"], move["window"]) == (focus["app"], focus["window"])
    [untitled] = capture.feed(FocusChanged("Gedit", None, None, 12))
    assert untitled["app"] == {"name": "Gedit"}
    assert "window" not in untitled
    # a window that names no application is unknown: it may be a password manager
    assert capture.feed(FocusChanged(None, None, "Vault", 13), *key("F5")) == []


def test_titles_a_program_drops_never_enter_an_event_and_long_ones_are_cut() -> None:
    dropped = Capture(policy(window_titles="drop"), focus=False)
    dropped.feed(EDITOR, PointerMoved(1, 1, 1))
    assert all("window" not in e for e in dropped.events)
    assert len(dropped.events) == 2
    kept = Capture(focus=False)
    [focus] = kept.feed(FocusChanged("Code", "code", "x" * 5_000, 0))
    assert len(focus["window"]["title"]) == 1024
    assert not isinstance(judge(focus), str)


# --- policy at the source ------------------------------------------------------------------------


RAW_OF_EVERY_KIND: tuple[RawInput, ...] = (
    PointerMoved(5, 5, 1),
    *click(5, 5, 2),
    ButtonChanged(5, 5, "left", True, 100),
    PointerMoved(60, 60, 110),
    ButtonChanged(60, 60, "left", False, 120),
    Scrolled(5, 5, 0, 1, 130),
    *key("enter", t=140),
    *key(None, "letter", t=150),
    KeyChanged("ctrl", None, True, 160),
    *key("s", t=161),
    KeyChanged("ctrl", None, False, 162),
    FocusChanged("Firefox", "Navigator", "Docs", 170),
)


@pytest.mark.parametrize(
    "collected",
    [("window.focus",), ("pointer.click",), ("pointer.drag", "key.press"), ("key.shortcut",), ()],
    ids=str,
)
def test_a_type_the_program_does_not_collect_is_never_created(collected: tuple[str, ...]) -> None:
    rules = ClientPolicy.from_policy(
        {"collect": {"event_types": list(collected)}, "apps": {"deny": []}}
    )
    capture = Capture(rules, focus=False)
    capture.feed(EDITOR, *RAW_OF_EVERY_KIND)
    capture.recorder.pause()
    capture.recorder.resume()
    assert set(capture.types()) == set(collected)  # each collected one was made, nothing else


def test_no_event_is_created_when_moves_are_not_collected(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hot path: a move the program does not keep builds nothing (no id, no clock read)."""
    capture = Capture(policy("pointer.click"))
    made = []
    monkeypatch.setattr(uuid, "uuid4", lambda: made.append(1))
    capture.feed(*(PointerMoved(i, i, i) for i in range(1_000)))
    assert capture.events == []
    assert made == []


def test_moves_within_the_sampling_interval_are_not_built_but_still_end_drags() -> None:
    """At most one move per `pointer_sample_ms` of ts (a clock going back builds one at once,
    as the Client would keep it); a move not built still makes a press a drag."""
    clock = [NOW_S]
    rules = ClientPolicy.from_policy(
        {"collect": {"event_types": ["pointer.move", "pointer.drag", "pointer.click"],
                     "pointer_sample_ms": 250}, "apps": {"deny": []}},
    )  # fmt: skip
    events: list[dict[str, Any]] = []
    recorder = Recorder(
        events.append, rules, session_id="s", subject="jdoe", device_id="d", screen=SCREEN,
        clock=lambda: clock[0],
    )  # fmt: skip
    recorder(EDITOR)
    for ms in (0, 10, 249, 250, 400, 499, 500, 120):  # the last one: the clock went back
        clock[0] = NOW_S + ms / 1000
        recorder(PointerMoved(ms, 0, ms))
    moves = [e["ts"] - int(NOW_S * 1000) for e in events if e["type"] == "pointer.move"]
    assert moves == [0, 250, 500, 120]
    clock[0] = NOW_S + 0.2
    recorder(ButtonChanged(600, 0, "left", True, 510))
    recorder(PointerMoved(640, 0, 511))  # 80 ms after the last move built: not built
    recorder(ButtonChanged(600, 0, "left", False, 512))  # back where it went down
    assert [e["type"] for e in events][-1] == "pointer.drag"  # only the move made it one
    assert len([e for e in events if e["type"] == "pointer.move"]) == 4


def test_the_backend_is_asked_for_the_pointer_only_as_often_as_the_program_keeps_it() -> None:
    def pace(types: list[str], sample_ms: int | None = None) -> int | None:
        collect: dict[str, Any] = {"event_types": types}
        if sample_ms is not None:
            collect["pointer_sample_ms"] = sample_ms
        return pointer_pace(ClientPolicy.from_policy({"collect": collect}))

    assert pace(["pointer.move", "pointer.drag"], 250) == 250
    assert pace(["pointer.move"]) is None  # every move kept: every motion
    assert pace(["pointer.drag", "pointer.click"]) == DRAG_POLL_MS
    assert pace(["pointer.click", "key.shortcut"]) == IDLE_POLL_MS


def test_nothing_is_created_before_the_backend_reports_the_focus() -> None:
    capture = Capture(focus=False)
    capture.feed(*RAW_OF_EVERY_KIND[:-1])
    assert capture.events == []


def test_a_denied_app_creates_no_event_at_all_until_an_allowed_one_has_the_focus() -> None:
    capture = Capture(policy(deny=["*terminal*"]))
    for denied in (
        FocusChanged("1Password", "1password", "Vault", 0),  # denied in every program
        FocusChanged("Gnome-terminal", "gnome-terminal-server", "~", 0),  # by this one
        FocusChanged("Code", "1password", "?", 0),  # by its id alone
        FocusChanged("x" * 300 + "slack", "x", None, 0),  # by the whole name, past what is sent
    ):
        capture.feed(denied, *RAW_OF_EVERY_KIND[:-1])
        capture.recorder.pause()
        capture.recorder.resume()
        assert capture.events == [], denied
    back = capture.feed(EDITOR, PointerMoved(7, 8, 200))
    assert [(e["type"], e["app"]["name"]) for e in back] == [
        ("window.focus", "Code"), ("pointer.move", "Code"),
    ]  # fmt: skip


def test_nothing_is_built_while_the_focus_moves_and_a_denied_window_gets_nothing_of_it() -> None:
    """A key typed the moment the focus moved belongs to the new window, not yet named: it is
    not built. The new window's focus event starts capture again; the same window as before
    starts it without a focus event."""
    capture = Capture()
    assert capture.feed(FocusMoving(10), *key("F5", t=11), *key(None, "letter", t=12)) == []
    vault = FocusChanged("1Password", "1password", "Vault", 13)
    assert capture.feed(vault, *key("F5", t=14)) == []
    assert capture.feed(FocusMoving(20), *key("F6", t=21)) == []
    assert [e["type"] for e in capture.feed(EDITOR, *key("F7", t=23))] == [
        "window.focus", "key.press",
    ]  # fmt: skip
    assert capture.feed(FocusMoving(30), *key("F8", t=31)) == []
    [back] = capture.feed(EDITOR, *key("F9", t=33))
    assert (back["type"], back["key"]) == ("key.press", "F9")


def test_a_click_that_moved_the_focus_belongs_to_the_window_it_focused() -> None:
    """Click to focus: the button goes down in the old window, the focus moves, the release
    comes in the new one: a click of the new window, or nothing when it is denied."""
    capture = Capture()
    browser = FocusChanged("Firefox", "Navigator", "Docs", 12)
    made = capture.feed(ButtonChanged(9, 9, "left", True, 10), FocusMoving(11), browser,
                        ButtonChanged(9, 9, "left", False, 60))  # fmt: skip
    assert [(e["type"], e["app"]["name"]) for e in made] == [
        ("window.focus", "Firefox"), ("pointer.click", "Firefox"),
    ]  # fmt: skip
    vault = FocusChanged("1Password", "1password", "Vault", 102)
    made = capture.feed(ButtonChanged(9, 9, "left", True, 100), FocusMoving(101), vault,
                        ButtonChanged(9, 9, "left", False, 160))  # fmt: skip
    assert made == []


def test_only_the_answer_to_the_latest_focus_move_names_the_window() -> None:
    """Two moves in a row: the answer to the first (or a report that answers nothing) does
    not start capture under a window the focus may already have left; the second does. An
    answer arriving after that changes nothing."""
    capture = Capture()
    vault = FocusChanged("1Password", "1password", "Vault", 13, answers=2)
    browser = FocusChanged("Firefox", "Navigator", "Docs", 12, answers=1)
    assert capture.feed(FocusMoving(10, token=1), FocusMoving(11, token=2), browser) == []
    assert capture.feed(FocusChanged("Firefox", "Navigator", "Docs", 12), *key("F5")) == []
    assert capture.feed(vault, *key("F6"), PointerMoved(5, 5, 14)) == []  # denied: nothing
    late = FocusChanged("Firefox", "Navigator", "Docs", 15, answers=1)
    assert capture.feed(late, *key("F7")) == []  # still the vault
    made = capture.feed(FocusMoving(20, token=3), FocusChanged("Code", "code", "x", 21, answers=3))
    assert [(e["type"], e["app"]["name"]) for e in made] == [("window.focus", "Code")]


def test_a_double_click_does_not_span_a_focus_move_and_a_focusing_click_is_the_new_windows() -> (
    None
):
    capture = Capture()
    capture.feed(*click(9, 9, t=0), FocusMoving(50, token=1))
    made = capture.feed(FocusChanged(*EDITOR_FIELDS, answers=1), *click(9, 9, t=100))
    assert [e.get("clicks") for e in made] == [1]  # not 2: the focus moved between
    # click to focus, released before the move is answered: the click of the window it focused
    capture.feed(ButtonChanged(9, 9, "left", True, 1_000), FocusMoving(1_010, token=2))
    assert capture.feed(ButtonChanged(9, 9, "left", False, 1_020)) == []
    browser = FocusChanged("Firefox", "Navigator", "Docs", 1_025, answers=2)
    made = capture.feed(browser, ButtonChanged(9, 9, "left", False, 1_030))
    assert [(e["type"], e["app"]["name"]) for e in made] == [
        ("window.focus", "Firefox"), ("pointer.click", "Firefox"),
    ]  # fmt: skip
    capture.feed(ButtonChanged(9, 9, "left", True, 2_000), FocusMoving(2_010, token=3))
    capture.feed(ButtonChanged(9, 9, "left", False, 2_020))
    vault = FocusChanged("1Password", "1password", "Vault", 2_025, answers=3)
    assert capture.feed(vault) == []  # and nothing at all into a denied one
    # released during one move, answered only after another: judged by neither
    capture.feed(ButtonChanged(9, 9, "left", True, 3_000), FocusMoving(3_010, token=4))
    capture.feed(ButtonChanged(9, 9, "left", False, 3_020), FocusMoving(3_030, token=5))
    made = capture.feed(FocusChanged("Firefox", "Navigator", "Docs", 3_040, answers=5))
    assert [e["type"] for e in made] == ["window.focus"]
    # two buttons released during one move: both judged
    capture.feed(
        ButtonChanged(9, 9, "left", True, 4_000), ButtonChanged(9, 9, "right", True, 4_001)
    )
    capture.feed(FocusMoving(4_010, token=6))
    capture.feed(
        ButtonChanged(9, 9, "left", False, 4_020), ButtonChanged(9, 9, "right", False, 4_021)
    )
    made = capture.feed(FocusChanged(*EDITOR_FIELDS, answers=6))
    assert [(e["type"], e.get("button")) for e in made] == [
        ("window.focus", None), ("pointer.click", "left"), ("pointer.click", "right"),
    ]  # fmt: skip
    assert not capture.recorder._down


def test_pause_and_resume_during_a_focus_move_are_still_recorded() -> None:
    capture = Capture()
    capture.feed(FocusMoving(10, token=1))
    assert capture.recorder.pause()
    assert capture.recorder.resume()
    assert capture.types() == ["capture.pause", "capture.resume"]
    assert {e["app"]["name"] for e in capture.events} == {"Code"}  # the window being left


def test_a_press_in_an_allowed_app_released_in_a_denied_one_is_nothing() -> None:
    capture = Capture()
    capture.feed(
        ButtonChanged(1, 1, "left", True, 0),
        FocusChanged("Slack", "slack", "general", 10),
        ButtonChanged(1, 1, "left", False, 20),
        EDITOR,
        ButtonChanged(1, 1, "left", False, 30),  # its press is gone
    )
    assert capture.types() == ["window.focus"]


def test_an_allowlist_leaves_out_every_app_outside_it() -> None:
    program = load_programs(PROGRAMS_DIR)["shortcut-learning"]
    rules = ClientPolicy.from_policy(program.public_policy(), clock=lambda: NOW_S)
    capture = Capture(rules, focus=False)
    capture.feed(FocusChanged("Gedit", "gedit", "notes.txt", 0), *RAW_OF_EVERY_KIND[:-1])
    capture.feed(FocusChanged(None, None, None, 0), PointerMoved(1, 1, 1))  # names nothing
    assert capture.events == []
    capture.feed(EDITOR, PointerMoved(1, 1, 1))
    assert capture.types() == ["window.focus", "pointer.move"]


def test_pause_and_resume_frame_a_silence() -> None:
    capture = Capture()
    capture.feed(PointerMoved(1, 1, 0))
    assert capture.recorder.pause()
    assert not capture.recorder.pause()  # already paused: nothing more
    assert capture.recorder.paused
    capture.feed(*RAW_OF_EVERY_KIND)
    assert capture.recorder.resume()
    assert not capture.recorder.resume()
    capture.feed(PointerMoved(2, 2, 300))
    assert capture.types() == ["pointer.move", "capture.pause", "capture.resume", "pointer.move"]
    pause, resume = capture.events[1:3]
    assert pause["reason"] == resume["reason"] == "user"
    # the focus moved while paused: the resume and what follows name the app now focused
    assert resume["app"]["name"] == capture.events[3]["app"]["name"] == "Firefox"


def test_a_press_before_a_pause_is_not_a_click_after_it() -> None:
    capture = Capture()
    capture.feed(ButtonChanged(1, 1, "left", True, 0))
    capture.recorder.pause()
    capture.recorder.resume()
    capture.feed(ButtonChanged(1, 1, "left", False, 10))
    assert capture.types() == ["capture.pause", "capture.resume"]


def test_a_reason_outside_the_vocabulary_is_sent_as_other() -> None:
    capture = Capture()
    capture.recorder.pause("because I said so")
    assert capture.events[0]["reason"] == "other"


def test_raw_input_from_several_threads_is_numbered_in_the_order_it_reaches_the_sink() -> None:
    capture = Capture()

    def feed(offset: int, button: str) -> None:
        for i in range(500):
            capture.backend.feed(PointerMoved(offset + i, i, i))
            if i % 50 == 0:
                capture.backend.feed(*click(offset, 0, i * 1_000, button))

    threads = [
        threading.Thread(target=feed, args=(n * 10_000, button))
        for n, button in enumerate(("left", "right", "middle", "back"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [e["seq"] for e in capture.events] == list(range(2, len(capture.events) + 2))
    assert len(capture.events) == 4 * (500 + 10)  # after the focus event, seq 1


def test_the_recorder_builds_only_the_moves_the_client_keeps(tmp_path: Path) -> None:
    """One move per `pointer_sample_ms`, by the Client's (and the server's) rule on ts: the
    moves between are never built, so none reaches the Client to be sampled out there."""

    class Server:
        def __init__(self) -> None:
            self.events: list[dict[str, Any]] = []

        def get(self, path: str, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
            return 200, {}, {}

        def post(self, path: str, body: bytes, headers: dict[str, str]) -> Any:
            self.events += json.loads(gzip.decompress(body))["events"]
            return 200, {"accepted": 0}, {}

        def close(self) -> None:
            pass

    clock = [NOW_S]
    rules = ClientPolicy.from_policy(
        {"collect": {"event_types": ["pointer.move"], "pointer_sample_ms": 100},
         "apps": {"deny": []}},
        clock=lambda: clock[0],
    )  # fmt: skip
    server = Server()
    client = Client(
        "http://agent.test", "ilk_test", "desktop-test", spool_dir=tmp_path / "spool",
        policy=rules, transport=server, limits=Limits(max_age_s=0.01), clock=lambda: clock[0],
    )  # fmt: skip
    recorder = Recorder(
        client.record, rules, session_id="s", subject="jdoe", device_id="d", screen=SCREEN,
        clock=lambda: clock[0],
    )  # fmt: skip
    recorder(EDITOR)
    for i in range(50):  # 50 moves, 20 ms apart: one every 100 ms is kept
        clock[0] = NOW_S + i * 0.02
        recorder(PointerMoved(i, i, i * 20))
    assert client.close(timeout_s=10)
    assert [e["x"] for e in server.events] == list(range(0, 50, 5))
    assert client.counters.not_captured_by == {}
    assert client.counters.recorded == 10


# --- typed text cannot be reconstructed -----------------------------------------------------------

_NAMES = st.sampled_from(
    ["ctrl", "alt", "shift", "meta", "alt_gr", "enter", "Tab", "F5", "left", "s", "@", "é", "7"]
) | st.text(min_size=1, max_size=40)
_RAW = st.one_of(
    st.builds(
        PointerMoved, st.integers(-50, 5_000), st.integers(-50, 5_000), st.integers(0, 10**6)
    ),
    st.builds(
        ButtonChanged,
        st.integers(0, 3_000),
        st.integers(0, 3_000),
        st.sampled_from(["left", "right", "middle", "back", "forward"]),
        st.booleans(),
        st.integers(0, 10**6),
    ),
    st.builds(
        Scrolled,
        st.integers(0, 3_000),
        st.integers(0, 3_000),
        st.floats(-10, 10),
        st.floats(-10, 10),
        st.integers(0, 10**6),
    ),
    st.builds(
        KeyChanged,
        st.none() | _NAMES,
        st.none() | st.sampled_from(["letter", "digit", "space", "punct"]),
        st.booleans(),
        st.integers(0, 10**6),
    ),
    st.builds(
        FocusChanged,
        st.none() | st.sampled_from(["Code", "Firefox", "1Password"]) | st.text(max_size=300),
        st.none() | st.text(max_size=300),
        st.none() | st.text(max_size=2_000),
        st.integers(0, 10**6),
    ),
    st.builds(FocusMoving, st.integers(0, 10**6)),
)
_CAPTURE_CALLS = st.sampled_from(["pause", "resume"])


@settings(max_examples=300)
@given(st.lists(_RAW | _CAPTURE_CALLS, max_size=60))
def test_for_any_raw_input_typed_keys_leave_only_as_their_class(
    script: list[RawInput | str],
) -> None:
    """Every key.press made from a printable key is its class's stand-in; every other key is a
    key the server keeps (a named key, or a real shortcut's), else a stand-in; and every event
    is one the server's own checks accept, that the policy keeps as it is."""
    rules = policy()
    capture = Capture(rules, focus=False)
    stand_ins = {candidate for candidates in KEY_SURROGATES.values() for candidate in candidates}
    for step in script:
        if isinstance(step, str):
            made = [*capture.events]
            getattr(capture.recorder, step)()
            made = capture.events[len(made) :]
            assert all(e["type"] == f"capture.{step}" for e in made)
            continue
        made = capture.feed(step)
        for event in made:
            assert not isinstance(judge(event), str), (event, judge(event))
            captured = rules.capture(event)
            assert not isinstance(captured, str), (event, captured)
        keys = [e for e in made if e["type"] in ("key.press", "key.shortcut")]
        if isinstance(step, KeyChanged) and step.name is None:
            assert [e["key"] for e in keys] in ([], [STAND_INS[step.typed]] if step.typed else [])
        for event in keys:
            sent = event["key"]
            modifiers = frozenset(event.get("modifiers", ()))
            kept = shortcut_key(modifiers, sent)[0] if modifiers else NAMED_KEYS.get(sent.lower())
            assert sent == kept or sent in stand_ins, event

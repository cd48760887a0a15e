"""Synthetic agents: realistic interaction batches for the demo, the tests and the benchmarks.

A simulated employee works in a few applications; every event carries the focused window's title
as a real agent would, and a share of titles and labels carry planted personal data (e-mail
addresses, card numbers, file paths with user names) so redaction has something to find. In a
working session, a share of the windows are the person's own (a message about their review, a
question typed into a chat assistant, their own notes): titles nobody else sees, which "common"
mode never stores in clear. Deterministic for a given seed.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

APPS: list[tuple[str, str, list[str]]] = [
    (
        "Visual Studio Code",
        "com.microsoft.VSCode",
        [
            "pipeline.py - interaction-lake - Visual Studio Code",
            "README.md - interaction-lake",
            "/Users/jdoe/src/interaction-lake/app.py",
            "settings.json - Visual Studio Code",
        ],
    ),
    (
        "Microsoft Excel",
        "com.microsoft.Excel",
        [
            "Q3 2026 forecast.xlsx",
            "Budget review 2026-11-27.xlsx",
            "customers - jane.roe@example.com.xlsx",
        ],
    ),
    (
        "Google Chrome",
        "com.google.Chrome",
        [
            "Inbox (3) - j.doe@example.com - Example Mail",
            "Interaction Lake design - Google Docs",
            "Pay invoice - card 4111 1111 1111 1111 - Checkout",
            "Dashboard - Grafana",
        ],
    ),
    ("Figma", "com.figma.Desktop", ["Onboarding flow v2 - Figma", "Design system - Figma"]),
    ("Finder", "com.apple.finder", ["Downloads", "C:\\Users\\jdoe\\Documents"]),
    ("Slack", "com.tinyspeck.slackmacgap", ["general - Example Corp - Slack"]),  # denied app
]
# Windows only one person sees: no detector finds anything in them, and no one else sends them.
PRIVATE_TITLES = [
    "Re: {name}, your performance improvement plan - Example Mail",
    "ChatGPT - is it normal to feel this anxious at work ({name})",
    "{name} - 1:1 notes with manager - Google Docs",
    "HR portal - {name} - annual review: rating 2 of 5",
    "Search: clinic near office, evening appointments ({name})",
    "Legal hold - {name} - folder",
]
MENUS = [
    ["File", "Save As…"],
    ["Edit", "Find", "Replace…"],
    ["View", "Zoom In"],
    ["Format", "Conditional Formatting"],
    ["File", "Share", "Email to jane.roe@example.com"],
]
TARGETS = ["Save", "Cancel", "OK", "Send to +1 (555) 010-9999", "Search", "New tab"]
SHORTCUTS = [
    (["meta"], "c"),
    (["meta"], "v"),
    (["ctrl"], "s"),
    (["ctrl", "shift"], "p"),
    (["meta"], "Tab"),
    (["alt"], "F4"),
]
KEYS = ["a", "e", "Enter", "Backspace", "ArrowDown", "Tab", "7", "!"]
WEIGHTS = {
    "pointer.move": 40,
    "pointer.click": 12,
    "pointer.scroll": 8,
    "pointer.drag": 2,
    "key.press": 14,
    "key.shortcut": 8,
    "text.input": 4,
    "menu.select": 4,
    "window.focus": 4,
    "clipboard": 2,
    "capture.pause": 1,
    "capture.resume": 1,
}


def make_event(
    rng: random.Random,
    etype: str,
    *,
    ts: int,
    seq: int,
    session: str,
    subject: str,
    device: str,
    app: tuple[str, str, list[str]],
) -> dict[str, Any]:
    name, bundle, titles = app
    w, h = 2560, 1440
    event: dict[str, Any] = {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "type": etype,
        "ts": ts,
        "seq": seq,
        "session_id": session,
        "subject": subject,
        "device_id": device,
        "app": {"name": name, "bundle_id": bundle},
        "window": {"title": rng.choice(titles)},
        "display": {"w": w, "h": h, "scale": 2.0},
    }
    x, y = rng.uniform(0, w), rng.uniform(0, h)
    if etype.startswith("pointer."):
        event |= {"x": round(x, 1), "y": round(y, 1)}
    if etype == "pointer.click":
        event |= {
            "button": "left",
            "clicks": 1,
            "target": {"role": "button", "name": rng.choice(TARGETS)},
        }
    elif etype == "pointer.scroll":
        event |= {"dx": 0.0, "dy": rng.choice([-3.0, 3.0])}
    elif etype == "pointer.drag":
        event |= {
            "x2": round(rng.uniform(0, w), 1),
            "y2": round(rng.uniform(0, h), 1),
            "button": "left",
        }
    elif etype == "key.shortcut":
        mods, key = rng.choice(SHORTCUTS)
        event |= {"modifiers": mods, "key": key}
    elif etype == "key.press":
        event |= {"key": rng.choice(KEYS)}
    elif etype == "text.input":
        event |= {
            "target": {"role": "textbox", "name": "Message"},
            "text": rng.choice(
                ["see you at 5", "my password is hunter2", "call me on +44 20 7946 0958"]
            ),
        }
    elif etype == "menu.select":
        event |= {"menu_path": rng.choice(MENUS), "target": {"role": "menuitem"}}
    elif etype == "clipboard":
        event |= {"op": "copy", "mime": "text/plain", "content": "IBAN DE89 3704 0044 0532 0130 00"}
    elif etype in ("capture.pause", "capture.resume"):
        event |= {"reason": "user"}
    return event


def make_batch(
    n_events: int,
    *,
    seed: int = 0,
    start_ms: int,
    subject: str = "jdoe",
    device: str = "LAPTOP-42",
    unique_titles: bool = False,
) -> dict[str, Any]:
    """One batch as an agent posts it: `n_events` events over roughly n*50 ms of work."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, reproducible by seed
    session = f"session-{seed}"
    types = list(WEIGHTS)
    weights = list(WEIGHTS.values())
    events = []
    app = rng.choice(APPS[:-1])
    ts = start_ms
    for seq in range(n_events):
        if rng.random() < 0.02:
            app = rng.choice(APPS)
        ts += rng.randint(5, 95)
        etype = rng.choices(types, weights)[0]
        event = make_event(
            rng, etype, ts=ts, seq=seq, session=session, subject=subject, device=device, app=app
        )
        if unique_titles:
            event["window"]["title"] += f" #{seq} {rng.getrandbits(32):x}"
        events.append(event)
    return {
        "schema": "interaction/1",
        "batch_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "sent_at": ts + 100,
        "agent": {"version": "0.1.0", "os": "macos", "os_version": "15.1"},
        "events": events,
    }


# -- sessions: what `ilake simulate` sends ------------------------------------------------------

AGENT = {"version": "0.1.0", "os": "macos", "os_version": "15.1"}
ACTIVITIES = {  # share of a working session, by what the person is doing
    "point_and_click": 30,
    "scroll": 14,
    "menu": 10,
    "shortcut": 12,
    "typing": 12,
    "switch_app": 8,
    "copy": 4,
    "drag": 4,
    "idle": 5,
    "break": 1,
}


class Session:
    """One employee's working session, activity by activity, at a human pace (about 2 events/s).

    Pointer paths end in clicks, menus are opened with a click, typing is key presses ending in
    a text field's content, switching apps changes the focused window (whose title may carry
    personal data), copying fills the clipboard. Deterministic for a seed.
    """

    def __init__(self, seed: int, *, subject: str, device: str, start_ms: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - synthetic data, reproducible by seed
        self.session = f"session-{subject}-{seed}"
        self.subject, self.device = subject, device
        self.app = self.rng.choice(APPS[:-1])
        self.own_titles = [title.format(name=subject) for title in PRIVATE_TITLES]
        self.own_rng = random.Random(-seed - 2)  # noqa: S311 - apart from the session's draws
        self.own_title: str | None = None  # the focused window is one of the person's own
        self.ts = start_ms
        self.seq = 0
        self.pending: list[dict[str, Any]] = []

    def _event(self, etype: str, gap_ms: tuple[int, int], **fields: Any) -> dict[str, Any]:
        self.ts += self.rng.randint(*gap_ms)
        self.seq += 1
        event = make_event(
            self.rng,
            etype,
            ts=self.ts,
            seq=self.seq,
            session=self.session,
            subject=self.subject,
            device=self.device,
            app=self.app,
        )
        if self.own_title is not None:
            event["window"]["title"] = self.own_title
        event.update(fields)
        return event

    def _activity(self, name: str) -> list[dict[str, Any]]:
        rng, ev = self.rng, self._event
        if name == "point_and_click":
            path = [ev("pointer.move", (20, 90)) for _ in range(rng.randint(3, 10))]
            last = path[-1]
            return [*path, ev("pointer.click", (80, 400), x=last["x"], y=last["y"])]
        if name == "scroll":
            return [ev("pointer.scroll", (40, 160)) for _ in range(rng.randint(3, 12))]
        if name == "menu":
            return [
                ev("pointer.click", (300, 900), y=rng.uniform(0, 40)),
                ev("menu.select", (600, 2500)),
            ]
        if name == "shortcut":
            return [ev("key.shortcut", (200, 1500))]
        if name == "typing":
            keys = [ev("key.press", (90, 260)) for _ in range(rng.randint(4, 25))]
            return [*keys, ev("text.input", (50, 200))]
        if name == "switch_app":
            switch = ev("key.shortcut", (300, 1200), modifiers=["meta"], key="Tab")
            self.app = rng.choice(APPS)  # now and then a denied one: its events are dropped
            own = self.own_rng.random() < 0.2 and self.app[0] == "Google Chrome"
            self.own_title = self.own_rng.choice(self.own_titles) if own else None
            return [switch, ev("window.focus", (100, 400))]
        if name == "copy":
            return [
                ev("key.shortcut", (300, 1500), modifiers=["meta"], key="c"),
                ev("clipboard", (5, 30)),
            ]
        if name == "drag":
            return [ev("pointer.move", (20, 90)), ev("pointer.drag", (300, 1200))]
        if name == "break":
            pause = ev("capture.pause", (500, 2000), reason="user")
            return [pause, ev("capture.resume", (30_000, 120_000), reason="user")]
        self.ts += rng.randint(2_000, 20_000)  # idle: reading, thinking
        return []

    def until(self, end_ms: int) -> list[dict[str, Any]]:
        """Events from where the session is until `end_ms` of session time; an activity that
        runs past `end_ms` is finished in the next call."""
        names, weights = list(ACTIVITIES), list(ACTIVITIES.values())
        while self.ts < end_ms:
            self.ts += self.rng.randint(200, 2_500)  # between activities
            self.pending.extend(self._activity(self.rng.choices(names, weights)[0]))
        ready = [e for e in self.pending if e["ts"] <= end_ms]
        self.pending = self.pending[len(ready) :]
        return ready


def session_batches(
    seed: int,
    *,
    subject: str,
    device: str,
    minutes: float,
    end_ms: int,
    flush_ms: int = 30_000,
    max_events: int = 2_000,
) -> list[dict[str, Any]]:
    """The batches an agent would post for `minutes` of work ending at `end_ms`: one per
    `flush_ms` of activity (or per `max_events`), as the agent SDK flushes."""
    start = end_ms - int(minutes * 60_000)
    session = Session(seed, subject=subject, device=device, start_ms=start)
    ids = random.Random(-seed - 1)  # noqa: S311 - batch ids apart from the session's own draws
    batches: list[dict[str, Any]] = []
    window_end = start
    while window_end < end_ms:
        window_end = min(window_end + flush_ms, end_ms)
        events = session.until(window_end)
        for first in range(0, len(events), max_events):
            chunk = events[first : first + max_events]
            batches.append(
                {
                    "schema": "interaction/1",
                    "batch_id": str(uuid.UUID(int=ids.getrandbits(128), version=4)),
                    "sent_at": window_end,
                    "agent": AGENT,
                    "events": chunk,
                }
            )
    return batches

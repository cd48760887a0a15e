"""Synthetic agents: realistic interaction batches for the demo, the tests and the benchmarks.

A simulated employee works in a few applications; every event carries the focused window's title
as a real agent would, and a share of titles and labels carry planted personal data (e-mail
addresses, card numbers, file paths with user names) so redaction has something to find.
Deterministic for a given seed.
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

"""The desktop agent end to end: an X desktop under Xvfb driven by xdotool, `ilake-agent run`
(and the operator's `ilake agent run --source desktop`) capturing it for a program of local
mode, and what the lake then holds.

One session, as a person would work it: clicks at known places, a double click, the wheel, a
shortcut, named keys, typed text, a pointer path, a password manager and a terminal (apps the
program denies) with input of their own, a pause and a resume from `ilake agent pause`/`resume`,
then SIGTERM. The tests assert what reached the lake (coordinates normalized to the display,
shortcuts and named keys, typing only as classes, nothing of a denied app or of the pause), and
that nothing typed is anywhere: not in the spool's plaintext, the lake, the agent's output or the
handlers' log (docs/agent.md#capturing-a-desktop).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ilake.local import LOG_FILE, LocalState
from ilake_agent.keys import default_key_store
from ilake_agent.spool import Spool
from tests.support.desktop import HEIGHT, WIDTH, Geometry, TestWindow, Xdotool, wait_for, xvfb
from tests.support.local import local_client, running_local_stack

pytestmark = [pytest.mark.integration, pytest.mark.enable_socket]

PROGRAM = "shortcut-learning"  # keys, shortcuts, clicks, scrolls, sampled moves; an allowlist
SUBJECT, DEVICE = "e2e-alice", "E2E-LAPTOP-7"
# What the person types, in allowed apps, denied ones and while paused: none of it may survive.
TYPED = {
    "editor": "hunter2 Passw0rd",
    "vault": "vaultmaster99",
    "vault at once": "quicksilver77",  # typed the moment the vault got the focus
    "terminal": "rm secretfile",
}
TYPED_WHILE_PAUSED = "pausedprivate"
EVERY_TYPED = (*TYPED.values(), TYPED_WHILE_PAUSED, "Passw0rd", "vaultmaster", "secretfile")
# Where clicks land, in pixels of the 1280x800 screen: each maps to exact 2-digit fractions.
EDITOR_CLICK = (320, 200)  # 0.25, 0.25
FIREFOX_CLICK = (960, 600)  # 0.75, 0.75
VAULT_CLICK = (256, 640)  # 0.20, 0.80: a denied app
TERMINAL_CLICK = (896, 160)  # 0.70, 0.20: an app outside the allowlist
PAUSED_CLICK = (1088, 680)  # 0.85, 0.85: while paused, in an allowed app
HUMAN_PAUSE_S = 0.5  # after a focus change, as a person takes before acting in a new window


@dataclass
class Session:
    rows: list[dict[str, Any]]  # the lake's rows of the program, in seq order
    spool_plaintext: list[bytes]  # every record the spool held, decrypted
    agent_output: str  # the agent's stdout and stderr
    handler_log: str
    state_dir: Path
    spool_dir: Path
    titles: dict[str, str]


class Agent:
    """The capturing command (`ilake-agent run`, or `ilake agent run --source desktop`) as a
    process; its stderr is read as it comes."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        self.stderr: list[str] = []
        self.stdout = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line)

    def said(self, text: str) -> bool:
        return any(text in line for line in list(self.stderr))

    def wait_until_said(self, text: str, timeout: float = 60) -> None:
        def said_or_died() -> bool:
            if self.process.poll() is not None and not self.said(text):
                raise AssertionError(f"the agent exited: {''.join(self.stderr)[-2000:]}")
            return self.said(text)

        wait_for(said_or_died, timeout=timeout, what=f"the agent to say {text!r}")

    def stop(self) -> int:
        """SIGTERM, then its exit and its stdout (a few summary lines: no pipe fills). Not
        communicate(), which would read stderr beside the reader thread."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=90)
        assert self.process.stdout is not None
        self.stdout = self.process.stdout.read()
        self._reader.join(timeout=10)
        return self.process.returncode

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


ILAKE = [sys.executable, "-m", "ilake.cli"]
FRONTS = {  # the command that captures, and its prefix for run, pause and resume
    "ilake-agent": [sys.executable, "-m", "ilake_agent.cli"],
    "ilake agent": [*ILAKE, "agent"],
}


def cli(
    *args: str, env: dict[str, str], front: list[str] = ILAKE
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*front, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def spool_plaintext(spool_dir: Path, copy_to: Path) -> list[bytes]:
    """Every record in a copy of the running agent's spool, decrypted with its key: the copy
    leaves out the read position, so records already delivered are read back too."""
    copy_to.mkdir(mode=0o700)
    for path in spool_dir.iterdir():
        if path.name.endswith(".seg"):
            shutil.copy2(path, copy_to / path.name)
    key = default_key_store(spool_dir).load_or_create()
    with Spool(copy_to, key=key) as spool:
        _, records = spool.peek(1_000_000, 1 << 30)
    return records


def lake_rows(state: LocalState) -> list[dict[str, Any]]:
    s3 = local_client(state, "s3")
    prefix = f"interactions/program={PROGRAM}/"
    rows: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=state.bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=state.bucket, Key=item["Key"])["Body"]
            rows += pq.read_table(pa.BufferReader(body.read())).to_pylist()
    return sorted(rows, key=lambda row: row["seq"])


def work(
    xdo: Xdotool,
    windows: dict[str, TestWindow],
    agent: Agent,
    env: dict[str, str],
    front: list[str],
) -> None:
    """What the person does, in order."""

    def focus(name: str) -> None:
        xdo.focus(windows[name].id)
        time.sleep(HUMAN_PAUSE_S)

    focus("editor")
    xdo.mousemove(*EDITOR_CLICK)
    xdo.click(1)
    time.sleep(0.6)  # beyond the double-click interval: the next two clicks are a pair
    xdo("click", "--repeat", 2, "--delay", 80, 1)
    xdo.click(5)  # one wheel notch down
    xdo.key("ctrl+s")
    xdo.key("shift+Tab")
    xdo.key("Return", "F5", "Escape")
    xdo.type(TYPED["editor"])
    path: list[str | int] = []
    for step in range(40):  # a pointer path of 40 moves over about 2 s
        path += ["mousemove", 400 + step * 5, 300 + step * 2, "sleep", "0.05"]
    xdo(*path)

    # No pause at all: the focus moves to the vault and the keys follow in the same instant.
    xdo("windowfocus", windows["vault"].id, "type", "--delay", 0, TYPED["vault at once"])
    focus("vault")
    xdo.mousemove(*VAULT_CLICK)
    xdo.click(1)
    xdo.type(TYPED["vault"])
    xdo.key("ctrl+c", "Return")

    focus("terminal")
    xdo.mousemove(*TERMINAL_CLICK)
    xdo.click(1)
    xdo.key("ctrl+v")
    xdo.type(TYPED["terminal"])

    focus("firefox")
    xdo.mousemove(*FIREFOX_CLICK)
    xdo.click(3)
    xdo.key("ctrl+t")

    paused = cli("pause", "-p", PROGRAM, "--spool-dir", env["SPOOL"], env=env, front=front)
    assert paused.returncode == 0, paused.stderr
    agent.wait_until_said("paused: nothing is captured")
    xdo.mousemove(*PAUSED_CLICK)
    xdo.click(1)
    xdo.type(TYPED_WHILE_PAUSED)
    xdo.key("ctrl+w")
    resumed = cli("resume", "-p", PROGRAM, "--spool-dir", env["SPOOL"], env=env, front=front)
    assert resumed.returncode == 0, resumed.stderr
    agent.wait_until_said("capture resumed")
    xdo.key("ctrl+shift+t")
    time.sleep(HUMAN_PAUSE_S)


@pytest.fixture(scope="module", params=list(FRONTS))
def session(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Session]:
    front = FRONTS[request.param]
    base = tmp_path_factory.mktemp("desktop")
    state_dir, spool_dir = base / "state", base / "agent" / "spool"
    state_dir.mkdir()
    with xvfb() as display, running_local_stack(state_dir) as state:
        windows = {
            name: TestWindow(display, title=title, wm_class=wm_class, geometry=geometry)
            for name, title, wm_class, geometry in (
                ("editor", "plan.md - Visual Studio Code", ("code", "Code"),
                 Geometry(100, 100, 500, 400)),
                ("firefox", "Inbox - Mozilla Firefox", ("Navigator", "firefox"),
                 Geometry(700, 400, 540, 380)),
                ("vault", "Personal vault - 1Password", ("1password", "1Password"),
                 Geometry(100, 560, 400, 200)),
                ("terminal", "alice@host: ~", ("xterm", "XTerm"),
                 Geometry(700, 50, 500, 300)),
            )
        }  # fmt: skip
        env = {
            **{k: v for k, v in os.environ.items() if k != "POWERTOOLS_LOG_LEVEL"},
            "DISPLAY": display,
            "SPOOL": str(spool_dir),
        }
        enrolled = cli(
            "agents", "enroll", "-p", PROGRAM, "--agent-id", DEVICE,
            "--state-dir", str(state_dir), env=env,
        )  # fmt: skip
        assert enrolled.returncode == 0, enrolled.stderr
        token_file = base / "agent.token"
        token_file.write_text(enrolled.stdout.strip())
        token_file.chmod(0o600)
        where = (
            ["--source", "desktop", "--state-dir", str(state_dir)]
            if request.param == "ilake agent"
            else ["--api-url", state.api_url]
        )
        agent = Agent(
            [*front, "run", "-p", PROGRAM, "--token-file", str(token_file), *where,
             "--duration", "300", "--subject", SUBJECT, "--device-id", DEVICE,
             "--spool-dir", str(spool_dir), "--timeout", "60"],
            env,
        )  # fmt: skip
        try:
            agent.wait_until_said("capturing this desktop")
            work(Xdotool(display), windows, agent, env, front)
            plaintext = spool_plaintext(spool_dir, base / "spool-copy")
            assert agent.stop() == 0, "".join(agent.stderr)[-2000:]
        finally:
            agent.kill()
            for window in windows.values():
                window.close()
        yield Session(
            rows=lake_rows(state),
            spool_plaintext=plaintext,
            agent_output=agent.stdout + "".join(agent.stderr),
            handler_log=(state_dir / LOG_FILE).read_text(),
            state_dir=state_dir,
            spool_dir=spool_dir,
            titles={name: window.title for name, window in windows.items()},
        )


def of_type(session: Session, etype: str) -> list[dict[str, Any]]:
    return [row for row in session.rows if row["type"] == etype]


def test_the_agent_prints_the_notice_and_delivers_everything_it_recorded(
    session: Session,
) -> None:
    out = session.agent_output
    assert "shortcut-learning" in out
    assert "Measure which keyboard shortcuts" in out
    counts = re.search(r"recorded ([\d,]+), delivered ([\d,]+) in", out)
    assert counts is not None, out
    recorded, delivered = (int(n.replace(",", "")) for n in counts.groups())
    assert recorded == delivered == len(session.rows) == len(session.spool_plaintext)
    assert "rejected by the server: none" in out


def test_every_event_is_of_a_type_the_program_collects_with_the_display_it_happened_on(
    session: Session,
) -> None:
    assert {row["type"] for row in session.rows} == {
        "window.focus", "pointer.click", "pointer.scroll", "pointer.move",
        "key.shortcut", "key.press", "capture.pause", "capture.resume",
    }  # fmt: skip
    pointer = [row for row in session.rows if row["type"].startswith("pointer.")]
    assert {(r["display_w"], r["display_h"], r["display_scale"]) for r in pointer} == {
        (WIDTH, HEIGHT, 1.0)
    }


def test_clicks_are_where_they_happened_normalized_to_the_display(session: Session) -> None:
    clicks = [(r["x"], r["y"], r["button"], r["clicks"], r["app_name"])
              for r in of_type(session, "pointer.click")]  # fmt: skip
    assert clicks == [
        (0.25, 0.25, "left", 1, "Code"),
        (0.25, 0.25, "left", 1, "Code"),
        (0.25, 0.25, "left", 2, "Code"),  # the double click counts up
        (0.75, 0.75, "right", 1, "firefox"),
    ]
    (scroll,) = of_type(session, "pointer.scroll")
    assert (scroll["x"], scroll["y"], scroll["scroll_dx"], scroll["scroll_dy"]) == (
        0.25, 0.25, 0.0, -1.0,
    )  # fmt: skip


def test_pointer_moves_are_sampled_at_the_programs_interval(session: Session) -> None:
    moves = of_type(session, "pointer.move")
    span_ms = (moves[-1]["ts"] - moves[0]["ts"]).total_seconds() * 1000
    # 40 moves over about 2 s (longer on a loaded machine): one kept per 250 ms of it
    assert len(moves) >= 4
    assert len(moves) <= span_ms // 250 + 1
    gaps = [(b["ts"] - a["ts"]).total_seconds() * 1000 for a, b in itertools.pairwise(moves)]
    assert min(gaps) >= 250
    assert all(0 <= r["x"] <= 1 and 0 <= r["y"] <= 1 for r in moves)
    assert "sampled_out" not in session.agent_output  # none built to be dropped


def test_shortcuts_and_named_keys_are_kept(session: Session) -> None:
    shortcuts = [
        (r["modifiers"], r["key"], r["app_name"]) for r in of_type(session, "key.shortcut")
    ]
    assert shortcuts == [
        (["ctrl"], "s", "Code"),
        (["shift"], "Tab", "Code"),
        (["ctrl"], "t", "firefox"),
        (["ctrl", "shift"], "t", "firefox"),  # after the resume
    ]
    named = [r["key"] for r in of_type(session, "key.press") if r["key"] is not None]
    assert named == ["Enter", "F5", "Escape"]


def test_typing_reaches_the_lake_only_as_character_classes(session: Session) -> None:
    typed = [r for r in of_type(session, "key.press") if r["key"] is None]
    assert Counter(r["key_class"] for r in typed) == Counter(
        {"letter": 13, "digit": 2, "space": 1}  # "hunter2 Passw0rd"
    )
    assert {r["app_name"] for r in typed} == {"Code"}


def test_nothing_typed_is_anywhere(session: Session) -> None:
    """Not in the spool's plaintext, the lake's rows, the agent's output, the handlers' log,
    nor any file local mode or the agent left."""
    lake = json.dumps(session.rows, default=str)
    spool = b"\n".join(session.spool_plaintext).decode()
    files = "".join(
        path.read_bytes().decode("latin-1")
        for root in (session.state_dir, session.spool_dir)
        for path in root.rglob("*")
        if path.is_file()
    )
    for where, text in (
        ("lake", lake),
        ("spool", spool),
        ("agent output", session.agent_output),
        ("handler log", session.handler_log),
        ("files", files),
    ):
        for secret in EVERY_TYPED:
            assert secret not in text, f"{secret!r} in the {where}"
    assert SUBJECT not in lake
    assert DEVICE not in lake


def test_denied_apps_left_no_event_at_all(session: Session) -> None:
    """The password manager (denied by default) and the terminal (outside the allowlist):
    not their focus, clicks, shortcuts or keys, under any name or at their coordinates."""
    apps = {(r["app_name"], r["app_bundle_id"]) for r in session.rows}
    assert apps == {("Code", "code"), ("firefox", "Navigator")}
    # never built at all: the Client, which applies the same app rules, had nothing to drop
    assert "not captured (policy): none" in session.agent_output
    spool = b"\n".join(session.spool_plaintext).decode()
    for denied in ("1Password", "1password", "XTerm", "xterm", "Personal vault", "alice@host"):
        assert denied not in spool
        assert denied not in json.dumps(session.rows, default=str)
    clicked_at = {(r["x"], r["y"]) for r in session.rows if r["x"] is not None}
    assert not clicked_at & {(0.2, 0.8), (0.7, 0.2)}
    assert [r["key"] for r in of_type(session, "key.shortcut")].count("c") == 0
    assert [r["key"] for r in of_type(session, "key.shortcut")].count("v") == 0


def test_a_pause_frames_a_silence(session: Session) -> None:
    types = [r["type"] for r in session.rows]
    start, end = types.index("capture.pause"), types.index("capture.resume")
    assert end == start + 1  # nothing between them
    assert of_type(session, "capture.pause")[0]["capture_reason"] == "user"
    assert (0.85, 0.85) not in {(r["x"], r["y"]) for r in session.rows}
    assert "w" not in [r["key"] for r in of_type(session, "key.shortcut")]


def test_focus_changes_name_the_app_and_hold_titles_until_common(session: Session) -> None:
    """The program keeps titles once enough people share them: one person's title is held
    back as an id only, a different one for each window."""
    focus = of_type(session, "window.focus")
    assert [r["app_name"] for r in focus] == ["Code", "firefox"]
    assert all(r["window_title"] is None for r in session.rows)
    ids = [r["window_title_id"] for r in focus]
    assert all(ids)
    assert len(set(ids)) == 2
    assert session.titles["editor"] not in session.handler_log
    assert all(r["subject_pid"] == focus[0]["subject_pid"] for r in session.rows)
    assert len({r["session_pid"] for r in session.rows}) == 1
    assert [r["seq"] for r in session.rows] == list(range(1, len(session.rows) + 1))

"""Desktop capture from both commands that run it, `ilake-agent run` (the agent distribution's
own) and `ilake agent run --source desktop` (the operator's), with a scripted backend and API,
in this process: what they refuse before capture (one line, exit 2), a run stopped by SIGTERM,
the employee's pause and resume through `pause`/`resume` and the pid file, and a 423 that ends
capture."""

from __future__ import annotations

import gzip
import importlib.abc
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import ilake_agent.client
import ilake_agent.desktop.platform
from ilake.cli import main
from ilake_agent.cli import main as agent_main
from ilake_agent.desktop.backend import (
    ButtonChanged,
    FocusChanged,
    PointerMoved,
    RawInput,
    RawSink,
    Screen,
)
from ilake_agent.desktop.recorder import IDLE_POLL_MS
from ilake_agent.desktop.session import PID_FILE
from lambdas.core.programs import load_programs
from tests.support.builders import PROGRAMS_DIR

PROGRAM = "menu-navigation"


class Api:
    """The API in this process: menu-navigation's policy, and every batch answered `status`."""

    instances: list[Api] = []

    def __init__(self, api_url: str, *, timeout_s: float = 30, status: int = 200) -> None:
        self.status = status
        self.events: list[dict[str, Any]] = []
        self.batches = threading.Event()
        Api.instances.append(self)

    def get(self, path: str, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        return 200, load_programs(PROGRAMS_DIR)[PROGRAM].public_policy(), {}

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> Any:
        events = json.loads(gzip.decompress(body))["events"]
        self.batches.set()
        if self.status != 200:
            return self.status, {"error": "paused"}, {}
        self.events += events
        return 200, {"accepted": len(events), "rejected": {}, "redactions": {}}, {}

    def close(self) -> None:
        pass


class ScriptedBackend:
    """Runs `script(sink)` on a thread of its own once started, as a platform's listener does."""

    def __init__(self, script: Callable[[RawSink], None]) -> None:
        self.script = script
        self.started = threading.Event()
        self.stopped = threading.Event()
        self.failure: BaseException | None = None

    def screen(self) -> Screen:
        return Screen(1280, 800, 1.0)

    def running(self) -> bool:
        return self.alive

    def start(self, sink: RawSink, *, pointer_every_ms: int | None = None) -> None:
        self.pointer_every_ms = pointer_every_ms
        self.alive = True

        def run() -> None:
            try:
                self.script(sink)
            except BaseException as exc:  # surfaced by the test, not lost in a thread
                self.failure = exc

        self.started.set()
        threading.Thread(target=run, daemon=True).start()

    def stop(self) -> None:
        self.stopped.set()


@pytest.fixture
def token(tmp_path: Path) -> Path:
    path = tmp_path / "agent.token"
    path.write_text("ilk_" + "t" * 43)
    path.chmod(0o600)
    return path


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Every Client talks to an `Api` in this process; call the fixture to set batch answers."""
    answers = {"status": 200}
    Api.instances = []
    monkeypatch.setattr(
        ilake_agent.client,
        "HttpTransport",
        lambda url, **kw: Api(url, status=answers["status"], **kw),
    )
    return lambda status: answers.update(status=status)


@pytest.fixture(autouse=True)
def signals() -> Iterator[None]:
    """The handlers this process had: a run replaces them and ignores SIGUSR1/2 after."""
    saved = {
        s: signal.getsignal(s)
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2)
    }
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


class Front:
    """One of the two commands that capture a desktop."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.ilake = command == "ilake agent"

    def main(self, argv: list[str]) -> int:
        return main(["agent", *argv]) if self.ilake else agent_main(argv)

    def run(self, token: Path, spool: Path, *args: str) -> int:
        source = ["--source", "desktop"] if self.ilake else []
        return self.main(
            ["run", "-p", PROGRAM, "--token-file", str(token), "--api-url", "http://agent.test",
             "--spool-dir", str(spool), *source, "--subject", "jdoe", "--device-id", "LAPTOP-42",
             *args]
        )  # fmt: skip

    def signal(self, ask: str, spool: Path) -> int:
        return self.main([ask, "-p", PROGRAM, "--spool-dir", str(spool)])


@pytest.fixture(params=["ilake-agent", "ilake agent"])
def front(request: pytest.FixtureRequest) -> Front:
    return Front(request.param)


def with_backend(monkeypatch: pytest.MonkeyPatch, backend: ScriptedBackend) -> None:
    monkeypatch.setattr(ilake_agent.desktop.platform, "open_backend", lambda: backend)


def wait_for(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


EDITOR = FocusChanged("Code", "code", "main.py - project", 0)


def click(x: int, t: int) -> tuple[RawInput, RawInput]:
    return ButtonChanged(x, 10, "left", True, t), ButtonChanged(x, 10, "left", False, t + 50)


# --- refused before anything is captured ---------------------------------------------------------


class _NoDesktopExtra(importlib.abc.MetaPathFinder):
    """The X11 backend's module fails to import as it would without the desktop extra."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name == "ilake_agent.desktop.x11":
            raise ModuleNotFoundError("No module named 'Xlib'", name="Xlib")
        return None


@pytest.mark.parametrize(
    ("environ", "platform", "said"),
    [
        ({"DISPLAY": ":0"}, "darwin", "desktop capture runs on Linux (X11) only, not on darwin"),
        ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "linux", "this is a Wayland session"),
        ({"DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland"}, "linux", "this is a Wayland session"),
        ({"XDG_SESSION_TYPE": "x11"}, "linux", "no X display: DISPLAY is not set"),
        ({"DISPLAY": ":0"}, "linux", "pip install 'ilake-agent[desktop]'"),
    ],
    ids=["macos", "wayland-display", "wayland-session", "no-display", "no-libraries"],
)
def test_a_desktop_that_cannot_be_captured_is_refused_in_one_line_before_the_api(
    environ: dict[str, str],
    platform: str,
    said: str,
    front: Front,
    token: Path,
    tmp_path: Path,
    api: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.delitem(sys.modules, "ilake_agent.desktop.x11", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_NoDesktopExtra(), *sys.meta_path])
    assert front.run(token, tmp_path / "spool") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot capture this desktop: ")
    assert said in err
    assert len(err.splitlines()) == 1
    assert Api.instances == []  # the API was never asked
    assert not (tmp_path / "spool").exists()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--subject", " "], "--subject must be 1 to 256 printable characters"),
        (["--device-id", "x" * 257], "--device-id must be 1 to 256 printable characters"),
        (["--device-id", "LAPTOP\n42"], "--device-id must be 1 to 256 printable characters"),
    ],
)
def test_who_and_which_machine_are_checked_before_capture(
    args: list[str], said: str, front: Front, token: Path, tmp_path: Path, api: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    assert front.run(token, tmp_path / "spool", *args) == 2
    assert capsys.readouterr().err.strip() == f"error: {said}"


def test_the_desktop_options_go_with_the_desktop_only(
    token: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["agent", "run", "-p", PROGRAM, "--token-file", str(token), "--duration", "1"]
    assert main(argv) == 2
    assert "go with --source desktop only" in capsys.readouterr().err


# --- a run ---------------------------------------------------------------------------------------


def test_a_desktop_run_records_what_the_policy_allows_and_sigterm_drains_it(
    front: Front, token: Path, tmp_path: Path, api: Any, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    def script(sink: RawSink) -> None:
        sink(EDITOR)
        for i in range(20):
            sink(PointerMoved(i, i, i))  # not collected by menu-navigation
        for raw in click(100, 1_000):
            sink(raw)
        sink(FocusChanged("Gnome-terminal", "gnome-terminal-server", "~", 2_000))  # denied
        for raw in click(200, 3_000):
            sink(raw)
        os.kill(os.getpid(), signal.SIGTERM)

    backend = ScriptedBackend(script)
    with_backend(monkeypatch, backend)
    spool = tmp_path / "spool"
    assert front.run(token, spool, "--duration", "60") == 0
    assert backend.failure is None
    assert backend.stopped.is_set()
    captured = capsys.readouterr()
    assert "What this agent captures" in captured.err  # the policy's notice first
    [sent] = Api.instances
    assert [(e["type"], e.get("x")) for e in sent.events] == [
        ("window.focus", None), ("pointer.click", 100),
    ]  # fmt: skip
    assert {(e["subject"], e["device_id"]) for e in sent.events} == {("jdoe", "LAPTOP-42")}
    assert "recorded 2, delivered 2" in captured.out
    assert not (spool / PID_FILE).exists()  # gone with the agent
    # neither moves nor drags collected: the pointer's position is asked for once a second
    assert backend.pointer_every_ms == IDLE_POLL_MS


def test_the_employee_pauses_and_resumes_a_running_agent(
    front: Front, token: Path, tmp_path: Path, api: Any, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    spool = tmp_path / "spool"
    answers: dict[str, int] = {}

    def script(sink: Any) -> None:
        sink(EDITOR)
        for raw in click(1, 1_000):
            sink(raw)
        wait_for(lambda: (spool / PID_FILE).exists())
        mode = (spool / PID_FILE).stat().st_mode & 0o777
        answers["mode"] = mode
        answers["pause"] = front.signal("pause", spool)
        wait_for(lambda: sink.paused)
        for raw in (*click(2, 2_000), FocusChanged("Firefox", "Navigator", "Docs", 2_100)):
            sink(raw)  # while paused: nothing
        answers["resume"] = front.signal("resume", spool)
        wait_for(lambda: not sink.paused)
        for raw in click(3, 3_000):
            sink(raw)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: stop, and deliver what was recorded

    backend = ScriptedBackend(script)
    with_backend(monkeypatch, backend)
    assert front.run(token, spool, "--duration", "60") == 0
    assert backend.failure is None
    assert answers == {"mode": 0o600, "pause": 0, "resume": 0}
    [sent] = Api.instances
    assert [(e["type"], e.get("x"), e.get("reason")) for e in sent.events] == [
        ("window.focus", None, None),
        ("pointer.click", 1, None),
        ("capture.pause", None, "user"),
        ("capture.resume", None, "user"),  # in the app focused while paused
        ("pointer.click", 3, None),
    ]
    assert sent.events[3]["app"]["name"] == "Firefox"
    said = capsys.readouterr()
    assert "asked the agent (pid " in said.out
    assert f"paused: nothing is captured until `{front.command} resume`" in said.err


def test_a_423_stops_capture_and_the_run_says_so(
    front: Front, token: Path, tmp_path: Path, api: Any, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    api(423)

    def script(sink: RawSink) -> None:
        sink(EDITOR)

    backend = ScriptedBackend(script)
    with_backend(monkeypatch, backend)
    started = time.monotonic()
    assert front.run(token, tmp_path / "spool", "--duration", "60") == 0
    assert time.monotonic() - started < 30  # the 423 ended it, not --duration
    assert backend.stopped.is_set()
    assert "the program is paused: capture stopped and the spool was wiped" in (
        capsys.readouterr().out
    )
    assert not (tmp_path / "spool" / PID_FILE).exists()


def test_a_duration_ends_the_run_by_itself(
    front: Front, token: Path, tmp_path: Path, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = ScriptedBackend(lambda sink: sink(EDITOR))
    with_backend(monkeypatch, backend)
    started = time.monotonic()
    assert front.run(token, tmp_path / "spool", "--duration", "0.3") == 0
    assert 0.3 <= time.monotonic() - started < 20
    assert [e["type"] for e in Api.instances[0].events] == ["window.focus"]


def test_a_backend_that_stops_reading_input_ends_the_run_in_one_line(
    front: Front,
    token: Path,
    tmp_path: Path,
    api: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The X server went away (or the input thread died): the agent does not go on saying it
    captures; it stops, keeps the spool for the next run and says why."""

    def script(sink: RawSink) -> None:
        sink(EDITOR)
        backend.alive = False

    backend = ScriptedBackend(script)
    with_backend(monkeypatch, backend)
    started = time.monotonic()
    assert front.run(token, tmp_path / "spool", "--duration", "60") == 2
    assert time.monotonic() - started < 20
    err = capsys.readouterr().err
    assert "input can no longer be read" in err
    assert "Traceback" not in err
    assert backend.stopped.is_set()


# --- pause and resume without an agent -----------------------------------------------------------


@pytest.mark.parametrize("command", ["pause", "resume"])
def test_pause_and_resume_without_a_running_agent_exit_1_in_one_line(
    command: str, front: Front, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spool = tmp_path / "spool"
    assert front.signal(command, spool) == 1
    assert capsys.readouterr().err.strip() == f"error: no agent is running on {spool}"
    spool.mkdir()
    (spool / PID_FILE).write_text(f"{os.getpid()}\n")  # left by an agent killed -9
    assert front.signal(command, spool) == 1  # not signalled: nobody holds the file's lock
    assert capsys.readouterr().err.strip() == (
        f"error: no agent is running on {spool} (its pid file is left over)"
    )


# --- ilake-agent's own refusals ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        ([], "the following arguments are required: command"),
        (["run", "-p", PROGRAM, "--token-file", "t"], "required: --api-url"),
        (
            ["run", "-p", PROGRAM, "--token-file", "t", "--api-url", "u", "--duration", "0"],
            "argument --duration: must be at least 0.1",
        ),
        (
            ["run", "-p", PROGRAM, "--token-file", "t", "--api-url", "u", "--batch-events", "x"],
            "argument --batch-events: 'x' is not a number",
        ),
        (
            ["run", "-p", "Not A Program", "--token-file", "t", "--api-url", "u"],
            "--program is not a program name",
        ),
        (
            ["run", "-p", PROGRAM, "--token-file", "/nonexistent/t", "--api-url", "u"],
            "/nonexistent/t does not exist",
        ),
        (["pause"], "the following arguments are required: -p/--program"),
    ],
    ids=["no-command", "no-url", "duration", "batch-events", "program", "token", "pause"],
)
def test_ilake_agent_answers_bad_input_in_one_line_exit_2(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert agent_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ")
    assert said in err
    assert len(err.splitlines()) == 1


def test_ilake_agent_refuses_a_token_others_can_read(
    token: Path, tmp_path: Path, api: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    token.chmod(0o644)
    assert Front("ilake-agent").run(token, tmp_path / "spool") == 2
    assert capsys.readouterr().err.strip() == f"error: {token} is readable by others: chmod 600 it"
    assert Api.instances == []


def test_ilake_agent_never_echoes_a_token_file_that_holds_no_token(
    token: Path, tmp_path: Path, api: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    token.write_text("ilk_secretpart1\nsecretpart2")
    assert Front("ilake-agent").run(token, tmp_path / "spool") == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: {token} does not hold a token (one line of printable ASCII)"
    assert "secretpart" not in err

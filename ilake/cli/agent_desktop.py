"""`ilake agent run --source desktop` and the employee's switch for it, `ilake agent pause`
and `ilake agent resume`: the recorder between this session's backend and the agent Client,
driven by signals, with a pid file in the spool directory that says which process to signal."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..ui import err, out
from .agent import SpoolDir, agent_app, spool_path
from .base import ProgramOption, fail

PID_FILE = "agent.pid"  # in the spool directory, while an agent captures this desktop


@agent_app.command("pause")
def agent_pause(program: ProgramOption, spool_dir: SpoolDir = None) -> None:
    """Pause the agent capturing this desktop for a program: nothing is captured until
    `ilake agent resume` (the agent records that it paused, and why: the employee).

    Sends SIGUSR1 to the agent whose pid file is in the spool directory; exit 1 when no
    agent runs there.

    Example: [bold]ilake agent pause -p menu-navigation[/]
    """
    import signal

    _posix_only()
    pid = _signal_agent(spool_path(program, spool_dir), signal.SIGUSR1)
    out.print(f"asked the agent (pid {pid}) to pause: nothing is captured until it resumes")


@agent_app.command("resume")
def agent_resume(program: ProgramOption, spool_dir: SpoolDir = None) -> None:
    """Resume the paused agent capturing this desktop for a program.

    Sends SIGUSR2 to the agent whose pid file is in the spool directory; exit 1 when no
    agent runs there.

    Example: [bold]ilake agent resume -p menu-navigation[/]
    """
    import signal

    _posix_only()
    pid = _signal_agent(spool_path(program, spool_dir), signal.SIGUSR2)
    out.print(f"asked the agent (pid {pid}) to resume capture")


def _posix_only() -> None:
    import os

    if os.name != "posix":
        fail("an agent capturing a desktop runs on Linux only: there is none to signal here")


def open_desktop(subject: str | None, device_id: str | None) -> tuple[Any, str, str]:
    """This session's backend, the person and the machine, or one line and exit 2: refused
    before the API is asked anything."""
    import getpass
    import socket

    from ilake_agent.desktop.backend import BackendUnavailable
    from ilake_agent.desktop.platform import open_backend

    if subject is None:
        try:
            subject = getpass.getuser()
        except (OSError, KeyError):
            fail("this session has no login name: give --subject")
    device_id = socket.gethostname() if device_id is None else device_id
    for option, value in (("--subject", subject), ("--device-id", device_id)):
        if not 1 <= len(value.strip()) <= len(value) <= 256 or not value.isprintable():
            fail(f"{option} must be 1 to 256 printable characters")
    try:
        backend = open_backend()
    except BackendUnavailable as exc:
        fail(f"cannot capture this desktop: {exc}")
    return backend, subject, device_id


def capture_desktop(
    client: Any,
    backend: Any,
    subject: str,
    device_id: str,
    *,
    spool: Path,
    duration: float | None,
) -> None:
    """Record this desktop until SIGINT or SIGTERM, `duration`, or the server stops the agent
    (423: the Client wipes the spool; 401/403/404). SIGUSR1 pauses, SIGUSR2 resumes.

    The signal handlers only queue a request (SimpleQueue.put is safe there); this thread acts
    on it, so a handler never waits for the recorder's lock."""
    import queue
    import signal
    import uuid

    from ilake_agent.desktop.recorder import Recorder

    recorder = Recorder(
        client.record,
        client.policy,
        session_id=str(uuid.uuid4()),
        subject=subject,
        device_id=device_id,
        screen=backend.screen(),
    )
    requests: queue.SimpleQueue[str] = queue.SimpleQueue()
    asks: dict[int, str] = {
        signal.SIGINT: "stop",
        signal.SIGTERM: "stop",
        signal.SIGUSR1: "pause",
        signal.SIGUSR2: "resume",
    }
    previous = {
        signum: signal.signal(signum, lambda signum, _frame: requests.put(asks[signum]))
        for signum in asks
    }
    pid_file = _claim_pid_file(spool)  # after the handlers: a pause never kills the agent
    try:
        backend.start(recorder)
        err.print(
            "capturing this desktop; `ilake agent pause` pauses it, Ctrl-C stops"
            + (f" (or in {duration:g} s)" if duration else "")
        )
        deadline = None if duration is None else time.monotonic() + duration
        while not client.paused and not client.error:
            wait = 0.2 if deadline is None else min(0.2, deadline - time.monotonic())
            if wait <= 0:
                break
            try:
                request = requests.get(timeout=wait)
            except queue.Empty:
                continue
            if request == "stop":
                break
            if request == "pause" and recorder.pause("user"):
                err.print("paused: nothing is captured until `ilake agent resume`")
            elif request == "resume" and recorder.resume("user"):
                err.print("capture resumed")
    finally:
        backend.stop()
        _release_pid_file(spool, pid_file)
        for signum in (signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(signum, signal.SIG_IGN)  # capture is over: a late pause is nothing
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, previous[signum])


def _claim_pid_file(spool: Path) -> int:
    """Write this process's id to the spool's pid file (0600) and hold it locked while the
    agent runs: the lock, not the file, says an agent runs (a file left by a kill -9 is
    stale, and its pid may be another process's by now)."""
    import fcntl
    import os

    descriptor = os.open(spool / PID_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    os.fchmod(descriptor, 0o600)
    fcntl.flock(descriptor, fcntl.LOCK_EX)  # only `agent pause` or `resume` looks, briefly
    os.ftruncate(descriptor, 0)
    os.write(descriptor, f"{os.getpid()}\n".encode())
    return descriptor


def _release_pid_file(spool: Path, descriptor: int) -> None:
    import contextlib
    import os

    with contextlib.suppress(FileNotFoundError):
        os.unlink(spool / PID_FILE)
    os.close(descriptor)


def _signal_agent(spool: Path, signum: int) -> int:
    """Send `signum` to the agent running on `spool`; its pid, or one line and exit 1."""
    import fcntl
    import os

    path = spool / PID_FILE
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        fail(f"no agent is running on {spool}", code=1)
    except OSError as exc:
        fail(f"{path}: {exc.strerror or 'cannot be read'}", code=1)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # the agent holds it: it runs
        else:
            fail(f"no agent is running on {spool} (its pid file is left over)", code=1)
        deadline = time.monotonic() + 1
        while True:  # an agent that just started may not have written its pid yet
            text = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip()
            if text.isdigit() or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        if not text.isdigit() or int(text) <= 1:
            fail(f"{path} does not hold a process id", code=1)
        pid = int(text)
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            fail(f"no agent is running on {spool}", code=1)
        except PermissionError:
            fail(f"the agent on {spool} is another user's", code=1)
        return pid
    finally:
        os.close(descriptor)

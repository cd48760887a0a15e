"""One desktop capture run, as `ilake-agent run` and `ilake agent run --source desktop` both
do it: the recorder between this session's backend and the agent Client, driven by signals, and
the pid file in the spool directory that tells `pause` and `resume` which process to signal.

Signals: SIGINT and SIGTERM stop, SIGUSR1 pauses, SIGUSR2 resumes. Their handlers only queue a
request (SimpleQueue.put is safe there); the capturing thread acts on it, so a handler never
waits for the recorder's lock.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .backend import Backend, BackendUnavailable
from .recorder import Recorder, pointer_pace

PID_FILE = "agent.pid"  # in the spool directory, while an agent captures this desktop
MAX_NAME = 256


class NoAgent(Exception):
    """No agent captures on that spool (or it cannot be signalled): the message says which."""


def check_identity(subject: str, device_id: str) -> None:
    """The person and the machine as events carry them; ValueError names the bad option."""
    for option, value in (("--subject", subject), ("--device-id", device_id)):
        if not 1 <= len(value.strip()) <= len(value) <= MAX_NAME or not value.isprintable():
            raise ValueError(f"{option} must be 1 to {MAX_NAME} printable characters")


def default_identity() -> tuple[str | None, str]:
    """This session's login name (None when it has none) and the host name."""
    import getpass
    import socket

    try:
        subject: str | None = getpass.getuser()
    except (OSError, KeyError):
        subject = None
    return subject, socket.gethostname()


def capture(
    client: Any,
    backend: Backend,
    *,
    subject: str,
    device_id: str,
    spool: Path,
    duration: float | None,
    say: Callable[[str], None],
    command: str,
) -> None:
    """Record this desktop until SIGINT or SIGTERM, `duration`, or the server stops the agent
    (423: the Client wipes the spool; 401/403/404). `say` tells the employee what happens, and
    which `command` pauses and resumes (`ilake-agent`, or `ilake agent`)."""
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
    pid_file: int | None = None
    try:
        pid_file = _claim_pid_file(spool)  # after the handlers: a pause never kills the agent
        backend.start(recorder, pointer_every_ms=pointer_pace(client.policy))
        say(
            f"capturing this desktop; `{command} pause` pauses it, "
            "Ctrl-C stops" + (f" (or in {duration:g} s)" if duration else "")
        )
        deadline = None if duration is None else time.monotonic() + duration
        while not client.paused and not client.error:
            if not backend.running():
                raise BackendUnavailable("input can no longer be read (the display went away)")
            wait = _CHECK_S if deadline is None else min(_CHECK_S, deadline - time.monotonic())
            if wait <= 0:
                break
            try:
                request = requests.get(timeout=wait)
            except queue.Empty:
                continue
            if request == "stop":
                break
            if request == "pause" and recorder.pause("user"):
                say(f"paused: nothing is captured until `{command} resume`")
            elif request == "resume" and recorder.resume("user"):
                say("capture resumed")
    finally:
        backend.stop()
        if pid_file is not None:
            _release_pid_file(spool, pid_file)
        for signum in (signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(signum, signal.SIG_IGN)  # capture is over: a late pause is nothing
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, previous[signum])


# How often the main loop looks whether the server stopped the agent (a 423 or a revoked token);
# pause, resume and stop wake it at once. The Client records nothing once stopped, so a later
# look loses nothing: it only spares the laptop wake-ups.
_CHECK_S = 1.0


def _claim_pid_file(spool: Path) -> int:
    """Write this process's id to the spool's pid file (0600) and hold it locked while the
    agent runs: the lock, not the file, says an agent runs (a file left by a kill -9 is
    stale, and its pid may be another process's by now)."""
    import fcntl

    descriptor = os.open(spool / PID_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    os.fchmod(descriptor, 0o600)
    fcntl.flock(descriptor, fcntl.LOCK_EX)  # only `pause` or `resume` looks, briefly
    os.ftruncate(descriptor, 0)
    os.write(descriptor, f"{os.getpid()}\n".encode())
    return descriptor


def _release_pid_file(spool: Path, descriptor: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(spool / PID_FILE)
    os.close(descriptor)


def signal_agent(spool: Path, ask: str) -> int:
    """Ask the agent capturing on `spool` to "pause" (SIGUSR1) or "resume" (SIGUSR2) and
    return its pid; NoAgent when none runs there (a pid file nobody holds locked is left over,
    and never used)."""
    if os.name != "posix":
        raise NoAgent("an agent capturing a desktop runs on Linux only: there is none to signal")
    import fcntl

    signum = {"pause": signal.SIGUSR1, "resume": signal.SIGUSR2}[ask]
    path = spool / PID_FILE
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NoAgent(f"no agent is running on {spool}") from None
    except OSError as exc:
        raise NoAgent(f"{path}: {exc.strerror or 'cannot be read'}") from None
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pass  # the agent holds it: it runs
        else:
            raise NoAgent(f"no agent is running on {spool} (its pid file is left over)")
        deadline = time.monotonic() + 1
        while True:  # an agent that just started may not have written its pid yet
            text = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip()
            if text.isdigit() or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        if not text.isdigit() or int(text) <= 1:
            raise NoAgent(f"{path} does not hold a process id")
        pid = int(text)
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            raise NoAgent(f"no agent is running on {spool}") from None
        except PermissionError:
            raise NoAgent(f"the agent on {spool} is another user's") from None
        return pid
    finally:
        os.close(descriptor)

"""`ilake-agent run` as a user runs it, plus what bench/desktop.py --agent cannot see from
outside: Python 3.11 does not name OS threads, so a monitor thread publishes which native thread
id is which Python thread (the parent reads their CPU from /proc/<pid>/task/<tid>/stat), with
the time spent inside the Recorder and inside its sink (the Client's record).

    python bench/desktop_agent_child.py STATUS_FILE REQUEST_FD run -p PROGRAM --api-url ...

The monitor publishes once per byte the parent writes to REQUEST_FD (a pipe) and sleeps in
read() in between: a timer would cost the process as much CPU as the agent's idle.

Everything is wrapped from outside, by attribute and only where it exists: the agent code is
not changed, and a renamed method only loses that one number.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for part in ("agent", "contract"):
    sys.path.insert(0, str(ROOT / part))

MONITOR = "bench-monitor"


class Timed:
    """Seconds and calls spent inside one wrapped method (all threads)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self.instance: Any = None

    def wrap(self, owner: type, name: str) -> bool:
        original: Callable[..., Any] | None = getattr(owner, name, None)
        if original is None:
            return False
        timed = self

        def wrapper(instance: Any, *args: Any, **kwargs: Any) -> Any:
            timed.instance = instance
            start = time.perf_counter()
            try:
                return original(instance, *args, **kwargs)
            finally:
                timed.seconds += time.perf_counter() - start
                timed.calls += 1

        setattr(owner, name, wrapper)
        return True


RECORDER, SINK = Timed(), Timed()


def install() -> dict[str, bool]:
    """Time Recorder.__call__ (all the work per raw input) and Client.record (the sink)."""
    wrapped = {}
    try:
        from ilake_agent.desktop.recorder import Recorder

        wrapped["recorder"] = RECORDER.wrap(Recorder, "__call__")
    except ImportError:
        wrapped["recorder"] = False
    try:
        from ilake_agent.client import Client

        wrapped["sink"] = SINK.wrap(Client, "record")
    except ImportError:
        wrapped["sink"] = False
    return wrapped


def status(wrapped: dict[str, bool], seq: int, final: bool = False) -> dict[str, Any]:
    counters = getattr(SINK.instance, "counters", None)
    # Before the first record() the Client is not known yet: nothing was recorded through it.
    recorded = getattr(counters, "recorded", 0 if wrapped["sink"] else None)
    delivered = getattr(counters, "events_delivered", 0 if wrapped["sink"] else None)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "pid": os.getpid(),
        "seq": seq,
        "final": final,
        "threads": {str(t.native_id): t.name for t in threading.enumerate() if t.native_id},
        "wrapped": wrapped,
        "recorder_s": RECORDER.seconds,
        "recorder_calls": RECORDER.calls,
        "sink_s": SINK.seconds,
        "sink_calls": SINK.calls,
        "recorded": recorded,
        "delivered": delivered,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "maxrss_kb": usage.ru_maxrss,
    }


def publish(path: Path, data: dict[str, Any]) -> None:
    """Atomic: the parent never reads half a file."""
    part = path.with_suffix(".part")
    part.write_text(json.dumps(data))
    os.replace(part, path)


def main() -> int:
    path, requests, argv = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    wrapped = install()
    from ilake_agent.cli import main as agent_main

    lock = threading.Lock()
    seq = 0

    def answer(final: bool = False) -> None:
        nonlocal seq
        with lock:
            seq += 1
            publish(path, status(wrapped, seq, final))

    def monitor() -> None:
        while os.read(requests, 1):  # b"" once the parent closes its end
            answer()

    threading.Thread(target=monitor, name=MONITOR, daemon=True).start()
    code = agent_main(argv)
    answer(final=True)
    return code


if __name__ == "__main__":
    sys.exit(main())

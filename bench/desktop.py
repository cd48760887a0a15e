"""What desktop capture costs the agent's process: the X11 backend under Xvfb, idle and in
ordinary use driven by xdotool (pointer paths, clicks, wheel, shortcuts, typing bursts, focus
changes), with a counting sink. Prints CPU as a share of one core, peak RSS and the cost per
raw input (docs/benchmarks.md#desktop-capture).

    python bench/desktop.py [--seconds 25] [--idle 10]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ilake_agent.desktop.backend import RawInput  # noqa: E402
from ilake_agent.desktop.x11 import X11Backend  # noqa: E402
from tests.support.desktop import Geometry, TestWindow, Xdotool, xvfb  # noqa: E402


class CountingSink:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.seconds = 0.0

    def __call__(self, raw: RawInput) -> None:
        start = time.perf_counter()
        self.counts[type(raw).__name__] += 1
        self.seconds += time.perf_counter() - start


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def backend_cpu_seconds() -> float:
    """CPU of the backend's own threads (Linux: /proc/self/task/<tid>/stat, utime + stime)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for thread in threading.enumerate():
        if thread.name.startswith("ilake-x11") and thread.native_id is not None:
            stat = Path(f"/proc/self/task/{thread.native_id}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def ordinary_use(xdo: Xdotool, windows: list[TestWindow], seconds: float) -> None:
    """A person's pace: a pointer path, a click, a shortcut, a burst of typing, a focus change."""
    rng = random.Random(7)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        x0, y0 = rng.randrange(1200), rng.randrange(700)
        path: list[str | int] = []
        for step in range(20):  # one pointer path, ~20 moves
            path += ["mousemove", x0 + step * 3, y0 + step * 2, "sleep", 0.015]
        xdo(*path)
        xdo("click", 1)
        xdo("click", "--repeat", 3, "--delay", 40, 5)
        xdo.key(rng.choice(["ctrl+s", "ctrl+c", "alt+Tab", "Return", "BackSpace"]))
        xdo("type", "--delay", 60, "status update 42")
        xdo.focus(rng.choice(windows).id)
        time.sleep(0.3)


def measure(
    backend: X11Backend, run: threading.Thread | None, seconds: float
) -> tuple[float, float]:
    wall0, cpu0 = time.monotonic(), cpu_seconds()
    if run is None:
        time.sleep(seconds)
    else:
        run.start()
        run.join()
    return time.monotonic() - wall0, cpu_seconds() - cpu0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=25.0)
    parser.add_argument("--idle", type=float, default=10.0)
    args = parser.parse_args()
    with xvfb() as name:
        windows = [
            TestWindow(name, title=t, wm_class=c, geometry=Geometry(50 + 400 * i, 50, 350, 300))
            for i, (t, c) in enumerate(
                [("Editor", ("code", "Code")), ("Mail", ("thunderbird", "Thunderbird"))]
            )
        ]
        backend = X11Backend(name)
        sink = CountingSink()
        backend.start(sink)
        xdo = Xdotool(name)
        idle_wall, idle_cpu = measure(backend, None, args.idle)
        idle_inputs = sum(sink.counts.values())
        driver = threading.Thread(target=ordinary_use, args=(xdo, windows, args.seconds))
        # xdotool runs as child processes: RUSAGE_SELF counts only the capturing process, but the
        # driving thread's own Python work (subprocess spawning) is in it: an upper bound.
        threads0 = backend_cpu_seconds()
        use_wall, use_cpu = measure(backend, driver, 0)
        threads_cpu = backend_cpu_seconds() - threads0
        backend.stop()
        for window in windows:
            window.close()
    inputs = sum(sink.counts.values()) - idle_inputs
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("| phase | seconds | raw inputs | CPU, % of one core |")
    print("|---|---|---|---|")
    print(
        f"| idle (backend running, no input) | {idle_wall:.1f} | {idle_inputs} | "
        f"{100 * idle_cpu / idle_wall:.2f} |"
    )
    print(
        f"| ordinary use (xdotool) | {use_wall:.1f} | {inputs} | {100 * use_cpu / use_wall:.2f} |"
    )
    print()
    print(f"peak RSS: {rss_mb:.1f} MB")
    per_input = (use_cpu - idle_cpu / idle_wall * use_wall) / max(inputs, 1)
    print(f"CPU per raw input over idle (driver included): {per_input * 1e6:.1f} µs")
    print(
        f"backend threads alone: {100 * threads_cpu / use_wall:.2f} % of one core, "
        f"{threads_cpu / max(inputs, 1) * 1e6:.1f} µs per raw input"
    )
    print(f"sink time per raw input: {sink.seconds / max(inputs, 1) * 1e6:.2f} µs")
    print("inputs by type:", dict(sink.counts))


if __name__ == "__main__":
    main()

"""What desktop capture costs the agent's process: the X11 backend under Xvfb, idle and in
ordinary use driven by xdotool (pointer paths, clicks, wheel, shortcuts, typing bursts, focus
changes), with a counting sink. Prints CPU as a share of one core, peak RSS and the cost per
raw input (docs/benchmarks.md#desktop-capture).

--agent measures the whole agent instead, as a user runs it: `ilake local up` and
`ilake-agent run` each in its own process (the agent through bench/desktop_agent_child.py, which
names its threads for us), idle, ordinary use and fast mouse, read from /proc from outside.

    python bench/desktop.py [--seconds 25] [--idle 10]
    python bench/desktop.py --agent [--seconds 25] [--idle 10] [--fast 10] [--rate 200]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def open_windows(name: str) -> list[TestWindow]:
    """The two windows ordinary use switches between: an editor and a mail client."""
    return [
        TestWindow(name, title=t, wm_class=c, geometry=Geometry(50 + 400 * i, 50, 350, 300))
        for i, (t, c) in enumerate(
            [("Editor", ("code", "Code")), ("Mail", ("thunderbird", "Thunderbird"))]
        )
    ]


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
    parser.add_argument("--agent", action="store_true", help="Measure the whole agent process.")
    parser.add_argument("--fast", type=float, default=10.0, help="--agent: fast mouse seconds.")
    parser.add_argument("--rate", type=int, default=200, help="--agent: fast mouse moves a second.")
    args = parser.parse_args()
    if args.agent:
        agent_main(args)
        return
    with xvfb() as name:
        windows = open_windows(name)
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


# -- --agent: the whole agent, in its own process ---------------------------------------------

BIN = Path(sys.executable).parent  # the venv's ilake and ilake-agent
CHILD = Path(__file__).resolve().parent / "desktop_agent_child.py"
PROGRAM = "shortcut-learning"
TICKS = os.sysconf("SC_CLK_TCK")


def fast_mouse(xdo: Xdotool, seconds: float, rate: int) -> None:
    """~`rate` pointer moves a second: one xdotool process per 2 s of mousemove/sleep path,
    every move to a new place (a move to where the pointer is makes no event)."""
    deadline = time.monotonic() + seconds
    step = 0
    while time.monotonic() < deadline:
        path: list[str | int | float] = []
        for _ in range(min(2 * rate, max(1, int((deadline - time.monotonic()) * rate)))):
            step += 1
            path += ["mousemove", 100 + step * 7 % 1000, 100 + step * 3 % 600, "sleep"]
            path.append(round(1 / rate, 4))
        xdo(*path)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise SystemExit(f"error: timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)
    return value


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def ticks(stat: str) -> int:
    """utime + stime from a /proc stat line (fields after the command's closing paren)."""
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def thread_cpu(task: Path) -> float:
    """A thread's CPU seconds: schedstat's run time in ns where the kernel keeps it (a 10 ms
    tick is 0.1 % of a core over a 10 s phase, as much as the agent's idle), else stat's ticks."""
    try:
        return int((task / "schedstat").read_text().split()[0]) / 1e9
    except (FileNotFoundError, IndexError, ValueError):
        return ticks((task / "stat").read_text()) / TICKS


class Snapshot:
    """One moment of the agent process, read from outside: its CPU, each thread's, VmHWM, the
    raw inputs the counting backend saw, and the child's last published status."""

    def __init__(self, pid: int, sink: CountingSink, child: Child) -> None:
        self.status: dict[str, Any] = child.ask()
        self.wall = time.monotonic()
        self.cpu = ticks(Path(f"/proc/{pid}/stat").read_text()) / TICKS
        self.threads: dict[str, float] = {}
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                self.threads[task.name] = thread_cpu(task)
            except (FileNotFoundError, ProcessLookupError):
                continue  # the thread ended between the listing and the read
        status_text = Path(f"/proc/{pid}/status").read_text()
        self.hwm_mb = int(re.search(r"VmHWM:\s+(\d+)", status_text)[1]) / 1024  # type: ignore[index]
        self.inputs = sum(sink.counts.values())


class Child:
    """The monitor in bench/desktop_agent_child.py: one byte down the pipe, one status back."""

    def __init__(self, status_file: Path) -> None:
        self.status_file = status_file
        self.read_fd, self.write_fd = os.pipe()
        self.seq = 0

    def ask(self, timeout: float = 5.0) -> dict[str, Any]:
        self.seq += 1
        os.write(self.write_fd, b"?")
        deadline = time.monotonic() + timeout
        while (status := read_status(self.status_file)).get("seq", 0) < self.seq:
            if time.monotonic() > deadline:
                return status  # an answer late by more than seconds: the last one known
            time.sleep(0.005)
        return status


def read_status(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except (FileNotFoundError, ValueError):
        return {}


def delta(after: dict[str, Any], before: dict[str, Any], key: str) -> float | None:
    if after.get(key) is None or before.get(key) is None:
        return None
    return float(after[key] - before[key])


FLOOR_CHILD = """
import select, threading, time
def wait():
    while True:
        select.select([], [], [], 1.0)
for _ in range(3):
    threading.Thread(target=wait, daemon=True).start()
wait()
"""


def floor(seconds: float) -> tuple[float, float]:
    """What this machine charges a Python process that does nothing but wait, as the agent's
    four threads do when idle (each wakes once a second): % of one core from /proc/<pid>/stat
    ticks and from its threads' schedstat, measured like the agent. On a virtual machine a
    sleeping thread is not free; this is the floor the agent's numbers stand on."""
    child = subprocess.Popen([sys.executable, "-c", FLOOR_CHILD])
    try:
        time.sleep(1.0)
        tasks = Path(f"/proc/{child.pid}/task")
        cpu0 = ticks(Path(f"/proc/{child.pid}/stat").read_text()) / TICKS
        threads0 = sum(thread_cpu(task) for task in tasks.iterdir())
        wall0 = time.monotonic()
        time.sleep(seconds)
        wall = time.monotonic() - wall0
        cpu = ticks(Path(f"/proc/{child.pid}/stat").read_text()) / TICKS - cpu0
        threads = sum(thread_cpu(task) for task in tasks.iterdir()) - threads0
    finally:
        child.kill()
        child.wait()
    return 100 * cpu / wall, 100 * threads / wall


def agent_main(args: argparse.Namespace) -> None:
    """Local mode and the agent as two processes, three driven phases, then SIGTERM (the
    agent's own stop: it drains the spool and prints its summary)."""
    work = Path(tempfile.mkdtemp(prefix="ilake-bench-desktop-"))
    state, spool = work / "state", work / "spool"
    state.mkdir()
    spool.mkdir(mode=0o700)
    port = free_port()
    local_log = (work / "local.out").open("wb")
    local = subprocess.Popen(
        [BIN / "ilake", "local", "up", "--state-dir", state, "--port", str(port)],
        stdout=local_log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    try:
        wait_until(lambda: (state / "local.json").exists() and accepts(port), 180, "local mode")
        api_url = json.loads((state / "local.json").read_text())["api_url"]
        enroll = [BIN / "ilake", "agents", "enroll", "-p", PROGRAM, "--agent-id", "bench"]
        enroll += ["--state-dir", state, "--replace"]
        enrolled = subprocess.run(
            enroll,
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        )
        token_file = work / "token"
        token_file.touch(mode=0o600)
        token_file.write_text(enrolled.stdout.strip() + "\n")
        with xvfb() as name:
            report = run_agent(args, name, api_url, token_file, spool, work)
        report["lake"] = lake_count(state)
    finally:
        local.send_signal(signal.SIGTERM)
        try:
            local.wait(timeout=30)
        except subprocess.TimeoutExpired:
            local.kill()
            local.wait()
        local_log.close()
    print_agent(report)
    process, threads = floor(args.idle)
    print(
        f"floor, the same run: a Python process of four threads that only wait (waking once a "
        f"second) costs {process:.2f}% of one core ({threads:.2f}% by its threads' schedstat)"
    )
    print(f"\n(work files, logs included: {work})")


def run_agent(
    args: argparse.Namespace, name: str, api_url: str, token_file: Path, spool: Path, work: Path
) -> dict[str, Any]:
    windows = open_windows(name)
    # The raw inputs driven, as the backend itself counts them: a second RECORD client in this
    # process (its CPU is this process's, not the agent's).
    counter = X11Backend(name)
    sink = CountingSink()
    counter.start(sink)
    xdo = Xdotool(name)
    child = Child(work / "status.json")
    out, err = (work / "agent.out").open("w+"), (work / "agent.err").open("w+")
    command = [sys.executable, CHILD, child.status_file, str(child.read_fd), "run"]
    command += ["-p", PROGRAM, "--api-url", api_url]
    command += ["--token-file", token_file, "--spool-dir", spool, "--subject", "bench"]
    command += ["--device-id", "bench-desktop"]
    started = time.monotonic()
    agent = subprocess.Popen(
        command,
        stdout=out,
        stderr=err,
        env={**os.environ, "DISPLAY": name},
        cwd=work,
        pass_fds=(child.read_fd,),
    )
    os.close(child.read_fd)

    def capturing() -> bool:
        if agent.poll() is not None:
            err.seek(0)
            raise SystemExit(f"error: the agent exited {agent.returncode}: {err.read()[-500:]}")
        return (spool / "agent.pid").exists()  # claimed just before the backend starts

    wait_until(capturing, 120, "the agent to start capturing")
    time.sleep(1.0)  # the backend's threads connect and select their events
    phases: list[tuple[str, Snapshot, Snapshot]] = []
    drivers: list[tuple[str, Callable[[], None]]] = [
        ("idle", lambda: time.sleep(args.idle)),
        ("ordinary use", lambda: ordinary_use(xdo, windows, args.seconds)),
        (f"fast mouse (~{args.rate}/s)", lambda: fast_mouse(xdo, args.fast, args.rate)),
    ]
    startup = Snapshot(agent.pid, sink, child)
    startup_s = startup.wall - started
    before = startup
    for label, drive in drivers:
        drive()
        time.sleep(0.5)  # the last pointer sample (250 ms) is taken
        after = Snapshot(agent.pid, sink, child)
        phases.append((label, before, after))
        before = after
    threads = before.status.get("threads", {})
    os.close(child.write_fd)
    stop0 = time.monotonic()
    agent.send_signal(signal.SIGTERM)
    _, code, usage = os.wait4(agent.pid, 0)
    agent.returncode = os.waitstatus_to_exitcode(code)
    stop_s = time.monotonic() - stop0
    counter.stop()
    for window in windows:
        window.close()
    out.seek(0)
    err.seek(0)
    return {
        "phases": phases,
        "threads": threads,
        "startup_s": startup_s,
        "startup_cpu": startup.cpu,
        "startup_hwm": startup.hwm_mb,
        "stop_s": stop_s,
        "total_cpu": usage.ru_utime + usage.ru_stime,
        "maxrss_mb": usage.ru_maxrss / 1024,
        "exit": agent.returncode,
        "stdout": out.read(),
        "stderr": err.read(),
        "final": read_status(child.status_file),
        "by_type": dict(sink.counts),
        "last": phases[-1][2],
    }


def lake_count(state: Path) -> str:
    """What reached the lake, if local mode's DuckDB query can read it yet."""
    query = [BIN / "ilake", "query", "--state-dir", state, "-f", "json"]
    query.append("SELECT count(*) AS n FROM interactions")
    try:
        done = subprocess.run(
            query,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        return "n/a (ilake query timed out)"
    if done.returncode != 0:
        return f"n/a (ilake query: {(done.stderr or done.stdout).strip()[-200:]})"
    return done.stdout.strip()


def pct(seconds: float | None, wall: float) -> str:
    return "n/a" if seconds is None else f"{100 * seconds / wall:.2f}"


def print_agent(report: dict[str, Any]) -> None:
    phases: list[tuple[str, Snapshot, Snapshot]] = report["phases"]
    names: dict[str, str] = {}
    for _, a, b in phases:  # every thread that was ever published, by native id
        names.update(a.status.get("threads", {}), **b.status.get("threads", {}))
    names.update(report["threads"])
    _, idle0, idle1 = phases[0]
    idle_rate = (idle1.cpu - idle0.cpu) / (idle1.wall - idle0.wall)
    print(
        "| phase | seconds | raw inputs driven | events recorded | events delivered | "
        "agent CPU, % of one core | µs CPU per raw input | µs over idle | peak RSS so far, MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for label, a, b in phases:
        wall, cpu, inputs = b.wall - a.wall, b.cpu - a.cpu, b.inputs - a.inputs
        recorded = delta(b.status, a.status, "recorded")
        delivered = delta(b.status, a.status, "delivered")
        per = f"{cpu / inputs * 1e6:.0f}" if inputs else "n/a"
        over = f"{(cpu - idle_rate * wall) / inputs * 1e6:.0f}" if inputs else "n/a"
        print(
            f"| {label} | {wall:.1f} | {inputs} | {recorded if recorded is None else int(recorded)}"
            f" | {delivered if delivered is None else int(delivered)} | {pct(cpu, wall)} | {per} "
            f"| {over} | {b.hwm_mb:.1f} |"
        )
    seen = sorted({names.get(tid, f"thread {tid}") for _, _, b in phases for tid in b.threads})
    print()
    print("| phase | " + " | ".join(seen) + " | all threads |")
    print("|---|" + "---|" * (len(seen) + 1))
    for label, a, b in phases:
        wall = b.wall - a.wall
        per_name: Counter[str] = Counter()
        for tid, seconds in b.threads.items():
            per_name[names.get(tid, f"thread {tid}")] += seconds - a.threads.get(tid, 0.0)
        cells = [f"{100 * per_name[n] / wall:.2f}" for n in seen]
        cells.append(f"{100 * sum(per_name.values()) / wall:.2f}")
        print(f"| {label} | " + " | ".join(cells) + " |")
    print(
        "\n(% of one core per thread, from schedstat; the process column above is"
        " /proc/<pid>/stat, in 10 ms ticks; bench-monitor is the benchmark's own thread)"
    )
    print()
    print("| phase | in Recorder, µs per raw input | in its sink (Client.record), µs per event |")
    print("|---|---|---|")
    for label, a, b in phases:
        inputs = b.inputs - a.inputs
        rec_s = delta(b.status, a.status, "recorder_s")
        sink_s = delta(b.status, a.status, "sink_s")
        sink_n = delta(b.status, a.status, "sink_calls")
        rec = f"{rec_s / inputs * 1e6:.1f}" if rec_s is not None and inputs else "n/a"
        snk = f"{sink_s / sink_n * 1e6:.1f}" if sink_s is not None and sink_n else "n/a"
        print(f"| {label} | {rec} | {snk} |")
    print()
    print(
        f"start-up (process start to capturing + 1 s): {report['startup_s']:.1f} s, "
        f"{report['startup_cpu']:.2f} s CPU, VmHWM {report['startup_hwm']:.1f} MB"
    )
    print(
        f"SIGTERM to exit (drain and summary): {report['stop_s']:.1f} s, exit {report['exit']}; "
        f"whole run {report['total_cpu']:.2f} s CPU; peak RSS (ru_maxrss) "
        f"{report['maxrss_mb']:.1f} MB"
    )
    final = report["final"]
    print(
        f"child status at exit: recorded {final.get('recorded')}, delivered "
        f"{final.get('delivered')}, wrapped {final.get('wrapped')}"
    )
    print("agent stdout (its summary):")
    for line in report["stdout"].splitlines():
        print(f"    {line}")
    match = re.search(r"recorded ([\d,]+), delivered ([\d,]+)", report["stdout"])
    if match is None:
        print("    (no summary line found; agent stderr follows)")
        for line in report["stderr"].splitlines()[-10:]:
            print(f"    {line}")
    print("lake (ilake query, SELECT count(*) FROM interactions):", report["lake"])
    print("raw inputs by type, all phases:", report["by_type"])


if __name__ == "__main__":
    main()

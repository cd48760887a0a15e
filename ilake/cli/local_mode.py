"""`ilake local up` runs local mode; `ilake simulate` sends it synthetic work over HTTP."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

import typer

from ..ui import err, out, print_summary, simulate_with_progress
from .base import (
    DEFAULT_STATE_DIR,
    ProgramOption,
    StateDir,
    app,
    declared_program,
    fail,
    options,
    running_stack,
)

local_app = typer.Typer(help="Local mode: moto and the HTTP API on loopback.", no_args_is_help=True)
app.add_typer(local_app, name="local")


@local_app.command("up")
def local_up(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback only by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port of the HTTP API.")] = 8080,
    state_dir: StateDir = DEFAULT_STATE_DIR,
    allow_non_loopback: Annotated[
        bool, typer.Option(help="Listen on a non-loopback address (exposes the API).")
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(help="The handlers' JSON log lines on stdout, not in <state-dir>/local.log."),
    ] = False,
) -> None:
    """Run local mode (moto + the HTTP API on loopback) until Ctrl-C or SIGTERM.

    Provisions everything the CDK app declares that local mode needs, enrolls one agent per
    program and writes the endpoints and tokens to <state-dir>/local.json (mode 600), which is
    removed when it stops. Prints the endpoints, then a line a minute counting the requests by
    status; the handlers' log lines go to <state-dir>/local.log (mode 600).

    Example: [bold]mkdir -p .ilake && ilake local up --port 8080 --state-dir .ilake[/]
    """
    import signal
    import threading
    from contextlib import ExitStack

    from ..local import LOG_FILE, STATE_FILE, LocalModeError, LocalStack, requests_line

    stopped = threading.Event()
    with ExitStack() as handlers:  # set before start (a stop while it starts waits), then undone
        for name in ("SIGINT", "SIGTERM", "SIGHUP"):
            if hasattr(signal, name):
                number = getattr(signal, name)
                previous = signal.signal(number, lambda *_: stopped.set())
                handlers.callback(signal.signal, number, previous or signal.SIG_DFL)
        try:
            stack = LocalStack(
                programs_dir=options.programs_dir,
                state_dir=state_dir,
                host=host,
                port=port,
                allow_non_loopback=allow_non_loopback,
                verbose=verbose,
            )
            state = stack.start()
        except LocalModeError as exc:
            fail(f"ilake local up: {exc}")
        started = time.monotonic()
        try:
            out.print(f"API        {state.api_url}")
            out.print(
                f"AWS (moto) {state.aws_endpoint_url}  region {state.region}  bucket {state.bucket}"
            )
            out.print(f"programs   {', '.join(state.programs)} (one agent token each)")
            out.print(f"tokens     {state_dir / STATE_FILE}  (mode 600, with the endpoints)")
            out.print(f"logs       {'stdout (--verbose)' if verbose else state_dir / LOG_FILE}")
            out.print("Ctrl-C stops everything; requests are counted here once a minute")
            while not stopped.wait(60):
                line = requests_line(stack.requests.take())
                if line:
                    out.print(f"{datetime.now(UTC):%H:%M:%S} UTC  {line}")
        finally:
            stack.stop()
    served = requests_line(stack.requests.total()) or "no requests"
    out.print(
        f"{datetime.now(UTC):%H:%M:%S} UTC  stopped after {time.monotonic() - started:.0f} s "
        f"({served}); {state_dir / STATE_FILE} removed"
    )


@app.command()
def simulate(
    program: ProgramOption,
    agents: Annotated[int, typer.Option(min=1, max=256, help="Simulated employees.")] = 4,
    minutes: Annotated[
        float, typer.Option(min=0.1, max=24 * 60, help="Minutes of work per employee.")
    ] = 10,
    seed: Annotated[int, typer.Option(help="Seed: the same seed sends the same events.")] = 0,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Record realistic synthetic work sessions through the agent SDK, delivered over HTTP.

    One agent client (policy, encrypted spool, retries) per simulated employee. Shows a
    progress bar, then a summary: batches, events not captured by the agents' policy and
    rejected by the server (by reason), accepted, redactions by detector, events/s.

    Ctrl-C stops every agent after the batch it is sending and prints what was delivered so
    far (exit 130). Exits 2 when agents stopped early or events were not delivered.

    Example: [bold]ilake simulate --program menu-navigation --agents 8 --minutes 30[/]
    """
    import threading

    from ..local import LocalModeError, not_answering
    from ..ui import ctrl_c_sets, undelivered

    declared_program(program)
    state = running_stack(state_dir)
    if program not in state.programs:
        fail(f"program {program!r} is not provisioned in this local stack; restart it")
    interrupted = threading.Event()
    try:
        with ctrl_c_sets(interrupted):
            summary = simulate_with_progress(
                state, program, agents=agents, minutes=minutes, seed=seed, stop=interrupted
            )
    except LocalModeError as exc:
        fail(str(exc))
    print_summary(summary)
    if interrupted.is_set():
        err.print("interrupted: the summary counts what was delivered before Ctrl-C")
        raise typer.Exit(130)
    shortfall = undelivered(summary)
    if shortfall:
        gone = "" if state.answers() else f" ({not_answering(state.api_url)})"
        fail(shortfall + gone)

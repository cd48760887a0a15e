"""`ilake agent run`: the agent SDK for operators, from simulated work, JSON lines on stdin or
this desktop; `ilake agent pause` and `resume`: the employee's switch for a running agent."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from ..ui import err, out
from .base import DEFAULT_STATE_DIR, ProgramOption, StateDir, app, fail, running_stack

agent_app = typer.Typer(help="Run the agent SDK for operators.", no_args_is_help=True)
app.add_typer(agent_app, name="agent")


class Source(StrEnum):
    simulate = "simulate"
    stdin_jsonl = "stdin-jsonl"
    desktop = "desktop"


SpoolDir = Annotated[
    Path | None, typer.Option(help="The encrypted spool (default ~/.ilake-agent/<program>).")
]


@agent_app.command("run")
def agent_run(
    program: ProgramOption,
    token_file: Annotated[Path, typer.Option(help="File holding the agent's token (mode 0600).")],
    source: Annotated[Source, typer.Option(help="Where events come from.")] = Source.simulate,
    api_url: Annotated[
        str | None, typer.Option(help="The API (default: local mode's, from the state dir).")
    ] = None,
    spool_dir: SpoolDir = None,
    minutes: Annotated[
        float, typer.Option(min=0.1, help="With --source simulate: minutes of work.")
    ] = 10,
    batch_events: Annotated[int, typer.Option(min=1, max=10_000, help="Events per batch.")] = 1000,
    timeout: Annotated[
        float,
        typer.Option(min=0, help="Seconds to get the policy (retried), then to drain the spool."),
    ] = 60,
    duration: Annotated[
        float | None,
        typer.Option(min=0.1, help="With --source desktop: stop after this many seconds."),
    ] = None,
    subject: Annotated[
        str | None, typer.Option(help="With --source desktop: the person (default: login name).")
    ] = None,
    device_id: Annotated[
        str | None, typer.Option(help="With --source desktop: this machine (default: host name).")
    ] = None,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Capture events through the agent SDK and deliver them (policy, spool, retries).

    Prints what the program captures first. With --source stdin-jsonl, one event per line
    (docs/event-schema.md). With --source desktop, this X11 session's pointer, keys and window
    focus as the program's policy allows (docs/agent.md#capturing-a-desktop), until Ctrl-C or
    SIGTERM (then the spool drains within --timeout), --duration, or the program's pause on
    the server; `ilake agent pause` and `ilake agent resume` switch capture off and on. The
    summary counts events not captured by reason (the program's policy, or invalid under the
    server's own reason codes), lines that are not a JSON object (unreadable), and what the
    server refused by reason; never their content. The policy request is retried until
    --timeout; an API that does not answer by then, a malformed --api-url, or a desktop that
    cannot be captured (not X11, no display, the desktop libraries missing) exits 2. With the
    other sources Ctrl-C stops capture, prints the summary so far and keeps the spool (exit 130).

    Example: [bold]ilake agent run -p menu-navigation --token-file agent.token --source simulate[/]
    """
    import contextlib
    import sys

    from ilake_agent.cli import (
        Failure,
        capture_desktop,
        finish,
        open_client,
        open_desktop,
        read_token,
        spool_path,
        summary_lines,
    )

    def say_out(text: str) -> None:
        out.print(escape(text), soft_wrap=True)

    def say_err(text: str) -> None:
        err.print(escape(text), soft_wrap=True)

    try:
        spool = spool_path(program, spool_dir)
        if source is not Source.desktop and (duration, subject, device_id) != (None, None, None):
            fail("--duration, --subject and --device-id go with --source desktop only")
        token = read_token(token_file)
        desktop = open_desktop(subject, device_id) if source is Source.desktop else None
        url = api_url or running_stack(state_dir).api_url
        client = open_client(
            url, token, program, spool=spool, batch_events=batch_events, timeout=timeout
        )
    except Failure as failure:
        fail(str(failure), failure.code)
    except KeyboardInterrupt:
        err.print("interrupted before capture started: nothing was captured")
        raise typer.Exit(130) from None
    err.print(client.describe())
    unreadable: int | None = None if desktop is not None else 0
    try:
        if desktop is not None:
            capture_desktop(
                desktop, client, spool=spool, duration=duration, timeout=timeout,
                out=say_out, err=say_err, command="ilake agent",
            )  # fmt: skip
            return
        if source is Source.stdin_jsonl:
            unreadable = _record_lines(client, sys.stdin.buffer)
        else:
            from ..simulate import Session

            end = int(time.time() * 1000)
            session = Session(
                0, subject="operator", device="agent-run", start_ms=end - int(minutes * 60_000)
            )
            for event in session.until(end):
                client.record(event)
        finish(
            client, spool=spool, timeout=timeout, out=say_out, err=say_err, unreadable=unreadable
        )
    except Failure as failure:
        fail(str(failure), failure.code)
    except KeyboardInterrupt:
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C does not skip the rest
            client.close(timeout_s=0)
        for line in summary_lines(client.counters, unreadable):
            say_out(line)
        err.print(f"interrupted: capture stopped; what was not delivered stays in {spool}")
        raise typer.Exit(130) from None


def _record_lines(client: Any, lines: Any) -> int:
    """Record one event per JSON line; the lines that are not a JSON object are counted as
    unreadable (never echoed: they may be anything). Blank lines are skipped."""
    import msgspec

    unreadable = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            event = msgspec.json.decode(line)  # the server's parser: no NaN, strict UTF-8
        except (ValueError, RecursionError):
            unreadable += 1
            continue
        if isinstance(event, dict):
            client.record(event)  # an invalid event is counted under its reason
        else:
            unreadable += 1
    return unreadable

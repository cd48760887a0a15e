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

    from ilake_agent.client import AgentStopped, Client, Limits, PolicyUnavailable
    from ilake_agent.desktop.backend import BackendUnavailable
    from ilake_agent.policy import PolicyError

    spool = spool_path(program, spool_dir)
    if source is not Source.desktop and (duration, subject, device_id) != (None, None, None):
        fail("--duration, --subject and --device-id go with --source desktop only")
    mode = token_file.stat().st_mode if token_file.exists() else None
    if mode is None:
        fail(f"{token_file} does not exist")
    if mode & 0o077:
        fail(f"{token_file} is readable by others: chmod 600 it")
    token = token_file.read_text().strip()
    desktop = None
    if source is Source.desktop:
        from .agent_desktop import open_desktop

        desktop = open_desktop(subject, device_id)
    url = api_url or running_stack(state_dir).api_url
    try:
        client = Client(
            url,
            token,
            program,
            spool_dir=spool,
            limits=Limits(max_events=batch_events),
            policy_timeout_s=timeout,
        )
    except AgentStopped as exc:
        fail(f"the server refused this agent: {exc}")
    except PolicyUnavailable as exc:
        fail(str(exc))
    except PolicyError:
        fail("the policy answer is not a JSON object: nothing can be captured")
    except ValueError as exc:  # a malformed URL; the message quotes none of it
        fail(f"--api-url: {exc}")
    except KeyboardInterrupt:
        err.print("interrupted before capture started: nothing was captured")
        raise typer.Exit(130) from None
    err.print(client.describe())
    unreadable: int | None = 0
    try:
        if desktop is not None:
            from .agent_desktop import capture_desktop

            unreadable = None
            capture_desktop(client, *desktop, spool=spool, duration=duration)
        elif source is Source.stdin_jsonl:
            unreadable = _record_lines(client, sys.stdin.buffer)
        else:
            from ..simulate import Session

            end = int(time.time() * 1000)
            session = Session(
                0, subject="operator", device="agent-run", start_ms=end - int(minutes * 60_000)
            )
            for event in session.until(end):
                client.record(event)
        err.print(f"recorded {client.counters.recorded:,} events; delivering")
        delivered = client.close(timeout_s=timeout)
    except BackendUnavailable as exc:  # the backend could not start listening
        client.close(timeout_s=0)
        fail(f"cannot capture this desktop: {exc}")
    except KeyboardInterrupt:
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C does not skip the rest
            client.close(timeout_s=0)
        _print_agent_summary(client.counters, unreadable)
        err.print(f"interrupted: capture stopped; what was not delivered stays in {spool}")
        raise typer.Exit(130) from None
    _print_agent_summary(client.counters, unreadable)
    if client.paused:
        out.print("the program is paused: capture stopped and the spool was wiped")
    elif client.error:
        fail(f"stopped: {client.error} (the spool is kept)")
    elif not delivered:
        fail(f"not everything was delivered within {timeout:g} s; it stays in {spool}")


def spool_path(program: str, spool_dir: Path | None) -> Path:
    """The agent's spool directory; a program name that is not one (it names a directory and
    a URL path) exits 2."""
    from lambdas.core.programs import PROGRAM_NAME

    if not PROGRAM_NAME.fullmatch(program):
        fail("--program is not a program name (lower-case letters, digits and '-')")
    return spool_dir or Path.home() / ".ilake-agent" / program


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


def _print_agent_summary(counters: Any, unreadable: int | None) -> None:
    """What happened to the events, in counts by reason only."""
    from ilake_agent.policy import POLICY_REASONS

    def by_reason(counts: dict[str, int]) -> str:
        items = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        return ", ".join(f"{escape(reason)} {n:,}" for reason, n in items) or "none"

    refused = counters.not_captured_by
    policy = {r: n for r, n in refused.items() if r in POLICY_REASONS}
    invalid = {r: n for r, n in refused.items() if r not in POLICY_REASONS}
    out.print(
        f"recorded {counters.recorded:,}, delivered {counters.events_delivered:,} in "
        f"{counters.batches_sent} batches, retries {counters.retries}"
    )
    out.print(f"not captured (policy): {by_reason(policy)}")
    out.print(f"not captured (invalid): {by_reason(invalid)}")
    if unreadable is not None:
        out.print(f"unreadable lines (not a JSON object): {unreadable:,}")
    out.print(f"rejected by the server: {by_reason(counters.rejected)}")
    out.print(f"dropped with their batch (400): {counters.events_dropped_400:,}")

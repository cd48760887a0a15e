"""Terminal presentation shared by the commands and the demo: consoles, tables, progress."""

from __future__ import annotations

import csv
import json
import signal
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from .loadgen import Summary, plan, simulate

# Piped output (CI logs, `| less`) gets a wide table instead of rich's 80-column default.
_WIDTH = None if sys.stdout.isatty() else 160
out = Console(highlight=False, width=_WIDTH)
err = Console(stderr=True, highlight=False, width=_WIDTH)


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def print_rows(
    columns: list[str],
    rows: list[tuple[Any, ...]],
    output: OutputFormat = OutputFormat.table,
    *,
    title: str | None = None,
) -> None:
    if output is OutputFormat.json:
        print(json.dumps([dict(zip(columns, row, strict=True)) for row in rows], default=str))
    elif output is OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    else:
        if title:
            out.print(f"[bold]{title}[/]")
        table = Table(*columns)
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        out.print(table)


def simulate_with_progress(
    state: Any,
    program: str,
    *,
    agents: int,
    minutes: float,
    seed: int = 0,
    spread_hours: float = 0,
    stop: threading.Event | None = None,
) -> Summary:
    """`ilake simulate`'s work: plan the sessions, enroll one agent per simulated employee,
    record the sessions through the agent SDK, show a progress bar on stderr. Setting `stop`
    ends every agent after the window it is delivering."""
    plans = plan(agents=agents, minutes=minutes, seed=seed, spread_hours=spread_hours)
    total = sum(len(batch["events"]) for batches in plans for batch in batches)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task(f"{program}: {agents} agents x {minutes:g} min", total=total)
        # one enrolled agent per simulated person (the same person index, the same agent)
        tokens = [state.enroll(program, f"{program}-sim-{i:03d}") for i in range(agents)]
        return simulate(
            plans,
            api_url=state.api_url,
            tokens=tokens,
            program=program,
            seed=seed,
            on_events=lambda n: progress.advance(task, n),
            stop=stop,
        )


@contextmanager
def ctrl_c_sets(event: threading.Event) -> Iterator[threading.Event]:
    """Inside, the first Ctrl-C sets `event` instead of raising KeyboardInterrupt, so the work
    can stop at a clean point and say what it did; a second one interrupts as usual. Only the
    main thread receives signals, and an ignored Ctrl-C (nohup) stays ignored."""
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous is signal.SIG_IGN:
        yield event
        return
    restore = previous if previous is not None else signal.default_int_handler

    def interrupted(signum: int, frame: Any) -> None:
        event.set()
        signal.signal(signal.SIGINT, restore)

    signal.signal(signal.SIGINT, interrupted)
    try:
        yield event
    finally:
        signal.signal(signal.SIGINT, restore)


def undelivered(summary: Summary) -> str | None:
    """Why a simulation fell short, in one line (None when every agent delivered everything)."""
    why = []
    if summary.undelivered:
        why.append(f"{summary.undelivered:,} events recorded by the agents were not delivered")
    if summary.stopped:
        why.append(f"agents stopped early: {counts(summary.stopped)}")
    return "; ".join(why) or None


def print_summary(summary: Summary) -> None:
    batches = ", ".join(f"{n} x {status}" for status, n in sorted(summary.batches.items()))
    out.print(
        f"[bold]{summary.program}[/]: {summary.agents} agents, "
        f"{sum(summary.batches.values())} batches ({batches}), {summary.events:,} events "
        f"in {summary.seconds:.1f} s = {summary.events_per_second:,.0f} events/s"
    )
    out.print(
        f"  sent {summary.events_sent:,}, accepted {summary.accepted:,}; retries {summary.retries}"
    )
    out.print(f"  not captured by the agents' policy, by reason: {counts(summary.not_captured)}")
    out.print(f"  not stored by the server, by reason: {counts(summary.rejected)}")
    out.print(f"  redactions on the agents, by detector: {counts(summary.redactions)}")
    if summary.server_redactions:
        out.print(f"  found again by the server, by detector: {counts(summary.server_redactions)}")
    if summary.undelivered:
        out.print(
            f"  recorded on the agents but not delivered: {summary.undelivered:,} "
            "(gone with the simulated agents' temporary spools)"
        )
    if summary.stopped:
        out.print(f"  agents stopped early: {counts(summary.stopped)}")


def counts(counter: Counter[Any]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in counter.most_common()) or "none"


def utc(value: float | str | None) -> str:
    """Every time a command shows, one way: 'YYYY-MM-DD HH:MM:SS' in UTC (the column headers say
    UTC). Takes epoch seconds or an ISO 8601 string, also as an audit record's key (its time,
    '#', its id); '' for none, the text itself if unparsable."""
    from datetime import UTC, datetime

    if value is None or value == "":
        return ""
    try:
        if isinstance(value, str):
            moment = datetime.fromisoformat(value.split("#", 1)[0])
            moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
        else:
            moment = datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError):
        return str(value)
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S}"

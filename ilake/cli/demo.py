"""`ilake demo`: the whole story on this machine (ilake/demo.py tells it)."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from ..ui import out
from .base import DEFAULT_STATE_DIR, StateDir, app, fail, options


@app.command()
def demo(
    agents: Annotated[
        int,
        typer.Option(
            min=1, max=64, help="Simulated employees per program (texts become common at 10)."
        ),
    ] = 12,
    minutes: Annotated[float, typer.Option(min=0.1, max=600, help="Minutes of work each.")] = 6,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Run the whole story on this machine, no AWS account, no network.

    Local mode up, two programs' agents posting over HTTP, common texts counted and released,
    the API's guarantees at work, the analysts' queries, the report and the governance
    workflows.

    Example: [bold]ilake demo --agents 12 --minutes 6[/]
    """
    from ..demo import DemoError, run

    started = time.perf_counter()
    try:
        run(options.programs_dir, state_dir=state_dir, agents=agents, minutes=minutes, console=out)
    except DemoError as exc:
        fail(str(exc))
    out.print(f"demo finished in {time.perf_counter() - started:.0f} s")

"""`ilake agent pause` and `ilake agent resume`: the employee's switch for an agent capturing
this desktop (`ilake agent run --source desktop`, or `ilake-agent run`), through the pid file
in its spool directory (ilake_agent/desktop/session.py)."""

from __future__ import annotations

from ..ui import out
from .agent import SpoolDir, agent_app
from .base import ProgramOption, fail


@agent_app.command("pause")
def agent_pause(program: ProgramOption, spool_dir: SpoolDir = None) -> None:
    """Pause the agent capturing this desktop for a program: nothing is captured until
    `ilake agent resume` (the agent records that it paused, and why: the employee).

    Sends SIGUSR1 to the agent whose pid file is in the spool directory; exit 1 when no
    agent runs there.

    Example: [bold]ilake agent pause -p menu-navigation[/]
    """
    pid = _signal(program, spool_dir, "pause")
    out.print(f"asked the agent (pid {pid}) to pause: nothing is captured until it resumes")


@agent_app.command("resume")
def agent_resume(program: ProgramOption, spool_dir: SpoolDir = None) -> None:
    """Resume the paused agent capturing this desktop for a program.

    Sends SIGUSR2 to the agent whose pid file is in the spool directory; exit 1 when no
    agent runs there.

    Example: [bold]ilake agent resume -p menu-navigation[/]
    """
    pid = _signal(program, spool_dir, "resume")
    out.print(f"asked the agent (pid {pid}) to resume capture")


def _signal(program: str, spool_dir: SpoolDir, ask: str) -> int:
    from ilake_agent.cli import Failure, signal_capture

    try:
        return signal_capture(program, spool_dir, ask)
    except Failure as failure:
        fail(str(failure), failure.code)

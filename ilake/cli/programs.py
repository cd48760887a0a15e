"""`ilake programs`: list, show and validate the program files (policy as code)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from ..ui import out
from .base import app, declared_program, declared_programs

programs_app = typer.Typer(help="Program files: policy as code.", no_args_is_help=True)
app.add_typer(programs_app, name="programs")


@programs_app.command("list")
def programs_list() -> None:
    """List the declared programs.

    Example: [bold]ilake programs list[/]
    """
    table = Table("program", "policy", "retention", "event types", "owner")
    for program in declared_programs().values():
        table.add_row(
            program.name,
            program.policy_version,
            f"{program.file.retention_days} days",
            str(len(program.allowed_types)),
            program.file.owner,
        )
    out.print(table)


@programs_app.command("show")
def programs_show(name: Annotated[str, typer.Argument(help="Program name.")]) -> None:
    """Print a program's effective policy (what its agents may capture) as JSON.

    Example: [bold]ilake programs show shortcut-learning[/]
    """
    print(json.dumps(declared_program(name).public_policy(), indent=2))


@programs_app.command("validate")
def programs_validate() -> None:
    """Validate every program file (exit 1 naming the file and field of an error).

    Example: [bold]ilake --programs ./programs programs validate[/]
    """
    for program in declared_programs().values():
        out.print(f"ok {program.name} ({program.policy_version}, sha256 {program.digest[:12]})")

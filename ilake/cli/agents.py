"""`ilake agents`: enroll, list and revoke agent tokens (locally or in the stack's table)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..ui import OutputFormat, err, out, print_rows, utc
from .base import (
    DEFAULT_STATE_DIR,
    AwsFlag,
    FormatOption,
    ProgramOption,
    StateDir,
    app,
    declared_program,
    fail,
    running_stack,
)

agents_app = typer.Typer(help="Agent tokens: enroll, list, revoke.", no_args_is_help=True)
app.add_typer(agents_app, name="agents")

TableOption = Annotated[
    str | None,
    typer.Option(help="Agents table (with --aws: the stack's table; locally: local mode's)."),
]


def _agents_table(table: str | None, aws: bool, state_dir: Path) -> tuple[Any, str]:
    from ..local import RESOURCE_NAMES

    if aws and not table:
        fail("--aws needs --table (the stack's agents table)")
    region = None if aws else running_stack(state_dir).region

    import boto3

    return boto3.client("dynamodb", region_name=region), table or RESOURCE_NAMES["AGENTS_TABLE"]


@agents_app.command("enroll")
def agents_enroll(
    program: ProgramOption,
    agent_id: Annotated[str, typer.Option(help="The agent's id, e.g. the device name.")],
    ttl_days: Annotated[int, typer.Option(min=1, max=3650, help="Token lifetime.")] = 365,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace", help="Revoke the agent id's active token(s) and issue a new one."
        ),
    ] = False,
    table: TableOption = None,
    aws: AwsFlag = False,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Create a token for an agent of a program (printed once, stored hashed).

    Only the token's SHA-256 is stored: give the printed token to the agent now. Its
    fingerprint (the first 12 hex digits of the SHA-256) goes to stderr, to match the token
    with its row in `ilake agents list`. An agent id that has an active token is refused
    unless --replace, which revokes the old token(s) in the same write.

    Example: [bold]ilake agents enroll --program menu-navigation --agent-id LAPTOP-42[/]
    """
    from lambdas.adapters.agents_table import MAX_REPLACED, enroll_agent
    from lambdas.core.agents import AlreadyEnrolled, EnrolledMeanwhile

    declared_program(program)
    dynamodb, name = _agents_table(table, aws, state_dir)
    try:
        enrolled = enroll_agent(
            dynamodb, name, program=program, agent_id=agent_id, ttl_days=ttl_days, replace=replace
        )
    except ValueError as exc:
        fail(str(exc))
    except AlreadyEnrolled as exc:
        if exc.active > MAX_REPLACED:
            fail(
                f"refused: {agent_id} has {exc.active} active tokens in {program}, too many to "
                "replace at once: ilake agents revoke them first"
            )
        fail(
            f"refused: {agent_id} already has {exc.active} active token(s) in {program}; "
            "add --replace to revoke it and issue a new one"
        )
    except EnrolledMeanwhile:
        fail(f"refused: {agent_id} was enrolled in {program} by someone else meanwhile; run again")
    replaced = f", revoked {enrolled.revoked} earlier token(s)" if enrolled.revoked else ""
    err.print(
        f"enrolled {agent_id} in {program}{replaced}; token fingerprint {enrolled.fingerprint}; "
        "the token is shown once:"
    )
    print(enrolled.token)


@agents_app.command("list")
def agents_list(
    program: ProgramOption,
    output: FormatOption = OutputFormat.table,
    table: TableOption = None,
    aws: AwsFlag = False,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """List a program's agent tokens: fingerprint, status, when enrolled and when they expire.

    Tokens are never shown again; the fingerprint (the first 12 hex digits of the token's
    SHA-256, as `ilake agents enroll` printed it) tells two tokens of one agent apart.

    Example: [bold]ilake agents list --program menu-navigation[/]
    """
    from lambdas.adapters.agents_table import list_agents

    declared_program(program)
    dynamodb, name = _agents_table(table, aws, state_dir)
    rows = [
        (
            agent["agent_id"],
            agent["fingerprint"],
            agent["status"],
            utc(agent["created_at"]),
            utc(agent["expires_at"]) if agent["expires_at"] else "never",
        )
        for agent in list_agents(dynamodb, name, program)
    ]
    columns = ["agent", "fingerprint", "status", "enrolled (UTC)", "expires (UTC)"]
    print_rows(columns, rows, output)


@agents_app.command("revoke")
def agents_revoke(
    program: ProgramOption,
    agent_id: Annotated[str, typer.Option(help="The agent whose tokens to revoke.")],
    table: TableOption = None,
    aws: AwsFlag = False,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Revoke every active token of an agent.

    It takes effect within the authorizer's cache TTL in the cloud, at once in local mode.

    Example: [bold]ilake agents revoke --program menu-navigation --agent-id LAPTOP-42[/]
    """
    from lambdas.adapters.agents_table import revoke_agent_id

    declared_program(program)
    dynamodb, name = _agents_table(table, aws, state_dir)
    revoked = revoke_agent_id(dynamodb, name, program=program, agent_id=agent_id)
    if not revoked:
        fail(f"no active token for agent {agent_id!r} in {program}")
    out.print(f"revoked {revoked} token(s) of {agent_id} in {program}")

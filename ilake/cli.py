"""`ilake`: the platform team's and analysts' command line (programs, agents, local mode, queries).

Exit codes: 0 done, 1 a check failed (an invalid program file), 2 bad input, a refused request or
an environment that cannot serve it (unknown program, bad SQL, busy port, no local stack, AWS
without a region or credentials), 3 a fault in ilake itself, 130 interrupted (Ctrl-C). Errors
are one line on stderr and never quote tokens or submitted content.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.markup import escape
from rich.table import Table

from lambdas.core import resources
from lambdas.core.programs import Program, ProgramError, load_programs
from lambdas.core.settings import BUNDLED_PROGRAMS

from .ui import (
    OutputFormat,
    err,
    out,
    print_rows,
    print_summary,
    simulate_with_progress,
    utc,
)

app = typer.Typer(
    name="ilake",
    help=__doc__,
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,  # a traceback could quote submitted data or a token
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
programs_app = typer.Typer(help="Program files: policy as code.", no_args_is_help=True)
agents_app = typer.Typer(help="Agent tokens: enroll, list, revoke.", no_args_is_help=True)
local_app = typer.Typer(help="Local mode: moto and the HTTP API on loopback.", no_args_is_help=True)
agent_app = typer.Typer(help="Run the agent SDK for operators.", no_args_is_help=True)
app.add_typer(programs_app, name="programs")
app.add_typer(agents_app, name="agents")
app.add_typer(local_app, name="local")
app.add_typer(agent_app, name="agent")

PROGRAMS_OPTION = typer.Option(
    "--programs", help="Directory of program files.", show_default="programs/"
)
StateDir = Annotated[
    Path, typer.Option("--state-dir", help="Local mode's state directory (holds local.json).")
]
DEFAULT_STATE_DIR = Path(".ilake")


class _Options:
    programs_dir: Path = BUNDLED_PROGRAMS
    local_state: Any = None  # the local stack this command uses, once it has looked it up


options = _Options()


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)  # one line, however long
    raise typer.Exit(code)


@app.callback()
def _root(programs: Annotated[Path | None, PROGRAMS_OPTION] = None) -> None:
    options.programs_dir = programs or BUNDLED_PROGRAMS


def _programs() -> dict[str, Program]:
    if not options.programs_dir.is_dir():
        fail(f"--programs {options.programs_dir}: no such directory")
    try:
        return load_programs(options.programs_dir)
    except ProgramError as exc:
        fail(f"invalid program file: {exc}", code=1)


def _program(name: str) -> Program:
    programs = _programs()
    if name not in programs:
        from lambdas.core.programs import PROGRAM_NAME

        shown = repr(name) if PROGRAM_NAME.fullmatch(name) else "(not a program name)"
        fail(f"no such program: {shown} (declared: {', '.join(sorted(programs))})")
    return programs[name]


# -- programs --------------------------------------------------------------------------------


@programs_app.command("list")
def programs_list() -> None:
    """List the declared programs.

    Example: [bold]ilake programs list[/]
    """
    table = Table("program", "policy", "retention", "event types", "owner")
    for program in _programs().values():
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
    print(json.dumps(_program(name).public_policy(), indent=2))


@programs_app.command("validate")
def programs_validate() -> None:
    """Validate every program file (exit 1 naming the file and field of an error).

    Example: [bold]ilake --programs ./programs programs validate[/]
    """
    for program in _programs().values():
        out.print(f"ok {program.name} ({program.policy_version}, sha256 {program.digest[:12]})")


# -- local mode ------------------------------------------------------------------------------


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

    from .local import LOG_FILE, STATE_FILE, LocalModeError, LocalStack, requests_line

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


def _local_state(state_dir: Path) -> Any:
    """The running stack's state, this process pointed at it. A stack that is not running is
    one line on stderr and exit 2; one that stops while the command works is too (`main`)."""
    from .local import LocalModeError, LocalState

    try:
        state = LocalState.running(state_dir)
    except LocalModeError as exc:
        fail(str(exc))
    state.use()
    options.local_state = state
    return state


# -- agents ----------------------------------------------------------------------------------

ProgramOption = Annotated[str, typer.Option("--program", "-p", help="Program name.")]
TableOption = Annotated[
    str | None,
    typer.Option(help="Agents table (with --aws: the stack's table; locally: local mode's)."),
]
AwsFlag = Annotated[
    bool, typer.Option("--aws", help="Use AWS (credentials from the environment), not local mode.")
]


def _agents_table(table: str | None, aws: bool, state_dir: Path) -> tuple[Any, str]:
    from .local import RESOURCE_NAMES

    if aws and not table:
        fail("--aws needs --table (the stack's agents table)")
    region = None if aws else _local_state(state_dir).region

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

    _program(program)
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
    output: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Output format.")
    ] = OutputFormat.table,
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

    _program(program)
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

    _program(program)
    dynamodb, name = _agents_table(table, aws, state_dir)
    revoked = revoke_agent_id(dynamodb, name, program=program, agent_id=agent_id)
    if not revoked:
        fail(f"no active token for agent {agent_id!r} in {program}")
    out.print(f"revoked {revoked} token(s) of {agent_id} in {program}")


# -- simulate --------------------------------------------------------------------------------


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

    from .local import LocalModeError, not_answering
    from .ui import ctrl_c_sets, undelivered

    _program(program)
    state = _local_state(state_dir)
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


# -- query -----------------------------------------------------------------------------------


LOCAL_ATHENA_NOTICE = (
    "note: local mode's Athena is moto's, which returns canned results and runs no SQL; "
    "for real answers over the local lake, leave out --athena (DuckDB)"
)


def _day(value: str | None) -> date:
    """`--dt` as a calendar day; today (UTC) when not given. The refusal never repeats it."""
    from lambdas.core.analytics import parse_day

    if value is None:
        return datetime.now(UTC).date()
    try:
        return parse_day(value)
    except ValueError:
        fail("--dt must be a calendar day written YYYY-MM-DD, such as 2026-12-02")


@app.command()
def query(
    sql: Annotated[str | None, typer.Argument(help="SQL over the table `interactions`.")] = None,
    named: Annotated[
        str | None, typer.Option(help="Run a named query from queries/ instead of SQL.")
    ] = None,
    program: Annotated[
        str | None, typer.Option(help="The declared program a named query reads.")
    ] = None,
    dt: Annotated[
        str | None,
        typer.Option(help="The day a named query reads, YYYY-MM-DD (default today, UTC)."),
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Output format.")
    ] = OutputFormat.table,
    athena: Annotated[
        bool, typer.Option(help="Run through the Athena workgroup instead of DuckDB.")
    ] = False,
    aws: AwsFlag = False,
    workgroup: Annotated[str, typer.Option(help="Athena workgroup.")] = resources.WORKGROUP,
    database: Annotated[str, typer.Option(help="Glue database.")] = resources.DATABASE,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Query the lake with SQL (DuckDB locally, or the Athena workgroup).

    Locally DuckDB reads the Parquet through the S3 endpoint; the named queries are the same
    SQL the Athena workgroup publishes, with --program and --dt bound as parameters (never
    pasted into the SQL). Each named query's description says which days --dt selects. Bad SQL
    or a bad --dt exits 2 with the reason.

    Examples:
      [bold]ilake query "SELECT type, count(*) AS n FROM interactions GROUP BY 1 ORDER BY 2 DESC"[/]
      [bold]ilake query --named menu-paths --program menu-navigation --dt 2026-12-02 -f csv[/]
      [bold]ilake query --athena "SELECT count(*) FROM interactions"[/]
    """
    from lambdas.core.analytics import named_queries

    from .query import QueryError, open_lake, run_athena, run_duckdb

    if (sql is None) == (named is None):
        fail("give either SQL or --named NAME")
    params: list[str] = []
    if named is None:
        if program is not None or dt is not None:
            fail("--program and --dt go with --named; in your own SQL, filter with WHERE")
    else:
        queries = named_queries()
        if named not in queries:
            fail(f"no such named query (known: {', '.join(queries)})")
        if program is None:
            fail("a named query needs --program")
        _program(program)
        sql, params = queries[named].bind(program=program, dt=_day(dt))
    assert sql is not None
    try:
        if athena:
            import boto3

            region = None if aws else _local_state(state_dir).region
            if not aws:
                err.print(LOCAL_ATHENA_NOTICE, markup=False, soft_wrap=True)
            client = boto3.client("athena", region_name=region)
            result = run_athena(client, sql, workgroup=workgroup, database=database, params=params)
        else:
            if aws:
                fail("--aws queries run on Athena: add --athena")
            state = _local_state(state_dir)
            con = open_lake(
                endpoint_url=state.aws_endpoint_url, bucket=state.bucket, region=state.region
            )
            result = run_duckdb(con, sql, params)
    except QueryError as exc:
        fail(f"query refused: {exc}")
    print_rows(result.columns, result.rows, output)
    if output is OutputFormat.table:
        err.print(f"{len(result.rows)} row(s)")


# -- report ----------------------------------------------------------------------------------


@app.command()
def report(
    output: Annotated[
        Path, typer.Option("--out", help="Where to write the HTML page.")
    ] = DEFAULT_STATE_DIR / "report.html",
    days: Annotated[int, typer.Option(min=1, max=400, help="Metrics window in days.")] = 14,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Write a self-contained HTML report of what the lake holds.

    No network, no scripts: events per type per hour, a click heatmap, top shortcuts and menu
    paths, redactions by detector and rejected events by reason.

    Example: [bold]ilake report --out .ilake/report.html[/]
    """
    from .report import local_report

    path = local_report(_local_state(state_dir), output, days=days)
    out.print(f"report: {path.resolve()}")


# -- governance ------------------------------------------------------------------------------

ReasonOption = Annotated[str, typer.Option(help="Why (kept in the audit trail).")]
ByOption = Annotated[str, typer.Option("--by", help="Who asks (kept in the audit trail).")]
StateTableOption = Annotated[
    str | None, typer.Option(help="With --aws: the stack's program state table.")
]
AuditTableOption = Annotated[str | None, typer.Option(help="With --aws: the stack's audit table.")]
TimeoutOption = Annotated[
    float, typer.Option(min=1, help="Seconds to wait for the workflow to finish.")
]


def _governance(
    aws: bool, state_dir: Path, state_table: str | None, audit_table: str | None
) -> Any:
    from .local import RESOURCE_NAMES
    from .workflows import Governance, GovernanceError

    try:
        if aws:
            if not (state_table and audit_table):
                fail("--aws needs --state-table and --audit-table (the stack's tables)")
            return Governance.aws(state_table=state_table, audit_table=audit_table)
        return Governance.local(
            _local_state(state_dir),
            state_table=RESOURCE_NAMES["PROGRAM_STATE_TABLE"],
            audit_table=RESOURCE_NAMES["AUDIT_TABLE"],
        )
    except GovernanceError as exc:
        fail(str(exc))


def _said(value: str, option: str) -> str:
    """A `--by` or `--reason` worth an audit record: who asks and why, never blank."""
    value = value.strip()
    if not value:
        fail(f"{option} must not be empty: the audit trail records who asked and why")
    if len(value) > 500:
        fail(f"{option} is longer than 500 characters")
    return value


def _run_workflow(
    governance: Any,
    workflow: str,
    payload: dict[str, Any],
    timeout: float,
    refusals: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Start, wait, print the outcome; a workflow that fails exits 2 with its error, or with
    the sentence `refusals` gives for that error."""
    execution = governance.start(workflow, payload)
    err.print(f"{workflow} started: {execution}")
    outcome = governance.wait(execution, timeout)
    if outcome.status == "RUNNING":
        fail(f"{workflow} still running after {timeout:g} s: {execution}")
    if outcome.status == "FAILED" and refusals and outcome.error in refusals:
        fail(refusals[outcome.error])
    if outcome.status != "SUCCEEDED":
        fail(f"{workflow} {outcome.status.lower()}: {outcome.error}: {outcome.cause}")
    out.print(f"{workflow} succeeded: {json.dumps(outcome.output, sort_keys=True)}")
    return dict(outcome.output or {})


@app.command()
def pause(
    program: ProgramOption,
    reason: ReasonOption,
    by: ByOption,
    lock: Annotated[
        bool, typer.Option(help="Also disable the program's KMS key: nobody reads its data.")
    ] = False,
    timeout: TimeoutOption = 120,
    aws: AwsFlag = False,
    state_table: StateTableOption = None,
    audit_table: AuditTableOption = None,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Pause a program: ingest answers 423 from the next batch on (audited).

    Example: [bold]ilake pause --program menu-navigation --reason "incident 42" --by alice --lock[/]
    """
    _program(program)
    reason, by = _said(reason, "--reason"), _said(by, "--by")
    governance = _governance(aws, state_dir, state_table, audit_table)
    payload = {"program": program, "reason": reason, "requested_by": by, "lock": lock}
    _run_workflow(governance, "pause", payload, timeout)


@app.command()
def resume(
    program: ProgramOption,
    reason: ReasonOption,
    by: ByOption,
    timeout: TimeoutOption = 120,
    aws: AwsFlag = False,
    state_table: StateTableOption = None,
    audit_table: AuditTableOption = None,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Resume a paused program (and re-enable its key if the pause locked it), audited.

    Example: [bold]ilake resume --program menu-navigation --reason "cleared" --by bob[/]
    """
    _program(program)
    reason, by = _said(reason, "--reason"), _said(by, "--by")
    governance = _governance(aws, state_dir, state_table, audit_table)
    payload = {"program": program, "reason": reason, "requested_by": by}
    _run_workflow(governance, "resume", payload, timeout)


@app.command()
def purge(
    program: ProgramOption,
    reason: ReasonOption,
    by: ByOption,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to wait, approval included.")
    ] = 3600,
    wait_for_it: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait for approval and the outcome.")
    ] = True,
    aws: AwsFlag = False,
    state_table: StateTableOption = None,
    audit_table: AuditTableOption = None,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Purge a PAUSED program for good, once another person approves (`ilake approve`).

    Deletes every object version under the program's prefix, its secret and (scheduled) its
    key, verifies nothing is left, and audits the counts. Running it again after a failure
    finishes the job.

    Example: [bold]ilake purge --program menu-navigation --reason "DPIA withdrawn" --by alice[/]
    """
    _program(program)
    reason, by = _said(reason, "--reason"), _said(by, "--by")
    governance = _governance(aws, state_dir, state_table, audit_table)
    record: dict[str, Any] = next(
        (r for r in governance.status() if r.get("program") == program), {}
    )
    state = str(record.get("state", "ACTIVE"))
    if state != "PAUSED" and not (state == "PURGING" and record.get("purge_failed")):
        fail(f"refused: {program} is {state}; a purge needs a PAUSED program (ilake pause first)")
    payload = {"program": program, "reason": reason, "requested_by": by}
    if not wait_for_it:
        execution = governance.start("purge", payload)
        out.print(f"purge started, awaiting approval by someone else: {execution}")
        return
    err.print(f"awaiting approval: ilake approve --program {program} --by <someone else>")
    _run_workflow(governance, "purge", payload, timeout)


@app.command()
def approve(
    program: ProgramOption,
    by: ByOption,
    aws: AwsFlag = False,
    state_table: StateTableOption = None,
    audit_table: AuditTableOption = None,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Approve the purge that waits for a second person. The requester cannot approve it.

    Example: [bold]ilake approve --program menu-navigation --by bob[/]
    """
    from .workflows import GovernanceError

    _program(program)
    by = _said(by, "--by")
    governance = _governance(aws, state_dir, state_table, audit_table)
    try:
        requester = governance.approve(program, by)
    except GovernanceError as exc:
        fail(str(exc))
    if requester == by:
        fail(f"refused: {by} requested this purge and cannot approve it (audited)")
    out.print(f"approved by {by} (requested by {requester}); the purge goes ahead")


@app.command()
def erase(
    program: ProgramOption,
    subject: Annotated[str, typer.Option(help="The person's account name, as agents saw it.")],
    reason: ReasonOption,
    by: ByOption,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Suppress the person's future events even though the lake holds no row of them.",
        ),
    ] = False,
    timeout: TimeoutOption = 600,
    aws: AwsFlag = False,
    state_table: StateTableOption = None,
    audit_table: AuditTableOption = None,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Erase one person's rows from a program and drop their future events (audited).

    A subject with no row in the lake (and not erased before) is refused, most likely a
    misspelt name: nothing is erased or suppressed (exit 2). --force suppresses them anyway.
    The audit trail keeps the pseudonym, never the name.

    Example: [bold]ilake erase -p menu-navigation --subject jdoe --reason "art. 17" --by dpo[/]
    """
    _program(program)
    reason, by = _said(reason, "--reason"), _said(by, "--by")
    if not subject.strip():
        fail("--subject must not be empty")
    governance = _governance(aws, state_dir, state_table, audit_table)
    payload = {
        "program": program,
        "subject": subject,
        "reason": reason,
        "requested_by": by,
        "force": force,
    }
    not_found = (
        f"refused: 0 rows of that subject in {program}; nothing was erased or suppressed. Check "
        "the spelling of --subject, or add --force to suppress their future events anyway"
    )
    _run_workflow(
        governance, "erase-subject", payload, timeout, refusals={"SubjectNotFound": not_found}
    )


@app.command()
def status(
    aws: AwsFlag = False,
    state_table: StateTableOption = None,
    audit_table: AuditTableOption = None,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Show every program's state (ACTIVE, PAUSED, PURGING, PURGED) and its last change.

    Example: [bold]ilake status[/]
    """
    governance = _governance(aws, state_dir, state_table, audit_table)
    records = {record["program"]: record for record in governance.status()}
    rows = []
    for name in sorted(set(_programs()) | set(records)):
        record = records.get(name, {})
        rows.append(
            (
                name,
                record.get("state", "ACTIVE"),
                "yes" if record.get("locked") else "no",
                record.get("changed_by", ""),
                utc(record.get("changed_at")),
                len(record.get("suppressed_subjects", [])),
                record.get("purged_objects", ""),
            )
        )
    columns = ["program", "state", "key locked", "changed by", "changed at (UTC)",
               "erased subjects", "objects purged"]  # fmt: skip
    print_rows(columns, rows)


@app.command()
def audit(
    program: Annotated[str | None, typer.Option("--program", "-p", help="One program.")] = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Output format.")
    ] = OutputFormat.table,
    aws: AwsFlag = False,
    state_table: StateTableOption = None,
    audit_table: AuditTableOption = None,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Print the audit trail: who did what, why, when, with which counts.

    Example: [bold]ilake audit --program menu-navigation[/]
    """
    if program is not None:
        _program(program)
    governance = _governance(aws, state_dir, state_table, audit_table)
    records = governance.audit(program)
    if output is OutputFormat.json:  # the records as stored, for scripts
        print(json.dumps(records, sort_keys=True))
        return
    counted = ("objects", "bytes", "delete_markers", "texts", "files", "rows")
    rows = [
        (
            utc(r.get("at")),
            r.get("program", ""),
            r.get("action", ""),
            r.get("outcome", ""),
            r.get("requested_by", ""),
            r.get("approved_by", ""),
            r.get("reason", ""),
            ", ".join(f"{k} {r[k]}" for k in counted if k in r),
        )
        for r in records
    ]
    columns = ["at (UTC)", "program", "action", "outcome", "by", "approved by", "reason", "counts"]
    print_rows(columns, rows, output)


# -- agent -----------------------------------------------------------------------------------


class Source(StrEnum):
    simulate = "simulate"
    stdin_jsonl = "stdin-jsonl"


@agent_app.command("run")
def agent_run(
    program: ProgramOption,
    token_file: Annotated[Path, typer.Option(help="File holding the agent's token (mode 0600).")],
    source: Annotated[Source, typer.Option(help="Where events come from.")] = Source.simulate,
    api_url: Annotated[
        str | None, typer.Option(help="The API (default: local mode's, from the state dir).")
    ] = None,
    spool_dir: Annotated[
        Path | None, typer.Option(help="The encrypted spool (default ~/.ilake-agent/<program>).")
    ] = None,
    minutes: Annotated[
        float, typer.Option(min=0.1, help="With --source simulate: minutes of work.")
    ] = 10,
    batch_events: Annotated[int, typer.Option(min=1, max=10_000, help="Events per batch.")] = 1000,
    timeout: Annotated[
        float,
        typer.Option(min=0, help="Seconds to get the policy (retried), then to drain the spool."),
    ] = 60,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Capture events through the agent SDK and deliver them (policy, spool, retries).

    Prints what the program captures first. With --source stdin-jsonl, one event per line
    (docs/event-schema.md). The summary counts events not captured by reason (the program's
    policy, or invalid under the server's own reason codes), lines that are not a JSON object
    (unreadable), and what the server refused by reason; never their content. The policy
    request is retried until --timeout; an API that does not answer by then, or a malformed
    --api-url, exits 2. Ctrl-C stops capture, prints the summary so far and keeps the spool
    (exit 130).

    Example: [bold]ilake agent run -p menu-navigation --token-file agent.token --source simulate[/]
    """
    import contextlib
    import sys

    from ilake_agent.client import AgentStopped, Client, Limits, PolicyUnavailable
    from ilake_agent.policy import PolicyError

    mode = token_file.stat().st_mode if token_file.exists() else None
    if mode is None:
        fail(f"{token_file} does not exist")
    if mode & 0o077:
        fail(f"{token_file} is readable by others: chmod 600 it")
    token = token_file.read_text().strip()
    url = api_url or _local_state(state_dir).api_url
    spool = spool_dir or Path.home() / ".ilake-agent" / program
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
    unreadable = 0
    try:
        if source is Source.stdin_jsonl:
            unreadable = _record_lines(client, sys.stdin.buffer)
        else:
            from .simulate import Session

            end = int(time.time() * 1000)
            session = Session(
                0, subject="operator", device="agent-run", start_ms=end - int(minutes * 60_000)
            )
            for event in session.until(end):
                client.record(event)
        err.print(f"recorded {client.counters.recorded:,} events; delivering")
        delivered = client.close(timeout_s=timeout)
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


def _print_agent_summary(counters: Any, unreadable: int) -> None:
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
    out.print(f"unreadable lines (not a JSON object): {unreadable:,}")
    out.print(f"rejected by the server: {by_reason(counters.rejected)}")
    out.print(f"dropped with their batch (400): {counters.events_dropped_400:,}")


# -- compaction and retention ----------------------------------------------------------------

retention_app = typer.Typer(
    help="Retention: what is past its program's retention.", no_args_is_help=True
)
app.add_typer(retention_app, name="retention")


def _local_lake(state_dir: Path) -> Any:
    """Point this process at local mode's lake, as the Lambdas' environment would."""
    from .local import RESOURCE_NAMES

    state = _local_state(state_dir)
    names = ("LAKE_BUCKET", "PROGRAM_STATE_TABLE", "COMMON_TEXTS_TABLE")
    os.environ.update({name: RESOURCE_NAMES[name] for name in names})
    os.environ["PROGRAMS_DIR"] = str(options.programs_dir)
    return state


@app.command()
def compact(
    program: Annotated[
        list[str] | None, typer.Option("--program", "-p", help="Program (repeat); all by default.")
    ] = None,
    now: Annotated[
        str | None,
        typer.Option(help="Compact as if it were this time (ISO 8601 with zone); default: now."),
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Output format.")
    ] = OutputFormat.table,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Count and compact closed hour partitions in local mode, as the hourly schedule does in AWS.

    An hour is closed 15 minutes after it ends (COMPACTION_GRACE_S); the last 48 hours are
    examined (COMPACTION_LOOKBACK_HOURS). First the people who sent each pending text in the
    hours not counted yet are counted (texts that reach the program's min_people become common,
    released by the next batch that carries them); then each closed hour's small files are
    rewritten with the texts released since filled in; hours 3 and 24 hours old get those texts
    filled in again (COMPACTION_REFILL_AFTER_HOURS). Exits 2 if a partition could not be
    compacted. Prints the table only; the run's log lines go to <state-dir>/local.log.

    Example: [bold]ilake compact --program menu-navigation[/]
    """
    names = program or sorted(_programs())
    for name in names:
        _program(name)
    if now is not None:
        try:
            if datetime.fromisoformat(now).tzinfo is None:
                fail("--now needs a time zone, e.g. 2026-11-20T12:30:00+00:00")
        except ValueError:
            fail("--now is not an ISO 8601 time")
    state = _local_lake(state_dir)
    from botocore.exceptions import BotoCoreError, ClientError

    from lambdas.compaction.handler import handler

    from .local import LOG_FILE, LocalModeError, handler_logs_to, not_answering

    rows: list[tuple[Any, ...]] = []
    failed = 0
    for name in names:
        try:  # the table is the output: the run's log lines join local mode's handler log
            with handler_logs_to(state_dir / LOG_FILE):
                result = handler({"program": name, **({"now": now} if now else {})})
        except (BotoCoreError, ClientError):
            fail(not_answering(state.aws_endpoint_url))
        except LocalModeError as exc:  # the log file cannot be written
            fail(str(exc))
        if "skipped" in result:
            rows.append((name, "", "", "skipped: " + result["skipped"], *[""] * 7))
            continue
        count = result["count"]
        if count["files"] or count["became_common"] or count["outcome"] == "withdrawn":
            rows.append(
                (
                    name,
                    "count",
                    f"{count['hours']} hours through {count['counted_through'] or '-'}",
                    f"{count['outcome']}: {count['became_common']} texts became common, "
                    f"{count['pending_texts']} pending" + _reason(count),
                    count["files"],
                    count["contributions"],
                    "",
                    count["became_common"],
                    "",
                    "",
                    count["seconds"],
                )
            )
        for part in result["partitions"]:
            failed += part["outcome"] == "failed"
            rows.append(
                (
                    name,
                    "compact",
                    _partition(part["partition"]),
                    part["outcome"] + _reason(part),
                    part["inputs"],
                    part["rows"],
                    part["parts"],
                    part["texts_filled"],
                    round(part["input_bytes"] / 2**20, 2),
                    round(part["output_bytes"] / 2**20, 2),
                    part["seconds"],
                )
            )
        for refill in result["refills"]:
            rows.append(
                (
                    name,
                    "refill",
                    _partition(refill["partition"]),
                    refill["outcome"],
                    refill["objects"],
                    "",
                    refill["rewritten"],
                    refill["texts_filled"],
                    "",
                    "",
                    "",
                )
            )
    # texts: released texts filled in (compact, refill), or texts that became common (count)
    columns = ["program", "step", "partition", "outcome", "files in", "rows", "files out",
               "texts", "MiB in", "MiB out", "seconds"]  # fmt: skip
    if rows or output is not OutputFormat.table:
        print_rows(columns, rows, output)
    else:
        out.print("nothing to compact: no closed hour holds small files")
    if failed:
        fail(f"{failed} partition(s) could not be compacted")


def _partition(prefix: str) -> str:
    return prefix.split("/", 2)[2].rstrip("/")


def _reason(result: dict[str, Any]) -> str:
    return f": {result['reason']}" if result.get("reason") else ""


@retention_app.command("check")
def retention_check(
    program: Annotated[str | None, typer.Option("--program", "-p", help="One program.")] = None,
    today: Annotated[
        str | None, typer.Option(help="Check as of this day (YYYY-MM-DD, UTC); default: today.")
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Output format.")
    ] = OutputFormat.table,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """List lake objects past their program's retention in local mode.

    An object is past retention when its partition day (ingestion day) is more than the
    program's retention_days ago. S3 lifecycle rules count from an object's creation, so a file
    rewritten later (compaction, erasure) lives longer than its data should: this shows it.

    Example: [bold]ilake retention check --today 2027-06-01[/]
    """
    from datetime import date

    from lambdas.adapters.lake_bucket import past_retention

    programs = _programs()
    names = [_program(program).name] if program else sorted(programs)
    try:
        day = date.fromisoformat(today) if today else datetime.now(UTC).date()
    except ValueError:
        fail("--today must be a day, YYYY-MM-DD")
    state = _local_lake(state_dir)
    import boto3

    s3 = boto3.client("s3")
    rows = []
    for name in names:
        for found in past_retention(
            s3, state.bucket, name, programs[name].file.retention_days, day
        ):
            rows.append((name, found.key, found.day.isoformat(), found.days_past, found.size))
    columns = ["program", "object", "partition day", "days past retention", "bytes"]
    if rows or output is not OutputFormat.table:
        print_rows(columns, rows, output)
    else:
        out.print(f"nothing past retention as of {day.isoformat()}")


# -- demo ------------------------------------------------------------------------------------


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
    from .demo import DemoError, run

    started = time.perf_counter()
    try:
        run(options.programs_dir, state_dir=state_dir, agents=agents, minutes=minutes, console=out)
    except DemoError as exc:
        fail(str(exc))
    out.print(f"demo finished in {time.perf_counter() - started:.0f} s")


def reflow(text: str) -> str:
    """Help text as paragraphs the terminal wraps: a docstring's line breaks inside a paragraph
    go (at 80 columns they cut sentences in two); blank lines and indented lines stay."""
    lines: list[str] = []
    for line in text.strip().splitlines():
        joins = lines and lines[-1].strip() and line.strip() and not line.startswith(" ")
        if joins and not lines[-1].startswith(" ") and not lines[-1].endswith(":"):
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    return "\n".join(lines)


def _reflow_help(typer_app: typer.Typer) -> None:
    import inspect

    if typer_app.info.help and isinstance(typer_app.info.help, str):
        typer_app.info.help = reflow(typer_app.info.help)
    for command in typer_app.registered_commands:
        doc = command.help or (inspect.getdoc(command.callback) if command.callback else None)
        if doc:
            command.help = reflow(doc)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _reflow_help(group.typer_instance)


_reflow_help(app)


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit code (tests call it with `argv`).

    Whatever a command did not foresee still ends in one line and a documented exit code,
    never a traceback (which could quote submitted data or a token): AWS without a region or
    credentials, an unreachable endpoint, a file that cannot be read or written, Ctrl-C.
    """
    options.local_state = None
    try:
        app(args=argv, prog_name="ilake")  # standalone: usage errors exit 2, with a message
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as exc:  # the last line of defence, on purpose
        message, code = unforeseen(exc)
        state, options.local_state = options.local_state, None
        if state is not None and not state.answers():  # the stack stopped while we worked
            from .local import not_answering

            message, code = not_answering(state.api_url), 2
        err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
        return code
    return 0


def unforeseen(exc: BaseException) -> tuple[str, int]:
    """One line for an error no command handled, and its exit code (2 for the environment,
    3 for a fault in ilake). Never the exception's own text where it could quote content."""
    from botocore import exceptions as aws

    if isinstance(exc, aws.NoRegionError):
        return "no AWS region: set AWS_DEFAULT_REGION (or AWS_PROFILE with a region)", 2
    if isinstance(exc, aws.NoCredentialsError | aws.PartialCredentialsError):
        return (
            "no usable AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or run where an IAM role applies",
            2,
        )
    if isinstance(exc, aws.ProfileNotFound):
        return f"the AWS profile {exc.kwargs.get('profile', '')!r} is not configured", 2
    if isinstance(exc, aws.EndpointConnectionError | aws.ConnectTimeoutError):
        return f"cannot reach {exc.kwargs.get('endpoint_url', 'the AWS endpoint')}", 2
    if isinstance(exc, aws.ClientError):
        error = exc.response.get("Error", {})
        return f"AWS refused {exc.operation_name}: {error.get('Code', 'error')}", 2
    if isinstance(exc, aws.BotoCoreError):
        return f"AWS client error: {type(exc).__name__}", 2
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or type(exc).__name__}{where}", 2
    return (
        f"unexpected {type(exc).__name__} (a fault in ilake; no details are printed, as they "
        "could quote submitted data)",
        3,
    )


if __name__ == "__main__":
    raise SystemExit(main())

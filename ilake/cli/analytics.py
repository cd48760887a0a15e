"""`ilake query` (SQL over the lake: DuckDB locally, or Athena) and `ilake report` (HTML)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer

from lambdas.core import resources

from ..ui import OutputFormat, err, out, print_rows
from .base import (
    DEFAULT_STATE_DIR,
    AwsFlag,
    FormatOption,
    StateDir,
    app,
    declared_program,
    fail,
    running_stack,
)

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
    output: FormatOption = OutputFormat.table,
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

    from ..query import QueryError, open_lake, run_athena, run_duckdb

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
        declared_program(program)
        sql, params = queries[named].bind(program=program, dt=_day(dt))
    assert sql is not None
    try:
        if athena:
            import boto3

            region = None if aws else running_stack(state_dir).region
            if not aws:
                err.print(LOCAL_ATHENA_NOTICE, markup=False, soft_wrap=True)
            client = boto3.client("athena", region_name=region)
            result = run_athena(client, sql, workgroup=workgroup, database=database, params=params)
        else:
            if aws:
                fail("--aws queries run on Athena: add --athena")
            state = running_stack(state_dir)
            con = open_lake(
                endpoint_url=state.aws_endpoint_url, bucket=state.bucket, region=state.region
            )
            result = run_duckdb(con, sql, params)
    except QueryError as exc:
        fail(f"query refused: {exc}")
    print_rows(result.columns, result.rows, output)
    if output is OutputFormat.table:
        err.print(f"{len(result.rows)} row(s)")


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
    from ..report import local_report

    path = local_report(running_stack(state_dir), output, days=days)
    out.print(f"report: {path.resolve()}")

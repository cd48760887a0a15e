"""`ilake compact` and `ilake retention check`: the lake's upkeep in local mode, as the
scheduled Lambdas do it in AWS."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from ..ui import OutputFormat, out, print_rows
from .base import (
    DEFAULT_STATE_DIR,
    FormatOption,
    StateDir,
    app,
    declared_program,
    declared_programs,
    fail,
    options,
    running_stack,
)

retention_app = typer.Typer(
    help="Retention: what is past its program's retention.", no_args_is_help=True
)
app.add_typer(retention_app, name="retention")


def _local_lake(state_dir: Path) -> Any:
    """Point this process at local mode's lake, as the Lambdas' environment would."""
    from ..local import RESOURCE_NAMES

    state = running_stack(state_dir)
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
    output: FormatOption = OutputFormat.table,
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
    names = program or sorted(declared_programs())
    for name in names:
        declared_program(name)
    if now is not None:
        try:
            if datetime.fromisoformat(now).tzinfo is None:
                fail("--now needs a time zone, e.g. 2026-11-20T12:30:00+00:00")
        except ValueError:
            fail("--now is not an ISO 8601 time")
    state = _local_lake(state_dir)
    from botocore.exceptions import BotoCoreError, ClientError

    from lambdas.compaction.handler import handler

    from ..local import LOG_FILE, LocalModeError, handler_logs_to, not_answering

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
    output: FormatOption = OutputFormat.table,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """List lake objects past their program's retention in local mode.

    An object is past retention when its partition day (ingestion day) is more than the
    program's retention_days ago. S3 lifecycle rules count from an object's creation, so a file
    rewritten later (compaction, erasure) lives longer than its data should: this shows it.

    Example: [bold]ilake retention check --today 2027-06-01[/]
    """
    from lambdas.adapters.lake_bucket import past_retention

    programs = declared_programs()
    names = [declared_program(program).name] if program else sorted(programs)
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

"""Governance: `ilake pause`, `resume`, `purge`, `approve`, `erase` start the audited
workflows (locally or in AWS) and wait for them; `ilake status` and `audit` read their records."""

from __future__ import annotations

import json
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
    declared_programs,
    fail,
    running_stack,
)

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
    from ..local import RESOURCE_NAMES
    from ..workflows import Governance, GovernanceError

    try:
        if aws:
            if not (state_table and audit_table):
                fail("--aws needs --state-table and --audit-table (the stack's tables)")
            return Governance.aws(state_table=state_table, audit_table=audit_table)
        return Governance.local(
            running_stack(state_dir),
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
    declared_program(program)
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
    declared_program(program)
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
    declared_program(program)
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
    from ..workflows import GovernanceError

    declared_program(program)
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
    declared_program(program)
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
    for name in sorted(set(declared_programs()) | set(records)):
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
    output: FormatOption = OutputFormat.table,
    aws: AwsFlag = False,
    state_table: StateTableOption = None,
    audit_table: AuditTableOption = None,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Print the audit trail: who did what, why, when, with which counts.

    Example: [bold]ilake audit --program menu-navigation[/]
    """
    if program is not None:
        declared_program(program)
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

"""`ilake smoke`: the first-deployment smoke test on a deployed stack (--aws) or on local mode;
the steps are ilake/smoke.py's, this module only finds the stack and prints them."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from lambdas.core import resources

from ..ui import out
from .base import DEFAULT_STATE_DIR, AwsFlag, ProgramOption, StateDir, app, declared_program, fail

STACK_NAME = "InteractionLake"  # app.py's stack


@app.command()
def smoke(
    program: ProgramOption,
    aws: AwsFlag = False,
    stack_name: Annotated[
        str, typer.Option(help="With --aws: the CloudFormation stack to test.")
    ] = STACK_NAME,
    api_url: Annotated[
        str | None,
        typer.Option(help="The API's stage URL, instead of the stack's output (or local mode's)."),
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for each governance workflow.")
    ] = 120,
    state_dir: StateDir = DEFAULT_STATE_DIR,
) -> None:
    """Smoke-test a stack end to end with a temporary agent and small synthetic batches.

    The steps: the program is ACTIVE; enroll a temporary agent; read the policy; post a batch;
    find its object in the lake (SSE-KMS under the program's key); count its rows by batch id
    (Athena with --aws; locally DuckDB, since moto's Athena runs no SQL); pause (the next post
    gets 423); resume and post again; revoke the agent. Each step prints pass or fail and its
    time. The first failure stops the run with one line naming the step (exit 1), after the
    temporary agent is revoked and a pause the test made is resumed.

    The program is paused for a few seconds: its agents that post meanwhile get 423 and drop
    their spool, so smoke-test a program before its agents are enrolled.

    Examples:
      [bold]ilake smoke --program menu-navigation[/]
      [bold]ilake smoke --aws --program menu-navigation[/]
    """
    from ..deployed_stack import StackNotFound
    from ..smoke import SmokeFailed, Step, run_smoke

    declared_program(program)
    try:
        target = (
            _aws_target(stack_name, api_url, timeout)
            if aws
            else _local_target(state_dir, api_url, timeout)
        )
    except StackNotFound as exc:
        fail(str(exc))

    def report(step: Step) -> None:
        mark = "pass" if step.passed else "FAIL"
        line = f"{mark}  {step.name:<18} {step.seconds:6.2f} s  {step.detail}"
        out.print(line, markup=False, highlight=False, soft_wrap=True)

    started = time.perf_counter()
    try:
        steps = run_smoke(target, program, report=report)
    except SmokeFailed as exc:
        fail(f"smoke test failed at {exc.step}: {exc}", code=1)
    elapsed = time.perf_counter() - started
    out.print(f"smoke test passed: {len(steps)} steps in {elapsed:.1f} s on {target.where}")


def _local_target(state_dir: Any, api_url: str | None, timeout: float) -> Any:
    import boto3

    from ..local import RESOURCE_NAMES
    from ..query import open_lake, run_duckdb
    from ..smoke import SmokeTarget
    from ..workflows import Governance
    from .base import running_stack

    state = running_stack(state_dir)
    session = boto3.Session(region_name=state.region)

    def count_rows(sql: str, params: Sequence[str]) -> int:
        con = open_lake(
            endpoint_url=state.aws_endpoint_url, bucket=state.bucket, region=state.region
        )
        try:
            return int(run_duckdb(con, sql, params).rows[0][0])
        finally:
            con.close()

    return SmokeTarget(
        where="local mode",
        api_url=api_url or state.api_url,
        bucket=state.bucket,
        agents_table=RESOURCE_NAMES["AGENTS_TABLE"],
        dynamodb=session.client("dynamodb"),
        s3=session.client("s3"),
        kms=session.client("kms"),
        governance=Governance.local(
            state,
            state_table=RESOURCE_NAMES["PROGRAM_STATE_TABLE"],
            audit_table=RESOURCE_NAMES["AUDIT_TABLE"],
        ),
        count_rows=count_rows,
        query_engine="DuckDB over the local lake (local mode: moto's Athena runs no SQL)",
        revocation_is_immediate=True,
        workflow_timeout_s=timeout,
    )


def _aws_target(stack_name: str, api_url: str | None, timeout: float) -> Any:
    import boto3

    from ..deployed_stack import deployed_stack
    from ..query import run_athena
    from ..smoke import SmokeTarget
    from ..workflows import Governance, GovernanceError

    session = boto3.Session()
    stack = deployed_stack(session.client("cloudformation"), stack_name)
    athena = session.client("athena")

    def count_rows(sql: str, params: Sequence[str]) -> int:
        result = run_athena(
            athena, sql, workgroup=resources.WORKGROUP, database=resources.DATABASE, params=params
        )
        return int(result.rows[0][0])

    try:
        governance = Governance.aws(state_table=stack.state_table, audit_table=stack.audit_table)
    except GovernanceError as exc:
        fail(str(exc))
    return SmokeTarget(
        where="AWS",
        api_url=api_url or stack.api_url,
        bucket=stack.bucket,
        agents_table=stack.agents_table,
        dynamodb=session.client("dynamodb"),
        s3=session.client("s3"),
        kms=session.client("kms"),
        governance=governance,
        count_rows=count_rows,
        query_engine=f"Athena (workgroup {resources.WORKGROUP})",
        revocation_is_immediate=False,
        workflow_timeout_s=timeout,
    )

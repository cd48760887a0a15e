"""The governance workflows in local mode: the same ASL files as the CDK app, on moto.

moto executes the state machines (Step Functions execution switched on), but runs Lambda code
only in Docker. Local mode has none, so `install_invoke_shim` routes moto's Lambda invocations to
the governance handlers in this process. It replaces a private moto method (moto is pinned for
that reason) and is used by local mode and the tests only, never by the deployed system.
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from lambdas.core import resources

Handler = Callable[[dict[str, Any], Any], Any]
_handlers: dict[str, Handler] = {}


def local_handlers() -> dict[str, Handler]:
    """Function name -> handler, for the governance functions local mode creates."""
    from lambdas.governance import erase, purge

    return {
        resources.LOCAL_FUNCTION_NAMES["PurgeFunction"]: purge.handler,
        resources.LOCAL_FUNCTION_NAMES["EraseFunction"]: erase.handler,
    }


def install_invoke_shim(handlers: Mapping[str, Handler]) -> None:
    """Run `handlers` in this process when moto invokes a Lambda function of that name.

    A handler's exception becomes a handled function error with its type only (a message could
    quote data), which Step Functions sees as the task's error name, as with a real Lambda.
    """
    from moto.awslambda.models import LambdaFunction

    _handlers.update(handlers)
    if getattr(LambdaFunction, "_ilake_shim", False):
        return

    def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        handler = _handlers.get(self.function_name)
        if handler is None:
            return json.dumps({"errorType": "NoLocalHandler", "errorMessage": "none"}), True, ""
        payload = event if isinstance(event, dict) else json.loads(event or "{}")
        try:
            return json.dumps(handler(payload, None)), False, ""
        except Exception as exc:
            error = {"errorType": type(exc).__name__, "errorMessage": type(exc).__name__}
            return json.dumps(error), True, ""

    setattr(LambdaFunction, "_invoke_lambda", _invoke_lambda)  # noqa: B010 - moto's private hook
    setattr(LambdaFunction, "_ilake_shim", True)  # noqa: B010


def definition(name: str, substitutions: Mapping[str, str]) -> str:
    """An ASL file with `${Name}` placeholders filled, as CDK's definition_substitutions does."""
    text = (resources.WORKFLOWS_DIR / f"{name}.asl.json").read_text()
    for key, value in substitutions.items():
        text = text.replace("${" + key + "}", value)
    if "${" in text:
        raise ValueError(f"{name}: a placeholder has no value")
    return text


def provision_workflows(
    *,
    iam: Any,
    lambda_: Any,
    sfn: Any,
    substitutions: Mapping[str, str],
) -> dict[str, str]:
    """Create the governance functions and the state machines; returns workflow -> ARN.

    `substitutions` gives every placeholder but the function ARNs, which are created here.
    """
    role = iam.create_role(
        RoleName="ilake-local-governance",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("README", "local mode runs the handler in process (ilake/workflows.py)")
    values = dict(substitutions)
    for placeholder, name in resources.LOCAL_FUNCTION_NAMES.items():
        values[placeholder] = lambda_.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler=resources.GOVERNANCE_HANDLERS[placeholder],
            Code={"ZipFile": code.getvalue()},
        )["FunctionArn"]
    return {
        name: sfn.create_state_machine(
            name=resources.state_machine_name(name, "ilake-local-"),
            definition=definition(name, values),
            roleArn=role,
            type="STANDARD",
        )["stateMachineArn"]
        for name in resources.WORKFLOWS
    }


def provision_governance(
    session: Any,
    settings: Any,
    programs: Iterable[str],
    *,
    audit_table: str,
    endpoint_url: str | None = None,
) -> dict[str, str]:
    """Local mode's governance: the state machines and functions in moto, the invoke shim on,
    and the governance Lambdas' cached clients rebuilt against this endpoint. Returns
    workflow -> state machine ARN."""
    from lambdas.governance import erase, purge

    client = partial(session.client, endpoint_url=endpoint_url)
    machines = provision_workflows(
        iam=client("iam"),
        lambda_=client("lambda"),
        sfn=client("stepfunctions"),
        substitutions=resources.workflow_substitutions(
            programs=programs,
            program_state_table=settings.program_state_table,
            audit_table=audit_table,
            lake_bucket=settings.lake_bucket,
            key_alias_prefix=settings.key_alias_prefix,
            secret_prefix=settings.secret_name_prefix,
            common_texts_table=settings.common_texts_table,
        ),
    )
    install_invoke_shim(local_handlers())
    purge._clients.cache_clear()
    erase._clients.cache_clear()
    return machines


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # SUCCEEDED, FAILED, TIMED_OUT, ABORTED, or RUNNING when not waited for
    output: dict[str, Any] | None
    error: str | None
    cause: str | None
    execution_arn: str


def start(sfn: Any, state_machine: str, payload: Mapping[str, Any]) -> str:
    return str(
        sfn.start_execution(
            stateMachineArn=state_machine, name=str(uuid.uuid4()), input=json.dumps(payload)
        )["executionArn"]
    )


def wait(
    sfn: Any,
    execution_arn: str,
    *,
    timeout_s: float = 120,
    until: Callable[[dict[str, Any]], bool] | None = None,
) -> Outcome:
    """Poll until the execution ends (or `until(description)` holds, or the timeout passes)."""
    deadline = time.monotonic() + timeout_s
    while True:
        description = sfn.describe_execution(executionArn=execution_arn)
        done = description["status"] != "RUNNING" or (until is not None and until(description))
        if done or time.monotonic() > deadline:
            output = description.get("output")
            return Outcome(
                status=description["status"],
                output=json.loads(output) if output else None,
                error=description.get("error"),
                cause=description.get("cause"),
                execution_arn=execution_arn,
            )
        time.sleep(0.05)


class GovernanceError(Exception):
    """A governance request that cannot go ahead (the message says why)."""


def approve(
    sfn: Any, dynamodb: Any, table: str, program: str, approver: str, *, timeout_s: float = 30
) -> str:
    """Answer the purge's approval request as `approver`; returns who requested the purge.

    The workflow itself refuses (and audits) an approval by the requester and then asks again;
    this only delivers the answer to the request that is open now.
    """
    from botocore.exceptions import ClientError

    deadline = time.monotonic() + timeout_s
    spent: set[str] = set()
    while True:
        item = dynamodb.get_item(
            TableName=table, Key={"program": {"S": program}}, ConsistentRead=True
        ).get("Item", {})
        token = item.get("approval_token", {}).get("S")
        if token and token not in spent:
            spent.add(token)
            try:
                sfn.send_task_success(taskToken=token, output=json.dumps({"approved_by": approver}))
            except ClientError:  # answered or expired meanwhile: wait for the next request
                continue
            _until_answered(dynamodb, table, program, token, deadline)
            return str(item.get("approval_requested_by", {}).get("S", ""))
        if time.monotonic() > deadline:
            state = item.get("state", {}).get("S", "ACTIVE")
            raise GovernanceError(f"no purge of {program} awaits approval (state {state})")
        time.sleep(0.05)


def _until_answered(dynamodb: Any, table: str, program: str, token: str, deadline: float) -> None:
    """Wait until the workflow has taken the answer (the request's token leaves the item), so
    that a following approval cannot land on a request that is already answered."""
    while time.monotonic() < deadline:
        item = dynamodb.get_item(
            TableName=table, Key={"program": {"S": program}}, ConsistentRead=True
        ).get("Item", {})
        if item.get("approval_token", {}).get("S") != token:
            return
        time.sleep(0.05)


@dataclass(frozen=True, slots=True)
class Governance:
    """Where the workflows run: local mode's moto, or an AWS account (`ilake ... --aws`)."""

    sfn: Any
    dynamodb: Any
    machines: dict[str, str]  # workflow -> state machine ARN
    state_table: str
    audit_table: str

    @classmethod
    def local(cls, state: Any, *, state_table: str, audit_table: str) -> Governance:
        import boto3

        if not state.workflows:
            raise GovernanceError("this local stack has no workflows: restart `ilake local up`")
        session = boto3.Session(region_name=state.region)
        return cls(
            session.client("stepfunctions"),
            session.client("dynamodb"),
            dict(state.workflows),
            state_table,
            audit_table,
        )

    @classmethod
    def aws(cls, *, state_table: str, audit_table: str) -> Governance:
        """State machines found by name (`ilake-<workflow>`, as the CDK app names them)."""
        import boto3

        sfn = boto3.client("stepfunctions")
        machines: dict[str, str] = {}
        for page in sfn.get_paginator("list_state_machines").paginate():
            for machine in page["stateMachines"]:
                for workflow in resources.WORKFLOWS:
                    if machine["name"] == resources.state_machine_name(workflow):
                        machines[workflow] = machine["stateMachineArn"]
        missing = set(resources.WORKFLOWS) - set(machines)
        if missing:
            raise GovernanceError(f"state machines not found in this account: {sorted(missing)}")
        return cls(sfn, boto3.client("dynamodb"), machines, state_table, audit_table)

    def start(self, workflow: str, payload: Mapping[str, Any]) -> str:
        return start(self.sfn, self.machines[workflow], payload)

    def wait(self, execution_arn: str, timeout_s: float) -> Outcome:
        return wait(self.sfn, execution_arn, timeout_s=timeout_s)

    def approve(self, program: str, approver: str, *, timeout_s: float = 30) -> str:
        return approve(
            self.sfn, self.dynamodb, self.state_table, program, approver, timeout_s=timeout_s
        )

    def status(self) -> list[dict[str, Any]]:
        """Every program's state record (programs without one are ACTIVE)."""
        items = []
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=self.state_table):
            items += [_plain(item) for item in page["Items"]]
        return sorted(items, key=lambda item: str(item.get("program")))

    def audit(self, program: str | None = None) -> list[dict[str, Any]]:
        """The audit trail, oldest first (one program, or every program)."""
        if program is not None:
            pages = self.dynamodb.get_paginator("query").paginate(
                TableName=self.audit_table,
                KeyConditionExpression="#p = :p",
                ExpressionAttributeNames={"#p": "program"},
                ExpressionAttributeValues={":p": {"S": program}},
            )
        else:
            pages = self.dynamodb.get_paginator("scan").paginate(TableName=self.audit_table)
        records = [_plain(item) for page in pages for item in page["Items"]]
        return sorted(records, key=lambda record: str(record.get("at")))


def _plain(item: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain values (strings, numbers, booleans, sorted string sets)."""
    out: dict[str, Any] = {}
    for name, value in item.items():
        (kind, raw), *_ = value.items()
        if kind == "N":
            out[name] = int(raw) if raw.lstrip("-").isdigit() else float(raw)
        elif kind == "SS":
            out[name] = sorted(raw)
        else:
            out[name] = raw
    return out

"""The names `ilake smoke --aws` needs from a deployed stack: the API's URL (a stack output)
and the lake bucket and tables (by the logical ids the CDK app gives them), read through
CloudFormation. tests/infra/test_smoke_stack.py checks the ids against the synthesized template.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# The CDK app's logical ids (construct path + an 8-digit hash) of what the smoke test uses
STACK_RESOURCES = {
    "bucket": "StorageLake",
    "agents_table": "TablesAgents",
    "state_table": "TablesProgramState",
    "audit_table": "TablesAudit",
}
API_OUTPUT = "IngestApiEndpoint"


class StackNotFound(Exception):
    """The deployed stack, or one of its resources, cannot be found (the message says which)."""


@dataclass(frozen=True, slots=True)
class DeployedStack:
    """The names `ilake smoke --aws` needs, read from the CloudFormation stack."""

    api_url: str
    bucket: str
    agents_table: str
    state_table: str
    audit_table: str


def deployed_stack(cloudformation: Any, stack_name: str) -> DeployedStack:
    """The API URL (stack output) and the lake bucket and tables (by logical id) of a stack."""
    from botocore.exceptions import ClientError

    try:
        [stack] = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        raise StackNotFound(f"no stack {stack_name!r} in this account and region") from exc
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    api_url = next((v for k, v in outputs.items() if _cdk_id(k, API_OUTPUT)), None)
    if api_url is None:
        raise StackNotFound(f"stack {stack_name!r} has no {API_OUTPUT} output")
    physical: dict[str, str] = {}
    pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name)
    for page in pages:
        for resource in page["StackResourceSummaries"]:
            for role, prefix in STACK_RESOURCES.items():
                if _cdk_id(resource["LogicalResourceId"], prefix):
                    physical[role] = resource["PhysicalResourceId"]
    missing = sorted(set(STACK_RESOURCES) - set(physical))
    if missing:
        raise StackNotFound(f"stack {stack_name!r} lacks {', '.join(missing)}")
    return DeployedStack(api_url=api_url, **physical)


def _cdk_id(logical_id: str, prefix: str) -> bool:
    """Whether `logical_id` is the CDK id of the construct path `prefix` (prefix + 8 hex)."""
    return re.fullmatch(re.escape(prefix) + "[0-9A-F]{8}", logical_id) is not None

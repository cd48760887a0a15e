"""`ilake smoke --aws` finds the API URL, the lake bucket and the tables it needs in the stack
the CDK app synthesizes (by the logical ids it declares), and says which is missing otherwise."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from ilake.deployed_stack import API_OUTPUT, STACK_RESOURCES, StackNotFound, deployed_stack
from tests.support.synth import Synth


class FakeCloudFormation:
    """describe_stacks and list_stack_resources over a template, as CloudFormation would
    answer for that template deployed (physical ids `physical-<logical id>`)."""

    def __init__(self, template: dict[str, Any] | None) -> None:
        self.template = template

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        if self.template is None:
            error = {"Error": {"Code": "ValidationError", "Message": "does not exist"}}
            raise ClientError(error, "DescribeStacks")  # type: ignore[arg-type]
        outputs = [
            {"OutputKey": key, "OutputValue": f"https://api.example/{key}/"}
            for key in self.template.get("Outputs", {})
        ]
        return {"Stacks": [{"StackName": StackName, "Outputs": outputs}]}

    def get_paginator(self, name: str) -> Any:
        assert name == "list_stack_resources"
        assert self.template is not None
        resources = [
            {
                "LogicalResourceId": logical,
                "PhysicalResourceId": f"physical-{logical}",
                "ResourceType": resource["Type"],
            }
            for logical, resource in self.template["Resources"].items()
        ]

        class Pages:
            def paginate(self, StackName: str) -> list[dict[str, Any]]:
                half = len(resources) // 2
                return [
                    {"StackResourceSummaries": resources[:half]},
                    {"StackResourceSummaries": resources[half:]},
                ]

        return Pages()


def test_every_name_comes_from_the_synthesized_stack(synth: Synth) -> None:
    stack = deployed_stack(FakeCloudFormation(synth.template), "InteractionLake")
    resources = synth.template["Resources"]

    def kind(physical: str) -> str:
        return str(resources[physical.removeprefix("physical-")]["Type"])

    assert kind(stack.bucket) == "AWS::S3::Bucket"
    for table in (stack.agents_table, stack.state_table, stack.audit_table):
        assert kind(table) == "AWS::DynamoDB::Table"
    assert len({stack.agents_table, stack.state_table, stack.audit_table}) == 3
    assert stack.agents_table.startswith("physical-TablesAgents")
    assert stack.state_table.startswith("physical-TablesProgramState")
    assert stack.audit_table.startswith("physical-TablesAudit")
    # the lake bucket is the one the ingest function writes to
    [ingest] = [
        f
        for f in synth.resources("AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "lambdas.ingest.handler.handler"
    ]
    lake = ingest["Properties"]["Environment"]["Variables"]["LAKE_BUCKET"]
    assert stack.bucket == f"physical-{lake['Ref']}"
    [output] = [key for key in synth.template["Outputs"] if key.startswith(API_OUTPUT)]
    assert stack.api_url == f"https://api.example/{output}/"


def test_each_declared_prefix_names_one_resource(synth: Synth) -> None:
    from ilake.deployed_stack import _cdk_id

    for prefix in STACK_RESOURCES.values():
        assert len([k for k in synth.template["Resources"] if _cdk_id(k, prefix)]) == 1, prefix


def test_a_missing_stack_or_resource_is_named(synth: Synth) -> None:
    with pytest.raises(StackNotFound, match="no stack 'Elsewhere'"):
        deployed_stack(FakeCloudFormation(None), "Elsewhere")
    template = {
        "Outputs": synth.template["Outputs"],
        "Resources": {
            k: r for k, r in synth.template["Resources"].items() if not k.startswith("TablesAudit")
        },
    }
    with pytest.raises(StackNotFound, match="lacks audit_table"):
        deployed_stack(FakeCloudFormation(template), "InteractionLake")
    with pytest.raises(StackNotFound, match=f"no {API_OUTPUT} output"):
        deployed_stack(FakeCloudFormation({"Resources": template["Resources"]}), "X")

"""Compaction in the synthesized template: an hourly rule per program, a function sized for a
large hour, and a role that can rewrite the lake's objects but never a program's state."""

from __future__ import annotations

import json

import pytest

from infra.compaction import HANDLER
from lambdas.adapters.text_store import COUNT_WRITES
from lambdas.core import resources
from lambdas.core.lake import program_prefix
from tests.support.synth import Synth

from .test_governance import (
    LAMBDA_LOGS,
    TABLES_KEY,
    as_list,
    grants,
    render,
    statements,
    table_id,
)
from .test_stack import PROGRAMS, lake_bucket, ref_id

pytestmark = pytest.mark.infra

COMPACTION_ACTIONS = (
    LAMBDA_LOGS
    | TABLES_KEY
    | {
        "s3:ListBucketVersions",
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:PutObject",
        "s3:DeleteObjectVersion",
        "kms:DescribeKey",
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
    }
)


def compaction(synth: Synth) -> tuple[str, dict]:  # type: ignore[type-arg]
    [(logical_id, props)] = [
        (k, f["Properties"])
        for k, f in synth.resources("AWS::Lambda::Function").items()
        if f["Properties"]["Handler"] == HANDLER
    ]
    return logical_id, props


def test_one_hourly_rule_per_program_after_the_grace_period(synth: Synth) -> None:
    function_id, _ = compaction(synth)
    inputs = set()
    for rule in synth.resources("AWS::Events::Rule").values():
        props = rule["Properties"]
        [target] = props["Targets"]
        if render(target["Arn"]) != function_id:
            continue
        assert props["ScheduleExpression"] == "cron(20 * * * ? *)"  # after the 15-minute grace
        assert target["RetryPolicy"] == {
            "MaximumRetryAttempts": 2,
            "MaximumEventAgeInSeconds": 3600,
        }
        inputs.add(json.loads(target["Input"])["program"])
    assert inputs == set(PROGRAMS)


def test_the_function_is_sized_for_a_large_hour(synth: Synth) -> None:
    _, props = compaction(synth)
    assert props["Timeout"] == 900
    assert props["MemorySize"] == 2048
    assert props["EphemeralStorage"] == {"Size": 8192}
    env = props["Environment"]["Variables"]
    assert render(env["LAKE_BUCKET"]) == lake_bucket(synth)[0]
    assert render(env["PROGRAM_STATE_TABLE"]) == table_id(synth, resources.PROGRAM_STATE)


def test_the_role_rewrites_objects_but_never_a_programs_state(synth: Synth) -> None:
    _, props = compaction(synth)
    role = ref_id(props["Role"])
    granted = grants(synth, role)
    assert set(granted) == COMPACTION_ACTIONS
    lake_id, _ = lake_bucket(synth)
    objects = {f"{lake_id}/{program_prefix(p)}*" for p in PROGRAMS}
    for action, where in granted.items():
        if action == "s3:ListBucketVersions":
            assert where == {lake_id}
        elif action.startswith("s3:"):
            assert where == objects, action
        elif action.startswith("dynamodb:"):
            state, texts = (
                table_id(synth, t) for t in (resources.PROGRAM_STATE, resources.COMMON_TEXTS)
            )
            assert where <= {state, texts}, action
    texts = table_id(synth, resources.COMMON_TEXTS)
    for statement in statements(synth, role):
        actions = set(as_list(statement["Action"]))
        tables = {render(r).split("/")[0] for r in as_list(statement["Resource"])}
        if actions & {"dynamodb:PutItem", "dynamodb:DeleteItem"} and texts not in tables:
            assert actions == {"dynamodb:PutItem", "dynamodb:DeleteItem"}
            leading = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
            assert leading == ["*#compaction"]  # its lease items, never a program's record
        elif texts in tables:
            # read texts, and mark texts common: never UpdateItem (a release writes a text), and
            # PutItem only of the attributes the count writes, never a text
            condition = statement["Condition"]["ForAllValues:StringEquals"]
            assert condition["dynamodb:LeadingKeys"] == sorted(PROGRAMS)
            if "dynamodb:PutItem" in actions:
                assert actions == {"dynamodb:PutItem"}
                assert condition["dynamodb:Attributes"] == list(COUNT_WRITES)
                assert "text" not in COUNT_WRITES
            else:
                assert actions == {"dynamodb:BatchGetItem", "dynamodb:GetItem"}
        if actions & {"kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"}:
            via = render(statement["Condition"]["StringEquals"]["kms:ViaService"])
            assert via.split(".")[0] in {"s3", "dynamodb"}


def test_a_failed_run_raises_an_alarm(synth: Synth) -> None:
    function_id, _ = compaction(synth)
    alarms = [
        a["Properties"]
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "Errors"
        and any(render(d["Value"]) == function_id for d in a["Properties"].get("Dimensions", []))
    ]
    assert len(alarms) == 1
    assert alarms[0]["AlarmActions"]

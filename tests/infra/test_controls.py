"""AWS's own controls on the synthesized app: Control Tower's Guard rules, the key policies' limit
on grants, the stage's method settings, and a stack that can be destroyed only when asked."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from infra.nag import GUARD_PLUGIN
from lambdas.core.names import key_alias
from tests.support.lake import REGION
from tests.support.synth import Synth

pytestmark = pytest.mark.infra

# What the design answers differently from Control Tower, each acknowledged with its reason on
# the resources concerned; the key-grant rule (CT.KMS.PR.3) is met, never acknowledged.
ACKNOWLEDGED_BY_DEFAULT = {
    "cloudwatch_log_group_retention_period_check",  # 90 days unless ilake:logRetentionDays
    "lambda_function_public_access_prohibited_check",  # SourceArn joined, unreadable to the rule
    "lambda_inside_vpc_check",
    "s3_bucket_default_encryption_kms_check",  # the access-log bucket: SSE-S3 only
    "s3_bucket_logging_enabled_check",  # the access-log bucket itself
    "s3_bucket_object_lock_enabled_check",
    "s3_event_notifications_enabled_check",
}
GRANT_RULE = "kms_create_grant_aws_service_check"
# what CDK's bucket-emptying handler must be able to do in every bucket
EMPTYING_ACTIONS = {"s3:DeleteObject*", "s3:GetBucket*", "s3:List*", "s3:PutBucketPolicy"}


def guard_report(built: Synth) -> dict[str, Any]:
    report = json.loads((built.outdir / "validation-report.json").read_text())
    [guard] = [p for p in report["pluginReports"] if p["pluginName"] == GUARD_PLUGIN]
    return dict(guard)


def acknowledged(built: Synth) -> dict[str, set[str]]:
    """Guard rule name -> the construct paths it is acknowledged on."""
    found: dict[str, set[str]] = {}
    for violation in guard_report(built)["suppressedViolations"]:
        paths = {c["constructPath"] for c in violation["violatingConstructs"]}
        found.setdefault(violation["ruleName"], set()).update(paths)
    return found


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# -- Control Tower's proactive controls --------------------------------------------------------


def test_control_tower_rules_run_and_only_the_design_choices_are_acknowledged(
    synth: Synth,
) -> None:
    guard = guard_report(synth)
    assert guard["violations"] == []
    assert set(acknowledged(synth)) == ACKNOWLEDGED_BY_DEFAULT
    for violation in guard["suppressedViolations"]:
        assert violation["acknowledgedId"] == f"{GUARD_PLUGIN}::{violation['ruleName']}"
        assert len(violation["reason"]) >= 60, violation["ruleName"]


def test_a_year_of_logs_meets_the_retention_control_without_an_acknowledgement(
    synth: Synth, opted_in: Synth
) -> None:
    log_groups = synth.resources("AWS::Logs::LogGroup")
    retention = "cloudwatch_log_group_retention_period_check"
    assert len(acknowledged(synth)[retention]) == len(log_groups)
    assert retention not in acknowledged(opted_in)
    for group in opted_in.resources("AWS::Logs::LogGroup").values():
        assert group["Properties"]["RetentionInDays"] == 365


def test_an_unacknowledged_guard_finding_fails_the_synth(tmp_path: Path) -> None:
    """With one finding acknowledged, CDK alone would pass the plugin whatever is left."""
    import aws_cdk as cdk
    from aws_cdk import aws_s3 as s3

    from infra.guard_rules import ControlTowerRules
    from infra.nag import acknowledge_guard

    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Probe")
    acknowledge_guard(
        s3.Bucket(stack, "Acknowledged"),
        "A probe: this bucket's findings are acknowledged, the other bucket's are not.",
        "s3_bucket_object_lock_enabled_check",
    )
    s3.Bucket(stack, "Unacknowledged")
    cdk.Validations.of(app).add_plugins(ControlTowerRules())
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    [guard] = report["pluginReports"]
    assert guard["conclusion"] == "failure"
    assert guard["suppressedViolations"]  # the acknowledgement held; the rest still fails


# -- key policies: grants only for AWS resources -------------------------------------------------


def program_key(built: Synth, program: str) -> str:
    """The logical id of a program's key, from its alias."""
    [alias] = [
        a["Properties"]
        for a in built.resources("AWS::KMS::Alias").values()
        if a["Properties"]["AliasName"] == key_alias(program)
    ]
    target = alias["TargetKeyId"]
    return str(target["Ref"] if "Ref" in target else target["Fn::GetAtt"][0])


def grant_denies(key: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s["Effect"] == "Deny" and "kms:CreateGrant" in _list(s["Action"])
    ]


def denied(statement: dict[str, Any], request: dict[str, bool]) -> bool:
    """Whether `statement` (BoolIfExists only) denies a CreateGrant with these context keys:
    every key of the operator must match, and an absent key matches (the IfExists)."""
    [(operator, keys)] = statement["Condition"].items()
    assert operator == "BoolIfExists"
    return all(
        name not in request or str(request[name]).lower() == value for name, value in keys.items()
    )


@pytest.mark.parametrize("which", ["synth", "opted_in"])
def test_every_key_policy_denies_grants_that_are_not_for_an_aws_resource(
    which: str, request: pytest.FixtureRequest
) -> None:
    built: Synth = request.getfixturevalue(which)
    keys = built.resources("AWS::KMS::Key")
    assert len(keys) >= 8  # two programs, lake default, tables, results, logs, history, alarms
    assert GRANT_RULE not in acknowledged(built)
    for logical_id, key in keys.items():
        [deny] = grant_denies(key)
        assert deny["Principal"] == {"AWS": "*"}, logical_id
        assert deny["Action"] == "kms:CreateGrant", logical_id  # nothing the services call
        assert deny["Resource"] == "*"
        # a role's own CreateGrant (no service in between) is refused ...
        assert denied(deny, {"aws:PrincipalIsAWSService": False})
        assert denied(
            deny, {"kms:GrantIsForAWSResource": False, "aws:PrincipalIsAWSService": False}
        )
        # ... a service's grant for a resource of its own (DynamoDB's, for the tables) and a
        # service principal's own call are not
        assert not denied(
            deny, {"kms:GrantIsForAWSResource": True, "aws:PrincipalIsAWSService": False}
        )
        assert not denied(deny, {"aws:PrincipalIsAWSService": True})


def test_the_keys_stay_usable_by_the_services_that_encrypt_with_them(synth: Synth) -> None:
    """The grant deny is the only deny in any key policy, and no role relies on grants."""
    for logical_id, key in synth.resources("AWS::KMS::Key").items():
        denies = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s["Effect"] == "Deny"]
        assert denies == grant_denies(key), logical_id
    for policy in synth.resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert "kms:CreateGrant" not in _list(statement["Action"])
    # CloudWatch Logs encrypts through the key policy itself, as a service principal
    [logs_key] = [k for k in synth.resources("AWS::KMS::Key") if k.startswith("RuntimeLogsKey")]
    statements = synth.resources("AWS::KMS::Key")[logs_key]["Properties"]["KeyPolicy"]["Statement"]
    [logs] = [s for s in statements if "logs." in json.dumps(s.get("Principal", {}))]
    assert logs["Effect"] == "Allow"
    assert {"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*"} <= set(_list(logs["Action"]))
    # DynamoDB's tables are on the tables key, whose grants DynamoDB creates for them
    tables_keys = {
        t["Properties"]["SSESpecification"]["KMSMasterKeyId"]["Fn::GetAtt"][0]
        for t in synth.resources("AWS::DynamoDB::Table").values()
    }
    assert len(tables_keys) == 1


def resolved(node: Any) -> Any:
    """A template value with its intrinsics turned into the strings an account would see."""
    pseudo = {"AWS::AccountId": "123456789012", "AWS::Partition": "aws", "AWS::Region": REGION}
    if isinstance(node, list):
        return [resolved(n) for n in node]
    if not isinstance(node, dict):
        return node
    if "Ref" in node:
        return pseudo.get(node["Ref"], node["Ref"])
    if "Fn::GetAtt" in node:
        return f"arn:aws:iam::123456789012:role/{node['Fn::GetAtt'][0]}"
    if "Fn::Join" in node:
        separator, parts = node["Fn::Join"]
        return separator.join(str(resolved(p)) for p in parts)
    return {k: resolved(v) for k, v in node.items()}


def test_moto_serves_the_lake_under_the_synthesized_key_policy(
    synth: Synth, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto reads a key policy only on DescribeKey, and only its unconditional denies: the call
    ingest makes to find a program's key. Under the program key's synthesized policy a batch is
    stored under that key; a policy denying every KMS call fails the same batch, so moto's check
    is live. Everything else of the policy (the grant refusal too) moto does not evaluate."""
    from ilake.simulate import make_batch
    from tests.support.api import gzip_event, invoke
    from tests.support.handlers import reset_handler_caches
    from tests.support.lake import lake_environment, provisioned_lake

    # the bundled program's key policy, on the key of the test program that collects everything
    key = synth.resources("AWS::KMS::Key")[program_key(synth, "menu-navigation")]
    policy = resolved(key["Properties"]["KeyPolicy"])
    program = "everything"
    deny_all = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"}],
    }
    environment = lake_environment()
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    statuses = {}
    with provisioned_lake(environment) as lake:
        for seed, (label, document) in enumerate((("synthesized", policy), ("deny all", deny_all))):
            reset_handler_caches()
            lake.clients.kms.put_key_policy(
                KeyId=lake.key_arns[program].split("/")[-1],
                PolicyName="default",
                Policy=json.dumps(document),
            )
            sent = make_batch(20, seed=seed, start_ms=int(time.time() * 1000) - 60_000)
            statuses[label], body, _ = invoke(gzip_event(program, sent))
            if label == "synthesized":
                head = lake.clients.s3.head_object(Bucket=lake.bucket, Key=body["object"])
                assert head["SSEKMSKeyId"] == lake.key_arns[program]
    reset_handler_caches()
    assert statuses == {"synthesized": 200, "deny all": 500}


# -- the stage's method settings -------------------------------------------------------------------


def test_every_method_setting_keeps_error_logging_and_detailed_metrics(synth: Synth) -> None:
    """A per-method override replaces the stage's settings for that method: each says them."""
    [stage] = synth.resources("AWS::ApiGateway::Stage").values()
    settings = stage["Properties"]["MethodSettings"]
    paths = {(s["ResourcePath"], s["HttpMethod"]) for s in settings}
    assert ("/*", "*") in paths
    assert ("/~1v1~1programs~1{program}~1batches", "POST") in paths
    for setting in settings:
        assert setting["LoggingLevel"] == "ERROR", setting["ResourcePath"]
        assert setting["DataTraceEnabled"] is False, setting["ResourcePath"]
        assert setting["MetricsEnabled"] is True, setting["ResourcePath"]


# -- destroy: emptied only when asked ------------------------------------------------------------


def emptied_buckets(built: Synth) -> set[str]:
    return {
        r["Properties"]["BucketName"]["Ref"]
        for r in built.resources("Custom::S3AutoDeleteObjects").values()
    }


def test_without_the_destroy_flag_nothing_empties_a_bucket(synth: Synth) -> None:
    assert emptied_buckets(synth) == set()
    assert not [k for k in synth.resources("AWS::Lambda::Function") if "AutoDeleteObjects" in k]
    for bucket in synth.resources("AWS::S3::Bucket").values():
        assert bucket["DeletionPolicy"] == "Retain"
    [workgroup] = synth.resources("AWS::Athena::WorkGroup").values()
    assert not workgroup["Properties"].get("RecursiveDeleteOption", False)


def test_with_the_destroy_flag_every_bucket_is_emptied_then_deleted(opted_in: Synth) -> None:
    buckets = opted_in.resources("AWS::S3::Bucket")
    assert emptied_buckets(opted_in) == set(buckets)
    for bucket in buckets.values():
        assert bucket["DeletionPolicy"] == "Delete"
    [workgroup] = opted_in.resources("AWS::Athena::WorkGroup").values()
    assert workgroup["Properties"]["RecursiveDeleteOption"] is True


def test_no_bucket_policy_stops_the_emptying_handler(opted_in: Synth) -> None:
    """Each bucket's policy allows the handler's role to list and delete every version, and none
    of its denies refuses that (the TLS denies aside, which the handler's HTTPS calls meet)."""
    [role] = [k for k in opted_in.resources("AWS::IAM::Role") if "AutoDeleteObjects" in k]
    tls = ({"Bool": {"aws:SecureTransport": "false"}}, {"NumericLessThan": {"s3:TlsVersion": 1.2}})
    policies = {
        p["Properties"]["Bucket"]["Ref"]: p["Properties"]["PolicyDocument"]["Statement"]
        for p in opted_in.resources("AWS::S3::BucketPolicy").values()
    }
    assert set(policies) == set(opted_in.resources("AWS::S3::Bucket"))
    for bucket, statements in policies.items():
        [allow] = [s for s in statements if role in json.dumps(s.get("Principal", {}))]
        assert allow["Effect"] == "Allow"
        assert set(_list(allow["Action"])) == EMPTYING_ACTIONS, bucket
        for deny in (s for s in statements if s["Effect"] == "Deny"):
            if deny.get("Condition") in tls:
                continue
            # the lake's key pinning and the like refuse writes only; the handler never writes
            assert set(_list(deny["Action"])) <= {"s3:PutObject"}, (bucket, deny)


def test_the_emptying_handler_carries_its_reasons(opted_in: Synth) -> None:
    [handler] = [
        r for k, r in opted_in.resources("AWS::Lambda::Function").items() if "AutoDelete" in k
    ]
    skips = {s["id"]: s["comment"] for s in handler["Metadata"]["checkov"]["skip"]}
    assert set(skips) == {"CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117"}
    [vpc] = [
        v
        for v in guard_report(opted_in)["suppressedViolations"]
        if v["ruleName"] == "lambda_inside_vpc_check"
        and any("AutoDeleteObjects" in c["constructPath"] for c in v["violatingConstructs"])
    ]
    assert "destroyData" in vpc["reason"]

"""Security properties of the synthesized template (moto cannot deploy it, so we read it)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra.nag import GUARD_PLUGIN
from lambdas.core import resources
from lambdas.core.analytics import named_queries
from lambdas.core.lake import INTERACTIONS, PARTITION_KEYS, glue_columns
from lambdas.core.names import KEY_ALIAS_PREFIX, secret_name
from lambdas.core.pipeline import Limits
from lambdas.core.programs import load_programs
from lambdas.core.settings import BUNDLED_PROGRAMS, limits_environment, limits_from_env
from tests.support.synth import Synth

pytestmark = pytest.mark.infra
PROGRAMS = load_programs(BUNDLED_PROGRAMS)


def ref_id(value: Any) -> str:
    """The logical id behind {"Ref": id} or {"Fn::GetAtt": [id, attr]}."""
    if "Ref" in value:
        return str(value["Ref"])
    return str(value["Fn::GetAtt"][0])


def program_keys(synth: Synth) -> dict[str, str]:
    """Program name -> logical id of its KMS key, from the aliases."""
    return {
        alias["Properties"]["AliasName"].removeprefix(KEY_ALIAS_PREFIX): ref_id(
            alias["Properties"]["TargetKeyId"]
        )
        for alias in synth.resources("AWS::KMS::Alias").values()
        if alias["Properties"]["AliasName"].startswith(KEY_ALIAS_PREFIX)
    }


def lake_bucket(synth: Synth) -> tuple[str, dict[str, Any]]:
    [(logical_id, bucket)] = [
        (k, b) for k, b in synth.resources("AWS::S3::Bucket").items() if "StorageLake" in k
    ]
    return logical_id, bucket["Properties"]


@pytest.mark.parametrize("which", ["synth", "opted_in"])
def test_validation_report_has_no_unacknowledged_findings(
    which: str, request: pytest.FixtureRequest
) -> None:
    built: Synth = request.getfixturevalue(which)
    report = json.loads((built.outdir / "validation-report.json").read_text())
    plugins = {p["pluginName"]: p for p in report["pluginReports"]}
    assert set(plugins) == {"AwsSolutions", "HIPAA.Security", GUARD_PLUGIN}
    for plugin in plugins.values():
        # the verdict alone is not enough: CDK passes a plugin whose remaining findings carry no
        # severity (infra/guard_rules.py), so the findings themselves must be none
        assert plugin["violations"] == [], plugin["pluginName"]
        assert plugin["conclusion"] == "success", plugin["pluginName"]


@pytest.mark.parametrize("which", ["synth", "opted_in"])
def test_every_acknowledgement_says_why(which: str, request: pytest.FixtureRequest) -> None:
    built: Synth = request.getfixturevalue(which)
    report = json.loads((built.outdir / "validation-report.json").read_text())
    suppressed = [v for p in report["pluginReports"] for v in p.get("suppressedViolations", [])]
    assert suppressed  # the acknowledgements are recorded, not silently dropped
    for violation in suppressed:
        assert len(violation["reason"]) >= 40, violation["ruleName"]


def _walk(node: Any) -> Any:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_one_rotated_key_and_one_encrypted_secret_per_program(synth: Synth) -> None:
    keys = program_keys(synth)
    assert set(keys) == set(PROGRAMS)
    all_keys = synth.resources("AWS::KMS::Key")
    for logical_id in keys.values():
        assert all_keys[logical_id]["Properties"]["EnableKeyRotation"] is True
        assert all_keys[logical_id]["DeletionPolicy"] == "Retain"
    secrets = {
        s["Properties"]["Name"]: s["Properties"]
        for s in synth.resources("AWS::SecretsManager::Secret").values()
    }
    for program, key_id in keys.items():
        secret = secrets[secret_name(program)]
        assert ref_id(secret["KmsKeyId"]) == key_id
        assert secret["GenerateSecretString"]["PasswordLength"] >= 32


def test_lake_bucket_is_secure_by_default(synth: Synth) -> None:
    logical_id, bucket = lake_bucket(synth)
    assert synth.template["Resources"][logical_id]["DeletionPolicy"] == "Retain"
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    [rule] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["BucketKeyEnabled"] is True
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert "DestinationBucketName" in bucket["LoggingConfiguration"]


def test_retention_really_deletes_per_program(synth: Synth) -> None:
    _, bucket = lake_bucket(synth)
    rules = {r["Id"]: r for r in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["abort-incomplete-uploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 1
    }
    for name, program in PROGRAMS.items():
        rule = rules[f"retention-{name}"]
        assert rule["Prefix"] == f"interactions/program={name}/"
        assert rule["ExpirationInDays"] == program.file.retention_days
        assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
        assert rule["Status"] == "Enabled"


def test_bucket_policy_requires_tls_kms_and_the_programs_own_key(synth: Synth) -> None:
    lake_id, _ = lake_bucket(synth)
    [policy] = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in synth.resources("AWS::S3::BucketPolicy").values()
        if ref_id(p["Properties"]["Bucket"]) == lake_id
    ]
    denies = [s for s in policy if s["Effect"] == "Deny"]
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)
    assert any(
        s["Condition"] == {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}
        for s in denies
    )
    keys = program_keys(synth)
    for name, key_id in keys.items():
        [statement] = [
            s
            for s in denies
            if s.get("Sid", "").startswith("DenyOtherKeys")
            and f"interactions/program={name}/*" in json.dumps(s["Resource"])
        ]
        key_arn = statement["Condition"]["StringNotEquals"][
            "s3:x-amz-server-side-encryption-aws-kms-key-id"
        ]
        assert ref_id(key_arn) == key_id


def test_tables_have_pitr_and_a_customer_managed_key(synth: Synth) -> None:
    tables = synth.resources("AWS::DynamoDB::Table")
    assert len(tables) == len(resources.TABLES) == 5
    for table in tables.values():
        props = table["Properties"]
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert props["SSESpecification"]["SSEEnabled"] is True
        assert props["SSESpecification"]["SSEType"] == "KMS"
        assert "KMSMasterKeyId" in props["SSESpecification"]
    ttl = [t["Properties"].get("TimeToLiveSpecification") for t in tables.values()]
    assert {"AttributeName": "expiration", "Enabled": True} in ttl


def test_glue_table_columns_are_the_parquet_schema(synth: Synth) -> None:
    [table] = synth.resources("AWS::Glue::Table").values()
    table_input = table["Properties"]["TableInput"]
    columns = table_input["StorageDescriptor"]["Columns"]
    assert [c["Name"] for c in columns] == INTERACTIONS.names
    assert columns == glue_columns()
    assert [(k["Name"], k["Type"]) for k in table_input["PartitionKeys"]] == list(PARTITION_KEYS)
    params = table_input["Parameters"]
    assert params["projection.enabled"] == "true"
    assert params["projection.program.values"].split(",") == sorted(PROGRAMS)
    assert params["projection.dt.type"] == "date"
    assert params["projection.hour.type"] == "integer"
    assert "program=${program}/dt=${dt}/hour=${hour}/" in json.dumps(
        params["storage.location.template"]
    )


def test_athena_workgroup_is_enforced_encrypted_and_capped(synth: Synth) -> None:
    [workgroup] = synth.resources("AWS::Athena::WorkGroup").values()
    config = workgroup["Properties"]["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["BytesScannedCutoffPerQuery"] == 10 * 1024**3
    encryption = config["ResultConfiguration"]["EncryptionConfiguration"]
    assert encryption["EncryptionOption"] == "SSE_KMS"
    queries = synth.resources("AWS::Athena::NamedQuery")
    assert len(queries) == len(named_queries()) == 5


def test_named_queries_are_published_with_marks_for_the_program_and_the_day(
    synth: Synth,
) -> None:
    """The console asks for the values; none is part of the saved SQL, and the description
    lists them in the order of the marks."""
    published = {
        q["Properties"]["Name"]: q["Properties"]
        for q in synth.resources("AWS::Athena::NamedQuery").values()
    }
    for name, query in named_queries().items():
        props = published[name]
        sql = props["QueryString"]
        assert "FROM interactions" in sql
        assert sql == query.positional_sql
        assert "{" not in sql
        assert not re.search(r"'(menu-navigation|shortcut-learning|\d{4}-\d{2}-\d{2})'", sql)
        assert sql.count("?") == len(query.parameters) >= 2
        assert props["Description"].startswith(query.description)
        assert props["Description"].endswith(": " + ", ".join(query.parameters))


@pytest.mark.parametrize("service", ["s3", "kms", "dynamodb", "secretsmanager"])
def test_no_iam_statement_grants_all_actions_on_a_data_service(synth: Synth, service: str) -> None:
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role"):
        for resource in synth.resources(kind).values():
            for statement in _walk(resource["Properties"]):
                if not (isinstance(statement, dict) and "Action" in statement):
                    continue
                if statement.get("Effect") != "Allow":
                    continue
                actions = statement["Action"]
                actions = [actions] if isinstance(actions, str) else actions
                assert "*" not in actions
                assert f"{service}:*" not in actions


def test_data_is_destroyed_only_with_the_explicit_flag(synth: Synth, opted_in: Synth) -> None:
    data_kinds = (
        "AWS::S3::Bucket",
        "AWS::KMS::Key",
        "AWS::DynamoDB::Table",
        "AWS::SecretsManager::Secret",
    )
    retained = {
        k
        for kind in data_kinds
        for k, r in synth.resources(kind).items()
        if r.get("DeletionPolicy") == "Retain"
    }
    # everything holding data or keys is retained, except the transient idempotency records
    assert {k for kind in data_kinds for k in synth.resources(kind)} - retained == {
        k for k in synth.resources("AWS::DynamoDB::Table") if "Idempotency" in k
    }
    for kind in data_kinds:
        for logical_id, resource in opted_in.resources(kind).items():
            assert resource.get("DeletionPolicy") == "Delete", logical_id


def test_functions_run_the_newest_python_on_arm_with_encrypted_env_and_logs(synth: Synth) -> None:
    functions = synth.resources("AWS::Lambda::Function")
    assert len(functions) == 5  # ingest, authorizer, governance purge and erase, compaction
    log_groups = synth.resources("AWS::Logs::LogGroup")
    for function in functions.values():
        props = function["Properties"]
        assert props["Runtime"] == "python3.14"
        assert props["Architectures"] == ["arm64"]
        assert "KmsKeyArn" in props
        assert len(props["Layers"]) == 1
        log_group = log_groups[ref_id(props["LoggingConfig"]["LogGroup"])]["Properties"]
        assert log_group["RetentionInDays"] == 90
        assert "KmsKeyId" in log_group
    for log_group in log_groups.values():
        assert "KmsKeyId" in log_group["Properties"]


def asset_dir(synth: Synth, code: dict[str, Any]) -> Any:
    """The staged asset directory behind a Code/Content property ({S3Key: '<hash>.zip'})."""
    return synth.outdir / f"asset.{code['S3Key'].removesuffix('.zip')}"


def test_function_and_layer_fit_lambdas_unzipped_limit(synth: Synth) -> None:
    from infra.runtime_layer import unzipped_size

    [ingest] = [
        f
        for f in synth.resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == "lambdas.ingest.handler.handler"
    ]
    [layer] = synth.resources("AWS::Lambda::LayerVersion").values()
    code_dir = asset_dir(synth, ingest["Properties"]["Code"])
    layer_dir = asset_dir(synth, layer["Properties"]["Content"])
    assert (layer_dir / "python" / "pyarrow").is_dir()
    assert (layer_dir / "python" / "msgspec").is_dir()
    assert (layer_dir / "python" / "phonenumbers" / "data").is_dir()  # the redactor's plans
    assert not (layer_dir / "python" / "phonenumbers" / "geodata").exists()  # 40 MB, unused
    assert not (layer_dir / "python" / "boto3").exists()  # the runtime provides the SDK
    total = unzipped_size(code_dir) + unzipped_size(layer_dir)
    assert total < 250 * 1024**2, total


def test_every_function_runs_one_asset_of_the_server_the_programs_and_the_contract(
    synth: Synth,
) -> None:
    functions = synth.resources("AWS::Lambda::Function").values()
    [code] = {json.dumps(f["Properties"]["Code"], sort_keys=True) for f in functions}
    code_dir = asset_dir(synth, json.loads(code))
    # at the top, where the handlers import them from: nothing else of the repository
    assert sorted(p.name for p in code_dir.iterdir()) == ["ilake_contract", "lambdas", "programs"]
    assert (code_dir / "ilake_contract" / "schema.py").is_file()
    assert (code_dir / "ilake_contract" / "redact.py").is_file()
    assert (code_dir / "lambdas" / "ingest" / "handler.py").is_file()
    assert (code_dir / "programs" / "menu-navigation.toml").is_file()
    assert not list(code_dir.rglob("__pycache__"))


def test_api_is_authorized_validated_throttled_logged_and_traced(synth: Synth) -> None:
    [authorizer] = synth.resources("AWS::ApiGateway::Authorizer").values()
    assert authorizer["Properties"]["Type"] == "REQUEST"
    assert authorizer["Properties"]["IdentitySource"] == "method.request.header.Authorization"
    assert authorizer["Properties"]["AuthorizerResultTtlInSeconds"] == 300
    methods = synth.resources("AWS::ApiGateway::Method")
    routed = [
        m["Properties"] for m in methods.values() if m["Properties"]["HttpMethod"] != "OPTIONS"
    ]
    assert {m["HttpMethod"] for m in routed} == {"POST", "GET"}
    for method in routed:
        assert method["AuthorizationType"] == "CUSTOM"
        assert "RequestValidatorId" in method
        assert method["RequestParameters"]["method.request.header.Authorization"] is True
    [stage] = synth.resources("AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert props["TracingEnabled"] is True
    assert "DestinationArn" in props["AccessLogSetting"]
    for setting in props["MethodSettings"]:
        assert setting.get("DataTraceEnabled", False) is False  # bodies never logged
        assert setting["ThrottlingRateLimit"] == 200
        assert setting["ThrottlingBurstLimit"] == 400
    [api] = synth.resources("AWS::ApiGateway::RestApi").values()
    assert "application/json" in api["Properties"]["BinaryMediaTypes"]


def test_ingest_may_only_put_objects_under_program_prefixes(synth: Synth) -> None:
    s3_actions = set()
    for policy in synth.resources("AWS::IAM::Policy").values():
        if "IngestIngestRole" not in json.dumps(policy["Properties"]["Roles"]):
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            for action in [actions] if isinstance(actions, str) else actions:
                if action.startswith("s3:"):
                    s3_actions.add(action)
                    assert all(
                        "/interactions/program=" in json.dumps(r) for r in statement["Resource"]
                    )
    assert s3_actions == {"s3:PutObject"}


def test_ingest_reads_and_releases_only_the_declared_programs_common_texts(synth: Synth) -> None:
    [texts] = [
        k for k in synth.resources("AWS::DynamoDB::Table") if k.startswith("TablesCommonTexts")
    ]
    found = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        if "IngestIngestRole" not in json.dumps(policy["Properties"]["Roles"]):
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if texts in json.dumps(statement["Resource"]):
                found.append(statement)
    [statement] = found
    # look up, read the mark, release a common text (a conditional update); never put or delete
    assert sorted(statement["Action"]) == [
        "dynamodb:BatchGetItem",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
    ]
    leading = statement["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"]
    assert leading == sorted(PROGRAMS)


def test_waf_is_opt_in_with_a_rate_based_rule(synth: Synth, opted_in: Synth) -> None:
    assert synth.resources("AWS::WAFv2::WebACL") == {}
    [acl] = opted_in.resources("AWS::WAFv2::WebACL").values()
    [rule] = acl["Properties"]["Rules"]
    assert rule["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP"
    assert opted_in.resources("AWS::WAFv2::WebACLAssociation")


def test_alarms_notify_an_encrypted_topic(synth: Synth) -> None:
    [(topic_id, topic)] = synth.resources("AWS::SNS::Topic").items()
    assert "KmsMasterKeyId" in topic["Properties"]
    [policy] = [
        p
        for p in synth.resources("AWS::SNS::TopicPolicy").values()
        if topic_id in json.dumps(p["Properties"]["Topics"])
    ]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    )
    alarms = synth.resources("AWS::CloudWatch::Alarm")
    names = set(alarms)
    for program in PROGRAMS:
        suffix = "".join(part.capitalize() for part in program.split("-"))
        assert any(f"RejectedRatio{suffix}" in n for n in names)
        assert any(f"RedactionSpike{suffix}" in n for n in names)
    for expected in (
        "Api5xx",
        "ApiRefusedSpike",
        "IngestErrors",
        "IngestDuration",
        "AuthorizerErrors",
        "IngestThrottles",
        "AuthorizerDenialSpike",
    ):
        assert any(expected in n for n in names), expected
    for alarm in alarms.values():
        assert [ref_id(a) for a in alarm["Properties"]["AlarmActions"]] == [topic_id]
    assert len(synth.resources("AWS::CloudWatch::Dashboard")) == 1


def _statements(synth: Synth, role_fragment: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in synth.resources("AWS::IAM::Policy").values()
        if role_fragment in json.dumps(policy["Properties"]["Roles"])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for statement in statements:
        actions = statement["Action"]
        found.update([actions] if isinstance(actions, str) else actions)
    return found


def test_analysts_query_but_never_read_secrets_or_write_the_lake(synth: Synth) -> None:
    actions = _actions(_statements(synth, "AccessAnalyst"))
    assert "athena:StartQueryExecution" in actions
    assert "s3:GetObject" in actions
    assert not {a for a in actions if a.startswith("secretsmanager:")}
    assert not {a for a in actions if a.startswith("dynamodb:")}
    lake_writes = [
        s
        for s in _statements(synth, "AccessAnalyst")
        if "s3:PutObject" in _actions([s]) and "StorageLake" in json.dumps(s["Resource"])
    ]
    assert lake_writes == []


def test_operators_cannot_touch_program_keys_outside_the_workflows(synth: Synth) -> None:
    """Disabling, enabling and shredding keys happen only inside the audited workflows."""
    destructive = {"kms:DisableKey", "kms:EnableKey", "kms:ScheduleKeyDeletion"}
    assert not destructive & _actions(_statements(synth, "AccessGovernance"))
    holders = {
        logical_id
        for logical_id, policy in synth.resources("AWS::IAM::Policy").items()
        if destructive & _actions(policy["Properties"]["PolicyDocument"]["Statement"])
    }
    assert holders
    assert all(h.startswith("Governance") and "WorkflowRole" in h for h in holders), holders


def test_custom_domain_is_opt_in_and_requires_tls_1_2(synth: Synth, opted_in: Synth) -> None:
    assert synth.resources("AWS::ApiGateway::DomainName") == {}
    [domain] = opted_in.resources("AWS::ApiGateway::DomainName").values()
    assert domain["Properties"]["SecurityPolicy"] == "TLS_1_2"
    assert domain["Properties"]["DomainName"] == "ingest.example.com"


def test_key_policies_name_who_may_do_what(synth: Synth) -> None:
    keys = synth.resources("AWS::KMS::Key")
    for program, key_id in program_keys(synth).items():
        statements = {s.get("Sid"): s for s in keys[key_id]["Properties"]["KeyPolicy"]["Statement"]}
        write = statements["LakeWrite"]
        assert "IngestIngestRole" in json.dumps(write["Principal"])
        assert set(write["Action"]) == {"kms:GenerateDataKey", "kms:Decrypt"}
        assert "kms:ViaService" in write["Condition"]["StringEquals"]
        assert "kms:EncryptionContext:aws:s3:arn" in write["Condition"]["StringLike"]
        read = statements["LakeRead"]
        assert "AccessAnalyst" in json.dumps(read["Principal"])
        assert read["Action"] == "kms:Decrypt"
        assert "Governance" not in statements, program


def test_a_throttled_agent_is_told_when_to_retry(synth: Synth) -> None:
    [response] = [
        r["Properties"]
        for r in synth.resources("AWS::ApiGateway::GatewayResponse").values()
        if r["Properties"]["ResponseType"] == "THROTTLED"
    ]
    assert response["ResponseParameters"] == {"gatewayresponse.header.Retry-After": "'1'"}


def test_the_ingest_function_runs_with_the_default_limits(synth: Synth) -> None:
    """Its environment, parsed as the runtime parses it, gives back `Limits()`."""
    [ingest] = [
        fn["Properties"]
        for fn in synth.resources("AWS::Lambda::Function").values()
        if fn["Properties"].get("Handler") == "lambdas.ingest.handler.handler"
    ]
    variables = ingest["Environment"]["Variables"]
    assert set(limits_environment()) <= set(variables)
    assert limits_from_env(variables) == Limits()

"""The governance workflows in the synthesized template (docs/governance.md).

The state machines are built from the very ASL files local mode runs on moto: the drift test
reads the definition CDK staged for each one, fills in the template's substitutions (logical ids
stand in for Refs and GetAtts) and compares with the file, and with local mode's rendering of it.
The IAM tests pin each role to exactly the calls its ASL file or handler makes.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from ilake.workflows import definition as local_definition
from lambdas.core import resources
from lambdas.core.lake import program_prefix
from lambdas.core.names import KEY_ALIAS_PREFIX, SECRET_NAME_PREFIX
from tests.support.synth import Synth

from .test_stack import PROGRAMS, lake_bucket, program_keys, ref_id

pytestmark = pytest.mark.infra

PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
# What CDK adds to a state machine's role for logging level ALL and for X-Ray tracing
LOG_DELIVERY_AND_TRACING = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
}
TABLES_KEY = {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"}  # via DynamoDB only
STATE_AND_AUDIT = {"dynamodb:UpdateItem", "dynamodb:PutItem"}
WORKFLOW_ACTIONS = {
    "pause": {"kms:DescribeKey", "kms:DisableKey"},
    "resume": {"kms:DescribeKey", "kms:EnableKey"},
    "purge": {
        "kms:DescribeKey",
        "kms:ScheduleKeyDeletion",
        "secretsmanager:DeleteSecret",
        "s3:ListBucketVersions",
        "lambda:InvokeFunction",
        "dynamodb:Query",  # verifies that no common-text item is left
    },
    "erase-subject": {"lambda:InvokeFunction"},
}
LAMBDA_LOGS = {"logs:CreateLogStream", "logs:PutLogEvents"}
FUNCTION_ACTIONS = {
    "PurgeFunction": LAMBDA_LOGS
    | TABLES_KEY
    | {
        "s3:ListBucketVersions",
        "s3:DeleteObjectVersion",
        "dynamodb:UpdateItem",
        "dynamodb:Query",
        "dynamodb:BatchWriteItem",
    },
    "EraseFunction": LAMBDA_LOGS
    | {
        "dynamodb:GetItem",  # known: is the subject suppressed already
        "s3:ListBucketVersions",
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:PutObject",
        "s3:DeleteObjectVersion",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "kms:DescribeKey",
        "secretsmanager:GetSecretValue",
    },
}


# -- reading the template --------------------------------------------------------------------


def render(value: Any) -> str:
    """A template value as text: Ref and GetAtt become the logical id, pseudo parameters
    <AWS::Name>, Fn::Join is joined."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        name = str(value["Ref"])
        return f"<{name}>" if name.startswith("AWS::") else name
    if "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(render(part) for part in parts)
    raise AssertionError(f"unexpected intrinsic {value}")


def machines(synth: Synth) -> dict[str, tuple[str, dict[str, Any]]]:
    """Workflow -> (logical id, properties) of its state machine, found by name."""
    by_name = {
        r["Properties"]["StateMachineName"]: (k, r["Properties"])
        for k, r in synth.resources("AWS::StepFunctions::StateMachine").items()
    }
    return {w: by_name[resources.state_machine_name(w)] for w in resources.WORKFLOWS}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(synth: Synth, role_id: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def grants(synth: Synth, role_id: str) -> dict[str, set[str]]:
    """Action -> every resource (rendered) the role is allowed it on."""
    found: dict[str, set[str]] = {}
    for statement in statements(synth, role_id):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            found.setdefault(action, set()).update(
                render(r) for r in as_list(statement["Resource"])
            )
    return found


def workflow_role(synth: Synth, workflow: str) -> str:
    return ref_id(machines(synth)[workflow][1]["RoleArn"])


def function(synth: Synth, placeholder: str) -> tuple[str, dict[str, Any]]:
    [(logical_id, props)] = [
        (k, f["Properties"])
        for k, f in synth.resources("AWS::Lambda::Function").items()
        if f["Properties"]["Handler"] == resources.GOVERNANCE_HANDLERS[placeholder]
    ]
    return logical_id, props


def table_id(synth: Synth, declared: resources.TableDeclaration) -> str:
    [logical_id] = [
        k for k in synth.resources("AWS::DynamoDB::Table") if k.startswith(f"Tables{declared.role}")
    ]
    return logical_id


def role_id(synth: Synth, fragment: str) -> str:
    [logical_id] = [k for k in synth.resources("AWS::IAM::Role") if k.startswith(fragment)]
    return logical_id


def tables_key_id(synth: Synth) -> str:
    [logical_id] = [k for k in synth.resources("AWS::KMS::Key") if k.startswith("TablesTablesKey")]
    return logical_id


def history_key_id(synth: Synth) -> str:
    [logical_id] = [
        k for k in synth.resources("AWS::KMS::Key") if k.startswith("GovernanceHistory")
    ]
    return logical_id


def expected_tokens(synth: Synth) -> dict[str, str]:
    """Each placeholder -> what the template must give it (logical ids for references)."""
    lake_id, _ = lake_bucket(synth)
    return {
        **resources.workflow_substitutions(
            programs=PROGRAMS,
            program_state_table=table_id(synth, resources.PROGRAM_STATE),
            audit_table=table_id(synth, resources.AUDIT),
            lake_bucket=lake_id,
            key_alias_prefix=KEY_ALIAS_PREFIX,
            secret_prefix=SECRET_NAME_PREFIX,
            common_texts_table=table_id(synth, resources.COMMON_TEXTS),
        ),
        **{p: function(synth, p)[0] for p in resources.GOVERNANCE_HANDLERS},
    }


# -- the state machines ----------------------------------------------------------------------


def test_one_standard_state_machine_per_workflow_named_as_the_cli_finds_them(
    synth: Synth,
) -> None:
    found = machines(synth)
    assert len(synth.resources("AWS::StepFunctions::StateMachine")) == len(resources.WORKFLOWS) == 4
    for _, props in found.values():
        assert props["StateMachineType"] == "STANDARD"
    roles = {workflow_role(synth, w) for w in resources.WORKFLOWS}
    assert len(roles) == 4  # one role per state machine


def test_every_step_is_logged_without_execution_data_to_an_encrypted_group(synth: Synth) -> None:
    log_groups = synth.resources("AWS::Logs::LogGroup")
    for _, props in machines(synth).values():
        logging = props["LoggingConfiguration"]
        assert logging["Level"] == "ALL"
        # an erase's input holds the subject's raw name: it must never reach the logs
        assert logging["IncludeExecutionData"] is False
        [destination] = logging["Destinations"]
        group = log_groups[ref_id(destination["CloudWatchLogsLogGroup"]["LogGroupArn"])]
        assert "KmsKeyId" in group["Properties"]
        assert group["Properties"]["RetentionInDays"] == 90


def test_every_state_machine_is_traced(synth: Synth) -> None:
    for _, props in machines(synth).values():
        assert props["TracingConfiguration"] == {"Enabled": True}


def test_execution_history_is_encrypted_with_a_key_of_our_own(synth: Synth) -> None:
    """An erase-subject input names the person; its history is kept 90 days."""
    key = history_key_id(synth)
    assert synth.resources("AWS::KMS::Key")[key]["Properties"]["EnableKeyRotation"] is True
    for _, props in machines(synth).values():
        config = props["EncryptionConfiguration"]
        assert config["Type"] == "CUSTOMER_MANAGED_KMS_KEY"
        assert ref_id(config["KmsKeyId"]) == key
    operators = grants(synth, role_id(synth, "AccessGovernance"))
    assert key in operators["kms:Decrypt"]
    assert key in operators["kms:GenerateDataKey"]


@pytest.mark.parametrize("workflow", resources.WORKFLOWS)
def test_definition_is_the_asl_file_with_the_declared_substitutions(
    synth: Synth, workflow: str
) -> None:
    """Drift: the CDK app deploys the very file local mode runs, with the same placeholders."""
    _, props = machines(synth)[workflow]
    source = (resources.WORKFLOWS_DIR / f"{workflow}.asl.json").read_text()
    staged = synth.outdir / f"asset.{props['DefinitionS3Location']['Key']}"
    assert staged.read_text() == source  # deployed as is, no rewriting by CDK
    assert "DefinitionString" not in props
    substitutions = {k: render(v) for k, v in props["DefinitionSubstitutions"].items()}
    placeholders = set(PLACEHOLDER.findall(source))
    assert set(substitutions) == placeholders  # every placeholder filled, nothing extra
    tokens = expected_tokens(synth)
    deployed = PLACEHOLDER.sub(lambda m: substitutions[m.group(1)], staged.read_text())
    expected = PLACEHOLDER.sub(lambda m: tokens[m.group(1)], source)
    assert deployed == expected
    # local mode's rendering of the same file with the same values is the same definition
    local = local_definition(workflow, {k: tokens[k] for k in placeholders})
    assert json.loads(deployed) == json.loads(local)


# -- what each state machine may do ----------------------------------------------------------


def _task_actions(states: dict[str, Any]) -> set[str]:
    """The IAM actions the Task states of an ASL definition call."""
    found: set[str] = set()
    for state in states.values():
        if state["Type"] == "Task":
            service_api = state["Resource"].split(":::", 1)[1]
            service_api = service_api.removeprefix("aws-sdk:").split(".")[0]
            service, api = service_api.split(":")
            action = f"{service}:{api[0].upper()}{api[1:]}"
            found.add(
                {
                    "lambda:Invoke": "lambda:InvokeFunction",
                    "s3:ListObjectVersions": "s3:ListBucketVersions",
                }.get(action, action)
            )
        branches = [state.get("ItemProcessor") or state.get("Iterator"), *state.get("Branches", [])]
        for branch in filter(None, branches):
            found |= _task_actions(branch["States"])
    return found


@pytest.mark.parametrize("workflow", resources.WORKFLOWS)
def test_each_role_may_call_exactly_what_its_file_calls(synth: Synth, workflow: str) -> None:
    granted = set(grants(synth, workflow_role(synth, workflow)))
    expected = LOG_DELIVERY_AND_TRACING | STATE_AND_AUDIT | TABLES_KEY | WORKFLOW_ACTIONS[workflow]
    assert granted == expected
    definition = json.loads((resources.WORKFLOWS_DIR / f"{workflow}.asl.json").read_text())
    called = _task_actions(definition["States"])
    assert called == granted - LOG_DELIVERY_AND_TRACING - TABLES_KEY


@pytest.mark.parametrize("workflow", resources.WORKFLOWS)
def test_each_role_is_scoped_to_the_resources_its_file_names(synth: Synth, workflow: str) -> None:
    granted = grants(synth, workflow_role(synth, workflow))
    keys = set(program_keys(synth).values())
    lake_id, _ = lake_bucket(synth)
    for action, where in granted.items():
        if action in LOG_DELIVERY_AND_TRACING:
            assert where == {"*"}  # these APIs take no resource (acknowledged with a reason)
        elif action == "dynamodb:UpdateItem":
            assert where == {table_id(synth, resources.PROGRAM_STATE)}
        elif action == "dynamodb:PutItem":
            assert where == {table_id(synth, resources.AUDIT)}
        elif action == "dynamodb:Query":
            assert where == {table_id(synth, resources.COMMON_TEXTS)}
        elif action in TABLES_KEY:  # the tables' key via DynamoDB, the history key via SFN
            assert where <= {tables_key_id(synth), history_key_id(synth)}
        elif action.startswith("kms:"):
            assert where == keys
        elif action == "secretsmanager:DeleteSecret":
            secrets = synth.resources("AWS::SecretsManager::Secret")
            assert where == set(secrets)
        elif action == "s3:ListBucketVersions":
            assert where == {lake_id}
        elif action == "lambda:InvokeFunction":
            placeholder = "PurgeFunction" if workflow == "purge" else "EraseFunction"
            assert where == {function(synth, placeholder)[0]}
        else:
            raise AssertionError(f"{workflow}: unexpected {action}")
    for statement in statements(synth, workflow_role(synth, workflow)):
        actions = set(as_list(statement["Action"]))
        if actions & TABLES_KEY and ref_id(statement["Resource"]) == tables_key_id(synth):
            assert list(statement["Condition"]["StringEquals"]) == ["kms:ViaService"]
            assert "dynamodb." in render(statement["Condition"]["StringEquals"]["kms:ViaService"])
        elif actions & TABLES_KEY:  # the history key, for this state machine's own executions
            condition = statement["Condition"]["StringEquals"]
            assert condition  # bound to an encryption context: never the key at large
            assert set(condition) <= {
                "kms:EncryptionContext:aws:states:stateMachineArn",
                "kms:EncryptionContext:SourceArn",
            }
        if "s3:ListBucketVersions" in actions:
            prefixes = statement["Condition"]["StringLike"]["s3:prefix"]
            assert sorted(prefixes) == sorted(f"{program_prefix(p)}*" for p in PROGRAMS)


def test_only_purge_destroys_and_only_pause_and_resume_toggle_keys(synth: Synth) -> None:
    granted = {w: set(grants(synth, workflow_role(synth, w))) for w in resources.WORKFLOWS}
    assert "kms:ScheduleKeyDeletion" not in granted["pause"]
    assert [w for w, a in granted.items() if "kms:ScheduleKeyDeletion" in a] == ["purge"]
    assert [w for w, a in granted.items() if "secretsmanager:DeleteSecret" in a] == ["purge"]
    assert [w for w, a in granted.items() if "kms:DisableKey" in a] == ["pause"]
    assert [w for w, a in granted.items() if "kms:EnableKey" in a] == ["resume"]
    # nowhere else in the stack may anything delete a program's secret
    deleters = [
        k
        for k, p in synth.resources("AWS::IAM::Policy").items()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if "secretsmanager:DeleteSecret" in as_list(s["Action"])
    ]
    assert len(deleters) == 1
    assert deleters[0].startswith("GovernancePurgeWorkflowRole")


def test_the_audit_trail_is_append_only_for_every_role(synth: Synth) -> None:
    audit = table_id(synth, resources.AUDIT)
    on_audit: set[str] = set()
    for policy in synth.resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if any(audit in render(r) for r in as_list(statement["Resource"])):
                on_audit |= set(as_list(statement["Action"]))
    assert on_audit == {"dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan"}  # no update


# -- what each governance Lambda may do ------------------------------------------------------


@pytest.mark.parametrize("placeholder", sorted(resources.GOVERNANCE_HANDLERS))
def test_each_function_may_call_exactly_what_its_handler_calls(
    synth: Synth, placeholder: str
) -> None:
    _, props = function(synth, placeholder)
    role = ref_id(props["Role"])
    granted = grants(synth, role)
    assert set(granted) == FUNCTION_ACTIONS[placeholder]
    lake_id, _ = lake_bucket(synth)
    objects = {f"{lake_id}/{program_prefix(p)}*" for p in PROGRAMS}
    for action, where in granted.items():
        if action == "s3:ListBucketVersions":
            assert where == {lake_id}
        elif action.startswith("s3:"):
            assert where == objects, action  # never outside interactions/program=<p>/
        elif action in ("dynamodb:Query", "dynamodb:BatchWriteItem"):  # purge's common texts
            assert where == {table_id(synth, resources.COMMON_TEXTS)}
        elif action.startswith("dynamodb:"):
            assert where == {table_id(synth, resources.PROGRAM_STATE)}
        elif action == "secretsmanager:GetSecretValue":
            assert where == set(synth.resources("AWS::SecretsManager::Secret"))
    for statement in statements(synth, role):
        actions = set(as_list(statement["Action"]))
        if actions & {"kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"}:
            via = render(statement["Condition"]["StringEquals"]["kms:ViaService"])
            assert via.split(".")[0] in {"s3", "secretsmanager", "dynamodb"}
        if "s3:ListBucketVersions" in actions:
            assert "s3:prefix" in statement["Condition"]["StringLike"]


def test_functions_share_the_ingest_code_and_layer(synth: Synth) -> None:
    functions = synth.resources("AWS::Lambda::Function")
    [ingest] = [
        f["Properties"]
        for f in functions.values()
        if f["Properties"]["Handler"] == "lambdas.ingest.handler.handler"
    ]
    for placeholder in resources.GOVERNANCE_HANDLERS:
        _, props = function(synth, placeholder)
        assert props["Code"]["S3Key"] == ingest["Code"]["S3Key"]
        assert props["Layers"] == ingest["Layers"]
        assert props["Runtime"] == ingest["Runtime"]
        assert props["Architectures"] == ["arm64"]
        assert "KmsKeyArn" in props
        assert render(props["Environment"]["Variables"]["LAKE_BUCKET"]) == lake_bucket(synth)[0]


def test_bucket_policy_lets_purge_and_erase_do_their_work(synth: Synth) -> None:
    """Deletes of versions are never denied; re-puts are denied only without SSE-KMS under the
    program's own key, which the erase handler always sets."""
    lake_id, _ = lake_bucket(synth)
    [policy] = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in synth.resources("AWS::S3::BucketPolicy").values()
        if ref_id(p["Properties"]["Bucket"]) == lake_id
    ]
    for statement in policy:
        if statement["Effect"] != "Deny":
            continue
        actions = set(as_list(statement["Action"]))
        if actions == {"s3:*"}:  # TLS only, TLS 1.2 minimum: transport, not content
            assert set(statement["Condition"]) <= {"Bool", "NumericLessThan"}
            continue
        assert actions == {"s3:PutObject"}
        assert set(statement["Condition"]["StringNotEquals"]) <= {
            "s3:x-amz-server-side-encryption",
            "s3:x-amz-server-side-encryption-aws-kms-key-id",
        }


# -- who may run them ------------------------------------------------------------------------


def test_governance_role_runs_follows_and_approves_the_workflows(synth: Synth) -> None:
    governance = role_id(synth, "AccessGovernance")
    granted = grants(synth, governance)
    ids = {w: k for w, (k, _) in machines(synth).items()}
    assert granted["states:StartExecution"] == set(ids.values())
    executions = {
        "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
        f"{resources.state_machine_name(w)}:*"
        for w in resources.WORKFLOWS
    }
    assert granted["states:DescribeExecution"] == executions
    assert granted["states:GetExecutionHistory"] == executions
    assert granted["states:SendTaskSuccess"] == {ids["purge"]}
    assert granted["states:SendTaskFailure"] == {ids["purge"]}
    assert granted["dynamodb:GetItem"] == {table_id(synth, resources.PROGRAM_STATE)}
    assert granted["dynamodb:Query"] == {table_id(synth, resources.AUDIT)}
    assert granted["dynamodb:Scan"] == {
        table_id(synth, resources.PROGRAM_STATE),
        table_id(synth, resources.AUDIT),
    }
    dynamodb = {a for a in granted if a.startswith("dynamodb:")}
    assert dynamodb == {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"}  # reads only
    assert granted["states:ListStateMachines"] == {"*"}
    kms_actions = {a: w for a, w in granted.items() if a.startswith("kms:")}
    assert set(kms_actions) == {"kms:Decrypt", "kms:GenerateDataKey"}  # no key administration
    assert kms_actions["kms:GenerateDataKey"] == {history_key_id(synth)}  # to start executions
    assert not {a for a in granted if a.startswith(("secretsmanager:", "s3:"))}
    trust = synth.template["Resources"][governance]["Properties"]["AssumeRolePolicyDocument"]
    [statement] = trust["Statement"]
    assert render(statement["Principal"]["AWS"]).endswith(":root")  # people, not a service


def test_analysts_cannot_run_or_answer_the_workflows(synth: Synth) -> None:
    granted = grants(synth, role_id(synth, "AccessAnalyst"))
    assert not {a for a in granted if a.startswith("states:")}
    assert not {a for a in granted if a.startswith("dynamodb:")}
    assert not {a for a in granted if a.startswith("lambda:")}

"""Local mode provisions what the CDK app declares: no drift between the two.

See docs/design.md#one-source-of-truth.

Both sides build from lambdas.core.resources, the lake's Arrow schema and the query files; this
test compares what they *produce*: the synthesized template against what `ilake.provision`
creates in moto with local mode's resource names. Bucket-specific strings differ by
construction, so template references to the lake bucket are resolved to the local bucket's name
before comparing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ilake.local import REGION, RESOURCE_NAMES
from ilake.provision import Clients, provision
from infra.config import AppConfig, load_context
from lambdas.core.names import KEY_ALIAS_PREFIX
from lambdas.core.resources import TABLES
from lambdas.core.settings import Settings
from tests.support.synth import Synth

pytestmark = pytest.mark.infra
DECLARED = {table.role: table for table in TABLES}


@dataclass(frozen=True)
class Local:
    """What local mode's provisioning created in moto, read back through the AWS APIs."""

    bucket: str
    tables: dict[str, dict[str, Any]]  # table name -> describe_table + "Ttl"
    aliases: dict[str, str]  # alias -> key ARN
    keys: set[str]  # customer-managed key ARNs
    secrets: dict[str, str]  # secret name -> KMS key ARN (aliases resolved)
    databases: dict[str, dict[str, Any]]
    glue_tables: dict[tuple[str, str], dict[str, Any]]  # (database, table) -> get_table
    workgroups: dict[str, dict[str, Any]]
    named_queries: list[dict[str, Any]]


@pytest.fixture(scope="module")
def local() -> Local:
    programs = AppConfig.from_context(load_context()).programs  # what the synth used
    settings = Settings.from_env(RESOURCE_NAMES)
    with mock_aws():
        c = Clients.create(boto3.Session(region_name=REGION))
        provision(c, RESOURCE_NAMES, programs, region=REGION)
        tables = {}
        for name in c.dynamodb.list_tables()["TableNames"]:
            tables[name] = c.dynamodb.describe_table(TableName=name)["Table"]
            ttl = c.dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
            tables[name]["Ttl"] = ttl
        aliases = {
            a["AliasName"]: c.kms.describe_key(KeyId=a["TargetKeyId"])["KeyMetadata"]["Arn"]
            for a in c.kms.list_aliases()["Aliases"]
            if "TargetKeyId" in a and not a["AliasName"].startswith("alias/aws/")
        }
        keys = {
            meta["Arn"]
            for k in c.kms.list_keys()["Keys"]
            if (meta := c.kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"])["KeyManager"]
            == "CUSTOMER"
        }
        secrets = {
            s["Name"]: c.kms.describe_key(KeyId=s["KmsKeyId"])["KeyMetadata"]["Arn"]
            for s in c.secretsmanager.list_secrets()["SecretList"]
        }
        databases = {d["Name"]: d for d in c.glue.get_databases()["DatabaseList"]}
        glue_tables = {
            (db, t["Name"]): t
            for db in databases
            for t in c.glue.get_tables(DatabaseName=db)["TableList"]
        }
        workgroups = {
            w["Name"]: c.athena.get_work_group(WorkGroup=w["Name"])["WorkGroup"]
            for w in c.athena.list_work_groups()["WorkGroups"]
            if w["Name"] != "primary"  # every account has it; the app does not declare it
        }
        named_queries = [
            c.athena.get_named_query(NamedQueryId=query_id)["NamedQuery"]
            for workgroup in workgroups
            for query_id in c.athena.list_named_queries(WorkGroup=workgroup)["NamedQueryIds"]
        ]
    return Local(
        settings.lake_bucket,
        tables,
        aliases,
        keys,
        secrets,
        databases,
        glue_tables,
        workgroups,
        named_queries,
    )


def path_of(resource: dict[str, Any]) -> list[str]:
    return str(resource["Metadata"]["aws:cdk:path"]).split("/")


def ref_id(value: Any) -> str:
    """The logical id behind {"Ref": id} or {"Fn::GetAtt": [id, attr]}."""
    if "Ref" in value:
        return str(value["Ref"])
    return str(value["Fn::GetAtt"][0])


def lake_bucket_id(synth: Synth) -> str:
    """The bucket the ingest Lambda writes to (its LAKE_BUCKET)."""
    ids = {
        ref_id(env["LAKE_BUCKET"])
        for fn in synth.resources("AWS::Lambda::Function").values()
        if "LAKE_BUCKET" in (env := fn["Properties"].get("Environment", {}).get("Variables", {}))
    }
    [bucket] = ids
    return bucket


def resolve(value: Any, refs: dict[str, str]) -> Any:
    """A template value with Ref and Fn::Join resolved (refs: logical id -> local value); an
    intrinsic to anything not in refs raises, so a template pointing elsewhere fails."""
    if isinstance(value, dict):
        if "Ref" in value:
            return refs[value["Ref"]]
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(resolve(part, refs) for part in parts)
        return {k: resolve(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, refs) for v in value]
    return value


def template_tables(synth: Synth) -> dict[str, tuple[str, dict[str, Any]]]:
    """Role (the table's construct id) -> (logical id, properties)."""
    tables = {}
    for logical_id, table in synth.resources("AWS::DynamoDB::Table").items():
        *_, role, last = path_of(table)
        assert last == "Resource", logical_id
        assert role not in tables, f"two tables with the construct id {role}"
        tables[role] = (logical_id, table["Properties"])
    return tables


def local_table_names() -> dict[str, str]:
    """Role -> local table name: local mode names each table by its runtime variable."""
    return {role: RESOURCE_NAMES[table.env] for role, table in DECLARED.items()}


def _ttl_attribute_in_template(props: dict[str, Any]) -> str | None:
    spec = props.get("TimeToLiveSpecification")
    return spec["AttributeName"] if spec and spec.get("Enabled") else None


def _ttl_attribute_locally(table: dict[str, Any]) -> str | None:
    ttl = table["Ttl"]
    return ttl.get("AttributeName") if ttl["TimeToLiveStatus"] == "ENABLED" else None


def test_the_same_tables_on_both_sides(synth: Synth, local: Local) -> None:
    assert set(template_tables(synth)) == set(DECLARED)
    assert set(local.tables) == set(local_table_names().values())


@pytest.mark.parametrize("role", sorted(DECLARED))
def test_table_keys_and_ttl_match(synth: Synth, local: Local, role: str) -> None:
    _, declared = template_tables(synth)[role]
    created = local.tables[local_table_names()[role]]
    assert created["KeySchema"] == declared["KeySchema"]

    def by_name(definitions: list[dict[str, str]]) -> list[dict[str, str]]:
        return sorted(definitions, key=lambda d: d["AttributeName"])

    assert by_name(created["AttributeDefinitions"]) == by_name(declared["AttributeDefinitions"])
    assert _ttl_attribute_locally(created) == _ttl_attribute_in_template(declared)
    assert created["BillingModeSummary"]["BillingMode"] == declared["BillingMode"]


def test_runtime_variables_name_the_same_tables(synth: Synth) -> None:
    """Every `*_TABLE` a Lambda reads names, in the cloud, the table that local mode puts
    under that variable."""
    role_of = {logical_id: role for role, (logical_id, _) in template_tables(synth).items()}
    local_role_of = {name: role for role, name in local_table_names().items()}
    seen = set()
    for fn in synth.resources("AWS::Lambda::Function").values():
        variables = fn["Properties"].get("Environment", {}).get("Variables", {})
        for variable, value in variables.items():
            if not variable.endswith("_TABLE"):
                continue
            assert role_of[ref_id(value)] == local_role_of[RESOURCE_NAMES[variable]], variable
            seen.add(variable)
    assert seen  # the ingest and authorizer functions do read tables


def test_one_key_alias_and_secret_per_program_on_both_sides(synth: Synth, local: Local) -> None:
    aliases = {
        a["Properties"]["AliasName"]: ref_id(a["Properties"]["TargetKeyId"])
        for a in synth.resources("AWS::KMS::Alias").values()
        if a["Properties"]["AliasName"].startswith(KEY_ALIAS_PREFIX)
    }
    local_aliases = {
        alias: key for alias, key in local.aliases.items() if alias.startswith(KEY_ALIAS_PREFIX)
    }
    assert set(local_aliases) == set(aliases)
    # one key per program: no two aliases share a key, on either side
    assert len(set(aliases.values())) == len(aliases)
    assert len(set(local_aliases.values())) == len(local_aliases)
    # local mode creates no key the app does not declare per program
    assert local.keys == set(local_aliases.values())

    secrets = {
        s["Properties"]["Name"]: ref_id(s["Properties"]["KmsKeyId"])
        for s in synth.resources("AWS::SecretsManager::Secret").values()
    }
    assert set(local.secrets) == set(secrets)
    # each secret is encrypted with the key behind the same alias on both sides
    alias_of_key = {key: alias for alias, key in aliases.items()}
    local_alias_of_key = {key: alias for alias, key in local_aliases.items()}
    for name, key in secrets.items():
        assert local_alias_of_key[local.secrets[name]] == alias_of_key[key], name


def test_glue_database_and_table_match(synth: Synth, local: Local) -> None:
    [database] = synth.resources("AWS::Glue::Database").values()
    db_input = database["Properties"]["DatabaseInput"]
    assert set(local.databases) == {db_input["Name"]}
    assert local.databases[db_input["Name"]]["Description"] == db_input["Description"]

    [table] = synth.resources("AWS::Glue::Table").values()
    refs = {lake_bucket_id(synth): local.bucket}
    declared = resolve(table["Properties"]["TableInput"], refs)
    assert set(local.glue_tables) == {(table["Properties"]["DatabaseName"], declared["Name"])}
    [created] = local.glue_tables.values()

    descriptor, local_descriptor = declared["StorageDescriptor"], created["StorageDescriptor"]
    assert [(c["Name"], c["Type"]) for c in local_descriptor["Columns"]] == [
        (c["Name"], c["Type"]) for c in descriptor["Columns"]
    ]
    assert [(k["Name"], k["Type"]) for k in created["PartitionKeys"]] == [
        (k["Name"], k["Type"]) for k in declared["PartitionKeys"]
    ]
    # projection, compression and storage.location.template (bucket resolved to the local one)
    assert created["Parameters"] == declared["Parameters"]
    assert local_descriptor["Location"] == descriptor["Location"]
    assert created["TableType"] == declared["TableType"]
    for field in ("InputFormat", "OutputFormat", "SerdeInfo"):
        assert local_descriptor[field] == descriptor[field], field


def test_athena_workgroup_and_named_queries_match(synth: Synth, local: Local) -> None:
    workgroups = synth.resources("AWS::Athena::WorkGroup")
    assert set(local.workgroups) == {w["Properties"]["Name"] for w in workgroups.values()}
    for workgroup in workgroups.values():
        props = workgroup["Properties"]
        config = props["WorkGroupConfiguration"]
        created = local.workgroups[props["Name"]]
        assert created["Description"] == props["Description"]
        assert created["State"] == props["State"]
        assert (
            created["Configuration"]["EnforceWorkGroupConfiguration"]
            == config["EnforceWorkGroupConfiguration"]
        )
        assert created["Configuration"]["EngineVersion"] == config["EngineVersion"]

    # a named query's WorkGroup may be a Ref to the workgroup, which resolves to its name
    refs = {logical_id: w["Properties"]["Name"] for logical_id, w in workgroups.items()}

    def shape(query: dict[str, Any]) -> tuple[str, ...]:
        fields = ("Name", "Description", "Database", "WorkGroup", "QueryString")
        return tuple(query[field] for field in fields)

    declared = sorted(
        shape(resolve(q["Properties"], refs))
        for q in synth.resources("AWS::Athena::NamedQuery").values()
    )
    assert declared  # the app publishes the analysts' queries
    assert sorted(shape(q) for q in local.named_queries) == declared

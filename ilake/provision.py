"""Create the runtime resources the ingest path needs, against moto (tests, local mode).

Builds what the CDK app declares, from the same declarations (lambdas.core.resources, the lake's
Arrow schema, the named query files): one lake bucket (versioned, public access blocked), every
declared table (with its TTL), the Glue database and `interactions` table (partition projection
included), the Athena workgroup with its named queries, and per program a KMS key and a
pseudonymization secret encrypted with it, named as lambdas.core.names says. Every name comes from
one environment, the one the handlers then read. tests/infra/test_drift.py compares the result
with the synthesized template.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lambdas.core import resources
from lambdas.core.analytics import named_queries
from lambdas.core.lake import PARTITION_KEYS, glue_columns
from lambdas.core.settings import Settings


@dataclass(frozen=True, slots=True)
class Clients:
    s3: Any
    dynamodb: Any
    kms: Any
    secretsmanager: Any
    glue: Any
    athena: Any

    @classmethod
    def create(cls, session: Any, **kwargs: Any) -> Clients:
        return cls(
            *(
                session.client(name, **kwargs)
                for name in ("s3", "dynamodb", "kms", "secretsmanager", "glue", "athena")
            )
        )


def provision(
    clients: Clients, environment: Mapping[str, str], programs: Iterable[str], *, region: str
) -> dict[str, str]:
    """Create everything `environment` names (the lake bucket, each declared table under its
    variable); returns program -> KMS key ARN."""
    programs = list(programs)
    settings = Settings.from_env(environment)
    bucket_args: dict[str, Any] = {"Bucket": settings.lake_bucket}
    if region != "us-east-1":
        bucket_args["CreateBucketConfiguration"] = {"LocationConstraint": region}
    clients.s3.create_bucket(**bucket_args)
    clients.s3.put_bucket_versioning(
        Bucket=settings.lake_bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    clients.s3.put_public_access_block(
        Bucket=settings.lake_bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    # a declared table the environment does not name fails loudly
    for declared, name in resources.table_names(environment).items():
        provision_table(clients, declared, name)
    provision_catalog(clients, resources.table_location(settings.lake_bucket), programs)
    return {program: provision_program(clients, settings, program) for program in programs}


def provision_table(clients: Clients, declared: resources.TableDeclaration, name: str) -> None:
    clients.dynamodb.create_table(
        TableName=name,
        KeySchema=declared.key_schema,
        AttributeDefinitions=declared.attribute_definitions,
        BillingMode="PAY_PER_REQUEST",
    )
    if declared.ttl_attribute:
        clients.dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": declared.ttl_attribute},
        )


def provision_catalog(clients: Clients, location: str, programs: list[str]) -> None:
    """The Glue database and table, and the analysts' workgroup with its named queries. moto
    answers Athena queries with canned results; the real SQL runs on DuckDB
    (docs/design.md#what-moto-cannot-do)."""
    clients.glue.create_database(
        DatabaseInput={"Name": resources.DATABASE, "Description": resources.DATABASE_DESCRIPTION}
    )
    clients.glue.create_table(
        DatabaseName=resources.DATABASE,
        TableInput={
            "Name": resources.TABLE,
            "TableType": resources.TABLE_TYPE,
            "PartitionKeys": [{"Name": name, "Type": kind} for name, kind in PARTITION_KEYS],
            "Parameters": resources.projection(location, programs),
            "StorageDescriptor": {
                "Columns": glue_columns(),
                "Location": location,
                "InputFormat": resources.PARQUET_INPUT_FORMAT,
                "OutputFormat": resources.PARQUET_OUTPUT_FORMAT,
                "SerdeInfo": {"SerializationLibrary": resources.PARQUET_SERDE},
            },
        },
    )
    # The cloud workgroup also sends results, KMS-encrypted, to its own bucket and caps the
    # bytes scanned; moto neither writes workgroup results nor scans, so neither is mirrored.
    clients.athena.create_work_group(
        Name=resources.WORKGROUP,
        Description=resources.WORKGROUP_DESCRIPTION,
        Configuration={
            "EnforceWorkGroupConfiguration": True,
            "PublishCloudWatchMetricsEnabled": True,
            "EngineVersion": {"SelectedEngineVersion": resources.ATHENA_ENGINE_VERSION},
        },
    )
    for query in named_queries().values():
        clients.athena.create_named_query(
            Name=query.name,
            Description=query.published_description,
            Database=resources.DATABASE,
            QueryString=resources.published_sql(query),
            WorkGroup=resources.WORKGROUP,
        )


def provision_program(clients: Clients, settings: Settings, program: str) -> str:
    key = clients.kms.create_key(
        Description=f"Interaction Lake program {program}",
        Tags=[{"TagKey": "ilake:program", "TagValue": program}],
    )["KeyMetadata"]
    clients.kms.create_alias(AliasName=settings.key_alias(program), TargetKeyId=key["KeyId"])
    clients.secretsmanager.create_secret(
        Name=settings.secret_name(program),
        SecretString=secrets.token_urlsafe(48),
        KmsKeyId=key["Arn"],
    )
    return str(key["Arn"])

"""Create the runtime resources the ingest path needs, against moto (tests, local mode).

Mirrors what the CDK app declares: one lake bucket (versioned, SSE-KMS by default), the program
state, agents and idempotency tables, and per program a KMS key with alias `alias/ilake/<p>`
and a pseudonymization secret `ilake/<p>/pseudonymization` encrypted with that key.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lambdas.core.settings import Settings


@dataclass(frozen=True, slots=True)
class Clients:
    s3: Any
    dynamodb: Any
    kms: Any
    secretsmanager: Any

    @classmethod
    def create(cls, session: Any, **kwargs: Any) -> Clients:
        return cls(
            *(
                session.client(name, **kwargs)
                for name in ("s3", "dynamodb", "kms", "secretsmanager")
            )
        )


def provision(
    clients: Clients, settings: Settings, programs: Iterable[str], *, agents_table: str, region: str
) -> dict[str, str]:
    """Create everything; returns program -> KMS key ARN."""
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
    for table, key in (
        (settings.program_state_table, "program"),
        (agents_table, "token_hash"),
        (settings.idempotency_table, "id"),
    ):
        clients.dynamodb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    return {program: provision_program(clients, settings, program) for program in programs}


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

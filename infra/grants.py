"""Least-privilege grants on the lake shared by the Lambdas and state machines that work on it
(governance, compaction): each names the exact actions, on the programs' prefixes and keys only.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from lambdas.core.lake import program_prefix

from .nag import acknowledge
from .program_keys import ProgramKey
from .runtime_tables import RuntimeTables


class LakeGrants:
    def __init__(
        self,
        scope: Stack,
        *,
        lake: s3.IBucket,
        keys: dict[str, ProgramKey],
        tables: RuntimeTables,
    ) -> None:
        self.lake, self.keys, self.tables = lake, keys, tables
        self.region = scope.region
        self.lake_id = scope.resolve(scope.get_logical_id(lake.node.default_child))  # type: ignore[arg-type]

    @staticmethod
    def allow(role: iam.IRole, actions: list[str], tables: list[dynamodb.ITable]) -> None:
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=actions, resources=[t.table_arn for t in tables])
        )

    def table_key(self, role: iam.IRole, actions: list[str]) -> None:
        """The runtime tables' key, through DynamoDB only."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=actions,
                resources=[self.tables.key.key_arn],
                conditions={
                    "StringEquals": {"kms:ViaService": f"dynamodb.{self.region}.amazonaws.com"}
                },
            )
        )

    def program_keys(self, role: iam.IRole, *actions: str) -> None:
        for key in self.keys.values():
            key.key.grant(role, *actions)

    def lake_data_keys(self, role: iam.IRole) -> None:
        """Data keys of the programs' keys through S3 for this bucket only, as
        ProgramKey.grant_lake_write gives ingest; in the principal's policy only (the key policy
        delegates to IAM), since the key policy's LakeWrite statement id is ingest's."""
        for key in self.keys.values():
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[key.key.key_arn],
                    conditions={
                        "StringEquals": {"kms:ViaService": f"s3.{self.region}.amazonaws.com"},
                        "StringLike": {
                            "kms:EncryptionContext:aws:s3:arn": f"{self.lake.bucket_arn}*"
                        },
                    },
                )
            )

    def list_versions(self, role: iam.IRole) -> None:
        """ListObjectVersions on the lake, under the programs' prefixes only."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucketVersions"],
                resources=[self.lake.bucket_arn],
                conditions={
                    "StringLike": {
                        "s3:prefix": [f"{program_prefix(name)}*" for name in sorted(self.keys)]
                    }
                },
            )
        )

    def objects(self, role: iam.IRole, *actions: str) -> None:
        """Object actions under the programs' prefixes (interactions/program=<p>/*) only."""
        names = sorted(self.keys)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(actions),
                resources=[self.lake.arn_for_objects(f"{program_prefix(n)}*") for n in names],
            )
        )
        acknowledge(
            role,
            "Object actions on the programs' own prefixes (interactions/program=<p>/*) only: "
            "the objects to delete or rewrite are found at run time by listing the prefix.",
            *(
                f"AwsSolutions-IAM5[Resource::<{self.lake_id}.Arn>/{program_prefix(n)}*]"
                for n in names
            ),
        )

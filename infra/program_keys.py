"""Per program: its own KMS key (rotated, aliased) and pseudonymization secret.

See docs/design.md#keys-per-program.

Destroying a program's key and secret (crypto-shredding) makes every copy of its data unreadable,
including old object versions and backups; the governance role may disable the key or schedule
its deletion, nobody else can.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from lambdas.core.names import key_alias, secret_name

from .defaults import limit_grants_to_aws_services
from .nag import acknowledge


class ProgramKey(Construct):
    """One program's key and secret."""

    def __init__(
        self, scope: Construct, construct_id: str, *, program: str, removal: RemovalPolicy
    ) -> None:
        super().__init__(scope, construct_id)
        self.program = program
        self.key = kms.Key(
            self,
            "Key",
            alias=key_alias(program),  # kms.Alias keeps an `alias/` it is given
            description=f"Interaction Lake program {program}: lake objects and its secret",
            enable_key_rotation=True,
            rotation_period=Duration.days(365),
            pending_window=Duration.days(30),
            removal_policy=removal,
        )
        limit_grants_to_aws_services(self.key)
        self.secret = secretsmanager.Secret(
            self,
            "Pseudonymization",
            secret_name=secret_name(program),
            description=f"HMAC key for {program}'s pseudonyms; analysts never read it",
            encryption_key=self.key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
            removal_policy=removal,
        )
        acknowledge(
            self.secret,
            "Rotating a pseudonymization key would change every pseudonym and break the joins the "
            "program exists for; the secret lives exactly as long as the program and is deleted "
            "(with its KMS key scheduled for deletion) by the purge workflow.",
            "AwsSolutions-SMG4",
            "HIPAA.Security-SecretsManagerRotationEnabled",
        )

    def grant_lake_write(self, grantee: iam.IGrantable, bucket_arn: str, region: str) -> None:
        """Data keys through S3, for this bucket only (S3 sets the bucket ARN as the encryption
        context when bucket keys are on)."""
        self._allow(
            grantee,
            "LakeWrite",
            ["kms:GenerateDataKey", "kms:Decrypt"],
            self._via_s3(bucket_arn, region),
        )

    def grant_lake_read(self, grantee: iam.IGrantable, bucket_arn: str, region: str) -> None:
        """Decrypt lake objects, through S3 only (never raw KMS calls on the data keys)."""
        self._allow(grantee, "LakeRead", ["kms:Decrypt"], self._via_s3(bucket_arn, region))

    @staticmethod
    def _via_s3(bucket_arn: str, region: str) -> dict[str, dict[str, str]]:
        return {
            "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
            "StringLike": {"kms:EncryptionContext:aws:s3:arn": f"{bucket_arn}*"},
        }

    def _allow(
        self,
        grantee: iam.IGrantable,
        sid: str,
        actions: list[str],
        conditions: dict[str, dict[str, str]] | None = None,
    ) -> None:
        """The same least-privilege statement in the key policy and the principal's policy:
        the key policy names who may do what, not just "the account"."""
        principal = grantee.grant_principal
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid,
                actions=actions,
                principals=[principal],
                resources=["*"],
                conditions=conditions,
            )
        )
        principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=actions, resources=[self.key.key_arn], conditions=conditions
            )
        )

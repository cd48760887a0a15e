"""The project's secure defaults for the resources several units create: say them once."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct


def rotated_key(
    scope: Construct, construct_id: str, *, description: str, removal: RemovalPolicy
) -> kms.Key:
    """A customer-managed key with yearly rotation, grants for AWS resources only."""
    key = kms.Key(
        scope,
        construct_id,
        description=description,
        enable_key_rotation=True,
        removal_policy=removal,
    )
    limit_grants_to_aws_services(key)
    return key


def limit_grants_to_aws_services(key: kms.Key) -> None:
    """Deny kms:CreateGrant unless an AWS service asks for it, for a resource of its own.

    A grant is a second way to authorize a key's use, outside its key policy, and every promise
    of the lake rests on key policies. A service that creates grants for the resources it
    encrypts (DynamoDB for the tables) does so with kms:GrantIsForAWSResource true; the others
    use the key policy directly (S3, Secrets Manager and Step Functions for their callers,
    CloudWatch Logs and alarms as service principals). So nothing they do is refused, and the
    deny names kms:CreateGrant only; but a role given kms:CreateGrant through IAM can no longer
    pass a key's powers on (Control Tower's CT.KMS.PR.3)."""
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="DenyGrantsNotForAwsResources",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["kms:CreateGrant"],
            resources=["*"],
            conditions={
                "BoolIfExists": {
                    "kms:GrantIsForAWSResource": "false",
                    "aws:PrincipalIsAWSService": "false",
                }
            },
        )
    )


def encrypted_bucket(
    scope: Construct,
    construct_id: str,
    *,
    key: kms.IKey,
    access_logs: s3.IBucket,
    access_logs_prefix: str,
    lifecycle_rules: Sequence[s3.LifecycleRule],
    removal: RemovalPolicy,
) -> s3.Bucket:
    """Versioned, SSE-KMS with bucket keys, public access blocked, TLS 1.2+ only, object
    ownership enforced, server access logs; emptied on deletion when it is destroyed."""
    return s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        versioned=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=access_logs_prefix,
        lifecycle_rules=list(lifecycle_rules),
        removal_policy=removal,
        # a versioned bucket is deleted only once empty: with ilake:destroyData, CDK's handler
        # deletes every version on stack deletion (infra/bucket_emptying.py)
        auto_delete_objects=removal is RemovalPolicy.DESTROY,
    )

"""The project's secure defaults for the resources several units create: say them once."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct


def rotated_key(
    scope: Construct, construct_id: str, *, description: str, removal: RemovalPolicy
) -> kms.Key:
    """A customer-managed key with yearly rotation."""
    return kms.Key(
        scope,
        construct_id,
        description=description,
        enable_key_rotation=True,
        removal_policy=removal,
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
    ownership enforced, server access logs."""
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
    )

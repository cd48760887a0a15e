"""The lake bucket and its access-log bucket (docs/design.md#lake-layout).

Secure by default: versioned, SSE-KMS with bucket keys, public access blocked, TLS only, object
ownership enforced, server access logs, incomplete uploads aborted. Per program, a lifecycle rule
deletes current versions after the program's retention and noncurrent versions a day after they
become noncurrent ("retention that really deletes"), and a bucket policy refuses objects under
the program's prefix that are not SSE-KMS under that program's own key.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from lambdas.core.lake import program_prefix
from lambdas.core.programs import Program

from .defaults import encrypted_bucket, rotated_key
from .nag import acknowledge, acknowledge_guard, skip_checkov
from .program_keys import ProgramKey

NO_REPLICATION = (
    "Replication would put a second copy of personal data in another region that retention, "
    "erasure and purge would then have to chase; durability comes from S3 itself, versioning "
    "and per-program keys (crypto-shredding covers every copy)."
)

LOGS_SSE_S3 = "S3 server access logging delivers only to buckets with SSE-S3 default encryption."
LOGS_NOT_LOGGED = (
    "This is the access-log bucket; logging its own access would log every log delivery, forever."
)
NO_OBJECT_EVENTS = (
    "Nothing reacts to a lake object: compaction runs on a schedule and lists the closed hours, "
    "governance lists versions. An event target would be one more place that object keys "
    "(program, hour, batch id) reach and that a purge must clear; access is in the access logs."
)
LAKE_NOT_LOCKED = (
    "Object Lock would break what the lake promises: retention expires objects, an erasure "
    "rewrites files and deletes their old versions, a purge deletes every version. Versioning "
    "guards against mistakes; a locked object could not be erased."
)
LOGS_NOT_LOCKED = (
    "Access logs expire after a year and go with the stack when ilake:destroyData is set; Object "
    "Lock would keep records naming the lake's objects past both."
)
LOGS_NO_EVENTS = (
    "Access-log objects are read by people investigating access; nothing reacts to a new log "
    "object, so there is nothing to notify."
)


class LakeStorage(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        programs: dict[str, Program],
        keys: dict[str, ProgramKey],
        removal: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            # S3 server access logging delivers only to SSE-S3 buckets
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(365),
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=removal,
            auto_delete_objects=removal is RemovalPolicy.DESTROY,  # infra/bucket_emptying.py
        )
        acknowledge(self.access_logs, LOGS_SSE_S3, "HIPAA.Security-S3DefaultEncryptionKMS")
        acknowledge_guard(self.access_logs, LOGS_SSE_S3, "s3_bucket_default_encryption_kms_check")
        acknowledge_guard(self.access_logs, LOGS_NOT_LOGGED, "s3_bucket_logging_enabled_check")
        acknowledge_guard(self.access_logs, LOGS_NOT_LOCKED, "s3_bucket_object_lock_enabled_check")
        acknowledge_guard(self.access_logs, LOGS_NO_EVENTS, "s3_event_notifications_enabled_check")
        acknowledge(
            self.access_logs,
            NO_REPLICATION,
            "HIPAA.Security-S3BucketReplicationEnabled",
        )
        skip_checkov(self.access_logs, "CKV_AWS_18", LOGS_NOT_LOGGED)
        self.default_key = rotated_key(
            self,
            "LakeDefaultKey",
            description="Interaction Lake bucket default; every object names its program's key",
            removal=removal,
        )
        self.bucket = encrypted_bucket(
            self,
            "Lake",
            key=self.default_key,
            access_logs=self.access_logs,
            access_logs_prefix="lake/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="abort-incomplete-uploads",
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
                *(
                    s3.LifecycleRule(
                        id=f"retention-{name}",
                        prefix=program_prefix(name),
                        expiration=Duration.days(program.file.retention_days),
                        noncurrent_version_expiration=Duration.days(1),
                    )
                    for name, program in programs.items()
                ),
            ],
            removal=removal,
        )
        acknowledge(self.bucket, NO_REPLICATION, "HIPAA.Security-S3BucketReplicationEnabled")
        acknowledge_guard(self.bucket, LAKE_NOT_LOCKED, "s3_bucket_object_lock_enabled_check")
        acknowledge_guard(self.bucket, NO_OBJECT_EVENTS, "s3_event_notifications_enabled_check")
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyUnencryptedObjects",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=[self.bucket.arn_for_objects("*")],
                conditions={"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
            )
        )
        for name, key in keys.items():
            self.bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"DenyOtherKeys{_sid(name)}",
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=["s3:PutObject"],
                    resources=[self.bucket.arn_for_objects(f"{program_prefix(name)}*")],
                    conditions={
                        "StringNotEquals": {
                            "s3:x-amz-server-side-encryption-aws-kms-key-id": key.key.key_arn
                        }
                    },
                )
            )


def _sid(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))

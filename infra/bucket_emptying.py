"""Emptying the buckets when the stack is destroyed (`ilake:destroyData=true`).

CloudFormation deletes a bucket only once it is empty, and every bucket here is versioned, so
with the flag each bucket is made with CDK's `auto_delete_objects` (infra/defaults.py,
infra/lake_storage.py): one handler per stack that, on stack deletion, denies new writes and
deletes every object version and delete marker. The bucket policies allow it exactly that
(list, delete, rewrite the policy); the lake's own denies refuse only unencrypted or
wrongly-keyed PutObject, which the handler never sends. Without the flag, nothing here exists
and every bucket is retained.

The handler is CDK's, not one of the project's Lambdas (infra/function_runtime.py), so its
findings are acknowledged here, with the reasons that hold for what it does.
"""

from __future__ import annotations

from aws_cdk import CfnResource, Stack

from .nag import acknowledge_guard, skip_checkov

PROVIDER = "Custom::S3AutoDeleteObjectsCustomResourceProvider"
NO_VPC = (
    "CDK's bucket-emptying handler runs only while CloudFormation deletes the stack with "
    "ilake:destroyData, and calls only S3 (list and delete versions, deny new writes) over TLS "
    "with IAM; a VPC would add endpoints without narrowing what it reaches."
)
NO_DLQ = (
    "A custom resource handler, invoked by CloudFormation during stack deletion: a failure "
    "fails the deletion, which reports it; there is no asynchronous event to dead-letter."
)
NO_RESERVATION = (
    "Runs once per bucket, only while the stack is deleted; reserving concurrency for it would "
    "take concurrency away from ingest for the stack's whole life."
)


def acknowledge_bucket_emptying(stack: Stack) -> None:
    """The emptying handler's acknowledgements, when `auto_delete_objects` made it."""
    provider = stack.node.try_find_child(PROVIDER)
    if provider is None:
        return
    handler = provider.node.find_child("Handler")
    assert isinstance(handler, CfnResource)
    acknowledge_guard(handler, NO_VPC, "lambda_inside_vpc_check")
    skip_checkov(handler, "CKV_AWS_117", NO_VPC)
    skip_checkov(handler, "CKV_AWS_116", NO_DLQ)
    skip_checkov(handler, "CKV_AWS_115", NO_RESERVATION)

"""Hourly compaction of each program's closed hours (docs/compaction.md).

One Lambda, run by one EventBridge rule per program at 20 minutes past every hour (after the
15-minute grace period of the hour that just ended), with `{"program": "<p>"}` as its input.
Its role may read, write and delete object versions under the programs' prefixes only, use the
programs' keys through S3 only, read program state, write only its own lease items
(`<program>#compaction`) in the program state table (it can never change a program's state), and
read and add the programs' common-text items (it can mark a text common, never write a text).
"""

from __future__ import annotations

from aws_cdk import Duration, Size, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from lambdas.adapters.text_store import COUNT_WRITES
from lambdas.core.names import KEY_ALIAS_PREFIX

from .function_runtime import NO_VPC, FunctionRuntime
from .grants import LakeGrants
from .nag import acknowledge, acknowledge_guard
from .program_keys import ProgramKey
from .runtime_tables import RuntimeTables

HANDLER = "lambdas.compaction.handler.handler"
NO_DLQ = (
    "Run by an hourly schedule; every run first finishes what an earlier run left (the "
    "compaction is idempotent and crash-safe), so a failed run is redone by the next one, and "
    "its error raises the CompactionErrors alarm. A dead-letter queue would hold only the "
    "input {program}, which the schedule sends again."
)
NO_RESERVATION = (
    "At most one run per program at a time (a DynamoDB lease), started once an hour; reserving "
    "concurrency would take it away from ingest."
)
OWN_POLICY = (
    "CDK attaches the role's least-privilege grants as one policy of its own "
    "(AWS::IAM::Policy), generated from the grants in infra/compaction.py."
)


class Compaction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        lake: s3.IBucket,
        keys: dict[str, ProgramKey],
        tables: RuntimeTables,
        runtime: FunctionRuntime,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function, _ = runtime.function(
            self,
            "Compaction",
            handler=HANDLER,
            environment={
                "LAKE_BUCKET": lake.bucket_name,
                "PROGRAM_STATE_TABLE": tables.program_state.table_name,
                "KEY_ALIAS_PREFIX": KEY_ALIAS_PREFIX,
                "COMMON_TEXTS_TABLE": tables.common_texts.table_name,
                "PROGRAMS_DIR": "/var/task/programs",
            },
            # 512 MiB sort budget + ~450 MB of runtime and reads; 2 GB also buys ~1.2 vCPU
            memory=2048,
            timeout=Duration.minutes(15),
            concurrency=None,
            no_dlq=NO_DLQ,
            no_reservation=NO_RESERVATION,
            ephemeral_storage=Size.gibibytes(8),  # spilled buckets and parts of a large hour
        )
        acknowledge_guard(self.function, NO_VPC, "lambda_inside_vpc_check")
        role = self.function.role
        assert role is not None
        grants = LakeGrants(Stack.of(self), lake=lake, keys=keys, tables=tables)
        grants.list_versions(role)
        grants.objects(
            role,
            "s3:GetObject",
            "s3:GetObjectVersion",  # inputs are read at the version listed
            "s3:PutObject",
            "s3:DeleteObjectVersion",
        )
        grants.lake_data_keys(role)
        grants.program_keys(role, "kms:DescribeKey")  # parts are written under the alias's key
        grants.allow(role, ["dynamodb:GetItem"], [tables.program_state])
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["dynamodb:PutItem", "dynamodb:DeleteItem"],
                resources=[tables.program_state.table_arn],
                # its own lease items only: never a program's state record
                conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["*#compaction"]}},
            )
        )
        programs = {"dynamodb:LeadingKeys": sorted(keys)}
        role.add_to_principal_policy(
            iam.PolicyStatement(
                # which texts are released, to fill them in; the declared programs' items only
                actions=["dynamodb:BatchGetItem", "dynamodb:GetItem"],
                resources=[tables.common_texts.table_arn],
                conditions={"ForAllValues:StringEquals": programs},
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                # the texts the count found common, and its mark: ids and counts, never a text
                # (the count sees none; only a batch that carries a text releases it)
                actions=["dynamodb:PutItem"],
                resources=[tables.common_texts.table_arn],
                conditions={
                    "ForAllValues:StringEquals": {
                        **programs,
                        "dynamodb:Attributes": list(COUNT_WRITES),
                    }
                },
            )
        )
        grants.table_key(role, ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"])
        acknowledge(role, OWN_POLICY, "HIPAA.Security-IAMNoInlinePolicy")

        self.rules = {
            name: events.Rule(
                self,
                f"Hourly-{name}",
                description=f"Compact {name}'s closed hour partitions",
                schedule=events.Schedule.cron(minute="20"),
                targets=[
                    targets.LambdaFunction(
                        self.function,
                        event=events.RuleTargetInput.from_object({"program": name}),
                        retry_attempts=2,
                        max_event_age=Duration.hours(1),
                    )
                ],
            )
            for name in sorted(keys)
        }

"""What every Lambda of the stack runs on: one code asset, one dependency layer, the newest Python
on arm64, and one key for their logs and environments.

The ingest API, the governance workflows and the compaction each receive this construct and make
their functions with `function`, so none of them borrows its runtime from another.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Size, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from .defaults import rotated_key
from .function_code import function_code
from .nag import acknowledge, skip_checkov
from .runtime_layer import RuntimeLayer

RUNTIME = lambda_.Runtime.PYTHON_3_14  # the newest Python; cdk-nag's L1 rule wants the latest
ARCHITECTURE = lambda_.Architecture.ARM_64
NO_VPC = (
    "The functions call only AWS APIs (S3, DynamoDB, KMS, Secrets Manager) over TLS with IAM; "
    "a VPC would add NAT or endpoints without narrowing what they can reach."
)


class FunctionRuntime(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        retention_days: int,
        removal: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.retention = log_retention(retention_days)
        self.removal = removal
        self.logs_key = rotated_key(
            self,
            "LogsKey",
            description="Interaction Lake API and Lambda log groups",
            removal=removal,
        )
        self.logs_key.grant_encrypt_decrypt(
            iam.ServicePrincipal(f"logs.{Stack.of(self).region}.amazonaws.com")
        )
        self.layer = RuntimeLayer(
            self, "Dependencies", runtime=RUNTIME, architecture=ARCHITECTURE
        ).layer
        self.code = function_code(RUNTIME)

    def function(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        environment: dict[str, str],
        memory: int,
        timeout: Duration,
        concurrency: int | None,
        no_dlq: str,
        no_reservation: str,
        ephemeral_storage: Size | None = None,
    ) -> tuple[lambda_.Function, logs.LogGroup]:
        """One of the project's Lambdas in `scope`: the shared code and layer, its own role and
        encrypted log group, encrypted environment; `no_dlq` and `no_reservation` say why this
        function has no dead-letter queue and (without `concurrency`) no reserved concurrency."""
        log_group = logs.LogGroup(
            scope,
            f"{construct_id}Logs",
            encryption_key=self.logs_key,
            retention=self.retention,
            removal_policy=self.removal,
        )
        role = iam.Role(
            scope,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Interaction Lake {construct_id.lower()} Lambda",
        )
        function = lambda_.Function(
            scope,
            construct_id,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=self.code,
            handler=handler,
            layers=[self.layer],
            memory_size=memory,
            timeout=timeout,
            environment={"POWERTOOLS_SERVICE_NAME": construct_id.lower(), **environment},
            environment_encryption=self.logs_key,
            reserved_concurrent_executions=concurrency,
            ephemeral_storage_size=ephemeral_storage,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            role=role,
        )
        log_group.grant_write(role)
        acknowledge(function, NO_VPC, "HIPAA.Security-LambdaInsideVPC")
        skip_checkov(function, "CKV_AWS_117", NO_VPC)
        acknowledge(function, no_dlq, "HIPAA.Security-LambdaDLQ")
        skip_checkov(function, "CKV_AWS_116", no_dlq)
        if concurrency is None:
            acknowledge(function, no_reservation, "HIPAA.Security-LambdaConcurrency")
            skip_checkov(function, "CKV_AWS_115", no_reservation)
        return function, log_group


_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
}


def log_retention(days: int) -> logs.RetentionDays:
    """The shortest CloudWatch retention that keeps logs at least `days` days."""
    return next(
        (value for limit, value in sorted(_RETENTION.items()) if limit >= days),
        logs.RetentionDays.TWO_YEARS,
    )

"""The governance workflows (docs/governance.md): pause, resume, purge and erase-subject.

One Step Functions state machine per ASL file in workflows/, the very files local mode runs on
moto, with the same placeholders filled (`resources.workflow_substitutions`) plus the ARNs of the
two Lambdas the purge and erase steps call. Every state machine is STANDARD, traced, logs every
step to an encrypted log group without execution data, and runs as a role of its own that may
call only what its file calls, on only the resources it names.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from lambdas.core import resources
from lambdas.core.names import KEY_ALIAS_PREFIX, SECRET_NAME_PREFIX

from .defaults import rotated_key
from .function_runtime import NO_VPC, FunctionRuntime
from .grants import LakeGrants
from .nag import acknowledge, acknowledge_guard
from .program_keys import ProgramKey
from .runtime_tables import RuntimeTables

NO_DLQ = (
    "Invoked synchronously (RequestResponse) by the governance state machines only: a failure "
    "returns to the state machine, whose Retry and Catch handle it and audit the outcome."
)
NO_RESERVATION = (
    "Invoked only by governance workflows an operator starts, at most four at once per erase "
    "(the Map's MaxConcurrency); reserving concurrency would take it away from ingest."
)
OWN_POLICY = (
    "CDK attaches each role's least-privilege grants as one policy of its own "
    "(AWS::IAM::Policy), generated from the grants in infra/governance.py; nothing else shares it."
)
UNSCOPED_SERVICE_ACTIONS = (
    "Step Functions' log delivery (logs:*LogDelivery, resource policies) and X-Ray trace "
    "submission do not support resource-level permissions; CDK adds exactly these for "
    "logging level ALL and tracing."
)


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


class GovernanceWorkflows(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        lake: s3.IBucket,
        keys: dict[str, ProgramKey],
        tables: RuntimeTables,
        runtime: FunctionRuntime,
        removal: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self._region = Stack.of(self).region
        self._lake, self._keys, self._tables = lake, keys, tables
        self._grants = LakeGrants(Stack.of(self), lake=lake, keys=keys, tables=tables)

        def function(
            construct_id: str,
            *,
            handler: str,
            environment: dict[str, str],
            memory: int,
            timeout: Duration,
        ) -> lambda_.Function:
            made, _ = runtime.function(
                self,
                construct_id,
                handler=handler,
                environment=environment,
                memory=memory,
                timeout=timeout,
                concurrency=None,
                no_dlq=NO_DLQ,
                no_reservation=NO_RESERVATION,
            )
            acknowledge_guard(made, NO_VPC, "lambda_inside_vpc_check")
            return made

        self.purge = function(
            "Purge",
            handler=resources.GOVERNANCE_HANDLERS["PurgeFunction"],
            environment={
                "LAKE_BUCKET": lake.bucket_name,
                "PROGRAM_STATE_TABLE": tables.program_state.table_name,
                "COMMON_TEXTS_TABLE": tables.common_texts.table_name,
            },
            memory=512,
            timeout=Duration.minutes(2),  # one page: list and delete up to 1,000 versions
        )
        self.erase = function(
            "Erase",
            handler=resources.GOVERNANCE_HANDLERS["EraseFunction"],
            environment={
                "LAKE_BUCKET": lake.bucket_name,
                "PROGRAM_STATE_TABLE": tables.program_state.table_name,
                "KEY_ALIAS_PREFIX": KEY_ALIAS_PREFIX,
                "SECRET_NAME_PREFIX": SECRET_NAME_PREFIX,
            },
            memory=1769,  # one full vCPU: a rewrite decodes and re-encodes a Parquet file
            timeout=Duration.minutes(5),
        )
        self._grant_purge_function()
        self._grant_erase_function()

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            # AWS's prefix for vended logs: delivery needs no per-group resource policy entry
            log_group_name="/aws/vendedlogs/states/ilake-governance",
            encryption_key=runtime.logs_key,
            retention=runtime.retention,
            removal_policy=removal,
        )
        # Execution history keeps each execution's input for 90 days, and an erase-subject
        # input names the person: encrypt it with a key of our own, not an AWS-owned one.
        self.history_key = rotated_key(
            self,
            "HistoryKey",
            description="Interaction Lake governance workflows: execution history",
            removal=removal,
        )
        values = {
            **resources.workflow_substitutions(
                programs=keys,
                program_state_table=tables.program_state.table_name,
                audit_table=tables.audit.table_name,
                lake_bucket=lake.bucket_name,
                key_alias_prefix=KEY_ALIAS_PREFIX,
                secret_prefix=SECRET_NAME_PREFIX,
                common_texts_table=tables.common_texts.table_name,
            ),
            "PurgeFunction": self.purge.function_arn,
            "EraseFunction": self.erase.function_arn,
        }
        self.state_machines = {
            workflow: self._state_machine(workflow, values) for workflow in resources.WORKFLOWS
        }
        self._grant_workflows()

    def _state_machine(self, workflow: str, values: dict[str, str]) -> sfn.StateMachine:
        path = resources.WORKFLOWS_DIR / f"{workflow}.asl.json"
        text = path.read_text()
        machine = sfn.StateMachine(
            self,
            f"{_pascal(workflow)}Workflow",
            state_machine_name=resources.state_machine_name(workflow),
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_file(str(path)),
            # only the placeholders this file uses: the pause machine does not depend on the
            # Lambdas, and a placeholder without a value fails the deployment, not an execution
            definition_substitutions={k: v for k, v in values.items() if f"${{{k}}}" in text},
            tracing_enabled=True,
            encryption_configuration=sfn.CustomerManagedEncryptionConfiguration(
                self.history_key, kms_data_key_reuse_period_seconds=Duration.minutes(5)
            ),
            logs=sfn.LogOptions(
                destination=self.log_group,
                level=sfn.LogLevel.ALL,
                # Never log execution data: an erase-subject execution's input carries the
                # subject's raw name (until its Pseudonymize step), and every state's input and
                # output would land in the log group in clear.
                include_execution_data=False,
            ),
        )
        acknowledge(
            machine.role,
            UNSCOPED_SERVICE_ACTIONS,
            "AwsSolutions-IAM5[Resource::*]",
        )
        acknowledge(machine.role, OWN_POLICY, "HIPAA.Security-IAMNoInlinePolicy")
        return machine

    # -- what each state machine may do: exactly the calls in its ASL file ---------------------

    def _grant_workflows(self) -> None:
        machines = self.state_machines
        for machine in machines.values():
            # every workflow updates the program's state and appends to the audit trail
            self._grants.allow(machine.role, ["dynamodb:UpdateItem"], [self._tables.program_state])
            self._grants.allow(machine.role, ["dynamodb:PutItem"], [self._tables.audit])
            self._grants.table_key(
                machine.role, ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
            )
        self._grants.program_keys(machines["pause"].role, "kms:DescribeKey", "kms:DisableKey")
        self._grants.program_keys(machines["resume"].role, "kms:DescribeKey", "kms:EnableKey")
        purge = machines["purge"].role
        self._grants.program_keys(purge, "kms:DescribeKey", "kms:ScheduleKeyDeletion")
        purge.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:DeleteSecret"],
                resources=[key.secret.secret_arn for key in self._keys.values()],
            )
        )
        self._grants.list_versions(purge)
        self._common_texts(purge, "dynamodb:Query")  # verifies that none is left
        self._invoke(purge, self.purge)
        self._invoke(machines["erase-subject"].role, self.erase)

    # -- what each Lambda may do: exactly the calls its handler makes ---------------------------

    def _grant_purge_function(self) -> None:
        role = self.purge.role
        assert role is not None
        self._grants.list_versions(role)
        self._grants.objects(role, "s3:DeleteObjectVersion")
        self._grants.allow(role, ["dynamodb:UpdateItem"], [self._tables.program_state])
        self._common_texts(role, "dynamodb:Query", "dynamodb:BatchWriteItem")
        self._grants.table_key(role, ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"])
        acknowledge(role, OWN_POLICY, "HIPAA.Security-IAMNoInlinePolicy")

    def _grant_erase_function(self) -> None:
        role = self.erase.role
        assert role is not None
        self._grants.list_versions(role)
        # find: ranged reads of listed versions; rewrite: read the current version, write it
        # again under the program's key (the bucket policy's key pinning holds), delete the rest
        self._grants.objects(
            role, "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObjectVersion"
        )
        self._grants.lake_data_keys(role)
        # known: is the subject suppressed already (the program's state item, read only)
        self._grants.allow(role, ["dynamodb:GetItem"], [self._tables.program_state])
        self._grants.table_key(role, ["kms:Decrypt"])
        for key in self._keys.values():
            key.key.grant(role, "kms:DescribeKey")  # the rewrite names the key by its alias
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["secretsmanager:GetSecretValue"], resources=[key.secret.secret_arn]
                )
            )
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["kms:Decrypt"],
                    resources=[key.key.key_arn],
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": f"secretsmanager.{self._region}.amazonaws.com"
                        }
                    },
                )
            )
        acknowledge(role, OWN_POLICY, "HIPAA.Security-IAMNoInlinePolicy")

    def _common_texts(self, role: iam.IRole, *actions: str) -> None:
        """`actions` on the common-text table, on the declared programs' items only."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(actions),
                resources=[self._tables.common_texts.table_arn],
                conditions={
                    "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": sorted(self._keys)}
                },
            )
        )

    # -- helpers ----------------------------------------------------------------------------------

    def grant_operator(self, role: iam.Role) -> None:
        """Start the workflows, follow their executions, answer the purge's approval request."""
        # executions' inputs and outputs are encrypted under the history key: starting one
        # encrypts its input, reading one decrypts it
        self.history_key.grant(role, "kms:GenerateDataKey", "kms:Decrypt")
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["states:StartExecution"],
                resources=[m.state_machine_arn for m in self.state_machines.values()],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:GetExecutionHistory"],
                resources=[self.execution_arns(w) for w in resources.WORKFLOWS],
            )
        )
        acknowledge(
            role,
            "Executions are named at start (a fresh UUID each), so reading them is granted on "
            "every execution of the four governance state machines, by name, and nothing else.",
            *(
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:"
                f"<AWS::AccountId>:execution:{resources.state_machine_name(w)}:*]"
                for w in resources.WORKFLOWS
            ),
        )
        # Only the purge waits for a task token (its second person's approval). Task responses
        # are authorized against the state machine that issued the token (CDK's
        # grantTaskResponse does the same), so the other three machines are left out.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["states:SendTaskSuccess", "states:SendTaskFailure"],
                resources=[self.state_machines["purge"].state_machine_arn],
            )
        )
        # `ilake ... --aws` finds the state machines by name (ilake-<workflow>)
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["states:ListStateMachines"], resources=["*"])
        )
        acknowledge(
            role,
            "ListStateMachines has no resource-level permissions; it returns names and ARNs "
            "only, so the CLI can find the governance state machines by name.",
            "AwsSolutions-IAM5[Resource::*]",
        )

    def execution_arns(self, workflow: str) -> str:
        """Every execution of one workflow's state machine."""
        return Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{resources.state_machine_name(workflow)}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    @staticmethod
    def _invoke(role: iam.IRole, function: lambda_.IFunction) -> None:
        """The one function the workflow calls, unqualified (the ASL names no version)."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[function.function_arn]
            )
        )

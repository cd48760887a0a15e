"""Who may read and govern the lake: the analyst role and the governance role.

Analysts query through the Athena workgroup: they read the catalog, the lake objects (decrypting
through S3 only) and their own query results. They never read a program's pseudonymization
secret. The governance role is the operators': it starts the pause, resume, purge and erase
workflows (each runs as a role of its own, see infra/governance.py), follows their executions,
answers a purge's approval request (reading its task token from the program state table) and
reads the audit trail; it also holds the key powers the design gives it (disable, enable,
schedule deletion).
"""

from __future__ import annotations

from aws_cdk import Aws, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .governance import GovernanceWorkflows
from .nag import acknowledge
from .program_keys import ProgramKey
from .runtime_tables import RuntimeTables


class LakeAccess(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        lake: s3.IBucket,
        results: s3.IBucket,
        results_key: kms.IKey,
        workgroup: str,
        database: str,
        keys: dict[str, ProgramKey],
        tables: RuntimeTables,
        workflows: GovernanceWorkflows,
    ) -> None:
        super().__init__(scope, construct_id)
        region = Stack.of(self).region
        self.analyst = iam.Role(
            self,
            "Analyst",
            assumed_by=iam.AccountRootPrincipal(),
            description="Interaction Lake analysts: Athena queries on the interactions table",
        )
        arn = f"arn:{Aws.PARTITION}"
        self.analyst.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "athena:StartQueryExecution",
                    "athena:StopQueryExecution",
                    "athena:GetQueryExecution",
                    "athena:GetQueryResults",
                    "athena:GetWorkGroup",
                    "athena:ListNamedQueries",
                    "athena:GetNamedQuery",
                ],
                resources=[f"{arn}:athena:{region}:{Aws.ACCOUNT_ID}:workgroup/{workgroup}"],
            )
        )
        self.analyst.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"],
                resources=[
                    f"{arn}:glue:{region}:{Aws.ACCOUNT_ID}:catalog",
                    f"{arn}:glue:{region}:{Aws.ACCOUNT_ID}:database/{database}",
                    f"{arn}:glue:{region}:{Aws.ACCOUNT_ID}:table/{database}/interactions",
                ],
            )
        )
        # explicit actions, no families: read the lake, read and write query results
        self.analyst.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[lake.arn_for_objects("interactions/*")]
            )
        )
        self.analyst.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "s3:GetObject",
                    "s3:PutObject",
                    "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts",
                ],
                resources=[results.arn_for_objects("results/*")],
            )
        )
        self.analyst.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket", "s3:GetBucketLocation"],
                resources=[lake.bucket_arn, results.bucket_arn],
            )
        )
        results_key.grant(self.analyst, "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey")
        for key in keys.values():
            key.grant_lake_read(self.analyst, lake.bucket_arn, region)
        stack = Stack.of(self)
        lake_id = stack.resolve(stack.get_logical_id(lake.node.default_child))  # type: ignore[arg-type]
        results_id = stack.resolve(stack.get_logical_id(results.node.default_child))  # type: ignore[arg-type]
        acknowledge(
            self.analyst,
            "Object reads are scoped to the lake's interactions/ prefix and query results to the "
            "workgroup's results/ prefix; object names are not known in advance.",
            f"AwsSolutions-IAM5[Resource::<{lake_id}.Arn>/interactions/*]",
            f"AwsSolutions-IAM5[Resource::<{results_id}.Arn>/results/*]",
        )
        acknowledge(
            self.analyst,
            "The role's grants are generated as one policy of its own (AWS::IAM::Policy).",
            "HIPAA.Security-IAMNoInlinePolicy",
        )

        self.governance = iam.Role(
            self,
            "Governance",
            assumed_by=iam.AccountRootPrincipal(),
            description="Interaction Lake governance: runs and approves the governance workflows",
        )
        # No direct key or object powers: disabling, enabling and shredding a program's key, and
        # deleting its data, happen only inside the audited workflows (purge needs a second
        # person), each with a role of its own (infra/governance.py).
        workflows.grant_operator(self.governance)
        # the approval token, `ilake status` and `ilake audit`
        tables.program_state.grant(self.governance, "dynamodb:GetItem", "dynamodb:Scan")
        tables.audit.grant(self.governance, "dynamodb:Query", "dynamodb:Scan")
        self.governance.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[tables.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{region}.amazonaws.com"}},
            )
        )
        acknowledge(
            self.governance,
            "The role's grants are generated as one policy of its own (AWS::IAM::Policy).",
            "HIPAA.Security-IAMNoInlinePolicy",
        )

"""Runtime state in DynamoDB: program state, agent tokens (hashed), idempotency, audit trail,
and the common-text vocabulary (texts enough people sent; docs/common-text.md).

Every table: a customer-managed key, point-in-time recovery, on-demand billing. The audit table
is append-only by convention and by IAM (writers get PutItem with attribute_not_exists only).
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from lambdas.core.resources import (
    AGENTS,
    AUDIT,
    COMMON_TEXTS,
    IDEMPOTENCY,
    PROGRAM_STATE,
    TableDeclaration,
)

from .defaults import rotated_key
from .nag import acknowledge


class RuntimeTables(Construct):
    """The declared tables; `environment` names them to a function under their variables."""

    def __init__(self, scope: Construct, construct_id: str, *, removal: RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self.key = rotated_key(
            self,
            "TablesKey",
            description=(
                "Interaction Lake runtime tables (state, agents, idempotency, audit, common texts)"
            ),
            removal=removal,
        )
        # keys and TTLs come from lambdas.core.resources, which local mode provisions too
        self.program_state = self._table(PROGRAM_STATE, removal=removal)
        self.agents = self._table(AGENTS, removal=removal)
        self.idempotency = self._table(IDEMPOTENCY, removal=RemovalPolicy.DESTROY)
        self.audit = self._table(AUDIT, removal=removal)
        self.common_texts = self._table(COMMON_TEXTS, removal=removal)
        self._by_declaration = {
            PROGRAM_STATE: self.program_state,
            AGENTS: self.agents,
            IDEMPOTENCY: self.idempotency,
            AUDIT: self.audit,
            COMMON_TEXTS: self.common_texts,
        }

    def environment(self, *declared: TableDeclaration) -> dict[str, str]:
        """Each table's name under the variable its declaration gives (what settings read)."""
        return {table.env: self._by_declaration[table].table_name for table in declared}

    def _table(self, declared: TableDeclaration, *, removal: RemovalPolicy) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            declared.role,
            partition_key=dynamodb.Attribute(
                name=declared.partition_key, type=dynamodb.AttributeType.STRING
            ),
            sort_key=(
                dynamodb.Attribute(name=declared.sort_key, type=dynamodb.AttributeType.STRING)
                if declared.sort_key
                else None
            ),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=declared.ttl_attribute,
            deletion_protection=removal is RemovalPolicy.RETAIN,
            removal_policy=removal,
        )
        acknowledge(
            table,
            "Point-in-time recovery (35 days, continuous) is on for every table; a separate AWS "
            "Backup copy of token hashes and program state would be one more store that purge "
            "and erasure must reach.",
            "HIPAA.Security-DynamoDBInBackupPlan",
        )
        return table

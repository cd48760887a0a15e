"""The AWS resources the runtime relies on, declared once for the CDK app and for local mode.

`infra/` builds its constructs from these declarations and `ilake.provision` creates the same
things against moto; `tests/infra/test_drift.py` proves that the two agree. Pure Python (no
aws_cdk): the Lambdas and the CLI import it too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from . import names
from .analytics import NamedQuery


@dataclass(frozen=True, slots=True)
class TableDeclaration:
    """A DynamoDB table with string keys, billed on demand."""

    role: str  # also the table's construct id in the CDK app
    env: str  # the environment variable that gives the runtime the table's name
    name: str  # local mode and tests name the table `<prefix><name>`; CDK names it in the cloud
    partition_key: str
    sort_key: str | None = None
    ttl_attribute: str | None = None

    @property
    def key_schema(self) -> list[dict[str, str]]:
        """DynamoDB's KeySchema, partition key first."""
        schema = [{"AttributeName": self.partition_key, "KeyType": "HASH"}]
        if self.sort_key:
            schema.append({"AttributeName": self.sort_key, "KeyType": "RANGE"})
        return schema

    @property
    def attribute_definitions(self) -> list[dict[str, str]]:
        return [
            {"AttributeName": key["AttributeName"], "AttributeType": "S"} for key in self.key_schema
        ]


PROGRAM_STATE = TableDeclaration("ProgramState", "PROGRAM_STATE_TABLE", "program-state", "program")
AGENTS = TableDeclaration("Agents", "AGENTS_TABLE", "agents", "token_hash")
# Powertools Idempotency's default attribute names: id, expiration
IDEMPOTENCY = TableDeclaration(
    "Idempotency", "IDEMPOTENCY_TABLE", "idempotency", "id", ttl_attribute="expiration"
)
AUDIT = TableDeclaration("Audit", "AUDIT_TABLE", "audit", "program", sort_key="at")
# Texts that enough people sent (lambdas/adapters/text_store.py); pending texts have no item
COMMON_TEXTS = TableDeclaration(
    "CommonTexts", "COMMON_TEXTS_TABLE", "common-texts", "program", sort_key="text_id"
)
TABLES: tuple[TableDeclaration, ...] = (PROGRAM_STATE, AGENTS, IDEMPOTENCY, AUDIT, COMMON_TEXTS)


def table_environment(prefix: str) -> dict[str, str]:
    """Every declared table's variable -> `<prefix><name>`: how local mode and tests name them."""
    return {table.env: f"{prefix}{table.name}" for table in TABLES}


def table_names(environment: Mapping[str, str]) -> dict[TableDeclaration, str]:
    """Every declared table's name, read from its variable (a missing one raises KeyError)."""
    return {table: environment[table.env] for table in TABLES}


# The Glue catalog and the Athena workgroup analysts query through
DATABASE = "interaction_lake"
DATABASE_DESCRIPTION = "Interaction Lake: minimized, pseudonymized interaction events"
TABLE = "interactions"
TABLE_TYPE = "EXTERNAL_TABLE"
PARQUET_INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PROJECTION_START = "2026-01-01"
WORKGROUP = "interaction-lake"
WORKGROUP_DESCRIPTION = "Analysts' workgroup: enforced, encrypted, capped"
ATHENA_ENGINE_VERSION = "Athena engine version 3"


def table_location(bucket: str) -> str:
    """Where the `interactions` table's files live (see lake.object_key)."""
    return f"s3://{bucket}/interactions/"


def projection(location: str, programs: Iterable[str]) -> dict[str, str]:
    """Partition projection parameters: Athena computes partitions instead of listing them."""
    return {
        "classification": "parquet",
        "parquet.compression": "ZSTD",
        "projection.enabled": "true",
        "projection.program.type": "enum",
        "projection.program.values": ",".join(sorted(programs)),
        "projection.dt.type": "date",
        "projection.dt.format": "yyyy-MM-dd",
        "projection.dt.range": f"{PROJECTION_START},NOW",
        "projection.dt.interval": "1",
        "projection.dt.interval.unit": "DAYS",
        "projection.hour.type": "integer",
        "projection.hour.range": "0,23",
        "projection.hour.digits": "2",
        "storage.location.template": (location + "program=${program}/dt=${dt}/hour=${hour}/"),
    }


def published_sql(query: NamedQuery) -> str:
    """The text a named query is saved with in the workgroup: its `?` form, so the console asks
    for the program and the day (in the order its description lists) and no value is ever part
    of the SQL."""
    return query.positional_sql


# The governance workflows (docs/governance.md): one ASL file each in workflows/, used by the CDK
# app and by local mode with the same placeholders filled.
WORKFLOWS_DIR = Path(__file__).resolve().parents[2] / "workflows"
WORKFLOWS: tuple[str, ...] = ("pause", "resume", "purge", "erase-subject")
# Placeholder of a Lambda-backed step -> its handler; local mode's function names.
GOVERNANCE_HANDLERS = {
    "PurgeFunction": "lambdas.governance.purge.handler",
    "EraseFunction": "lambdas.governance.erase.handler",
}
LOCAL_FUNCTION_NAMES = {
    "PurgeFunction": "ilake-local-purge",
    "EraseFunction": "ilake-local-erase",
}


def workflow_substitutions(
    *,
    programs: Iterable[str],
    program_state_table: str,
    audit_table: str,
    lake_bucket: str,
    key_alias_prefix: str,
    secret_prefix: str,
    common_texts_table: str,
) -> dict[str, str]:
    """Every placeholder of the ASL files but the Lambda ARNs (see GOVERNANCE_HANDLERS); the
    key alias and secret name arrive as `States.Format` templates of lambdas.core.names."""
    return {
        "Programs": ",".join(sorted(programs)),
        "ProgramStateTable": program_state_table,
        "AuditTable": audit_table,
        "CommonTextsTable": common_texts_table,
        "LakeBucket": lake_bucket,
        "KeyAliasFormat": names.name_template(names.key_alias, key_alias_prefix),
        "SecretNameFormat": names.name_template(names.secret_name, secret_prefix),
    }


def state_machine_name(workflow: str, prefix: str = "ilake-") -> str:
    """`ilake-<workflow>` in the cloud, `ilake-local-<workflow>` in local mode."""
    return f"{prefix}{workflow}"

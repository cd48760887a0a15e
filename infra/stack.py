"""The Interaction Lake stack: composes one Construct per logical unit, then records the
acknowledgements that span them (log retention, the bucket-emptying handler)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from constructs import Construct

from lambdas.core import resources

from .access import LakeAccess
from .bucket_emptying import acknowledge_bucket_emptying
from .catalog import LakeCatalog
from .compaction import Compaction
from .config import AppConfig
from .controls import acknowledge_log_retention
from .function_runtime import FunctionRuntime
from .governance import GovernanceWorkflows
from .ingest_api import IngestApi
from .lake_storage import LakeStorage
from .observability import Observability
from .program_keys import ProgramKey
from .runtime_tables import RuntimeTables


class InteractionLakeStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: AppConfig, **kwargs: object
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        removal = RemovalPolicy.DESTROY if config.destroy_data else RemovalPolicy.RETAIN
        self.keys = {
            name: ProgramKey(self, f"Program-{name}", program=name, removal=removal)
            for name in config.programs
        }
        self.storage = LakeStorage(
            self, "Storage", programs=config.programs, keys=self.keys, removal=removal
        )
        self.tables = RuntimeTables(self, "Tables", removal=removal)
        self.catalog = LakeCatalog(
            self,
            "Catalog",
            lake=self.storage.bucket,
            programs=sorted(config.programs),
            access_logs=self.storage.access_logs,
            bytes_cutoff=config.athena_bytes_cutoff,
            removal=removal,
        )
        self.runtime = FunctionRuntime(
            self, "Runtime", retention_days=config.log_retention_days, removal=removal
        )
        self.api = IngestApi(
            self,
            "Ingest",
            config=config,
            lake=self.storage.bucket,
            keys=self.keys,
            tables=self.tables,
            runtime=self.runtime,
            removal=removal,
        )
        self.workflows = GovernanceWorkflows(
            self,
            "Governance",
            lake=self.storage.bucket,
            keys=self.keys,
            tables=self.tables,
            runtime=self.runtime,
            removal=removal,
        )
        self.compaction = Compaction(
            self,
            "Compaction",
            lake=self.storage.bucket,
            keys=self.keys,
            tables=self.tables,
            runtime=self.runtime,
        )
        self.access = LakeAccess(
            self,
            "Access",
            lake=self.storage.bucket,
            results=self.catalog.results,
            results_key=self.catalog.results_key,
            workgroup=resources.WORKGROUP,
            database=resources.DATABASE,
            keys=self.keys,
            tables=self.tables,
            workflows=self.workflows,
        )
        self.observability = Observability(
            self,
            "Observability",
            api=self.api.api,
            functions={"Ingest": self.api.ingest, "Authorizer": self.api.authorizer_fn},
            scheduled={"Compaction": self.compaction.function},
            authorizer_logs=self.api.log_groups["Authorizer"],
            programs=sorted(config.programs),
            alarm_email=config.alarm_email,
            removal=removal,
        )
        acknowledge_log_retention(self)
        acknowledge_bucket_emptying(self)

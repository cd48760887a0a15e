"""Glue catalog and Athena workgroup: how analysts query the lake.

The table's columns are generated from the lake's Arrow schema (one source of truth), and its
partitions are projected (program enum from the program files, dt date, hour integer) so no
crawler or partition maintenance is needed. The workgroup enforces its configuration: results
encrypted with KMS in their own bucket, and a bytes-scanned cutoff per query.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_s3 as s3
from constructs import Construct

from lambdas.core.analytics import named_queries
from lambdas.core.lake import PARTITION_KEYS, glue_columns
from lambdas.core.resources import (
    ATHENA_ENGINE_VERSION,
    DATABASE,
    DATABASE_DESCRIPTION,
    PARQUET_INPUT_FORMAT,
    PARQUET_OUTPUT_FORMAT,
    PARQUET_SERDE,
    TABLE,
    TABLE_TYPE,
    WORKGROUP,
    WORKGROUP_DESCRIPTION,
    projection,
    published_sql,
    table_location,
)

from .defaults import encrypted_bucket, rotated_key
from .nag import acknowledge, acknowledge_guard


class LakeCatalog(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        lake: s3.IBucket,
        programs: list[str],
        access_logs: s3.IBucket,
        bytes_cutoff: int,
        removal: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=DATABASE,
                description=DATABASE_DESCRIPTION,
            ),
        )
        location = table_location(lake.bucket_name)
        self.table = glue.CfnTable(
            self,
            "Interactions",
            catalog_id=Aws.ACCOUNT_ID,
            database_name=DATABASE,
            table_input=glue.CfnTable.TableInputProperty(
                name=TABLE,
                table_type=TABLE_TYPE,
                partition_keys=[
                    glue.CfnTable.ColumnProperty(name=name, type=kind)
                    for name, kind in PARTITION_KEYS
                ],
                parameters=projection(location, programs),
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=[
                        glue.CfnTable.ColumnProperty(name=c["Name"], type=c["Type"])
                        for c in glue_columns()
                    ],
                    location=location,
                    input_format=PARQUET_INPUT_FORMAT,
                    output_format=PARQUET_OUTPUT_FORMAT,
                    serde_info=glue.CfnTable.SerdeInfoProperty(serialization_library=PARQUET_SERDE),
                ),
            ),
        )
        self.table.node.add_dependency(self.database)

        self.results_key = rotated_key(
            self,
            "ResultsKey",
            description="Interaction Lake Athena query results",
            removal=removal,
        )
        self.results = encrypted_bucket(
            self,
            "Results",
            key=self.results_key,
            access_logs=access_logs,
            access_logs_prefix="athena-results/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(30),
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal=removal,
        )
        acknowledge(
            self.results,
            "Query results are transient (expired after 30 days) and derived from the lake; a "
            "replica would outlive erasures.",
            "HIPAA.Security-S3BucketReplicationEnabled",
        )
        acknowledge_guard(
            self.results,
            "Query results are transient (expired after 30 days) and derived from the lake; Object "
            "Lock would keep query output past the erasures and purges the lake applies.",
            "s3_bucket_object_lock_enabled_check",
        )
        acknowledge_guard(
            self.results,
            "Athena writes query results and the analyst who ran the query reads them; nothing "
            "reacts to a new result object, so there is nothing to notify.",
            "s3_event_notifications_enabled_check",
        )
        self.workgroup = athena.CfnWorkGroup(
            self,
            "Workgroup",
            name=WORKGROUP,
            description=WORKGROUP_DESCRIPTION,
            state="ENABLED",
            # a workgroup holding query executions is deleted only recursively
            recursive_delete_option=removal is RemovalPolicy.DESTROY,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=bytes_cutoff,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version=ATHENA_ENGINE_VERSION
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{self.results.bucket_name}/results/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=self.results_key.key_arn
                    ),
                ),
            ),
        )
        for query in named_queries().values():
            named = athena.CfnNamedQuery(
                self,
                f"Query{''.join(p.capitalize() for p in query.name.split('-'))}",
                name=query.name,
                description=query.published_description,
                database=DATABASE,
                work_group=self.workgroup.name,
                query_string=published_sql(query),
            )
            named.node.add_dependency(self.workgroup)

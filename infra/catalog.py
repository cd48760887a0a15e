"""Glue catalog and Athena workgroup: how analysts query the lake (DESIGN 3).

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

from lambdas.core.lake import PARTITION_KEYS, glue_columns

from .defaults import encrypted_bucket, rotated_key
from .nag import acknowledge

TABLE = "interactions"
PROJECTION_START = "2026-01-01"

NAMED_QUERIES = {
    "shortcut-usage-per-app": (
        "Which keyboard shortcuts are used in which applications (last 7 days)",
        """SELECT app_name, array_join(modifiers, '+') || '+' || key AS shortcut, count(*) AS uses
FROM interactions
WHERE program = '{program}' AND type = 'key.shortcut'
  AND dt >= date_format(current_date - interval '7' day, '%Y-%m-%d')
GROUP BY 1, 2 ORDER BY uses DESC LIMIT 100""",
    ),
    "menu-paths": (
        "Most used menu paths per application (last 7 days)",
        """SELECT app_name, array_join(menu_path, ' > ') AS path, count(*) AS uses
FROM interactions
WHERE program = '{program}' AND type = 'menu.select'
  AND dt >= date_format(current_date - interval '7' day, '%Y-%m-%d')
GROUP BY 1, 2 ORDER BY uses DESC LIMIT 100""",
    ),
    "click-heatmap-bins": (
        "Click density on a 20x20 grid of the display, per application (one day)",
        """SELECT app_name, floor(x * 20) AS col, floor(y * 20) AS row, count(*) AS clicks
FROM interactions
WHERE program = '{program}' AND type = 'pointer.click' AND dt = '{dt}'
GROUP BY 1, 2, 3 ORDER BY app_name, row, col""",
    ),
    "daily-volume": (
        "Events per day and type, with redactions, for the last 30 days",
        """SELECT dt, type, count(*) AS events,
       sum(cardinality(map_keys(coalesce(redactions, MAP())))) AS events_with_redactions
FROM interactions
WHERE program = '{program}'
  AND dt >= date_format(current_date - interval '30' day, '%Y-%m-%d')
GROUP BY 1, 2 ORDER BY 1, 2""",
    ),
}


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
                name="interaction_lake",
                description="Interaction Lake: minimized, pseudonymized interaction events",
            ),
        )
        location = f"s3://{lake.bucket_name}/interactions/"
        self.table = glue.CfnTable(
            self,
            "Interactions",
            catalog_id=Aws.ACCOUNT_ID,
            database_name="interaction_lake",
            table_input=glue.CfnTable.TableInputProperty(
                name=TABLE,
                table_type="EXTERNAL_TABLE",
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
                    input_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library=(
                            "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
                        )
                    ),
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
        self.workgroup = athena.CfnWorkGroup(
            self,
            "Workgroup",
            name="interaction-lake",
            description="Analysts' workgroup: enforced, encrypted, capped",
            state="ENABLED",
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=bytes_cutoff,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{self.results.bucket_name}/results/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=self.results_key.key_arn
                    ),
                ),
            ),
        )
        example = programs[0] if programs else "program"
        for query_id, (description, sql) in NAMED_QUERIES.items():
            query = athena.CfnNamedQuery(
                self,
                f"Query{''.join(p.capitalize() for p in query_id.split('-'))}",
                name=query_id,
                description=description,
                database="interaction_lake",
                work_group=self.workgroup.name,
                query_string=sql.replace("{program}", example).replace("{dt}", PROJECTION_START),
            )
            query.node.add_dependency(self.workgroup)


def projection(location: str, programs: list[str]) -> dict[str, str]:
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

"""Analyst queries: DuckDB over the lake locally, Athena in the cloud, with the same SQL.

Locally the `interactions` table is a pyarrow dataset over the lake bucket, read through the S3
endpoint (moto), with the partition columns `program`, `dt` and `hour` typed as Glue declares
them. DuckDB scans it with filter pushdown, so `WHERE program = ... AND dt = ...` prunes objects
as partition projection does in Athena. DuckDB lacks a few Trino functions that the named queries
use; `TRINO_COMPAT` defines them as macros so the Athena SQL runs unchanged.

Values (a named query's program and day) are always parameters, never part of the SQL text:
DuckDB binds them, Athena receives them as `ExecutionParameters` (see `athena_literal`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from lambdas.core import resources
from lambdas.core.lake import INTERACTIONS, PARTITION_KEYS

TABLE = resources.TABLE
LAKE_PREFIX = "interactions/"
TRINO_COMPAT = (
    # Trino's array_join(array, delimiter)
    "CREATE MACRO array_join(items, delimiter) AS array_to_string(items, delimiter)",
    # Trino's date_format(timestamp, format): the MySQL-style codes the queries use (%Y %m %d %H)
    # mean the same in strftime
    "CREATE MACRO date_format(value, fmt) AS strftime(value, fmt)",
)
_ARROW_TYPES = {"string": "string", "int": "int32"}


class QueryError(Exception):
    """The SQL was refused (syntax, unknown table or column, failed Athena query): exit 2."""


@dataclass(frozen=True, slots=True)
class Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def open_lake(
    *, endpoint_url: str | None, bucket: str, region: str, in_memory: bool = False
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the lake registered as `interactions` (read-only, no network
    beyond the S3 endpoint; credentials from the environment as boto3 would find them).

    By default every query scans the objects it needs (partition filters prune them);
    `in_memory` reads the whole lake once, for many queries over a small local lake (the report).
    """
    import boto3
    from pyarrow import fs

    credentials = boto3.Session(region_name=region).get_credentials()
    frozen = credentials.get_frozen_credentials() if credentials else None
    options: dict[str, Any] = {"region": region}
    if frozen is not None:
        options |= {
            "access_key": frozen.access_key,
            "secret_key": frozen.secret_key,
            "session_token": frozen.token,
        }
    if endpoint_url:
        scheme, _, host = endpoint_url.partition("://")
        options |= {"endpoint_override": host, "scheme": scheme}
    dataset = lake_dataset(f"{bucket}/{LAKE_PREFIX}", fs.S3FileSystem(**options))
    return connect(dataset.to_table() if in_memory else dataset)


def lake_dataset(root: str, filesystem: Any) -> Any:
    """The lake under `root` as an Arrow dataset with the lake's schema plus the partition
    columns, typed as Glue declares them. An empty lake is an empty table, not an error."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    partitions = pa.schema([(name, _ARROW_TYPES[kind]) for name, kind in PARTITION_KEYS])
    schema = pa.unify_schemas([INTERACTIONS, partitions])
    try:
        return ds.dataset(
            root,
            schema=schema,
            filesystem=filesystem,
            format="parquet",
            partitioning=ds.partitioning(partitions, flavor="hive"),
        )
    except FileNotFoundError:
        return schema.empty_table()


def connect(interactions: Any) -> duckdb.DuckDBPyConnection:
    """A connection where `interactions` is the given Arrow dataset or table."""
    # Analysts' SQL reads the lake and nothing else: no local files, no settings changes. Time
    # functions work in UTC, as in Athena, whatever this machine's zone.
    con = duckdb.connect()
    for setting in (
        "SET TimeZone = 'UTC'",
        "SET enable_external_access = false",
        "SET lock_configuration = true",
    ):
        con.execute(setting)
    for statement in TRINO_COMPAT:
        con.execute(statement)
    con.register(TABLE, interactions)
    return con


def run_duckdb(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[str] = ()) -> Result:
    """Run `sql` with `params` bound to its `?` marks, in order."""
    try:
        if params:
            cursor = con.execute(sql, list(params))
            if cursor.description is None:
                return Result([], [])
            return Result([c[0] for c in cursor.description], cursor.fetchall())
        relation = con.sql(sql)
        if relation is None:
            return Result([], [])
        return Result(list(relation.columns), relation.fetchall())
    except duckdb.Error as exc:
        raise QueryError(_first_line(str(exc))) from None


def athena_literal(value: str) -> str:
    """A string as Athena takes an execution parameter: a SQL literal, so quoted, with quotes
    doubled. The value stays one literal whatever it holds."""
    return "'" + value.replace("'", "''") + "'"


def run_athena(
    athena: Any,
    sql: str,
    *,
    workgroup: str,
    database: str,
    params: Sequence[str] = (),
    poll_seconds: float = 0.5,
    timeout_seconds: float = 300,
    sleep: Callable[[float], None] = time.sleep,
) -> Result:
    """Start the query in the workgroup (its enforced settings apply) with `params` for its `?`
    marks, wait for it, page the results. The first row of Athena's result set is the header
    for SELECTs."""
    request: dict[str, Any] = {
        "QueryString": sql,
        "WorkGroup": workgroup,
        "QueryExecutionContext": {"Database": database},
    }
    if params:  # Athena refuses an empty list
        request["ExecutionParameters"] = [athena_literal(value) for value in params]
    execution = athena.start_query_execution(**request)["QueryExecutionId"]
    waited = 0.0
    while True:
        status = athena.get_query_execution(QueryExecutionId=execution)["QueryExecution"]["Status"]
        state = status["State"]
        if state == "SUCCEEDED":
            break
        if state in ("FAILED", "CANCELLED"):
            reason = status.get("StateChangeReason") or state.lower()
            raise QueryError(f"Athena query {execution} {state.lower()}: {reason}")
        if waited >= timeout_seconds:
            raise QueryError(f"Athena query {execution} still {state} after {timeout_seconds}s")
        sleep(poll_seconds)
        waited += poll_seconds
    pages = athena.get_paginator("get_query_results").paginate(QueryExecutionId=execution)
    columns: list[str] = []
    rows: list[tuple[Any, ...]] = []
    for page in pages:
        result_set = page["ResultSet"]
        if not columns:
            columns = [c["Name"] for c in result_set["ResultSetMetadata"]["ColumnInfo"]]
        for row in result_set["Rows"]:
            values = tuple(cell.get("VarCharValue") for cell in row["Data"])
            if not rows and list(values) == columns:
                continue  # the header row
            rows.append(values)
    return Result(columns, rows)


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else "query failed"

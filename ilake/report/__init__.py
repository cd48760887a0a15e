"""`ilake report`: one self-contained HTML page about what the lake holds, per program.

The figures come from DuckDB SQL over the lake (data.py, testable without any HTML) and are
rendered by page.py; here the page is written, and a running local stack supplies the lake, the
ingest metrics (what was refused never reaches the lake) and each program's state.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from .data import ReportData, collect
from .page import render_html


def write_report(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    rejected: Mapping[str, Mapping[str, int]],
    not_captured: Mapping[str, Mapping[str, int]] | None = None,
    states: Mapping[str, str] | None = None,
) -> ReportData:
    """Collect, render and write the page (creating its directory); returns what it showed."""
    data = collect(con, rejected=rejected, not_captured=not_captured, states=states)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(data), encoding="utf-8")
    return data


def local_report(state: Any, output: Path, *, days: int = 14, con: Any = None) -> Path:
    """The report of a running local stack: the lake through its S3 endpoint (read once into
    memory: the report runs a dozen queries) and the ingest metrics from its CloudWatch."""
    import boto3

    from ..metrics import sums_by_program
    from ..query import open_lake

    if con is None:
        con = open_lake(
            endpoint_url=state.aws_endpoint_url,
            bucket=state.bucket,
            region=state.region,
            in_memory=True,
        )
    cloudwatch = boto3.client("cloudwatch", region_name=state.region)
    rejected = sums_by_program(cloudwatch, "Rejected.", days=days)
    not_captured = sums_by_program(cloudwatch, "NotCaptured.", days=days)
    write_report(
        con, output, rejected=rejected, not_captured=not_captured, states=_states(state.region)
    )
    return output


def _states(region: str) -> dict[str, str]:
    """program -> state, from the program state table (programs without a record are ACTIVE)."""
    import boto3

    from ..local import RESOURCE_NAMES

    pages = (
        boto3.client("dynamodb", region_name=region)
        .get_paginator("scan")
        .paginate(
            TableName=RESOURCE_NAMES["PROGRAM_STATE_TABLE"],
            ProjectionExpression="#p, #s",
            ExpressionAttributeNames={"#p": "program", "#s": "state"},
        )
    )
    return {item["program"]["S"]: item["state"]["S"] for page in pages for item in page["Items"]}

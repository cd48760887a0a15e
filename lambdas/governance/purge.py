"""Purge workflow step: delete one page (<= 1,000) of object versions and delete markers under a
program's prefix, and one page (<= 25) of its common-text items (lambdas/adapters/text_store.py),
and add what was deleted to the program's running counts.

The state machine calls this until nothing is left, then verifies with its own listing. The
counts are added after S3 confirms each deletion, so a retry or a re-run after a failure never
counts a version twice (what S3 did not confirm is listed, deleted and counted again later).
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3

from lambdas.adapters.text_store import TextStore
from lambdas.core import resources
from lambdas.core.lake import program_prefix
from lambdas.core.programs import PROGRAM_NAME

PAGE = 1000  # DeleteObjects takes at most 1,000 keys per call


def _page_size() -> int:
    """PURGE_PAGE_SIZE (tests use small pages to exercise the loop), never above S3's 1,000."""
    return max(1, min(PAGE, int(os.environ.get("PURGE_PAGE_SIZE", PAGE))))


class PurgeIncomplete(Exception):
    """S3 refused to delete some versions; the state machine retries the step."""


@cache
def _clients() -> tuple[Any, Any]:
    return boto3.client("s3"), boto3.client("dynamodb")


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    program = str(event["program"])
    if not PROGRAM_NAME.fullmatch(program):
        raise ValueError("not a program name")
    s3, dynamodb = _clients()
    bucket = os.environ["LAKE_BUCKET"]
    listing = s3.list_object_versions(
        Bucket=bucket, Prefix=program_prefix(program), MaxKeys=_page_size()
    )
    sizes = {(v["Key"], v["VersionId"]): int(v.get("Size", 0)) for v in listing.get("Versions", [])}
    markers = {(m["Key"], m["VersionId"]) for m in listing.get("DeleteMarkers", [])}
    targets = [*sizes, *markers]
    deleted: set[tuple[str, str]] = set()
    errors = 0
    if targets:
        answer = s3.delete_objects(
            Bucket=bucket,
            Delete={"Objects": [{"Key": k, "VersionId": v} for k, v in targets], "Quiet": False},
        )
        deleted = {(d["Key"], d.get("VersionId", "")) for d in answer.get("Deleted", [])}
        errors = len(answer.get("Errors", []))
    store = TextStore(dynamodb, os.environ[resources.COMMON_TEXTS.env])
    texts, more_texts = store.delete_page(program)
    objects = sum(1 for target in deleted if target in sizes)
    counts = {
        "objects": objects,
        "bytes": sum(sizes[t] for t in deleted if t in sizes),
        "markers": len(deleted) - objects,
        "texts": texts,
    }
    if deleted or texts:
        dynamodb.update_item(
            TableName=os.environ[resources.PROGRAM_STATE.env],
            Key={"program": {"S": program}},
            UpdateExpression=(
                "ADD purged_objects :o, purged_bytes :b, purged_markers :m, purged_texts :t"
            ),
            ExpressionAttributeValues={
                ":o": {"N": str(counts["objects"])},
                ":b": {"N": str(counts["bytes"])},
                ":m": {"N": str(counts["markers"])},
                ":t": {"N": str(counts["texts"])},
            },
        )
    if errors:
        raise PurgeIncomplete(f"{errors} versions were not deleted")
    return {**counts, "more": bool(listing.get("IsTruncated")) or more_texts}

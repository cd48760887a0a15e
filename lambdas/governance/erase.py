"""Erase-subject workflow steps (one Lambda, four actions):

- `pseudonym`: the subject's pseudonym under the program's secret (the raw subject goes no
  further than this step's input);
- `known`: whether an unforced erasure may go ahead, before anything is suppressed: a subject
  with no row in the lake and not suppressed yet is most likely a misspelt name;
- `find`: the current objects that hold the pseudonym, reading footers and one column only;
- `rewrite`: one object without the subject's rows, written under the program's key, then every
  other version of that key deleted, so no old version still holds them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import cache
from typing import Any

import boto3

from lambdas.adapters.program_state import read_status
from lambdas.core import names, resources
from lambdas.core.erasure import Scan, scan, without_subject
from lambdas.core.lake import program_prefix, put_args
from lambdas.core.programs import PROGRAM_NAME
from lambdas.core.pseudonym import Pseudonymizer
from lambdas.core.state import ProgramState

from .s3 import RangedObject, delete_other_versions

ERASABLE = (ProgramState.ACTIVE, ProgramState.PAUSED)


@cache
def _clients() -> tuple[Any, Any, Any, Any]:
    return (
        boto3.client("s3"),
        boto3.client("secretsmanager"),
        boto3.client("kms"),
        boto3.client("dynamodb"),
    )


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    program = str(event["program"])
    if not PROGRAM_NAME.fullmatch(program):
        raise ValueError("not a program name")
    action = event["action"]
    if action == "pseudonym":
        return {"subject_pid": pseudonym(program, str(event["subject"]))}
    if action == "known":
        return known(program, str(event["subject_pid"]))
    if action == "find":
        return find(program, str(event["subject_pid"]))
    if action == "rewrite":
        return rewrite(program, str(event["key"]), str(event["subject_pid"]))
    raise ValueError("unknown action")


def pseudonym(program: str, subject: str) -> str:
    _, secrets, _, _ = _clients()
    name = names.secret_name(
        program, os.environ.get("SECRET_NAME_PREFIX", names.SECRET_NAME_PREFIX)
    )
    secret = secrets.get_secret_value(SecretId=name)["SecretString"]
    return Pseudonymizer(secret.encode()).pid("subject", subject)


def known(program: str, pid: str) -> dict[str, bool]:
    """What an unforced erasure needs to know before it suppresses anyone.

    `erasable`: the program is ACTIVE or PAUSED (the suppression step refuses the others and
    audits it); `suppressed`: an earlier erasure already suppressed `pid`; `held`: some current
    object under the program's prefix holds a row of `pid`. The lake is searched only when the
    first two leave the answer open, and only until the first object that holds `pid`.
    """
    _, _, _, dynamodb = _clients()
    status = read_status(dynamodb, os.environ[resources.PROGRAM_STATE.env], program)
    erasable = status.state in ERASABLE
    suppressed = pid in status.suppressed_subjects
    held = erasable and not suppressed and any(found.rows for *_, found in _scans(program, pid))
    return {"erasable": erasable, "suppressed": suppressed, "held": held}


def _scans(program: str, pid: str) -> Iterator[tuple[str, RangedObject, Scan]]:
    """Each current Parquet object under the program's prefix (key, ranged reader) and what
    scanning it for `pid` found (footer statistics first, then the subject column of the row
    groups left)."""
    s3, _, _, _ = _clients()
    bucket = os.environ["LAKE_BUCKET"]
    pages = s3.get_paginator("list_object_versions").paginate(
        Bucket=bucket, Prefix=program_prefix(program)
    )
    for page in pages:
        for version in page.get("Versions", []):
            if not version["IsLatest"] or not version["Key"].endswith(".parquet"):
                continue
            source = RangedObject(
                s3, bucket, version["Key"], size=version["Size"], version_id=version["VersionId"]
            )
            yield version["Key"], source, scan(source, pid)


def find(program: str, pid: str) -> dict[str, Any]:
    """Every current object under the program's prefix that holds `pid`, with its row count."""
    files: list[dict[str, Any]] = []
    totals = {"files_scanned": 0, "row_groups": 0, "row_groups_read": 0, "get_requests": 0}
    for key, source, found in _scans(program, pid):
        totals["files_scanned"] += 1
        totals["row_groups"] += found.row_groups
        totals["row_groups_read"] += found.row_groups_read
        totals["get_requests"] += source.requests
        if found.rows:
            files.append({"key": key, "rows": found.rows})
    return {"files": files, "rows": sum(f["rows"] for f in files), **totals}


def rewrite(program: str, key: str, pid: str) -> dict[str, Any]:
    """The current version of `key` without `pid`'s rows; every other version deleted."""
    if not key.startswith(program_prefix(program)):
        raise ValueError("key outside the program's prefix")
    s3, _, kms, _ = _clients()
    bucket = os.environ["LAKE_BUCKET"]
    current = s3.get_object(Bucket=bucket, Key=key)
    data, removed = without_subject(current["Body"].read(), pid)
    keep: str | None = None
    if data is not None:
        alias = names.key_alias(program, os.environ.get("KEY_ALIAS_PREFIX", names.KEY_ALIAS_PREFIX))
        key_arn = kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"]
        written = s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=data,
            **put_args(key_arn),
            Metadata={**current.get("Metadata", {}), "erased-rows": str(removed)},
        )
        keep = written["VersionId"]
    deleted = delete_other_versions(s3, bucket, key, keep)
    return {"key": key, "rows_removed": removed, "versions_deleted": deleted}

"""Compaction Lambda: one program's closed hour partitions rewritten into large sorted files.

Run hourly per program by an EventBridge rule (`{"program": "<p>"}`) and by `ilake compact` in
local mode. One run at a time per program (a DynamoDB lease in the program state table, item
`<program>#compaction`), because a run deletes what an unfinished run left behind. First the
closed hours not counted yet are counted (who sent which pending text: counting.py); then for
each counted closed hour (oldest first): finish what a crashed run left (see
lambdas/core/compaction.py), then stream the small files, with the texts released since filled
in, through `SortedRewrite`, upload the parts under the program's key, and delete every version
of the inputs; an hour at one of the refill ages gets the texts released since filled in again
(refill.py).

A run never writes back what an erasure took out: rows of suppressed subjects are dropped, and
the program's status is read again before the parts are uploaded and again before the inputs
are deleted. If the program stopped being ACTIVE or a subject was suppressed meanwhile, the run
withdraws its parts and leaves the inputs (an erasure adds the subject to the suppression list
before it looks for files, so it sees either the inputs or the parts).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from lambdas.core import names, resources
from lambdas.core.common_text import fill, pending_ids
from lambdas.core.compaction import (
    CompactionConfig,
    Manifest,
    PartName,
    SortedRewrite,
    bucket_count,
    closed_hours,
    plan_partition,
    read_input,
    refill_due,
)
from lambdas.core.lake import partition_prefix, put_args
from lambdas.core.programs import PROGRAM_NAME, load_programs
from lambdas.core.settings import BUNDLED_PROGRAMS
from lambdas.core.state import ProgramStatus, read_status
from lambdas.core.text_store import TextStore
from lambdas.governance.s3 import RangedObject

from .counting import CountResult, PendingCounts, counted, epoch_hour, hours_to_count
from .refill import Refill

logger = Logger(service="compaction")
LEASE_S = 16 * 60  # longer than the Lambda's 15-minute timeout
STOP_STARTING_MS = 5 * 60 * 1000  # no new partition with less time than this left
READ_CONCURRENCY = 8


class CompactionError(Exception):
    """A partition cannot be compacted safely; the message says why (names, never content)."""


@dataclass
class PartitionResult:
    partition: str
    outcome: str  # compacted, nothing_to_do, withdrawn, failed
    inputs: int = 0
    input_bytes: int = 0
    rows: int = 0
    rows_suppressed: int = 0
    texts_filled: int = 0  # released texts filled into rows that held only their ids
    parts: int = 0
    output_bytes: int = 0
    inputs_left: int = 0  # beyond this slice (max_run_bytes): the next slice comes next
    finished_earlier_run: int = 0  # inputs of a complete earlier run deleted now
    stray_parts_deleted: int = 0
    versions_deleted: int = 0
    seconds: float = 0.0
    reason: str = ""


@cache
def _clients() -> tuple[Any, Any, Any]:
    return boto3.client("s3"), boto3.client("dynamodb"), boto3.client("kms")


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    program = str(event.get("program", ""))
    if not PROGRAM_NAME.fullmatch(program):
        raise ValueError("not a program name")
    now = datetime.fromisoformat(event["now"]) if event.get("now") else datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    config = CompactionConfig.from_env()
    declared = _programs().get(program)
    if declared is None:
        raise ValueError("no program file declares this program")
    s3, dynamodb, kms = _clients()
    job = Compaction(
        program=program,
        bucket=os.environ["LAKE_BUCKET"],
        state_table=os.environ[resources.PROGRAM_STATE.env],
        key_alias=names.key_alias(
            program, os.environ.get("KEY_ALIAS_PREFIX", names.KEY_ALIAS_PREFIX)
        ),
        config=config,
        s3=s3,
        dynamodb=dynamodb,
        kms=kms,
        texts=_text_store(dynamodb, os.environ[resources.COMMON_TEXTS.env]),
        min_people=declared.text.min_people if declared.has_common_text else None,
    )
    return job.run(now, context)


@cache
def _programs() -> dict[str, Any]:
    return load_programs(Path(os.environ.get("PROGRAMS_DIR") or BUNDLED_PROGRAMS))


@cache
def _text_store(dynamodb: Any, table: str) -> TextStore:
    """Kept for the container's life (released texts stay released), per client and table."""
    return TextStore(dynamodb, table)


class Compaction:
    """One run over one program."""

    def __init__(
        self,
        *,
        program: str,
        bucket: str,
        state_table: str,
        key_alias: str,
        config: CompactionConfig,
        s3: Any,
        dynamodb: Any,
        kms: Any,
        texts: TextStore,
        min_people: int | None,  # None: no text is kept in "common" mode, nobody to count
    ) -> None:
        self.program, self.bucket, self.state_table = program, bucket, state_table
        self.key_alias, self.config = key_alias, config
        self.s3, self.dynamodb, self.kms = s3, dynamodb, kms
        self.texts = texts
        self.owner = uuid.uuid4().hex
        self.counts = (
            PendingCounts(
                program=program,
                bucket=bucket,
                s3=s3,
                store=texts,
                min_people=min_people,
                key_arn=self._key_arn,
            )
            if min_people is not None
            else None
        )
        self.refill = Refill(
            program=program, bucket=bucket, s3=s3, store=texts, key_arn=self._key_arn
        )
        self._arn: str | None = None

    def _key_arn(self) -> str:
        """The program's key, resolved from its alias once per run."""
        if self._arn is None:
            self._arn = self.kms.describe_key(KeyId=self.key_alias)["KeyMetadata"]["Arn"]
        return self._arn

    def run(self, now: datetime, context: Any = None) -> dict[str, Any]:
        status = read_status(self.dynamodb, self.state_table, self.program)
        if not status.collecting:
            return {"program": self.program, "skipped": f"program is {status.state}"}
        if not self._acquire():
            return {"program": self.program, "skipped": "another compaction run holds the lease"}
        results: list[PartitionResult] = []
        refills: list[dict[str, Any]] = []
        more = False
        closed = closed_hours(now, self.config.grace_s, self.config.lookback_hours)
        prefix = None
        try:
            count, watermark = self._count(closed, status, now)
            hours = iter(h for h in closed if counted(h, watermark))
            hour: datetime | None = None
            while True:
                if prefix is None:
                    if hour is not None and refill_due(hour, now, self.config.refill_after_hours):
                        refilled = self.refill.partition(
                            partition_prefix(self.program, hour),
                            status,
                            lambda: read_status(self.dynamodb, self.state_table, self.program),
                        )
                        if refilled.outcome != "nothing_to_do":
                            logger.info("refill", extra=asdict(refilled))
                            refills.append(asdict(refilled))
                        if refilled.outcome == "withdrawn":
                            break
                    hour = next(hours, None)
                    if hour is None:
                        break
                    prefix = partition_prefix(self.program, hour)
                if context is not None and context.get_remaining_time_in_millis() < (
                    STOP_STARTING_MS
                ):
                    more = True
                    break
                result = self.partition(prefix)
                if result.outcome != "nothing_to_do":
                    logger.info("partition", extra=asdict(result))
                    results.append(result)
                if result.outcome == "withdrawn":
                    break  # the program changed under us: stop this run
                if not result.inputs_left:
                    prefix = None  # else the same hour again: its next slice of inputs
        finally:
            self._release()
        return {
            "program": self.program,
            "count": asdict(count),
            "partitions": [asdict(r) for r in results],
            "refills": refills,
            "more": more,
        }

    def _count(
        self, closed: list[datetime], status: ProgramStatus, now: datetime
    ) -> tuple[CountResult, int | None]:
        """Count the closed hours not counted yet; the last hour counted after it (compaction
        rewrites no hour that is not counted: its parts would no longer say who sent what)."""
        if self.counts is None:
            return CountResult(), epoch_hour(closed[-1]) if closed else None
        started = time.monotonic()
        watermark = self.counts.watermark()
        todo = hours_to_count(closed, watermark)
        result = self.counts.count(todo, status, lambda: self._changed(status), now)
        result.seconds = round(time.monotonic() - started, 3)
        if result.outcome == "counted":
            watermark = epoch_hour(todo[-1])
            logger.info("count", extra=asdict(result))
        elif result.outcome == "withdrawn":
            logger.info("count", extra=asdict(result))
        return result, watermark

    # -- one partition --------------------------------------------------------------------

    def partition(self, prefix: str) -> PartitionResult:
        started = time.monotonic()
        result = PartitionResult(partition=prefix, outcome="nothing_to_do")
        try:
            self._compact(prefix, result)
        except CompactionError as exc:
            result.outcome, result.reason = "failed", str(exc)
        result.seconds = round(time.monotonic() - started, 3)
        return result

    def _compact(self, prefix: str, result: PartitionResult) -> None:
        versions = list(self._versions(prefix))
        current = {v["Key"][len(prefix) :]: v for v in versions if v["IsLatest"] and "Size" in v}
        plan = plan_partition(current)
        covered: set[str] = set()
        for run, parts in plan.complete_runs.items():
            manifest = self._manifest(prefix, parts, current)
            if manifest is None:
                raise CompactionError(f"run {run}: no part holds a readable manifest")
            covered.update(manifest.inputs)
        # every version of a covered input goes, current or not (a crash may stop mid-delete)
        leftovers = covered & {v["Key"][len(prefix) :] for v in versions}
        if leftovers or plan.stray_parts:
            result.finished_earlier_run = len(leftovers)
            result.stray_parts_deleted = len(plan.stray_parts)
            result.versions_deleted += self._delete_all_versions(
                prefix, leftovers | set(plan.stray_parts)
            )
            if result.outcome == "nothing_to_do":
                result.outcome = "recovered"
        inputs = [name for name in plan.small_files if name not in covered]
        if len(inputs) < self.config.min_inputs:
            return
        # one slice at a time, so a run over a huge hour stays within the Lambda's timeout
        taken, total = 0, 0
        while taken < len(inputs) and total < self.config.max_run_bytes:
            total += int(current[inputs[taken]]["Size"])
            taken += 1
        if len(inputs) - taken < self.config.min_inputs:
            taken = len(inputs)  # a remainder too small to compact alone joins this slice
        inputs, result.inputs_left = inputs[:taken], len(inputs) - taken
        status = read_status(self.dynamodb, self.state_table, self.program)
        if not status.collecting:
            result.outcome, result.reason = "withdrawn", f"program is {status.state}"
            return
        run = uuid.uuid4().hex
        manifest = Manifest(run, 0, tuple(inputs))
        workdir = Path(tempfile.mkdtemp(prefix="ilake-compaction-"))
        rewrite: SortedRewrite | None = None
        try:
            tables = self._read(prefix, inputs, current, result)
            first, size = next(tables)
            buckets = bucket_count(
                sum(int(current[n]["Size"]) for n in inputs),
                first.nbytes / max(1, size),
                self.config.memory_budget_bytes,
            )
            rewrite = SortedRewrite(
                workdir / "rewrite",
                buckets=buckets,
                config=self.config,
                suppressed=status.suppressed_subjects,
            )
            rewrite.add(first)
            del first
            for table, _ in tables:
                rewrite.add(table)
            stats = rewrite.finish(manifest)
            if stats.rows_out != stats.rows_in - stats.rows_suppressed:
                raise CompactionError("row count mismatch: nothing uploaded")
            if self._changed(status):
                result.outcome, result.reason = "withdrawn", "program status changed"
                return
            names = [
                PartName(run, i, len(stats.parts)).name for i in range(1, len(stats.parts) + 1)
            ]
            key_arn = self._key_arn()
            for name, path in zip(names, stats.parts, strict=True):
                self._upload(path, prefix + name, put_args(key_arn))
            if self._changed(status):
                self._delete_all_versions(prefix, set(names))
                result.outcome, result.reason = "withdrawn", "program status changed"
                return
            result.versions_deleted += self._delete_all_versions(prefix, set(inputs))
            result.outcome = "compacted"
            result.inputs = len(inputs)
            result.input_bytes = sum(int(current[n]["Size"]) for n in inputs)
            result.rows, result.rows_suppressed = stats.rows_out, stats.rows_suppressed
            result.parts = len(names)
            result.output_bytes = sum(p.stat().st_size for p in stats.parts)
        finally:
            if rewrite is not None:
                rewrite.close()
            shutil.rmtree(workdir, ignore_errors=True)

    def _changed(self, start: ProgramStatus) -> bool:
        """The program stopped collecting, or a subject was suppressed, since the run began."""
        now = read_status(self.dynamodb, self.state_table, self.program)
        return not now.collecting or not now.suppressed_subjects <= start.suppressed_subjects

    # -- S3 ---------------------------------------------------------------------------------

    def _versions(self, prefix: str) -> Iterator[dict[str, Any]]:
        """Every version and delete marker directly under the partition prefix."""
        pages = self.s3.get_paginator("list_object_versions").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        for page in pages:
            yield from page.get("Versions", [])
            yield from page.get("DeleteMarkers", [])

    def _manifest(
        self, prefix: str, parts: Iterable[str], current: dict[str, dict[str, Any]]
    ) -> Manifest | None:
        """The run's manifest from the first part whose footer has one (ranged reads only)."""
        for name in parts:
            version = current[name]
            source = RangedObject(
                self.s3,
                self.bucket,
                prefix + name,
                size=int(version["Size"]),
                version_id=version["VersionId"],
            )
            try:
                manifest = Manifest.from_metadata(pq.ParquetFile(source).metadata.metadata)
            except (pa.ArrowException, OSError):
                continue  # an unreadable part: another part may still tell
            if manifest is not None:
                return manifest
        return None

    def _read(
        self,
        prefix: str,
        names: list[str],
        current: dict[str, dict[str, Any]],
        result: PartitionResult,
    ) -> Iterator[tuple[Any, int]]:
        """The inputs as tables, fetched READ_CONCURRENCY at a time (memory: that many files),
        with the texts released since they were written filled in."""

        def fetch(name: str) -> tuple[Any, int, int]:
            version = current[name]
            body = self.s3.get_object(
                Bucket=self.bucket, Key=prefix + name, VersionId=version["VersionId"]
            )["Body"].read()
            table = read_input(body)
            waiting = pending_ids(table)
            filled = 0
            if waiting:
                released = self.texts.resolve(self.program, dict.fromkeys(waiting)).released
                table, filled = fill(table, released)
            return table, len(body), filled

        with ThreadPoolExecutor(READ_CONCURRENCY, thread_name_prefix="compaction-read") as pool:
            window: list[Future[tuple[Any, int, int]]] = []
            pending = iter(names)
            for name in pending:
                window.append(pool.submit(fetch, name))
                if len(window) >= READ_CONCURRENCY:
                    break
            while window:
                done = window.pop(0)
                next_name = next(pending, None)
                if next_name is not None:
                    window.append(pool.submit(fetch, next_name))
                table, size, filled = done.result()
                result.texts_filled += filled
                yield table, size

    def _upload(self, path: Path, key: str, args: dict[str, Any]) -> None:
        """One part, written as ingest writes (`put_args`), streamed from its file.

        A single PUT, not a multipart upload: UploadPart requests carry no encryption headers,
        so the bucket policy that denies PutObject without SSE-KMS under the program's key
        would refuse them (parts are ~128 MiB; a PUT takes up to 5 GiB)."""
        with path.open("rb") as body:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, **args)

    def _delete_all_versions(self, prefix: str, names: set[str]) -> int:
        """Delete every version and delete marker of `names`; raises unless S3 confirmed all."""
        if not names:
            return 0
        targets = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in self._versions(prefix)
            if v["Key"][len(prefix) :] in names
        ]
        for start in range(0, len(targets), 1000):
            answer = self.s3.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": targets[start : start + 1000], "Quiet": True},
            )
            if answer.get("Errors"):
                raise CompactionError(f"{len(answer['Errors'])} versions were not deleted")
        return len(targets)

    # -- the lease --------------------------------------------------------------------------

    def _lease_key(self) -> dict[str, Any]:
        return {"program": {"S": f"{self.program}#compaction"}}

    def _acquire(self) -> bool:
        now = int(time.time())
        try:
            self.dynamodb.put_item(
                TableName=self.state_table,
                Item={
                    **self._lease_key(),
                    "owner": {"S": self.owner},
                    "until": {"N": str(now + LEASE_S)},
                },
                ConditionExpression="attribute_not_exists(#p) OR #u < :now",
                ExpressionAttributeNames={"#p": "program", "#u": "until"},
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _release(self) -> None:
        try:
            self.dynamodb.delete_item(
                TableName=self.state_table,
                Key=self._lease_key(),
                ConditionExpression="#o = :owner",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":owner": {"S": self.owner}},
            )
        except ClientError as exc:  # lost the lease (it expired): the other run owns it now
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

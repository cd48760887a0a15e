"""One provisioned lake on moto for the handler tests, and one reader of what it stores.

`provisioned_lake` creates what local mode creates (ilake.provision, and the governance
workflows when asked) from one environment, the one the handlers read; `Lake` reads it back:
object versions, current rows, pseudonyms, program state, audit records.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
from moto import mock_aws

from ilake import workflows
from ilake.provision import Clients, provision
from lambdas.core import resources
from lambdas.core.pseudonym import Pseudonymizer
from lambdas.core.settings import Settings

REGION = "eu-west-1"
TEST_PROGRAMS = Path(__file__).resolve().parents[1] / "integration" / "programs"


def lake_environment(programs_dir: Path = TEST_PROGRAMS) -> dict[str, str]:
    """The handlers' environment in tests: moto's credentials, every declared table as ilake-*."""
    return {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "LAKE_BUCKET": "ilake-lake-test",
        **resources.table_environment("ilake-"),
        "PROGRAMS_DIR": str(programs_dir),
        "POWERTOOLS_METRICS_NAMESPACE": "InteractionLakeTest",
        "POWERTOOLS_DEV": "false",
    }


@functools.cache
def session() -> boto3.Session:
    """One session for all tests: botocore caches its service models per session."""
    return boto3.Session(region_name=REGION)


class Versions(NamedTuple):
    """Object versions under a prefix, as S3 lists them."""

    versions: list[dict[str, Any]]
    delete_markers: list[dict[str, Any]]

    @property
    def all(self) -> list[dict[str, Any]]:
        return [*self.versions, *self.delete_markers]


@dataclass
class Lake:
    clients: Clients
    settings: Settings
    key_arns: dict[str, str]
    environment: dict[str, str]
    machines: dict[str, str] = field(default_factory=dict)  # workflow -> state machine ARN

    @property
    def bucket(self) -> str:
        return self.settings.lake_bucket

    @property
    def agents_table(self) -> str:
        return self.environment[resources.AGENTS.env]

    @property
    def audit_table(self) -> str:
        return self.environment[resources.AUDIT.env]

    # -- objects and rows

    def versions(self, prefix: str = "") -> Versions:
        pages = self.clients.s3.get_paginator("list_object_versions").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        found = Versions([], [])
        for page in pages:
            found.versions.extend(page.get("Versions", []))
            found.delete_markers.extend(page.get("DeleteMarkers", []))
        return found

    def objects(self) -> list[dict[str, Any]]:
        """Every object version in the lake (delete markers aside)."""
        return self.versions().versions

    def current(self, prefix: str) -> list[str]:
        """The keys under `prefix` whose latest version is an object, sorted."""
        return sorted(v["Key"] for v in self.versions(prefix).versions if v["IsLatest"])

    def table(self, key: str, version_id: str | None = None) -> pa.Table:
        where = {"VersionId": version_id} if version_id else {}
        body = self.clients.s3.get_object(Bucket=self.bucket, Key=key, **where)["Body"].read()
        return pq.read_table(io.BytesIO(body))

    def rows(self, prefix: str) -> list[dict[str, Any]]:
        """Every row of the current objects under `prefix`."""
        rows: list[dict[str, Any]] = []
        for key in self.current(prefix):
            rows += self.table(key).to_pylist()
        return rows

    # -- pseudonyms

    def pseudonymizer(self, program: str) -> Pseudonymizer:
        """The program's own pseudonymizer, from the secret the handlers read."""
        secret = self.clients.secretsmanager.get_secret_value(
            SecretId=self.settings.secret_name(program)
        )["SecretString"]
        return Pseudonymizer(secret.encode())

    def pid(self, program: str, subject: str) -> str:
        return self.pseudonymizer(program).pid("subject", subject)

    # -- tables

    def idempotency_items(self) -> list[dict[str, Any]]:
        scan = self.clients.dynamodb.scan(TableName=self.settings.idempotency_table)
        return list(scan["Items"])

    def set_state(self, program: str, state: str, suppressed: list[str] | None = None) -> None:
        item: dict[str, Any] = {"program": {"S": program}, "state": {"S": state}}
        if suppressed:
            item["suppressed_subjects"] = {"SS": suppressed}
        self.clients.dynamodb.put_item(TableName=self.settings.program_state_table, Item=item)

    def state(self, program: str) -> dict[str, Any]:
        item = self.clients.dynamodb.get_item(
            TableName=self.settings.program_state_table, Key={"program": {"S": program}}
        )
        return dict(item.get("Item", {}))

    def audit(self, program: str) -> list[dict[str, Any]]:
        """The program's audit records, each attribute's value unwrapped."""
        items = self.clients.dynamodb.query(
            TableName=self.audit_table,
            KeyConditionExpression="#p = :p",
            ExpressionAttributeNames={"#p": "program"},
            ExpressionAttributeValues={":p": {"S": program}},
        )["Items"]
        return [{k: next(iter(v.values())) for k, v in item.items()} for item in items]

    def key_state(self, program: str) -> str:
        meta = self.clients.kms.describe_key(KeyId=self.key_arns[program])["KeyMetadata"]
        return str(meta["KeyState"])

    # -- governance workflows (provisioned with `governance=True`)

    @functools.cached_property
    def sfn(self) -> Any:
        return session().client("stepfunctions")

    def start(self, workflow: str, **payload: Any) -> str:
        return workflows.start(self.sfn, self.machines[workflow], payload)

    def run(self, workflow: str, **payload: Any) -> workflows.Outcome:
        return workflows.wait(self.sfn, self.start(workflow, **payload))

    def approve(self, program: str, approver: str) -> str:
        return workflows.approve(
            self.sfn, self.clients.dynamodb, self.settings.program_state_table, program, approver
        )


L = TypeVar("L", bound=Lake)


@contextmanager
def provisioned_lake(
    environment: Mapping[str, str],
    *,
    programs_dir: Path = TEST_PROGRAMS,
    governance: bool = False,
    kind: type[L] = Lake,  # type: ignore[assignment]
) -> Iterator[L]:
    """moto with the lake, its tables, keys and secrets (and, with `governance`, the
    governance state machines, executed by moto, their Lambdas run in process), named by
    `environment`: the caller sets the same environment for the handlers."""
    config = {"stepfunctions": {"execute_state_machine": True}} if governance else None
    with mock_aws(config=config):  # type: ignore[arg-type]
        clients = Clients.create(session())
        programs = sorted(p.stem for p in programs_dir.glob("*.toml"))
        settings = Settings.from_env(environment)
        key_arns = provision(clients, environment, programs, region=REGION)
        machines = (
            workflows.provision_governance(
                session(), settings, programs, audit_table=environment[resources.AUDIT.env]
            )
            if governance
            else {}
        )
        yield kind(clients, settings, key_arns, dict(environment), machines)

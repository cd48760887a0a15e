"""The ingest use case: one HTTP batch in, at most one encrypted Parquet object out.

Everything here is ordered so that nothing is written unless the whole batch is understood: program
known, token scoped to it, media type and size acceptable, program collecting, key and secret
available, events processed, texts in "common" mode resolved (released ones filled in, pending ones
left as ids: docs/common-text.md); then a single S3 PutObject (atomic) under the program's KMS key.
The object's metadata names the sending agent by its pseudonym, so that the hourly count counts
people through enrolled agents. Idempotency (Powertools, DynamoDB) wraps process-and-write, keyed
by program and batch id and validated by the body's digest: a replay returns the first answer, a
different body under the same id is a 409. The idempotency record holds only that answer (counts
and the object key), never submitted content.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from botocore.exceptions import BotoCoreError, ClientError

from ilake_contract.redact import Redactor
from lambdas.adapters.program_state import read_status
from lambdas.adapters.text_store import TextStore
from lambdas.core.common_text import AGENT_METADATA, fill
from lambdas.core.decode import check_media, decode_body
from lambdas.core.errors import (
    BatchConflict,
    BatchInProgress,
    Forbidden,
    ProgramNotCollecting,
    ServiceFault,
    UnknownProgram,
)
from lambdas.core.lake import object_key, put_args, to_parquet
from lambdas.core.pipeline import BatchOutcome, decode_envelope, process_batch
from lambdas.core.programs import PROGRAM_NAME, Program, load_programs
from lambdas.core.pseudonym import Pseudonymizer
from lambdas.core.settings import Settings
from lambdas.core.state import ProgramStatus


@dataclass(frozen=True, slots=True)
class BatchRequest:
    """What the HTTP layer hands over; nothing here is trusted yet."""

    program: str
    authorized_program: str | None
    agent_id: str | None  # the enrolled agent the authorizer found for the token
    content_type: str | None
    content_encoding: str | None
    body: str | bytes | None
    base64_encoded: bool


@dataclass(frozen=True, slots=True)
class Stored:
    """The answer to a stored batch, and what the metrics need."""

    response: dict[str, Any]
    bytes_in: int
    bytes_out: int
    events_redacted: int  # 0 for a replay: its events were counted the first time
    texts_released: int = 0  # common texts this batch released (it carried them first)
    text_store_failed: bool = False  # the vocabulary did not answer: texts stored as ids only
    replay: bool = False  # the first answer again: nothing was processed or stored this time
    agent_redactions: dict[str, int] = field(default_factory=dict)  # done before sending
    not_captured: dict[str, int] = field(default_factory=dict)  # by the agent, by reason


class IngestService:
    def __init__(
        self,
        settings: Settings,
        *,
        s3: Any,
        dynamodb: Any,
        kms: Any,
        secretsmanager: Any,
        programs: Mapping[str, Program] | None = None,
    ) -> None:
        self.settings = settings
        self.programs = dict(programs or load_programs(settings.programs_dir))
        self._s3, self._dynamodb, self._kms = s3, dynamodb, kms
        self._secrets = SecretsProvider(boto3_client=secretsmanager)
        self._key_arns: dict[str, str] = {}
        self.texts = TextStore(dynamodb, settings.common_texts_table)
        self._redactors = {
            name: Redactor(p.text.detectors, p.url_mode) for name, p in self.programs.items()
        }
        self.idempotency = IdempotencyConfig(
            event_key_jmespath="key",
            payload_validation_jmespath="digest",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=settings.idempotency_ttl_s,
        )
        persistence = DynamoDBPersistenceLayer(
            table_name=settings.idempotency_table, boto3_client=dynamodb
        )
        self._store_once = idempotent_function(
            data_keyword_argument="request",
            persistence_store=persistence,
            config=self.idempotency,
        )(self._store)

    # -- the two routes --

    def program(self, name: str, authorized_program: str | None) -> Program:
        """The declared program `name`, if the caller's token is scoped to it."""
        program = self.programs.get(name) if PROGRAM_NAME.fullmatch(name) else None
        if program is None:
            raise UnknownProgram()
        if authorized_program != name:
            raise Forbidden()
        return program

    def policy(self, name: str, authorized_program: str | None) -> dict[str, Any]:
        return self.program(name, authorized_program).public_policy()

    def ingest(self, request: BatchRequest, *, now: datetime | None = None) -> Stored:
        program = self.program(request.program, request.authorized_program)
        limits = self.settings.limits
        encoding = check_media(request.content_type, request.content_encoding)
        body = decode_body(
            request.body,
            base64_encoded=request.base64_encoded,
            encoding=encoding,
            max_bytes=limits.max_body_bytes,
        )
        status = self._status(program.name)
        if not status.collecting:
            raise ProgramNotCollecting(status.state.value)
        envelope = decode_envelope(body)
        received_at = now or datetime.now(UTC)
        key = f"{program.name}#{envelope.batch_id}"
        work = _Work(program, status, envelope, received_at, request.agent_id)
        try:
            response = self._store_once(
                request={"key": key, "digest": hashlib.sha256(body).hexdigest()}, work=work
            )
            replay = work.response is None  # the stored answer, without running _store
        except IdempotencyValidationError:
            raise BatchConflict() from None
        except IdempotencyAlreadyInProgressError:
            raise BatchInProgress() from None
        except IdempotencyPersistenceLayerError:
            if work.response is None:  # the record could not be saved or released: no object
                raise ServiceFault() from None
            # The object is durable; only marking the record complete failed. A 500 here would
            # be untrue and the agent's retry would store the batch again once the in-progress
            # record lapses (in another hour's partition, if the hour has turned).
            response, replay = work.response, False
        return Stored(
            response,
            len(body),
            work.bytes_out,
            work.events_redacted,
            work.texts_released,
            work.text_store_failed,
            replay,
            work.agent_redactions,
            work.not_captured,
        )

    # -- inside the idempotent section --

    def _store(self, request: dict[str, str], work: _Work) -> dict[str, Any]:
        program = work.program
        pseudonyms = self._pseudonymizer(program.name)
        key_arn = self._key_arn(program.name)
        outcome = process_batch(
            work.envelope,
            program,
            pseudonyms,
            received_at_ms=int(work.received_at.timestamp() * 1000),
            limits=self.settings.limits,
            suppressed_subjects=work.status.suppressed_subjects,
            redactor=self._redactors[program.name],
        )
        work.events_redacted = outcome.redacted_events
        work.agent_redactions, work.not_captured = outcome.agent_redactions, outcome.not_captured
        stored_key = None
        if outcome.table is not None:
            table = outcome.table
            if outcome.common_texts:
                resolution = self.texts.resolve(
                    program.name, outcome.common_texts, now_s=work.received_at.timestamp()
                )
                table, _ = fill(table, resolution.released)
                work.texts_released = resolution.released_now
                work.text_store_failed = resolution.failed
            metadata = (
                {AGENT_METADATA: pseudonyms.pid("agent", work.agent_id).encode()}
                if work.agent_id
                else None  # no enrolled agent to count: its texts never count towards release
            )
            data = to_parquet(table, metadata)
            stored_key = object_key(program.name, work.received_at, outcome.batch_id)
            self._put(stored_key, data, key_arn, program, outcome)
            work.bytes_out = len(data)
        response = work.response = {
            "batch_id": outcome.batch_id,
            "accepted": outcome.accepted,
            "rejected": outcome.rejected,
            "redactions": outcome.redactions,
            "object": stored_key,
        }
        return response

    def _put(
        self, key: str, data: bytes, key_arn: str, program: Program, outcome: BatchOutcome
    ) -> None:
        try:
            self._s3.put_object(
                Bucket=self.settings.lake_bucket,
                Key=key,
                Body=data,
                **put_args(key_arn),
                Metadata={
                    "policy-version": program.policy_version,
                    "rows": str(outcome.accepted),
                },
            )
        except (BotoCoreError, ClientError):
            raise ServiceFault() from None

    # -- AWS edges --

    def _status(self, program: str) -> ProgramStatus:
        try:
            return read_status(self._dynamodb, self.settings.program_state_table, program)
        except (BotoCoreError, ClientError):
            raise ServiceFault() from None

    def _pseudonymizer(self, program: str) -> Pseudonymizer:
        """Pseudonyms under the program's secret; missing or weak is our fault: 5xx, no write."""
        try:
            value = self._secrets.get(
                self.settings.secret_name(program), max_age=self.settings.secret_cache_s
            )
        except Exception:  # Powertools wraps every provider failure in its own error types
            raise ServiceFault() from None
        secret = value.encode() if isinstance(value, str) else bytes(value or b"")
        try:
            return Pseudonymizer(secret)
        except ValueError:
            raise ServiceFault() from None

    def _key_arn(self, program: str) -> str:
        """The program's KMS key ARN, resolved from its alias once per container."""
        arn = self._key_arns.get(program)
        if arn is None:
            try:
                meta = self._kms.describe_key(KeyId=self.settings.key_alias(program))["KeyMetadata"]
            except (BotoCoreError, ClientError):
                raise ServiceFault() from None
            if meta.get("KeyState") != "Enabled":
                raise ServiceFault()
            arn = self._key_arns[program] = meta["Arn"]
        return arn


@dataclass(slots=True)
class _Work:
    """The parsed batch handed into the idempotent section (not part of the idempotency key)."""

    program: Program
    status: ProgramStatus
    envelope: Any
    received_at: datetime
    agent_id: str | None
    bytes_out: int = 0
    texts_released: int = 0
    text_store_failed: bool = False
    events_redacted: int = 0
    agent_redactions: dict[str, int] = field(default_factory=dict)
    not_captured: dict[str, int] = field(default_factory=dict)
    response: dict[str, Any] | None = None  # set once the batch is durable (or had no rows)

"""The pure data path run in process on built batches, and what to look for in its output."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from lambdas.core.common_text import fill
from lambdas.core.pipeline import BatchOutcome, Limits, decode_envelope, process_batch
from lambdas.core.programs import Program
from lambdas.core.pseudonym import Pseudonymizer

from .builders import RECEIVED_AT_MS, SECRET, encode, make_batch, make_program


def run(
    events: list[Any],
    program: Program | None = None,
    *,
    secret: bytes = SECRET,
    received_at_ms: int = RECEIVED_AT_MS,
    limits: Limits | None = None,
    suppressed_subjects: frozenset[str] = frozenset(),
    released: bool = True,
    **batch_fields: Any,
) -> BatchOutcome:
    """Encode a batch as an agent would, then decode and process it (see `ingest`)."""
    return ingest(
        encode(make_batch(events, **batch_fields)),
        program,
        secret=secret,
        received_at_ms=received_at_ms,
        limits=limits,
        suppressed_subjects=suppressed_subjects,
        released=released,
    )


def ingest(
    body: bytes,
    program: Program | None = None,
    *,
    secret: bytes = SECRET,
    received_at_ms: int = RECEIVED_AT_MS,
    limits: Limits | None = None,
    suppressed_subjects: frozenset[str] = frozenset(),
    released: bool = True,
) -> BatchOutcome:
    """The pure data path for one JSON body: envelope, then events under `program`. With
    `released`, every common text of the batch is filled in, as rows hold it once the text is
    released (the strictest view for privacy checks: the most text in clear); without, the rows
    as stored while every text is pending."""
    envelope = decode_envelope(body)
    outcome = process_batch(
        envelope,
        program or make_program(),
        Pseudonymizer(secret),
        received_at_ms=received_at_ms,
        limits=limits or Limits(),
        suppressed_subjects=suppressed_subjects,
    )
    if released and outcome.table is not None:
        outcome.table = fill(outcome.table, outcome.common_texts)[0]
    return outcome


def epoch_ms(value: Any) -> int:
    return round(value.timestamp() * 1000)


def rows(outcome: BatchOutcome) -> list[dict[str, Any]]:
    assert outcome.table is not None
    return outcome.table.to_pylist()


def strings_in(table: pa.Table | None) -> list[str]:
    """Every string anywhere in the table: cells, list items, map keys and values."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(k)
                walk(v)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    if table is not None:
        walk(table.to_pylist())
    return found


def assert_absent(table: pa.Table | None, *needles: str) -> None:
    cells = strings_in(table)
    for needle in needles:
        leaks = [cell for cell in cells if needle.casefold() in cell.casefold()]
        assert not leaks, f"{needle!r} reached the table"

"""Erasure of one person's rows (docs/governance.md#erase): which files hold them, and the file
without them.

Finding reads as little as possible: a file's footer first, whose row-group statistics on
`subject_pid` rule out every row group whose [min, max] excludes the pseudonym (one agent's batch
usually holds one subject, and compacted files are sorted by subject), then only the
`subject_pid` column of the row groups that remain. Rewriting keeps every other row, in order,
with the lake's schema and writer settings, and the file's own metadata (a compacted file's
manifest, which compaction's crash recovery reads).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .lake import INTERACTIONS, to_parquet

SUBJECT = "subject_pid"
_SUBJECT_INDEX = INTERACTIONS.get_field_index(SUBJECT)


@dataclass(frozen=True, slots=True)
class Scan:
    """What finding the subject in one file cost and found."""

    rows: int  # the subject's rows in the file
    row_groups: int
    row_groups_read: int  # the others were ruled out by their statistics


def candidate_row_groups(metadata: pq.FileMetaData, pid: str) -> list[int]:
    """Row groups that may hold `pid`: those whose statistics do not rule it out."""
    column = metadata.schema.to_arrow_schema().get_field_index(SUBJECT)
    candidates = []
    for index in range(metadata.num_row_groups):
        stats = metadata.row_group(index).column(column).statistics
        if stats is not None and stats.has_min_max and not (stats.min <= pid <= stats.max):
            continue
        candidates.append(index)
    return candidates


def scan(source: Any, pid: str) -> Scan:
    """Count `pid`'s rows in a Parquet file (a path, buffer or random-access file)."""
    parquet = pq.ParquetFile(source)
    groups = candidate_row_groups(parquet.metadata, pid)
    rows = 0
    if groups:
        subjects = parquet.read_row_groups(groups, columns=[SUBJECT])[SUBJECT]
        rows = pc.sum(pc.equal(subjects, pid)).as_py() or 0
    return Scan(rows=rows, row_groups=parquet.metadata.num_row_groups, row_groups_read=len(groups))


def without_subject(data: bytes, pid: str) -> tuple[bytes | None, int]:
    """The file without `pid`'s rows, and how many were removed. None when no row is left.

    A lake file is rewritten in the lake's schema and writer settings; any other Parquet file
    with a subject column (the pending counts of common texts) keeps its own schema."""
    metadata = pq.read_metadata(io.BytesIO(data))
    lake_file = metadata.schema.to_arrow_schema().get_field_index("event_id") >= 0
    table = pq.read_table(io.BytesIO(data), schema=INTERACTIONS if lake_file else None)
    keep = pc.not_equal(table[SUBJECT], pa.scalar(pid))
    # the file's own key-value metadata (a compacted file's manifest) survives the rewrite
    own = {k: v for k, v in (metadata.metadata or {}).items() if not k.startswith(b"ARROW:")}
    kept = table.filter(keep).replace_schema_metadata(own or None)
    removed = table.num_rows - kept.num_rows
    if kept.num_rows == 0:
        return None, removed
    if lake_file:
        return to_parquet(kept), removed
    sink = io.BytesIO()
    pq.write_table(kept, sink, compression="zstd")
    return sink.getvalue(), removed

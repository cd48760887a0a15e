"""The lake's one schema and layout (docs/design.md#lake-layout).

`INTERACTIONS` is the single source of truth for the stored columns: the Parquet writer uses it,
and the Glue table's columns are generated from it by `glue_columns()`. Partition values
(program, dt, hour) live in the object key, not in the file, as partition projection expects.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA_VERSION = "interactions/1"

_TS = pa.timestamp("ms", tz="UTC")
_COUNTS = pa.map_(pa.string(), pa.int32())

INTERACTIONS = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("batch_id", pa.string(), nullable=False),
        pa.field("seq", pa.int64(), nullable=False),
        pa.field("ts", _TS, nullable=False),
        pa.field("received_at", _TS, nullable=False),
        pa.field("type", pa.string(), nullable=False),
        pa.field("subject_pid", pa.string(), nullable=False),
        pa.field("device_pid", pa.string(), nullable=False),
        pa.field("session_pid", pa.string(), nullable=False),
        pa.field("app_name", pa.string()),
        pa.field("app_bundle_id", pa.string()),
        pa.field("window_title", pa.string()),
        pa.field("window_title_id", pa.string()),
        pa.field("window_host", pa.string()),
        pa.field("window_host_id", pa.string()),
        pa.field("display_w", pa.int32()),
        pa.field("display_h", pa.int32()),
        pa.field("display_scale", pa.float32()),
        pa.field("x", pa.float64()),
        pa.field("y", pa.float64()),
        pa.field("x2", pa.float64()),
        pa.field("y2", pa.float64()),
        pa.field("button", pa.string()),
        pa.field("clicks", pa.int8()),
        pa.field("scroll_dx", pa.float64()),
        pa.field("scroll_dy", pa.float64()),
        pa.field("target_role", pa.string()),
        pa.field("target_name", pa.string()),
        pa.field("target_name_id", pa.string()),
        pa.field("modifiers", pa.list_(pa.string())),
        pa.field("key", pa.string()),
        pa.field("key_class", pa.string()),
        pa.field("menu_path", pa.list_(pa.string())),
        pa.field("menu_path_ids", pa.list_(pa.string())),
        pa.field("text_length", pa.int32()),
        pa.field("text_letters", pa.int32()),
        pa.field("text_digits", pa.int32()),
        pa.field("text_spaces", pa.int32()),
        pa.field("text_symbols", pa.int32()),
        pa.field("clipboard_op", pa.string()),
        pa.field("clipboard_mime", pa.string()),
        pa.field("clipboard_length", pa.int64()),
        pa.field("capture_reason", pa.string()),
        pa.field("redactions", _COUNTS),
        pa.field("agent_version", pa.string()),
        pa.field("agent_os", pa.string()),
        pa.field("policy_version", pa.string(), nullable=False),
        pa.field("schema_version", pa.string(), nullable=False),
    ]
)
COLUMNS: tuple[str, ...] = tuple(INTERACTIONS.names)

PARTITION_KEYS: tuple[tuple[str, str], ...] = (
    ("program", "string"),
    ("dt", "string"),
    ("hour", "int"),
)

# Columns worth dictionary-encoding: low cardinality, repeated in every row of a session.
_DICTIONARY_COLUMNS = [
    "batch_id",
    "type",
    "subject_pid",
    "device_pid",
    "session_pid",
    "app_name",
    "app_bundle_id",
    "window_title",
    "window_title_id",
    "window_host",
    "window_host_id",
    "button",
    "target_role",
    "target_name",
    "target_name_id",
    "key",
    "key_class",
    "clipboard_op",
    "clipboard_mime",
    "capture_reason",
    "agent_version",
    "agent_os",
    "policy_version",
    "schema_version",
]


def glue_type(arrow_type: pa.DataType) -> str:
    """The Hive/Glue type name for an Arrow type used in the lake."""
    if pa.types.is_string(arrow_type):
        return "string"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    simple = {
        pa.int8(): "tinyint",
        pa.int16(): "smallint",
        pa.int32(): "int",
        pa.int64(): "bigint",
        pa.float32(): "float",
        pa.float64(): "double",
        pa.bool_(): "boolean",
    }
    if arrow_type in simple:
        return simple[arrow_type]
    if pa.types.is_list(arrow_type):
        return f"array<{glue_type(arrow_type.value_type)}>"
    if pa.types.is_map(arrow_type):
        return f"map<{glue_type(arrow_type.key_type)},{glue_type(arrow_type.item_type)}>"
    raise TypeError(f"no Glue type for {arrow_type}")


def glue_columns() -> list[dict[str, str]]:
    """The Glue table's columns, generated from the Arrow schema."""
    return [{"Name": f.name, "Type": glue_type(f.type)} for f in INTERACTIONS]


def partition_prefix(program: str, at: datetime) -> str:
    """interactions/program=<p>/dt=<YYYY-MM-DD>/hour=<HH>/: the hour partition holding `at`."""
    at = at.astimezone(UTC)
    return f"{program_prefix(program)}dt={at:%Y-%m-%d}/hour={at:%H}/"


def object_key(program: str, received_at: datetime, batch_id: str) -> str:
    """interactions/program=<p>/dt=<YYYY-MM-DD>/hour=<HH>/<batch_id>.parquet, by arrival time."""
    return f"{partition_prefix(program, received_at)}{batch_id}.parquet"


def program_prefix(program: str) -> str:
    return f"interactions/program={program}/"


def put_args(key_arn: str) -> dict[str, object]:
    """How every lake object is written: Parquet, SSE-KMS under the program's key with bucket keys
    on, a SHA-256 checksum S3 verifies (docs/design.md#lake-layout). Ingest and erasure use it."""
    return {
        "ContentType": "application/vnd.apache.parquet",
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": key_arn,
        "BucketKeyEnabled": True,
        "ChecksumAlgorithm": "SHA256",
    }


# How every lake file is written (ingest, erasure, compaction): zstd, dictionary encoding where it
# pays, statistics on for pruning.
WRITER_OPTIONS: dict[str, object] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": _DICTIONARY_COLUMNS,
    "write_statistics": True,
}


def to_parquet(table: pa.Table, metadata: dict[bytes, bytes] | None = None) -> bytes:
    """Parquet bytes of one table, with the lake's writer settings (`WRITER_OPTIONS`) and
    `metadata` added to the file's key-value metadata."""
    if metadata:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    sink = io.BytesIO()
    pq.write_table(table, sink, **WRITER_OPTIONS)
    return sink.getvalue()

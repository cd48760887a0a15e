"""The lake's schema and layout (docs/design.md#lake-layout): Glue columns, keys, Parquet files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ilake import simulate
from lambdas.core.lake import (
    COLUMNS,
    INTERACTIONS,
    PARTITION_KEYS,
    glue_columns,
    glue_type,
    object_key,
    program_prefix,
    to_parquet,
)
from tests.support.builders import RECEIVED_AT_MS, encode
from tests.support.data_path import ingest

HIVE_TYPES = {
    "string", "timestamp", "tinyint", "smallint", "int", "bigint", "float", "double", "boolean",
    "array<string>", "map<string,int>",
}  # fmt: skip


@pytest.fixture(scope="module")
def table() -> pa.Table:
    batch = simulate.make_batch(600, seed=11, start_ms=RECEIVED_AT_MS - 120_000)
    outcome = ingest(encode(batch))
    assert outcome.table is not None
    return outcome.table


@pytest.fixture(scope="module")
def parquet(table: pa.Table) -> bytes:
    return to_parquet(table)


# --- Glue columns ------------------------------------------------------------------------------


def test_glue_columns_follow_the_arrow_schema_in_order() -> None:
    columns = glue_columns()
    assert [c["Name"] for c in columns] == INTERACTIONS.names == list(COLUMNS)
    assert all(set(c) == {"Name", "Type"} for c in columns)
    assert {c["Type"] for c in columns} <= HIVE_TYPES


def test_glue_types() -> None:
    types = {c["Name"]: c["Type"] for c in glue_columns()}
    assert types["event_id"] == "string"
    assert types["seq"] == "bigint"
    assert types["ts"] == types["received_at"] == "timestamp"
    assert types["display_w"] == "int"
    assert types["display_scale"] == "float"
    assert types["x"] == types["scroll_dy"] == "double"
    assert types["clicks"] == "tinyint"
    assert types["modifiers"] == types["menu_path"] == "array<string>"
    assert types["redactions"] == "map<string,int>"
    assert types["clipboard_length"] == "bigint"


@pytest.mark.parametrize(
    ("arrow_type", "expected"),
    [
        (pa.int16(), "smallint"),
        (pa.bool_(), "boolean"),
        (pa.timestamp("us"), "timestamp"),
        (pa.list_(pa.int64()), "array<bigint>"),
        (pa.map_(pa.string(), pa.list_(pa.float64())), "map<string,array<double>>"),
    ],
)
def test_glue_type_mapping(arrow_type: pa.DataType, expected: str) -> None:
    assert glue_type(arrow_type) == expected


def test_glue_type_refuses_what_it_cannot_map() -> None:
    with pytest.raises(TypeError):
        glue_type(pa.binary())


def test_partition_keys_are_not_columns() -> None:
    assert [name for name, _ in PARTITION_KEYS] == ["program", "dt", "hour"]
    assert not {name for name, _ in PARTITION_KEYS} & set(COLUMNS)


# --- object keys -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received_at", "dt", "hour"),
    [
        pytest.param(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "2026-01-02", "03", id="padded"),
        pytest.param(datetime(2026, 11, 27, 0, 0, tzinfo=UTC), "2026-11-27", "00", id="midnight"),
        pytest.param(datetime(2026, 11, 27, 23, 59, 59, tzinfo=UTC), "2026-11-27", "23", id="last"),
        pytest.param(
            datetime(2026, 11, 27, 1, 30, tzinfo=timezone(timedelta(hours=5))),
            "2026-11-26", "20", id="east-of-utc",
        ),
        pytest.param(
            datetime(2026, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-1))),
            "2027-01-01", "00", id="west-of-utc-new-year",
        ),
    ],
)  # fmt: skip
def test_object_key_uses_utc_ingestion_time(received_at: datetime, dt: str, hour: str) -> None:
    batch_id = "0b6f4a1e-8c1d-4c55-9a43-2f8e1f7d9c10"
    key = object_key("menu-navigation", received_at, batch_id)
    assert key == f"interactions/program=menu-navigation/dt={dt}/hour={hour}/{batch_id}.parquet"
    assert key.startswith(program_prefix("menu-navigation"))


def test_program_prefix_does_not_match_a_longer_name() -> None:
    other = object_key("menu-navigation-2", datetime(2026, 1, 1, tzinfo=UTC), "b")
    assert not other.startswith(program_prefix("menu-navigation"))


# --- Parquet -----------------------------------------------------------------------------------


def test_parquet_round_trips(table: pa.Table, parquet: bytes) -> None:
    assert parquet[:4] == parquet[-4:] == b"PAR1"
    back = pq.read_table(pa.BufferReader(parquet))
    assert back.schema.equals(INTERACTIONS)
    assert back.equals(table)


def test_empty_table_round_trips() -> None:
    back = pq.read_table(pa.BufferReader(to_parquet(INTERACTIONS.empty_table())))
    assert back.schema.equals(INTERACTIONS)
    assert back.num_rows == 0


def test_every_column_chunk_is_zstd(parquet: bytes) -> None:
    metadata = pq.ParquetFile(pa.BufferReader(parquet)).metadata
    chunks = [
        metadata.row_group(i).column(j)
        for i in range(metadata.num_row_groups)
        for j in range(metadata.num_columns)
    ]
    assert len(chunks) >= len(COLUMNS)
    assert {chunk.compression for chunk in chunks} == {"ZSTD"}


def _chunks(parquet: bytes, path: str) -> list[pq.ColumnChunkMetaData]:
    metadata = pq.ParquetFile(pa.BufferReader(parquet)).metadata
    index = [metadata.schema.column(j).path for j in range(metadata.num_columns)].index(path)
    return [metadata.row_group(i).column(index) for i in range(metadata.num_row_groups)]


@pytest.mark.parametrize("column", ["type", "subject_pid", "app_name", "policy_version"])
def test_low_cardinality_columns_are_dictionary_encoded(parquet: bytes, column: str) -> None:
    for chunk in _chunks(parquet, column):
        assert chunk.has_dictionary_page
        assert "RLE_DICTIONARY" in chunk.encodings


@pytest.mark.parametrize("column", ["event_id", "ts", "x"])
def test_unique_columns_are_not_dictionary_encoded(parquet: bytes, column: str) -> None:
    for chunk in _chunks(parquet, column):
        assert not chunk.has_dictionary_page


def test_statistics_allow_pruning_by_subject_and_time(table: pa.Table, parquet: bytes) -> None:
    for column in ("subject_pid", "ts"):
        for chunk in _chunks(parquet, column):
            assert chunk.is_stats_set
            assert chunk.statistics.has_min_max
    ts_chunk = _chunks(parquet, "ts")[0]
    assert ts_chunk.statistics.min == min(table["ts"].to_pylist())

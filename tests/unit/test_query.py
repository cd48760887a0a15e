"""Analyst queries: the Athena named queries run unchanged on DuckDB over the lake's files, and
their answers match an independent count over the same rows."""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyarrow import fs

from ilake.loadgen import plan
from ilake.query import (
    QueryError,
    Result,
    athena_literal,
    connect,
    lake_dataset,
    run_athena,
    run_duckdb,
)
from lambdas.core.analytics import BUNDLED_QUERIES, NamedQuery, named_queries, parse_day
from lambdas.core.common_text import fill
from lambdas.core.lake import object_key, to_parquet
from lambdas.core.programs import load_programs
from tests.support.builders import PROGRAMS_DIR, encode, make_event
from tests.support.data_path import ingest, run

PROGRAMS = ("menu-navigation", "shortcut-learning")
QUERIES = named_queries()


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, pa.Table]]:
    """Both programs' simulated sessions through the real pipeline, written in the lake layout."""
    root = tmp_path_factory.mktemp("lake")
    programs = load_programs(PROGRAMS_DIR)
    now_ms = int(time.time() * 1000)
    stored: dict[str, list[pa.Table]] = {p: [] for p in PROGRAMS}
    for seed, name in enumerate(PROGRAMS):
        for batches in plan(agents=3, minutes=6, seed=seed, end_ms=now_ms):
            for batch in batches:
                outcome = ingest(encode(batch), programs[name], received_at_ms=now_ms)
                if outcome.table is None:
                    continue
                stored[name].append(outcome.table)
                path = root / object_key(name, datetime.now(UTC), outcome.batch_id)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(to_parquet(outcome.table))
    return root, {name: pa.concat_tables(tables) for name, tables in stored.items()}


@pytest.fixture
def con(lake: tuple[Path, dict[str, pa.Table]]) -> Any:
    root, _ = lake
    return connect(lake_dataset(str(root / "interactions"), fs.LocalFileSystem()))


def rows_of(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()  # type: ignore[no-any-return]


def bind(name: str, program: str, dt: date | None = None) -> tuple[str, list[str]]:
    return named_queries()[name].bind(program=program, dt=dt or datetime.now(UTC).date())


def test_every_query_file_has_a_description_and_a_select() -> None:
    queries = named_queries()
    assert set(queries) == {p.stem for p in BUNDLED_QUERIES.glob("*.sql")}
    assert len(queries) >= 4
    for query in queries.values():
        assert query.description
        assert query.sql.lstrip().upper().startswith(("SELECT", "WITH"))
        assert "{program}" in query.sql
        assert "{dt}" in query.sql


def test_a_query_file_without_a_description_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.sql").write_text("SELECT 1\n")
    with pytest.raises(ValueError, match="description"):
        named_queries(tmp_path)


def test_bind_puts_a_mark_for_each_placeholder_and_the_values_in_their_order() -> None:
    query = NamedQuery("q", "d", "WHERE dt <= {dt} AND program = {program} AND dt >= {dt}")
    sql, params = query.bind(program="p", dt=date(2026, 11, 27))
    assert sql == "WHERE dt <= ? AND program = ? AND dt >= ?"
    assert params == ["2026-11-27", "p", "2026-11-27"]
    assert query.parameters == ("dt", "program", "dt")


def test_quoted_text_and_comments_are_left_as_they_are() -> None:
    query = NamedQuery("q", "d", "SELECT '?', '{x}' -- {program}?\nFROM t WHERE p = {program}")
    assert query.bind(program="p", dt=date(2026, 1, 1)) == (
        "SELECT '?', '{x}' -- {program}?\nFROM t WHERE p = ?",
        ["p"],
    )


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("WHERE program = '{program}'", "inside quotes"),
        ("WHERE program = {programme}", "unknown placeholder"),
        ("WHERE program = ? AND dt = {dt}", "outside quotes"),
        ("WHERE program = {program} AND x = 'it''s", "unclosed"),
        ("WHERE program = {program} /* note", "unclosed"),
    ],
    ids=["quoted", "unknown", "own-mark", "open-quote", "open-comment"],
)
def test_a_query_file_that_would_paste_or_shift_values_is_refused(
    tmp_path: Path, sql: str, reason: str
) -> None:
    (tmp_path / "bad.sql").write_text(f"-- a description\nSELECT 1 FROM t {sql}\n")
    with pytest.raises(ValueError, match=reason):
        named_queries(tmp_path)


@given(program=st.text(), dt=st.dates())
def test_the_sql_text_is_the_same_whatever_the_values(program: str, dt: date) -> None:
    """Values only ever travel as parameters: no program name or day, quoted or not, can
    change a character of the SQL."""
    for query in QUERIES.values():
        sql, params = query.bind(program=program, dt=dt)
        assert sql == query.positional_sql
        assert sql.count("?") == len(params) == len(query.parameters)
        assert params == [{"program": program, "dt": dt.isoformat()}[n] for n in query.parameters]


def test_a_program_value_written_as_sql_matches_nothing(con: Any) -> None:
    assert run_duckdb(con, *bind("daily-volume", "menu-navigation")).rows
    for name in QUERIES:
        assert run_duckdb(con, *bind(name, "menu-navigation' OR '1'='1")).rows == []
        assert run_duckdb(con, *bind(name, "x' OR program <> 'x")).rows == []


@pytest.mark.parametrize("text", ["2026-12-02", "2024-02-29", "0001-01-01"])
def test_a_calendar_day_is_read_as_that_day(text: str) -> None:
    assert parse_day(text).isoformat() == text


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-02' OR '1'='1",
        "20261202",
        "2026-W48-3",
        "2026-2-3",
        "2026-02-30",
        "2025-02-29",
        " 2026-12-02",
        "2026-12-02\n",
        "2026-12-02T00:00",
        "\uff12\uff10\uff12\uff16-12-02",  # full-width digits
        "",
    ],
)
def test_anything_but_a_calendar_day_is_refused_without_repeating_it(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD") as refused:
        parse_day(text)
    assert not text or text not in str(refused.value)


@given(st.text(alphabet="0123456789-", min_size=8, max_size=12) | st.text())
def test_a_day_is_accepted_only_as_it_writes_itself(text: str) -> None:
    try:
        day = parse_day(text)
    except ValueError:
        return
    assert day.isoformat() == text


# --- which days each named query reads ---------------------------------------------------------

WINDOW = re.compile(r"\((?:the day dt|the (\d+) days ending at dt)\)$")
DAY = date(2026, 12, 2)
# Days before DAY that hold data (-1: the day after); the i-th holds the same rows 2**i times,
# so a query's count tells exactly which days it read.
OFFSETS = (-1, 0, 1, 6, 7, 29, 30)
COUNTED = {
    "click-heatmap-bins": "clicks",
    "common-texts-per-app": "uses",
    "daily-volume": "events",
    "menu-paths": "uses",
    "shortcut-usage-per-app": "uses",
}


def window_days(query: NamedQuery) -> int:
    """How many days ending at dt the query reads, as its description says."""
    said = WINDOW.search(query.description)
    assert said, f"{query.name}: the description must end with the days dt selects"
    return int(said[1] or 1)


def write_days(root: Path, days: dict[date, int]) -> Any:
    """A lake with the same few events (every text released) written `copies` times a day."""
    events = [
        make_event(etype, subject=f"person-{i}")
        for i, etype in enumerate(("pointer.click", "menu.select", "key.shortcut"))
    ]
    table = run(events).table
    assert table is not None
    for day, copies in days.items():
        when = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
        path = root / "interactions" / object_key("menu-navigation", when, f"b-{day}")
        path.parent.mkdir(parents=True)
        path.write_bytes(to_parquet(pa.concat_tables([table] * copies)))
    return connect(lake_dataset(str(root / "interactions"), fs.LocalFileSystem()))


def counted(con: Any, name: str, dt: date) -> int:
    result = run_duckdb(con, *bind(name, "menu-navigation", dt))
    column = result.columns.index(COUNTED[name])
    return sum(row[column] for row in result.rows)


def test_every_named_query_says_which_days_dt_selects() -> None:
    assert set(COUNTED) == set(QUERIES)
    assert {name: window_days(q) for name, q in QUERIES.items()} == {
        "click-heatmap-bins": 1,
        "common-texts-per-app": 7,
        "daily-volume": 30,
        "menu-paths": 7,
        "shortcut-usage-per-app": 7,
    }


@pytest.mark.parametrize("name", sorted(COUNTED))
def test_each_named_query_reads_the_days_its_description_says(tmp_path: Path, name: str) -> None:
    one_day = write_days(tmp_path / "one", {DAY: 1})
    per_day = counted(one_day, name, DAY)
    assert per_day > 0
    lake = write_days(
        tmp_path / "many", {DAY - timedelta(days=o): 2**i for i, o in enumerate(OFFSETS)}
    )
    days = window_days(QUERIES[name])
    for shift in (0, 1, 7):
        dt = DAY - timedelta(days=shift)
        read = sum(2**i for i, o in enumerate(OFFSETS) if 0 <= o - shift < days)
        assert counted(lake, name, dt) == per_day * read, dt
    assert counted(lake, name, DAY + timedelta(days=400)) == 0


@pytest.mark.parametrize("program", PROGRAMS)
@pytest.mark.parametrize("name", sorted(named_queries()))
def test_every_named_query_runs_unchanged_on_duckdb(con: Any, name: str, program: str) -> None:
    result = run_duckdb(con, *bind(name, program))
    assert result.columns


@pytest.mark.parametrize("program", PROGRAMS)
def test_shortcut_usage_matches_an_independent_count(
    con: Any, lake: tuple[Path, dict[str, pa.Table]], program: str
) -> None:
    expected = Counter(
        (row["app_name"], "+".join(row["modifiers"]) + "+" + row["key"])
        for row in rows_of(lake[1][program])
        if row["type"] == "key.shortcut"
    )
    result = run_duckdb(con, *bind("shortcut-usage-per-app", program))
    assert result.columns == ["app_name", "shortcut", "uses"]
    assert {(a, s): n for a, s, n in result.rows} == dict(expected.most_common(100))
    assert [n for *_, n in result.rows] == sorted((n for *_, n in result.rows), reverse=True)


def test_menu_paths_match_an_independent_count(
    con: Any, lake: tuple[Path, dict[str, pa.Table]]
) -> None:
    rows = rows_of(lake[1]["menu-navigation"])
    expected = Counter(
        (row["app_name"], " > ".join(row["menu_path"]))
        for row in rows
        if row["type"] == "menu.select"
    )
    assert expected, "the simulation must produce menu selections for this program"
    result = run_duckdb(con, *bind("menu-paths", "menu-navigation"))
    assert {(a, p): n for a, p, n in result.rows} == dict(expected)


def test_click_heatmap_bins_count_every_click_once(
    con: Any, lake: tuple[Path, dict[str, pa.Table]]
) -> None:
    clicks = [r for r in rows_of(lake[1]["menu-navigation"]) if r["type"] == "pointer.click"]
    result = run_duckdb(con, *bind("click-heatmap-bins", "menu-navigation"))
    assert sum(n for *_, n in result.rows) == len(clicks)
    assert all(0 <= col <= 19 and 0 <= row <= 19 for _, col, row, _ in result.rows)


@pytest.mark.parametrize("program", PROGRAMS)
def test_daily_volume_counts_every_event_by_type(
    con: Any, lake: tuple[Path, dict[str, pa.Table]], program: str
) -> None:
    rows = rows_of(lake[1][program])
    result = run_duckdb(con, *bind("daily-volume", program))
    assert {t: n for _, t, n, _ in result.rows} == Counter(r["type"] for r in rows)
    assert sum(r for *_, r in result.rows) == sum(1 for r in rows if r["redactions"])


def test_partition_columns_are_typed_as_glue_declares_them(con: Any) -> None:
    result = run_duckdb(
        con, "SELECT typeof(program), typeof(dt), typeof(hour) FROM interactions LIMIT 1"
    )
    assert result.rows == [("VARCHAR", "VARCHAR", "INTEGER")]


def test_a_partition_filter_reads_only_that_programs_rows(
    con: Any, lake: tuple[Path, dict[str, pa.Table]]
) -> None:
    for program, table in lake[1].items():
        result = run_duckdb(
            con,
            f"SELECT count(*) FROM interactions WHERE program = '{program}'",
        )
        assert result.rows == [(table.num_rows,)]


def test_time_functions_work_in_utc_as_in_athena(con: Any) -> None:
    result = run_duckdb(
        con, "SELECT hour(TIMESTAMPTZ '2026-11-27 23:30:00+00'), current_setting('TimeZone')"
    )
    assert result.rows == [(23, "UTC")]


def test_an_empty_lake_is_an_empty_table(tmp_path: Path) -> None:
    empty = connect(lake_dataset(str(tmp_path / "interactions"), fs.LocalFileSystem()))
    assert run_duckdb(empty, "SELECT count(*) FROM interactions").rows == [(0,)]
    assert run_duckdb(empty, *bind("menu-paths", "menu-navigation")).rows == []


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELEC 1", "syntax error"),
        ("SELECT * FROM users", "Table with name users does not exist"),
        ("SELECT no_such_column FROM interactions", "no_such_column"),
        ("SELECT * FROM read_csv('/etc/passwd')", "disabled by configuration"),
        ("SET enable_external_access = true", "Cannot change"),
    ],
    ids=["syntax", "unknown-table", "unknown-column", "local-file", "settings"],
)
def test_refused_sql_is_a_query_error_with_one_line(con: Any, sql: str, message: str) -> None:
    with pytest.raises(QueryError, match=message) as refused:
        run_duckdb(con, sql)
    assert "\n" not in str(refused.value)


# --- Athena path (the client's behaviour; moto's canned results are in the integration tests) ---


class FakeAthena:
    """start -> RUNNING, RUNNING, then `final`; results in two pages, header row first."""

    def __init__(self, final: str = "SUCCEEDED", reason: str | None = None) -> None:
        self.states = ["RUNNING", "RUNNING", final]
        self.reason = reason
        self.started: dict[str, Any] = {}

    def start_query_execution(self, **kwargs: Any) -> dict[str, str]:
        self.started = kwargs
        return {"QueryExecutionId": "q-1"}

    def get_query_execution(self, QueryExecutionId: str) -> dict[str, Any]:
        status: dict[str, Any] = {
            "State": self.states.pop(0) if len(self.states) > 1 else self.states[0]
        }
        if self.reason:
            status["StateChangeReason"] = self.reason
        return {"QueryExecution": {"Status": status}}

    def get_paginator(self, name: str) -> Any:
        assert name == "get_query_results"
        meta = {"ColumnInfo": [{"Name": "type"}, {"Name": "n"}]}

        def row(*values: str) -> dict[str, Any]:
            return {"Data": [{"VarCharValue": v} for v in values]}

        class Pages:
            @staticmethod
            def paginate(QueryExecutionId: str) -> list[dict[str, Any]]:
                return [
                    {
                        "ResultSet": {
                            "ResultSetMetadata": meta,
                            "Rows": [row("type", "n"), row("a", "1")],
                        }
                    },
                    {"ResultSet": {"ResultSetMetadata": meta, "Rows": [row("b", "2")]}},
                ]

        return Pages()


def test_athena_runs_in_the_workgroup_waits_and_pages_without_the_header() -> None:
    athena = FakeAthena()
    naps: list[float] = []
    result = run_athena(
        athena, "SELECT 1", workgroup="wg", database="db", sleep=naps.append, poll_seconds=0.5
    )
    assert result == Result(["type", "n"], [("a", "1"), ("b", "2")])
    assert athena.started["WorkGroup"] == "wg"
    assert athena.started["QueryExecutionContext"] == {"Database": "db"}
    assert naps == [0.5, 0.5]


def test_athena_receives_the_values_as_execution_parameters_not_in_the_sql() -> None:
    athena = FakeAthena()
    sql, params = bind("daily-volume", "menu-navigation", DAY)
    run_athena(athena, sql, params=params, workgroup="wg", database="db", sleep=lambda _: None)
    assert athena.started["QueryString"] == QUERIES["daily-volume"].positional_sql
    assert athena.started["ExecutionParameters"] == [
        "'menu-navigation'",
        "'2026-12-02'",
        "'2026-12-02'",
    ]


def test_sql_without_values_starts_without_execution_parameters() -> None:
    athena = FakeAthena()
    run_athena(athena, "SELECT 1", workgroup="wg", database="db", sleep=lambda _: None)
    assert "ExecutionParameters" not in athena.started


LITERAL_READER = duckdb.connect()


@given(st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00")))
def test_an_athena_parameter_is_one_literal_holding_the_value_itself(value: str) -> None:
    """Athena reads an execution parameter as a SQL literal; with standard quoting (which DuckDB
    shares) any value, quotes and all, reads back as itself and never as more SQL."""
    assert LITERAL_READER.execute(f"SELECT {athena_literal(value)}").fetchall() == [(value,)]


def test_a_failed_athena_query_is_a_query_error_with_athenas_reason() -> None:
    with pytest.raises(QueryError, match="failed: SYNTAX_ERROR"):
        run_athena(
            FakeAthena("FAILED", "SYNTAX_ERROR: line 1"), "x", workgroup="w", database="d",
            sleep=lambda _: None,
        )  # fmt: skip


def test_an_athena_query_that_never_finishes_times_out() -> None:
    athena = FakeAthena("RUNNING")
    with pytest.raises(QueryError, match="still RUNNING"):
        run_athena(
            athena, "x", workgroup="w", database="d", sleep=lambda _: None, timeout_seconds=3
        )


def test_common_texts_per_app_counts_released_texts_only(tmp_path: Path) -> None:
    """Pending texts (ids only) never show; released ones are counted per app and field, with
    the people who used them."""
    events = [
        make_event(
            "menu.select", subject=f"p{i}", window={"title": title}, menu_path=["File", "Mine"]
        )
        for i, title in enumerate(["Budget.xlsx", "Budget.xlsx", "Private", "Budget.xlsx"])
    ]
    outcome = run(events, released=False)
    released = {
        tid: text for tid, text in outcome.common_texts.items() if text in ("Budget.xlsx", "File")
    }
    table, _ = fill(outcome.table, released)
    path = tmp_path / "interactions" / object_key("menu-navigation", datetime.now(UTC), "b")
    path.parent.mkdir(parents=True)
    path.write_bytes(to_parquet(table))
    con = connect(lake_dataset(str(tmp_path / "interactions"), fs.LocalFileSystem()))
    result = run_duckdb(con, *bind("common-texts-per-app", "menu-navigation"))
    assert result.columns == ["app_name", "field", "text", "uses", "people"]
    got = {(field, text): (uses, people) for _, field, text, uses, people in result.rows}
    assert got == {("window title", "Budget.xlsx"): (3, 3), ("menu item", "File"): (4, 4)}

"""`ilake report` (ilake/report/, ilake/charts.py): figures match the lake, the page is safe.

The lake here is built the way the system builds it: simulated agent batches go through the real
ingest core under the bundled programs and are written as Parquet under the hive layout of
`object_key`. Expected figures are counted independently from the Arrow tables with pyarrow.
"""

# ruff: noqa: RUF001 - tooltips use typographic dashes for ranges
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ilake import simulate
from ilake.charts import Bar, bar_chart, clip, heatmap, nice_ticks
from ilake.report import write_report
from ilake.report.data import GRID, TOP, HourCount, ProgramReport, ReportData, Tally, collect
from ilake.report.page import render_html
from lambdas.core.lake import INTERACTIONS, object_key, to_parquet
from lambdas.core.programs import load_programs
from tests.support.builders import PROGRAMS_DIR, RECEIVED_AT_MS, encode, make_batch, make_event
from tests.support.data_path import ingest

HOUR_MS = 3_600_000
PLANTED_APP = '<b>Bold</b> & "Co" Editor'
PLANTED_LABEL = "<script>alert(1)</script>"
LAKE_VIEW = (
    "CREATE VIEW interactions AS SELECT * FROM read_parquet('{root}/interactions/**/*.parquet', "
    "hive_partitioning=true, hive_types={{'program':'VARCHAR','dt':'VARCHAR','hour':'INTEGER'}})"
)


class Lake:
    """Parquet objects under `root`, and what was written, per program."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tables: dict[str, list[pa.Table]] = {}
        self.rejected: dict[str, Counter[str]] = {}
        self.objects = 0

    def ingest(self, program_name: str, batch: dict[str, Any], received_at_ms: int) -> None:
        program = load_programs(PROGRAMS_DIR)[program_name]
        outcome = ingest(encode(batch), program, received_at_ms=received_at_ms)
        self.rejected.setdefault(program_name, Counter()).update(outcome.rejected)
        if outcome.table is None:
            return
        received = datetime.fromtimestamp(received_at_ms / 1000, UTC)
        path = self.root / object_key(program_name, received, outcome.batch_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(to_parquet(outcome.table))
        self.tables.setdefault(program_name, []).append(outcome.table)
        self.objects += 1

    def table(self, program: str) -> pa.Table:
        return pa.concat_tables(self.tables[program])

    def of_type(self, program: str, event_type: str) -> list[dict[str, Any]]:
        table = self.table(program)
        return table.filter(pc.equal(table["type"], event_type)).to_pylist()


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """Two programs, simulated work over several hours, plus one batch with planted markup."""
    lake = Lake(tmp_path_factory.mktemp("lake"))
    for p, program in enumerate(("menu-navigation", "shortcut-learning")):
        for hour in range(4):
            start = RECEIVED_AT_MS + hour * HOUR_MS + p * 600_000
            batch = simulate.make_batch(
                1500, seed=10 * p + hour, start_ms=start, subject=f"u{hour}"
            )
            lake.ingest(program, batch, received_at_ms=batch["sent_at"] + 500)
    app = {"name": PLANTED_APP, "bundle_id": "com.example.bold"}
    planted = [
        *(make_event("key.shortcut", app=app, modifiers=["ctrl"], key="k") for _ in range(80)),
        *(make_event("menu.select", app=app, menu_path=[PLANTED_LABEL, "Save"]) for _ in range(60)),
        make_event("pointer.click", app=app, x=0, y=0),
        make_event("pointer.click", app=app, x=2000, y=1000),  # the display's far corner: 1.0
    ]
    lake.ingest("menu-navigation", make_batch(planted), received_at_ms=RECEIVED_AT_MS)
    return lake


@pytest.fixture(scope="module")
def con(lake: Lake) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.sql(LAKE_VIEW.format(root=lake.root))
    return con


@pytest.fixture(scope="module")
def data(con: duckdb.DuckDBPyConnection, lake: Lake) -> ReportData:
    return collect(con, rejected=lake.rejected)


@pytest.fixture(scope="module")
def page(data: ReportData) -> str:
    return render_html(data)


def program(data: ReportData, name: str) -> ProgramReport:
    [found] = [p for p in data.programs if p.name == name]
    return found


def shortcut_label(row: dict[str, Any]) -> str:
    key = row["key"] if row["key"] is not None else f"<{row['key_class']}>"
    return "+".join([*row["modifiers"], key])


def empty_lake() -> duckdb.DuckDBPyConnection:
    """A connection whose `interactions` has the lake's columns and no rows."""
    schema = INTERACTIONS
    for name, type_ in (("program", pa.string()), ("dt", pa.string()), ("hour", pa.int32())):
        schema = schema.append(pa.field(name, type_))
    con = duckdb.connect()
    con.register("interactions", schema.empty_table())
    return con


# --- figures -----------------------------------------------------------------------------------


def test_totals_equal_the_rows_written(data: ReportData, lake: Lake) -> None:
    assert [p.name for p in data.programs] == sorted(lake.tables)
    for name in lake.tables:
        table = lake.table(name)
        report = program(data, name)
        assert report.events == table.num_rows
        assert report.batches == len(lake.tables[name])
        assert report.subjects == len(pc.unique(table["subject_pid"]))
        assert report.first_event == f"{pc.min(table['ts']).as_py():%Y-%m-%d %H:%M}"
        assert report.last_event == f"{pc.max(table['ts']).as_py():%Y-%m-%d %H:%M}"
        assert report.policy_versions == (f"{name}@2",)
    everything = pa.concat_tables(lake.table(name) for name in lake.tables)
    assert data.events == everything.num_rows > 4_000
    assert data.batches == lake.objects
    assert data.subjects == len(pc.unique(everything["subject_pid"]))


def test_events_per_type_and_hour_add_up(data: ReportData, lake: Lake) -> None:
    for name in lake.tables:
        report = program(data, name)
        expected = Counter(lake.table(name)["type"].to_pylist())
        assert {t.label: t.count for t in report.types} == expected
        per_type: Counter[str] = Counter()
        for count in report.hourly:
            per_type[count.type] += count.events
        assert per_type == expected
        assert len({(c.dt, c.hour) for c in report.hourly}) >= 4  # sessions span several hours
        by_hour = Counter(
            (f"{ts:%Y-%m-%d}", ts.hour, kind)
            for ts, kind in zip(
                lake.table(name)["ts"].to_pylist(),
                lake.table(name)["type"].to_pylist(),
                strict=True,
            )
        )
        assert {(c.dt, c.hour, c.type): c.events for c in report.hourly} == by_hour


def test_shortcut_counts_match_an_independent_count(data: ReportData, lake: Lake) -> None:
    for name in lake.tables:
        expected = Counter(
            (shortcut_label(row), row["app_name"]) for row in lake.of_type(name, "key.shortcut")
        )
        shortcuts = program(data, name).shortcuts
        assert len(shortcuts) == min(TOP, len(expected))
        assert [s.count for s in shortcuts] == sorted(expected.values(), reverse=True)[:TOP]
        for shortcut in shortcuts:
            assert shortcut.count == expected[(shortcut.label, shortcut.app)]


def test_planted_shortcut_and_menu_path_lead_their_charts(data: ReportData) -> None:
    report = program(data, "menu-navigation")
    assert report.shortcuts[0] == Tally("ctrl+k", 80, PLANTED_APP)
    assert report.menu_paths[0] == Tally(f"{PLANTED_LABEL} > Save", 60, PLANTED_APP)


def test_menu_paths_match_an_independent_count(data: ReportData, lake: Lake) -> None:
    rows = lake.of_type("menu-navigation", "menu.select")
    expected = Counter((" > ".join(row["menu_path"]), row["app_name"]) for row in rows)
    for path in program(data, "menu-navigation").menu_paths:
        assert path.count == expected[(path.label, path.app)]
    # shortcut-learning drops menu labels, and does not collect menu.select at all
    assert program(data, "shortcut-learning").menu_paths == ()


def test_the_heatmap_bins_every_click(data: ReportData, lake: Lake) -> None:
    for name in lake.tables:
        clicks = lake.of_type(name, "pointer.click")
        expected = [[0] * GRID for _ in range(GRID)]
        for click in clicks:
            row, col = (min(int(click[axis] * GRID), GRID - 1) for axis in ("y", "x"))
            expected[row][col] += 1
        grid = program(data, name).clicks
        assert [list(row) for row in grid] == expected
        assert sum(map(sum, grid)) == len(clicks) > 0
    corners = program(data, "menu-navigation").clicks
    assert corners[0][0] >= 1
    assert corners[GRID - 1][GRID - 1] >= 1  # x = y = 1.0 lands in the last cell, not outside


def test_redactions_per_detector_sum_the_map_column(data: ReportData, lake: Lake) -> None:
    for name in lake.tables:
        expected: Counter[str] = Counter()
        redacted_events = 0
        for counts in lake.table(name)["redactions"].to_pylist():
            if counts:
                redacted_events += 1
                for detector, n in counts:
                    expected[detector] += n
        report = program(data, name)
        assert {t.label: t.count for t in report.redactions} == expected
        assert report.redacted_events == redacted_events
    assert program(data, "menu-navigation").redactions  # simulated titles carry PII


def test_rejections_come_from_the_callers_counts(data: ReportData, lake: Lake) -> None:
    for name, reasons in lake.rejected.items():
        report = program(data, name)
        assert {t.label: t.count for t in report.rejected} == +reasons
        assert [t.count for t in report.rejected] == sorted(reasons.values(), reverse=True)
    assert data.rejected_events == sum(sum(r.values()) for r in lake.rejected.values()) > 0


# --- the page ----------------------------------------------------------------------------------


def test_the_page_is_self_contained(page: str) -> None:
    assert "<script" not in page.lower()
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:[a-z]+:)?//""", page, re.IGNORECASE)
    assert "http://" not in page
    assert "https://" not in page
    assert "Content-Security-Policy" in page
    assert "default-src 'none'" in page


def test_strings_from_the_lake_are_escaped(page: str) -> None:
    assert "<b>Bold" not in page
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; &quot;Co&quot; Editor" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &gt; Save" in page


def test_every_chart_is_well_formed_svg(page: str) -> None:
    charts = re.findall(r"<svg\b.*?</svg>", page, re.DOTALL)
    assert len(charts) >= 2 * 6
    for chart in charts:
        root = ET.fromstring(chart)  # raises on anything left unescaped
        assert root.find("title") is not None


def test_the_page_shows_totals_titles_and_the_privacy_note(data: ReportData, page: str) -> None:
    assert f"{data.events:,}" in page
    assert f"{data.rejected_events:,}" in page
    assert "only what the lake stores" in page
    for title in (
        "Events per type per hour",
        "Where clicks land",
        f"Top {TOP} shortcuts",
        f"Top {TOP} menu paths",
        "Redactions per detector",
        "Rejected events by reason",
    ):
        assert page.count(f"<h3>{title}</h3>") == len(data.programs)
    assert "per hour of event time" in page


def test_the_empty_lake_says_so() -> None:
    data = collect(empty_lake(), rejected={})
    assert data.programs == ()
    assert data.events == data.rejected_events == data.subjects == 0
    page = render_html(data)
    assert "The lake holds no events" in page
    assert "<svg" not in page


def test_a_program_with_only_rejections_shows_empty_states() -> None:
    data = collect(empty_lake(), rejected={"retired": {"denied_app": 3, "sampled_out": 0}})
    [report] = data.programs
    assert (report.name, report.events) == ("retired", 0)
    assert report.rejected == (Tally("denied_app", 3),)
    page = render_html(data)
    for message in (
        "No events stored for this program.",
        "No clicks stored for this program.",
        "No shortcuts stored for this program.",
        "No menu selections stored for this program.",
        "Nothing needed redacting",
    ):
        assert message in page
    assert "No events were rejected" not in page
    assert page.count("<svg") == 1  # the rejections chart


def test_a_long_span_is_shown_per_day() -> None:
    hourly = tuple(HourCount(f"2027-01-{day:02d}", 9, "pointer.click", 5) for day in range(1, 11))
    report = ProgramReport(
        name="p", events=50, subjects=1, sessions=1, batches=10, redacted_events=0,
        first_event="2027-01-01 09:00", last_event="2027-01-10 09:59", policy_versions=("p@1",),
        types=(Tally("pointer.click", 50),), hourly=hourly,
        clicks=tuple(tuple(0 for _ in range(GRID)) for _ in range(GRID)),
        shortcuts=(), menu_paths=(), redactions=(), rejected=(),
    )  # fmt: skip
    page = render_html(ReportData("2027-01-11 00:00", (report,), subjects=1))
    assert "Events per type per day" in page
    assert "per day of event time" in page
    assert "2027-01-05 UTC" in page  # a column's tooltip


def test_write_report_creates_the_directory(
    con: duckdb.DuckDBPyConnection, lake: Lake, tmp_path: Path
) -> None:
    path = tmp_path / "reports" / "today" / "lake.html"
    data = write_report(con, path, rejected=lake.rejected)
    assert path.read_text(encoding="utf-8") == render_html(data)
    assert data.events == sum(t.num_rows for t in map(lake.table, lake.tables))


# --- chart helpers -----------------------------------------------------------------------------


def test_long_labels_are_clipped_with_an_ellipsis() -> None:
    long = "File > " * 40 + "Export"
    assert clip(long, 20) == long[:19].rstrip() + "…"
    assert clip("short", 20) == "short"
    svg = bar_chart([Bar(long, 3, note="App " * 50)], width=596, value_label="uses", title="t")
    shown = [text.text or "" for text in ET.fromstring(svg).iter("text")]
    assert long not in shown
    assert sum(text.endswith("…") for text in shown) == 2  # the label and the app


@pytest.mark.parametrize(
    ("top", "ticks"),
    [
        (0, [0, 1]),
        (1, [0, 1]),
        (7, [0, 2, 4, 6, 8]),
        (36, [0, 10, 20, 30, 40]),
        (9621, [0, 5000, 10000]),
    ],
)
def test_nice_ticks_cover_the_maximum_in_round_steps(top: int, ticks: list[int]) -> None:
    assert nice_ticks(top) == ticks


def test_heatmap_draws_one_cell_per_bin_with_its_count() -> None:
    grid = [[0] * GRID for _ in range(GRID)]
    grid[0][GRID - 1] = 7
    svg = heatmap(grid, width=596, title="clicks", unit="clicks")
    tips = [rect.findtext("title", "") for rect in ET.fromstring(svg).iter("rect")]
    assert len([tip for tip in tips if tip.startswith("x ")]) == GRID * GRID
    assert "x 0.95–1.00, y 0.00–0.05: 7 clicks" in tips


def test_common_texts_add_up_to_the_rows_and_show_released_titles_only() -> None:
    """Per field: values with an id, how many in clear, distinct texts released and pending;
    the share of events whose texts are all in clear; the top titles are released ones only."""
    from lambdas.core.common_text import fill
    from tests.support.data_path import run

    events = [
        make_event("menu.select", subject=f"p{i}", window={"title": title}, menu_path=["File", m])
        for i, (title, m) in enumerate(
            [("Shared.xlsx", "Save"), ("Shared.xlsx", "Mine"), ("Private", "Save")]
        )
    ]
    outcome = run(events, released=False)
    common = {"Shared.xlsx", "File", "Save"}
    table, _ = fill(outcome.table, {i: t for i, t in outcome.common_texts.items() if t in common})
    con = duckdb.connect()
    con.register("stored", table)
    con.sql("CREATE VIEW interactions AS SELECT *, 'p' AS program FROM stored")
    [report] = collect(con, rejected={}).programs
    fields = {t.field: t for t in report.texts}
    titles, menus = fields["window titles"], fields["menu items"]
    assert (titles.values, titles.released, titles.pending) == (3, 2, 1)
    assert (titles.released_texts, titles.pending_texts) == (1, 1)
    assert (menus.values, menus.released, menus.released_texts, menus.pending_texts) == (6, 5, 2, 1)
    # event 2 has "Mine" pending, event 3 the title: only event 1 is all in clear
    assert (report.events_with_texts, report.events_released) == (3, 1)
    assert [(t.label, t.count) for t in report.common_titles] == [("Shared.xlsx", 2)]
    page = render_html(ReportData("now", (report,), 3))
    assert "Common texts: released, or ids only" in page
    assert "33%" in page


def test_what_the_agents_did_not_capture_is_shown_by_reason() -> None:
    data = collect(
        empty_lake(),
        rejected={},
        not_captured={"menu-navigation": {"denied_app": 12, "type_not_collected": 3}},
    )
    [report] = data.programs
    assert report.not_captured == (Tally("denied_app", 12), Tally("type_not_collected", 3))
    assert data.not_captured_events == 15
    page = render_html(data)
    assert "Not captured by the agents, by reason" in page
    assert "15</b><span>events not captured by the agents" in page


def test_a_purged_program_says_so_instead_of_looking_like_data_loss() -> None:
    data = collect(
        empty_lake(), rejected={"retired": {"denied_app": 3}}, states={"retired": "PURGED"}
    )
    [report] = data.programs
    assert report.state == "PURGED"
    page = render_html(data)
    assert "PURGED: every object version" in page
    assert '<td class="text">PURGED</td>' in page


def test_the_page_reads_at_phone_width(page: str) -> None:
    """Tables scroll inside their box and charts keep their drawn size (and so their text
    size) on a narrow screen, instead of pushing the page sideways or shrinking."""
    assert page.count("<table>") == page.count('<div class="scroll"><table>')
    assert "@media (max-width: 640px)" in page
    phone = page.split("@media (max-width: 640px)", 1)[1].split("}\n}", 1)[0]
    assert ".card svg { max-width: none; }" in phone
    assert ".card { overflow-x: auto; }" in phone
    # a grid track of plain 1fr grows to its widest chart and pushes the page sideways
    assert "grid-template-columns: 1fr" not in page
    assert page.count("minmax(0, 1fr)") >= 2


def test_hours_without_events_are_said_to_be_quiet_not_lost(data: ReportData) -> None:
    import html
    from dataclasses import replace

    from ilake.report.data import HourCount

    program = replace(
        data.programs[0],
        hourly=(
            HourCount("2026-11-20", 9, "pointer.click", 5),
            HourCount("2026-11-20", 12, "pointer.click", 3),
        ),
    )
    page = html.unescape(render_html(replace(data, programs=(program,))))
    assert "2 hours without a column: no one's recorded work fell in them" in page
    busy = replace(program, hourly=(HourCount("2026-11-20", 9, "pointer.click", 5),))
    assert "without a column" not in render_html(replace(data, programs=(busy,)))

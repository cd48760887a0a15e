"""`ilake report`: one self-contained HTML page about what the lake holds, per program.

Written for two readers: a privacy officer, who wants to see that only pseudonyms, counts and
redacted labels are stored and what was refused, and an analyst, who wants to see the shape of
the data. The page has no scripts and loads nothing (a Content-Security-Policy says so), so it
can be mailed or archived as it is. Every figure comes from DuckDB SQL over the `interactions`
view, except rejections: refused events are not in the lake, so the caller passes their counts.
"""

# ruff: noqa: RUF001 - the page's text uses typographic dashes and the multiplication sign
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from .charts import Bar, Column, Series, bar_chart, clip, esc, fmt, heatmap, stacked_columns
from .common_texts import TextStatus, released_events, text_status

TOP = 10  # rows in the "top shortcuts" and "top menu paths" charts
GRID = 20  # the click heatmap's cells per side
MAX_HOURLY_COLUMNS = 72  # beyond this many hours, the activity chart shows days

# One colour per event type, families in related hues: pointer blues, keyboard oranges.
TYPE_COLOURS: dict[str, str] = {
    "pointer.move": "#9ecae1",
    "pointer.click": "#3182bd",
    "pointer.scroll": "#6baed6",
    "pointer.drag": "#08519c",
    "key.press": "#fdae6b",
    "key.shortcut": "#e6550d",
    "text.input": "#c44e52",
    "menu.select": "#31a354",
    "window.focus": "#756bb1",
    "clipboard": "#8c6d31",
    "capture.pause": "#969696",
    "capture.resume": "#c7c7c7",
}
OTHER_TYPE_COLOUR = "#525252"
REDACTION_COLOUR = "#7b5ea7"
REJECTION_COLOUR = "#b5473a"

# Chart widths in CSS pixels, matching the page's columns, so text renders at its set size.
HALF_WIDTH = 590
ACTIVITY_WIDTH = 860
TYPES_WIDTH = 336


@dataclass(frozen=True, slots=True)
class Tally:
    """How many times something was seen, with the app it was seen in where that matters."""

    label: str
    count: int
    app: str = ""


@dataclass(frozen=True, slots=True)
class HourCount:
    """Events of one type that happened in one hour (event time `ts`, UTC)."""

    dt: str
    hour: int
    type: str
    events: int


@dataclass(frozen=True, slots=True)
class ProgramReport:
    """What one program's part of the lake holds, and what ingest refused for it."""

    name: str
    events: int
    subjects: int  # distinct subject pseudonyms
    sessions: int
    batches: int
    redacted_events: int  # stored events in which at least one detector replaced something
    first_event: str | None  # event time, 'YYYY-MM-DD HH:MM' UTC
    last_event: str | None
    policy_versions: tuple[str, ...]
    types: tuple[Tally, ...]  # events per type, most first
    hourly: tuple[HourCount, ...]
    clicks: tuple[tuple[int, ...], ...]  # GRID rows (top to bottom) of GRID columns
    shortcuts: tuple[Tally, ...]  # label 'ctrl+shift+p', app; top TOP
    menu_paths: tuple[Tally, ...]  # label 'File > Save As…', app; top TOP
    redactions: tuple[Tally, ...]  # per detector
    rejected: tuple[Tally, ...]  # per reason
    not_captured: tuple[Tally, ...] = ()  # by the agents, per reason: never sent
    state: str = "ACTIVE"  # ACTIVE, PAUSED, PURGING or PURGED when the report was written
    texts: tuple[TextStatus, ...] = ()  # per field kept in "common" mode: released or pending
    events_with_texts: int = 0  # events holding a text kept in "common" mode
    events_released: int = 0  # of them, those whose every such text is released
    common_titles: tuple[Tally, ...] = ()  # released window titles, app; top TOP

    @property
    def rejected_events(self) -> int:
        return sum(t.count for t in self.rejected)

    @property
    def not_captured_events(self) -> int:
        return sum(t.count for t in self.not_captured)


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything the page shows, as plain values: render_html needs nothing else."""

    generated_at: str
    programs: tuple[ProgramReport, ...]
    subjects: int  # distinct across programs: one person in two programs counts once

    @property
    def events(self) -> int:
        return sum(p.events for p in self.programs)

    @property
    def rejected_events(self) -> int:
        return sum(p.rejected_events for p in self.programs)

    @property
    def not_captured_events(self) -> int:
        return sum(p.not_captured_events for p in self.programs)

    @property
    def batches(self) -> int:
        return sum(p.batches for p in self.programs)

    @property
    def first_event(self) -> str | None:
        return min((p.first_event for p in self.programs if p.first_event), default=None)

    @property
    def last_event(self) -> str | None:
        return max((p.last_event for p in self.programs if p.last_event), default=None)


# --- collect -----------------------------------------------------------------------------------

_OVERVIEW = """
SELECT program, count(*) AS events, count(DISTINCT subject_pid) AS subjects,
       count(DISTINCT session_pid) AS sessions, count(DISTINCT batch_id) AS batches,
       count(*) FILTER (WHERE cardinality(redactions) > 0) AS redacted_events,
       epoch_ms(min(ts)) AS first_ms, epoch_ms(max(ts)) AS last_ms,
       array_agg(DISTINCT policy_version) AS policy_versions
FROM interactions
GROUP BY program
"""
_NOTHING_STORED: list[Any] = [0, 0, 0, 0, 0, None, None, []]  # an _OVERVIEW row without program
_TYPES = """
SELECT program, type, count(*) AS events
FROM interactions
GROUP BY program, type
ORDER BY program, events DESC, type
"""
_HOURLY = """
SELECT program, strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%d') AS day,
       hour(ts AT TIME ZONE 'UTC') AS hour_of_day, type, count(*) AS events
FROM interactions
GROUP BY program, day, hour_of_day, type
ORDER BY program, day, hour_of_day, type
"""
_CLICKS = """
SELECT program, least(floor(x * $grid), $grid - 1) AS col,
       least(floor(y * $grid), $grid - 1) AS row, count(*) AS clicks
FROM interactions
WHERE type = 'pointer.click' AND x IS NOT NULL AND y IS NOT NULL
GROUP BY program, col, row
"""
# The top labels per program, by uses; {label} is an SQL expression over one event, {where} the
# events that count.
_TOP_PER_APP = """
WITH used AS (
    SELECT program, coalesce(app_name, '(no app)') AS app, {label} AS label, count(*) AS uses
    FROM interactions
    WHERE {where}
    GROUP BY program, app, label
), ranked AS (
    SELECT *, row_number() OVER (PARTITION BY program ORDER BY uses DESC, app, label) AS rank
    FROM used
)
SELECT program, label, uses, app FROM ranked WHERE rank <= $top ORDER BY program, rank
"""
# A key that would type a character is stored only as its class: shown as e.g. 'shift+<letter>'.
_SHORTCUT = (
    "array_to_string(list_append(coalesce(modifiers, []), "
    "coalesce(key, '<' || key_class || '>', '<key>')), '+')"
)
_MENU_PATH = "coalesce(array_to_string(menu_path, ' > '), '(labels not kept)')"
_RELEASED_TITLE = "window_title_id IS NOT NULL AND window_title IS NOT NULL"
_REDACTIONS = """
SELECT program, entry.key AS detector, sum(entry.value) AS found
FROM (SELECT program, unnest(map_entries(redactions)) AS entry
      FROM interactions WHERE redactions IS NOT NULL)
GROUP BY program, detector
ORDER BY program, found DESC, detector
"""


def collect(
    con: duckdb.DuckDBPyConnection,
    *,
    rejected: Mapping[str, Mapping[str, int]],
    not_captured: Mapping[str, Mapping[str, int]] | None = None,
    states: Mapping[str, str] | None = None,
) -> ReportData:
    """Everything the page shows, as plain values. `rejected` (by ingest) and `not_captured`
    (by the agents, as their batches reported) are program -> reason -> events; `states` is
    program -> state (ACTIVE when absent)."""
    not_captured, states = not_captured or {}, states or {}
    overview = {program: stats for program, *stats in con.sql(_OVERVIEW).fetchall()}
    types = _tallies(con.sql(_TYPES).fetchall())
    shortcuts = _tallies(_top(con, "key.shortcut", _SHORTCUT))
    menu_paths = _tallies(_top(con, "menu.select", _MENU_PATH))
    titles = _tallies(_top(con, None, "window_title", _RELEASED_TITLE))
    texts: dict[str, list[TextStatus]] = defaultdict(list)
    for status in text_status(con):
        texts[status.program].append(status)
    released = released_events(con)
    redactions = _tallies(con.sql(_REDACTIONS).fetchall())
    hourly: dict[str, list[HourCount]] = defaultdict(list)
    for program, *count in con.sql(_HOURLY).fetchall():
        hourly[program].append(HourCount(*count))
    clicks: dict[str, list[list[int]]] = defaultdict(lambda: [[0] * GRID for _ in range(GRID)])
    for program, col, row, n in con.execute(_CLICKS, {"grid": GRID}).fetchall():
        clicks[program][max(int(row), 0)][max(int(col), 0)] += n
    [(subjects,)] = con.sql("SELECT count(DISTINCT subject_pid) FROM interactions").fetchall()

    # A program can have rejections and nothing stored (e.g. every event was of a denied app).
    names = set(overview) | {
        p
        for counts in (rejected, not_captured)
        for p, reasons in counts.items()
        if any(reasons.values())
    }
    programs = []
    for name in sorted(names):
        events, n_subjects, sessions, batches, redacted, first_ms, last_ms, versions = overview.get(
            name, _NOTHING_STORED
        )
        refused = _by_count(rejected.get(name, {}))
        programs.append(
            ProgramReport(
                name=name,
                events=events,
                subjects=n_subjects,
                sessions=sessions,
                batches=batches,
                redacted_events=redacted,
                first_event=_minute(first_ms),
                last_event=_minute(last_ms),
                policy_versions=tuple(sorted(versions)),
                types=types.get(name, ()),
                hourly=tuple(hourly.get(name, ())),
                clicks=tuple(tuple(row) for row in clicks[name]),
                shortcuts=shortcuts.get(name, ()),
                menu_paths=menu_paths.get(name, ()),
                redactions=redactions.get(name, ()),
                rejected=refused,
                not_captured=_by_count(not_captured.get(name, {})),
                state=states.get(name, "ACTIVE"),
                texts=tuple(texts.get(name, ())),
                events_with_texts=released.get(name, (0, 0))[0],
                events_released=released.get(name, (0, 0))[1],
                common_titles=titles.get(name, ()),
            )
        )
    return ReportData(
        generated_at=f"{datetime.now(UTC):%Y-%m-%d %H:%M}",
        programs=tuple(programs),
        subjects=subjects,
    )


def _by_count(counts: Mapping[str, int]) -> tuple[Tally, ...]:
    return tuple(
        sorted((Tally(k, n) for k, n in counts.items() if n), key=lambda t: (-t.count, t.label))
    )


def _top(
    con: duckdb.DuckDBPyConnection, event_type: str | None, label: str, where: str = "type = $type"
) -> list[tuple[Any, ...]]:
    query = _TOP_PER_APP.format(label=label, where=where)
    params: dict[str, Any] = {"top": TOP}
    if event_type is not None:
        params["type"] = event_type
    return con.execute(query, params).fetchall()


def _tallies(rows: Iterable[tuple[Any, ...]]) -> dict[str, tuple[Tally, ...]]:
    """(program, label, count[, app]) rows, already ordered, grouped by program."""
    grouped: dict[str, list[Tally]] = defaultdict(list)
    for program, label, count, *app in rows:
        grouped[program].append(Tally(str(label), int(count), *app))
    return {program: tuple(tallies) for program, tallies in grouped.items()}


def _minute(epoch_ms: float | None) -> str | None:
    if epoch_ms is None:
        return None
    return f"{datetime.fromtimestamp(epoch_ms / 1000, UTC):%Y-%m-%d %H:%M}"


# --- render ------------------------------------------------------------------------------------

CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --rule: #d9dee4; --paper: #f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--paper); color: var(--ink);
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 1320px; margin: 0 auto; padding: 28px 24px 48px; }
h1 { font-size: 26px; margin: 0 0 2px; }
h2 { font-size: 20px; margin: 36px 0 2px; }
h3 { font-size: 15px; margin: 0; }
.sub, .subtitle, .empty { color: var(--muted); }
.subtitle { font-size: 12.5px; margin: 2px 0 10px; }
.tiles { display: grid; grid-template-columns: repeat(6, 1fr); gap: 12px; margin: 20px 0 14px; }
.tile, .card { background: #fff; border: 1px solid var(--rule); border-radius: 8px; }
.tile { padding: 12px 14px; }
.tile b { display: block; font-size: 22px; font-variant-numeric: tabular-nums; }
.tile b.small { font-size: 14px; line-height: 1.35; padding-top: 4px; }
.tile span { color: var(--muted); font-size: 12.5px; }
.note { background: #eef4fb; border-left: 4px solid #3b6ea8; padding: 10px 14px;
        border-radius: 4px; max-width: 980px; }
table { border-collapse: collapse; width: 100%; background: #fff; margin-top: 10px;
        border: 1px solid var(--rule); font-variant-numeric: tabular-nums; }
th, td { padding: 7px 10px; border-bottom: 1px solid var(--rule); text-align: right; }
th { font-size: 12.5px; color: var(--muted); font-weight: 600; background: #fafbfc; }
th:first-child, td:first-child, th.text, td.text { text-align: left; }
a { color: #2f5f96; text-decoration: none; }
a:hover { text-decoration: underline; }
.grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 16px;
        margin-top: 12px; }
.card { padding: 14px 16px; min-width: 0; margin: 0; }
.card.wide { grid-column: 1 / -1; }
.stack { display: flex; flex-direction: column; gap: 16px; }
.stack .card { flex: 1; }
.split { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start;
         justify-content: space-between; }
@media (max-width: 1240px) {
  .grid { grid-template-columns: minmax(0, 1fr); }
  .tiles { grid-template-columns: repeat(3, 1fr); }
}
.scroll { overflow-x: auto; }
@media (max-width: 640px) {  /* a phone: charts keep their drawn size and scroll sideways */
  main { padding: 16px 10px 32px; }
  .tiles { grid-template-columns: repeat(2, 1fr); }
  .card { overflow-x: auto; }
  .card svg { max-width: none; }
  th, td { padding: 6px 7px; }
}
.empty { border: 1px dashed var(--rule); border-radius: 6px; padding: 28px; text-align: center; }
svg { display: block; max-width: 100%; height: auto; overflow: visible; }
svg text { font-size: 12px; fill: var(--ink); }
svg .tick, svg .note, svg .group { fill: var(--muted); font-size: 11px; }
svg .axis { fill: var(--muted); font-size: 12px; font-style: italic; }
svg .value { font-variant-numeric: tabular-nums; }
svg .label { font-weight: 500; }
footer { color: var(--muted); font-size: 12px; margin-top: 36px; }
"""

# No scripts, no fetches: the browser refuses anything but the inline styles.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

PRIVACY_NOTE = (
    "This page shows only what the lake stores: pseudonyms (never account or device names), "
    "counts, normalized pointer positions, key names of shortcuts, app names and labels after "
    "redaction. Typed text, clipboard contents and raw window titles are never stored, so they "
    "cannot appear here. Redactions count every placeholder in the stored events, whether the "
    "agent replaced the match before sending or ingest did. Events the agents did not capture "
    "and events rejected at ingest were never stored; their counts come from ingest metrics "
    "(the agents send theirs with their batches)."
)


STATE_NOTES = {
    "PAUSED": "agents are told to stop capturing and new batches are refused; what was stored "
    "before the pause is shown.",
    "PURGING": "a purge is under way; what is shown may already be partly deleted.",
    "PURGED": "every object version, the program's secret and key are deleted; the lake holds "
    "nothing of it. Only the counts reported at ingest (from metrics) remain.",
}


def render_html(data: ReportData) -> str:
    """The whole page. Every value from the lake goes through `esc` (or the chart helpers)."""
    tiles = [
        (fmt(data.events), "events stored"),
        (fmt(data.not_captured_events), "events not captured by the agents"),
        (fmt(data.rejected_events), "events rejected at ingest (not stored)"),
        (fmt(len(data.programs)), "programs"),
        (fmt(data.subjects), "subjects (pseudonyms)"),
        (fmt(data.batches), "batches (objects before compaction)"),
        (_range(data.first_event, data.last_event), "event time range (UTC)"),
    ]
    header = [
        "<header><h1>Interaction Lake — what the lake holds</h1>",
        f'<div class="sub">Report generated {esc(data.generated_at)} UTC</div>',
        '<div class="tiles">',
        *(_tile(value, label) for value, label in tiles),
        "</div>",
        f'<p class="note">{esc(PRIVACY_NOTE)}</p></header>',
    ]
    if data.programs:
        columns = _time_columns(data)
        body = [_overview(data), *(_program_section(p, columns) for p in data.programs)]
    else:
        body = [_empty("The lake holds no events and no rejections were reported.")]
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>Interaction Lake report</title>",
            f"<style>{CSS}</style></head><body><main>",
            *header,
            *body,
            "<footer>Generated by <code>ilake report</code> from the lake's Parquet objects. "
            "Hover over a bar or cell for its exact counts.</footer>",
            "</main></body></html>",
        ]
    )


def _tile(value: str, label: str) -> str:
    lines = value.split("\n")
    klass = ' class="small"' if len(lines) > 1 else ""
    return (
        f'<div class="tile"><b{klass}>{"<br>".join(map(esc, lines))}</b>'
        f"<span>{esc(label)}</span></div>"
    )


def _range(first: str | None, last: str | None, sep: str = "\n") -> str:
    """'YYYY-MM-DD HH:MM' to 'YYYY-MM-DD HH:MM' on two lines, or the day once if it is one day."""
    if first is None or last is None:
        return "—"
    if first[:10] == last[:10]:
        return f"{first[:10]}{sep}{first[11:]} – {last[11:]}"
    return f"{first} –{sep}{last}"


def _overview(data: ReportData) -> str:
    head = (
        '<tr><th>Program</th><th class="text">State</th><th>Events</th><th>Subjects</th>'
        "<th>Sessions</th><th>Batches</th>"
        '<th>Events with redactions</th><th>Rejected</th><th class="text">Event time (UTC)</th>'
        '<th class="text">Policy version</th></tr>'
    )
    rows = [
        f'<tr><td><a href="#{_anchor(p.name)}">{esc(p.name)}</a></td>'
        f'<td class="text">{esc(p.state)}</td><td>{fmt(p.events)}</td>'
        f"<td>{fmt(p.subjects)}</td><td>{fmt(p.sessions)}</td><td>{fmt(p.batches)}</td>"
        f"<td>{fmt(p.redacted_events)}</td><td>{fmt(p.rejected_events)}</td>"
        f'<td class="text">{esc(_range(p.first_event, p.last_event, " "))}</td>'
        f'<td class="text">{esc(", ".join(p.policy_versions) or "—")}</td></tr>'
        for p in data.programs
    ]
    table = f'<div class="scroll"><table>{head}{"".join(rows)}</table></div>'
    return f"<section><h2>Programs</h2>{table}</section>"


def _anchor(program: str) -> str:
    return "program-" + "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in program)


def _program_section(program: ProgramReport, columns: _TimeColumns) -> str:
    """Activity across the width, then work patterns, then what was redacted or refused."""
    name = program.name
    stats = (
        f"{fmt(program.events)} events stored · {fmt(program.subjects)} subjects · "
        f"{fmt(program.batches)} batches · {fmt(program.not_captured_events)} not captured · "
        f"{fmt(program.rejected_events)} rejected"
    )
    n_clicks = sum(map(sum, program.clicks))
    activity = _card(
        f"Events per type per {columns.unit}",
        f"Stacked by event type, per {columns.unit} of event time (UTC) when the person "
        "worked; the lake itself is partitioned by the hour of ingestion. "
        f"{_quiet(program, columns)}Right: stored events per type.",
        _activity(program, columns),
        "No events stored for this program.",
        wide=True,
    )
    clicks = _card(
        "Where clicks land",
        f"{fmt(n_clicks)} clicks on a {GRID}×{GRID} grid of the display, positions normalized "
        "to 0..1 of its width and height (drawn 16:9).",
        heatmap(program.clicks, width=HALF_WIDTH, title=f"Clicks, {name}", unit="clicks")
        if n_clicks
        else "",
        "No clicks stored for this program.",
    )
    shortcuts = _card(
        f"Top {TOP} shortcuts",
        "modifiers+key, with the app it was pressed in. A key that would type a character is "
        "stored only as its class, e.g. shift+<letter>.",
        _bars(program.shortcuts, "uses", f"Shortcuts, {name}", TYPE_COLOURS["key.shortcut"]),
        "No shortcuts stored for this program.",
    )
    menus = _card(
        f"Top {TOP} menu paths",
        "Menu labels as stored (after redaction), with the app they belong to.",
        _bars(program.menu_paths, "uses", f"Menu paths, {name}", TYPE_COLOURS["menu.select"]),
        "No menu selections stored for this program.",
    )
    redactions = _card(
        "Redactions per detector",
        "Matches replaced by a placeholder, by the agent before sending or at ingest, in "
        f"{fmt(program.redacted_events)} of {fmt(program.events)} stored events.",
        _bars(program.redactions, "matches", f"Redactions, {name}", REDACTION_COLOUR),
        "Nothing needed redacting in this program's stored events.",
    )
    rejections = _card(
        "Rejected events by reason",
        "Events refused at ingest and never stored (counts from ingest metrics).",
        _bars(program.rejected, "events", f"Rejections, {name}", REJECTION_COLOUR),
        "No events were rejected for this program.",
    )
    not_captured = _card(
        "Not captured by the agents, by reason",
        "Events the agents' copy of the policy kept on the machine: never sent, never stored "
        "(counts the agents send with their batches).",
        _bars(program.not_captured, "events", f"Not captured, {name}", REJECTION_COLOUR),
        "The agents reported no events left uncaptured for this program.",
    )
    privacy = f'<div class="stack">{redactions}{not_captured}{rejections}</div>'
    texts = _common_texts(program) if program.texts else ""
    state = STATE_NOTES.get(program.state)
    return (
        f'<section id="{_anchor(name)}"><h2>Program {esc(name)}</h2>'
        f'<div class="sub">{esc(stats)}</div>'
        + (f'<p class="note">{esc(program.state)}: {esc(state)}</p>' if state else "")
        + f'<div class="grid">{activity}{clicks}{shortcuts}{menus}{texts}{privacy}</div></section>'
    )


def _common_texts(program: ProgramReport) -> str:
    """What of the free text is in clear: per field, and the most common released titles."""
    share = (
        f"{program.events_released / program.events_with_texts:.0%}"
        if program.events_with_texts
        else "—"
    )
    head = (
        '<tr><th class="text">Field</th><th>Values</th><th>In clear</th><th>Ids only</th>'
        "<th>Texts released</th><th>Texts pending</th></tr>"
    )
    rows = "".join(
        f'<tr><td class="text">{esc(t.field)}</td><td>{fmt(t.values)}</td>'
        f"<td>{fmt(t.released)}</td><td>{fmt(t.pending)}</td>"
        f"<td>{fmt(t.released_texts)}</td><td>{fmt(t.pending_texts)}</td></tr>"
        for t in program.texts
    )
    titles = _bars(
        program.common_titles, "uses", f"Released window titles, {program.name}", "#756bb1"
    )
    return _card(
        "Common texts: released, or ids only",
        "Titles, labels, menu items and web hosts are stored in clear only once enough people "
        "(the program's min_people) have sent the same text; until then only an id (a keyed "
        f"hash). Of {fmt(program.events_with_texts)} events holding such a text, {share} have "
        f"every one in clear. Below: the top {TOP} released window titles, with their app.",
        f'<div class="scroll"><table>{head}{rows}</table></div>{titles}',
        "No text is kept in common mode for this program.",
        wide=True,
    )


def _card(title: str, subtitle: str, chart: str, empty: str, *, wide: bool = False) -> str:
    """A titled figure holding a chart, or the empty-state message when there is no data."""
    klass = "card wide" if wide else "card"
    return (
        f'<figure class="{klass}"><h3>{esc(title)}</h3>'
        f'<p class="subtitle">{esc(subtitle)}</p>{chart or _empty(empty)}</figure>'
    )


def _empty(message: str) -> str:
    return f'<div class="empty">{esc(message)}</div>'


def _bars(
    tallies: tuple[Tally, ...], value_label: str, title: str, colour: str, width: int = HALF_WIDTH
) -> str:
    if not tallies:
        return ""
    bars = [Bar(t.label, t.count, t.app, colour) for t in tallies]
    return bar_chart(bars, width=width, value_label=value_label, title=title)


def _type_order(event_type: str) -> tuple[int, str]:
    """Known types in the palette's order (families together), then any others by name."""
    order = list(TYPE_COLOURS)
    return (order.index(event_type) if event_type in order else len(order), event_type)


# --- the activity chart's time axis ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _TimeColumns:
    """The lake-wide time buckets, so that every program's chart shares one time axis."""

    unit: str  # "hour" or "day"
    starts: tuple[datetime, ...]


def _time_columns(data: ReportData) -> _TimeColumns:
    hours = [_hour_start(h) for p in data.programs for h in p.hourly]
    if not hours:
        return _TimeColumns("hour", ())
    first, last = min(hours), max(hours)
    span = int((last - first) / timedelta(hours=1)) + 1
    if span <= MAX_HOURLY_COLUMNS:
        return _TimeColumns("hour", tuple(first + timedelta(hours=i) for i in range(span)))
    day0 = first.replace(hour=0)
    days = (last.replace(hour=0) - day0).days + 1
    return _TimeColumns("day", tuple(day0 + timedelta(days=i) for i in range(days)))


def _quiet(program: ProgramReport, columns: _TimeColumns) -> str:
    """Say what an empty column means, so that it does not read as data lost."""
    busy = {_hour_start(c).replace(hour=0) if columns.unit == "day" else _hour_start(c)
            for c in program.hourly}  # fmt: skip
    empty = sum(start not in busy for start in columns.starts) if program.hourly else 0
    if not empty:
        return ""
    unit = columns.unit if empty == 1 else f"{columns.unit}s"
    return (
        f"{empty} {unit} without a column: no one's recorded work fell in them (nothing was "
        "lost: events are placed by when they happened). "
    )


def _hour_start(count: HourCount) -> datetime:
    return datetime.fromisoformat(count.dt).replace(hour=count.hour, tzinfo=UTC)


def _activity(program: ProgramReport, columns: _TimeColumns) -> str:
    """Stacked columns over the shared time axis, beside the per-type totals that double as
    the legend (same colours)."""
    if not program.hourly:
        return ""
    index = {start: i for i, start in enumerate(columns.starts)}
    values: dict[str, list[int]] = defaultdict(lambda: [0] * len(columns.starts))
    for count in program.hourly:
        start = _hour_start(count)
        if columns.unit == "day":
            start = start.replace(hour=0)
        values[count.type][index[start]] += count.events
    series = [Series(t, _type_colour(t), tuple(values[t])) for t in sorted(values, key=_type_order)]
    chart = stacked_columns(
        _column_labels(columns),
        series,
        width=ACTIVITY_WIDTH,
        height=320,
        x_label=f"{columns.unit} of the event (UTC)",
        y_label="events",
        title=f"Events per type per {columns.unit}, {program.name}",
    )
    totals = bar_chart(
        [Bar(t.label, t.count, colour=_type_colour(t.label)) for t in program.types],
        width=TYPES_WIDTH,
        value_label="events",
        title=f"Events per type, {program.name}",
    )
    return f'<div class="split">{chart}<div>{totals}</div></div>'


def _type_colour(event_type: str) -> str:
    return TYPE_COLOURS.get(event_type, OTHER_TYPE_COLOUR)


def _column_labels(columns: _TimeColumns) -> list[Column]:
    """Tick labels thinned to about one per 34 px; a date under the first column of each day."""
    slot = (ACTIVITY_WIDTH - 72) / max(len(columns.starts), 1)
    every = next((n for n in (1, 2, 3, 4, 6, 12, 24) if n * slot >= 34), 24)
    labels = []
    for i, start in enumerate(columns.starts):
        if columns.unit == "hour":
            tick = f"{start:%H}" if start.hour % every == 0 else ""
            group = f"{start:%Y-%m-%d}" if i == 0 or start.hour == 0 else ""
            tip = f"{start:%Y-%m-%d %H}:00–{start:%H}:59 UTC"
        else:
            tick = f"{start:%m-%d}" if i % every == 0 else ""
            group = f"{start:%Y-%m}" if i == 0 or start.day == 1 else ""
            tip = f"{start:%Y-%m-%d} UTC"
        labels.append(Column(tick, clip(group, 12), tip))
    return labels


# --- entry point -------------------------------------------------------------------------------


def write_report(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    rejected: Mapping[str, Mapping[str, int]],
    not_captured: Mapping[str, Mapping[str, int]] | None = None,
    states: Mapping[str, str] | None = None,
) -> ReportData:
    """Collect, render and write the page (creating its directory); returns what it showed."""
    data = collect(con, rejected=rejected, not_captured=not_captured, states=states)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(data), encoding="utf-8")
    return data


def local_report(state: Any, output: Path, *, days: int = 14, con: Any = None) -> Path:
    """The report of a running local stack: the lake through its S3 endpoint (read once into
    memory: the report runs a dozen queries) and the ingest metrics from its CloudWatch."""
    import boto3

    from .metrics import sums_by_program
    from .query import open_lake

    if con is None:
        con = open_lake(
            endpoint_url=state.aws_endpoint_url,
            bucket=state.bucket,
            region=state.region,
            in_memory=True,
        )
    cloudwatch = boto3.client("cloudwatch", region_name=state.region)
    rejected = sums_by_program(cloudwatch, "Rejected.", days=days)
    not_captured = sums_by_program(cloudwatch, "NotCaptured.", days=days)
    write_report(
        con, output, rejected=rejected, not_captured=not_captured, states=_states(state.region)
    )
    return output


def _states(region: str) -> dict[str, str]:
    """program -> state, from the program state table (programs without a record are ACTIVE)."""
    import boto3

    from .local import RESOURCE_NAMES

    pages = (
        boto3.client("dynamodb", region_name=region)
        .get_paginator("scan")
        .paginate(
            TableName=RESOURCE_NAMES["PROGRAM_STATE_TABLE"],
            ProjectionExpression="#p, #s",
            ExpressionAttributeNames={"#p": "program", "#s": "state"},
        )
    )
    return {item["program"]["S"]: item["state"]["S"] for page in pages for item in page["Items"]}

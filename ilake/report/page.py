"""The report as one self-contained HTML page, rendered from its figures (data.py).

Written for two readers: a privacy officer, who wants to see that only pseudonyms, counts and
redacted labels are stored and what was refused, and an analyst, who wants to see the shape of
the data. The page has no scripts and loads nothing (a Content-Security-Policy says so), so it
can be mailed or archived as it is.
"""

# ruff: noqa: RUF001 - the page's text uses typographic dashes and the multiplication sign
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..charts import Bar, Column, Series, bar_chart, clip, esc, fmt, heatmap, stacked_columns
from .data import GRID, TOP, HourCount, ProgramReport, ReportData, Tally

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
    """The whole page. Every value from the lake goes through `esc` (or the chart functions)."""
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

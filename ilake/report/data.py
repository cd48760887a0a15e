"""The report's figures, per program: DuckDB SQL over the lake's `interactions` view, as plain
values (no HTML), plus the counts of what was refused, which the caller passes: refused events are
not in the lake."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from ..common_texts import TextStatus, released_events, text_status

TOP = 10  # rows in the "top shortcuts" and "top menu paths" charts
GRID = 20  # the click heatmap's cells per side


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

"""What the lake holds of common texts (docs/common-text.md): per program and field, how many
values are released (in clear) and how many still wait (their id only), for the demo and the
report. Counts only: a pending text has no text to show, and a released one is shown only in
the report's "most common released titles"."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

# (label, the values of one field as SQL over `interactions`: text and id columns)
FIELDS: tuple[tuple[str, str], ...] = (
    ("window titles", "SELECT program, window_title AS text, window_title_id AS id"),
    ("button and field names", "SELECT program, target_name AS text, target_name_id AS id"),
    (
        "menu items",
        "SELECT program, unnest(menu_path) AS text, unnest(menu_path_ids) AS id",
    ),
    ("web hosts", "SELECT program, window_host AS text, window_host_id AS id"),
)
_STATUS = """
SELECT program, count(*) AS values_,
       count(*) FILTER (WHERE text IS NOT NULL) AS released,
       count(DISTINCT id) FILTER (WHERE text IS NOT NULL) AS released_texts,
       count(DISTINCT id) FILTER (WHERE text IS NULL) AS pending_texts
FROM ({values} FROM interactions WHERE {ids} IS NOT NULL)
WHERE id IS NOT NULL
GROUP BY program
"""
_IDS = {"window titles": "window_title_id", "button and field names": "target_name_id",
        "menu items": "menu_path_ids", "web hosts": "window_host_id"}  # fmt: skip
# Events with at least one text kept in "common" mode, and those of them with every one released.
_EVENTS = """
SELECT program, count(*) AS with_texts,
       count(*) FILTER (WHERE (window_title_id IS NULL OR window_title IS NOT NULL)
                          AND (target_name_id IS NULL OR target_name IS NOT NULL)
                          AND (window_host_id IS NULL OR window_host IS NOT NULL)
                          AND (menu_path_ids IS NULL
                               OR list_count(menu_path) = len(menu_path))) AS all_released
FROM interactions
WHERE window_title_id IS NOT NULL OR target_name_id IS NOT NULL OR window_host_id IS NOT NULL
   OR menu_path_ids IS NOT NULL
GROUP BY program
"""


@dataclass(frozen=True, slots=True)
class TextStatus:
    """One field of one program: values kept in "common" mode, and how many are released."""

    program: str
    field: str
    values: int  # values with an id (each occurrence)
    released: int  # of them, in clear
    released_texts: int  # distinct texts released
    pending_texts: int  # distinct texts still pending (ids only)

    @property
    def pending(self) -> int:
        return self.values - self.released


def text_status(con: duckdb.DuckDBPyConnection) -> list[TextStatus]:
    """Per program and field, ordered by program then field (the FIELDS order)."""
    found = []
    for field, values in FIELDS:
        query = _STATUS.format(values=values, ids=_IDS[field])
        for program, *counts in con.sql(query).fetchall():
            found.append(TextStatus(program, field, *map(int, counts)))
    order = {field: i for i, (field, _) in enumerate(FIELDS)}
    return sorted(found, key=lambda s: (s.program, order[s.field]))


def released_events(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int]]:
    """Per program: (events that hold a text in "common" mode, those whose every such text is
    released)."""
    return {program: (int(n), int(done)) for program, n, done in con.sql(_EVENTS).fetchall()}

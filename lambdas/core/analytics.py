"""The analysts' named queries: one SQL file each in `queries/`, shared by Athena and local mode.

A file's first line is a `-- description`. The SQL names its inputs with the placeholders
`{program}` and `{dt}`, written where a value goes (never inside quotes). The inputs are values,
never SQL: `bind` turns each placeholder into a positional `?` and returns the values in the order
the placeholders occur, which is how both DuckDB (`execute(sql, params)`) and Athena
(`ExecutionParameters`) take them. The CDK app publishes the `?` form as the Athena named query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

BUNDLED_QUERIES = Path(__file__).resolve().parents[2] / "queries"
PARAMETERS = ("program", "dt")
# Athena's limit on a named query's description.
MAX_DESCRIPTION = 1024

# One pass over the SQL: quoted text and comments are kept as they are (a placeholder or a `?`
# there would be text, not a value); braces and question marks elsewhere are what we look at.
_TOKENS = re.compile(
    r"""(?P<skip>'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/)"""
    r"""|(?P<unclosed>['"]|/\*)"""
    r"""|(?P<placeholder>\{[^{}]*\})"""
    r"""|(?P<mark>\?)""",
    re.DOTALL,
)
_PLACEHOLDER = re.compile(r"\{(?:" + "|".join(PARAMETERS) + r")\}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def parse_day(text: str) -> date:
    """A calendar day written `YYYY-MM-DD`, nothing else (no week dates, no `20261202`, no
    `2026-2-30`). The error never repeats the text."""
    if _DAY.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError("expected a calendar day as YYYY-MM-DD")


def positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """`sql` with every placeholder replaced by `?`, and the placeholders' names in order.

    Refuses what would make a value part of the SQL text or shift the parameters: a placeholder
    inside quotes, an unknown placeholder, a `?` of the file's own, an unclosed quote or comment.
    """
    names: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match["skip"] is not None:
            if match["skip"][0] in "'\"" and _PLACEHOLDER.search(match["skip"]):
                raise ValueError("a placeholder inside quotes is text, not a value: unquote it")
            return match["skip"]
        if match["unclosed"] is not None:
            raise ValueError("an unclosed quote or comment")
        if match["mark"] is not None:
            raise ValueError("a '?' outside quotes: parameters are written {program} or {dt}")
        name = match["placeholder"][1:-1]
        if name not in PARAMETERS:
            raise ValueError(f"unknown placeholder (known: {', '.join(PARAMETERS)})")
        names.append(name)
        return "?"

    return _TOKENS.sub(replace, sql), tuple(names)


@dataclass(frozen=True, slots=True)
class NamedQuery:
    name: str
    description: str
    sql: str
    positional_sql: str = field(init=False)
    parameters: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        positional_sql, parameters = positional(self.sql)
        object.__setattr__(self, "positional_sql", positional_sql)
        object.__setattr__(self, "parameters", parameters)

    def bind(self, *, program: str, dt: date) -> tuple[str, list[str]]:
        """The SQL with `?` for each placeholder, and the values in the order they occur.

        The SQL text is the same whatever the values: they only ever travel as parameters."""
        values = {"program": program, "dt": dt.isoformat()}
        return self.positional_sql, [values[name] for name in self.parameters]

    @property
    def published_description(self) -> str:
        """The description as the workgroup shows it: what the query does, then which values
        to enter for its `?` marks, in order (Athena takes them as SQL literals)."""
        if not self.parameters:
            return self.description
        names = ", ".join(self.parameters)
        return (
            f"{self.description}. Parameters, in order, each in single quotes "
            f"(dt as 'YYYY-MM-DD'): {names}"
        )


def named_queries(directory: Path = BUNDLED_QUERIES) -> dict[str, NamedQuery]:
    """Every `<name>.sql` in `directory`, by name (sorted)."""
    queries = {}
    for path in sorted(directory.glob("*.sql")):
        first, _, rest = path.read_text().partition("\n")
        if not first.startswith("-- "):
            raise ValueError(f"{path}: the first line must be '-- <description>'")
        try:
            query = NamedQuery(path.stem, first[3:].strip(), rest.strip())
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
        if len(query.published_description) > MAX_DESCRIPTION:
            raise ValueError(f"{path}: the description is over {MAX_DESCRIPTION} characters")
        queries[path.stem] = query
    return queries

"""The analysts' named queries: one SQL file each in `queries/`, shared by Athena and local mode.

The CDK app publishes them as Athena named queries; `ilake query --named` runs the very same text
on DuckDB. A file's first line is a `-- description`; `{program}` and `{dt}` are placeholders
filled the same way on both sides (`render`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

BUNDLED_QUERIES = Path(__file__).resolve().parents[2] / "queries"


@dataclass(frozen=True, slots=True)
class NamedQuery:
    name: str
    description: str
    sql: str

    def render(self, *, program: str, dt: str) -> str:
        return self.sql.replace("{program}", program).replace("{dt}", dt)


def named_queries(directory: Path = BUNDLED_QUERIES) -> dict[str, NamedQuery]:
    """Every `<name>.sql` in `directory`, by name (sorted)."""
    queries = {}
    for path in sorted(directory.glob("*.sql")):
        first, _, rest = path.read_text().partition("\n")
        if not first.startswith("-- "):
            raise ValueError(f"{path}: the first line must be '-- <description>'")
        queries[path.stem] = NamedQuery(path.stem, first[3:].strip(), rest.strip())
    return queries

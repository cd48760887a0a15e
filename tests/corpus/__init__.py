"""Text corpora the redactor is measured on: ordinary UI strings it must leave alone.

`corpus()` is the one loader: tests/unit/test_benign_corpus.py sends its strings through the
ingest pipeline, and bench/redactors.py measures other redactors on the same list. It needs
nothing beyond the standard library, so the bench can load it from a venv without pytest.
"""

from __future__ import annotations

from pathlib import Path

from scripts.extract_ui_strings import extract
from tests.corpus.benign import generate

VENDORED = Path(__file__).resolve().parent / "debian"
# UI files on this machine whose licence keeps them out of the repository (GPL): used if present
LOCAL_UI = (Path("/usr/share/applications"), Path("/usr/share/system-config-printer/ui"))


def corpus() -> list[str]:
    """The generated strings, the vendored Debian UI strings and those of this machine, with
    runs of white space made one space, deduplicated, at most 256 characters each."""
    vendored = [
        line for path in sorted(VENDORED.glob("*.txt")) for line in path.read_text().splitlines()
    ]
    local = extract(p for p in LOCAL_UI if p.is_dir())
    # one space between words: "common" mode stores runs of white space as one space anyway
    texts = [" ".join(t.split()) for t in (*generate(), *vendored, *local)]
    return list(dict.fromkeys(t for t in texts if t and len(t) <= 256))

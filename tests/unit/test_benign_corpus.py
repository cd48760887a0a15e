"""Ordinary UI strings come back unchanged from the real ingest path.

Every corpus string is sent as a window title, a button's name and a menu item, redacted by the
pipeline as any event is, and compared with what went in. Over-redaction destroys training
signal as surely as a leak destroys trust: at least 99% must survive in every field, and every
string that does not is named, with its reason, in docs/redaction.md, so that list stays true.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from ilake_contract.redact import normalize
from tests.corpus import VENDORED, corpus
from tests.corpus.benign import generate
from tests.support.builders import make_event
from tests.support.data_path import rows, run

ROOT = Path(__file__).resolve().parents[2]
REDACTION_DOC = ROOT / "docs" / "redaction.md"
FIELDS = ("window_title", "target_name", "menu_label")
CHUNK = 500


@cache
def stored() -> dict[str, dict[str, str]]:
    """text -> field -> the text as the lake stores it."""
    texts = corpus()
    found: dict[str, dict[str, str]] = {}
    for start in range(0, len(texts), CHUNK):
        chunk = texts[start : start + CHUNK]
        events = [
            event
            for text in chunk
            for event in (
                make_event(window={"title": text}, target={"role": "button", "name": text}),
                make_event("menu.select", window={"title": "x"}, menu_path=[text]),
            )
        ]
        outcome = run(events)
        assert outcome.accepted == len(events), outcome.rejected
        table = rows(outcome)
        for i, text in enumerate(chunk):
            click, menu = table[2 * i], table[2 * i + 1]
            found[text] = {
                "window_title": click["window_title"],
                "target_name": click["target_name"],
                "menu_label": menu["menu_path"][0],
            }
    return found


def altered(field: str) -> dict[str, str]:
    """Corpus strings whose stored `field` differs from the input (normalization aside)."""
    return {
        text: fields[field]
        for text, fields in stored().items()
        if fields[field] != " ".join(normalize(text).split())
    }


def documented() -> set[str]:
    """The strings docs/redaction.md names as altered: table rows starting with a code span."""
    rows_ = re.findall(r"^\| `([^`]+)` \|", REDACTION_DOC.read_text(), flags=re.MULTILINE)
    return set(rows_)


def test_the_corpus_is_large_and_varied():
    texts = corpus()
    assert len(generate()) >= 2000
    assert len(texts) >= 2200
    assert len(list(VENDORED.glob("*.txt"))) >= 2


@pytest.mark.parametrize("field", FIELDS)
def test_ordinary_ui_text_survives_redaction(field):
    changed = altered(field)
    assert len(changed) <= 0.01 * len(stored()), sorted(changed.items())[:40]


@pytest.mark.parametrize("field", FIELDS)
def test_every_alteration_is_documented(field):
    undocumented = {t: out for t, out in altered(field).items() if t not in documented()}
    assert not undocumented, (
        f"{len(undocumented)} corpus strings are altered but not listed in docs/redaction.md: "
        f"{sorted(undocumented.items())[:40]}"
    )


def test_the_list_names_no_string_that_is_left_alone():
    """The other direction: a string the redactor stopped altering leaves the list too (strings
    from UI files not installed here cannot be checked)."""
    everything = stored()
    still_altered = {text for field in FIELDS for text in altered(field)}
    stale = {text for text in documented() if text in everything} - still_altered
    assert not stale, f"docs/redaction.md lists strings that are no longer altered: {stale}"

"""The threat model names the tests that show each control: every name must exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = re.compile(r"`((?:unit|integration|infra)/test_\w+\.py)(?:::(test_\w+))?")


def test_every_test_the_threat_model_names_exists() -> None:
    text = (ROOT / "docs" / "threat-model.md").read_text()
    references = REFERENCE.findall(text) + re.findall(r"`::(test_\w+)`", text)
    assert len(references) > 50
    current: Path | None = None
    for found in REFERENCE.finditer(text):
        current = ROOT / "tests" / found[1]
        assert current.is_file(), found[1]
        if found[2]:
            assert re.search(rf"^def {found[2]}\(", current.read_text(), re.M), found[0]
    # `::test_x` right after a file reference names a test of that same file
    for line in text.splitlines():
        file = None
        for token in re.findall(r"`([^`]+)`", line):
            if "::" in token and not token.startswith("::"):
                file = ROOT / "tests" / token.split("::")[0]
            elif token.startswith("::") and file is not None:
                name = token[2:]
                assert re.search(rf"^def {name}\(", file.read_text(), re.M), (file.name, name)


def test_every_stride_category_is_covered() -> None:
    text = (ROOT / "docs" / "threat-model.md").read_text()
    letters = set(re.findall(r"^\| ([STRIDE]) \|", text, re.M))
    assert letters == set("STRIDE")

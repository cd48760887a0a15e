"""The repository explains itself: no reference a reader cannot follow, and no dead link.

No tracked text file points into a document or tracker that is not part of the repository (a
design document's section numbers, a section sign with a number, an issue number, toolchain
notes, a path into a sibling `shared` directory); a full URL of an upstream project's issue is
fine. Every relative link in README.md and docs/*.md, and every `docs/<page>#<anchor>` cited
anywhere, names a file that exists and, with an anchor, a heading of that file (GitHub's slugs).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Test data: strings applications show, such as a tracker's window title with its issue number.
SKIPPED = ("tests/corpus/",)

# Built from parts so that this file does not match its own patterns.
UNRESOLVABLE = {
    "a design document's section": re.compile(r"\bDESIGN(?:\.md\b|[ .\u00a7]*\d|\s+principle)"),
    "a section number": re.compile("\u00a7" + r"\s?\d"),
    "an issue number": re.compile(r"\b[Ii]ssues?\s*#?\d+"),
    "toolchain notes": re.compile("TOOL" + "CHAIN"),
    "a path outside the repository": re.compile(r"(?:\.\./|/work/)shared\b"),
}
URL = re.compile(r"https?://\S+")

FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_SPAN = re.compile(r"`+[^`]*`+")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
DOCS_MENTION = re.compile(r"(?<![\w/.-])docs/([\w.-]+\.(?:md|json))(?:#([\w-]+))?")


def tracked_text_files() -> Iterator[tuple[str, str]]:
    """(path, text) of every file git tracks or would track, binary files and test data aside."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in sorted(set(filter(None, listed.split("\0")))):
        path = ROOT / name
        if name.startswith(SKIPPED) or not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data:
            continue
        try:
            yield name, data.decode()
        except UnicodeDecodeError:
            continue


def unresolvable(name: str, text: str) -> Iterator[str]:
    """`file:line: what` for each reference a reader of the repository could not follow."""
    for number, line in enumerate(text.splitlines(), 1):
        prose = URL.sub("", line)  # an upstream project's issue URL is a reference anyone can open
        for what, pattern in UNRESOLVABLE.items():
            if pattern.search(prose):
                yield f"{name}:{number}: {what}: {line.strip()[:120]}"


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: rendered text, lower case, punctuation gone, spaces dashed."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link shows its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").replace("*", "")
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def _prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """Numbered lines outside fenced code blocks (a diagram's or a shell comment is no link)."""
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            yield number, line


def anchors(markdown: str) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for _, line in _prose_lines(markdown):
        heading = HEADING.match(line)
        if heading:
            base = slug(heading[1])
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def _target_problem(target: Path, anchor: str | None) -> str | None:
    if not target.exists():
        return "no such file"
    if anchor and target.suffix == ".md" and anchor not in anchors(target.read_text()):
        return f"no heading #{anchor}"
    return None


def _without_code(text: str) -> str:
    """The text with fenced blocks and code spans (which may wrap) blanked, lines kept."""
    unfenced = ["" for _ in text.splitlines()]
    for number, line in _prose_lines(text):
        unfenced[number - 1] = line
    return CODE_SPAN.sub(lambda span: "\n" * span[0].count("\n"), "\n".join(unfenced))


def broken_links(document: Path, root: Path = ROOT) -> Iterator[str]:
    """`file:line: link: why` for each relative link of a Markdown file that does not resolve."""
    name = document.relative_to(root).as_posix()
    for number, line in enumerate(_without_code(document.read_text()).splitlines(), 1):
        for link in LINK.finditer(line):
            href = link[1]
            if SCHEME.match(href):
                continue
            path, _, anchor = href.partition("#")
            target = (document.parent / unquote(path)).resolve() if path else document
            problem = _target_problem(target, anchor or None)
            if problem:
                yield f"{name}:{number}: {href}: {problem}"


def broken_mentions(files: Iterable[tuple[str, str]], root: Path = ROOT) -> Iterator[str]:
    """`file:line: docs/page#anchor: why` for each cited docs page or section that is missing."""
    for name, text in files:
        for number, line in enumerate(text.splitlines(), 1):
            for mention in DOCS_MENTION.finditer(line):
                problem = _target_problem(root / "docs" / mention[1], mention[2])
                if problem:
                    yield f"{name}:{number}: {mention[0]}: {problem}"


def markdown_documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.fixture(scope="module")
def files() -> list[tuple[str, str]]:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing says which files are the repository's")
    return list(tracked_text_files())


def test_no_reference_points_outside_the_repository(files: list[tuple[str, str]]) -> None:
    assert len(files) > 100
    found = [problem for name, text in files for problem in unresolvable(name, text)]
    assert not found, "cite a docs/ page instead:\n" + "\n".join(found)


def test_every_relative_link_in_the_docs_resolves() -> None:
    documents = markdown_documents()
    assert len(documents) > 10
    found = [problem for document in documents for problem in broken_links(document)]
    assert not found, "\n".join(found)


def test_every_cited_docs_page_and_section_exists(files: list[tuple[str, str]]) -> None:
    found = list(broken_mentions(files))
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "line",
    [
        "as " + "DESIGN" + " 4.2 says",
        "see DESIGN" + ".md",
        "DESIGN" + " principle 4",
        "the rule in \u00a7" + "4.4",
        "done in iss" + "ue 8",
        "see Iss" + "ue #12",
        "pinned to what " + "TOOL" + "CHAIN-FACTS verified",
        "copied from ../" + "shared/notes.md",
    ],
)
def test_a_planted_reference_is_found(line: str) -> None:
    assert list(unresolvable("planted.py", f"ok\n{line}\n")) != []
    assert next(unresolvable("planted.py", f"ok\n{line}\n")).startswith("planted.py:2: ")


@pytest.mark.parametrize(
    "line",
    [
        "fixed upstream: https://example.org/tracker/" + "issue" + "#7",
        "see docs/design.md#lake-layout",
        "the design is silent here; a tissue of 3 layers",
    ],
)
def test_what_a_reader_can_follow_is_left_alone(line: str) -> None:
    assert list(unresolvable("fine.py", line)) == []


def test_github_slugs() -> None:
    assert slug("Agent SDK (`ilake_agent`)") == "agent-sdk-ilake_agent"
    assert slug("Programs (policy as code)") == "programs-policy-as-code"
    assert slug("What the agents did, counted where the server counts") == (
        "what-the-agents-did-counted-where-the-server-counts"
    )
    assert anchors("# A\n## B\n```\n# not a heading\n```\n## B\n") == {"a", "b", "b-1"}


def test_a_broken_link_or_anchor_is_found(tmp_path: Path) -> None:
    docs = "docs" + "/"  # written apart, so that this file cites no missing page itself
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text("# Page\n\n## A section\n")
    readme = tmp_path / "README.md"
    readme.write_text(
        f"[ok]({docs}page.md#a-section) [ok](#top) [ok](https://example.org/x)\n"
        "`[not a link](nowhere.md)` and `a span\nthat wraps [x](y.md)`\n"
        f"[missing]({docs}gone.md)\n"
        f"[no anchor]({docs}page.md#b-section)\n"
        "# Top\n"
    )
    assert list(broken_links(readme, tmp_path)) == [
        f"README.md:4: {docs}gone.md: no such file",
        f"README.md:5: {docs}page.md#b-section: no heading #b-section",
    ]
    cited = [("code.py", f"# {docs}page.md#a-section, {docs}page.md#nope")]
    assert list(broken_mentions(cited, tmp_path)) == [
        f"code.py:1: {docs}page.md#nope: no heading #nope"
    ]

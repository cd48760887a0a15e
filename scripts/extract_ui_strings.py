"""Extract the visible UI text from Debian packages' UI definition files, one string a line.

Reads `.desktop` entries (Name, GenericName, Comment, Keywords and action names, in every
locale), GTK builder `.ui` files (translatable properties) and LibreOffice `.xcu` menu files
(Label values). Use it on what is installed, or on a package fetched with `apt-get download`
and unpacked with `dpkg-deb -x`:

    python scripts/extract_ui_strings.py /usr/share/applications/vim.desktop > vim.txt
    python scripts/extract_ui_strings.py --root /usr/share/system-config-printer > scp.txt

The redactor must leave these strings alone: tests/corpus/ holds the ones whose licence lets us
redistribute them, and the corpus test extracts the rest from this machine when present.
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from pathlib import Path

DESKTOP_KEYS = ("Name", "GenericName", "Comment", "Keywords", "X-GNOME-FullName")
SUFFIXES = (".desktop", ".ui", ".xcu")


def desktop_strings(text: str) -> Iterator[str]:
    """Visible values of a .desktop file: `Key=` and `Key[locale]=` for the keys shown."""
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep or key.split("[", 1)[0].strip() not in DESKTOP_KEYS:
            continue
        if key.startswith("Keywords"):
            yield from (word for word in value.split(";") if word.strip())
        else:
            yield value


def builder_strings(text: str) -> Iterator[str]:
    """Translatable properties and items of a GTK builder file."""
    for element in ET.fromstring(text).iter():  # noqa: S314 (the packages installed here)
        if element.get("translatable") == "yes" and element.text:
            yield element.text


def xcu_strings(text: str) -> Iterator[str]:
    """Label values of a LibreOffice configuration (menus, commands)."""
    for prop in ET.fromstring(text).iter("prop"):  # noqa: S314 (as above)
        if prop.get("{http://openoffice.org/2001/registry}name") == "Label":
            yield from (value.text for value in prop.iter("value") if value.text)


def strings_of(path: Path) -> Iterator[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".desktop":
        yield from desktop_strings(text)
    elif path.suffix == ".ui":
        yield from builder_strings(text)
    elif path.suffix == ".xcu":
        yield from xcu_strings(text)


def ui_files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        elif path.suffix in SUFFIXES:
            yield path


def extract(paths: Iterable[Path]) -> list[str]:
    """Every distinct one-line string, in file order; multi-line texts are split into lines."""
    seen: dict[str, None] = {}
    for path in ui_files(paths):
        try:
            found = list(strings_of(path))
        except ET.ParseError:
            continue  # a broken file is skipped, not a reason to lose the rest
        for text in found:
            for line in text.splitlines():
                line = line.strip()
                if line:
                    seen.setdefault(line, None)
    return list(seen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="UI files or directories")
    parser.add_argument("--root", type=Path, action="append", default=[], help="a directory")
    args = parser.parse_args(argv)
    paths = [*args.paths, *args.root]
    if not paths:
        parser.error("give at least one file or directory")
    for text in extract(paths):
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

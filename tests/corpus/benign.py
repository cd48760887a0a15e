# Multiplication signs and dashes are part of the UI text this corpus stands for.
# ruff: noqa: RUF001
"""Ordinary UI strings that hold no personal data, generated from templates and seeded values.

Every string is something a window title, a button or a menu item really shows: versions and
builds, invoice, order, ticket, case and purchase-order numbers, dates and times as several
locales write them, durations, sizes, dimensions, coordinates, percentages, amounts, counters,
commit ids, ISBNs, parcel ids, file names, menu paths, code identifiers and URLs without
secrets. The redactor must return them unchanged; see docs/redaction.md for the few it may not.

Deterministic: the same seed gives the same list, so a failure names a string that stays put.
"""

from __future__ import annotations

import random
from collections.abc import Callable

SEED = 20261127
PER_FAMILY = 200

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS_FULL = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_MONATE = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "Oktober")
_MOIS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "décembre")
_APPS = ("Excel", "Word", "Outlook", "Chrome", "Firefox", "Slack", "Jira", "SAP GUI", "Figma")
_EXT = ("xlsx", "docx", "pdf", "csv", "png", "pptx", "txt", "json", "zip", "log", "py", "md")
_WORDS = (
    "report",
    "budget",
    "forecast",
    "invoice",
    "summary",
    "export",
    "backup",
    "draft",
    "final",
    "notes",
    "roadmap",
    "minutes",
    "q3",
    "release",
    "schema",
)


def _d(rng: random.Random, n: int) -> str:
    """n random digits, the first one not zero."""
    return str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(n - 1))


def _z(rng: random.Random, n: int) -> str:
    """n random digits, leading zeros allowed."""
    return "".join(str(rng.randint(0, 9)) for _ in range(n))


def _date_parts(rng: random.Random) -> tuple[int, int, int]:
    return rng.randint(2019, 2031), rng.randint(1, 12), rng.randint(1, 28)


def _hms(rng: random.Random) -> tuple[int, int, int]:
    return rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)


def _isbn13(rng: random.Random) -> str:
    body = "978" + _z(rng, 9)
    check = (10 - sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(body)) % 10) % 10
    return body + str(check)


def versions(rng: random.Random) -> str:
    a, b, c = rng.randint(0, 30), rng.randint(0, 99), rng.randint(0, 999)
    return rng.choice(
        [
            f"Version {a}.{b}.{c}",
            f"{rng.choice(_APPS)} {a}.{b}.{c}.{_d(rng, 4)}",
            f"About - v{a}.{b}.{c}-rc.{rng.randint(1, 9)}",
            f"Build {_d(rng, rng.randint(5, 8))}",
            f"build {a}.{b}.{_d(rng, 5)}.{_d(rng, 3)}",
            f"Chrome {rng.randint(100, 140)}.0.{_d(rng, 4)}.{rng.randint(1, 300)}",
            f"Update to {a}.{b} (build {_d(rng, 8)})",
            f"Windows 11 Build {_d(rng, 5)}.{_d(rng, 4)}",
            f"kernel {rng.randint(4, 6)}.{rng.randint(0, 19)}.{a}-{_d(rng, 2)}-amd64",
            f"Release {rng.randint(2019, 2031)}.{rng.randint(1, 12):02d}.{_d(rng, 7)}",
        ]
    )


def business_ids(rng: random.Random) -> str:
    year = rng.randint(2019, 2031)
    return rng.choice(
        [
            f"Invoice #{_d(rng, rng.randint(7, 10))}",
            f"INV-{year}-{_z(rng, 6)}",
            f"Order {_d(rng, rng.randint(7, 12))} - Details",
            f"Order #{_z(rng, 3)}-{_z(rng, 7)}-{_z(rng, 7)}",
            f"Ticket {rng.choice(['INC', 'REQ', 'CHG'])}{_z(rng, 7)}",
            f"Case {_z(rng, 8)} - Support",
            f"Case #{_d(rng, 8)}",
            f"PO {rng.choice(['45', '46'])}{_z(rng, 8)}",
            f"Purchase Order {_d(rng, 10)}",
            f"Quote Q-{year}-{_z(rng, 5)}",
            f"Shipment {_d(rng, 9)}",
            f"Customer no. {_d(rng, 8)}",
            f"Document {_d(rng, 10)} (Display)",
            f"Sales order {_d(rng, 9)} created",
            f"Delivery {_z(rng, 10)} posted",
            f"Request {_d(rng, 7)} approved",
            f"Material {_d(rng, 9)}",
            f"Batch job {_d(rng, 8)} finished",
        ]
    )


def dates_and_times(rng: random.Random) -> str:
    y, m, d = _date_parts(rng)
    h, mi, s = _hms(rng)
    h12 = h % 12 or 12
    ampm = "AM" if h < 12 else "PM"
    return rng.choice(
        [
            f"{y}-{m:02d}-{d:02d}",
            f"{y}-{m:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}Z",
            f"{y}-{m:02d}-{d:02d} {h:02d}:{mi:02d}",
            f"{m}/{d}/{y}",
            f"{m:02d}/{d:02d}/{y} {h12}:{mi:02d} {ampm}",
            f"{d:02d}/{m:02d}/{y}",
            f"{d:02d}.{m:02d}.{y}",
            f"{d}.{m}.{y} {h:02d}:{mi:02d}",
            f"{_MONTHS[m - 1]} {d}, {y} {h12}:{mi:02d} {ampm}",
            f"{_MONTHS_FULL[m - 1]} {d}, {y}",
            f"{d} {_MONTHS[m - 1]} {y}",
            f"{d}. {_MONATE[rng.randrange(len(_MONATE))]} {y}",
            f"{d} {_MOIS[rng.randrange(len(_MOIS))]} {y}",
            f"{y}年{m}月{d}日",
            f"{y}年{m}月{d}日 {h}:{mi:02d}",
            f"{y}/{m:02d}/{d:02d} {h:02d}:{mi:02d}:{s:02d}",
            f"{y}{m:02d}{d:02d}",
            f"{y}{m:02d}{d:02d}-{h:02d}{mi:02d}{s:02d}",
            f"Modified {m}/{d}/{y} {h12}:{mi:02d} {ampm}",
            f"Last saved {h:02d}:{mi:02d}:{s:02d}",
            f"Meeting {d:02d}.{m:02d}.{y}, {h:02d}:{mi:02d}-{(h + 1) % 24:02d}:{mi:02d}",
            f"Week {rng.randint(1, 52)}, {y}",
            f"Q{rng.randint(1, 4)} {y}",
        ]
    )


def durations_and_sizes(rng: random.Random) -> str:
    return rng.choice(
        [
            f"{rng.randint(0, 99)}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
            f"Elapsed {rng.randint(1, 59)} min {rng.randint(0, 59)} s",
            f"{rng.randint(1, 999)} ms",
            f"{rng.randint(1, 9999):,} MB",
            f"{rng.randint(1, 999)}.{rng.randint(0, 9)} GB of {rng.choice([256, 1024])} GB used",
            f"{rng.randint(1000000, 99999999):,} bytes",
            f"{rng.randint(1000000, 99999999)} bytes",
            f"Downloading {rng.randint(1, 999)}.{rng.randint(0, 99)} MB / {_d(rng, 4)} MB",
            f"{rng.randint(1, 12)}h {rng.randint(0, 59)}m remaining",
            f"Uptime {rng.randint(1, 400)} days, {rng.randint(0, 23)}:{rng.randint(0, 59):02d}",
        ]
    )


def dimensions_and_coordinates(rng: random.Random) -> str:
    w, h = rng.choice([(1920, 1080), (2560, 1440), (3840, 2160), (1366, 768), (1280, 720)])
    return rng.choice(
        [
            f"{w}×{h}",
            f"{w} x {h} pixels",
            f"image.png ({w}x{h})",
            f"Canvas {rng.randint(100, 9999)} × {rng.randint(100, 9999)} px",
            f"{rng.uniform(-90, 90):.6f}, {rng.uniform(-180, 180):.6f}",
            f"X: {rng.randint(0, 9999)} Y: {rng.randint(0, 9999)}",
            f"Lat {rng.uniform(-90, 90):.4f} Lon {rng.uniform(-180, 180):.4f}",
            f"{rng.randint(1, 300)} DPI",
            f"{rng.randint(1, 100)} × {rng.randint(1, 100)} cm",
        ]
    )


def numbers_and_money(rng: random.Random) -> str:
    return rng.choice(
        [
            f"{rng.randint(0, 100)}%",
            f"{rng.uniform(0, 100):.1f} % complete",
            f"${rng.randint(1, 9999999):,}.{rng.randint(0, 99):02d}",
            f"€ {rng.randint(1, 999999):,}".replace(",", ".") + f",{rng.randint(0, 99):02d}",
            f"Total: {rng.randint(1, 99999)}.{rng.randint(0, 99):02d} USD",
            f"£{rng.randint(1, 99999):,}",
            f"¥{rng.randint(1000, 9999999):,}",
            f"CHF {rng.randint(1, 99999)}.–",
            f"Balance {rng.randint(1000000, 99999999)}.{rng.randint(0, 99):02d}",
            f"Zoom {rng.choice([50, 75, 100, 125, 150, 200])}%",
            f"Population {rng.randint(1000000, 99999999):,}",
        ]
    )


def counters(rng: random.Random) -> str:
    total = rng.randint(10, 9999999)
    at = rng.randint(1, total)
    return rng.choice(
        [
            f"Page {rng.randint(1, 99)} of {rng.randint(100, 999)}",
            f"Slide {rng.randint(1, 40)} of {rng.randint(40, 80)}",
            f"Line {rng.randint(1, 99999)}, Column {rng.randint(1, 200)}",
            f"Ln {rng.randint(1, 99999)}, Col {rng.randint(1, 200)}",
            f"Row {at:,} of {total:,}",
            f"Rows {at}-{min(total, at + 99)} of {total}",
            f"{total:,} records",
            f"{total} items selected",
            f"Showing {at} to {min(at + 49, total)} of {total} entries",
            f"Message {at} of {total}",
            f"{rng.randint(1, 999)} unread",
            f"Inbox ({rng.randint(1, 9999)})",
            f"Step {rng.randint(1, 9)}/{rng.randint(9, 12)}",
            f"Cell A{rng.randint(1, 1048576)}:Z{rng.randint(1, 1048576)}",
        ]
    )


def code_and_ids(rng: random.Random) -> str:
    sha = "".join(rng.choice("0123456789abcdef") for _ in range(40))
    return rng.choice(
        [
            f"commit {sha[:7]}",
            f"Revert {sha[:12]}",
            f"{sha}",
            f"ISBN {_isbn13(rng)}",
            f"ISBN {(i := _isbn13(rng))[:3]}-{i[3]}-{i[4:7]}-{i[7:12]}-{i[12]}",
            f"Tracking 1Z{_z(rng, 3).upper()}A{_z(rng, 2)}{_z(rng, 10)}",
            f"Parcel {rng.choice(['JD', 'JJD'])}{_z(rng, 18)}",
            f"DHL {_d(rng, 10)}",
            f"Tracking number {_d(rng, 12)}",
            f"Shipment 9400 {_z(rng, 4)} {_z(rng, 4)} {_z(rng, 4)} {_z(rng, 4)} {_z(rng, 2)}",
            f"PR #{rng.randint(1, 99999)}",
            f"Issue #{rng.randint(1, 99999)}",
            f"Error 0x{rng.randint(0, 0xFFFFFFFF):08X}",
            f"Error code {rng.randint(100, 599)}",
            f"pid {rng.randint(100, 4194304)}",
            f"Port {rng.randint(1024, 65535)}",
            f"UUID {rng.getrandbits(128):032x}",
            f"row_{_d(rng, 7)}",
        ]
    )


def files_and_menus(rng: random.Random) -> str:
    word = rng.choice(_WORDS)
    y, m, d = _date_parts(rng)
    return rng.choice(
        [
            f"{word}_{y}_{m:02d}.{rng.choice(_EXT)}",
            f"{word}-{y}{m:02d}{d:02d}.{rng.choice(_EXT)}",
            f"{word} ({rng.randint(1, 9)}).{rng.choice(_EXT)} - {rng.choice(_APPS)}",
            f"IMG_{y}{m:02d}{d:02d}_{_z(rng, 6)}.jpg",
            f"Screenshot {y}-{m:02d}-{d:02d} at {rng.randint(1, 12)}.{d:02d}.{m + 10}.png",
            f"DSC{_z(rng, 5)}.JPG",
            f"scan_{_d(rng, 8)}.pdf",
            f"File > Export > {word.title()} as PDF",
            f"Edit > Preferences > {rng.choice(['General', 'Editor', 'Keys'])}",
            f"View > Zoom > {rng.choice([50, 100, 200])}%",
            f"Recent > {word}_{_d(rng, 7)}.{rng.choice(_EXT)}",
            f"{word}.{rng.choice(_EXT)} - {rng.choice(_APPS)}",
        ]
    )


def code_identifiers(rng: random.Random) -> str:
    word = rng.choice(_WORDS)
    y, m, d = _date_parts(rng)
    h, mi, s = _hms(rng)
    return rng.choice(
        [
            f"def {word}_v{rng.randint(1, 9)}()",
            f"{word.title()}Controller.java:{rng.randint(1, 9999)}",
            f"test_{word}_{rng.randint(1, 999)}",
            f"{word.upper()}_TIMEOUT_MS = {rng.randint(1000, 9999999)}",
            f"main.py:{rng.randint(1, 9999)}",
            f"at com.example.{word}.Service.run(Service.java:{rng.randint(1, 9999)})",
            f"migration_{y}{m:02d}{d:02d}{h:02d}{mi:02d}{s:02d}_{word}.sql",
            f"{word}Service#{rng.randint(1, 99)}",
        ]
    )


def urls(rng: random.Random) -> str:
    word = rng.choice(_WORDS)
    return rng.choice(
        [
            f"docs.example.com/{word}",
            f"example.org/{word}/{rng.randint(1, 999)}",
            f"Open {word}.example.com",
        ]
    )


FAMILIES: tuple[Callable[[random.Random], str], ...] = (
    versions,
    business_ids,
    dates_and_times,
    durations_and_sizes,
    dimensions_and_coordinates,
    numbers_and_money,
    counters,
    code_and_ids,
    files_and_menus,
    code_identifiers,
    urls,
)


def generate(seed: int = SEED, per_family: int = PER_FAMILY) -> list[str]:
    """`per_family` strings from every family, without duplicates, in a fixed order."""
    rng = random.Random(seed)
    seen: dict[str, None] = {}
    for family in FAMILIES:
        made = 0
        for _ in range(per_family * 20):
            text = family(rng)
            if text not in seen:
                seen[text] = None
                made += 1
                if made == per_family:
                    break
    return list(seen)

"""Hand-written inline SVG charts for the lake report: no scripts, no fonts, no network.

Each function returns one `<svg>` element sized in CSS pixels for the column it is drawn in, so
text renders at its real size. Every string is escaped here, because labels come from the lake.
Hover details use SVG `<title>` elements, which browsers show as tooltips without JavaScript.
"""

# ruff: noqa: RUF001 - tooltips use typographic dashes for ranges
from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

INK = "#1f2933"
MUTED = "#616e7c"
RULE = "#d9dee4"
ACCENT = "#3b6ea8"
# Sequential blues for the heatmap, light to dark (ColorBrewer "Blues").
HEAT = ("#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#084594")
EMPTY_CELL = "#f4f6f8"
CHAR_PX = 6.6  # average glyph width of the 12px sans-serif used for labels, to fit text


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def clip(text: str, max_chars: int) -> str:
    """Shorten to `max_chars` with an ellipsis: SVG text does not wrap or clip by itself."""
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "…"


def fmt(n: int) -> str:
    return f"{n:,}"


def nice_ticks(top: int, count: int = 4) -> list[int]:
    """0 and round steps (1, 2 or 5 times a power of ten) up to at least `top`."""
    if top <= 0:
        return [0, 1]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return list(range(0, math.ceil(top / step) * step + 1, step))


def _svg(width: float, height: float, label: str, body: list[str]) -> str:
    """Inline SVG in HTML needs no namespace declaration, so the page names no URL at all."""
    return (
        f'<svg width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{esc(label)}">'
        f"<title>{esc(label)}</title>{''.join(body)}</svg>"
    )


def _text(x: float, y: float, text: str, *, anchor: str = "start", cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{klass}>{esc(text)}</text>'


def _rect(x: float, y: float, w: float, h: float, fill: str, tip: str = "") -> str:
    title = f"<title>{esc(tip)}</title>" if tip else ""
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" '
        f'fill="{fill}">{title}</rect>'
    )


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str = RULE) -> str:
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}"/>'


# --- horizontal bars ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: its label, a second muted line (e.g. the app), its value and colour."""

    label: str
    value: int
    note: str = ""
    colour: str = ACCENT


def bar_chart(bars: Sequence[Bar], *, width: int, value_label: str, title: str) -> str:
    """Horizontal bars, largest first as given, labels on the left and values at the bar ends."""
    longest = max(max(len(b.label), len(b.note) * 0.9) for b in bars)
    label_w = min(max(longest * CHAR_PX + 20, 80), width * 0.4)
    value_w = 64
    row_h = 34 if any(b.note for b in bars) else 24
    top, bottom = 4, 40
    plot_w = width - label_w - value_w
    ticks = nice_ticks(max(b.value for b in bars), count=max(2, min(4, int(plot_w // 90))))
    scale = plot_w / ticks[-1]
    height = top + row_h * len(bars) + bottom
    chars = int((label_w - 16) / CHAR_PX)  # keeps a gap of about 16 px before the bars
    body: list[str] = []
    for tick in ticks:
        x = label_w + tick * scale
        body.append(_line(x, top, x, height - bottom))
        body.append(_text(x, height - bottom + 16, fmt(tick), anchor="middle", cls="tick"))
    body.append(_text(label_w + plot_w / 2, height - 6, value_label, anchor="middle", cls="axis"))
    for i, bar in enumerate(bars):
        y = top + i * row_h
        tip = f"{bar.label} ({bar.note}): {fmt(bar.value)}" if bar.note else bar.label
        if bar.note:
            body.append(_text(0, y + 15, clip(bar.label, chars), cls="label"))
            body.append(_text(0, y + 29, clip(bar.note, chars + 4), cls="note"))
        else:
            body.append(_text(0, y + 16, clip(bar.label, chars), cls="label"))
        bar_w = bar.value * scale
        body.append(
            _rect(label_w, y + 5, bar_w, row_h - 10, bar.colour, f"{tip}: {fmt(bar.value)}")
        )
        body.append(_text(label_w + bar_w + 5, y + row_h / 2 + 4, fmt(bar.value), cls="value"))
    return _svg(width, height, title, body)


# --- stacked columns ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Series:
    """One layer of a stacked column chart: a name, its colour, one value per column."""

    name: str
    colour: str
    values: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Column:
    """An x position: its tick label (may be empty) and an optional group label under it."""

    label: str
    group: str = ""
    tip: str = ""


def stacked_columns(
    columns: Sequence[Column],
    series: Sequence[Series],
    *,
    width: int,
    height: int,
    x_label: str,
    y_label: str,
    title: str,
) -> str:
    """Columns stacked bottom-up in the order of `series`, with a y axis and tooltips."""
    left, right, top, bottom = 64, 8, 10, 58
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(s.values[i] for s in series) for i in range(len(columns))]
    ticks = nice_ticks(max(totals, default=0))
    scale = plot_h / ticks[-1]
    slot = plot_w / max(len(columns), 1)
    bar_w = min(slot * 0.8 if slot < 30 else slot - 6, 64)
    base = top + plot_h
    body: list[str] = []
    for tick in ticks:
        y = base - tick * scale
        body.append(_line(left, y, width - right, y))
        body.append(_text(left - 6, y + 4, fmt(tick), anchor="end", cls="tick"))
    mid = top + plot_h / 2
    body.append(
        f'<text x="14" y="{mid:.1f}" text-anchor="middle" class="axis" '
        f'transform="rotate(-90 14 {mid:.1f})">{esc(y_label)}</text>'
    )
    for i, column in enumerate(columns):
        x = left + (i + 0.5) * slot - bar_w / 2
        y = base
        for s in series:
            h = s.values[i] * scale
            if h > 0:
                y -= h
                body.append(_rect(x, y, bar_w, h, s.colour))
        # One invisible hover target per column carries the breakdown, over the whole height.
        parts = [f"{s.name}: {fmt(s.values[i])}" for s in reversed(series) if s.values[i]]
        tip = "\n".join([column.tip or column.label, *parts, f"total: {fmt(totals[i])}"])
        body.append(_rect(x, top, bar_w, plot_h, "transparent", tip))
        centre = left + (i + 0.5) * slot
        if column.label:
            body.append(_text(centre, base + 16, column.label, anchor="middle", cls="tick"))
        if column.group:
            body.append(_line(left + i * slot, base, left + i * slot, base + 34, MUTED))
            body.append(_text(left + i * slot + 4, base + 32, column.group, cls="group"))
    body.append(_line(left, base, width - right, base, MUTED))
    body.append(_text(left + plot_w / 2, height - 4, x_label, anchor="middle", cls="axis"))
    return _svg(width, height, title, body)


# --- heatmap -----------------------------------------------------------------------------------


def heat_colour(value: int, peak: int) -> str:
    """Empty cells stay pale grey; otherwise one of the shades, so that one click still shows."""
    if value <= 0 or peak <= 0:
        return EMPTY_CELL
    return HEAT[min(math.ceil(value / peak * len(HEAT)), len(HEAT)) - 1]


def heatmap(grid: Sequence[Sequence[int]], *, width: int, title: str, unit: str) -> str:
    """Counts on a grid of rows (top to bottom) of columns (left to right), drawn as a 16:9
    screen, with 0..1 ticks on both axes and a colour key."""
    rows, cols = len(grid), len(grid[0])
    left, top, key_h = 40, 8, 54
    plot_w = width - left - 12
    plot_h = plot_w * 9 / 16
    height = top + plot_h + 26 + key_h
    cell_w, cell_h = plot_w / cols, plot_h / rows
    peak = max(max(row) for row in grid)
    body: list[str] = []
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            tip = (
                f"x {c / cols:.2f}–{(c + 1) / cols:.2f}, y {r / rows:.2f}–{(r + 1) / rows:.2f}: "
                f"{fmt(value)} {unit}"
            )
            colour = heat_colour(value, peak)
            body.append(
                _rect(left + c * cell_w, top + r * cell_h, cell_w - 1, cell_h - 1, colour, tip)
            )
    body.append(
        f'<rect x="{left - 1}" y="{top - 1}" width="{plot_w + 1:.1f}" height="{plot_h + 1:.1f}" '
        f'fill="none" stroke="{MUTED}"/>'
    )
    for frac in (0.0, 0.5, 1.0):
        x = left + frac * plot_w
        anchor = {0.0: "start", 1.0: "end"}.get(frac, "middle")
        body.append(_text(x, top + plot_h + 16, f"x {frac:g}", anchor=anchor, cls="tick"))
        body.append(
            _text(left - 6, top + frac * plot_h + 4, f"y {frac:g}", anchor="end", cls="tick")
        )
    # Colour key: the shades from one to the busiest cell's count.
    key_y = top + plot_h + 34
    body.append(_text(left, key_y + 12, f"{unit} per cell", cls="axis"))
    swatch_x, swatch_w = left + 96, 40
    for i, shade in enumerate(HEAT):
        body.append(_rect(swatch_x + i * swatch_w, key_y, swatch_w - 2, 12, shade))
    body.append(_text(swatch_x, key_y + 26, "1", cls="tick"))
    key_end = swatch_x + len(HEAT) * swatch_w - 2
    body.append(_text(key_end, key_y + 26, fmt(peak), anchor="end", cls="tick"))
    return _svg(width, height, title, body)

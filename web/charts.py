"""Charts drawn on the server as SVG: bars by hour (or by period) and bars inside a table's cells.

A manager reads them at a glance on an office screen or a phone, with no chart library and no script: the SVG
scales to its box (viewBox, width 100 %), every bar carries its value in a <title> (the browser's tooltip), and
the labels are Chinese with English beside. Pure: numbers in, markup out (markupsafe.Markup, so Jinja inserts it
as is; every label is escaped here).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from markupsafe import Markup, escape

# the hall's colours (web/static/figures.css names the same ones for the legend)
PALETTE = ("#1f5fbf", "#1a7f37", "#b7791f", "#c0392b", "#6b46c1")


@dataclass(frozen=True)
class Series:
    zh: str
    en: str
    values: list[float | None]
    colour: str = PALETTE[0]


def nice_ceiling(value: float) -> float:
    """The axis' top: the value rounded up to 1, 2, 2.5 or 5 times a power of ten (0 → 1)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power + 1e-9:
            return step * power
    return 10 * power


def grid_steps(ceiling: float) -> int:
    """How many grid intervals make round ticks: 2 → 0.5 each, 5 → 1 each, 2.5 → 0.5 each, 10 → 2 each."""
    mantissa = ceiling / 10 ** math.floor(math.log10(ceiling))
    return 4 if math.isclose(mantissa, 2) else 5


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def bars(categories: list[str], series: list[Series], *, title_zh: str, title_en: str, unit: str = "",
         width: int = 720, height: int = 240, chart_id: str = "") -> Markup:
    """Grouped vertical bars: one group per category (an hour, a day…), one bar per series in it."""
    left, right, top, bottom = 44, 8, 30, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([v for s in series for v in s.values if v is not None] or [0])
    ceiling = nice_ceiling(peak)
    n = max(len(categories), 1)
    slot = plot_w / n
    bar_w = max(1.0, slot * 0.8 / max(len(series), 1))
    out = [f'<svg class="chart bars" viewBox="0 0 {width} {height}" role="img" preserveAspectRatio="xMidYMid meet"'
           + (f' id="{escape(chart_id)}"' if chart_id else "")
           + f' aria-label="{escape(title_zh)} {escape(title_en)}">',
           f'<title>{escape(title_zh)} {escape(title_en)}</title>']
    # the legend at the top left, each series with its colour
    x = left
    for s in series:
        out.append(f'<rect x="{x}" y="8" width="10" height="10" fill="{s.colour}"/>'
                   f'<text x="{x + 14}" y="17" class="legend">{escape(s.zh)} {escape(s.en)}</text>')
        x += 22 + 7 * (2 * len(s.zh) + len(s.en))
    steps = grid_steps(ceiling)
    for i in range(steps + 1):
        value = ceiling * i / steps
        y = top + plot_h - plot_h * i / steps
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                   f'<text x="{left - 4}" y="{y + 4:.1f}" class="axis" text-anchor="end">{_number(value)}</text>')
    if unit:
        out.append(f'<text x="{width - right}" y="17" class="axis" text-anchor="end">{escape(unit)}</text>')
    every = max(1, math.ceil(n / (plot_w / 42)))  # labels that do not overlap
    for c, label in enumerate(categories):
        x0 = left + c * slot + slot * 0.1
        for k, s in enumerate(series):
            value = s.values[c] if c < len(s.values) else None
            if value is None:
                continue
            h = plot_h * value / ceiling
            out.append(f'<rect x="{x0 + k * bar_w:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w * 0.92:.1f}" '
                       f'height="{h:.1f}" fill="{s.colour}"><title>{escape(label)} {escape(s.zh)} {escape(s.en)}: '
                       f'{_number(value)}{escape(unit and " " + unit)}</title></rect>')
        if c % every == 0:
            out.append(f'<text x="{left + c * slot + slot / 2:.1f}" y="{height - bottom + 16}" class="axis" '
                       f'text-anchor="middle">{escape(label)}</text>')
    out.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" class="base"/>')
    out.append("</svg>")
    return Markup("".join(out))


def responsive(categories: list[str], series: list[Series], *, chart_id: str, **kw) -> Markup:
    """The chart twice: wide for an office screen, narrow (larger type for its size) for a phone; the style sheet
    shows one (web/static/figures.css, .wide-only and .narrow-only)."""
    wide = bars(categories, series, chart_id=chart_id, **kw)
    narrow = bars(categories, series, chart_id=f"{chart_id}-narrow", width=380, height=230, **kw)
    return Markup(f'<div class="wide-only">{wide}</div><div class="narrow-only">{narrow}</div>')


def cell_bar(value: float | None, peak: float | None, colour: str = PALETTE[0], *, label: str | None = None) -> Markup:
    """A bar inside a table cell, as long as `value` is against the column's `peak`, with the value beside it."""
    if value is None:
        return Markup('<span class="muted">—</span>')
    text = label if label is not None else _number(value)
    share = 0.0 if not peak else max(0.0, min(1.0, value / peak))
    return Markup(f'<span class="cellbar"><svg viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true">'
                  f'<rect width="{share * 100:.1f}" height="10" fill="{colour}"/></svg>'
                  f'<span class="v">{escape(text)}</span></span>')

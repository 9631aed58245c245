"""Server-side SVG charts: no JavaScript, nothing fetched, and a text alternative for every chart.

Colours come from classes styled in `static/style.css` (the Content-Security-Policy forbids inline
styles); every piece of text is escaped here, since the SVG is inserted into pages as markup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from ..core.models import STATUSES

HEIGHT = 150
PLOT_TOP = 18  # room for the totals above the bars
PLOT_BOTTOM = 126  # the baseline; the week labels go below it
SLOT = 44
BAR = 28
LEFT = 8


@dataclass(frozen=True)
class Bar:
    """One bar: its label ("W3"), a longer name for the text alternative ("Week 3"), counts by status."""

    label: str
    name: str
    counts: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.get(status, 0) for status in STATUSES)


def stacked_bars(bars: Sequence[Bar], *, title: str, chart_id: str) -> Markup:
    """A stacked bar chart by status (present at the bottom), as inline SVG with a title and description."""
    scale = (PLOT_BOTTOM - PLOT_TOP) / max([bar.total for bar in bars] + [1])
    width = LEFT * 2 + SLOT * max(len(bars), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {HEIGHT}" width="{width}" height="{HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(describe(bars))}</desc>',
        f'<line class="chart-axis" x1="{LEFT}" y1="{PLOT_BOTTOM}" x2="{width - LEFT}" y2="{PLOT_BOTTOM}"/>',
    ]
    for index, bar in enumerate(bars):
        parts.extend(_bar(bar, LEFT + index * SLOT + (SLOT - BAR) / 2, scale))
    parts.append("</svg>")
    return Markup("".join(parts))


def describe(bars: Sequence[Bar]) -> str:
    """The chart's numbers as sentences: "Week 1: 4 present, 1 late. Week 2: no records yet."."""
    sentences = []
    for bar in bars:
        counts = [f"{bar.counts[status]} {status}" for status in STATUSES if bar.counts.get(status)]
        sentences.append(f"{bar.name}: {', '.join(counts) if counts else 'no records yet'}.")
    return " ".join(sentences)


def _bar(bar: Bar, x: float, scale: float) -> list[str]:
    parts = []
    top = float(PLOT_BOTTOM)
    for status in STATUSES:
        count = bar.counts.get(status, 0)
        if not count:
            continue
        height = count * scale
        top -= height
        parts.append(
            f'<rect class="bar bar-{status}" x="{x:.1f}" y="{top:.1f}" width="{BAR}" height="{height:.1f}">'
            f"<title>{escape(bar.name)}: {count} {status}</title></rect>"
        )
    middle = x + BAR / 2
    if bar.total:
        parts.append(f'<text class="chart-total" x="{middle:.1f}" y="{top - 4:.1f}">{bar.total}</text>')
    parts.append(
        f'<text class="chart-label" x="{middle:.1f}" y="{PLOT_BOTTOM + 16}">{escape(bar.label)}</text>'
    )
    return parts

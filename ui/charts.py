"""Bar charts drawn as SVG on the server: no script, no inline style (the CSP forbids both), and colour is never the
only carrier of meaning: each series has its own pattern and a label in the legend, and the page shows every chart's
numbers in a table beside it."""
from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 56
# (colour, pattern drawn over it): dark enough against white for 3:1, and told apart without colour
LOOKS = (("#1d4f91", None), ("#b3470b", "stripes"), ("#2f6b2f", "dots"), ("#6b2f6b", "cross"), ("#5a5a5a", "rings"))
PATTERNS = {
    "stripes": '<path d="M0,8 L8,0" stroke="#fff" stroke-width="2"/>',
    "dots": '<circle cx="4" cy="4" r="1.6" fill="#fff"/>',
    "cross": '<path d="M0,4 H8 M4,0 V8" stroke="#fff" stroke-width="1.5"/>',
    "rings": '<circle cx="4" cy="4" r="2.2" fill="none" stroke="#fff" stroke-width="1.2"/>',
}


def _fill(chart_id: str, index: int) -> str:
    colour, pattern = LOOKS[index % len(LOOKS)]
    return f"url(#{chart_id}-p{index % len(LOOKS)})" if pattern else colour


def _defs(chart_id: str) -> str:
    found = []
    for index, (colour, pattern) in enumerate(LOOKS):
        if pattern:
            found.append(f'<pattern id="{chart_id}-p{index}" width="8" height="8" patternUnits="userSpaceOnUse">'
                         f'<rect width="8" height="8" fill="{colour}"/>{PATTERNS[pattern]}</pattern>')
    return f"<defs>{''.join(found)}</defs>"


def _ticks(top: int) -> list[int]:
    """Round values for the vertical axis (steps of 1, 2 or 5 times a power of ten), 0 to at least `top`."""
    step, factors = 1, [2.0, 2.5, 2.0]  # 1, 2, 5, 10, 20, 50…
    while top / step > 5:
        step = int(step * factors[0])
        factors = factors[1:] + factors[:1]
    return list(range(0, max(top, 1) + step, step))


def bar_chart(chart_id: str, title: str, description: str, categories: Sequence[str],
              series: Sequence[tuple[str, Sequence[int]]]) -> Markup:
    """Grouped bars: one group per category (a period, a campaign), one bar per series (an event name)."""
    top = max([value for _, values in series for value in values] or [0])
    ticks = _ticks(top)
    scale_top = ticks[-1] or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    group_w = plot_w / max(len(categories), 1)
    bar_w = max(group_w * 0.8 / max(len(series), 1), 1.0)
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT + 24 * len(series)}" role="img" '
             f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">',
             f'<title id="{chart_id}-title">{escape(title)}</title><desc id="{chart_id}-desc">{escape(description)}'
             f'</desc>', _defs(chart_id)]
    for tick in ticks:
        y = TOP + plot_h - plot_h * tick / scale_top
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#c8c8c8"/>'
                     f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12" fill="#222">{tick}</text>')
    every = max(1, round(len(categories) / 12))  # at most about 12 labels under the axis
    for position, category in enumerate(categories):
        x0 = LEFT + position * group_w + group_w * 0.1
        for index, (_, values) in enumerate(series):
            value = values[position]
            height = plot_h * value / scale_top
            parts.append(f'<rect x="{x0 + index * bar_w:.1f}" y="{TOP + plot_h - height:.1f}" width="{bar_w:.1f}" '
                         f'height="{height:.1f}" fill="{_fill(chart_id, index)}" stroke="#222" stroke-width="0.5"/>')
        if position % every == 0:
            parts.append(f'<text x="{x0 + group_w * 0.4:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle" '
                         f'font-size="12" fill="#222">{escape(category)}</text>')
    parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" stroke="#222"/>')
    for index, (label, values) in enumerate(series):
        y = HEIGHT - 8 + 24 * index
        parts.append(f'<rect x="{LEFT}" y="{y - 12}" width="18" height="14" fill="{_fill(chart_id, index)}" '
                     f'stroke="#222"/><text x="{LEFT + 26}" y="{y}" font-size="13" fill="#222">{escape(label)} '
                     f'({sum(values)})</text>')
    parts.append("</svg>")
    return Markup("".join(parts))

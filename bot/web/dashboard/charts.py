"""Charts as inline SVG, drawn on the server: nothing is loaded from the internet, no script.

Readable without colour (合理的配慮): bars are hatched and carry their label and value in
text; the 重なり map (``overlap_map.py``) has formal organizations as squares and informal ones as
circles, and each line carries its count. Every chart has the same figures in a table beside it.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

ROW = 30
BAR_WIDTH = 300
VALUE_WIDTH = 80
CHAR_WIDTH = 15  # px of one CJK character at the chart's font size


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar_chart(chart_id: str, title: str, rows: Sequence[tuple[str, int | float]], unit: str = "件") -> Markup:
    """Horizontal bars: label, hatched bar, value. Empty data draws a one-line note instead."""
    if not rows:
        return Markup("")
    # Room for the longest label (clipped at 14 characters), so bars stay large on a phone.
    label_width = 16 + CHAR_WIDTH * max(min(len(label), 14) for label, _ in rows)
    width = label_width + BAR_WIDTH + VALUE_WIDTH
    height = ROW * len(rows) + 10
    top = max((value for _, value in rows), default=0) or 1
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="{chart_id}-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        "<defs>",
        f'<pattern id="{chart_id}-hatch" width="8" height="8" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)">',
        '<rect width="8" height="8" class="bar-bg"/><line x1="0" y1="0" x2="0" y2="8" class="bar-line"/>',
        "</pattern></defs>",
    ]
    for index, (label, value) in enumerate(rows):
        y = 5 + index * ROW
        bar = max(2.0, BAR_WIDTH * value / top) if value else 0
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 19}" text-anchor="end" class="chart-label">'
            f"{escape(_clip(label, 14))}</text>"
        )
        if bar:
            parts.append(
                f'<rect x="{label_width}" y="{y + 4}" width="{bar:.1f}" height="{ROW - 8}" '
                f'fill="url(#{chart_id}-hatch)" class="bar"/>'
            )
        parts.append(
            f'<text x="{label_width + bar + 6:.1f}" y="{y + 19}" class="chart-value">{escape(_fmt(value))}{unit}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _fmt(value: int | float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"

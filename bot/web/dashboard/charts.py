"""Charts as inline SVG, drawn on the server: nothing is loaded from the internet, no script.

Readable without colour (合理的配慮): bars are hatched and carry their label and value in
text; on the 重なり map formal organizations are squares and informal ones circles, and each
line carries its count. Every chart has the same figures in a table beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

from models.network import OrgKind
from models.report import Edge, OrgNode

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


def overlap_map(chart_id: str, title: str, edges: Sequence[Edge], limit: int = 80) -> Markup:
    """Organizations on a circle; a line (with an arrow) from the one who answered to the one
    whose trouble it was, as thick as the number of threads, with that number written on it."""
    shown = list(edges[:limit])
    nodes: dict[int, OrgNode] = {}
    for edge in shown:
        nodes.setdefault(edge.responder.id, edge.responder)
        nodes.setdefault(edge.poster.id, edge.poster)
    if not nodes:
        return Markup("")
    # Wider than tall: the labels sit outside the circle, left and right.
    width, height, radius = 1000, 700, 270
    cx, cy = width / 2, height / 2
    # Formal first, then informal: the two kinds sit on the two halves of the circle.
    ordered = sorted(nodes.values(), key=lambda n: (n.kind != OrgKind.FORMAL, n.name))
    where = {}
    for index, node in enumerate(ordered):
        angle = 2 * math.pi * index / len(ordered) - math.pi / 2
        where[node.id] = (cx + radius * math.cos(angle), cy + radius * math.sin(angle), angle)
    heaviest = max(edge.threads for edge in shown)
    parts = [
        f'<svg class="chart map" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="{chart_id}-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<defs><marker id="{chart_id}-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="12" '
        'markerHeight="12" markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" class="arrow"/></marker></defs>',
    ]
    for edge in shown:
        x1, y1, _ = where[edge.responder.id]
        x2, y2, _ = where[edge.poster.id]
        length = math.hypot(x2 - x1, y2 - y1) or 1
        # Bend each line to its right: A→B and B→A become two arcs instead of one line.
        bend = 0.15 * length
        qx, qy = (x1 + x2) / 2 - (y2 - y1) / length * bend, (y1 + y2) / 2 + (x2 - x1) / length * bend
        # Stop short of the node so the arrowhead stays visible.
        tail = math.hypot(x2 - qx, y2 - qy) or 1
        ex, ey = x2 - (x2 - qx) * 14 / tail, y2 - (y2 - qy) * 14 / tail
        stroke = 1 + 5 * edge.threads / heaviest
        parts.append(
            f'<path d="M{x1:.1f},{y1:.1f} Q{qx:.1f},{qy:.1f} {ex:.1f},{ey:.1f}" stroke-width="{stroke:.1f}" '
            f'class="edge" fill="none" marker-end="url(#{chart_id}-arrow)"/>'
        )
        mx, my = 0.25 * x1 + 0.5 * qx + 0.25 * x2, 0.25 * y1 + 0.5 * qy + 0.25 * y2
        parts.append(
            f'<text x="{mx:.1f}" y="{my + 5:.1f}" class="edge-label" text-anchor="middle">{edge.threads}</text>'
        )
    for node in ordered:
        x, y, angle = where[node.id]
        if node.kind == OrgKind.FORMAL:
            parts.append(f'<rect x="{x - 9:.1f}" y="{y - 9:.1f}" width="18" height="18" class="node formal"/>')
        else:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="10" class="node informal"/>')
        lx, ly = cx + (radius + 18) * math.cos(angle), cy + (radius + 18) * math.sin(angle)
        anchor = "start" if math.cos(angle) > 0.1 else "end" if math.cos(angle) < -0.1 else "middle"
        parts.append(
            f'<text x="{lx:.1f}" y="{ly + 5:.1f}" text-anchor="{anchor}" class="node-label">'
            f"{escape(_clip(node.name, 12))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))

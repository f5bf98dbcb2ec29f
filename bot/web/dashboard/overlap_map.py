"""The 重なりの図 as inline SVG that a real network can read.

Formal organizations (□) stand in the left column, informal ones (○) in the right, so the
overlap the field cares about, formal × informal, is every line that crosses the middle. Each
line goes from the organization that answered to the one whose trouble it was (the arrow), as
thick as the number of threads, with that number written near its start. The order within each
column is chosen to cross few lines (the barycentre method of layered graph drawing, a few
sweeps, keeping the best). Names wrap, never cut. When there are many lines, the thinnest (below
a threshold) are left to the table under the map, which always lists every pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from models.network import OrgKind
from models.report import Edge, OrgNode

MAX_LINES = 40  # more lines than this and the map is a tangle: the thinnest go to the table
WIDTH = 1000
LEFT_X, RIGHT_X = 330, 670  # the two columns of nodes
LABEL_GAP = 16
CHARS_PER_LINE = 18  # a name wraps after this many characters (15 px each at the chart's font size)
LINE_HEIGHT = 19
TOP = 64
SWEEPS = 8


@dataclass(frozen=True)
class MapView:
    svg: Markup
    threshold: int  # lines for fewer threads than this are only in the table
    shown: int
    folded: int
    crossings: int


def threshold_for(edges: Sequence[Edge], max_lines: int = MAX_LINES) -> int:
    """The smallest thread count such that the lines at or above it are at most ``max_lines``."""
    counts = sorted((e.threads for e in edges), reverse=True)
    if len(counts) <= max_lines:
        return 1
    return counts[max_lines - 1] + 1 if counts[max_lines - 1] == counts[max_lines] else counts[max_lines - 1]


def wrap(name: str, width: int = CHARS_PER_LINE) -> list[str]:
    """The whole name on as many lines as it needs (breaking after ・ or a space when one is near)."""
    lines, rest = [], name
    while len(rest) > width:
        cut = max(rest.rfind("・", 0, width), rest.rfind(" ", 0, width))
        cut = cut + 1 if cut >= width // 2 else width
        lines.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    return [*lines, rest] if rest else lines


def crossings(edges: Sequence[tuple[int, int]], left: dict[int, int], right: dict[int, int]) -> int:
    """How many pairs of left–right lines cross, for positions ``left`` and ``right``."""
    pairs = sorted({(left[a], right[b]) for a, b in edges})
    count = 0
    for i, (a1, b1) in enumerate(pairs):
        for a2, b2 in pairs[i + 1 :]:
            count += (a1 - a2) * (b1 - b2) < 0
    return count


def order_columns(
    formal: list[OrgNode], informal: list[OrgNode], links: list[tuple[int, int, int]]
) -> tuple[list[OrgNode], list[OrgNode], int]:
    """Both columns ordered to cross few lines. ``links``: (formal id, informal id, weight)."""
    left = sorted(formal, key=lambda n: n.name)
    right = sorted(informal, key=lambda n: n.name)
    pairs = [(a, b) for a, b, _ in links]

    def positions(column: list[OrgNode]) -> dict[int, int]:
        return {node.id: index for index, node in enumerate(column)}

    def by_barycentre(column: list[OrgNode], other: dict[int, int], mine_first: bool) -> list[OrgNode]:
        here = positions(column)
        sums: dict[int, list[float]] = {}
        for a, b, weight in links:
            mine, theirs = (a, b) if mine_first else (b, a)
            total = sums.setdefault(mine, [0.0, 0.0])
            total[0] += weight * other[theirs]
            total[1] += weight
        return sorted(column, key=lambda n: (sums[n.id][0] / sums[n.id][1]) if n.id in sums else here[n.id])

    best = (crossings(pairs, positions(left), positions(right)), left, right)
    for _ in range(SWEEPS):
        right = by_barycentre(right, positions(left), mine_first=False)
        left = by_barycentre(left, positions(right), mine_first=True)
        found = crossings(pairs, positions(left), positions(right))
        if found < best[0]:
            best = (found, left, right)
    return best[1], best[2], best[0]


def _rows(column: list[OrgNode], height: float) -> dict[int, tuple[float, list[str]]]:
    """Each node's y and wrapped name, spread over ``height`` so both columns span the same."""
    wrapped = [wrap(node.name) for node in column]
    needs = [max(56, len(lines) * LINE_HEIGHT + 20) for lines in wrapped]
    spare = (height - sum(needs)) / max(len(column), 1)
    where, y = {}, float(TOP)
    for node, lines, need in zip(column, wrapped, needs, strict=True):
        row = need + spare
        where[node.id] = (y + row / 2, lines)
        y += row
    return where


def overlap_map(chart_id: str, title: str, edges: Sequence[Edge], max_lines: int = MAX_LINES) -> MapView:
    threshold = threshold_for(edges, max_lines)
    shown = [e for e in edges if e.threads >= threshold]
    nodes: dict[int, OrgNode] = {}
    for edge in shown:
        nodes.setdefault(edge.responder.id, edge.responder)
        nodes.setdefault(edge.poster.id, edge.poster)
    if not nodes:
        return MapView(Markup(""), threshold, 0, len(edges), 0)
    formal = [n for n in nodes.values() if n.kind == OrgKind.FORMAL]
    informal = [n for n in nodes.values() if n.kind != OrgKind.FORMAL]
    links = _cross_links(shown)
    left, right, crossed = order_columns(formal, informal, links)
    need = max(_column_height(left), _column_height(right))
    at = {**{k: (LEFT_X, y, lines) for k, (y, lines) in _rows(left, need).items()}}
    at.update({k: (RIGHT_X, y, lines) for k, (y, lines) in _rows(right, need).items()})
    height = int(TOP + need + 24)
    parts = [
        f'<svg class="chart map" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
        f'aria-labelledby="{chart_id}-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<defs><marker id="{chart_id}-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="11" '
        'markerHeight="11" markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" class="arrow"/></marker></defs>',
        f'<text x="{LEFT_X}" y="26" text-anchor="middle" class="column-title">□ フォーマル</text>',
        f'<text x="{RIGHT_X}" y="26" text-anchor="middle" class="column-title">○ インフォーマル</text>',
    ]
    parts += _edges(chart_id, shown, at, max(e.threads for e in shown))
    parts += _nodes(nodes, at)
    parts.append("</svg>")
    return MapView(Markup("".join(parts)), threshold, len(shown), len(edges) - len(shown), crossed)


def _column_height(column: list[OrgNode]) -> float:
    return sum(max(56, len(wrap(n.name)) * LINE_HEIGHT + 20) for n in column)


def _cross_links(edges: Sequence[Edge]) -> list[tuple[int, int, int]]:
    links: dict[tuple[int, int], int] = {}
    for e in edges:
        ends = {e.responder.kind: e.responder.id, e.poster.kind: e.poster.id}
        if len(ends) == 2:
            key = (ends[OrgKind.FORMAL], ends[OrgKind.INFORMAL])
            links[key] = links.get(key, 0) + e.threads
    return [(a, b, w) for (a, b), w in links.items()]


Placed = dict[int, tuple[float, float, list[str]]]


def _edges(chart_id: str, edges: Sequence[Edge], at: Placed, heaviest: int) -> list[str]:
    lines: list[str] = []
    labels: list[str] = []
    taken: list[tuple[float, float, float, float]] = []
    pairs = {(e.responder.id, e.poster.id) for e in edges}
    for e in sorted(edges, key=lambda e: -e.threads):
        x1, y1, _ = at[e.responder.id]
        x2, y2, _ = at[e.poster.id]
        both_ways = (e.poster.id, e.responder.id) in pairs
        stroke = 1.2 + 4 * e.threads / heaviest
        if x1 == x2:  # the same kind: an arc on the column's inner side
            bend = min(170.0, 30 + abs(y2 - y1) * 0.35) * (1 if x1 == LEFT_X else -1)
            shift = 6 if both_ways and e.responder.id < e.poster.id else 0
            cx, cy = x1 + bend + shift * (1 if bend > 0 else -1), (y1 + y2) / 2
            sy, ey = y1 + (9 if y2 > y1 else -9), y2 - (12 if y2 > y1 else -12)
            lines.append(
                f'<path d="M{x1:.1f},{sy:.1f} Q{cx:.1f},{cy:.1f} {x1:.1f},{ey:.1f}" stroke-width="{stroke:.1f}" '
                f'class="edge same-kind" fill="none" marker-end="url(#{chart_id}-arrow)"/>'
            )
            candidates = [(x1 + bend * 0.5 + d, cy + dy) for d in (0, 18, -18) for dy in (0, 20, -20, 40, -40)]
        else:
            # Two ways between the same pair: two parallel lines, a little apart.
            offset = (4 if e.responder.id < e.poster.id else -4) if both_ways else 0
            direction = 1 if x2 > x1 else -1
            sx, ex = x1 + 12 * direction, x2 - 14 * direction
            sy, ey = y1 + offset, y2 + offset
            lines.append(
                f'<line x1="{sx:.1f}" y1="{sy:.1f}" x2="{ex:.1f}" y2="{ey:.1f}" stroke-width="{stroke:.1f}" '
                f'class="edge" marker-end="url(#{chart_id}-arrow)"/>'
            )
            # The number near where the line starts (its answering end), where it is free.
            candidates = [(sx + (ex - sx) * t, sy + (ey - sy) * t) for t in (0.2, 0.3, 0.12, 0.4, 0.5, 0.6, 0.7)]
        x, y = _free_spot(candidates, len(str(e.threads)), taken)
        labels.append(f'<text x="{x:.1f}" y="{y + 5:.1f}" class="edge-label" text-anchor="middle">{e.threads}</text>')
    return lines + labels  # numbers above every line


def _free_spot(
    candidates: list[tuple[float, float]], digits: int, taken: list[tuple[float, float, float, float]]
) -> tuple[float, float]:
    half_w, half_h = 5 + 4.5 * digits, 9.0
    for x, y in candidates:
        box = (x - half_w, y - half_h, x + half_w, y + half_h)
        if not any(box[0] < t[2] and t[0] < box[2] and box[1] < t[3] and t[1] < box[3] for t in taken):
            taken.append(box)
            return x, y
    x, y = candidates[0]
    taken.append((x - half_w, y - half_h, x + half_w, y + half_h))
    return x, y


def _nodes(nodes: dict[int, OrgNode], at: Placed) -> list[str]:
    parts = []
    for node in nodes.values():
        x, y, lines = at[node.id]
        if node.kind == OrgKind.FORMAL:
            parts.append(f'<rect x="{x - 9:.1f}" y="{y - 9:.1f}" width="18" height="18" class="node formal"/>')
            lx, anchor = x - LABEL_GAP, "end"
        else:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="10" class="node informal"/>')
            lx, anchor = x + LABEL_GAP, "start"
        top = y + 5 - (len(lines) - 1) * LINE_HEIGHT / 2
        spans = "".join(
            f'<tspan x="{lx:.1f}" y="{top + i * LINE_HEIGHT:.1f}">{escape(line)}</tspan>'
            for i, line in enumerate(lines)
        )
        parts.append(f'<text text-anchor="{anchor}" class="node-label">{spans}</text>')
    return parts

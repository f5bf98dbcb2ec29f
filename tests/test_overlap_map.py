"""The 重なりの図's layout: few crossings, every pair kept in the table, names never cut."""

from __future__ import annotations

import random

from bot.web.dashboard.overlap_map import crossings, order_columns, overlap_map, threshold_for, wrap
from models import OrgKind
from models.report import Edge, OrgNode


def network(formal: int, informal: int, seed: int) -> tuple[list[OrgNode], list[OrgNode], list[Edge]]:
    pick = random.Random(seed)
    left = [OrgNode(i, f"フォーマル{i:02d}", OrgKind.FORMAL) for i in range(formal)]
    right = [OrgNode(100 + i, f"インフォーマル{i:02d}", OrgKind.INFORMAL) for i in range(informal)]
    edges = {}
    for _ in range(formal * 2):
        a, b = pick.choice(left), pick.choice(right)
        responder, poster = (a, b) if pick.random() < 0.5 else (b, a)
        edges[responder.id, poster.id] = Edge(responder, poster, pick.randint(1, 6))
    return left, right, sorted(edges.values(), key=lambda e: -e.threads)


def test_the_columns_are_ordered_to_cross_fewer_lines():
    for seed in range(5):
        left, right, edges = network(12, 14, seed)
        links = [
            (e.responder.id, e.poster.id, e.threads)
            if e.responder.kind == OrgKind.FORMAL
            else (e.poster.id, e.responder.id, e.threads)
            for e in edges
        ]
        pairs = [(a, b) for a, b, _ in links]
        by_name = crossings(pairs, {n.id: i for i, n in enumerate(left)}, {n.id: i for i, n in enumerate(right)})
        _, _, ordered = order_columns(left, right, links)
        assert ordered < by_name * 0.7, (seed, ordered, by_name)


def test_thin_lines_go_to_the_table_beyond_forty():
    _, _, edges = network(30, 20, 7)
    threshold = threshold_for(edges)
    assert sum(e.threads >= threshold for e in edges) <= 40 < len(edges)
    view = overlap_map("m", "重なりの図", edges)
    assert view.shown + view.folded == len(edges) and view.threshold == threshold
    assert threshold_for(edges[:10]) == 1


def test_names_wrap_whole():
    name = "特定非営利活動法人こども・若者支援ネットワークひかり"
    lines = wrap(name)
    assert "".join(lines) == name and all(len(line) <= 18 for line in lines)
    assert "…" not in str(
        overlap_map("m", "t", [Edge(OrgNode(1, name, "formal"), OrgNode(2, "子ども食堂", "informal"), 2)]).svg
    )

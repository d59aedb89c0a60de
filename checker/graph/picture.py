"""A picture of a small state graph as SVG, drawn from a networkx layout: no Graphviz needed.

States are laid out in columns by their breadth-first depth (the initial state on the left),
each column ordered by the mean row of its predecessors so that edges cross less. A path
(a counterexample) is drawn in red, its steps numbered, with the numbered actions listed under
the graph. Every state has its JSON view as a tooltip. Self-loops are not drawn (a state with
one has a thicker outline); the caption says how many there are.
"""

from __future__ import annotations

import html
import json
from collections.abc import Collection, Sequence

import networkx as nx

from checker.graph.statespace import transitions

COLUMN, ROW, RADIUS, MARGIN, TOP = 110, 34, 12, 40, 76
RED, GREY, INK = "#d62728", "#b8b8b8", "#222222"


def layered_layout(graph: nx.DiGraph) -> dict[int, tuple[float, float]]:
    """Column = depth; rows ordered by the mean row of the predecessors (one sweep)."""
    columns: dict[int, list[int]] = {}
    for n, depth in sorted(graph.nodes(data="depth")):
        columns.setdefault(depth, []).append(n)
    row: dict[int, float] = {}
    for depth in sorted(columns):

        def key(n: int) -> tuple[float, int]:
            above = [row[p] for p in graph.predecessors(n) if p in row and p != n]
            return (sum(above) / len(above) if above else 0.0, n)

        for index, n in enumerate(sorted(columns[depth], key=key)):
            row[n] = index
    tallest = max((len(c) for c in columns.values()), default=1)
    pos = {}
    for depth, nodes in columns.items():
        offset = (tallest - len(nodes)) / 2  # centre each column
        for n in nodes:
            pos[n] = (MARGIN + depth * COLUMN, TOP + (row[n] + offset) * ROW)
    return pos


def to_svg(
    graph: nx.DiGraph,
    path: Sequence[int] = (),
    title: Sequence[str] = (),
    steps: Sequence[str] = (),
    bad: Collection[int] = (),
) -> str:
    """The graph as an SVG document, with ``path`` (a list of nodes) highlighted, its
    ``steps`` (action labels, one per edge of the path) listed under it, ``title`` lines on
    top, and the ``bad`` states (those violating an invariant) ringed in dashed red."""
    pos = layered_layout(graph)
    on_path = set(zip(path, path[1:], strict=False))
    width = max((x for x, _ in pos.values()), default=0) + MARGIN + 20
    graph_bottom = max((y for _, y in pos.values()), default=0) + RADIUS + 20
    height = graph_bottom + 18 * (len(steps) + 2) + 30
    width = max(width, 640)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="11">',
        '<rect width="100%" height="100%" fill="white"/>',
        "<defs>",
        _marker("grey", GREY),
        _marker("red", RED),
        "</defs>",
    ]
    for index, line in enumerate(title):
        colour = INK if index == 0 else RED
        out.append(
            f'<text x="{MARGIN - 20}" y="{22 + 18 * index}" font-size="13" fill="{colour}">'
            f"{html.escape(line)}</text>"
        )
    for u, v in graph.edges:
        if u == v or (u, v) in on_path:
            continue
        out.append(_edge(pos[u], pos[v], GREY, "grey", 0.8))
    for index, (u, v) in enumerate(zip(path, path[1:], strict=False), start=1):
        (x1, y1), (x2, y2) = pos[u], pos[v]
        if u == v:
            out.append(_loop(pos[u]))
            y1 = y2 = y1 - 2 * RADIUS
        else:
            out.append(_edge(pos[u], pos[v], RED, "red", 2.4))
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2 - 5
        out.append(
            f'<text x="{mx:.1f}" y="{my:.1f}" fill="{RED}" font-weight="bold" '
            f'text-anchor="middle" stroke="white" stroke-width="3" paint-order="stroke">'
            f"{index}</text>"
        )
    init, path_nodes = set(graph.graph["init"]), set(path)
    for n, (x, y) in pos.items():
        fill = "#fde0dd" if n in path_nodes else "white"
        stroke = RED if n in path_nodes else INK
        width_px = 2.2 if graph.has_edge(n, n) else 1
        tip = html.escape(json.dumps(graph.nodes[n]["json"], sort_keys=True))
        out.append(f"<g><title>state {n}: {tip}</title>")
        if n in bad:
            out.append(
                f'<circle cx="{x}" cy="{y}" r="{RADIUS + 4}" fill="none" stroke="{RED}" '
                'stroke-dasharray="3,2"/>'
            )
        elif n in init:
            out.append(
                f'<circle cx="{x}" cy="{y}" r="{RADIUS + 3}" fill="none" stroke="{stroke}"/>'
            )
        out.append(
            f'<circle cx="{x}" cy="{y}" r="{RADIUS}" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="{width_px}"/>'
        )
        out.append(f'<text x="{x}" y="{y + 4}" text-anchor="middle" fill="{INK}">{n}</text></g>')
    y = graph_bottom + 10
    loops = nx.number_of_selfloops(graph)
    captions = [
        f"{graph.number_of_nodes()} states, {graph.number_of_edges()} edges, "
        f"{transitions(graph)} transitions; columns = depth from the initial state (double "
        "ring)",
        f"{loops} states have self-loops (thick outline, not drawn); dashed red ring: "
        f"{len(bad)} states violate an invariant; hover a state for its value",
    ]
    for index, caption in enumerate(captions):
        out.append(
            f'<text x="{MARGIN - 20}" y="{y + 16 * index}" fill="#555555">'
            f"{html.escape(caption)}</text>"
        )
    y += 16
    for index, label in enumerate(steps, start=1):
        y += 18
        out.append(
            f'<text x="{MARGIN - 20}" y="{y}" fill="{RED}">{index}. {html.escape(label)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _marker(name: str, colour: str) -> str:
    return (
        f'<marker id="{name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        f'fill="{colour}"/></marker>'
    )


def _edge(a, b, colour: str, marker: str, width: float) -> str:
    """A slightly curved arrow from circle ``a`` to circle ``b``, ending at its rim."""
    (x1, y1), (x2, y2) = a, b
    dx, dy = x2 - x1, y2 - y1
    length = max((dx * dx + dy * dy) ** 0.5, 1e-9)
    ux, uy = dx / length, dy / length
    sx, sy = x1 + ux * RADIUS, y1 + uy * RADIUS
    ex, ey = x2 - ux * (RADIUS + 1), y2 - uy * (RADIUS + 1)
    bend = 0.12 * length if dx <= 0 or abs(dy) > 3 * ROW else 0.0  # keep long edges apart
    cx, cy = (sx + ex) / 2 - uy * bend, (sy + ey) / 2 + ux * bend
    return (
        f'<path d="M{sx:.1f},{sy:.1f} Q{cx:.1f},{cy:.1f} {ex:.1f},{ey:.1f}" fill="none" '
        f'stroke="{colour}" stroke-width="{width}" marker-end="url(#{marker})"/>'
    )


def _loop(centre) -> str:
    x, y = centre
    return (
        f'<path d="M{x - 6},{y - RADIUS + 1} C{x - 16},{y - 40} {x + 16},{y - 40} '
        f'{x + 6},{y - RADIUS + 1}" fill="none" stroke="{RED}" stroke-width="2.4" '
        'marker-end="url(#red)"/>'
    )

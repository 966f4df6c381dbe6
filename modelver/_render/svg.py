"""A lineage graph drawn as a standalone SVG, laid out here in Python (no JavaScript), and
the Jupyter HTML that shows it.

The layout is layered, left to right, as Graphviz's ``dot`` does it in spirit:

1. each node's column is its longest path from a source (datasets and first versions);
2. a node is then pulled right to just before its nearest successor, so a dataset
   stands next to the run that read it rather than in the first column;
3. within a column, nodes are ordered by the mean row of their predecessors (one
   barycentre pass), which untangles most crossings of a lineage chain.

Edges are cubic curves from a node's right side to its successor's left side, with an
arrow head and the data key as label. Versions are boxes, runs rounded boxes, datasets
pill-shaped; the root is drawn thick, deleted versions dashed and grey. Text uses
``currentColor`` and fills are translucent, so the drawing reads in light and dark
themes; every label is escaped, and cut labels keep their whole text in a ``<title>``.
"""

from __future__ import annotations

import re
from html import escape
from typing import TYPE_CHECKING

from .lineage import label, lineage_mermaid, lineage_text

if TYPE_CHECKING:
    from .._lineage import Lineage

__all__ = ["lineage_html", "lineage_svg"]

NODE_W, NODE_H = 230, 40
COL_GAP, ROW_GAP, MARGIN = 70, 18, 12
#: Characters of a label shown in a node (the whole label is in its tooltip).
LABEL_CHARS = 34

_FILL = {"version": "rgba(46,160,67,.14)", "run": "rgba(128,128,128,.14)",
         "data": "rgba(56,132,244,.14)"}
_RADIUS = {"version": 3, "run": 12, "data": NODE_H // 2}
_KIND = {"version": "model version", "run": "training run", "data": "dataset"}
# Characters XML 1.0 does not allow, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(text: str) -> str:
    """Text safe in SVG/XML content and attributes."""
    return escape(_NOT_XML.sub("\ufffd", text), quote=True)


def _columns(graph: Lineage) -> dict[str, int]:
    succ: dict[str, list[str]] = {n: [] for n in graph.nodes}
    pred: dict[str, list[str]] = {n: [] for n in graph.nodes}
    for e in graph.edges:
        if e.source in succ and e.target in succ:
            succ[e.source].append(e.target)
            pred[e.target].append(e.source)
    # Kahn's order; a node left over (a cycle, which lineage does not make) goes last.
    indegree = {n: len(p) for n, p in pred.items()}
    order = [n for n, d in indegree.items() if d == 0]
    for node in order:
        for nxt in succ[node]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                order.append(nxt)
    order += [n for n in graph.nodes if n not in set(order)]
    col: dict[str, int] = {}
    for node in order:
        col[node] = max((col[p] + 1 for p in pred[node] if p in col), default=0)
    for node in reversed(order):
        if succ[node]:
            col[node] = max(col[node], min(col[s] for s in succ[node]) - 1)
    return col


def _rows(graph: Lineage, col: dict[str, int]) -> dict[str, int]:
    pred: dict[str, list[str]] = {}
    for e in graph.edges:
        pred.setdefault(e.target, []).append(e.source)
    walk = {n: i for i, n in enumerate(graph.nodes)}  # walk order breaks ties
    row: dict[str, int] = {}
    for c in sorted(set(col.values())):
        members = [n for n in graph.nodes if col[n] == c]

        def centre(n: str) -> tuple[float, int]:
            placed = [row[p] for p in pred.get(n, ()) if p in row]
            return (sum(placed) / len(placed) if placed else float(walk[n]), walk[n])

        for i, n in enumerate(sorted(members, key=centre)):
            row[n] = i
    return row


def lineage_svg(graph: Lineage) -> str:
    """The graph as one ``<svg>`` element (inline in HTML, or saved as a ``.svg`` file)."""
    col = _columns(graph)
    row = _rows(graph, col)
    ncols = max(col.values(), default=0) + 1
    nrows = max(row.values(), default=0) + 1
    width = 2 * MARGIN + ncols * NODE_W + (ncols - 1) * COL_GAP
    height = 2 * MARGIN + nrows * NODE_H + (nrows - 1) * ROW_GAP

    def at(node: str) -> tuple[int, int]:
        return (MARGIN + col[node] * (NODE_W + COL_GAP),
                MARGIN + row[node] * (NODE_H + ROW_GAP))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="modelver-lineage" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             f'role="img" font-family="system-ui,-apple-system,Segoe UI,Helvetica,Arial,'
             f'sans-serif" font-size="11" style="color:inherit">',
             f"<title>lineage of {_x(graph.root)}</title>",
             '<defs><marker id="mv-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
             'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
             '<path d="M0,0 L10,5 L0,10 z" fill="currentColor" fill-opacity=".6"/>'
             "</marker></defs>"]
    for e in graph.edges:
        if e.source not in col or e.target not in col:
            continue
        (sx, sy), (tx, ty) = at(e.source), at(e.target)
        x1, y1, x2, y2 = sx + NODE_W, sy + NODE_H // 2, tx, ty + NODE_H // 2
        bend = max(30, (x2 - x1) // 2)
        dash = {"parent": ' stroke-dasharray="4 3"',
                "reproduces": ' stroke-dasharray="1 3"'}.get(e.kind, "")
        parts.append(f'<path class="edge edge-{_x(e.kind)}" d="M{x1},{y1} C{x1 + bend},{y1} '
                     f'{x2 - bend},{y2} {x2},{y2}" fill="none" stroke="currentColor" '
                     f'stroke-opacity=".55" stroke-width="1.2"{dash} '
                     f'marker-end="url(#mv-arrow)"><title>{_x(e.kind)}</title></path>')
        if e.label:
            parts.append(f'<text x="{(x1 + x2) // 2}" y="{(y1 + y2) // 2 - 4}" '
                         f'text-anchor="middle" fill="currentColor" fill-opacity=".75" '
                         f'font-size="10">{_x(e.label[:24])}</text>')
    for node_id, node in graph.nodes.items():
        x, y = at(node_id)
        text = label(node)
        shown = text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS - 1] + "…"
        deleted = node.deleted is not None
        stroke = ' stroke-dasharray="5 4" stroke-opacity=".5"' if deleted else ""
        weight = "3" if node_id == graph.root else "1"
        faded = ' fill-opacity=".55"' if deleted else ""
        bold = ' font-weight="600"' if node_id == graph.root else ""
        parts.append(
            f'<g class="node node-{node.kind}" data-id="{_x(node_id)}">'
            f"<title>{_x(_KIND[node.kind])}: {_x(text)}</title>"
            f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" '
            f'rx="{_RADIUS[node.kind]}" fill="{_FILL[node.kind]}" stroke="currentColor" '
            f'stroke-width="{weight}"{stroke}/>'
            f'<text x="{x + 10}" y="{y + 16}" fill="currentColor" font-size="9" '
            f'fill-opacity=".65">{_x(_KIND[node.kind])}</text>'
            f'<text x="{x + 10}" y="{y + 31}" fill="currentColor"{faded}{bold}>'
            f"{_x(shown)}</text></g>")
    parts.append("</svg>")
    return "".join(parts)


def lineage_html(graph: Lineage) -> str:
    """The graph drawn as SVG (laid out in Python), then the text tree and the Mermaid
    source in collapsed sections; escaped, with no scripts and no network use."""
    return ('<div style="color:inherit;font-size:12px">'
            f'<div style="overflow-x:auto;max-width:100%">{lineage_svg(graph)}</div>'
            '<details><summary style="cursor:pointer">text</summary>'
            f'<pre style="color:inherit">{escape(lineage_text(graph))}</pre></details>'
            '<details><summary style="cursor:pointer">Mermaid</summary>'
            f'<pre class="mermaid">{escape(lineage_mermaid(graph))}</pre></details></div>')

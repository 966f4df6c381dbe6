"""Drawings of a lineage graph: a text tree, Graphviz DOT, Mermaid, Jupyter HTML, networkx
(the SVG, and the HTML that shows it, are in :mod:`modelver._render.svg`).

Pure functions of a :class:`~modelver._lineage.Lineage` value (imported for its type
only; see :mod:`modelver._render` for why that makes no cycle). Versions deleted by
retention are drawn dashed and grey, with the day of their tombstone.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._errors import ModelverError

if TYPE_CHECKING:
    from .._lineage import Lineage, LineageEdge, LineageNode

__all__ = ["label", "lineage_dot", "lineage_mermaid", "lineage_networkx",
           "lineage_text"]


# -- labels and escaping ------------------------------------------------------------


def label(node: LineageNode) -> str:
    """A node's label with the aliases pointing at it and, if deleted, the day it was."""
    text = node.label
    if node.aliases:
        text += f" [{', '.join(node.aliases)}]"
    if node.deleted is not None:
        text += f" (deleted {node.deleted.at:%Y-%m-%d})"
    return text


def _short_ids(graph: Lineage) -> dict[str, str]:
    return {node_id: f"n{i}" for i, node_id in enumerate(graph.nodes)}


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _mermaid_escape(text: str) -> str:
    return (text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;")
            .replace(">", "#gt;").replace("|", "#124;").replace("\n", " "))


# -- graph formats ------------------------------------------------------------------


def lineage_dot(graph: Lineage) -> str:
    """The graph in Graphviz DOT; deleted versions are dashed and grey, reproductions
    dotted."""
    ids = _short_ids(graph)
    lines = ["digraph lineage {", "  rankdir=LR;",
             '  node [fontname="Helvetica", fontsize=10];']
    shapes = {"data": "shape=cylinder", "run": 'shape=box, style="rounded"',
              "version": "shape=box"}
    for node in graph.nodes.values():
        attrs_ = [f'label="{_dot_escape(label(node))}"', shapes[node.kind]]
        if node.deleted is not None:
            attrs_.append('style="dashed", color="gray50", fontcolor="gray50"')
        if node.id == graph.root:
            attrs_.append("penwidth=2")
        lines.append(f'  {ids[node.id]} [{", ".join(attrs_)}];')
    for e in graph.edges:
        text = f' [label="{_dot_escape(e.label)}"]' if e.label else ""
        text = " [style=dotted]" if e.kind == "reproduces" else text
        lines.append(f"  {ids[e.source]} -> {ids[e.target]}{text};")
    lines.append("}")
    return "\n".join(lines)


def lineage_mermaid(graph: Lineage) -> str:
    """The graph as a Mermaid flowchart; deleted versions dashed, the root bold,
    reproductions dotted."""
    ids = _short_ids(graph)
    lines = ["flowchart LR"]
    shapes = {"data": ('[("', '")]'), "run": ('(["', '"])'), "version": ('["', '"]')}
    for node in graph.nodes.values():
        left, right = shapes[node.kind]
        lines.append(f"  {ids[node.id]}{left}{_mermaid_escape(label(node))}{right}")
    for e in graph.edges:
        arrow = f' -->|"{_mermaid_escape(e.label)}"| ' if e.label else " --> "
        arrow = " -.-> " if e.kind == "reproduces" else arrow
        lines.append(f"  {ids[e.source]}{arrow}{ids[e.target]}")
    lines.append("  classDef deleted stroke-dasharray: 5 5,color:#888,stroke:#888;")
    lines.append("  classDef root stroke-width:3px;")
    deleted = [ids[n.id] for n in graph.nodes.values() if n.deleted is not None]
    if deleted:
        lines.append(f"  class {','.join(deleted)} deleted;")
    if graph.root in ids:
        lines.append(f"  class {ids[graph.root]} root;")
    return "\n".join(lines)



def lineage_networkx(graph: Lineage) -> Any:
    """A ``networkx.DiGraph`` with ``kind``, ``label`` and ``deleted`` node attributes."""
    try:
        nx: Any = importlib.import_module("networkx")
    except ImportError:
        raise ModelverError("to_networkx() needs networkx: pip install networkx") from None
    out = nx.DiGraph(root=graph.root)
    for n in graph.nodes.values():
        out.add_node(n.id, kind=n.kind, label=label(n), deleted=n.deleted is not None,
                     aliases=list(n.aliases))
    for e in graph.edges:
        out.add_edge(e.source, e.target, kind=e.kind, label=e.label)
    return out


# -- the text tree ------------------------------------------------------------------


def lineage_text(graph: Lineage) -> str:
    """Upstream as a tree under the root, then downstream; repeated nodes are not expanded."""
    into: dict[str, list[LineageEdge]] = {}
    out_of: dict[str, list[LineageEdge]] = {}
    for e in graph.edges:
        into.setdefault(e.target, []).append(e)
        if e.kind == "parent":
            out_of.setdefault(e.source, []).append(e)

    def up_children(node_id: str) -> list[tuple[str, str]]:
        edges = into.get(node_id, [])
        order = {"output": 0, "input": 1, "parent": 2, "reproduces": 3}
        return [(e.source, "parent " if e.kind == "parent" else "")
                for e in sorted(edges, key=lambda e: (order.get(e.kind, 4), e.source))]

    def down_children(node_id: str) -> list[tuple[str, str]]:
        return [(e.target, "child ") for e in sorted(out_of.get(node_id, []),
                                                       key=lambda e: e.target)]

    lines = [_line(graph, graph.root)]
    _tree(graph, graph.root, up_children, lines)
    if out_of.get(graph.root):
        lines.append("downstream")
        _tree(graph, graph.root, down_children, lines)
    return "\n".join(lines)


def _line(graph: Lineage, node_id: str) -> str:
    node = graph.nodes.get(node_id)
    if node is None:
        return f"{node_id} (not in this store)"
    text = label(node)
    if node.kind == "data":
        text = "data " + text
    if node.deleted is not None:
        text += f": {node.deleted.reason}"
    return text


def _tree(graph: Lineage, root: str, children: Callable[[str], list[tuple[str, str]]],
          lines: list[str]) -> None:
    """Draw a tree iteratively (chains can be thousands of versions deep)."""
    seen = {root}
    stack: list[tuple[str, str, str, bool]] = []

    def push(parent: str, indent: str) -> None:
        kids = children(parent)
        for i in reversed(range(len(kids))):
            stack.append((kids[i][0], kids[i][1], indent, i == len(kids) - 1))

    push(root, "")
    while stack:
        node_id, what, indent, last = stack.pop()
        node = graph.nodes.get(node_id)
        repeat = node_id in seen and node is not None and node.kind != "data"
        suffix = " (see above)" if repeat else ""
        lines.append(f"{indent}{'└─ ' if last else '├─ '}{what}{_line(graph, node_id)}{suffix}")
        if repeat:
            continue
        seen.add(node_id)
        push(node_id, indent + ("   " if last else "│  "))

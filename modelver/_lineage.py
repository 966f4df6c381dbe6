"""Lineage: datasets → runs → model versions, and parent versions → child versions.

Edges are captured as versions are registered: a run's data fingerprints are its
inputs (the ``run_data`` table, indexed by digest), the version a run registers is
its output, and ``parents`` (explicit, or recorded by ``load`` inside a run) link
versions (the ``edges`` table, indexed both ways). Queries walk those indexes with
recursive SQL, so their cost grows with the size of the answer, not of the store.

:class:`Lineage` is a plain value: the nodes and edges around one version, with
pure functions to narrow it (``upstream``, ``downstream``) and to draw it (text,
Graphviz DOT, Mermaid, networkx, HTML). Versions deleted by retention stay in the
graph, marked with their tombstone.
"""

from __future__ import annotations

import html
import json
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from ._errors import InvalidName, ModelverError
from ._records import DataFingerprint, ModelVersion, Run, Tombstone
from ._serde import structure

if TYPE_CHECKING:
    from ._store import Store

__all__ = ["Lineage", "LineageEdge", "LineageNode", "lineage", "used_by"]

# Every ancestor's parent edge; the recursive step uses the index on edges(child).
_UP = """WITH RECURSIVE up(ref) AS (
    SELECT ? UNION SELECT e.parent FROM edges e JOIN up ON e.child = up.ref)
SELECT e.parent, e.child FROM up JOIN edges e ON e.child = up.ref"""
# Every descendant's parent edge, through the primary key edges(parent, child).
_DOWN = """WITH RECURSIVE down(ref) AS (
    SELECT ? UNION SELECT e.child FROM edges e JOIN down ON e.parent = down.ref)
SELECT e.parent, e.child FROM down JOIN edges e ON e.parent = down.ref"""
# A version row from a "name@version" text, by the versions primary key.
_BY_REF = ("v.name = substr({r}, 1, instr({r}, '@') - 1) "
           "AND v.version = substr({r}, instr({r}, '@') + 1)")
_NODES = f"""SELECT j.value, v.record, t.record, r.id, r.status, r.record
FROM json_each(?) j
JOIN versions v ON {_BY_REF.format(r="j.value")}
LEFT JOIN tombstones t ON t.name = v.name AND t.version = v.version
LEFT JOIN runs r ON r.id = v.run_id"""
# The inputs of runs, by the run_data primary key (run_id, key).
_INPUTS = """SELECT d.run_id, d.key, d.digest FROM json_each(?) j
JOIN run_data d ON d.run_id = j.value ORDER BY j.key, d.key"""
# One recorded fingerprint per digest (SQLite's bare columns come from the min() row).
_FINGERPRINTS = """SELECT d.digest, j.value FROM (
    SELECT digest, run_id, key, min(rowid) FROM run_data
    WHERE digest IN (SELECT value FROM json_each(?)) GROUP BY digest) d
JOIN runs r ON r.id = d.run_id JOIN json_each(r.record, '$.data') j ON j.key = d.key"""
# Versions whose run read the digest, then all their descendants.
_USED_BY = f"""WITH RECURSIVE hit(ref) AS (
    SELECT r.version FROM run_data d JOIN runs r ON r.id = d.run_id
    WHERE d.digest = ? AND r.version IS NOT NULL
    UNION SELECT e.child FROM edges e JOIN hit ON e.parent = hit.ref)
SELECT v.record, t.record FROM hit
JOIN versions v ON {_BY_REF.format(r="hit.ref")}
LEFT JOIN tombstones t ON t.name = v.name AND t.version = v.version
ORDER BY v.name, v.major, v.minor, v.patch, v.pre DESC"""


@attrs.frozen
class LineageNode:
    """One node of a lineage graph: a model version, a run, or a dataset.

    ``id`` is ``name@version`` for a version, ``run:<id>`` for a run and
    ``data:sha256:…`` for a dataset. ``deleted`` is the tombstone of a version whose
    artifact retention deleted; ``aliases`` are the aliases pointing at a version now.
    ``record`` is the JSON of the underlying record (parsed on demand).
    """

    id: str
    kind: str
    label: str
    deleted: Tombstone | None = None
    aliases: tuple[str, ...] = ()
    record: str | None = attrs.field(default=None, repr=False, eq=False)


@attrs.frozen
class LineageEdge:
    """A directed edge: ``input`` (dataset → run), ``output`` (run → version) or
    ``parent`` (parent version → child version). ``label`` is the data key of an input."""

    source: str
    target: str
    kind: str
    label: str = ""


@attrs.frozen(eq=False)
class Lineage:
    """The lineage graph around one version (``root``): its ancestors and descendants,
    the runs that made them, and the datasets those runs read.

    Nodes are kept in walk order: the root, its ancestors nearest first, then its
    descendants nearest first. Everything here is pure; nothing reads the store.
    """

    root: str
    nodes: Mapping[str, LineageNode]
    edges: tuple[LineageEdge, ...]

    # -- narrowing ---------------------------------------------------------------

    def upstream(self, depth: int | None = None) -> Lineage:
        """The root and what it came from: parent versions up to ``depth`` generations
        (None: all), each with its run and that run's datasets."""
        return self._subgraph(self._walk(forward=False, depth=depth))

    def downstream(self, depth: int | None = None) -> Lineage:
        """The root and the versions derived from it, up to ``depth`` generations
        (None: all), each with its run and that run's datasets."""
        return self._subgraph(self._walk(forward=True, depth=depth))

    def _walk(self, *, forward: bool, depth: int | None) -> list[str]:
        if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int)
                                  or depth < 0):
            raise InvalidName(f"depth must be None or an integer >= 0, not {depth!r}")
        adjacent: dict[str, list[str]] = {}
        for e in self.edges:
            if e.kind == "parent":
                a, b = (e.source, e.target) if forward else (e.target, e.source)
                adjacent.setdefault(a, []).append(b)
        seen = {self.root: 0}
        queue = deque([self.root])
        while queue:
            node = queue.popleft()
            if depth is not None and seen[node] >= depth:
                continue
            for nxt in adjacent.get(node, ()):
                if nxt not in seen:
                    seen[nxt] = seen[node] + 1
                    queue.append(nxt)
        return list(seen)

    def _subgraph(self, versions: list[str]) -> Lineage:
        keep = set(versions)
        runs = {e.source for e in self.edges if e.kind == "output" and e.target in keep}
        keep |= runs
        keep |= {e.source for e in self.edges if e.kind == "input" and e.target in runs}
        nodes = {k: n for k, n in self.nodes.items() if k in keep}
        edges = tuple(e for e in self.edges if e.source in keep and e.target in keep)
        return Lineage(self.root, nodes, edges)

    # -- records -------------------------------------------------------------------

    def _of(self, kind: str) -> Iterator[LineageNode]:
        return (n for n in self.nodes.values() if n.kind == kind)

    def versions(self) -> list[ModelVersion]:
        """Every model version in the graph, root first; deleted ones have ``deleted`` set."""
        out = []
        for n in self._of("version"):
            if n.record is None:
                continue  # a parent this store does not hold
            data = json.loads(n.record)
            data["deleted"] = None
            mv = structure(data, ModelVersion)
            out.append(attrs.evolve(mv, deleted=n.deleted))
        return out

    def runs(self) -> list[Run]:
        """Every run in the graph (the runs that produced its versions)."""
        return [structure(json.loads(n.record), Run) for n in self._of("run") if n.record]

    def datasets(self) -> list[DataFingerprint]:
        """The fingerprint of every dataset in the graph, one per digest."""
        return [structure(json.loads(n.record), DataFingerprint)
                for n in self._of("data") if n.record]

    def __contains__(self, item: object) -> bool:
        """``"fraud@1.0.0" in graph``; a digest ``"sha256:…"`` or ``"run:<id>"`` also works."""
        if not isinstance(item, str):
            return False
        return item in self.nodes or f"data:{item}" in self.nodes

    def __len__(self) -> int:
        return len(self.nodes)

    # -- drawing ---------------------------------------------------------------------

    def __str__(self) -> str:
        """A text tree: the root, its runs, datasets and parents, then its descendants."""
        return _text_tree(self)

    def __repr__(self) -> str:
        counts = {k: sum(1 for _ in self._of(k)) for k in ("version", "run", "data")}
        return (f"<modelver.Lineage {self.root}: {counts['version']} versions, "
                f"{counts['run']} runs, {counts['data']} datasets>")

    def to_dot(self) -> str:
        """The graph in Graphviz DOT; deleted versions are dashed and grey."""
        ids = _short_ids(self)
        lines = ["digraph lineage {", "  rankdir=LR;",
                 '  node [fontname="Helvetica", fontsize=10];']
        shapes = {"data": "shape=cylinder", "run": 'shape=box, style="rounded"',
                  "version": "shape=box"}
        for node in self.nodes.values():
            attrs_ = [f'label="{_dot_escape(_label(node))}"', shapes[node.kind]]
            if node.deleted is not None:
                attrs_.append('style="dashed", color="gray50", fontcolor="gray50"')
            if node.id == self.root:
                attrs_.append("penwidth=2")
            lines.append(f'  {ids[node.id]} [{", ".join(attrs_)}];')
        for e in self.edges:
            label = f' [label="{_dot_escape(e.label)}"]' if e.label else ""
            lines.append(f"  {ids[e.source]} -> {ids[e.target]}{label};")
        lines.append("}")
        return "\n".join(lines)

    def to_mermaid(self) -> str:
        """The graph as a Mermaid flowchart (renders on GitHub and in many notebooks)."""
        ids = _short_ids(self)
        lines = ["flowchart LR"]
        shapes = {"data": ('[("', '")]'), "run": ('(["', '"])'), "version": ('["', '"]')}
        for node in self.nodes.values():
            left, right = shapes[node.kind]
            lines.append(f"  {ids[node.id]}{left}{_mermaid_escape(_label(node))}{right}")
        for e in self.edges:
            arrow = f' -->|"{_mermaid_escape(e.label)}"| ' if e.label else " --> "
            lines.append(f"  {ids[e.source]}{arrow}{ids[e.target]}")
        lines.append("  classDef deleted stroke-dasharray: 5 5,color:#888,stroke:#888;")
        lines.append("  classDef root stroke-width:3px;")
        deleted = [ids[n.id] for n in self.nodes.values() if n.deleted is not None]
        if deleted:
            lines.append(f"  class {','.join(deleted)} deleted;")
        if self.root in ids:
            lines.append(f"  class {ids[self.root]} root;")
        return "\n".join(lines)

    def to_networkx(self) -> Any:
        """A ``networkx.DiGraph`` with ``kind``, ``label`` and ``deleted`` node attributes."""
        import importlib

        try:
            nx: Any = importlib.import_module("networkx")
        except ImportError:
            raise ModelverError("to_networkx() needs networkx: pip install networkx"
                                ) from None
        graph = nx.DiGraph(root=self.root)
        for n in self.nodes.values():
            graph.add_node(n.id, kind=n.kind, label=_label(n), deleted=n.deleted is not None,
                           aliases=list(n.aliases))
        for e in self.edges:
            graph.add_edge(e.source, e.target, kind=e.kind, label=e.label)
        return graph

    def _repr_html_(self) -> str:
        """Jupyter: the text tree and the Mermaid source, escaped, with no scripts and no
        network use (a notebook with Mermaid support draws the ``mermaid`` block)."""
        return ('<div style="color:inherit;font-size:12px">'
                f'<pre style="color:inherit">{html.escape(str(self))}</pre>'
                '<details><summary style="cursor:pointer">Mermaid</summary>'
                f'<pre class="mermaid">{html.escape(self.to_mermaid())}</pre></details></div>')


# -- labels and drawing helpers ---------------------------------------------------


def _label(node: LineageNode) -> str:
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


def _data_label(keys: list[str], fp: Mapping[str, Any]) -> str:
    size = fp.get("size")
    text = f"{', '.join(sorted(set(keys)))}: {fp.get('kind', 'data')} {fp['digest'][:19]}…"
    if isinstance(size, int):
        text += f" ({size:,} B)"
    return text


def _text_tree(graph: Lineage) -> str:
    """Upstream as a tree under the root, then downstream; repeated nodes are not expanded."""
    into: dict[str, list[LineageEdge]] = {}
    out_of: dict[str, list[LineageEdge]] = {}
    for e in graph.edges:
        into.setdefault(e.target, []).append(e)
        if e.kind == "parent":
            out_of.setdefault(e.source, []).append(e)

    def up_children(node_id: str) -> list[tuple[str, str]]:
        edges = into.get(node_id, [])
        order = {"output": 0, "input": 1, "parent": 2}
        return [(e.source, "parent " if e.kind == "parent" else "")
                for e in sorted(edges, key=lambda e: (order[e.kind], e.source))]

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
    text = _label(node)
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


# -- queries -------------------------------------------------------------------------


def lineage(store: Store, name: str, ref: str = "latest") -> Lineage:
    """The lineage graph of ``name@ref``: every ancestor and descendant version, the
    runs that made them and the datasets those runs read."""
    mv = store.resolve(name, ref)
    index = store._index
    parent_edges = {(p, c) for p, c in index.query(_UP, (mv.ref,))}
    parent_edges |= {(p, c) for p, c in index.query(_DOWN, (mv.ref,))}
    refs = _walk_order(mv.ref, parent_edges)
    aliases: dict[str, list[str]] = {}
    names = sorted({r.partition("@")[0] for r in refs})
    for n, alias, version in index.query(
            "SELECT name, alias, version FROM aliases WHERE name IN "
            "(SELECT value FROM json_each(?)) ORDER BY alias", (json.dumps(names),)):
        aliases.setdefault(f"{n}@{version}", []).append(alias)
    rows = {r[0]: r for r in index.query(_NODES, (json.dumps(refs),))}
    nodes: dict[str, LineageNode] = {}
    edges: list[LineageEdge] = []
    for ref_ in refs:
        row = rows.get(ref_)
        if row is None:
            nodes[ref_] = LineageNode(ref_, "version", ref_ + " (missing)")
            continue
        _, record, tomb, run_id, status, run_record = row
        deleted = structure(json.loads(tomb), Tombstone) if tomb else None
        nodes[ref_] = LineageNode(ref_, "version", ref_, deleted,
                                  tuple(aliases.get(ref_, ())), record)
        if run_id is not None:
            nodes[f"run:{run_id}"] = LineageNode(f"run:{run_id}", "run",
                                                 f"run {run_id[:8]} {status}", record=run_record)
            edges.append(LineageEdge(f"run:{run_id}", ref_, "output"))
    run_ids = [rows[r][3] for r in refs if r in rows and rows[r][3] is not None]
    data_keys: dict[str, list[str]] = {}
    for run_id, key, digest in index.query(_INPUTS, (json.dumps(run_ids),)):
        data_keys.setdefault(digest, []).append(key)
        edges.append(LineageEdge(f"data:{digest}", f"run:{run_id}", "input", key))
    fps = dict(index.query(_FINGERPRINTS, (json.dumps(list(data_keys)),)))
    for digest, keys in data_keys.items():
        fp = fps.get(digest) or json.dumps({"digest": digest, "kind": "data"})
        nodes[f"data:{digest}"] = LineageNode(f"data:{digest}", "data",
                                              _data_label(keys, json.loads(fp)), record=fp)
    edges += [LineageEdge(p, c, "parent") for p, c in sorted(parent_edges)]
    return Lineage(mv.ref, nodes, tuple(edges))


def _walk_order(root: str, parent_edges: set[tuple[str, str]]) -> list[str]:
    """The root, ancestors by distance, then descendants by distance."""
    parents: dict[str, list[str]] = {}
    children: dict[str, list[str]] = {}
    for p, c in sorted(parent_edges):
        parents.setdefault(c, []).append(p)
        children.setdefault(p, []).append(c)
    order = {root: None}
    for adjacent in (parents, children):
        queue = deque([root])
        while queue:
            for nxt in adjacent.get(queue.popleft(), ()):
                if nxt not in order:
                    order[nxt] = None
                    queue.append(nxt)
    return list(order)


def used_by(store: Store, data: Any) -> list[ModelVersion]:
    """Every version trained on ``data`` (a path, URL, array, frame, bytes,
    :class:`DataFingerprint` or ``"sha256:…"`` digest), directly or through any chain
    of parent versions; versions deleted by retention are included, marked deleted."""
    from ._blobs import check_digest
    from ._fingerprint import fingerprint
    from ._statcache import stat_cache_for

    if not store._readable():
        return []
    if isinstance(data, str) and data.startswith("sha256:"):
        data = DataFingerprint(check_digest(data), "fingerprint")
    cache = None if isinstance(data, DataFingerprint) else stat_cache_for(store)
    fp = fingerprint(data, cache=cache)
    out = []
    for record, tomb in store._index.query(_USED_BY, (fp.digest,)):
        mv = json.loads(record)
        mv["deleted"] = json.loads(tomb) if tomb else None
        out.append(structure(mv, ModelVersion))
    return out

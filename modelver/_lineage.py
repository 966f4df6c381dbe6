"""Lineage: datasets → runs → model versions, and parent versions → child versions.

Edges are captured as versions are registered: a run's data fingerprints are its
inputs (the ``run_data`` table, indexed by digest), the version a run registers is
its output, and ``parents`` (explicit, or recorded by ``load`` inside a run) link
versions (the ``edges`` table, indexed both ways). A run made by ``reproduce`` points
at the version it rebuilt (``reproduces``). Queries walk those indexes with
recursive SQL, so their cost grows with the size of the answer, not of the store.

:class:`Lineage` is a plain value: the nodes and edges around one version, with
pure functions to narrow it (``upstream``, ``downstream``) and to draw it (text,
Graphviz DOT, Mermaid, SVG, networkx, HTML). Versions deleted by retention stay in the
graph, marked with their tombstone.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from ._errors import InvalidName
from ._records import DataFingerprint, ModelVersion, Run, Tombstone
from ._render import render, renderer
from ._serde import structure

if TYPE_CHECKING:
    from ._fingerprint import StatCache
    from ._index import Queries

__all__ = ["Lineage", "LineageEdge", "LineageNode", "lineage", "used_by"]

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
    """A directed edge: ``input`` (dataset → run), ``output`` (run → version),
    ``parent`` (parent version → child version) or ``reproduces`` (a run made by
    :func:`modelver.reproduce` → the version it rebuilt). ``label`` is the data key of
    an input."""

    source: str
    target: str
    kind: str
    label: str = ""


@attrs.frozen(eq=False)
class Lineage:
    """The lineage graph around one version (``root``): its ancestors and descendants,
    the runs that made them, the datasets those runs read, and the runs that reproduced
    them.

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
        keep |= {e.source for e in self.edges if e.kind == "reproduces" and e.target in keep}
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
        """Every run in the graph: the runs that produced its versions, and the runs
        :func:`modelver.reproduce` made of them."""
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
        return render("text", self)

    def __repr__(self) -> str:
        counts = {k: sum(1 for _ in self._of(k)) for k in ("version", "run", "data")}
        return (f"<modelver.Lineage {self.root}: {counts['version']} versions, "
                f"{counts['run']} runs, {counts['data']} datasets>")

    def to_dot(self) -> str:
        """The graph in Graphviz DOT; deleted versions are dashed and grey."""
        return render("dot", self)

    def to_mermaid(self) -> str:
        """The graph as a Mermaid flowchart (renders on GitHub and in many notebooks)."""
        return render("mermaid", self)

    def to_svg(self) -> str:
        """The graph as SVG, laid out in Python (no JavaScript needed to see it)."""
        return render("svg", self)

    def to_networkx(self) -> Any:
        """A ``networkx.DiGraph`` with ``kind``, ``label`` and ``deleted`` node attributes."""
        return renderer("networkx", type(self))(self)

    def _repr_html_(self) -> str:
        """Jupyter: the graph drawn as SVG, then the text tree and the Mermaid source,
        escaped, with no scripts and no network use."""
        return render("html", self)


# -- labels and drawing helpers ---------------------------------------------------
# The drawings are in modelver._render.lineage; a dataset's label is made here, when
# the query builds its node.


def _data_label(keys: list[str], fp: Mapping[str, Any]) -> str:
    size = fp.get("size")
    text = f"{', '.join(sorted(set(keys)))}: {fp.get('kind', 'data')} {fp['digest'][:19]}…"
    if isinstance(size, int):
        text += f" ({size:,} B)"
    return text


# -- queries -------------------------------------------------------------------------


def lineage(q: Queries, mv: ModelVersion) -> Lineage:
    """The lineage graph of ``mv``: every ancestor and descendant version, the runs
    that made them, the datasets those runs read and the runs that reproduced them."""
    parent_edges = q.parent_edges(mv.ref)
    refs = _walk_order(mv.ref, parent_edges)
    aliases: dict[str, list[str]] = {}
    for n, alias, version in q.aliases_in({r.partition("@")[0] for r in refs}):
        aliases.setdefault(f"{n}@{version}", []).append(alias)
    rows = q.lineage_nodes(refs)
    nodes: dict[str, LineageNode] = {}
    edges: list[LineageEdge] = []
    for ref_ in refs:
        row = rows.get(ref_)
        if row is None:
            nodes[ref_] = LineageNode(ref_, "version", ref_ + " (missing)")
            continue
        record, tomb, run_id, status, run_record = row
        deleted = structure(json.loads(tomb), Tombstone) if tomb else None
        nodes[ref_] = LineageNode(ref_, "version", ref_, deleted,
                                  tuple(aliases.get(ref_, ())), record)
        if run_id is not None:
            nodes[f"run:{run_id}"] = LineageNode(f"run:{run_id}", "run",
                                                 f"run {run_id[:8]} {status}", record=run_record)
            edges.append(LineageEdge(f"run:{run_id}", ref_, "output"))
    run_ids = [rows[r][2] for r in refs if r in rows and rows[r][2] is not None]
    data_keys: dict[str, list[str]] = {}
    for run_id, key, digest in q.run_inputs(run_ids):
        data_keys.setdefault(digest, []).append(key)
        edges.append(LineageEdge(f"data:{digest}", f"run:{run_id}", "input", key))
    fps = q.fingerprints(list(data_keys))
    for digest, keys in data_keys.items():
        fp = fps.get(digest) or json.dumps({"digest": digest, "kind": "data"})
        nodes[f"data:{digest}"] = LineageNode(f"data:{digest}", "data",
                                              _data_label(keys, json.loads(fp)), record=fp)
    edges += [LineageEdge(p, c, "parent") for p, c in sorted(parent_edges)]
    for run_id, ref_, status, record in q.reproduction_runs(refs):
        outcome = (json.loads(record).get("reproduction") or {}).get("identical")
        what = status if outcome is None else "identical" if outcome else "different"
        nodes[f"run:{run_id}"] = LineageNode(f"run:{run_id}", "run",
                                             f"reproduction {run_id[:8]} {what}", record=record)
        edges.append(LineageEdge(f"run:{run_id}", ref_, "reproduces"))
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


def used_by(q: Queries, data: Any, cache: StatCache | None = None) -> list[ModelVersion]:
    """Every version trained on ``data`` (a path, URL, array, frame, bytes,
    :class:`DataFingerprint` or ``"sha256:…"`` digest: of a fingerprint, or of a stored
    data snapshot), directly or through any chain of parent versions; versions deleted
    by retention are included, marked deleted."""
    from ._blobs import check_digest
    from ._fingerprint import fingerprint

    if isinstance(data, str) and data.startswith("sha256:"):
        digest = check_digest(data)
        return q.used_by([digest, *q.snapshot_sources(digest)])
    fp = fingerprint(data, cache=None if isinstance(data, DataFingerprint) else cache)
    return q.used_by([fp.digest])

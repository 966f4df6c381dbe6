"""``audit``: everything a reviewer needs about one version, gathered into one value.

An :class:`Audit` is read from the store once and is then plain data: the version and
its artifacts with digests, its run (code, data, params, seeds, environment, hardware,
resources, metrics), the stored uncommitted diff and function source, the lineage
graph, every move of every alias of the model, holds and what retention may do, the
result of verifying this version's chain and blobs, every reproduction attempt, and
its model card: description, annotations, the model's protected aliases and approvals.
``to_html()`` draws it as one self-contained page (see :mod:`modelver._render.audit`),
``to_json()`` gives the same content for machines.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ._capture.params import redact_text
from ._errors import IntegrityError, InvalidName, NotFound, StoreError
from ._records import AliasEvent, Approval, Hold, ModelVersion, Protection, Run, utcnow
from ._render import render
from ._serde import unstructure
from ._user import current_user
from ._verify import VerifyReport, verify_version

if TYPE_CHECKING:
    import os

    from ._chain import Chain
    from ._lineage import Lineage

__all__ = ["Audit", "build_audit"]

#: Text blobs larger than this are cut in the report (the digest names the whole).
MAX_TEXT = 200_000


@attrs.frozen(eq=False)
class Audit:
    """One version's audit: see the module docstring.

    ``aliases`` point at the version now; ``alias_history`` is every move of every
    alias of the model, oldest first; ``holds`` are the holds on this version;
    ``retention`` says why retention keeps it (or that a policy may delete it, or when
    it did); ``verify`` checked this model's chain and this version's blobs;
    ``reproductions`` are the runs ``reproduce`` made of it; ``diff`` and ``source``
    are the stored uncommitted git diff and function source (None when not captured).
    ``protections`` are the model's protected aliases and ``approvals`` every approval
    recorded for them (the description and annotations are the version's own).
    """

    version: ModelVersion
    run: Run | None
    lineage: Lineage
    aliases: list[str]
    alias_history: list[AliasEvent]
    holds: list[Hold]
    retention: list[str]
    verify: VerifyReport
    reproductions: list[Run]
    diff: str | None
    source: str | None
    store: str
    generated_at: datetime
    generated_by: str
    modelver_version: str
    protections: list[Protection] = attrs.field(factory=list)
    approvals: list[Approval] = attrs.field(factory=list)

    @property
    def ref(self) -> str:
        """``name@version`` of the audited version."""
        return self.version.ref

    @property
    def ok(self) -> bool:
        """True when verify found nothing wrong with this version's chain and blobs."""
        return self.verify.ok

    def to_dict(self) -> dict[str, Any]:
        """The whole audit as plain JSON-able data (records as they are stored)."""
        graph = self.lineage
        return {
            "ref": self.ref,
            "generated_at": unstructure(self.generated_at),
            "generated_by": self.generated_by,
            "store": self.store,
            "modelver_version": self.modelver_version,
            "version": unstructure(self.version),
            "run": unstructure(self.run) if self.run is not None else None,
            "lineage": {
                "root": graph.root,
                "nodes": [{"id": n.id, "kind": n.kind, "label": n.label,
                           "aliases": list(n.aliases),
                           "deleted": unstructure(n.deleted) if n.deleted else None}
                          for n in graph.nodes.values()],
                "edges": [unstructure(e) for e in graph.edges],
            },
            "aliases": self.aliases,
            "alias_history": [unstructure(e) for e in self.alias_history],
            "holds": [unstructure(h) for h in self.holds],
            "retention": self.retention,
            "verify": {"ok": self.verify.ok, "entries": self.verify.entries,
                       "blobs": self.verify.blobs, "head": self.verify.head,
                       "problems": [unstructure(p) for p in self.verify.problems]},
            "reproductions": [{"run_id": r.id, "started_at": unstructure(r.started_at),
                               **(r.reproduction or {})} for r in self.reproductions],
            "diff": self.diff,
            "source": self.source,
            "protections": [unstructure(p) for p in self.protections],
            "approvals": [unstructure(x) for x in self.approvals],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True, ensure_ascii=False,
                          default=str)

    def to_html(self) -> str:
        """One self-contained HTML page: no scripts, fonts, images or links to fetch."""
        return render("html", self)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the page (or, for a ``.json`` path, the JSON) to ``path``; returns it."""
        out = Path(path)
        text = self.to_json() if out.suffix.lower() == ".json" else self.to_html()
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InvalidName(f"cannot write the audit of {self.ref} to {str(out)!r}: "
                              f"{exc.strerror or exc}") from exc
        return out

    def __str__(self) -> str:
        """A few lines: the version, verify, aliases, retention and reproductions."""
        return render("text", self)

    def _repr_html_(self) -> str:
        return render("html", self)


def _text_blob(read_blob: Callable[[str], bytes], digest: str | None) -> str | None:
    """A stored text (diff, source), or None when it was not captured or cannot be read
    (verify then reports the blob as missing or altered)."""
    if not digest:
        return None
    try:
        data = read_blob(digest)
    except (NotFound, IntegrityError, StoreError, OSError):
        return None
    text = data.decode("utf-8", errors="replace")
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT] + f"\n… cut at {MAX_TEXT:,} characters ({len(text):,} in all)"
    return text


def _blobs_of(mv: ModelVersion, run: Run | None) -> list[str]:
    from ._index.queries import CODE_BLOB_FIELDS

    digests = [mv.digest, *mv.blobs, *(a.digest for a in mv.artifacts.values())]
    if mv.deleted is not None:
        digests = []  # retention deleted the artifact on purpose
    if run is not None:
        digests += run.blobs
        if run.code is not None:
            digests += [d for f in CODE_BLOB_FIELDS if (d := getattr(run.code, f))]
    return digests


def _retention(chain: Chain, mv: ModelVersion, now: datetime) -> list[str]:
    """Why no retention policy may delete the version now (held, aliased): empty when a
    policy may (or, with ``deleted`` set, did)."""
    from ._retention import RetentionPolicy, _special

    if mv.deleted is not None:
        return []
    why = _special(chain.queries, RetentionPolicy(keep_last=0), mv.name, now)
    return why.get((mv.name, mv.version), [])


def build_audit(chain: Chain, mv: ModelVersion, graph: Lineage,
                read_blob: Callable[[str], bytes]) -> Audit:
    """Gather the audit of ``mv`` from ``chain`` (its log already read)."""
    import modelver

    q = chain.queries
    run = q.run(mv.run_id) if mv.run_id else None
    history = sorted((e for alias in q.alias_names(mv.name)
                      for e in q.alias_events(mv.name, alias)), key=lambda e: e.at)
    holds = [h for h in q.holds(mv.name) if h.version == mv.version]
    reproductions = [r for r in (q.run(i) for i in mv.reproductions) if r is not None]
    now = utcnow()
    report = verify_version(chain, mv.name, _blobs_of(mv, run))
    code = run.code if run is not None else None
    return Audit(
        version=mv, run=run, lineage=graph, aliases=sorted(q.aliases_of(mv.name, mv.version)),
        alias_history=history, holds=holds, retention=_retention(chain, mv, now),
        verify=report, reproductions=reproductions,
        diff=_text_blob(read_blob, code.diff_digest if code else None),
        source=_text_blob(read_blob, code.source_digest if code else None),
        store=redact_text(chain.uri), generated_at=now, generated_by=current_user(),
        modelver_version=str(modelver.__version__), protections=q.protections(mv.name),
        approvals=q.approvals(mv.name))

"""push / pull: copy versions between stores with their runs, parents and blobs.

Copies are idempotent: a version the target already holds with the same digest is
skipped, so a second push copies nothing. A version that exists in the target with
a different digest is a conflict (``VersionExists``); nothing is overwritten.
Aliases are not copied: where ``prod`` points is a decision for each store.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import attrs

from ._errors import VersionExists
from ._index import Index
from ._log import Draft
from ._progress import Progress
from ._records import ModelVersion, Run
from ._resolve import split_ref
from ._serde import unstructure

if TYPE_CHECKING:
    from ._store import Store

__all__ = ["TransferReport", "transfer"]


@attrs.frozen
class TransferReport:
    """What a push or pull did."""

    source: str
    target: str
    copied: list[str]
    skipped: list[str]
    blobs_copied: int
    bytes_copied: int

    def __str__(self) -> str:
        lines = [f"{self.source} -> {self.target}: copied {len(self.copied)} version(s), "
                 f"{self.blobs_copied} blob(s), {self.bytes_copied:,} bytes; "
                 f"{len(self.skipped)} already there"]
        lines += [f"  copied  {r}" for r in self.copied]
        lines += [f"  skipped {r}" for r in self.skipped]
        return "\n".join(lines)


class _AlreadyThere(Exception):
    pass


def _closure(src: Store, mv: ModelVersion) -> list[ModelVersion]:
    """``mv`` and every ancestor, parents before children."""
    order: list[ModelVersion] = []
    seen: set[str] = set()

    def visit(v: ModelVersion) -> None:
        if v.ref in seen:
            return
        seen.add(v.ref)
        for parent in v.parents:
            name, ref = split_ref(parent)
            visit(src.resolve(name, ref))
        order.append(v)

    visit(mv)
    return order


def transfer(src: Store, dst: Store, name: str, ref: str = "latest") -> TransferReport:
    """Copy ``name@ref`` (and its ancestors) from ``src`` to ``dst``."""
    copied: list[str] = []
    skipped: list[str] = []
    counts = [0, 0]
    todo = _closure(src, src.resolve(name, ref))
    with Progress(f"copying to {dst.uri}", len(todo), unit="versions") as progress:
        for mv in todo:
            if mv.deleted is not None:
                skipped.append(f"{mv.ref} (deleted by retention in the source)")
            elif _copy_version(src, dst, mv, counts):
                copied.append(mv.ref)
            else:
                skipped.append(mv.ref)
            progress.update(1)
    return TransferReport(src.uri, dst.uri, copied, skipped, counts[0], counts[1])


def _copy_blob(src: Store, dst: Store, digest: str | None, counts: list[int]) -> None:
    if not digest or dst.backend.has_blob(digest):
        return
    path = src.backend.blob_path(digest)
    got, size = dst.backend.put_file(path)
    if got != digest:
        from ._errors import IntegrityError

        raise IntegrityError(f"blob {digest} read from {src.uri} hashes to {got}; "
                             "run `modelver verify` on the source")
    counts[0] += 1
    counts[1] += size


def _copy_version(src: Store, dst: Store, mv: ModelVersion, counts: list[int]) -> bool:
    if _existing(dst, mv):
        return False
    run: Run | None = src.get_run(mv.run_id) if mv.run_id else None
    _copy_blob(src, dst, mv.digest, counts)
    if run is not None and run.code is not None:
        for digest in (run.code.source_digest, run.code.module_digest, run.code.diff_digest):
            _copy_blob(src, dst, digest, counts)

    def build(index: Index) -> Draft:
        if _existing_in(index, mv):
            raise _AlreadyThere
        body: dict[str, Any] = {"version": unstructure(attrs.evolve(mv, deleted=None))}
        has_run = run is not None and index.one("SELECT 1 FROM runs WHERE id = ?", (run.id,))
        if run is not None and not has_run:
            body["run"] = unstructure(run)
            return Draft("run", body)
        return Draft("version", body)

    try:
        dst.backend.append(mv.name, build)
    except _AlreadyThere:
        return False
    return True


def _existing(dst: Store, mv: ModelVersion) -> bool:
    if not dst.backend.exists():
        return False
    dst.backend.sync(mv.name)
    return _existing_in(dst.backend.index, mv)


def _existing_in(index: Index, mv: ModelVersion) -> bool:
    row = index.one("SELECT record FROM versions WHERE name = ? AND version = ?",
                    (mv.name, mv.version))
    if row is None:
        return False
    if json.loads(row[0])["digest"] != mv.digest:
        raise VersionExists(f"{mv.ref} already exists in the target with another artifact; "
                            "versions are immutable, so it cannot be copied over")
    return True

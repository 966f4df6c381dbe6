"""push / pull: copy versions between stores with their runs, parents and blobs.

Copies are idempotent: a version the target already holds with the same digest is
skipped, so a second push copies nothing. A version that exists in the target with
a different digest is a conflict (``VersionExists``); nothing is overwritten.
Aliases are not copied: where ``prod`` points is a decision for each store.
"""

from __future__ import annotations

from typing import Any

import attrs

from ._chain import Chain
from ._errors import IntegrityError, NotFound, VersionExists
from ._index import Queries
from ._index.queries import CODE_BLOB_FIELDS
from ._log import Draft
from ._progress import Progress
from ._records import ModelVersion, Run
from ._render import render
from ._resolve import resolve, split_ref
from ._serde import record_data

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
        """The counts, then each version copied or skipped."""
        return render("text", self)


class _AlreadyThere(Exception):
    pass


def _closure(src: Chain, mv: ModelVersion) -> list[ModelVersion]:
    """``mv`` and every ancestor, parents before children."""
    order: list[ModelVersion] = []
    seen: set[str] = set()

    def visit(v: ModelVersion) -> None:
        if v.ref in seen:
            return
        seen.add(v.ref)
        for parent in v.parents:
            name, ref = split_ref(parent)
            src.readable(name)
            visit(resolve(src.queries, name, ref))
        order.append(v)

    visit(mv)
    return order


def transfer(src: Chain, dst: Chain, mv: ModelVersion) -> TransferReport:
    """Copy ``mv`` (and its ancestors) from ``src`` to ``dst``."""
    copied: list[str] = []
    skipped: list[str] = []
    counts = [0, 0]
    todo = _closure(src, mv)
    with Progress(f"copying to {dst.uri}", len(todo), unit="versions") as progress:
        for v in todo:
            if v.deleted is not None:
                skipped.append(f"{v.ref} (deleted by retention in the source)")
            elif _copy_version(src, dst, v, counts):
                copied.append(v.ref)
            else:
                skipped.append(v.ref)
            progress.update(1)
    return TransferReport(src.uri, dst.uri, copied, skipped, counts[0], counts[1])


def _copy_blob(src: Chain, dst: Chain, digest: str | None, counts: list[int]) -> None:
    if not digest or dst.backend.has_blob(digest):
        return
    path = src.backend.blob_path(digest)
    got, size = dst.backend.put_file(path)
    if got != digest:
        raise IntegrityError(f"blob {digest} read from {src.uri} hashes to {got}; "
                             "run `modelver verify` on the source")
    counts[0] += 1
    counts[1] += size


def _copy_version(src: Chain, dst: Chain, mv: ModelVersion, counts: list[int]) -> bool:
    if _existing(dst, mv):
        return False
    run: Run | None = None
    if mv.run_id:
        run = src.queries.run(mv.run_id)
        if run is None:
            raise NotFound(f"the run {mv.run_id} of {mv.ref} is missing from {src.uri!r}")
    for digest in [*mv.blobs, mv.digest]:  # the files of a manifest before the manifest
        _copy_blob(src, dst, digest, counts)
    for digest in run.blobs if run is not None else ():  # data snapshots
        _copy_blob(src, dst, digest, counts)
    if run is not None and run.code is not None:
        for field in CODE_BLOB_FIELDS:
            digest = getattr(run.code, field)
            _copy_blob(src, dst, digest, counts)

    # The version as registered: its tags less what annotations (not copied) changed.
    registered = (attrs.evolve(mv, tags=src.queries.registered_tags(mv.name, mv.version))
                  if mv.annotations else mv)

    def build(q: Queries) -> Draft:
        if _existing_in(q, mv):
            raise _AlreadyThere
        body: dict[str, Any] = {"version": record_data(registered)}
        if run is not None and not q.has_run(run.id):
            body["run"] = record_data(run)
            return Draft("run", body)
        return Draft("version", body)

    try:
        dst.append(mv.name, build)
    except _AlreadyThere:
        return False
    return True


def _existing(dst: Chain, mv: ModelVersion) -> bool:
    if not dst.backend.exists():
        return False
    dst.sync(mv.name)
    return _existing_in(dst.queries, mv)


def _existing_in(q: Queries, mv: ModelVersion) -> bool:
    there = q.exact(mv.name, mv.version)
    if there is None:
        return False
    if there.digest != mv.digest:
        raise VersionExists(f"{mv.ref} already exists in the target with another artifact; "
                            "versions are immutable, so it cannot be copied over")
    return True

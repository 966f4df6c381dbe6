"""Garbage collection: delete blobs that no live record references.

Retention's ``apply`` deletes the artifacts it tombstones; ``gc`` sweeps whatever is
left: artifacts of interrupted uploads and runs, blobs of versions deleted while a
blob was still shared, and (local stores) temporary files of killed writers.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from ._store import Store

__all__ = ["GcReport", "gc"]

_SHOWN = 100  # blobs listed by str(report)


@attrs.frozen
class GcReport:
    """What ``gc`` deleted (or, with ``dry_run``, would delete)."""

    deleted: list[str]
    bytes_freed: int
    skipped_recent: list[str]
    temporaries: list[str]
    dry_run: bool

    def __str__(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        lines = [f"{verb} {len(self.deleted)} unreferenced blob(s), {self.bytes_freed:,} bytes"]
        lines += [f"  {d}" for d in self.deleted[:_SHOWN]]
        if self.skipped_recent:
            lines.append(f"kept {len(self.skipped_recent)} recent blob(s) (or of unknown age) "
                         "that a writer may be about to reference")
        if self.temporaries:
            lines.append(f"removed {len(self.temporaries)} leftover temporary file(s)")
        return "\n".join(lines)


def _blob_mtime(store: Store, digest: str) -> float | None:
    """When a blob was written: from the local blob folder, or from a backend that
    offers ``blob_mtime(digest)``; None when the backend cannot say."""
    backend: Any = store.backend
    if callable(getattr(backend, "blob_mtime", None)):
        mtime = backend.blob_mtime(digest)
        return None if mtime is None else float(mtime)
    stat = _stat(store, digest)
    return None if stat is None else stat.st_mtime


def _stat(store: Store, digest: str) -> os.stat_result | None:
    blobs: Any = getattr(store.backend, "blobs", None)
    if blobs is None or not callable(getattr(blobs, "path", None)):
        return None
    try:
        return os.stat(blobs.path(digest))
    except OSError:
        return None


def gc(store: Store, *, dry_run: bool = False, grace_s: float = 3600.0) -> GcReport:
    """Delete blobs no live record references: artifacts of deleted versions, uploads
    of interrupted runs, and (local stores) leftover temporary files.

    Blobs written within ``grace_s`` seconds are kept, since a training run stores its
    artifact before the record that names it; so are blobs whose age the backend
    cannot tell, unless ``grace_s`` is 0.
    """
    from ._verify import referenced_blobs

    if not store._readable():
        return GcReport([], 0, [], [], dry_run)
    referenced = referenced_blobs(store._index)
    sizes = dict(store._index.query("SELECT digest, json_extract(record, '$.size') FROM "
                                    "versions"))
    deleted, recent, candidates = [], [], []
    freed = 0
    now = time.time()
    for digest in sorted(set(store.backend.blob_digests()) - referenced.keys()):
        mtime = _blob_mtime(store, digest)
        if grace_s > 0 and (mtime is None or now - mtime < grace_s):
            recent.append(digest)
        else:
            candidates.append(digest)
    if dry_run:
        for digest in candidates:
            stat = _stat(store, digest)
            freed += stat.st_size if stat is not None else int(sizes.get(digest) or 0)
        deleted = candidates
    elif candidates:
        # Check again with the log current and registrations held off (a local store's
        # write lock): a version committed since the first look may name a candidate.
        store.backend.sync()
        with store._index.write():
            still = referenced_blobs(store._index)
            for digest in candidates:
                if digest not in still:
                    freed += store.backend.delete_blob(digest)
                    deleted.append(digest)
    temporaries: list[str] = []
    blobs: Any = getattr(store.backend, "blobs", None)
    if not dry_run and callable(getattr(blobs, "remove_temporaries", None)):
        temporaries = list(blobs.remove_temporaries())
    return GcReport(deleted, freed, recent, temporaries, dry_run)

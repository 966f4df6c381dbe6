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

from ._render import render

if TYPE_CHECKING:
    from ._chain import Chain

__all__ = ["GcReport", "gc"]


@attrs.frozen
class GcReport:
    """What ``gc`` deleted (or, with ``dry_run``, would delete)."""

    deleted: list[str]
    bytes_freed: int
    skipped_recent: list[str]
    temporaries: list[str]
    dry_run: bool

    def __str__(self) -> str:
        """What was deleted (the first 100 blobs), kept as recent, and tidied up."""
        return render("text", self)


def _stat(chain: Chain, digest: str) -> os.stat_result | None:
    blobs: Any = getattr(chain.backend, "blobs", None)  # a local blob folder, if any
    if blobs is None or not callable(getattr(blobs, "path", None)):
        return None
    try:
        return os.stat(blobs.path(digest))
    except OSError:
        return None


def gc(chain: Chain, *, dry_run: bool = False, grace_s: float = 3600.0) -> GcReport:
    """Delete blobs no live record references: artifacts of deleted versions, uploads
    of interrupted runs, and (local stores) leftover temporary files.

    Blobs written within ``grace_s`` seconds are kept, since a training run stores its
    artifact before the record that names it; so are blobs whose age the backend
    cannot tell, unless ``grace_s`` is 0.
    """
    if not chain.readable():
        return GcReport([], 0, [], [], dry_run)
    referenced = chain.queries.referenced_blobs()
    sizes = chain.queries.artifact_sizes()
    deleted, recent, candidates = [], [], []
    freed = 0
    now = time.time()
    for digest in sorted(set(chain.backend.blob_digests()) - referenced.keys()):
        mtime = chain.backend.blob_mtime(digest)
        if grace_s > 0 and (mtime is None or now - mtime < grace_s):
            recent.append(digest)
        else:
            candidates.append(digest)
    if dry_run:
        for digest in candidates:
            stat = _stat(chain, digest)
            freed += stat.st_size if stat is not None else int(sizes.get(digest) or 0)
        deleted = candidates
    elif candidates:
        # Check again with the log current and registrations held off (a local store's
        # write lock): a version committed since the first look may name a candidate.
        chain.sync()
        with chain.index.write():
            still = chain.queries.referenced_blobs()
            for digest in candidates:
                if digest not in still:
                    freed += chain.backend.delete_blob(digest)
                    deleted.append(digest)
    temporaries: list[str] = []
    # An optional capability: backends that stage uploads in a folder of their own.
    remove: Any = getattr(chain.backend, "remove_temporaries", None)
    if not dry_run and callable(remove):
        temporaries = list(remove())
    return GcReport(deleted, freed, recent, temporaries, dry_run)

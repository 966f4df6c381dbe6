"""Garbage collection: delete blobs that no live record references.

Retention's ``apply`` deletes the artifacts it tombstones; ``gc`` sweeps whatever is
left: artifacts of interrupted uploads and runs, blobs of versions deleted while a
blob was still shared, and (local stores) temporary files of killed writers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import attrs

from ._durations import MAX_DURATION, parse_duration
from ._errors import InvalidName
from ._render import render

if TYPE_CHECKING:
    from ._chain import Chain

__all__ = ["GcReport", "delete_unreferenced", "gc", "grace_seconds"]


@attrs.frozen
class GcReport:
    """What ``gc`` deleted (or, with ``dry_run``, would delete)."""

    deleted: list[str]
    bytes_freed: int
    skipped_recent: list[str]
    temporaries: list[str]
    dry_run: bool
    restored: list[str] = attrs.field(factory=list)
    """Blobs put back from the trash because a record names them again."""

    def __str__(self) -> str:
        """What was deleted (the first 100 blobs), kept as recent, and tidied up."""
        return render("text", self)


def grace_seconds(grace: timedelta | str | float) -> float:
    """``gc``'s grace period in seconds, from ``"1h"``, a timedelta or a number."""
    if isinstance(grace, bool) or not isinstance(grace, (int, float, str, timedelta)):
        raise InvalidName(f"grace must be a duration like '1h', not {grace!r}")
    if isinstance(grace, (int, float)):
        if not 0 <= grace <= MAX_DURATION.total_seconds():
            raise InvalidName(f"grace must be between 0 and 1000 years, not {grace!r}")
        return float(grace)
    duration = parse_duration(grace, "grace")
    if duration is None:
        raise InvalidName("grace must be a duration like '1h', not None")
    return duration.total_seconds()


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
    cannot tell, unless ``grace_s`` is 0. On a store with a trash (object storage),
    blobs an earlier ``gc`` moved there are removed for good once they have been there
    ``grace_s`` seconds, unless a record names them again: then they are put back.
    """
    chain.readable()
    empty_trash: Any = getattr(chain.backend, "empty_trash", None)  # an optional capability
    referenced = chain.queries.referenced_blobs()
    restored: list[str] = []
    if not dry_run and callable(empty_trash):
        restored = list(empty_trash(referenced, grace_s))
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
        deleted, freed, back = delete_unreferenced(chain, candidates)
        restored += back
    temporaries: list[str] = []
    # An optional capability: backends that stage uploads in a folder of their own.
    remove: Any = getattr(chain.backend, "remove_temporaries", None)
    if not dry_run and callable(remove):
        temporaries = list(remove())
    return GcReport(deleted, freed, recent, temporaries, dry_run, sorted(set(restored)))


def delete_unreferenced(chain: Chain, digests: Iterable[str]
                        ) -> tuple[list[str], int, list[str]]:
    """Delete the blobs among ``digests`` that no live record names, safely against
    writers on other machines; returns (deleted, bytes freed, put back).

    The protocol, which needs no server:

    1. sync the log, then, with registrations on this machine held off (a local store's
       write transaction, which its registrations also take), delete each blob no
       record names. On object storage "delete" moves the blob into the store's trash.
    2. sync again: a writer that found the blob present and published its version
       between step 1's sync and the move is in the log now, and its blob is put back.
    3. a writer that publishes after step 2 checks its blob after publishing (see
       ``commit``), finds it missing and puts it back from the trash or its own copy.

    Only a later ``gc``, once the grace period has passed, empties the trash.
    """
    chain.sync()  # a version of any model registered since the caller looked may name one
    deleted: list[str] = []
    freed = 0
    with chain.index.write():
        live = chain.queries.referenced_blobs()
        for digest in sorted(set(digests)):
            if digest not in live:
                freed += chain.backend.delete_blob(digest)
                deleted.append(digest)
    blobs: Any = getattr(chain.backend, "blobs", None)  # a local blob folder, if any
    if deleted and callable(getattr(blobs, "drop_materialized", None)):
        blobs.drop_materialized(deleted)  # hard links to deleted blobs would keep them
        blobs.drop_materialized()
    restored: list[str] = []
    if deleted and not chain.backend.log_in_index:
        chain.sync()
        live = chain.queries.referenced_blobs()
        sizes = chain.queries.artifact_sizes()
        for digest in [d for d in deleted if d in live]:
            chain.backend.restore_blob(digest)
            deleted.remove(digest)
            restored.append(digest)
            freed -= int(sizes.get(digest) or 0)
    return deleted, max(0, freed), restored

"""Questions about the blobs the records name: what gc must keep and verify must find.

A part of :class:`~modelver._index.queries.Queries` (a mixin over its ``index``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .packing import digest_key, pack_digest, unpack_blobs, unpack_digest, unpack_entry

if TYPE_CHECKING:
    from .db import Index

__all__ = ["CODE_BLOB_FIELDS", "BlobQueries"]

# The fields of a run's code record that name blobs in the store.
CODE_BLOB_FIELDS = ("source_digest", "module_digest", "diff_digest", "sources_digest",
                    "files_digest")

# Any digest in an entry's text (a quarantined entry's "prev" matches too: no blob has
# that name, so keeping it keeps nothing).
_ANY_DIGEST = re.compile(r"sha256:[0-9a-f]{64}", re.ASCII)
# Each run with its record (``b.value``), taken out of its entry once per row.
_RUN_RECORDS = ("FROM runs r JOIN entries e ON e.name = r.name AND e.seq = r.seq "
                "JOIN json_each(entry_json(e.data), '$.body') b ON b.key = 'run'")
_LIVE = "NOT EXISTS (SELECT 1 FROM tombstones t WHERE t.name = v.name AND t.version = v.version)"


class BlobQueries:
    """Blobs named by versions, runs (code and data snapshots) and quarantined entries."""

    index: Index

    if TYPE_CHECKING:
        def deleted(self, name: str | None = None) -> set[tuple[str, str]]:
            """(name, version) of every version retention deleted (``Queries`` has it)."""

    def live_with_digests(self, digests: Iterable[str]) -> set[tuple[str, str, str]]:
        """(name, version, digest) of live versions whose artifact is one of ``digests``."""
        out: set[tuple[str, str, str]] = set()
        for digest in sorted(set(digests)):
            out.update((n, v, digest) for n, v in self.index.query(
                "SELECT v.name, v.version FROM versions v WHERE substr(v.digest, 1, 8) = ? "
                f"AND v.digest = ? AND {_LIVE}", (digest_key(digest), pack_digest(digest))))
        return out

    def code_blobs(self) -> dict[str, str]:
        """digest → owner of every blob a run's code record names (sources, diffs)."""
        columns = ", ".join(f"json_extract(b.value, '$.code.{field}')"
                            for field in CODE_BLOB_FIELDS)
        rows = self.index.query(f"SELECT r.id, {columns} {_RUN_RECORDS}")
        out: dict[str, str] = {}
        for run_id, *digests in rows:
            for field, digest in zip(CODE_BLOB_FIELDS, digests, strict=True):
                if digest:
                    out.setdefault(digest, f"run {run_id[:8]} {field}")
        return out

    def snapshot_blobs(self) -> dict[str, str]:
        """digest → owner of every blob a run's data snapshots hold, for runs whose
        version is live (or that registered none): retention's tombstone lets a deleted
        version's data go with its artifact."""
        deleted = {f"{n}@{v}" for n, v in self.deleted()}
        rows = self.index.query(
            f"SELECT r.id, r.version, json_extract(b.value, '$.blobs') {_RUN_RECORDS}")
        out: dict[str, str] = {}
        for run_id, version, blobs in rows:
            if blobs is None or version in deleted:
                continue
            for digest in json.loads(blobs):
                out.setdefault(digest, f"run {run_id[:8]} data snapshot")
        return out

    def referenced_blobs(self, *, quarantined: bool = True) -> dict[str, str]:
        """Every blob a live record names: digest → what names it.

        With ``quarantined``, digests named in quarantined entries count too (gc must
        keep them: such an entry may be a newer modelver's version); they may also
        be data fingerprints, so ``verify`` does not expect them to exist.
        """
        refs: dict[str, str] = {}
        for n, v, d, blobs in self.index.query(
                f"SELECT v.name, v.version, v.digest, v.blobs FROM versions v WHERE {_LIVE} "
                "ORDER BY v.name, v.sort_key"):
            refs.setdefault(unpack_digest(d), f"{n}@{v}")
            for blob in unpack_blobs(blobs):
                refs.setdefault(blob, f"{n}@{v} (a file of its artifact)")
        for digest, owner in self.code_blobs().items():
            refs.setdefault(digest, owner)
        for digest, owner in self.snapshot_blobs().items():
            refs.setdefault(digest, owner)
        if not quarantined:
            return refs
        # A quarantined entry may still name blobs: keep them until it is dealt with.
        for name, seq, data in self.index.query(
                "SELECT e.name, e.seq, e.data FROM quarantine q "
                "JOIN entries e ON e.name = q.name AND e.seq = q.seq"):
            text = unpack_entry(data).decode("utf-8", "replace")
            for digest in _ANY_DIGEST.findall(text):
                refs.setdefault(digest, f"quarantined entry {name}#{seq}")
        return refs

    def artifact_sizes(self) -> dict[str, int]:
        """digest → size of every version's artifact (its files, for a manifest)."""
        return {unpack_digest(d): int(s)
                for d, s in self.index.query("SELECT digest, size FROM versions")}

"""The stat cache in a store's index: (path, size, mtime_ns, inode) → digest.

It lets an unchanged file or folder be fingerprinted again without reading it.
For remote stores the index is the machine-local cache database, which is where
a stat cache belongs anyway.
"""

from __future__ import annotations

from collections.abc import Iterable

from .db import Index

__all__ = ["IndexStatCache"]

_BATCH = 500


class IndexStatCache:
    """A :class:`modelver._fingerprint.StatCache` backed by the ``stat_cache`` table."""

    def __init__(self, index: Index) -> None:
        self.index = index

    def get(self, path: str, size: int, mtime_ns: int, inode: int) -> str | None:
        """The cached digest of a file whose stat still matches, else None."""
        row = self.index.one(
            "SELECT digest FROM stat_cache WHERE path = ? AND size = ? AND mtime_ns = ? "
            "AND inode = ?", (path, size, mtime_ns, inode))
        return None if row is None else str(row[0])

    def get_many(self, keys: Iterable[tuple[str, int, int, int]]) -> dict[str, str]:
        """Cached digests for many files at once, by path (only those whose stat matches)."""
        wanted = {k[0]: k for k in keys}
        paths = list(wanted)
        found: dict[str, str] = {}
        for i in range(0, len(paths), _BATCH):
            chunk = paths[i:i + _BATCH]
            marks = ",".join("?" * len(chunk))
            for path, size, mtime, inode, digest in self.index.query(
                f"SELECT path, size, mtime_ns, inode, digest FROM stat_cache "
                f"WHERE path IN ({marks})", chunk,
            ):
                if wanted[path][1:] == (size, mtime, inode):
                    found[path] = digest
        return found

    def put(self, path: str, size: int, mtime_ns: int, inode: int, digest: str) -> None:
        """Remember a file's digest for its current stat."""
        self.put_many([(path, size, mtime_ns, inode, digest)])

    def put_many(self, rows: Iterable[tuple[str, int, int, int, str]]) -> None:
        """Remember many digests in one transaction."""
        rows = list(rows)
        if not rows:
            return
        with self.index.write() as conn:
            conn.executemany(
                "INSERT INTO stat_cache (path, size, mtime_ns, inode, digest) VALUES "
                "(?,?,?,?,?) ON CONFLICT(path) DO UPDATE SET size = excluded.size, "
                "mtime_ns = excluded.mtime_ns, inode = excluded.inode, "
                "digest = excluded.digest", rows)

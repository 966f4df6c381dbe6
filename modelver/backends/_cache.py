"""The local blob cache of remote stores: content-addressed, size-bounded, LRU.

Blobs are shared by content across every remote store on this machine. A blob
enters the cache only after its bytes hash to its name, and ``load`` verifies the
digest again before deserializing, so a damaged cache file is never trusted.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import threading
from typing import BinaryIO

from .._blobs import BlobDir, hash_stream
from .._errors import IntegrityError, ModelverError

__all__ = ["BlobCache"]

DEFAULT_MAX_BYTES = 10 * 2**30


def _max_bytes() -> int:
    env = os.environ.get("MODELVER_CACHE_SIZE")
    if env:
        with contextlib.suppress(ValueError):
            return int(env)
    return DEFAULT_MAX_BYTES


class BlobCache:
    """Blobs downloaded from remote stores, evicted least-recently-used first."""

    def __init__(self, root: str, max_bytes: int | None = None) -> None:
        self.blobs = BlobDir(root)
        self.max_bytes = _max_bytes() if max_bytes is None else max_bytes
        self._lock = threading.Lock()

    def get(self, digest: str) -> str | None:
        """The cached file for ``digest``, marked as just used; None if absent."""
        path = self.blobs.path(digest)
        try:
            os.utime(path)
        except OSError:
            return None
        return path

    def add(self, digest: str, stream: BinaryIO) -> str:
        """Copy a downloaded stream in (verifying its digest), evict, and return the file."""
        self.blobs.put_stream(stream, expected=digest)
        self.evict(keep=digest)
        return self.blobs.path(digest)

    def temp_file(self) -> str:
        """A new empty file beside the cache's blobs, for a download to land in."""
        fd, path = tempfile.mkstemp(dir=self.staging_dir, prefix="download-")
        os.close(fd)
        return path

    @property
    def staging_dir(self) -> str:
        """The folder of :meth:`temp_file`: files written here can be adopted by a link."""
        return self.blobs.staging_dir

    def add_file(self, digest: str, path: str, *, verified: bool = False) -> str:
        """Adopt a downloaded file (from :meth:`temp_file`) if it hashes to ``digest``.

        The file is linked into place, not copied, so a large model is written to
        disk once. The temporary name is left for the caller to remove. ``verified``
        skips the hash for a file this process hashed while writing it (a registered
        model's staging file); it is not fsynced either: ``load`` verifies every cached
        blob before use and downloads a damaged one again.
        """
        if not verified:
            with open(path, "rb") as f:
                actual, _ = hash_stream(f)
                os.fsync(f.fileno())
            if actual != digest:
                raise IntegrityError(f"downloaded blob hashes to {actual}, expected {digest}; "
                                     "the remote copy is damaged: run `modelver verify`")
        final = self.blobs.path(digest)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        os.chmod(path, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        with contextlib.suppress(FileExistsError):  # another process cached it first
            os.link(path, final)
        self.evict(keep=digest)
        return final

    def _entries(self) -> list[tuple[float, int, str]]:
        """(mtime, size, digest) of every cached blob, read with one scandir per folder."""
        out = []
        base = os.path.join(self.blobs.root, "sha256")
        with contextlib.suppress(FileNotFoundError):
            for sub in os.scandir(base):
                if len(sub.name) != 2 or not sub.is_dir():
                    continue
                with contextlib.suppress(FileNotFoundError):
                    for f in os.scandir(sub.path):
                        with contextlib.suppress(OSError):
                            st = f.stat()
                            out.append((st.st_mtime, st.st_size, f"sha256:{sub.name}{f.name}"))
        return out

    def evict(self, keep: str | None = None) -> int:
        """Delete least-recently-used blobs until the cache fits; returns bytes freed."""
        with self._lock:
            files = self._entries()
            total = sum(f[1] for f in files)
            freed = 0
            for _, size, digest in sorted(files):
                if total <= self.max_bytes:
                    break
                if digest == keep:
                    continue
                with contextlib.suppress(ModelverError):  # a stray file, not a blob
                    freed += self.blobs.delete(digest)
                total -= size
            if freed:  # a materialized copy linking an evicted blob would keep its bytes
                self.blobs.drop_materialized()
            return freed

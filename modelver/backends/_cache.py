"""The local blob cache of remote stores: content-addressed, size-bounded, LRU.

Blobs are shared by content across every remote store on this machine. A blob
enters the cache only after its bytes hash to its name, and ``load`` verifies the
digest again before deserializing, so a damaged cache file is never trusted.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import BinaryIO

from .._blobs import BlobDir

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

    def evict(self, keep: str | None = None) -> int:
        """Delete least-recently-used blobs until the cache fits; returns bytes freed."""
        with self._lock:
            files = []
            for digest in self.blobs.digests():
                with contextlib.suppress(OSError):
                    st = os.stat(self.blobs.path(digest))
                    files.append((st.st_mtime, st.st_size, digest))
            total = sum(f[1] for f in files)
            freed = 0
            for _, size, digest in sorted(files):
                if total <= self.max_bytes:
                    break
                if digest == keep:
                    continue
                freed += self.blobs.delete(digest)
                total -= size
            return freed

"""Backends: where a store's log and blobs live, chosen by URL scheme.

Every backend implements :class:`Backend`, a deliberately small protocol: append
entries to a model's chain atomically, read the chain back, keep the SQLite index
current, and put/get blobs by digest. All policy (versions, references, aliases,
retention) lives in :class:`modelver.Store` above it. Every backend passes the
same contract test suite (``tests/test_backend_contract.py``).

The registry maps schemes to factories; it is mutable through :func:`register_backend`
and read-only to everyone else.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, BinaryIO, Protocol

from .._errors import StoreError
from .._index import Index
from .._log import Draft, Entry

__all__ = ["Backend", "available", "open_backend", "register_backend"]

Build = Callable[[Index], Draft]


class Backend(Protocol):
    """The narrow I/O boundary under a store."""

    uri: str
    """The URI the backend was opened from."""

    @property
    def index(self) -> Index:
        """The SQLite index of this store (created on first use)."""

    def exists(self) -> bool:
        """Whether anything has been written to this store yet."""

    def sync(self, name: str | None = None) -> None:
        """Bring the index up to date with the log (a no-op where the index is the log)."""

    def append(self, name: str, build: Build) -> Entry:
        """Atomically append the draft ``build(index)`` returns to the chain of ``name``.

        ``build`` runs with the index current and may be called again if another
        writer won a race; it raises to abort without writing anything.
        """

    def log(self, name: str) -> Iterator[Entry]:
        """The authoritative chain of ``name``, oldest first, as stored."""

    def log_names(self) -> list[str]:
        """Names of every model that has a chain."""

    def put_file(self, path: str) -> tuple[str, int]:
        """Store a file's bytes as a blob; returns (digest, size)."""

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store bytes as a blob; returns (digest, size)."""

    def has_blob(self, digest: str) -> bool:
        """Whether a blob is present."""

    def open_blob(self, digest: str) -> BinaryIO:
        """Open a blob for reading (from a local copy where the backend is remote)."""

    def blob_path(self, digest: str) -> str:
        """A local file holding the blob's bytes (downloaded to the cache if remote)."""

    def delete_blob(self, digest: str) -> int:
        """Delete a blob; returns the bytes freed."""

    def blob_digests(self) -> Iterator[str]:
        """Every stored blob."""

    def rehash_blob(self, digest: str) -> str:
        """The actual sha256 of a stored blob, read from the backend itself."""

    def discard_cached(self, digest: str) -> bool:
        """Drop this machine's cached copy of a blob; False where there is no cache."""

    def close(self) -> None:
        """Release connections and files."""


Factory = Callable[[str, Mapping[str, Any]], Backend]
_REGISTRY: dict[str, Factory] = {}
_HINTS = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs",
          "abfs": "adlfs"}
available: Mapping[str, Factory] = MappingProxyType(_REGISTRY)


def register_backend(scheme: str, factory: Factory) -> None:
    """Register a backend factory for a URL scheme (overriding any earlier one)."""
    _REGISTRY[scheme] = factory


def _scheme(uri: str) -> str:
    return uri.split("://", 1)[0].lower() if "://" in uri else ""


def open_backend(uri: str, storage_options: Mapping[str, Any] | None = None) -> Backend:
    """Open the backend for ``uri``: a local path, ``sqlite:///…``, or an fsspec URL."""
    _register_builtin()
    if not isinstance(uri, str) or not uri:
        raise StoreError(f"a store URI must be a non-empty string, not {uri!r}")
    scheme = _scheme(uri)
    options = dict(storage_options or {})
    if scheme in ("", "sqlite"):
        return _REGISTRY["sqlite"](uri, options)
    if scheme in _REGISTRY:
        return _REGISTRY[scheme](uri, options)
    if "fsspec" in _REGISTRY:
        return _REGISTRY["fsspec"](uri, options)
    raise StoreError(f"no backend for {uri!r}")


def _register_builtin() -> None:
    if "sqlite" in _REGISTRY:
        return
    from .local import LocalBackend

    register_backend("sqlite", LocalBackend.from_uri)
    try:
        from .remote import RemoteBackend
    except ImportError:  # pragma: no cover - the remote backend ships with the package
        return
    register_backend("fsspec", RemoteBackend.from_uri)


def missing_backend_hint(scheme: str) -> str:
    """A "pip install X" hint for an fsspec protocol whose package is not installed."""
    pkg = _HINTS.get(scheme)
    return f"; install it with: pip install {pkg}" if pkg else ""


def default_cache_dir() -> str:
    """``MODELVER_CACHE`` or the user's cache folder."""
    env = os.environ.get("MODELVER_CACHE")
    if env:
        return env
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "modelver")

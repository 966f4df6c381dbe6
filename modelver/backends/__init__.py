"""Backends: where a store's log and blobs live, chosen by URL scheme.

Every backend implements :class:`Backend`, a deliberately small protocol, "log +
blobs": append an entry to a model's chain with an exclusive create, read a chain
back, list the chains, and put/open/has/delete/iterate blobs by digest. The read
model (the SQLite tables that queries run on) belongs to the
:class:`~modelver.Store` above; a backend only says where that database lives
(:meth:`Backend.open_index`). All policy (versions, references, aliases, retention)
lives above it too. Every backend passes the same contract test suite,
:mod:`modelver.testing`.

Backends are found by scheme in a registry of import strings
(:func:`register_backend`), so importing this package imports none of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO, Protocol

from .._errors import StoreError
from .._index import Index
from .._log import Entry
from ._registry import BackendSpec, available, register_backend, resolve_backend, scheme_of

__all__ = ["Backend", "BackendSpec", "available", "open_backend", "register_backend"]


class Backend(Protocol):
    """The narrow I/O boundary under a store: a log and blobs."""

    uri: str
    """The URI the backend was opened from."""

    @property
    def log_in_index(self) -> bool:
        """True when the log is the ``entries`` table of :meth:`open_index`'s database
        itself (a local SQLite store): the store then appends inside that database's
        write transaction, and there is never anything to replay."""

    def open_index(self) -> Index:
        """The database the store keeps its read model in (created on first use): the
        registry database itself, or a machine-local replica of a remote log."""

    def exists(self) -> bool:
        """Whether anything has been written to this store yet (a remote one that
        cannot be reached raises ``ConnectionError``)."""

    def create(self) -> None:
        """Make the store exist, empty (a first write does so too)."""

    def append(self, entry: Entry) -> bool:
        """Create ``entry`` at its place in its chain, exclusively.

        True when it was created (or a retried request of this call created it);
        False when that place holds another entry: a concurrent writer won, and the
        caller syncs and builds again. Nothing is ever overwritten.
        """

    def log(self, name: str, after: int = 0) -> Iterator[Entry]:
        """The entries of ``name`` after sequence number ``after``, oldest first,
        stopping at the first missing one (what a replica replays)."""

    def scan(self, name: str) -> Iterator[Entry]:
        """Every stored entry of ``name`` as listed, gaps and all (what ``verify`` audits)."""

    def log_names(self) -> list[str]:
        """Names of every model that has a chain."""

    @property
    def staging_dir(self) -> str:
        """A local folder for files about to become blobs (same filesystem as the
        blobs where they are local, so publishing one is a link, not a copy)."""

    def put_file(self, path: str, *, digest: str | None = None,
                 move: bool = False) -> tuple[str, int]:
        """Store a file's bytes as a blob; returns (digest, size). A ``digest`` from a
        caller that hashed the file while writing it is trusted; ``move`` lets the
        backend take the file instead of copying it."""

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store bytes as a blob; returns (digest, size)."""

    def has_blob(self, digest: str) -> bool:
        """Whether a blob is present."""

    def open_blob(self, digest: str) -> BinaryIO:
        """Open a blob for reading (from a local copy where the backend is remote)."""

    def blob_path(self, digest: str) -> str:
        """A local file holding the blob's bytes (downloaded to the cache if remote)."""

    def discard_cached(self, digest: str) -> bool:
        """Drop this machine's cached copy of a blob; False where there is no cache."""

    def delete_blob(self, digest: str) -> int:
        """Delete a blob; returns the bytes freed. A backend whose writers do not share
        a lock with gc (object storage) moves it into a trash instead, from which
        :meth:`restore_blob` can put it back."""

    def restore_blob(self, digest: str) -> bool:
        """Make sure a blob that a just-published entry names is present, putting it
        back if a concurrent gc deleted it; False when it is gone for good."""

    def blob_digests(self) -> Iterator[str]:
        """Every stored blob."""

    def blob_mtime(self, digest: str) -> float | None:
        """When a blob was last written (POSIX time), or None when that is unknown."""

    def rehash_blob(self, digest: str) -> str:
        """The actual sha256 of a stored blob, read from the backend itself."""

    def close(self) -> None:
        """Release connections and files."""


def open_backend(uri: str, storage_options: Mapping[str, Any] | None = None) -> Backend:
    """Open the backend for ``uri``: a local path, ``sqlite:///…``, or an fsspec URL."""
    if not isinstance(uri, str) or not uri or "\0" in uri:
        raise StoreError(f"a store URI must be a non-empty string, not {uri!r}")
    if storage_options is not None and not isinstance(storage_options, Mapping):
        raise StoreError("storage_options must be a mapping of fsspec options, not "
                         f"{type(storage_options).__name__}")
    cls, _ = resolve_backend(scheme_of(uri))
    backend: Backend = cls.from_uri(uri, dict(storage_options or {}))
    return backend

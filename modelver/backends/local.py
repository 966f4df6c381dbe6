"""The local backend: records in a SQLite file, blobs in a content-addressed folder.

``./.modelver`` holds ``registry.db`` and ``objects/``; ``sqlite:///path/reg.db``
keeps its blobs in ``path/reg.objects/`` beside the database file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO
from urllib.parse import unquote, urlparse

from .._blobs import BlobDir
from .._errors import StoreError
from .._index import Index
from .._log import Entry, seal
from .._user import current_user
from . import Build

__all__ = ["LocalBackend"]


class LocalBackend:
    """A SQLite registry whose ``entries`` table is the log itself."""

    def __init__(self, db_path: str, objects: str, uri: str) -> None:
        self.uri = uri
        self.db_path = db_path
        self.blobs = BlobDir(objects)
        self._index: Index | None = None

    @classmethod
    def from_uri(cls, uri: str, options: Mapping[str, Any]) -> LocalBackend:
        """Open ``sqlite:///path.db``, ``file``-less paths, or a ``.modelver`` folder."""
        if options:
            raise StoreError("storage_options apply only to fsspec URLs, not a local store")
        if uri.startswith("sqlite:"):
            path = unquote(urlparse(uri).path)
            if not path or path.endswith("/"):
                raise StoreError(f"{uri!r} names no database file: use sqlite:///path/registry.db")
            stem = os.path.splitext(path)[0]
            objects = os.path.join(os.path.dirname(path), "objects") if os.path.basename(
                path) == "registry.db" else stem + ".objects"
            return cls(os.path.abspath(path), os.path.abspath(objects), uri)
        root = os.path.abspath(os.path.expanduser(uri))
        return cls(os.path.join(root, "registry.db"), os.path.join(root, "objects"), uri)

    @property
    def index(self) -> Index:
        """The registry database, opened (and created) on first use."""
        if self._index is None:
            self._index = Index(self.db_path)
        return self._index

    def exists(self) -> bool:
        """Whether the registry database exists."""
        return self._index is not None or os.path.exists(self.db_path)

    def sync(self, name: str | None = None) -> None:
        """Nothing to do: the index is the log."""

    def append(self, name: str, build: Build) -> Entry:
        """Append under ``BEGIN IMMEDIATE``: the read in ``build`` and the write are one."""
        index = self.index
        by = current_user()
        with index.write():
            draft = build(index)
            seq, prev = index.head(name)
            entry = seal(name, seq + 1, prev, draft, by)
            index.add(entry)
            return entry

    def log(self, name: str) -> Iterator[Entry]:
        """The stored chain of ``name``."""
        return self.index.entries(name)

    def log_names(self) -> list[str]:
        """Every name with entries in the log."""
        return [r[0] for r in self.index.query("SELECT DISTINCT name FROM entries ORDER BY name")]

    def put_file(self, path: str) -> tuple[str, int]:
        """Copy a file into the blob folder."""
        return self.blobs.put_file(path)

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Write bytes into the blob folder."""
        return self.blobs.put_bytes(data)

    def has_blob(self, digest: str) -> bool:
        """Whether the blob file exists."""
        return self.blobs.has(digest)

    def open_blob(self, digest: str) -> BinaryIO:
        """Open the blob file."""
        return self.blobs.open(digest)

    def blob_path(self, digest: str) -> str:
        """The blob file's path."""
        return self.blobs.path(digest)

    def delete_blob(self, digest: str) -> int:
        """Delete the blob file."""
        return self.blobs.delete(digest)

    def blob_digests(self) -> Iterator[str]:
        """Every blob in the folder."""
        return self.blobs.digests()

    def rehash_blob(self, digest: str) -> str:
        """Re-hash the blob file."""
        return self.blobs.rehash(digest)

    def discard_cached(self, digest: str) -> bool:
        """A local store has no cache: its blob folder is the store itself."""
        return False

    def close(self) -> None:
        """Close the database connection."""
        if self._index is not None:
            self._index.close()
            self._index = None

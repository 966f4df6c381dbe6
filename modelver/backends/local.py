"""The local backend: records in a SQLite file, blobs in a content-addressed folder.

``./.modelver`` holds ``registry.db`` and ``objects/``; ``sqlite:///path/reg.db``
keeps its blobs in ``path/reg.objects/`` beside the database file.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO

from .._blobs import BlobDir
from .._errors import IntegrityError, StoreError
from .._index import Index, Queries
from .._log import Entry

__all__ = ["LocalBackend"]


class LocalBackend:
    """A SQLite registry whose ``entries`` table is the log itself."""

    def __init__(self, db_path: str, objects: str, uri: str) -> None:
        self.uri = uri
        self.db_path = db_path
        self.blobs = BlobDir(objects)
        self._index: Index | None = None
        self._index_lock = threading.Lock()  # one database connection, whichever thread asks

    @classmethod
    def from_uri(cls, uri: str, options: Mapping[str, Any]) -> LocalBackend:
        """Open ``sqlite:///path.db``, ``file``-less paths, or a ``.modelver`` folder."""
        if options:
            raise StoreError("storage_options apply only to fsspec URLs, not a local store")
        if uri.startswith("sqlite:"):
            from urllib.parse import unquote, urlparse

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
    def log_in_index(self) -> bool:
        """The log is the registry database's ``entries`` table."""
        return True

    def open_index(self) -> Index:
        """The registry database, opened (and created) on first use."""
        with self._index_lock:
            if self._index is None:
                self._index = Index(self.db_path)
        return self._index

    def exists(self) -> bool:
        """Whether the registry database exists."""
        return self._index is not None or os.path.exists(self.db_path)

    def create(self) -> None:
        """Make the store exist: create the registry database."""
        self.open_index()

    def append(self, entry: Entry) -> bool:
        """Insert the entry (and its derived rows) unless its place is taken.

        Inside the store's write transaction this is a savepoint of it; alone, its own
        ``BEGIN IMMEDIATE``.
        """
        index = self.open_index()
        try:
            with index.write():
                index.add(entry)
        except IntegrityError:
            if Queries(index).entry_hash(entry.name, entry.seq) == entry.hash:
                return True  # a retried append of this very entry
            seq, _ = Queries(index).head(entry.name)
            if seq >= entry.seq:
                return False
            raise
        return True

    def log(self, name: str, after: int = 0) -> Iterator[Entry]:
        """The stored chain of ``name`` after ``after``."""
        return Queries(self.open_index()).entries(name, after=after)

    def scan(self, name: str) -> Iterator[Entry]:
        """Every stored entry of ``name``."""
        return Queries(self.open_index()).entries(name)

    def log_names(self) -> list[str]:
        """Every name with entries in the log."""
        return Queries(self.open_index()).log_names()

    def put_file(self, path: str, *, digest: str | None = None,
                 move: bool = False) -> tuple[str, int]:
        """Copy (or, with ``move``, link) a file into the blob folder; a ``digest``
        given by the caller, who hashed the file while writing it, is trusted."""
        return self.blobs.put_file(path, digest=digest, move=move)

    @property
    def staging_dir(self) -> str:
        """A folder beside the blobs for temporary files about to become blobs."""
        return self.blobs.staging_dir

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

    def restore_blob(self, digest: str) -> bool:
        """Whether the blob is present: gc deletes only inside the write transaction
        that registrations also take, so a registered blob is never deleted under them."""
        return self.blobs.has(digest)

    def blob_digests(self) -> Iterator[str]:
        """Every blob in the folder."""
        return self.blobs.digests()

    def rehash_blob(self, digest: str) -> str:
        """Re-hash the blob file."""
        return self.blobs.rehash(digest)

    def discard_cached(self, digest: str) -> bool:
        """A local store has no cache: its blob folder is the store itself."""
        return False

    def blob_mtime(self, digest: str) -> float | None:
        """The blob file's modification time (``put`` of an existing blob refreshes it)."""
        try:
            return os.stat(self.blobs.path(digest)).st_mtime
        except OSError:
            return None

    def remove_temporaries(self, older_than_s: float = 3600.0) -> list[str]:
        """Delete temporary files of killed writers in the blob folder; their paths."""
        return self.blobs.remove_temporaries(older_than_s)

    def close(self) -> None:
        """Close the database connection."""
        if self._index is not None:
            self._index.close()
            self._index = None

"""The blob half of the remote backend: content-addressed artifacts on fsspec,
uploaded before any entry names them and cached locally on first download."""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import time
import uuid
from collections.abc import Container, Iterator
from datetime import datetime
from typing import Any, BinaryIO

from .._blobs import check_digest, hash_stream, is_digest
from .._errors import NotFound, StoreError
from ._cache import BlobCache
from ._exclusive import create_exclusive
from ._transport import progress as _progress
from ._transport import protocols as _protocols
from ._transport import unreachable_as as _unreachable_as

__all__ = ["SMALL_BLOB", "RemoteBlobs"]

SMALL_BLOB = 1 << 20  # uploaded with put-if-absent directly, without asking first


class RemoteBlobs:
    """Blob operations of :class:`~modelver.backends.remote.RemoteBackend`."""

    fs: Any
    root: str
    uri: str
    cache: BlobCache

    def _p(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def _check_writable(self) -> None:  # pragma: no cover - RemoteBackend overrides it
        raise NotImplementedError

    def _blob_key(self, digest: str) -> str:
        hexd = check_digest(digest)[7:]
        return self._p("blobs", "sha256", hexd[:2], hexd[2:])

    @property
    def staging_dir(self) -> str:
        """A local folder (in this machine's blob cache) for files about to be uploaded.

        A file staged here and put with ``move=True`` becomes the cached copy by a hard
        link, so the first load after a register is not a download.
        """
        return self.cache.staging_dir

    def put_file(self, path: str, *, digest: str | None = None,
                 move: bool = False) -> tuple[str, int]:
        """Upload a local file (streamed) unless the store has it already.

        ``digest`` is trusted as the file's sha256 (pass it only for a file this process
        hashed while writing it, in :attr:`staging_dir`); without it the file is hashed
        first. ``move=True`` hands the file over: it becomes this machine's cached copy
        of the blob where it can be linked there, and the name ``path`` is removed.
        """
        self._check_writable()
        try:
            try:
                before = os.stat(path)
                if digest is None:
                    with open(path, "rb") as f:
                        digest, size = hash_stream(f)
                else:
                    check_digest(digest)
                    size = before.st_size
            except OSError as exc:
                raise StoreError(f"cannot read {path!r}: {exc}") from None
            self._upload(path, digest, before)
            if move:
                with contextlib.suppress(OSError):  # a cache on another filesystem
                    self.cache.add_file(digest, path, verified=True)
            return digest, size
        finally:
            if move:
                with contextlib.suppress(OSError):
                    os.unlink(path)

    def _upload(self, path: str, digest: str, before: os.stat_result) -> None:
        with _unreachable_as(StoreError, f"cannot upload to {self.uri!r}"):
            if before.st_size <= SMALL_BLOB:
                # One request: put-if-absent (an existing blob holds the same bytes).
                with open(path, "rb") as f:
                    data = f.read(SMALL_BLOB + 1)
                if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
                    raise StoreError(f"{path!r} changed while it was being uploaded; "
                                     "register it again once it is complete")
                create_exclusive(self.fs, self._blob_key(digest), data)
                return
            if self.has_blob(digest):
                return
            key = self._blob_key(digest)
            if {"file", "local"} & _protocols(self.fs):
                tmp = self._p("tmp", uuid.uuid4().hex)
                self.fs.makedirs(posixpath.dirname(tmp), exist_ok=True)
                with _progress(f"uploading {digest[:19]}") as callback:
                    self.fs.put_file(path, tmp, callback=callback)
                self.fs.makedirs(posixpath.dirname(key), exist_ok=True)
                self.fs.mv(tmp, key)
            else:
                with _progress(f"uploading {digest[:19]}") as callback:
                    self.fs.put_file(path, key, callback=callback)
            after = os.stat(path)
            if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
                # The file changed between hashing and uploading: the bytes under
                # this digest may be others. Take them back and say so.
                with contextlib.suppress(FileNotFoundError):
                    self.fs.rm_file(key)
                raise StoreError(f"{path!r} changed while it was being uploaded; "
                                 "register it again once it is complete")

    def remove_temporaries(self, older_than_s: float = 3600.0) -> list[str]:
        """Delete temporary uploads (``tmp/``) that killed writers left behind, once
        they are older than ``older_than_s``; returns their paths."""
        removed: list[str] = []
        with _unreachable_as(StoreError, f"cannot clean up {self.uri!r}"):
            try:
                listed = self.fs.ls(self._p("tmp"), detail=True, refresh=True)
            except FileNotFoundError:
                return removed
            now = time.time()
            for info in listed:
                modified = _mtime(info)
                if info.get("type") == "file" and modified is not None and \
                        now - modified > older_than_s:
                    with contextlib.suppress(FileNotFoundError):
                        self.fs.rm_file(info["name"])
                        removed.append(str(info["name"]))
        return removed

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Upload bytes unless the store has them already.

        Small blobs go up with put-if-absent in one request (an existing blob holds the
        same bytes); large ones are looked for first, so they are never sent twice.
        """
        self._check_writable()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        with _unreachable_as(StoreError, f"cannot upload to {self.uri!r}"):
            if len(data) <= SMALL_BLOB or not self.has_blob(digest):
                create_exclusive(self.fs, self._blob_key(digest), data)
        return digest, len(data)

    def has_blob(self, digest: str) -> bool:
        """Whether the store holds the blob (asked of the store, not a cached listing)."""
        try:
            self.fs.info(self._blob_key(digest), refresh=True)
        except FileNotFoundError:
            return False
        return True

    def blob_path(self, digest: str) -> str:
        """The cached copy of a blob, downloaded (and verified) on first use."""
        cached = self.cache.get(digest)
        if cached is not None:
            return cached
        tmp = self.cache.temp_file()
        try:
            with _unreachable_as(StoreError, f"cannot download {digest} from {self.uri!r}"):
                for key in [self._blob_key(digest), *self._trashed(digest)]:
                    try:  # one GET for a small blob (open() would ask for its size first)
                        with _progress(f"downloading {digest[:19]}") as callback:
                            self.fs.get_file(key, tmp, callback=callback)
                        break
                    except FileNotFoundError:
                        continue  # moved aside by a gc racing a registration: the trash
                else:
                    raise NotFound(f"artifact {digest} is missing from {self.uri!r}; run "
                                   "`modelver verify`")
            return self.cache.add_file(digest, tmp)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def blob_mtime(self, digest: str) -> float | None:
        """When the store last wrote a blob (its object's modification time), for gc."""
        try:
            with _unreachable_as(StoreError, f"cannot reach {self.uri!r}"):
                info = self.fs.info(self._blob_key(digest), refresh=True)
        except FileNotFoundError:
            return None
        return _mtime(info)

    def discard_cached(self, digest: str) -> bool:
        """Drop this machine's cached copy of a blob (say, after it failed its digest
        check), so the next :meth:`blob_path` downloads it again. True if one was there."""
        return self.cache.blobs.delete(digest) > 0

    def open_blob(self, digest: str) -> BinaryIO:
        """Open the cached copy of a blob."""
        return open(self.blob_path(digest), "rb")

    def delete_blob(self, digest: str) -> int:
        """Move a blob into the store's trash (``trash/<hex>.<unix time>``) and drop this
        machine's cached copy; returns its size.

        The trash is what makes gc safe without a server: a writer that published a
        version naming the blob meanwhile puts it back (:meth:`restore_blob`), and only
        a later gc empties the trash once its grace period has passed
        (:meth:`empty_trash`). Loads find a blob in the trash too.
        """
        key = self._blob_key(digest)
        with _unreachable_as(StoreError, f"cannot delete {digest} from {self.uri!r}"):
            try:
                size = int(self.fs.info(key, refresh=True).get("size") or 0)
                self._move(key, self._p("trash", f"{digest[7:]}.{int(time.time())}"))
            except FileNotFoundError:
                size = 0
        self.cache.blobs.delete(digest)
        return size

    def _move(self, src: str, dst: str) -> None:
        """Rename an object (a copy and a delete on object storage); a missing ``src``
        raises ``FileNotFoundError``."""
        if {"file", "local"} & _protocols(self.fs):
            self.fs.makedirs(posixpath.dirname(dst), exist_ok=True)
        self.fs.mv(src, dst)

    def _trashed(self, digest: str) -> list[str]:
        """Keys of the blob's copies in the trash, newest first."""
        prefix = check_digest(digest)[7:] + "."
        found = [k for k in self._trash() if posixpath.basename(k).startswith(prefix)]
        return sorted(found, key=_trashed_at, reverse=True)

    def _trash(self) -> list[str]:
        """A fresh listing of the trash's keys (none when there is no trash yet)."""
        try:
            return [str(k) for k in self.fs.ls(self._p("trash"), detail=False, refresh=True)]
        except FileNotFoundError:
            return []

    def restore_blob(self, digest: str) -> bool:
        """Make sure a blob that a just-published entry names is in the store.

        It is put back from the trash when a concurrent gc moved it there, else
        uploaded again from this machine's cached copy. True when the blob is present
        afterwards; False when it is gone everywhere.
        """
        with _unreachable_as(StoreError, f"cannot reach {self.uri!r}"):
            if self.has_blob(digest):
                return True
            key = self._blob_key(digest)
            for trashed in self._trashed(digest):
                try:
                    self._move(trashed, key)
                except FileNotFoundError:
                    continue  # another writer (or gc) put this copy back first
                return True
            if self.has_blob(digest):
                return True
            cached = self.cache.get(digest)
            if cached is None:
                return False
            self._upload(cached, digest, os.stat(cached))
            return True

    def empty_trash(self, referenced: Container[str], older_than_s: float = 3600.0
                    ) -> list[str]:
        """Delete the blobs in the trash for good once they have been there
        ``older_than_s`` seconds, except those in ``referenced`` (a current sync of the
        log): those are put back. Returns the digests put back."""
        restored: list[str] = []
        with _unreachable_as(StoreError, f"cannot clean up {self.uri!r}"):
            now = time.time()
            for key in sorted(self._trash()):
                digest = "sha256:" + posixpath.basename(key).split(".", 1)[0]
                if not is_digest(digest):
                    continue  # not a trashed blob: leave it alone
                if digest in referenced and not self.has_blob(digest):
                    with contextlib.suppress(FileNotFoundError):
                        self._move(key, self._blob_key(digest))
                        restored.append(digest)
                elif digest in referenced or now - _trashed_at(key) >= older_than_s:
                    with contextlib.suppress(FileNotFoundError):
                        self.fs.rm_file(key)  # a spare copy, or old enough to go
        return restored

    def blob_digests(self) -> Iterator[str]:
        """Every blob in the store."""
        with _unreachable_as(StoreError, f"cannot list the blobs of {self.uri!r}"):
            try:
                files = self.fs.find(self._p("blobs", "sha256"))
            except FileNotFoundError:
                return
        for f in sorted(files):
            parts = f.rstrip("/").split("/")
            digest = f"sha256:{parts[-2]}{parts[-1]}"
            if len(parts[-2]) == 2 and len(digest) == 71:
                yield digest

    def rehash_blob(self, digest: str) -> str:
        """Hash a blob's bytes as the store holds them."""
        with _unreachable_as(StoreError, f"cannot read {digest} from {self.uri!r}"), \
                self.fs.open(self._blob_key(digest), "rb") as f:
            return hash_stream(f)[0]


def _trashed_at(key: str) -> float:
    """When a blob was moved into the trash, from its key ``trash/<hex>.<unix time>``."""
    try:
        return float(key.rsplit(".", 1)[1])
    except (IndexError, ValueError):
        return 0.0


def _mtime(info: dict[str, Any]) -> float | None:
    """A listing entry's modification time (each fsspec filesystem names it its way)."""
    for field in ("LastModified", "mtime", "last_modified", "created", "updated"):
        value = info.get(field)
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, (int, float)):
            return float(value)
    return None

"""A content-addressed folder of blobs: ``objects/sha256/ab/cdef…``.

A blob is hashed while it is written to a temporary file in the same folder,
fsynced, then published under its digest with ``os.link`` — so a killed writer
never leaves a partial file under a final name — and made read-only.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import re
import stat
from collections.abc import Iterator
from typing import BinaryIO

from ._errors import IntegrityError, InvalidName, NotFound, StoreError
from ._names import safe_join

__all__ = ["BlobDir", "check_digest", "hash_stream", "is_digest"]

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}", re.ASCII)
CHUNK = 1 << 20


def is_digest(text: object) -> bool:
    """Whether ``text`` is ``sha256:<64 lowercase hex>``."""
    return isinstance(text, str) and _DIGEST.fullmatch(text) is not None


def check_digest(digest: str) -> str:
    """Return ``digest`` if it is ``sha256:<64 lowercase hex>``, else raise ``InvalidName``."""
    if not is_digest(digest):
        raise InvalidName(f"invalid digest {digest!r}: expected 'sha256:' and 64 hex digits")
    return digest


def hash_stream(f: BinaryIO, sink: BinaryIO | None = None) -> tuple[str, int]:
    """sha256 of a stream read into a page-aligned buffer, optionally copied to ``sink``."""
    h = hashlib.sha256()
    size = 0
    with mmap.mmap(-1, CHUNK) as buf:
        view = memoryview(buf)
        try:
            while n := f.readinto(view):  # type: ignore[attr-defined]
                with view[:n] as chunk:
                    h.update(chunk)
                    if sink is not None:
                        sink.write(chunk)
                size += n
        finally:
            view.release()
    return "sha256:" + h.hexdigest(), size


def _open_source(path: str) -> BinaryIO:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise StoreError(f"cannot read {path!r}: {exc}") from None


def _orphaned(folder: str) -> bool:
    """Whether a materialized folder holds a file no blob links to any more."""
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                if os.lstat(os.path.join(root, name)).st_nlink < 2:
                    return True
    return False


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError as exc:
        raise StoreError(f"cannot read {path!r}: {exc}") from None


def _link(src: str, final: str) -> None:
    """Hard-link ``src`` as ``final``, creating its shard folder the first time (most
    shards exist: trying the link first saves a ``mkdir`` per blob)."""
    try:
        os.link(src, final)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(final), exist_ok=True)
        os.link(src, final)


class BlobDir:
    """Blobs in a local folder, named by their sha256."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._shards = safe_join(root, "sha256")

    def path(self, digest: str) -> str:
        """Where the blob with this digest lives (it may not exist)."""
        hexd = check_digest(digest)[7:]
        # A checked digest is 64 hex digits: joined under the resolved root, it cannot
        # escape it (no realpath per call: a registration asks for a dozen paths).
        return os.path.join(self._shards, hexd[:2], hexd[2:])

    def has(self, digest: str) -> bool:
        """Whether the blob is present."""
        return os.path.exists(self.path(digest))

    @property
    def staging_dir(self) -> str:
        """``<root>/tmp``: where files about to become blobs are written (created on demand).

        It is on the blobs' filesystem, so a staged file is published by a hard link.
        """
        folder = os.path.join(self.root, "tmp")
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot write to the blob folder {self.root!r}: {exc}") from None
        return folder

    def put_file(self, src: str, *, digest: str | None = None,
                 move: bool = False) -> tuple[str, int]:
        """Store a file's bytes; returns their digest and size.

        By default the file is copied in and hashed while copied. ``digest`` is trusted
        as the file's sha256: pass it only for a file this process hashed while writing
        it (a file in :attr:`staging_dir`). ``move=True`` publishes ``src`` itself, by a
        hard link under its digest, and removes the name ``src`` (``src`` must not be
        written to afterwards); without ``digest`` it is hashed first. An existing blob
        is the same bytes: it is kept and touched, and ``src`` is dropped.
        """
        if not move:
            if digest is not None and self.has(digest):
                self.touch(digest)
                return digest, _size(src)
            with _open_source(src) as f:
                return self.put_stream(f, expected=digest)
        try:
            with open(src, "rb") as f:
                if digest is None:
                    digest = hash_stream(f)[0]
                size = os.fstat(f.fileno()).st_size
                final = self.path(digest)
                if not os.path.exists(final):
                    os.fsync(f.fileno())
                    os.chmod(src, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
                    try:
                        _link(src, final)  # atomic publish
                    except FileExistsError:  # another writer published the same bytes
                        pass
                    except OSError:  # another filesystem, or no hard links: copy it
                        f.seek(0)
                        return self.put_stream(f, expected=digest)
                    else:
                        return digest, size
            self.touch(digest)
            return digest, size
        except StoreError:
            raise
        except OSError as exc:
            raise StoreError(f"cannot store {src!r} in the blob folder {self.root!r}: "
                             f"{exc}") from None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(src)

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store bytes; returns their digest and size."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if self.has(digest):
            self.touch(digest)
            return digest, len(data)
        import io

        return self.put_stream(io.BytesIO(data))

    def put_stream(self, f: BinaryIO, expected: str | None = None) -> tuple[str, int]:
        """Hash a stream while writing it to a temporary file, then publish it by digest."""
        try:
            import tempfile  # writers only

            fd, tmp = tempfile.mkstemp(dir=self.staging_dir, prefix="blob-")
        except OSError as exc:
            raise StoreError(f"cannot write to the blob folder {self.root!r}: {exc}") from None
        try:
            with os.fdopen(fd, "wb") as out:
                digest, size = hash_stream(f, out)
                out.flush()
                os.fsync(out.fileno())
            if expected is not None and digest != expected:
                raise IntegrityError(f"blob content hashes to {digest}, expected {expected}")
            final = self.path(digest)
            try:
                os.chmod(tmp, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
                _link(tmp, final)  # atomic publish
            except FileExistsError:  # an existing blob is the same bytes
                self.touch(digest)
            return digest, size
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def touch(self, digest: str) -> None:
        """Mark a blob as just written, so ``gc``'s grace period covers its new user."""
        with contextlib.suppress(OSError):
            os.utime(self.path(digest))

    def open(self, digest: str) -> BinaryIO:
        """Open a blob for reading; ``NotFound`` if it is missing."""
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise NotFound(f"artifact {digest} is missing from {self.root!r}; "
                           "run `modelver verify` to check the store") from None

    def delete(self, digest: str) -> int:
        """Delete a blob; returns the bytes freed (0 if it was absent)."""
        path = self.path(digest)
        try:
            size = os.stat(path).st_size
            os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
            os.unlink(path)
        except FileNotFoundError:
            return 0
        return size

    def digests(self) -> Iterator[str]:
        """Every stored blob's digest."""
        base = os.path.join(self.root, "sha256")
        if not os.path.isdir(base):
            return
        for prefix in sorted(os.listdir(base)):
            sub = os.path.join(base, prefix)
            if len(prefix) == 2 and os.path.isdir(sub):
                for rest in sorted(os.listdir(sub)):
                    digest = f"sha256:{prefix}{rest}"
                    if _DIGEST.fullmatch(digest):
                        yield digest

    def rehash(self, digest: str) -> str:
        """The actual sha256 of a stored blob's bytes."""
        with self.open(digest) as f:
            return hash_stream(f)[0]

    def drop_materialized(self, digests: Iterator[str] | list[str] | None = None) -> int:
        """Remove materialized copies of artifacts (``<root>/materialized/<hex>``): those
        of ``digests``, or, with None, each that lost a blob it links to (a hard link
        whose blob is gone keeps its bytes on disk). Returns how many were removed."""
        import shutil

        base = os.path.join(self.root, "materialized")
        if digests is not None:
            names = [check_digest(d)[7:] for d in digests]
        else:
            try:
                names = [n for n in os.listdir(base) if _orphaned(os.path.join(base, n))]
            except OSError:
                return 0
        removed = 0
        for name in names:
            folder = os.path.join(base, name)
            if os.path.isdir(folder):
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        return removed

    def remove_temporaries(self, older_than_s: float = 3600.0) -> list[str]:
        """Delete leftover temporary files of killed writers; returns their paths."""
        import time

        tmp_dir = os.path.join(self.root, "tmp")
        removed: list[str] = []
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(tmp_dir):
                if time.time() - entry.stat().st_mtime > older_than_s:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
                        removed.append(entry.path)
        return removed

"""Materializing an artifact: its files as a read-only folder, verified on every load.

The files are hard-linked from the blob store where they can be (copied otherwise),
each blob hashed on the way in, into ``<blob root>/materialized/<manifest hex>``; a
folder materialized earlier is hashed again on every load, and one with a file changed,
added or removed is never served: it is materialized again from the verified blobs.
Hard links share the blob's bytes: a file made writable and edited in place damages
the blob too, which the load then refuses and ``modelver verify`` reports.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import warnings
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ._blobs import hash_stream
from ._errors import IntegrityError, NotFound, StoreError

__all__ = ["Source", "blob_file", "materialize", "materialize_dir", "parallel"]

_WORKERS = 8
T = TypeVar("T")
R = TypeVar("R")


class Source(Protocol):
    """What loading needs from a backend."""

    uri: str

    def blob_path(self, digest: str) -> str:
        """A local file with the blob's bytes (downloaded first if remote)."""

    def discard_cached(self, digest: str) -> bool:
        """Drop a damaged local copy of a blob; False where there is no cache."""


def parallel(fn: Callable[[T], R], items: list[T]) -> list[R]:
    """``fn`` over ``items``, in threads when there are several (hashing and I/O release
    the GIL), in order."""
    if len(items) < 2:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(_WORKERS, len(items))) as pool:
        return list(pool.map(fn, items))


def materialize_dir(blob_path: str, digest: str) -> str:
    """Where an artifact's files are materialized: ``materialized/`` beside the blob
    folder, or, where that cannot be written (a read-only volume), this machine's cache."""
    side = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(blob_path))),
                        "materialized")
    probe = side
    while not os.path.exists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    if os.access(probe, os.W_OK):
        return os.path.join(side, digest[7:])
    from .backends._registry import default_cache_dir

    return os.path.join(default_cache_dir(), "materialized", digest[7:])


def _hash_file(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return hash_stream(f)[0]
    except OSError:
        return None


def _listing(target: str) -> tuple[set[str], set[str]]:
    files: set[str] = set()
    dirs: set[str] = set()
    for folder, subdirs, fnames in os.walk(target):
        rel = os.path.relpath(folder, target)
        if rel != "." and not fnames and not subdirs:
            dirs.add(rel.replace(os.sep, "/"))
        for f in fnames:
            files.add(os.path.relpath(os.path.join(folder, f), target).replace(os.sep, "/"))
    return files, dirs


def _intact(target: str, files: Mapping[str, Any], dirs: Iterable[str]) -> bool:
    """Whether a materialized folder holds exactly the manifest's files, byte for byte."""
    listed, empty = _listing(target)
    if listed != set(files) or empty != set(dirs):
        return False
    names = sorted(files)
    hashes = parallel(lambda rel: _hash_file(os.path.join(target, rel)), names)
    return all(h == files[rel][0] for rel, h in zip(names, hashes, strict=True))


def materialize(source: Source, digest: str, manifest: dict[str, Any], what: str) -> Path:
    """The read-only folder of an artifact's files, verified (see the module's doc)."""
    files: dict[str, Any] = manifest.get("files") or {}
    dirs: list[str] = manifest.get("dirs") or []
    for rel in [*files, *dirs]:
        check_rel(rel, what)
    target = materialize_dir(source.blob_path(digest), digest)
    if os.path.isdir(target):
        if _intact(target, files, dirs):
            for digest_ in {d for d, _ in files.values()}:
                source.blob_path(digest_)  # marks a remote store's cached blobs as used
            return Path(target)
        warnings.warn(f"the materialized files of {what} in {target!r} were changed; "
                      "materializing them again from the verified blobs", UserWarning,
                      stacklevel=6)
        _discard(target)
    parent = os.path.dirname(target)
    try:
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(dir=parent, prefix=".materialize-")
    except OSError as exc:
        raise StoreError(f"cannot materialize {what} into {parent!r}: {exc}") from None
    try:
        for rel in dirs:
            os.makedirs(os.path.join(tmp, rel), exist_ok=True)
        parallel(lambda rel: _place(source, files[rel][0], os.path.join(tmp, rel), what),
                  sorted(files))
        try:
            os.rename(tmp, target)
        except OSError:  # another process materialized it first
            _discard(tmp)
    except BaseException:
        _discard(tmp)
        raise
    return Path(target)


def _place(source: Source, digest: str, dest: str, what: str) -> None:
    """Hash a file's blob and hard-link (else copy) it to ``dest``, read-only."""
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    for attempt in (0, 1):
        blob = blob_file(source, digest, what)
        actual = _hash_file(blob)
        if actual is None and not os.path.exists(blob):
            raise NotFound(f"a file of {what} ({digest}) is missing from {source.uri!r}; run "
                           "`modelver verify`")
        if actual == digest:
            break
        if attempt or not source.discard_cached(digest):
            raise IntegrityError(f"a file of {what} is corrupted: blob {digest} does not hash "
                                 "to its name. Run `modelver verify`")
    try:
        os.link(blob, dest)
    except OSError:
        try:
            shutil.copyfile(blob, dest)
            os.chmod(dest, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        except OSError as exc:
            raise StoreError(f"cannot materialize {what} into {dest!r}: {exc}") from None


def _discard(target: str) -> None:
    """Remove a materialized folder (its files are read-only; the blobs they link stay)."""
    if not os.path.exists(target):
        return
    aside = f"{target}.discard-{os.getpid()}"
    try:
        os.rename(target, aside)
    except OSError:
        aside = target
    shutil.rmtree(aside, ignore_errors=True)
    if os.path.exists(aside):
        raise IntegrityError(f"the materialized folder {target!r} was changed and cannot be "
                             "removed; delete it and load again")



def check_rel(rel: str, what: str) -> str:
    """``rel``, a path inside an artifact or snapshot; ``IntegrityError`` for one that
    could lead out of the folder it is written to (absolute, ``..``, empty parts)."""
    parts = rel.split("/")
    if not rel or rel.startswith("/") or ".." in parts or "" in parts or "\\" in rel:
        raise IntegrityError(f"the manifest of {what} names an unsafe path {rel!r}")
    return rel


def copy_verified(source: Source, digest: str, dest: str, what: str) -> None:
    """Copy a blob to ``dest`` (a writable file of the caller's) through a temporary file
    beside it, hashing on the way: ``dest`` appears only when its bytes match ``digest``
    (a cached copy that does not is fetched again, once)."""
    parent = os.path.dirname(dest) or "."
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create {parent!r}: {exc}") from None
    for attempt in (0, 1):
        blob = blob_file(source, digest, what)
        tmp = os.path.join(parent, f".{os.path.basename(dest)}.modelver-{os.getpid()}-"
                                   f"{os.urandom(4).hex()}")
        try:
            with open(blob, "rb") as src, open(tmp, "xb") as out:
                got, _ = hash_stream(src, out)
            if got == digest:
                os.chmod(tmp, stat.S_IMODE(os.stat(tmp).st_mode) | stat.S_IWUSR)
                if os.path.isdir(dest) and not os.path.islink(dest):
                    shutil.rmtree(dest)  # export --force: a folder of the same name
                os.replace(tmp, dest)
                return
        except FileNotFoundError:
            raise NotFound(f"a file of {what} ({digest}) is missing from {source.uri!r}; run "
                           "`modelver verify`") from None
        except OSError as exc:
            raise StoreError(f"cannot write {dest!r}: {exc}") from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        if attempt or not source.discard_cached(digest):
            break
    raise IntegrityError(f"a file of {what} is corrupted: blob {digest} does not hash to its "
                         "name. Run `modelver verify`")


def blob_file(source: Source, digest: str, what: str) -> str:
    """The local file of a blob; ``NotFound`` names the artifact it belongs to."""
    try:
        return source.blob_path(digest)
    except NotFound:
        raise NotFound(f"the artifact of {what} ({digest}) is missing from {source.uri!r}; "
                       "run `modelver verify`") from None

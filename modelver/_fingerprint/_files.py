"""Local files and folders: fast sha256, Merkle folders, and the stat cache.

A :class:`StatCache` maps ``(realpath, size, mtime_ns, inode)`` to a digest, so an
unchanged file or folder is fingerprinted from ``stat`` alone. A file modified within
:data:`RACY_WINDOW_NS` of being hashed is not cached (git's "racy" rule): file times
are coarse, and a same-size rewrite within one tick would otherwise go unseen.
"""

from __future__ import annotations

import hashlib
import io
import mmap
import os
import stat
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from modelver._errors import NotFound
from modelver._records import DataFingerprint

__all__ = ["RACY_WINDOW_NS", "BatchStatCache", "MemoryStatCache", "StatCache", "StatKey",
           "folder_entries", "hash_file"]

StatKey = tuple[str, int, int, int]
"""``(realpath, size, mtime_ns, inode)``: what decides that a file is unchanged."""

RACY_WINDOW_NS = 2_000_000_000
"""Files modified less than this long before hashing are not put in the stat cache."""

_CHUNK = 1 << 20  # read size; 1 MiB stays in L2 between the read and the hash
_PIPE_CHUNK = 4 << 20  # read size when reading ahead (measured: 97-98% of in-memory sha256)
_PIPELINE_MIN = 16 << 20  # from this size, read the next chunk while hashing this one
_local = threading.local()


class StatCache(Protocol):
    """Where digests of unchanged files are remembered, keyed by their ``stat``."""

    def get(self, path: str, size: int, mtime_ns: int, inode: int) -> str | None:
        """The digest recorded for exactly this key, or None."""
        ...

    def put(self, path: str, size: int, mtime_ns: int, inode: int, digest: str) -> None:
        """Record ``digest`` for this key, replacing any entry for ``path``."""
        ...


class BatchStatCache(StatCache, Protocol):
    """A :class:`StatCache` that can also look up and record many keys in one call.

    Folders use these methods when a cache has them (a SQLite cache answers 10,000 keys
    in a few queries far faster than in 10,000).
    """

    def get_many(self, keys: Iterable[StatKey]) -> Mapping[str, str]:
        """``{path: digest}`` for the keys whose whole stat matches an entry."""
        ...

    def put_many(self, rows: Iterable[tuple[str, int, int, int, str]]) -> None:
        """Record ``(path, size, mtime_ns, inode, digest)`` rows."""
        ...


class MemoryStatCache:
    """A thread-safe, in-process :class:`BatchStatCache` backed by a dict (one entry a path)."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[int, int, int, str]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, path: str, size: int, mtime_ns: int, inode: int) -> str | None:
        """The digest recorded for exactly this key, or None."""
        with self._lock:
            entry = self._entries.get(path)
        return entry[3] if entry is not None and entry[:3] == (size, mtime_ns, inode) else None

    def put(self, path: str, size: int, mtime_ns: int, inode: int, digest: str) -> None:
        """Record ``digest`` for this key, replacing any entry for ``path``."""
        with self._lock:
            self._entries[path] = (size, mtime_ns, inode, digest)

    def get_many(self, keys: Iterable[StatKey]) -> dict[str, str]:
        """``{path: digest}`` for the keys whose whole stat matches an entry."""
        found: dict[str, str] = {}
        with self._lock:
            for path, *stat_ in keys:
                entry = self._entries.get(path)
                if entry is not None and list(entry[:3]) == stat_:
                    found[path] = entry[3]
        return found

    def put_many(self, rows: Iterable[tuple[str, int, int, int, str]]) -> None:
        """Record ``(path, size, mtime_ns, inode, digest)`` rows."""
        with self._lock:
            for path, size, mtime_ns, inode, digest in rows:
                self._entries[path] = (size, mtime_ns, inode, digest)


def hash_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """``("sha256:<hex>", size)`` of a file's bytes, read at close to hashlib's speed.

    No cache is consulted. Raises :class:`~modelver.NotFound` if there is no such file.
    """
    return _hash_file(os.fspath(path), pipelined=True)


def _hash_file(path: str, *, pipelined: bool) -> tuple[str, int]:
    try:
        f = open(path, "rb", buffering=0)  # noqa: SIM115 - closed below, FileIO for readinto
    except FileNotFoundError:
        raise NotFound(f"no file at {path!r} to fingerprint") from None
    with f:
        h = hashlib.sha256()
        total = os.fstat(f.fileno()).st_size
        if pipelined and total >= _PIPELINE_MIN:
            from modelver._progress import Progress

            with Progress(f"fingerprinting {os.path.basename(path)}", total) as progress:
                size = _read_pipelined(f, _Reporting(h, progress))
        else:
            size = _read_sequential(f, h)
    return "sha256:" + h.hexdigest(), size


class _Reporting:
    """A hash that reports the bytes it is fed to a progress line."""

    def __init__(self, h: Any, progress: Any) -> None:
        self.h = h
        self.progress = progress

    def update(self, data: memoryview) -> None:
        self.h.update(data)
        self.progress.update(len(data))


def _page_aligned(size: int) -> memoryview:
    # An anonymous mmap is page-aligned; hashlib and readinto both take its memoryview.
    return memoryview(mmap.mmap(-1, size))


def _read_sequential(f: io.FileIO, h: Any) -> int:
    buf: memoryview | None = getattr(_local, "buffer", None)
    if buf is None:
        buf = _local.buffer = _page_aligned(_CHUNK)
    total = 0
    while n := f.readinto(buf):
        h.update(buf[:n])
        total += n
    return total


def _read_pipelined(f: io.FileIO, h: Any) -> int:
    # Both readinto and sha256 release the GIL: one thread reads chunk i+1 while this
    # one hashes chunk i, so the hash never waits on the copy from the page cache.
    # Plain reads rather than an mmap of the file: a file truncated while mapped
    # kills the process with SIGBUS.
    buffers = (_page_aligned(_PIPE_CHUNK), _page_aligned(_PIPE_CHUNK))
    total = 0
    with ThreadPoolExecutor(1, thread_name_prefix="modelver-read") as reader:
        pending = reader.submit(f.readinto, buffers[0])
        which = 0
        while n := pending.result():
            current = buffers[which]
            which ^= 1
            pending = reader.submit(f.readinto, buffers[which])
            h.update(current[:n])
            total += n
    return total


def _cacheable(path: str, key: StatKey, started_ns: int) -> bool:
    """True if the file still has ``key`` after hashing and is older than the racy window."""
    if key[2] > started_ns - RACY_WINDOW_NS:
        return False
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    return (path, st.st_size, st.st_mtime_ns, st.st_ino) == key


def _of_file(path: str, st: os.stat_result, cache: StatCache | None) -> DataFingerprint:
    real = os.path.realpath(path)
    key = (real, st.st_size, st.st_mtime_ns, st.st_ino)
    digest = cache.get(*key) if cache is not None else None
    size = st.st_size
    if digest is None:
        started = time.time_ns()
        digest, size = _hash_file(real, pipelined=True)
        if cache is not None and _cacheable(real, key, started):
            cache.put(*key, digest)
    from ._schema import file_schema

    return DataFingerprint(digest, "file", size, "sha256", schema=file_schema(real),
                           source=os.path.abspath(path))


def _walk(real_root: str) -> Iterator[tuple[str, str | StatKey]]:
    """``(relpath, symlink target | stat key)`` for every file and link under a folder."""
    stack = [("", real_root)]
    while stack:
        prefix, folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                rel = prefix + entry.name
                if entry.is_symlink():
                    yield rel, "symlink:" + os.readlink(entry.path).replace(os.sep, "/")
                elif entry.is_dir(follow_symlinks=False):
                    stack.append((rel + "/", entry.path))
                elif entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    yield rel, (entry.path, st.st_size, st.st_mtime_ns, st.st_ino)
                # sockets, FIFOs and devices have no content to hash; they are left out


def folder_entries(path: str, cache: StatCache | None
                   ) -> tuple[dict[str, tuple[str, str, int]], dict[str, str]]:
    """Every file under a folder as ``{relpath: (path, digest, size)}``, digests from the
    stat cache where unchanged (hashed in threads otherwise), and its symbolic links as
    ``{relpath: target}``. Relative paths use ``/``."""
    entries = dict(_walk(os.path.realpath(path)))
    files = {rel: key for rel, key in entries.items() if isinstance(key, tuple)}
    keys = list(files.values())
    digests = _lookup(cache, keys)
    sizes = [key[1] for key in keys]
    missing = [i for i, digest in enumerate(digests) if digest is None]
    started = time.time_ns()
    if len(missing) > 1:
        workers = min(len(missing), os.cpu_count() or 1)
        with ThreadPoolExecutor(workers, thread_name_prefix="modelver-hash") as pool:
            hashed = list(pool.map(lambda i: _hash_file(keys[i][0], pipelined=False), missing))
    else:
        hashed = [_hash_file(keys[i][0], pipelined=True) for i in missing]
    for i, (digest, size) in zip(missing, hashed, strict=True):
        digests[i], sizes[i] = digest, size
    if cache is not None and missing:
        _remember(cache, [(*keys[i], d) for i, (d, _) in zip(missing, hashed, strict=True)],
                  started)
    out = {rel: (key[0], str(digest), size)
           for (rel, key), digest, size in zip(files.items(), digests, sizes, strict=True)}
    links = {rel: str(key)[len("symlink:"):] for rel, key in entries.items()
             if not isinstance(key, tuple)}
    return out, links


def _of_folder(path: str, cache: StatCache | None) -> DataFingerprint:
    files, links = folder_entries(path, cache)
    lines: dict[str, object] = {rel: "symlink:" + target for rel, target in links.items()}
    lines.update((rel, digest) for rel, (_, digest, _) in files.items())
    return DataFingerprint(
        _merkle(lines), "folder", sum(size for _, _, size in files.values()),
        "sha256-merkle", source=os.path.abspath(path)
    )


def _remember(cache: StatCache, rows: list[tuple[str, int, int, int, str]], started: int) -> None:
    rows = [row for row in rows if _cacheable(row[0], row[:4], started)]
    put_many = getattr(cache, "put_many", None)
    if put_many is not None:
        put_many(rows)
    else:
        for row in rows:
            cache.put(*row)


def _lookup(cache: StatCache | None, keys: list[StatKey]) -> list[str | None]:
    """Cached digests aligned with ``keys``; one batch call where the cache offers one."""
    if cache is None:
        return [None] * len(keys)
    get_many = getattr(cache, "get_many", None)
    if get_many is None:
        return [cache.get(*key) for key in keys]
    found = get_many(keys)
    if isinstance(found, Mapping):  # {path: digest}, as BatchStatCache says
        return [found.get(key[0]) for key in keys]
    return list(found)  # also take a list aligned with keys


def _merkle(lines: Mapping[str, object]) -> str:
    text = "".join(f"{rel}\0{lines[rel]}\n" for rel in sorted(lines))
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def _of_path(path: str, cache: StatCache | None) -> DataFingerprint:
    path = os.path.expanduser(path)
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise NotFound(
            f"no file or folder at {path!r} (relative paths start at {os.getcwd()!r}); "
            "check the path, or pass the data itself"
        ) from None
    if stat.S_ISDIR(st.st_mode):
        return _of_folder(path, cache)
    if stat.S_ISREG(st.st_mode):
        return _of_file(path, st, cache)
    raise NotFound(f"{path!r} is not a regular file or folder; pass a file, folder or data")


def _is_path(text: str) -> bool:
    try:
        return os.path.exists(os.path.expanduser(text))
    except (OSError, ValueError):
        return False

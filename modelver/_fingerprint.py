"""Data fingerprints: a ``sha256:`` digest that names a file, folder, array, frame or value.

Every fingerprint says how it was made (:class:`~modelver._records.DataFingerprint`'s
``method``) and whether the same data always gets the same digest (``stable``).

=============  ===============  ==========================================================
kind           method           digest over
=============  ===============  ==========================================================
file           sha256           the file's bytes
folder         sha256-merkle    UTF-8 lines ``relpath\\0digest\\n`` sorted by relative POSIX
                                path; a symlink is never followed, its line holds
                                ``symlink:<target text>``; empty folders add nothing
ndarray        sha256-array     a JSON header (dtype, shape) and the C-order buffer
dataframe      sha256-pandas    a JSON header (columns, dtypes, index) and the row hashes
/series                         of ``pandas.util.hash_pandas_object(obj, index=True)``
arrow-table    sha256-arrow     a JSON header and every column buffer (layout-dependent)
bytes          sha256           the bytes
remote-file    etag | sha256    the store's checksum field (no download), else the bytes
collection     sha256-merkle    the children's digests by key or index
value          sha256-json      canonical JSON (:func:`modelver._serde.json_digest`)
object         repr|type-only   the type name and repr; ``stable=False``
=============  ===============  ==========================================================

numpy, pandas and pyarrow are never imported here: their objects are recognised only
when the caller has already imported them. fsspec is imported only for ``scheme://`` URLs.

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
import re
import stat
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from modelver._errors import NotFound
from modelver._records import DataFingerprint
from modelver._serde import canonical, json_digest

__all__ = [
    "RACY_WINDOW_NS",
    "BatchStatCache",
    "MemoryStatCache",
    "StatCache",
    "StatKey",
    "fingerprint",
    "hash_file",
    "is_data",
]

StatKey = tuple[str, int, int, int]
"""``(realpath, size, mtime_ns, inode)``: what decides that a file is unchanged."""

RACY_WINDOW_NS = 2_000_000_000
"""Files modified less than this long before hashing are not put in the stat cache."""

_CHUNK = 1 << 20  # read size; 1 MiB stays in L2 between the read and the hash
_PIPE_CHUNK = 4 << 20  # read size when reading ahead (measured: 97-98% of in-memory sha256)
_PIPELINE_MIN = 16 << 20  # from this size, read the next chunk while hashing this one
_COPY_BYTES = 64 << 20  # bound on the copy made to hash a non-contiguous array
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://")
_CHECKSUM_FIELDS = ("ETag", "etag", "md5Hash", "checksum")
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


# ---------------------------------------------------------------------------- files


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
        if pipelined and os.fstat(f.fileno()).st_size >= _PIPELINE_MIN:
            size = _read_pipelined(f, h)
        else:
            size = _read_sequential(f, h)
    return "sha256:" + h.hexdigest(), size


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
    return DataFingerprint(digest, "file", size, "sha256", source=os.path.abspath(path))


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


def _of_folder(path: str, cache: StatCache | None) -> DataFingerprint:
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
    lines: dict[str, object] = dict(entries)
    lines.update(zip(files, digests, strict=True))
    return DataFingerprint(
        _merkle(lines), "folder", sum(sizes), "sha256-merkle", source=os.path.abspath(path)
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


# --------------------------------------------------------------------------- remote


def _redact(url: str) -> str:
    """``url`` without credentials or query string (which may hold a signature)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def _remote_digest(fs: Any, path: str, info: dict[str, Any]) -> tuple[str, str]:
    """``(digest, method)`` of one remote file: its checksum field, else its bytes."""
    for field in _CHECKSUM_FIELDS:
        if info.get(field):
            checksum = str(info[field]).strip('"')
            return json_digest({field.lower(): checksum, "size": info.get("size")}), "etag"
    h = hashlib.sha256()
    with fs.open(path, "rb") as f:
        while chunk := f.read(8 * _CHUNK):
            h.update(chunk)
    return "sha256:" + h.hexdigest(), "sha256"


def _of_remote(url: str, cache: StatCache | None) -> DataFingerprint:
    from fsspec.core import url_to_fs

    fs, path = url_to_fs(url)
    if type(fs).__name__ == "LocalFileSystem":
        return _of_path(path, cache)
    try:
        info = fs.info(path)
    except FileNotFoundError:
        raise NotFound(f"nothing at {_redact(url)!r}; check the URL and its credentials") from None
    if info.get("type") != "directory":
        digest, method = _remote_digest(fs, path, info)
        return DataFingerprint(digest, "remote-file", info.get("size"), method, source=_redact(url))
    root = fs._strip_protocol(path).rstrip("/") + "/"
    lines: dict[str, str] = {}
    methods: set[str] = set()
    total = 0
    for name, entry in fs.find(path, detail=True).items():
        digest, method = _remote_digest(fs, name, entry)
        lines[name.removeprefix(root)] = digest
        methods.add(method)
        total += entry.get("size") or 0
    method = "etag-merkle" if "etag" in methods else "sha256-merkle"
    return DataFingerprint(_merkle(lines), "remote-folder", total, method, source=_redact(url))


def _is_fsspec_url(text: str) -> bool:
    match = _URL.match(text)
    if match is None:
        return False
    protocol = match.group(1).lower()
    if protocol in ("http", "https"):
        # A parameter like an API endpoint is not data; fingerprint() still takes it.
        return False
    if protocol in ("file", "local"):
        return _is_path(urlsplit(text).path)
    return _is_fsspec_protocol(protocol)


def _is_fsspec_protocol(protocol: str) -> bool:
    from fsspec.registry import known_implementations, registry

    return protocol in known_implementations or protocol in registry


# ------------------------------------------------------------------ arrays and tables


def _header(kind: str, **fields: Any) -> bytes:
    return f"modelver:{kind}:".encode() + canonical(fields).encode() + b"\n"


def _of_ndarray(np: Any, arr: Any) -> DataFingerprint:
    dtype = arr.dtype
    schema = {"dtype": dtype.str, "shape_tail": list(arr.shape[1:])}
    layout = dtype.str if dtype.names is None else str(dtype.descr)
    if dtype.hasobject:
        values = _of_value(arr.tolist())
        digest = json_digest({"dtype": layout, "shape": list(arr.shape), "values": values.digest})
        return DataFingerprint(
            digest, "ndarray", int(arr.nbytes), values.method, values.stable, schema
        )
    h = hashlib.sha256(_header("ndarray", dtype=layout, shape=list(arr.shape)))
    if arr.flags.c_contiguous:
        h.update(arr.reshape(-1).view(np.uint8))
    else:
        # Copy a bounded slab of rows at a time, never the whole array.
        row_bytes = max(1, arr[:1].nbytes)
        step = max(1, _COPY_BYTES // row_bytes)
        for start in range(0, arr.shape[0], step):
            h.update(np.ascontiguousarray(arr[start : start + step]).reshape(-1).view(np.uint8))
    masked = sys.modules.get("numpy.ma")
    if masked is not None and isinstance(arr, masked.MaskedArray):
        h.update(b"mask\n" + np.ascontiguousarray(masked.getmaskarray(arr)).tobytes())
    digest = "sha256:" + h.hexdigest()
    return DataFingerprint(digest, "ndarray", int(arr.nbytes), "sha256-array", True, schema)


def _label(value: Any) -> str | None:
    return None if value is None else str(value)


def _of_pandas(pd: Any, obj: Any) -> DataFingerprint:
    index = obj.index
    meta: dict[str, Any] = {
        "index": {"dtype": str(index.dtype), "names": [_label(n) for n in index.names]},
        "shape": list(obj.shape),
    }
    if isinstance(obj, pd.DataFrame):
        kind = "dataframe"
        meta["columns"] = [_label(c) for c in obj.columns]
        meta["dtypes"] = [str(d) for d in obj.dtypes]
        columns = dict(zip(map(str, obj.columns), meta["dtypes"], strict=True))
        schema: dict[str, Any] = {"columns": columns}
    else:
        kind = "series"
        meta["name"], meta["dtype"] = _label(obj.name), str(obj.dtype)
        schema = {"name": meta["name"], "dtype": meta["dtype"]}
    h = hashlib.sha256(_header(kind, **meta))
    method, stable = "sha256-pandas", True
    try:
        rows = pd.util.hash_pandas_object(obj, index=True)
        h.update(rows.to_numpy(dtype="uint64"))
    except TypeError:  # unhashable cells (lists, dicts): hash them as JSON, else by repr
        values = _of_value({"index": index.tolist(), "values": obj.to_numpy().tolist()})
        h.update(values.digest.encode())
        method, stable = values.method, values.stable
    usage = obj.memory_usage(index=True, deep=False)
    size = int(usage.sum() if kind == "dataframe" else usage)
    return DataFingerprint("sha256:" + h.hexdigest(), kind, size, method, stable, schema)


def _update_arrow(h: Any, array: Any, pa: Any) -> None:
    h.update(_header("array", length=len(array), offset=array.offset, nulls=array.null_count))
    if pa.types.is_dictionary(array.type):
        _update_arrow(h, array.indices, pa)
        _update_arrow(h, array.dictionary, pa)
        return
    for buffer in array.buffers():
        if buffer is None:
            h.update(b"-\n")
        else:
            h.update(b"%d\n" % buffer.size)
            h.update(buffer)


def _of_arrow(pa: Any, table: Any) -> DataFingerprint:
    names = [field.name for field in table.schema]
    types = [str(field.type) for field in table.schema]
    h = hashlib.sha256(_header("arrow-table", columns=names, types=types, rows=table.num_rows))
    for column in table.columns:
        for chunk in getattr(column, "chunks", [column]):
            _update_arrow(h, chunk, pa)
    schema = {"columns": dict(zip(names, types, strict=True))}
    digest = "sha256:" + h.hexdigest()
    return DataFingerprint(digest, "arrow-table", int(table.nbytes), "sha256-arrow", True, schema)


def _library_object(obj: object) -> DataFingerprint | None:
    """The fingerprint of an array, frame or table from an already imported library."""
    np = sys.modules.get("numpy")
    if np is not None and isinstance(obj, np.ndarray):
        return _of_ndarray(np, obj)
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(obj, (pd.DataFrame, pd.Series)):
        return _of_pandas(pd, obj)
    pa = sys.modules.get("pyarrow")
    if pa is not None and isinstance(obj, (pa.Table, pa.RecordBatch)):
        return _of_arrow(pa, obj)
    return None


def _is_library_data(obj: object) -> bool:
    for module, names in (("numpy", ("ndarray",)), ("pandas", ("DataFrame", "Series")),
                          ("pyarrow", ("Table", "RecordBatch"))):
        lib = sys.modules.get(module)
        if lib is not None and isinstance(obj, tuple(getattr(lib, n) for n in names)):
            return True
    return False


# ---------------------------------------------------------------- values and the rest


def _of_value(obj: object) -> DataFingerprint:
    try:
        return DataFingerprint(json_digest(obj), "value", None, "sha256-json")
    except (TypeError, ValueError, RecursionError):
        pass
    type_name = f"{type(obj).__module__}.{type(obj).__qualname__}"
    try:
        text: str | None = repr(obj)
    except Exception:  # a broken __repr__ must not break a training run
        text = None
    if text is None or " at 0x" in text:  # a default repr names only a memory address
        return DataFingerprint(json_digest({"type": type_name}), "object", None, "type-only", False)
    digest = json_digest({"type": type_name, "repr": text})
    return DataFingerprint(digest, "object", None, "repr", False)


def _of_collection(obj: Any, cache: StatCache | None, seen: frozenset[int]) -> DataFingerprint:
    seen = seen | {id(obj)}
    if isinstance(obj, dict):
        items = sorted((str(key), value) for key, value in obj.items())
    else:
        items = [(str(i), value) for i, value in enumerate(obj)]
    children = [(key, _fingerprint(value, cache, seen)) for key, value in items]
    container = "dict" if isinstance(obj, dict) else "list"
    digest = json_digest({container: [[key, child.digest] for key, child in children]})
    sizes = [child.size for _, child in children if child.size is not None]
    schemas = {key: child.schema for key, child in children if child.schema is not None}
    return DataFingerprint(
        digest,
        "collection",
        sum(sizes) if sizes else None,
        "sha256-merkle",
        all(child.stable for _, child in children),
        schemas or None,
    )


def _holds_data(obj: Any, seen: frozenset[int]) -> bool:
    if not isinstance(obj, (list, tuple, dict)):
        return is_data(obj)
    if id(obj) in seen:
        return False
    seen = seen | {id(obj)}
    return any(_holds_data(v, seen) for v in (obj.values() if isinstance(obj, dict) else obj))


def _is_path(text: str) -> bool:
    try:
        return os.path.exists(os.path.expanduser(text))
    except (OSError, ValueError):
        return False


def is_data(obj: object) -> bool:
    """True if :func:`fingerprint` treats ``obj`` as data rather than as a plain value.

    Data: numpy arrays, pandas frames and series, pyarrow tables, bytes-like objects,
    :class:`DataFingerprint`, paths (``str`` or ``os.PathLike``) of existing files or
    folders, fsspec URLs other than ``http(s)://``, and non-empty lists, tuples and
    dicts whose items are all data. A path that does not exist is not data.
    """
    if isinstance(obj, (DataFingerprint, bytes, bytearray, memoryview)):
        return True
    if isinstance(obj, str):
        return _is_fsspec_url(obj) or (_URL.match(obj) is None and _is_path(obj))
    if isinstance(obj, os.PathLike):
        return _is_path(os.fsdecode(os.fspath(obj)))
    if isinstance(obj, (list, tuple, dict)):
        values = obj.values() if isinstance(obj, dict) else obj
        return bool(obj) and all(is_data(v) for v in values)
    return _is_library_data(obj)


def _looks_like_path(text: str) -> bool:
    return "/" in text or os.sep in text or bool(os.altsep and os.altsep in text) or (
        text.startswith("~")
    )


def fingerprint(obj: object, *, cache: StatCache | None = None) -> DataFingerprint:
    """The :class:`DataFingerprint` of a path, URL, array, frame, table, bytes or value.

    ``cache`` remembers file digests by ``stat`` so that unchanged files are not read
    again. A string that looks like a path (it holds a separator or starts with ``~``)
    but names nothing raises :class:`~modelver.NotFound`; other strings are values.
    A ``DataFingerprint`` is returned unchanged and a ``"sha256:<hex>"`` string becomes
    one of kind ``"fingerprint"``.
    """
    return _fingerprint(obj, cache, frozenset())


def _fingerprint(obj: object, cache: StatCache | None, seen: frozenset[int]) -> DataFingerprint:
    if isinstance(obj, DataFingerprint):
        return obj
    if isinstance(obj, (bytes, bytearray, memoryview)):
        view = memoryview(obj)
        data = view if view.c_contiguous else view.tobytes()
        return DataFingerprint("sha256:" + hashlib.sha256(data).hexdigest(), "bytes", view.nbytes)
    if isinstance(obj, str):
        if _DIGEST.fullmatch(obj):
            return DataFingerprint(obj, "fingerprint")
        url = _URL.match(obj)
        if url is not None and _is_fsspec_protocol(url.group(1).lower()):
            return _of_remote(obj, cache)
        if _looks_like_path(obj) or _is_path(obj):
            return _of_path(obj, cache)
        return _of_value(obj)
    if isinstance(obj, os.PathLike):
        return _of_path(os.fsdecode(os.fspath(obj)), cache)
    found = _library_object(obj)
    if found is not None:
        return found
    np = sys.modules.get("numpy")
    if np is not None and isinstance(obj, np.generic):
        return _of_value(obj.item())
    if isinstance(obj, (list, tuple, dict)) and id(obj) not in seen and _holds_data(obj, seen):
        return _of_collection(obj, cache, seen)
    return _of_value(obj)

"""Models in and out of a store: one pipeline each way.

In, :func:`store_model`: the format writes the model as files, each hashed once and
published as a blob, then a manifest that names them (:mod:`modelver._artifacts`).

Out, :func:`load_artifact`, for a version already resolved (lock pin included):

1. refuse a version deleted by retention, and, with ``safe``, a format that runs
   code when loaded (for a bundle: any member's);
2. look in the :class:`ArtifactCache` (keyed by digest, format, member and options);
   ``file`` and ``folder`` artifacts, whose result is a path to bytes on disk, skip it;
3. read and hash the manifest, then materialize its files read-only (hard links to
   the blobs), hashing each: a file changed in an earlier materialized copy is never
   served, the copy is made again;
4. deserialize with the format, from files whose every byte was verified.

Versions registered before manifests (record schema 1) are one blob each, read by
:mod:`modelver.formats._legacy` (stream-verified, then deserialized).
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from ._blobs import hash_stream
from ._errors import IntegrityError, ModelverError, NotFound, StoreError, UnsafeFormat

if TYPE_CHECKING:
    from ._artifacts import Stored
    from ._records import ModelVersion

__all__ = [
    "DEFAULT_CACHE_BYTES",
    "UNSAFE_FORMATS",
    "ArtifactCache",
    "BlobSink",
    "BlobSource",
    "load_artifact",
    "store_model",
]

UNSAFE_FORMATS = frozenset({"pickle"})
"""Schema-1 formats that run code when deserialized; ``load(..., safe=True)`` refuses them."""

DEFAULT_CACHE_BYTES = 512 * 2**20
"""The default bound of an :class:`ArtifactCache` (``MODELVER_LOAD_CACHE_BYTES`` overrides)."""

_PATH_FORMATS = frozenset({"file", "folder"})
_MISSING: Any = object()


class BlobSource(Protocol):
    """What :func:`load_artifact` needs from a backend (both backends have it)."""

    uri: str
    """The store's URI, for messages."""

    def blob_path(self, digest: str) -> str:
        """A local file with the blob's bytes (downloaded into a local cache if remote)."""

    def discard_cached(self, digest: str) -> bool:
        """Drop a damaged local copy of a blob; False where there is no cache."""


class BlobSink(Protocol):
    """What :func:`store_model` needs from a backend (a ``BlobDir`` has it too)."""

    @property
    def staging_dir(self) -> str:
        """A folder for temporary files about to become blobs (created on demand)."""

    def put_file(self, path: str, *, digest: str | None = None,
                 move: bool = False) -> tuple[str, int]:
        """Store a file as a blob, trusting ``digest``; with ``move``, take the file over."""


def _env_max_bytes() -> int:
    env = os.environ.get("MODELVER_LOAD_CACHE_BYTES")
    if env:
        with contextlib.suppress(ValueError):
            return max(0, int(env))
    return DEFAULT_CACHE_BYTES


class ArtifactCache:
    """Loaded models, least recently used first out, bounded by their artifacts' bytes.

    Entries are keyed by ``(digest, format)``: the same bytes registered as ``bytes``
    and as a ``file`` load as different objects. Each counts its artifact's size
    against ``max_bytes`` (default 512 MiB, or ``MODELVER_LOAD_CACHE_BYTES``; 0
    disables the cache). An artifact larger than the whole bound is not kept.
    ``file`` and ``folder`` artifacts are never cached: their result is a path whose
    bytes could change on disk, so every load verifies them again.

    **Repeated loads of one artifact return the same object**, to every caller and
    thread, as long as it stays cached: copy a model before mutating it
    (``copy.deepcopy``), or every later ``load`` sees the change. ``npy`` arrays are
    read-only too (writing to one raises ``ValueError``). Thread-safe; concurrent
    loads of one artifact deserialize it once.
    """

    def __init__(self, max_bytes: int | None = None) -> None:
        self.max_bytes = _env_max_bytes() if max_bytes is None else max(0, max_bytes)
        self._entries: OrderedDict[tuple[str, str], tuple[Any, int]] = OrderedDict()
        self._nbytes = 0
        self._lock = threading.Lock()
        self._loading: dict[tuple[str, str], threading.Lock] = {}
        _CACHES.add(self)

    def _after_fork(self) -> None:
        """In a child process: locks another thread held at ``fork`` are never released
        there, so start with fresh ones (the cached objects stay valid)."""
        self._lock = threading.Lock()
        self._loading = {}

    def __repr__(self) -> str:
        return (f"<ArtifactCache {len(self)} artifacts, {self.nbytes} of "
                f"{self.max_bytes} bytes>")

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    @property
    def nbytes(self) -> int:
        """The bytes the cached artifacts count against ``max_bytes``."""
        return self._nbytes

    def get(self, digest: str, fmt: str, default: Any = None) -> Any:
        """The cached object for ``(digest, fmt)``, marked as just used; else ``default``."""
        with self._lock:
            entry = self._entries.get((digest, fmt))
            if entry is None:
                return default
            self._entries.move_to_end((digest, fmt))
            return entry[0]

    def put(self, digest: str, fmt: str, obj: Any, cost: int) -> Any:
        """Keep ``obj`` (unless ``cost`` exceeds the bound), evicting the least recently used.

        Returns the object now cached under the key: an object cached first by
        another caller wins, so every caller gets the same one.
        """
        key = (digest, fmt)
        cost = max(0, cost)
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key][0]
            if cost > self.max_bytes or self.max_bytes == 0:
                return obj
            self._entries[key] = (obj, cost)
            self._nbytes += cost
            while self._nbytes > self.max_bytes:
                _, (_, freed) = self._entries.popitem(last=False)
                self._nbytes -= freed
            return obj

    def discard(self, digest: str, fmt: str) -> bool:
        """Forget one entry; True if it was cached."""
        with self._lock:
            entry = self._entries.pop((digest, fmt), None)
            if entry is not None:
                self._nbytes -= entry[1]
            return entry is not None

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
            self._nbytes = 0

    def get_or_load(self, digest: str, fmt: str, cost: int, load: Callable[[], Any],
                    valid: Callable[[Any], bool] | None = None) -> Any:
        """The cached object, or ``load()``'s result, cached. One thread loads a key at a
        time; the others wait and get its object. ``valid`` rejects a stale entry."""
        key = (digest, fmt)
        with self._lock:
            gate = self._loading.setdefault(key, threading.Lock())
        try:
            with gate:
                hit = self.get(digest, fmt, _MISSING)
                if hit is not _MISSING and (valid is None or valid(hit)):
                    return hit
                if hit is not _MISSING:
                    self.discard(digest, fmt)
                return self.put(digest, fmt, load(), cost)
        finally:
            with self._lock:
                if self._loading.get(key) is gate and not gate.locked():
                    del self._loading[key]


_CACHES: weakref.WeakSet[ArtifactCache] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for cache in list(_CACHES):
        cache._after_fork()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_reset_after_fork)


def load_artifact(mv: ModelVersion, blobs: BlobSource, *, safe: bool,
                  cache: ArtifactCache, artifact: str | None = None,
                  options: dict[str, Any] | None = None) -> Any:
    """Load the artifact of a resolved version (or one member of a bundle), verified,
    through ``cache``.

    Raises ``NotFound`` for a version deleted by retention, a missing blob or member,
    ``UnsafeFormat`` for a format that runs code when ``safe``, and ``IntegrityError``
    when a blob does not hash to its name; nothing is deserialized before every byte it
    reads was verified. ``options`` (``device``, ``into``, ``trusted``…) go to the format.
    The object may be shared with other callers (see :class:`ArtifactCache`).
    """
    if mv.deleted is not None:
        raise NotFound(f"{mv.ref} was deleted by retention at {mv.deleted.at.isoformat()} "
                       f"({mv.deleted.reason}); load another version")
    given = {k: v for k, v in (options or {}).items() if v is not None}
    if mv.schema_version < 2:
        return _load_legacy(mv, blobs, safe=safe, cache=cache, artifact=artifact, given=given)
    from ._artifacts import check_safe, formats_of, load_tree, warn_environment

    if safe:
        check_safe(mv, artifact)
    fmts = formats_of(mv, artifact)

    def load() -> Any:
        return load_tree(blobs, mv.digest, mv.ref, artifact=artifact, options=given,
                         expected=mv.format)

    if "into" in given or _PATH_FORMATS.intersection(fmts):
        # A path's bytes live on disk, where they can change between two loads: each
        # load verifies them again. A module given with into= is the caller's own.
        obj = load()
    else:
        key = f"{mv.format}:{artifact or ''}:{sorted((k, str(v)) for k, v in given.items())}"
        size = mv.artifacts[artifact].size if artifact is not None else mv.size
        obj = cache.get_or_load(mv.digest, key, size, load)
    warn_environment(mv)
    return obj


def _load_legacy(mv: ModelVersion, blobs: BlobSource, *, safe: bool, cache: ArtifactCache,
                 artifact: str | None, given: dict[str, Any]) -> Any:
    """A version registered before artifacts were manifests: one blob, one format."""
    if artifact is not None:
        raise NotFound(f"{mv.ref} is a single {mv.format!r} artifact, not a bundle: load it "
                       "without artifact=")
    extra = sorted(set(given) - ({"device"} if mv.format == "torch-state" else set()))
    if extra:
        raise ModelverError(f"{mv.ref} (a {mv.format!r} artifact of an older modelver) takes "
                            f"no option {', '.join(extra)}")
    if safe and mv.format in UNSAFE_FORMATS:
        raise UnsafeFormat(f"{mv.ref} is stored as {mv.format!r}, which runs code when "
                           "loaded; pass safe=False if you trust this store")
    if mv.format in _PATH_FORMATS:
        return _load(mv, blobs)
    return cache.get_or_load(mv.digest, mv.format, mv.size, lambda: _load(mv, blobs, given))


def _load(mv: ModelVersion, blobs: BlobSource, options: dict[str, Any] | None = None) -> Any:
    from .formats._legacy import read_model

    path, f = _open_verified(mv, blobs)
    with f:
        extract = _extract_dir(path, mv.digest) if mv.format == "folder" else ""
        try:
            return read_model(mv.format, f, path, extract, **(options or {}))
        except (ModelverError, MemoryError):
            raise
        except ImportError as exc:
            raise ModelverError(f"cannot load {mv.ref}: {exc}; install the package that "
                                "defines the model's class in this environment") from exc
        except OSError as exc:
            raise StoreError(f"cannot read the artifact of {mv.ref} at {path!r}: {exc}"
                             ) from None
        except Exception as exc:
            raise IntegrityError(f"the artifact of {mv.ref} matches its digest but cannot be "
                                 f"loaded as {mv.format!r}: {type(exc).__name__}: {exc}. "
                                 "Was it registered by this version of its library?"
                                 ) from exc


def _extract_dir(blob_path: str, digest: str) -> str:
    """Where a folder artifact is extracted: ``extracted/`` beside the blob folder, or,
    where that cannot be written (a store on a read-only volume), this machine's cache."""
    store_side = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(blob_path))),
                              "extracted")
    probe = store_side
    while not os.path.exists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    if os.access(probe, os.W_OK):
        return os.path.join(store_side, digest[7:])
    from .backends._registry import default_cache_dir

    return os.path.join(default_cache_dir(), "extracted", digest[7:])


def _open_verified(mv: ModelVersion, blobs: BlobSource) -> tuple[str, BinaryIO]:
    """The blob's local path and an open file positioned at its start, once its bytes have
    hashed to ``mv.digest``; a damaged cached copy is replaced once."""
    retried = False
    while True:
        path = blobs.blob_path(mv.digest)
        try:
            f = open(path, "rb")  # noqa: SIM115 - returned open, closed by the caller
        except FileNotFoundError:
            raise NotFound(f"the artifact of {mv.ref} ({mv.digest}) is missing from "
                           f"{blobs.uri!r}; run `modelver verify`") from None
        except OSError as exc:
            raise StoreError(f"cannot read the artifact of {mv.ref} at {path!r}: {exc}"
                             ) from None
        try:
            actual, _ = hash_stream(f)
            if actual == mv.digest:
                f.seek(0)
                return path, f
        except OSError as exc:
            f.close()
            raise StoreError(f"cannot read the artifact of {mv.ref} at {path!r}: {exc}"
                             ) from None
        f.close()
        if retried or not blobs.discard_cached(mv.digest):
            raise IntegrityError(f"artifact of {mv.ref} is corrupted: it hashes to {actual}, "
                                 f"the record says {mv.digest}. Run `modelver verify`")
        retried = True  # this machine's cached copy was damaged: fetch it once more


def store_model(obj: Any, blobs: BlobSink, *, extras: dict[str, Any] | None = None
                ) -> Stored:
    """Write ``obj`` (and ``extras``, more bundle members) into the store: see
    :func:`modelver._artifacts.store_artifact`."""
    import attrs

    from ._artifacts import store_artifact
    from ._signature import model_inputs

    stored = store_artifact(obj, blobs, extras=extras)
    inputs = model_inputs(obj)
    return stored if inputs is None else attrs.evolve(stored, inputs=inputs)

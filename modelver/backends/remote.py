"""The remote backend: an append-only log and blobs on any fsspec filesystem.

Layout under the store's prefix::

    log/<name>/000000000001.json       one immutable entry per file, put-if-absent
    checkpoints/<name>/000000000256.jsonl   entries 1..256 bundled, for new readers
    blobs/sha256/ab/cdef…               content-addressed artifacts and code blobs

An entry is appended with an exclusive put of its file (one request); a writer that
loses the race is told so (``append`` returns False) and the store above it syncs
and builds again. Each entry's unique id lets a retry after a lost response
recognize its own entry. Reading a chain after a known sequence number costs one
small read when nothing is new, parallel reads ahead when behind, and checkpoints
for a new or far-behind reader. Listings are always fresh (fsspec caches them), and
transport errors become ``ConnectionError`` on reads (so a store can answer from its
replica with a warning) and ``StoreError`` everywhere else.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import re
import threading
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from .._errors import ModelverError, StoreError
from .._index import Index
from .._log import Entry, parse
from .._names import check_name
from ._cache import BlobCache
from ._exclusive import create_exclusive, supports_exclusive
from ._registry import default_cache_dir, missing_backend_hint, scheme_of
from ._remote_blobs import RemoteBlobs
from ._transport import is_s3 as _is_s3
from ._transport import limit_s3fs_retries, with_s3_defaults
from ._transport import transport_errors as _transport_errors
from ._transport import unreachable_as as _unreachable_as

__all__ = ["RemoteBackend"]

CHECKPOINT_EVERY = 256
FETCH_AHEAD = 32
_READ_BATCH = 256


_ENTRY_FILE = re.compile(r"[0-9]{12}\.json")


# What each object store's exclusive create relies on, for the probe's error message.
_PRECONDITION = {"s3": "If-None-Match: *", "s3a": "If-None-Match: *",
                 "gs": "ifGenerationMatch=0", "gcs": "ifGenerationMatch=0",
                 "az": "If-None-Match: *", "abfs": "If-None-Match: *",
                 "abfss": "If-None-Match: *"}


def _seq_name(seq: int) -> str:
    return f"{seq:012d}"


class RemoteBackend(RemoteBlobs):
    """A store whose log and blobs live on an fsspec filesystem."""

    def __init__(self, fs: Any, root: str, uri: str, cache_dir: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self.uri = uri
        key = hashlib.sha256(uri.encode()).hexdigest()[:24]
        self._index_path = os.path.join(cache_dir, "index", f"{key}.db")
        self.cache = BlobCache(os.path.join(cache_dir, "blobs"))
        self._index: Index | None = None
        self._index_lock = threading.Lock()  # one database connection, whichever thread asks
        self._writable: bool | None = None
        self._probe_failed = False
        self._exists = False

    @classmethod
    def from_uri(cls, uri: str, options: Mapping[str, Any]) -> RemoteBackend:
        """Open an fsspec URL such as ``s3://bucket/prefix`` or ``memory://team``."""
        import fsspec

        try:
            fs, root = fsspec.core.url_to_fs(uri, **with_s3_defaults(uri, dict(options)))
        except ImportError as exc:
            scheme = uri.split("://", 1)[0]
            raise StoreError(f"cannot open {uri!r}: {exc}{missing_backend_hint(scheme)}"
                             ) from None
        except ModelverError:
            raise
        except Exception as exc:  # each filesystem has its own errors for a bad URL
            raise StoreError(f"cannot open {uri!r}: {type(exc).__name__}: {exc}") from None
        limit_s3fs_retries(fs)
        return cls(fs, root, uri, default_cache_dir())

    # -- paths ---------------------------------------------------------------------

    def _entry_path(self, name: str, seq: int) -> str:
        return self._p("log", check_name(name), _seq_name(seq) + ".json")

    def _ls(self, path: str) -> list[str]:
        """A fresh listing: other machines write here, so cached listings go stale."""
        files: list[str] = self.fs.ls(path, detail=False, refresh=True)
        return files

    # -- reading the log ----------------------------------------------------------

    @property
    def log_in_index(self) -> bool:
        """The log is remote; the index is this machine's replica of it."""
        return False

    def open_index(self) -> Index:
        """The machine-local replica of this store's log (in the cache folder)."""
        with self._index_lock:
            if self._index is None:
                self._index = Index(self._index_path)
        return self._index

    def exists(self) -> bool:
        """Whether anything is stored under the store's root (asked of the store once,
        then remembered). ``ConnectionError`` when it cannot be reached."""
        if self._exists:
            return True
        with _unreachable_as(ConnectionError, f"cannot reach {self.uri!r}"):
            try:
                self._exists = bool(self._ls(self.root))
            except FileNotFoundError:
                self._exists = False
        return self._exists

    def create(self) -> None:
        """Make the store exist: write ``modelver.json``, a marker naming its format."""
        self._check_writable()
        with _unreachable_as(StoreError, f"cannot write to {self.uri!r}"):
            create_exclusive(self.fs, self._p("modelver.json"),
                             b'{"store": "modelver", "entry_format": 1}\n')
        self._exists = True

    def log(self, name: str, after: int = 0) -> Iterator[Entry]:
        """Entries of ``name`` after ``after``: probe the next one (a single small read
        when the caller is up to date), then fetch ahead in growing parallel batches.

        Checkpoints are read for a reader that has nothing yet, or is far behind.
        Raises ``ConnectionError`` (an ``OSError``, not a ``StoreError``) when the store
        cannot be reached, so that reads can go on from the index with a warning.
        """
        with _unreachable_as(ConnectionError, f"cannot reach {self.uri!r}"):
            seq = after
            checkpoints_read = seq == 0
            if checkpoints_read:
                for entry in self._checkpoint_entries(name, seq):
                    seq = entry.seq
                    yield entry
            ahead, rounds = 1, 0
            read: dict[int, bytes] = {}  # this call's entries, for a checkpoint to backfill
            while True:
                seqs = range(seq + 1, seq + 1 + ahead)
                paths = [self._entry_path(name, s) for s in seqs]
                found = self._fetch(paths)
                count = 0
                for s, p in zip(seqs, paths, strict=True):
                    if p not in found:  # stop at the first gap: nothing follows a missing entry
                        break
                    entry = _decode(found[p], name, s)
                    count += 1
                    seq = s
                    if self._writable:  # only a writer backfills checkpoints
                        read[seq] = found[p]
                        if seq % CHECKPOINT_EVERY == 0:
                            # Its writer may have been killed before writing it.
                            self._write_checkpoint(name, seq, read)
                            read = {}
                    yield entry
                if count < len(paths):
                    return
                rounds += 1
                if rounds >= 4 and not checkpoints_read:
                    checkpoints_read = True  # far behind: skip ahead by whole checkpoints
                    for entry in self._checkpoint_entries(name, seq):
                        seq = entry.seq
                        yield entry
                # 1, 1, 2, 4 … 32: one behind is the common case, and costs one read more.
                ahead = min(FETCH_AHEAD, 2 ** max(0, rounds - 1))

    def _fetch(self, paths: list[str]) -> dict[str, bytes]:
        """Read small files concurrently, one request each; missing files are left out.

        fsspec's ``cat(list)`` first checks that every path exists (2-3 requests per
        path on S3), and s3fs's ``cat_file`` asks for the size before it reads; on
        the hot path of every sync, that tripled the round trips.
        """
        fs = self.fs
        kwargs: dict[str, Any] = {"max_concurrency": 1} if _is_s3(fs) else {}
        if not getattr(fs, "async_impl", False):
            found: dict[str, bytes] = {}
            for p in paths:
                with contextlib.suppress(FileNotFoundError):
                    found[p] = fs.cat_file(p, **kwargs)
            return found
        import asyncio

        from fsspec.asyn import sync

        async def one(path: str) -> bytes | None:
            try:
                data: bytes = await fs._cat_file(path, **kwargs)
            except FileNotFoundError:
                return None
            return data

        async def every() -> dict[str, bytes]:
            out: dict[str, bytes] = {}
            for i in range(0, len(paths), _READ_BATCH):
                chunk = paths[i:i + _READ_BATCH]
                for p, data in zip(chunk, await asyncio.gather(*map(one, chunk)), strict=True):
                    if data is not None:
                        out[p] = data
            return out

        result: dict[str, bytes] = sync(fs.loop, every)
        return result

    def _checkpoint_dir(self, name: str) -> str:
        return self._p("checkpoints", check_name(name))

    def _checkpoints(self, name: str) -> list[tuple[int, str]]:
        try:
            files = self._ls(self._checkpoint_dir(name))
        except FileNotFoundError:
            return []
        out = []
        for f in files:
            base = posixpath.basename(f)
            if base.endswith(".jsonl") and base[:-6].isdigit():
                out.append((int(base[:-6]), f))
        return sorted(out)

    def _checkpoint_entries(self, name: str, seq: int) -> Iterator[Entry]:
        """Entries from checkpoints past ``seq``, in order, stopping at the first
        checkpoint that does not continue them (a writer killed before writing its
        checkpoint leaves a gap; the single entries fill it)."""
        wanted = [(last, f) for last, f in self._checkpoints(name) if last > seq]
        if not wanted:
            return
        blobs = self._fetch([f for _, f in wanted])
        for _, f in wanted:
            if f not in blobs:
                return
            entries = [_decode(line, name) for line in blobs[f].splitlines() if line]
            if not entries or entries[0].seq > seq + 1 or any(
                    e.problem or e.seq != entries[0].seq + i for i, e in enumerate(entries)):
                return  # a damaged checkpoint: the single entries say the same, slower
            for entry in entries:
                if entry.seq > seq:
                    seq = entry.seq
                    yield entry

    def _write_checkpoint(self, name: str, last: int,
                          known: Mapping[int, bytes] | None = None) -> None:
        """Bundle entries ``last - 255 .. last`` into one checkpoint file (put-if-absent),
        unless it exists; only the entries not ``known`` (seq → stored bytes) are read."""
        target = posixpath.join(self._checkpoint_dir(name), _seq_name(last) + ".jsonl")
        seqs = range(last - CHECKPOINT_EVERY + 1, last + 1)
        known = known or {}
        with contextlib.suppress(*_transport_errors()):
            if self.fs.exists(target):
                return
            missing = {self._entry_path(name, s): s for s in seqs if s not in known}
            texts = dict(known)
            texts.update({missing[p]: data for p, data in self._fetch(list(missing)).items()})
            if any(s not in texts or _decode(texts[s], name, s).problem for s in seqs):
                return  # a missing or quarantined entry is read on its own, never bundled
            data = b"".join(texts[s].rstrip(b"\n") + b"\n" for s in seqs)
            create_exclusive(self.fs, target, data)

    # -- writing -----------------------------------------------------------------------

    def _check_writable(self) -> None:
        """Refuse filesystems without exclusive create; probe once that it really is.

        The probe creates one key twice with the exclusive create: the second must
        fail. A server that ignores the precondition (some emulators and gateways)
        lets it succeed, and the store stays read-only.
        """
        if self._writable is None:
            if not supports_exclusive(self.fs):
                self._writable = False
            else:
                with _unreachable_as(StoreError, f"cannot write to {self.uri!r}"):
                    probe = self._p("probe", uuid.uuid4().hex)
                    first = create_exclusive(self.fs, probe, b"1")
                    second = create_exclusive(self.fs, probe, b"2")
                    with contextlib.suppress(*_transport_errors()):
                        self.fs.rm_file(probe)
                self._writable = first and not second
                self._probe_failed = first and second  # the precondition was ignored
        if not self._writable:
            if self._probe_failed:
                ignored = _PRECONDITION.get(scheme_of(self.uri), "the precondition")
                raise StoreError(
                    f"{self.uri!r} cannot be written safely: a second exclusive create of "
                    f"one key succeeded ({ignored} was ignored), so concurrent writers "
                    "could overwrite each other; use a "
                    "server that honours it (reading works)")
            if supports_exclusive(self.fs):
                raise StoreError(f"{self.uri!r} cannot be written: the probe's first "
                                 "exclusive create was refused; check the credentials' "
                                 "write permission on it (reading works)")
            raise StoreError(f"{self.uri!r} cannot be written safely: its filesystem offers no "
                             "atomic exclusive create, so concurrent writers could overwrite "
                             "each other (reading works)")

    def append(self, entry: Entry) -> bool:
        """Create the entry's file exclusively; False when another entry holds its place.

        After a transport error the file is read back: a retry of our own request (in
        s3fs or botocore) may have created it, which its unique id shows.
        """
        self._check_writable()
        path = self._entry_path(entry.name, entry.seq)
        with _unreachable_as(StoreError, f"cannot append to {entry.name!r} in {self.uri!r}"):
            try:
                created = create_exclusive(self.fs, path, _encode(entry).encode())
            except (OSError, StoreError) as exc:
                created = self._was_ours(path, entry, exc)
            else:
                if not created:
                    created = self._was_ours(path, entry, None)
            if created:
                self._exists = True
            if created and entry.seq % CHECKPOINT_EVERY == 0:
                self._write_checkpoint(entry.name, entry.seq)
        return created

    def _was_ours(self, path: str, entry: Entry, exc: BaseException | None) -> bool:
        """Whether the entry at ``path`` is ours (a lost response, or a retry of our
        own request that created it before the one that reported a conflict)."""
        try:
            found = self._fetch([path])
        except _transport_errors():
            found = {}
        if path not in found:
            if exc is None:
                return False
            raise StoreError(f"could not write {path}: {exc}") from exc
        return _decode(found[path], entry.name, entry.seq).id == entry.id

    def scan(self, name: str) -> Iterator[Entry]:
        """Every stored entry of ``name``, as listed on the filesystem itself."""
        with _unreachable_as(StoreError, f"cannot read the log of {name!r} in {self.uri!r}"):
            try:
                files = sorted(f for f in self._ls(self._p("log", check_name(name)))
                               if _ENTRY_FILE.fullmatch(posixpath.basename(f)))
            except FileNotFoundError:
                return
            texts = self._fetch(files)
        for f in files:
            if f in texts:
                yield _decode(texts[f], name, int(posixpath.basename(f).split(".", 1)[0]))

    def log_names(self) -> list[str]:
        """Every model with a remote log (``ConnectionError`` when unreachable)."""
        with _unreachable_as(ConnectionError, f"cannot reach {self.uri!r}"):
            return self._log_names()

    def _log_names(self) -> list[str]:
        try:
            listed = self._ls(self._p("log"))
        except FileNotFoundError:
            return []
        names = []
        for p in listed:
            base = posixpath.basename(p.rstrip("/"))
            with contextlib.suppress(ModelverError):
                if check_name(base) == base:
                    names.append(base)
        return sorted(names)

    def close(self) -> None:
        """Close the local index."""
        if self._index is not None:
            self._index.close()
            self._index = None


def _encode_text(text: str, sig: str | None) -> str:
    """An entry as stored remotely: its canonical JSON, then a tab and its HMAC if any
    (canonical JSON never holds a raw tab or newline)."""
    return text if sig is None else f"{text}\t{sig}"


def _encode(entry: Entry) -> str:
    return _encode_text(entry.text, entry.sig)


def _decode(stored: bytes, name: str, seq: int | None = None) -> Entry:
    """An entry as stored remotely (see :func:`_encode_text`), found in the log of
    ``name`` as entry ``seq``; one that cannot be read carries its ``problem``."""
    text, _, sig = stored.rstrip(b"\n").partition(b"\t")
    signature = sig.decode("ascii", "replace") if sig else None
    return parse(text, signature, name=name, seq=seq)

"""The remote backend: an append-only log and blobs on any fsspec filesystem.

Layout under the store's prefix::

    log/<name>/000000000001.json       one immutable entry per file, put-if-absent
    checkpoints/<name>/000000000256.jsonl   entries 1..256 bundled, for new readers
    blobs/sha256/ab/cdef…               content-addressed artifacts and code blobs

Writers build the next entry on their local index and create it with an exclusive
put (one request when the index is current); a writer that loses the race reads the
entry that won, backs off a random while, and rebuilds (re-allocating its version).
Each entry's unique id lets a retry after a lost response recognize its own entry.
Readers keep a local SQLite index that replays only entries it has not seen: one
small read when up to date, parallel reads ahead when behind, and checkpoints for a
new or far-behind reader. Listings are always fresh (fsspec caches them), and
transport errors become ``ConnectionError`` on reads (so a store can answer from its
index with a warning) and ``StoreError`` everywhere else.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import random
import re
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from .._errors import IntegrityError, ModelverError, StoreError
from .._index import Index
from .._log import Entry, parse, seal, sign, signing_key
from .._names import check_name
from .._user import current_user
from . import Build, default_cache_dir, missing_backend_hint
from ._cache import BlobCache
from ._exclusive import create_exclusive, supports_exclusive
from ._remote_blobs import RemoteBlobs
from ._transport import is_s3 as _is_s3
from ._transport import transport_errors as _transport_errors
from ._transport import unreachable_as as _unreachable_as

__all__ = ["RemoteBackend"]

CHECKPOINT_EVERY = 256
FETCH_AHEAD = 32
MAX_RETRIES = 1000
_READ_BATCH = 256
BACKOFF_S = 0.01
BACKOFF_MAX_S = 0.25


_ENTRY_FILE = re.compile(r"[0-9]{12}\.json")


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
        self._writable: bool | None = None

    @classmethod
    def from_uri(cls, uri: str, options: Mapping[str, Any]) -> RemoteBackend:
        """Open an fsspec URL such as ``s3://bucket/prefix`` or ``memory://team``."""
        import fsspec

        try:
            fs, root = fsspec.core.url_to_fs(uri, **dict(options))
        except ImportError as exc:
            scheme = uri.split("://", 1)[0]
            raise StoreError(f"cannot open {uri!r}: {exc}{missing_backend_hint(scheme)}"
                             ) from None
        except ValueError as exc:
            raise StoreError(f"cannot open {uri!r}: {exc}") from None
        return cls(fs, root, uri, default_cache_dir())

    # -- paths ---------------------------------------------------------------------

    def _entry_path(self, name: str, seq: int) -> str:
        return self._p("log", check_name(name), _seq_name(seq) + ".json")

    def _ls(self, path: str) -> list[str]:
        """A fresh listing: other machines write here, so cached listings go stale."""
        files: list[str] = self.fs.ls(path, detail=False, refresh=True)
        return files

    # -- the index -------------------------------------------------------------------

    @property
    def index(self) -> Index:
        """The machine-local index replaying this store's log."""
        if self._index is None:
            self._index = Index(self._index_path)
        return self._index

    def exists(self) -> bool:
        """Remote stores are always considered present; an empty log reads as empty."""
        return True

    def sync(self, name: str | None = None) -> None:
        """Replay entries the index has not seen (of one model, or of all).

        Raises ``ConnectionError`` (an ``OSError``, not a ``StoreError``) when the
        store cannot be reached, so that reads can go on from the index with a warning.
        """
        with _unreachable_as(ConnectionError, f"cannot reach {self.uri!r}"):
            names = [name] if name is not None else self._log_names()
            for n in names:
                self._sync_name(n)

    def _sync_name(self, name: str, known: int = 0) -> None:
        """Replay new entries of one model: probe the next one (a single small read
        when up to date), then fetch ahead in growing parallel batches.

        ``known`` says entries up to that number exist (a lost race showed it): they
        are fetched in one batch and nothing beyond them is probed. Checkpoints are
        read when the index has nothing of this model yet, or is far behind.
        """
        index = self.index
        seq, _ = index.head(name)
        checkpoints_read = seq == 0
        if checkpoints_read:
            self._load_checkpoints(name, 0)
            seq, _ = index.head(name)
        if known and seq >= known:
            return  # another process on this machine replayed them already
        ahead = max(1, known - seq)
        rounds = 0
        while True:
            paths = [self._entry_path(name, s) for s in range(seq + 1, seq + 1 + ahead)]
            found = self._fetch(paths)
            batch: list[str] = []
            for p in paths:  # stop at the first gap: nothing follows a missing entry
                if p not in found:
                    break
                batch.append(found[p].decode())
            applied = self._apply(name, batch)
            self._backfill_checkpoints(name, applied)
            seq, _ = index.head(name)
            if len(batch) < len(paths) or (known and seq >= known):
                return
            rounds += 1
            if rounds >= 4 and not checkpoints_read:
                checkpoints_read = True  # far behind: skip ahead by whole checkpoints
                self._load_checkpoints(name, seq)
                seq, _ = index.head(name)
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

    def _apply(self, name: str, texts: list[str]) -> list[Entry]:
        """Add entries that follow the index's head; returns those newly added."""
        if not texts:
            return []
        index = self.index
        added: list[Entry] = []
        key = signing_key()
        with index.write():
            seq, prev = index.head(name)
            for text in texts:
                entry = _decode(text)
                if entry.seq <= seq:
                    continue  # another process on this machine replayed it first
                if key is not None and entry.sig != sign(entry.hash, key):
                    raise IntegrityError(
                        f"entry {entry.seq} of {name!r} is not signed with MODELVER_SIGNING_KEY;"
                        f" it may be forged: run `modelver verify --store {self.uri}`")
                if entry.name != name or entry.seq != seq + 1 or entry.prev != prev:
                    raise IntegrityError(
                        f"the remote log of {name!r} is broken at entry {entry.seq}: it does "
                        f"not follow entry {seq}; run `modelver verify --store {self.uri}`")
                index.add(entry)
                added.append(entry)
                seq, prev = entry.seq, entry.hash
        return added

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

    def _load_checkpoints(self, name: str, seq: int) -> None:
        """Apply checkpoints past ``seq`` in order, stopping at the first one that does
        not continue the index (a writer killed before writing its checkpoint leaves a
        gap; the entries themselves fill it)."""
        wanted = [(last, f) for last, f in self._checkpoints(name) if last > seq]
        if not wanted:
            return
        blobs = self._fetch([f for _, f in wanted])
        for _, f in wanted:
            if f not in blobs:
                return
            texts = [line for line in blobs[f].decode().splitlines() if line]
            if not texts or _decode(texts[0]).seq > self.index.head(name)[0] + 1:
                return
            self._apply(name, texts)

    def _backfill_checkpoints(self, name: str, replayed: list[Entry]) -> None:
        """A writer that replays a checkpoint boundary from single entries makes sure
        its checkpoint exists (its writer may have been killed before writing it)."""
        if self._writable:
            for e in replayed:
                if e.seq % CHECKPOINT_EVERY == 0:
                    self._write_checkpoint(name, e.seq)

    def _write_checkpoint(self, name: str, last: int) -> None:
        first = last - CHECKPOINT_EVERY + 1
        rows = self.index.query("SELECT text, sig FROM entries WHERE name = ? AND seq BETWEEN ? "
                                "AND ? ORDER BY seq", (name, first, last))
        if len(rows) != CHECKPOINT_EVERY:
            return
        data = "".join(_encode_text(text, sig) + "\n" for text, sig in rows).encode()
        with contextlib.suppress(*_transport_errors()):
            create_exclusive(self.fs, posixpath.join(self._checkpoint_dir(name),
                                                     _seq_name(last) + ".jsonl"), data)

    # -- writing -----------------------------------------------------------------------

    def _check_writable(self) -> None:
        """Refuse filesystems without exclusive create; probe once that it really is."""
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
        if not self._writable:
            raise StoreError(f"{self.uri!r} cannot be written safely: its filesystem offers no "
                             "atomic exclusive create, so concurrent writers could overwrite "
                             "each other (reading works)")

    def append(self, name: str, build: Build) -> Entry:
        """Build, then create the next entry exclusively; rebuild after losing a race."""
        self._check_writable()
        with _unreachable_as(StoreError, f"cannot append to {name!r} in {self.uri!r}"):
            return self._append(name, build)

    def _append(self, name: str, build: Build) -> Entry:
        """Optimistic concurrency: build on the local index and try to create the next
        entry. Losing the race (the entry exists) is how a writer learns it is behind;
        it fetches what it missed and tries again. So an up-to-date writer appends in
        one request and a writer that lost a race pays one read for the entry it lost to.
        """
        by = current_user()
        index = self.index
        fresh = False  # whether the index was just brought fully up to date
        for attempt in range(MAX_RETRIES):
            # The head is read before ``build`` looks at the index: other processes on
            # this machine may replay newer entries into the shared index meanwhile, and
            # the draft must be placed right after the state it was built from (if that
            # state is already outdated, the exclusive create below fails and we retry).
            seq, prev = index.head(name)
            try:
                draft = build(index)
            except ModelverError:
                if fresh:
                    raise
                self._sync_name(name)  # a stale index must not decide a refusal
                fresh = True
                continue
            entry = seal(name, seq + 1, prev, draft, by)
            path = self._entry_path(name, entry.seq)
            try:
                created = create_exclusive(self.fs, path, _encode(entry).encode())
            except (OSError, StoreError) as exc:
                created = self._was_ours(path, entry, exc)
            if created:
                self._apply(name, [_encode(entry)])
                if entry.seq % CHECKPOINT_EVERY == 0:
                    self._write_checkpoint(name, entry.seq)
                return entry
            # Lost the race: back off a random while so that the losers spread out,
            # then read what won (and, after several losses, everything else new).
            time.sleep(random.uniform(0, min(BACKOFF_MAX_S, BACKOFF_S * 2 ** attempt)))  # noqa: S311
            many = attempt >= 3 or seq == 0  # a new machine, or far behind: read it all
            self._sync_name(name, known=0 if many else seq + 1)
            fresh = many
            if index.has_entry_id(entry.id):
                return entry  # a retry of our own request (in s3fs or botocore) got there
        raise StoreError(f"gave up appending to {name!r} after {MAX_RETRIES} lost races")

    def _was_ours(self, path: str, entry: Entry, exc: BaseException) -> bool:
        """After an error, whether our entry landed anyway (a lost response)."""
        try:
            found = self._fetch([path])
        except _transport_errors():
            found = {}
        if path not in found:
            raise StoreError(f"could not write {path}: {exc}") from exc
        return _decode(found[path].decode()).id == entry.id

    def log(self, name: str) -> Iterator[Entry]:
        """The remote chain of ``name``, read from the filesystem itself."""
        with _unreachable_as(StoreError, f"cannot read the log of {name!r} in {self.uri!r}"):
            try:
                files = sorted(f for f in self._ls(self._p("log", check_name(name)))
                               if _ENTRY_FILE.fullmatch(posixpath.basename(f)))
            except FileNotFoundError:
                return
            texts = self._fetch(files)
        for f in files:
            if f in texts:
                yield _decode(texts[f].decode())

    def log_names(self) -> list[str]:
        """Every model with a remote log."""
        with _unreachable_as(StoreError, f"cannot list {self.uri!r}"):
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


def _decode(stored: str) -> Entry:
    text, _, sig = stored.rstrip("\n").partition("\t")
    return parse(text, sig or None)

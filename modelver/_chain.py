"""The store's log: a backend's chains and the read model that replays them.

:class:`Chain` is what policy modules write through and read from: ``queries`` for
questions, :meth:`Chain.append` to add one entry, :meth:`Chain.sync` to replay what
other writers added. Appending is optimistic everywhere: build the draft from the
read model, seal it after the chain's head, and create it exclusively; a writer
that lost the race syncs, backs off a random while, and builds again (so a
version number is re-allocated, never duplicated). A local SQLite store does all of
that inside one ``BEGIN IMMEDIATE`` of the registry database, so it never loses.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
import warnings
from collections.abc import Callable, Iterable

from ._errors import IntegrityError, InvalidName, ModelverError, NotFound, StoreError
from ._index import Index, Queries
from ._log import MAX_ENTRY_BYTES, Draft, Entry, seal, sign, signing_key
from ._user import current_user
from .backends import Backend

__all__ = ["Build", "Chain", "QuarantineWarning", "StaleWarning"]

Build = Callable[[Queries], Draft]
"""Builds the next entry's draft from a current read model; raises to write nothing."""

MAX_RETRIES = 1000
BACKOFF_S = 0.01
BACKOFF_MAX_S = 0.25
_BATCH = 256  # entries applied per read-model transaction while replaying


class _Lost(Exception):
    """Another writer took the entry's place: roll its trial application back."""


class QuarantineWarning(UserWarning):
    """A log entry could not be applied: it was quarantined, and the rest of the store
    keeps working. ``modelver verify`` lists quarantined entries."""


# After a failed read, the replica answers alone for this long before the remote is
# tried again.
RETRY_AFTER_S = 30.0


class StaleWarning(UserWarning):
    """A remote store could not be reached; the answer comes from the local index."""


class Chain:
    """A backend's log with its read model (opened on first use)."""

    def __init__(self, backend: Backend, *, offline: str = "warn") -> None:
        self.backend = backend
        self.uri = backend.uri
        self.offline = offline
        self._index: Index | None = None
        self._queries: Queries | None = None
        self._open_lock = threading.Lock()
        # When the remote last failed and why; None once it answers again.
        self._down: tuple[float, str] | None = None

    @property
    def index(self) -> Index:
        """The read model's database."""
        index = self._index
        if index is not None:  # the common case takes no lock (and so is fork-safe)
            return index
        with self._open_lock:
            if self._index is None:
                self._index = self.backend.open_index()
            return self._index

    @property
    def queries(self) -> Queries:
        """Typed reads of the read model."""
        if self._queries is not None:
            return self._queries
        index = self.index
        with self._open_lock:
            if self._queries is None:
                self._queries = Queries(index)
            return self._queries

    def close(self) -> None:
        """Close the backend (and with it the read model's database)."""
        self.backend.close()
        self._index = self._queries = None

    # -- reading -------------------------------------------------------------------

    def readable(self, name: str | None = None) -> None:
        """Bring the read model up to date for a read.

        A store that does not exist is ``NotFound`` (a write creates it). When a remote
        store cannot be reached, reads go on from this machine's replica with a
        :class:`StaleWarning`, or raise ``StoreError`` if the store was opened with
        ``offline="error"`` or this machine has never read it.
        """
        down = self._down
        if down is not None and time.monotonic() - down[0] < RETRY_AFTER_S:
            # It failed moments ago: answer from the replica at once instead of paying
            # the connect timeout on every call (a serving process calls this per load).
            if self.offline == "error":
                raise StoreError(down[1])
            return
        try:
            if not self.backend.exists():
                raise NotFound(f"no store at {self.uri!r}: check the path, bucket or prefix "
                               "(a first write creates a store)")
            self.sync(name)
        except (OSError, TimeoutError) as exc:
            if isinstance(exc, StoreError):
                raise
            why = str(exc) if str(exc).startswith("cannot reach") else (
                f"cannot reach {self.uri!r}: {type(exc).__name__}: {exc}")
            if self.offline == "error":
                why = f"{why} (offline='error' refuses a stale read)"
                self._down = (time.monotonic(), why)
                raise StoreError(why) from exc
            if not self.queries.heads():
                raise StoreError(f"{why}, and this machine has no copy of it yet: check the "
                                 "endpoint, network and credentials") from exc
            if self._down is None:  # once per outage, not once per call
                warnings.warn(f"{why}; using what this machine last saw of it",
                              StaleWarning, stacklevel=3)
            self._down = (time.monotonic(), why)
        else:
            self._down = None

    def sync(self, name: str | None = None) -> None:
        """Replay the entries the read model has not seen (of one model, or of all).

        Raises ``OSError`` when a remote store cannot be reached; an entry that does not
        continue its chain, or is unsigned while ``MODELVER_SIGNING_KEY`` is set, is an
        ``IntegrityError``.
        """
        if self.backend.log_in_index:
            return
        names = [name] if name is not None else self.backend.log_names()
        for n in names:
            seq, _ = self.queries.head(n)
            batch: list[Entry] = []
            for entry in self.backend.log(n, after=seq):
                batch.append(entry)
                if len(batch) >= _BATCH:
                    self._replay(n, batch)
                    batch = []
            self._replay(n, batch)

    def _replay(self, name: str, entries: Iterable[Entry]) -> None:
        entries = list(entries)
        if not entries:
            return
        key = signing_key()
        with self.index.write():
            seq, _ = self.queries.head(name)
            for entry in entries:
                if entry.seq <= seq:
                    continue  # another process on this machine replayed it first
                if key is not None and entry.sig != sign(entry.hash, key):
                    raise IntegrityError(
                        f"entry {entry.seq} of {name!r} is not signed with MODELVER_SIGNING_KEY;"
                        f" it may be forged: run `modelver verify --store {self.uri}`")
                try:
                    if entry.name != name:
                        raise IntegrityError(f"entry {entry.seq} names {entry.name!r}")
                    problem = self.index.replay(entry)  # checks that it continues the chain
                except IntegrityError:
                    raise IntegrityError(
                        f"the log of {name!r} is broken at entry {entry.seq}: it does not "
                        f"follow entry {seq}; run `modelver verify --store {self.uri}`"
                        ) from None
                if problem is not None:
                    warnings.warn(
                        f"entry {entry.seq} of {name!r} in {self.uri!r} was quarantined: "
                        f"{problem}. The rest of the store works; `modelver verify` lists it",
                        QuarantineWarning, stacklevel=4)
                seq = entry.seq

    # -- writing ---------------------------------------------------------------------

    def _publish(self, entry: Entry) -> bool:
        """Append a sealed entry to the backend's log; False when another writer won.

        The entry is applied to the read model first, in a savepoint: an entry that
        does not apply here would not apply on any other machine either, so it is
        refused before anyone can see it (``IntegrityError``), and nothing is written.
        """
        size = len(entry.text.encode())
        if size > MAX_ENTRY_BYTES:
            raise InvalidName(f"the record for {entry.name!r} is {size:,} bytes of JSON, more "
                              f"than the {MAX_ENTRY_BYTES:,} allowed: keep large things in "
                              "artifacts or data snapshots, not in params or tags")
        if self.backend.log_in_index:
            return self.backend.append(entry)  # applied in the same transaction
        with self.index.write():  # a savepoint of the caller's transaction
            self.index.add(entry)
            if not self.backend.append(entry):
                raise _Lost
        return True

    def append(self, name: str, build: Build) -> Entry:
        """Append the draft ``build(queries)`` returns to the chain of ``name``.

        ``build`` sees a read model current as of its attempt and may run again when
        another writer won the race; whatever it raises aborts without writing.
        """
        by = current_user()
        fresh = self.backend.log_in_index  # a local read model is never behind its log
        for attempt in range(MAX_RETRIES):
            with self.index.write():
                seq, prev = self.queries.head(name)
                try:
                    draft = build(self.queries)
                except ModelverError:
                    if fresh:
                        raise
                    draft = None  # a stale replica must not decide a refusal
                if draft is not None:
                    entry = seal(name, seq + 1, prev, draft, by)
                    with contextlib.suppress(_Lost):
                        if self._publish(entry):
                            return entry
            if draft is not None:
                # Lost the race: back off a random while so that the losers spread out.
                time.sleep(random.uniform(0, min(BACKOFF_MAX_S, BACKOFF_S * 2 ** attempt)))  # noqa: S311
            try:
                self.sync(name)
            except (OSError, TimeoutError) as exc:
                raise StoreError(f"cannot append to {name!r} in {self.uri!r}: {exc}") from exc
            fresh = True
        raise StoreError(f"gave up appending to {name!r} after {MAX_RETRIES} lost races")

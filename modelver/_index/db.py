"""The read model's database: one kept-open SQLite connection and its transactions.

For a local store this database is the registry itself (its ``entries`` table is
the log); for a remote store it is a machine-local replica of the remote log. Hot
paths use the standard library's ``sqlite3``, and so does creating or upgrading
the schema (:mod:`.schema`), after ``PRAGMA user_version`` says that is needed.
Reads go through :class:`~modelver._index.queries.Queries`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

from .._errors import IntegrityError, StoreError
from .._log import Entry
from .apply import apply_or_quarantine, store_entry, try_rows
from .packing import unpack_entry_text
from .schema import SCHEMA_USER_VERSION, migrate

__all__ = ["Index"]

BUSY_TIMEOUT_MS = 60_000


class Index:
    """A SQLite database holding the log's entries and the tables derived from them."""

    readonly: bool
    """True when this process cannot write the database (it is opened read-only)."""
    reading: bool
    """True while a writable database is open read-only, as it is until the first write
    (a serving process that only resolves and loads never opens it for writing)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self.conn = self._connect()
        _track(self)
        with self.errors("open"):
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_USER_VERSION:
                self.conn.close()
                raise StoreError(f"the registry database {path!r} was written by a newer "
                                 f"modelver (schema {version}, this one reads up to "
                                 f"{SCHEMA_USER_VERSION}); upgrade modelver to use it")
            if version < SCHEMA_USER_VERSION and self.readonly:
                self.conn.close()
                raise StoreError(f"the registry database {path!r} was written by an older "
                                 "modelver and must be upgraded, which this read-only copy "
                                 "cannot be: open it once where it is writable")
            if version < SCHEMA_USER_VERSION:
                self._for_writing()
                self._create()
            if not self.readonly and self.conn.execute(
                    "PRAGMA journal_mode").fetchone()[0] != "wal":
                self._for_writing()
                with contextlib.suppress(sqlite3.OperationalError):
                    self.conn.execute("PRAGMA journal_mode = WAL")

    def _connect(self) -> sqlite3.Connection:
        path = self.path
        exists = path != ":memory:" and os.path.exists(path)
        self.readonly = exists and not _writable(path)
        self.reading = False
        if self.readonly:
            return self._connect_readonly()
        if exists:
            with contextlib.suppress(sqlite3.Error):
                conn = self._open_uri("mode=ro")
                self.reading = True
                return conn
        return self._connect_writable()

    def _for_writing(self) -> None:
        """Reopen a database that is open read-only for reading, for writing."""
        if self.reading:
            with self._lock:
                if self.reading:
                    self.conn.close()
                    self.conn = self._connect_writable()
                    self.reading = False

    def _open_uri(self, mode: str) -> sqlite3.Connection:
        from urllib.parse import quote

        conn = sqlite3.connect(f"file:{quote(os.path.abspath(self.path))}?{mode}", uri=True,
                               isolation_level=None, check_same_thread=False,
                               timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error:
            conn.close()
            raise
        return _with_functions(conn)

    def _connect_writable(self) -> sqlite3.Connection:
        path = self.path
        try:
            if path != ":memory:":
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the registry database {path!r}: {exc}") from None
        with self.errors("open"):
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA synchronous = NORMAL")
        return _with_functions(conn)

    def _connect_readonly(self) -> sqlite3.Connection:
        """A database this process may not write (a read-only volume, another user's
        file): opened read-only, or, where SQLite cannot share a write-ahead log
        read-only, as immutable (nothing can change it while it is mounted so)."""
        last: Exception | None = None
        for mode in ("mode=ro", "mode=ro&immutable=1"):
            try:
                return self._open_uri(mode)
            except sqlite3.Error as exc:
                last = exc
        raise StoreError(f"cannot open the read-only registry database {self.path!r}: {last}"
                         ) from None

    def _before_fork(self) -> None:
        """In the parent, just before ``fork``: wait until no thread is inside SQLite on
        this connection (a child must not inherit a mutex held mid-query)."""
        self._lock.acquire()

    def _after_fork_in_parent(self) -> None:
        self._lock.release()

    def _after_fork(self) -> None:
        """In a child process: a connection (and a lock another thread may have held)
        inherited across ``fork`` must not be used, so open fresh ones. The parent's
        connection object is abandoned, not closed: closing it here could disturb the
        parent's use of the same file."""
        if self._pid != os.getpid() and self.path != ":memory:":
            self._lock = threading.RLock()
            self._pid = os.getpid()
            self.conn = self._connect()

    @contextlib.contextmanager
    def errors(self, doing: str) -> Iterator[None]:
        """Turn SQLite's exceptions into a :class:`StoreError` that says what to do."""
        try:
            yield
        except sqlite3.Error as exc:
            text = str(exc)
            if "full" in text:
                hint = "free some disk space and try again; nothing was written"
            elif "readonly" in text or "read-only" in text:
                hint = "the store is not writable here; open a writable copy to change it"
            elif "disk I/O" in text:
                hint = ("the disk may be full or failing: free some space and try again; "
                        "nothing was written")
            elif "not a database" in text or "malformed" in text:
                hint = "the file is damaged: restore it from a backup or another replica"
            elif "locked" in text:
                hint = "another process held the database too long; try again"
            else:
                hint = "run `modelver verify`"
            raise StoreError(f"the registry database {self.path!r} could not {doing}: "
                             f"{text}; {hint}") from None

    def _create(self) -> None:
        """Create the schema once, serialized across processes by an exclusive lock."""
        with self._lock:
            self.conn.execute("BEGIN EXCLUSIVE")
            try:
                if self.conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_USER_VERSION:
                    migrate(self.conn)
                self.conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self.conn.close()

    # -- transactions ---------------------------------------------------------

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction: read-then-write without races.

        Inside another ``write()`` of this connection it is a savepoint of that one, so
        a backend can append within the store's transaction.
        """
        self._after_fork()
        self._for_writing()
        with self._lock:
            if self.conn.in_transaction:
                self.conn.execute("SAVEPOINT nested")
                try:
                    yield self.conn
                except BaseException:
                    self.conn.execute("ROLLBACK TO nested")
                    self.conn.execute("RELEASE nested")
                    raise
                self.conn.execute("RELEASE nested")
                return
            with self.errors("start a write"):
                self.conn.execute("BEGIN IMMEDIATE")
            try:
                with self.errors("write"):
                    yield self.conn
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
                raise
            with self.errors("commit"):
                self.conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query and return all rows."""
        self._after_fork()
        with self._lock, self.errors("be read"):
            return self.conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """Run a read query and return the first row, or None."""
        self._after_fork()
        with self._lock, self.errors("be read"):
            row: tuple[Any, ...] | None = self.conn.execute(sql, params).fetchone()
            return row

    # -- the log --------------------------------------------------------------

    def add(self, entry: Entry) -> None:
        """Store an entry and apply it to the derived tables (inside :meth:`write`).

        The entry must continue its chain (the next ``seq`` after the head, naming the
        head's hash as ``prev``) and apply cleanly; otherwise ``IntegrityError`` is
        raised, and the enclosing :meth:`write` keeps none of it. Writers use this
        before they publish.
        """
        self._check_follows(entry)
        problem = entry.problem
        if problem is None:
            try:
                store_entry(self.conn, entry.name, entry.seq, entry.kind,
                            entry.stored_bytes, entry.hash, entry.sig)
            except sqlite3.IntegrityError as exc:  # its place is taken
                raise IntegrityError(f"log entry {entry.name}#{entry.seq} cannot be stored: "
                                     f"{exc}") from None
            problem = try_rows(self.conn, entry.name, entry.seq, entry.data)
        if problem is not None:  # the caller's write() rolls back what was stored
            raise IntegrityError(f"log entry {entry.name}#{entry.seq} cannot be applied: "
                                 f"{problem}")

    def replay(self, entry: Entry) -> str | None:
        """Store an entry another writer published (inside :meth:`write`).

        It must continue its chain (else ``IntegrityError``). If it cannot be applied
        (not JSON, a record that does not read back, a newer modelver's format, a
        duplicate version…) it is kept in ``entries`` so that the chain goes on past
        it, and quarantined instead of applied; returns why, or None.
        """
        self._check_follows(entry)
        store_entry(self.conn, entry.name, entry.seq, entry.kind, entry.stored_bytes,
                    entry.hash, entry.sig)
        return apply_or_quarantine(self.conn, entry.name, entry.seq, entry.data,
                                   entry.problem)

    def _check_follows(self, entry: Entry) -> None:
        row = self.conn.execute("SELECT seq, hash FROM heads WHERE name = ?",
                                (entry.name,)).fetchone()
        seq, prev = (row[0], row[1]) if row else (0, None)
        unknown_prev = entry.problem is not None and "prev" not in entry.data
        if entry.seq != seq + 1 or (entry.prev != prev and not unknown_prev):
            raise IntegrityError(
                f"log entry {entry.name}#{entry.seq} does not follow {entry.name}#{seq}"
            )


def _with_functions(conn: sqlite3.Connection) -> sqlite3.Connection:
    """Add the SQL functions queries use: ``entry_json(data)``, an entry's JSON text."""
    conn.create_function("entry_json", 1, unpack_entry_text, deterministic=True)
    return conn


def _writable(path: str) -> bool:
    """Whether this process may write a database file and create its journal beside it."""
    return os.access(path, os.W_OK) and os.access(os.path.dirname(os.path.abspath(path)),
                                                    os.W_OK)


_OPEN: weakref.WeakSet[Index] = weakref.WeakSet()
_HOOKED: list[bool] = []


def _track(index: Index) -> None:
    """Remember an open database for the fork hooks (installed with the first one)."""
    _OPEN.add(index)
    if not _HOOKED and hasattr(os, "register_at_fork"):
        _HOOKED.append(True)
        os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                            after_in_child=_after_fork_in_child)


def _before_fork() -> None:
    for index in list(_OPEN):
        index._before_fork()


def _after_fork_in_parent() -> None:
    for index in list(_OPEN):
        index._after_fork_in_parent()


def _after_fork_in_child() -> None:
    for index in list(_OPEN):
        index._lock = threading.RLock()  # the parent's, held for the fork, is not ours

"""The SQLite index: tables derived from the log, queried on the hot paths.

For a local store the index is the registry itself (its ``entries`` table is the
log); for a remote store it is a cache that replays the remote log. Hot paths
(resolve, load, recording a run) use the standard library's ``sqlite3`` on one
kept-open connection; sqlite-utils is imported only to create or migrate the
schema, after ``PRAGMA user_version`` says that is needed.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from ._errors import IntegrityError, StoreError
from ._log import Entry, parse
from ._versions import parse_version

__all__ = ["SCHEMA_USER_VERSION", "Index"]

SCHEMA_USER_VERSION = 1
BUSY_TIMEOUT_MS = 60_000


def _import_sqlite_utils() -> None:
    """Import sqlite-utils without letting it import pandas and numpy.

    sqlite-utils imports both eagerly when they are installed (+0.5-0.9 s), and a
    store created inside a training run would otherwise change what that run's seed
    capture sees. modelver never hands it frames or arrays, so it may go without.
    """
    if "sqlite_utils" in sys.modules:
        return
    blocked = [m for m in ("pandas", "numpy") if m not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` fail
    try:
        import sqlite_utils  # noqa: F401
    finally:
        for name in blocked:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


def _migrate(conn: sqlite3.Connection) -> None:
    """Create or upgrade the schema with sqlite-utils' migrations."""
    _import_sqlite_utils()
    import sqlite_utils
    from sqlite_utils.migrations import Migrations

    migrations = Migrations("modelver")

    @migrations(name="0001_initial")
    def initial(db: sqlite_utils.Database) -> None:
        db.execute("""CREATE TABLE IF NOT EXISTS entries (
            name TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL, text TEXT NOT NULL, hash TEXT NOT NULL, sig TEXT,
            PRIMARY KEY (name, seq))""")
        db.execute("""CREATE TABLE IF NOT EXISTS versions (
            name TEXT NOT NULL, version TEXT NOT NULL, major INTEGER, minor INTEGER,
            patch INTEGER, pre INTEGER NOT NULL, digest TEXT NOT NULL, run_id TEXT,
            created_at TEXT NOT NULL, record TEXT NOT NULL, seq INTEGER NOT NULL,
            PRIMARY KEY (name, version))""")
        db.table("versions").create_index(["digest"], if_not_exists=True)
        db.table("versions").create_index(
            ["name", "pre", "major", "minor", "patch"], if_not_exists=True
        )
        db.table("runs").create(
            {"id": str, "name": str, "status": str, "version": str, "started_at": str,
             "record": str, "seq": int}, pk="id", not_null={"name", "record"},
            if_not_exists=True,
        )
        db.table("runs").create_index(["name", "started_at"], if_not_exists=True)
        db.table("run_data").create(
            {"run_id": str, "key": str, "digest": str}, pk=("run_id", "key"),
            if_not_exists=True,
        )
        db.table("run_data").create_index(["digest"], if_not_exists=True)
        db.table("edges").create({"parent": str, "child": str}, pk=("parent", "child"),
                           if_not_exists=True)
        db.table("edges").create_index(["child"], if_not_exists=True)
        db.table("alias_events").create(
            {"name": str, "alias": str, "seq": int, "at": str, "to_version": str,
             "record": str}, pk=("name", "seq"), if_not_exists=True,
        )
        db.table("alias_events").create_index(["name", "alias", "seq"], if_not_exists=True)
        db.table("aliases").create({"name": str, "alias": str, "version": str},
                             pk=("name", "alias"), if_not_exists=True)
        db.table("tombstones").create({"name": str, "version": str, "record": str, "seq": int},
                                pk=("name", "version"), if_not_exists=True)
        db.table("holds").create({"name": str, "version": str, "record": str},
                           pk=("name", "version"), if_not_exists=True)
        db.table("heads").create({"name": str, "seq": int, "hash": str}, pk="name",
                           if_not_exists=True)
        db.table("stat_cache").create(
            {"path": str, "size": int, "mtime_ns": int, "inode": int, "digest": str},
            pk="path", if_not_exists=True,
        )
        db.table("meta").create({"key": str, "value": str}, pk="key", if_not_exists=True)
        # Immutability: version rows, runs and alias events are written once.
        for table in ("versions", "runs", "alias_events", "entries"):
            for op in ("UPDATE", "DELETE"):
                db.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} "
                    f"ON {table} BEGIN SELECT RAISE(ABORT, "
                    f"'modelver: {table} rows are immutable'); END"
                )

    db = sqlite_utils.Database(conn, execute_plugins=False)
    migrations.apply(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_USER_VERSION}")


class Index:
    """A SQLite database of derived tables, with the log's ``apply`` and the queries."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        try:
            if path != ":memory:":
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            self.conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the registry database {path!r}: {exc}") from None
        self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        if self.conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_USER_VERSION:
            self._create()
        with contextlib.suppress(sqlite3.OperationalError):
            self.conn.execute("PRAGMA journal_mode = WAL")

    def _create(self) -> None:
        """Create the schema once, serialized across processes by an exclusive lock."""
        with self._lock:
            self.conn.execute("BEGIN EXCLUSIVE")
            try:
                if self.conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_USER_VERSION:
                    # sqlite-utils manages its own savepoints inside our transaction.
                    _migrate(self.conn)
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
        """A ``BEGIN IMMEDIATE`` transaction: read-then-write without races."""
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query and return all rows."""
        with self._lock:
            return self.conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """Run a read query and return the first row, or None."""
        with self._lock:
            row: tuple[Any, ...] | None = self.conn.execute(sql, params).fetchone()
            return row

    # -- the log --------------------------------------------------------------

    def head(self, name: str) -> tuple[int, str | None]:
        """The last sequence number and hash of a model's chain (0, None if empty)."""
        row = self.one("SELECT seq, hash FROM heads WHERE name = ?", (name,))
        return (row[0], row[1]) if row else (0, None)

    def heads(self) -> dict[str, tuple[int, str]]:
        """Every chain's head."""
        return {n: (s, h) for n, s, h in self.query("SELECT name, seq, hash FROM heads")}

    def add(self, entry: Entry) -> None:
        """Store an entry and apply it to the derived tables (inside a transaction)."""
        seq, prev = self.head(entry.name)
        if entry.seq != seq + 1 or entry.prev != prev:
            raise IntegrityError(
                f"log entry {entry.name}#{entry.seq} does not follow {entry.name}#{seq}"
            )
        self.conn.execute(
            "INSERT INTO entries (name, seq, id, kind, text, hash, sig) VALUES (?,?,?,?,?,?,?)",
            (entry.name, entry.seq, entry.id, entry.kind, entry.text, entry.hash, entry.sig),
        )
        self.conn.execute(
            "INSERT INTO heads (name, seq, hash) VALUES (?, ?, ?) ON CONFLICT(name) "
            "DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            (entry.name, entry.seq, entry.hash),
        )
        apply(self.conn, entry)

    def entries(self, name: str | None = None) -> Iterator[Entry]:
        """Stored entries, by model then sequence."""
        sql = "SELECT text, sig, hash FROM entries"
        rows = self.query(sql + " WHERE name = ? ORDER BY seq", (name,)) if name else self.query(
            sql + " ORDER BY name, seq"
        )
        for text, sig, stored in rows:
            yield parse(text, sig, stored)

    def has_entry_id(self, entry_id: str) -> bool:
        """Whether an entry with this unique id is already in the log."""
        return self.one("SELECT 1 FROM entries WHERE id = ?", (entry_id,)) is not None


def version_key(version: str) -> tuple[int, int, int, int]:
    """Columns that order versions: major, minor, patch, and 1 for a pre-release."""
    v = parse_version(version)
    major, minor, patch = v.release
    return major, minor, patch, 1 if v.pre is not None else 0


def apply(conn: sqlite3.Connection, entry: Entry) -> None:
    """Update the derived tables for one entry (pure SQL, no I/O beyond the database)."""
    body, name = entry.body, entry.name
    if entry.kind in ("version", "run"):
        version = body.get("version")
        run = body.get("run")
        if run is not None:
            conn.execute(
                "INSERT INTO runs (id, name, status, version, started_at, record, seq) "
                "VALUES (?,?,?,?,?,?,?)",
                (run["id"], name, run["status"], run.get("version"), run["started_at"],
                 json.dumps(run, sort_keys=True), entry.seq),
            )
            conn.executemany(
                "INSERT OR IGNORE INTO run_data (run_id, key, digest) VALUES (?,?,?)",
                [(run["id"], k, fp["digest"]) for k, fp in run.get("data", {}).items()],
            )
        if version is not None:
            major, minor, patch, pre = version_key(version["version"])
            conn.execute(
                "INSERT INTO versions (name, version, major, minor, patch, pre, digest, "
                "run_id, created_at, record, seq) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (name, version["version"], major, minor, patch, pre, version["digest"],
                 version.get("run_id"), version["created_at"],
                 json.dumps(version, sort_keys=True), entry.seq),
            )
            child = f"{name}@{version['version']}"
            conn.executemany(
                "INSERT OR IGNORE INTO edges (parent, child) VALUES (?, ?)",
                [(p, child) for p in version.get("parents", [])],
            )
    elif entry.kind == "alias":
        event = body["event"]
        conn.execute(
            "INSERT INTO alias_events (name, alias, seq, at, to_version, record) "
            "VALUES (?,?,?,?,?,?)",
            (name, event["alias"], entry.seq, event["at"], event["to_version"],
             json.dumps(event, sort_keys=True)),
        )
        conn.execute(
            "INSERT INTO aliases (name, alias, version) VALUES (?, ?, ?) "
            "ON CONFLICT(name, alias) DO UPDATE SET version = excluded.version",
            (name, event["alias"], event["to_version"]),
        )
    elif entry.kind == "tombstone":
        conn.execute(
            "INSERT INTO tombstones (name, version, record, seq) VALUES (?,?,?,?)",
            (name, body["version"], json.dumps(body["tombstone"], sort_keys=True), entry.seq),
        )
    elif entry.kind == "hold":
        hold = body["hold"]
        if hold.get("released"):
            conn.execute("DELETE FROM holds WHERE name = ? AND version = ?",
                         (name, hold["version"]))
        else:
            conn.execute(
                "INSERT INTO holds (name, version, record) VALUES (?,?,?) ON CONFLICT"
                "(name, version) DO UPDATE SET record = excluded.record",
                (name, hold["version"], json.dumps(hold, sort_keys=True)),
            )
    else:
        raise IntegrityError(f"unknown log entry kind {entry.kind!r} in {name}#{entry.seq}")

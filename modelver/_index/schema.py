"""The read model's schema: the log's entries and the tables derived from them.

``entries`` holds every log entry's canonical JSON, once: it is the log itself in a
local store and a replica of the remote log elsewhere. The derived tables keep only
the columns that queries filter, join or order on, plus the ``seq`` of the entry a
row came from; a full record is read back from its entry. Versions order by
``sort_key``, a text that sorts like PEP 440 precedence (see
:func:`modelver._versions.sort_key`), so pre-releases order correctly everywhere.

The schema is created and upgraded with sqlite-utils' migrations, only when
``PRAGMA user_version`` says it is needed. An upgrade from schema 1 (which stored
each record twice) rebuilds the derived tables by replaying ``entries``.
"""

from __future__ import annotations

import json
import sqlite3
import sys

from .apply import add_rows

__all__ = ["DERIVED_TABLES", "SCHEMA_USER_VERSION", "migrate"]

SCHEMA_USER_VERSION = 2

# Every table derived from the log, by its key columns (``verify`` compares them).
DERIVED_TABLES = {
    "versions": ("name", "version"),
    "runs": ("id",),
    "run_data": ("run_id", "key"),
    "edges": ("parent", "child"),
    "alias_events": ("name", "seq"),
    "aliases": ("name", "alias"),
    "tombstones": ("name", "version"),
    "holds": ("name", "version"),
    "heads": ("name",),
}
# Rows written once: an UPDATE or DELETE of them is refused by a trigger.
_IMMUTABLE = ("versions", "runs", "alias_events", "entries")

_DERIVED = """
CREATE TABLE versions (
    name TEXT NOT NULL, version TEXT NOT NULL, sort_key TEXT NOT NULL,
    pre INTEGER NOT NULL, digest TEXT NOT NULL, format TEXT NOT NULL,
    size INTEGER NOT NULL, run_id TEXT, parents TEXT NOT NULL, tags TEXT NOT NULL,
    created_at TEXT NOT NULL, created_by TEXT NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (name, version));
CREATE INDEX versions_order ON versions (name, pre, sort_key);
CREATE INDEX versions_sorted ON versions (name, sort_key);
CREATE INDEX versions_digest ON versions (digest);
CREATE TABLE runs (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, version TEXT,
    started_at TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE INDEX runs_name ON runs (name, started_at);
CREATE TABLE run_data (
    run_id TEXT NOT NULL, key TEXT NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (run_id, key));
CREATE INDEX run_data_digest ON run_data (digest);
CREATE TABLE edges (parent TEXT NOT NULL, child TEXT NOT NULL, PRIMARY KEY (parent, child));
CREATE INDEX edges_child ON edges (child);
CREATE TABLE alias_events (
    name TEXT NOT NULL, alias TEXT NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL,
    kind TEXT NOT NULL, from_version TEXT, to_version TEXT NOT NULL,
    PRIMARY KEY (name, seq));
CREATE INDEX alias_events_alias ON alias_events (name, alias, seq);
CREATE TABLE aliases (
    name TEXT NOT NULL, alias TEXT NOT NULL, version TEXT NOT NULL,
    PRIMARY KEY (name, alias));
CREATE TABLE tombstones (
    name TEXT NOT NULL, version TEXT NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (name, version));
CREATE TABLE holds (
    name TEXT NOT NULL, version TEXT NOT NULL, reason TEXT NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (name, version));
CREATE TABLE heads (name TEXT PRIMARY KEY, seq INTEGER NOT NULL, hash TEXT NOT NULL);
"""


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


def _create_derived(conn: sqlite3.Connection) -> None:
    for statement in _DERIVED.split(";"):
        if statement.strip():
            conn.execute(statement)
    for table in _IMMUTABLE:
        for op in ("UPDATE", "DELETE"):
            conn.execute(
                f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} "
                f"ON {table} BEGIN SELECT RAISE(ABORT, "
                f"'modelver: {table} rows are immutable'); END"
            )


def migrate(conn: sqlite3.Connection) -> None:
    """Create or upgrade the schema (inside the caller's exclusive transaction)."""
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
        db.table("stat_cache").create(
            {"path": str, "size": int, "mtime_ns": int, "inode": int, "digest": str},
            pk="path", if_not_exists=True,
        )
        db.table("meta").create({"key": str, "value": str}, pk="key", if_not_exists=True)

    @migrations(name="0002_columns_and_sort_key")
    def columns(db: sqlite_utils.Database) -> None:
        # Schema 1 kept a second JSON copy of each record and ordered versions by a
        # pre-release flag; derived tables are rebuilt from the entries they came from.
        for table in DERIVED_TABLES:
            db.execute(f"DROP TABLE IF EXISTS {table}")
        _create_derived(db.conn)
        rows = db.execute("SELECT name, seq, text FROM entries ORDER BY name, seq").fetchall()
        for name, seq, text in rows:
            add_rows(db.conn, name, seq, json.loads(text))
        db.execute("DELETE FROM heads")
        db.execute("INSERT INTO heads (name, seq, hash) SELECT name, seq, hash FROM entries e "
                   "WHERE seq = (SELECT max(seq) FROM entries WHERE name = e.name)")

    db = sqlite_utils.Database(conn, execute_plugins=False)
    migrations.apply(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_USER_VERSION}")

"""The read model's schema: the log's entries and the tables derived from them.

``entries`` holds every log entry's canonical JSON, once, deflated (see
:mod:`.packing`; SQL reads it through ``entry_json(data)``): it is the log itself in
a local store and a replica of the remote log elsewhere. The derived tables keep only
the columns that queries filter, join or order on, plus the ``seq`` of the entry a
row came from; a full record is read back from its entry. Versions order by
``sort_key``, a text that sorts like PEP 440 precedence (see
:func:`modelver._versions.sort_key`), so pre-releases order correctly everywhere.

The schema is plain DDL, created and upgraded only when ``PRAGMA user_version``
says it is needed. An upgrade rebuilds the derived tables by replaying ``entries``
(schema 1 stored each record twice; schema 3 added the ``quarantine`` of entries
that cannot be applied; schema 4 shortened ``sort_key`` and dropped an index that
duplicated ``versions_sorted``; schema 5 added a version's record schema, the blobs
its artifact is made of, and its members and requirements; schema 6 the version a
run ``reproduces``; schema 7 the tables that search, annotations, protected aliases and
approvals read; schema 8 packs entries, digests and times, which halves the bytes a
version takes: the ``entries`` table is rewritten once). (Schema 1 used sqlite-utils'
migrations; its bookkeeping table is left in place and unused.)
"""

from __future__ import annotations

import sqlite3

from .._log import parse
from .apply import apply_or_quarantine
from .packing import pack_entry, unpack_entry

__all__ = ["DERIVED_TABLES", "SCHEMA_USER_VERSION", "migrate"]

SCHEMA_USER_VERSION = 8

# Every table derived from the log, by its key columns (``verify`` compares them).
DERIVED_TABLES = {
    "versions": ("name", "version"),
    "runs": ("id",),
    "run_data": ("run_id", "key"),
    "run_params": ("run_id", "key"),
    "run_metrics": ("run_id", "key"),
    "edges": ("parent", "child"),
    "alias_events": ("name", "seq"),
    "aliases": ("name", "alias"),
    "tombstones": ("name", "version"),
    "holds": ("name", "version"),
    "heads": ("name",),
    "quarantine": ("name", "seq"),
    "version_tags": ("name", "version", "key"),
    "annotations": ("name", "seq"),
    "protections": ("name", "alias"),
    "approvals": ("name", "seq"),
}
# Rows written once: an UPDATE or DELETE of them is refused by a trigger.
_IMMUTABLE = ("versions", "runs", "alias_events", "entries", "annotations", "approvals")

_DERIVED = """
CREATE TABLE versions (
    name TEXT NOT NULL, version TEXT NOT NULL, sort_key TEXT NOT NULL,
    pre INTEGER NOT NULL, digest BLOB NOT NULL, format TEXT NOT NULL,
    size INTEGER NOT NULL, run_id TEXT, parents TEXT NOT NULL, tags TEXT NOT NULL,
    created_at INTEGER NOT NULL, created_by TEXT NOT NULL, seq INTEGER NOT NULL,
    schema INTEGER NOT NULL, blobs BLOB, artifact TEXT,
    PRIMARY KEY (name, version));
CREATE INDEX versions_sorted ON versions (name, sort_key);
CREATE INDEX versions_digest ON versions (substr(digest, 1, 8));
CREATE INDEX versions_run ON versions (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX versions_created ON versions (created_at);
CREATE TABLE runs (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, version TEXT,
    started_at TEXT NOT NULL, seq INTEGER NOT NULL, reproduces TEXT);
CREATE INDEX runs_name ON runs (name, started_at);
CREATE INDEX runs_version ON runs (version);
CREATE INDEX runs_reproduces ON runs (reproduces) WHERE reproduces IS NOT NULL;
CREATE TABLE run_data (
    run_id TEXT NOT NULL, key TEXT NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (run_id, key));
CREATE INDEX run_data_digest ON run_data (digest);
CREATE TABLE run_params (
    run_id TEXT NOT NULL, key TEXT NOT NULL, num REAL, txt TEXT, PRIMARY KEY (run_id, key));
CREATE INDEX run_params_num ON run_params (key, num);
CREATE INDEX run_params_txt ON run_params (key, txt);
CREATE TABLE run_metrics (
    run_id TEXT NOT NULL, key TEXT NOT NULL, value REAL NOT NULL, PRIMARY KEY (run_id, key));
CREATE INDEX run_metrics_value ON run_metrics (key, value);
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
CREATE TABLE quarantine (
    name TEXT NOT NULL, seq INTEGER NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (name, seq));
CREATE TABLE version_tags (
    name TEXT NOT NULL, version TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (name, version, key));
CREATE INDEX version_tags_kv ON version_tags (key, value);
CREATE TABLE annotations (
    name TEXT NOT NULL, version TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (name, seq));
CREATE INDEX annotations_version ON annotations (name, version, seq);
CREATE TABLE protections (
    name TEXT NOT NULL, alias TEXT NOT NULL, approvals INTEGER NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (name, alias));
CREATE TABLE approvals (
    name TEXT NOT NULL, seq INTEGER NOT NULL, version TEXT NOT NULL, alias TEXT NOT NULL,
    approver TEXT NOT NULL, PRIMARY KEY (name, seq));
CREATE INDEX approvals_target ON approvals (name, alias, version, seq);
"""


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


# An entry's id, hash and fields are inside its packed JSON; only its place, its kind
# and its signature are columns (the hash of a chain's last entry is in ``heads``).
_ENTRIES = """CREATE TABLE {table} (
    name TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, data BLOB NOT NULL,
    sig TEXT, PRIMARY KEY (name, seq)) WITHOUT ROWID"""

_BASE = """
CREATE TABLE IF NOT EXISTS stat_cache (
    path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, inode INTEGER, digest TEXT);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


def migrate(conn: sqlite3.Connection) -> None:
    """Create or upgrade the schema (inside the caller's exclusive transaction).

    Plain DDL on the standard library's ``sqlite3``: the log's tables are created if
    missing, ``entries`` of schema 1 to 7 (plain JSON text) is rewritten packed, and
    the derived tables are rebuilt by replaying ``entries`` (empty in a new store).
    """
    for statement in _BASE.split(";"):
        if statement.strip():
            conn.execute(statement)
    recorded = _pack_entries(conn)
    for table in DERIVED_TABLES:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
    _create_derived(conn)
    rows = conn.execute("SELECT name, seq, data FROM entries ORDER BY name, seq").fetchall()
    heads: dict[str, tuple[int, str]] = {}
    for name, seq, data in rows:
        entry = parse(unpack_entry(data), name=name, seq=seq)
        apply_or_quarantine(conn, name, seq, entry.data, entry.problem)
        heads[name] = (seq, entry.hash)
    # A chain's last entry has no successor naming its hash: keep the hash it was written
    # with (an edit of its text, or a copy that lost its bytes, then still shows).
    heads.update((n, h) for n, h in recorded.items() if heads.get(n, (0,))[0] == h[0])
    conn.executemany("INSERT INTO heads (name, seq, hash) VALUES (?, ?, ?)",
                     [(name, seq, digest) for name, (seq, digest) in heads.items()])
    conn.execute(f"PRAGMA user_version = {SCHEMA_USER_VERSION}")


def _pack_entries(conn: sqlite3.Connection) -> dict[str, tuple[int, str]]:
    """Create ``entries``, or rewrite one of schema 1 to 7 (JSON text, with its id and
    hash as columns) packed; each entry's text, and so its hash, is kept exactly.

    Returns the (seq, hash) that a rewritten table recorded for each chain's last entry.
    """
    columns = [r[1] for r in conn.execute("PRAGMA table_info(entries)")]
    if "data" in columns:
        return {}
    recorded: dict[str, tuple[int, str]] = {}
    conn.execute(_ENTRIES.format(table="entries_packed"))
    if columns:
        recorded = {name: (seq, digest) for name, seq, digest in conn.execute(
            "SELECT name, seq, hash FROM entries e WHERE seq = "
            "(SELECT max(seq) FROM entries WHERE name = e.name)")}
        conn.executemany(
            "INSERT INTO entries_packed (name, seq, kind, data, sig) VALUES (?,?,?,?,?)",
            [(name, seq, kind, pack_entry(text), sig) for name, seq, kind, text, sig in
             conn.execute("SELECT name, seq, kind, text, sig FROM entries")])
        conn.execute("DROP TABLE entries")
    conn.execute("ALTER TABLE entries_packed RENAME TO entries")
    return recorded

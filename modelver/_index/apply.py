"""Applying log entries: one entry in, its derived rows out.

Nothing here reads a record back; each row keeps the columns queries need and the
``seq`` of its entry, whose text is the one stored copy of the record.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from .._errors import IntegrityError
from .._serde import canonical
from .._versions import parse_version, sort_key

__all__ = ["add_entry", "add_rows"]


def add_entry(conn: sqlite3.Connection, name: str, seq: int, entry_id: str, kind: str,
              text: str, digest: str, sig: str | None, data: dict[str, Any]) -> None:
    """Store an entry, move its chain's head, and apply it (inside a transaction)."""
    conn.execute(
        "INSERT INTO entries (name, seq, id, kind, text, hash, sig) VALUES (?,?,?,?,?,?,?)",
        (name, seq, entry_id, kind, text, digest, sig),
    )
    conn.execute(
        "INSERT INTO heads (name, seq, hash) VALUES (?, ?, ?) ON CONFLICT(name) "
        "DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        (name, seq, digest),
    )
    add_rows(conn, name, seq, data)


def add_rows(conn: sqlite3.Connection, name: str, seq: int, data: dict[str, Any]) -> None:
    """Update the derived tables for one entry (its parsed JSON; pure SQL, no other I/O)."""
    kind, body = data["kind"], data["body"]
    if kind in ("version", "run"):
        if body.get("run") is not None:
            _run(conn, name, seq, body["run"])
        if body.get("version") is not None:
            _version(conn, name, seq, body["version"])
    elif kind == "alias":
        event = body["event"]
        conn.execute(
            "INSERT INTO alias_events (name, alias, seq, at, kind, from_version, to_version) "
            "VALUES (?,?,?,?,?,?,?)",
            (name, event["alias"], seq, event["at"], event.get("kind", "promote"),
             event.get("from_version"), event["to_version"]),
        )
        conn.execute(
            "INSERT INTO aliases (name, alias, version) VALUES (?, ?, ?) "
            "ON CONFLICT(name, alias) DO UPDATE SET version = excluded.version",
            (name, event["alias"], event["to_version"]),
        )
    elif kind == "tombstone":
        conn.execute("INSERT INTO tombstones (name, version, seq) VALUES (?,?,?)",
                     (name, body["version"], seq))
    elif kind == "hold":
        hold = body["hold"]
        if hold.get("released"):
            conn.execute("DELETE FROM holds WHERE name = ? AND version = ?",
                         (name, hold["version"]))
        else:
            conn.execute(
                "INSERT INTO holds (name, version, reason, seq) VALUES (?,?,?,?) ON CONFLICT"
                "(name, version) DO UPDATE SET reason = excluded.reason, seq = excluded.seq",
                (name, hold["version"], hold["reason"], seq))
    else:
        raise IntegrityError(f"unknown log entry kind {kind!r} in {name}#{seq}")


def _run(conn: sqlite3.Connection, name: str, seq: int, run: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO runs (id, name, status, version, started_at, seq) VALUES (?,?,?,?,?,?)",
        (run["id"], name, run["status"], run.get("version"), run["started_at"], seq),
    )
    conn.executemany(
        "INSERT OR IGNORE INTO run_data (run_id, key, digest) VALUES (?,?,?)",
        [(run["id"], k, fp["digest"]) for k, fp in (run.get("data") or {}).items()],
    )


def _version(conn: sqlite3.Connection, name: str, seq: int, version: dict[str, Any]) -> None:
    number = version["version"]
    parsed = parse_version(number)
    conn.execute(
        "INSERT INTO versions (name, version, sort_key, pre, digest, format, size, run_id, "
        "parents, tags, created_at, created_by, seq) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (name, number, sort_key(parsed), int(parsed.pre is not None),
         version["digest"], version["format"], version["size"], version.get("run_id"),
         canonical(version.get("parents") or []), canonical(version.get("tags") or {}),
         version["created_at"], version.get("created_by", ""), seq),
    )
    child = f"{name}@{number}"
    conn.executemany(
        "INSERT OR IGNORE INTO edges (parent, child) VALUES (?, ?)",
        [(p, child) for p in version.get("parents") or ()],
    )

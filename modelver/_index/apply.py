"""Applying log entries: one entry in, its derived rows out.

Each record is read back as its class once, as a check, when it is applied; each row
keeps only the columns queries need and the ``seq`` of its entry, whose text is the
one stored copy of the record.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from .._errors import IntegrityError, ModelverError
from .._serde import canonical
from .._versions import parse_version, sort_key
from .facts import metric_rows, param_rows
from .packing import pack_blobs, pack_digest, pack_entry, pack_time

__all__ = ["RECORD_ERRORS", "add_rows", "apply_or_quarantine", "apply_problem", "store_entry",
           "try_rows"]


def store_entry(conn: sqlite3.Connection, name: str, seq: int, kind: str, text: bytes,
                digest: str, sig: str | None) -> None:
    """Store an entry's bytes (packed) and move its chain's head, without applying it."""
    conn.execute("INSERT INTO entries (name, seq, kind, data, sig) VALUES (?,?,?,?,?)",
                 (name, seq, kind, pack_entry(text), sig))
    conn.execute(
        "INSERT INTO heads (name, seq, hash) VALUES (?, ?, ?) ON CONFLICT(name) "
        "DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        (name, seq, digest),
    )


RECORD_ERRORS = (LookupError, TypeError, ValueError, ArithmeticError, AttributeError,
                 sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.ProgrammingError)
"""What applying a malformed record raises (``IntegrityError`` and ``InvalidName`` are
``ValueError``); anything else (a locked or full database) is not the entry's fault."""


def try_rows(conn: sqlite3.Connection, name: str, seq: int, data: dict[str, Any]
             ) -> str | None:
    """Apply an entry's derived rows in a savepoint; if a record in it is malformed,
    roll them back and return why (else None)."""
    conn.execute("SAVEPOINT apply_entry")
    try:
        add_rows(conn, name, seq, data)
    except RECORD_ERRORS as exc:
        conn.execute("ROLLBACK TO apply_entry")
        conn.execute("RELEASE apply_entry")
        return apply_problem(exc)
    conn.execute("RELEASE apply_entry")
    return None


def apply_or_quarantine(conn: sqlite3.Connection, name: str, seq: int,
                        data: dict[str, Any], problem: str | None) -> str | None:
    """Apply a stored entry's rows, or quarantine it: an entry that cannot be applied
    (its ``problem`` is known already, or applying it fails) gets a ``quarantine`` row
    instead, and nothing else of it is applied. Returns why it was quarantined."""
    if problem is None:
        problem = try_rows(conn, name, seq, data)
    if problem is not None:
        conn.execute("INSERT INTO quarantine (name, seq, reason) VALUES (?, ?, ?) ON CONFLICT"
                     "(name, seq) DO UPDATE SET reason = excluded.reason", (name, seq, problem))
    return problem


def apply_problem(exc: BaseException) -> str:
    """What an exception raised while applying an entry says about the entry."""
    if isinstance(exc, KeyError):
        return f"a record in it lacks the field {exc}"
    if isinstance(exc, sqlite3.IntegrityError):
        return f"it repeats a record that is already in the log ({exc})"
    if isinstance(exc, ModelverError):
        return str(exc)
    return f"a record in it cannot be read: {type(exc).__name__}: {exc}"


def add_rows(conn: sqlite3.Connection, name: str, seq: int, data: dict[str, Any]) -> None:
    """Update the derived tables for one entry (its parsed JSON; pure SQL, no other I/O).

    Each record the entry carries is read back as its class first, so an entry that
    applies is one every query can read; one that does not raises.
    """
    kind, body = data["kind"], data["body"]
    check_records(kind, body)
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
    elif kind in ("annotation", "protect", "approval"):
        from .governance import add_governance_rows

        add_governance_rows(conn, name, seq, kind, body)
    else:
        raise IntegrityError(f"unknown log entry kind {kind!r} in {name}#{seq}")


_RECORDS = {("run", "run"), ("run", "version"), ("version", "version"), ("version", "run"),
            ("alias", "event"), ("tombstone", "tombstone"), ("hold", "hold"),
            ("annotation", "annotation"), ("protect", "protection"), ("approval", "approval")}


def check_records(kind: str, body: dict[str, Any]) -> None:
    """Raise ``IntegrityError`` unless every record in an entry's body reads back as its
    class, from this modelver's record schema or an older one."""
    from .._records import (
        SCHEMA_VERSION,
        VERSION_SCHEMA,
        AliasEvent,
        Annotation,
        Approval,
        Hold,
        ModelVersion,
        Protection,
        Run,
        Tombstone,
    )
    from .._serde import structure

    classes: dict[str, type] = {"run": Run, "version": ModelVersion, "event": AliasEvent,
                                "tombstone": Tombstone, "hold": Hold,
                                "annotation": Annotation, "protection": Protection,
                                "approval": Approval}
    if not isinstance(body, dict):
        raise IntegrityError("its body is not an object")
    for key, cls in classes.items():
        record = body.get(key)
        if record is None or (kind, key) not in _RECORDS:
            continue
        if not isinstance(record, dict):
            raise IntegrityError(f"its {key} record is not an object")
        version = record.get("schema_version", 1)
        newest = VERSION_SCHEMA if cls is ModelVersion else SCHEMA_VERSION
        if isinstance(version, int) and version > newest:
            raise IntegrityError(
                f"its {key} record was written by a newer modelver (record schema {version}; "
                f"this one reads up to {newest}): upgrade modelver to read it")
        try:
            structure(record, cls)
        except (ImportError, OSError, MemoryError, RecursionError):
            raise  # this environment's trouble, not the record's
        except Exception as exc:  # cattrs raises exception groups, not one class
            raise IntegrityError(f"its {key} record cannot be read: "
                                 f"{_validation_text(exc)}") from None


def _validation_text(exc: BaseException) -> str:
    """The first leaf of a (cattrs) exception group, as ``Type: message``."""
    while isinstance(getattr(exc, "exceptions", None), (list, tuple)) and exc.exceptions:  # type: ignore[attr-defined]
        exc = exc.exceptions[0]  # type: ignore[attr-defined]
    return f"{type(exc).__name__}: {exc}"


def _run(conn: sqlite3.Connection, name: str, seq: int, run: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO runs (id, name, status, version, started_at, seq, reproduces) "
        "VALUES (?,?,?,?,?,?,?)",
        (run["id"], name, run["status"], run.get("version"), run["started_at"], seq,
         run.get("reproduces")),
    )
    conn.executemany(
        "INSERT OR IGNORE INTO run_data (run_id, key, digest) VALUES (?,?,?)",
        [(run["id"], k, fp["digest"]) for k, fp in (run.get("data") or {}).items()],
    )
    conn.executemany("INSERT OR IGNORE INTO run_params (run_id, key, num, txt) VALUES (?,?,?,?)",
                     param_rows(run["id"], run.get("params") or {}))
    conn.executemany("INSERT OR IGNORE INTO run_metrics (run_id, key, value) VALUES (?,?,?)",
                     metric_rows(run["id"], run.get("metrics") or {}))


def _artifact_column(version: dict[str, Any]) -> str | None:
    """A version's bundle members, requirements and input signature as JSON; None when
    it has none of them."""
    extra = {k: version[k] for k in ("artifacts", "requirements", "signature")
             if version.get(k)}
    return canonical(extra) if extra else None


def _version(conn: sqlite3.Connection, name: str, seq: int, version: dict[str, Any]) -> None:
    number = version["version"]
    parsed = parse_version(number)
    conn.execute(
        "INSERT INTO versions (name, version, sort_key, pre, digest, format, size, run_id, "
        "parents, tags, created_at, created_by, seq, schema, blobs, artifact) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (name, number, sort_key(parsed), int(parsed.pre is not None),
         pack_digest(version["digest"]), version["format"], version["size"],
         version.get("run_id"), canonical(version.get("parents") or []),
         canonical(version.get("tags") or {}), pack_time(version["created_at"]),
         version.get("created_by", ""), seq, version.get("schema_version", 1),
         pack_blobs(version.get("blobs") or []),
         _artifact_column(version)),
    )
    child = f"{name}@{number}"
    conn.executemany(
        "INSERT OR IGNORE INTO edges (parent, child) VALUES (?, ?)",
        [(p, child) for p in version.get("parents") or ()],
    )
    # Annotations (applied later) may set the same keys: theirs win, these stay first.
    conn.executemany("INSERT INTO version_tags (name, version, key, value) VALUES (?,?,?,?) "
                     "ON CONFLICT(name, version, key) DO NOTHING",
                     [(name, number, k, str(v)) for k, v in (version.get("tags") or {}).items()])

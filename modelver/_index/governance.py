"""The read model of annotations, protected aliases and approvals: their rows and questions.

Each ``annotation`` entry adds an ``annotations`` row (the entry's text is the record)
and sets or removes the tags it names in ``version_tags``, so that a version's tags
there are its registered tags changed by its annotations, in log order. A ``protect``
entry sets the alias's row in ``protections`` (0 approvals removes it); an
``approval`` entry adds an ``approvals`` row. Which approvals count for a move is
decided here, once: those of the target by users other than the mover, recorded after
the protection was set and after the alias last moved to that target (a move there
uses them up).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from .._errors import IntegrityError
from .._records import Annotation, Approval, Protection
from .._serde import structure


class _Reads(Protocol):
    """What these questions need of the read model's database (an ``Index``; named
    structurally, since ``db`` applies entries through this module)."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None: ...

__all__ = ["ANNOTATIONS_COLUMN", "GovernanceQueries", "add_governance_rows", "annotated"]

# A version's annotations as one JSON array, oldest first (read with the version row).
ANNOTATIONS_COLUMN = (
    "(SELECT json_group_array(json(n.note)) FROM (SELECT json_extract(entry_json(ae.data), "
    "'$.body.annotation') AS note FROM annotations a JOIN entries ae ON ae.name = a.name "
    "AND ae.seq = a.seq WHERE a.name = v.name AND a.version = v.version ORDER BY a.seq) n)")


def _same_model(name: str, record: dict[str, Any], what: str) -> None:
    if record["name"] != name:
        raise IntegrityError(f"its {what} names model {record['name']!r} but is in the log "
                             f"of {name!r}")


def _known_version(conn: sqlite3.Connection, name: str, version: str, what: str) -> None:
    if conn.execute("SELECT 1 FROM versions WHERE name = ? AND version = ?",
                    (name, version)).fetchone() is None:
        raise IntegrityError(f"its {what} names {name}@{version}, which is not in the log")


def add_governance_rows(conn: sqlite3.Connection, name: str, seq: int, kind: str,
                        body: dict[str, Any]) -> None:
    """The derived rows of one ``annotation``, ``protect`` or ``approval`` entry."""
    if kind == "annotation":
        note = body["annotation"]
        _same_model(name, note, "annotation")
        _known_version(conn, name, note["version"], "annotation")
        conn.execute("INSERT INTO annotations (name, version, seq) VALUES (?, ?, ?)",
                     (name, note["version"], seq))
        for key, value in (note.get("tags") or {}).items():
            if value is None:
                conn.execute("DELETE FROM version_tags WHERE name = ? AND version = ? "
                             "AND key = ?", (name, note["version"], key))
            else:
                conn.execute(
                    "INSERT INTO version_tags (name, version, key, value) VALUES (?,?,?,?) "
                    "ON CONFLICT(name, version, key) DO UPDATE SET value = excluded.value",
                    (name, note["version"], key, value))
    elif kind == "protect":
        guard = body["protection"]
        _same_model(name, guard, "protection")
        if guard["approvals"] < 0:
            raise IntegrityError("its protection asks for a negative number of approvals")
        if guard["approvals"] == 0:
            conn.execute("DELETE FROM protections WHERE name = ? AND alias = ?",
                         (name, guard["alias"]))
        else:
            conn.execute(
                "INSERT INTO protections (name, alias, approvals, seq) VALUES (?,?,?,?) "
                "ON CONFLICT(name, alias) DO UPDATE SET approvals = excluded.approvals, "
                "seq = excluded.seq", (name, guard["alias"], guard["approvals"], seq))
    else:
        ok = body["approval"]
        _same_model(name, ok, "approval")
        _known_version(conn, name, ok["version"], "approval")
        conn.execute("INSERT INTO approvals (name, seq, version, alias, approver) "
                     "VALUES (?,?,?,?,?)", (name, seq, ok["version"], ok["alias"], ok["by"]))


def annotated(tags: dict[str, str], notes: Iterable[Annotation]
              ) -> tuple[dict[str, str], str | None]:
    """A version's tags changed by its annotations in order, and its latest description
    (None when none was set, or the latest set ``""``)."""
    tags = dict(tags)
    description: str | None = None
    for note in notes:
        if note.description is not None:
            description = note.description or None
        for key, value in note.tags.items():
            if value is None:
                tags.pop(key, None)
            else:
                tags[key] = value
    return tags, description


def parse_annotations(text: str | None) -> list[Annotation]:
    """The ``ANNOTATIONS_COLUMN`` of a version row as records."""
    if text is None or text == "[]":
        return []
    return [structure(n, Annotation) for n in json.loads(text)]


class GovernanceQueries:
    """Questions about annotations, protections and approvals (a part of ``Queries``)."""

    index: _Reads

    def registered_tags(self, name: str, version: str) -> dict[str, str]:
        """A version's tags as it was registered, before any annotation changed them."""
        row = self.index.one("SELECT tags FROM versions WHERE name = ? AND version = ?",
                             (name, version))
        return {} if row is None else dict(json.loads(row[0]))

    def protection(self, name: str, alias: str) -> tuple[int, int] | None:
        """(approvals needed, seq of the protect entry) of a protected alias, or None."""
        row = self.index.one("SELECT approvals, seq FROM protections WHERE name = ? "
                             "AND alias = ?", (name, alias))
        return None if row is None else (int(row[0]), int(row[1]))

    def protections(self, name: str) -> list[Protection]:
        """The protections in force on a model's aliases, by alias."""
        rows = self.index.query(
            "SELECT json_extract(entry_json(e.data), '$.body.protection') FROM protections p "
            "JOIN entries e ON e.name = p.name AND e.seq = p.seq WHERE p.name = ? "
            "ORDER BY p.alias", (name,))
        return [structure(json.loads(r[0]), Protection) for r in rows]

    def approvals(self, name: str, alias: str | None = None) -> list[Approval]:
        """Every approval recorded for a model (or for one alias of it), oldest first."""
        rows = self.index.query(
            "SELECT json_extract(entry_json(e.data), '$.body.approval') FROM approvals a "
            "JOIN entries e ON e.name = a.name AND e.seq = a.seq WHERE a.name = ? "
            "AND (? IS NULL OR a.alias = ?) ORDER BY a.seq", (name, alias, alias))
        return [structure(json.loads(r[0]), Approval) for r in rows]

    def approval_entries(self, name: str, alias: str, version: str, *, after: int
                         ) -> list[tuple[str, str, str | None]]:
        """(approver, entry text, entry signature) of each unused approval of moving
        ``alias`` to ``version``: recorded after entry ``after`` (the protection) and after
        the alias last moved there, oldest first."""
        rows = self.index.query(
            "SELECT a.approver, entry_json(e.data), e.sig FROM approvals a JOIN entries e "
            "ON e.name = a.name "
            "AND e.seq = a.seq WHERE a.name = ? AND a.alias = ? AND a.version = ? AND a.seq > ? "
            "AND a.seq > coalesce((SELECT max(seq) FROM alias_events WHERE name = ? "
            "AND alias = ? AND to_version = ?), 0) ORDER BY a.seq",
            (name, alias, version, after, name, alias, version))
        return [(str(r[0]), str(r[1]), r[2]) for r in rows]

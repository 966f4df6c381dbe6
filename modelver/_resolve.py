"""Reference resolution: exact version, alias, ``latest``, specifier, or digest prefix.

Pure functions over the index; nothing here writes.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ._errors import InvalidName, NotFound
from ._index import Index
from ._names import check_alias, check_name, closest
from ._records import ModelVersion
from ._serde import structure, unstructure
from ._versions import normalize, parse_specifier, parse_version

__all__ = ["resolve_row", "split_ref", "to_version", "version_from"]

_COLS = "version, record"


def split_ref(text: str) -> tuple[str, str]:
    """Split ``name@ref`` into its parts (``ref`` defaults to ``latest``)."""
    if not isinstance(text, str):
        raise InvalidName(f"expected 'name@ref', got {type(text).__name__}")
    name, _, ref = text.partition("@")
    return check_name(name), ref or "latest"


def version_from(record_json: str, tombstone_json: str | None) -> ModelVersion:
    """A ModelVersion from its stored JSON and, if retention deleted it, its tombstone's."""
    data: dict[str, Any] = json.loads(record_json)
    if tombstone_json is not None:
        data["deleted"] = json.loads(tombstone_json)
    return structure(data, ModelVersion)


def to_version(index: Index, name: str, record_json: str) -> ModelVersion:
    """A ModelVersion from its stored JSON, looking up its tombstone."""
    version = json.loads(record_json)["version"]
    row = index.one("SELECT record FROM tombstones WHERE name = ? AND version = ?",
                    (name, version))
    return version_from(record_json, None if row is None else row[0])


def _missing_name(index: Index, name: str) -> NotFound:
    names = [r[0] for r in index.query("SELECT DISTINCT name FROM versions")]
    return NotFound(f"no model named {name!r} in this store", closest(name, names))


def _missing_ref(index: Index, name: str, ref: str, what: str) -> NotFound:
    rows = index.query("SELECT version FROM versions WHERE name = ? ORDER BY major DESC, "
                       "minor DESC, patch DESC LIMIT 200", (name,))
    aliases = [r[0] for r in index.query("SELECT alias FROM aliases WHERE name = ?", (name,))]
    options = [r[0] for r in rows] + aliases + ["latest"]
    return NotFound(f"{what} {ref!r} not found for model {name!r}", closest(ref, options))


def resolve_row(index: Index, name: str, ref: str, *, at: datetime | None = None,
                prereleases: bool = False) -> tuple[str, str]:
    """The (version, record JSON) a reference names; raises ``NotFound``/``InvalidName``."""
    name = check_name(name)
    if not isinstance(ref, str) or not ref or len(ref) > 200:
        raise InvalidName(f"invalid reference {ref!r}: use a version, alias, 'latest', "
                          "a specifier like '>=1.2,<2', or a digest prefix 'sha256:…'")
    if ref == "latest":
        pre = "" if prereleases else " AND pre = 0"
        row = index.one(f"SELECT {_COLS} FROM versions WHERE name = ?{pre} "
                        "ORDER BY major DESC, minor DESC, patch DESC, pre ASC LIMIT 1", (name,))
        if row is None:
            if index.one("SELECT 1 FROM versions WHERE name = ?", (name,)):
                raise NotFound(f"model {name!r} has only pre-releases; name one exactly")
            raise _missing_name(index, name)
        return row[0], row[1]
    if ref.startswith("sha256:"):
        return _by_digest(index, name, ref)
    spec = parse_specifier(ref)
    if spec is not None:
        rows = index.query("SELECT version FROM versions WHERE name = ?", (name,))
        if not rows and not index.one("SELECT 1 FROM versions WHERE name = ?", (name,)):
            raise _missing_name(index, name)
        matches = list(spec.filter((r[0] for r in rows), prereleases=prereleases or None))
        if not matches:
            raise _missing_ref(index, name, ref, "no version matches specifier")
        best = max(matches, key=parse_version)
        return _exact(index, name, best)
    if ref[0].isdigit():
        return _exact(index, name, normalize(ref))
    alias = check_alias(ref)
    if at is not None:
        row = index.one("SELECT to_version FROM alias_events WHERE name = ? AND alias = ? "
                        "AND at <= ? ORDER BY seq DESC LIMIT 1",
                        (name, alias, unstructure(at)))
        if row is None:
            raise NotFound(f"alias {name}@{alias} pointed nowhere at {at.isoformat()}")
        return _exact(index, name, row[0])
    row = index.one("SELECT version FROM aliases WHERE name = ? AND alias = ?", (name, alias))
    if row is None:
        if not index.one("SELECT 1 FROM versions WHERE name = ?", (name,)):
            raise _missing_name(index, name)
        raise _missing_ref(index, name, ref, "alias")
    return _exact(index, name, row[0])


def _exact(index: Index, name: str, version: str) -> tuple[str, str]:
    row = index.one(f"SELECT {_COLS} FROM versions WHERE name = ? AND version = ?",
                    (name, version))
    if row is None:
        if not index.one("SELECT 1 FROM versions WHERE name = ?", (name,)):
            raise _missing_name(index, name)
        raise _missing_ref(index, name, version, "version")
    return row[0], row[1]


def _by_digest(index: Index, name: str, prefix: str) -> tuple[str, str]:
    hexpart = prefix[7:]
    if not hexpart or len(hexpart) > 64 or any(c not in "0123456789abcdef" for c in hexpart):
        raise InvalidName(f"invalid digest prefix {prefix!r}: use 'sha256:' and hex digits")
    rows = index.query(f"SELECT {_COLS} FROM versions WHERE name = ? AND digest >= ? "
                       "AND digest < ? ORDER BY major, minor, patch",
                       (name, prefix, prefix + "g"))
    if not rows:
        raise NotFound(f"no version of {name!r} has a digest starting {prefix!r}")
    digests = {json.loads(r[1])["digest"] for r in rows}
    if len(digests) > 1:
        raise InvalidName(f"digest prefix {prefix!r} is ambiguous for {name!r}: "
                          f"it matches {len(digests)} artifacts; give more digits")
    # Several versions may share one artifact; the newest names it.
    return rows[-1][0], rows[-1][1]

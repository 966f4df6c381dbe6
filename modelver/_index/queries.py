"""Every question asked of the read model, as typed methods that return records.

The version order (``sort_key``, PEP 440 precedence) and the tombstone rule (a
version is deleted when a tombstone names it) are written here once. Full records
are read from the entry each row came from (its one stored copy); the hot lists
(versions) are built from columns alone.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from .._log import Entry, parse
from .._records import AliasEvent, Artifact, Hold, ModelVersion, Run, Tombstone
from .._run_summary import RunSummary
from .._serde import structure
from .._signature import Signature
from .blob_queries import _LIVE, CODE_BLOB_FIELDS, BlobQueries
from .db import Index
from .governance import ANNOTATIONS_COLUMN, GovernanceQueries, annotated, parse_annotations
from .packing import unpack_blobs, unpack_digest, unpack_entry, unpack_time

__all__ = ["CODE_BLOB_FIELDS", "Queries"]

_TOMB = ("LEFT JOIN tombstones t ON t.name = v.name AND t.version = v.version "
         "LEFT JOIN entries te ON te.name = t.name AND te.seq = t.seq")
# A version row's digest as text, in SQL (see .packing).
DIGEST_TEXT = ("CASE typeof(v.digest) WHEN 'blob' THEN 'sha256:' || lower(hex(v.digest)) "
               "ELSE v.digest END")
# The runs that reproduced a version (identical reruns), through runs_version.
_RERUNS = ("(SELECT json_group_array(rr.id) FROM runs rr WHERE rr.version = "
           "v.name || '@' || v.version AND rr.id IS NOT v.run_id)")
# The runs ``reproduce`` made of a version, through runs_reproduces.
_REBUILDS = ("(SELECT json_group_array(rr.id) FROM runs rr WHERE rr.reproduces = "
             "v.name || '@' || v.version)")
_V = ("SELECT v.name, v.version, v.digest, v.format, v.size, v.run_id, v.parents, "
      f"v.tags, v.created_at, v.created_by, te.data, {_RERUNS}, "
      f"v.schema, v.blobs, v.artifact, {_REBUILDS}, {ANNOTATIONS_COLUMN} "
      f"FROM versions v {_TOMB}")
# Whether any version of a model (or of any model, with NULL) has reruns, rebuilds,
# annotations or tombstones: a list of versions reads those columns only when some
# exist (each is a lookup per row, a third of the cost of listing 2,000 versions).
_EXTRAS = """SELECT
    (SELECT count(*) FROM runs WHERE (?1 IS NULL OR name = ?1) AND version IS NOT NULL)
    > (SELECT count(*) FROM versions WHERE (?1 IS NULL OR name = ?1) AND run_id IS NOT NULL),
    EXISTS (SELECT 1 FROM runs WHERE reproduces IS NOT NULL AND (?1 IS NULL OR name = ?1)),
    EXISTS (SELECT 1 FROM annotations WHERE ?1 IS NULL OR name = ?1),
    EXISTS (SELECT 1 FROM tombstones WHERE ?1 IS NULL OR name = ?1)"""


@functools.lru_cache(maxsize=16)
def _v_select(reruns: bool, rebuilds: bool, annotations: bool, tombstones: bool) -> str:
    """``_V`` with the columns that cannot hold anything left NULL."""
    return (_V.replace(_RERUNS, _RERUNS if reruns else "NULL")
            .replace(_REBUILDS, _REBUILDS if rebuilds else "NULL")
            .replace(ANNOTATIONS_COLUMN, ANNOTATIONS_COLUMN if annotations else "NULL")
            .replace("te.data", "te.data" if tombstones else "NULL")
            .replace(_TOMB, _TOMB if tombstones else ""))


_RUN = ("SELECT json_extract(entry_json(e.data), '$.body.run') FROM runs r "
        "JOIN entries e ON e.name = r.name AND e.seq = r.seq")
# A version row from a "name@version" text, by the versions primary key.
_BY_REF = ("v.name = substr({r}, 1, instr({r}, '@') - 1) "
           "AND v.version = substr({r}, instr({r}, '@') + 1)")
_UP = """WITH RECURSIVE up(ref) AS (
    SELECT ? UNION SELECT e.parent FROM edges e JOIN up ON e.child = up.ref)
SELECT e.parent, e.child FROM up JOIN edges e ON e.child = up.ref"""
_DOWN = """WITH RECURSIVE down(ref) AS (
    SELECT ? UNION SELECT e.child FROM edges e JOIN down ON e.parent = down.ref)
SELECT e.parent, e.child FROM down JOIN edges e ON e.parent = down.ref"""
_NODES = f"""SELECT j.value, json_extract(entry_json(ve.data), '$.body.version'),
    json_extract(entry_json(te.data), '$.body.tombstone'), r.id, r.status,
    json_extract(entry_json(re.data), '$.body.run')
FROM json_each(?) j
JOIN versions v ON {_BY_REF.format(r="j.value")}
JOIN entries ve ON ve.name = v.name AND ve.seq = v.seq
{_TOMB}
LEFT JOIN runs r ON r.id = v.run_id
LEFT JOIN entries re ON re.name = r.name AND re.seq = r.seq"""
_INPUTS = """SELECT d.run_id, d.key, d.digest FROM json_each(?) j
JOIN run_data d ON d.run_id = j.value ORDER BY j.key, d.key"""
# One recorded fingerprint per digest (SQLite's bare columns come from the min() row).
_FINGERPRINTS = """SELECT d.digest,
    json_extract(entry_json(e.data), '$.body.run.data.' || json_quote(d.key))
FROM (SELECT digest, run_id, key, min(rowid) FROM run_data
      WHERE digest IN (SELECT value FROM json_each(?)) GROUP BY digest) d
JOIN runs r ON r.id = d.run_id JOIN entries e ON e.name = r.name AND e.seq = r.seq"""
_USED_BY = f"""WITH RECURSIVE hit(ref) AS (
    SELECT r.version FROM run_data d JOIN runs r ON r.id = d.run_id
    WHERE d.digest IN (SELECT value FROM json_each(?)) AND r.version IS NOT NULL
    UNION SELECT e.child FROM edges e JOIN hit ON e.parent = hit.ref)
{_V} JOIN hit ON {_BY_REF.format(r="hit.ref")}
ORDER BY v.name, v.sort_key"""

_SNAPSHOT_SOURCES = """SELECT DISTINCT json_extract(j.value, '$.digest') FROM runs r
JOIN entries e ON e.name = r.name AND e.seq = r.seq,
    json_each(entry_json(e.data), '$.body.run.data') j
WHERE json_extract(entry_json(e.data), '$.body.run.blobs') IS NOT NULL
AND json_extract(j.value, '$.snapshot') = ?"""
_REPRODUCTIONS = """SELECT r.id, r.reproduces, r.status,
    json_extract(entry_json(e.data), '$.body.run')
FROM json_each(?) j JOIN runs r ON r.reproduces = j.value
JOIN entries e ON e.name = r.name AND e.seq = r.seq ORDER BY r.started_at, r.id"""


def _version(row: tuple[Any, ...]) -> ModelVersion:
    (name, version, digest, fmt, size, run_id, parents, tags, created, by, tomb, reruns,
     schema, blobs, artifact, rebuilds, notes) = row
    deleted = None if tomb is None else structure(
        json.loads(unpack_entry(tomb))["body"]["tombstone"], Tombstone)
    # A list builds thousands of these: the common case (no parents, tags, reruns,
    # members or annotations; one blob) skips every parser and helper call.
    if artifact is None:
        artifacts, requirements, signature = {}, {}, None
    else:
        extra = _artifact_fields(artifact)
        artifacts, requirements = extra.get("artifacts", {}), extra.get("requirements", {})
        signature = extra.get("signature")
    tag_map = {} if tags == "{}" else json.loads(tags)
    annotations = [] if notes is None else parse_annotations(notes)
    description = None
    if annotations:
        tag_map, description = annotated(tag_map, annotations)
    # Positional, in the class's field order (a third faster than keywords here):
    # name, version, digest, format, size, run_id, parents, tags, created_at,
    # created_by, deleted, reruns, artifacts, blobs, requirements, reproductions,
    # description, annotations, signature, schema_version.
    return ModelVersion(
        name, version, unpack_digest(digest), fmt, size, run_id,
        [] if parents == "[]" else json.loads(parents), tag_map, unpack_time(created), by,
        deleted, [] if reruns is None or reruns == "[]" else json.loads(reruns), artifacts,
        unpack_blobs(blobs), requirements,
        [] if rebuilds is None or rebuilds == "[]" else json.loads(rebuilds),
        description, annotations, signature, schema)


@functools.lru_cache(maxsize=256)
def _artifact_json(text: str) -> dict[str, Any]:
    """The parsed ``artifact`` column; versions of one model mostly share theirs (the same
    requirements), so each text is parsed once."""
    return dict(json.loads(text))


@functools.lru_cache(maxsize=256)
def _signature(text: str) -> Signature:
    """The ``signature`` in an ``artifact`` column, read once per text."""
    return structure(_artifact_json(text)["signature"], Signature)


def _artifact_fields(text: str) -> dict[str, Any]:
    """``artifacts`` and ``requirements`` of a version row, as fresh objects, and its
    ``signature`` (immutable, so shared by the rows that hold the same text)."""
    parsed = _artifact_json(text)
    out: dict[str, Any] = {}
    if "signature" in parsed:
        out["signature"] = _signature(text)
    if "requirements" in parsed:
        out["requirements"] = dict(parsed["requirements"])
    if "artifacts" in parsed:
        out["artifacts"] = {k: Artifact(**a) for k, a in parsed["artifacts"].items()}
    return out


def _runs(rows: Iterable[tuple[Any, ...]]) -> list[Run]:
    return [structure(json.loads(r[0]), Run) for r in rows]


class Queries(GovernanceQueries, BlobQueries):
    """Typed reads of one read model. Nothing here writes."""

    index: Index

    def __init__(self, index: Index) -> None:
        self.index = index

    # -- the log ---------------------------------------------------------------

    def head(self, name: str) -> tuple[int, str | None]:
        """The last sequence number and hash of a model's chain (0, None if empty)."""
        row = self.index.one("SELECT seq, hash FROM heads WHERE name = ?", (name,))
        return (row[0], row[1]) if row else (0, None)

    def heads(self) -> dict[str, tuple[int, str]]:
        """Every chain's head."""
        return {n: (s, h) for n, s, h in self.index.query("SELECT name, seq, hash FROM heads")}

    def entries(self, name: str | None = None, *, after: int = 0) -> Iterator[Entry]:
        """Stored entries (of one model after ``after``), by model then sequence."""
        sql = ("SELECT e.name, e.seq, e.data, e.sig, h.hash FROM entries e "
               "LEFT JOIN heads h ON h.name = e.name AND h.seq = e.seq")
        rows = (self.index.query(sql + " WHERE e.name = ? AND e.seq > ? ORDER BY e.seq",
                                 (name, after))
                if name else self.index.query(sql + " ORDER BY e.name, e.seq"))
        for entry_name, seq, data, sig, stored in rows:
            yield parse(unpack_entry(data), sig, stored, name=entry_name, seq=seq)

    def quarantined(self) -> list[tuple[str, int, str]]:
        """(name, seq, why) of every entry that was kept but could not be applied."""
        return [(str(n), int(q), str(r)) for n, q, r in self.index.query(
            "SELECT name, seq, reason FROM quarantine ORDER BY name, seq")]

    def log_names(self) -> list[str]:
        """Every name with entries in the log."""
        return [r[0] for r in self.index.query("SELECT DISTINCT name FROM entries ORDER BY 1")]

    def entry_hash(self, name: str, seq: int) -> str | None:
        """The hash of the entry stored at ``name#seq`` (None if there is none)."""
        row = self.index.one("SELECT data FROM entries WHERE name = ? AND seq = ?", (name, seq))
        return None if row is None else parse(unpack_entry(row[0])).hash

    # -- versions --------------------------------------------------------------

    def has_model(self, name: str) -> bool:
        """Whether ``name`` has any version."""
        return self.index.one("SELECT 1 FROM versions WHERE name = ? LIMIT 1",
                              (name,)) is not None

    def names(self) -> list[str]:
        """Every model name with a version, sorted."""
        return [r[0] for r in self.index.query("SELECT DISTINCT name FROM versions ORDER BY 1")]

    def latest(self, name: str, *, prereleases: bool = False) -> ModelVersion | None:
        """The highest version of ``name`` (pre-releases only when asked)."""
        pre = "" if prereleases else " AND v.pre = 0"
        row = self.index.one(f"{_V} WHERE v.name = ?{pre} ORDER BY v.sort_key DESC LIMIT 1",
                             (name,))
        return None if row is None else _version(row)

    def exact(self, name: str, version: str) -> ModelVersion | None:
        """One version by its normalized number."""
        row = self.index.one(f"{_V} WHERE v.name = ? AND v.version = ?", (name, version))
        return None if row is None else _version(row)

    def by_digest(self, name: str, prefix: str) -> list[ModelVersion]:
        """The versions of ``name`` whose digest starts with ``prefix``, lowest first."""
        # Sixteen hex digits or more find their rows by versions_digest (the ``+`` keeps
        # the planner off the name index); fewer, a scan of the model's versions.
        hexpart = prefix[7:] if prefix.startswith("sha256:") else ""
        where, params = "v.name = ?", tuple[Any, ...]((name,))
        if len(hexpart) >= 16 and all(c in "0123456789abcdef" for c in hexpart):
            where, params = "substr(v.digest, 1, 8) = ? AND +v.name = ?", (
                bytes.fromhex(hexpart[:16]), name)
        rows = self.index.query(f"{_V} WHERE {where} AND substr({DIGEST_TEXT}, 1, ?) = ? "
                                "ORDER BY v.sort_key", (*params, len(prefix), prefix))
        return [_version(r) for r in rows]

    def version_numbers(self, name: str, *, limit: int | None = None,
                        ordered: bool = True) -> list[str]:
        """The version numbers of ``name``, highest first (in no order if not ``ordered``)."""
        sql = "SELECT version FROM versions WHERE name = ?" + (
            " ORDER BY sort_key DESC" if ordered else "")
        rows = self.index.query(sql + (f" LIMIT {int(limit)}" if limit else ""), (name,))
        return [r[0] for r in rows]

    def versions(self, name: str | None = None) -> list[ModelVersion]:
        """Every version (of one model, or of all by name), lowest first."""
        flags = self.index.one(_EXTRAS, (name,)) or (1, 1, 1, 1)
        select = _v_select(*(bool(f) for f in flags))
        if name is None:
            rows = self.index.query(f"{select} ORDER BY v.name, v.sort_key")
        else:
            rows = self.index.query(f"{select} WHERE v.name = ? ORDER BY v.sort_key", (name,))
        return [_version(r) for r in rows]

    def is_deleted(self, name: str, version: str) -> bool:
        """Whether retention deleted this version's artifact."""
        return self.index.one("SELECT 1 FROM tombstones WHERE name = ? AND version = ?",
                              (name, version)) is not None

    def deleted(self, name: str | None = None) -> set[tuple[str, str]]:
        """Every (name, version) retention deleted."""
        sql = "SELECT name, version FROM tombstones"
        rows = self.index.query(sql + " WHERE name = ?", (name,)) if name else self.index.query(
            sql)
        return {(n, v) for n, v in rows}

    def version_json(self, name: str, version: str) -> str | None:
        """A version's record as stored in its entry."""
        row = self.index.one("SELECT json_extract(entry_json(e.data), '$.body.version') "
                             "FROM versions v "
                             "JOIN entries e ON e.name = v.name AND e.seq = v.seq "
                             "WHERE v.name = ? AND v.version = ?", (name, version))
        return None if row is None else str(row[0])

    # -- runs ------------------------------------------------------------------------

    def run(self, run_id: str) -> Run | None:
        """One run by its full id."""
        runs = _runs(self.index.query(f"{_RUN} WHERE r.id = ?", (run_id,)))
        return runs[0] if runs else None

    def run_inputs_record(self, run_id: str) -> Run | None:
        """A run's record without what does not decide a version number: its environment,
        hardware, resource use, metrics and curves read back as their defaults. What
        the automatic bump compares (code, params, data, seed), at a third of the cost
        of :meth:`run` (the package list is most of a run's entry)."""
        row = self.index.one(
            "SELECT json_remove(json_extract(entry_json(e.data), '$.body.run'), "
            "'$.environment', '$.hardware', '$.resources', '$.metrics', '$.metric_series') "
            "FROM runs r JOIN entries e ON e.name = r.name AND e.seq = r.seq WHERE r.id = ?",
            (run_id,))
        return None if row is None else structure(json.loads(row[0]), Run)

    def runs_by_prefix(self, prefix: str, limit: int = 2) -> list[Run]:
        """Runs whose id starts with ``prefix`` (at most ``limit``)."""
        return _runs(self.index.query(f"{_RUN} WHERE r.id >= ? AND r.id < ? LIMIT {int(limit)}",
                                      (prefix, prefix + "\uffff")))

    def runs(self, name: str | None = None, *, status: str | None = None,
             limit: int | None = None) -> list[Run]:
        """Runs, newest first, optionally of one model and with one status."""
        from .run_summaries import runs_sql

        return _runs(self.index.query(*runs_sql(_RUN, name, status, limit)))

    def run_summaries(self, name: str | None = None, *, status: str | None = None,
                      limit: int | None = None) -> list[RunSummary]:
        """What a list of runs shows, newest first, without parsing whole runs."""
        from .run_summaries import run_summaries

        return run_summaries(self.index, name, status=status, limit=limit)

    def has_run(self, run_id: str) -> bool:
        """Whether a run with this id is recorded."""
        return self.index.one("SELECT 1 FROM runs WHERE id = ?", (run_id,)) is not None

    # -- aliases and holds -------------------------------------------------------------

    def alias_target(self, name: str, alias: str) -> str | None:
        """The version an alias points to now."""
        row = self.index.one("SELECT version FROM aliases WHERE name = ? AND alias = ?",
                             (name, alias))
        return None if row is None else str(row[0])

    def alias_target_at(self, name: str, alias: str, at: str) -> str | None:
        """The version an alias pointed to at ``at`` (an ISO-8601 UTC text)."""
        row = self.index.one("SELECT to_version FROM alias_events WHERE name = ? AND alias = ? "
                             "AND at <= ? ORDER BY seq DESC LIMIT 1", (name, alias, at))
        return None if row is None else str(row[0])

    def aliases(self, name: str | None = None) -> list[tuple[str, str, str]]:
        """Current aliases as (name, alias, version), by name then alias."""
        sql = "SELECT name, alias, version FROM aliases"
        if name is None:
            return list(self.index.query(sql + " ORDER BY name, alias"))
        return list(self.index.query(sql + " WHERE name = ? ORDER BY alias", (name,)))

    def aliases_in(self, names: Iterable[str]) -> list[tuple[str, str, str]]:
        """Current aliases of several models as (name, alias, version), by alias."""
        return list(self.index.query(
            "SELECT name, alias, version FROM aliases WHERE name IN "
            "(SELECT value FROM json_each(?)) ORDER BY alias", (json.dumps(sorted(names)),)))

    def aliases_of(self, name: str, version: str) -> list[str]:
        """The aliases pointing at one version now."""
        return [r[0] for r in self.index.query(
            "SELECT alias FROM aliases WHERE name = ? AND version = ? ORDER BY alias",
            (name, version))]

    def alias_names(self, name: str) -> list[str]:
        """Every alias a model has ever had (moved away or not)."""
        return [r[0] for r in self.index.query(
            "SELECT DISTINCT alias FROM alias_events WHERE name = ? ORDER BY alias", (name,))]

    def alias_events(self, name: str, alias: str) -> list[AliasEvent]:
        """Every move of an alias, oldest first."""
        rows = self.index.query(
            "SELECT json_extract(entry_json(e.data), '$.body.event') FROM alias_events a "
            "JOIN entries e "
            "ON e.name = a.name AND e.seq = a.seq WHERE a.name = ? AND a.alias = ? "
            "ORDER BY a.seq", (name, alias))
        return [structure(json.loads(r[0]), AliasEvent) for r in rows]

    def alias_steps(self, name: str, alias: str) -> list[tuple[str, str]]:
        """(kind, to_version) of every move of an alias, oldest first."""
        return list(self.index.query("SELECT kind, to_version FROM alias_events WHERE "
                                     "name = ? AND alias = ? ORDER BY seq", (name, alias)))

    def alias_moves(self, name: str | None = None) -> list[tuple[str, str, str | None, str]]:
        """(name, to_version, from_version, at) of every alias move."""
        sql = "SELECT name, to_version, from_version, at FROM alias_events"
        rows = self.index.query(sql + " WHERE name = ?", (name,)) if name else self.index.query(
            sql)
        return list(rows)

    def holds(self, name: str | None = None) -> list[Hold]:
        """The versions held now."""
        sql = ("SELECT json_extract(entry_json(e.data), '$.body.hold') FROM holds h "
               "JOIN entries e "
               "ON e.name = h.name AND e.seq = h.seq")
        rows = (self.index.query(sql + " WHERE h.name = ? ORDER BY h.version", (name,)) if name
                else self.index.query(sql + " ORDER BY h.name, h.version"))
        return [structure(json.loads(r[0]), Hold) for r in rows]

    def held(self, name: str | None = None) -> dict[tuple[str, str], str]:
        """(name, version) → reason of every hold in force."""
        sql = "SELECT name, version, reason FROM holds"
        rows = self.index.query(sql + " WHERE name = ?", (name,)) if name else self.index.query(
            sql)
        return {(n, v): r for n, v, r in rows}

    # -- lineage -----------------------------------------------------------------------

    def parent_edges(self, ref: str) -> set[tuple[str, str]]:
        """Every (parent, child) edge among the ancestors and descendants of ``ref``."""
        edges = {(p, c) for p, c in self.index.query(_UP, (ref,))}
        return edges | {(p, c) for p, c in self.index.query(_DOWN, (ref,))}

    def lineage_nodes(self, refs: list[str]) -> dict[str, tuple[Any, ...]]:
        """ref → (version JSON, tombstone JSON, run id, run status, run JSON)."""
        return {r[0]: r[1:] for r in self.index.query(_NODES, (json.dumps(refs),))}

    def run_inputs(self, run_ids: list[str]) -> list[tuple[str, str, str]]:
        """(run id, data key, digest) of every input of these runs."""
        return list(self.index.query(_INPUTS, (json.dumps(run_ids),)))

    def fingerprints(self, digests: list[str]) -> dict[str, str]:
        """digest → the JSON of one recorded fingerprint with that digest."""
        return dict(self.index.query(_FINGERPRINTS, (json.dumps(digests),)))

    def used_by(self, digests: Iterable[str]) -> list[ModelVersion]:
        """Versions whose run read any of ``digests``, and all their descendants."""
        return [_version(r) for r in self.index.query(_USED_BY, (json.dumps(sorted(digests)),))]

    def snapshot_sources(self, snapshot: str) -> list[str]:
        """The fingerprint digests of the data whose stored snapshot is ``snapshot`` (read
        from the runs that snapshot their data: the others name no snapshot)."""
        return [r[0] for r in self.index.query(_SNAPSHOT_SOURCES, (snapshot,))]

    def reproduction_runs(self, refs: list[str]) -> list[tuple[str, str, str, str]]:
        """(run id, ``name@version`` reproduced, status, run JSON) of every run
        ``reproduce`` made of these versions, oldest first."""
        return list(self.index.query(_REPRODUCTIONS, (json.dumps(refs),)))

    # -- retention and blobs -------------------------------------------------------------

    def retention_rows(self, name: str | None = None
                       ) -> list[tuple[str, str, str, datetime, int]]:
        """(name, version, digest, created_at, size) of live versions, newest first within
        each model by version precedence."""
        where = " AND v.name = ?" if name else ""
        return [(n, v, unpack_digest(d), unpack_time(created), size)
                for n, v, d, created, size in self.index.query(
                    "SELECT v.name, v.version, v.digest, v.created_at, v.size "
                    f"FROM versions v WHERE {_LIVE}{where} "
                    "ORDER BY v.name, v.sort_key DESC, v.seq DESC", (name,) if name else ())]

    def tagged(self, keys: Iterable[str], name: str | None = None
               ) -> list[tuple[str, str, str]]:
        """(name, version, tag key) of versions tagged with any of ``keys``."""
        only = " AND v.name = ?" if name else ""
        return list(self.index.query(
            "SELECT v.name, v.version, j.key FROM versions v, json_each(v.tags) j "
            f"WHERE v.tags != '{{}}' AND j.key IN (SELECT value FROM json_each(?)){only} "
            "ORDER BY v.name, v.version, j.key",
            (json.dumps(list(keys)), *((name,) if name else ()))))

    # -- integrity -------------------------------------------------------------------------

    def table_rows(self, table: str, key: tuple[str, ...]
                   ) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        """Every row of a derived table, by its key columns."""
        cols = [r[1] for r in self.index.query(f"PRAGMA table_info({table})")]
        rows = self.index.query(f"SELECT {', '.join(cols)} FROM {table}")
        at = [cols.index(k) for k in key]
        return {tuple(r[i] for i in at): tuple(r) for r in rows}

    def triggers(self) -> set[str]:
        """The names of the schema's triggers."""
        return {r[0] for r in self.index.query(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'")}

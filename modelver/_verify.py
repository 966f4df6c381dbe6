"""``verify``: re-hash every blob, walk every chain, and compare the index with the log.

A chain alone cannot see a truncated tail or a wholly rewritten chain, so a trusted
head (``modelver head``) can be passed in, and entries are HMAC-checked when
``MODELVER_SIGNING_KEY`` is set.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import attrs

from ._index import Index
from ._log import Entry, combined_head, sign, signing_key

if TYPE_CHECKING:
    from ._store import Store

__all__ = ["Problem", "VerifyReport", "verify_store"]


@attrs.frozen
class Problem:
    """One thing ``verify`` found wrong."""

    kind: str
    where: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.where}: {self.detail}"


@attrs.frozen
class VerifyReport:
    """What ``verify`` checked and found. ``ok`` is True when nothing is wrong."""

    entries: int
    blobs: int
    head: str
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def __str__(self) -> str:
        lines = [f"checked {self.entries} log entries and {self.blobs} blobs; head {self.head}"]
        lines += [f"  {p}" for p in self.problems]
        lines.append("OK" if self.ok else f"{len(self.problems)} problem(s) found")
        return "\n".join(lines)


def _walk_chain(name: str, entries: list[Entry], key: bytes | None,
                problems: list[Problem]) -> tuple[int, str] | None:
    prev: str | None = None
    expected = 1
    ids: set[str] = set()
    last: tuple[int, str] | None = None
    for e in entries:
        where = f"{name}#{e.seq}"
        if e.stored_hash is not None and e.stored_hash != e.hash:
            problems.append(Problem("edited", where, "the entry's text no longer matches the "
                                    "hash it was written with"))
        if e.data.get("name") != name:
            problems.append(Problem("moved", where, "the entry belongs to another model's chain"))
        if e.seq > expected:
            problems.append(Problem("deleted", where, f"entries {expected}..{e.seq - 1} are "
                                    "missing"))
        elif e.seq < expected:
            problems.append(Problem("reordered", where, f"expected entry {expected} here"))
        if e.prev != prev:
            problems.append(Problem("edited-or-reordered", where, "its 'prev' hash does not "
                                    "match the entry before it"))
        if e.id in ids:
            problems.append(Problem("duplicate", where, f"event id {e.id} appears twice"))
        ids.add(e.id)
        if key is not None and e.sig != sign(e.hash, key):
            problems.append(Problem("bad-signature", where, "the HMAC signature does not match"))
        prev = e.hash
        expected = max(expected, e.seq) + 1
        last = (e.seq, e.hash)
    return last


# Every table derived from the log, by its key columns. Whole rows are compared, so
# a forged sort column, edge or data link is caught as surely as an edited record.
_TABLES = {
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


def _rows(index: Index, table: str, key: tuple[str, ...]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    cols = [r[1] for r in index.query(f"PRAGMA table_info({table})")]
    rows = index.query(f"SELECT {', '.join(cols)} FROM {table}")
    at = [cols.index(k) for k in key]
    return {tuple(r[i] for i in at): tuple(r) for r in rows}


def _compare_index(index: Index, replay: Index, problems: list[Problem]) -> None:
    """Every derived row must be exactly what replaying the log gives."""
    for table, key in _TABLES.items():
        have, want = _rows(index, table, key), _rows(replay, table, key)
        for k in sorted(have.keys() | want.keys(), key=str):
            where = f"{table} {'/'.join(map(str, k))}"
            if k not in want:
                problems.append(Problem("inserted", where, "row has no log entry"))
            elif k not in have:
                problems.append(Problem("deleted", where, "row in the log is missing"))
            elif have[k] != want[k]:
                problems.append(Problem("edited", where, "row differs from its log entry"))
    triggers = {r[0] for r in replay.query("SELECT name FROM sqlite_master WHERE type = "
                                           "'trigger'")}
    present = {r[0] for r in index.query("SELECT name FROM sqlite_master WHERE type = "
                                         "'trigger'")}
    for name in sorted(triggers - present):
        problems.append(Problem("trigger-dropped", name, "an immutability trigger is gone; "
                                "rows it protects may have been changed"))


def verify_store(store: Store, *, head: str | None = None, blobs: bool = True) -> VerifyReport:
    """Check a store; see the module docstring."""
    problems: list[Problem] = []
    backend = store.backend
    if not backend.exists():
        return VerifyReport(0, 0, combined_head({}), [])
    try:
        backend.sync()
    except OSError as exc:
        from ._errors import StoreError

        if isinstance(exc, StoreError):
            raise
        raise StoreError(f"cannot verify {store.uri!r}: it cannot be reached ({exc})") from exc
    key = signing_key()
    replay = Index(":memory:")
    heads: dict[str, tuple[int, str]] = {}
    count = 0
    for name in backend.log_names():
        entries = list(backend.log(name))
        count += len(entries)
        last = _walk_chain(name, entries, key, problems)
        if last is not None:
            heads[name] = last
        with replay.write():
            for e in entries:
                try:
                    replay.conn.execute("SAVEPOINT e")
                    replay.add(_rechain(replay, e))
                    replay.conn.execute("RELEASE e")
                except Exception as exc:
                    replay.conn.execute("ROLLBACK TO e")
                    replay.conn.execute("RELEASE e")
                    problems.append(Problem("unreadable", f"{name}#{e.seq}", str(exc)))
    _compare_index(backend.index, replay, problems)
    actual_head = combined_head(heads)
    if head is not None and head != actual_head:
        problems.append(Problem("head-mismatch", "log", f"trusted head {head} != {actual_head}: "
                                "entries were added, removed or rewritten since it was taken"))
    nblobs = _check_blobs(store, replay, problems) if blobs else 0
    replay.close()
    return VerifyReport(count, nblobs, actual_head, problems)


def _rechain(replay: Index, e: Entry) -> Entry:
    """The entry as the replay index expects it (damaged links are reported, not fatal)."""
    seq, prev = replay.head(e.name)
    return attrs.evolve(e, seq=seq + 1, data={**e.data, "prev": prev})


def referenced_blobs(index: Index) -> dict[str, str]:
    """Every blob a live record names: digest → what names it."""
    refs: dict[str, str] = {}
    deleted = {(n, v) for n, v in index.query("SELECT name, version FROM tombstones")}
    for name, version, digest in index.query("SELECT name, version, digest FROM versions"):
        if (name, version) not in deleted:
            refs[digest] = f"{name}@{version}"
    for run_id, record in index.query("SELECT id, record FROM runs"):
        code = json.loads(record).get("code") or {}
        for field in ("source_digest", "module_digest", "diff_digest"):
            if code.get(field):
                refs.setdefault(code[field], f"run {run_id[:8]} {field}")
    return refs


def _check_blobs(store: Store, replay: Index, problems: list[Problem]) -> int:
    backend = store.backend
    present = set(backend.blob_digests())
    for digest, owner in sorted(referenced_blobs(replay).items()):
        if digest not in present:
            problems.append(Problem("missing-blob", owner, f"blob {digest} is missing"))
    for digest in sorted(present):
        actual = backend.rehash_blob(digest)
        if actual != digest:
            problems.append(Problem("altered-blob", digest, f"its bytes hash to {actual}"))
    return len(present)

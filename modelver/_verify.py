"""``verify``: re-hash every blob, walk every chain, and compare the index with the log.

A chain alone cannot see a truncated tail or a wholly rewritten chain, so a trusted
head (``modelver head``) can be passed in, and entries are HMAC-checked when
``MODELVER_SIGNING_KEY`` is set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from ._errors import NotFound, StoreError
from ._index import DERIVED_TABLES, Index, Queries
from ._log import Entry, combined_head, sign, signing_key
from ._render import render

if TYPE_CHECKING:
    from ._chain import Chain
    from .backends import Backend

__all__ = ["Problem", "VerifyReport", "verify_store", "verify_version"]


@attrs.frozen
class Problem:
    """One thing ``verify`` found wrong."""

    kind: str
    where: str
    detail: str

    def __str__(self) -> str:
        """``kind: where: detail``."""
        return render("text", self)


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
        """What was checked, one line per problem, then ``OK`` or how many were found."""
        return render("text", self)


def _walk_chain(name: str, entries: list[Entry], key: bytes | None,
                problems: list[Problem]) -> tuple[int, str] | None:
    prev: str | None = None
    expected = 1
    ids: set[str] = set()
    last: tuple[int, str] | None = None
    for i, e in enumerate(entries):
        where = f"{name}#{e.seq}"
        # The hash the chain recorded for it: the next entry's 'prev', or (for the last
        # entry) the head's hash.
        after = entries[i + 1] if i + 1 < len(entries) else None
        if after is not None and after.seq == e.seq + 1 and "prev" in after.data:
            if after.prev != e.hash:
                problems.append(Problem("edited", where, "the entry's text no longer matches "
                                        "the hash the next entry names (this entry, or the "
                                        "next one's 'prev', was edited)"))
        elif e.stored_hash is not None and e.stored_hash != e.hash:
            problems.append(Problem("edited", where, "the entry's text no longer matches the "
                                    "hash recorded for the chain's head"))
        if e.problem is None and e.data.get("name") != name:
            problems.append(Problem("moved", where, "the entry belongs to another model's chain"))
        if e.seq > expected:
            problems.append(Problem("deleted", where, f"entries {expected}..{e.seq - 1} are "
                                    "missing"))
        elif e.seq < expected:
            problems.append(Problem("reordered", where, f"expected entry {expected} here"))
        if e.prev != prev and not (e.problem is not None and "prev" not in e.data):
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


def _compare_index(have: Queries, want: Queries, problems: list[Problem]) -> None:
    """Every derived row must be exactly what replaying the log gives. Whole rows are
    compared, so a forged sort column, edge or data link is caught as surely as an
    edited entry."""
    for table, key in DERIVED_TABLES.items():
        rows, expected = have.table_rows(table, key), want.table_rows(table, key)
        for k in sorted(rows.keys() | expected.keys(), key=str):
            where = f"{table} {'/'.join(map(str, k))}"
            if k not in expected:
                problems.append(Problem("inserted", where, "row has no log entry"))
            elif k not in rows:
                problems.append(Problem("deleted", where, "row in the log is missing"))
            elif rows[k] != expected[k]:
                problems.append(Problem("edited", where, "row differs from its log entry"))
    for name in sorted(want.triggers() - have.triggers()):
        problems.append(Problem("trigger-dropped", name, "an immutability trigger is gone; "
                                "rows it protects may have been changed"))


def verify_store(chain: Chain, *, head: str | None = None, blobs: bool = True) -> VerifyReport:
    """Check a store; see the module docstring."""
    problems: list[Problem] = []
    backend = chain.backend
    try:
        if not backend.exists():
            raise NotFound(f"no store at {chain.uri!r}: nothing to verify (check the path, "
                           "bucket or prefix)")
        chain.sync()
        names = backend.log_names()
    except OSError as exc:
        if isinstance(exc, StoreError):
            raise
        raise StoreError(f"cannot verify {chain.uri!r}: it cannot be reached ({exc})") from exc
    key = signing_key()
    replay = Index(":memory:")
    rq = Queries(replay)
    heads: dict[str, tuple[int, str]] = {}
    count = 0
    for name in names:
        entries = list(backend.scan(name))
        count += len(entries)
        last = _walk_chain(name, entries, key, problems)
        if last is not None:
            heads[name] = last
        with replay.write():
            for e in entries:
                try:
                    with replay.write():  # a savepoint: one bad entry is skipped alone
                        replay.replay(_rechain(rq, e))
                except Exception as exc:
                    problems.append(Problem("unreadable", f"{name}#{e.seq}", str(exc)))
    for name, seq, why in rq.quarantined():
        problems.append(Problem("quarantined", f"{name}#{seq}", f"{why}; the entry is kept "
                                "but not applied: fix or supersede what it meant to record"))
    _compare_index(chain.queries, rq, problems)
    actual_head = combined_head(heads)
    if head is not None and head != actual_head:
        problems.append(Problem("head-mismatch", "log", f"trusted head {head} != {actual_head}: "
                                "entries were added, removed or rewritten since it was taken"))
    nblobs = _check_blobs(backend, rq, problems) if blobs else 0
    replay.close()
    return VerifyReport(count, nblobs, actual_head, problems)


def verify_version(chain: Chain, name: str, digests: list[str]) -> VerifyReport:
    """Check one model's chain (links, hashes, signatures and its last entry against
    the index's head) and re-hash the blobs ``digests`` one version is made of: what an
    audit of that version needs, without reading the rest of the store."""
    problems: list[Problem] = []
    backend = chain.backend
    try:
        entries = list(backend.scan(name))
        last = _walk_chain(name, entries, signing_key(), problems)
        seq, head = chain.queries.head(name)
        if last is not None and (last[0], last[1]) != (seq, head):
            problems.append(Problem("head-mismatch", name, f"the index's head is entry {seq} "
                                    f"but the log ends at entry {last[0]}: run `modelver "
                                    "verify`"))
        for digest in dict.fromkeys(digests):
            if not backend.has_blob(digest):
                problems.append(Problem("missing-blob", name, f"blob {digest} is missing"))
                continue
            actual = backend.rehash_blob(digest)
            if actual != digest:
                problems.append(Problem("altered-blob", digest, f"its bytes hash to {actual}"))
    except OSError as exc:
        if isinstance(exc, StoreError):
            raise
        raise StoreError(f"cannot verify {chain.uri!r}: it cannot be reached ({exc})") from exc
    return VerifyReport(len(entries), len(set(digests)), last[1] if last else "", problems)


def _rechain(replay: Queries, e: Entry) -> Entry:
    """The entry as the replay index expects it (damaged links are reported, not fatal)."""
    seq, prev = replay.head(e.name)
    return attrs.evolve(e, seq=seq + 1, data={**e.data, "prev": prev})


def _check_blobs(backend: Backend, replay: Queries, problems: list[Problem]) -> int:
    present = set(backend.blob_digests())
    for digest, owner in sorted(replay.referenced_blobs(quarantined=False).items()):
        if digest not in present:
            problems.append(Problem("missing-blob", owner, f"blob {digest} is missing"))
    for digest in sorted(present):
        actual = backend.rehash_blob(digest)
        if actual != digest:
            problems.append(Problem("altered-blob", digest, f"its bytes hash to {actual}"))
    return len(present)

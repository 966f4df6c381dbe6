"""Aliases: movable pointers with an append-only, hash-chained history.

Every move — promote or rollback — is one immutable :class:`AliasEvent` in the
model's log, appended atomically with the check that decides it, so concurrent
movers never lose a move and ``expect=`` is a true compare-and-swap.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ._errors import Conflict, InvalidName, NotFound
from ._index import Index
from ._log import Draft
from ._names import check_alias, check_name
from ._records import AliasEvent, Hold, utcnow
from ._serde import structure, unstructure
from ._user import current_user
from ._versions import is_version, normalize

if TYPE_CHECKING:
    from ._lists import AliasHistory
    from ._store import Store

__all__ = ["alias_history", "aliases_of", "hold", "move_alias", "release"]


def _current(index: Index, name: str, alias: str) -> str | None:
    row = index.one("SELECT version FROM aliases WHERE name = ? AND alias = ?", (name, alias))
    return None if row is None else str(row[0])


def _checked_alias(alias: str) -> str:
    alias = check_alias(alias)
    if is_version(alias):
        raise InvalidName(f"alias {alias!r} parses as a version; choose a name like 'prod'")
    return alias


def _run_context() -> str | None:
    from ._run import current_run

    run = current_run()
    return run.id if run is not None else None


def move_alias(store: Store, name: str, alias: str, target: str | None, *, kind: str,
               reason: str | None, expect: str | None = None) -> AliasEvent:
    """Append one alias event; ``target`` None means "the previous target" (rollback)."""
    name, alias = check_name(name), _checked_alias(alias)
    if target is not None:
        target = store.resolve(name, target).version
    expected = normalize(expect) if expect is not None else None
    events: list[AliasEvent] = []

    def build(index: Index) -> Draft:
        events.clear()
        now = _current(index, name, alias)
        if expect is not None and now != expected:
            raise Conflict(f"{name}@{alias} points to {now or 'nothing'}, not {expected}; "
                           "re-read it and try again")
        to = target if target is not None else _previous_target(index, name, alias, now)
        if to is None:
            raise NotFound(f"{name}@{alias} has no earlier target to roll back to; "
                           "use promote() or rollback(..., to=VERSION)")
        if index.one("SELECT 1 FROM tombstones WHERE name = ? AND version = ?", (name, to)):
            raise NotFound(f"{name}@{to} was deleted by retention; choose another version")
        event = AliasEvent(name=name, alias=alias, from_version=now, to_version=to,
                           at=utcnow(), by=current_user(), reason=reason, kind=kind,
                           run_id=_run_context())
        events.append(event)
        return Draft("alias", {"event": unstructure(event)})

    store.backend.append(name, build)
    return events[0]


def _previous_target(index: Index, name: str, alias: str, now: str | None) -> str | None:
    """Where the alias pointed before its current target, skipping deleted versions.

    The walk follows ``from_version`` links back from the newest event, so rolling
    back twice keeps going back rather than bouncing between two versions.
    """
    if now is None:
        return None
    rows = index.query("SELECT record FROM alias_events WHERE name = ? AND alias = ? "
                       "ORDER BY seq DESC", (name, alias))
    deleted = {r[0] for r in index.query("SELECT version FROM tombstones WHERE name = ?",
                                         (name,))}
    # Build the "stack" of targets: promotions push, rollbacks pop.
    stack: list[str] = []
    for (record,) in reversed(rows):
        ev = json.loads(record)
        if ev["kind"] == "rollback":
            while stack and stack[-1] != ev["to_version"]:
                stack.pop()
            if not stack:
                stack.append(ev["to_version"])
        elif not stack or stack[-1] != ev["to_version"]:  # re-promoting is no new step
            stack.append(ev["to_version"])
    stack.pop()  # the current target
    while stack and stack[-1] in deleted:
        stack.pop()
    return stack[-1] if stack else None


def alias_history(store: Store, name: str, alias: str) -> AliasHistory:
    """Every move of an alias, oldest first."""
    from ._lists import AliasHistory

    name, alias = check_name(name), check_alias(alias)
    if not store._readable(name):
        return AliasHistory()
    rows = store.backend.index.query("SELECT record FROM alias_events WHERE name = ? AND "
                                     "alias = ? ORDER BY seq", (name, alias))
    return AliasHistory(structure(json.loads(r[0]), AliasEvent) for r in rows)


def aliases_of(store: Store, name: str) -> dict[str, str]:
    """The current aliases of a model: alias → version."""
    name = check_name(name)
    if not store._readable(name):
        return {}
    rows = store.backend.index.query("SELECT alias, version FROM aliases WHERE name = ? "
                                     "ORDER BY alias", (name,))
    return {a: v for a, v in rows}


def hold(store: Store, name: str, version: str, reason: str, *, release: bool = False) -> Hold:
    """Place (or release) a hold that protects a version from retention."""
    mv = store.resolve(name, version)
    if not release and (not isinstance(reason, str) or not reason.strip()):
        raise InvalidName("a hold needs a reason, e.g. 'legal: case 1234'")
    record = Hold(name=mv.name, version=mv.version, reason=reason, at=utcnow(),
                  by=current_user(), released=release)

    def build(index: Index) -> Draft:
        held = index.one("SELECT 1 FROM holds WHERE name = ? AND version = ?",
                         (mv.name, mv.version))
        if release and not held:
            raise NotFound(f"{mv.ref} is not held")
        return Draft("hold", {"hold": unstructure(record)})

    store.backend.append(mv.name, build)
    return record


def release(store: Store, name: str, version: str, reason: str = "released") -> Hold:
    """Release a hold."""
    return hold(store, name, version, reason, release=True)


def holds(store: Store, name: str | None = None) -> list[Hold]:
    """Current holds."""
    if not store._readable(name):
        return []
    sql, params = "SELECT record FROM holds", []
    if name is not None:
        sql, params = sql + " WHERE name = ?", [check_name(name)]
    return [structure(json.loads(r[0]), Hold) for r in store.backend.index.query(sql, params)]

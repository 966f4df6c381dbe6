"""Aliases: movable pointers with an append-only, hash-chained history.

Every move — promote or rollback — is one immutable :class:`AliasEvent` in the
model's log, appended atomically with the check that decides it, so concurrent
movers never lose a move and ``expect=`` is a true compare-and-swap. That check
includes a protected alias's approvals (:func:`modelver._governance.check_move`).
"""

from __future__ import annotations

from datetime import datetime

from ._chain import Chain
from ._context import ACTIVE
from ._errors import Conflict, InvalidName, NotFound
from ._governance import check_move
from ._index import Queries
from ._log import Draft
from ._names import check_alias, check_name
from ._records import AliasEvent, Hold, ModelVersion, utcnow
from ._resolve import not_yet
from ._serde import record_data
from ._user import current_user
from ._versions import is_version, normalize

__all__ = ["alias_history", "checked_alias", "hold", "missing_alias", "move_alias"]


def checked_alias(alias: str) -> str:
    alias = check_alias(alias)
    if is_version(alias):
        raise InvalidName(f"alias {alias!r} parses as a version; choose a name like 'prod'")
    return alias


def _run_context() -> str | None:
    run = ACTIVE.get()
    return None if run is None else str(run.id)


def move_alias(chain: Chain, name: str, alias: str, target: str | None, *, kind: str,
               reason: str | None, expect: str | None = None) -> AliasEvent:
    """Append one alias event; ``target`` (an exact version, already resolved) None
    means "the previous target" (rollback)."""
    name, alias = check_name(name), checked_alias(alias)
    expected = normalize(expect) if expect is not None else None
    events: list[AliasEvent] = []

    def build(q: Queries) -> Draft:
        events.clear()
        now = q.alias_target(name, alias)
        if expect is not None and now != expected:
            raise Conflict(f"{name}@{alias} points to {now or 'nothing'}, not {expected}; "
                           "re-read it and try again")
        to = target if target is not None else _previous_target(q, name, alias, now)
        if to is None:
            raise NotFound(f"{name}@{alias} has no earlier target to roll back to; "
                           "use promote() or rollback(..., to=VERSION)")
        if q.is_deleted(name, to):
            raise NotFound(f"{name}@{to} was deleted by retention; choose another version")
        check_move(q, name, alias, to, current_user())  # a protected alias needs approvals
        event = AliasEvent(name=name, alias=alias, from_version=now, to_version=to,
                           at=utcnow(), by=current_user(), reason=reason, kind=kind,
                           run_id=_run_context())
        events.append(event)
        return Draft("alias", {"event": record_data(event)})

    chain.append(name, build)
    return events[0]


def _previous_target(q: Queries, name: str, alias: str, now: str | None) -> str | None:
    """Where the alias pointed before its current target, skipping deleted versions.

    The walk follows ``from_version`` links back from the newest event, so rolling
    back twice keeps going back rather than bouncing between two versions.
    """
    if now is None:
        return None
    deleted = {v for _, v in q.deleted(name)}
    # Build the "stack" of targets: promotions push, rollbacks pop.
    stack: list[str] = []
    for kind, to in q.alias_steps(name, alias):
        if kind == "rollback" and to in stack:
            while stack[-1] != to:  # back to an earlier target: what followed it is undone
                stack.pop()
        elif kind == "rollback":
            stack.append(to)  # rollback(to=X) with X never behind the alias: one more step
        elif not stack or stack[-1] != to:  # re-promoting is no new step
            stack.append(to)
    stack.pop()  # the current target
    while stack and stack[-1] in deleted:
        stack.pop()
    return stack[-1] if stack else None


def hold(chain: Chain, mv: ModelVersion, reason: str, *, release: bool = False) -> Hold:
    """Place (or release) a hold that protects a version from retention."""
    if not release and (not isinstance(reason, str) or not reason.strip()):
        raise InvalidName("a hold needs a reason, e.g. 'legal: case 1234'")
    record = Hold(name=mv.name, version=mv.version, reason=reason, at=utcnow(),
                  by=current_user(), released=release)

    def build(q: Queries) -> Draft:
        if release and (mv.name, mv.version) not in q.held(mv.name):
            raise NotFound(f"{mv.ref} is not held")
        return Draft("hold", {"hold": record_data(record)})

    chain.append(mv.name, build)
    return record


def missing_alias(q: Queries, name: str, alias: str, uri: str) -> NotFound:
    """The error for an alias a model never had, with the nearest names or aliases."""
    from ._names import closest

    known = q.alias_names(name)
    if not known and not q.has_model(name):
        near = closest(name, q.names())
        return NotFound(f"no model named {name!r} in {uri!r}"
                        + (f"; did you mean {', '.join(near)}?" if near else ""))
    near = closest(alias, known)
    return NotFound(f"{name!r} has never had an alias {alias!r}"
                    + (f"; did you mean {', '.join(near)}?" if near else "")
                    + (f" (its aliases: {', '.join(known)})" if known else
                       " (it has no aliases yet)"))


def alias_history(q: Queries, name: str, alias: str, uri: str,
                  at: datetime | None = None) -> list[AliasEvent]:
    """Every move of an alias, oldest first; with ``at``, the moves made up to then
    (the last says where it pointed). ``NotFound`` for an alias the model never had,
    or that did not exist yet at ``at``."""
    events = q.alias_events(name, alias)
    if not events:
        raise missing_alias(q, name, alias, uri)
    if at is None:
        return events
    until = [e for e in events if e.at <= at]
    if not until:
        raise not_yet(name, alias, at, events[0].at)
    return until

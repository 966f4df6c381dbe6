"""Retention: decide which versions' artifacts may be deleted (a pure plan), then apply it.

A :class:`RetentionPolicy` keeps a version when any of its rules does: the newest
``keep_last`` versions of each model, those created within ``keep_within``, those
tagged with a key in ``keep_tagged``. Whatever the rules say, these are never
deleted: a version an alias points to now (with ``keep_aliased``, the default), a
held version, a version that ever served behind an alias until ``min_age`` has
passed since it last did, and any blob a live version or run still names (blobs are
shared by content).

:meth:`RetentionPlan.apply` writes one tombstone per version into that model's
hash-chained log, re-checking the protections inside the write transaction, then
deletes each artifact no live record references. The version's record stays:
``resolve`` and lineage still show it, marked deleted; ``load`` says when and why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from ._durations import parse_duration, show_duration
from ._errors import Conflict, InvalidName, NotFound, Protected
from ._gc import GcReport, delete_unreferenced, gc
from ._log import Draft
from ._names import check_name
from ._records import Tombstone, utcnow
from ._render import render
from ._resolve import resolve
from ._serde import record_data, unstructure
from ._times import parse_time
from ._user import current_user

if TYPE_CHECKING:
    from ._chain import Chain
    from ._index import Queries

__all__ = ["GcReport", "PlannedDeletion", "RetentionPlan", "RetentionPolicy", "gc",
           "parse_duration", "plan_retention"]

def _keep_last(_: Any, __: Any, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise InvalidName(f"keep_last must be None or an integer >= 0, not {value!r}")


def _keep_within(value: timedelta | str | None) -> timedelta | None:
    return parse_duration(value, "keep_within")


def _min_age(value: timedelta | str | None) -> timedelta | None:
    return parse_duration(value, "min_age")


def _tag_keys(value: Iterable[str] | str) -> tuple[str, ...]:
    if not isinstance(value, (str, list, tuple, set, frozenset)):
        raise InvalidName(f"keep_tagged must be tag keys (strings), not {value!r}")
    keys = (value,) if isinstance(value, str) else tuple(value)
    if not all(isinstance(k, str) and k for k in keys):
        raise InvalidName(f"keep_tagged must be tag keys (strings), not {value!r}")
    return keys


@attrs.frozen
class RetentionPolicy:
    """Which versions to keep; every version no rule keeps may be deleted.

    ``keep_last``: the newest N versions of each model (by version order).
    ``keep_within``: versions created within this long (``"90d"``, a timedelta).
    ``keep_aliased``: versions an alias points to now (default True).
    ``keep_tagged``: versions with any of these tag keys.
    ``min_age``: a version that ever served behind an alias is kept until this long
    (``"7y"``) has passed since it last did (its last alias move, or its creation).
    At least one of ``keep_last`` and ``keep_within`` is required.
    """

    keep_last: int | None = attrs.field(default=None, validator=_keep_last)
    keep_within: timedelta | None = attrs.field(default=None, converter=_keep_within)
    keep_aliased: bool = True
    keep_tagged: tuple[str, ...] = attrs.field(default=(), converter=_tag_keys)
    min_age: timedelta | None = attrs.field(default=None, converter=_min_age)

    def __attrs_post_init__(self) -> None:
        if self.keep_last is None and self.keep_within is None:
            raise InvalidName("a retention policy needs keep_last or keep_within (use "
                              "keep_last=0 to delete every version no other rule keeps)")

    def __str__(self) -> str:
        parts = []
        if self.keep_last is not None:
            parts.append(f"keep_last={self.keep_last}")
        if self.keep_within is not None:
            parts.append(f"keep_within={show_duration(self.keep_within)}")
        if self.keep_aliased:
            parts.append("keep_aliased")
        if self.keep_tagged:
            parts.append(f"keep_tagged={','.join(self.keep_tagged)}")
        if self.min_age is not None:
            parts.append(f"min_age={show_duration(self.min_age)}")
        return ", ".join(parts)


@attrs.frozen
class PlannedDeletion:
    """A version whose artifact the plan deletes, and the ``rule`` that decided it."""

    name: str
    version: str
    digest: str
    size: int
    rule: str

    @property
    def ref(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"


@attrs.frozen(eq=False)
class RetentionPlan:
    """What a policy would delete and keep (with why), and the bytes that would free.

    ``bytes_freed`` counts only blobs that no kept or other live version shares.
    Making a plan deletes nothing; :meth:`apply` does.
    """

    policy: RetentionPolicy
    name: str | None
    planned_at: datetime
    deletions: list[PlannedDeletion]
    kept: list[tuple[str, str]]
    bytes_freed: int
    chain: Chain | None = attrs.field(default=None, repr=False)

    def __str__(self) -> str:
        """The summary, each deletion with its rule, each kept version with why (the
        first 100 of each)."""
        return render("text", self)

    def _repr_html_(self) -> str:
        """Jupyter: an escaped HTML table of deletions and kept versions."""
        return render("html", self)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (what the CLI's ``--json`` prints)."""
        return {"policy": str(self.policy), "name": self.name,
                "planned_at": unstructure(self.planned_at), "bytes_freed": self.bytes_freed,
                "deletions": [unstructure(d) for d in self.deletions],
                "kept": [{"ref": r, "reason": why} for r, why in self.kept]}

    def apply(self) -> list[Tombstone]:
        """Write a tombstone for each planned deletion, then delete every artifact that
        no live record references. Raises :class:`Protected` (before writing anything
        where it can) if a planned version became aliased or held since planning."""
        if self.chain is None:
            raise InvalidName("this plan has no store to apply to; make it with "
                              "store.plan_retention(...)")
        return _apply(self.chain, self)


# -- planning ----------------------------------------------------------------------


def _parse_time(text: str) -> datetime:
    from ._serde import _parse_time as parse

    return parse(text)


def _last_served(q: Queries, name: str | None, now: datetime
                 ) -> dict[tuple[str, str], datetime]:
    """For each version ever behind an alias: when it last served there (``now`` if an
    alias points at it now, else the last alias move to or away from it)."""
    last: dict[tuple[str, str], datetime] = {}
    for n, to, frm, at in q.alias_moves(name):
        when = _parse_time(at)
        for v in (to, frm):
            if v is not None and ((n, v) not in last or last[(n, v)] < when):
                last[(n, v)] = when
    for n, _, v in q.aliases(name):
        last[(n, v)] = now
    return last


def plan_retention(chain: Chain, policy: RetentionPolicy, name: str | None = None, *,
                   now: datetime | None = None) -> RetentionPlan:
    """Which versions ``policy`` deletes (of ``name``, or of every model), and why.

    Pure: reads the index only. ``now`` (default: the current time) is for tests.
    """
    if not isinstance(policy, RetentionPolicy):
        raise InvalidName(f"expected a RetentionPolicy, not {type(policy).__name__}")
    now = parse_time(now or utcnow(), "now")  # a naive time means UTC, as in the records
    # Blobs are shared across models, so every model's log must be current to know
    # which artifacts another model still needs.
    chain.readable()
    q = chain.queries
    if name is not None:
        name = resolve(q, check_name(name), "latest", prereleases=True).name  # NotFound
    # Newest first within each model, by version precedence; ranks count live versions.
    rows = q.retention_rows(name)
    special = _special(q, policy, name, now)
    deletions: list[PlannedDeletion] = []
    kept: list[tuple[str, str]] = []
    kept_digests: set[str] = set()
    keep_last = policy.keep_last if policy.keep_last is not None else -1
    cutoff, within = None, ""
    if policy.keep_within is not None:
        cutoff = now - policy.keep_within
        within = f"keep_within={show_duration(policy.keep_within)}"
    rule = _rule(policy)
    rank, current = 0, None
    for n, v, digest, created, size in rows:
        if n == current:
            rank += 1
        else:
            rank, current = 1, n
        why = special.get((n, v))
        last, recent = rank <= keep_last, cutoff is not None and created >= cutoff
        if why is None and not last and not recent:
            deletions.append(PlannedDeletion(n, v, digest, int(size or 0), rule.format(rank)))
            continue
        reasons = list(why or ())
        if last:
            reasons.append(f"keep_last={keep_last} (#{rank})")
        if recent:
            reasons.append(within)
        kept.append((f"{n}@{v}", "; ".join(reasons)))
        kept_digests.add(digest)
    # With every model planned, the kept rows are all the live versions there are.
    freed = ({d.digest for d in deletions} - kept_digests if name is None
             else _unshared(q, deletions))
    total = sum({d.digest: d.size for d in deletions if d.digest in freed}.values())
    return RetentionPlan(policy, name, now, deletions, kept, total, chain)


def _special(q: Queries, policy: RetentionPolicy, name: str | None, now: datetime
             ) -> dict[tuple[str, str], list[str]]:
    """The versions kept whatever their age or rank: held, aliased, served within
    ``min_age``, tagged; each with why."""
    why: dict[tuple[str, str], list[str]] = {}
    for key, reason in q.held(name).items():
        why.setdefault(key, []).append(f"held: {reason}")
    if policy.keep_aliased:
        aliases: dict[tuple[str, str], list[str]] = {}
        for n, alias, v in sorted(q.aliases(name), key=lambda row: row[1]):
            aliases.setdefault((n, v), []).append(alias)
        for key, names in aliases.items():
            why.setdefault(key, []).append("alias " + ", ".join(names))
    if policy.min_age is not None:
        for key, served in _last_served(q, name, now).items():
            if served + policy.min_age > now:
                why.setdefault(key, []).append(
                    f"served behind an alias until {served:%Y-%m-%d}: min_age="
                    f"{show_duration(policy.min_age)} not passed")
    if policy.keep_tagged:
        tagged: dict[tuple[str, str], str] = {}
        for n, v, tag_key in q.tagged(policy.keep_tagged, name):
            tagged.setdefault((n, v), tag_key)
        for key_, tag in tagged.items():
            why.setdefault(key_, []).append(f"tagged {tag!r}")
    return why


def _rule(policy: RetentionPolicy) -> str:
    """The rule text of a deletion, with ``{}`` for its rank among its model's versions."""
    parts = []
    if policy.keep_last is not None:
        parts.append(f"not among the last {policy.keep_last} (#{{}})")
    if policy.keep_within is not None:
        parts.append(f"older than {show_duration(policy.keep_within)}")
    return " and ".join(parts)


def _unshared(q: Queries, deletions: list[PlannedDeletion]) -> set[str]:
    """The digests of ``deletions`` that no other live version names (by the digest index)."""
    if not deletions:
        return set()
    gone = {(d.name, d.version) for d in deletions}
    digests = {d.digest for d in deletions}
    live = q.live_with_digests(digests)
    return digests - {d for n, v, d in live if (n, v) not in gone}


# -- applying -------------------------------------------------------------------------


def _protection(q: Queries, name: str, version: str, policy: RetentionPolicy,
                now: datetime) -> str | None:
    """Why a version must not be deleted now, or None."""
    reason = q.held(name).get((name, version))
    if reason is not None:
        return f"is held ({reason}); release it first"
    if policy.keep_aliased:
        aliases = q.aliases_of(name, version)
        if aliases:
            return f"is what {', '.join(f'{name}@{a}' for a in aliases)} points to"
    if policy.min_age is not None:
        served = _last_served(q, name, now).get((name, version))
        if served is not None and served + policy.min_age > now:
            return (f"served behind an alias until {served:%Y-%m-%d} and min_age="
                    f"{show_duration(policy.min_age)} has not passed")
    return None


def _apply(chain: Chain, plan: RetentionPlan) -> list[Tombstone]:
    chain.readable()  # every model: another one may share a blob
    q = chain.queries
    blocked = [f"{d.ref} {why}" for d in plan.deletions
               if (why := _protection(q, d.name, d.version, plan.policy, utcnow()))]
    if blocked:
        raise Protected("retention refused, nothing was deleted: " + "; ".join(blocked[:10])
                        + (f" (and {len(blocked) - 10} more)" if len(blocked) > 10 else "")
                        + ". Make a new plan")
    tombstones: list[Tombstone] = []
    done: list[PlannedDeletion] = []
    try:
        for d in plan.deletions:
            tomb = Tombstone(at=utcnow(), reason=f"retention: {d.rule}", by=current_user(),
                             rule=str(plan.policy))
            chain.append(d.name, _tombstone_builder(d, tomb, plan, done))
            tombstones.append(tomb)
            done.append(d)
    finally:
        if done:
            digests = {d.digest for d in done}
            for d in done:  # a manifest's files go too, where no live version shares them
                mv = chain.queries.exact(d.name, d.version)
                digests.update(mv.blobs if mv is not None else ())
                run = chain.queries.run(mv.run_id) if mv is not None and mv.run_id else None
                digests.update(run.blobs if run is not None else ())  # its data snapshots
            delete_unreferenced(chain, digests)
    return tombstones


def _tombstone_builder(d: PlannedDeletion, tomb: Tombstone, plan: RetentionPlan,
                       done: list[PlannedDeletion]) -> Callable[[Queries], Draft]:
    """The ``build`` of one tombstone append: it re-checks, inside the write
    transaction, that the version is still there, not deleted, and not protected."""
    def build(q: Queries) -> Draft:
        mv = q.exact(d.name, d.version)
        if mv is None:
            raise NotFound(f"{d.ref} is not in this store")
        if mv.deleted is not None:
            raise Conflict(f"{d.ref} was already deleted by retention; make a new plan")
        why = _protection(q, d.name, d.version, plan.policy, utcnow())
        if why is not None:
            applied = f"; already deleted: {', '.join(x.ref for x in done)}" if done else ""
            raise Protected(f"{d.ref} {why} (it changed since the plan was made){applied}")
        return Draft("tombstone", {"version": d.version, "digest": mv.digest,
                                   "tombstone": record_data(tomb)})
    return build

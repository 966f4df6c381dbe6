"""Store methods that govern a model's versions: aliases (promote, rollback, history),
holds, annotations, protected aliases and approvals. A mixin of :class:`modelver.Store`,
which holds the chain and finds versions; the policy lives in :mod:`modelver._aliases`
and :mod:`modelver._governance`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING

from ._names import check_name
from ._records import AliasEvent, Annotation, Approval, Hold, ModelVersion, Protection
from ._times import parse_time

if TYPE_CHECKING:
    from ._chain import Chain
    from ._lists import AliasHistory

__all__ = ["GovernanceMethods"]


class GovernanceMethods:
    """Aliases, holds, annotations and protected aliases: see :class:`modelver.Store`."""

    if TYPE_CHECKING:
        chain: Chain
        uri: str

        def _find(self, name: str, ref: str, *, at: datetime | date | str | None = None,
                  prereleases: bool = False) -> ModelVersion: ...

    def promote(self, name: str, version: str, alias: str = "prod", *,
                reason: str | None = None, expect: str | None = None) -> AliasEvent:
        """Point ``alias`` at ``version`` (any reference), recording who, when and why.

        With ``expect="1.2.0"`` the move happens only if the alias still points there
        (compare-and-swap); otherwise :class:`Conflict` is raised and nothing changes.
        """
        from ._aliases import checked_alias, move_alias

        checked_alias(alias)
        target = self._find(name, version).version
        return move_alias(self.chain, name, alias, target, kind="promote", reason=reason,
                          expect=expect)

    def rollback(self, name: str, alias: str = "prod", *, to: str | None = None,
                 reason: str | None = None) -> AliasEvent:
        """Move ``alias`` back to the version it pointed to before (or to ``to``).

        Versions deleted by retention are skipped. A rollback is itself an event.
        """
        from ._aliases import checked_alias, move_alias

        checked_alias(alias)
        target = None if to is None else self._find(name, to).version
        return move_alias(self.chain, name, alias, target, kind="rollback", reason=reason)

    def alias_history(self, name: str, alias: str, *, at: datetime | date | str | None = None
                      ) -> AliasHistory:
        """Every move of an alias, oldest first; ``NotFound`` (with the nearest aliases)
        for an alias the model never had. With ``at`` (as :meth:`resolve` takes it), the
        moves made up to then: the last one says where the alias pointed."""
        from ._aliases import alias_history
        from ._lists import AliasHistory
        from ._names import check_alias

        name, alias = check_name(name), check_alias(alias)
        when = None if at is None else parse_time(at)
        self.chain.readable(name)
        return AliasHistory(alias_history(self.chain.queries, name, alias, self.uri, when))

    def aliases(self, name: str) -> dict[str, str]:
        """The current aliases of a model, alias → version."""
        name = check_name(name)
        self.chain.readable(name)
        return {a: v for _, a, v in self.chain.queries.aliases(name)}

    def hold(self, name: str, version: str, reason: str) -> Hold:
        """Protect a version from retention (a legal or operational hold)."""
        from ._aliases import hold

        return hold(self.chain, self._find(name, version), reason)

    def release(self, name: str, version: str, reason: str = "released") -> Hold:
        """Release a hold placed with :meth:`hold`."""
        from ._aliases import hold

        return hold(self.chain, self._find(name, version), reason, release=True)

    def holds(self, name: str | None = None) -> list[Hold]:
        """The versions currently held."""
        if name is not None:
            name = check_name(name)
        self.chain.readable(name)
        return self.chain.queries.holds(name)

    def annotate(self, name: str, version: str, *, description: str | None = None,
                 tags: Mapping[str, str | None] | None = None) -> Annotation:
        """Annotate a version: ``description`` (Markdown, e.g. a model card; ``""`` clears
        it) and ``tags`` changes (a text sets a tag, None removes it). An append-only event:
        ``ModelVersion.description`` is the latest, ``.annotations`` the history, and
        ``.tags`` the registered tags changed by the annotations in order."""
        from ._governance import annotate

        return annotate(self.chain, self._find(name, version), description, tags)

    def protect(self, name: str, alias: str, *, approvals: int = 1) -> Protection:
        """Protect an alias: moving it (``promote`` or ``rollback``) then needs
        ``approvals`` approvals of the target (:meth:`approve`) by users other than the
        mover, else :class:`Protected`. ``approvals=0`` lifts the protection. This guards
        against mistakes and unreviewed moves through modelver, not against someone who
        can write to the store directly (storage permissions and the signing key do)."""
        from ._aliases import checked_alias
        from ._governance import protect

        return protect(self.chain, check_name(name), checked_alias(alias), approvals)

    def approve(self, name: str, version: str, alias: str, *, reason: str | None = None
                ) -> Approval:
        """Approve moving a protected ``alias`` to ``version`` (any reference). The mover's
        own approval never counts; a move to the version uses its approvals up.
        ``NotFound`` when the alias is not protected."""
        from ._aliases import checked_alias
        from ._governance import approve

        checked_alias(alias)
        return approve(self.chain, self._find(name, version), alias, reason)

    def protections(self, name: str) -> dict[str, int]:
        """The protected aliases of a model: alias -> approvals a move needs."""
        name = check_name(name)
        self.chain.readable(name)
        return {p.alias: p.approvals for p in self.chain.queries.protections(name)}

    def approvals(self, name: str, alias: str | None = None) -> list[Approval]:
        """Every approval recorded for a model's aliases (or one alias), oldest first."""
        from ._names import check_alias

        name = check_name(name)
        alias = None if alias is None else check_alias(alias)
        self.chain.readable(name)
        return self.chain.queries.approvals(name, alias)

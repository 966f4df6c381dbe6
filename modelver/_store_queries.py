"""Store methods that answer questions across versions: lineage, ``used_by``, ``diff``
and retention. A mixin of :class:`modelver.Store`, which holds the chain and finds
versions; the answers are computed in :mod:`modelver._lineage`, :mod:`modelver._diff`,
:mod:`modelver._retention` and :mod:`modelver._gc`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ._records import ModelVersion, Run
from ._resolve import split_ref

if TYPE_CHECKING:
    from ._chain import Chain
    from ._diff import Diff
    from ._gc import GcReport
    from ._index import IndexStatCache
    from ._lineage import Lineage
    from ._lists import VersionList
    from ._retention import RetentionPlan, RetentionPolicy

__all__ = ["QueryMethods"]


class QueryMethods:
    """Lineage, diff and retention: see :class:`modelver.Store`."""

    if TYPE_CHECKING:
        chain: Chain

        @property
        def stat_cache(self) -> IndexStatCache: ...

        def _find(self, name: str, ref: str, *, at: datetime | date | str | None = None,
                  prereleases: bool = False) -> ModelVersion: ...

        def get_run(self, run_id: str) -> Run: ...

        def read_blob(self, digest: str) -> bytes: ...

    def lineage(self, name: str, ref: str = "latest") -> Lineage:
        """The lineage graph around one version: datasets, runs, parents and children."""
        from ._lineage import lineage

        return lineage(self.chain.queries, self._find(name, ref))

    def used_by(self, data: Any) -> list[ModelVersion]:
        """Every version trained on ``data`` (a path, array, frame, fingerprint, or the
        ``sha256:`` digest of one or of a data snapshot), directly or via a parent."""
        from ._lineage import used_by

        self.chain.readable()
        return used_by(self.chain.queries, data, self.stat_cache)

    def diff(self, a: str, b: str) -> Diff:
        """Compare two versions (``"fraud@1.2.0"``, ``"fraud@prod"``) section by section."""
        from ._diff import diff

        versions = [self._find(*split_ref(text)) for text in (a, b)]
        runs = [self.get_run(mv.run_id) if mv.run_id else None for mv in versions]
        return diff(versions[0], runs[0], versions[1], runs[1], self.read_blob)

    def plan_retention(self, policy: RetentionPolicy, name: str | None = None
                       ) -> RetentionPlan:
        """Which versions' artifacts a policy would delete, and why (pure: deletes nothing);
        ``plan.apply()`` then deletes them, writing a tombstone for each into the log."""
        from ._retention import plan_retention

        return plan_retention(self.chain, policy, name)

    def gc(self, *, dry_run: bool = False, grace: timedelta | str | float = "1h"
           ) -> GcReport:
        """Delete blobs no record references (left by interrupted uploads or retention).

        Blobs written within ``grace`` (``"1h"``, a timedelta, seconds) are kept: a writer
        may be about to name them. On object storage a blob goes to the store's trash
        first and a later ``gc`` removes it once ``grace`` has passed."""
        from ._gc import gc, grace_seconds

        return gc(self.chain, dry_run=dry_run, grace_s=grace_seconds(grace))

    def search(self, name: str | None = None, where: str | None = None,
               order_by: str | None = None, limit: int | None = None) -> VersionList:
        """Live versions (of one model, or of all) matching ``where``, a small expression
        over ``name``, ``version``, ``created_at``, ``created_by``, ``format``, ``alias``,
        ``params.<key>``, ``metrics.<key>``, ``tags.<key>`` and ``data.<key>.digest``
        (``"metrics.auc > 0.9 and tags.team == 'risk'"``), ordered by ``order_by``
        (``"metrics.auc desc, version"``; newest first by default), at most ``limit``.

        A malformed expression, or a key no version in the store has, raises
        :class:`~modelver.QueryError` pointing at it. See docs/governance.md.
        """
        from ._index.search import search
        from ._lists import VersionList
        from ._names import check_name
        from ._search import parse_order, parse_where

        if name is not None:
            name = check_name(name)
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 1):
            from ._errors import QueryError

            raise QueryError(f"limit must be a positive whole number, not {limit!r}")
        tree = parse_where(where) if where is not None else None
        order = parse_order(order_by) if order_by is not None else ()
        self.chain.readable(name)
        return VersionList(search(self.chain.queries, name=name, where=tree,
                                  where_text=where or "", order=order,
                                  order_text=order_by or "", limit=limit))

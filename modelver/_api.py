"""Module-level functions: each calls the same method on the default store."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._config import default_store
from ._errors import CaptureError
from ._records import (
    AliasEvent,
    Annotation,
    Approval,
    DataFingerprint,
    Hold,
    ModelVersion,
    Protection,
    Run,
)
from ._run import current_run

if TYPE_CHECKING:
    from ._audit import Audit
    from ._diff import Diff
    from ._lineage import Lineage
    from ._lists import AliasHistory, RunList, VersionList
    from ._locking import LockFile
    from ._reproduce import Reproduction
    from ._store import Store
    from ._transfer import TransferReport

__all__ = [
    "alias_history", "annotate", "approve", "audit", "checkout_data", "diff", "export",
    "fingerprint", "get_run", "hold", "lineage", "load", "lock", "log_data", "log_metrics",
    "log_params", "promote", "protect", "pull", "push", "register", "release", "reproduce",
    "resolve", "rollback", "runs", "search", "use_lock", "used_by", "versions",
]


def register(name: str, obj: Any, *, version: str | None = None, bump: str = "auto",
             parents: Sequence[str] = (), tags: Mapping[str, str] | None = None,
             signature: Any = None) -> ModelVersion:
    """Register ``obj`` as a new version of ``name`` in the default store (``signature``:
    a :class:`~modelver.Signature` or a sample input; see :meth:`Store.register`)."""
    return default_store().register(name, obj, version=version, bump=bump, parents=parents,
                                    tags=tags, signature=signature)


def load(name: str, ref: str = "latest", *, safe: bool | None = None, device: Any = None,
         artifact: str | None = None, into: Any = None, check_input: bool | str = False,
         **options: Any) -> Any:
    """Load a verified model version from the default store (see :meth:`Store.load`);
    ``check_input=True`` wraps it so that ``predict`` checks its input's schema first."""
    return default_store().load(name, ref, safe=safe, device=device, artifact=artifact,
                                into=into, check_input=check_input, **options)


def export(name: str, ref: str, dest: str | os.PathLike[str], *, artifact: str | None = None,
           force: bool = False) -> Path:
    """Write a version's artifact as files in its native form into ``dest``, verified
    (``modelver get``; see :meth:`Store.export`)."""
    return default_store().export(name, ref, dest, artifact=artifact, force=force)


def resolve(name: str, ref: str = "latest", *, at: datetime | date | str | None = None
            ) -> ModelVersion:
    """The version a reference names in the default store, loading nothing; ``at``
    (a datetime, a date or ISO-8601 text, UTC assumed) resolves an alias as it was then."""
    return default_store().resolve(name, ref, at=at)


def versions(name: str | None = None) -> VersionList:
    """Versions in the default store, oldest first."""
    return default_store().versions(name)


def search(name: str | None = None, where: str | None = None, order_by: str | None = None,
           limit: int | None = None) -> VersionList:
    """Versions in the default store matching ``where`` (``"metrics.auc > 0.9 and
    tags.team == 'risk'"``), ordered by ``order_by`` (newest first by default), at most
    ``limit``: see :meth:`Store.search`."""
    return default_store().search(name, where, order_by, limit)


def runs(name: str | None = None, *, status: str | None = None,
         limit: int | None = None) -> RunList:
    """Runs in the default store, newest first."""
    return default_store().runs(name, status=status, limit=limit)


def get_run(run_id: str) -> Run:
    """One run of the default store by id or unique prefix."""
    return default_store().get_run(run_id)


def promote(name: str, version: str, alias: str = "prod", *, reason: str | None = None,
            expect: str | None = None) -> AliasEvent:
    """Point ``alias`` at ``version`` (see :meth:`Store.promote`)."""
    return default_store().promote(name, version, alias, reason=reason, expect=expect)


def rollback(name: str, alias: str = "prod", *, to: str | None = None,
             reason: str | None = None) -> AliasEvent:
    """Move ``alias`` back to its previous target, or to ``to``."""
    return default_store().rollback(name, alias, to=to, reason=reason)


def alias_history(name: str, alias: str, *, at: datetime | date | str | None = None
                  ) -> AliasHistory:
    """Every move of an alias, oldest first; with ``at``, the moves made up to then."""
    return default_store().alias_history(name, alias, at=at)


def fingerprint(obj: Any) -> DataFingerprint:
    """The data fingerprint of a path, array, frame, bytes, URL or collection of them."""
    from ._fingerprint import fingerprint as _fingerprint

    return _fingerprint(obj)


def lineage(name: str, ref: str = "latest") -> Lineage:
    """The lineage graph of a version in the default store."""
    return default_store().lineage(name, ref)


def used_by(data: Any) -> list[ModelVersion]:
    """Every version in the default store trained on ``data`` (or on a data snapshot, by
    its ``sha256:`` digest), directly or via parents."""
    return default_store().used_by(data)


def diff(a: str, b: str) -> Diff:
    """Compare two versions of the default store, e.g. ``diff("fraud@1.2.0", "fraud@prod")``."""
    return default_store().diff(a, b)


def hold(name: str, version: str, reason: str) -> Hold:
    """Protect a version from retention."""
    return default_store().hold(name, version, reason)


def release(name: str, version: str, reason: str = "released") -> Hold:
    """Release a hold."""
    return default_store().release(name, version, reason)


def annotate(name: str, version: str, *, description: str | None = None,
             tags: Mapping[str, str | None] | None = None) -> Annotation:
    """Annotate a version of the default store with a description (a model card) and tag
    changes (see :meth:`Store.annotate`)."""
    return default_store().annotate(name, version, description=description, tags=tags)


def protect(name: str, alias: str, *, approvals: int = 1) -> Protection:
    """Make moving ``alias`` need ``approvals`` approvals by other users (0 lifts it; see
    :meth:`Store.protect`)."""
    return default_store().protect(name, alias, approvals=approvals)


def approve(name: str, version: str, alias: str, *, reason: str | None = None) -> Approval:
    """Approve moving the protected ``alias`` to ``version`` (see :meth:`Store.approve`)."""
    return default_store().approve(name, version, alias, reason=reason)


def checkout_data(name: str, ref: str, key: str, dest: str | os.PathLike[str]) -> Path:
    """Write a version's data snapshot ``key`` to ``dest`` (see :meth:`Store.checkout_data`)."""
    return default_store().checkout_data(name, ref, key, dest)


def reproduce(name: str, ref: str = "latest", *, workdir: str | None = None
              ) -> Reproduction:
    """Rebuild a version of the default store and compare digests
    (see :meth:`Store.reproduce`)."""
    return default_store().reproduce(name, ref, workdir=workdir)


def audit(name: str, ref: str = "latest") -> Audit:
    """The audit of a version of the default store (see :meth:`Store.audit`)."""
    return default_store().audit(name, ref)


def push(name: str, ref: str = "latest", *, to: Store | str,
         storage_options: Mapping[str, Any] | None = None) -> TransferReport:
    """Copy a version of the default store (with run, ancestors and blobs) to ``to``."""
    return default_store().push(name, ref, to=to, storage_options=storage_options)


def pull(name: str, ref: str = "latest", *, from_: Store | str,
         storage_options: Mapping[str, Any] | None = None) -> TransferReport:
    """Copy a version from ``from_`` into the default store."""
    return default_store().pull(name, ref, from_=from_, storage_options=storage_options)


def lock(*refs: str, path: str = "modelver.lock") -> LockFile:
    """Pin ``name@ref`` references to exact versions and digests in a lock file."""
    return default_store().lock(*refs, path=path)


def use_lock(path: str | None) -> LockFile | None:
    """Load models through a lock file from now on (None turns locking off)."""
    from ._locking import use_lock as _use_lock

    return _use_lock(path)


def _active(what: str) -> Any:
    run = current_run()
    if run is None:
        raise CaptureError(f"modelver.{what}() needs an active run: call it inside a "
                           "@versioned_training function or a `with modelver.training(...)` "
                           "block")
    return run


def log_metrics(*, step: int | None = None, **metrics: Any) -> None:
    """Record metrics on the active run; with ``step=N``, a point of each one's curve
    too (see :meth:`ActiveRun.log_metrics`)."""
    _active("log_metrics").log_metrics(step=step, **metrics)


def log_params(**params: Any) -> None:
    """Record hyperparameters on the active run."""
    _active("log_params").log_params(**params)


def log_data(key: str, obj: Any) -> DataFingerprint:
    """Fingerprint data and record it on the active run."""
    fp: DataFingerprint = _active("log_data").log_data(key, obj)
    return fp

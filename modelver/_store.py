"""The Store: the facade over one backend, its read model and the policy modules.

Every method here validates its arguments, brings the read model up to date
(:class:`~modelver._chain.Chain`), and delegates to the module that owns the concept:
``_resolve`` (references), ``_register`` (allocating versions), ``_load`` (the load
pipeline), ``_aliases``, ``_lineage``, ``_diff``, ``_retention``/``_gc``,
``_transfer``, ``_verify`` and ``_locking``. Those modules take what they use (the
chain, its queries, plain records), never the Store.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._chain import Chain, QuarantineWarning, StaleWarning
from ._context import record_parent
from ._errors import IntegrityError, InvalidName, NotFound, StoreError, VersionExists
from ._index import IndexStatCache
from ._names import check_name
from ._records import ModelVersion, Run
from ._resolve import find_run, is_exact, resolve, split_ref
from ._store_governance import GovernanceMethods
from ._store_queries import QueryMethods
from ._times import parse_time
from ._versions import Bump
from .backends import Backend, open_backend

if TYPE_CHECKING:
    from ._artifacts import Stored
    from ._audit import Audit
    from ._lists import RunList, VersionList
    from ._load import ArtifactCache
    from ._locking import LockFile, LockMove
    from ._reproduce import Reproduction
    from ._run_summary import RunSummary
    from ._signature import Signature
    from ._transfer import TransferReport
    from ._verify import VerifyReport

__all__ = ["QuarantineWarning", "StaleWarning", "Store"]


def _lock_may_apply() -> bool:
    """Whether a lock could be in force: until :mod:`modelver._locking` is imported (pins,
    ``use_lock``) only ``MODELVER_LOCK`` or a pytest test can put one in force."""
    return ("modelver._locking" in sys.modules or "MODELVER_LOCK" in os.environ
            or "PYTEST_CURRENT_TEST" in os.environ)


class Store(GovernanceMethods, QueryMethods):
    """A model registry at one URI. Every ``modelver`` function that reads or writes a store
    is also a method here (``store.load``, ``store.promote``, ``store.versions``, ...).

    Not methods: ``versioned_training`` and ``training`` take ``store=``; ``current_run`` and
    ``log_params``/``log_metrics``/``log_data`` act on the active run; ``configure``,
    ``configured``, ``use_lock`` and ``pin`` set process state; ``fingerprint``,
    ``model_init`` and ``split_ref`` need no store.

    Open one with :func:`modelver.open`; the process-wide default comes from
    :func:`modelver.configure`, ``MODELVER_URI``, or the nearest ``.modelver/`` folder.
    """

    def __init__(self, backend: Backend, *, safe: bool = False, offline: str = "warn",
                 lock_file: bool = True, snapshot: bool | None = None) -> None:
        if offline not in ("warn", "error"):
            raise InvalidName(f"offline must be 'warn' or 'error', not {offline!r}")
        if snapshot is not None and not isinstance(snapshot, bool):
            raise InvalidName(f"snapshot must be True, False or None, not {snapshot!r}")
        if snapshot is None:
            snapshot = os.environ.get("MODELVER_SNAPSHOT", "").strip().lower() in (
                "1", "true", "yes", "on")
        self.snapshot = snapshot
        self.backend = backend
        self.uri = backend.uri
        self.safe = safe
        self.offline = offline
        self.lock_file = lock_file
        self.chain = Chain(backend, offline=offline)
        self._cache: ArtifactCache | None = None
        self._stat_cache: IndexStatCache | None = None
        self._lazy = threading.Lock()  # lazily built caches, whichever thread asks first

    @classmethod
    def open(cls, uri: str, storage_options: Mapping[str, Any] | None = None, *,
             safe: bool = False, offline: str = "warn", lock_file: bool = True,
             snapshot: bool | None = None) -> Store:
        """Open the store at ``uri`` (a folder, ``sqlite:///…`` or an fsspec URL).

        ``safe=True`` refuses pickle-family formats on load; ``offline="error"`` makes an
        unreachable remote store an error instead of a warning and a stale read;
        ``lock_file=False`` makes ``resolve`` and ``load`` ignore a lock file in force
        (pins from :func:`modelver.pin` still apply), as for an isolated test store;
        ``snapshot=True`` makes runs into this store snapshot their data unless they say
        otherwise (None: ``MODELVER_SNAPSHOT``, else no).
        """
        return cls(open_backend(uri, storage_options), safe=safe, offline=offline,
                   lock_file=lock_file, snapshot=snapshot)

    def __repr__(self) -> str:
        return f"<modelver.Store {self.uri!r}>"

    def init(self) -> Store:
        """Create the store, empty, if it does not exist yet (a first write does so too);
        reading a store that does not exist is ``NotFound``. Returns the store."""
        self.backend.create()
        return self

    def close(self) -> None:
        """Close the store's connections."""
        self.chain.close()
        self._stat_cache = None

    @property
    def stat_cache(self) -> IndexStatCache:
        """The fingerprint stat cache kept in this store's read model."""
        if self._stat_cache is not None:
            return self._stat_cache
        index = self.chain.index
        with self._lazy:
            if self._stat_cache is None:
                self._stat_cache = IndexStatCache(index)
            return self._stat_cache

    # -- registering ---------------------------------------------------------

    def register(self, name: str, obj: Any, *, version: str | None = None,
                 bump: Bump | str = "auto", parents: Sequence[str] = (),
                 tags: Mapping[str, str] | None = None, signature: Any = None
                 ) -> ModelVersion:
        """Register a model made outside a decorated function as a new version.

        ``bump="auto"`` gives a patch release here (there is no run to compare);
        pass ``bump="major"|"minor"|"patch"`` or an exact ``version``. ``signature``
        records its input schema: a :class:`~modelver.Signature`, or a sample input
        (a frame, an array or a tensor) it is inferred from.
        """
        from ._register import check_commit_args
        from ._signature import from_given

        name = check_name(name)
        # Everything that can be refused is refused before the model is written.
        check_commit_args(version, bump, tags)
        given = None if signature is None else from_given(signature)
        self._refuse_early(name, version, parents)
        mv = self._commit(name, None, self.put_model(obj), version=version, bump=bump,
                          parents=parents, tags=tags, signature=given)
        if mv is None:  # pragma: no cover - a digest was given, so a version was written
            raise StoreError(f"registering {name!r} wrote no version")
        return mv

    def put_model(self, obj: Any, *, extras: Mapping[str, Any] | None = None) -> Stored:
        """Write a model (with ``extras``, more members of a bundle) into the store."""
        from ._load import store_model

        return store_model(obj, self.backend, extras=dict(extras) if extras else None)

    def record_run(self, run: Run, model: Stored | None, *,
                   version: str | None = None, bump: Bump | str = "auto",
                   parents: Sequence[str] = (), tags: Mapping[str, str] | None = None
                   ) -> ModelVersion | None:
        """Append a finished run and, when it produced ``model`` (stored by
        :meth:`put_model`), the version it registers."""
        return self._commit(run.name, run, model, version=version if model else None,
                            bump=bump if model else "patch", parents=parents, tags=tags)

    def _commit(self, name: str, run: Run | None, model: Stored | None, *,
                version: str | None, bump: Bump | str, parents: Sequence[str],
                tags: Mapping[str, str] | None, signature: Signature | None = None
                ) -> ModelVersion | None:
        from ._register import commit

        refs = self._parent_refs(parents)
        return commit(self.chain, name, run, model, version=version, bump=bump,
                      parents=refs, tags=tags, signature=signature)

    def _refuse_early(self, name: str, version: str | None, parents: Sequence[str]) -> None:
        """Before a model is trained or written: refuse ``parents`` that name no version
        (``NotFound``) and an explicit ``version`` the store already holds."""
        self._parent_refs(parents)
        if version is None:
            return
        try:
            existing = self._find(name, version)
        except NotFound:
            return
        raise VersionExists(f"{existing.ref} already exists and versions are immutable; "
                            "pass another version= or let modelver choose one")

    def _parent_refs(self, parents: Sequence[str]) -> list[str]:
        """``name@ref`` parents as exact references (``NotFound`` for a missing one)."""
        if isinstance(parents, str) or not isinstance(parents, (list, tuple)):
            raise InvalidName(f"parents must be a list of 'name@ref' texts, not {parents!r}")
        return [self._find(*split_ref(p)).ref for p in parents]

    # -- reading -------------------------------------------------------------

    def resolve(self, name: str, ref: str = "latest", *, at: datetime | date | str | None = None,
                prereleases: bool = False) -> ModelVersion:
        """The version a reference names, without loading anything.

        ``ref`` is an exact version, an alias, ``latest``, a specifier such as
        ``">=1.2,<2"`` or a digest prefix ``"sha256:3fa9"``; ``at`` (a datetime, a date
        or ISO-8601 text, UTC unless it says otherwise) asks where an alias pointed at
        that time. With a lock file or pins in force, a movable
        reference resolves to the pinned version, exactly as :meth:`load` loads it.
        """
        name = check_name(name)
        if at is None and not is_exact(ref) and _lock_may_apply():
            from ._locking import locked_ref

            pinned = locked_ref(name, ref, lock_file=self.lock_file)
            if pinned is not None:
                mv = self._find(name, pinned.version)
                if pinned.digest and pinned.digest != mv.digest:
                    raise IntegrityError(f"{mv.ref} has digest {mv.digest} but the lock pins "
                                         f"{pinned.digest}; re-run `modelver lock`")
                return mv
        return self._find(name, ref, at=at, prereleases=prereleases)

    def _find(self, name: str, ref: str, *, at: datetime | date | str | None = None,
              prereleases: bool = False) -> ModelVersion:
        """The version ``ref`` names in this store, whatever a lock or pin says."""
        name = check_name(name)
        at = None if at is None else parse_time(at)
        if is_exact(ref) and at is None and (not self.backend.log_in_index
                                             or self.backend.exists()):
            # An exact version or full digest never changes: no network if already known.
            try:
                return resolve(self.chain.queries, name, ref)
            except NotFound:
                pass
        self.chain.readable(name)
        return resolve(self.chain.queries, name, ref, at=at, prereleases=prereleases)

    def load(self, name: str, ref: str = "latest", *, safe: bool | None = None,
             device: Any = None, artifact: str | None = None, into: Any = None,
             check_input: bool | str = False, **options: Any) -> Any:
        """Load a model version, every byte it reads verified against its digest first.

        Gives back the kind of object that was registered (see :mod:`modelver.formats`).
        ``safe=True`` (or a store opened with ``safe=True``) refuses formats that can run
        code when loaded (``pickle``). ``device`` puts a torch model's tensors there (the
        CPU by default); ``into`` fills a module you built with the stored weights;
        ``artifact`` gives one member of a bundle; other ``options`` go to the format
        (``trusted=[...]`` for skops). Repeated loads of one artifact in a process
        return the same object from an in-memory cache bounded in bytes, so copy a
        model before mutating it (``copy.deepcopy``). Inside an active run, the loaded
        version is recorded as a parent of what that run registers.

        ``check_input=True`` returns a :class:`~modelver.CheckedModel`: its ``predict``,
        ``predict_proba``, ``transform`` and ``__call__`` first check their input against
        the version's :class:`~modelver.Signature` (a text names the data key to check
        against); ``.model`` is the model itself. A version without a signature is a
        ``ModelverError`` then.
        """
        from ._load import ArtifactCache, load_artifact

        # A lock pins movable references (aliases, latest, specifiers); an exact
        # version or digest already says exactly what to load.
        mv = self.resolve(name, ref)
        if check_input is not False:
            from ._checked import check_key, checked

            signature, key = check_key(check_input, mv.signature, mv.ref)  # before loading
        cache = self._cache
        if cache is None:
            with self._lazy:
                if self._cache is None:
                    self._cache = ArtifactCache()
                cache = self._cache
        obj = load_artifact(mv, self.backend, safe=self.safe if safe is None else safe,
                            cache=cache, artifact=artifact,
                            options={"device": device, "into": into, **options})
        record_parent(mv.ref)
        if check_input is not False:
            return checked(obj, signature, mv.ref, key)
        return obj

    def versions(self, name: str | None = None) -> VersionList:
        """Versions of one model (lowest first), or of every model."""
        from ._lists import VersionList

        if name is not None:
            name = check_name(name)
        self.chain.readable(name)
        return VersionList(self.chain.queries.versions(name))

    def names(self) -> list[str]:
        """Every model name in the store."""
        self.chain.readable()
        return self.chain.queries.names()

    def runs(self, name: str | None = None, *, status: str | None = None,
             limit: int | None = None) -> RunList:
        """Recorded runs, newest first, optionally of one model and with one status."""
        from ._lists import RunList

        name, limit = _run_filter(name, limit)
        if status is not None and not isinstance(status, str):
            raise InvalidName(f"status must be a text such as 'failed', not {status!r}")
        self.chain.readable(name)
        return RunList(self.chain.queries.runs(name, status=status, limit=limit))

    def run_summaries(self, name: str | None = None, *, status: str | None = None,
                      limit: int | None = None) -> list[RunSummary]:
        """What ``runs`` lists, as :class:`RunSummary` values (id, status, version, times,
        final metrics, error, the keys with a curve), read without parsing whole runs:
        fast on thousands of them. ``get_run(summary.id)`` gives the full record."""
        if status is not None and status not in ("succeeded", "failed", "running"):
            raise InvalidName(f"status must be 'succeeded', 'failed' or 'running', "
                              f"not {status!r}")
        name, limit = _run_filter(name, limit)
        self.chain.readable(name)
        return self.chain.queries.run_summaries(name, status=status, limit=limit)

    def get_run(self, run_id: str) -> Run:
        """One run by id (a unique prefix of at least 6 characters is enough)."""
        if not isinstance(run_id, str) or not run_id or len(run_id) > 64:
            raise InvalidName(f"invalid run id {run_id!r}")
        self.chain.readable()
        run = find_run(self.chain.queries, run_id)
        if run is None:
            raise NotFound(f"no run with id {run_id!r} in {self.uri!r}")
        return run

    def read_blob(self, digest: str) -> bytes:
        """The bytes of a blob (code source, diff, artifact), verified by digest."""
        with self.backend.open_blob(digest) as f:
            data = f.read()
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise IntegrityError(f"blob {digest} is corrupted; run `modelver verify`")
        return data

    def checkout_data(self, name: str, ref: str, key: str, dest: str | os.PathLike[str]
                      ) -> Path:
        """Write the data snapshot ``key`` of a version's run to ``dest`` (new, or an
        empty folder), every file verified; returns the path of the data written (a
        file, a folder, or the ``.npy``/``.parquet`` file of an array or frame)."""
        from ._snapshots import checkout_data

        mv = self._find(name, ref)
        run = self.get_run(mv.run_id) if mv.run_id else None
        return checkout_data(self.backend, mv, run, key, dest)

    def export(self, name: str, ref: str, dest: str | os.PathLike[str], *,
               artifact: str | None = None, force: bool = False) -> Path:
        """Write a version's artifact as files in its native form into the folder ``dest``
        (``modelver get``), every file verified; returns the file of a ``file`` artifact,
        else ``dest``. A bundle gets one subfolder per member (``artifact`` picks one).
        A non-empty ``dest`` is refused unless ``force`` (same names are replaced)."""
        from ._export import export_artifact

        return export_artifact(self.resolve(name, ref), self.backend, dest, artifact=artifact,
                               force=force)

    def reproduce(self, name: str, ref: str = "latest", *, workdir: str | None = None
                  ) -> Reproduction:
        """Rebuild a version from its recorded code, data, params and seed in a fresh
        process and compare digests (see :mod:`modelver._reproduce`); what is missing
        is :class:`~modelver.NotReproducible`. ``workdir`` keeps the scratch folder."""
        from ._reproduce import reproduce

        return reproduce(self, name, ref, workdir=workdir, open_store=type(self).open)

    def audit(self, name: str, ref: str = "latest") -> Audit:
        """Everything a reviewer needs about one version, its chain and blobs verified
        (see :class:`~modelver.Audit`; ``.save("report.html")`` writes the page)."""
        from ._audit import build_audit

        mv = self._find(name, ref)
        return build_audit(self.chain, mv, self.lineage(name, mv.version), self.read_blob)

    # -- moving between stores ---------------------------------------------------

    def push(self, name: str, ref: str = "latest", *, to: Store | str,
             storage_options: Mapping[str, Any] | None = None) -> TransferReport:
        """Copy a version, its run, its ancestors and their blobs to another store.

        Idempotent: a second push copies nothing. Aliases are not copied.
        """
        from ._transfer import transfer

        target = to if isinstance(to, Store) else Store.open(to, storage_options)
        return transfer(self.chain, target.chain, self._find(name, ref))

    def pull(self, name: str, ref: str = "latest", *, from_: Store | str,
             storage_options: Mapping[str, Any] | None = None) -> TransferReport:
        """Copy a version (with its run, ancestors and blobs) from another store into this one."""
        from ._transfer import transfer

        source = from_ if isinstance(from_, Store) else Store.open(from_, storage_options)
        return transfer(source.chain, self.chain, source._find(name, ref))

    # -- lock files ----------------------------------------------------------

    def lock(self, *refs: str, path: str = "modelver.lock") -> LockFile:
        """Pin ``name@ref`` references to exact versions and digests in a lock file.

        With no references, those already in the lock file are resolved again.
        """
        from ._locking import lock

        return lock(self._find, refs, path)

    def check_lock(self, path: str = "modelver.lock") -> list[LockMove]:
        """The locked references that resolve to another version (or digest) today."""
        from ._locking import check_lock

        return check_lock(self._find, path)

    # -- integrity -----------------------------------------------------------

    def verify(self, *, head: str | None = None, blobs: bool = True) -> VerifyReport:
        """Re-hash every blob and walk every chain; ``report.ok`` is False on any problem."""
        from ._verify import verify_store

        return verify_store(self.chain, head=head, blobs=blobs)

    def head(self) -> str:
        """One digest over every chain's head; pin it and pass it to ``verify(head=…)``."""
        from ._log import combined_head

        self.chain.readable()
        return combined_head(self.chain.queries.heads())


def _run_filter(name: str | None, limit: int | None) -> tuple[str | None, int | None]:
    """The ``name`` and ``limit`` of ``runs`` and ``run_summaries``, checked; a limit past
    what SQLite counts means every run."""
    if name is not None:
        name = check_name(name)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or limit < 0):
        raise InvalidName(f"limit must be a non-negative int, not {limit!r}")
    return name, None if limit is None or limit >= 2**63 else limit

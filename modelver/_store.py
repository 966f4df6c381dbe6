"""The Store: all registry policy over one narrow backend.

A store registers versions, resolves references, loads verified artifacts, and
moves aliases. Backends only append log entries and put/get blobs; everything
here is the same for SQLite, ``memory://`` and object storage.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ._errors import (
    IntegrityError,
    InvalidName,
    NotFound,
    StoreError,
    UnsafeFormat,
)
from ._index import Index
from ._names import check_name
from ._records import AliasEvent, Hold, ModelVersion, Run
from ._resolve import resolve_row, split_ref, to_version, version_from
from ._serde import structure
from ._versions import Bump
from .backends import Backend, open_backend

if TYPE_CHECKING:
    from ._diff import Diff
    from ._lineage import Lineage
    from ._lists import AliasHistory, RunList, VersionList
    from ._retention import GcReport, RetentionPlan, RetentionPolicy
    from ._transfer import TransferReport
    from ._verify import VerifyReport

__all__ = ["Store"]

_LOAD_CACHE_SIZE = 8
UNSAFE_FORMATS = frozenset({"pickle"})  # formats that run code when deserialized


class Store:
    """A model registry at one URI. Every public ``modelver`` function is also a method here.

    Open one with :func:`modelver.open`; the process-wide default comes from
    :func:`modelver.configure`, ``MODELVER_URI``, or the nearest ``.modelver/`` folder.
    """

    def __init__(self, backend: Backend, *, safe: bool = False, offline: str = "warn") -> None:
        if offline not in ("warn", "error"):
            raise InvalidName(f"offline must be 'warn' or 'error', not {offline!r}")
        self.backend = backend
        self.uri = backend.uri
        self.safe = safe
        self.offline = offline
        self._loaded: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def open(cls, uri: str, storage_options: Mapping[str, Any] | None = None, *,
             safe: bool = False, offline: str = "warn") -> Store:
        """Open the store at ``uri`` (a folder, ``sqlite:///…`` or an fsspec URL).

        ``safe=True`` refuses pickle-family formats on load; ``offline="error"`` makes an
        unreachable remote store an error instead of a warning and a stale read.
        """
        return cls(open_backend(uri, storage_options), safe=safe, offline=offline)

    def __repr__(self) -> str:
        return f"<modelver.Store {self.uri!r}>"

    def close(self) -> None:
        """Close the store's connections."""
        self.backend.close()

    @property
    def _index(self) -> Index:
        return self.backend.index

    def _readable(self, name: str | None = None) -> bool:
        """Bring the index up to date for a read; False when the store does not exist.

        When a remote store cannot be reached, reads go on from the local index with a
        :class:`StaleWarning` (or raise ``StoreError`` if the store was opened with
        ``offline="error"``).
        """
        if not self.backend.exists():
            return False
        try:
            self.backend.sync(name)
        except (OSError, TimeoutError) as exc:
            if isinstance(exc, StoreError) or self.offline == "error":
                raise StoreError(f"cannot reach {self.uri!r}: {exc}") from exc
            warnings.warn(f"cannot reach {self.uri!r} ({type(exc).__name__}); using what this "
                          "machine last saw of it", StaleWarning, stacklevel=3)
        return True

    # -- registering ---------------------------------------------------------

    def register(self, name: str, obj: Any, *, version: str | None = None,
                 bump: Bump | str = "auto", parents: Sequence[str] = (),
                 tags: Mapping[str, str] | None = None) -> ModelVersion:
        """Register a model made outside a decorated function as a new version.

        ``bump="auto"`` gives a patch release here (there is no run to compare);
        pass ``bump="major"|"minor"|"patch"`` or an exact ``version``.
        """
        name = check_name(name)
        digest, size, fmt = self.put_model(obj)
        mv = self._commit(name, None, digest, size, fmt, version=version, bump=bump,
                          parents=parents, tags=tags)
        if mv is None:  # pragma: no cover - a digest was given, so a version was written
            raise StoreError(f"registering {name!r} wrote no version")
        return mv

    def put_model(self, obj: Any) -> tuple[str, int, str]:
        """Serialize a model and store it as a blob: (digest, size, format)."""
        from ._formats import serialize

        fmt, payload = serialize(obj)
        if isinstance(payload, bytes):
            digest, size = self.backend.put_bytes(payload)
        else:
            try:
                digest, size = self.backend.put_file(payload)
            finally:
                if fmt == "folder":
                    os.unlink(payload)
        return digest, size, fmt

    def _commit(self, name: str, run: Run | None, digest: str | None, size: int, fmt: str, *,
                version: str | None, bump: Bump | str, parents: Sequence[str],
                tags: Mapping[str, str] | None) -> ModelVersion | None:
        from ._register import commit

        return commit(self, name, run, digest, size, fmt, version=version, bump=bump,
                      parents=parents, tags=tags)

    def record_run(self, run: Run, model: tuple[str, int, str] | None, *,
                   version: str | None = None, bump: Bump | str = "auto",
                   parents: Sequence[str] = (), tags: Mapping[str, str] | None = None
                   ) -> ModelVersion | None:
        """Append a finished run and, when it produced ``model`` (digest, size, format),
        the version it registers."""
        if model is None:
            self._commit(run.name, run, None, 0, "", version=None, bump="patch",
                         parents=parents, tags=tags)
            return None
        digest, size, fmt = model
        return self._commit(run.name, run, digest, size, fmt, version=version, bump=bump,
                            parents=parents, tags=tags)

    def _parent_ref(self, ref: str) -> str:
        name, r = split_ref(ref)
        return self.resolve(name, r).ref

    # -- reading -------------------------------------------------------------

    def resolve(self, name: str, ref: str = "latest", *, at: datetime | None = None,
                prereleases: bool = False) -> ModelVersion:
        """The version a reference names, without loading anything.

        ``ref`` is an exact version, an alias, ``latest``, a specifier such as
        ``">=1.2,<2"`` or a digest prefix ``"sha256:3fa9"``; ``at`` asks where an
        alias pointed at that time.
        """
        name = check_name(name)
        if at is not None and not isinstance(at, datetime):
            raise InvalidName(f"at= must be a datetime, not {type(at).__name__}")
        if self.backend.exists() and _is_exact(ref) and at is None:
            # An exact version or full digest never changes: no network if already known.
            try:
                _, record = resolve_row(self._index, name, ref)
                return to_version(self._index, name, record)
            except NotFound:
                pass
        if not self._readable(name):
            raise NotFound(f"no model named {name!r}: the store at {self.uri!r} is empty")
        _, record = resolve_row(self._index, name, ref, at=at, prereleases=prereleases)
        return to_version(self._index, name, record)

    def load(self, name: str, ref: str = "latest", *, safe: bool | None = None) -> Any:
        """Load a model version, verifying its sha256 before deserializing it.

        ``safe=True`` (or a store opened with ``safe=True``) refuses pickle-family
        formats, which can run code when loaded. Repeated loads of one artifact in a
        process return the same object from a small in-memory cache (the last 8
        artifacts), so copy a model before mutating it (``copy.deepcopy``). Inside an
        active run, the loaded version is recorded as a parent of what that run registers.
        """
        from ._locking import locked_ref
        from ._run import current_run

        name = check_name(name)
        # A lock pins movable references (aliases, latest, specifiers); an exact
        # version or digest already says exactly what to load.
        pinned = None if _is_exact(ref) else locked_ref(name, ref)
        mv = self.resolve(name, pinned.version if pinned else ref)
        if pinned is not None and pinned.digest and pinned.digest != mv.digest:
            raise IntegrityError(f"{mv.ref} has digest {mv.digest} but the lock pins "
                                 f"{pinned.digest}; re-run `modelver lock`")
        if mv.deleted is not None:
            raise NotFound(f"{mv.ref} was deleted by retention at {mv.deleted.at.isoformat()} "
                           f"({mv.deleted.reason}); load another version")
        if (self.safe if safe is None else safe) and mv.format in UNSAFE_FORMATS:
            raise UnsafeFormat(f"{mv.ref} is stored as {mv.format!r}, which runs code when "
                               "loaded; pass safe=False if you trust this store")
        run = current_run()
        if run is not None:
            run.add_parent(mv.ref)
        with self._lock:
            if mv.digest in self._loaded:
                self._loaded.move_to_end(mv.digest)
                return self._loaded[mv.digest]
        path = self.backend.blob_path(mv.digest)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise NotFound(f"the artifact of {mv.ref} ({mv.digest}) is missing from "
                           f"{self.uri!r}; run `modelver verify`") from None
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        if actual != mv.digest and self.backend.discard_cached(mv.digest):
            # This machine's cached copy was damaged: drop it and download it once more.
            path = self.backend.blob_path(mv.digest)
            with open(path, "rb") as f:
                data = f.read()
            actual = "sha256:" + hashlib.sha256(data).hexdigest()
        if actual != mv.digest:
            raise IntegrityError(f"artifact of {mv.ref} is corrupted: it hashes to {actual}, "
                                 f"the record says {mv.digest}. Run `modelver verify`")
        extract = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(path))),
                               "extracted", mv.digest[7:])
        from ._formats import deserialize

        obj = deserialize(mv.format, data, path, extract)
        with self._lock:
            self._loaded[mv.digest] = obj
            while len(self._loaded) > _LOAD_CACHE_SIZE:
                self._loaded.popitem(last=False)
        return obj

    def versions(self, name: str | None = None) -> VersionList:
        """Versions of one model (oldest first), or of every model."""
        from ._lists import VersionList

        if name is not None:
            name = check_name(name)
        if not self._readable(name):
            return VersionList()
        sql = ("SELECT v.record, t.record FROM versions v LEFT JOIN tombstones t "
               "ON t.name = v.name AND t.version = v.version")
        if name is None:
            rows = self._index.query(sql + " ORDER BY v.name, v.major, v.minor, v.patch, "
                                     "v.pre DESC")
        else:
            rows = self._index.query(sql + " WHERE v.name = ? ORDER BY v.major, v.minor, "
                                     "v.patch, v.pre DESC", (name,))
        return VersionList(version_from(r, t) for r, t in rows)

    def names(self) -> list[str]:
        """Every model name in the store."""
        if not self._readable():
            return []
        return [r[0] for r in self._index.query("SELECT DISTINCT name FROM versions ORDER BY 1")]

    def runs(self, name: str | None = None, *, status: str | None = None,
             limit: int | None = None) -> RunList:
        """Recorded runs, newest first, optionally of one model and with one status."""
        from ._lists import RunList

        if not self._readable(name):
            return RunList()
        where, params = [], []
        if name is not None:
            where.append("name = ?")
            params.append(check_name(name))
        if status is not None:
            where.append("status = ?")
            params.append(status)
        sql = "SELECT record FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise InvalidName(f"limit must be a non-negative int, not {limit!r}")
        sql += " ORDER BY started_at DESC" + (f" LIMIT {limit}" if limit else "")
        return RunList(structure(json.loads(r[0]), Run) for r in self._index.query(sql, params))

    def get_run(self, run_id: str) -> Run:
        """One run by id (a unique prefix of at least 6 characters is enough)."""
        if not isinstance(run_id, str) or not run_id or len(run_id) > 64:
            raise InvalidName(f"invalid run id {run_id!r}")
        if self._readable():
            rows = self._index.query("SELECT record FROM runs WHERE id >= ? AND id < ? LIMIT 2",
                                     (run_id, run_id + "\uffff"))
            if len(rows) == 1 and (len(run_id) >= 6 or json.loads(rows[0][0])["id"] == run_id):
                return structure(json.loads(rows[0][0]), Run)
            if len(rows) > 1:
                raise InvalidName(f"run id prefix {run_id!r} is ambiguous; give more characters")
        raise NotFound(f"no run with id {run_id!r} in {self.uri!r}")

    def read_blob(self, digest: str) -> bytes:
        """The bytes of a blob (code source, diff, artifact), verified by digest."""
        with self.backend.open_blob(digest) as f:
            data = f.read()
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise IntegrityError(f"blob {digest} is corrupted; run `modelver verify`")
        return data

    # -- aliases and holds -----------------------------------------------------

    def promote(self, name: str, version: str, alias: str = "prod", *,
                reason: str | None = None, expect: str | None = None) -> AliasEvent:
        """Point ``alias`` at ``version`` (any reference), recording who, when and why.

        With ``expect="1.2.0"`` the move happens only if the alias still points there
        (compare-and-swap); otherwise :class:`Conflict` is raised and nothing changes.
        """
        from ._aliases import move_alias

        return move_alias(self, name, alias, version, kind="promote", reason=reason,
                          expect=expect)

    def rollback(self, name: str, alias: str = "prod", *, to: str | None = None,
                 reason: str | None = None) -> AliasEvent:
        """Move ``alias`` back to the version it pointed to before (or to ``to``).

        Versions deleted by retention are skipped. A rollback is itself an event.
        """
        from ._aliases import move_alias

        return move_alias(self, name, alias, to, kind="rollback", reason=reason)

    def alias_history(self, name: str, alias: str) -> AliasHistory:
        """Every move of an alias, oldest first."""
        from ._aliases import alias_history

        return alias_history(self, name, alias)

    def aliases(self, name: str) -> dict[str, str]:
        """The current aliases of a model, alias → version."""
        from ._aliases import aliases_of

        return aliases_of(self, name)

    def hold(self, name: str, version: str, reason: str) -> Hold:
        """Protect a version from retention (a legal or operational hold)."""
        from ._aliases import hold

        return hold(self, name, version, reason)

    def release(self, name: str, version: str, reason: str = "released") -> Hold:
        """Release a hold placed with :meth:`hold`."""
        from ._aliases import release

        return release(self, name, version, reason)

    def holds(self, name: str | None = None) -> list[Hold]:
        """The versions currently held."""
        from ._aliases import holds

        return holds(self, name)

    # -- lineage, diff, retention -------------------------------------------------

    def lineage(self, name: str, ref: str = "latest") -> Lineage:
        """The lineage graph around one version: datasets, runs, parents and children."""
        from ._lineage import lineage

        return lineage(self, name, ref)

    def used_by(self, data: Any) -> list[ModelVersion]:
        """Every version trained on ``data`` (a path, array, frame or fingerprint),
        directly or through a parent version."""
        from ._lineage import used_by

        return used_by(self, data)

    def diff(self, a: str, b: str) -> Diff:
        """Compare two versions (``"fraud@1.2.0"``, ``"fraud@prod"``) section by section."""
        from ._diff import diff

        return diff(self, a, b)

    def plan_retention(self, policy: RetentionPolicy, name: str | None = None
                       ) -> RetentionPlan:
        """Which versions' artifacts a policy would delete, and why (pure: deletes nothing).

        ``plan.apply()`` then deletes them, writing a tombstone for each into the log.
        """
        from ._retention import plan_retention

        return plan_retention(self, policy, name)

    def gc(self, *, dry_run: bool = False) -> GcReport:
        """Delete blobs no record references (left by interrupted uploads or retention)."""
        from ._retention import gc

        return gc(self, dry_run=dry_run)

    # -- moving between stores ---------------------------------------------------

    def push(self, name: str, ref: str = "latest", *, to: Store | str,
             storage_options: Mapping[str, Any] | None = None) -> TransferReport:
        """Copy a version, its run, its ancestors and their blobs to another store.

        Idempotent: a second push copies nothing. Aliases are not copied.
        """
        from ._transfer import transfer

        target = to if isinstance(to, Store) else Store.open(to, storage_options)
        return transfer(self, target, name, ref)

    def pull(self, name: str, ref: str = "latest", *, from_: Store | str,
             storage_options: Mapping[str, Any] | None = None) -> TransferReport:
        """Copy a version (with its run, ancestors and blobs) from another store into this one."""
        from ._transfer import transfer

        source = from_ if isinstance(from_, Store) else Store.open(from_, storage_options)
        return transfer(source, self, name, ref)

    # -- integrity -----------------------------------------------------------

    def verify(self, *, head: str | None = None, blobs: bool = True) -> VerifyReport:
        """Re-hash every blob and walk every chain; ``report.ok`` is False on any problem."""
        from ._verify import verify_store

        return verify_store(self, head=head, blobs=blobs)

    def head(self) -> str:
        """One digest over every chain's head; pin it and pass it to ``verify(head=…)``."""
        from ._log import combined_head

        if not self._readable():
            return combined_head({})
        return combined_head(self._index.heads())


def _is_exact(ref: str) -> bool:
    """Whether a reference can never point elsewhere: a full version or full digest."""
    if not isinstance(ref, str):
        return False
    if ref.startswith("sha256:"):
        return len(ref) == 71
    return bool(ref) and ref[0].isdigit()


class StaleWarning(UserWarning):
    """A remote store could not be reached; the answer comes from the local index."""

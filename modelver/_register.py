"""Registering: allocate the next version and append it, with its run, atomically.

``build`` runs inside the backend's append (a ``BEGIN IMMEDIATE`` transaction on
SQLite, an optimistic exclusive create on object storage), so two writers never get
the same version and a loser simply builds again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import attrs

from ._errors import InvalidName, StoreError, VersionExists
from ._index import Index
from ._log import Draft
from ._records import ModelVersion, Run, utcnow
from ._serde import structure, unstructure
from ._user import current_user
from ._versions import Bump, normalize
from ._versions import bump as next_version

if TYPE_CHECKING:
    from ._store import Store

__all__ = ["commit"]


def commit(store: Store, name: str, run: Run | None, digest: str | None, size: int, fmt: str,
           *, version: str | None, bump: Bump | str, parents: Sequence[str],
           tags: Mapping[str, str] | None) -> ModelVersion | None:
    """Allocate a version and append it (with its run) in one atomic log append.

    With no ``digest`` (a failed run) only the run is appended and None is returned.
    """
    from ._bump import decide

    if bump not in ("auto", "major", "minor", "patch"):
        raise InvalidName(f"bump must be 'auto', 'major', 'minor' or 'patch', not {bump!r}")
    exact = normalize(version) if version is not None else None
    parent_refs = sorted({store._parent_ref(p) for p in parents} | set(
        run.parents if run else ()))
    if tags is not None and not isinstance(tags, Mapping):
        raise InvalidName(f"tags must be a mapping of str to str, not {type(tags).__name__}")
    tag_map = {str(k): str(v) for k, v in (tags or {}).items()}
    result: list[ModelVersion] = []

    def build(index: Index) -> Draft:
        result.clear()
        if digest is not None and not store.backend.has_blob(digest):
            raise StoreError(f"artifact {digest} was deleted while registering (a "
                             "concurrent gc or retention); register again")
        body: dict[str, Any] = {}
        if digest is None:  # a failed run: recorded, nothing registered
            if run is not None:
                body["run"] = unstructure(attrs.evolve(run, parents=parent_refs))
            return Draft("run", body)
        prev = index.one("SELECT version, record FROM versions WHERE name = ? ORDER BY "
                         "major DESC, minor DESC, patch DESC, pre ASC LIMIT 1", (name,))
        if exact is not None:
            new, rule = exact, f"version={exact} given"
            if index.one("SELECT 1 FROM versions WHERE name = ? AND version = ?",
                         (name, new)):
                raise VersionExists(f"{name}@{new} already exists and versions are "
                                    "immutable; register a new version instead")
        else:
            prev_run = _run_of(index, prev[1]) if prev and bump == "auto" else None
            part, rule = decide(prev_run, run, bump) if prev else ("patch", "first version")
            new = _next_free(index, name, prev[0] if prev else None, part)
        mv = ModelVersion(
            name=name, version=new, digest=digest, format=fmt, size=size,
            run_id=run.id if run else None, parents=parent_refs, tags=tag_map,
            created_at=utcnow(), created_by=current_user(),
        )
        body["version"] = unstructure(mv)
        result.append(mv)
        if run is not None:
            body["run"] = unstructure(attrs.evolve(run, version=mv.ref, bump_rule=rule,
                                                   parents=parent_refs))
        return Draft("run" if run is not None else "version", body)

    store.backend.append(name, build)
    return result[0] if result else None


def _run_of(index: Index, version_json: str) -> Run | None:
    """The run that made a version, if it was made by one."""
    run_id = json.loads(version_json).get("run_id")
    if not run_id:
        return None
    row = index.one("SELECT record FROM runs WHERE id = ?", (run_id,))
    return structure(json.loads(row[0]), Run) if row else None


def _next_free(index: Index, name: str, prev: str | None, part: str) -> str:
    """The bumped version, skipping any that exist (explicit versions may be ahead)."""
    new = next_version(prev, cast(Bump, part))
    while index.one("SELECT 1 FROM versions WHERE name = ? AND version = ?", (name, new)):
        new = next_version(new, "patch")
    return new

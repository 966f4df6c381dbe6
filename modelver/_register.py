"""Registering: allocate the next version and append it, with its run, atomically.

``build`` runs inside :meth:`Chain.append <modelver._chain.Chain.append>` (a
``BEGIN IMMEDIATE`` transaction on SQLite, an optimistic exclusive create on object
storage), so two writers never get the same version and a loser simply builds again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import attrs

from ._chain import Chain
from ._errors import InvalidName, StoreError, VersionExists
from ._index import Queries
from ._log import Draft
from ._records import ModelVersion, Run, utcnow
from ._serde import record_data
from ._user import current_user
from ._versions import Bump, normalize
from ._versions import bump as next_version

if TYPE_CHECKING:
    from ._artifacts import Stored
    from ._signature import Signature

__all__ = ["commit"]


def check_commit_args(version: str | None, bump: Bump | str,
                      tags: Mapping[str, str] | None) -> tuple[str | None, dict[str, str]]:
    """Refuse a bad ``version``, ``bump`` or ``tags`` (``InvalidName``) before anything is
    written; returns the normalized version and the tags as texts."""
    if bump not in ("auto", "major", "minor", "patch"):
        raise InvalidName(f"bump must be 'auto', 'major', 'minor' or 'patch', not {bump!r}")
    exact = normalize(version) if version is not None else None
    if tags is not None and not isinstance(tags, Mapping):
        raise InvalidName(f"tags must be a mapping of str to str, not {type(tags).__name__}")
    return exact, {str(k): str(v) for k, v in (tags or {}).items()}


def commit(chain: Chain, name: str, run: Run | None, stored: Stored | None,
           *, version: str | None, bump: Bump | str, parents: Sequence[str],
           tags: Mapping[str, str] | None, signature: Signature | None = None
           ) -> ModelVersion | None:
    """Allocate a version and append it (with its run) in one atomic log append.

    ``parents`` are exact ``name@version`` references. With no ``stored`` artifact (a
    failed run) only the run is appended and None is returned. The version's input
    ``signature`` is the one given, else derived from the run's data schemas.
    """
    from ._bump import decide
    from ._signature import derive

    if signature is None and run is not None and stored is not None:
        signature = derive(run.data, stored.inputs)

    digest = stored.digest if stored is not None else None
    needed = [stored.digest, *stored.blobs] if stored is not None else []

    exact, tag_map = check_commit_args(version, bump, tags)
    parent_refs = sorted(set(parents) | set(run.parents if run else ()))
    result: list[ModelVersion] = []

    def build(q: Queries) -> Draft:
        result.clear()
        if any(not chain.backend.restore_blob(d) for d in needed):
            raise StoreError(f"artifact {digest} was deleted while registering (a "
                             "concurrent gc or retention); register again")
        body: dict[str, Any] = {}
        if stored is None or digest is None:  # a failed run: recorded, nothing registered
            if run is not None:
                body["run"] = record_data(attrs.evolve(run, parents=parent_refs))
            return Draft("run", body)
        if exact is None and bump == "auto" and run is not None:
            same = _reproduced(q, name, digest, run, parent_refs, tag_map)
            if same is not None:  # an identical rerun: evidence, not a new version
                result.append(same)
                rule = (f"identical rerun of {same.ref} (same code, params, data, seed and "
                        "artifact): no new version")
                body["run"] = record_data(attrs.evolve(run, version=same.ref, bump_rule=rule,
                                                       parents=parent_refs))
                return Draft("run", body)
        prev = q.latest(name, prereleases=True)
        if exact is not None:
            new, rule = exact, f"version={exact} given"
            if q.exact(name, new) is not None:
                raise VersionExists(f"{name}@{new} already exists and versions are "
                                    "immutable; register a new version instead")
        else:
            prev_run = (q.run_inputs_record(prev.run_id) if prev and prev.run_id
                        and bump == "auto" else None)
            part, rule = decide(prev_run, run, bump) if prev else ("patch", "first version")
            new = _next_free(q, name, prev.version if prev else None, part)
        mv = ModelVersion(
            name=name, version=new, digest=digest, format=stored.format, size=stored.size,
            run_id=run.id if run else None, parents=parent_refs, tags=tag_map,
            created_at=utcnow(), created_by=current_user(), artifacts=stored.artifacts,
            blobs=stored.blobs, requirements=stored.requirements, signature=signature,
        )
        body["version"] = record_data(mv)
        result.append(mv)
        if run is not None:
            body["run"] = record_data(attrs.evolve(run, version=mv.ref, bump_rule=rule,
                                                   parents=parent_refs))
        return Draft("run" if run is not None else "version", body)

    chain.append(name, build)
    if any(not chain.backend.restore_blob(d) for d in needed):
        # A gc on another machine moved the blob aside after the check above and
        # emptied its trash: the version is published but cannot be loaded.
        raise StoreError(f"{result[0].ref if result else name} was registered, but a "
                         f"concurrent gc deleted its artifact {digest}; register the model "
                         "again as a new version")
    return result[0] if result else None


def _reproduced(q: Queries, name: str, digest: str, run: Run, parents: list[str],
                tags: dict[str, str]) -> ModelVersion | None:
    """The live version of ``name`` with this artifact whose run had the same inputs
    (code, params, data, seed), parents and tags as ``run``, if there is one."""
    from ._bump import same_inputs

    for mv in reversed(q.by_digest(name, digest)):
        if mv.deleted is not None or mv.run_id is None or sorted(mv.parents) != parents:
            continue
        # The tags it was registered with: later annotations do not make it another run.
        if tags and tags != (q.registered_tags(name, mv.version) if mv.annotations
                             else mv.tags):
            continue
        prev = q.run(mv.run_id)
        if prev is not None and same_inputs(prev, run):
            return mv
    return None


def _next_free(q: Queries, name: str, prev: str | None, part: str) -> str:
    """The bumped version, skipping any that exist (explicit versions may be ahead)."""
    new = next_version(prev, cast(Bump, part))
    while q.exact(name, new) is not None:
        new = next_version(new, "patch")
    return new

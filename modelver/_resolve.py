"""Reference resolution: exact version, alias, ``latest``, specifier, or digest prefix.

Pure functions over the read model's :class:`~modelver._index.Queries`; nothing here
writes.
"""

from __future__ import annotations

from datetime import datetime

from ._errors import InvalidName, NotFound
from ._index import Queries
from ._names import check_alias, check_name, closest
from ._records import ModelVersion, Run
from ._serde import unstructure
from ._versions import normalize, parse_specifier, parse_version

__all__ = ["find_run", "is_exact", "not_yet", "resolve", "split_ref"]


def split_ref(text: str) -> tuple[str, str]:
    """Split ``name@ref`` into its parts (``ref`` defaults to ``latest``)."""
    if not isinstance(text, str):
        raise InvalidName(f"expected 'name@ref', got {type(text).__name__}")
    name, _, ref = text.partition("@")
    return check_name(name), ref or "latest"


def is_exact(ref: str) -> bool:
    """Whether a reference can never point elsewhere: a full version or full digest."""
    if not isinstance(ref, str):
        return False
    if ref.startswith("sha256:"):
        return len(ref) == 71
    return bool(ref) and ref[0].isdigit()


def _missing_name(q: Queries, name: str) -> NotFound:
    return NotFound(f"no model named {name!r} in this store", closest(name, q.names()))


def _missing_ref(q: Queries, name: str, ref: str, what: str) -> NotFound:
    options = q.version_numbers(name, limit=200) + [a for _, a, _ in q.aliases(name)]
    return NotFound(f"{what} {ref!r} not found for model {name!r}",
                    closest(ref, [*options, "latest"]))


def resolve(q: Queries, name: str, ref: str, *, at: datetime | None = None,
            prereleases: bool = False) -> ModelVersion:
    """The version a reference names; raises ``NotFound``/``InvalidName``."""
    name = check_name(name)
    if not isinstance(ref, str) or not ref or len(ref) > 200:
        raise InvalidName(f"invalid reference {ref!r}: use a version, alias, 'latest', "
                          "a specifier like '>=1.2,<2', or a digest prefix 'sha256:…'")
    if ref == "latest":
        mv = q.latest(name, prereleases=prereleases)
        if mv is None:
            if q.has_model(name):
                raise NotFound(f"model {name!r} has only pre-releases; name one exactly")
            raise _missing_name(q, name)
        return mv
    if ref.startswith("sha256:"):
        return _by_digest(q, name, ref)
    spec = parse_specifier(ref)
    if spec is not None:
        numbers = q.version_numbers(name, ordered=False)
        if not numbers:
            raise _missing_name(q, name)
        matches = list(spec.filter(numbers, prereleases=prereleases or None))
        if not matches:
            raise _missing_ref(q, name, ref, "no version matches specifier")
        return _exact(q, name, max(matches, key=parse_version))
    if ref[0].isdigit():
        return _exact(q, name, normalize(ref))
    alias = check_alias(ref)
    target = (q.alias_target(name, alias) if at is None
              else q.alias_target_at(name, alias, unstructure(at)))
    if target is not None:
        return _exact(q, name, target)
    if not q.has_model(name):
        raise _missing_name(q, name)
    events = q.alias_events(name, alias) if at is not None else []
    if at is None or not events:
        raise _missing_ref(q, name, ref, "alias")
    raise not_yet(name, alias, at, events[0].at)


def not_yet(name: str, alias: str, at: datetime, first: datetime) -> NotFound:
    """The error for an alias asked for at a time before it was first set."""
    return NotFound(f"alias {name}@{alias} did not exist yet at {at.isoformat()}: it was "
                    f"first set at {first.isoformat()}")


def _exact(q: Queries, name: str, version: str) -> ModelVersion:
    mv = q.exact(name, version)
    if mv is None:
        if not q.has_model(name):
            raise _missing_name(q, name)
        raise _missing_ref(q, name, version, "version")
    return mv


def _by_digest(q: Queries, name: str, prefix: str) -> ModelVersion:
    hexpart = prefix[7:]
    if not hexpart or len(hexpart) > 64 or any(c not in "0123456789abcdef" for c in hexpart):
        raise InvalidName(f"invalid digest prefix {prefix!r}: use 'sha256:' and hex digits")
    found = q.by_digest(name, prefix)
    if not found:
        raise NotFound(f"no version of {name!r} has a digest starting {prefix!r}")
    digests = {mv.digest for mv in found}
    if len(digests) > 1:
        raise InvalidName(f"digest prefix {prefix!r} is ambiguous for {name!r}: "
                          f"it matches {len(digests)} artifacts; give more digits")
    # Several versions may share one artifact; the newest names it.
    return found[-1]


def find_run(q: Queries, run_id: str) -> Run | None:
    """One run by id, or by a unique prefix of at least 6 characters."""
    if not isinstance(run_id, str) or not run_id or len(run_id) > 64:
        raise InvalidName(f"invalid run id {run_id!r}")
    found = q.runs_by_prefix(run_id)
    if len(found) > 1:
        raise InvalidName(f"run id prefix {run_id!r} is ambiguous; give more characters")
    if found and (len(run_id) >= 6 or found[0].id == run_id):
        return found[0]
    return None

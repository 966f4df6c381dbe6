"""``RunOptions``: the options of a recorded run, validated where they enter.

``@versioned_training(...)`` and ``training(...)`` build one when they are called,
so a misspelt ``bump=``, a bad ``seed=``, malformed ``version=``, ``parents=``,
``tags=`` or ``allow_env=`` is an error before any training runs; a ``version=``
that the store already holds is refused when the run starts
(:meth:`RunOptions.check_version_free`), again before the user's code runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ._errors import InvalidName
from ._names import check_name
from ._resolve import split_ref
from ._store import Store
from ._versions import normalize

__all__ = ["BUMPS", "RunOptions", "texts"]

BUMPS = ("auto", "major", "minor", "patch")


def _seed(_: Any, __: Any, value: object) -> None:
    if value is None or value == "auto":
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise InvalidName(f"seed must be an int in [0, 2**32), 'auto' or None, not {value!r}")


def _bump(_: Any, __: Any, value: object) -> None:
    if value not in BUMPS:
        raise InvalidName(f"bump must be 'auto', 'major', 'minor' or 'patch', not {value!r}")


def _version(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidName(f"version must be a string like '1.2.0', not {value!r}")
    return normalize(value)


def texts(value: object, what: str) -> tuple[str, ...]:
    """One text or a list, tuple or set of texts as a tuple (None is empty);
    ``InvalidName`` for anything else."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple, set, frozenset)) and all(isinstance(v, str)
                                                                for v in value):
        return tuple(value)
    raise InvalidName(f"{what} must be a text or a list of texts, not {value!r}")


def _parents(value: Iterable[str] | str) -> tuple[str, ...]:
    parents = texts(value, "parents")
    for ref in parents:
        split_ref(ref)  # InvalidName for anything that is not "name@ref"
    return parents


def _tags(value: Mapping[str, str] | None) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidName(f"tags must be a mapping of str to str, not {type(value).__name__}")
    return {str(k): str(v) for k, v in value.items()}


def _allow_env(value: Iterable[str] | str) -> tuple[str, ...]:
    names = texts(value, "allow_env")
    if not all(names):
        raise InvalidName(f"allow_env must be environment variable names, not {value!r}")
    return names


def _strict(_: Any, __: Any, value: object) -> None:
    if value is not None and not isinstance(value, bool):
        raise InvalidName(f"strict must be True, False or None, not {value!r}")


def _snapshot(value: bool | Iterable[str] | str | None) -> bool | tuple[str, ...] | None:
    if value is None or isinstance(value, bool):
        return value
    return texts(value, "snapshot")


def _store(value: Store | str | None) -> Store | None:
    if value is None or isinstance(value, Store):
        return value
    if not isinstance(value, str):
        raise InvalidName(f"store must be a Store, a URI or None, not {type(value).__name__}")
    return Store.open(value)


@attrs.frozen
class RunOptions:
    """How one training function or block is recorded and versioned.

    ``seed``: an int, ``"auto"`` (draw, set, record) or None (leave RNGs alone);
    ``bump``/``version`` override automatic versioning; ``parents`` are
    ``name@ref`` texts; ``allow_env`` lists environment variables whose values may be
    recorded; ``strict`` makes recording problems errors (default: under pytest);
    ``snapshot`` is True (store the content of all data), data argument names, False,
    or None (the store's default).
    """

    name: str = attrs.field(converter=check_name)
    seed: int | str | None = attrs.field(default="auto", validator=_seed)
    bump: str = attrs.field(default="auto", validator=_bump)
    version: str | None = attrs.field(default=None, converter=_version)
    parents: tuple[str, ...] = attrs.field(default=(), converter=_parents)
    tags: dict[str, str] = attrs.field(factory=dict, converter=_tags)
    store: Store | None = attrs.field(default=None, converter=_store, eq=False)
    strict: bool | None = attrs.field(default=None, validator=_strict)
    allow_env: tuple[str, ...] = attrs.field(default=(), converter=_allow_env)
    snapshot: bool | tuple[str, ...] | None = attrs.field(default=None, converter=_snapshot)

    def check_version_free(self, store: Store) -> None:
        """Before training runs: refuse an explicit ``version`` the store already holds,
        and ``parents`` that name no version (``NotFound``)."""
        store._refuse_early(self.name, self.version, self.parents)

    def finish_args(self) -> dict[str, Any]:
        """The keyword arguments of :meth:`ActiveRun.finish` these options give."""
        return {"version": self.version, "bump": self.bump, "parents": self.parents,
                "tags": self.tags}

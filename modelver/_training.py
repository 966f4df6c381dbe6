"""``@versioned_training`` and ``with training(...)``: record a run around user code."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Generic, ParamSpec, TypeVar

from ._names import check_name
from ._records import DataFingerprint, ModelVersion
from ._run import ActiveRun
from ._store import Store

__all__ = ["Training", "VersionedFunction", "training", "versioned_training"]

P = ParamSpec("P")
R = TypeVar("R")


def _store_of(store: Store | str | None) -> Store | None:
    if store is None or isinstance(store, Store):
        return store
    return Store.open(store)


class VersionedFunction(Generic[P, R]):
    """A training function whose every call is recorded as a run.

    Calling it returns what the function returns, unchanged; exceptions propagate
    unchanged after the failed run is recorded. ``last_version`` is the version
    registered by the last call (None if it failed or registered nothing).
    """

    def __init__(self, func: Callable[P, R], name: str, *, data: Iterable[str], seed: int | str |
                 None, bump: str, version: str | None, parents: Sequence[str],
                 tags: Mapping[str, str] | None, store: Store | str | None,
                 strict: bool | None, allow_env: Sequence[str]) -> None:
        from ._capture.code import snapshot_function
        from ._capture.params import signature_of

        self.__wrapped__ = func
        functools.update_wrapper(self, func)
        self.name = check_name(name)
        self._data = frozenset(data)
        self._seed = seed
        self._bump = bump
        self._version = version
        self._parents = tuple(parents)
        self._tags = dict(tags or {})
        self._store = _store_of(store)
        self._strict = strict
        self._allow_env = tuple(allow_env)
        self._sig = signature_of(func)
        unknown = self._data - set(self._sig.parameters)
        if unknown:
            from ._errors import InvalidName

            raise InvalidName(f"data= names {sorted(unknown)} that are not parameters of "
                              f"{func.__qualname__}{self._sig}")
        # The source is read once, now: editing the file later must not change what
        # this already-imported code is recorded as.
        self._code = snapshot_function(func)
        self.last_version: ModelVersion | None = None
        self.last_run: ActiveRun | None = None

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        from ._capture.params import bind_params

        run = ActiveRun(self.name, self._store, seed=self._seed, code=self._code,
                        strict=self._strict, allow_env=self._allow_env)
        self.last_run = run
        self.last_version = None
        run.start()
        try:
            bound: tuple[dict[str, Any], dict[str, DataFingerprint]] = ({}, {})
            params, data = run.guard(
                "the call's arguments",
                lambda: bind_params(self._sig, args, kwargs, self._data, run._stat_cache()),
                bound,
            )
            run.params.update(params)
            run.data.update(data)
            result = self.__wrapped__(*args, **kwargs)
        except BaseException as exc:
            run.finish(exc)
            raise
        run.log_model(result)
        self.last_version = run.finish(None, version=self._version, bump=self._bump,
                                       parents=self._parents, tags=self._tags)
        return result

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        """Bind like a function when used on a method."""
        if obj is None:
            return self
        return functools.partial(self.__call__, obj)


def versioned_training(name: str, *, data: Iterable[str] = (), seed: int | str | None = "auto",
                       bump: str = "auto", version: str | None = None,
                       parents: Sequence[str] = (), tags: Mapping[str, str] | None = None,
                       store: Store | str | None = None, strict: bool | None = None,
                       allow_env: Sequence[str] = ()
                       ) -> Callable[[Callable[P, R]], VersionedFunction[P, R]]:
    """Record every call of the decorated training function and register what it returns.

    ``data`` names arguments to fingerprint (arrays, frames and existing paths are
    fingerprinted anyway); ``seed`` is an int, ``"auto"`` (draw, set, record) or None
    (leave RNGs alone); ``bump``/``version`` override automatic versioning;
    ``allow_env`` lists environment variables whose values may be recorded.

    >>> @versioned_training("fraud")            # doctest: +SKIP
    ... def train(path, n_estimators=100): ...
    """
    check_name(name)

    def decorate(func: Callable[P, R]) -> VersionedFunction[P, R]:
        return VersionedFunction(func, name, data=data, seed=seed, bump=bump, version=version,
                                 parents=parents, tags=tags, store=store, strict=strict,
                                 allow_env=allow_env)

    return decorate


class Training:
    """The context manager returned by :func:`training`; ``as run`` gives the ActiveRun."""

    def __init__(self, name: str, *, params: Mapping[str, Any] | None, data: Mapping[str, Any]
                 | None, seed: int | str | None, bump: str, version: str | None,
                 parents: Sequence[str], tags: Mapping[str, str] | None,
                 store: Store | str | None, strict: bool | None,
                 allow_env: Sequence[str]) -> None:
        self.name = check_name(name)
        self._params = dict(params or {})
        self._data = dict(data or {})
        self._seed = seed
        self._finish_args: dict[str, Any] = {"version": version, "bump": bump,
                                             "parents": tuple(parents), "tags": tags}
        self._store = _store_of(store)
        self._strict = strict
        self._allow_env = tuple(allow_env)
        self.run: ActiveRun | None = None

    def __enter__(self) -> ActiveRun:
        import inspect

        from ._capture.code import snapshot_caller

        frame = inspect.currentframe()
        caller = frame.f_back if frame is not None else None
        code = snapshot_caller(caller) if caller is not None else None
        run = ActiveRun(self.name, self._store, seed=self._seed, code=code,
                        strict=self._strict, allow_env=self._allow_env)
        self.run = run
        run.start()
        if self._params:
            run.log_params(**self._params)
        for key, value in self._data.items():
            run.guard(f"data {key!r}", functools.partial(run.log_data, key, value), None)
        return run

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.run is None:  # __exit__ without __enter__
            return
        self.run.finish(exc, **self._finish_args)


def training(name: str, *, params: Mapping[str, Any] | None = None,
             data: Mapping[str, Any] | None = None, seed: int | str | None = "auto",
             bump: str = "auto", version: str | None = None, parents: Sequence[str] = (),
             tags: Mapping[str, str] | None = None, store: Store | str | None = None,
             strict: bool | None = None, allow_env: Sequence[str] = ()) -> Training:
    """Record a block of training code as a run; ``run.log_model(m)`` registers ``m``
    when the block exits cleanly, and ``run.version`` is then the new version.

    >>> with training("fraud", params={"lr": 0.1}) as run:   # doctest: +SKIP
    ...     run.log_model(fit())
    """
    return Training(name, params=params, data=data, seed=seed, bump=bump, version=version,
                    parents=parents, tags=tags, store=store, strict=strict,
                    allow_env=allow_env)

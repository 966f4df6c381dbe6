"""``@versioned_training`` and ``with training(...)``: record a run around user code."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Generic, ParamSpec, TypeVar

from ._errors import InvalidName
from ._options import RunOptions, texts
from ._records import DataFingerprint, ModelVersion
from ._run import ActiveRun
from ._store import Store

__all__ = ["Training", "VersionedFunction", "training", "versioned_training"]

P = ParamSpec("P")
R = TypeVar("R")


class VersionedFunction(Generic[P, R]):
    """A training function whose every call is recorded as a run.

    Calling it returns what the function returns, unchanged; exceptions propagate
    unchanged after the failed run is recorded. ``last_version`` is the version
    registered by the last call (None if it failed or registered nothing).
    """

    def __init__(self, func: Callable[P, R], options: RunOptions, *,
                 data: Iterable[str] = ()) -> None:
        from ._capture.code import snapshot_function
        from ._capture.params import signature_of

        self.__wrapped__ = func
        functools.update_wrapper(self, func)
        self.name = options.name
        self.options = options
        snapshot = options.snapshot
        named = frozenset(snapshot) if isinstance(snapshot, tuple) else frozenset()
        self._data = frozenset(texts(data, "data")) | named
        self._sig = signature_of(func)
        for what, names in (("data", self._data - named), ("snapshot", named)):
            unknown = names - set(self._sig.parameters)
            if unknown:
                raise InvalidName(f"{what}= names {sorted(unknown)} that are not parameters "
                                  f"of {func.__qualname__}{self._sig}")
        # The source is read once, now: editing the file later must not change what
        # this already-imported code is recorded as.
        self._code = snapshot_function(func)
        info = self._code.info
        self._entry = f"{info.module}:{info.function}" if info.module and info.function else None
        self.last_version: ModelVersion | None = None
        self.last_run: ActiveRun | None = None

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        from ._capture.params import bind_params, credentials_in

        opts = self.options
        run = ActiveRun(self.name, opts.store, seed=opts.seed, code=self._code,
                        strict=opts.strict, allow_env=opts.allow_env, snapshot=opts.snapshot)
        opts.check_version_free(run.store)
        run.entry = self._entry
        self.last_run = run
        self.last_version = None
        run.start()
        run.secrets |= credentials_in([args, kwargs])
        try:
            bound: tuple[dict[str, Any], dict[str, DataFingerprint]] = ({}, {})
            params, data = run.guard(
                "the call's arguments",
                lambda: bind_params(self._sig, args, kwargs, self._data, run._stat_cache()),
                bound,
            )
            run.params.update(params)
            if any(run.snapshots(key) for key in data):
                values = _argument_values(self._sig, args, kwargs)
                data = {key: run.snapshot_data(key, values[key], fp) if run.snapshots(key)
                        and key in values else fp for key, fp in data.items()}
            run.add_data(data)
            result = self.__wrapped__(*args, **kwargs)
        except BaseException as exc:
            run.finish(exc)
            raise
        run.log_model(result)
        self.last_version = run.finish(None, **opts.finish_args())
        return result

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        """Bind like a function when used on a method."""
        if obj is None:
            return self
        return functools.partial(self.__call__, obj)


def _argument_values(sig: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
                     ) -> dict[str, Any]:
    """A call's arguments by the keys their fingerprints are recorded under."""
    import inspect

    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    out: dict[str, Any] = {}
    for key, value in bound.arguments.items():
        kind = sig.parameters[key].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            out.update(value)
        elif kind is inspect.Parameter.VAR_POSITIONAL:
            out.update((f"{key}[{i}]", v) for i, v in enumerate(value))
        else:
            out[key] = value
    return out


def versioned_training(name: str, *, data: Iterable[str] = (), seed: int | str | None = "auto",
                       bump: str = "auto", version: str | None = None,
                       parents: Sequence[str] = (), tags: Mapping[str, str] | None = None,
                       store: Store | str | None = None, strict: bool | None = None,
                       allow_env: Sequence[str] = (),
                       snapshot: bool | Sequence[str] | None = None,
                       ) -> Callable[[Callable[P, R]], VersionedFunction[P, R]]:
    """Record every call of the decorated training function and register what it returns.

    ``data`` names arguments to fingerprint, such as paths of files and folders
    (arrays, frames, tensors and datasets are fingerprinted anyway; any other argument,
    a text naming a path included, is a param); ``seed`` is an int, ``"auto"`` (draw,
    set, record) or None (leave RNGs alone; ``current_run().seed`` gives the seed to
    pass on); ``bump``/``version`` override automatic versioning;
    ``allow_env`` lists environment variables whose values may be recorded;
    ``snapshot`` stores the content of data arguments in the store (True for all of
    them, or their names; None: the store's default), for :func:`modelver.reproduce`
    and :func:`modelver.checkout_data`.

    >>> @versioned_training("fraud")            # doctest: +SKIP
    ... def train(path, n_estimators=100): ...
    """
    options = RunOptions(name, seed=seed, bump=bump, version=version, parents=parents,
                         tags=tags, store=store, strict=strict, allow_env=allow_env,
                         snapshot=snapshot)

    def decorate(func: Callable[P, R]) -> VersionedFunction[P, R]:
        return VersionedFunction(func, options, data=data)

    return decorate


class Training:
    """The context manager returned by :func:`training`; ``as run`` gives the ActiveRun."""

    def __init__(self, options: RunOptions, *, params: Mapping[str, Any] | None = None,
                 data: Mapping[str, Any] | None = None) -> None:
        if params is not None and not isinstance(params, Mapping):
            raise InvalidName(f"params must be a mapping, not {type(params).__name__}")
        if data is not None and not isinstance(data, Mapping):
            raise InvalidName(f"data must be a mapping of key to dataset, not "
                              f"{type(data).__name__}")
        self.name = options.name
        self.options = options
        self._params = dict(params or {})
        self._data = dict(data or {})
        self.run: ActiveRun | None = None

    def __enter__(self) -> ActiveRun:
        import inspect

        from ._capture.code import snapshot_caller

        frame = inspect.currentframe()
        caller = frame.f_back if frame is not None else None
        code = snapshot_caller(caller) if caller is not None else None
        opts = self.options
        run = ActiveRun(self.name, opts.store, seed=opts.seed, code=code,
                        strict=opts.strict, allow_env=opts.allow_env, snapshot=opts.snapshot)
        opts.check_version_free(run.store)
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
        self.run.finish(exc, **self.options.finish_args())


def training(name: str, *, params: Mapping[str, Any] | None = None,
             data: Mapping[str, Any] | None = None, seed: int | str | None = "auto",
             bump: str = "auto", version: str | None = None, parents: Sequence[str] = (),
             tags: Mapping[str, str] | None = None, store: Store | str | None = None,
             strict: bool | None = None, allow_env: Sequence[str] = (),
             snapshot: bool | Sequence[str] | None = None) -> Training:
    """Record a block of training code as a run; ``run.log_model(m)`` registers ``m``
    when the block exits cleanly, and ``run.version`` is then the new version.
    ``snapshot`` (True, or data keys) stores the content of the data logged.

    >>> with training("fraud", params={"lr": 0.1}) as run:   # doctest: +SKIP
    ...     run.log_model(fit())
    """
    options = RunOptions(name, seed=seed, bump=bump, version=version, parents=parents,
                         tags=tags, store=store, strict=strict, allow_env=allow_env,
                         snapshot=snapshot)
    return Training(options, params=params, data=data)

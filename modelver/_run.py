"""The active run: what a training call is recording, and ``current_run()``.

Each run lives in a :class:`contextvars.ContextVar`, so nested runs and runs in
concurrent threads keep separate state. Capture failures warn and let training
finish; under ``strict=True`` (the default while pytest runs a test) they raise
:class:`~modelver.CaptureError`.
"""

from __future__ import annotations

import contextvars
import os
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from ._context import ACTIVE
from ._errors import CaptureError, Conflict, InvalidName, ModelverError, VersionExists
from ._records import CodeInfo, DataFingerprint, ModelVersion, Run, Seeds, utcnow

if TYPE_CHECKING:
    from ._artifacts import Stored
    from ._capture.closure import Reached
    from ._capture.code import CodeSnapshot
    from ._capture.git import GitProbe
    from ._capture.resources import ResourceMonitor
    from ._series import Series
    from ._store import Store

__all__ = ["ActiveRun", "CaptureWarning", "current_run"]

T = TypeVar("T")
_CURRENT = ACTIVE  # shared with the store, which records what a run loads


_WARM: list[threading.Thread] = []  # the one warm-up thread of this process, once started
_WARM_LOCK = threading.Lock()


def _warm_up() -> None:
    """What the first run of a process needs at its end, read while it trains: the
    record converter (importing cattrs, which compiles a function per record class on
    first use), the modules that store the model and register it, the package list,
    the hardware facts, and the formats of the frameworks imported (skops, safetensors)."""
    try:
        from . import _artifacts, _bump, _load, _register  # noqa: F401 - for the run's end
        from ._capture.environment import packages
        from ._capture.hardware import capture_hardware
        from ._records import Environment, GpuInfo, Hardware, Resources, Tombstone
        from ._serde import structure, unstructure

        full_run = Run(id="warm-up", name="warm-up", data={"x": DataFingerprint("", "")},
                       code=CodeInfo(), environment=Environment(),
                       hardware=Hardware(gpus=[GpuInfo(uuid="", name="")]),
                       resources=Resources(), ended_at=utcnow())
        version = ModelVersion(name="warm-up", version="0", digest="", format="", size=0,
                               deleted=Tombstone(at=utcnow(), reason="", by=""))
        for record in (full_run, version):
            structure(unstructure(record), type(record))
        packages()
        capture_hardware()
        from .formats._registry import prepare_imported

        prepare_imported()  # skops alone takes a second or more to import
    except Exception:  # noqa: S110 - finish() reads them again and reports any failure
        pass


def _start_warm_up() -> threading.Thread:
    with _WARM_LOCK:
        if not _WARM:
            thread = threading.Thread(target=_warm_up, name="modelver-warm-up", daemon=True)
            thread.start()
            _WARM.append(thread)
        return _WARM[0]


class CaptureWarning(UserWarning):
    """Something could not be recorded; the run went on without it."""


def current_run() -> ActiveRun | None:
    """The run active in this thread or task (inside a decorated function or
    ``training()`` block), else None."""
    run: ActiveRun | None = _CURRENT.get()
    return run


def default_strict() -> bool:
    """Strict capture by default while pytest runs a test; ``MODELVER_STRICT`` overrides."""
    env = os.environ.get("MODELVER_STRICT")
    if env is not None:
        return env.strip().lower() in ("1", "true", "yes", "on")
    return "PYTEST_CURRENT_TEST" in os.environ


class ActiveRun:
    """A run being recorded. Use its ``log_*`` methods; ``record`` is the finished Run."""

    def __init__(self, name: str, store: Store | None, *, seed: int | str | None = "auto",
                 code: CodeSnapshot | None = None, strict: bool | None = None,
                 allow_env: Sequence[str] = (),
                 snapshot: bool | Sequence[str] | None = None) -> None:
        self.id = os.urandom(16).hex()
        self.name = name
        self._store = store
        self.strict = default_strict() if strict is None else strict
        self.params: dict[str, Any] = {}
        self.data: dict[str, DataFingerprint] = {}
        self.metrics: dict[str, Any] = {}
        self._series: dict[str, Series] = {}  # the curves logged with step=
        self.parents: list[str] = []
        self.warnings: list[str] = []
        self.secrets: set[str] = set()  # credentials seen in this run's inputs
        self.version: ModelVersion | None = None
        self.record: Run | None = None
        self.model: Any = None
        self._has_model = False
        self.artifacts: dict[str, Any] = {}
        self._seed_arg = seed
        self._snapshot = code
        self._allow_env = tuple(allow_env)
        self._lock = threading.Lock()
        self._token: contextvars.Token[Any] | None = None
        self._monitor: ResourceMonitor | None = None
        self._git: GitProbe | None = None
        self._reached: Reached | None = None
        self._warm: threading.Thread | None = None
        self.seeds = Seeds()
        self.started_at = utcnow()
        self._snapshot_arg = snapshot
        self.entry: str | None = None  # the decorated function, "module:qualname"
        self._snapshot_blobs: dict[str, None] = {}  # ordered: files before manifests

    def __repr__(self) -> str:
        return f"<modelver.ActiveRun {self.name} {self.id[:8]}>"

    @property
    def seed(self) -> int | None:
        """The seed this run set (drawn for ``seed="auto"``), None with ``seed=None``.

        Pass it to what the global seed does not reach:
        ``np.random.default_rng(run.seed)``, xgboost's ``random_state``, lightgbm's
        ``seed``.
        """
        return self.seeds.seed

    @property
    def store(self) -> Store:
        """The store this run records into."""
        if self._store is None:
            from ._config import default_store

            self._store = default_store()
        return self._store

    # -- guarded capture ---------------------------------------------------------

    def guard(self, what: str, fn: Callable[[], T], default: T) -> T:
        """Run one capture step; a failure warns (or raises when strict) and gives ``default``."""
        try:
            return fn()
        except (InvalidName, VersionExists, Conflict):
            raise  # the caller's own input is wrong: say so whatever the mode
        except Exception as exc:
            from ._capture.params import redact_text

            # The message is stored in the run: no credentials from a URL in it.
            message = redact_text(f"modelver could not record {what}: "
                                  f"{type(exc).__name__}: {exc}", self.secrets)
            if self.strict:
                raise CaptureError(message) from exc
            self.warnings.append(message)
            warnings.warn(message, CaptureWarning, stacklevel=3)
            return default

    # -- the user-facing log_* API -------------------------------------------------

    def log_params(self, **params: Any) -> None:
        """Record hyperparameters as canonical JSON values, field by field (see
        ``docs/capture.md``); secrets are redacted at any depth."""
        from ._capture.params import credentials_in, record_param

        values = {k: record_param(k, v) for k, v in params.items()}
        with self._lock:
            self.secrets |= credentials_in(params)
            self.params.update(values)

    def log_metrics(self, *, step: int | None = None, **metrics: Any) -> None:
        """Record metrics (numbers, or JSON values; numpy scalars as numbers).

        With ``step=N`` (a non-negative int) each metric, which must then be a number
        (a numpy scalar, a one-element tensor), also gets a point of its curve
        (``Run.metric_series``, read with ``run.metric_history(key)``). The last value
        logged of a key, with or without ``step``, is its metric; a call without
        ``step`` adds no point. A curve keeps at most 10,000 points (first, last,
        lowest and highest always among them; see ``modelver._series``)."""
        from ._capture.values import param_value

        if step is None:
            values = {k: param_value(v) for k, v in metrics.items()}
            with self._lock:
                self.metrics.update(values)
            return
        from ._series import Series, check_step, point_value

        at = check_step(step)
        points = {k: point_value(k, v) for k, v in metrics.items()}
        with self._lock:
            for key, value in points.items():
                self.metrics[key] = param_value(value)
                series = self._series.get(key)
                if series is None:
                    series = self._series[key] = Series()
                series.add(at, value)

    def log_data(self, key: str, obj: Any, *, snapshot: bool | None = None) -> DataFingerprint:
        """Fingerprint a dataset and record it under ``key``; with ``snapshot=True`` (or
        when the run snapshots this key), store its content too."""
        from ._capture.params import credentials_in
        from ._fingerprint import fingerprint

        with self._lock:
            self.secrets |= credentials_in(obj)
        fp = fingerprint(obj, cache=self._stat_cache())
        if snapshot or (snapshot is None and self.snapshots(str(key))):
            fp = self.snapshot_data(str(key), obj, fp)
        self.add_data({str(key): fp})
        return fp

    def snapshots(self, key: str) -> bool:
        """Whether this run stores the content of its data ``key`` (``snapshot=`` on the
        run, else the store's default)."""
        arg = self._snapshot_arg
        if arg is None:
            return bool(getattr(self.store, "snapshot", False))
        if isinstance(arg, bool):
            return arg
        return key in arg or key.split("[", 1)[0] in arg

    def snapshot_data(self, key: str, obj: Any, fp: DataFingerprint) -> DataFingerprint:
        """Store the content of ``obj`` (fingerprinted as ``fp``) and return ``fp`` naming
        the snapshot; a failure warns (or raises when strict) and keeps ``fp``."""
        from ._snapshots import take

        store = self.store
        snap = self.guard(f"a snapshot of data {key!r}",
                          lambda: take(obj, fp, store.backend, store.stat_cache), None)
        if snap is None:
            return fp
        with self._lock:
            self._snapshot_blobs.update(dict.fromkeys(snap.blobs))
            self._snapshot_blobs[snap.digest] = None
        return attrs.evolve(fp, snapshot=snap.digest)

    def add_data(self, data: Mapping[str, DataFingerprint]) -> None:
        """Record data fingerprints; one that knows only its data's type warns."""
        with self._lock:
            self.data.update(data)
        for key, fp in data.items():
            if fp.method == "type-only":
                message = (f"data {key!r} ({fp.source or fp.kind}) could only be fingerprinted "
                           "by its type: a change in its content will not show in the "
                           "record; pass the tensors, frames or file paths it reads as data")
                self.warnings.append(message)
                warnings.warn(message, CaptureWarning, stacklevel=3)

    def log_model(self, model: Any) -> None:
        """Set the model this run registers when it ends cleanly."""
        self.model = model
        self._has_model = True

    def log_artifact(self, key: str, obj: Any) -> None:
        """Register ``obj`` with the model, as the bundle member ``key`` (a tokenizer, an
        evaluation report, a preprocessor…): the version's artifact becomes a bundle of
        ``"model"`` and these, and ``load(name, ref, artifact=key)`` gives one back."""
        from .formats._basic import member_name_ok

        if not member_name_ok(key) or key == "model":
            raise InvalidName(f"cannot name an artifact {key!r}: use letters, digits, '_', "
                              "'-' and '.', and not 'model' (the run's model)")
        self.artifacts[key] = obj

    def add_parent(self, ref: str) -> None:
        """Record a parent version (done automatically by ``load`` inside a run)."""
        with self._lock:
            if ref not in self.parents:
                self.parents.append(ref)

    def _stat_cache(self) -> Any:
        return self.store.stat_cache

    def _curves(self) -> dict[str, list[tuple[int, float | None]]]:
        if not self._series:
            return {}
        from ._series import series_record

        with self._lock:
            return series_record(self._series)

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        """Begin recording: seed, start the resource monitor and the git probe."""
        from ._capture.resources import ResourceMonitor
        from ._capture.seeds import apply_seed

        self._token = _CURRENT.set(self)
        if self._snapshot is not None:  # first: `git status` overlaps all that follows
            from ._capture.git import GitProbe

            source = self._snapshot.info.source_file
            # Notebook cells have no file: the working directory's repository is theirs.
            where = os.path.dirname(source) if source else os.getcwd()
            self._git = self.guard("git state", lambda: GitProbe(where), None)
        self._warm = _start_warm_up()
        self.seeds = apply_seed(self._seed_arg)
        if self._snapshot is not None and self._snapshot.reach is not None:
            self._reached = self.guard("the user code it reaches", self._snapshot.reach, None)
        self._monitor = ResourceMonitor()
        self.guard("resource use", self._monitor.start, None)

    def _code(self) -> CodeInfo | None:
        if self._snapshot is None:
            return None
        from ._capture.code import module_files, with_git

        snap = self._snapshot
        for blob in snap.blobs.values():
            self.store.backend.put_bytes(blob)  # content-addressed: an existing blob is kept
        git = self._git.result() if self._git is not None else None
        diff_digest = None
        if git is not None and git.diff:
            diff_digest = self.store.backend.put_bytes(git.diff)[0]
        info = with_git(snap.info, git, diff_digest)
        reached = self._reached
        if reached is None:
            return info
        sources = None
        if reached.texts:
            from ._serde import canonical

            text = canonical(reached.texts).encode("utf-8", "surrogatepass")
            sources = self.store.backend.put_bytes(text)[0]
        files = None
        modules = module_files(info, snap.blobs, {key.split(":", 1)[0] for key in reached.items})
        if modules:
            from ._serde import canonical

            text = canonical(modules).encode("utf-8", "surrogatepass")
            files = self.store.backend.put_bytes(text)[0]
        return attrs.evolve(info, user_code=dict(reached.items), sources_digest=sources,
                            files_digest=files, stable=info.stable and reached.stable)

    def _register(self, record: Run, model: Stored | Exception, *,
                  version: str | None,
                  bump: str, parents: Sequence[str], tags: Mapping[str, str] | None
                  ) -> ModelVersion | None:
        """Register the trained model; if that fails, never lose it.

        The artifact is in the store already. When the version cannot be written (a
        version taken meanwhile, a parent gone, a full disk…), the run is recorded on
        its own with the reason among its warnings, ``self.model`` still holds the
        model, and the message says how to register it. The error is raised in strict
        mode or when the caller's input was wrong, else it is a ``CaptureWarning``.
        """
        from ._capture.params import redact_text

        try:
            if isinstance(model, Exception):
                raise model
            return self.store.record_run(record, model, version=version, bump=bump,
                                         parents=parents, tags=tags)
        except Exception as exc:
            kept_as = ("its artifact could not be stored" if isinstance(model, Exception)
                       else f"its artifact {model.digest} is in the store")
            message = redact_text(
                f"the model trained by run {self.id[:12]} was not registered as a version of "
                f"{self.name!r} ({type(exc).__name__}: {exc}). The run is recorded and "
                f"{kept_as}; the model is `run.model` (for a decorated function, "
                f"`train.last_run.model`): register it with modelver.register({self.name!r}, "
                "run.model)", self.secrets)
            kept = attrs.evolve(record, warnings=[*record.warnings, message])
            self.record = kept
            try:
                self.store.record_run(kept, None)
            except Exception as again:
                message += (f"; the run could not be recorded either ({type(again).__name__}: "
                            f"{again}), but run.model still holds the model")
            if isinstance(exc, (InvalidName, VersionExists, Conflict)):
                raise type(exc)(message) from exc
            if self.strict:
                raise (type(exc)(message) if isinstance(exc, ModelverError)
                       else CaptureError(message)) from exc
            self.warnings.append(message)
            warnings.warn(message, CaptureWarning, stacklevel=4)
            return None

    def finish(self, error: BaseException | None, *, version: str | None = None,
               bump: str = "auto", parents: Sequence[str] = (),
               tags: Mapping[str, str] | None = None) -> ModelVersion | None:
        """Stop recording, write the run and, if it succeeded with a model, its version."""
        from ._capture.environment import capture_environment
        from ._capture.hardware import capture_hardware
        from ._capture.params import redact_text
        from ._capture.seeds import finish_seeds

        try:
            if self._warm is not None:
                self._warm.join()  # at once, unless the run ended before it finished
            resources = (self.guard("resource use", self._monitor.stop, None)
                         if self._monitor else None)
            status = "succeeded" if error is None else "failed"
            err = (None if error is None
                   else redact_text(f"{type(error).__name__}: {error}", self.secrets))
            model: Stored | Exception | None = None
            if error is None and self._has_model:
                try:
                    model = self.store.put_model(self.model, extras=self.artifacts)
                except Exception as exc:  # reported once the run is recorded
                    model = exc
            record = Run(
                id=self.id, name=self.name, status=status, params=dict(self.params),
                data=dict(self.data),
                code=self.guard("code", self._code, None),
                seeds=finish_seeds(self.seeds),
                environment=self.guard("environment",
                                       lambda: capture_environment(self._allow_env), None),
                hardware=self.guard("hardware", capture_hardware, None),
                resources=resources, metrics=dict(self.metrics), error=err,
                started_at=self.started_at, ended_at=utcnow(), parents=list(self.parents),
                warnings=list(self.warnings), blobs=list(self._snapshot_blobs),
                cwd=self.guard("the working directory", os.getcwd, None), entry=self.entry,
                metric_series=self._curves(),
            )
            self.record = record
            if model is None:
                self.version = self.guard(
                    "the run in the store", lambda: self.store.record_run(record, None), None)
            else:
                self.version = self._register(record, model, version=version, bump=bump,
                                              parents=parents, tags=tags)
            return self.version
        except Exception as exc:
            if error is None:
                raise
            # The user's own exception is what propagates; never replace it with ours.
            warnings.warn(f"modelver could not record the failed run {self.id}: "
                          f"{type(exc).__name__}: {exc}", CaptureWarning, stacklevel=3)
            return None
        finally:
            if self._token is not None:
                _CURRENT.reset(self._token)
                self._token = None

"""Import an MLflow model registry: every registered model version, with its run.

:func:`import_mlflow` copies, for each registered model (or the one named):

- every version, as ``0.N.0`` for MLflow version N unless ``version_map`` says
  otherwise; the artifact in modelver's native format where the MLflow flavor can be
  loaded (sklearn, xgboost, lightgbm, pytorch, transformers), else the MLflow model
  folder as a ``folder`` artifact;
- the run that logged it: params, latest metrics, start and end times, status, and
  the git commit, branch, remote and source file MLflow tagged it with;
- the aliases as they are now (their MLflow history is not copied; the promote
  reason says so), and the ``Staging``/``Production`` stages as the aliases
  ``staging``/``production`` where no MLflow alias of that name exists.

Where it came from is kept in each version's tags (``mlflow.model``,
``mlflow.version``, ``mlflow.run_id``, ``mlflow.source``, ``imported_at``), which is
also how a later import knows what it already copied: importing again copies only
the versions MLflow has gained since.

MLflow is imported here only, when an import starts (``pip install 'modelver[mlflow]'``).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs

from ._capture.values import param_value
from ._errors import InvalidName, ModelverError, NotFound, StoreError
from ._names import check_alias, check_name
from ._records import CodeInfo, Run, utcnow
from ._store import Store
from ._versions import normalize

__all__ = ["ImportReport", "ImportedVersion", "import_mlflow"]

_INSTALL = "pip install 'modelver[mlflow]'"
# MLflow flavor -> (its module, keyword arguments of its load_model).
_NATIVE: dict[str, tuple[str, dict[str, Any]]] = {
    "sklearn": ("mlflow.sklearn", {}),
    "xgboost": ("mlflow.xgboost", {}),
    "lightgbm": ("mlflow.lightgbm", {}),
    "pytorch": ("mlflow.pytorch", {"map_location": "cpu"}),
    "transformers": ("mlflow.transformers", {"return_type": "components"}),
}
_STAGES = {"Staging": "staging", "Production": "production"}


@attrs.frozen
class ImportedVersion:
    """One MLflow model version and what the import did with it.

    ``version`` is the modelver version it is (or would be); ``format`` the format it
    was stored in (None when it was not copied); ``note`` says why it was skipped, or
    why a version that has a native format came as a ``folder``.
    """

    name: str
    mlflow_version: str
    version: str
    format: str | None = None
    note: str | None = None


@attrs.frozen
class ImportReport:
    """What :func:`import_mlflow` copied (``imported``), what it left (``skipped``:
    already imported, or refused, with a ``note``) and the aliases it moved."""

    tracking_uri: str
    imported: list[ImportedVersion] = attrs.field(factory=list)
    skipped: list[ImportedVersion] = attrs.field(factory=list)
    aliases: list[str] = attrs.field(factory=list)

    @property
    def ok(self) -> bool:
        """False when a version was refused rather than found already imported."""
        return not any(s.note and not s.note.startswith("already imported")
                       for s in self.skipped)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-able data."""
        return attrs.asdict(self) | {"ok": self.ok}

    def __str__(self) -> str:
        """The counts, then each version imported or skipped and each alias moved."""
        lines = [f"imported {len(self.imported)} version(s) from {self.tracking_uri}, "
                 f"skipped {len(self.skipped)}"]
        for v in self.imported:
            extra = f" ({v.note})" if v.note else ""
            lines.append(f"  + {v.name}@{v.version} <- MLflow version {v.mlflow_version}, "
                         f"{v.format}{extra}")
        lines += [f"  = {s.name}@{s.version} <- MLflow version {s.mlflow_version}: {s.note}"
                  for s in self.skipped]
        lines += [f"  alias {a}" for a in self.aliases]
        return "\n".join(lines)


def import_mlflow(tracking_uri: str, *, model: str | None = None,
                  store: Store | str | None = None,
                  version_map: Mapping[str | int, str] | None = None,
                  ) -> ImportReport:
    """Copy the registered models of an MLflow registry into a modelver store.

    Every version of every registered model (or of ``model`` only) that the store
    does not hold yet is copied, with its run and artifact (see the module docs); the
    aliases are set to where they point in MLflow now. Running it again copies
    nothing; after new MLflow versions, only those. ``version_map`` maps an MLflow
    version (``"3"``, or ``"fraud:3"`` for one model) to the modelver version to give
    it (``"1.0.0"``); other versions N become ``0.N.0``. ``store`` is a Store or URI
    (default: the default store). An unreachable tracking URI is ``StoreError``, an
    unknown ``model`` ``NotFound``, and MLflow not installed a ``ModelverError`` saying
    what to install.

    >>> report = import_mlflow("sqlite:///mlflow.db", model="fraud")   # doctest: +SKIP
    """
    if not isinstance(tracking_uri, str) or not tracking_uri:
        raise InvalidName(f"tracking_uri must be a URI such as 'http://host:5000' or "
                          f"'sqlite:///mlflow.db', not {tracking_uri!r}")
    mapping = _version_map(version_map)
    target = _open(store)
    with _quiet_mlflow():
        mlflow = _import_mlflow()
        client = _client(mlflow, tracking_uri)
        report = ImportReport(_redacted(tracking_uri))
        for name in _model_names(client, tracking_uri, model):
            _import_model(mlflow, client, target, name, mapping, report)
    return report


# -- arguments ----------------------------------------------------------------

def _open(store: Store | str | None) -> Store:
    if store is None:
        from ._config import default_store

        return default_store()
    if isinstance(store, Store):
        return store
    if isinstance(store, str):
        return Store.open(store)
    raise InvalidName(f"store must be a Store, a URI or None, not {type(store).__name__}")


def _version_map(value: Mapping[str | int, str] | None) -> dict[str, str]:
    """``{"3": "1.0.0", "fraud:4": "2.0.0"}``: keys as texts, versions normalized."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidName(f"version_map must be a mapping such as {{3: '1.0.0'}}, not "
                          f"{type(value).__name__}")
    out: dict[str, str] = {}
    for key, version in value.items():
        text = str(key).strip()
        if not text.rpartition(":")[2].isdigit():
            raise InvalidName(f"version map key {key!r} is not an MLflow version number "
                              "(N, or MODEL:N)")
        out[text] = normalize(str(version))
    return out


def _target(mapping: Mapping[str, str], name: str, number: str) -> str:
    return mapping.get(f"{name}:{number}") or mapping.get(number) or f"0.{number}.0"


# -- MLflow -------------------------------------------------------------------

@contextlib.contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """No progress bars, telemetry or long retry loops while importing, unless the
    user's environment asks otherwise; the environment is restored afterwards."""
    quiet = {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false", "MLFLOW_DISABLE_TELEMETRY": "true",
             "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
    added = [k for k in quiet if k not in os.environ]
    os.environ.update({k: quiet[k] for k in added})
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def _import_mlflow() -> Any:
    try:
        import mlflow
        import mlflow.artifacts
        import mlflow.models
    except ImportError as exc:
        raise ModelverError(f"importing from MLflow needs mlflow: {_INSTALL} ({exc})") from None
    return mlflow


def _redacted(uri: str) -> str:
    """The URI without credentials (user, password, secret query values)."""
    from ._capture.params import redact_text

    return redact_text(uri)


def _client(mlflow: Any, uri: str) -> Any:
    """An MlflowClient on ``uri`` (tracking and registry), checked by one request."""
    if uri.startswith("sqlite:///"):
        path = Path(uri[len("sqlite:///"):])
        if not path.is_file():  # MLflow would create an empty registry there
            raise NotFound(f"no MLflow database at {str(path)!r}: check --tracking-uri")
    try:
        client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.search_registered_models(max_results=1)
    except Exception as exc:
        raise StoreError(f"cannot read the MLflow registry at {_redacted(uri)!r}: "
                         f"{_short(exc)}; check --tracking-uri and that the server is up"
                         ) from None
    return client


def _short(exc: BaseException) -> str:
    text = _redacted(str(exc)).strip().splitlines()  # an error may quote the URI
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}".rstrip(": ")


def _model_names(client: Any, uri: str, model: str | None) -> list[str]:
    if model is not None:
        try:
            client.get_registered_model(model)
        except Exception:
            known = [m.name for m in _pages(client.search_registered_models)]
            raise NotFound(f"no registered model {model!r} in MLflow at {_redacted(uri)!r}; "
                           f"it has: {', '.join(sorted(known)) or '(none)'}") from None
        return [model]
    return sorted(m.name for m in _pages(client.search_registered_models))


def _pages(search: Any, **kwargs: Any) -> Iterator[Any]:
    token = None
    while True:
        page = search(max_results=100, page_token=token, **kwargs)
        yield from page
        token = getattr(page, "token", None)
        if not token:
            return


# -- one model ------------------------------------------------------------------

def _import_model(mlflow: Any, client: Any, store: Store, name: str,
                  mapping: Mapping[str, str], report: ImportReport) -> None:
    quoted = name.replace("'", "\\'")
    found = sorted(_pages(client.search_model_versions, filter_string=f"name='{quoted}'"),
                   key=lambda v: int(v.version))
    targets = {str(v.version): _target(mapping, name, str(v.version)) for v in found}
    try:
        check_name(name)
    except InvalidName as exc:
        report.skipped.extend(ImportedVersion(name, str(v.version), targets[str(v.version)],
                                              note=f"not a valid modelver name: {exc}")
                              for v in found)
        return
    twice = {t for t in targets.values() if list(targets.values()).count(t) > 1}
    if twice:
        raise InvalidName(f"the version map gives {name} versions {sorted(twice)} to more than "
                          "one MLflow version; map each MLflow version to its own version")
    try:
        held = {mv.version: mv for mv in store.versions(name)}
    except NotFound:  # no store yet: the first import creates it
        held = {}
    # Versions imported from this registry before (another registry's model of the same
    # name is not this one).
    by_mlflow = {mv.tags["mlflow.version"]: mv.version for mv in held.values()
                 if mv.tags.get("mlflow.model") == name and "mlflow.version" in mv.tags
                 and mv.tags.get("mlflow.source") == report.tracking_uri}
    copied: dict[str, str] = dict(by_mlflow)
    for v in found:
        number = str(v.version)
        if number in by_mlflow:
            report.skipped.append(ImportedVersion(name, number, by_mlflow[number],
                                                  note="already imported"))
        elif targets[number] in held:
            report.skipped.append(ImportedVersion(
                name, number, targets[number],
                note=f"{name}@{targets[number]} already exists and was not imported from "
                "MLflow; give this version another with --version-map"))
        else:
            report.imported.append(_import_version(mlflow, client, store, v,
                                                   targets[number], report.tracking_uri))
            copied[number] = targets[number]
    _import_aliases(client, store, name, found, copied, report)


def _import_version(mlflow: Any, client: Any, store: Store, v: Any, version: str,
                    source: str) -> ImportedVersion:
    """Copy one MLflow model version (artifact, run, tags) as ``name@version``."""
    name, number = v.name, str(v.version)
    tags = {str(k): str(val) for k, val in (v.tags or {}).items()}
    run = _run_record(client, name, v.run_id) if v.run_id else None
    if run is not None:
        tags = run[1] | tags
    tags |= {"mlflow.model": name, "mlflow.version": number, "mlflow.source": source,
             "imported_at": utcnow().isoformat(timespec="seconds")}
    if v.run_id:
        tags["mlflow.run_id"] = v.run_id
    if getattr(v, "current_stage", None) not in (None, "", "None"):
        tags["mlflow.stage"] = str(v.current_stage)
    if getattr(v, "description", None):
        tags["mlflow.description"] = str(v.description)
    with tempfile.TemporaryDirectory(prefix="modelver-mlflow-") as tmp:
        try:
            uri = client.get_model_version_download_uri(name, number)
            local = Path(mlflow.artifacts.download_artifacts(
                artifact_uri=uri, dst_path=tmp, tracking_uri=client.tracking_uri))
        except Exception as exc:
            raise StoreError(f"cannot download the artifacts of MLflow model {name!r} "
                             f"version {number}: {_short(exc)}") from None
        meta = (mlflow.models.Model.load(str(local / "MLmodel"))
                if (local / "MLmodel").is_file() else None)
        obj, flavor, note = _model_object(local, dict(meta.flavors) if meta else {})
        tags["mlflow.flavor"] = flavor or "folder"
        if meta is not None and meta.signature is not None:
            tags["mlflow.signature"] = json.dumps(meta.signature.to_dict(), sort_keys=True)
        # The provenance lives in the version's tags (mlflow.*), where search finds it.
        if run is None:
            mv = store.register(name, obj, version=version, tags=tags)
        else:
            registered = store.record_run(run[0], store.put_model(obj), version=version,
                                          tags=tags)
            if registered is None:  # pragma: no cover - an exact version always registers
                raise StoreError(f"importing {name} version {number} registered nothing")
            mv = registered
    return ImportedVersion(name, number, mv.version, format=mv.format, note=note)


def _model_object(local: Path, flavors: Mapping[str, Any]
                  ) -> tuple[Any, str | None, str | None]:
    """The model as its framework's object where the flavor allows (so that modelver's
    formats store it natively), else the MLflow model folder; with the flavor used and
    a note when a native flavor could not be loaded."""
    import importlib

    for flavor, (module, kwargs) in _NATIVE.items():
        if flavor not in flavors:
            continue
        try:
            obj = importlib.import_module(module).load_model(str(local), **kwargs)
        except Exception as exc:
            return local, None, (f"the {flavor} flavor could not be loaded ({_short(exc)}): "
                                 "kept as the MLflow model folder")
        if flavor == "transformers" and isinstance(obj, Mapping):
            parts = {k: m for k, m in obj.items() if hasattr(m, "save_pretrained")}
            obj = parts["model"] if set(parts) == {"model"} else parts
        return obj, flavor, None
    return local, None, None


def _run_record(client: Any, name: str, run_id: str) -> tuple[Run, dict[str, str]] | None:
    """The MLflow run as a modelver Run, and its user tags (copied as version tags:
    a Run has no tags); None when the run cannot be read (deleted)."""
    try:
        mrun = client.get_run(run_id)
    except Exception:
        return None
    info, data = mrun.info, mrun.data
    mtags = {str(k): str(v) for k, v in (data.tags or {}).items()}
    code = CodeInfo(git_commit=mtags.get("mlflow.source.git.commit"),
                    git_branch=mtags.get("mlflow.source.git.branch"),
                    git_remote=mtags.get("mlflow.source.git.repoURL"),
                    source_file=mtags.get("mlflow.source.name"))
    status = {"FINISHED": "succeeded", "FAILED": "failed", "KILLED": "failed"}.get(
        str(info.status), str(info.status).lower())
    run = Run(
        id=os.urandom(16).hex(), name=name, status=status,
        params={str(k): v for k, v in (data.params or {}).items()},
        # As log_metrics records them: a NaN or infinite value is kept, as a marker.
        metrics={str(k): param_value(v) for k, v in (data.metrics or {}).items()},
        code=code if code != CodeInfo() else None,
        started_at=_time(info.start_time) or utcnow(), ended_at=_time(info.end_time),
        warnings=[f"imported from MLflow run {run_id}: its environment, hardware, seeds "
                  "and data were not recorded by MLflow, and only the latest value of "
                  "each metric is kept"],
    )
    user = {k: v for k, v in mtags.items() if not k.startswith("mlflow.")}
    if "mlflow.user" in mtags:
        user["mlflow.user"] = mtags["mlflow.user"]
    return run, user


def _time(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def _import_aliases(client: Any, store: Store, name: str, found: list[Any],
                    copied: Mapping[str, str], report: ImportReport) -> None:
    """Point each MLflow alias (and the Staging/Production stages) where it points now."""
    try:
        wanted = {str(a): str(n) for a, n in
                  (client.get_registered_model(name).aliases or {}).items()}
    except Exception:
        wanted = {}
    for v in found:  # the highest version in a stage wins
        alias = _STAGES.get(str(getattr(v, "current_stage", None)))
        if alias and alias not in wanted:
            wanted[f"{alias}\0stage"] = str(v.version)
    if not wanted:
        return
    try:
        current = store.aliases(name)
    except NotFound:
        current = {}
    for key, number in sorted(wanted.items()):
        alias, _, stage = key.partition("\0")
        version = copied.get(number)
        what = f"the {alias.title()} stage" if stage else f"alias {alias!r}"
        if version is None:
            report.aliases.append(f"{name}: {what} left unset: MLflow version {number} "
                                  "was not imported")
            continue
        try:
            modelver_alias = check_alias(alias.lower())
        except InvalidName as exc:
            report.aliases.append(f"{name}: {what} left unset: {exc}")
            continue
        if current.get(modelver_alias) == version:
            continue
        reason = (f"imported from MLflow ({report.tracking_uri}): {what} points at version "
                  f"{number} there now")
        reason += ("; moved there in MLflow since the last import"
                   if modelver_alias in current
                   else "; its earlier MLflow history is not copied, history starts here")
        store.promote(name, version, modelver_alias, reason=reason)
        report.aliases.append(f"{name}@{modelver_alias} -> {version}")

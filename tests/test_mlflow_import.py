"""``modelver.import_mlflow`` and ``modelver import-mlflow``, against a real MLflow registry.

The registry is built once per module by MLflow itself: a SQLite tracking database and
an artifact folder in a temporary directory, three versions of a registered sklearn
model (params, metrics, tags, a git commit), an alias, and a pyfunc model. Each test
imports from its own copy of the database, so a test that adds versions changes no other.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import modelver
from modelver.cli import main

mlflow = pytest.importorskip("mlflow")

pytestmark = [
    # MLflow's own warnings, raised while it builds and reads its registry.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:sqlalchemy"),
    pytest.mark.filterwarnings("ignore:.*noload.*"),
    pytest.mark.filterwarnings("ignore::FutureWarning:mlflow"),
    pytest.mark.filterwarnings("ignore::UserWarning:mlflow"),
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20"),
    pytest.mark.slow,
]

_QUIET = {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false", "MLFLOW_DISABLE_TELEMETRY": "true",
          "DO_NOT_TRACK": "1", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _doubler() -> Any:
    """A pyfunc model with no native format: it comes as the MLflow model folder.
    (Built when the registry is, not at collection, where MLflow's import-time
    warnings would be errors.)"""
    import mlflow.pyfunc

    class Doubler(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
        # Type hints, or MLflow warns (with its own "always" filter) when it is logged.
        def predict(self, context: Any, model_input: list[float],
                    params: dict[str, Any] | None = None) -> list[float]:
            return [x * 2 for x in model_input]

    return Doubler()


def _data() -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.random((40, 3))
    return x, (x[:, 0] + x[:, 1] > 1).astype(int)


def _log_sklearn(experiment: str, c: float) -> None:
    from sklearn.linear_model import LogisticRegression

    x, y = _data()
    with mlflow.start_run(experiment_id=experiment):
        mlflow.log_params({"C": c, "solver": "lbfgs"})
        mlflow.log_metrics({"accuracy": 0.5 + c / 10})
        if c == 2.0:
            mlflow.log_metric("loss", float("nan"))  # a diverged metric imports too
        mlflow.set_tags({"team": "risk", "mlflow.source.git.commit": COMMIT})
        mlflow.sklearn.log_model(LogisticRegression(C=c).fit(x, y), name="model",
                                 registered_model_name="fraud",
                                 pip_requirements=["scikit-learn"])


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The built registry's folder: mlflow.db and artifacts/."""
    root = tmp_path_factory.mktemp("mlflow")
    # MLflow's advice while it logs (type hints, signatures) is not what is under test.
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for key, value in _QUIET.items():
            mp.setenv(key, value)
        mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
        mlflow.set_registry_uri(f"sqlite:///{root / 'mlflow.db'}")
        try:
            experiment = mlflow.create_experiment("e", artifact_location=str(root / "artifacts"))
            for c in (1.0, 2.0, 3.0):
                _log_sklearn(experiment, c)
            mlflow.MlflowClient().set_registered_model_alias("fraud", "champion", "2")
            with mlflow.start_run(experiment_id=experiment):
                mlflow.pyfunc.log_model(name="model", python_model=_doubler(),
                                        registered_model_name="doubler", pip_requirements=[])
        finally:
            mlflow.set_tracking_uri(None)
            mlflow.set_registry_uri(None)
    yield root


@pytest.fixture
def uri(registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A tracking URI on this test's own copy of the registry database."""
    for key, value in _QUIET.items():
        monkeypatch.setenv(key, value)
    shutil.copy(registry / "mlflow.db", tmp_path / "mlflow.db")
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def _add_version(uri: str, c: float) -> None:
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        _log_sklearn(mlflow.get_experiment_by_name("e").experiment_id, c)
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)


def test_versions_arrive_as_0_N_0_in_native_skops_and_predict_like_mlflow(
        uri: str, store: modelver.Store) -> None:
    report = modelver.import_mlflow(uri, model="fraud", store=store)
    assert [v.version for v in report.imported] == ["0.1.0", "0.2.0", "0.3.0"]
    assert [v.version for v in store.versions("fraud")] == ["0.1.0", "0.2.0", "0.3.0"]
    x, _ = _data()
    for number in ("1", "2", "3"):
        mv = store.resolve("fraud", f"0.{number}.0")
        assert mv.format == "skops"
        mlflow.set_registry_uri(uri)
        mlflow.set_tracking_uri(uri)
        try:
            theirs = mlflow.sklearn.load_model(f"models:/fraud/{number}")
        finally:
            mlflow.set_tracking_uri(None)
            mlflow.set_registry_uri(None)
        ours = store.load("fraud", mv.version)
        assert (ours.predict_proba(x) == theirs.predict_proba(x)).all()


def test_provenance_is_kept_in_version_tags(uri: str, store: modelver.Store) -> None:
    modelver.import_mlflow(uri, model="fraud", store=store)
    tags = store.resolve("fraud", "0.2.0").tags
    assert tags["mlflow.model"] == "fraud"
    assert tags["mlflow.version"] == "2"
    assert tags["mlflow.source"] == uri
    assert tags["mlflow.flavor"] == "sklearn"
    assert len(tags["mlflow.run_id"]) == 32
    assert "imported_at" in tags
    assert tags["team"] == "risk"  # the run's own tags


def test_run_params_metrics_and_git_commit_are_copied(uri: str, store: modelver.Store) -> None:
    modelver.import_mlflow(uri, model="fraud", store=store)
    mv = store.resolve("fraud", "0.3.0")
    assert mv.run_id is not None
    run = store.get_run(mv.run_id)
    assert run.params == {"C": "3.0", "solver": "lbfgs"}  # MLflow keeps params as text
    assert run.metrics == {"accuracy": pytest.approx(0.8)}
    assert run.code is not None and run.code.git_commit == COMMIT
    assert run.status == "succeeded"
    diverged = store.get_run(store.resolve("fraud", "0.2.0").run_id or "")
    assert diverged.metrics["loss"] == {"__float__": "nan"}  # kept as a marker
    assert run.ended_at is not None and run.started_at <= run.ended_at


def test_an_alias_points_where_it_points_in_mlflow_and_says_history_starts_here(
        uri: str, store: modelver.Store) -> None:
    report = modelver.import_mlflow(uri, model="fraud", store=store)
    assert store.aliases("fraud") == {"champion": "0.2.0"}
    assert store.resolve("fraud", "champion").version == "0.2.0"
    (event,) = store.alias_history("fraud", "champion")
    assert event.reason is not None and "history starts here" in event.reason
    assert report.aliases == ["fraud@champion -> 0.2.0"]


def test_a_second_import_copies_nothing(uri: str, store: modelver.Store) -> None:
    modelver.import_mlflow(uri, store=store)
    head = store.head()
    again = modelver.import_mlflow(uri, store=store)
    assert again.imported == []
    assert {s.note for s in again.skipped} == {"already imported"}
    assert again.aliases == [] and again.ok
    assert store.head() == head  # not one entry written


def test_a_later_import_copies_only_the_new_mlflow_version(uri: str,
                                                           store: modelver.Store) -> None:
    modelver.import_mlflow(uri, model="fraud", store=store)
    _add_version(uri, 4.0)
    report = modelver.import_mlflow(uri, model="fraud", store=store)
    assert [(v.mlflow_version, v.version) for v in report.imported] == [("4", "0.4.0")]
    assert len(report.skipped) == 3
    assert store.get_run(store.resolve("fraud", "0.4.0").run_id or "").params["C"] == "4.0"


def test_the_model_option_imports_that_model_only(uri: str, store: modelver.Store) -> None:
    modelver.import_mlflow(uri, model="doubler", store=store)
    assert store.names() == ["doubler"]


def test_every_registered_model_is_imported_without_the_model_option(
        uri: str, store: modelver.Store) -> None:
    modelver.import_mlflow(uri, store=store)
    assert store.names() == ["doubler", "fraud"]


def test_a_flavor_with_no_native_format_comes_as_the_mlflow_model_folder(
        uri: str, store: modelver.Store) -> None:
    (imported,) = modelver.import_mlflow(uri, model="doubler", store=store).imported
    assert imported.format == "folder"
    folder = store.load("doubler", "0.1.0")
    assert (folder / "MLmodel").is_file()
    assert store.resolve("doubler", "0.1.0").tags["mlflow.flavor"] == "folder"
    assert mlflow.pyfunc.load_model(str(folder)).predict([21.0]) == [42.0]


def test_a_version_map_gives_mlflow_versions_the_versions_asked_for(
        uri: str, store: modelver.Store) -> None:
    modelver.import_mlflow(uri, model="fraud", store=store,
                           version_map={"fraud:1": "1.0.0", 2: "1.1.0"})
    assert [v.version for v in store.versions("fraud")] == ["0.3.0", "1.0.0", "1.1.0"]
    assert store.aliases("fraud") == {"champion": "1.1.0"}


def test_a_version_map_giving_one_version_twice_is_refused_before_anything_is_copied(
        uri: str, store: modelver.Store) -> None:
    with pytest.raises(modelver.InvalidName, match="more than one MLflow version"):
        modelver.import_mlflow(uri, model="fraud", store=store, version_map={"1": "0.3.0"})
    assert store.names() == []


def test_a_version_taken_by_a_model_not_from_mlflow_is_skipped_with_a_reason(
        uri: str, store: modelver.Store) -> None:
    store.register("fraud", {"not": "mlflow"}, version="0.2.0")
    report = modelver.import_mlflow(uri, model="fraud", store=store)
    assert [v.version for v in report.imported] == ["0.1.0", "0.3.0"]
    (skipped,) = report.skipped
    assert "--version-map" in (skipped.note or "") and not report.ok


def test_an_unknown_model_is_not_found_and_names_the_models_there(
        uri: str, store: modelver.Store) -> None:
    with pytest.raises(modelver.NotFound, match="doubler, fraud"):
        modelver.import_mlflow(uri, model="fruad", store=store)


def test_a_missing_sqlite_registry_is_not_found_and_not_created(tmp_path: Path,
                                                                 store: modelver.Store) -> None:
    with pytest.raises(modelver.NotFound, match="no MLflow database"):
        modelver.import_mlflow(f"sqlite:///{tmp_path / 'nope.db'}", store=store)
    assert not (tmp_path / "nope.db").exists()


def test_an_unreachable_server_is_a_store_error(store: modelver.Store,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with pytest.raises(modelver.StoreError, match="cannot read the MLflow registry"):
        modelver.import_mlflow("http://127.0.0.1:9", store=store)


def test_without_mlflow_the_error_says_what_to_install(uri: str, store: modelver.Store,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "mlflow", None)
    with pytest.raises(modelver.ModelverError, match=r"pip install 'modelver\[mlflow\]'"):
        modelver.import_mlflow(uri, store=store)


def test_the_cli_imports_and_prints_what_it_did(uri: str, store: modelver.Store,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["import-mlflow", "--tracking-uri", uri, "--model", "fraud",
                 "--version-map", "3=1.0.0", "--store", store.uri])
    out = capsys.readouterr().out
    assert code == 0
    assert "imported 3 version(s)" in out and "fraud@1.0.0" in out
    assert main(["import-mlflow", "--tracking-uri", uri, "--store", store.uri]) == 0
    assert "fraud@1.0.0 <- MLflow version 3: already imported" in capsys.readouterr().out


def test_the_cli_reads_a_version_map_file(uri: str, store: modelver.Store, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "map.txt").write_text("# MLflow version = modelver version\nfraud:1=2.0.0\n")
    assert main(["import-mlflow", "--tracking-uri", uri, "--model", "fraud",
                 "--version-map", str(tmp_path / "map.txt"), "--store", store.uri]) == 0
    assert store.versions("fraud")[-1].version == "2.0.0"


def test_the_cli_exits_1_with_one_line_on_a_bad_tracking_uri(
        tmp_path: Path, store: modelver.Store, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["import-mlflow", "--tracking-uri", f"sqlite:///{tmp_path / 'x.db'}",
                 "--store", store.uri])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("modelver: error: no MLflow database") and err.count("\n") == 1


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_the_production_stage_becomes_the_production_alias(uri: str,
                                                            store: modelver.Store) -> None:
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.transition_model_version_stage("fraud", "3", "Production")
    modelver.import_mlflow(uri, model="fraud", store=store)
    assert store.aliases("fraud") == {"champion": "0.2.0", "production": "0.3.0"}
    assert store.resolve("fraud", "0.3.0").tags["mlflow.stage"] == "Production"

"""Input signatures: captured from the training data, checked before a model predicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import modelver
from modelver.cli import main

pytest_plugins = ["conftest_s3"]


class Doubler:
    """A tiny model with the methods a wrapper checks (skops does not know it: pickle)."""

    def predict(self, x: Any) -> Any:
        return x * 2

    def transform(self, x: Any) -> Any:
        return x

    def __call__(self, x: Any) -> Any:
        return self.predict(x)

    threshold = 0.5


def _frame(n: int = 8, columns: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({f"c{i}": rng.random(n) for i in range(columns)})


def _train_on(store: modelver.Store, name: str, data: dict[str, Any], model: Any = None
              ) -> modelver.ModelVersion:
    with modelver.training(name, data=data, store=store) as run:
        run.log_model(Doubler() if model is None else model)
    assert run.version is not None
    return run.version


# -- capture ------------------------------------------------------------------------

def test_a_pandas_frame_gives_its_ordered_columns_and_dtypes(store: modelver.Store) -> None:
    df = _frame().assign(n=np.arange(8), s=list("abcdefgh"))
    mv = _train_on(store, "m", {"train": df})
    assert mv.signature is not None
    schema = mv.signature.input()
    assert schema.kind == "frame" and schema.key == "train" == mv.signature.default
    assert schema.columns == ("c0", "c1", "c2", "n", "s")
    assert schema.dtypes[:4] == ("float64", "float64", "float64", "int64")


def test_the_signature_reads_back_from_the_store(store: modelver.Store) -> None:
    mv = _train_on(store, "m", {"train": _frame()})
    assert store.resolve("m").signature == mv.signature
    assert store.versions("m")[0].signature == mv.signature
    again = modelver.open(store.uri)
    assert again.resolve("m", mv.version).signature == mv.signature


def test_a_numpy_array_gives_its_dtype_and_trailing_shape(store: modelver.Store) -> None:
    mv = _train_on(store, "m", {"X": np.zeros((10, 4, 2), dtype="float32")})
    assert mv.signature is not None
    schema = mv.signature.input()
    assert (schema.kind, schema.shape, schema.library) == ("array", (4, 2), "numpy")
    mv.signature.check(np.ones((3, 4, 2), dtype="float32"))


def test_a_torch_tensor_gives_its_dtype_and_trailing_shape(store: modelver.Store) -> None:
    torch = pytest.importorskip("torch")
    mv = _train_on(store, "m", {"X": torch.zeros(5, 3)})
    assert mv.signature is not None
    mv.signature.check(torch.ones(2, 3))
    mv.signature.check(np.ones((2, 3), dtype="float32"))  # float32 either way
    with pytest.raises(modelver.SchemaMismatch, match="trailing shape"):
        mv.signature.check(torch.ones(2, 4))


def test_a_csv_file_gives_its_header_as_columns_without_dtypes(store: modelver.Store,
                                                               tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    _frame().to_csv(path, index=False)
    mv = _train_on(store, "m", {"train": path})
    assert mv.signature is not None
    assert mv.signature.input().columns == ("c0", "c1", "c2")
    mv.signature.check(_frame().astype("float32"))  # no dtypes recorded: names only
    with pytest.raises(modelver.SchemaMismatch, match="missing columns 'c2'"):
        mv.signature.check(_frame(columns=2))


def test_the_columns_are_narrowed_to_the_features_the_model_was_fitted_on(
        store: modelver.Store) -> None:
    sklearn = pytest.importorskip("sklearn.linear_model")
    df = _frame(40).assign(y=[0, 1] * 20)
    model = sklearn.LogisticRegression().fit(df[["c2", "c0"]], df.y)
    mv = _train_on(store, "m", {"train": df}, model)
    assert mv.signature is not None
    assert mv.signature.input().columns == ("c2", "c0")
    loaded = store.load("m", check_input=True)
    assert list(loaded.predict(df[["c2", "c0"]])) == list(model.predict(df[["c2", "c0"]]))


def test_with_several_inputs_a_label_array_is_not_the_default(store: modelver.Store) -> None:
    mv = _train_on(store, "m", {"X": np.zeros((6, 3)), "y": np.zeros(6)})
    assert mv.signature is not None and mv.signature.default == "X"
    assert mv.signature.keys == ["X", "y"]


def test_with_several_frames_check_needs_a_key(store: modelver.Store) -> None:
    mv = _train_on(store, "m", {"a": _frame(), "b": _frame(columns=2)})
    assert mv.signature is not None and mv.signature.default is None
    with pytest.raises(modelver.ModelverError, match="several inputs"):
        mv.signature.check(_frame())
    mv.signature.check(_frame(columns=2), key="b")
    with pytest.raises(modelver.ModelverError, match="no input 'c'"):
        mv.signature.check(_frame(), key="c")


def test_a_version_registered_directly_has_no_signature(store: modelver.Store) -> None:
    assert store.register("m", b"x").signature is None


def test_register_infers_a_signature_from_a_sample(store: modelver.Store) -> None:
    mv = store.register("m", Doubler(), signature=_frame())
    assert mv.signature is not None
    assert store.resolve("m").signature == mv.signature == modelver.Signature.infer(_frame())


def test_a_run_without_frames_or_arrays_has_no_signature(store: modelver.Store) -> None:
    assert _train_on(store, "m", {"n": 3}).signature is None


# -- check ----------------------------------------------------------------------------

def test_check_passes_on_matching_input() -> None:
    sig = modelver.Signature.infer(_frame())
    sig.check(_frame())
    sig.check(_frame(n=100))


def test_check_names_every_missing_and_extra_column_and_dtype_mismatch() -> None:
    sig = modelver.Signature.infer(_frame())
    bad = _frame().drop(columns=["c1"]).assign(extra=1.0)
    bad["c2"] = bad["c2"].astype("float32")
    with pytest.raises(modelver.SchemaMismatch) as caught:
        sig.check(bad)
    text = str(caught.value)
    assert "missing columns 'c1'" in text and "extra columns 'extra'" in text
    assert "column 'c2' has dtype float32, expected float64" in text
    assert len(caught.value.problems) == 3


def test_schema_mismatch_is_a_value_error_and_a_modelver_error() -> None:
    sig = modelver.Signature.infer(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="trailing shape"):
        sig.check(np.zeros((2, 4)))
    assert issubclass(modelver.SchemaMismatch, modelver.ModelverError)


def test_columns_in_another_order_are_a_mismatch() -> None:
    sig = modelver.Signature.infer(_frame())
    with pytest.raises(modelver.SchemaMismatch, match="another order"):
        sig.check(_frame()[["c2", "c1", "c0"]])


def test_array_dtype_mismatch_is_named() -> None:
    sig = modelver.Signature.infer(np.zeros((2, 3)))
    with pytest.raises(modelver.SchemaMismatch, match="dtype int64, expected float64"):
        sig.check(np.zeros((2, 3), dtype="int64"))


def test_dtypes_compare_across_libraries() -> None:
    pl = pytest.importorskip("polars")
    pa = pytest.importorskip("pyarrow")
    sig = modelver.Signature.infer(_frame().assign(n=np.arange(8)))
    sig.check(pl.from_pandas(_frame().assign(n=np.arange(8))))
    sig.check(pa.Table.from_pandas(_frame().assign(n=np.arange(8)), preserve_index=False))
    with pytest.raises(modelver.SchemaMismatch, match="column 'n' has dtype"):
        sig.check(pl.from_pandas(_frame().assign(n=np.arange(8).astype("float64"))))


def test_dicts_and_lists_of_rows_are_checked_by_name_and_width() -> None:
    sig = modelver.Signature.infer(_frame())
    sig.check({"c0": [1.0], "c1": [2.0], "c2": [3.0]})
    sig.check([{"c0": 1.0, "c1": 2.0, "c2": 3.0}])
    with pytest.raises(modelver.SchemaMismatch, match="missing columns 'c2'"):
        sig.check({"c0": [1.0], "c1": [2.0]})
    arrays = modelver.Signature.infer(np.zeros((2, 3)))
    arrays.check([[1.0, 2.0, 3.0]])
    with pytest.raises(modelver.SchemaMismatch, match="rows of 2 values"):
        arrays.check([[1.0, 2.0]])


def test_an_input_that_cannot_be_checked_is_a_clear_error() -> None:
    sig = modelver.Signature.infer(_frame())
    with pytest.raises(modelver.ModelverError, match="cannot check an input of type"):
        sig.check(object())
    with pytest.raises(modelver.ModelverError, match="cannot infer"):
        modelver.Signature.infer("text")


def test_a_frame_signature_checks_an_array_by_column_count() -> None:
    sig = modelver.Signature.infer(_frame())
    sig.check(np.zeros((4, 3)))
    with pytest.raises(modelver.SchemaMismatch, match="expected 3 columns"):
        sig.check(np.zeros((4, 2)))


def test_the_memo_of_a_passing_frame_does_not_hide_a_changed_dtype() -> None:
    sig = modelver.Signature.infer(_frame())
    df = _frame()
    sig.check(df)
    sig.check(df)
    df["c1"] = df["c1"].astype("float32")
    with pytest.raises(modelver.SchemaMismatch, match="'c1'"):
        sig.check(df)


# -- load(check_input=True) ---------------------------------------------------------

def test_load_with_check_input_checks_predict_and_passes_attributes(
        store: modelver.Store) -> None:
    _train_on(store, "m", {"train": _frame()})
    model = store.load("m", check_input=True)
    assert isinstance(model, modelver.CheckedModel)
    assert isinstance(model.model, Doubler) and model.threshold == 0.5
    pd.testing.assert_frame_equal(model.predict(_frame()), _frame() * 2)
    pd.testing.assert_frame_equal(model(_frame()), _frame() * 2)
    for method in (model.predict, model.transform, model):
        with pytest.raises(modelver.SchemaMismatch, match="missing columns 'c2'"):
            method(_frame(columns=2))
    assert not hasattr(model, "predict_proba")


def test_a_checked_model_pickles_copies_and_clones_with_its_own_model(
        store: modelver.Store) -> None:
    import copy
    import pickle

    from sklearn.base import clone
    from sklearn.linear_model import LinearRegression

    x = _frame()
    _train_on(store, "m", {"train": x}, LinearRegression().fit(x, x["c0"]))
    model = store.load("m", check_input=True)
    for other in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model), clone(model)):
        assert isinstance(other, modelver.CheckedModel) and other.model is not model.model
        with pytest.raises(modelver.SchemaMismatch):  # checked before the model runs
            other.predict(_frame(columns=2))
    copied = copy.deepcopy(model)
    copied.model.coef_ = copied.model.coef_ * 0  # the copy predicts with its own model
    assert (copied.predict(x) == copied.model.intercept_).all()
    assert not (model.predict(x) == model.model.intercept_).all()
    model.n_jobs = 2  # setting an attribute sets the model's
    assert model.model.n_jobs == 2
    assert model.fit(x, x["c0"]) is model  # a method returning the model keeps the checks


def test_load_without_check_input_returns_the_model_itself(store: modelver.Store) -> None:
    _train_on(store, "m", {"train": _frame()})
    assert isinstance(store.load("m"), Doubler)


def test_check_input_on_a_version_without_signature_is_an_error(store: modelver.Store) -> None:
    store.register("m", Doubler())
    with pytest.raises(modelver.ModelverError, match="no input signature"):
        store.load("m", check_input=True)


def test_check_input_names_the_key_to_check(store: modelver.Store) -> None:
    _train_on(store, "m", {"a": _frame(), "b": _frame(columns=2)})
    with pytest.raises(modelver.ModelverError, match="several inputs"):
        store.load("m", check_input=True)
    model = store.load("m", check_input="b")
    model.predict(_frame(columns=2))
    with pytest.raises(modelver.SchemaMismatch):
        model.predict(_frame())


def test_check_input_on_an_object_without_predict_is_an_error(store: modelver.Store) -> None:
    store.register("m", np.zeros((2, 3)), signature=np.zeros((2, 3)))
    with pytest.raises(modelver.ModelverError, match="no predict"):
        store.load("m", check_input=True)


def test_module_level_load_takes_check_input(store: modelver.Store) -> None:
    _train_on(store, "m", {"train": _frame()})
    assert isinstance(modelver.load("m", check_input=True), modelver.CheckedModel)


# -- show -------------------------------------------------------------------------------

def test_show_lists_the_signature_data_paths_and_environment(
        store: modelver.Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "train.csv"
    _frame().to_csv(path, index=False)
    _train_on(store, "m", {"train": path})
    assert main(["--store", store.uri, "show", "m@latest"]) == 0
    out = capsys.readouterr().out
    assert "signature" in out and "train (default): file frame (3 columns: c0, c1, c2)" in out
    assert f"from {path}" in out
    assert "needs     python 3." in out
    assert main(["--store", store.uri, "--json", "show", "m@latest"]) == 0
    import json

    data = json.loads(capsys.readouterr().out)
    assert data["data_paths"] == {"train": str(path)}
    assert data["version"]["signature"]["inputs"][0]["columns"] == ["c0", "c1", "c2"]


def test_show_lists_the_stored_module_files_of_the_code(
        store: modelver.Store, capsys: pytest.CaptureFixture[str]) -> None:
    @modelver.versioned_training("f", store=store)
    def train(x: Any) -> Doubler:
        return Doubler()

    train(np.zeros((3, 2)))
    assert main(["--store", store.uri, "show", "f@latest"]) == 0
    out = capsys.readouterr().out
    assert "test_signature.py" in out and "module files stored" in out


# -- S3 --------------------------------------------------------------------------------

def test_signature_and_checked_load_on_s3(s3: Any) -> None:
    remote = modelver.open(s3.uri, storage_options=s3.options)
    mv = _train_on(remote, "m", {"train": _frame()})
    reader = modelver.open(s3.uri, storage_options=s3.options)
    assert reader.resolve("m").signature == mv.signature
    model = reader.load("m", check_input=True)
    with pytest.raises(modelver.SchemaMismatch, match="extra columns 'c3'"):
        model.predict(_frame(columns=4))


def test_a_series_or_an_arrow_array_checked_against_a_frame_is_a_clear_error() -> None:
    import pyarrow as pa

    sig = modelver.Signature.infer(_frame())
    with pytest.raises(modelver.SchemaMismatch, match="expected 3 columns"):
        sig.check(_frame()["c0"])
    with pytest.raises(modelver.ModelverError, match="cannot check"):
        sig.check(pa.array([1.0]))

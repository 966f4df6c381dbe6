"""Diff: two versions' runs compared section by section."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import modelver
from modelver._diff import Diff

pytest.importorskip("numpy")  # imported up front: seeding records which RNGs were loaded

_TRAIN = '''
import modelver


@modelver.versioned_training("fraud", seed=0, data=("path",))
def train(path, n_estimators=100):
    {body}
    return {{"n": n_estimators}}
'''


def _module(tmp_path: Path, name: str, body: str) -> ModuleType:
    """Import a module file defining ``train`` (decorated for model ``fraud``)."""
    path = tmp_path / f"{name}.py"
    path.write_text(_TRAIN.format(body=body))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def two_versions(store: modelver.Store, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """fraud@0.1.0 and fraud@0.2.0: another param, another data file, another function."""
    for name in ("train_v1", "train_v2"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    v1 = _module(tmp_path, "train_v1", "modelver.log_metrics(auc=0.90)")
    v2 = _module(tmp_path, "train_v2", "modelver.log_metrics(auc=0.90)  # tuned")
    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "b.csv").write_text("x\n2\n")
    v1.train(str(tmp_path / "a.csv"), n_estimators=100)
    v2.train(str(tmp_path / "b.csv"), n_estimators=200)
    return "fraud@0.1.0", "fraud@0.2.0"


def test_changed_param_data_and_function_are_exactly_the_three_changes(
        two_versions: tuple[str, str]) -> None:
    d = modelver.diff(*two_versions)
    assert d.changed_sections == ["params", "data", "code"]
    assert [len(s) for s in d.sections] == [1, 1, 1, 0, 0, 0, 0]
    (param,) = d.params.changed
    assert (param.key, param.old, param.new) == ("n_estimators", 100, 200)
    assert d.data.keys == ["path"] and d.code.keys == ["function"]


def test_code_section_has_the_source_text_diff(two_versions: tuple[str, str]) -> None:
    d = modelver.diff(*two_versions)
    assert d.source_diff is not None
    assert "-    modelver.log_metrics(auc=0.90)\n" in d.source_diff
    assert "+    modelver.log_metrics(auc=0.90)  # tuned\n" in d.source_diff
    assert "--- fraud@0.1.0:train" in d.source_diff


def test_text_lists_each_change_and_the_unchanged_sections(
        two_versions: tuple[str, str]) -> None:
    text = str(modelver.diff(*two_versions))
    assert text.splitlines()[0] == "diff fraud@0.1.0 -> fraud@0.2.0"
    assert "  ~ n_estimators: 100 -> 200" in text
    assert "unchanged: seeds, environment, hardware, metrics" in text


def test_to_dict_is_json_and_names_every_section(two_versions: tuple[str, str]) -> None:
    data = modelver.diff(*two_versions).to_dict()
    json.dumps(data)
    assert list(data["sections"]) == ["params", "data", "code", "seeds", "environment",
                                      "hardware", "metrics"]
    assert data["sections"]["params"]["changed"]["n_estimators"] == {
        "old": 100, "new": 200, "delta": None}


def test_html_is_an_escaped_table(two_versions: tuple[str, str]) -> None:
    page = modelver.diff(*two_versions)._repr_html_()
    assert "<table" in page and "n_estimators" in page and "<pre" in page
    assert "background" not in page and "<script" not in page


def _trained(params: dict[str, Any], metrics: dict[str, Any], seed: int = 0) -> str:
    with modelver.training("m", params=params, seed=seed) as run:
        run.log_metrics(**metrics)
        run.log_model({"params": dict(params), "metrics": dict(metrics)})
    assert run.version is not None
    return run.version.ref


def test_metrics_have_numeric_deltas(store: modelver.Store) -> None:
    a = _trained({"lr": 0.1}, {"auc": 0.90, "loss": 0.5, "note": "x"})
    b = _trained({"lr": 0.1}, {"auc": 0.95, "loss": 0.5, "note": "y", "f1": 0.7})
    d = store.diff(a, b)
    changed = {c.key: c for c in d.metrics.changed}
    assert changed["auc"].delta == pytest.approx(0.05)
    assert changed["note"].delta is None
    assert [c.key for c in d.metrics.added] == ["f1"]
    assert "(+0.05)" in str(d)


def test_params_added_removed_and_seed_changes(store: modelver.Store) -> None:
    a = _trained({"lr": 0.1, "depth": 3}, {}, seed=1)
    b = _trained({"lr": 0.1, "width": 8}, {}, seed=2)
    d = store.diff(a, b)
    assert [c.key for c in d.params.added] == ["width"]
    assert [c.key for c in d.params.removed] == ["depth"]
    assert [(c.key, c.old, c.new) for c in d.seeds.changed] == [("seed", 1, 2)]


def test_identical_runs_have_an_empty_diff(store: modelver.Store) -> None:
    a = _trained({"lr": 0.1}, {"auc": 0.9})
    d = store.diff(a, a)
    assert not d and d.changed_sections == []


def test_environment_packages_added_removed_and_changed() -> None:
    import attrs

    from modelver._diff import compare_runs
    from modelver._records import Environment, ModelVersion, Run

    mv = ModelVersion("m", "0.1.0", "sha256:" + "0" * 64, "pickle", 1)
    env = Environment(python="3.11", packages={"numpy": "1.26.0", "old": "1.0", "x": "2"})
    run_a = Run("a", "m", environment=env)
    run_b = Run("b", "m", environment=attrs.evolve(
        env, python="3.12", packages={"numpy": "2.0.0", "x": "2", "new": "0.1"}))
    d = compare_runs(mv, mv, run_a, run_b)
    assert [(c.key, c.old, c.new) for c in d.environment.changed] == [
        ("numpy", "1.26.0", "2.0.0"), ("python", "3.11", "3.12")]
    assert [c.key for c in d.environment.added] == ["new"]
    assert [c.key for c in d.environment.removed] == ["old"]


def test_versions_without_runs_compare_with_a_note(store: modelver.Store) -> None:
    store.register("plain", {"w": 1})
    store.register("plain", {"w": 2})
    d = store.diff("plain@0.1.0", "plain@0.1.1")
    assert isinstance(d, Diff) and not d
    assert any("registered directly" in n for n in d.notes)


def test_diff_of_a_missing_version_is_not_found(store: modelver.Store) -> None:
    store.register("plain", {"w": 1})
    with pytest.raises(modelver.NotFound):
        store.diff("plain@0.1.0", "plain@9.9.9")

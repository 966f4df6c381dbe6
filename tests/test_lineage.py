"""Lineage: datasets → runs → versions, parents → children, and ``used_by``."""

from __future__ import annotations

from pathlib import Path

import pytest

import modelver
from modelver._lineage import Lineage
from modelver._retention import RetentionPolicy


def _file(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.fixture
def family(store: modelver.Store, tmp_path: Path) -> dict[str, str]:
    """fraud@0.1.0 trained on train.csv, promoted to prod; fraud-ft@0.1.0 fine-tuned from
    fraud@prod on finetune.csv; fraud-ft2@0.1.0 fine-tuned from fraud-ft on other.csv."""
    files = {"train": _file(tmp_path, "train.csv", "a,b\n1,2\n"),
             "finetune": _file(tmp_path, "finetune.csv", "a,b\n3,4\n"),
             "other": _file(tmp_path, "other.csv", "a,b\n5,6\n")}

    @modelver.versioned_training("fraud", seed=0, data=("path",))
    def train(path: str) -> dict[str, int]:
        return {"w": 1}

    @modelver.versioned_training("fraud-ft", seed=0, data=("path",))
    def finetune(path: str) -> dict[str, object]:
        return {"base": modelver.load("fraud", "prod"), "ft": 1}

    @modelver.versioned_training("fraud-ft2", seed=0, data=("path",))
    def finetune2(path: str) -> dict[str, object]:
        return {"base": modelver.load("fraud-ft", "latest"), "ft2": 1}

    train(files["train"])
    modelver.promote("fraud", "0.1.0", "prod")
    finetune(files["finetune"])
    finetune2(files["other"])
    return files


def test_fine_tuned_child_lists_parent_parents_data_and_its_own_data(
        family: dict[str, str]) -> None:
    graph = modelver.lineage("fraud-ft", "latest")
    assert [v.ref for v in graph.versions()] == ["fraud-ft@0.1.0", "fraud@0.1.0",
                                                 "fraud-ft2@0.1.0"]
    up = graph.upstream()
    assert [v.ref for v in up.versions()] == ["fraud-ft@0.1.0", "fraud@0.1.0"]
    assert {d.digest for d in up.datasets()} == {
        modelver.fingerprint(family["train"]).digest,
        modelver.fingerprint(family["finetune"]).digest}
    assert {r.version for r in up.runs()} == {"fraud-ft@0.1.0", "fraud@0.1.0"}


def test_load_inside_a_run_records_the_parent_with_no_user_code(
        family: dict[str, str]) -> None:
    assert modelver.resolve("fraud-ft").parents == ["fraud@0.1.0"]


def test_upstream_and_downstream_respect_depth(family: dict[str, str]) -> None:
    graph = modelver.lineage("fraud", "prod")
    assert [v.ref for v in graph.downstream().versions()] == [
        "fraud@0.1.0", "fraud-ft@0.1.0", "fraud-ft2@0.1.0"]
    assert [v.ref for v in graph.downstream(1).versions()] == ["fraud@0.1.0", "fraud-ft@0.1.0"]
    assert [v.ref for v in graph.downstream(0).versions()] == ["fraud@0.1.0"]
    assert [v.ref for v in graph.upstream().versions()] == ["fraud@0.1.0"]
    leaf = modelver.lineage("fraud-ft2")
    assert [v.ref for v in leaf.upstream(1).versions()] == ["fraud-ft2@0.1.0", "fraud-ft@0.1.0"]
    assert len(leaf.upstream(1).datasets()) == 2


def test_depth_must_be_a_non_negative_integer(family: dict[str, str]) -> None:
    with pytest.raises(modelver.InvalidName, match="depth"):
        modelver.lineage("fraud").upstream(-1)


def test_explicit_parents_are_edges_too(store: modelver.Store) -> None:
    store.register("base", {"w": 0})
    store.register("child", {"w": 1}, parents=["base@latest"])
    graph = store.lineage("child")
    assert [v.ref for v in graph.versions()] == ["child@0.1.0", "base@0.1.0"]
    assert graph.runs() == [] and graph.datasets() == []
    assert "base@0.1.0" in graph


def test_used_by_finds_versions_trained_on_a_file_directly_and_through_parents(
        family: dict[str, str]) -> None:
    assert [v.ref for v in modelver.used_by(family["train"])] == [
        "fraud@0.1.0", "fraud-ft@0.1.0", "fraud-ft2@0.1.0"]
    assert [v.ref for v in modelver.used_by(family["finetune"])] == [
        "fraud-ft@0.1.0", "fraud-ft2@0.1.0"]
    assert [v.ref for v in modelver.used_by(family["other"])] == ["fraud-ft2@0.1.0"]


def test_used_by_accepts_a_fingerprint_or_a_digest(family: dict[str, str]) -> None:
    fp = modelver.fingerprint(family["finetune"])
    assert [v.ref for v in modelver.used_by(fp)] == ["fraud-ft@0.1.0", "fraud-ft2@0.1.0"]
    assert [v.ref for v in modelver.used_by(fp.digest)] == ["fraud-ft@0.1.0",
                                                            "fraud-ft2@0.1.0"]


def test_used_by_unknown_data_is_empty(family: dict[str, str], tmp_path: Path) -> None:
    assert modelver.used_by(_file(tmp_path, "unused.csv", "nobody")) == []
    assert modelver.used_by(b"never seen") == []


def test_used_by_a_malformed_digest_is_invalid(store: modelver.Store) -> None:
    store.register("m", 1)
    with pytest.raises(modelver.InvalidName):
        store.used_by("sha256:nothex")


def test_used_by_arrays_matches_the_logged_fingerprint(store: modelver.Store) -> None:
    np = pytest.importorskip("numpy")
    x = np.arange(10.0)
    with modelver.training("arr", seed=0) as run:
        run.log_data("x", x)
        run.log_model({"w": 1})
    assert [v.ref for v in store.used_by(x.copy())] == ["arr@0.1.0"]


def test_dot_and_mermaid_draw_every_node_and_edge(family: dict[str, str]) -> None:
    graph = modelver.lineage("fraud-ft")
    dot, mermaid = graph.to_dot(), graph.to_mermaid()
    assert dot.startswith("digraph lineage {") and dot.count(" -> ") == len(graph.edges)
    assert mermaid.startswith("flowchart LR") and mermaid.count("-->") == len(graph.edges)
    for ref in ("fraud@0.1.0 [prod]", "fraud-ft@0.1.0", "fraud-ft2@0.1.0"):
        assert ref in dot and ref in mermaid


def test_text_tree_shows_runs_data_and_parents(family: dict[str, str]) -> None:
    text = str(modelver.lineage("fraud-ft"))
    lines = text.splitlines()
    assert lines[0] == "fraud-ft@0.1.0"
    assert any(line.startswith("└─ parent fraud@0.1.0 [prod]") for line in lines)
    assert "downstream" in lines and any("child fraud-ft2@0.1.0" in line for line in lines)
    assert text.count("data path:") == 2


def test_a_deleted_parent_stays_in_the_child_lineage_marked_deleted(
        family: dict[str, str], store: modelver.Store) -> None:
    store.register("fraud", {"w": 2})
    store.promote("fraud", "0.1.1", "prod")
    plan = store.plan_retention(RetentionPolicy(keep_last=1), "fraud")
    assert [d.ref for d in plan.deletions] == ["fraud@0.1.0"]
    plan.apply()
    graph = modelver.lineage("fraud-ft")
    parent = graph.nodes["fraud@0.1.0"]
    assert parent.deleted is not None and parent.deleted.reason.startswith("retention")
    assert [v.deleted is not None for v in graph.versions()] == [False, True, False]
    assert "class n" in graph.to_mermaid() and " deleted;" in graph.to_mermaid()
    assert 'style="dashed"' in graph.to_dot()
    assert "(deleted " in str(graph)
    assert modelver.resolve("fraud", "0.1.0").deleted is not None
    assert [v.ref for v in modelver.used_by(family["train"])][:1] == ["fraud@0.1.0"]


def test_html_is_escaped_and_needs_no_network(store: modelver.Store) -> None:
    with modelver.training("web", seed=0) as run:
        run.log_data("<script>alert(1)</script>", b"payload")
        run.log_model({"w": 1})
    page = store.lineage("web")._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page
    # The SVG's namespace is a name, not an address: nothing else may look like a URL.
    assert page.count('xmlns="http://www.w3.org/2000/svg"') == 1
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert '<svg' in page and '<pre class="mermaid">' in page


def test_to_networkx_has_kinds_and_edges(family: dict[str, str]) -> None:
    nx = pytest.importorskip("networkx")
    graph = modelver.lineage("fraud-ft").to_networkx()
    assert isinstance(graph, nx.DiGraph)
    assert graph.nodes["fraud@0.1.0"]["kind"] == "version"
    assert graph.has_edge("fraud@0.1.0", "fraud-ft@0.1.0")


def test_to_networkx_without_networkx_says_how_to_install(
        family: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "networkx", None)
    with pytest.raises(modelver.ModelverError, match="pip install networkx"):
        modelver.lineage("fraud").to_networkx()


def test_lineage_of_a_missing_model_is_not_found(store: modelver.Store) -> None:
    store.register("fraud", 1)
    with pytest.raises(modelver.NotFound, match="fraud"):
        store.lineage("frau", "latest")


def test_lineage_is_a_pure_value(family: dict[str, str]) -> None:
    graph = modelver.lineage("fraud-ft")
    assert isinstance(graph, Lineage) and "fraud-ft@0.1.0" in repr(graph)
    assert modelver.fingerprint(family["train"]).digest in graph
    assert graph.upstream().upstream().nodes == graph.upstream().nodes

"""The recorded context, seen from the CLI and the API: stored git diffs (``show --diff``,
``diff``), aliases as they were at a time (``--at``), folder snapshots file by file,
``used_by`` a snapshot digest, and the runs that reproduced a version in its lineage.

Real git repositories and real trainers in fresh processes (the helpers of
``test_reproduce``), and real SQLite stores."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from test_reproduce import _cli, _csv, _git, _script, _train

import modelver

HOSTILE = "<b>bold</b>"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A store of m: 0.1.0 from a clean commit (rebuilt once by ``reproduce``), 0.2.0 with
    an uncommitted edit of the helper it reaches, 0.3.0 with the function edited too."""
    root = tmp_path_factory.mktemp("context")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELVER_CACHE", str(root / "cache"))
        mp.setenv("MODELVER_USER", "tester")
        mp.delenv("MODELVER_SIGNING_KEY", raising=False)
        repo = root / "project"
        repo.mkdir()
        for args in (("init", "-q"), ("config", "user.email", "t@example.com"),
                     ("config", "user.name", "t")):
            _git(repo, *args)
        (repo / "helpers.py").write_text("def scale(x):\n    return x * 2.0\n")
        _script(repo, imports="from helpers import scale", body="x = scale(x)")
        _git(repo, "add", "train.py", "helpers.py")
        _git(repo, "commit", "-qm", "first")
        store = root / "store"
        data = _csv(repo / "train.csv", 1)
        assert _train(repo, store, data) == "0.1.0"
        (repo / "helpers.py").write_text("def scale(x):\n    return x * 3.0\n")
        assert _train(repo, store, data) == "0.2.0"
        _script(repo, imports="from helpers import scale",
                body=f"x = scale(x) + 1.0  # {HOSTILE}")
        assert _train(repo, store, data) == "0.3.0"
        s = modelver.open(str(store))
        assert s.reproduce("m", "0.1.0").identical
        s.close()
        yield store


# -- show --diff ---------------------------------------------------------------------


def test_show_diff_prints_the_uncommitted_git_diff_stored_with_the_run(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _cli(project, "show", "m@0.2.0", "--diff", capsys=capsys)
    assert code == 0, out
    assert "helpers.py" in out and "-    return x * 2.0" in out
    assert "+    return x * 3.0" in out


def test_show_diff_json_gives_the_blob_digest_and_the_text(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _cli(project, "show", "m@0.2.0", "--diff", "--json", capsys=capsys)
    data = json.loads(out)
    s = modelver.open(str(project))
    run = s.get_run(s.resolve("m", "0.2.0").run_id or "")
    assert code == 0 and run.code is not None
    assert data["ref"] == "m@0.2.0" and data["digest"] == run.code.diff_digest
    assert "+    return x * 3.0" in data["diff"]


def test_show_diff_says_so_when_no_tracked_file_had_changed(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 0.1.0 ran on a fresh commit: only the untracked data file was new.
    code, out = _cli(project, "show", "m@0.1.0", "--diff", capsys=capsys)
    assert code == 0 and "Traceback" not in out
    assert out.startswith("m@0.1.0: no uncommitted git diff stored (no tracked file had "
                          "changed")


def test_show_diff_says_so_when_the_working_tree_was_clean(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "clean"
    repo.mkdir()
    for args in (("init", "-q"), ("config", "user.email", "t@example.com"),
                 ("config", "user.name", "t")):
        _git(repo, *args)
    _script(repo, snapshot=False)
    data = _csv(repo / "train.csv", 1)
    _git(repo, "add", "train.py", "train.csv")
    _git(repo, "commit", "-qm", "first")
    assert _train(repo, tmp_path / "clean-store", data) == "0.1.0"
    code, out = _cli(tmp_path / "clean-store", "show", "m@0.1.0", "--diff", capsys=capsys)
    assert code == 0
    assert out.strip() == ("m@0.1.0: no uncommitted git diff stored (the git working tree "
                           "was clean)")


def test_show_diff_says_so_for_a_version_registered_without_a_run(
        store: modelver.Store, capsys: pytest.CaptureFixture[str]) -> None:
    store.register("plain", np.arange(3))
    code, out = _cli(store.uri, "show", "plain@0.1.0", "--diff", capsys=capsys)
    assert code == 0 and "Traceback" not in out
    assert "no uncommitted git diff stored (it was registered directly" in out


# -- diff: sources and git diffs ------------------------------------------------------------


def test_diff_prints_the_source_diff_of_each_changed_reached_function(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _cli(project, "diff", "m@0.1.0", "m@0.2.0", capsys=capsys)
    assert code == 0, out
    assert "--- m@0.1.0:helpers:scale" in out and "+++ m@0.2.0:helpers:scale" in out
    assert "-    return x * 2.0" in out and "+    return x * 3.0" in out


def test_diff_prints_the_source_diff_of_a_changed_training_function(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _cli(project, "diff", "m@0.2.0", "m@0.3.0", capsys=capsys)
    assert code == 0, out
    assert "-    x = scale(x)\n" in out
    assert f"+    x = scale(x) + 1.0  # {HOSTILE}" in out


def test_diff_shows_the_difference_between_the_two_stored_git_diffs(
        project: Path) -> None:
    d = modelver.open(str(project)).diff("m@0.2.0", "m@0.3.0")
    assert d.git_diff is not None
    assert "--- m@0.2.0:git-diff" in d.git_diff and "+++ m@0.3.0:git-diff" in d.git_diff
    # Both diffs hold the helper's edit; only the function's edit differs between them.
    assert f"+    x = scale(x) + 1.0  # {HOSTILE}" in d.git_diff
    assert "return x * 3.0" not in "".join(
        line for line in d.git_diff.splitlines(keepends=True) if line[:1] in "+-")
    assert d.git_diff.splitlines()[0] in str(d)


def test_a_clean_version_against_a_dirty_one_shows_the_whole_stored_diff_added(
        project: Path) -> None:
    d = modelver.open(str(project)).diff("m@0.1.0", "m@0.2.0")
    assert d.git_diff is not None
    changed = [line for line in d.git_diff.splitlines()[2:] if line[:1] in "+-"]
    assert changed and all(line.startswith("+") for line in changed)


def test_equal_git_diffs_give_no_git_diff(project: Path) -> None:
    assert modelver.open(str(project)).diff("m@0.2.0", "m@0.2.0").git_diff is None


def test_the_git_diff_is_escaped_in_html_and_present_in_json(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = modelver.open(str(project)).diff("m@0.2.0", "m@0.3.0")
    page = d._repr_html_()
    assert HOSTILE not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    code, out = _cli(project, "diff", "m@0.2.0", "m@0.3.0", "--json", capsys=capsys)
    assert code == 0 and json.loads(out)["git_diff"] == d.git_diff


# -- lineage: reproductions -------------------------------------------------------------


def test_lineage_shows_the_run_that_reproduced_a_version(project: Path) -> None:
    s = modelver.open(str(project))
    mv = s.resolve("m", "0.1.0")
    graph = s.lineage("m", "0.1.0")
    edges = [e for e in graph.edges if e.kind == "reproduces"]
    assert [(e.source, e.target) for e in edges] == [(f"run:{mv.reproductions[0]}", mv.ref)]
    node = graph.nodes[edges[0].source]
    assert node.kind == "run" and node.label.endswith("identical")
    assert {r.id for r in graph.runs()} == {mv.run_id, *mv.reproductions}


def test_every_drawing_of_the_lineage_shows_the_reproduction(project: Path) -> None:
    graph = modelver.open(str(project)).lineage("m", "0.1.0")
    assert "reproduction " in str(graph)
    assert "[style=dotted]" in graph.to_dot()
    assert " -.-> " in graph.to_mermaid()
    assert 'class="edge edge-reproduces"' in graph.to_svg()
    assert any(e.kind == "reproduces" for e in graph.upstream().edges)


def test_a_version_never_reproduced_has_no_reproduction_in_its_lineage(
        project: Path) -> None:
    graph = modelver.open(str(project)).lineage("m", "0.2.0")
    assert not [e for e in graph.edges if e.kind == "reproduces"]


# -- folder snapshots ------------------------------------------------------------------


def _train_on(folder: Path, weights: np.ndarray) -> modelver.ModelVersion:
    with modelver.training("imgs", snapshot=True, seed=None) as run:
        run.log_data("images", folder)
        run.log_model(weights)
    assert run.version is not None
    return run.version


@pytest.fixture
def folders(store: modelver.Store, tmp_path: Path) -> tuple[modelver.ModelVersion,
                                                           modelver.ModelVersion]:
    """imgs@0.1.0 and a later version, trained on a folder before and after a.txt
    changed, b.txt was removed and c.txt added."""
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    (folder / "b.txt").write_text("b")
    (folder / "same.txt").write_text("same")
    first = _train_on(folder, np.arange(3))
    (folder / "a.txt").write_text("A")
    (folder / "b.txt").unlink()
    (folder / "c.txt").write_text("c")
    return first, _train_on(folder, np.arange(4))


def test_diff_lists_the_files_added_removed_and_changed_in_a_folder_snapshot(
        store: modelver.Store, folders: tuple[modelver.ModelVersion, ...]) -> None:
    a, b = folders
    d = store.diff(a.ref, b.ref)
    [files] = d.snapshots
    assert files.name == "images"
    assert [c.key for c in files.added] == ["c.txt"]
    assert [c.key for c in files.removed] == ["b.txt"]
    assert [c.key for c in files.changed] == ["a.txt"]
    assert all(str(c.new).startswith("sha256:") for c in files.added + files.changed)


def test_snapshot_file_changes_show_in_text_html_and_json(
        store: modelver.Store, folders: tuple[modelver.ModelVersion, ...],
        capsys: pytest.CaptureFixture[str]) -> None:
    a, b = folders
    d = store.diff(a.ref, b.ref)
    text = str(d)
    assert "files of images (snapshot)" in text
    assert "    + c.txt" in text and "    - b.txt" in text and "    ~ a.txt" in text
    assert "same.txt" not in text
    assert "snapshot images" in d._repr_html_()
    code, out = _cli(store.uri, "diff", a.ref, b.ref, "--json", capsys=capsys)
    files = json.loads(out)["snapshots"]["images"]
    assert code == 0
    assert (list(files["added"]), list(files["removed"]), list(files["changed"])) == (
        ["c.txt"], ["b.txt"], ["a.txt"])


def test_runs_without_snapshots_give_no_snapshot_differences(
        store: modelver.Store, tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    with modelver.training("plain", seed=None) as run:
        run.log_data("images", folder)
        run.log_model(np.arange(3))
    (folder / "a.txt").write_text("b")
    with modelver.training("plain", seed=None) as run:
        run.log_data("images", folder)
        run.log_model(np.arange(4))
    d = store.diff("plain@0.1.0", "plain@0.1.1")
    assert d.data.keys == ["images"] and d.snapshots == ()


# -- used_by a snapshot -----------------------------------------------------------------


def test_used_by_a_snapshot_digest_gives_the_versions_trained_on_it(
        store: modelver.Store, folders: tuple[modelver.ModelVersion, ...]) -> None:
    a, b = folders
    for mv in (a, b):
        fp = store.get_run(mv.run_id or "").data["images"]
        assert fp.snapshot is not None and fp.snapshot != fp.digest
        assert [v.ref for v in modelver.used_by(fp.snapshot)] == [mv.ref]
        assert [v.ref for v in store.used_by(fp.digest)] == [mv.ref]


def test_used_by_cli_accepts_a_snapshot_digest(
        store: modelver.Store, folders: tuple[modelver.ModelVersion, ...],
        capsys: pytest.CaptureFixture[str]) -> None:
    a, _ = folders
    snapshot = store.get_run(a.run_id or "").data["images"].snapshot or ""
    code, out = _cli(store.uri, "used-by", snapshot, "--json", capsys=capsys)
    assert code == 0 and [v["version"] for v in json.loads(out)] == ["0.1.0"]


def test_used_by_an_unknown_snapshot_digest_is_empty(store: modelver.Store) -> None:
    assert store.used_by("sha256:" + "0" * 64) == []


# -- aliases at a time -------------------------------------------------------------------


@pytest.fixture
def moved(store: modelver.Store) -> list[modelver.AliasEvent]:
    """fraud@prod set to 0.1.0, then moved to 0.1.1."""
    for n in range(2):
        store.register("fraud", np.arange(3 + n))
    store.promote("fraud", "0.1.0", "prod", reason="first")
    time.sleep(0.002)  # the two moves are at distinct times
    store.promote("fraud", "0.1.1", "prod", reason="second")
    return list(store.alias_history("fraud", "prod"))


def test_resolve_at_a_time_gives_the_version_the_alias_pointed_at_then(
        store: modelver.Store, moved: list[modelver.AliasEvent]) -> None:
    first, second = moved
    assert store.resolve("fraud", "prod", at=first.at).version == "0.1.0"
    assert modelver.resolve("fraud", "prod", at=first.at.isoformat()).version == "0.1.0"
    assert store.resolve("fraud", "prod", at=second.at).version == "0.1.1"


def test_resolve_at_accepts_a_date_and_text_with_or_without_a_timezone(
        store: modelver.Store, moved: list[modelver.AliasEvent]) -> None:
    first, _ = moved
    tomorrow = datetime.now(timezone.utc).date() + timedelta(days=1)
    assert store.resolve("fraud", "prod", at=tomorrow).version == "0.1.1"
    assert store.resolve("fraud", "prod", at=tomorrow.isoformat()).version == "0.1.1"
    plus_two = first.at.astimezone(timezone(timedelta(hours=2)))
    assert store.resolve("fraud", "prod", at=plus_two.isoformat()).version == "0.1.0"
    zulu = first.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert store.resolve("fraud", "prod", at=zulu).version == "0.1.0"


def test_a_time_without_a_timezone_is_utc_whatever_the_local_zone(
        store: modelver.Store, moved: list[modelver.AliasEvent],
        monkeypatch: pytest.MonkeyPatch) -> None:
    first, _ = moved
    if not hasattr(time, "tzset"):
        pytest.skip("no time.tzset on this platform")
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        naive = first.at.astimezone(timezone.utc).replace(tzinfo=None)
        assert store.resolve("fraud", "prod", at=naive).version == "0.1.0"
        assert store.resolve("fraud", "prod", at=naive.isoformat()).version == "0.1.0"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_resolve_at_a_time_before_the_alias_existed_is_not_found(
        store: modelver.Store, moved: list[modelver.AliasEvent]) -> None:
    with pytest.raises(modelver.NotFound, match="did not exist yet at 2000-01-01"):
        store.resolve("fraud", "prod", at=date(2000, 1, 1))


def test_resolve_at_an_alias_the_model_never_had_is_not_found_with_nearest(
        store: modelver.Store, moved: list[modelver.AliasEvent]) -> None:
    with pytest.raises(modelver.NotFound, match="alias 'prd' not found"):
        store.resolve("fraud", "prd", at="2026-01-01")


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "", "12:00"])
def test_bad_time_text_is_invalid_name(store: modelver.Store,
                                       moved: list[modelver.AliasEvent], text: str) -> None:
    with pytest.raises(modelver.InvalidName, match="ISO-8601"):
        store.resolve("fraud", "prod", at=text)
    with pytest.raises(modelver.InvalidName, match="ISO-8601"):
        store.alias_history("fraud", "prod", at=text)


def test_alias_history_at_a_time_lists_the_moves_made_until_then(
        store: modelver.Store, moved: list[modelver.AliasEvent]) -> None:
    first, second = moved
    assert list(modelver.alias_history("fraud", "prod", at=first.at)) == [first]
    assert list(store.alias_history("fraud", "prod", at=second.at)) == [first, second]
    with pytest.raises(modelver.NotFound, match="did not exist yet"):
        store.alias_history("fraud", "prod", at="2000-01-01")


def test_history_at_prints_the_moves_until_then_and_where_the_alias_pointed(
        store: modelver.Store, moved: list[modelver.AliasEvent],
        capsys: pytest.CaptureFixture[str]) -> None:
    first, _ = moved
    at = first.at.isoformat()
    code, out = _cli(store.uri, "history", "fraud", "prod", "--at", at, capsys=capsys)
    assert code == 0, out
    assert "first" in out and "second" not in out
    assert out.strip().splitlines()[-1] == f"at {at}: fraud@prod -> 0.1.0"
    code, out = _cli(store.uri, "history", "fraud", "prod", "--at", at, "--json",
                     capsys=capsys)
    data = json.loads(out)
    assert data["version"] == "0.1.0" and [e["reason"] for e in data["events"]] == ["first"]


def test_history_at_a_time_before_the_alias_existed_is_a_clear_error(
        store: modelver.Store, moved: list[modelver.AliasEvent],
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _cli(store.uri, "history", "fraud", "prod", "--at", "2000-01-01",
                     capsys=capsys)
    assert code == 1 and "Traceback" not in out
    assert "modelver: error: alias fraud@prod did not exist yet" in out


def test_show_at_resolves_the_alias_as_it_was_then(
        store: modelver.Store, moved: list[modelver.AliasEvent],
        capsys: pytest.CaptureFixture[str]) -> None:
    first, _ = moved
    code, out = _cli(store.uri, "show", "fraud@prod", "--at", first.at.isoformat(), "--json",
                     capsys=capsys)
    assert code == 0 and json.loads(out)["version"]["version"] == "0.1.0"
    code, out = _cli(store.uri, "show", "fraud@prod", "--json", capsys=capsys)
    assert json.loads(out)["version"]["version"] == "0.1.1"


def test_show_at_with_bad_time_text_is_a_clear_error(
        store: modelver.Store, moved: list[modelver.AliasEvent],
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _cli(store.uri, "show", "fraud@prod", "--at", "last tuesday", capsys=capsys)
    assert code == 1 and "Traceback" not in out
    assert "modelver: error: at must be an ISO-8601 time" in out


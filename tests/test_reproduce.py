"""Data snapshots and ``reproduce``: real git repositories, real scikit-learn trainers,
files changed on disk between runs, and a fresh process for every rebuild."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import modelver
from modelver.cli import main as cli

TRAIN = '''
import sys
import numpy as np
from sklearn.tree import DecisionTreeClassifier
import modelver
{imports}

@modelver.versioned_training("m", data=("path",), seed={seed}, snapshot={snapshot})
def train(path, depth=3):
    data = np.loadtxt(path, delimiter=",")
    x, y = data[:, :-1], data[:, -1]
    {body}
    model = DecisionTreeClassifier(max_depth=depth, random_state={state}).fit(x, y)
    modelver.log_metrics(acc=float(model.score(x, y)))
    return model

if __name__ == "__main__":
    modelver.configure(sys.argv[1])
    train(sys.argv[2], **{{k: int(v) for k, v in (a.split("=") for a in sys.argv[3:])}})
    print(train.last_version.version)
'''


def _script(folder: Path, *, seed: object = 7, snapshot: object = True, state: object = 0,
            body: str = "pass", imports: str = "") -> Path:
    path = folder / "train.py"
    path.write_text(TRAIN.format(seed=seed, snapshot=snapshot, state=state, body=body,
                                 imports=imports))
    return path


def _csv(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    table = np.column_stack([rng.random((120, 3)), rng.random(120) > 0.5])
    np.savetxt(path, table, delimiter=",")
    return path


def _train(folder: Path, store: Path, data: Path, *args: str) -> str:
    out = subprocess.run([sys.executable, str(folder / "train.py"), str(store), str(data),
                          *args], cwd=folder, capture_output=True, text=True, check=False,
                         env={k: v for k, v in os.environ.items()
                              if k != "PYTEST_CURRENT_TEST"})
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    _git(folder, "init", "-q")
    _git(folder, "config", "user.email", "t@example.com")
    _git(folder, "config", "user.name", "t")
    return folder


def _cli(store: Path | str, *args: str, capsys: pytest.CaptureFixture[str]
         ) -> tuple[int, str]:
    code = cli(["--store", str(store), *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_a_committed_and_a_dirty_version_rebuild_identically_after_code_and_data_changed(
        repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    _script(repo)
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-qm", "first")
    data = _csv(repo / "train.csv", 1)
    first = _train(repo, store, data)
    # An uncommitted edit of the function itself: a new minor version, dirty tree.
    _script(repo, body="x = x * 2.0")
    _csv(data, 2)
    second = _train(repo, store, data)
    assert (first, second) == ("0.1.0", "0.2.0")
    # The training script and the CSV change again; neither may matter now.
    _script(repo, body="x = x + 100.0")
    _csv(data, 3)

    s = modelver.open(str(store))
    for version in (first, second):
        result = s.reproduce("m", version)
        assert result.identical, str(result)
        assert result.digest == s.resolve("m", version).digest
        assert "git worktree" in result.code
        assert "snapshot" in result.data["path"]
    assert "uncommitted diff" in result.code
    code, out = _cli(store, "reproduce", f"m@{second}", capsys=capsys)
    assert code == 0 and "IDENTICAL" in out
    # Each attempt is a run of the model that names the version it rebuilt.
    attempts = [r for r in s.runs("m") if r.reproduces]
    assert [r.reproduces for r in attempts] == [f"m@{second}", f"m@{second}", f"m@{first}"]
    assert all(r.reproduction and r.reproduction["identical"] for r in attempts)
    assert s.resolve("m", "latest").version == second  # no version was registered
    # The scratch worktrees are gone from the repository.
    listed = subprocess.run(["git", "-C", str(repo), "worktree", "list"], check=True,
                            capture_output=True, text=True).stdout
    assert len(listed.strip().splitlines()) == 1
    assert s.verify().ok


def test_without_a_snapshot_a_changed_file_is_named_and_nothing_is_rebuilt(
        repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    _script(repo, snapshot=False)
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-qm", "first")
    data = _csv(repo / "train.csv", 1)
    _train(repo, store, data)
    s = modelver.open(str(store))
    assert s.reproduce("m", "0.1.0").identical  # the file is unchanged: it is used as is
    _csv(data, 5)
    with pytest.raises(modelver.NotReproducible, match=r"data 'path' \(.*train.csv\) differs"):
        s.reproduce("m", "0.1.0")
    code, out = _cli(store, "reproduce", "m@0.1.0", capsys=capsys)
    assert code == 2 and "COULD NOT REPRODUCE" in out and "snapshot=True" in out
    with pytest.raises(modelver.NotFound, match="no snapshot"):
        s.checkout_data("m", "0.1.0", "path", tmp_path / "out.csv")


def test_an_unseeded_trainer_is_reported_different_with_its_metric_deltas(
        repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    # No seed and no random_state, and labels shuffled by the unseeded global RNG.
    _script(repo, seed=None, state=None, body="y = np.random.permutation(y)")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-qm", "first")
    _train(repo, store, _csv(repo / "train.csv", 1))
    code, out = _cli(store, "reproduce", "m@0.1.0", capsys=capsys)
    assert code == 1, out
    assert "DIFFERENT" in out and "metric    acc:" in out
    result = json.loads(json.dumps(modelver.open(str(store)).runs("m")[0].reproduction))
    assert result["identical"] is False
    assert set(result["metric_deltas"]["acc"]) == {"recorded", "now", "delta"}


def test_outside_git_the_stored_module_files_are_run_helpers_included(
        tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "helpers.py").write_text("def scale(x):\n    return x * 3.0\n")
    _script(folder, imports="from helpers import scale", body="x = scale(x)")
    store = tmp_path / "store"
    data = _csv(folder / "train.csv", 1)
    _train(folder, store, data, "depth=4")
    (folder / "helpers.py").write_text("def scale(x):\n    return x - 1.0\n")
    (folder / "train.py").unlink()
    _csv(data, 9)
    result = modelver.open(str(store)).reproduce("m", "0.1.0")
    assert result.identical, str(result)
    assert "stored sources of 2 module(s)" in result.code


def test_a_version_without_recorded_code_or_run_is_refused(tmp_path: Path) -> None:
    s = modelver.open(str(tmp_path / "store"))
    s.register("direct", b"bytes")
    with pytest.raises(modelver.NotReproducible, match="registered directly"):
        s.reproduce("direct", "latest")
    with modelver.training("block", store=s) as run:
        run.log_model(b"x")
    with pytest.raises(modelver.NotReproducible, match="training\\(\\) block"):
        s.reproduce("block", "latest")


# -- snapshots --------------------------------------------------------------------------------

def _blob_count(store: Path) -> int:
    return sum(1 for p in (store / "blobs").rglob("*") if p.is_file()) \
        if (store / "blobs").is_dir() else 0


def test_a_folder_snapshot_stores_only_the_changed_file_and_checks_out_verified(
        tmp_path: Path) -> None:
    s = modelver.open(str(tmp_path / "store"))
    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    for i in range(3):
        (folder / "sub" / f"{i}.bin").write_bytes(os.urandom(50_000))
    os.symlink("sub/0.bin", folder / "link")

    @modelver.versioned_training("f", data=("root",), snapshot=("root",), store=s)
    def fit(root: str) -> bytes:
        return b"model"

    fit(str(folder))
    first = fit.last_run.record  # type: ignore[union-attr]
    assert first is not None and first.data["root"].snapshot
    (folder / "sub" / "2.bin").write_bytes(os.urandom(50_000))
    fit(str(folder))
    second = fit.last_run.record  # type: ignore[union-attr]
    assert second is not None
    new = set(second.blobs) - set(first.blobs)
    assert len(new) == 2  # the changed file and the folder's manifest
    out = s.checkout_data("f", "latest", "root", tmp_path / "restored")
    assert modelver.fingerprint(str(out)).digest == second.data["root"].digest
    assert os.readlink(out / "link") == "sub/0.bin"
    with pytest.raises(modelver.ModelverError, match="not empty"):
        s.checkout_data("f", "latest", "root", out)
    with pytest.raises(modelver.NotFound, match="did you mean root"):
        s.checkout_data("f", "latest", "roots", tmp_path / "x")


def test_array_and_frame_snapshots_round_trip(tmp_path: Path) -> None:
    import pandas as pd

    s = modelver.open(str(tmp_path / "store"), snapshot=True)  # the store's default
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    with modelver.training("t", store=s) as run:
        run.log_data("x", x)
        run.log_data("frame", frame)
        run.log_model(b"m")
    rec = s.get_run(run.id)
    assert rec.data["x"].snapshot and rec.data["frame"].snapshot
    back = np.load(s.checkout_data("t", "latest", "x", tmp_path / "x"))
    np.testing.assert_array_equal(back, x)
    frame_path = s.checkout_data("t", "latest", "frame", tmp_path / "f")
    pd.testing.assert_frame_equal(pd.read_parquet(frame_path), frame)


def test_an_unchanged_file_already_stored_is_snapshotted_without_a_copy(
        tmp_path: Path) -> None:
    s = modelver.open(str(tmp_path / "store"))
    data = tmp_path / "big.bin"
    data.write_bytes(os.urandom(1 << 20))
    os.utime(data, (1_000_000_000, 1_000_000_000))  # old enough for the stat cache

    @modelver.versioned_training("b", data=("p",), snapshot=True, store=s)
    def fit(p: str, k: int = 0) -> bytes:
        return b"m%d" % k

    fit(str(data))
    blob = Path(s.backend.blob_path(s.get_run(fit.last_run.id).data["p"].digest))  # type: ignore[union-attr]
    before = blob.stat()
    fit(str(data), k=1)
    after = blob.stat()
    assert (before.st_ino, before.st_size) == (after.st_ino, after.st_size)


def test_retention_and_gc_treat_snapshots_like_artifacts(tmp_path: Path) -> None:
    s = modelver.open(str(tmp_path / "store"))
    files = [tmp_path / f"d{i}.bin" for i in range(3)]

    @modelver.versioned_training("r", data=("p",), snapshot=True, store=s)
    def fit(p: str) -> bytes:
        return Path(p).read_bytes()[:10]

    for f in files:
        f.write_bytes(os.urandom(10_000))
        fit(str(f))
    versions = [mv.version for mv in s.versions("r")]
    s.promote("r", versions[0], "prod")
    s.hold("r", versions[1], "audit")
    digests = [s.get_run(s.resolve("r", v).run_id or "").data["p"].digest for v in versions]
    plan = s.plan_retention(modelver.RetentionPolicy(keep_last=0), "r")
    assert [d.version for d in plan.deletions] == [versions[2]]
    plan.apply()
    assert s.backend.has_blob(digests[0]) and s.backend.has_blob(digests[1])
    assert not s.backend.has_blob(digests[2])  # its data went with its artifact
    s.gc(grace=0)
    assert s.backend.has_blob(digests[0]) and s.backend.has_blob(digests[1])
    assert s.verify().ok
    other = modelver.open(str(tmp_path / "other"))
    s.push("r", versions[0], to=other)
    restored = other.checkout_data("r", versions[0], "p", tmp_path / "back.bin")
    assert restored.read_bytes() == files[0].read_bytes()


def test_snapshot_names_must_be_parameters() -> None:
    with pytest.raises(modelver.InvalidName, match="snapshot= names"):
        @modelver.versioned_training("x", snapshot=("nope",))
        def fit(path: str) -> None: ...
    with pytest.raises(modelver.InvalidName):
        modelver.versioned_training("x", snapshot=3)  # type: ignore[arg-type]


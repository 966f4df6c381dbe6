"""``modelver get`` / ``Store.export``: an artifact's files, written out as they were saved."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import modelver
from modelver.cli import main

pytest_plugins = ["conftest_s3"]


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _folder(tmp_path: Path) -> Path:
    src = tmp_path / "src-model"
    (src / "sub").mkdir(parents=True)
    (src / "config.json").write_text('{"a": 1}')
    (src / "sub" / "weights.bin").write_bytes(os.urandom(3000))
    return src


def test_a_file_artifact_is_written_under_its_original_name(store: modelver.Store,
                                                            tmp_path: Path) -> None:
    src = tmp_path / "model.onnx"
    src.write_bytes(b"\x00onnx bytes" * 100)
    store.register("m", src)
    out = store.export("m", "latest", tmp_path / "out")
    assert out == tmp_path / "out" / "model.onnx"
    assert out.read_bytes() == src.read_bytes()
    assert os.access(out, os.W_OK)  # the caller's own copy, not the store's


def test_a_folder_artifact_round_trips_byte_for_byte(store: modelver.Store,
                                                    tmp_path: Path) -> None:
    src = _folder(tmp_path)
    store.register("m", src)
    out = modelver.export("m", "latest", tmp_path / "out")
    assert out == tmp_path / "out"
    assert _tree(out) == _tree(src)


def test_a_sklearn_model_is_written_as_its_skops_file(store: modelver.Store,
                                                      tmp_path: Path) -> None:
    linear = pytest.importorskip("sklearn.linear_model")
    skops_io = pytest.importorskip("skops.io")
    model = linear.LinearRegression().fit(np.arange(10.0).reshape(5, 2), np.arange(5.0))
    store.register("m", model)
    out = store.export("m", "latest", tmp_path / "out")
    assert sorted(_tree(out)) == ["model.skops"]
    path = out / "model.skops"
    loaded = skops_io.load(path, trusted=skops_io.get_untrusted_types(file=path))
    assert np.allclose(loaded.coef_, model.coef_)


def test_a_bundle_gets_one_subfolder_per_member(store: modelver.Store, tmp_path: Path) -> None:
    src = _folder(tmp_path)
    store.register("m", {"model": np.arange(6.0), "assets": src})
    out = store.export("m", "latest", tmp_path / "out")
    assert sorted(p.name for p in out.iterdir()) == ["assets", "model"]
    assert _tree(out / "assets") == _tree(src)
    assert np.array_equal(np.load(next((out / "model").iterdir())), np.arange(6.0))
    one = store.export("m", "latest", tmp_path / "one", artifact="assets")
    assert _tree(one) == _tree(src)
    with pytest.raises(modelver.NotFound, match="no artifact 'nope'"):
        store.export("m", "latest", tmp_path / "two", artifact="nope")


def test_a_non_empty_destination_is_refused_unless_forced(store: modelver.Store,
                                                         tmp_path: Path) -> None:
    src = _folder(tmp_path)
    store.register("m", src)
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "mine.txt").write_text("keep")
    with pytest.raises(modelver.ModelverError, match="not empty"):
        store.export("m", "latest", dest)
    assert _tree(dest) == {"mine.txt": b"keep"}
    store.export("m", "latest", dest, force=True)
    assert _tree(dest) == {**_tree(src), "mine.txt": b"keep"}
    (tmp_path / "afile").write_text("x")
    with pytest.raises(modelver.ModelverError, match="is a file"):
        store.export("m", "latest", tmp_path / "afile", force=True)


def test_a_symbolic_link_in_a_forced_destination_never_leads_outside_it(
        store: modelver.Store, tmp_path: Path) -> None:
    store.register("m", _folder(tmp_path))
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "sub").symlink_to(outside)
    with pytest.raises(modelver.ModelverError, match="leads outside"):
        store.export("m", "latest", dest, force=True)
    assert list(outside.iterdir()) == []


def test_a_corrupted_blob_is_never_written(store: modelver.Store, tmp_path: Path) -> None:
    src = tmp_path / "model.bin"
    src.write_bytes(b"good bytes" * 1000)
    mv = store.register("m", src)
    blob = Path(store.backend.blob_path(mv.blobs[0]))
    os.chmod(blob, 0o644)
    blob.write_bytes(b"evil bytes" * 1000)
    with pytest.raises(modelver.IntegrityError, match="corrupted"):
        store.export("m", "latest", tmp_path / "out")
    assert _tree(tmp_path / "out") == {}


def test_a_deleted_version_cannot_be_exported(store: modelver.Store, tmp_path: Path) -> None:
    store.register("m", b"one")
    store.register("m", b"two")
    policy = modelver.RetentionPolicy(keep_last=1)
    store.plan_retention(policy, "m").apply()
    with pytest.raises(modelver.NotFound, match="deleted by retention"):
        store.export("m", "0.1.0", tmp_path / "out")


def test_cli_get_writes_the_files_and_lists_them(store: modelver.Store, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    src = _folder(tmp_path)
    store.register("m", src)
    out = tmp_path / "got"
    assert main(["--store", store.uri, "get", "m@latest", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "wrote m@0.1.0 (folder)" in text and "sub/weights.bin" in text
    assert _tree(out) == _tree(src)
    assert main(["--store", store.uri, "get", "m@latest", "-o", str(out)]) == 1
    assert "not empty" in capsys.readouterr().err
    assert main(["--store", store.uri, "--json", "get", "m@latest", "-o", str(out),
                 "--force"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["files"] == ["config.json", "sub/weights.bin"] and data["ref"] == "m@0.1.0"


def test_cli_get_defaults_to_name_version_folder(store: modelver.Store, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    store.register("m", _folder(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert main(["--store", store.uri, "get", "m@latest"]) == 0
    assert (tmp_path / "m-0.1.0" / "config.json").read_text() == '{"a": 1}'


def test_get_on_s3_round_trips_a_folder_and_a_file(s3: Any, tmp_path: Path) -> None:
    remote = modelver.open(s3.uri, storage_options=s3.options)
    src = _folder(tmp_path)
    remote.register("folder", src)
    one = tmp_path / "w.bin"
    one.write_bytes(os.urandom(5000))
    remote.register("file", one)
    reader = modelver.open(s3.uri, storage_options=s3.options)
    assert _tree(reader.export("folder", "latest", tmp_path / "a")) == _tree(src)
    assert reader.export("file", "latest", tmp_path / "b").read_bytes() == one.read_bytes()
    with pytest.raises(modelver.ModelverError, match="not empty"):
        reader.export("folder", "latest", tmp_path / "a")

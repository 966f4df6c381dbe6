"""The artifact pipeline: models streamed into blobs, and verified loads out of them.

Blobs live in a real ``BlobDir`` (or a ``memory://`` remote store with its real local
cache); versions are records made by hand, as the store makes them.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import sys
import tarfile
import threading
import types
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelver import IntegrityError, ModelverError, NotFound, UnsafeFormat
from modelver._blobs import BlobDir
from modelver._load import UNSAFE_FORMATS, ArtifactCache, load_artifact, store_model
from modelver._records import ModelVersion, Tombstone
from modelver._serde import canonical


class LocalBlobs(BlobDir):
    """A blob folder seen as a load source: local blobs have no cache to discard."""

    uri = "local-test-blobs"

    def blob_path(self, digest: str) -> str:
        return self.path(digest)

    def discard_cached(self, digest: str) -> bool:
        return False


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobs:
    return LocalBlobs(str(tmp_path / "objects"))


def put(obj: Any, blobs: Any, name: str = "m") -> ModelVersion:
    s = store_model(obj, blobs)
    return ModelVersion(name=name, version="1.0.0", digest=s.digest, format=s.format,
                        size=s.size, blobs=s.blobs, artifacts=s.artifacts,
                        requirements=s.requirements)


def legacy(data: bytes, fmt: str, blobs: LocalBlobs) -> ModelVersion:
    """A version as modelver wrote them before manifests: one blob, record schema 1."""
    digest, size = blobs.put_bytes(data)
    return ModelVersion(name="m", version="1.0.0", digest=digest, format=fmt, size=size,
                        schema_version=1)


def file_blob(mv: ModelVersion, blobs: LocalBlobs) -> str:
    """The blob of a single-file artifact's one file."""
    assert len(mv.blobs) == 1
    return blobs.path(mv.blobs[0])


def cached(cache: ArtifactCache, mv: ModelVersion) -> bool:
    return any(key[0] == mv.digest for key in cache._entries)


def load(mv: ModelVersion, blobs: Any, cache: ArtifactCache | None = None,
         safe: bool = False) -> Any:
    return load_artifact(mv, blobs, safe=safe, cache=ArtifactCache() if cache is None else cache)


def corrupt(path: str) -> None:
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) - 1)
        last = f.read(1)
        f.seek(-1, os.SEEK_END)
        f.write(bytes([last[0] ^ 0xFF]))


def sha256_of(path: str) -> str:
    with open(path, "rb") as f:
        return "sha256:" + hashlib.sha256(f.read()).hexdigest()


# -- round trips ---------------------------------------------------------------------


def test_bytes_round_trip(blobs: LocalBlobs) -> None:
    mv = put(b"raw model", blobs)
    assert mv.format == "bytes"
    assert load(mv, blobs) == b"raw model"


def test_a_numpy_array_round_trips_as_npy(blobs: LocalBlobs) -> None:
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    mv = put(arr, blobs)
    back = load(mv, blobs)
    assert mv.format == "npy" and type(back) is np.ndarray
    assert back.dtype == arr.dtype and np.array_equal(back, arr)


def test_a_fortran_ordered_array_keeps_its_layout(blobs: LocalBlobs) -> None:
    arr = np.asfortranarray(np.arange(6).reshape(2, 3))
    back = load(put(arr, blobs), blobs)
    assert np.array_equal(back, arr) and back.flags.f_contiguous


def test_an_empty_array_round_trips(blobs: LocalBlobs) -> None:
    back = load(put(np.zeros((0, 3)), blobs), blobs)
    assert back.shape == (0, 3)


def test_a_loaded_array_is_read_only_and_a_copy_is_writable(blobs: LocalBlobs) -> None:
    back = load(put(np.arange(4), blobs), blobs)
    with pytest.raises(ValueError, match="read-only"):
        back[0] = 7
    writable = back.copy()
    writable[0] = 7
    assert writable[0] == 7


def test_a_loaded_array_registers_again_as_the_same_npy_blob(blobs: LocalBlobs) -> None:
    mv = put(np.arange(100), blobs)
    again = put(load(mv, blobs), blobs)
    assert (again.format, again.digest) == ("npy", mv.digest)


def test_a_picklable_object_round_trips(blobs: LocalBlobs) -> None:
    model = ([0.5, 1.5], os.urandom(100_000), {1: "int key"})
    mv = put(model, blobs)
    assert mv.format == "pickle" and load(mv, blobs) == model


def test_a_dict_of_mixed_members_is_a_bundle_of_their_formats(blobs: LocalBlobs) -> None:
    model = {"weights": [0.5, 1.5], "blob": os.urandom(1000), "arr": np.arange(3)}
    mv = put(model, blobs)
    assert mv.format == "bundle"
    assert {k: a.format for k, a in mv.artifacts.items()} == {
        "weights": "json", "blob": "bytes", "arr": "npy"}
    back = load(mv, blobs, safe=True)
    assert list(back) == ["weights", "blob", "arr"] and back["weights"] == [0.5, 1.5]
    assert back["blob"] == model["blob"] and np.array_equal(back["arr"], model["arr"])
    assert load_artifact(mv, blobs, safe=True, cache=ArtifactCache(), artifact="blob"
                         ) == model["blob"]
    with pytest.raises(NotFound, match="no artifact 'blobs'"):
        load_artifact(mv, blobs, safe=True, cache=ArtifactCache(), artifact="blobs")


def test_a_file_loads_as_the_read_only_blob_path(blobs: LocalBlobs, tmp_path: Path) -> None:
    src = tmp_path / "model.onnx"
    src.write_bytes(b"onnx-bytes")
    mv = put(src, blobs)
    back = load(mv, blobs)
    assert mv.format == "file" and isinstance(back, Path) and back.name == "model.onnx"
    assert back.read_bytes() == b"onnx-bytes"
    assert os.stat(back).st_ino == os.stat(file_blob(mv, blobs)).st_ino  # a hard link
    assert src.read_bytes() == b"onnx-bytes"  # the source is copied, not moved
    assert not os.access(back, os.W_OK) or os.geteuid() == 0


def test_a_folder_is_materialized_from_its_files_blobs(blobs: LocalBlobs,
                                                       tmp_path: Path) -> None:
    folder = tmp_path / "model_dir"
    (folder / "tok").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(b"\x00\x01")
    (folder / "tok" / "vocab.txt").write_text("a b")
    mv = put(folder, blobs)
    back = load(mv, blobs)
    assert mv.format == "folder"
    assert back == Path(blobs.root, "materialized", mv.digest[7:])
    assert len(mv.blobs) == 2
    assert (back / "weights.bin").read_bytes() == b"\x00\x01"
    assert (back / "tok" / "vocab.txt").read_text() == "a b"


def test_a_state_dict_round_trips_as_safetensors(blobs: LocalBlobs) -> None:
    torch = pytest.importorskip("torch")
    module = torch.nn.Linear(3, 2)
    mv = put(module.state_dict(), blobs)
    back = load(mv, blobs, safe=True)
    assert mv.format == "safetensors" and list(back) == ["weight", "bias"]
    assert torch.equal(back["weight"], module.state_dict()["weight"])


def test_a_legacy_torch_state_blob_still_loads(blobs: LocalBlobs) -> None:
    torch = pytest.importorskip("torch")
    buf = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buf)
    back = load(legacy(buf.getvalue(), "torch-state", blobs), blobs, safe=True)
    assert torch.equal(back["w"], torch.ones(2))


# -- on-disk bytes and hashing once ------------------------------------------------------


def test_a_pickle_blob_holds_exactly_pickle_protocol_5(blobs: LocalBlobs) -> None:
    model = (list(range(50)), b"x" * 300_000)
    mv = put(model, blobs)
    expected = pickle.dumps(model, protocol=5)
    assert mv.blobs == ["sha256:" + hashlib.sha256(expected).hexdigest()]
    assert mv.size == len(expected)


def test_an_npy_blob_holds_exactly_what_np_save_writes(blobs: LocalBlobs) -> None:
    arr = np.arange(3 * 2**20, dtype=np.int64)  # above np.save's 16 MiB write chunk
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    assert put(arr, blobs).blobs == ["sha256:" + hashlib.sha256(buf.getvalue()).hexdigest()]


def test_the_digest_computed_while_staging_is_the_final_blobs(blobs: LocalBlobs,
                                                              tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3 << 20))
    for obj in (src, np.arange(1000), {"k": 1}, b"bytes"):
        mv = put(obj, blobs)
        for digest in (mv.digest, *mv.blobs):
            assert sha256_of(blobs.path(digest)) == digest
        assert sum(os.path.getsize(blobs.path(d)) for d in mv.blobs) == mv.size


def test_storing_a_model_leaves_nothing_in_the_staging_folder(blobs: LocalBlobs) -> None:
    put({"k": 1}, blobs)
    put({"k": 1}, blobs)  # already stored: the staged copy is dropped
    assert os.listdir(blobs.staging_dir) == []


def test_the_manifest_is_canonical_json_naming_each_file(blobs: LocalBlobs,
                                                         tmp_path: Path) -> None:
    folder = tmp_path / "m"
    (folder / "empty").mkdir(parents=True)
    (folder / "a.txt").write_bytes(b"abc")
    mv = put(folder, blobs)
    text = Path(blobs.path(mv.digest)).read_text()
    manifest = json_loads(text)
    assert canonical(manifest) == text
    assert manifest["format"] == "folder" and manifest["dirs"] == ["empty"]
    assert manifest["files"] == {"a.txt": [sha256_of(str(folder / "a.txt")), 3]}


def json_loads(text: str) -> Any:
    import json

    return json.loads(text)


@pytest.mark.parametrize("obj", [lambda x: x, threading.Lock()], ids=["lambda", "lock"])
def test_an_unpicklable_model_leaves_no_staging_file(blobs: LocalBlobs, obj: Any) -> None:
    with pytest.raises(ModelverError, match="cannot store"):
        store_model(obj, blobs)
    assert os.listdir(blobs.staging_dir) == []
    assert list(blobs.digests()) == []


def test_a_path_that_does_not_exist_is_refused(blobs: LocalBlobs, tmp_path: Path) -> None:
    with pytest.raises(ModelverError, match="no such file or folder"):
        store_model(tmp_path / "nope", blobs)
    assert os.listdir(blobs.staging_dir) == []


def test_put_file_with_move_publishes_the_file_itself(blobs: LocalBlobs,
                                                      tmp_path: Path) -> None:
    path = os.path.join(blobs.staging_dir, "staged")
    Path(path).write_bytes(b"payload")
    digest, size = sha256_of(path), 7
    inode = os.stat(path).st_ino
    assert blobs.put_file(path, digest=digest, move=True) == (digest, size)
    assert not os.path.exists(path)
    assert os.stat(blobs.path(digest)).st_ino == inode  # linked, not copied


def test_put_file_without_move_copies_and_keeps_the_source(blobs: LocalBlobs,
                                                           tmp_path: Path) -> None:
    src = tmp_path / "m.bin"
    src.write_bytes(b"payload")
    digest, size = blobs.put_file(str(src))
    assert src.read_bytes() == b"payload" and size == 7
    assert sha256_of(blobs.path(digest)) == digest


# -- what a load refuses ------------------------------------------------------------


def test_a_corrupted_blob_raises_and_is_never_returned(blobs: LocalBlobs) -> None:
    mv = put({"w": 1}, blobs)
    corrupt(file_blob(mv, blobs))
    cache = ArtifactCache()
    with pytest.raises(IntegrityError, match="is corrupted"):
        load(mv, blobs, cache)
    assert not cached(cache, mv)
    corrupt(blobs.path(mv.digest))  # the manifest itself
    with pytest.raises(IntegrityError, match="is corrupted"):
        load(mv, blobs, cache)


def test_a_missing_blob_is_not_found(blobs: LocalBlobs) -> None:
    mv = put(b"gone", blobs)
    blobs.delete(mv.blobs[0])
    with pytest.raises(NotFound, match="missing"):
        load(mv, blobs)
    blobs.delete(mv.digest)
    with pytest.raises(NotFound, match="missing"):
        load(mv, blobs)


def test_safe_refuses_pickle_and_allows_npy(blobs: LocalBlobs) -> None:
    assert "pickle" in UNSAFE_FORMATS
    with pytest.raises(UnsafeFormat, match="runs code"):
        load(put(("w", 1), blobs), blobs, safe=True)
    with pytest.raises(UnsafeFormat, match="'pickle'"):  # a bundle with one unsafe member
        load(put({"ok": np.arange(2), "bad": ("w", 1)}, blobs), blobs, safe=True)
    assert load(put(np.arange(3), blobs), blobs, safe=True).tolist() == [0, 1, 2]


def test_a_deleted_version_is_refused(blobs: LocalBlobs) -> None:
    mv = put(b"old", blobs)
    stone = Tombstone(at=datetime(2024, 1, 2, tzinfo=timezone.utc), reason="keep_last=3",
                      by="gc")
    with pytest.raises(NotFound, match=r"deleted by retention .*\(keep_last=3\)"):
        load(ModelVersion(name="m", version="1.0.0", digest=mv.digest, format=mv.format,
                          size=mv.size, deleted=stone), blobs)


def test_a_blob_that_is_not_its_recorded_format_is_refused(blobs: LocalBlobs) -> None:
    mv = put({"w": 1}, blobs)
    as_npy = ModelVersion(name="m", version="1.0.0", digest=mv.digest, format="npy",
                          size=mv.size, blobs=mv.blobs)
    with pytest.raises(IntegrityError, match="holds a 'json' artifact"):
        load(as_npy, blobs)
    old = legacy(pickle.dumps({"w": 1}), "npy", blobs)
    with pytest.raises(IntegrityError, match="not a valid 'npy'"):
        load(old, blobs)


def test_a_manifest_naming_a_path_outside_its_folder_is_refused(blobs: LocalBlobs) -> None:
    file, _ = blobs.put_bytes(b"hi")
    text = canonical({"kind": "modelver-artifact/1", "format": "folder", "meta": {},
                      "files": {"../escape.txt": [file, 2]}, "dirs": []})
    digest, _ = blobs.put_bytes(text.encode())
    mv = ModelVersion(name="m", version="1.0.0", digest=digest, format="folder", size=2,
                      blobs=[file])
    with pytest.raises(IntegrityError, match="unsafe path"):
        load(mv, blobs)
    assert not os.path.exists(os.path.join(blobs.root, "escape.txt"))


def test_a_folder_with_an_unsafe_member_is_refused_and_nothing_extracted(
        blobs: LocalBlobs) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    mv = legacy(buf.getvalue(), "folder", blobs)
    with pytest.raises(IntegrityError, match="unsafe member"):
        load(mv, blobs)
    assert os.listdir(os.path.join(blobs.root, "extracted")) == []


def test_a_pickle_of_a_class_that_cannot_be_imported_says_what_to_install(
        blobs: LocalBlobs) -> None:
    module = types.ModuleType("modelver_gone_module")
    module.Model = type("Model", (), {"__module__": module.__name__})  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    try:
        mv = put(module.Model(), blobs)
    finally:
        del sys.modules[module.__name__]
    with pytest.raises(ModelverError, match="install the package"):
        load(mv, blobs)


# -- the cache --------------------------------------------------------------------------


def test_repeated_loads_return_the_same_object(blobs: LocalBlobs) -> None:
    mv = put({"w": [1]}, blobs)
    cache = ArtifactCache()
    assert load(mv, blobs, cache) is load(mv, blobs, cache)


def test_the_cache_is_bounded_in_bytes(blobs: LocalBlobs) -> None:
    mvs = [put(os.urandom(1000) + bytes([i]), blobs, f"m{i}") for i in range(3)]
    cache = ArtifactCache(max_bytes=2 * 1001)
    first = load(mvs[0], blobs, cache)
    load(mvs[1], blobs, cache)
    load(mvs[2], blobs, cache)
    assert not cached(cache, mvs[0]) and len(cache) == 2
    assert cache.nbytes == 2 * 1001
    assert load(mvs[0], blobs, cache) is not first  # loaded again


def test_the_least_recently_used_artifact_is_evicted_first(blobs: LocalBlobs) -> None:
    mvs = [put(os.urandom(1000) + bytes([i]), blobs, f"m{i}") for i in range(3)]
    cache = ArtifactCache(max_bytes=2 * 1001)
    load(mvs[0], blobs, cache)
    load(mvs[1], blobs, cache)
    load(mvs[0], blobs, cache)  # used again: m1 is now the oldest
    load(mvs[2], blobs, cache)
    assert cached(cache, mvs[0]) and not cached(cache, mvs[1])


def test_an_artifact_larger_than_the_bound_is_not_kept(blobs: LocalBlobs) -> None:
    mv = put(os.urandom(5000), blobs)
    cache = ArtifactCache(max_bytes=1000)
    assert load(mv, blobs, cache) == load(mv, blobs, cache)
    assert len(cache) == 0


def test_the_cache_is_keyed_by_digest_and_format_and_never_holds_paths(
        blobs: LocalBlobs, tmp_path: Path) -> None:
    src = tmp_path / "weights.bin"
    src.write_bytes(b"same bytes")
    as_bytes, as_file = put(b"same bytes", blobs), put(src, blobs)
    assert as_bytes.blobs == as_file.blobs  # one blob of those bytes, two manifests
    cache = ArtifactCache()
    assert load(as_bytes, blobs, cache) == b"same bytes"
    assert isinstance(load(as_file, blobs, cache), Path)
    assert cache.nbytes == as_bytes.size  # a path is verified on every load, not cached
    assert not cached(cache, as_file)


def test_a_zero_bound_disables_the_cache(blobs: LocalBlobs,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELVER_LOAD_CACHE_BYTES", "0")
    mv = put({"w": [1]}, blobs)
    cache = ArtifactCache()
    assert cache.max_bytes == 0
    assert load(mv, blobs, cache) is not load(mv, blobs, cache)


def test_concurrent_loads_of_one_artifact_get_one_object(blobs: LocalBlobs) -> None:
    mv = put({"w": list(range(10_000))}, blobs)
    cache = ArtifactCache()
    got: list[Any] = []
    threads = [threading.Thread(target=lambda: got.append(load(mv, blobs, cache)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and all(obj is got[0] for obj in got)


def test_a_cached_path_whose_file_is_gone_is_loaded_again(blobs: LocalBlobs,
                                                          tmp_path: Path) -> None:
    src = tmp_path / "m.bin"
    src.write_bytes(b"model")
    mv = put(src, blobs)
    cache = ArtifactCache()
    load(mv, blobs, cache)
    blobs.delete(mv.digest)  # its manifest gone: a path is not served from a memory
    with pytest.raises(NotFound):
        load(mv, blobs, cache)


# -- remote stores ----------------------------------------------------------------------


@pytest.fixture
def remote() -> Any:
    from modelver.backends.remote import RemoteBackend

    return RemoteBackend.from_uri(f"memory://load-{uuid.uuid4().hex}", {})


def test_a_model_stored_remotely_is_uploaded_and_cached_here(remote: Any) -> None:
    mv = put({"w": 1}, remote)
    assert remote.has_blob(mv.digest)
    assert remote.cache.get(mv.digest) is not None  # the first load is no download
    assert os.listdir(remote.staging_dir) == []
    assert load(mv, remote) == {"w": 1}


def test_a_damaged_cached_copy_is_downloaded_again(remote: Any) -> None:
    mv = put(np.arange(50), remote)
    corrupt(remote.cache.blobs.path(mv.blobs[0]))
    assert load(mv, remote).tolist() == list(range(50))
    assert remote.cache.blobs.rehash(mv.blobs[0]) == mv.blobs[0]

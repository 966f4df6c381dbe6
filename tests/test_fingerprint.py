"""Data fingerprints: files, folders, arrays, frames, bytes, URLs, values, and the stat cache.

Real files in ``tmp_path``; ``memory://`` stands in for a remote filesystem. Files the
stat cache should remember are backdated past the racy window, as a dataset on disk is.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelver._errors import NotFound
from modelver._fingerprint import MemoryStatCache, _files, _remote, fingerprint, hash_file, is_data
from modelver._records import DataFingerprint

ROOT = Path(__file__).resolve().parents[1]


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def backdate(path: Path, seconds: float = 60.0) -> None:
    """Set a file's mtime well before now, outside the racy window."""
    old = time.time_ns() - int(seconds * 1e9)
    os.utime(path, ns=(old, old))


def write(path: Path, data: bytes, *, old: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if old:
        backdate(path)
    return path


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every path the fingerprinter reads, in order."""
    seen: list[str] = []
    real = _files._hash_file
    lock = threading.Lock()

    def counting(path: str, *, pipelined: bool) -> tuple[str, int]:
        with lock:
            seen.append(path)
        return real(path, pipelined=pipelined)

    monkeypatch.setattr(_files, "_hash_file", counting)
    return seen


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        write(root / rel, data)
    return root


TREE = {"a.txt": b"alpha", "sub/b.bin": b"\x00\x01\x02", "sub/deeper/c.csv": b"x,y\n1,2\n"}


# ----------------------------------------------------------------------------- files


def test_same_file_gives_same_digest(tmp_path: Path) -> None:
    path = write(tmp_path / "data.bin", b"some bytes")
    assert fingerprint(str(path)) == fingerprint(path)


def test_file_digest_is_sha256_of_its_bytes(tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    fp = fingerprint(write(tmp_path / "data.bin", data))
    assert (fp.digest, fp.kind, fp.size, fp.method, fp.stable) == (
        sha(data), "file", len(data), "sha256", True)


def test_file_source_is_its_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "data.bin", b"x")
    monkeypatch.chdir(tmp_path)
    assert fingerprint("data.bin").source == str(tmp_path / "data.bin")


def test_hash_file_reads_ahead_on_large_files_and_matches_hashlib(tmp_path: Path) -> None:
    data = os.urandom(_files._PIPELINE_MIN + _files._PIPE_CHUNK // 2 + 3)
    path = write(tmp_path / "big.bin", data)
    assert hash_file(str(path)) == (sha(data), len(data))


def test_hash_file_of_an_empty_file(tmp_path: Path) -> None:
    assert hash_file(str(write(tmp_path / "empty", b""))) == (sha(b""), 0)


def test_hash_file_of_a_missing_file_raises_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        hash_file(str(tmp_path / "missing"))


def test_stat_cache_avoids_reading_an_unchanged_file(tmp_path: Path, reads: list[str]) -> None:
    path = write(tmp_path / "data.bin", b"payload")
    cache = MemoryStatCache()
    first = fingerprint(path, cache=cache)
    second = fingerprint(path, cache=cache)
    assert (first, len(reads)) == (second, 1)


def test_stat_cache_key_is_the_real_path(tmp_path: Path) -> None:
    path = write(tmp_path / "data.bin", b"payload")
    cache = MemoryStatCache()
    fingerprint(path, cache=cache)
    st = path.stat()
    assert cache.get(os.path.realpath(path), st.st_size, st.st_mtime_ns, st.st_ino) == sha(
        b"payload")


def test_changed_file_gets_a_new_digest_despite_the_cache(tmp_path: Path) -> None:
    path = write(tmp_path / "data.bin", b"version-1")
    cache = MemoryStatCache()
    before = fingerprint(path, cache=cache)
    path.write_bytes(b"version-2")  # same size
    backdate(path, seconds=30)  # a different, still old, mtime
    after = fingerprint(path, cache=cache)
    assert (before.digest, after.digest) == (sha(b"version-1"), sha(b"version-2"))


def test_a_just_modified_file_is_not_cached(tmp_path: Path, reads: list[str]) -> None:
    path = write(tmp_path / "fresh.bin", b"racy", old=False)
    cache = MemoryStatCache()
    fingerprint(path, cache=cache)
    fingerprint(path, cache=cache)
    assert (len(cache), len(reads)) == (0, 2)


def test_missing_path_raises_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no file or folder"):
        fingerprint(str(tmp_path / "no" / "such.csv"))


def test_missing_path_is_not_data(tmp_path: Path) -> None:
    assert not is_data(str(tmp_path / "no" / "such.csv"))


def test_file_url_is_fingerprinted_as_a_local_file(tmp_path: Path) -> None:
    path = write(tmp_path / "data.bin", b"local")
    fp = fingerprint(path.as_uri())
    assert (fp.kind, fp.digest) == ("file", sha(b"local"))


# --------------------------------------------------------------------------- folders


def test_folder_digest_is_the_documented_merkle(tmp_path: Path) -> None:
    make_tree(tmp_path / "d", TREE)
    lines = "".join(f"{rel}\0{sha(TREE[rel])}\n" for rel in sorted(TREE))
    fp = fingerprint(tmp_path / "d")
    assert (fp.digest, fp.kind, fp.method, fp.size) == (
        sha(lines.encode()), "folder", "sha256-merkle", sum(map(len, TREE.values())))


def test_folder_digest_does_not_depend_on_creation_order(tmp_path: Path) -> None:
    make_tree(tmp_path / "one", TREE)
    make_tree(tmp_path / "two", dict(reversed(list(TREE.items()))))
    assert fingerprint(tmp_path / "one").digest == fingerprint(tmp_path / "two").digest


def test_renaming_a_file_changes_the_folder_digest(tmp_path: Path) -> None:
    folder = make_tree(tmp_path / "d", TREE)
    before = fingerprint(folder)
    (folder / "a.txt").rename(folder / "a2.txt")
    assert fingerprint(folder).digest != before.digest


def test_editing_a_file_changes_the_folder_digest(tmp_path: Path) -> None:
    folder = make_tree(tmp_path / "d", TREE)
    cache = MemoryStatCache()
    before = fingerprint(folder, cache=cache)
    write(folder / "sub" / "b.bin", b"\x09\x01\x02")
    backdate(folder / "sub" / "b.bin", seconds=30)
    assert fingerprint(folder, cache=cache).digest != before.digest


def test_unchanged_folder_is_not_read_again_with_a_cache(
    tmp_path: Path, reads: list[str]
) -> None:
    folder = make_tree(tmp_path / "d", {f"f{i:03}.txt": b"%d" % i for i in range(50)})
    cache = MemoryStatCache()
    first = fingerprint(folder, cache=cache)
    second = fingerprint(folder, cache=cache)
    assert (first, len(reads)) == (second, 50)


def test_only_the_changed_file_of_a_folder_is_read_again(
    tmp_path: Path, reads: list[str]
) -> None:
    folder = make_tree(tmp_path / "d", TREE)
    cache = MemoryStatCache()
    fingerprint(folder, cache=cache)
    write(folder / "a.txt", b"ALPHA")
    backdate(folder / "a.txt", seconds=30)
    reads.clear()
    fingerprint(folder, cache=cache)
    assert reads == [os.path.realpath(folder / "a.txt")]


class GetPutOnly:
    """A stat cache with only the two required methods."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, int, int, int], str] = {}

    def get(self, path: str, size: int, mtime_ns: int, inode: int) -> str | None:
        return self.entries.get((path, size, mtime_ns, inode))

    def put(self, path: str, size: int, mtime_ns: int, inode: int, digest: str) -> None:
        self.entries[(path, size, mtime_ns, inode)] = digest


def test_a_cache_without_batch_methods_is_used_one_key_at_a_time(
    tmp_path: Path, reads: list[str]
) -> None:
    folder = make_tree(tmp_path / "d", TREE)
    cache = GetPutOnly()
    first = fingerprint(folder, cache=cache)
    second = fingerprint(folder, cache=cache)
    assert (first, len(reads), len(cache.entries)) == (second, 3, 3)


def test_symlinks_in_a_folder_are_recorded_not_followed(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside.txt", b"secret")
    folder = make_tree(tmp_path / "d", {"a.txt": b"alpha"})
    (folder / "link").symlink_to(outside)
    before = fingerprint(folder)
    write(outside, b"changed")
    lines = f"a.txt\0{sha(b'alpha')}\nlink\0symlink:{outside}\n"
    assert (before.digest, fingerprint(folder).digest, before.size) == (
        sha(lines.encode()), before.digest, 5)


def test_an_empty_folder_has_the_digest_of_no_lines(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert fingerprint(tmp_path / "empty").digest == sha(b"")


# ------------------------------------------------------------------ arrays and frames

def test_array_schema_has_dtype_and_trailing_shape() -> None:
    fp = fingerprint(np.zeros((5, 3, 2), dtype="float32"))
    assert (fp.kind, fp.method, fp.size, fp.schema) == (
        "ndarray", "sha256-array", 120, {"dtype": "<f4", "shape_tail": [3, 2]})


def test_array_digest_depends_on_values_not_memory_layout() -> None:
    a = np.arange(24, dtype="int64").reshape(4, 6)
    assert fingerprint(np.asfortranarray(a)).digest == fingerprint(a).digest
    assert fingerprint(a[:, ::2]).digest == fingerprint(a[:, ::2].copy()).digest


def test_same_bytes_with_another_dtype_or_shape_get_another_digest() -> None:
    a = np.arange(8, dtype="int32")
    digests = {fingerprint(x).digest for x in (a, a.view("float32"), a.reshape(2, 4))}
    assert len(digests) == 3


def test_object_arrays_of_json_values_are_stable() -> None:
    fp = fingerprint(np.array(["a", 1, None], dtype=object))
    assert (fp.stable, fp.method) == (True, "sha256-json")


def test_frame_schema_has_columns_and_dtypes() -> None:
    fp = fingerprint(pd.DataFrame({"age": [31, 42], "score": [0.5, 0.25]}))
    assert (fp.kind, fp.method, fp.schema) == (
        "dataframe", "sha256-pandas", {"columns": {"age": "int64", "score": "float64"}})


def test_reordering_columns_changes_the_digest() -> None:
    df = pd.DataFrame({"a": [1, 2], "b": [3, 4]})
    assert fingerprint(df).digest != fingerprint(df[["b", "a"]]).digest


def test_changing_a_value_or_the_index_changes_the_digest() -> None:
    df = pd.DataFrame({"a": [1, 2], "b": [3, 4]})
    digests = {fingerprint(x).digest for x in (df, df.replace(4, 5), df.set_axis([7, 8]))}
    assert len(digests) == 3


def test_series_schema_has_name_and_dtype() -> None:
    fp = fingerprint(pd.Series([1.0, 2.0], name="y"))
    assert (fp.kind, fp.schema) == ("series", {"name": "y", "dtype": "float64"})


def test_frames_with_unhashable_cells_are_still_fingerprinted() -> None:
    fp = fingerprint(pd.DataFrame({"tags": [["a"], ["b", "c"]]}))
    assert (fp.kind, fp.stable) == ("dataframe", True)


def test_arrow_table_schema_and_digest() -> None:
    pa = pytest.importorskip("pyarrow")
    table = pa.table({"a": [1, 2, None], "b": ["x", "y", "z"]})
    fp = fingerprint(table)
    same = fingerprint(pa.table({"a": [1, 2, None], "b": ["x", "y", "z"]}))
    assert (fp.kind, fp.schema, fp.digest) == (
        "arrow-table", {"columns": {"a": "int64", "b": "string"}}, same.digest)


CROSS_PROCESS = """
import json, sys
import numpy as np, pandas as pd
from modelver._fingerprint import fingerprint
df = pd.DataFrame({"name": ["a", "b", None], "x": [1.5, 2.5, 3.5]}).set_index("name")
objs = [np.arange(12, dtype="float32").reshape(3, 4), df, sys.argv[1]]
print(json.dumps([fingerprint(o).digest for o in objs]))
"""


def test_same_data_gets_the_same_fingerprint_in_another_process(tmp_path: Path) -> None:
    path = write(tmp_path / "data.bin", b"cross-process")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "random"}
    out = subprocess.run([sys.executable, "-c", CROSS_PROCESS, str(path)], env=env,
                         capture_output=True, text=True, check=True).stdout
    df = pd.DataFrame({"name": ["a", "b", None], "x": [1.5, 2.5, 3.5]}).set_index("name")
    here = [fingerprint(o).digest
            for o in (np.arange(12, dtype="float32").reshape(3, 4), df, str(path))]
    assert json.loads(out) == here


def test_importing_the_module_imports_no_numpy_pandas_or_fsspec() -> None:
    code = ("import sys, modelver._fingerprint; "
            "print([m for m in ('numpy', 'pandas', 'pyarrow', 'fsspec') if m in sys.modules])")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


# ------------------------------------------------------------ bytes, values, the rest


@given(st.binary(max_size=4096))
def test_fingerprint_of_bytes_is_their_sha256(data: bytes) -> None:
    fp = fingerprint(data)
    assert (fp.digest, fp.kind, fp.size) == (sha(data), "bytes", len(data))


def test_bytearray_and_memoryview_hash_like_bytes() -> None:
    data = bytes(range(256))
    strided = memoryview(data)[::2]
    assert {fingerprint(bytearray(data)).digest, fingerprint(memoryview(data)).digest} == {
        sha(data)}
    assert fingerprint(strided).digest == sha(data[::2])


def test_a_fingerprint_is_returned_unchanged() -> None:
    fp = DataFingerprint(sha(b"x"), "file", 1)
    assert fingerprint(fp) is fp


def test_a_digest_string_becomes_a_fingerprint() -> None:
    fp = fingerprint(sha(b"x"))
    assert (fp.digest, fp.kind) == (sha(b"x"), "fingerprint")


def test_a_plain_string_is_a_value() -> None:
    fp = fingerprint("relu")
    assert (fp.kind, fp.method, fp.digest) == ("value", "sha256-json", sha(b'"relu"'))


def test_a_url_fsspec_cannot_open_is_a_value() -> None:
    assert fingerprint("postgresql://db.internal/features").kind == "value"


def test_json_values_are_hashed_as_canonical_json() -> None:
    assert fingerprint({"b": 1, "a": [1.5, None]}).digest == sha(b'{"a":[1.5,null],"b":1}')


def test_objects_without_json_form_are_unstable() -> None:
    class Opaque:
        pass

    fp = fingerprint(Opaque())
    assert (fp.kind, fp.method, fp.stable) == ("object", "type-only", False)


def test_collection_of_data_is_a_merkle_with_schema_by_key(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", b"a\n1\n")
    fp = fingerprint({"train": path, "x": np.zeros((2, 3)), "lr": 0.1})
    assert (fp.kind, fp.method, fp.schema) == (
        "collection", "sha256-merkle",
        {"train": {"columns": ["a"]}, "x": {"dtype": "<f8", "shape_tail": [3]}})


def test_collection_digest_changes_when_a_child_changes() -> None:
    assert fingerprint([b"a", b"b"]).digest != fingerprint([b"a", b"c"]).digest


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda tmp: b"raw", True),
        (lambda tmp: np.zeros(2), True),
        (lambda tmp: pd.DataFrame({"a": [1]}), True),
        (lambda tmp: DataFingerprint(sha(b""), "bytes"), True),
        (lambda tmp: tmp, True),
        (lambda tmp: str(tmp), True),
        (lambda tmp: "s3://bucket/key.parquet", True),
        (lambda tmp: [b"a", np.zeros(1)], True),
        (lambda tmp: tmp / "missing.csv", False),
        (lambda tmp: "https://example.com/api", False),
        (lambda tmp: "postgresql://host/db", False),
        (lambda tmp: "relu", False),
        (lambda tmp: 0.1, False),
        (lambda tmp: [1, 2], False),
        (lambda tmp: [], False),
    ],
)
def test_is_data(tmp_path: Path, make: Callable[[Path], Any], expected: bool) -> None:
    assert is_data(make(tmp_path)) is expected


# ---------------------------------------------------------------------------- remote


@pytest.fixture
def memfs() -> Iterator[Any]:
    import fsspec

    fs = fsspec.filesystem("memory")
    root = f"/fp-{os.getpid()}-{time.time_ns()}"
    fs.pipe({f"{root}/a.txt": b"hello", f"{root}/sub/b.txt": b"world"})
    yield fs, root
    fs.rm(root, recursive=True)


def test_remote_file_without_checksum_is_streamed(memfs: Any) -> None:
    _, root = memfs
    fp = fingerprint(f"memory://{root}/a.txt")
    assert (fp.kind, fp.method, fp.digest, fp.size) == ("remote-file", "sha256", sha(b"hello"), 5)


def test_remote_checksum_is_used_without_download(
    memfs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fs, root = memfs
    info = type(fs).info
    monkeypatch.setattr(type(fs), "info", lambda self, path, **kw: {
        **info(self, path, **kw), "ETag": '"abc123"'})
    monkeypatch.setattr(type(fs), "open", lambda *a, **kw: pytest.fail("downloaded"))
    fp = fingerprint(f"memory://{root}/a.txt")
    assert (fp.method, fp.stable) == ("etag", True)


def test_remote_folder_is_a_merkle_of_its_files(memfs: Any) -> None:
    _, root = memfs
    lines = f"a.txt\0{sha(b'hello')}\nsub/b.txt\0{sha(b'world')}\n"
    fp = fingerprint(f"memory://{root}")
    assert (fp.kind, fp.digest, fp.size) == ("remote-folder", sha(lines.encode()), 10)


def test_missing_remote_file_raises_not_found(memfs: Any) -> None:
    _, root = memfs
    with pytest.raises(NotFound):
        fingerprint(f"memory://{root}/missing.txt")


def test_credentials_are_not_kept_in_the_source() -> None:
    assert _remote._redact("s3://key:secret@bucket/x.csv?X-Amz-Signature=s") == "s3://bucket/x.csv"


# ------------------------------------------------------------------------ the cache


def test_memory_stat_cache_is_safe_across_threads() -> None:
    cache = MemoryStatCache()

    def work(n: int) -> None:
        for i in range(500):
            cache.put(f"/p{n}-{i}", i, i, i, f"d{i}")
            assert cache.get(f"/p{n}-{i}", i, i, i) == f"d{i}"

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 4000


def test_memory_stat_cache_misses_on_any_changed_stat_field() -> None:
    cache = MemoryStatCache()
    cache.put("/p", 1, 2, 3, "d")
    assert [cache.get("/p", 1, 2, 3), cache.get("/p", 9, 2, 3), cache.get("/p", 1, 9, 3),
            cache.get("/p", 1, 2, 9)] == ["d", None, None, None]
    assert cache.get_many([("/p", 1, 2, 3), ("/p", 1, 2, 4), ("/q", 1, 2, 3)]) == {"/p": "d"}

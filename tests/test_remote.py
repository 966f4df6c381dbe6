"""Remote stores: many writers on S3 (moto on loopback), GCS (fake-gcs-server) and Azure
Blob (Azurite), crashes, offline reads, the cache.

Child processes get the store's URI and s3fs options through argv and a cache
folder of their own through ``MODELVER_CACHE``; two children share each cache
folder, as processes on one machine do.
"""

from __future__ import annotations

import importlib
import itertools
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import fsspec
import pytest
from conftest_cloud import CloudPlace
from conftest_s3 import FAST_FAIL, MotoS3, S3Place
from fsspec.implementations.memory import MemoryFileSystem

import modelver
from modelver import IntegrityError, StoreError
from modelver._chain import Chain
from modelver._store import StaleWarning
from modelver._versions import parse_version
from modelver.backends import _exclusive, remote

# Children print "ready" once imported and connected, then wait for "go" on stdin, so
# that slow imports do not serialize what should run concurrently.
_PRELUDE = """
import json, sys, modelver
store = modelver.open(sys.argv[1], storage_options=json.loads(sys.argv[2])).init()
store.versions()
print("ready", flush=True)
sys.stdin.readline()
"""

REGISTER = _PRELUDE + textwrap.dedent("""
    name, writer, n = sys.argv[3], sys.argv[4], int(sys.argv[5])
    for i in range(n):
        mv = store.register(name, {"writer": writer, "i": i})
        print(mv.version, writer, i, flush=True)
""")

PROMOTE = _PRELUDE + textwrap.dedent("""
    target, n = sys.argv[3], int(sys.argv[4])
    for i in range(n):
        store.promote("fraud", target, "prod", reason=f"{target}-{i}")
""")


class Child:
    def __init__(self, script: str, args: Sequence[str], cache: Path) -> None:
        env = {**os.environ, "MODELVER_CACHE": str(cache)}
        self.proc = subprocess.Popen([sys.executable, "-c", script, *args], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)

    def wait_ready(self) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            _, err = self.proc.communicate(timeout=30)
            raise AssertionError(f"child failed to start: {line}{err}")

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = 300) -> list[str]:
        out, err = self.proc.communicate(timeout=timeout)
        assert self.proc.returncode == 0, err
        return out.splitlines()


def _run_together(script: str, argvs: list[list[str]], tmp: Path) -> list[list[str]]:
    """Start one child per argv, wait until all are ready, release them at once."""
    children = [Child(script, argv, tmp / f"cache-{i // 2}") for i, argv in enumerate(argvs)]
    for c in children:
        c.wait_ready()
    for c in children:
        c.go()
    return [c.finish() for c in children]


def _fresh(place: S3Place | CloudPlace | str, tmp: Path, monkeypatch: pytest.MonkeyPatch,
           options: dict[str, Any] | None = None, **kw: Any) -> modelver.Store:
    """The store as a new machine sees it: empty index and cache."""
    monkeypatch.setenv("MODELVER_CACHE", str(tmp / f"fresh-{uuid.uuid4().hex[:8]}"))
    if not isinstance(place, str):
        return modelver.open(place.uri, storage_options=place.options, **kw)
    return modelver.open(place, storage_options=options, **kw)


# -- many writers on S3 ---------------------------------------------------------------


def _writers_get_distinct_versions(place: S3Place | CloudPlace | str, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch, writers: int = 8,
                                   each: int = 25) -> None:
    """``writers`` processes register ``each`` versions at once: every version is given
    once, none is lost, and the chain verifies from a new machine."""
    argv = [place, "{}"] if isinstance(place, str) else place.argv()
    outputs = _run_together(REGISTER, [[*argv, "fraud", str(w), str(each)]
                                       for w in range(writers)], tmp_path)
    reported = [line.split() for out in outputs for line in out]
    total = writers * each
    assert len(reported) == total
    assert len({v for v, _, _ in reported}) == total
    store = _fresh(place, tmp_path, monkeypatch)
    versions = {mv.version: mv for mv in store.versions("fraud")}
    assert sorted(parse_version(v).release[2] for v in versions) == list(range(total))
    assert len({mv.digest for mv in versions.values()}) == total
    report = store.verify()  # every chain link, and every blob re-hashed
    assert report.ok, str(report)
    assert report.entries == total and report.blobs == 2 * total  # a manifest and a file each
    for version, writer, i in random.Random(0).sample(reported, 10):
        assert store.load("fraud", version) == {"writer": writer, "i": int(i)}


def test_eight_processes_registering_on_s3_get_200_distinct_versions(
        s3: S3Place, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _writers_get_distinct_versions(s3, tmp_path, monkeypatch)


@pytest.mark.parametrize("service", ["gcs", "azure"])
def test_four_processes_registering_on_gcs_and_azure_get_40_distinct_versions(
        service: str, request: pytest.FixtureRequest, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # ifGenerationMatch=0 on fake-gcs-server, If-None-Match: * on Azurite.
    place = request.getfixturevalue(service)
    _writers_get_distinct_versions(place, tmp_path, monkeypatch, writers=4, each=10)


def test_eight_processes_registering_in_a_shared_folder_get_200_distinct_versions(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The local folder, whose exclusive create is an os.link, is the concurrency oracle
    # the same run on S3 is checked against (moto's server is a stand-in for S3).
    _writers_get_distinct_versions(f"file://{tmp_path}/shared", tmp_path,
                                             monkeypatch)


def test_four_processes_promoting_on_s3_keep_every_move(
        s3: S3Place, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = modelver.open(s3.uri, storage_options=s3.options)
    targets = [store.register("fraud", {"i": i}).version for i in range(4)]
    _run_together(PROMOTE, [[*s3.argv(), v, "10"] for v in targets], tmp_path)
    store = _fresh(s3, tmp_path, monkeypatch)
    history = store.alias_history("fraud", "prod")
    assert len(history) == 40
    assert {e.reason for e in history} == {f"{v}-{i}" for v in targets for i in range(10)}
    for before, after in itertools.pairwise(history):
        assert after.from_version == before.to_version  # an unbroken chain of moves
    assert store.resolve("fraud", "prod").version == history[-1].to_version
    assert store.verify().ok


def test_writers_to_different_models_do_not_contend(moto_s3: MotoS3, tmp_path: Path) -> None:
    n = 25
    for label, names in (("same", ["a", "a"]), ("different", ["a", "b"])):
        place = S3Place(moto_s3)
        _run_together(REGISTER, [[*place.argv(), name, str(w), str(n)]
                                 for w, name in enumerate(names)], tmp_path / label)
        store = modelver.open(place.uri, storage_options=place.options)
        assert sum(len(store.versions(m)) for m in set(names)) == 2 * n
        assert store.verify().ok


# -- crashes ----------------------------------------------------------------------------

KILLED = _PRELUDE + textwrap.dedent("""
    writer = sys.argv[3]
    for i in range(10_000):
        mv = store.register("fraud", {"writer": writer, "i": i})
        print(mv.version, writer, i, flush=True)
""")


def test_sigkill_at_random_points_loses_nothing_that_was_reported(
        s3: S3Place, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(5)
    reported: list[list[str]] = []
    for wave in range(5):  # 4 writers at a time, each killed at its own random moment
        children = [Child(KILLED, [*s3.argv(), f"{wave}-{w}"], tmp_path / "cache-shared")
                    for w in range(4)]
        for c in children:
            c.wait_ready()
        for c in children:
            c.go()
        start = time.monotonic()
        for at, c in sorted((rng.uniform(0.05, 1.0), c) for c in children):
            time.sleep(max(0.0, start + at - time.monotonic()))
            c.proc.send_signal(signal.SIGKILL)
        for c in children:
            out, _ = c.proc.communicate(timeout=60)
            assert c.proc.returncode == -signal.SIGKILL
            reported += [line.split() for line in out.splitlines(keepends=True)
                         if line.endswith("\n")]
    assert len(reported) > 20  # the kills really did land mid-stream
    # The killed writers' machine: its shared index survived the kills, agrees with the
    # remote log, and every version a writer reported is there and loads.
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "cache-shared"))
    store = modelver.open(s3.uri, storage_options=s3.options)
    report = store.verify()
    assert report.ok, str(report)
    for version, writer, i in reported:
        assert store.load("fraud", version) == {"writer": writer, "i": int(i)}
    # A new machine replays the same log.
    fresh = _fresh(s3, tmp_path, monkeypatch)
    assert fresh.head() == store.head()
    assert len(fresh.versions("fraud")) == len(store.versions("fraud"))


# -- offline ----------------------------------------------------------------------------


def test_with_the_server_stopped_exact_versions_and_aliases_still_load(
        private_moto_s3: MotoS3) -> None:
    place = S3Place(private_moto_s3)
    options = {**place.options, "config_kwargs": FAST_FAIL}
    store = modelver.open(place.uri, storage_options=options)
    first = store.register("fraud", {"i": 0})
    second = store.register("fraud", {"i": 1})
    store.backend.discard_cached(second.digest)  # as if another machine registered it
    store.promote("fraud", first.version)
    assert store.load("fraud", "prod") == {"i": 0}  # now cached on this machine
    private_moto_s3.stop()

    offline = modelver.open(place.uri, storage_options=options)
    start = time.perf_counter()
    assert offline.load("fraud", first.version) == {"i": 0}  # no network, no warning
    with pytest.warns(StaleWarning, match="cannot reach"):
        assert offline.load("fraud", "prod") == {"i": 0}
    strict = modelver.open(place.uri, storage_options=options, offline="error")
    with pytest.raises(StoreError, match="cannot reach"):
        strict.load("fraud", "prod")
    assert strict.load("fraud", first.version) == {"i": 0}
    with pytest.raises(StoreError, match="cannot download"):
        offline.load("fraud", "0.1.1")  # known, but never downloaded here
    with pytest.raises(StoreError):
        offline.register("fraud", {"i": 2})
    assert time.perf_counter() - start < 30


# -- exclusive create -------------------------------------------------------------------


class NoExclusiveFS(MemoryFileSystem):  # type: ignore[misc]
    """A filesystem modelver knows no atomic exclusive create for."""

    protocol = ("nox",)

    @classmethod
    def _strip_protocol(cls, path: str) -> str:
        return super()._strip_protocol(path.removeprefix("nox://"))


def test_a_filesystem_without_exclusive_create_is_read_only(
        monkeypatch: pytest.MonkeyPatch) -> None:
    registry = importlib.import_module("fsspec.registry")
    monkeypatch.setitem(registry._registry, "nox", NoExclusiveFS)
    name = f"nox-{uuid.uuid4().hex}"
    writer = modelver.open(f"memory://{name}")
    mv = writer.register("fraud", {"i": 0})
    reader = modelver.open(f"nox://{name}")
    assert reader.load("fraud", mv.version) == {"i": 0}
    with pytest.raises(StoreError, match="cannot be written safely"):
        reader.register("fraud", {"i": 1})
    with pytest.raises(StoreError, match="cannot be written safely"):
        reader.promote("fraud", mv.version)
    # nothing uploaded either
    assert sorted(reader.backend.blob_digests()) == sorted([mv.digest, *mv.blobs])


@pytest.mark.parametrize("protocol", ["file", "memory"])
def test_exclusive_create_lets_exactly_one_of_many_threads_win(
        protocol: str, tmp_path: Path) -> None:
    fs = fsspec.filesystem(protocol)
    base = str(tmp_path) if protocol == "file" else f"/race-{uuid.uuid4().hex}"
    for key in range(10):
        path = f"{base}/k{key}.json"
        wins = race_exclusive_create(fs, path, 16)
        assert len(wins) == 1
        assert fs.cat_file(path) == f"writer {wins[0]}".encode()  # never overwritten


def race_exclusive_create(fs: Any, path: str, writers: int) -> list[int]:
    """Start ``writers`` threads that create ``path`` exclusively at once (each writing
    ``writer N``); the numbers of those whose create succeeded."""
    barrier = threading.Barrier(writers)
    wins: list[int] = []

    def race(i: int) -> None:
        barrier.wait()
        if _exclusive.create_exclusive(fs, path, f"writer {i}".encode()):
            wins.append(i)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return wins


def test_a_retried_write_whose_response_was_lost_registers_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = remote.create_exclusive
    calls: list[str] = []

    def lands_but_reports_failure(fs: Any, path: str, data: bytes) -> bool:
        created = real(fs, path, data)
        if "/log/" in path and not calls:
            calls.append(path)
            raise OSError("connection reset after the write landed")
        return created

    monkeypatch.setattr(remote, "create_exclusive", lands_but_reports_failure)
    store = modelver.open(f"memory://lost-{uuid.uuid4().hex}")
    mv = store.register("fraud", {"i": 0})
    assert calls and mv.version == "0.1.0"
    assert [m.version for m in store.versions("fraud")] == ["0.1.0"]


def test_a_retry_that_finds_its_own_entry_does_not_append_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = remote.create_exclusive
    first: list[str] = []

    def retried_inside_the_client(fs: Any, path: str, data: bytes) -> bool:
        created = real(fs, path, data)
        if "/log/" in path and not first:
            first.append(path)
            return False  # a client-side retry got "already exists" for our own write
        return created

    monkeypatch.setattr(remote, "create_exclusive", retried_inside_the_client)
    store = modelver.open(f"memory://retry-{uuid.uuid4().hex}")
    assert store.register("fraud", {"i": 0}).version == "0.1.0"
    assert len(list(store.backend.log("fraud"))) == 1
    assert store.verify().ok


def test_a_writer_that_loses_the_race_during_build_never_reuses_a_version(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Another machine (its own cache folder) registers while this one is building its
    # entry: this one's exclusive create loses, it syncs and allocates the next version.
    uri = f"memory://lost-race-{uuid.uuid4().hex}"
    here = modelver.open(uri)
    here.register("fraud", {"i": 0})
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "other-machine"))
    other = modelver.open(uri)
    real_append = Chain.append
    interfered: list[str] = []

    def append(self: Any, name: str, build: Any) -> Any:
        def build_then_other_writes(q: Any) -> Any:
            draft = build(q)
            if self is here.chain and not interfered:
                interfered.append(other.register("fraud", {"i": "other"}).version)
            return draft
        return real_append(self, name, build_then_other_writes)

    monkeypatch.setattr(Chain, "append", append)
    mine = here.register("fraud", {"i": 1})
    assert interfered == ["0.1.1"]
    assert mine.version == "0.1.2"
    assert here.verify().ok


# -- readers: checkpoints, listings, stray files ------------------------------------------


def _fetched_paths(store: modelver.Store, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    backend: Any = store.backend
    real = backend._fetch

    def spy(paths: list[str]) -> dict[str, bytes]:
        seen.extend(paths)
        result: dict[str, bytes] = real(paths)
        return result

    monkeypatch.setattr(backend, "_fetch", spy)
    return seen


def test_a_new_reader_catches_up_from_checkpoints(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote, "CHECKPOINT_EVERY", 8)
    uri = f"memory://ckpt-{uuid.uuid4().hex}"
    writer = modelver.open(uri)
    for i in range(20):
        writer.register("fraud", {"i": i})
    fs = writer.backend.fs  # type: ignore[attr-defined]
    root = writer.backend.root  # type: ignore[attr-defined]
    written = fs.ls(f"{root}/checkpoints/fraud", detail=False)
    assert sorted(p.rsplit("/", 1)[1] for p in written) == [
        "000000000008.jsonl", "000000000016.jsonl"]

    reader = _fresh(uri, tmp_path, monkeypatch)
    fetched = _fetched_paths(reader, monkeypatch)
    assert len(reader.versions("fraud")) == 20
    assert reader.head() == writer.head()
    entries_read = sorted(int(p.rsplit("/", 1)[1][:12]) for p in fetched if "/log/" in p)
    assert entries_read[0] == 17  # 1..16 came in two checkpoint files
    assert sum("/checkpoints/" in p for p in fetched) == 2
    assert reader.verify().ok


def test_a_missing_checkpoint_is_replayed_from_entries_and_written_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(remote, "CHECKPOINT_EVERY", 8)
    uri = f"memory://gap-{uuid.uuid4().hex}"
    writer = modelver.open(uri)
    for i in range(20):
        writer.register("fraud", {"i": i})
    fs = writer.backend.fs  # type: ignore[attr-defined]
    first = f"{writer.backend.root}/checkpoints/fraud/000000000008.jsonl"  # type: ignore[attr-defined]
    fs.rm_file(first)  # as if its writer was killed right after entry 8

    reader = _fresh(uri, tmp_path, monkeypatch)
    assert len(reader.versions("fraud")) == 20  # later checkpoints do not skip the gap
    assert reader.verify().ok
    other_writer = _fresh(uri, tmp_path, monkeypatch)
    assert other_writer.register("fraud", {"i": 20}).version == "0.1.20"
    assert fs.exists(first)  # a writer that replayed entry 8 wrote its checkpoint again

    late_reader = _fresh(uri, tmp_path, monkeypatch)
    fetched = _fetched_paths(late_reader, monkeypatch)
    assert len(late_reader.versions("fraud")) == 21
    assert all(int(p.rsplit("/", 1)[1][:12]) > 16 for p in fetched if "/log/" in p)


def test_a_long_lived_reader_sees_models_and_entries_written_elsewhere(
        s3: S3Place, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here = modelver.open(s3.uri, storage_options=s3.options)
    here.register("fraud", {"i": 0})
    assert here.verify().ok  # lists the log folders (s3fs caches listings)
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "elsewhere"))
    elsewhere = modelver.open(s3.uri, storage_options={**s3.options,
                                                       "skip_instance_cache": True})
    elsewhere.register("fraud", {"i": 1})
    elsewhere.register("churn", {"i": 2})
    assert here.names() == ["churn", "fraud"]
    assert len(here.versions("fraud")) == 2
    report = here.verify()
    assert report.ok, str(report)
    assert report.entries == 3


def test_stray_temporary_files_in_a_shared_folder_are_ignored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uri = f"file://{tmp_path}/shared"
    store = modelver.open(uri)
    store.register("fraud", {"i": 0})
    (tmp_path / "shared" / "log" / "fraud" / ".tmp-killedwriter").write_text('{"half')
    assert store.verify().ok
    reader = _fresh(uri, tmp_path, monkeypatch)
    assert [mv.version for mv in reader.versions("fraud")] == ["0.1.0"]
    assert reader.register("fraud", {"i": 1}).version == "0.1.1"


# -- the blob cache -------------------------------------------------------------------------


class Unreachable:
    """A filesystem that fails every call, to prove nothing touches it."""

    protocol = "s3"

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the filesystem was used: {name}")


def test_a_cached_exact_version_loads_without_touching_the_filesystem(s3: S3Place) -> None:
    store = modelver.open(s3.uri, storage_options=s3.options)
    mv = store.register("fraud", {"i": 0})
    assert store.load("fraud", mv.version) == {"i": 0}
    again = modelver.open(s3.uri, storage_options=s3.options)  # no in-memory object cache
    again.backend.fs = Unreachable()  # type: ignore[attr-defined]
    assert again.load("fraud", mv.version) == {"i": 0}
    assert again.load("fraud", mv.digest) == {"i": 0}


def _cache_files(root: Path) -> list[Path]:
    return [p for p in (root / "blobs" / "sha256").glob("*/*") if p.is_file()]


def test_the_cache_evicts_least_recently_used_blobs_to_stay_in_bounds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each version is a 1,000-byte file and its manifest (169 bytes): three fit, not four.
    monkeypatch.setenv("MODELVER_CACHE_SIZE", "3600")
    uri = f"memory://lru-{uuid.uuid4().hex}"
    store = modelver.open(uri)
    models = [bytes([i]) * 1000 for i in range(5)]
    versions = [store.register("fraud", m).version for m in models]
    cache = tmp_path / "cache"
    for v in versions[:3]:
        store.load("fraud", v)
    time.sleep(0.01)
    modelver.open(uri).load("fraud", versions[0])  # touch the oldest: now most recent
    time.sleep(0.01)
    for v in versions[3:]:
        modelver.open(uri).load("fraud", v)
    sizes = [p.stat().st_size for p in _cache_files(cache)]
    assert len(sizes) == 6 and sum(sizes) <= 3600
    kept = {"sha256:" + p.parent.name + p.name for p in _cache_files(cache)}
    blobs = {v: {(mv := store.resolve("fraud", v)).digest, *mv.blobs} for v in versions}
    assert blobs[versions[4]] <= kept and blobs[versions[0]] <= kept
    assert not blobs[versions[1]] & kept and not blobs[versions[2]] & kept
    assert modelver.open(uri).load("fraud", versions[1]) == models[1]  # downloaded again


def _corrupt_cached(store: modelver.Store, digest: str) -> None:
    path = store.backend.cache.blobs.path(digest)  # type: ignore[attr-defined]
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.write(b"garbage")


def test_a_corrupted_blob_is_never_deserialized(tmp_path: Path) -> None:
    uri = f"memory://corrupt-{uuid.uuid4().hex}"
    store = modelver.open(uri)
    mv = store.register("fraud", {"i": 0})
    store.load("fraud", mv.version)
    _corrupt_cached(store, mv.digest)
    backend = store.backend
    backend.fs.pipe_file(backend._blob_key(mv.digest), b"garbage")  # type: ignore[attr-defined]
    with pytest.raises(IntegrityError, match="remote copy is damaged"):
        modelver.open(uri).load("fraud", mv.version)


def test_a_corrupted_cache_file_is_replaced_by_a_fresh_download(tmp_path: Path) -> None:
    uri = f"memory://heal-{uuid.uuid4().hex}"
    store = modelver.open(uri)
    mv = store.register("fraud", {"i": 0})
    store.load("fraud", mv.version)
    _corrupt_cached(store, mv.digest)
    assert modelver.open(uri).load("fraud", mv.version) == {"i": 0}
    assert store.backend.cache.blobs.rehash(mv.digest) == mv.digest  # type: ignore[attr-defined]

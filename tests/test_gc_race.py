"""gc on one machine never deletes the artifact of a version another machine registers.

Two processes, each with its own machine cache: one registers versions whose bytes
are already in the store as unreferenced, old blobs (the leftovers of deleted
versions), the other runs ``gc`` with no grace period in a tight loop. Afterwards
every version loads and ``verify`` is clean: the trash-and-recheck protocol held.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import modelver

ROUNDS = 30

WRITER = textwrap.dedent("""
    import json, os, sys, time, modelver
    store = modelver.open(sys.argv[1], json.loads(sys.argv[2]) or None)
    while not os.path.exists(sys.argv[4]):  # the collector is running
        time.sleep(0.01)
    for i in range(int(sys.argv[3])):
        store.register("fraud", b"payload %d" % i * 64)
        print(i, flush=True)
""")

COLLECTOR = textwrap.dedent("""
    import json, os, sys, time, modelver
    store = modelver.open(sys.argv[1], json.loads(sys.argv[2]) or None)
    runs = deleted = restored = 0
    while not os.path.exists(sys.argv[3]):
        report = store.gc(grace=0)
        deleted += len(report.deleted)
        restored += len(report.restored)
        runs += 1
        open(sys.argv[4], "w").close()
    print(runs, deleted, restored, flush=True)
""")


def _child(script: str, cache: Path, *args: str) -> subprocess.Popen[str]:
    env = {**__import__("os").environ, "MODELVER_CACHE": str(cache)}
    return subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _race(uri: str, options: dict[str, Any], tmp_path: Path, rounds: int
          ) -> tuple[int, int, int]:
    """(gc runs, blobs gc moved aside, versions that do not load) of one race."""
    opts = json.dumps(options)
    setup = modelver.open(uri, options or None)
    for i in range(rounds):  # the bytes are in the store already, named by nothing
        setup.backend.put_bytes(b"payload %d" % i * 64)
    done, started = tmp_path / "writer-done", tmp_path / "gc-started"
    gc = _child(COLLECTOR, tmp_path / "machine-gc", uri, opts, str(done), str(started))
    writer = _child(WRITER, tmp_path / "machine-writer", uri, opts, str(rounds), str(started))
    _, err = writer.communicate(timeout=600)
    done.touch()
    gc_out, gc_err = gc.communicate(timeout=600)
    assert writer.returncode == 0, err
    assert gc.returncode == 0, gc_err
    runs, deleted, _ = (int(x) for x in gc_out.split())
    fresh = modelver.open(uri, options or None)
    versions = fresh.versions("fraud")
    assert len(versions) == rounds
    lost = 0
    for mv in versions:
        try:
            fresh.load("fraud", mv.version)
        except modelver.NotFound:
            lost += 1
    report = fresh.verify()
    assert report.ok, str(report)
    return runs, deleted, lost


def test_gc_racing_registrations_on_a_file_store_loses_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "machine-test"))
    runs, deleted, lost = _race(f"file://{tmp_path / 'store'}", {}, tmp_path, ROUNDS)
    assert lost == 0
    assert runs > 1 and deleted >= ROUNDS  # it raced: every orphan was taken at least once


def test_gc_racing_registrations_on_s3_loses_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3: Any) -> None:
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "machine-test"))
    runs, deleted, lost = _race(s3.uri, s3.options, tmp_path, ROUNDS // 2)
    assert lost == 0
    assert runs > 1 and deleted >= ROUNDS // 2


def test_remote_gc_moves_blobs_to_a_trash_that_a_later_gc_empties(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "machine"))
    store = modelver.open(f"file://{tmp_path / 'store'}")
    store.register("fraud", b"kept")
    orphan, _ = store.backend.put_bytes(b"left by an interrupted run")
    assert store.gc(grace=0).deleted == [orphan]
    trash = tmp_path / "store" / "trash"
    assert [p.name.split(".")[0] for p in trash.iterdir()] == [orphan[7:]]
    assert store.gc(grace="1h").deleted == []  # in the trash for less than the grace
    assert len(list(trash.iterdir())) == 1
    store.gc(grace=0)
    assert list(trash.iterdir()) == []
    assert store.load("fraud") == b"kept" and store.verify().ok


def test_a_version_registered_while_its_blob_is_in_the_trash_gets_it_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "machine-a"))
    uri = f"file://{tmp_path / 'store'}"
    a = modelver.open(uri)
    digest, _ = a.backend.put_bytes(b"weights" * 100)
    a.gc(grace=0)  # moved aside: nothing names it
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "machine-b"))
    b = modelver.open(uri)
    mv = b.register("fraud", b"weights" * 100)  # b's upload finds the trash copy or re-puts
    assert mv.blobs == [digest]
    report = a.gc(grace=0)
    assert digest not in report.deleted
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "machine-c"))
    assert modelver.open(uri).load("fraud") == b"weights" * 100


def test_a_load_finds_a_blob_a_racing_gc_moved_into_the_trash(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "machine-a"))
    uri = f"file://{tmp_path / 'store'}"
    mv = modelver.open(uri).register("fraud", b"served")
    modelver.open(uri).backend.delete_blob(mv.digest)  # as gc does, before its re-check
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "machine-b"))
    assert modelver.open(uri).load("fraud") == b"served"
    assert modelver.open(uri).gc(grace=0).restored == [mv.digest]
    assert modelver.open(uri).verify().ok


@pytest.mark.parametrize("grace", [-1, "forever", True, None, "99999999999999d", 1e300])
def test_a_bad_grace_is_refused(store: modelver.Store, grace: Any) -> None:
    with pytest.raises(modelver.InvalidName, match="grace"):
        store.gc(grace=grace)


@pytest.mark.parametrize("within", ["99999999999999999999d", "5000y"])
def test_a_huge_duration_is_refused(within: str) -> None:
    with pytest.raises(modelver.InvalidName, match=r"1000 years|duration"):
        modelver.RetentionPolicy(keep_within=within)

"""Retention plans, tombstones, protections, and garbage collection of blobs."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import modelver
from modelver._records import utcnow
from modelver._retention import RetentionPolicy, gc, parse_duration, plan_retention


def _disk_bytes(store: modelver.Store) -> int:
    root = os.path.join(store.backend.blobs.root, "sha256")  # type: ignore[attr-defined]
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(root)
               for f in files)


def _ten(store: modelver.Store) -> None:
    """fraud@0.1.0 … 0.10.0, each with a distinct 10 kB artifact."""
    for i in range(10):
        store.register("fraud", bytes([i]) * 10_000, bump="minor")


def test_keep_last_two_of_ten_with_one_aliased_and_one_held_deletes_six_keeps_four(
        store: modelver.Store) -> None:
    _ten(store)
    store.promote("fraud", "0.3.0", "prod")
    store.hold("fraud", "0.5.0", "legal: case 1234")
    plan = store.plan_retention(RetentionPolicy(keep_last=2))
    assert [d.version for d in plan.deletions] == ["0.8.0", "0.7.0", "0.6.0", "0.4.0",
                                                   "0.2.0", "0.1.0"]
    assert dict(plan.kept) == {
        "fraud@0.10.0": "keep_last=2 (#1)", "fraud@0.9.0": "keep_last=2 (#2)",
        "fraud@0.5.0": "held: legal: case 1234", "fraud@0.3.0": "alias prod"}
    assert plan.bytes_freed == 6 * plan.deletions[0].size


def test_apply_frees_the_planned_bytes_on_disk(store: modelver.Store) -> None:
    _ten(store)
    store.promote("fraud", "0.3.0", "prod")
    store.hold("fraud", "0.5.0", "legal")
    plan = store.plan_retention(RetentionPolicy(keep_last=2), "fraud")
    before = _disk_bytes(store)
    # The plan counts the artifacts' files; their manifests (a few hundred bytes) go too.
    manifests = sum(os.path.getsize(store.backend.blob_path(d.digest)) for d in plan.deletions)
    tombstones = plan.apply()
    assert len(tombstones) == 6 and plan.bytes_freed > 0
    assert before - _disk_bytes(store) == plan.bytes_freed + manifests
    for d in plan.deletions:
        assert not store.backend.has_blob(d.digest)
    for ref in ("0.10.0", "0.9.0", "0.5.0", "0.3.0"):
        assert store.load("fraud", ref) is not None


def test_a_blob_shared_by_a_kept_and_a_deleted_version_survives(store: modelver.Store) -> None:
    store.register("fraud", b"A" * 5000)   # 0.1.0
    store.register("fraud", b"B" * 5000)   # 0.1.1
    store.register("fraud", b"A" * 5000)   # 0.1.2: the same artifact as 0.1.0
    plan = store.plan_retention(RetentionPolicy(keep_last=1))
    assert [d.version for d in plan.deletions] == ["0.1.1", "0.1.0"]
    assert plan.bytes_freed == plan.deletions[0].size
    plan.apply()
    assert store.load("fraud", "0.1.2") == b"A" * 5000
    assert store.backend.has_blob(store.resolve("fraud", "0.1.0").digest)
    assert not store.backend.has_blob(store.resolve("fraud", "0.1.1").digest)


def test_a_blob_shared_with_another_model_survives(store: modelver.Store) -> None:
    store.register("a", b"same")
    store.register("a", b"newer")
    store.register("b", b"same")
    store.plan_retention(RetentionPolicy(keep_last=1), "a").apply()
    assert store.load("b") == b"same"


def test_verify_passes_after_retention(store: modelver.Store) -> None:
    _ten(store)
    store.promote("fraud", "0.3.0", "prod")
    store.plan_retention(RetentionPolicy(keep_last=2)).apply()
    report = store.verify()
    assert report.ok, str(report)


def test_loading_a_deleted_version_says_when_and_why(store: modelver.Store) -> None:
    _ten(store)
    store.plan_retention(RetentionPolicy(keep_last=2)).apply()
    mv = store.resolve("fraud", "0.1.0")
    assert mv.deleted is not None and mv.deleted.by == "tester"
    assert mv.deleted.rule == "keep_last=2, keep_aliased"
    with pytest.raises(modelver.NotFound, match=r"deleted by retention at 20\d\d-.*"
                       r"retention: not among the last 2"):
        store.load("fraud", "0.1.0")


def test_deleted_versions_stay_listed_and_are_not_planned_again(store: modelver.Store) -> None:
    _ten(store)
    store.plan_retention(RetentionPolicy(keep_last=2)).apply()
    assert [v.deleted is not None for v in store.versions("fraud")] == [True] * 8 + [False] * 2
    assert store.plan_retention(RetentionPolicy(keep_last=2)).deletions == []


def test_applying_a_plan_twice_is_a_conflict(store: modelver.Store) -> None:
    _ten(store)
    plan = store.plan_retention(RetentionPolicy(keep_last=9))
    plan.apply()
    with pytest.raises(modelver.Conflict, match="already deleted"):
        plan.apply()


def test_a_version_promoted_after_planning_is_protected(store: modelver.Store) -> None:
    _ten(store)
    plan = store.plan_retention(RetentionPolicy(keep_last=2))
    store.promote("fraud", "0.4.0", "prod")
    with pytest.raises(modelver.Protected, match=r"fraud@0.4.0 is what fraud@prod points to"):
        plan.apply()
    assert all(v.deleted is None for v in store.versions("fraud"))


def test_a_hold_placed_during_apply_is_seen_inside_the_write_transaction(
        store: modelver.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    _ten(store)
    plan = store.plan_retention(RetentionPolicy(keep_last=2))
    chain = store.chain
    real_append = chain.append

    def racing_append(name: str, build: Any) -> Any:
        monkeypatch.setattr(chain, "append", real_append)
        store.hold("fraud", plan.deletions[0].version, "legal")  # another writer wins
        return real_append(name, build)

    monkeypatch.setattr(chain, "append", racing_append)
    with pytest.raises(modelver.Protected, match="changed since the plan was made"):
        plan.apply()
    assert store.resolve("fraud", plan.deletions[0].version).deleted is None


def test_released_holds_no_longer_protect(store: modelver.Store) -> None:
    _ten(store)
    store.hold("fraud", "0.1.0", "legal")
    store.release("fraud", "0.1.0")
    plan = store.plan_retention(RetentionPolicy(keep_last=9))
    assert [d.version for d in plan.deletions] == ["0.1.0"]


def test_keep_aliased_false_lets_an_aliased_version_go(store: modelver.Store) -> None:
    _ten(store)
    store.promote("fraud", "0.1.0", "prod")
    plan = store.plan_retention(RetentionPolicy(keep_last=9, keep_aliased=False))
    assert [d.version for d in plan.deletions] == ["0.1.0"]


def test_min_age_keeps_a_version_that_once_served(store: modelver.Store) -> None:
    _ten(store)
    store.promote("fraud", "0.1.0", "prod")
    store.promote("fraud", "0.10.0", "prod")  # 0.1.0 served until now
    policy = RetentionPolicy(keep_last=2, min_age="7y")
    kept = dict(plan_retention(store.chain, policy).kept)
    assert "min_age=7y not passed" in kept["fraud@0.1.0"]
    later = utcnow() + timedelta(days=8 * 365)
    plan = plan_retention(store.chain, policy, now=later)
    assert "fraud@0.1.0" in [d.ref for d in plan.deletions]
    no_min_age = store.plan_retention(RetentionPolicy(keep_last=2))
    assert "fraud@0.1.0" in [d.ref for d in no_min_age.deletions]


def test_keep_within_keeps_recent_versions(store: modelver.Store) -> None:
    _ten(store)
    policy = RetentionPolicy(keep_within="90d")
    assert plan_retention(store.chain, policy).deletions == []
    later = plan_retention(store.chain, policy, now=utcnow() + timedelta(days=91))
    assert len(later.deletions) == 10
    assert later.deletions[0].rule == "older than 90d"


def test_keep_tagged_keeps_versions_with_the_tag_key(store: modelver.Store) -> None:
    store.register("fraud", b"1", tags={"release": "q1"})
    store.register("fraud", b"2")
    store.register("fraud", b"3")
    plan = store.plan_retention(RetentionPolicy(keep_last=1, keep_tagged=("release",)))
    assert [d.version for d in plan.deletions] == ["0.1.1"]
    assert dict(plan.kept)["fraud@0.1.0"] == "tagged 'release'"


@pytest.mark.parametrize("text, days", [("90d", 90), ("12h", 0.5), ("2w", 14), ("7y", 7 * 365),
                                        ("3mo", 90), ("30min", 30 / 1440)])
def test_durations_parse(text: str, days: float) -> None:
    assert parse_duration(text) == timedelta(days=days)


@pytest.mark.parametrize("bad", ["90", "d", "5m", "-1d", "1.5d", "ninety days", 90])
def test_bad_durations_are_invalid(bad: Any) -> None:
    with pytest.raises(modelver.InvalidName):
        RetentionPolicy(keep_within=bad)


@pytest.mark.parametrize("kwargs", [{}, {"keep_last": -1}, {"keep_last": True},
                                    {"keep_last": 1, "keep_tagged": (1,)},
                                    {"keep_last": 1, "min_age": "soon"}])
def test_bad_policies_are_invalid(kwargs: dict[str, Any]) -> None:
    with pytest.raises(modelver.InvalidName):
        RetentionPolicy(**kwargs)


def test_plan_is_printable_and_serializable(store: modelver.Store) -> None:
    _ten(store)
    plan = store.plan_retention(RetentionPolicy(keep_last=2, keep_within="30d"), "fraud")
    assert plan.deletions == []  # everything is recent
    plan = plan_retention(store.chain, RetentionPolicy(keep_last=2, keep_within="30d"),
                          now=utcnow() + timedelta(days=31))
    text = str(plan)
    assert text.startswith("retention plan for every model (keep_last=2, keep_within=30d, "
                           "keep_aliased): delete 8 version(s), keep 2, free 80,")
    assert "not among the last 2 (#3) and older than 30d" in text
    assert plan.to_dict()["deletions"][0]["version"] == "0.8.0"
    assert "<table" in plan._repr_html_() and "delete fraud@0.8.0" in plan._repr_html_()


def test_planning_for_an_unknown_model_is_not_found(store: modelver.Store) -> None:
    store.register("fraud", 1)
    with pytest.raises(modelver.NotFound, match="did you mean"):
        store.plan_retention(RetentionPolicy(keep_last=1), "frad")


def test_plan_of_an_empty_store_is_empty(tmp_path: Path) -> None:
    empty = modelver.open(str(tmp_path / "empty")).init()
    assert empty.plan_retention(RetentionPolicy(keep_last=1)).deletions == []
    assert empty.gc().deleted == []


def _age(store: modelver.Store, digest: str, seconds: float) -> None:
    path = store.backend.blob_path(digest)
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_gc_deletes_old_unreferenced_blobs_only(store: modelver.Store) -> None:
    store.register("fraud", b"kept")
    orphan, _ = store.backend.put_bytes(b"orphan" * 100)
    fresh, _ = store.backend.put_bytes(b"fresh upload")
    _age(store, orphan, 7200)
    dry = store.gc(dry_run=True)
    assert dry.deleted == [orphan] and dry.bytes_freed == 600 and dry.skipped_recent == [fresh]
    assert store.backend.has_blob(orphan)
    report = store.gc()
    assert report.deleted == [orphan] and report.bytes_freed == 600
    assert not store.backend.has_blob(orphan) and store.backend.has_blob(fresh)
    assert store.verify().ok


def test_gc_collects_the_artifacts_of_deleted_versions_that_apply_left(
        store: modelver.Store) -> None:
    _ten(store)
    store.plan_retention(RetentionPolicy(keep_last=2)).apply()
    assert gc(store.chain, grace_s=0).deleted == []  # apply already removed them
    code_and_artifacts = set(store.backend.blob_digests())
    assert {v.digest for v in store.versions("fraud") if v.deleted is None} <= code_and_artifacts


def test_gc_removes_leftover_temporary_files(store: modelver.Store) -> None:
    store.register("fraud", b"x")
    tmp_dir = Path(store.backend.blobs.root) / "tmp"  # type: ignore[attr-defined]
    tmp_dir.mkdir(exist_ok=True)
    leftover = tmp_dir / "blob-killed"
    leftover.write_bytes(b"partial")
    old = time.time() - 7200
    os.utime(leftover, (old, old))
    assert store.gc().temporaries == [str(leftover)]
    assert not leftover.exists()


def test_retention_and_gc_on_a_remote_store() -> None:
    import uuid

    remote = modelver.open(f"memory://mv-{uuid.uuid4().hex}")
    for i in range(3):
        remote.register("fraud", bytes([i]) * 100)
    plan = remote.plan_retention(RetentionPolicy(keep_last=1))
    plan.apply()
    assert not remote.backend.has_blob(plan.deletions[0].digest)
    with pytest.raises(modelver.NotFound, match="deleted by retention"):
        remote.load("fraud", "0.1.0")
    orphan, _ = remote.backend.put_bytes(b"orphan")
    assert remote.gc().skipped_recent == [orphan]  # age unknown: kept by default
    assert gc(remote.chain, grace_s=0).deleted == [orphan]
    assert remote.verify().ok


def test_min_age_counts_a_version_an_alias_points_at_now_as_still_serving(
        store: modelver.Store) -> None:
    _ten(store)
    store.promote("fraud", "0.1.0", "prod")
    policy = RetentionPolicy(keep_last=2, keep_aliased=False, min_age="1y")
    later = utcnow() + timedelta(days=800)
    plan = plan_retention(store.chain, policy, now=later)
    assert "fraud@0.1.0" not in [d.ref for d in plan.deletions]


def test_retention_on_a_remote_store_keeps_a_blob_another_model_shares(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uuid

    uri = f"memory://shared-{uuid.uuid4().hex}"
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "machine-a"))
    a = modelver.open(uri)
    a.register("m", b"shared tokenizer")
    a.register("m", b"m-2")
    a.register("m", b"m-3")
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "machine-b"))
    modelver.open(uri).register("b", b"shared tokenizer")  # a never synced model b
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "machine-a"))
    a.plan_retention(modelver.RetentionPolicy(keep_last=1), "m").apply()
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "machine-c"))
    fresh = modelver.open(uri)
    assert fresh.load("b", "0.1.0") == b"shared tokenizer"
    assert fresh.verify().ok


def test_gc_on_a_remote_store_deletes_old_orphans(monkeypatch: pytest.MonkeyPatch) -> None:
    import time
    import uuid

    store = modelver.open(f"memory://gc-{uuid.uuid4().hex}")
    store.register("m", b"kept")
    orphan, _ = store.backend.put_bytes(b"interrupted upload")
    assert store.gc().deleted == []  # too young: a writer may be about to name it
    monkeypatch.setattr(time, "time", lambda: 10**10)
    assert store.gc().deleted == [orphan]
    assert store.load("m") == b"kept"

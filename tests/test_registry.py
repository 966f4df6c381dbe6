"""Aliases, rollback, references and immutability on a real SQLite store."""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime, timezone

import pytest

import modelver


def _three(store: modelver.Store) -> None:
    for i in range(3):
        store.register("fraud", {"w": i}, bump="minor")


def test_promote_records_reason_author_and_from(store: modelver.Store) -> None:
    _three(store)
    store.promote("fraud", "0.1.0", "prod", reason="first")
    event = store.promote("fraud", "0.2.0", "prod", reason="better AUC")
    assert (event.from_version, event.to_version, event.reason, event.by, event.kind) == (
        "0.1.0", "0.2.0", "better AUC", "tester", "promote")
    assert store.resolve("fraud", "prod").version == "0.2.0"
    assert [e.reason for e in store.alias_history("fraud", "prod")] == ["first", "better AUC"]


def test_load_by_alias_returns_the_promoted_model(store: modelver.Store) -> None:
    _three(store)
    store.promote("fraud", "0.2.0", "prod")
    assert store.load("fraud", "prod") == {"w": 1}


def test_rollback_after_three_promotions_walks_back_one_step_at_a_time(
        store: modelver.Store) -> None:
    _three(store)
    for v in ("0.1.0", "0.2.0", "0.3.0"):
        store.promote("fraud", v, "prod")
    assert store.rollback("fraud", "prod", reason="bad").to_version == "0.2.0"
    assert store.rollback("fraud", "prod").to_version == "0.1.0"
    with pytest.raises(modelver.NotFound, match="no earlier target"):
        store.rollback("fraud", "prod")
    kinds = [e.kind for e in store.alias_history("fraud", "prod")]
    assert kinds == ["promote", "promote", "promote", "rollback", "rollback"]


def test_rollback_to_an_explicit_version(store: modelver.Store) -> None:
    _three(store)
    store.promote("fraud", "0.3.0", "prod")
    assert store.rollback("fraud", "prod", to="0.1.0").to_version == "0.1.0"


def test_rollback_with_no_history_raises(store: modelver.Store) -> None:
    _three(store)
    store.promote("fraud", "0.1.0", "prod")
    with pytest.raises(modelver.NotFound):
        store.rollback("fraud", "prod")


def test_resolve_at_returns_the_target_at_that_time(store: modelver.Store) -> None:
    _three(store)
    store.promote("fraud", "0.1.0", "prod")
    time.sleep(0.01)
    between = datetime.now(timezone.utc)
    time.sleep(0.01)
    store.promote("fraud", "0.3.0", "prod")
    assert store.resolve("fraud", "prod", at=between).version == "0.1.0"
    assert store.resolve("fraud", "prod", at=datetime.now(timezone.utc)).version == "0.3.0"
    with pytest.raises(modelver.NotFound):
        store.resolve("fraud", "prod", at=datetime(2000, 1, 1, tzinfo=timezone.utc))


def test_expect_mismatch_fails_and_changes_nothing(store: modelver.Store) -> None:
    _three(store)
    store.promote("fraud", "0.1.0", "prod")
    with pytest.raises(modelver.Conflict):
        store.promote("fraud", "0.3.0", "prod", expect="0.2.0")
    assert store.resolve("fraud", "prod").version == "0.1.0"
    assert len(store.alias_history("fraud", "prod")) == 1
    store.promote("fraud", "0.3.0", "prod", expect="0.1.0")
    assert store.resolve("fraud", "prod").version == "0.3.0"


@pytest.mark.parametrize("alias", ["latest", "Prod", "1.2.0", "-x", "a" * 64, "pr od", ""])
def test_bad_aliases_are_refused(store: modelver.Store, alias: str) -> None:
    _three(store)
    with pytest.raises(modelver.InvalidName):
        store.promote("fraud", "0.1.0", alias)


def test_references_exact_latest_specifier_and_digest(store: modelver.Store) -> None:
    _three(store)
    store.register("fraud", {"w": "rc"}, version="1.0.0-rc.1")
    assert store.resolve("fraud", "1.0.0rc1").version == "1.0.0rc1"
    assert store.resolve("fraud", "latest").version == "0.3.0"
    assert store.resolve("fraud", ">=0.1,<0.3").version == "0.2.0"
    assert store.resolve("fraud", "~=0.1").version == "0.3.0"
    mv = store.resolve("fraud", "0.2.0")
    assert store.resolve("fraud", mv.digest[:16]).version == "0.2.0"


def test_ambiguous_digest_prefix_raises(store: modelver.Store) -> None:
    from collections import Counter

    digests = [store.register("fraud", {"w": i}).digest for i in range(20)]
    shared = Counter(d[7] for d in digests).most_common(1)[0][0]  # 20 digests, 16 hex digits
    with pytest.raises(modelver.InvalidName, match="ambiguous"):
        store.resolve("fraud", "sha256:" + shared)


def test_build_metadata_is_refused(store: modelver.Store) -> None:
    with pytest.raises(modelver.InvalidName, match="build metadata"):
        store.register("fraud", {"w": 1}, version="1.0.0+abc")


def test_registering_an_existing_version_raises(store: modelver.Store) -> None:
    store.register("fraud", {"w": 1}, version="1.0.0")
    with pytest.raises(modelver.VersionExists):
        store.register("fraud", {"w": 2}, version="1.0.0")
    assert store.load("fraud", "1.0.0") == {"w": 1}


def test_sqlite_refuses_updates_and_deletes_of_version_rows(store: modelver.Store) -> None:
    store.register("fraud", {"w": 1})
    store.promote("fraud", "0.1.0", "prod")
    conn = sqlite3.connect(store.backend.db_path)  # type: ignore[attr-defined]
    with pytest.raises(sqlite3.DatabaseError, match="immutable"):
        conn.execute("UPDATE versions SET digest = 'x'")
    with pytest.raises(sqlite3.DatabaseError, match="immutable"):
        conn.execute("DELETE FROM versions")
    with pytest.raises(sqlite3.DatabaseError, match="immutable"):
        conn.execute("DELETE FROM alias_events")
    conn.close()


def test_blobs_are_read_only(store: modelver.Store) -> None:
    import os
    import stat

    mv = store.register("fraud", {"w": 1})
    mode = os.stat(store.backend.blob_path(mv.digest)).st_mode
    assert not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def test_module_functions_use_the_default_store(store: modelver.Store) -> None:
    modelver.register("churn", [1, 2])
    modelver.promote("churn", "0.1.0", "staging")
    assert modelver.load("churn", "staging") == [1, 2]
    assert [e.to_version for e in modelver.alias_history("churn", "staging")] == ["0.1.0"]


def test_promoting_the_same_version_twice_does_not_trap_rollback(
        store: modelver.Store) -> None:
    _three(store)
    store.promote("fraud", "0.1.0", "prod")
    store.promote("fraud", "0.2.0", "prod")
    store.promote("fraud", "0.2.0", "prod", reason="CI re-run")
    assert store.rollback("fraud", "prod").to_version == "0.1.0"

"""A store written by modelver's first schema opens, upgrades once, and keeps everything.

``tests/data/store-v1`` was written by the release before the read-model rewrite
(records stored twice, pre-releases ordered by a flag): two runs, five versions of
``fraud`` (1.0.0rc2 and 1.0.0rc10 among them), one of ``other`` with a parent and a
tag, two promotions of ``prod``, and a hold placed and released.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

import modelver
from modelver._index.schema import SCHEMA_USER_VERSION
from modelver._log import combined_head

FIXTURE = Path(__file__).parent / "data" / "store-v1"


def _copy_fixture(tmp_path: Path) -> Path:
    target = tmp_path / "store-v1"
    shutil.copytree(FIXTURE, target)
    for path in target.rglob("*"):  # blobs are read-only; the copy must be removable
        path.chmod(path.stat().st_mode | 0o200)
    return target


@pytest.fixture
def old_store(tmp_path: Path) -> modelver.Store:
    return modelver.open(str(_copy_fixture(tmp_path)))


def _user_version(store: modelver.Store) -> int:
    conn = sqlite3.connect(store.backend.db_path)  # type: ignore[attr-defined]
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def test_the_fixture_is_a_schema_1_store() -> None:
    conn = sqlite3.connect(FIXTURE / "registry.db")
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    finally:
        conn.close()


def test_an_old_store_is_upgraded_and_reads_the_same(old_store: modelver.Store) -> None:
    versions = [mv.version for mv in old_store.versions("fraud")]
    assert versions == ["0.1.0", "0.2.0", "1.0.0rc2", "1.0.0rc10", "1.0.0"]
    assert _user_version(old_store) == SCHEMA_USER_VERSION
    assert old_store.resolve("fraud", "prod").version == "1.0.0"
    assert [e.to_version for e in old_store.alias_history("fraud", "prod")] == ["0.1.0",
                                                                               "1.0.0"]
    assert old_store.holds() == []
    child = old_store.resolve("other", "latest")
    assert (child.parents, child.tags) == (["fraud@1.0.0"], {"team": "risk"})
    assert len(old_store.runs("fraud")) == 2
    assert old_store.load("fraud", "1.0.0") == b"one"


def test_an_upgraded_store_verifies_and_accepts_new_versions(old_store: modelver.Store) -> None:
    assert old_store.verify().ok
    mv = old_store.register("fraud", b"next", bump="minor")
    assert mv.version == "1.1.0"
    assert old_store.verify().ok


def test_the_upgrade_packs_every_entry_and_keeps_its_bytes(old_store: modelver.Store) -> None:
    conn = sqlite3.connect(FIXTURE / "registry.db")
    try:
        last = conn.execute("SELECT name, seq, hash FROM entries e WHERE seq = "
                            "(SELECT max(seq) FROM entries WHERE name = e.name)").fetchall()
    finally:
        conn.close()
    assert old_store.head() == combined_head({n: (s, h) for n, s, h in last})
    conn = sqlite3.connect(old_store.backend.db_path)  # type: ignore[attr-defined]
    try:
        columns = {r[1] for r in conn.execute("PRAGMA table_info(entries)")}
    finally:
        conn.close()
    assert "text" not in columns and "data" in columns


def test_an_edit_of_a_chains_last_entry_before_the_upgrade_still_shows(
        tmp_path: Path) -> None:
    target = _copy_fixture(tmp_path)
    conn = sqlite3.connect(target / "registry.db")
    try:
        conn.execute("DROP TRIGGER entries_no_update")
        (seq,) = conn.execute("SELECT max(seq) FROM entries WHERE name = 'fraud'").fetchone()
        conn.execute("UPDATE entries SET text = replace(text, '\"at\":\"', '\"at\":\"1') "
                     "WHERE name = 'fraud' AND seq = ?", (seq,))
        conn.commit()
    finally:
        conn.close()
    report = modelver.open(str(target)).verify()
    assert ("edited", f"fraud#{seq}") in {(p.kind, p.where) for p in report.problems}


def test_the_upgrade_keeps_every_log_entry(old_store: modelver.Store) -> None:
    head = old_store.head()
    assert len(list(old_store.backend.scan("fraud"))) == 9
    reopened = modelver.open(old_store.uri)
    assert reopened.head() == head


def test_a_schema_2_store_gains_the_quarantine_and_keeps_everything(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    store = modelver.open(uri)
    store.register("fraud", b"v1")
    store.promote("fraud", "0.1.0")
    store.close()
    with sqlite3.connect(tmp_path / "store" / "registry.db") as conn:
        conn.execute("DROP TABLE quarantine")
        conn.execute("PRAGMA user_version = 2")
    reopened = modelver.open(uri)
    assert reopened.load("fraud", "prod") == b"v1"
    assert _user_version(reopened) == SCHEMA_USER_VERSION
    assert reopened.verify().ok


def test_a_schema_3_store_gets_the_short_sort_keys_and_keeps_its_order(tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    store = modelver.open(uri)
    for version in ("0.9.0", "0.10.0rc1", "0.10.0", "1.0.0"):
        store.register("fraud", version.encode(), version=version)
    store.promote("fraud", "0.10.0")
    store.close()
    db = tmp_path / "store" / "registry.db"
    with sqlite3.connect(db) as conn:  # schema 3: zero-padded keys and a second index
        conn.execute("CREATE INDEX versions_order ON versions (name, pre, sort_key)")
        conn.execute("DROP TRIGGER versions_no_update")
        conn.execute("UPDATE versions SET sort_key = 'x' || sort_key")
        conn.execute("PRAGMA user_version = 3")
    reopened = modelver.open(uri)
    assert [v.version for v in reopened.versions("fraud")] == [
        "0.9.0", "0.10.0rc1", "0.10.0", "1.0.0"]
    assert reopened.resolve("fraud", "latest").version == "1.0.0"
    assert reopened.resolve("fraud", "<1").version == "0.10.0"
    assert _user_version(reopened) == SCHEMA_USER_VERSION
    with sqlite3.connect(db) as conn:
        keys = [r[0] for r in conn.execute("SELECT sort_key FROM versions ORDER BY sort_key")]
        indexes = {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert keys == ["101910~", "1021010c11", "1021010~", "111010~"]
    assert "versions_order" not in indexes
    assert reopened.verify().ok


def test_a_schema_4_store_gains_the_artifact_columns_and_loads_as_before(
        tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    store = modelver.open(uri)
    mv = store.register("fraud", {"model": b"weights", "labels": ["no", "yes"]})
    store.close()
    db = tmp_path / "store" / "registry.db"
    with sqlite3.connect(db) as conn:  # schema 4: no record schema, no artifact column
        for column in ("schema", "blobs", "artifact"):
            conn.execute(f"ALTER TABLE versions DROP COLUMN {column}")
        conn.execute("PRAGMA user_version = 4")
    reopened = modelver.open(uri)
    again = reopened.resolve("fraud", "latest")
    assert again == mv and again.artifacts == mv.artifacts and again.blobs == mv.blobs
    assert reopened.load("fraud", artifact="labels", safe=True) == ["no", "yes"]
    assert _user_version(reopened) == SCHEMA_USER_VERSION
    assert reopened.verify().ok

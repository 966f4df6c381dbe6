"""``verify`` detects every kind of tampering, each case on a real SQLite file."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest
from tampering import tamper

import modelver


@pytest.fixture
def filled(store: modelver.Store) -> modelver.Store:
    for i in range(3):
        store.register("fraud", {"w": i}, bump="minor")
    store.promote("fraud", "0.1.0", "prod")
    store.promote("fraud", "0.2.0", "prod")
    store.promote("fraud", "0.3.0", "prod")
    return store


def _kinds(store: modelver.Store) -> set[str]:
    report = store.verify()
    assert not report.ok
    return {p.kind for p in report.problems}


def test_an_untouched_store_verifies(filled: modelver.Store) -> None:
    report = filled.verify()
    assert report.ok, str(report)
    assert report.entries == 6 and report.blobs == 6  # a manifest and a file per version


def test_editing_a_version_row_is_reported(filled: modelver.Store) -> None:
    tamper(filled, "UPDATE versions SET created_by = 'mallory' WHERE version = '0.2.0'")
    assert filled.resolve("fraud", "0.2.0").created_by == "mallory"  # what the forgery shows
    assert "edited" in _kinds(filled)


def test_a_forged_sort_column_is_reported(filled: modelver.Store) -> None:
    tamper(filled, "UPDATE versions SET sort_key = '9' WHERE version = '0.1.0'")
    assert filled.resolve("fraud", "latest").version == "0.1.0"  # what the forgery achieves
    assert "edited" in _kinds(filled)


def test_a_forged_lineage_edge_is_reported(filled: modelver.Store) -> None:
    tamper(filled, "INSERT INTO edges VALUES ('other@1.0.0', 'fraud@0.3.0')")
    assert "inserted" in _kinds(filled)


def test_dropped_immutability_triggers_are_reported(filled: modelver.Store) -> None:
    tamper(filled, keep_triggers_dropped=True)
    assert _kinds(filled) == {"trigger-dropped"}


def test_editing_an_alias_event_row_is_reported(filled: modelver.Store) -> None:
    tamper(filled, "UPDATE alias_events SET to_version = '0.3.0' WHERE seq = 5")
    assert "edited" in _kinds(filled)


def test_editing_a_log_entry_is_reported(filled: modelver.Store) -> None:
    tamper(filled, "UPDATE entries SET data = pack_entry(replace(entry_json(data), "
                   "'\"by\":\"tester\"', '\"by\":\"mallory\"')) WHERE seq = 4")
    assert {"edited", "edited-or-reordered"} <= _kinds(filled)


def test_deleting_an_event_is_reported(filled: modelver.Store) -> None:
    tamper(filled, "DELETE FROM entries WHERE seq = 5", "DELETE FROM alias_events WHERE seq = 5")
    assert "deleted" in _kinds(filled)


def test_swapping_two_events_is_reported(filled: modelver.Store) -> None:
    conn = sqlite3.connect(filled.backend.db_path)  # type: ignore[attr-defined]
    rows = dict(conn.execute("SELECT seq, hex(data) FROM entries WHERE seq IN (4, 5)"
                             ).fetchall())
    conn.close()
    tamper(filled,
           f"UPDATE entries SET data = x'{rows[5]}' WHERE seq = 4",
           f"UPDATE entries SET data = x'{rows[4]}' WHERE seq = 5")
    kinds = _kinds(filled)
    assert "reordered" in kinds or "edited-or-reordered" in kinds


def test_editing_a_blob_in_place_is_reported(filled: modelver.Store) -> None:
    mv = filled.resolve("fraud", "0.2.0")
    path = filled.backend.blob_path(mv.digest)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    with open(path, "r+b") as f:
        f.seek(5)
        byte = f.read(1)
        f.seek(5)
        f.write(bytes([byte[0] ^ 0xFF]))
    assert "altered-blob" in _kinds(filled)


def test_a_missing_blob_is_reported(filled: modelver.Store) -> None:
    mv = filled.resolve("fraud", "0.1.0")
    os.unlink(filled.backend.blob_path(mv.digest))
    assert "missing-blob" in _kinds(filled)


def test_a_truncated_tail_is_caught_by_a_trusted_head(filled: modelver.Store) -> None:
    head = filled.head()
    assert filled.verify(head=head).ok
    tamper(filled, "DELETE FROM entries WHERE seq = 6", "DELETE FROM alias_events WHERE seq = 6",
            "UPDATE aliases SET version = '0.2.0'",
            "UPDATE heads SET seq = 5, hash = (SELECT entry_hash(data) FROM entries WHERE seq = 5)")
    assert filled.verify().ok  # the chain alone cannot see a cut tail
    assert "head-mismatch" in {p.kind for p in filled.verify(head=head).problems}


def test_signed_entries_are_checked(filled: modelver.Store,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELVER_SIGNING_KEY", "k1")
    filled.register("fraud", {"w": 9})
    kinds = _kinds(filled)  # the earlier, unsigned entries fail the check
    assert kinds == {"bad-signature"}
    monkeypatch.setenv("MODELVER_SIGNING_KEY", "other")
    assert "bad-signature" in _kinds(filled)


def test_verify_cli_exits_non_zero_on_problems(filled: modelver.Store,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from modelver.cli import main

    assert main(["verify", "--store", filled.uri]) == 0
    mv = filled.resolve("fraud", "0.1.0")
    os.unlink(filled.backend.blob_path(mv.digest))
    assert main(["verify", "--store", filled.uri]) == 1
    assert "missing-blob" in capsys.readouterr().out

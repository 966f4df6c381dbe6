"""Lock files and pins: tests and serving that do not drift when aliases move."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import modelver
from modelver.cli import main


@pytest.fixture
def moved(store: modelver.Store, tmp_path: Path) -> Path:
    store.register("fraud", {"v": 1}, version="1.0.0")
    store.register("fraud", {"v": 2}, version="2.0.0")
    store.register("churn", {"c": 1}, version="2.1.0")
    store.promote("fraud", "1.0.0", "prod")
    lock_path = tmp_path / "modelver.lock"
    modelver.lock("fraud@prod", "churn@~=2.1", path=str(lock_path))
    store.promote("fraud", "2.0.0", "prod")
    return lock_path


def test_the_lock_file_is_sorted_toml(moved: Path) -> None:
    text = moved.read_text()
    assert text.index('[models."churn"]') < text.index('[models."fraud"]')
    assert 'version = "1.0.0"' in text and 'ref = "prod"' in text


def test_a_locked_load_ignores_the_moved_alias(store: modelver.Store, moved: Path) -> None:
    assert store.load("fraud", "prod") == {"v": 2}
    modelver.use_lock(str(moved))
    assert modelver.load("fraud", "prod") == {"v": 1}


def test_a_lock_found_beside_pyproject_is_used(store: modelver.Store, moved: Path,
                                               tmp_path: Path) -> None:
    from modelver import _locking

    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n")
    _locking._explicit.clear()
    assert store.load("fraud", "prod") == {"v": 1}


def test_outside_pytest_a_lock_beside_pyproject_is_not_picked_up(
        store: modelver.Store, moved: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A serving process started from the project folder must follow promote/rollback.
    from modelver import _locking

    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n")
    _locking._explicit.clear()
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    assert store.load("fraud", "prod") == {"v": 2}
    monkeypatch.setenv("MODELVER_LOCK", str(moved))
    assert store.load("fraud", "prod") == {"v": 1}


def test_a_name_missing_from_the_lock_is_an_error(store: modelver.Store, moved: Path) -> None:
    store.register("other", b"x")
    modelver.use_lock(str(moved))
    with pytest.raises(modelver.NotFound, match="not pinned"):
        store.load("other")


def test_a_tampered_locked_blob_fails(store: modelver.Store, moved: Path) -> None:
    modelver.use_lock(str(moved))
    mv = store.resolve("fraud", "1.0.0")
    path = store.backend.blob_path(mv.digest)
    os.chmod(path, 0o600)
    data = bytearray(Path(path).read_bytes())
    data[-2] ^= 0xFF
    Path(path).write_bytes(bytes(data))
    with pytest.raises(modelver.IntegrityError):
        modelver.open(store.uri).load("fraud", "prod")


def test_a_lock_whose_digest_differs_is_refused(store: modelver.Store, moved: Path) -> None:
    text = moved.read_text()
    digest = store.resolve("fraud", "1.0.0").digest
    moved.write_text(text.replace(digest, "sha256:" + "0" * 64))
    modelver.use_lock(str(moved))
    with pytest.raises(modelver.IntegrityError, match="lock pins"):
        store.load("fraud", "prod")


def test_lock_check_reports_the_move_and_exits_non_zero(
        store: modelver.Store, moved: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["lock", "--check", "--file", str(moved), "--store", store.uri])
    out = capsys.readouterr().out
    assert code == 1 and "fraud@prod: locked 1.0.0, now 2.0.0" in out
    assert main(["lock", "--file", str(moved), "--store", store.uri]) == 0
    assert main(["lock", "--check", "--file", str(moved), "--store", store.uri]) == 0


def test_a_malformed_lock_file_says_so(tmp_path: Path) -> None:
    bad = tmp_path / "bad.lock"
    bad.write_text("[models.fraud\n")
    with pytest.raises(modelver.InvalidName, match="not valid TOML"):
        modelver.use_lock(str(bad))


def test_an_exact_version_is_loaded_as_asked_even_with_a_lock(store: modelver.Store,
                                                             moved: Path) -> None:
    modelver.use_lock(str(moved))
    assert modelver.load("fraud", "2.0.0") == {"v": 2}
    assert modelver.load("fraud", store.resolve("fraud", "2.0.0").digest) == {"v": 2}


def test_resolve_and_load_agree_under_a_lock_and_under_pins(store: modelver.Store,
                                                           moved: Path) -> None:
    # Before: resolve() ignored the lock, so code that printed the version it was about
    # to serve printed 2.0.0 and then loaded 1.0.0.
    modelver.use_lock(str(moved))
    assert store.resolve("fraud", "prod").version == "1.0.0"
    assert modelver.resolve("fraud", "prod").version == "1.0.0"
    assert modelver.load("fraud", "prod") == {"v": 1}
    with modelver.pin(fraud="2.0.0"):
        assert modelver.resolve("fraud", "prod").version == "2.0.0"
        assert modelver.load("fraud", "prod") == {"v": 2}
    # Time travel asks where the alias pointed, which the lock does not change.
    assert store.resolve("fraud", "prod", at=modelver.alias_history("fraud", "prod")[-1]
                         .at).version == "2.0.0"


def test_lock_and_lock_check_read_the_store_not_the_lock_in_force(
        store: modelver.Store, moved: Path, capsys: pytest.CaptureFixture[str]) -> None:
    modelver.use_lock(str(moved))
    assert main(["lock", "--check", "--file", str(moved), "--store", store.uri]) == 1
    assert "now 2.0.0" in capsys.readouterr().out
    # Promoting and rolling back act on the alias itself, not on the pinned version.
    store.promote("fraud", "latest", "staging")
    assert store.alias_history("fraud", "staging")[-1].to_version == "2.0.0"


def test_a_store_opened_without_lock_file_follows_aliases_but_keeps_pins(
        store: modelver.Store, moved: Path) -> None:
    modelver.use_lock(str(moved))
    free = modelver.Store.open(store.uri, lock_file=False)
    assert free.resolve("fraud", "prod").version == "2.0.0"
    free.register("other", b"x")
    assert free.load("other") == b"x"  # not pinned by the lock, and not refused for it
    with modelver.pin(fraud="1.0.0"):
        assert free.load("fraud", "prod") == {"v": 1}

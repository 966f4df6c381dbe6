"""Progress lines: only for long work, only on a terminal, and off on request."""

from __future__ import annotations

import pytest

from modelver import _progress


def test_nothing_is_drawn_when_stderr_is_not_a_terminal(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELVER_PROGRESS", raising=False)
    monkeypatch.setattr(_progress, "DELAY_S", 0.0)
    with _progress.Progress("copying", 100) as p:
        p.update(100)
    assert capsys.readouterr().err == ""


def test_long_work_draws_a_line_when_enabled(capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELVER_PROGRESS", "1")
    monkeypatch.setattr(_progress, "DELAY_S", 0.0)
    with _progress.Progress("copying", 4 * 2**20) as p:
        p.update(2**20)
    err = capsys.readouterr().err
    assert "copying: 1.0 MiB / 4.0 MiB (25%)" in err and err.endswith("\n")


def test_short_work_draws_nothing(capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELVER_PROGRESS", "1")
    with _progress.Progress("copying", 10) as p:
        p.update(10)
    assert capsys.readouterr().err == ""


def test_it_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELVER_PROGRESS", "0")
    assert not _progress.enabled()


def test_a_remote_upload_and_download_report_progress(
        tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import uuid

    import modelver

    monkeypatch.setenv("MODELVER_PROGRESS", "1")
    monkeypatch.setattr(_progress, "DELAY_S", 0.0)
    monkeypatch.setattr(_progress, "_INTERVAL_S", 0.0)
    model = tmp_path / "weights.bin"  # type: ignore[operator]
    model.write_bytes(b"w" * 2_000_000)  # over SMALL_BLOB: small ones go up in one request
    uri = f"memory://team-{uuid.uuid4().hex}"
    store = modelver.open(uri)
    store.register("fraud", model)
    assert "uploading sha256:" in capsys.readouterr().err
    store.backend.discard_cached(store.resolve("fraud").digest)
    store.load("fraud")
    assert "downloading sha256:" in capsys.readouterr().err

"""Shared fixtures: every test gets its own real store and cache folders."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import modelver
from modelver import _config

pytest_plugins = ["pytester", "conftest_s3", "conftest_cloud"]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees the developer's stores, caches, lock files or signing key."""
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MODELVER_URI", str(tmp_path / "default-store"))
    monkeypatch.setenv("MODELVER_USER", "tester")
    monkeypatch.delenv("MODELVER_SIGNING_KEY", raising=False)
    monkeypatch.delenv("MODELVER_LOCK", raising=False)
    monkeypatch.chdir(tmp_path)
    from modelver import _locking

    _locking.use_lock(None)
    _config._reset()
    yield
    _config._reset()
    _locking._explicit.clear()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[modelver.Store]:
    """A real SQLite store in a temporary folder (created, empty), also the process default."""
    s = modelver.open(str(tmp_path / "store" / ".modelver")).init()
    modelver.configure(s)
    yield s
    s.close()


def store_path(store: modelver.Store) -> str:
    """The folder of a local store."""
    return os.path.dirname(store.backend.db_path)  # type: ignore[attr-defined]

"""The backend contract (:mod:`modelver.testing`), run on every built-in backend.

One suite, run unchanged on the SQLite store, ``memory://``, a local folder through
``file://``, S3 through s3fs against moto's server, GCS through gcsfs against
fake-gcs-server and Azure Blob through adlfs against Azurite, all on loopback.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import modelver
from modelver.testing import BackendContract, StorePlace


class TestSqlite(BackendContract):
    def make_place(self, request: pytest.FixtureRequest, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> StorePlace:
        return StorePlace(str(tmp_path / "local" / ".modelver"), None, False, tmp_path,
                          monkeypatch)


class TestMemory(BackendContract):
    def make_place(self, request: pytest.FixtureRequest, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> StorePlace:
        return StorePlace(f"memory://mv-{uuid.uuid4().hex}", None, True, tmp_path, monkeypatch)


class TestFileUrl(BackendContract):
    def make_place(self, request: pytest.FixtureRequest, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> StorePlace:
        return StorePlace(f"file://{tmp_path}/shared-folder", None, True, tmp_path, monkeypatch)


class TestS3(BackendContract):
    def make_place(self, request: pytest.FixtureRequest, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> StorePlace:
        s3 = request.getfixturevalue("s3")
        return StorePlace(s3.uri, s3.options, True, tmp_path, monkeypatch)


class TestGCS(BackendContract):
    def make_place(self, request: pytest.FixtureRequest, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> StorePlace:
        gcs = request.getfixturevalue("gcs")
        return StorePlace(gcs.uri, gcs.options, True, tmp_path, monkeypatch)


class TestAzure(BackendContract):
    def make_place(self, request: pytest.FixtureRequest, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> StorePlace:
        azure = request.getfixturevalue("azure")
        return StorePlace(azure.uri, azure.options, True, tmp_path, monkeypatch)


def test_signed_remote_entries_verify_and_forged_ones_are_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uuid

    monkeypatch.setenv("MODELVER_SIGNING_KEY", "team-secret")
    uri = f"memory://signed-{uuid.uuid4().hex}"
    store = modelver.open(uri)
    store.register("m", b"good")
    store.register("m", b"evil")
    store.promote("m", "0.1.0", "prod")
    assert store.verify().ok
    monkeypatch.delenv("MODELVER_SIGNING_KEY")  # someone with bucket access, not the key
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "forger"))
    modelver.open(uri).promote("m", "0.1.1", "prod")  # an unsigned entry
    monkeypatch.setenv("MODELVER_SIGNING_KEY", "team-secret")
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "server"))
    with pytest.raises(modelver.IntegrityError, match="not signed"):
        modelver.open(uri).load("m", "prod")

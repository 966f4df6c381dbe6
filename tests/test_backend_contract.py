"""The backend contract: every backend behaves the same under the Store.

One suite, run unchanged on the SQLite store, ``memory://``, a local folder through
``file://``, and S3 through s3fs against moto's server on loopback.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import modelver
from modelver import NotFound, VersionExists

BACKENDS = ["sqlite", "memory", "file", "s3"]


class Place:
    """Where one test's store lives, and how to open it (again)."""

    def __init__(self, uri: str, options: dict[str, Any] | None, remote: bool,
                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.uri = uri
        self.options = options
        self.remote = remote
        self._tmp = tmp_path
        self._mp = monkeypatch
        self._opened: list[modelver.Store] = []
        self._caches = 0

    def open(self) -> modelver.Store:
        """A Store on this URI (sharing this machine's index, like a second handle)."""
        store = modelver.open(self.uri, storage_options=self.options)
        self._opened.append(store)
        return store

    def open_fresh(self) -> modelver.Store:
        """A Store as a new machine sees it: for remote stores, an empty local index
        and cache, so everything is replayed from the log."""
        if self.remote:
            self._caches += 1
            self._mp.setenv("MODELVER_CACHE", str(self._tmp / f"other-machine-{self._caches}"))
        return self.open()

    def close(self) -> None:
        for s in self._opened:
            s.close()


@pytest.fixture(params=BACKENDS)
def place(request: pytest.FixtureRequest, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Place]:
    kind = request.param
    if kind == "sqlite":
        p = Place(str(tmp_path / "local" / ".modelver"), None, False, tmp_path, monkeypatch)
    elif kind == "memory":
        p = Place(f"memory://mv-{uuid.uuid4().hex}", None, True, tmp_path, monkeypatch)
    elif kind == "file":
        p = Place(f"file://{tmp_path}/shared-folder", None, True, tmp_path, monkeypatch)
    else:
        s3 = request.getfixturevalue("s3")
        p = Place(s3.uri, s3.options, True, tmp_path, monkeypatch)
    yield p
    p.close()


@pytest.fixture
def store(place: Place) -> modelver.Store:
    return place.open()


def test_register_then_load_round_trips(store: modelver.Store) -> None:
    model = {"weights": [0.25, 0.5], "name": "fraud"}
    mv = store.register("fraud", model)
    assert store.load("fraud", mv.version) == model
    assert store.load("fraud") == model
    assert mv.digest.startswith("sha256:") and len(mv.digest) == 71
    assert mv.size > 0


def test_versions_start_at_0_1_0_and_bump_the_patch(store: modelver.Store) -> None:
    got = [store.register("fraud", {"i": i}).version for i in range(3)]
    assert got == ["0.1.0", "0.1.1", "0.1.2"]
    assert [mv.version for mv in store.versions("fraud")] == got


def test_registering_an_existing_version_raises_version_exists(store: modelver.Store) -> None:
    store.register("fraud", {"i": 0}, version="1.0.0")
    with pytest.raises(VersionExists):
        store.register("fraud", {"i": 1}, version="1.0.0")
    assert store.load("fraud", "1.0.0") == {"i": 0}
    assert len(store.versions("fraud")) == 1


def test_promote_rollback_and_alias_history(store: modelver.Store) -> None:
    v = [store.register("fraud", {"i": i}).version for i in range(3)]
    store.promote("fraud", v[0], reason="first")
    store.promote("fraud", v[2], reason="second")
    assert store.resolve("fraud", "prod").version == v[2]
    back = store.rollback("fraud", reason="bad metrics")
    assert back.kind == "rollback" and back.to_version == v[0]
    assert store.load("fraud", "prod") == {"i": 0}
    history = store.alias_history("fraud", "prod")
    assert [(e.from_version, e.to_version, e.kind) for e in history] == [
        (None, v[0], "promote"), (v[0], v[2], "promote"), (v[2], v[0], "rollback")]
    assert [e.reason for e in history] == ["first", "second", "bad metrics"]
    assert store.aliases("fraud") == {"prod": v[0]}


def test_resolve_latest_specifier_and_digest_prefix(store: modelver.Store) -> None:
    a = store.register("fraud", {"i": 0}, version="1.2.0")
    b = store.register("fraud", {"i": 1}, version="1.3.0")
    store.register("fraud", {"i": 2}, version="2.0.0")
    assert store.resolve("fraud", "latest").version == "2.0.0"
    assert store.resolve("fraud", ">=1.2,<2").version == b.version
    assert store.resolve("fraud", "~=1.2.0").version == a.version
    assert store.resolve("fraud", a.digest[:15]).version == a.version
    assert store.resolve("fraud", a.digest) == a


def test_blobs_are_content_addressed(store: modelver.Store) -> None:
    a = store.register("fraud", {"same": "bytes"})
    b = store.register("fraud", {"same": "bytes"})
    c = store.register("other", {"same": "bytes"})
    assert a.version != b.version
    assert a.digest == b.digest == c.digest
    assert list(store.backend.blob_digests()) == [a.digest]


def test_verify_passes_on_a_clean_store_and_head_is_stable(store: modelver.Store) -> None:
    mv = store.register("fraud", {"i": 0})
    store.register("churn", {"i": 1})
    store.promote("fraud", mv.version)
    report = store.verify()
    assert report.ok, str(report)
    assert report.entries == 3 and report.blobs == 2
    head = store.head()
    assert head == report.head == store.head()
    assert store.verify(head=head).ok


def test_a_second_store_on_the_same_uri_sees_everything(place: Place) -> None:
    first = place.open()
    mv = first.register("fraud", {"i": 0})
    first.register("fraud", {"i": 1})
    first.register("churn", {"i": 2})
    first.promote("fraud", mv.version)
    first.hold("fraud", mv.version, "audit")
    head = first.head()

    second = place.open_fresh()
    assert second.names() == ["churn", "fraud"]
    assert [m.version for m in second.versions("fraud")] == ["0.1.0", "0.1.1"]
    assert second.resolve("fraud", "prod").version == mv.version
    assert second.load("fraud", "prod") == {"i": 0}
    assert [(h.name, h.version) for h in second.holds()] == [("fraud", mv.version)]
    assert second.head() == head
    assert second.verify(head=head).ok

    later = second.register("fraud", {"i": 3})  # and writes from the second are seen back
    assert later.version == "0.1.2"
    assert first.resolve("fraud", "latest").version == "0.1.2"


def test_a_typo_in_a_name_is_not_found_with_suggestions(store: modelver.Store) -> None:
    store.register("fraud", {"i": 0})
    with pytest.raises(NotFound) as info:
        store.resolve("fruad", "latest")
    assert "fraud" in info.value.suggestions
    store.promote("fraud", "0.1.0")
    with pytest.raises(NotFound) as info:
        store.load("fraud", "prdo")
    assert "prod" in info.value.suggestions


def test_hold_and_release_round_trip(store: modelver.Store) -> None:
    mv = store.register("fraud", {"i": 0})
    store.register("fraud", {"i": 1})
    hold = store.hold("fraud", mv.version, "legal: case 1234")
    assert hold.reason == "legal: case 1234" and not hold.released
    assert [(h.name, h.version, h.reason) for h in store.holds()] == [
        ("fraud", mv.version, "legal: case 1234")]
    assert store.holds("fraud") == store.holds()
    store.release("fraud", mv.version)
    assert store.holds() == []
    with pytest.raises(NotFound):
        store.release("fraud", mv.version)


def test_a_blob_reads_back_and_rehashes_to_its_digest(store: modelver.Store) -> None:
    mv = store.register("fraud", {"i": 0})
    assert store.backend.has_blob(mv.digest)
    with store.backend.open_blob(mv.digest) as f:
        data = f.read()
    assert len(data) == mv.size
    assert store.backend.rehash_blob(mv.digest) == mv.digest
    assert store.read_blob(mv.digest) == data


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

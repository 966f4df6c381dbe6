"""The backend contract suite: run it on your own backend to know it behaves like ours.

A backend (see :class:`modelver.backends.Backend`) passes when every test here passes
on a store opened on it. Subclass :class:`BackendContract` in a test module and say
where a fresh store lives::

    from modelver.testing import BackendContract, StorePlace

    class TestMyBackend(BackendContract):
        def make_place(self, request, tmp_path, monkeypatch):
            return StorePlace(f"mine://bucket/{tmp_path.name}", None, True,
                              tmp_path, monkeypatch)

modelver runs this same suite on its SQLite store, ``memory://``, ``file://``, S3
(moto's server), GCS (fake-gcs-server) and Azure Blob (Azurite), all on loopback. It
needs pytest, which this module imports; importing ``modelver`` itself never imports
this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import modelver
from modelver import NotFound, VersionExists

from ._log import Draft, Entry, seal
from ._records import Hold, utcnow
from ._serde import unstructure

__all__ = ["BackendContract", "StorePlace"]


class StorePlace:
    """Where one test's store lives, and how to open it (again).

    ``remote`` says whether the store keeps a machine-local replica of its log (then
    :meth:`open_fresh` opens it as a new machine would, with an empty cache).
    """

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
        """Close every store opened here."""
        for s in self._opened:
            s.close()


def _entry(seq: int, prev: str | None, reason: str) -> Entry:
    """A well-formed entry of model ``m`` (a hold), placed at ``seq`` after ``prev``."""
    hold = Hold(name="m", version="0.1.0", reason=reason, at=utcnow(), by="tester")
    return seal("m", seq, prev, Draft("hold", {"hold": unstructure(hold)}), "tester")


class BackendContract:
    """The contract tests; subclass it and implement :meth:`make_place`."""

    def make_place(self, request: pytest.FixtureRequest, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> StorePlace:
        """Where a fresh, empty store for one test lives."""
        raise NotImplementedError("subclasses say where their store lives")

    @pytest.fixture
    def place(self, request: pytest.FixtureRequest, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[StorePlace]:
        """The test's store place (closed after the test)."""
        p = self.make_place(request, tmp_path, monkeypatch)
        yield p
        p.close()

    @pytest.fixture
    def store(self, place: StorePlace) -> modelver.Store:
        """A store on the place."""
        return place.open()

    # -- the protocol itself ----------------------------------------------------------

    def test_an_entry_is_created_once_and_its_place_cannot_be_taken(
            self, store: modelver.Store) -> None:
        backend = store.backend
        first, rival = _entry(1, None, "first"), _entry(1, None, "rival")
        assert backend.append(first) is True
        assert backend.append(rival) is False
        assert backend.append(first) is True  # a retry of our own request
        assert [e.id for e in backend.log("m")] == [first.id]
        assert [e.id for e in backend.scan("m")] == [first.id]
        assert backend.log_names() == ["m"]

    def test_the_log_reads_after_a_sequence_number(self, store: modelver.Store) -> None:
        backend = store.backend
        prev = None
        for seq in range(1, 5):
            entry = _entry(seq, prev, f"hold {seq}")
            assert backend.append(entry)
            prev = entry.hash
        assert [e.seq for e in backend.log("m", after=2)] == [3, 4]
        assert list(backend.log("m", after=4)) == []
        assert list(backend.log("nothing-here")) == []

    def test_blobs_put_has_open_delete(self, store: modelver.Store) -> None:
        backend = store.backend
        digest, size = backend.put_bytes(b"some bytes")
        assert size == 10 and backend.has_blob(digest)
        assert backend.put_bytes(b"some bytes") == (digest, 10)
        with backend.open_blob(digest) as f:
            assert f.read() == b"some bytes"
        assert backend.rehash_blob(digest) == digest
        assert list(backend.blob_digests()) == [digest]
        mtime = backend.blob_mtime(digest)
        assert mtime is None or mtime > 0
        assert backend.delete_blob(digest) == 10
        assert not backend.has_blob(digest)
        assert list(backend.blob_digests()) == []

    def test_restore_blob_says_whether_a_deleted_blob_is_back(
            self, store: modelver.Store) -> None:
        backend = store.backend
        digest, _ = backend.put_bytes(b"named by a version a moment ago")
        assert backend.restore_blob(digest)  # present: nothing to do
        backend.delete_blob(digest)
        back = backend.restore_blob(digest)  # from a trash, where the backend keeps one
        assert back == backend.has_blob(digest)
        if back:
            with backend.open_blob(digest) as f:
                assert f.read() == b"named by a version a moment ago"

    # -- the store on it -----------------------------------------------------------------

    def test_register_then_load_round_trips(self, store: modelver.Store) -> None:
        model = {"weights": [0.25, 0.5], "name": "fraud"}
        mv = store.register("fraud", model)
        assert store.load("fraud", mv.version) == model
        assert store.load("fraud") == model
        assert mv.digest.startswith("sha256:") and len(mv.digest) == 71
        assert mv.size > 0


    def test_versions_start_at_0_1_0_and_bump_the_patch(self, store: modelver.Store) -> None:
        got = [store.register("fraud", {"i": i}).version for i in range(3)]
        assert got == ["0.1.0", "0.1.1", "0.1.2"]
        assert [mv.version for mv in store.versions("fraud")] == got


    def test_registering_an_existing_version_raises_version_exists(
            self, store: modelver.Store) -> None:
        store.register("fraud", {"i": 0}, version="1.0.0")
        with pytest.raises(VersionExists):
            store.register("fraud", {"i": 1}, version="1.0.0")
        assert store.load("fraud", "1.0.0") == {"i": 0}
        assert len(store.versions("fraud")) == 1


    def test_promote_rollback_and_alias_history(self, store: modelver.Store) -> None:
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


    def test_resolve_latest_specifier_and_digest_prefix(self, store: modelver.Store) -> None:
        a = store.register("fraud", {"i": 0}, version="1.2.0")
        b = store.register("fraud", {"i": 1}, version="1.3.0")
        store.register("fraud", {"i": 2}, version="2.0.0")
        assert store.resolve("fraud", "latest").version == "2.0.0"
        assert store.resolve("fraud", ">=1.2,<2").version == b.version
        assert store.resolve("fraud", "~=1.2.0").version == a.version
        assert store.resolve("fraud", a.digest[:15]).version == a.version
        assert store.resolve("fraud", a.digest) == a


    def test_blobs_are_content_addressed(self, store: modelver.Store) -> None:
        a = store.register("fraud", {"same": "bytes"})
        b = store.register("fraud", {"same": "bytes"})
        c = store.register("other", {"same": "bytes"})
        assert a.version != b.version
        assert a.digest == b.digest == c.digest
        # The manifest and the one file it names, stored once for all three versions.
        assert sorted(store.backend.blob_digests()) == sorted([a.digest, *a.blobs])
        assert len(a.blobs) == 1


    def test_verify_passes_on_a_clean_store_and_head_is_stable(self, store: modelver.Store) -> None:
        mv = store.register("fraud", {"i": 0})
        store.register("churn", {"i": 1})
        store.promote("fraud", mv.version)
        report = store.verify()
        assert report.ok, str(report)
        assert report.entries == 3 and report.blobs == 4  # two manifests, two files
        head = store.head()
        assert head == report.head == store.head()
        assert store.verify(head=head).ok


    def test_a_second_store_on_the_same_uri_sees_everything(self, place: StorePlace) -> None:
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


    def test_a_typo_in_a_name_is_not_found_with_suggestions(self, store: modelver.Store) -> None:
        store.register("fraud", {"i": 0})
        with pytest.raises(NotFound) as info:
            store.resolve("fruad", "latest")
        assert "fraud" in info.value.suggestions
        store.promote("fraud", "0.1.0")
        with pytest.raises(NotFound) as info:
            store.load("fraud", "prdo")
        assert "prod" in info.value.suggestions


    def test_hold_and_release_round_trip(self, store: modelver.Store) -> None:
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


    def test_a_blob_reads_back_and_rehashes_to_its_digest(self, store: modelver.Store) -> None:
        import json

        mv = store.register("fraud", {"i": 0})
        for digest in (mv.digest, *mv.blobs):
            assert store.backend.has_blob(digest)
            with store.backend.open_blob(digest) as f:
                data = f.read()
            assert store.backend.rehash_blob(digest) == digest
            assert store.read_blob(digest) == data
        manifest = json.loads(store.read_blob(mv.digest))
        assert [d for d, _ in manifest["files"].values()] == mv.blobs
        assert sum(size for _, size in manifest["files"].values()) == mv.size

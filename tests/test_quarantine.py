"""One bad log entry never breaks a store: it is refused before publishing, and one
that got in anyway (another tool, a newer modelver, a damaged file) is quarantined.

The entries are written straight into a ``file://`` store's log, as a broken or
future writer would, each correctly placed after the chain's head.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

import modelver
from modelver._index import Queries
from modelver._log import Draft, seal
from modelver._serde import unstructure


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "machine-a"))
    uri = f"file://{tmp_path / 'store'}"
    store = modelver.open(uri)
    store.register("fraud", b"good")
    store.promote("fraud", "0.1.0")
    store.register("other", b"unrelated")
    return uri, tmp_path / "store" / "log" / "fraud"


def _next(folder: Path) -> Path:
    return folder / f"{len(list(folder.glob('*.json'))) + 1:012d}.json"


def _sealed(store: modelver.Store, version: dict[str, object], **data: object) -> bytes:
    seq, prev = store.chain.queries.head("fraud")
    entry = seal("fraud", seq + 1, prev, Draft("version", {"version": version}), "mallory")
    if data:
        return json.dumps({**entry.data, **data}, sort_keys=True).encode()
    return entry.text.encode()


def _version_record(store: modelver.Store, version: str) -> dict[str, object]:
    record: dict[str, object] = unstructure(store.resolve("fraud", "0.1.0"))
    return {**record, "version": version}


BAD: dict[str, Callable[[modelver.Store], bytes]] = {
    "not JSON": lambda s: b"{this is not json",
    "not UTF-8": lambda s: b'{"name": "fraud", "x": "\xff\xfe"}',
    "missing fields": lambda s: b'{"name": "fraud", "seq": 3}',
    "a chained duplicate version": lambda s: _sealed(s, _version_record(s, "0.1.0")),
    "an overflowing version": lambda s: _sealed(
        s, _version_record(s, "99999999999999999999.0.0")),
    "a record that does not read back": lambda s: _sealed(
        s, {**_version_record(s, "0.5.0"), "size": "large"}),
    "a newer entry format": lambda s: _sealed(s, _version_record(s, "0.6.0"), format=99),
    "a newer record schema": lambda s: _sealed(
        s, {**_version_record(s, "0.7.0"), "schema_version": 99}),
    "a time with no UTC form": lambda s: _sealed(
        s, {**_version_record(s, "0.8.0"), "created_at": "9999-12-31T23:59:59-01:00"}),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_entry_is_quarantined_and_the_store_keeps_working(
        case: str, place: tuple[str, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    uri, log = place
    _next(log).write_bytes(BAD[case](modelver.open(uri)))
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "machine-b"))
    fresh = modelver.open(uri)
    with pytest.warns(modelver.QuarantineWarning, match="quarantined"):
        assert fresh.load("fraud", "prod") == b"good"
    assert fresh.load("other") == b"unrelated"
    mv = fresh.register("fraud", b"after the bad entry")  # the chain goes on past it
    assert fresh.load("fraud", mv.version) == b"after the bad entry"
    report = fresh.verify()
    assert [p.kind for p in report.problems] == ["quarantined"], str(report)
    assert "#3" in report.problems[0].where
    # The first machine, which wrote the store, sees the same.
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "machine-a"))
    with pytest.warns(modelver.QuarantineWarning):
        assert modelver.open(uri).load("fraud", mv.version) == b"after the bad entry"


def test_gc_keeps_the_blobs_a_quarantined_entry_names(
        place: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uri, log = place
    store = modelver.open(uri)
    digest, _ = store.backend.put_bytes(b"weights of a version from a newer modelver")
    record = {**_version_record(store, "0.9.0"), "digest": digest, "schema_version": 99}
    _next(log).write_bytes(_sealed(store, record))
    with pytest.warns(modelver.QuarantineWarning):
        report = store.gc(grace=0)
    assert digest not in report.deleted
    assert store.backend.has_blob(digest)


def test_a_version_too_large_is_refused_before_anything_is_published(
        place: tuple[str, Path]) -> None:
    uri, log = place
    store = modelver.open(uri)
    before = sorted(p.name for p in log.iterdir())
    with pytest.raises(modelver.InvalidName, match="at most 10 digits"):
        store.register("fraud", b"x", version="99999999999999999999.0.0")
    assert sorted(p.name for p in log.iterdir()) == before


def test_a_draft_that_would_not_apply_is_never_published(place: tuple[str, Path]) -> None:
    uri, log = place
    store = modelver.open(uri)
    before = sorted(p.name for p in log.iterdir())

    def build(q: Queries) -> Draft:
        return Draft("version", {"version": {"version": "0.3.0", "digest": 7}})

    with pytest.raises(modelver.IntegrityError, match="cannot"):
        store.chain.append("fraud", build)
    assert sorted(p.name for p in log.iterdir()) == before
    assert store.verify().ok


def test_a_record_too_large_is_refused(store: modelver.Store) -> None:
    with pytest.raises(modelver.InvalidName, match="bytes of JSON"):
        store.register("fraud", b"x", tags={"notes": "n" * (9 << 20)})
    assert store.names() == []

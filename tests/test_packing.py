"""The read model stores entries, digests and times packed, and reads them back exactly.

An entry's hash is the sha256 of its canonical text, so packing must give back every
byte; a value in an unusual form (a digest that is not sha256, a time with an offset)
must read back as the same value; bytes that are not a packed entry must be reported,
not raised.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tampering import tamper

import modelver
from modelver._index.packing import (
    pack_blobs,
    pack_digest,
    pack_entry,
    pack_time,
    unpack_blobs,
    unpack_digest,
    unpack_entry,
    unpack_time,
)
from modelver._log import Draft, seal
from modelver._serde import unstructure

_DIGESTS = st.binary(min_size=32, max_size=32).map(lambda b: "sha256:" + b.hex())


@given(st.text())
def test_any_entry_text_comes_back_byte_for_byte(text: str) -> None:
    raw = text.encode("utf-8", "surrogatepass")
    assert unpack_entry(pack_entry(text)) == raw
    assert unpack_entry(pack_entry(raw)) == raw


def test_bytes_that_are_not_a_packed_entry_come_back_as_they_are() -> None:
    for data in (b"", b"\x00garbage", b"\x01not deflate at all", b"\x07unknown format"):
        assert unpack_entry(data) == data


@given(st.lists(_DIGESTS, max_size=4))
def test_sha256_digests_are_stored_as_their_bytes_and_read_back(digests: list[str]) -> None:
    for digest in digests:
        assert pack_digest(digest) == bytes.fromhex(digest[7:])
        assert unpack_digest(pack_digest(digest)) == digest
    assert unpack_blobs(pack_blobs(digests)) == digests


def test_a_digest_of_another_form_is_kept_as_its_text() -> None:
    for digest in ("md5:0cc175b9c0f1b6a831c399e269772661", "sha256:ABC", "sha256:" + "A" * 64):
        assert pack_digest(digest) == digest and unpack_digest(digest) == digest
    mixed = ["sha256:" + "a" * 64, "md5:0cc175b9c0f1b6a831c399e269772661"]
    assert unpack_blobs(pack_blobs(mixed)) == mixed


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 1, 1),
                    timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=5,
                                                                                minutes=30))])))
def test_a_time_reads_back_as_the_same_instant(moment: datetime) -> None:
    back = unpack_time(pack_time(moment.isoformat()))
    assert back == moment and back.tzinfo == timezone.utc


def test_a_naive_time_is_taken_as_utc() -> None:
    assert unpack_time(pack_time("2026-12-07T01:02:03.000004")) == datetime(
        2026, 12, 7, 1, 2, 3, 4, tzinfo=timezone.utc)


def test_a_version_with_an_unusual_digest_lists_and_resolves_unchanged(tmp_path: Path) -> None:
    uri = f"file://{tmp_path / 'store'}"
    writer = modelver.open(uri)
    first = writer.register("fraud", b"good")
    record = {**unstructure(first), "version": "0.2.0",
              "digest": "md5:0cc175b9c0f1b6a831c399e269772661", "blobs": []}
    seq, prev = writer.chain.queries.head("fraud")
    entry = seal("fraud", seq + 1, prev, Draft("version", {"version": record}), "importer")
    assert writer.backend.append(entry)
    reader = modelver.open(uri)
    assert [v.digest for v in reader.versions("fraud")] == [first.digest, record["digest"]]
    assert reader.resolve("fraud", "0.2.0").digest == record["digest"]
    assert reader.resolve("fraud", first.digest[:20]).version == first.version
    assert reader.resolve("fraud", first.digest).version == first.version


def test_a_damaged_packed_entry_is_reported_by_verify(tmp_path: Path) -> None:
    store = modelver.open(str(tmp_path / "s"))
    store.register("fraud", b"one")
    store.register("fraud", b"two")
    store.close()
    tamper(store, "UPDATE entries SET data = x'01deadbeef' WHERE seq = 1")
    reopened = modelver.open(str(tmp_path / "s"))
    assert reopened.resolve("fraud", "latest").version == "0.1.1"  # the rows still read
    kinds = {p.kind for p in reopened.verify(blobs=False).problems}
    assert "edited" in kinds or "edited-or-reordered" in kinds


def test_entries_are_stored_packed_and_read_as_json_in_sql(tmp_path: Path) -> None:
    store = modelver.open(str(tmp_path / "s"))
    mv = store.register("fraud", b"one")
    conn = sqlite3.connect(tmp_path / "s" / "registry.db")
    try:
        (data,) = conn.execute("SELECT data FROM entries").fetchone()
        columns = {r[1] for r in conn.execute("PRAGMA table_info(entries)")}
    finally:
        conn.close()
    assert columns == {"name", "seq", "kind", "data", "sig"}
    assert mv.digest.encode() in unpack_entry(data) and mv.digest.encode() not in data
    assert store.chain.queries.version_json("fraud", mv.version) is not None


def test_a_listed_version_is_the_record_its_entry_holds(tmp_path: Path) -> None:
    import json

    import numpy as np

    from modelver._serde import structure

    store = modelver.open(str(tmp_path / "s"))
    base = store.register("base", b"weights")
    X = np.arange(12.0).reshape(4, 3)
    with modelver.training("fraud", store=store, parents=[base.ref]) as run:
        run.log_data("train", X)
        run.log_model({"model": b"w", "labels": ["no", "yes"]})
    tagged = store.register("fraud", b"next", tags={"team": "risk"}, parents=[base.ref],
                            signature=X)
    listed = store.versions("fraud")
    assert [mv.version for mv in listed][-1] == tagged.version and len(listed) == 2
    assert listed[0].artifacts and listed[0].run_id and listed[1].signature is not None
    assert listed[1].tags == {"team": "risk"} and listed[1].parents == [base.ref]
    for mv in listed:
        stored = store.chain.queries.version_json("fraud", mv.version)
        assert stored is not None
        assert mv == structure(json.loads(stored), modelver.ModelVersion)
        assert mv == store.resolve("fraud", mv.version)


def test_an_unreadable_entry_keeps_its_bytes_and_its_chain(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    uri = f"file://{tmp_path / 'store'}"
    modelver.open(uri).register("fraud", b"good")
    raw = b'{"name": "fraud", "x": "\xff\xfe"}'
    (tmp_path / "store" / "log" / "fraud" / f"{2:012d}.json").write_bytes(raw)
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "machine-b"))
    reader = modelver.open(uri)
    with pytest.warns(modelver.QuarantineWarning):
        reader.versions("fraud")
    (data,) = reader.chain.index.one("SELECT data FROM entries WHERE seq = 2") or (b"",)
    assert unpack_entry(data) == raw
    assert reader.chain.queries.head("fraud") == (2, "sha256:" + hashlib.sha256(raw).hexdigest())
    mv = reader.register("fraud", b"after it")
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "machine-c"))
    with pytest.warns(modelver.QuarantineWarning):
        assert modelver.open(uri).load("fraud", mv.version) == b"after it"


def test_a_time_with_no_utc_form_does_not_pack() -> None:
    with pytest.raises(OverflowError):
        pack_time("9999-12-31T23:59:59-01:00")
    assert unpack_time(pack_time("2026-12-07T03:00:00+02:00")) == datetime(
        2026, 12, 7, 1, tzinfo=timezone.utc)

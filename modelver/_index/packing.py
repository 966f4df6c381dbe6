"""How values are packed into the read model's columns, and read back.

An entry's canonical JSON is stored deflated against a preset dictionary of the
entries' own keys: a tiny version's entry drops from about 560 to about 200 bytes and
a training run's (its package list, its hardware) to about a third. The first byte
names the dictionary, so a later one can be added without rewriting old rows. The
entry's hash is still the sha256 of the canonical text, which comes back byte for
byte.

A ``versions`` row keeps digests as their 32 raw bytes and ``created_at`` as integer
microseconds since the epoch (UTC). A value that does not have the usual form (a
digest that is not ``sha256:`` and 64 lowercase hex digits, as an imported record may
hold) is kept as its text, which reads back unchanged.
"""

from __future__ import annotations

import re
import zlib
from datetime import datetime, timedelta, timezone

__all__ = ["digest_key", "pack_blobs", "pack_digest", "pack_entry",
           "pack_time", "unpack_blobs", "unpack_digest", "unpack_entry", "unpack_entry_text",
           "unpack_time"]

# The preset dictionary of format 1: the keys and fixed parts of alias, run and version
# entries, the most common last (deflate reaches near bytes more cheaply). It is part of
# the on-disk format: never change it; add a format 2 instead.
_DICT_1 = (
    b'{"at":"2026-01-01T00:00:00.000000+00:00","body":{"hold":{"reason":"","released":'
    b'false,"version":""},"tombstone":{"reason":"","policy":"","version":""},"event":{'
    b'"alias":"prod","at":"2026-01-01T00:00:00.000000+00:00","by":"","from_version":null,'
    b'"kind":"promote","name":"","schema_version":1,"to_version":"'
    b'"}},"by":"","format":1,"id":"","kind":"alias","name":"","prev":"sha256:","seq":'
    b'{"at":"2026-01-01T00:00:00.000000+00:00","body":{"run":{"bump_rule":"","code":{'
    b'"bytecode_hash":"sha256:","function":"","module":"__main__","python":"3.1",'
    b'"schema_version":1,"source_digest":"sha256:","stable":true,"user_code":{}},"cwd":"'
    b'","data":{"train":{"digest":"sha256:","kind":"ndarray","method":"sha256-array",'
    b'"schema":{"dtype":"<f8","shape_tail":[]},"schema_version":1,"size":,"stable":true}},'
    b'"ended_at":"2026-01-01T00:00:00.000000+00:00","entry":"__main__:train",'
    b'"environment":{"executable":"","implementation":"CPython","packages":{"numpy":"'
    b'","scikit-learn":"","scipy":""},"packages_hash":"sha256:","platform":"Linux-'
    b'-x86_64-with-glibc2.","python":"3.1","schema_version":1},"git":{"branch":"main",'
    b'"commit":"","dirty":false,"remote":"","schema_version":1},"hardware":{"arch":'
    b'"x86_64","cores_logical":,"cores_physical":,"cpu":"","cpu_freq_mhz":,"gpu_status":'
    b'"no GPU","memory_total":,"schema_version":1},"id":"","metrics":{},"name":"",'
    b'"params":{},"resources":{"cpu_s":,"peak_rss":,"schema_version":1,"wall_s":},'
    b'"schema_version":1,"seeds":{"schema_version":1,"seed":0,"seeded":["random","numpy"'
    b']},"started_at":"2026-01-01T00:00:00.000000+00:00","status":"succeeded","version":"'
    b'"},"version":{"artifacts":{},"blobs":["sha256:"],"created_at":'
    b'"2026-01-01T00:00:00.000000+00:00","created_by":"","digest":"sha256:","format":'
    b'"skops","name":"","parents":[],"requirements":{},"run_id":"","schema_version":2,'
    b'"signature":{"default":"train","inputs":[{"columns":[],"dtype":"<f8","dtypes":[],'
    b'"key":"train","kind":"array","library":"numpy","shape":[]}]},"size":,"tags":{},'
    b'"version":"0.1.0"}},"by":"","format":1,"id":"","kind":"run","name":"","prev":'
    b'"sha256:","seq":'
    b'{"at":"2026-01-01T00:00:00.000000+00:00","body":{"version":{"blobs":["sha256:'
    b'"],"created_at":"2026-01-01T00:00:00.000000+00:00","created_by":"root","digest":'
    b'"sha256:","format":"bytes","name":"","schema_version":2,"size":,"version":"0.1.0"}},'
    b'"by":"root","format":1,"id":"","kind":"version","name":"","prev":"sha256:","seq":'
)
_DICTS = {1: _DICT_1}
_FORMAT = 1


def pack_entry(text: str | bytes) -> bytes:
    """An entry's canonical JSON as stored: a format byte, then raw deflate.

    Small entries (versions, alias moves) take zlib's default level; a run's entry (its
    package list, several kilobytes) level 3, a third of the time for 5% more bytes.
    """
    raw = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    deflate = zlib.compressobj(6 if len(raw) < 2048 else 3, zlib.DEFLATED, -15, 8,
                               zlib.Z_DEFAULT_STRATEGY, _DICTS[_FORMAT])
    return bytes((_FORMAT,)) + deflate.compress(raw) + deflate.flush()


def unpack_entry(data: bytes | str) -> bytes:
    """The canonical JSON bytes of a stored entry. Bytes that do not inflate come back
    as they are, so that :func:`modelver._log.parse` reports the entry as unreadable
    (and its chain goes on past it); a text (a row written by hand) is encoded."""
    if isinstance(data, str):
        return data.encode("utf-8", "surrogatepass")
    zdict = _DICTS.get(data[0]) if data else None
    if zdict is None:
        return bytes(data)
    try:
        inflate = zlib.decompressobj(-15, zdict)
        return inflate.decompress(data[1:]) + inflate.flush()
    except zlib.error:
        return bytes(data)


def unpack_entry_text(data: bytes | str | None) -> str | None:
    """The SQL function ``entry_json(data)``: a stored entry's JSON text, for
    ``json_extract``; None for NULL or an entry that is not UTF-8."""
    if data is None:
        return None
    try:
        return unpack_entry(data).decode("utf-8")
    except UnicodeDecodeError:
        return None


_SHA256 = re.compile(r"sha256:[0-9a-f]{64}", re.ASCII)


def pack_digest(digest: str) -> bytes | str:
    """A digest as stored: its 32 bytes, or its text if it is not a sha256 digest."""
    return bytes.fromhex(digest[7:]) if _SHA256.fullmatch(digest) else digest


def unpack_digest(value: bytes | str) -> str:
    """A stored digest as its text."""
    return "sha256:" + value.hex() if isinstance(value, bytes) else value


def digest_key(digest: str) -> bytes | str:
    """What ``versions_digest`` indexes: the first 8 bytes of a stored digest (a lookup
    compares the whole digest after it)."""
    return pack_digest(digest)[:8]


def pack_blobs(blobs: list[str]) -> bytes | str | None:
    """A version's blob digests as stored: their bytes end to end, or (when one is not
    a sha256 digest) their texts joined by spaces; None for none."""
    if not blobs:
        return None
    if all(_SHA256.fullmatch(b) for b in blobs):
        return b"".join(bytes.fromhex(b[7:]) for b in blobs)
    return " ".join(blobs)


def unpack_blobs(value: bytes | str | None) -> list[str]:
    """A stored blob list as digest texts."""
    if not value:
        return []
    if isinstance(value, str):
        return value.split()
    if len(value) == 32:  # most artifacts are one file
        return ["sha256:" + value.hex()]
    return ["sha256:" + value[i:i + 32].hex() for i in range(0, len(value), 32)]


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def pack_time(text: str) -> int:
    """An ISO 8601 time (naive means UTC) as integer microseconds since the epoch.

    A time that has no UTC form (past the year 9999 once its offset is applied) raises
    ``OverflowError``, so that the entry holding it is quarantined, not listed."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment.astimezone(timezone.utc) - _EPOCH) // timedelta(microseconds=1)


def unpack_time(value: int) -> datetime:
    """Stored microseconds as an aware UTC datetime."""
    if -_EXACT < value < _EXACT:
        return datetime.fromtimestamp(value / 1e6, timezone.utc)
    return _EPOCH + timedelta(microseconds=value)


# Times within this many microseconds of the epoch (until the year 2112) convert exactly
# through a double: its error stays under half a microsecond.
_EXACT = 2**52

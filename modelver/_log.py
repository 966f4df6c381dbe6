"""Log entries: the hash-chained, append-only record of everything a store holds.

Every record — a run, a version, an alias move, a hold, a tombstone — is appended
as one entry to the log of its model name. Each entry names its sequence number,
a unique id, and the hash of the previous entry in that model's chain; its own
hash is the sha256 of its canonical JSON. An optional HMAC key
(``MODELVER_SIGNING_KEY``) signs each entry hash. One chain per model means
writers to different models never contend.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any

import attrs

from ._records import utcnow
from ._serde import canonical, unstructure

__all__ = ["Draft", "Entry", "combined_head", "seal", "sign"]

ENTRY_FORMAT = 1


@attrs.frozen
class Draft:
    """An entry before it has a place in the chain: its kind and body."""

    kind: str
    body: dict[str, Any]
    id: str = attrs.field(factory=lambda: os.urandom(16).hex())  # 128 random bits


@attrs.frozen
class Entry:
    """A sealed log entry: ``data`` is the exact JSON object whose hash is ``hash``."""

    name: str
    seq: int
    id: str
    kind: str
    data: dict[str, Any]
    text: str
    hash: str
    sig: str | None = None
    stored_hash: str | None = None

    @property
    def body(self) -> dict[str, Any]:
        """The record(s) this entry carries."""
        body: dict[str, Any] = self.data["body"]
        return body

    @property
    def prev(self) -> str | None:
        """The hash of the previous entry in this model's chain (None for the first)."""
        prev: str | None = self.data.get("prev")
        return prev


def entry_hash(text: str) -> str:
    """``sha256:<hex>`` of an entry's canonical text."""
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def signing_key() -> bytes | None:
    """The HMAC key from ``MODELVER_SIGNING_KEY``, if set."""
    key = os.environ.get("MODELVER_SIGNING_KEY")
    return key.encode() if key else None


def sign(digest: str, key: bytes | None) -> str | None:
    """The HMAC-SHA256 of an entry hash under ``key`` (None without a key)."""
    if key is None:
        return None
    return hmac.new(key, digest.encode(), hashlib.sha256).hexdigest()


def seal(name: str, seq: int, prev: str | None, draft: Draft, by: str) -> Entry:
    """Place a draft at ``seq`` after ``prev`` in the chain of ``name``."""
    data = {
        "format": ENTRY_FORMAT,
        "name": name,
        "seq": seq,
        "id": draft.id,
        "kind": draft.kind,
        "at": unstructure(utcnow()),
        "by": by,
        "prev": prev,
        "body": draft.body,
    }
    text = canonical(data)
    digest = entry_hash(text)
    return Entry(name, seq, draft.id, draft.kind, data, text, digest, sign(digest, signing_key()))


def parse(text: str, sig: str | None = None, stored_hash: str | None = None) -> Entry:
    """An entry from its stored text (the hash is recomputed; ``stored_hash`` is kept
    beside it for ``verify`` to compare)."""
    import json

    data = json.loads(text)
    return Entry(
        str(data["name"]), int(data["seq"]), str(data["id"]), str(data["kind"]),
        data, text, entry_hash(text), sig, stored_hash,
    )


def combined_head(heads: dict[str, tuple[int, str]]) -> str:
    """One digest over every model's chain head, for pinning with ``verify --head``."""
    lines = "".join(f"{n}\0{s}\0{h}\n" for n, (s, h) in sorted(heads.items()))
    return "sha256:" + hashlib.sha256(lines.encode()).hexdigest()

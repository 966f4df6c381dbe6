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

from ._errors import InvalidName
from ._records import utcnow
from ._serde import canonical, unstructure

__all__ = ["Draft", "Entry", "combined_head", "seal", "sign"]

ENTRY_FORMAT = 1
"""The entry format this modelver writes and reads; a newer one is quarantined."""
KINDS = frozenset({"run", "version", "alias", "tombstone", "hold", "annotation", "protect",
                   "approval"})
MAX_ENTRY_BYTES = 8 << 20
"""The largest entry accepted (8 MiB of canonical JSON): records are metadata."""
_FIELDS = {"name": str, "seq": int, "id": str, "kind": str, "body": dict}


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
    """The hash the store recorded for this entry where it keeps one apart from the
    text (a chain's head, in ``heads``), for ``verify`` to compare; else None."""
    problem: str | None = None
    """Why the entry cannot be applied (it is then quarantined), or None."""
    raw: bytes | None = None
    """The bytes of an entry that cannot be read (its ``text`` is then only what can be
    shown): they are what is stored, so that its hash, and its chain, survive."""

    @property
    def stored_bytes(self) -> bytes:
        """What a store keeps of this entry: its exact bytes."""
        return self.raw if self.raw is not None else self.text.encode("utf-8",
                                                                      "surrogatepass")

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
    try:
        digest = entry_hash(text)
    except UnicodeEncodeError as exc:  # a lone surrogate: no UTF-8 form to store
        raise InvalidName(f"a value in this {draft.kind} record is not valid Unicode "
                          f"({text[max(0, exc.start - 30):exc.end + 10]!r}): it holds a "
                          "lone surrogate; pass text that encodes as UTF-8") from None
    return Entry(name, seq, draft.id, draft.kind, data, text, digest, sign(digest, signing_key()))


def parse(text: str | bytes, sig: str | None = None, stored_hash: str | None = None, *,
          name: str | None = None, seq: int | None = None) -> Entry:
    """An entry from its stored text; never raises.

    The hash is recomputed (``stored_hash``, the hash recorded apart from the text
    where there is one, is kept beside it for ``verify`` to compare). An entry that is
    not UTF-8, not JSON, lacks a field, is too large, or was written by a newer
    modelver comes back with :attr:`Entry.problem` set, its place (``name``, ``seq``:
    where it was found) and the hash of its bytes, so that
    its chain goes on past it.
    """
    import json

    raw = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    problem: str | None = None
    data: Any = None
    if len(raw) > MAX_ENTRY_BYTES:
        problem = f"it is {len(raw):,} bytes, more than the {MAX_ENTRY_BYTES:,} allowed"
    else:
        try:
            decoded = raw.decode("utf-8")
            data = json.loads(decoded)
        except UnicodeDecodeError:
            problem = "it is not UTF-8 text"
        except ValueError as exc:
            problem = f"it is not JSON ({exc})"
        else:
            problem = entry_problem(data, name, seq)
    if problem is None:
        return Entry(data["name"], data["seq"], data["id"], data["kind"], data, decoded,
                     digest, sig, stored_hash)
    shown = raw.decode("utf-8", "replace")
    kept = {"prev": data["prev"]} if isinstance(data, dict) and isinstance(
        data.get("prev"), str) else {}
    return Entry(name if name is not None else "?", seq if seq is not None else 0,
                 "invalid-" + digest[7:39], "invalid", kept, shown, digest, sig, stored_hash,
                 problem, raw)


def entry_problem(data: Any, name: str | None, seq: int | None) -> str | None:
    """What is wrong with an entry's parsed JSON as an entry (not as records), or None."""
    if not isinstance(data, dict):
        return "it is not a JSON object"
    fmt = data.get("format", ENTRY_FORMAT)
    if isinstance(fmt, int) and not isinstance(fmt, bool) and fmt > ENTRY_FORMAT:
        return (f"it was written by a newer modelver (entry format {fmt}; this one reads "
                f"{ENTRY_FORMAT}): upgrade modelver to read it")
    for field, kind in _FIELDS.items():
        value = data.get(field)
        if not isinstance(value, kind) or isinstance(value, bool):
            return f"its {field!r} is missing or not a {kind.__name__}"
    if data["kind"] not in KINDS:
        return f"it is of an unknown kind {data['kind']!r}"
    if not (data.get("prev") is None or isinstance(data["prev"], str)):
        return "its 'prev' is not a hash"
    if name is not None and data["name"] != name:
        return f"it names model {data['name']!r} but is in the log of {name!r}"
    if seq is not None and data["seq"] != seq:
        return f"it says it is entry {data['seq']} but is stored as entry {seq}"
    return None


def combined_head(heads: dict[str, tuple[int, str]]) -> str:
    """One digest over every model's chain head, for pinning with ``verify --head``."""
    lines = "".join(f"{n}\0{s}\0{h}\n" for n, (s, h) in sorted(heads.items()))
    return "sha256:" + hashlib.sha256(lines.encode()).hexdigest()

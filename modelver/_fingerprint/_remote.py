"""fsspec URLs: a store's checksum when it offers one (no download), else the bytes."""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from modelver._errors import NotFound
from modelver._fingerprint._files import StatCache, _is_path, _merkle, _of_path
from modelver._records import DataFingerprint
from modelver._serde import json_digest

_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://")
_CHECKSUM_FIELDS = ("ETag", "etag", "md5Hash", "checksum")
_READ = 8 << 20


def _redact(url: str) -> str:
    """``url`` without credentials or query string (which may hold a signature)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def _remote_digest(fs: Any, path: str, info: dict[str, Any]) -> tuple[str, str]:
    """``(digest, method)`` of one remote file: its checksum field, else its bytes."""
    for field in _CHECKSUM_FIELDS:
        if info.get(field):
            checksum = str(info[field]).strip('"')
            return json_digest({field.lower(): checksum, "size": info.get("size")}), "etag"
    h = hashlib.sha256()
    with fs.open(path, "rb") as f:
        while chunk := f.read(_READ):
            h.update(chunk)
    return "sha256:" + h.hexdigest(), "sha256"


def _of_remote(url: str, cache: StatCache | None) -> DataFingerprint:
    from fsspec.core import url_to_fs

    fs, path = url_to_fs(url)
    if type(fs).__name__ == "LocalFileSystem":
        return _of_path(path, cache)
    try:
        info = fs.info(path)
    except FileNotFoundError:
        raise NotFound(f"nothing at {_redact(url)!r}; check the URL and its credentials") from None
    if info.get("type") != "directory":
        digest, method = _remote_digest(fs, path, info)
        return DataFingerprint(digest, "remote-file", info.get("size"), method, source=_redact(url))
    root = fs._strip_protocol(path).rstrip("/") + "/"
    lines: dict[str, str] = {}
    methods: set[str] = set()
    total = 0
    for name, entry in fs.find(path, detail=True).items():
        digest, method = _remote_digest(fs, name, entry)
        lines[name.removeprefix(root)] = digest
        methods.add(method)
        total += entry.get("size") or 0
    method = "etag-merkle" if "etag" in methods else "sha256-merkle"
    return DataFingerprint(_merkle(lines), "remote-folder", total, method, source=_redact(url))


def _is_fsspec_url(text: str) -> bool:
    match = _URL.match(text)
    if match is None:
        return False
    protocol = match.group(1).lower()
    if protocol in ("http", "https"):
        # A parameter like an API endpoint is not data; fingerprint() still takes it.
        return False
    if protocol in ("file", "local"):
        return _is_path(urlsplit(text).path)
    return _is_fsspec_protocol(protocol)


def _is_fsspec_protocol(protocol: str) -> bool:
    from fsspec.registry import known_implementations, registry

    return protocol in known_implementations or protocol in registry

"""The Python environment: interpreter, platform and installed distributions.

Distributions are found by scanning ``*.dist-info`` and ``*.egg-info`` entries on
``sys.path`` and reading only the ``Name`` and ``Version`` headers of their metadata:
a few milliseconds, where ``importlib.metadata.distributions()`` parses every file in
full (about 200 ms). The scan runs once per process.

Environment variables are never recorded unless their names are allow-listed.
"""

from __future__ import annotations

import os
import platform
import re
import sys
import threading
from collections.abc import Iterable

from modelver._records import Environment
from modelver._serde import json_digest

__all__ = ["canonical_name", "capture_environment", "packages"]

_SEPARATORS = re.compile(r"[-_.]+")
_lock = threading.Lock()
_cached: Environment | None = None


def _reset_cache() -> None:
    """Forget the scan of this process (for tests)."""
    global _cached
    with _lock:
        _cached = None


def canonical_name(name: str) -> str:
    """A distribution name normalized as PEP 503 says: lowercase, ``-_.`` runs to ``-``."""
    return _SEPARATORS.sub("-", name.strip()).lower()


def _read_headers(path: str) -> tuple[str | None, str | None]:
    """The ``Name`` and ``Version`` headers of a METADATA or PKG-INFO file.

    Reads only the header block (it ends at the first blank line), not the long
    description after it.
    """
    name = version = None
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    break
                key, sep, value = line.partition(":")
                if not sep:
                    continue
                key = key.strip().lower()
                if key == "name" and name is None:
                    name = value.strip()
                elif key == "version" and version is None:
                    version = value.strip()
                if name is not None and version is not None:
                    break
    except OSError:
        pass
    return name, version


def _metadata_file(entry: os.DirEntry[str]) -> str | None:
    """The metadata file of a ``*.dist-info`` or ``*.egg-info`` entry, if any."""
    if entry.name.endswith(".dist-info"):
        return os.path.join(entry.path, "METADATA")
    # An .egg-info is a folder holding PKG-INFO, or (older tools) the PKG-INFO itself.
    try:
        if entry.is_dir():
            return os.path.join(entry.path, "PKG-INFO")
        if entry.is_file():
            return entry.path
    except OSError:
        pass
    return None


def _scan(paths: Iterable[str]) -> dict[str, str]:
    """Distributions on ``paths``; the first found of a name wins, as for imports."""
    found: dict[str, str] = {}
    seen: set[str] = set()
    for entry_path in paths:
        folder = os.path.abspath(entry_path or ".")
        if folder in seen:
            continue
        seen.add(folder)
        try:
            entries = list(os.scandir(folder))
        except OSError:  # missing folders, zip files and eggs on sys.path
            continue
        # Sorted so the result does not depend on the filesystem's listing order.
        for entry in sorted(entries, key=lambda e: e.name):
            if not entry.name.endswith((".dist-info", ".egg-info")):
                continue
            meta = _metadata_file(entry)
            if meta is None:
                continue
            name, version = _read_headers(meta)
            if not name or not version:
                continue
            found.setdefault(canonical_name(name), version)
    return dict(sorted(found.items()))


def _base() -> Environment:
    global _cached
    with _lock:
        if _cached is None:
            found = _scan(list(sys.path))
            _cached = Environment(
                python=platform.python_version(),
                implementation=platform.python_implementation(),
                platform=platform.platform(),
                executable=sys.executable or None,
                packages=found,
                packages_hash=json_digest(found),
            )
        return _cached


def packages() -> dict[str, str]:
    """Installed distributions, normalized name to version, sorted by name.

    Scanned once per process; each call returns a new dict.
    """
    return dict(_base().packages)


def capture_environment(allow_env: Iterable[str] = ()) -> Environment:
    """The interpreter, platform and installed distributions of this process.

    Only environment variables named in ``allow_env`` are recorded (those that are
    set), read at each call; no other variable is ever recorded.
    """
    if isinstance(allow_env, str):  # one name, not its characters
        allow_env = (allow_env,)
    variables = {name: os.environ[name] for name in sorted(set(allow_env)) if name in os.environ}
    base = _base()
    return Environment(
        python=base.python,
        implementation=base.implementation,
        platform=base.platform,
        executable=base.executable,
        packages=dict(base.packages),
        packages_hash=base.packages_hash,
        variables=variables,
    )

"""The process-wide default store: ``configure()``, ``MODELVER_URI``, or the nearest
``.modelver/`` folder walking up from the working directory (like git)."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

from ._store import Store

__all__ = ["configure", "configured", "default_store", "discover_uri", "open_store"]

_lock = threading.Lock()
_configured: Store | None = None
_opened: dict[str, Store] = {}


def discover_uri(start: str | None = None) -> str:
    """``MODELVER_URI``, else the nearest ``.modelver`` above ``start``, else ``./.modelver``."""
    env = os.environ.get("MODELVER_URI")
    if env:
        return env
    here = os.path.abspath(start or os.getcwd())
    while True:
        candidate = os.path.join(here, ".modelver")
        if os.path.isdir(candidate):
            return candidate
        parent = os.path.dirname(here)
        if parent == here:
            return os.path.join(os.path.abspath(start or os.getcwd()), ".modelver")
        here = parent


def open_store(uri: str | None = None, storage_options: Mapping[str, Any] | None = None,
               *, safe: bool = False, offline: str = "warn",
               snapshot: bool | None = None) -> Store:
    """Open a store; without arguments, the default store of this process.

    ``uri`` is a folder (``./.modelver``), ``sqlite:///path/registry.db``, or an fsspec
    URL (``s3://bucket/prefix``, ``memory://name``, ``file:///path``);
    ``storage_options`` go to fsspec; ``safe=True`` refuses pickle on load;
    ``offline="error"`` refuses stale reads when a remote store is unreachable;
    ``snapshot=True`` makes runs into it store their data (see ``versioned_training``).
    """
    if (uri is None and storage_options is None and not safe and offline == "warn"
            and snapshot is None):
        return default_store()
    return Store.open(uri or discover_uri(), storage_options, safe=safe, offline=offline,
                      snapshot=snapshot)


def configure(uri: str | Store | None, storage_options: Mapping[str, Any] | None = None,
              *, safe: bool = False, snapshot: bool | None = None) -> Store | None:
    """Set the process-wide default store (None goes back to discovery).

    ``uri`` is a store or what :func:`open` takes; returns the store now the default
    (None after ``configure(None)``). :func:`configured` reads it back.
    """
    global _configured
    with _lock:
        if uri is None:
            _configured = None
        elif isinstance(uri, Store):
            _configured = uri
        else:
            _configured = Store.open(uri, storage_options, safe=safe, snapshot=snapshot)
        return _configured


def configured() -> Store | None:
    """The store ``configure()`` made the default, or None when discovery is in use.

    To make a store the default for a while and then put back what was there::

        previous = modelver.configured()
        modelver.configure(store)
        try:
            ...
        finally:
            modelver.configure(previous)
    """
    with _lock:
        return _configured


def default_store() -> Store:
    """The configured store, else the one discovery finds (cached per URI)."""
    with _lock:
        if _configured is not None:
            return _configured
        uri = discover_uri()
        store = _opened.get(uri)
        if store is None:
            store = _opened[uri] = Store.open(uri)
        return store


def _reset() -> None:
    """Forget the configured and cached stores (for tests and the pytest plugin)."""
    global _configured
    with _lock:
        _configured = None
        for store in _opened.values():
            store.close()
        _opened.clear()

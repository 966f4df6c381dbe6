"""The backend registry: URL scheme → ``"module:Class"``, resolved only when used.

Like fsspec's ``registry.py``, the registry names implementations by import string,
so importing it imports no backend; a scheme whose backend needs a package that is
not installed says which one to install. It is mutable through
:func:`register_backend` and read-only (``available``) to everyone else.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from .._errors import StoreError

__all__ = ["BackendSpec", "available", "default_cache_dir", "missing_backend_hint",
           "register_backend", "resolve_backend", "scheme_of"]


@attrs.frozen
class BackendSpec:
    """A registered backend: the class to import and a hint for when it cannot be."""

    target: str
    install_hint: str | None = None


_REGISTRY: dict[str, BackendSpec] = {
    "sqlite": BackendSpec("modelver.backends.local:LocalBackend"),
    "fsspec": BackendSpec("modelver.backends.remote:RemoteBackend"),
}
# fsspec protocols whose filesystem lives in another package.
_HINTS = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs",
          "abfs": "adlfs", "abfss": "adlfs"}
available: Mapping[str, BackendSpec] = MappingProxyType(_REGISTRY)
"""Every registered scheme and its backend (read-only)."""


def register_backend(scheme: str, target: str, *, install_hint: str | None = None,
                     clobber: bool = False) -> None:
    """Register ``"module:Class"`` as the backend of URLs starting ``scheme://``.

    The class is imported on first use and opened with ``Class.from_uri(uri, options)``.
    ``install_hint`` (``"pip install modelver[gcs]"``) is shown when that import fails.
    Registering a scheme that has another backend needs ``clobber=True``.
    """
    if not isinstance(scheme, str) or not scheme or "://" in scheme:
        raise StoreError(f"a backend scheme is a name like 'gs', not {scheme!r}")
    if not isinstance(target, str) or target.count(":") != 1:
        raise StoreError(f"a backend target is 'module:Class', not {target!r}")
    scheme = scheme.lower()
    spec = BackendSpec(target, install_hint)
    existing = _REGISTRY.get(scheme)
    if existing is not None and existing != spec and not clobber:
        raise StoreError(f"scheme {scheme!r} already has the backend {existing.target}; "
                         "pass clobber=True to replace it")
    _REGISTRY[scheme] = spec


def scheme_of(uri: str) -> str:
    """The lowercased scheme of ``uri`` (``"s3"`` for ``s3://b/p``); empty for a path."""
    return uri.split("://", 1)[0].lower() if "://" in uri else ""


def resolve_backend(scheme: str) -> tuple[Any, str]:
    """The backend class for a scheme (``""`` and ``sqlite`` are local stores, anything
    else not registered goes to fsspec), and the scheme it was registered under."""
    key = "sqlite" if scheme in ("", "sqlite") else scheme if scheme in _REGISTRY else "fsspec"
    spec = _REGISTRY[key]
    module, _, cls = spec.target.partition(":")
    try:
        return getattr(importlib.import_module(module), cls), key
    except (ImportError, AttributeError) as exc:
        hint = f"; {spec.install_hint}" if spec.install_hint else ""
        raise StoreError(f"cannot load the backend {spec.target} for {scheme or 'local'!r} "
                         f"stores: {exc}{hint}") from None


def missing_backend_hint(scheme: str) -> str:
    """A "pip install X" hint for an fsspec protocol whose package is not installed."""
    pkg = _HINTS.get(scheme)
    return f"; install it with: pip install {pkg}" if pkg else ""


def default_cache_dir() -> str:
    """``MODELVER_CACHE`` or the user's cache folder."""
    env = os.environ.get("MODELVER_CACHE")
    if env:
        return env
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "modelver")

"""The registry of formats: built-ins, formats registered at runtime, entry points.

Built-in formats live in modules of their own and are imported only when a model of
their kind is saved or loaded. The entry-point group ``modelver.formats`` is read on
the first save or load that no registered format handles, never at import.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from typing import Any

from .._errors import ModelverError
from ._base import Format

__all__ = ["BUILTIN", "choose", "get", "names", "register"]

# Built-in formats in the order they are asked to claim an object: the specific before
# the general (keras and hf models are torch modules too), pickle last.
BUILTIN: dict[str, str] = {
    "bytes": "_basic", "file": "_paths", "folder": "_paths", "npy": "_basic",
    "safetensors": "_torch", "torch-state": "_torch", "json": "_basic", "bundle": "_basic",
    "keras": "_keras", "hf": "_hf", "torch-module": "_torch", "xgboost": "_boosting",
    "lightgbm": "_boosting", "catboost": "_boosting", "skops": "_sklearn", "onnx": "_onnx",
    "pickle": "_basic",
}
# Which framework's objects each built-in claims (a format is asked only when one of
# these modules is imported, so choosing a format imports nothing).
_NEEDS: dict[str, tuple[str, ...]] = {
    "npy": ("numpy",), "safetensors": ("torch", "numpy"), "torch-state": ("torch",),
    "keras": ("keras",), "hf": ("transformers", "diffusers", "sentence_transformers", "peft"),
    "torch-module": ("torch",), "xgboost": ("xgboost",), "lightgbm": ("lightgbm",),
    "catboost": ("catboost",), "skops": ("sklearn",), "onnx": ("onnx",),
}

_lock = threading.RLock()
_added: dict[str, Format] = {}  # registered at runtime or by entry points
_added_order: list[str] = []  # their names, newest first
_loaded: dict[str, Format] = {}  # built-ins imported so far
_entry_points_read = [False]


def register(fmt: Format, *, replace: bool = False) -> Format:
    """Add a format; it is asked to claim objects before every built-in format.

    A name already registered (a built-in included) is refused unless ``replace``.
    Returns ``fmt``, so it can decorate an instance factory.
    """
    if not isinstance(fmt, Format) or not fmt.name or not isinstance(fmt.name, str):
        raise ModelverError(f"register a modelver.formats.Format instance with a name, not "
                            f"{fmt!r}")
    with _lock:
        if not replace and (fmt.name in _added or fmt.name in BUILTIN):
            raise ModelverError(f"a format named {fmt.name!r} is already registered; pass "
                                "replace=True to replace it")
        global _added_order
        _added[fmt.name] = fmt
        _added_order = [fmt.name, *[n for n in _added_order if n != fmt.name]]
    return fmt


def unregister(name: str) -> None:
    """Remove a format added with :func:`register` (built-ins stay)."""
    global _added_order
    with _lock:
        _added.pop(name, None)
        _added_order = [n for n in _added_order if n != name]


def _builtin(name: str) -> Format:
    fmt = _loaded.get(name)
    if fmt is None:
        module = importlib.import_module(f"{__package__}.{BUILTIN[name]}")
        fmt = module.FORMATS[name]
        _loaded[name] = fmt
    return fmt


def _read_entry_points() -> None:
    """Register the formats other packages declare in the ``modelver.formats`` group."""
    if _entry_points_read[0]:
        return
    _entry_points_read[0] = True
    from importlib.metadata import entry_points

    for ep in entry_points(group="modelver.formats"):
        if ep.name in _added:
            continue
        try:
            obj = ep.load()
            fmt = obj() if isinstance(obj, type) else obj
            register(fmt, replace=True)
        except Exception as exc:  # a broken plugin must not break every save
            import warnings

            warnings.warn(f"the modelver format {ep.name!r} from {ep.value!r} cannot be "
                          f"loaded: {type(exc).__name__}: {exc}", UserWarning, stacklevel=3)


def get(name: str) -> Format:
    """The format named ``name``; a ``ModelverError`` that says what to install when no
    format of that name is known here."""
    with _lock:
        if name in _added:
            return _added[name]
        if name in BUILTIN:
            return _builtin(name)
        _read_entry_points()
        if name in _added:
            return _added[name]
    raise ModelverError(f"unknown artifact format {name!r}: it was written by a newer "
                        f"modelver (upgrade modelver) or by a plugin (pip install the package "
                        f"that provides the modelver format {name!r})")


def names() -> list[str]:
    """Every format known so far: runtime-registered first, then the built-ins."""
    with _lock:
        return [*_added_order, *BUILTIN]


def choose(obj: Any, *, member: bool = False) -> Format:
    """The format that stores ``obj``: the first registered format that claims it, else
    the first built-in (``pickle`` claims everything). A bundle member is never a bundle.
    """
    if isinstance(obj, os.PathLike) and not os.path.exists(os.fspath(obj)):
        raise ModelverError(f"cannot register {os.fspath(obj)!r}: no such file or folder")
    with _lock:
        if not _entry_points_read[0]:
            _read_entry_points()
        for name in _added_order:
            if _added[name].claims(obj):
                return _added[name]
    for name in BUILTIN:
        if member and name == "bundle":
            continue
        needs = _NEEDS.get(name)
        if needs is not None and not any(m in sys.modules for m in needs):
            continue
        fmt = _builtin(name)
        if fmt.claims(obj):
            return fmt
    raise AssertionError("pickle claims every object")  # pragma: no cover


def is_safe(name: str) -> bool:
    """Whether loading the format named ``name`` runs no code from the artifact."""
    return get(name).safe

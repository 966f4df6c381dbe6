"""The registry of formats: built-ins, formats registered at runtime, entry points.

Built-in formats live in modules of their own and are imported only when a model of
their kind is saved or loaded. The entry-point group ``modelver.formats`` is read on
the first save of an object only ``pickle`` would take, or the first load of a format
not known here; never at import.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from typing import Any

from .._errors import ModelverError
from ._base import Format

__all__ = ["BUILTIN", "choose", "get", "names", "prepare_imported", "register", "unregister"]

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
_plugins: dict[str, Format] = {}  # from entry points, once read
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
        try:
            obj = ep.load()
            fmt = obj() if isinstance(obj, type) else obj
            if not isinstance(fmt, Format) or not fmt.name:
                raise TypeError("not a modelver.formats.Format with a name")
            _plugins.setdefault(fmt.name, fmt)
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
        if name in _plugins:
            return _plugins[name]
    raise ModelverError(f"unknown artifact format {name!r}: it was written by a newer "
                        f"modelver (upgrade modelver) or by a plugin (pip install the package "
                        f"that provides the modelver format {name!r})")


def names() -> list[str]:
    """Every format known so far, in the order they are asked: runtime-registered, the
    built-ins but ``pickle``, entry points already read, ``pickle``."""
    with _lock:
        return [*_added_order, *[n for n in BUILTIN if n != "pickle"],
                *[n for n in _plugins if n not in _added and n not in BUILTIN], "pickle"]


def _claimed_by_added(obj: Any) -> Format | None:
    with _lock:
        for name in _added_order:
            if _added[name].claims(obj):
                return _added[name]
    return None


def _claimed_by_plugin(obj: Any) -> Format | None:
    with _lock:
        _read_entry_points()
        for name, fmt in _plugins.items():
            if name not in _added and name not in BUILTIN and fmt.claims(obj):
                return fmt
    return None


def choose(obj: Any, *, member: bool = False) -> Format:
    """The format that stores ``obj``. Asked in turn: formats registered at runtime
    (newest first), the built-in formats, then, for an object no built-in but
    ``pickle`` claims, the formats of the ``modelver.formats`` entry points (read then,
    once per process: reading them costs tens of milliseconds), then ``pickle``. A
    bundle member is never a bundle.
    """
    if isinstance(obj, os.PathLike) and not os.path.exists(os.fspath(obj)):
        raise ModelverError(f"cannot register {os.fspath(obj)!r}: no such file or folder")
    found = _claimed_by_added(obj)
    if found is not None:
        return found
    for name in BUILTIN:
        if (member and name == "bundle") or name == "pickle":
            continue
        needs = _NEEDS.get(name)
        if needs is not None and not any(m in sys.modules for m in needs):
            continue
        fmt = _builtin(name)
        if fmt.claims(obj):
            return fmt
    return _claimed_by_plugin(obj) or _builtin("pickle")


def prepare_imported() -> None:
    """Import, ahead of a save, the formats (and what they need) of every framework that
    is imported now: a run does it in the background while the function trains."""
    for name, needs in _NEEDS.items():
        if any(m in sys.modules for m in needs):
            _builtin(name).prepare()

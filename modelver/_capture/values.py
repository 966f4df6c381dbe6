"""Param values as canonical JSON: what a hyperparameter was, field by field.

A param is recorded in the form it reads back from the store, so that an identical
rerun compares equal to the record of the run before it and ``diff`` can name the
field that changed:

* tuples and lists become lists; sets become sorted lists;
* mapping keys become texts (``{0: 1}`` → ``{"0": 1}``; an enum key by its name);
* dataclasses, attrs classes, pydantic models, ``argparse.Namespace``, Hugging Face
  configs and ``TrainingArguments`` become ``{"__type__": "module.Class", field: …}``;
* enums become ``{"__enum__": "module.Class", "name": …}``; numpy scalars their Python
  value; torch dtypes and devices their text (``"torch.float32"``); paths, dates and
  decimals their text; non-finite floats ``{"__float__": "nan"}``;
* functions, lambdas and classes become their qualified name and, when their source
  can be read, its digest; a torch scheduler or optimizer its type and state;
* anything else is ``{"__type__": …, "fingerprint": …, "stable": …}`` (see
  :func:`modelver.fingerprint`).

Nothing here imports a framework: objects are recognised by ``type(obj).__module__``
and by libraries already in ``sys.modules``. No value is ever pickled or ``repr``-ed
into the record except through the fingerprint fallback.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import math
import os
import sys
import types
import uuid
from collections.abc import Mapping
from typing import Any

__all__ = ["param_value"]

_MAX_DEPTH = 32
_MAX_ITEMS = 10_000  # longer lists and mappings are recorded by fingerprint


def param_value(value: Any) -> Any:
    """``value`` as canonical JSON data (see the module text). Never raises."""
    try:
        return _value(value, 0, set())
    except RecursionError:
        return _fallback(value)


def _type_name(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


def _value(value: Any, depth: int, active: set[int]) -> Any:
    kind = type(value)
    if value is None or kind in (bool, str):
        return value
    if kind is int:
        return value if abs(value) < 1 << 63 else {"__int__": hex(value)}
    if kind is float:
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, enum.Enum):
        return {"__enum__": _type_name(kind), "name": value.name}
    if isinstance(value, (bool, int, float, str)):  # subclasses: numpy's float64, IntFlag…
        return _value(kind.__mro__[-2](value), depth, active)
    scalar = _library_scalar(value)
    if scalar is not _NONE:
        return scalar
    if isinstance(value, (os.PathLike, datetime.date, datetime.time, datetime.timedelta,
                          decimal.Decimal, uuid.UUID, complex)):
        return {"__type__": _type_name(kind), "value": _text(value)}
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType,
                          type)):
        return _callable(value)
    if depth >= _MAX_DEPTH or id(value) in active:
        return _fallback(value)
    active.add(id(value))
    try:
        return _nested(value, kind, depth + 1, active)
    finally:
        active.discard(id(value))


_NONE = object()  # "not a library scalar" (None is a value)


def _library_scalar(value: Any) -> Any:
    """numpy scalars, torch dtypes and devices; ``_NONE`` for anything else."""
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.generic) and not isinstance(value, np.object_):
        item = value.item()
        return item if not isinstance(item, (bytes, complex)) else _fallback(value)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, (torch.dtype, torch.device)):
        return str(value)
    if np is not None and isinstance(value, np.dtype):
        return {"__type__": "numpy.dtype", "value": value.str}
    return _NONE


def _nested(value: Any, kind: type, depth: int, active: set[int]) -> Any:
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        if len(value) > _MAX_ITEMS:
            return _fallback(value)
        return [_value(v, depth, active) for v in value]
    if isinstance(value, (set, frozenset)):
        if len(value) > _MAX_ITEMS:
            return _fallback(value)
        from .._serde import canonical

        return sorted((_value(v, depth, active) for v in value), key=canonical)
    if isinstance(value, Mapping):
        if len(value) > _MAX_ITEMS:
            return _fallback(value)
        return {_key(k): _value(v, depth, active) for k, v in value.items()}
    fields = _fields(value, kind)
    if fields is not None:
        out: dict[str, Any] = {"__type__": _type_name(kind)}
        out.update({str(k): _value(v, depth, active) for k, v in fields.items()})
        return out
    state = _torch_state(value, kind)
    if state is not None:
        return {"__type__": _type_name(kind), "state": _value(state, depth, active)}
    return _fallback(value)


def _fields(value: Any, kind: type) -> Mapping[str, Any] | None:
    """The named fields of a structured config, or None when ``value`` is not one."""
    module = kind.__module__ or ""
    if module.startswith("transformers") and callable(getattr(value, "to_dict", None)):
        fields = value.to_dict()  # configs and TrainingArguments (which masks hub tokens)
        return fields if isinstance(fields, Mapping) else None
    names = getattr(value, "_fields", None)
    if isinstance(value, tuple) and isinstance(names, tuple):  # a namedtuple
        return dict(zip(names, value, strict=False))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    attrs_fields = getattr(kind, "__attrs_attrs__", None)
    if attrs_fields is not None:
        return {a.name: getattr(value, a.name) for a in attrs_fields}
    if module == "argparse" and kind.__name__ == "Namespace":
        return dict(vars(value))
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None and isinstance(value, pydantic.BaseModel):
        return dict(value)  # field name -> value, nested models kept as models
    return None


def _torch_state(value: Any, kind: type) -> Any:
    """The ``state_dict()`` of a torch scheduler (plain numbers), else None."""
    if not (kind.__module__ or "").startswith("torch.optim.lr_scheduler"):
        return None
    try:
        state = value.state_dict()
    except Exception:  # a scheduler whose state cannot be read: by fingerprint
        return None
    return {k: v for k, v in state.items() if not callable(v)} if isinstance(state, dict) else None


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, enum.Enum):
        return key.name
    if key is None or isinstance(key, (bool, int, float)):
        from .._serde import canonical

        try:
            return canonical(key)  # 0 -> "0", True -> "true", None -> "null"
        except ValueError:  # nan, inf
            return repr(key)
    return _text(key)


def _text(value: Any) -> str:
    if isinstance(value, os.PathLike):
        return os.fsdecode(os.fspath(value))
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)


def _callable(value: Any) -> dict[str, Any]:
    """A function, method or class by qualified name and source digest."""
    from .source import source_digest_of

    target = value.__func__ if isinstance(value, types.MethodType) else value
    module = getattr(target, "__module__", None)
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", "?")
    out: dict[str, Any] = {"__callable__": f"{module}.{name}" if module else str(name)}
    digest = source_digest_of(target)
    if digest is not None:
        out["source"] = digest
    return out


def _fallback(value: Any) -> dict[str, Any]:
    from .._fingerprint import fingerprint

    fp = fingerprint(value)
    return {"__type__": _type_name(type(value)), "fingerprint": fp.digest, "stable": fp.stable}

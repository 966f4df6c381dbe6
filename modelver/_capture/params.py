"""Params: the bound arguments of a training call, with data fingerprinted, not stored."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Collection, Mapping
from typing import Any

from .._fingerprint import StatCache, fingerprint, is_data
from .._records import DataFingerprint
from .._serde import canonical

__all__ = ["bind_params", "json_value"]


REDACTED = "<redacted>"


def redact(key: str, value: Any) -> Any:
    """Hide secrets before they are recorded: values of secret-looking names
    (``api_key``, ``token``, ``password``…) and credentials inside URLs."""
    from .git import _SECRET_KEY, sanitize_url

    if _SECRET_KEY.match(str(key)):
        return REDACTED
    if isinstance(value, str) and "://" in value and ("@" in value or "?" in value):
        return sanitize_url(value)
    return value


def json_value(value: Any) -> Any:
    """``value`` if it is plain JSON, else a record of its type and fingerprint."""
    try:
        canonical(value)
    except (TypeError, ValueError):
        pass
    else:
        if not (isinstance(value, float) and not math.isfinite(value)):
            return value
    fp = fingerprint(value)
    return {"__type__": f"{type(value).__module__}.{type(value).__qualname__}",
            "fingerprint": fp.digest, "stable": fp.stable}


def bind_params(sig: inspect.Signature, args: tuple[Any, ...], kwargs: Mapping[str, Any],
                data_names: Collection[str], cache: StatCache | None
                ) -> tuple[dict[str, Any], dict[str, DataFingerprint]]:
    """Split a call's arguments (defaults applied) into params and data fingerprints."""
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    params: dict[str, Any] = {}
    data: dict[str, DataFingerprint] = {}
    for key, value in bound.arguments.items():
        kind = sig.parameters[key].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            items: list[tuple[str, Any]] = list(value.items())
        elif kind is inspect.Parameter.VAR_POSITIONAL:
            items = [(f"{key}[{i}]", v) for i, v in enumerate(value)]
        else:
            items = [(key, value)]
        for k, v in items:
            if k in data_names or (key in data_names) or is_data(v):
                data[k] = fingerprint(v, cache=cache)
            else:
                params[k] = json_value(redact(k, v))
    return params, data


def signature_of(func: Callable[..., Any]) -> inspect.Signature:
    """The signature of the unwrapped function."""
    return inspect.signature(inspect.unwrap(func))

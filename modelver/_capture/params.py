"""Params: the bound arguments of a training call, with data fingerprinted, not stored.

Data is what ``data=`` names, and arrays, frames, tensors (and lists, tuples or dicts
of them) wherever they are passed; everything else is a param, recorded as a value
(:func:`modelver._capture.values.param_value`), a text that names a path included.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

from .._fingerprint import StatCache, fingerprint, is_inline_data
from .._records import DataFingerprint
from .values import param_value

__all__ = ["bind_params", "credentials_in", "is_secret_name", "record_param", "redact",
           "redact_text"]


REDACTED = "<redacted>"


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
_MAX_DEPTH = 64


def is_secret_name(key: object) -> bool:
    """Whether a parameter name looks like it holds a secret: ``api_key``, ``token``,
    ``apiToken``, ``clientSecret``, ``accessKey``, ``X-Amz-Security-Token``…"""
    from .git import _SECRET_KEY

    text = str(key)
    return bool(_SECRET_KEY.match(text) or _SECRET_KEY.match(_CAMEL.sub("_", text)))


def redact(key: str, value: Any, _depth: int = 0) -> Any:
    """Hide secrets before they are recorded, at any depth: values of secret-looking
    names (see :func:`is_secret_name`), in nested mappings too, and credentials inside
    URLs, in lists and tuples too."""
    if is_secret_name(key):
        return REDACTED
    if _depth > _MAX_DEPTH:
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact(k, v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [redact(key, v, _depth + 1) for v in value]
        return items if isinstance(value, list) else tuple(items)
    return value


def redact_text(text: str, secrets: Collection[str] = ()) -> str:
    """``text`` with the credentials of every URL in it removed (messages, values), and
    every string of ``secrets`` (credentials seen elsewhere, which a library's error
    message may quote without their URL) replaced."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    if "://" not in text or ("@" not in text and "?" not in text):
        return text
    from .git import sanitize_url

    return _URL.sub(lambda m: sanitize_url(m.group(0)), text)


def credentials_in(value: Any, _depth: int = 0) -> set[str]:
    """The user names, passwords and secret query values of every URL in ``value``
    (strings, and strings inside mappings, lists and tuples)."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    found: set[str] = set()
    if isinstance(value, str) and "://" in value:
        for url in _URL.findall(value):
            try:
                parts = urlsplit(url)
            except ValueError:
                continue
            userinfo = parts.netloc.rpartition("@")[0]
            found.update(unquote(p) for p in userinfo.split(":") if len(p) >= 4)
            found.update(v for k, v in parse_qsl(parts.query) if is_secret_name(k) and v)
    elif isinstance(value, Mapping) and _depth < _MAX_DEPTH:
        for v in value.values():
            found |= credentials_in(v, _depth + 1)
    elif isinstance(value, (list, tuple)) and _depth < _MAX_DEPTH:
        for v in value:
            found |= credentials_in(v, _depth + 1)
    return found


def record_param(key: str, value: Any) -> Any:
    """A param as it is recorded: canonical JSON, secrets redacted at any depth (field
    names inside configs and dataclasses included)."""
    return redact(key, param_value(value))


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
            if k in data_names or (key in data_names) or is_inline_data(v):
                data[k] = fingerprint(v, cache=cache)
            else:
                params[k] = record_param(k, v)
    return params, data


def signature_of(func: Callable[..., Any]) -> inspect.Signature:
    """The signature of the unwrapped function."""
    return inspect.signature(inspect.unwrap(func))

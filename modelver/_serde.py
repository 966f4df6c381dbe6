"""One private converter: records to canonical JSON and back, and digests of JSON.

Canonical JSON is sorted keys, compact separators, UTF-8; datetimes are ISO 8601 UTC.
Digests are sha256 of canonical JSON or of raw bytes, never of pickles.
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

if TYPE_CHECKING:
    from cattrs.preconf.json import JsonConverter

__all__ = ["canonical", "converter", "dumps", "json_digest", "loads", "record_data", "structure",
           "unstructure"]

T = TypeVar("T")

_built: list[JsonConverter] = []
_lock = threading.Lock()


def converter() -> JsonConverter:
    """The one converter, built on first use (importing cattrs costs ~10 ms)."""
    if not _built:
        with _lock:
            if not _built:
                from cattrs.preconf.json import make_converter

                conv = make_converter()
                conv.register_unstructure_hook(
                    datetime, lambda d: d.astimezone(timezone.utc).isoformat())
                conv.register_structure_hook(datetime, lambda v, _: _parse_time(v))
                _built.append(conv)
    return _built[0]


def _parse_time(value: Any) -> datetime:
    d = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def canonical(obj: Any) -> str:
    """Canonical JSON text of plain data (dicts, lists, str, numbers, bool, None)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def unstructure(record: Any) -> Any:
    """A record as plain JSON-able data."""
    if isinstance(record, datetime):  # the common case on hot paths, without cattrs
        return record.astimezone(timezone.utc).isoformat()
    return converter().unstructure(record)


# Fields of a record that the store derives, never the record itself (a version's
# tombstone and the runs that reproduced it): a log entry does not hold them.
_DERIVED_FIELDS = frozenset({("ModelVersion", "deleted"), ("ModelVersion", "reruns"),
                            ("ModelVersion", "reproductions"), ("ModelVersion", "description"),
                            ("ModelVersion", "annotations")})
_KEEP = object()  # a field's plan when only a non-empty default would leave it out


def record_data(record: Any) -> Any:
    """A record as a log entry stores it: :func:`unstructure` less the fields that are
    at an empty default (None, [], {}; they read back as that default) and the fields
    the store derives. ``schema_version`` and every non-empty value are kept, so the
    record reads back equal to ``record``; it is about a third smaller for a version.
    """
    data = unstructure(record)
    _prune(record, data)
    return data


_PLANS: dict[type, list[tuple[str, Any]]] = {}


def _plan(cls: type) -> list[tuple[str, Any]]:
    """Each field of a record class and the value that leaves it out of an entry: its
    empty default (None, [] or {}), ``_KEEP`` when it has none, or ``attrs.NOTHING``
    when the store derives it (it is always left out)."""
    plan = _PLANS.get(cls)
    if plan is None:
        plan = []
        for field in attrs.fields(cls):
            default = field.default
            if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                default = _KEEP if default.takes_self else default.factory()
            if (cls.__name__, field.name) in _DERIVED_FIELDS:
                default = attrs.NOTHING
            elif not (default is None or (type(default) in (list, dict) and not default)):
                default = _KEEP
            plan.append((field.name, default))
        _PLANS[cls] = plan
    return plan


def _prune(record: Any, data: Any) -> None:
    if not (attrs.has(type(record)) and isinstance(data, dict)):
        return
    for name, empty in _plan(type(record)):
        value = getattr(record, name)
        if empty is attrs.NOTHING or (empty is not _KEEP and value == empty):
            data.pop(name, None)
        elif isinstance(value, dict) and value and attrs.has(type(next(iter(value.values())))):
            for key, item in value.items():  # a map of records (a run's data)
                _prune(item, data[name][key])
        elif isinstance(value, list) and value and attrs.has(type(value[0])):
            for item, item_data in zip(value, data[name], strict=True):
                _prune(item, item_data)  # a list of records (a machine's GPUs)
        elif attrs.has(type(value)):
            _prune(value, data.get(name))


def structure(data: Any, cls: type[T]) -> T:
    """Plain data back to a record of class ``cls``."""
    if cls is datetime:
        return _parse_time(data)  # type: ignore[return-value]
    return converter().structure(data, cls)


def dumps(record: Any) -> str:
    """Canonical JSON of a record."""
    return canonical(unstructure(record))


def loads(text: str | bytes, cls: type[T]) -> T:
    """A record of class ``cls`` from JSON text."""
    return structure(json.loads(text), cls)


def json_digest(obj: Any) -> str:
    """``sha256:<hex>`` of the canonical JSON of plain data."""
    return "sha256:" + hashlib.sha256(canonical(obj).encode()).hexdigest()

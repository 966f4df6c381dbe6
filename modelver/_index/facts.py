"""The searchable facts of a run, as rows: its params flattened, its numeric metrics.

Search (:mod:`modelver._index.search`) filters and orders on these rows through their
``(key, value)`` indexes instead of parsing each run's JSON. A nested params dict is
flattened with dots (``{"opt": {"lr": 0.1}}`` is the key ``opt.lr``); numbers and
booleans are kept as numbers (``num``), strings as text (``txt``), and any other value
(a list, an empty dict) as its canonical JSON text; a NaN or infinite number as its
text (``"nan"``, ``"inf"``). ``None`` is kept with neither.
Metrics are kept when they are numbers (a list of numbers keeps its last one).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from .._serde import canonical

__all__ = ["metric_rows", "param_rows"]


def _leaves(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    # {"__float__": "nan"} is how a NaN or infinite value is recorded: one value, kept
    # as its text ("nan", "inf", "-inf"), not a nested key.
    if isinstance(value, Mapping) and value and set(value) != {"__float__"}:
        for key, inner in value.items():
            yield from _leaves(f"{prefix}.{key}" if prefix else str(key), inner)
    else:
        yield prefix, value


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def param_rows(run_id: str, params: Mapping[str, Any]) -> list[tuple[str, str, Any, Any]]:
    """``(run_id, key, num, txt)`` rows of a run's params, nested keys joined by dots."""
    rows: list[tuple[str, str, Any, Any]] = []
    for key, value in _leaves("", params):
        if not key:
            continue
        number = _number(value)
        if number is not None:
            rows.append((run_id, key, number, None))
        elif isinstance(value, str):
            rows.append((run_id, key, None, value))
        elif isinstance(value, Mapping) and set(value) == {"__float__"}:
            rows.append((run_id, key, None, str(value["__float__"])))
        elif value is None:
            rows.append((run_id, key, None, None))
        else:
            rows.append((run_id, key, None, canonical(value)))
    return rows


def metric_rows(run_id: str, metrics: Mapping[str, Any]) -> list[tuple[str, str, float]]:
    """``(run_id, key, value)`` rows of a run's numeric metrics."""
    rows: list[tuple[str, str, float]] = []
    for key, value in metrics.items():
        if isinstance(value, list) and value:
            value = value[-1]
        number = _number(value)
        if number is not None:
            rows.append((run_id, str(key), number))
    return rows

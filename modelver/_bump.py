"""``bump="auto"``: which part of the version a change moves (pure functions).

* the input schema of the data changed (frame columns/dtypes, array dtype and
  trailing shape, a file's header or parquet schema) → **major**;
* the code (the function's source and closure, or any user function, class or
  constant it reaches) or the hyperparameters changed → **minor**;
* only the data or the seed changed, or nothing did → **patch**.

:func:`same_inputs` says whether two runs had the same code, params, data and seed:
an identical rerun that also produced the same artifact registers no new version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._records import CodeInfo, Run

__all__ = ["code_changes", "decide", "flat", "same_inputs"]

_NAMED = 5  # how many changed names a rule lists before "…"


def _schemas(run: Run) -> dict[str, Any]:
    return {k: fp.schema for k, fp in run.data.items() if fp.schema is not None}


def flat(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys (``{"opt": {"lr": 1}}`` → ``{"opt.lr": 1}``), so
    that a change names the field; an empty mapping stays a value."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flat(value, name + "."))
        else:
            out[name] = value
    return out


def code_changes(a: CodeInfo | None, b: CodeInfo | None) -> list[str]:
    """What differs between two code records: the function's name when its own source
    or closure changed, and each reached ``module:qualname`` that was added, removed
    or edited (compared only when both records followed the user code)."""
    if a is None and b is None:
        return []
    if a is None or b is None:
        return ["code"]
    from ._capture.code import code_identity

    changed = []
    if code_identity(a, reached=False) != code_identity(b, reached=False):
        changed.append(".".join(p for p in (b.module, b.function) if p) or "the function")
    if a.user_code is not None and b.user_code is not None:
        changed += sorted(k for k in a.user_code.keys() | b.user_code.keys()
                          if a.user_code.get(k) != b.user_code.get(k))
    return changed


def _data_changes(a: Run, b: Run) -> list[str]:
    return sorted(k for k in a.data.keys() | b.data.keys()
                  if (a.data.get(k) and a.data[k].digest) != (b.data.get(k) and b.data[k].digest))


def _param_changes(a: Run, b: Run) -> list[str]:
    fa, fb = flat(a.params), flat(b.params)
    return sorted(k for k in fa.keys() | fb.keys() if fa.get(k, _MISSING) != fb.get(k, _MISSING))


_MISSING = object()


def _names(keys: list[str]) -> str:
    shown = ", ".join(keys[:_NAMED])
    return shown + (f", … {len(keys) - _NAMED} more" if len(keys) > _NAMED else "")


def same_inputs(a: Run, b: Run) -> bool:
    """Whether two runs had the same code, params, data and seed."""
    return (not code_changes(a.code, b.code) and not _param_changes(a, b)
            and not _data_changes(a, b) and a.seeds.seed == b.seeds.seed)


def decide(prev: Run | None, run: Run | None, bump: str) -> tuple[str, str]:
    """(part, the rule that decided it) for a new version after one made by ``prev``."""
    if bump != "auto":
        return bump, f"bump={bump!r} given"
    if run is None or prev is None:
        return "patch", "no run to compare with the previous version: patch"
    old, new = _schemas(prev), _schemas(run)
    changed = sorted(k for k in old.keys() & new.keys() if old[k] != new[k])
    if changed:
        return "major", f"input schema changed ({_names(changed)}): major"
    code = code_changes(prev.code, run.code)
    if code:
        return "minor", f"code changed ({_names(code)}): minor"
    params = _param_changes(prev, run)
    if params:
        return "minor", f"params changed ({_names(params)}): minor"
    data = _data_changes(prev, run)
    if data:
        return "patch", f"data changed ({_names(data)}): patch"
    if prev.seeds.seed != run.seeds.seed:
        return "patch", "seed changed: patch"
    return "patch", "nothing changed: patch"

"""``bump="auto"``: which part of the version a change moves (pure functions).

* the input schema of the data changed (frame columns/dtypes, array dtype and
  trailing shape) → **major**;
* the code (function source and closure) or the hyperparameters changed → **minor**;
* only the data changed, or nothing did → **patch**.
"""

from __future__ import annotations

from typing import Any

from ._records import Run

__all__ = ["decide"]


def _schemas(run: Run) -> dict[str, Any]:
    return {k: fp.schema for k, fp in run.data.items() if fp.schema is not None}


def _code_id(run: Run) -> str | None:
    if run.code is None:
        return None
    from ._capture.code import code_identity

    return code_identity(run.code)


def decide(prev: Run | None, run: Run | None, bump: str) -> tuple[str, str]:
    """(part, the rule that decided it) for a new version after one made by ``prev``."""
    if bump != "auto":
        return bump, f"bump={bump!r} given"
    if run is None or prev is None:
        return "patch", "no run to compare with the previous version: patch"
    old, new = _schemas(prev), _schemas(run)
    changed = sorted(k for k in old.keys() & new.keys() if old[k] != new[k])
    if changed:
        return "major", f"input schema changed ({', '.join(changed)}): major"
    if _code_id(prev) != _code_id(run):
        return "minor", "code changed: minor"
    params = sorted(k for k in prev.params.keys() | run.params.keys()
                    if prev.params.get(k) != run.params.get(k))
    if params:
        return "minor", f"params changed ({', '.join(params)}): minor"
    data = sorted(k for k in prev.data.keys() | run.data.keys()
                  if (prev.data.get(k) and prev.data[k].digest)
                  != (run.data.get(k) and run.data[k].digest))
    if data:
        return "patch", f"data changed ({', '.join(data)}): patch"
    return "patch", "nothing changed: patch"

"""The fresh process of :func:`modelver.reproduce`: import the checked-out code, call the
decorated function with the recorded params, data and seed into the scratch store.

Run as ``python -m modelver._reproduce_child JOB.json``; it writes ``{"digest",
"run_id", "train_s"}`` (or ``{"error"}``) to the job's ``result`` file.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import re
import sys
import time
import traceback
from types import ModuleType
from typing import Any

__all__ = ["main"]

_ITEM = re.compile(r"\A(\w+)\[(\d+)\]\Z")


def _module(file: str, module: str, root: str) -> ModuleType:
    """The module at ``file``: imported by its name from ``root`` when it has one (so
    that its own imports resolve as they did), else loaded under a name of its own."""
    for path in (os.path.dirname(file), root):
        if path not in sys.path:
            sys.path.insert(0, path)
    if module != "__main__" and not module.startswith("__"):
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.origin and os.path.realpath(spec.origin) == \
                os.path.realpath(file):
            return importlib.import_module(module)
    name = "__modelver_rebuild__"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {file!r}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _call_args(func: Any, values: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """Positional and keyword arguments that bind ``values`` (keyed as a run records
    them: ``name``, ``args[0]`` for ``*args``, keys of ``**kwargs``) to ``func``."""
    sig = inspect.signature(inspect.unwrap(func))
    params = list(sig.parameters.values())
    var_pos = next((p.name for p in params if p.kind is p.VAR_POSITIONAL), None)
    rest = dict(values)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            items = sorted((int(m.group(2)), k) for k in rest
                           if (m := _ITEM.match(k)) and m.group(1) == p.name)
            args += [rest.pop(k) for _, k in items]
        elif p.kind is p.VAR_KEYWORD:
            continue
        elif p.name in rest:
            if p.kind is p.POSITIONAL_ONLY or (var_pos and p.kind is p.POSITIONAL_OR_KEYWORD):
                args.append(rest.pop(p.name))
            else:
                kwargs[p.name] = rest.pop(p.name)
    kwargs.update(rest)  # **kwargs
    return args, kwargs


def main(job_file: str) -> int:
    """Run the job; returns the exit status (0, or 3 when the training failed)."""
    with open(job_file, encoding="utf-8") as f:
        job = json.load(f)
    out: dict[str, Any]
    try:
        import attrs

        import modelver
        from modelver._snapshots import read_input
        from modelver._training import VersionedFunction

        store = modelver.open(job["store"], snapshot=False)
        modelver.configure(store)
        mod = _module(job["file"], job["module"], job["root"])
        obj: Any = mod
        for part in str(job["entry"]).split(":", 1)[1].split("."):
            obj = getattr(obj, part)
        if not isinstance(obj, VersionedFunction):
            raise TypeError(f"{job['entry']} is not a function decorated with "
                            "@versioned_training in the checked-out code")
        obj.options = attrs.evolve(obj.options, store=store, seed=job["seed"],
                                   version=job["version"], snapshot=False)
        values = dict(job["params"])
        values.update({k: read_input(spec) for k, spec in job["data"].items()})
        args, kwargs = _call_args(obj.__wrapped__, values)
        started = time.perf_counter()
        obj(*args, **kwargs)
        train_s = time.perf_counter() - started
        run = obj.last_run.record if obj.last_run is not None else None
        mv = obj.last_version
        out = {"digest": mv.digest if mv is not None else None,
               "run_id": run.id if run is not None else None, "train_s": round(train_s, 3)}
        if run is None:
            out["error"] = "the run was not recorded"
    except BaseException as exc:
        out = {"error": f"{type(exc).__name__}: {exc}",
               "traceback": traceback.format_exc()}
    with open(job["result"], "w", encoding="utf-8") as f:
        json.dump(out, f)
    return 3 if "error" in out else 0


if __name__ == "__main__":  # pragma: no cover - run by reproduce() in a fresh process
    sys.exit(main(sys.argv[1]))

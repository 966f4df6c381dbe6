"""Per-call cost of an input signature check, against the model call it guards.

    .venv/bin/python benchmarks/bench_signature.py [--columns 30] [--rows 1]
                                                   [--calls 10000] [--repeat 7]

A model registered from a training run on a ``--columns``-column pandas frame (float64
columns) and one on a numpy array of that width; each is loaded twice, bare and with
``load(..., check_input=True)``. Timed per call, in microseconds:

* ``signature.check(X)`` on the same frame every call (a serving loop reusing its
  buffer), on a new frame every call (built from a dict before timing: the check sees
  another columns object each time), and on a numpy array;
* ``predict`` of a trivial model (it returns its input) bare and wrapped: the
  difference is what the wrapper adds. Target: ≤ 20 µs for 30 columns.

Each figure is the median of ``--repeat`` rounds of ``--calls`` calls, with the min and
max round. Prints a table; asserts nothing (machines are noisy).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class Identity:
    """A model whose predict costs next to nothing, so that the check's cost shows."""

    def predict(self, x: Any) -> Any:
        return x


def _per_call(fn: Callable[[], Any], calls: int, repeat: int) -> tuple[float, float, float]:
    """(median, min, max) microseconds per call over ``repeat`` rounds."""
    rounds = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        rounds.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(rounds), min(rounds), max(rounds)


def _per_new_input(make: Callable[[], Any], fn: Callable[[Any], Any], calls: int,
                   repeat: int) -> tuple[float, float, float]:
    """Like :func:`_per_call`, on ``calls`` new inputs per round, made before timing."""
    rounds = []
    for _ in range(repeat):
        inputs = [make() for _ in range(calls)]
        start = time.perf_counter()
        for x in inputs:
            fn(x)
        rounds.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(rounds), min(rounds), max(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--columns", type=int, default=30)
    parser.add_argument("--rows", type=int, default=1)
    parser.add_argument("--calls", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    import numpy as np
    import pandas as pd

    import modelver

    rng = np.random.default_rng(0)
    data = {f"f{i}": rng.random(args.rows) for i in range(args.columns)}
    frame = pd.DataFrame(data)
    array = rng.random((args.rows, args.columns))
    with tempfile.TemporaryDirectory() as tmp:
        store = modelver.open(os.path.join(tmp, ".modelver"))
        for name, x in (("frame", frame), ("array", array)):
            with modelver.training(name, data={"X": x}, store=store) as run:
                run.log_model(Identity())
        rows: list[tuple[str, tuple[float, float | None, float | None]]] = []
        for name, x in (("frame", frame), ("array", array)):
            bare = store.load(name, safe=False)
            wrapped = store.load(name, safe=False, check_input=True)
            sig = wrapped.signature
            sig.check(x)
            rows.append((f"{name}: signature.check(X)", _per_call(lambda: sig.check(x),  # noqa: B023
                                                                  args.calls, args.repeat)))
            if name == "frame":
                rows.append(("frame: check, a new frame each call",
                             _per_new_input(lambda: pd.DataFrame(data), sig.check,
                                            args.calls, args.repeat)))
            # Each lambda is timed at once, in the same iteration: B023 does not apply.
            b = _per_call(lambda: bare.predict(x), args.calls, args.repeat)  # noqa: B023
            w = _per_call(lambda: wrapped.predict(x), args.calls, args.repeat)  # noqa: B023
            rows.append((f"{name}: bare predict", b))
            rows.append((f"{name}: checked predict", w))
            rows.append((f"{name}: checked - bare (medians)", (w[0] - b[0], None, None)))
        store.close()
    print(f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}; pandas {pd.__version__}; "
          f"{args.columns} columns x {args.rows} rows; {args.repeat} rounds of {args.calls} "
          "calls")
    print("| what | median µs/call | min | max |")
    print("| --- | --- | --- | --- |")
    for what, (med, lo, hi) in rows:
        span = ("-", "-") if lo is None or hi is None else (f"{lo:.2f}", f"{hi:.2f}")
        print(f"| {what} | {med:.2f} | {span[0]} | {span[1]} |")
    print("target: a check ≤ 20 µs for a 30-column frame")


if __name__ == "__main__":
    main()

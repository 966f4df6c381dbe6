"""Capture and load costs: import time, decorator overhead, load() against raw pickle.

    .venv/bin/python benchmarks/bench_capture.py [--load-mb 50] [--calls 50]

Each figure is measured in fresh subprocesses where "first call in a process"
matters. Prints a table; asserts nothing (machines are noisy).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

IMPORT = "import time; t = time.perf_counter(); import modelver; print(time.perf_counter() - t)"

OVERHEAD = textwrap.dedent("""
    import json, sys, time
    import modelver
    store = modelver.configure(sys.argv[1])

    def bare(n=3):
        return {"weights": [n, n + 1]}

    versioned = modelver.versioned_training("trivial", seed=None)(bare)
    t = time.perf_counter(); versioned(); first = time.perf_counter() - t
    later, raw = [], []
    for i in range(int(sys.argv[2])):
        t = time.perf_counter(); versioned(n=i); later.append(time.perf_counter() - t)
        t = time.perf_counter(); bare(n=i); raw.append(time.perf_counter() - t)
    print(json.dumps({"first": first, "later": later, "raw": raw}))
""")

LOAD = textwrap.dedent("""
    import hashlib, json, pickle, sys, time
    import numpy as np
    import modelver
    store = modelver.open(sys.argv[1])
    mb = int(sys.argv[2])
    model = (np.random.default_rng(0).normal(size=mb * 2**20 // 8), "x")  # a pickle
    mv = store.register("big", model)
    path = store.backend.blob_path(mv.blobs[0])  # the pickle file its manifest names
    out = {"raw_pickle": [], "raw_pickle_sha": [], "load": []}
    for _ in range(5):
        t = time.perf_counter()
        with open(path, "rb") as f:
            pickle.load(f)
        out["raw_pickle"].append(time.perf_counter() - t)
        t = time.perf_counter()
        with open(path, "rb") as f:
            data = f.read()
        hashlib.sha256(data).hexdigest(); pickle.loads(data)
        out["raw_pickle_sha"].append(time.perf_counter() - t)
        fresh = modelver.open(sys.argv[1])          # a cold in-memory cache each time
        t = time.perf_counter(); fresh.load("big", mv.version)
        out["load"].append(time.perf_counter() - t)
        fresh.close()
    store.load("big", mv.version)
    t = time.perf_counter(); store.load("big", mv.version)
    out["cached"] = time.perf_counter() - t
    print(json.dumps(out))
""")


def run(code: str, *args: str, cwd: str | None = None) -> str:
    """Run code in a fresh interpreter and return its stdout."""
    return subprocess.run([sys.executable, "-c", code, *args], check=True,
                          capture_output=True, text=True, cwd=cwd).stdout


def ms(seconds: float) -> str:
    """Format seconds as milliseconds."""
    return f"{seconds * 1000:8.2f} ms"


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--load-mb", type=int, default=50)
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()

    imports = sorted(float(run(IMPORT)) for _ in range(7))
    print(f"import modelver (median of 7 fresh processes)      {ms(statistics.median(imports))}")

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        run("import modelver, sys; modelver.open(sys.argv[1]).register('x', b'x')",
            f"{tmp}/s/.modelver")
        print(f"creating a new store (one-off: sqlite-utils schema) {ms(time.perf_counter() - t)}"
              "   (includes starting Python)")
        for where, cwd in (("outside a git repo", tmp), ("inside this git repo", repo)):
            firsts, laters = [], []
            for _ in range(3):
                out = json.loads(run(OVERHEAD, f"{tmp}/s/.modelver", str(args.calls), cwd=cwd))
                firsts.append(out["first"] - out["raw"][0])
                pairs = zip(out["later"], out["raw"], strict=True)
                laters.append(statistics.median(a - b for a, b in pairs))
            print(f"decorated call overhead, first call, {where:<21}"
                  f"{ms(statistics.median(firsts))}   (target < 50 ms)")
            print(f"decorated call overhead, later calls, {where:<20}"
                  f"{ms(statistics.median(laters))}   (target < 10 ms, incl. registering)")

        out = json.loads(run(LOAD, f"{tmp}/load/.modelver", str(args.load_mb)))
        raw, raw_sha, load = (statistics.median(out[k]) for k in
                              ("raw_pickle", "raw_pickle_sha", "load"))
        print(f"pickle.load of a {args.load_mb} MB model                      {ms(raw)}")
        print(f"read + sha256 + pickle.loads (raw plus hashing)   {ms(raw_sha)}")
        print(f"modelver load() (verified, cold cache)            {ms(load)}"
              f"   ratio {load / raw_sha:.2f}x (target <= 1.3x)")
        print(f"modelver load() (same digest again, cached)       {ms(out['cached'])}")


if __name__ == "__main__":
    main()

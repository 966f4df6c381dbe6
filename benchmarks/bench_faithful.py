"""Faithful-record costs: capture overhead with the user-code walk, and content
fingerprints of large tensors and polars frames against raw sha256.

    .venv/bin/python benchmarks/bench_faithful.py [--calls 20] [--gb 1.0] [--lines 5000]
                                                  [--first 5]

* the demo's training function (``examples/fraud_demo.py``, its defaults: 2,000 rows,
  100 trees): a decorated call's time minus the function's own time measured inside
  it, first call in ``--first`` fresh processes (each on a new store, then on an
  existing store) and
  later calls, registration included;
* the user-code walk alone over a generated project of ``--lines`` lines (modules of
  functions and classes that call each other), first and later calls, and the same
  project's decorated call overhead;
* fingerprint throughput of a ``--gb`` torch tensor and polars frame, and raw
  ``hashlib.sha256`` over the same bytes.

Prints a table; asserts nothing (machines are noisy).
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

DEMO = textwrap.dedent("""
    import json, os, sys, time
    sys.path.insert(0, sys.argv[3])
    import modelver
    modelver.configure(sys.argv[1])
    import fraud_demo
    os.makedirs(sys.argv[1], exist_ok=True)
    path = fraud_demo.make_transactions(sys.argv[1] + "/train.csv", seed=0)
    inner = fraud_demo.train.__wrapped__
    spent = []

    def timed_inner(*args, **kwargs):  # the function's own time, measured inside the run
        t = time.perf_counter(); result = inner(*args, **kwargs)
        spent.append(time.perf_counter() - t)
        return result

    fraud_demo.train.__wrapped__ = timed_inner

    def overhead(n):  # the demo's call, train(path) with its defaults, n trees
        t = time.perf_counter(); fraud_demo.train(path, n_estimators=n)
        return time.perf_counter() - t - spent[-1]

    first = overhead(100 + 99 * int(sys.argv[4]))
    later = [overhead(101 + 50 * int(sys.argv[4]) + i) for i in range(int(sys.argv[2]))]
    import hashlib, tempfile, pathlib, skops.io as sio
    model = fraud_demo.train.last_run.model
    saves = []
    for _ in range(5):  # the model's own save (skops, its format): what storing it costs
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter(); sio.dump(model, pathlib.Path(tmp, "m.skops"))
            hashlib.sha256(pathlib.Path(tmp, "m.skops").read_bytes()).digest()
            saves.append(time.perf_counter() - t)
    print(json.dumps({"first": first, "later": later, "save": saves}))
""")

PROJECT = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, sys.argv[3])
    import modelver
    from modelver._capture.closure import reach_function
    modelver.configure(sys.argv[1])
    import entry
    def bare(n=1):
        return str(entry.run(n)).encode()
    versioned = modelver.versioned_training("project", seed=1)(bare)
    t = time.perf_counter(); reached = reach_function(bare); walk_first = time.perf_counter() - t
    walks = []
    for _ in range(20):
        t = time.perf_counter(); reach_function(bare); walks.append(time.perf_counter() - t)
    t = time.perf_counter(); versioned(0); first = time.perf_counter() - t
    t = time.perf_counter(); bare(0); first -= time.perf_counter() - t
    later = []
    for i in range(int(sys.argv[2])):
        t = time.perf_counter(); versioned(i + 1); v = time.perf_counter() - t
        t = time.perf_counter(); bare(i + 1); later.append(v - (time.perf_counter() - t))
    print(json.dumps({"items": len(reached.items), "walk_first": walk_first,
                      "walk_later": walks, "first": first, "later": later}))
""")


def make_project(folder: Path, lines: int) -> int:
    """Modules of 100 lines: 8 functions and 2 classes each, calling the next module."""
    modules = max(1, lines // 100)
    for m in range(modules):
        nxt = f"mod{m + 1}" if m + 1 < modules else None
        body = [f"import {nxt}" if nxt else "", f"SCALE = {m}", ""]
        for f in range(8):
            call = f"{nxt}.f0(x)" if nxt and f == 7 else f"f{f + 1}(x)" if f < 7 else "x"
            body += [f"def f{f}(x):", f"    y = x + SCALE + {f}", "    for _ in range(2):",
                     "        y = y * 1", f"    return C{f % 2}(y).value() + {call}", ""]
        for c in range(2):
            body += [f"class C{c}:", "    def __init__(self, v):", "        self.v = v", "",
                     "    def value(self):", f"        return self.v * {c + 1}", "",
                     "    @property", "    def double(self):", "        return 2 * self.v", ""]
        text = "\n".join(body)
        text += "\n" * max(0, 100 - text.count("\n"))
        (folder / f"mod{m}.py").write_text(text)
    (folder / "entry.py").write_text("import mod0\n\ndef run(n):\n    return mod0.f0(n) % 97\n")
    return sum(p.read_text().count("\n") for p in folder.glob("*.py"))


def run(script: str, *args: str) -> dict[str, object]:
    # Bytecode is cached as in an installed package (PYTHONDONTWRITEBYTECODE would make
    # every process compile modelver's sources again).
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTEST") and k != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                         text=True, env=env, timeout=600)
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def ms(value: object) -> str:
    if isinstance(value, list):
        return (f"{statistics.median(value) * 1e3:.2f} ms median "
                f"(min {min(value) * 1e3:.2f}, max {max(value) * 1e3:.2f})")
    return f"{float(value) * 1e3:.2f} ms"  # type: ignore[arg-type]


def throughput(gb: float) -> list[tuple[str, str]]:
    import hashlib

    import numpy as np
    import polars as pl
    import torch

    import modelver

    n = int(gb * (1 << 30)) // 8
    rows: list[tuple[str, str]] = []
    tensor = torch.arange(n, dtype=torch.float64)
    raw = tensor.numpy()
    frame = pl.DataFrame({f"c{i}": raw[i::4] for i in range(4)})

    def best(fn: object) -> float:
        times = []
        for _ in range(3):
            t = time.perf_counter()
            fn()  # type: ignore[operator]
            times.append(time.perf_counter() - t)
        return min(times)

    size = raw.nbytes / (1 << 30)
    base = best(lambda: hashlib.sha256(raw).digest())
    rows.append((f"raw sha256, {size:.2f} GiB", f"{size / base:.2f} GiB/s"))
    t = best(lambda: modelver.fingerprint(tensor))
    rows.append(("torch tensor fingerprint", f"{size / t:.2f} GiB/s ({base / t:.0%} of raw)"))
    cols = [np.ascontiguousarray(c) for c in (raw[i::4] for i in range(4))]
    base_frame = best(lambda: [hashlib.sha256(c).digest() for c in cols])
    t = best(lambda: modelver.fingerprint(frame))
    rows.append(("polars frame fingerprint (4 float64 columns)",
                 f"{size / t:.2f} GiB/s ({base_frame / t:.0%} of raw over its columns)"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--gb", type=float, default=1.0)
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--first", type=int, default=5,
                        help="fresh processes timed for each first-call figure")
    args = parser.parse_args()
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        examples = str(ROOT / "examples")
        run(DEMO, f"{tmp}/warm-up", "1", examples, "0")  # writes the bytecode caches
        demo = run(DEMO, f"{tmp}/demo", str(args.calls), examples, "0")
        new = [demo["first"]] + [run(DEMO, f"{tmp}/new{i}", "1", examples, "0")["first"]
                                 for i in range(args.first - 1)]
        again = [run(DEMO, f"{tmp}/demo", "1", examples, "1")["first"]
                 for _ in range(args.first)]
        rows += [(f"demo train(): first call overhead, new store ({args.first} processes)",
                  ms(new)),
                 ("demo train(): first call in a new process, existing store", ms(again)),
                 ("demo train(): later calls overhead", ms(demo["later"])),
                 ("  of which the model's own skops save + sha256", ms(demo["save"]))]
        project = Path(tmp) / "project"
        project.mkdir()
        lines = make_project(project, args.lines)
        result = run(PROJECT, f"{tmp}/p", str(args.calls), str(project))
        rows += [(f"walk of a {lines:,}-line project ({result['items']} items): first",
                  ms(result["walk_first"])),
                 ("walk, later calls", ms(result["walk_later"])),
                 ("that project's decorated call: first overhead", ms(result["first"])),
                 ("that project's decorated call: later overhead", ms(result["later"]))]
    rows += throughput(args.gb)
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()

"""Rebuild costs: what ``reproduce`` adds over the bare training of the demo model, what a
data snapshot of a large file costs the first time and on a rerun, and how long the
audit report of a version with a long ancestry takes to build and how large it is.

    .venv/bin/python benchmarks/bench_rebuild.py [--repeat 3] [--snapshot-mb 1024]
                                                 [--ancestors 50] [--trees 100] [--dir DIR]

* reproduce: the demo's training function (``examples/fraud_demo.py``: a random forest
  of ``--trees`` trees, depth 6, on its 2,000-row synthetic CSV, ``snapshot=True``) as a
  script committed to a throwaway git repository. Timed: the same code without modelver
  in this process (``train.__wrapped__`` cannot run alone: ``log_metrics`` needs a run);
  the tracked call (first and later); the same bare training in a fresh ``python``
  process (interpreter start and imports included: the floor of any rebuild in a fresh
  process); ``git worktree add`` + ``remove``; and ``reproduce(name, version)`` by the
  git worktree path and by the stored-sources path (the same script outside git). The
  overhead is reproduce's wall time minus the bare training; its breakdown uses
  ``Reproduction.train_s`` (the tracked call in the child, capture included).
* snapshot: a tracked run whose data argument is a ``--snapshot-mb`` file, with
  ``snapshot=True``, on a new store (the first snapshot), then the same run again with
  the file unchanged (the stat cache and the blob store should make it cost neither a
  read nor a copy; the file's mtime is set an hour back, as a data file older than its
  run, since a file modified within 2 s is never trusted to the stat cache); against
  one sha256 pass and one copy of the file. Bytes read are psutil's ``read_chars``
  (every ``read()``, page cache included). The file is in the page cache (just
  written), so the times are CPU and memory traffic, not disk.
* audit: ``store.audit(name, "latest")`` of a chain of ``--ancestors`` + 1 versions
  (each the parent of the next), on a newly opened store and again on the same one;
  ``to_html()`` and ``to_json()``, and their sizes.

Medians of ``--repeat`` runs, with min and max. Prints a table; asserts nothing
(machines are noisy). Everything is written in a temporary folder, removed at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

# The demo's training function (examples/fraud_demo.py), as a project's own script.
TRAIN = textwrap.dedent('''
    """The fraud demo's training function."""
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier

    import modelver


    @modelver.versioned_training({name!r}, data=("train_path",), seed=42, snapshot=True)
    def train(train_path, n_estimators=100, max_depth=6):
        data = np.loadtxt(train_path, delimiter=",", skiprows=1)
        x, y = data[:, :-1], data[:, -1]
        model = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth,
                                       random_state=0).fit(x, y)
        modelver.log_metrics(train_accuracy=round(float(model.score(x, y)), 4),
                             fraud_rate=round(float(y.mean()), 4))
        return model
''')

# The same training without modelver (log_metrics needs a run, so the undecorated
# function cannot be called alone): the same fit, the same score and rate computed.
BARE = textwrap.dedent("""
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier


    def bare_train(train_path, n_estimators=100, max_depth=6):
        data = np.loadtxt(train_path, delimiter=",", skiprows=1)
        x, y = data[:, :-1], data[:, -1]
        model = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth,
                                       random_state=0).fit(x, y)
        dict(train_accuracy=round(float(model.score(x, y)), 4),
             fraud_rate=round(float(y.mean()), 4))
        return model
""")

# The bare training in a fresh process: interpreter start, imports, the call.
FRESH = BARE + textwrap.dedent("""
    import sys
    bare_train(sys.argv[1], n_estimators=int(sys.argv[2]))
""")


def stats(values: list[float], unit: str = "ms") -> str:
    scale = 1e3 if unit == "ms" else 1.0
    if len(values) == 1:
        return f"{values[0] * scale:.1f} {unit}"
    return (f"{statistics.median(values) * scale:.1f} {unit} median "
            f"(min {min(values) * scale:.1f}, max {max(values) * scale:.1f})")


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def child_env() -> dict[str, str]:
    """The environment reproduce gives its child (no bytecode written), for a fair floor."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def project(folder: Path, module: str, name: str, in_git: bool) -> Any:
    """Write the training script into ``folder`` (committed when ``in_git``) and import it."""
    folder.mkdir()
    (folder / f"{module}.py").write_text(TRAIN.format(name=name))
    if in_git:
        git(folder, "init", "-q")
        git(folder, "config", "user.email", "bench@example.com")
        git(folder, "config", "user.name", "bench")
        git(folder, "add", f"{module}.py")
        git(folder, "commit", "-qm", "the training script")
    sys.path.insert(0, str(folder))
    return importlib.import_module(module)


def bench_reproduce(base: Path, repeat: int, trees: int) -> list[tuple[str, str]]:
    import fraud_demo

    import modelver

    csv = fraud_demo.make_transactions(str(base / "train.csv"), seed=1)
    store = modelver.open(str(base / "store-reproduce"))
    modelver.configure(store)
    repo = base / "project"
    script = project(repo, "fraud_train", "fraud", in_git=True)
    scope: dict[str, Any] = {}
    exec(BARE, scope)  # noqa: S102 - our own constant source text
    bare_fn = scope["bare_train"]
    bare_fn(csv, n_estimators=trees)  # warm: imports, first-call costs of sklearn
    bare = timed(lambda: bare_fn(csv, n_estimators=trees), repeat)
    first = timed(lambda: script.train(csv, n_estimators=trees), 1)
    later = timed(lambda: script.train(csv, n_estimators=trees), repeat)
    version = script.train.last_version.version
    fresh = timed(lambda: subprocess.run(
        [sys.executable, "-c", FRESH, csv, str(trees)], cwd=repo, env=child_env(),
        check=True, capture_output=True), repeat)

    def worktree() -> None:
        dest = base / "worktree"
        git(repo, "worktree", "add", "--detach", str(dest), "HEAD")
        git(repo, "worktree", "remove", "--force", str(dest))
        git(repo, "worktree", "prune")

    trees_git = timed(worktree, repeat)
    rows = [(f"bare training ({trees} trees, 2,000 rows; the same code without modelver)",
             stats(bare)),
            ("tracked training: first call in this process", stats(first)),
            ("tracked training: later calls", stats(later)),
            ("bare training in a fresh python process (start, imports, train)", stats(fresh)),
            ("git worktree add + remove + prune", stats(trees_git))]
    for name in ("fraud", "fraud-plain"):
        if name == "fraud-plain":
            plain = project(base / "plain", "fraud_train_plain", name, in_git=False)
            plain.train(csv, n_estimators=trees)
            version = plain.train.last_version.version
        walls, inner, child = [], [], []
        for _ in range(repeat):
            t = time.perf_counter()
            result = store.reproduce(name, version)
            walls.append(time.perf_counter() - t)
            if not result.identical:
                raise SystemExit(f"reproduce gave a different artifact:\n{result}")
            inner.append(result.wall_s)
            child.append(result.train_s or 0.0)
        how = result.code.split(" of ")[0].split(" (")[0]
        over = [w - statistics.median(bare) for w in walls]
        rows += [(f"reproduce({name!r}, {version!r}) from {how}: wall", stats(walls)),
                 ("  overhead over bare training (wall - bare)", stats(over)),
                 ("  of which the child's tracked call (Reproduction.train_s)", stats(child)),
                 ("  of which the rest: checkout, data, child start and imports, record",
                  stats([w - c for w, c in zip(walls, child, strict=True)])),
                 ("  over a fresh process's bare training (wall - fresh)",
                  stats([w - statistics.median(fresh) for w in walls]))]
    modelver.configure(None)
    store.close()
    return rows


def _consume(path: str) -> Any:
    """A training function that only takes the file: its run's cost is the bookkeeping."""
    import numpy as np

    return np.zeros(4)


def bench_snapshot(base: Path, repeat: int, mb: int) -> list[tuple[str, str]]:
    import psutil

    import modelver

    size = mb * 2**20
    free = shutil.disk_usage(base).free
    if free < 3 * size + 2**30:
        raise SystemExit(f"{free / 2**30:.1f} GiB free in {base}: the snapshot benchmark "
                         f"needs about {3 * size / 2**30 + 1:.1f} GiB; give a smaller "
                         "--snapshot-mb or another --dir")
    data = base / "big.bin"
    with open(data, "wb") as f:
        rng_block = os.urandom(min(size, 64 * 2**20))
        left = size
        while left:
            f.write(rng_block[:min(left, len(rng_block))])
            left -= min(left, len(rng_block))
    # A data file is older than its training run: one modified within the last 2 s is
    # never trusted to the stat cache (git's "racy" rule) and would be read again.
    old = time.time() - 3600
    os.utime(data, (old, old))
    proc = psutil.Process()

    def read_chars() -> int:
        return int(proc.io_counters().read_chars)

    def sha() -> None:
        h = hashlib.sha256()
        with open(data, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)

    def copy() -> None:
        shutil.copyfile(data, base / "copy.bin")
        os.unlink(base / "copy.bin")

    t_sha = timed(sha, repeat)
    t_copy = timed(copy, repeat)
    small = base / "small.bin"
    small.write_bytes(b"warm")
    firsts, seconds, read_first, read_second, stored = [], [], [], [], []
    for i in range(repeat + 1):  # the first round warms the process (capture caches)
        where = base / f"store-snapshot-{i}"
        store = modelver.open(str(where))
        tracked = modelver.versioned_training("snapshot", data=("path",), snapshot=True,
                                              store=store)(_consume)
        path = str(small if i == 0 else data)
        for times, reads in ((firsts, read_first), (seconds, read_second)):
            before = read_chars()
            t = time.perf_counter()
            tracked(path)
            elapsed = time.perf_counter() - t
            if i:
                times.append(elapsed)
                reads.append(read_chars() - before)
        if i:
            blobs = Path(store.backend.blobs.root)  # type: ignore[attr-defined]
            stored.append(sum(p.stat().st_size for p in blobs.rglob("*") if p.is_file()))
        store.close()
        shutil.rmtree(where)
    data.unlink()

    def mib(values: list[int]) -> str:
        return f"{statistics.median(values) / 2**20:,.1f} MiB read"

    return [(f"sha256 of the {mb:,} MiB file (1 MiB reads)", stats(t_sha)),
            ("copy of the file (shutil.copyfile)", stats(t_copy)),
            ("first snapshot: tracked run, snapshot=True, new store",
             f"{stats(firsts)}; {mib(read_first)}; blobs {stored[0] / 2**20:,.1f} MiB"),
            ("  against sha256 + copy",
             f"{statistics.median(firsts) / (statistics.median(t_sha) + statistics.median(t_copy)):.2f}x"),  # noqa: E501
            ("second run, file unchanged", f"{stats(seconds)}; {mib(read_second)}")]


def bench_audit(base: Path, repeat: int, ancestors: int) -> list[tuple[str, str]]:
    import numpy as np

    import modelver

    store = modelver.open(str(base / "store-audit"))
    parent: str | None = None
    t = time.perf_counter()
    for i in range(ancestors + 1):
        mv = store.register("chain", np.arange(i + 1), parents=[parent] if parent else [])
        parent = mv.ref
    built = time.perf_counter() - t
    store.close()

    def cold() -> None:  # a newly opened store: nothing read yet
        fresh = modelver.open(str(base / "store-audit"))
        fresh.audit("chain", "latest")
        fresh.close()

    t_cold = timed(cold, repeat)
    store = modelver.open(str(base / "store-audit"))
    report = store.audit("chain", "latest")
    assert len(report.lineage.versions()) == ancestors + 1
    t_audit = timed(lambda: store.audit("chain", "latest"), repeat)
    t_html = timed(report.to_html, repeat)
    t_json = timed(report.to_json, repeat)
    html, text = report.to_html(), report.to_json()
    store.close()
    return [(f"register a chain of {ancestors + 1} versions (each the next one's parent)",
             stats([built])),
            (f"audit report of a version with {ancestors} ancestors: store.audit(), "
             "newly opened store", stats(t_cold)),
            ("  store.audit() again on the same store", stats(t_audit)),
            ("  to_html()", f"{stats(t_html)}; {len(html.encode()):,} bytes"),
            ("  to_json()", f"{stats(t_json)}; {len(text.encode()):,} bytes")]


def main() -> None:
    """Measure the three parts, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--snapshot-mb", type=int, default=1024)
    parser.add_argument("--ancestors", type=int, default=50)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--dir", default=None, help="where the temporary folder goes")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}; medians of "
          f"{args.repeat}\n")
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-rebuild-") as tmp:
        base = Path(tmp)
        rows = bench_reproduce(base, args.repeat, args.trees)
        rows += bench_snapshot(base, args.repeat, args.snapshot_mb)
        rows += bench_audit(base, args.repeat, args.ancestors)
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure':<{width}} | time |")
    print(f"| {'-' * width} | --- |")
    for name, value in rows:
        print(f"| {name:<{width}} | {value} |")


if __name__ == "__main__":
    main()

"""Load and register costs of large artifacts, through the public API only.

    .venv/bin/python benchmarks/bench_load.py [--file-mb 400] [--model-mb 200]
                                              [--repeat 5] [--dir DIR]

Measures, in a local store in a temporary folder (``--dir`` picks where):

* the peak RSS that ``load()`` adds, in a fresh interpreter that has already
  imported modelver (and numpy) and opened the store: a ``--file-mb`` file
  artifact (target: under 50 MB), and ``--model-mb`` npy and pickle models (VmHWM
  on Linux, ``ru_maxrss`` elsewhere);
* ``load()`` time of a ``--model-mb`` numpy array (npy) and a pickled dict holding
  one, each with a new ``Store`` (an empty in-memory cache), against the floor done
  by hand on the same blob: read the file, sha256 it, deserialize (target: within
  1.3x). ``npy`` loads may return a memory map, so a row with one full pass over
  the array (``arr.sum()``) is added to both sides;
* ``register()`` time of the same objects against ``np.save`` / ``pickle.dump`` to a
  file in the same folder (no fsync) and with an fsync.

Times are medians of ``--repeat`` runs with the blob in the OS page cache (it was
just written or read), so they measure CPU and memory traffic, not the disk.
Prints a table; asserts nothing (machines are noisy).
"""

from __future__ import annotations

import argparse
import json
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Linux keeps the parent's peak RSS in a child's ru_maxrss across fork and exec (the
# forked copy shares the parent's pages), so there the child reads VmHWM, the peak of
# its own address space; elsewhere it falls back to ru_maxrss.
PEAK_RSS = textwrap.dedent("""
    import json, resource, sys

    def peak_kib():
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    import numpy
    import modelver
    store = modelver.open(sys.argv[1])
    store.resolve(sys.argv[2], sys.argv[3])   # the index is open: only the load is measured
    before = peak_kib()
    obj = store.load(sys.argv[2], sys.argv[3])
    after = peak_kib()
    print(json.dumps({"before_kib": before, "after_kib": after, "type": type(obj).__name__}))
""")


def median_time(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds of ``repeat`` calls of ``fn``."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def peak_rss_added(store_dir: str, name: str, version: str) -> tuple[float, str]:
    """MiB of peak RSS a load adds in a fresh interpreter, and what it returned."""
    out = subprocess.run([sys.executable, "-c", PEAK_RSS, store_dir, name, version],
                         check=True, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    got = json.loads(out.stdout)
    return (got["after_kib"] - got["before_kib"]) / 1024, got["type"]


def write_random_file(path: str, mb: int) -> None:
    """``mb`` MiB of incompressible bytes, written 4 MiB at a time."""
    with open(path, "wb") as f:
        for _ in range(0, mb, 4):
            f.write(os.urandom(4 << 20))


def floor(path: str, deserialize: Callable[[bytes], object]) -> object:
    """Read a blob, hash it, deserialize it: what any verified load must do."""
    import hashlib

    with open(path, "rb") as f:
        data = f.read()
    hashlib.sha256(data).hexdigest()
    return deserialize(data)


def main() -> None:
    """Build the artifacts, measure, print a table."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file-mb", type=int, default=400, help="size of the file artifact")
    parser.add_argument("--model-mb", type=int, default=200, help="size of the npy/pickle model")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", default=None, help="where the temporary store goes")
    args = parser.parse_args()

    import io
    import pickle

    import numpy as np

    import modelver

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        store_dir = os.path.join(tmp, "store")
        store = modelver.open(store_dir)
        big_file = os.path.join(tmp, "weights.bin")
        write_random_file(big_file, args.file_mb)
        arr = np.random.default_rng(0).random(args.model_mb * 2**20 // 8)
        model = ([arr], "bench")  # a tuple: stored as a pickle
        mv_file = store.register("file", Path(big_file))
        mv_npy = store.register("npy", arr)
        mv_pkl = store.register("pickle", model)
        print(f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}; numpy {np.__version__}"
              f"; artifacts: file {mv_file.size >> 20} MiB, npy {mv_npy.size >> 20} MiB, "
              f"pickle {mv_pkl.size >> 20} MiB\n")
        print("| measure | modelver | reference | ratio / target |")
        print("| --- | --- | --- | --- |")

        for label, mv, target in (("file", mv_file, "< 50 MiB"), ("npy", mv_npy, "-"),
                                  ("pickle", mv_pkl, "-")):
            added, kind = peak_rss_added(store_dir, mv.name, mv.version)
            print(f"| peak RSS added by load() of the {mv.size >> 20} MiB {label} artifact "
                  f"(returns {kind}) | {added:.1f} MiB | - | {target} |")

        def load_fresh(name: str, version: str) -> Callable[[], object]:
            def load() -> object:
                fresh = modelver.open(store_dir)  # a new Store: an empty in-memory cache
                try:
                    return fresh.load(name, version)
                finally:
                    fresh.close()
            return load

        def npy_floor(data: bytes) -> object:
            return np.load(io.BytesIO(data), allow_pickle=False)

        npy_blob = store.backend.blob_path(mv_npy.blobs[0])  # the files the manifests name
        pkl_blob = store.backend.blob_path(mv_pkl.blobs[0])
        rows = [
            ("load() npy", load_fresh("npy", mv_npy.version),
             lambda: floor(npy_blob, npy_floor), "read + sha256 + np.load"),
            ("load() npy + arr.sum()",
             lambda: np.sum(load_fresh("npy", mv_npy.version)()),
             lambda: np.sum(floor(npy_blob, npy_floor)),
             "read + sha256 + np.load + sum"),
            ("load() pickle", load_fresh("pickle", mv_pkl.version),
             lambda: floor(pkl_blob, pickle.loads), "read + sha256 + pickle.loads"),
        ]
        for label, ours, reference, what in rows:
            reference()  # the blob is in the page cache for both sides
            t_ours = median_time(ours, args.repeat)
            t_ref = median_time(reference, args.repeat)
            print(f"| {label} | {t_ours * 1000:.0f} ms | {t_ref * 1000:.0f} ms ({what}) | "
                  f"{t_ours / t_ref:.2f}x / <= 1.3x |")

        def register_fresh(obj: object) -> Callable[[], object]:
            def register() -> object:
                folder = os.path.join(tmp, "register")
                fresh = modelver.open(folder)  # a new store: the blob is written each time
                try:
                    return fresh.register("m", obj)
                finally:
                    fresh.close()
                    shutil.rmtree(folder, ignore_errors=True)
            return register

        def dump_to_file(write: Callable[[object], None], sync: bool) -> Callable[[], None]:
            def dump() -> None:
                out = os.path.join(tmp, "dump.bin")
                with open(out, "wb") as f:
                    write(f)
                    if sync:
                        f.flush()
                        os.fsync(f.fileno())
                os.unlink(out)
            return dump

        for label, obj, write in (
                ("npy", arr, lambda f: np.save(f, arr, allow_pickle=False)),
                ("pickle", model, lambda f: pickle.dump(model, f, protocol=5))):
            t_ours = median_time(register_fresh(obj), args.repeat)
            t_raw = median_time(dump_to_file(write, sync=False), args.repeat)
            t_sync = median_time(dump_to_file(write, sync=True), args.repeat)
            print(f"| register() {label} (new store each time) | {t_ours * 1000:.0f} ms | "
                  f"{t_raw * 1000:.0f} ms (dump to a file), {t_sync * 1000:.0f} ms (+ fsync) | "
                  f"{t_ours / t_raw:.2f}x, {t_ours / t_sync:.2f}x |")
        store.close()


if __name__ == "__main__":
    main()

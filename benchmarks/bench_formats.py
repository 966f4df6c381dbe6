"""Register and load costs of large models in their native formats, against the
framework's own save and load of the same object.

    .venv/bin/python benchmarks/bench_formats.py [--mb 200] [--sklearn-mb 50]
                                                 [--repeat 3] [--dir DIR]

Four artifacts: a ``--mb`` torch state dict (``safetensors``; native: ``torch.save`` /
``torch.load``), a ``--mb`` numpy array (``npy``; native: ``np.save`` / ``np.load``), a
~``--mb`` Hugging Face model folder (``hf``; native: ``save_pretrained`` /
``from_pretrained``) and a ~``--sklearn-mb`` scikit-learn forest (``skops``; native:
``skops.io.dump`` / ``load``). For each:

* register: ``store.register`` into a new store, against the native save to a file in
  the same folder plus one sha256 pass over the bytes (target: ≤ 1.5x);
* load: ``store.load`` with a new ``Store`` (an empty in-memory cache; the files are
  materialized already, as on a serving machine after its first load), against the
  native load plus one sha256 pass (target: ≤ 1.3x, ≤ 1.1x where memory-mapped);
* extra peak memory of a load, in a fresh process, over the artifact's size (target:
  ≤ 1.2x), and the same for the framework's own load of the same files (building a
  model allocates its parameters, so an HF or skops load needs more than the files);
* a second version of the HF folder with one file changed adds only that file.

Medians of ``--repeat`` runs, files in the OS page cache. Prints a table; asserts
nothing (machines are noisy).
"""

from __future__ import annotations

import argparse
import hashlib
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PEAK = textwrap.dedent("""
    import json, resource, sys
    import modelver
    kind = sys.argv[3]
    if kind in ("safetensors", "hf"):
        import torch, safetensors.torch
    if kind == "hf":
        import transformers
    if kind == "skops":
        import sklearn, skops.io
    import numpy
    store = modelver.open(sys.argv[1])
    store.register("warm", b"w"); store.load("warm")  # import the load path
    def hwm():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    before = hwm()
    if len(sys.argv) > 4:  # the framework's own load of the same files
        path = sys.argv[4]
        if kind == "npy":
            obj = numpy.load(path, mmap_mode="r")
        elif kind == "safetensors":
            obj = torch.load(path, weights_only=True)
        elif kind == "hf":
            obj = transformers.GPT2LMHeadModel.from_pretrained(path)
        else:
            obj = skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))
    else:
        obj = store.load(sys.argv[2])
    if kind == "npy":
        float(obj.sum())  # touch every page of the memory map
    print(json.dumps({"before_kib": before, "after_kib": hwm()}))
""")


def median(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def sha_pass(paths: list[Path]) -> None:
    for p in paths:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)


def files_of(path: Path) -> list[Path]:
    return [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())


def build(kind: str, mb: int, sklearn_mb: int) -> Any:
    import numpy as np

    if kind == "npy":
        return np.random.default_rng(0).random(mb * 2**20 // 8)
    if kind == "safetensors":
        import torch

        torch.manual_seed(0)
        return {f"layer{i}.weight": torch.randn(1024, 1024) for i in range(mb // 4)}
    if kind == "hf":
        import torch
        from transformers import GPT2Config, GPT2LMHeadModel

        torch.manual_seed(0)
        layers = max(1, round(mb / 50))
        return GPT2LMHeadModel(GPT2Config(n_layer=layers, n_embd=1024, n_head=8,
                                          vocab_size=1000, n_positions=128)).eval()
    from sklearn.ensemble import RandomForestRegressor

    rng = np.random.default_rng(0)
    n = 4000 * sklearn_mb
    X = rng.random((n, 8))
    return RandomForestRegressor(n_estimators=16, random_state=0, n_jobs=-1).fit(
        X, X[:, 0] + rng.random(n))


def native(kind: str, obj: Any, where: Path) -> tuple[Callable[[], object],
                                                      Callable[[], object], Path]:
    """(save, load, the path the last save wrote) of the framework's own format. Each
    save writes a new file, as a register does (rewriting one file is cheaper)."""
    import numpy as np

    names = {"npy": "a.npy", "safetensors": "sd.pt", "hf": "hf", "skops": "m.skops"}
    path = where / names[kind]
    count = iter(range(10**6))

    def save() -> None:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        target = where / f"new-{next(count)}-{names[kind]}"
        if kind == "npy":
            np.save(target, obj, allow_pickle=False)
        elif kind == "safetensors":
            import torch

            torch.save(obj, target)
        elif kind == "hf":
            obj.save_pretrained(target)
        else:
            import skops.io as sio

            sio.dump(obj, target)
        target.rename(path)

    def load() -> object:
        if kind == "npy":
            return np.load(path, mmap_mode="r")
        if kind == "safetensors":
            import torch

            return torch.load(path, weights_only=True)
        if kind == "hf":
            return type(obj).from_pretrained(path)
        import skops.io as sio

        return sio.load(path, trusted=sio.get_untrusted_types(file=path))

    return save, load, path


def peak_added(store_dir: str, kind: str, *native_path: str) -> int:
    """Bytes of peak RSS one load adds in a fresh process (modelver's, or native's)."""
    out = subprocess.run([sys.executable, "-c", PEAK, store_dir, kind, kind, *native_path],
                         capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    peak = json.loads(out.stdout)
    return int(peak["after_kib"] - peak["before_kib"]) * 1024


def main() -> None:
    """Measure each artifact, print a table."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--sklearn-mb", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default=None)
    parser.add_argument("--kinds", default="safetensors,npy,hf,skops")
    args = parser.parse_args()
    import modelver

    print(f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}; medians of "
          f"{args.repeat}\n")
    print("| artifact | size | native save + sha256 | register | ratio (≤ 1.5) | "
          "native load + sha256 | load | ratio (≤ 1.3) | extra peak memory / size (≤ 1.2) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        base = Path(tmp)
        for kind in args.kinds.split(","):
            obj = build(kind, args.mb, args.sklearn_mb)
            save, load, path = native(kind, obj, base)
            t_save = median(save, args.repeat)
            t_sha = median(lambda p=path: sha_pass(files_of(p)), args.repeat)
            size = sum(p.stat().st_size for p in files_of(path))
            t_native_load = median(load, args.repeat)
            scratch = base / f"store-{kind}-scratch"

            def register(kind: str = kind, obj: Any = obj, scratch: Path = scratch) -> None:
                store = modelver.open(str(scratch))
                store.register(kind, obj)
                store.close()

            def fresh_register(scratch: Path = scratch) -> float:
                # The previous copy goes first, as the native save's does: writing
                # new files while old dirty pages pile up is throttled by the kernel.
                shutil.rmtree(scratch, ignore_errors=True)
                t = time.perf_counter()
                register()
                return time.perf_counter() - t

            t_reg = statistics.median(fresh_register() for _ in range(args.repeat))
            shutil.rmtree(scratch, ignore_errors=True)
            store_dir = str(base / f"store-{kind}")
            modelver.open(store_dir).register(kind, obj)
            modelver.open(store_dir).load(kind)  # materialized once, as after a first load

            def load_fresh(kind: str = kind, store_dir: str = store_dir) -> None:
                store = modelver.open(store_dir)
                store.load(kind)
                store.close()

            t_load = median(load_fresh, args.repeat)
            extra, extra_native = (peak_added(store_dir, kind, *native_path)
                                   for native_path in ((), (str(path),)))
            print(f"| {kind} | {size / 2**20:.0f} MiB | {(t_save + t_sha) * 1000:.0f} ms | "
                  f"{t_reg * 1000:.0f} ms | {t_reg / (t_save + t_sha):.2f} | "
                  f"{(t_native_load + t_sha) * 1000:.0f} ms | {t_load * 1000:.0f} ms | "
                  f"{t_load / (t_native_load + t_sha):.2f} | {extra / size:.2f} "
                  f"(native load: {extra_native / size:.2f}) |", flush=True)
            if kind == "hf":
                hf_second_version(base, obj, store_dir)
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink()


def hf_second_version(base: Path, model: Any, store_dir: str) -> None:
    """Register the HF folder again with one file changed: what does the store grow by?"""
    import modelver

    folder = base / "hf-folder"
    model.save_pretrained(folder)
    store = modelver.open(store_dir)
    first = store.register("hf-folder", folder)
    blobs = store.backend.blobs.root  # type: ignore[attr-defined]

    def used() -> int:
        return sum(p.stat().st_size for p in Path(blobs, "sha256").rglob("*") if p.is_file())

    before = used()
    config = json.loads((folder / "config.json").read_text())
    config["modelver_bench"] = "second version"
    (folder / "config.json").write_text(json.dumps(config))
    second = store.register("hf-folder", folder)
    changed = len(set(second.blobs) - set(first.blobs))
    print(f"\nHF folder, second version with config.json changed: the store grew by "
          f"{used() - before:,} bytes ({changed} new file blob(s) and a manifest) for a "
          f"{second.size / 2**20:.0f} MiB artifact\n")


if __name__ == "__main__":
    main()

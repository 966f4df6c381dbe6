"""Fingerprint throughput on a large file and re-fingerprint time for a many-file folder.

Run: ``.venv/bin/python benchmarks/bench_fingerprint.py [--size-mb 512] [--files 10000]``

All reads come from the page cache (the file is written just before it is read), so the
figures measure hashing and copying, not the disk. Each timing is the best of
``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import hashlib
import mmap
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from modelver._fingerprint import MemoryStatCache, fingerprint

MiB = 1 << 20


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def hashlib_in_memory(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def time_in_memory(path: Path, repeat: int) -> tuple[float, str]:
    """Best time of sha256 over the whole file held in memory, and its digest."""
    data = path.read_bytes()
    return best_of(repeat, lambda: hashlib_in_memory(data)), hashlib_in_memory(data)


def hashlib_page_aligned(path: str, chunk: int = MiB) -> str:
    h = hashlib.sha256()
    view = memoryview(mmap.mmap(-1, chunk))
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(view):
            h.update(view[:n])
    return h.hexdigest()


def hashlib_naive(path: str, chunk: int = MiB) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def make_file(path: Path, size: int) -> None:
    block = os.urandom(MiB)
    with open(path, "wb") as f:
        for i in range(size // MiB):
            f.write(block[i % 251 :] + block[: i % 251])  # distinct blocks, cheap to make
        f.write(block[: size % MiB])


def make_folder(root: Path, files: int) -> int:
    """``files`` small files in 100-file subfolders, backdated as a dataset on disk is."""
    old = time.time_ns() - 3600 * 10**9
    total = 0
    for i in range(files):
        path = root / f"part-{i // 100:04}" / f"item-{i:06}.bin"
        path.parent.mkdir(exist_ok=True)
        data = os.urandom(512 + (i * 37) % 3584)
        path.write_bytes(data)
        os.utime(path, ns=(old, old))
        total += len(data)
    return total


def row(name: str, seconds: float, nbytes: int | None = None, ratio: str = "") -> None:
    rate = f"{nbytes / seconds / 1e9:8.2f}" if nbytes else " " * 8
    print(f"  {name:<44} {seconds * 1e3:10.2f} {rate} {ratio:>8}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=512, help="size of the large file")
    parser.add_argument("--files", type=int, default=10_000, help="files in the folder")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (best kept)")
    args = parser.parse_args()
    size = args.size_mb * MiB

    with tempfile.TemporaryDirectory(prefix="modelver-bench-") as tmp:
        big = Path(tmp) / "big.bin"
        make_file(big, size)
        os.utime(big, ns=(time.time_ns() - 3600 * 10**9,) * 2)
        print(f"\nlarge file: {args.size_mb} MiB, page cache warm, best of {args.repeat}, "
              f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
        print(f"  {'what':<44} {'ms':>10} {'GB/s':>8} {'speed':>8}")
        t_mem, expected = time_in_memory(big, args.repeat)
        t_aligned = best_of(args.repeat, lambda: hashlib_page_aligned(str(big)))
        t_naive = best_of(args.repeat, lambda: hashlib_naive(str(big)))
        assert fingerprint(big).digest == "sha256:" + expected
        t_fp = best_of(args.repeat, lambda: fingerprint(big))
        cache = MemoryStatCache()
        fingerprint(big, cache=cache)
        t_fp_cached = best_of(args.repeat, lambda: fingerprint(big, cache=cache))
        row("hashlib.sha256(bytes) in memory (ceiling)", t_mem, size)
        row("hashlib + page-aligned readinto, 1 MiB", t_aligned, size, "1.00")
        row("hashlib + naive f.read(1 MiB) loop", t_naive, size, f"{t_aligned / t_naive:.2f}")
        row("fingerprint(path)", t_fp, size, f"{t_aligned / t_fp:.2f}")
        row("fingerprint(path), stat cache hit", t_fp_cached)
        print(f"  fingerprint / in-memory sha256 throughput: {t_mem / t_fp:.1%}")

        folder = Path(tmp) / "folder"
        folder.mkdir()
        total = make_folder(folder, args.files)
        print(f"\nfolder: {args.files} files in {-(-args.files // 100)} subfolders, "
              f"{total / MiB:.1f} MiB")
        print(f"  {'what':<44} {'ms':>10} {'GB/s':>8} {'us/file':>8}")
        cache = MemoryStatCache()
        start = time.perf_counter()
        first = fingerprint(folder, cache=cache)
        t_first = time.perf_counter() - start
        assert len(cache) == args.files
        t_nocache = best_of(args.repeat, lambda: fingerprint(folder))
        t_cached = best_of(args.repeat, lambda: fingerprint(folder, cache=cache))
        assert fingerprint(folder, cache=cache) == first
        per_file = 1e6 / max(args.files, 1)
        row("first pass (hash all, fill MemoryStatCache)", t_first, total,
            f"{t_first * per_file:.1f}")
        row("no cache (hash all again)", t_nocache, total, f"{t_nocache * per_file:.1f}")
        row("unchanged, MemoryStatCache", t_cached, None, f"{t_cached * per_file:.1f}")
        print(f"  cached re-fingerprint under 100 ms: {'yes' if t_cached < 0.1 else 'NO'}\n")


if __name__ == "__main__":
    main()

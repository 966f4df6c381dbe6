"""Registry query costs on a large store: alias, latest, listing, verify.

    .venv/bin/python benchmarks/bench_registry.py [--versions 100000] [--models 100]

The store is built quickly by appending real log entries in one transaction (the
same ``seal`` + ``Index.add`` path a register takes, without the per-call commit).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import modelver
from modelver._log import Draft, seal
from modelver._records import AliasEvent, ModelVersion, utcnow
from modelver._serde import unstructure


def build(store: modelver.Store, versions: int, models: int) -> None:
    """Fill a store with ``versions`` versions spread over ``models`` models."""
    stored = store.put_model(b"shared artifact")
    index = store.chain.index
    queries = store.chain.queries
    per_model = versions // models
    now = utcnow()
    with index.write():
        for m in range(models):
            name = f"model-{m:03d}"
            for i in range(per_model):
                mv = ModelVersion(name=name, version=f"{i // 100}.{i % 100}.0",
                                  digest=stored.digest, format="bytes", size=stored.size,
                                  blobs=stored.blobs, created_at=now, created_by="bench")
                seq, prev = queries.head(name)
                index.add(seal(name, seq + 1, prev, Draft("version", {"version": unstructure(mv)}),
                               "bench"))
            event = AliasEvent(name=name, alias="prod", from_version=None,
                               to_version=f"{(per_model - 1) // 200}.0.0", at=now, by="bench")
            seq, prev = queries.head(name)
            index.add(seal(name, seq + 1, prev, Draft("alias", {"event": unstructure(event)}),
                           "bench"))


def timeit(fn: object, repeat: int = 200) -> float:
    """Median seconds per call."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    """Build, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--models", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = modelver.open(f"{tmp}/.modelver")
        t = time.perf_counter()
        build(store, args.versions, args.models)
        print(f"built {args.versions:,} versions in {args.models} models in "
              f"{time.perf_counter() - t:.1f} s")
        fresh = modelver.open(f"{tmp}/.modelver")
        name = f"model-{args.models // 2:03d}"
        mid = args.versions // args.models // 200  # a major version in the middle
        spec = f">={mid},<{mid + 1}"
        alias_s = timeit(lambda: fresh.resolve(name, "prod"))
        print(f"resolve alias 'prod'        {alias_s * 1e3:8.3f} ms   (target < 1 ms)")
        print(f"resolve 'latest'            "
              f"{timeit(lambda: fresh.resolve(name, 'latest')) * 1e3:8.3f} ms   (target < 1 ms)")
        print(f"resolve {spec!r} specifier  "
              f"{timeit(lambda: fresh.resolve(name, spec), 50) * 1e3:8.3f} ms")
        print(f"list one model's versions   "
              f"{timeit(lambda: fresh.versions(name), 20) * 1e3:8.3f} ms   (target < 50 ms)")
        print(f"load by alias (cached obj)  {timeit(lambda: fresh.load(name, 'prod')) * 1e3:8.3f}"
              " ms")
        t = time.perf_counter()
        report = fresh.verify()
        elapsed = time.perf_counter() - t
        print(f"verify {report.entries:,} entries: {elapsed:.2f} s = "
              f"{elapsed / report.entries * 10_000:.2f} s per 10,000 entries (ok={report.ok})")


if __name__ == "__main__":
    main()

"""``search`` latency on a large store: filters, orders and limits over the read model.

    .venv/bin/python benchmarks/bench_search.py [--versions 100000] [--models 100]

The store is built quickly the way ``bench_registry.py`` builds its store: real log
entries (each a run with params and metrics plus the version it registered, with tags)
appended in one transaction through ``seal`` + ``Index.add``. Each query runs on a
freshly opened store; the figures are the median, min and max of ``--repeat`` calls.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable

import modelver
from modelver._log import Draft, seal
from modelver._records import AliasEvent, ModelVersion, Run, utcnow
from modelver._serde import unstructure

TEAMS = ("risk", "growth", "ops", "fraud", "search")


def build(store: modelver.Store, versions: int, models: int) -> None:
    """Fill a store with ``versions`` versions over ``models`` models, each from a run
    with three params and two metrics, and two tags."""
    rng = random.Random(7)
    stored = store.put_model(b"shared artifact")
    index = store.chain.index
    queries = store.chain.queries
    per_model = versions // models
    now = utcnow()
    with index.write():
        for m in range(models):
            name = f"model-{m:03d}"
            for i in range(per_model):
                number = f"{i // 100}.{i % 100}.0"
                run_id = uuid.UUID(int=rng.getrandbits(128)).hex
                run = Run(id=run_id, name=name, status="succeeded",
                          params={"lr": rng.choice((0.001, 0.01, 0.1)),
                                  "depth": rng.randint(2, 12),
                                  "opt": {"name": rng.choice(("adam", "sgd"))}},
                          metrics={"auc": round(rng.random(), 4),
                                   "loss": round(rng.random() * 2, 4)},
                          started_at=now, ended_at=now, version=f"{name}@{number}")
                mv = ModelVersion(name=name, version=number, digest=stored.digest,
                                  format="bytes", size=stored.size, blobs=stored.blobs,
                                  run_id=run_id, created_at=now, created_by="bench",
                                  tags={"team": rng.choice(TEAMS),
                                        "dataset": f"d{rng.randint(0, 999)}"})
                seq, prev = queries.head(name)
                index.add(seal(name, seq + 1, prev, Draft(
                    "version", {"run": unstructure(run), "version": unstructure(mv)}),
                    "bench"))
            event = AliasEvent(name=name, alias="prod", from_version=None,
                               to_version=f"{(per_model - 1) // 200}.0.0", at=now, by="bench")
            seq, prev = queries.head(name)
            index.add(seal(name, seq + 1, prev, Draft("alias", {"event": unstructure(event)}),
                           "bench"))


def measure(fn: Callable[[], object], repeat: int) -> tuple[float, float, float]:
    """Median, min and max seconds per call (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times), max(times)


def main() -> None:
    """Build, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = modelver.open(f"{tmp}/.modelver")
        t = time.perf_counter()
        build(store, args.versions, args.models)
        print(f"built {args.versions:,} versions (each with a run: 3 params, 2 metrics, "
              f"2 tags) in {args.models} models in {time.perf_counter() - t:.1f} s")
        fresh = modelver.open(f"{tmp}/.modelver")
        name = f"model-{args.models // 2:03d}"
        queries: list[tuple[str, dict[str, object]]] = [
            ("filter + order + limit", {"where": "metrics.auc > 0.9",
                                        "order_by": "metrics.auc desc", "limit": 10}),
            ("two filters + order + limit", {"where": "metrics.auc > 0.5 and params.lr == 0.01",
                                             "order_by": "metrics.loss", "limit": 10}),
            ("tag equality + limit", {"where": "tags.dataset == 'd123'", "limit": 50}),
            ("in (...) + limit", {"where": "tags.team in ('risk', 'ops') and "
                                           "params.opt.name == 'adam'", "limit": 20}),
            ("version range, one model", {"name": name,
                                          "where": "version >= '1.0.0' and version < '2.0.0'"}),
            ("newest 10 (default order)", {"limit": 10}),
            ("alias == 'prod'", {"where": "alias == 'prod'"}),
            ("filter, no limit (about 1% match)", {"where": "metrics.auc > 0.99"}),
        ]
        print(f"| query ({args.versions:,} versions) | results | median ms | min ms | max ms |")
        print("| --- | --- | --- | --- | --- |")
        for label, kwargs in queries:
            found = fresh.search(**kwargs)  # type: ignore[arg-type]
            med, low, high = measure(lambda kw=kwargs: fresh.search(**kw),  # type: ignore[misc]
                                     args.repeat)
            print(f"| {label} | {len(found)} | {med * 1e3:.1f} | {low * 1e3:.1f} | "
                  f"{high * 1e3:.1f} |")
        print("target: filter + order over 100,000 versions <= 50 ms")


if __name__ == "__main__":
    main()

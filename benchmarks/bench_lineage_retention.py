"""Lineage, ``used_by`` and retention-plan query times on a store of many versions.

Run: ``.venv/bin/python benchmarks/bench_lineage_retention.py [--versions 100000]
[--models 100] [--chain 10] [--path DIR]``

The store is built fast: log entries are sealed and added to the index directly, in
one transaction, rather than through 100,000 ``register`` calls. Each version has a
run with realistic records (this machine's captured environment and hardware), two
data fingerprints (``train``, shared by one chain of ``--chain`` versions, and
``holdout``, shared by every version of a model), and a parent: the version before
it in its chain. Each model has ``prod`` and ``staging`` aliases, one held version
and tagged releases. Artifacts are not written (the queries never read blobs).

Each figure is the median of ``--repeat`` runs, after one warm-up run.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import modelver
from modelver._log import Draft, seal
from modelver._records import AliasEvent, Hold, ModelVersion, Run, utcnow
from modelver._retention import RetentionPolicy, plan_retention
from modelver._serde import unstructure


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _fingerprint(text: str) -> dict[str, Any]:
    return {"digest": _digest(text), "kind": "file", "size": 1_000_000, "method": "sha256",
            "stable": True, "schema": None, "source": None, "schema_version": 1}


def _template_run() -> dict[str, Any]:
    """A run record as big as a real one: this machine's environment and hardware."""
    from modelver._capture.environment import capture_environment
    from modelver._capture.hardware import capture_hardware

    run = Run(id="x", name="x", status="succeeded", environment=capture_environment(()),
              hardware=capture_hardware())
    return dict(unstructure(run))


def build(store: modelver.Store, versions: int, models: int, chain: int) -> None:
    """Seal ``versions`` run+version entries (and aliases, holds) into ``store``."""
    index = store.chain.index
    template = _template_run()
    per_model = versions // models
    start = utcnow() - timedelta(days=730)
    step = timedelta(days=730) / max(per_model, 1)
    with index.write():
        for m in range(models):
            name = f"model-{m:03d}"
            prev: str | None = None
            seq = 0

            def add(draft: Draft, name: str = name) -> None:
                nonlocal prev, seq
                seq += 1
                entry = seal(name, seq, prev, draft, "bench")
                index.add(entry)
                prev = entry.hash

            for i in range(per_model):
                version = f"1.{i}.0"
                run_id = f"{m:06d}{i:026d}"
                at = start + step * i
                parents = [f"{name}@1.{i - 1}.0"] if i % chain else []
                run = dict(template, id=run_id, name=name, version=f"{name}@{version}",
                           params={"lr": 0.01 * (i % 7), "n_estimators": 100 + i},
                           data={"train": _fingerprint(f"{name}/chain/{i // chain}"),
                                 "holdout": _fingerprint(f"{name}/holdout")},
                           metrics={"auc": 0.8 + (i % 100) / 1000}, parents=parents,
                           started_at=unstructure(at), ended_at=unstructure(at))
                mv = unstructure(ModelVersion(
                    name=name, version=version, digest=_digest(f"{name}@{version}"),
                    format="pickle", size=10_000 + i, run_id=run_id, parents=parents,
                    tags={"release": "yes"} if i % 100 == 0 else {}, created_at=at,
                    created_by="bench"))
                add(Draft("run", {"version": mv, "run": run}))
            for alias, i in (("prod", per_model // 2), ("staging", per_model - 2)):
                event = AliasEvent(name=name, alias=alias, from_version=None,
                                   to_version=f"1.{i}.0", at=utcnow(), by="bench")
                add(Draft("alias", {"event": unstructure(event)}))
            hold = Hold(name=name, version=f"1.{per_model // 10}.0", reason="legal",
                        at=utcnow(), by="bench")
            add(Draft("hold", {"hold": unstructure(hold)}))


def median_ms(repeat: int, fn: Callable[[], object]) -> tuple[float, object]:
    result = fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--chain", type=int, default=10, help="versions per parent chain")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--path", help="store folder (default: a temporary one)")
    args = parser.parse_args()
    root = args.path or tempfile.mkdtemp(prefix="modelver-bench-")
    store = modelver.open(str(Path(root) / ".modelver"))
    per_model = args.versions // args.models
    if store.backend.exists():
        print(f"reusing the store at {root} (built with the same arguments, it is assumed)")
    else:
        t0 = time.perf_counter()
        build(store, args.versions, args.models, args.chain)
        print(f"built {per_model * args.models:,} versions in {args.models} models (chains "
              f"of {args.chain}) in {time.perf_counter() - t0:.1f} s at {root}")

    mid = f"1.{min(per_model - 1, per_model // 2 // args.chain * args.chain + args.chain // 2)}.0"
    name = f"model-{args.models // 2:03d}"
    rows: list[tuple[str, float, str]] = []
    ms, g = median_ms(args.repeat, lambda: store.lineage(name, mid))
    rows.append((f"lineage({name}@{mid})", ms, repr(g)))
    ms, g = median_ms(args.repeat, lambda: store.lineage(name, "latest").upstream())
    rows.append((f"lineage({name}@latest).upstream()", ms, repr(g)))
    chain_data = _digest(f"{name}/chain/{per_model // 2 // args.chain}")
    ms, r = median_ms(args.repeat, lambda: store.used_by(chain_data))
    rows.append(("used_by(a chain's train data)", ms, f"{len(r)} versions"))  # type: ignore
    holdout = _digest(f"{name}/holdout")
    ms, r = median_ms(args.repeat, lambda: store.used_by(holdout))
    rows.append(("used_by(a model-wide holdout set)", ms, f"{len(r)} versions"))  # type: ignore
    policy = RetentionPolicy(keep_last=10, keep_within="180d", keep_tagged=("release",),
                             min_age="7y")
    ms, p = median_ms(max(3, args.repeat // 4), lambda: plan_retention(store.chain, policy))
    print(f"retention policy: {policy}")
    rows.append(("plan_retention(policy), all models", ms,
                 f"{len(p.deletions):,} deletions, {len(p.kept):,} kept"))  # type: ignore
    ms, p = median_ms(args.repeat, lambda: plan_retention(store.chain, policy, name))
    rows.append((f"plan_retention(policy, {name!r})", ms,
                 f"{len(p.deletions):,} deletions"))  # type: ignore
    width = max(len(r[0]) for r in rows)
    for label, ms, what in rows:
        print(f"{label:<{width}}  {ms:9.2f} ms  {what}")
    store.close()


if __name__ == "__main__":
    main()

"""End-to-end demo: train, promote, load in a fresh process, roll back, rebuild, audit.

Run with ``make demo``. It makes its own synthetic data and a throwaway store, so it
can be run again and again; nothing outside a temporary folder is written, and that
folder is removed at exit unless ``--keep`` is given (``.venv/bin/python
examples/fraud_demo.py --keep``), to explore the store afterwards.
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

import numpy as np
from sklearn.ensemble import RandomForestClassifier

import modelver


def make_transactions(path: str, *, seed: int, rows: int = 2_000) -> str:
    """Write a synthetic card-transactions CSV: amount, hour, distance, foreign, label."""
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3.5, 1.0, rows)
    hour = rng.integers(0, 24, rows)
    distance = rng.exponential(20.0, rows)
    foreign = rng.random(rows) < 0.1
    risk = 0.002 * amount + 0.03 * (hour < 5) + 0.01 * distance + 0.8 * foreign
    label = (risk + rng.normal(0, 0.3, rows)) > 1.0
    table = np.column_stack([amount, hour, distance, foreign, label]).astype(float)
    np.savetxt(path, table, delimiter=",", header="amount,hour,distance,foreign,fraud",
               comments="")
    return path


# snapshot=True stores the training file's bytes (once per distinct content), so the
# version can be rebuilt later even if the file is changed or deleted.
@modelver.versioned_training("fraud", data=("train_path",), seed=42, snapshot=True)
def train(train_path: str, n_estimators: int = 100, max_depth: int = 6
          ) -> RandomForestClassifier:
    """Train a random forest on the transactions file."""
    data = np.loadtxt(train_path, delimiter=",", skiprows=1)
    x, y = data[:, :-1], data[:, -1]
    model = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth,
                                   random_state=0).fit(x, y)
    modelver.log_metrics(train_accuracy=round(float(model.score(x, y)), 4),
                         fraud_rate=round(float(y.mean()), 4))
    return model


@modelver.versioned_training("fraud-eu", data=("path",), seed=42)
def fine_tune(path: str, extra_trees: int = 50) -> RandomForestClassifier:
    """Grow more trees on regional data, starting from the production model."""
    # Inside a run, load() records fraud@prod as a parent. load() returns a cached,
    # shared object, so copy it before changing it.
    base = copy.deepcopy(modelver.load("fraud", "prod"))
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    base.set_params(warm_start=True, n_estimators=base.n_estimators + extra_trees)
    model = base.fit(data[:, :-1], data[:, -1])
    modelver.log_metrics(train_accuracy=round(float(model.score(data[:, :-1], data[:, -1])), 4))
    return model


def section(title: str) -> None:
    """Print a heading."""
    print(f"\n== {title} " + "=" * max(0, 66 - len(title)))


def main(argv: list[str] | None = None) -> None:
    """Run the demo in a temporary folder, removed at exit unless --keep is given."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary folder and its store, to explore them")
    keep = parser.parse_args(argv).keep
    workdir = tempfile.mkdtemp(prefix="modelver-demo-")
    try:
        demo(workdir)
    finally:
        if keep:
            print(f"\nTry: MODELVER_URI={os.path.join(workdir, '.modelver')} "
                  f"{_modelver_command()} show fraud@prod")
        else:
            modelver.configure(None)
            shutil.rmtree(workdir, ignore_errors=True)
            print(f"\nremoved {workdir} (run with --keep to keep its store and explore it)")


def _modelver_command() -> str:
    """The `modelver` script beside this Python (its venv need not be active)."""
    script = os.path.join(os.path.dirname(sys.executable), "modelver")
    if not os.path.exists(script):
        return f"{sys.executable} -m modelver"
    relative = os.path.relpath(script)
    return relative if not relative.startswith("..") else script


def demo(workdir: str) -> None:
    """Train, promote, serve, fine-tune, roll back, rebuild, verify and audit."""
    store = modelver.configure(os.path.join(workdir, ".modelver"))
    assert store is not None
    print(f"store: {store.uri}")

    section("1. train v1 on January's transactions")
    january = make_transactions(os.path.join(workdir, "january.csv"), seed=1)
    train(january)
    v1 = train.last_version
    assert v1 is not None
    print(f"registered {v1.ref}  ({v1.format}, {v1.size:,} bytes, {v1.digest[:19]}…)")

    section("2. retrain with more trees: hyperparameters changed -> minor bump")
    train(january, n_estimators=200)
    v2 = train.last_version
    assert v2 is not None
    print(f"registered {v2.ref}  rule: {modelver.get_run(v2.run_id or '').bump_rule}")

    section("3. retrain on February's data only: data changed -> patch bump")
    february = make_transactions(os.path.join(workdir, "february.csv"), seed=2)
    train(february, n_estimators=200)
    v3 = train.last_version
    assert v3 is not None
    print(f"registered {v3.ref}  rule: {modelver.get_run(v3.run_id or '').bump_rule}")

    section("4. what the last run captured")
    run = modelver.get_run(v3.run_id or "")
    print(f"params      {run.params}")
    print(f"metrics     {run.metrics}")
    fp = run.data["train_path"]
    print(f"data        train_path: {fp.kind} {fp.digest[:19]}… {fp.size:,} bytes ({fp.method})")
    assert run.code is not None
    print(f"code        {run.code.module}.{run.code.function} {run.code.function_hash[:19]}…"
          f" git={run.code.git_commit or 'no repo'}")
    print(f"seed        {run.seeds.seed} -> {', '.join(run.seeds.seeded)}")
    assert run.environment is not None and run.hardware is not None
    print(f"environment Python {run.environment.python}, "
          f"{len(run.environment.packages)} packages, {run.environment.packages_hash[:19]}…")
    print(f"hardware    {run.hardware.cpu}, {run.hardware.cores_logical} cores, "
          f"GPUs: {run.hardware.gpu_status}")
    assert run.resources is not None
    print(f"resources   wall {run.resources.wall_s:.2f}s, cpu {run.resources.cpu_s:.2f}s, "
          f"peak RSS {(run.resources.peak_rss or 0) / 2**20:.0f} MiB")

    section("5. promote, then load 'prod' in a fresh process (verified by sha256)")
    modelver.promote("fraud", v2.version, "prod", reason="passed offline evaluation")
    modelver.promote("fraud", v3.version, "prod", reason="retrained on February")
    serve = textwrap.dedent(f"""
        import modelver, numpy as np
        store = modelver.open({store.uri!r})
        model = store.load("fraud", "prod")
        print("serving", store.resolve("fraud", "prod").ref, "->", type(model).__name__,
              "predicts", model.predict(np.array([[900.0, 3, 80.0, 1.0]]))[0])
    """)
    subprocess.run([sys.executable, "-c", serve], check=True)

    section("6. fine-tune an EU model from prod: lineage is recorded automatically")
    eu_data = make_transactions(os.path.join(workdir, "eu.csv"), seed=3, rows=800)
    fine_tune(eu_data)
    eu = fine_tune.last_version
    assert eu is not None
    print(f"registered {eu.ref} with parents {eu.parents}")
    graph = modelver.lineage("fraud-eu", "latest")
    print(graph)
    print("\nas Mermaid (paste into a GitHub comment to see it drawn):")
    print(graph.to_mermaid())
    trained_on = [mv.ref for mv in modelver.used_by(january)]
    print(f"\nversions that used january.csv, directly or through a parent: {trained_on}")

    section("7. roll back prod, and read its history")
    modelver.rollback("fraud", "prod", reason="false positives up in canary")
    for event in modelver.alias_history("fraud", "prod"):
        print(f"{event.at:%H:%M:%S} {event.kind:<8} {event.from_version or '-':>6} -> "
              f"{event.to_version:<6} by {event.by}: {event.reason}")
    print(f"prod is now {modelver.resolve('fraud', 'prod').ref}")

    section("8. rebuild 0.2.1 from its record in a fresh process, and compare digests")
    os.remove(february)  # the snapshot is what the rebuild reads
    result = modelver.reproduce("fraud", v3.version)
    print(result)
    if not result.identical:
        sys.exit(1)

    section("9. verify the store")
    report = store.verify()
    print(report)
    if not report.ok:
        sys.exit(1)

    section("10. audit prod: one self-contained HTML page for a reviewer")
    audit = modelver.audit("fraud", "prod")
    page = audit.save(os.path.join(workdir, "audit-fraud-prod.html"))
    print(audit)
    print(f"wrote {page} ({page.stat().st_size:,} bytes; open it in any browser, offline)")


if __name__ == "__main__":
    main()

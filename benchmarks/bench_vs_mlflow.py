"""modelver next to MLflow's registry: the same workload on both sides, interleaved.

    .venv/bin/python benchmarks/bench_vs_mlflow.py [--mlflow-venv DIR] [--repeat 9]
    .venv/bin/python benchmarks/bench_vs_mlflow.py --no-mlflow      # modelver only

MLflow runs in its own virtual environment, created at ``--mlflow-venv`` on first use
(``pip install mlflow==3.17.* scikit-learn``), with a SQLite tracking URI and a local
artifact folder, which is its lightest setup. Whole-process figures are medians of
``--repeat`` fresh interpreters timed from outside, net of ``python -c pass`` measured
in the same run with the same interpreter; in-process figures are medians over a loop.
Each row prints the median and [min-max]; the ratio is MLflow / modelver. The
workloads, side by side:

* import: ``import modelver`` / ``import mlflow``;
* cold resolve: a new process opens the store and resolves ``fraud@prod``
  (``MlflowClient.get_model_version_by_alias``), on a model with ``--versions`` versions (2,000);
* cold load: a new process loads ``fraud@prod``, a small scikit-learn model (a skops
  file), against the floor of a process that imports skops and loads the same file;
  and, steadier, the registry's own time in a new process that has imported skops
  first (from ``import modelver`` / ``import mlflow`` to the loaded model, timed
  inside it): the skops import (2-3 s, noisy) is the same on both sides;
* CLI: ``modelver ls`` and ``modelver show fraud@prod`` (modelver only);
* new store, tracked sklearn run (MLflow ``log_model`` with its defaults, which infers
  requirements, and with ``pip_requirements`` given), warm load, resolve, promote,
  rollback, list and create version, in one process;
* disk: SQLite bytes in use ((pages - free pages) x page size) per tiny version and
  per tracked run, blobs and artifact files excluded.

Asserts nothing: timings are noisy.
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
from collections.abc import Sequence
from pathlib import Path

MLFLOW_PIN = "mlflow==3.17.*"

# --------------------------------------------------------------- modelver's workers

MV_SETUP = textwrap.dedent("""
    import sys
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    import modelver
    root = sys.argv[1]
    X = np.random.default_rng(0).normal(size=(1000, 20)); y = (X[:, 0] > 0).astype(int)
    store = modelver.open(root + "/mv")
    mv = store.register("fraud", LogisticRegression().fit(X, y))
    store.promote("fraud", mv.version, "prod")
    for i in range(int(sys.argv[2]) - 1):
        store.register("fraud", b"tiny %d" % i)
    for i in range(100):
        store.register("m100", b"tiny %d" % i)
    print(store.backend.blob_path(mv.blobs[0]))  # the skops file the manifest names
""")

# The start of both in-process workers: their arguments (folder, repeats, big model's
# versions), a timing loop into ``out``, and the SQLite bytes a database has in use.
_INPROCESS = textwrap.dedent("""
    import json, sqlite3, sys, tempfile, time
    root, n, big = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    out = {}

    def timed(key, fn, repeat=n):
        ts = []
        for _ in range(repeat):
            t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
        out[key] = ts

    def used(path):
        c = sqlite3.connect(path)
        pages = c.execute("PRAGMA page_count").fetchone()[0]
        free = c.execute("PRAGMA freelist_count").fetchone()[0]
        size = c.execute("PRAGMA page_size").fetchone()[0]
        c.close()
        return (pages - free) * size
""")

MV_INPROCESS = _INPROCESS + textwrap.dedent("""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    import modelver

    timed("new store", lambda: modelver.open(tempfile.mkdtemp(dir=root) + "/s").init())
    store = modelver.open(root + "/mv")
    timed("warm load by alias", lambda: store.load("fraud", "prod"))
    for versions in ("m100", "fraud"):
        label = "100" if versions == "m100" else f"{big:,}"
        timed(f"resolve alias ({label} versions)", lambda: store.resolve(versions, "latest"))
        latest = store.resolve(versions, "latest").version
        older = store.versions(versions)[-2].version

        def promote_rollback():
            store.promote(versions, older, "staging")
            store.promote(versions, latest, "staging")
            store.rollback(versions, "staging")
        timed(f"promote + promote + rollback ({label} versions)", promote_rollback)
        timed(f"list versions ({label} versions)", lambda: store.versions(versions))

    disk = modelver.open(root + "/disk")
    disk.register("tiny", b"first")
    before = used(root + "/disk/registry.db")
    count = iter(range(10**9))
    timed("create version", lambda: disk.register("tiny", b"v%d" % next(count)), repeat=big)
    out["disk per version"] = (used(root + "/disk/registry.db") - before) / big

    X = np.random.default_rng(0).normal(size=(1000, 20)); y = (X[:, 0] > 0).astype(int)
    modelver.configure(root + "/runs")
    fits = []

    @modelver.versioned_training("clf", seed=0)
    def train(C=1.0):
        t = time.perf_counter()
        m = LogisticRegression(C=C).fit(X, y)
        fits.append(time.perf_counter() - t)
        return m

    train(C=0.5)
    before = used(root + "/runs/registry.db")
    totals = []
    for i in range(n):
        t = time.perf_counter(); train(C=1.0 + i); totals.append(time.perf_counter() - t)
    out["disk per run"] = (used(root + "/runs/registry.db") - before) / n
    out["tracked sklearn run (bookkeeping)"] = [a - b for a, b in zip(totals, fits[1:])]
    print(json.dumps(out))
""")

# A tracked run's bookkeeping inside and outside a git repository: the training script
# is a file in its folder, as a user's would be.
MV_BOOKKEEPING = textwrap.dedent("""
    import json, sys, time
    import modelver
    modelver.configure(sys.argv[1])
    fits = []

    @modelver.versioned_training("trivial", seed=0)
    def train(n=3):
        t = time.perf_counter()
        w = [n * k for k in range(100)]
        fits.append(time.perf_counter() - t)
        return bytes(str(w), "ascii")

    train(n=0)
    totals = []
    for i in range(int(sys.argv[2])):
        t = time.perf_counter(); train(n=i + 1); totals.append(time.perf_counter() - t)
    print(json.dumps([a - b for a, b in zip(totals, fits[1:])]))
""")

# ---------------------------------------------------------------- MLflow's workers

ML_SETUP = textwrap.dedent("""
    import sys, warnings
    warnings.filterwarnings("ignore")
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    import mlflow, mlflow.sklearn
    from mlflow import MlflowClient
    root = sys.argv[1]
    mlflow.set_tracking_uri(f"sqlite:///{root}/mlflow.db")
    mlflow.set_experiment("bench")
    X = np.random.default_rng(0).normal(size=(1000, 20)); y = (X[:, 0] > 0).astype(int)
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(LogisticRegression().fit(X, y), name="model",
                                        pip_requirements=["scikit-learn"],
                                        registered_model_name="fraud")
    client = MlflowClient()
    client.set_registered_model_alias("fraud", "prod", "1")
    source = client.get_model_version("fraud", "1").source
    for i in range(int(sys.argv[2]) - 1):
        client.create_model_version("fraud", source)
    client.create_registered_model("m100")
    for i in range(100):
        client.create_model_version("m100", source)
    print(info.model_uri)
""")

ML_INPROCESS = _INPROCESS + textwrap.dedent("""
    import logging, warnings
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    import mlflow, mlflow.sklearn
    from mlflow import MlflowClient

    def new_store():
        d = tempfile.mkdtemp(dir=root)
        MlflowClient(f"sqlite:///{d}/mlflow.db").search_experiments()
    timed("new store", new_store, repeat=min(n, 3))
    uri = f"sqlite:///{root}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    timed("warm load by alias", lambda: mlflow.sklearn.load_model("models:/fraud@prod"))
    for name in ("m100", "fraud"):
        label = "100" if name == "m100" else f"{big:,}"
        client.set_registered_model_alias(name, "staging", "1")
        timed(f"resolve alias ({label} versions)",
              lambda: client.get_model_version_by_alias(name, "staging"))
        last = str(len(client.search_model_versions(f"name='{name}'", max_results=5000)))
        prev = str(int(last) - 1)

        def promote_rollback():
            client.set_registered_model_alias(name, "staging", prev)
            client.set_registered_model_alias(name, "staging", last)
            # no rollback verb and no alias history: the caller must know the previous one
            client.set_registered_model_alias(name, "staging", prev)
        timed(f"promote + promote + rollback ({label} versions)", promote_rollback)
        timed(f"list versions ({label} versions)",
              lambda: client.search_model_versions(f"name='{name}'", max_results=5000))

    db = f"{root}/disk.db"
    disk = MlflowClient(f"sqlite:///{db}")
    disk.create_registered_model("tiny")
    source = client.get_model_version("fraud", "1").source
    disk.create_model_version("tiny", source)
    before = used(db)
    timed("create version", lambda: disk.create_model_version("tiny", source), repeat=big)
    out["disk per version"] = (used(db) - before) / big

    X = np.random.default_rng(0).normal(size=(1000, 20)); y = (X[:, 0] > 0).astype(int)
    runs_db = f"{root}/runs.db"
    mlflow.set_tracking_uri(f"sqlite:///{runs_db}")
    mlflow.set_experiment("runs")

    def tracked(C, **kwargs):
        with mlflow.start_run():
            mlflow.log_params({"C": C})
            t = time.perf_counter(); m = LogisticRegression(C=C).fit(X, y)
            fit = time.perf_counter() - t
            mlflow.sklearn.log_model(m, name="model", registered_model_name="clf", **kwargs)
        return fit

    tracked(0.5)
    for key, kwargs in (("tracked sklearn run (bookkeeping, defaults)", {}),
                        ("tracked sklearn run (bookkeeping, pip_requirements given)",
                         {"pip_requirements": ["scikit-learn"]})):
        before = used(runs_db)
        ts = []
        for i in range(n):
            t = time.perf_counter(); fit = tracked(1.0 + i, **kwargs)
            ts.append(time.perf_counter() - t - fit)
        out[key] = ts
        if kwargs:
            out["disk per run"] = (used(runs_db) - before) / n
    print(json.dumps(out))
""")

# ------------------------------------------------------------------ whole processes


# Bytecode is cached as in an installed package: an environment that sets
# PYTHONDONTWRITEBYTECODE would otherwise compile modelver's sources in every process.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _wall(argv: Sequence[str], cwd: str | None = None) -> float:
    t = time.perf_counter()
    subprocess.run(list(argv), check=True, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def whole(cases: dict[str, list[str]], repeat: int, cwd: str) -> dict[str, list[float]]:
    """Wall times of each command, interleaved round by round so load drifts hit all,
    after one round that is not counted (it writes the bytecode caches). ``cwd`` is
    a scratch folder: ``python -c`` imports from its working directory first."""
    times: dict[str, list[float]] = {key: [] for key in cases}
    for round_ in range(repeat + 1):
        for key, argv in cases.items():
            elapsed = _wall(argv, cwd)
            if round_:
                times[key].append(elapsed)
    return times


def own_times(cases: dict[str, list[str]], repeat: int, cwd: str) -> dict[str, list[float]]:
    """The seconds each command prints (a time it measured itself), interleaved like
    :func:`whole`, after one round that is not counted."""
    times: dict[str, list[float]] = {key: [] for key in cases}
    for round_ in range(repeat + 1):
        for key, argv in cases.items():
            out = subprocess.run(list(argv), check=True, cwd=cwd, env=ENV, text=True,
                                 capture_output=True).stdout
            if round_:
                times[key].append(float(out.split()[-1]))
    return times


def net(times: list[float], floor: list[float]) -> list[float]:
    """Each round's time minus the floor measured in the same round (paired, so that a
    slow spell of the machine cancels out instead of landing on one side)."""
    return [t - f for t, f in zip(times, floor, strict=True)]


def ensure_mlflow(venv: Path) -> Path:
    """The MLflow environment's interpreter, creating the environment if needed."""
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating {venv} with {MLFLOW_PIN} (once)...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", MLFLOW_PIN,
                        "scikit-learn"], check=True)
    return python


def worker(python: str, folder: Path, name: str, text: str, *args: object) -> str:
    """Write a worker script into ``folder``, run it there and return its output.

    The scratch folder is its working directory: MLflow writes its default artifact
    folder (``./mlruns``) there, and the training script of the git rows is a file in
    its own repository, as a user's would be.
    """
    path = folder / name
    path.write_text(text)
    return subprocess.run([python, str(path), *map(str, args)], check=True,
                          capture_output=True, text=True, cwd=folder, env=ENV).stdout


def fmt(values: list[float] | float | None, unit: str = "ms") -> str:
    """Median [min-max] in milliseconds, or bytes."""
    if values is None:
        return "-"
    if unit == "B":
        return f"{values:,.0f} B"
    vals = values if isinstance(values, list) else [values]
    med = statistics.median(vals) * 1000
    return f"{med:8.1f} [{min(vals) * 1000:.1f}-{max(vals) * 1000:.1f}]"


def ratio(mv: list[float] | float | None, ml: list[float] | float | None) -> str:
    """MLflow / modelver on the medians."""
    if mv is None or ml is None:
        return ""
    a = statistics.median(mv) if isinstance(mv, list) else mv
    b = statistics.median(ml) if isinstance(ml, list) else ml
    return f"{b / a:6.1f}x" if a > 0 else ""


def main() -> None:
    """Build both registries, time both, print one table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mlflow-venv", type=Path,
                        default=Path(tempfile.gettempdir()) / "modelver-bench-mlflow")
    parser.add_argument("--no-mlflow", action="store_true", help="measure modelver only")
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--versions", type=int, default=2000,
                        help="versions of the big model (and tiny versions for disk figures)")
    args = parser.parse_args()
    mv_py = sys.executable
    ml_py = None if args.no_mlflow else str(ensure_mlflow(args.mlflow_venv))
    modelver_cli = str(Path(mv_py).with_name("modelver"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "ml").mkdir()
        blob = worker(mv_py, root, "mv_setup.py", MV_SETUP, tmp, args.versions).strip()
        store = f"{tmp}/mv"
        cases = {
            "mv pass": [mv_py, "-c", "pass"],
            "mv import": [mv_py, "-c", "import modelver"],
            "mv resolve": [mv_py, "-c", f"import modelver; modelver.open({store!r})"
                           ".resolve('fraud', 'prod')"],
            "mv load": [mv_py, "-c", f"import modelver; modelver.open({store!r})"
                        ".load('fraud', 'prod')"],
            "mv floor": [mv_py, "-c", "import skops.io as sio; "
                         f"sio.load({blob!r}, trusted=sio.get_untrusted_types(file={blob!r}))"],
            "mv ls": [modelver_cli, "--store", store, "ls"],
            "mv ls fraud": [modelver_cli, "--store", store, "ls", "fraud"],
            "mv show": [modelver_cli, "--store", store, "show", "fraud@prod"],
        }
        if ml_py:
            mlroot = str(root / "ml")
            worker(ml_py, root / "ml", "ml_setup.py", ML_SETUP, mlroot, args.versions)
            uri = f"sqlite:///{mlroot}/mlflow.db"
            cases.update({
                "ml pass": [ml_py, "-c", "pass"],
                "ml import": [ml_py, "-c", "import mlflow"],
                "ml resolve": [ml_py, "-c", "from mlflow import MlflowClient; "
                               f"MlflowClient({uri!r})"
                               ".get_model_version_by_alias('fraud', 'prod')"],
                "ml load": [ml_py, "-c", "import mlflow, mlflow.sklearn; "
                            f"mlflow.set_tracking_uri({uri!r}); "
                            "mlflow.sklearn.load_model('models:/fraud@prod')"],
            })
        t = whole(cases, args.repeat, tmp)
        # The registry's own share of a cold load, timed inside a process that has
        # imported skops (and so scikit-learn, scipy and numpy) first.
        start = "import time, skops.io; t = time.perf_counter(); "
        shares = {"mv": [mv_py, "-c", start + f"import modelver; modelver.open({store!r})"
                         ".load('fraud', 'prod'); print(time.perf_counter() - t)"]}
        if ml_py:
            shares["ml"] = [ml_py, "-c", start + "import mlflow, mlflow.sklearn; "
                            f"mlflow.set_tracking_uri({uri!r}); mlflow.sklearn.load_model("
                            "'models:/fraud@prod'); print(time.perf_counter() - t)"]
        own = own_times(shares, args.repeat, tmp)
        mv_in = json.loads(worker(mv_py, root, "mv_in.py", MV_INPROCESS, tmp, args.repeat,
                                  args.versions))
        ml_in = json.loads(worker(ml_py, root / "ml", "ml_in.py", ML_INPROCESS, root / "ml",
                                  args.repeat, args.versions)) if ml_py else {}
        books = {}
        for where in ("outside git", "inside git"):
            folder = root / where.replace(" ", "_")
            folder.mkdir()
            if where == "inside git":
                subprocess.run(["git", "init", "-q", str(folder)], check=True)
                (folder / "train.py").write_text(MV_BOOKKEEPING)
                subprocess.run(["git", "-C", str(folder), "add", "train.py"], check=True)
                subprocess.run(["git", "-C", str(folder), "-c", "user.name=b", "-c",
                                "user.email=b@b", "commit", "-qm", "train"], check=True)
            books[where] = json.loads(worker(mv_py, folder, "train.py", MV_BOOKKEEPING,
                                             folder / "store", max(args.repeat, 20)))

    rows: list[tuple[str, list[float] | float | None, list[float] | float | None, str]] = [
        ("python -c pass (absolute)", t["mv pass"], t.get("ml pass"), "ms"),
        ("import, net", net(t["mv import"], t["mv pass"]),
         net(t["ml import"], t["ml pass"]) if ml_py else None, "ms"),
        ("cold resolve fraud@prod, whole process (absolute)", t["mv resolve"],
         t.get("ml resolve"), "ms"),
        ("cold load fraud@prod, whole process, net of the skops floor",
         net(t["mv load"], t["mv floor"]),
         net(t["ml load"], t["mv floor"]) if ml_py else None, "ms"),
        ("  the same, fastest load minus fastest floor (steadier on a noisy machine)",
         min(t["mv load"]) - min(t["mv floor"]),
         min(t["ml load"]) - min(t["mv floor"]) if ml_py else None, "ms"),
        ("  the registry's own time in it, timed inside, skops imported first",
         own["mv"], own.get("ml"), "ms"),
        ("skops floor: import skops + load the file, net", net(t["mv floor"], t["mv pass"]),
         None, "ms"),
        ("`modelver ls`, whole process (absolute)", t["mv ls"], None, "ms"),
        (f"`modelver ls fraud` ({args.versions:,} versions), whole process", t["mv ls fraud"],
         None, "ms"),
        ("`modelver show fraud@prod`, whole process", t["mv show"], None, "ms"),
    ]
    run = mv_in.pop("tracked sklearn run (bookkeeping)")
    for key, value in mv_in.items():
        rows.append((key, value, ml_in.get(key), "B" if key.startswith("disk") else "ms"))
    # modelver's one tracked run beside each of MLflow's two variants
    for key in [k for k in ml_in if k.startswith("tracked")] or ["tracked sklearn run "
                                                                  "(bookkeeping)"]:
        rows.append((key, run, ml_in.get(key), "ms"))
    for where, values in books.items():
        rows.append((f"tracked trivial run's bookkeeping, {where}", values, None, "ms"))
    print(f"{'measure':66} {'modelver':>22} {'MLflow ' + MLFLOW_PIN[8:]:>24} {'ratio':>7}")
    for label, mv_value, ml_value, unit in rows:
        print(f"{label:66} {fmt(mv_value, unit):>22} {fmt(ml_value, unit):>24} "
              f"{ratio(mv_value, ml_value):>7}")
    print(f"\n(medians [min-max] in ms; {args.repeat} runs; python {sys.version.split()[0]}; "
          f"{os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()

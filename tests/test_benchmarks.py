"""Every benchmark still runs against the current code (tiny sizes; no timings checked).

The figures themselves are measured by hand (see benchmarks/README.md): machines
are too noisy for timing assertions, but a benchmark that no longer runs is a bug.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

RUNS = {
    "bench_registry.py": (["--versions", "2000", "--models", "10"], "resolve alias"),
    "bench_search.py": (["--versions", "500", "--models", "5", "--repeat", "2"],
                        "filter + order + limit"),
    "bench_lineage_retention.py": (["--versions", "400", "--models", "4", "--repeat", "2"],
                                   "plan_retention"),
    "bench_capture.py": (["--load-mb", "1", "--calls", "2"], "load"),
    "bench_fingerprint.py": (["--size-mb", "1", "--files", "10", "--repeat", "1"], "folder"),
    "bench_load.py": (["--file-mb", "1", "--model-mb", "1", "--repeat", "1"], "npy"),
    "bench_formats.py": (["--mb", "4", "--sklearn-mb", "1", "--repeat", "1"], "| skops |"),
    "bench_signature.py": (["--calls", "50", "--repeat", "2"], "checked predict"),
    "bench_vs_mlflow.py": (["--no-mlflow", "--repeat", "1", "--versions", "50"], "modelver ls"),
    "bench_remote.py": (["--versions", "40", "--repeat", "2", "--load-mb", "1"], "catch"),
    "bench_rebuild.py": (["--repeat", "1", "--snapshot-mb", "4", "--ancestors", "5",
                          "--trees", "10"], "audit report"),
}


@pytest.mark.parametrize("script", sorted(RUNS))
def test_the_benchmark_runs(script: str, tmp_path: Path) -> None:
    args, expected = RUNS[script]
    env = {**os.environ, "MODELVER_CACHE": str(tmp_path / "cache")}
    env.pop("PYTEST_CURRENT_TEST", None)
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert expected in done.stdout

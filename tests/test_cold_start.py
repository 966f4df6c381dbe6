"""Cold start and footprint: what a fresh process imports for ``import modelver`` and
for a read, and what a log entry stores of a record.

Each check runs in a new interpreter: the test process has imported everything already.
Timings are left to ``benchmarks/bench_vs_mlflow.py``; these tests pin the module sets
that the timings depend on.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import modelver
from modelver._serde import record_data, structure

ROOT = Path(__file__).resolve().parent.parent


def _new_modules(code: str, cwd: Path | None = None) -> set[str]:
    """The modules that ``code`` imports in a fresh interpreter, beyond its start-up set."""
    script = ("import json, sys; before = set(sys.modules)\n" + code +
              "\nprint(json.dumps(sorted(set(sys.modules) - before)))")
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTEST_CURRENT_TEST", "MODELVER_LOCK", "MODELVER_URI")}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, env=env, cwd=cwd).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_import_modelver_imports_only_its_exceptions() -> None:
    new = _new_modules("import modelver")
    ours = {m for m in new if m.startswith("modelver")}
    assert ours == {"modelver", "modelver._errors"}
    heavy = {"attr", "attrs", "cattrs", "packaging", "sqlite3", "json", "hashlib", "uuid",
             "platform", "inspect", "ast", "numpy", "fsspec", "psutil", "threading",
             "s3fs", "gcsfs", "adlfs", "azure", "google"}
    assert not {m.split(".")[0] for m in new} & heavy


def test_every_public_name_resolves_on_first_use() -> None:
    new = _new_modules("import modelver\n"
                       "missing = [n for n in modelver.__all__ if getattr(modelver, n) is None]\n"
                       "assert not missing, missing")
    assert "modelver._api" in new
    assert set(dir(modelver)) >= set(modelver.__all__)


def test_resolving_an_alias_imports_no_converter_specifier_or_lock_machinery(
        tmp_path: Path) -> None:
    store = modelver.open(str(tmp_path / "s"))
    mv = store.register("fraud", b"weights")
    store.promote("fraud", mv.version, "prod")
    new = _new_modules(f"import modelver\nmodelver.open({str(tmp_path / 's')!r})"
                       ".resolve('fraud', 'prod')")
    assert "modelver._store" in new
    unexpected = {"cattrs", "packaging.specifiers", "packaging.version", "modelver._locking",
                  "difflib", "tempfile", "uuid", "urllib.parse", "modelver.formats",
                  "modelver._artifacts", "importlib.metadata",
                  "modelver._register", "modelver._run", "modelver._capture"}
    assert not new & unexpected


def test_a_lock_in_the_environment_still_applies_to_resolve(tmp_path: Path) -> None:
    store = modelver.open(str(tmp_path / "s"))
    first = store.register("fraud", b"one")
    store.promote("fraud", first.version, "prod")
    store.lock("fraud@prod", path=str(tmp_path / "modelver.lock"))
    second = store.register("fraud", b"two")
    store.promote("fraud", second.version, "prod")
    lock = str(tmp_path / "modelver.lock")
    code = (f"import os, modelver; os.environ['MODELVER_LOCK'] = {lock!r}\n"
            f"print(modelver.open({str(tmp_path / 's')!r}).resolve('fraud', 'prod').version)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    assert out.strip() == first.version


def test_opening_an_up_to_date_store_writes_nothing(tmp_path: Path) -> None:
    store = modelver.open(str(tmp_path / "s"))
    store.register("fraud", b"weights")
    store.close()
    db = tmp_path / "s" / "registry.db"
    before = {p.name: p.stat().st_mtime_ns for p in db.parent.iterdir() if p.is_file()}
    code = (f"import modelver; s = modelver.open({str(tmp_path / 's')!r}); "
            "s.resolve('fraud', 'latest'); s.versions('fraud'); s.close()")
    subprocess.run([sys.executable, "-c", code], check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    after = {p.name: p.stat().st_mtime_ns for p in db.parent.iterdir() if p.is_file()}
    assert after["registry.db"] == before["registry.db"]


def test_an_entry_stores_no_empty_default_and_no_derived_field() -> None:
    mv = modelver.ModelVersion(name="fraud", version="0.1.0", digest="sha256:" + "a" * 64,
                               format="bytes", size=3, reruns=["r1"])
    data = record_data(mv)
    assert not {"deleted", "reruns", "parents", "tags", "run_id"} & set(data)
    assert data["schema_version"] == 2 and data["created_by"] == ""
    assert structure(data, modelver.ModelVersion) == mv


def test_nested_records_are_pruned_and_user_values_are_kept() -> None:
    run = modelver.Run(
        id="r1", name="fraud", params={"dropout": None, "layers": [], "extra": {}},
        data={"train": modelver.DataFingerprint(digest="sha256:" + "b" * 64, kind="file")},
        hardware=modelver.Hardware(cpu="x", gpus=[modelver.GpuInfo(uuid="GPU-1", name="A")]))
    data = record_data(run)
    assert data["params"] == {"dropout": None, "layers": [], "extra": {}}  # the user's values
    assert "error" not in data and "ended_at" not in data and "code" not in data
    assert "size" not in data["data"]["train"] and "schema" not in data["data"]["train"]
    assert "index" not in data["hardware"]["gpus"][0]
    assert structure(data, modelver.Run) == run


def test_a_store_is_opened_read_only_until_its_first_write(tmp_path: Path) -> None:
    modelver.open(str(tmp_path / "s")).register("fraud", b"one")
    reader = modelver.open(str(tmp_path / "s"))
    assert reader.resolve("fraud", "latest").version == "0.1.0"
    index = reader.chain.index
    assert index.reading and not index.readonly
    writer = modelver.open(str(tmp_path / "s"))
    writer.register("fraud", b"two")
    assert reader.resolve("fraud", "latest").version == "0.1.1"  # sees the other's write
    reader.register("fraud", b"three")
    assert not index.reading
    assert [v.version for v in writer.versions("fraud")] == ["0.1.0", "0.1.1", "0.1.2"]


def _bytes_in_use(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        return int((pages - free) * conn.execute("PRAGMA page_size").fetchone()[0])
    finally:
        conn.close()


def test_a_tiny_version_takes_under_500_bytes_of_sqlite(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELVER_USER", "ci")  # the author's name is stored too
    store = modelver.open(str(tmp_path / "s"))
    store.register("tiny", b"first")
    before = _bytes_in_use(tmp_path / "s" / "registry.db")
    for i in range(1000):
        store.register("tiny", b"v%d" % i)
    per_version = (_bytes_in_use(tmp_path / "s" / "registry.db") - before) / 1000
    assert per_version <= 500, per_version
    assert len(store.versions("tiny")) == 1001 and store.verify(blobs=False).ok

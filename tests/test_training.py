"""The vertical slice: a decorated sklearn training function on a real SQLite store."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
import threading
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import modelver
from modelver._capture import gpu, hardware

TRAIN_SOURCE = """
import modelver
from sklearn.linear_model import LogisticRegression

@modelver.versioned_training("fraud", data=("train_path",), seed=7)
def train(train_path, C=1.0, max_iter=200):
    import numpy as np
    data = np.loadtxt(train_path, delimiter=",")
    model = LogisticRegression(C=C, max_iter=max_iter).fit(data[:, :-1], data[:, -1])
    modelver.log_metrics(accuracy=float(model.score(data[:, :-1], data[:, -1])))
    return model
"""


def _write_data(path: Path, seed: int = 0, rows: int = 200) -> str:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 3))
    y = (x[:, 0] + x[:, 1] > 0).astype(float)
    np.savetxt(path, np.column_stack([x, y]), delimiter=",")
    return str(path)


def _import(path: Path, source: str, module_name: str) -> types.ModuleType:
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def train_mod(tmp_path: Path, store: modelver.Store) -> types.ModuleType:
    return _import(tmp_path / "train_v1.py", TRAIN_SOURCE, "train_v1")


def test_a_decorated_sklearn_run_captures_everything(tmp_path: Path, store: modelver.Store,
                                                      train_mod: types.ModuleType) -> None:
    data = _write_data(tmp_path / "train.csv")
    model = train_mod.train(data, C=0.5)
    assert isinstance(model, LogisticRegression)
    mv = train_mod.train.last_version
    assert mv is not None and mv.version == "0.1.0" and mv.format == "skops"
    run = store.get_run(mv.run_id)
    assert run.status == "succeeded" and run.version == "fraud@0.1.0"
    assert run.params == {"C": 0.5, "max_iter": 200}
    assert run.data["train_path"].kind == "file"
    assert run.data["train_path"].digest == modelver.fingerprint(data).digest
    assert run.seeds.seed == 7 and "random" in run.seeds.seeded
    assert run.code is not None and run.code.function_hash.startswith("sha256:")
    assert run.code.function == "train" and run.code.stable
    assert store.read_blob(run.code.source_digest).decode().lstrip().startswith("@modelver")
    assert run.environment is not None and run.environment.packages["scikit-learn"]
    assert run.hardware is not None and run.hardware.memory_total
    assert run.hardware.gpu_status in ("no GPU", "no NVML library") or run.hardware.gpus
    assert run.resources is not None and run.resources.wall_s > 0
    assert run.metrics["accuracy"] > 0.9
    assert run.bump_rule == "first version"


def test_changing_the_function_source_changes_the_hash_and_bumps_minor(
        tmp_path: Path, store: modelver.Store, train_mod: types.ModuleType) -> None:
    data = _write_data(tmp_path / "train.csv")
    train_mod.train(data)
    v2 = _import(tmp_path / "train_v2.py",
                 TRAIN_SOURCE.replace("max_iter=max_iter)", "max_iter=max_iter, tol=1e-5)"),
                 "train_v2")
    v2.train(data)
    first, second = (store.get_run(mv.run_id) for mv in store.versions("fraud"))
    assert first.code and second.code
    assert first.code.function_hash != second.code.function_hash
    assert v2.train.last_version.version == "0.2.0"
    assert second.bump_rule == "code changed (train_v2.train): minor"


def test_changing_params_bumps_minor(tmp_path: Path, store: modelver.Store,
                                     train_mod: types.ModuleType) -> None:
    data = _write_data(tmp_path / "train.csv")
    train_mod.train(data)
    train_mod.train(data, C=0.1)
    assert train_mod.train.last_version.version == "0.2.0"


def test_changing_only_the_data_bumps_patch(tmp_path: Path, store: modelver.Store,
                                            train_mod: types.ModuleType) -> None:
    train_mod.train(_write_data(tmp_path / "a.csv", seed=0))
    train_mod.train(_write_data(tmp_path / "b.csv", seed=1))
    assert train_mod.train.last_version.version == "0.1.1"
    assert "data changed" in store.get_run(train_mod.train.last_version.run_id).bump_rule


def test_a_changed_input_schema_bumps_major(store: modelver.Store) -> None:
    @modelver.versioned_training("arrays")
    def fit(x: Any) -> dict[str, float]:
        return {"mean": float(x.mean())}

    fit(np.zeros((10, 3)))
    fit(np.zeros((10, 4)))
    assert fit.last_version is not None and fit.last_version.version == "1.0.0"


def test_explicit_bump_and_version_override_auto(store: modelver.Store) -> None:
    modelver.register("m", b"a")
    assert modelver.register("m", b"b", bump="major").version == "1.0.0"
    assert modelver.register("m", b"c", version="3.1.4").version == "3.1.4"
    assert modelver.register("m", b"d").version == "3.1.5"


def test_the_same_data_gets_the_same_fingerprint_in_another_process(tmp_path: Path) -> None:
    data = _write_data(tmp_path / "train.csv")
    code = ("import modelver, numpy as np, sys; print(modelver.fingerprint(sys.argv[1]).digest);"
            "print(modelver.fingerprint(np.arange(12.0).reshape(3, 4)).digest)")
    out = subprocess.run([sys.executable, "-c", code, data], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == [modelver.fingerprint(data).digest,
                   modelver.fingerprint(np.arange(12.0).reshape(3, 4)).digest]


def test_a_failing_run_is_recorded_and_registers_nothing(store: modelver.Store) -> None:
    @modelver.versioned_training("fraud")
    def broken(n: int) -> None:
        raise ValueError("diverged")

    with pytest.raises(ValueError, match="diverged"):
        broken(3)
    assert broken.last_version is None
    assert store.versions("fraud") == []
    (run,) = store.runs("fraud")
    assert run.status == "failed" and run.error == "ValueError: diverged"
    assert run.params == {"n": 3} and run.version is None


def test_loading_in_a_second_process_returns_an_equal_model(
        tmp_path: Path, store: modelver.Store, train_mod: types.ModuleType) -> None:
    data = _write_data(tmp_path / "train.csv")
    model = train_mod.train(data)
    code = ("import modelver, sys, numpy as np; m = modelver.open(sys.argv[1]).load('fraud', "
            "'0.1.0'); print(repr(m.coef_.tolist()))")
    out = subprocess.run([sys.executable, "-c", code, store.uri], capture_output=True,
                         text=True, check=True).stdout
    assert eval(out) == model.coef_.tolist()  # noqa: S307 - our own subprocess output


def test_flipping_one_byte_of_an_artifact_makes_load_raise(store: modelver.Store) -> None:
    mv = store.register("fraud", {"weights": list(range(100))})
    path = store.backend.blob_path(mv.digest)
    os.chmod(path, 0o600)
    with open(path, "r+b") as f:
        f.seek(40)
        b = f.read(1)
        f.seek(40)
        f.write(bytes([b[0] ^ 1]))
    fresh = modelver.open(store.uri)  # no in-memory cache
    with pytest.raises(modelver.IntegrityError, match="corrupted"):
        fresh.load("fraud", "0.1.0")


@pytest.mark.parametrize("name", ["../x", "", "a/b", "x" * 200, "fraud\n", ".hidden",
                                  "fr\u0430ud", "a..b", None, 3])
def test_invalid_names_raise_invalid_name(store: modelver.Store, name: Any) -> None:
    with pytest.raises(modelver.InvalidName):
        store.register(name, b"x")
    with pytest.raises(modelver.InvalidName):
        modelver.versioned_training(name)


def test_names_differing_only_in_case_are_one_model(store: modelver.Store) -> None:
    store.register("Fraud", b"x")
    assert store.resolve("FRAUD").name == "fraud"


def _fake_nvml() -> types.ModuleType:
    nvml = types.ModuleType("pynvml")

    class NVMLError(Exception):
        pass

    mem = types.SimpleNamespace(total=80 * 2**30, used=2**30, free=79 * 2**30)
    funcs = {
        "nvmlInit": lambda: None, "nvmlShutdown": lambda: None,
        "nvmlDeviceGetCount": lambda: 1, "nvmlDeviceGetHandleByIndex": lambda i: f"h{i}",
        "nvmlDeviceGetName": lambda h: "NVIDIA H100 80GB HBM3",
        "nvmlDeviceGetUUID": lambda h: "GPU-1234", "nvmlDeviceGetMemoryInfo": lambda h: mem,
        "nvmlSystemGetDriverVersion": lambda: "550.54.15",
        "nvmlSystemGetCudaDriverVersion": lambda: 12040,
        "nvmlDeviceGetCudaComputeCapability": lambda h: (9, 0),
        "nvmlDeviceGetComputeRunningProcesses": lambda h: [
            types.SimpleNamespace(pid=os.getpid(), usedGpuMemory=3 * 2**30)],
    }
    for k, v in funcs.items():
        setattr(nvml, k, v)
    nvml.NVMLError = NVMLError  # type: ignore[attr-defined]
    return nvml


def test_a_fake_nvml_yields_a_gpu_record_in_the_run(
        tmp_path: Path, store: modelver.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    driver = tmp_path / "nvidia-version"
    driver.write_text("NVRM version: 550.54.15\n")
    monkeypatch.setattr(gpu, "DRIVER_VERSION_FILE", str(driver))
    monkeypatch.setitem(sys.modules, "pynvml", _fake_nvml())
    gpu._reset_cache()
    hardware._reset_cache()
    try:
        @modelver.versioned_training("gpu-model")
        def fit() -> bytes:
            return b"weights"

        fit()
        run = store.get_run(fit.last_version.run_id)  # type: ignore[union-attr]
    finally:
        gpu._reset_cache()
        hardware._reset_cache()
    assert run.hardware is not None
    (card,) = run.hardware.gpus
    assert (card.name, card.uuid, card.cuda_version, card.compute_capability) == (
        "NVIDIA H100 80GB HBM3", "GPU-1234", "12.4", "9.0")
    assert run.hardware.gpu_status == "ok"


def test_no_nvml_means_no_gpu(store: modelver.Store, monkeypatch: pytest.MonkeyPatch,
                              tmp_path: Path) -> None:
    monkeypatch.setattr(gpu, "DRIVER_VERSION_FILE", str(tmp_path / "absent"))
    gpu._reset_cache()
    hardware._reset_cache()
    try:
        assert hardware.capture_hardware().gpus == []
    finally:
        gpu._reset_cache()
        hardware._reset_cache()


def test_importing_modelver_imports_no_heavy_library() -> None:
    heavy = ("fsspec", "sqlite_utils", "psutil", "cpuinfo", "pynvml", "numpy", "pandas", "torch",
             # not heavy, but only needed once a record is (de)serialized, a run starts,
             # a specifier is parsed, or a model is loaded
             "cattrs", "uuid", "packaging.specifiers", "modelver._load", "modelver.formats",
             "modelver._diff", "modelver._lineage", "modelver._retention", "modelver._verify")
    code = f"import sys, modelver; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_the_context_manager_registers_the_logged_model(store: modelver.Store) -> None:
    with modelver.training("fraud", params={"lr": 0.1}, data={"x": np.ones(4)}) as run:
        assert modelver.current_run() is run
        modelver.log_metrics(loss=0.25)
        run.log_model({"w": 1})
    assert modelver.current_run() is None
    assert run.version is not None and run.version.version == "0.1.0"
    record = store.get_run(run.id)
    assert record.params == {"lr": 0.1} and record.metrics == {"loss": 0.25}
    assert record.data["x"].kind == "ndarray"
    assert record.code is not None and record.code.function_hash


def test_a_block_that_raises_registers_nothing(store: modelver.Store) -> None:
    with pytest.raises(KeyError), modelver.training("fraud") as run:
        run.log_model(b"half-trained")
        raise KeyError("boom")
    assert run.version is None and store.versions("fraud") == []
    assert store.runs("fraud")[0].status == "failed"


def test_log_outside_a_run_says_what_to_do() -> None:
    with pytest.raises(modelver.CaptureError, match="versioned_training"):
        modelver.log_metrics(x=1)


def test_runs_in_threads_keep_separate_state(store: modelver.Store) -> None:
    @modelver.versioned_training("threaded")
    def fit(i: int) -> dict[str, int]:
        modelver.log_metrics(i=i)
        return {"i": i}

    threads = [threading.Thread(target=fit, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    runs = store.runs("threaded")
    assert sorted(r.metrics["i"] for r in runs) == list(range(6))
    assert all(r.params["i"] == r.metrics["i"] for r in runs)


def test_nested_runs_restore_the_outer_run(store: modelver.Store) -> None:
    with modelver.training("outer") as outer:
        with modelver.training("inner") as inner:
            assert modelver.current_run() is inner
        assert modelver.current_run() is outer


def test_capture_failure_raises_when_strict_and_warns_otherwise(
        store: modelver.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from modelver._capture import environment

    def broken(*args: Any) -> Any:
        raise RuntimeError("no metadata")

    monkeypatch.setattr(environment, "capture_environment", broken)

    @modelver.versioned_training("s", strict=False)
    def lenient() -> bytes:
        return b"m"

    with pytest.warns(modelver.CaptureWarning, match="no metadata"):
        lenient()
    assert lenient.last_version is not None
    assert store.get_run(lenient.last_version.run_id).environment is None

    @modelver.versioned_training("s")  # strict by default under pytest
    def strict() -> bytes:
        return b"m"

    with pytest.raises(modelver.CaptureError, match="no metadata"):
        strict()


def test_safe_load_refuses_pickle(store: modelver.Store) -> None:
    store.register("fraud", {"w": (1, 2)})  # a tuple: JSON would give back a list
    store.register("arr", np.arange(3))
    with pytest.raises(modelver.UnsafeFormat):
        store.load("fraud", safe=True)
    assert store.load("arr", safe=True).tolist() == [0, 1, 2]


def test_a_blob_that_does_not_match_its_format_is_refused(store: modelver.Store) -> None:
    import io

    from modelver.formats._legacy import read_model

    with pytest.raises(modelver.IntegrityError, match="not a valid 'npy'"):
        read_model("npy", io.BytesIO(b"\x80\x05not numpy"), "", "")


def test_formats_round_trip(store: modelver.Store, tmp_path: Path) -> None:
    folder = tmp_path / "model_dir"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(b"\x00\x01")
    (folder / "config.json").write_text("{}")
    single = tmp_path / "model.onnx"
    single.write_bytes(b"onnx-bytes")
    assert store.register("b", b"raw").format == "bytes"
    assert store.register("f", single).format == "file"
    assert store.register("d", folder).format == "folder"
    assert store.load("b") == b"raw"
    assert Path(store.load("f")).read_bytes() == b"onnx-bytes"
    loaded = Path(store.load("d"))
    assert sorted(p.name for p in loaded.iterdir()) == ["config.json", "weights.bin"]
    assert store.register("d", folder).digest == store.resolve("d", "0.1.0").digest


def test_repeated_loads_come_from_the_in_memory_cache(store: modelver.Store) -> None:
    store.register("fraud", {"w": [1]})
    assert store.load("fraud") is store.load("fraud", "0.1.0")


def test_a_folder_with_symlinks_stores_what_they_point_to(store: modelver.Store,
                                                          tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    (shared / "tok").mkdir(parents=True)
    (shared / "tok" / "vocab.txt").write_text("a b c")
    (shared / "weights.bin").write_bytes(b"\x01\x02")
    model = tmp_path / "snapshot"
    model.mkdir()
    (model / "tokenizer").symlink_to(shared / "tok")
    (model / "weights.bin").symlink_to(shared / "weights.bin")
    (model / "empty").mkdir()
    store.register("hf", model)
    loaded = Path(store.load("hf"))
    assert (loaded / "tokenizer" / "vocab.txt").read_text() == "a b c"
    assert (loaded / "weights.bin").read_bytes() == b"\x01\x02"
    assert (loaded / "empty").is_dir() and not (loaded / "weights.bin").is_symlink()


def test_a_folder_that_links_into_itself_is_refused(store: modelver.Store,
                                                   tmp_path: Path) -> None:
    model = tmp_path / "loop"
    model.mkdir()
    (model / "again").symlink_to(model)
    with pytest.raises(modelver.ModelverError, match="links back"):
        store.register("loop", model)


def test_secret_looking_params_and_url_credentials_are_not_recorded(
        store: modelver.Store) -> None:
    @modelver.versioned_training("secrets")
    def fit(api_key: str, endpoint: str, lr: float = 0.1) -> bytes:
        return b"m"

    fit("sk-live-123", "https://bob:hunter2@example.com/data?token=abc&page=2")
    with modelver.training("secrets") as run:
        run.log_params(password="pw", depth=3)
    params = store.get_run(fit.last_version.run_id).params  # type: ignore[union-attr]
    assert params["api_key"] == "<redacted>" and params["lr"] == 0.1
    assert "hunter2" not in params["endpoint"] and "abc" not in params["endpoint"]
    assert store.get_run(run.id).params == {"password": "<redacted>", "depth": 3}


def test_a_store_failure_warns_and_never_hides_the_model_or_the_users_error(
        tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    broken_store = str(blocker / ".modelver")

    @modelver.versioned_training("m", store=broken_store, strict=False)
    def fit() -> bytes:
        return b"trained"

    with pytest.warns(modelver.CaptureWarning):
        assert fit() == b"trained"
    assert fit.last_version is None

    @modelver.versioned_training("m", store=broken_store, strict=False)
    def boom() -> None:
        raise ValueError("user bug")

    with pytest.raises(ValueError, match="user bug"), pytest.warns(modelver.CaptureWarning):
        boom()


def test_a_version_taken_during_training_keeps_the_model_the_run_and_the_blob(
        store: modelver.Store) -> None:
    @modelver.versioned_training("fraud", version="1.0.0")
    def train() -> dict[str, int]:
        store.register("fraud", b"a colleague's model", version="1.0.0")  # meanwhile
        return {"weights": 42}

    with pytest.raises(modelver.VersionExists, match=r"register it with modelver\.register"):
        train()
    assert train.last_run is not None and train.last_run.model == {"weights": 42}
    (run,) = [r for r in store.runs("fraud") if r.id == train.last_run.id]
    assert run.status == "succeeded" and run.version is None
    assert any("was not registered" in w for w in run.warnings)
    kept = store.register("fraud", train.last_run.model, version="1.0.1")
    assert store.load("fraud", kept.version) == {"weights": 42}


def test_a_model_that_cannot_be_stored_still_records_the_run(store: modelver.Store) -> None:
    import threading

    @modelver.versioned_training("fraud", strict=False)
    def lenient() -> object:
        return threading.Lock()  # cannot be pickled

    with pytest.warns(modelver.CaptureWarning, match="run.model"):
        model = lenient()
    assert lenient.last_version is None and lenient.last_run is not None
    assert lenient.last_run.model is model
    assert [r.status for r in store.runs("fraud")] == ["succeeded"]

    @modelver.versioned_training("fraud")  # strict under pytest: raised, once recorded
    def strict() -> object:
        return threading.Lock()

    with pytest.raises(modelver.ModelverError, match="run is recorded"):
        strict()
    assert len(store.runs("fraud")) == 2


def test_a_parent_that_does_not_exist_is_refused_before_training(
        store: modelver.Store) -> None:
    calls: list[int] = []

    @modelver.versioned_training("fraud", parents=["base@9.9.9"])
    def train() -> bytes:
        calls.append(1)
        return b"m"

    with pytest.raises(modelver.NotFound):
        train()
    assert calls == [] and store.runs() == []

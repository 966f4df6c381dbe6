"""Models in, models out: every built-in format with its real framework, in fresh
processes, with ``safe=True``; custom formats; folders as per-file blobs; torch
devices; untrusted skops types; the environment a model needs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import modelver
from modelver import EnvironmentWarning, ModelverError, UnsafeFormat

HERE = Path(__file__).resolve().parent
ZOO = HERE / "format_zoo.py"


def _zoo(action: str, store: Path, out: Path) -> dict[str, Any]:
    env = {**os.environ, "KERAS_BACKEND": "torch", "PYTHONPATH": str(HERE),
           "TRANSFORMERS_VERBOSITY": "error", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, str(ZOO), action, str(store), str(out)], env=env,
                          capture_output=True, text=True, timeout=600, cwd=HERE)
    assert done.returncode == 0, done.stderr[-4000:]
    return dict(json.loads(out.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def zoo_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Two fresh processes register the zoo into two stores; a third loads the first."""
    tmp = tmp_path_factory.mktemp("zoo")
    first = _zoo("register", tmp / "a", tmp / "a.json")
    second = _zoo("register", tmp / "b", tmp / "b.json")
    loaded = _zoo("load", tmp / "a", tmp / "c.json")
    return {"first": first, "second": second, "loaded": loaded}


sys.path.insert(0, str(HERE))
from format_zoo import EXPECTED_FORMAT  # noqa: E402

NAMES = ["npy", "torch-module", "safetensors", "torch-state", "skops", "skops-forest",
         "xgboost", "xgboost-booster", "lightgbm", "lightgbm-booster", "catboost", "keras",
         "onnx", "hf", "hf-tokenizer", "hf-diffusers", "hf-sentence-transformers", "hf-peft",
         "file", "folder", "bytes", "json", "bundle", "pickle"]


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_each_format_round_trips_in_a_fresh_process(
        zoo_runs: dict[str, dict[str, Any]], name: str) -> None:
    registered, loaded = zoo_runs["first"][name], zoo_runs["loaded"][name]
    assert registered["format"] == EXPECTED_FORMAT.get(name, name)
    assert loaded["pred"] == registered["pred"]  # loaded with safe=True (pickle aside)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_each_format_saves_the_same_bytes_in_two_processes(
        zoo_runs: dict[str, dict[str, Any]], name: str) -> None:
    assert zoo_runs["first"][name]["digest"] == zoo_runs["second"][name]["digest"]


@pytest.mark.slow
def test_loaded_models_are_the_registered_classes(zoo_runs: dict[str, dict[str, Any]]) -> None:
    types = {k: v["type"] for k, v in zoo_runs["loaded"].items()}
    assert types["torch-module"] == "Net" and types["skops"] == "Pipeline"
    assert types["xgboost"] == "XGBClassifier" and types["xgboost-booster"] == "Booster"
    assert types["lightgbm"] == "LGBMClassifier" and types["catboost"] == "CatBoostClassifier"
    assert types["hf"] == "GPT2LMHeadModel" and types["keras"] == "Sequential"
    assert types["hf-diffusers"] == "UNet2DModel" and types["hf-peft"] == "PeftModel"
    assert types["hf-sentence-transformers"] == "SentenceTransformer"
    assert types["file"] == types["folder"] == "PosixPath" and types["bundle"] == "dict"


# -- custom formats ---------------------------------------------------------------------


class Recipe:
    """A user's own model type."""

    def __init__(self, steps: list[str]) -> None:
        self.steps = steps


class RecipeFormat(modelver.formats.Format):
    name = "recipe"
    modules = ("json",)

    def claims(self, obj: Any) -> bool:
        return isinstance(obj, Recipe)

    def save(self, obj: Any, dest: Path) -> Mapping[str, Any]:
        (dest / "steps.txt").write_text("\n".join(obj.steps), encoding="utf-8")
        return {"count": len(obj.steps)}

    def load(self, path: Path, meta: Mapping[str, Any], **options: Any) -> Any:
        steps = (path / "steps.txt").read_text(encoding="utf-8").split("\n")
        assert len(steps) == meta["count"]
        return Recipe(steps)


@pytest.fixture
def recipe_format() -> Iterator[RecipeFormat]:
    fmt = modelver.formats.register(RecipeFormat())
    yield fmt
    modelver.formats.unregister("recipe")


def test_a_registered_format_is_used_for_its_class(store: modelver.Store,
                                                   recipe_format: RecipeFormat) -> None:
    mv = store.register("chef", Recipe(["chop", "fry"]))
    assert mv.format == "recipe" and mv.requirements == {"json": json.__version__}
    back = store.load("chef", safe=True)
    assert isinstance(back, Recipe) and back.steps == ["chop", "fry"]
    assert modelver.formats.names()[0] == "recipe"
    with pytest.raises(ModelverError, match="already registered"):
        modelver.formats.register(RecipeFormat())


def test_an_unknown_format_says_what_to_install(store: modelver.Store,
                                                recipe_format: RecipeFormat) -> None:
    store.register("chef", Recipe(["boil"]))
    modelver.formats.unregister("recipe")
    fresh = modelver.open(store.uri)
    with pytest.raises(ModelverError, match=r"upgrade modelver.*pip install the package that "
                       r"provides the modelver format 'recipe'"):
        fresh.load("chef")
    modelver.formats.register(RecipeFormat())


def test_an_unknown_option_is_refused_before_anything_is_read(store: modelver.Store) -> None:
    store.register("arr", np.arange(3))
    with pytest.raises(ModelverError, match="takes no option device"):
        store.load("arr", device="cpu")


# -- folders as per-file blobs ----------------------------------------------------------


def test_two_folder_versions_sharing_files_store_them_once(store: modelver.Store,
                                                           tmp_path: Path) -> None:
    folder = tmp_path / "finetune"
    (folder / "tokenizer").mkdir(parents=True)
    (folder / "tokenizer" / "vocab.txt").write_text("a b c " * 10_000)
    (folder / "weights.bin").write_bytes(os.urandom(50_000))
    a = store.register("ft", folder)
    (folder / "weights.bin").write_bytes(os.urandom(50_000))  # a new fine-tune, same tokenizer
    b = store.register("ft", folder)
    assert a.digest != b.digest and len(set(a.blobs) & set(b.blobs)) == 1
    assert len(set(store.backend.blob_digests())) == 5  # 2 manifests, 1 vocab, 2 weights
    assert (Path(store.load("ft", a.version)) / "tokenizer" / "vocab.txt").read_text() == (
        "a b c " * 10_000)


def test_a_materialized_folder_is_read_only_hard_links_into_the_blob_store(
        store: modelver.Store, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "w.bin").write_bytes(b"weights")
    mv = store.register("m", folder)
    served = Path(store.load("m"))
    blob = store.backend.blob_path(mv.blobs[0])
    assert os.stat(served / "w.bin").st_ino == os.stat(blob).st_ino
    assert not os.access(served / "w.bin", os.W_OK) or os.geteuid() == 0


def test_gc_removes_the_materialized_copy_of_a_deleted_artifact(store: modelver.Store,
                                                                 tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "w.bin").write_bytes(os.urandom(10_000))
    store.register("m", folder)
    store.register("m", b"newer")
    served = Path(store.load("m", "0.1.0"))
    plan = store.plan_retention(modelver.RetentionPolicy(keep_last=1), "m")
    plan.apply()
    assert not served.exists()


def test_a_folder_on_a_remote_store_goes_up_and_down_per_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uri = f"file://{tmp_path / 'remote'}"
    folder = tmp_path / "m"
    folder.mkdir()
    for i in range(5):
        (folder / f"shard-{i}.bin").write_bytes(os.urandom(20_000))
    mv = modelver.open(uri).register("m", folder)
    keys = {p.name for p in (tmp_path / "remote").rglob("*") if p.is_file()}
    assert {d[9:] for d in (mv.digest, *mv.blobs)} <= keys
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "another-machine"))
    served = Path(modelver.open(uri).load("m"))
    assert sorted(p.name for p in served.iterdir()) == [f"shard-{i}.bin" for i in range(5)]
    assert str(served).startswith(str(tmp_path / "another-machine"))


# -- bundles and run.log_artifact -------------------------------------------------------


def test_a_run_logs_extra_artifacts_into_a_bundle(store: modelver.Store,
                                                  tmp_path: Path) -> None:
    report = tmp_path / "eval.html"
    report.write_text("<p>auc 0.9</p>")
    with modelver.training("fraud", store=store, seed=0) as run:
        run.log_model(np.arange(4))
        run.log_artifact("eval", report)
        run.log_artifact("labels", ["no", "yes"])
    mv = run.version
    assert mv is not None and mv.format == "bundle"
    assert sorted(mv.artifacts) == ["eval", "labels", "model"]
    assert store.load("fraud", artifact="labels", safe=True) == ["no", "yes"]
    assert store.load("fraud", artifact="eval").read_text() == "<p>auc 0.9</p>"
    assert store.load("fraud", safe=True)["model"].tolist() == [0, 1, 2, 3]
    with pytest.raises(modelver.InvalidName):
        run.log_artifact("../x", 1)


# -- torch -------------------------------------------------------------------------------


def test_a_gpu_trained_module_loads_on_the_cpu(store: modelver.Store) -> None:
    torch = pytest.importorskip("torch")
    sys.path.insert(0, str(HERE))
    from format_zoo import Net

    class FakeCuda(torch.Tensor):
        """A tensor that says it lives on a GPU (this machine has none)."""

        @property
        def device(self) -> Any:  # type: ignore[override]
            return torch.device("cuda:0")

        def to(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            assert args == ("cpu",)
            return torch.Tensor._make_subclass(torch.Tensor, self.detach())

    net = Net(4, hidden=3)
    plain = net.state_dict()
    net.state_dict = lambda: {k: FakeCuda._make_subclass(FakeCuda, v.detach())  # type: ignore[method-assign]
                              for k, v in plain.items()}
    store.register("gpu", net)
    loaded = store.load("gpu", device="cpu", safe=True)
    assert all(p.device.type == "cpu" for p in loaded.parameters()) and not loaded.training
    x = torch.ones(2, 4)
    assert torch.equal(loaded(x), Net.forward(net, x))


def test_a_module_without_constructor_arguments_loads_into_a_given_one(
        store: modelver.Store) -> None:
    torch = pytest.importorskip("torch")
    seq = torch.nn.Sequential(torch.nn.Linear(2, 2))
    with pytest.warns(UserWarning, match="does not know how to build"):
        store.register("seq", seq)
    with pytest.raises(ModelverError, match="into=model"):
        store.load("seq")
    target = torch.nn.Sequential(torch.nn.Linear(2, 2))
    got = store.load("seq", into=target)
    assert got is target and torch.equal(got[0].weight, seq[0].weight)


def test_tied_weights_stay_tied_and_are_stored_once(store: modelver.Store) -> None:
    torch = pytest.importorskip("torch")
    sd = {"emb": torch.arange(6.0).reshape(2, 3)}
    sd["head"] = sd["emb"]
    mv = store.register("tied", sd)
    back = store.load("tied", safe=True)
    assert list(back) == ["emb", "head"] and back["head"] is back["emb"]
    assert mv.size < 200  # one copy of the 24 bytes, and the safetensors header


# -- scikit-learn through skops ---------------------------------------------------------


class Doubler:
    """A user's transformer inside a pipeline: skops does not trust it by default."""

    def fit(self, X: Any, y: Any = None) -> Doubler:
        return self

    def transform(self, X: Any) -> Any:
        return X * 2


def test_an_untrusted_type_is_listed_and_loads_once_trusted(store: modelver.Store) -> None:
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline

    X = np.arange(10.0).reshape(5, 2)
    pipe = make_pipeline(Doubler(), LinearRegression()).fit(X, X.sum(1))
    assert store.register("pipe", pipe).format == "skops"
    name = f"{Doubler.__module__}.Doubler"
    with pytest.raises(UnsafeFormat, match=f"not trusted: \\['{name}'\\].*trusted="):
        store.load("pipe")
    back = store.load("pipe", trusted=[name])
    assert np.allclose(back.predict(X), pipe.predict(X))


# -- the environment a model needs ------------------------------------------------------


def test_another_major_minor_of_a_needed_package_warns_once(
        store: modelver.Store, recipe_format: RecipeFormat,
        monkeypatch: pytest.MonkeyPatch) -> None:
    store.register("chef", Recipe(["stir"]))
    assert store.resolve("chef").requirements == {"json": json.__version__}
    monkeypatch.setattr(json, "__version__", "99.0.0")
    with pytest.warns(EnvironmentWarning, match=r"registered with json .*has 99\.0\.0"):
        store.load("chef")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fresh = modelver.open(store.uri)
        fresh.load("chef")  # once per process


# -- entry points -----------------------------------------------------------------------


def test_a_format_from_an_entry_point_is_read_on_first_use_not_at_import(
        tmp_path: Path) -> None:
    """A package declaring ``[modelver.formats]`` in its metadata, in a fresh process."""
    (tmp_path / "shoutfmt.py").write_text(
        "from pathlib import Path\n"
        "import modelver\n"
        "class Shout:\n"
        "    def __init__(self, text): self.text = text\n"
        "class ShoutFormat(modelver.formats.Format):\n"
        "    name = 'shout'\n"
        "    def claims(self, obj): return type(obj).__name__ == 'Shout'\n"
        "    def save(self, obj, dest): (dest / 's.txt').write_text(obj.text.upper())\n"
        "    def load(self, path, meta, **options): return Shout((path / 's.txt').read_text())\n")
    dist = tmp_path / "shoutfmt-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: shoutfmt\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[modelver.formats]\nshout = shoutfmt:ShoutFormat\n")
    code = (
        "import sys, modelver\n"
        "from modelver.formats import _registry\n"
        "assert not _registry._entry_points_read[0]  # nothing read at import\n"
        "import shoutfmt\n"
        f"store = modelver.open({str(tmp_path / 'store')!r})\n"
        "mv = store.register('s', shoutfmt.Shout('hi'))\n"
        "print(mv.format, modelver.open(store.uri).load('s', safe=True).text)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{HERE.parent}"},
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["shout", "HI"]


def test_push_copies_every_file_of_an_artifact(store: modelver.Store, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"a" * 100)
    (folder / "b.bin").write_bytes(b"b" * 100)
    mv = store.register("m", {"weights": folder, "labels": ["x"]})
    target = modelver.open(str(tmp_path / "other"))
    report = store.push("m", mv.version, to=target)
    assert report.blobs_copied == 1 + len(mv.blobs)  # the bundle's manifest, members, files
    again = modelver.open(str(tmp_path / "other")).load("m", mv.version)
    assert (again["weights"] / "b.bin").read_bytes() == b"b" * 100
    assert target.verify().ok


def test_a_rewritten_zip_is_valid_sorted_and_the_same_every_time(tmp_path: Path) -> None:
    import zipfile

    from modelver.formats._zips import rewrite

    def make(path: Path, order: list[str]) -> None:
        with zipfile.ZipFile(path, "w") as z:
            for name in order:
                z.writestr(name, name.encode() * 1000, compress_type=zipfile.ZIP_DEFLATED
                           if name.endswith(".z") else zipfile.ZIP_STORED)
            z.writestr("meta.json", b'{"saved": "now"}')

    a, b = tmp_path / "a.zip", tmp_path / "b.zip"
    make(a, ["9.npy", "1.npy", "x.z"])
    make(b, ["1.npy", "x.z", "9.npy"])
    for path in (a, b):
        rewrite(path, rename=lambda n: n.replace("9.npy", "0.npy"),
                edit={"meta.json": lambda data: b"{}"})
    assert a.read_bytes() == b.read_bytes()
    with zipfile.ZipFile(a) as z:
        assert z.testzip() is None  # every member's CRC checks out
        assert z.namelist() == ["0.npy", "1.npy", "meta.json", "x.z"]
        assert z.read("0.npy") == b"9.npy" * 1000 and z.read("x.z") == b"x.z" * 1000
        assert z.read("meta.json") == b"{}"
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_a_large_write_is_hashed_on_a_second_thread_to_the_same_digest(tmp_path: Path
                                                                       ) -> None:
    import hashlib

    from modelver.formats._base import hashed_file, written_digest

    array = np.random.default_rng(0).random(3 << 17)  # 3 MiB: written in large chunks
    path = tmp_path / "array.npy"
    with hashed_file(path) as out:
        np.save(out, array)
        out.write(b"x" * 10)  # a small write after the large ones stays in order
    expected = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert written_digest(str(path)) == expected

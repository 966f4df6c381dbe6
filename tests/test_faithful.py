"""Faithful records (issue 11): a record changes when, and only when, what made the
model changed. Each test is written as a user hits it, with real libraries."""

from __future__ import annotations

import argparse
import dataclasses
import enum
import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

import modelver
from modelver import CaptureWarning

# -- false changes ------------------------------------------------------------------------


def test_tuple_defaults_and_int_keyed_dicts_are_not_changes(store: modelver.Store) -> None:
    @modelver.versioned_training("m", seed=1)
    def train(betas: tuple[float, float] = (0.9, 0.999),
              class_weight: dict[int, int] | None = None) -> bytes:
        return b"weights"

    train(class_weight={0: 1, 1: 5})
    first = train.last_version
    train(class_weight={0: 1, 1: 5})
    assert [v.version for v in store.versions("m")] == ["0.1.0"]
    assert train.last_version == first
    runs = store.runs("m")
    assert len(runs) == 2 and {r.version for r in runs} == {"m@0.1.0"}
    assert "identical rerun of m@0.1.0" in (runs[0].bump_rule or "")
    assert runs[0].params == {"betas": [0.9, 0.999], "class_weight": {"0": 1, "1": 5}}
    mv = store.resolve("m", "0.1.0")
    assert mv.reruns == [runs[0].id]
    assert "reproduced by" in mv._repr_html_() and runs[0].id[:12] in mv._repr_html_()


def test_an_identical_rerun_with_another_artifact_is_a_patch(store: modelver.Store) -> None:
    outputs = iter([b"a", b"b"])

    @modelver.versioned_training("m", seed=1)
    def train() -> bytes:
        return next(outputs)

    train()
    train()
    assert [v.version for v in store.versions("m")] == ["0.1.0", "0.1.1"]
    assert store.runs("m")[0].bump_rule == "nothing changed: patch"


def test_a_new_auto_seed_is_a_patch_not_a_rerun(store: modelver.Store) -> None:
    @modelver.versioned_training("m")  # seed="auto": a new seed per call
    def train() -> bytes:
        return b"same"

    train()
    train()
    assert [v.version for v in store.versions("m")] == ["0.1.0", "0.1.1"]
    assert store.runs("m")[0].bump_rule == "seed changed: patch"


def test_a_text_naming_a_folder_is_a_param(store: modelver.Store, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    @modelver.versioned_training("m", seed=1)
    def train(output_dir: str = "runs/exp1", out: str = ".") -> bytes:
        return b"weights"

    train()
    (tmp_path / "runs" / "exp1").mkdir(parents=True)  # the folder appears between calls
    train()
    assert [v.version for v in store.versions("m")] == ["0.1.0"]
    run = store.runs("m")[0]
    assert run.data == {} and run.params == {"output_dir": "runs/exp1", "out": "."}


def test_a_path_named_in_data_is_data(store: modelver.Store, tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    path.write_text("a,b\n1,2\n")

    @modelver.versioned_training("m", seed=1, data=("path",))
    def train(path: str) -> bytes:
        return b"weights"

    train(str(path))
    run = store.runs("m")[0]
    assert run.data["path"].kind == "file" and "path" not in run.params


# -- structured configs ---------------------------------------------------------------------


class Optimizer(enum.Enum):
    ADAM = "adam"
    SGD = "sgd"


@dataclasses.dataclass
class Config:
    lr: float = 0.1
    layers: tuple[int, ...] = (64, 32)
    optimizer: Optimizer = Optimizer.ADAM
    api_key: str = "sk-live-secret"


MOMENTUM = np.float32(0.5)


def test_configs_are_recorded_field_by_field_and_diffed_by_field(
        store: modelver.Store) -> None:
    import transformers

    @modelver.versioned_training("m", seed=1)
    def train(config: Config, ns: argparse.Namespace, hf: Any, dtype: Any = torch.float16,
              momentum: Any = MOMENTUM, schedule: Any = None) -> bytes:
        return json.dumps([config.lr, ns.depth, hf.hidden_size]).encode()

    hf = transformers.BertConfig(hidden_size=64, num_hidden_layers=2)

    def decay(step: int) -> float:
        return float(0.9 ** step)

    train(Config(), argparse.Namespace(depth=3), hf, schedule=decay)
    run = store.runs("m")[0]
    config = run.params["config"]
    assert config == {"__type__": f"{__name__}.Config", "lr": 0.1, "layers": [64, 32],
                      "optimizer": {"__enum__": f"{__name__}.Optimizer", "name": "ADAM"},
                      "api_key": "<redacted>"}
    assert run.params["ns"] == {"__type__": "argparse.Namespace", "depth": 3}
    assert run.params["hf"]["hidden_size"] == 64
    assert run.params["dtype"] == "torch.float16" and run.params["momentum"] == 0.5
    assert run.params["schedule"]["__callable__"].endswith("<locals>.decay")
    assert run.params["schedule"]["source"].startswith("sha256:")
    assert "sk-live-secret" not in json.dumps(run.params)

    train(Config(lr=0.2), argparse.Namespace(depth=3), hf, schedule=decay)
    assert store.runs("m")[0].bump_rule == "params changed (config.lr): minor"
    d = store.diff("m@0.1.0", "m@0.2.0")
    assert [c.key for c in d.params.changed] == ["config.lr"]


def test_a_scheduler_is_recorded_by_its_state(store: modelver.Store) -> None:
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.1)

    @modelver.versioned_training("m", seed=1)
    def train(scheduler: Any) -> bytes:
        return b"w"

    train(torch.optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.5))
    recorded = store.runs("m")[0].params["scheduler"]
    assert recorded["__type__"] == "torch.optim.lr_scheduler.StepLR"
    assert recorded["state"]["step_size"] == 30 and recorded["state"]["gamma"] == 0.5


# -- code beyond the decorated function ------------------------------------------------------

_HELPERS = '''
EPOCHS = 3


def make_model(n):
    return Net(n)


class Net:
    def __init__(self, n):
        self.n = n * scale()


def scale():
    return 2
'''

_TRAIN = '''
import sys

import modelver
import helpers
from helpers import make_model


@modelver.versioned_training("m", seed=1, store=sys.argv[1])
def train(n=3):
    model = make_model(n)
    return str(model.n * helpers.EPOCHS).encode()


train()
print(train.last_version.ref)
'''


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "helpers.py").write_text(_HELPERS)
    (project / "train.py").write_text(_TRAIN)
    return project


def _train(project: Path, store: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    out = subprocess.run([sys.executable, "train.py", store], cwd=project, env=env,
                         capture_output=True, text=True, timeout=120, check=True)
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize(("old", "new", "item"), [
    ("    return 2\n", "    return 2  # same value, another source\n", "helpers:scale"),
    ("        self.n = n * scale()", "        self.n = n * scale() + 0", "helpers:Net"),
    ("EPOCHS = 3", "EPOCHS = 4", "helpers:EPOCHS"),
])
def test_editing_a_helper_a_class_or_a_constant_in_another_module_bumps_minor(
        tmp_path: Path, old: str, new: str, item: str) -> None:
    project = _project(tmp_path)
    uri = str(tmp_path / "store")
    assert _train(project, uri) == "m@0.1.0"
    assert _train(project, uri) == "m@0.1.0"  # a fresh process, the same code: a rerun
    helpers = project / "helpers.py"
    helpers.write_text(helpers.read_text().replace(old, new))
    assert _train(project, uri) == "m@0.2.0"
    store = modelver.open(uri)
    run = store.get_run(store.resolve("m", "0.2.0").run_id or "")
    assert run.bump_rule == f"code changed ({item}): minor"
    assert run.code is not None and run.code.user_code is not None
    assert set(run.code.user_code) == {"helpers:EPOCHS", "helpers:Net", "helpers:make_model",
                                       "helpers:scale"}
    d = store.diff("m@0.1.0", "m@0.2.0")
    assert d.code.keys == [item]
    assert d.source_diff is not None and f"m@0.2.0:{item}" in d.source_diff
    assert "+" + new.rstrip("\n") in d.source_diff


def test_editing_the_nn_module_a_function_builds_bumps_minor(store: modelver.Store,
                                                              tmp_path: Path) -> None:
    source = textwrap.dedent('''
        import torch

        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = torch.nn.Linear(2, 1)

            def forward(self, x):
                return self.fc(x)
    ''')
    import importlib.util

    def load(text: str, name: str) -> Any:
        path = tmp_path / f"{name}.py"
        path.write_text(text)
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    nets = [load(source, "net_v1"), load(source.replace("self.fc(x)", "torch.relu(self.fc(x))"),
                                         "net_v2")]
    current = {"net": nets[0].Net}

    @modelver.versioned_training("m", seed=1)
    def train() -> bytes:
        current["net"]()
        return b"same bytes"

    train()
    current["net"] = nets[1].Net
    train()
    rule = store.runs("m")[0].bump_rule
    assert rule is not None and rule.startswith("code changed") and "Net" in rule


def test_a_notebook_helper_cell_edit_bumps_minor(tmp_path: Path) -> None:
    import nbclient
    import nbformat

    uri = str(tmp_path / "store")
    cells = [
        "import modelver",
        "def scale():\n    return 2",
        f"@modelver.versioned_training('nb', seed=1, store={uri!r})\n"
        "def train():\n    return str(scale()).encode()",
        "train(); print(train.last_version.ref)",
        "def scale():\n    return 2  # edited in the notebook",
        "train(); print(train.last_version.ref)",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("PYTEST")]:
            mp.delenv(key)
        client.execute(env=env)
    printed = [o["text"].strip() for c in nb.cells for o in c.get("outputs", [])
               if o.get("name") == "stdout"]
    assert printed == ["nb@0.1.0", "nb@0.2.0"]
    store = modelver.open(uri)
    assert store.runs("nb")[0].bump_rule == "code changed (__main__:scale): minor"


# -- data by content -------------------------------------------------------------------------


def test_a_tensor_is_fingerprinted_by_content_without_a_copy() -> None:
    t = torch.zeros(10_000)
    changed = t.clone()
    changed[5_000] = 1.0  # repr shows "0., 0., ..., 0." for both
    assert modelver.fingerprint(t).digest != modelver.fingerprint(changed).digest
    fp = modelver.fingerprint(t)
    assert (fp.kind, fp.method, fp.size) == ("tensor", "sha256-tensor", 40_000)
    assert fp.schema == {"dtype": "torch.float32", "shape_tail": []}
    assert modelver.fingerprint(t.t() if t.dim() == 2 else t[::1]).digest == fp.digest
    bf16 = torch.ones(4, dtype=torch.bfloat16)
    assert modelver.fingerprint(bf16).digest != modelver.fingerprint(bf16.float()).digest


def test_tensor_datasets_and_loaders_by_their_tensors() -> None:
    from torch.utils.data import DataLoader, Subset, TensorDataset

    x, y = torch.zeros(8, 2), torch.zeros(8)
    y2 = y.clone()
    y2[3] = 1
    assert (modelver.fingerprint(TensorDataset(x, y)).digest
            != modelver.fingerprint(TensorDataset(x, y2)).digest)
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    fp = modelver.fingerprint(loader)
    assert (fp.kind, fp.method) == ("dataloader", "sha256-dataset")
    assert fp.digest != modelver.fingerprint(DataLoader(TensorDataset(x, y), batch_size=2)).digest
    assert modelver.fingerprint(Subset(TensorDataset(x, y), [0, 1])).method == "sha256-dataset"


def test_polars_frames_by_content() -> None:
    df = pl.DataFrame({"a": list(range(1000)), "s": [f"x{i}" for i in range(1000)]})
    other = df.with_columns(pl.when(pl.col("a") == 500).then(-1).otherwise(pl.col("a"))
                            .alias("a"))
    fp = modelver.fingerprint(df)
    assert fp.digest != modelver.fingerprint(other).digest
    assert (fp.kind, fp.method) == ("polars-frame", "sha256-arrow")
    assert fp.schema == {"columns": {"a": "Int64", "s": "String"}}
    assert modelver.fingerprint(df["a"]).digest != modelver.fingerprint(other["a"]).digest


def test_arrow_tables_by_logical_value(tmp_path: Path) -> None:
    table = pa.table({"a": list(range(100)), "s": [None if i % 7 == 0 else f"v{i}"
                                                    for i in range(100)]})
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=10)
    read_back = pq.read_table(tmp_path / "t.parquet")
    assert read_back.column("a").num_chunks > 1 or read_back.equals(table)
    assert modelver.fingerprint(read_back).digest == modelver.fingerprint(table).digest
    rechunked = pa.Table.from_batches(table.to_batches(max_chunksize=13))
    assert modelver.fingerprint(rechunked).digest == modelver.fingerprint(table).digest
    # a slice's digest depends only on its own rows
    big = pa.concat_tables([pa.table({"a": [-1, -2], "s": ["p", "q"]}), table])
    assert modelver.fingerprint(big.slice(2)).digest == modelver.fingerprint(table).digest
    changed = table.set_column(0, "a", pa.array([0] * 99 + [1]))
    assert modelver.fingerprint(changed).digest != modelver.fingerprint(
        table.set_column(0, "a", pa.array([0] * 100))).digest
    encoded = table.set_column(1, "s", table.column("s").dictionary_encode())
    assert (modelver.fingerprint(encoded).schema
            != modelver.fingerprint(table).schema)  # the type is part of the schema


def test_what_only_has_a_type_is_marked_and_warns(store: modelver.Store) -> None:
    @modelver.versioned_training("m", seed=1, strict=False)
    def train(frame: Any) -> bytes:
        return b"w"

    with pytest.warns(CaptureWarning, match="only be fingerprinted by its type"):
        train(pl.LazyFrame({"a": [1, 2]}))
    run = store.runs("m")[0]
    assert run.data["frame"].method == "type-only"
    assert any("by its type" in w for w in run.warnings)
    assert "type only" in run._repr_html_()


def test_a_custom_dataset_by_the_tensors_it_holds() -> None:
    class Pairs(torch.utils.data.Dataset[Any]):
        def __init__(self, x: torch.Tensor) -> None:
            self.x = x

        def __len__(self) -> int:
            return len(self.x)

        def __getitem__(self, i: int) -> torch.Tensor:
            return self.x[i]

    a, b = torch.zeros(4), torch.ones(4)
    assert modelver.fingerprint(Pairs(a)).digest != modelver.fingerprint(Pairs(b)).digest
    assert modelver.fingerprint(Pairs(a)).method == "sha256-dataset"


# -- schema of files ---------------------------------------------------------------------------


def test_a_csv_header_change_bumps_major_a_value_change_patch(store: modelver.Store,
                                                              tmp_path: Path) -> None:
    path = tmp_path / "train.csv"

    @modelver.versioned_training("m", seed=1, data=("path",))
    def train(path: str) -> bytes:
        return Path(path).read_bytes()

    path.write_text("a,b\n1,2\n")
    train(str(path))
    path.write_text("a,b\n1,3\n")
    train(str(path))
    path.write_text("a,c\n1,3\n")
    train(str(path))
    assert [v.version for v in store.versions("m")] == ["0.1.0", "0.1.1", "1.0.0"]
    assert store.runs("m")[0].bump_rule == "input schema changed (path): major"


def test_a_parquet_schema_change_bumps_major(store: modelver.Store, tmp_path: Path) -> None:
    path = tmp_path / "train.parquet"

    @modelver.versioned_training("m", seed=1, data=("path",))
    def train(path: str) -> bytes:
        return Path(path).read_bytes()

    pq.write_table(pa.table({"a": [1, 2]}), path)
    train(str(path))
    pq.write_table(pa.table({"a": [1.0, 2.0]}), path)
    train(str(path))
    assert [v.version for v in store.versions("m")] == ["0.1.0", "1.0.0"]
    assert store.runs("m")[1].data["path"].schema == {"columns": {"a": "int64"}}


# -- honest seeds ------------------------------------------------------------------------------


def test_seeds_say_what_was_not_seeded_and_current_run_gives_the_seed(
        store: modelver.Store, tmp_path: Path) -> None:
    script = textwrap.dedent(f'''
        import json, sys
        import numpy as np
        import modelver

        @modelver.versioned_training("m", seed=7, store={str(tmp_path / "s")!r})
        def train():
            import torch  # imported after the run started: not seeded
            run = modelver.current_run()
            return str(np.random.default_rng(run.seed).integers(1000)).encode()

        train()
        seeds = modelver.open({str(tmp_path / "s")!r}).runs("m")[0].seeds
        print(json.dumps([seeds.seed, seeds.seeded, seeds.not_seeded]))
    ''')
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, timeout=120, check=True)
    seed, seeded, not_seeded = json.loads(out.stdout.strip().splitlines()[-1])
    assert seed == 7 and seeded == ["random", "numpy"]
    assert not_seeded["torch"] == "imported after the run started: not seeded"
    assert "default_rng" in not_seeded["numpy.random.Generator"]
    assert "torch" not in seeded


def test_torch_imported_before_the_run_is_seeded(store: modelver.Store) -> None:
    @modelver.versioned_training("m", seed=3)
    def train() -> bytes:
        assert modelver.current_run() is not None
        return str(torch.rand(1).item()).encode()

    first = train()
    train()
    assert train() == first
    seeds = store.runs("m")[0].seeds
    assert "torch" in seeds.seeded and "torch" not in seeds.not_seeded


def test_no_warning_for_plain_runs(store: modelver.Store) -> None:
    @modelver.versioned_training("m", seed=1)
    def train(x: Any) -> bytes:
        return b"w"

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train(np.zeros(3))

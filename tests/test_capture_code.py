"""Code capture: function, closure and module hashes, and git state read from a real repo.

Modules are written to ``tmp_path`` and imported under unique names; git tests build real
repositories with the ``git`` binary (skipped without one), isolated from the user's
global and system git config.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import inspect
import itertools
import json
import linecache
import os
import shutil
import subprocess
import sys
import textwrap
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from modelver._capture.code import (
    CodeSnapshot,
    code_identity,
    snapshot_caller,
    snapshot_function,
    with_git,
)
from modelver._capture.git import (
    GitProbe,
    GitState,
    find_repo,
    read_head,
    read_remote,
    sanitize_url,
)
from modelver._records import CodeInfo

ROOT = Path(__file__).resolve().parents[1]
_names = itertools.count()

TRAIN_V1 = '''\
"""A training module."""


def helper():
    return 1


def train(lr=0.1):
    return lr * 2


def make_step(scale):
    def step(x):
        return x * scale
    return step
'''


@pytest.fixture(autouse=True)
def _no_pyc(monkeypatch: pytest.MonkeyPatch) -> None:
    # A module file edited within one mtime tick must not be loaded from a stale .pyc.
    monkeypatch.setattr(sys, "dont_write_bytecode", True)


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def import_file(path: Path, monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """Import ``path`` under a fresh module name, as a second ``import`` of an edited file."""
    name = f"mv_test_module_{os.getpid()}_{next(_names)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# -- function source ----------------------------------------------------------------------


def test_function_hash_is_sha256_of_the_function_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = import_file(write(tmp_path / "train.py", TRAIN_V1), monkeypatch)
    info = snapshot_function(module.train).info
    source = "def train(lr=0.1):\n    return lr * 2\n"
    assert info.function_hash == sha256(source.encode())
    assert info.source_digest == info.function_hash
    assert info.function == "train"
    assert info.module == module.__name__
    assert info.stable is True
    assert info.python == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert info.bytecode_hash is not None and info.bytecode_hash.startswith("sha256:")


def test_module_hash_is_sha256_of_the_module_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "train.py", TRAIN_V1)
    info = snapshot_function(import_file(path, monkeypatch).train).info
    assert info.module_hash == sha256(path.read_bytes())
    assert info.module_digest == info.module_hash
    assert info.source_file == str(path)


def test_blobs_hold_the_function_source_and_the_module_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "train.py", TRAIN_V1)
    snap = snapshot_function(import_file(path, monkeypatch).train)
    assert isinstance(snap, CodeSnapshot)
    assert snap.info.source_digest is not None and snap.info.module_digest is not None
    assert snap.blobs == {
        snap.info.source_digest: b"def train(lr=0.1):\n    return lr * 2\n",
        snap.info.module_digest: path.read_bytes(),
    }
    assert all(sha256(data) == digest for digest, data in snap.blobs.items())


def test_git_fields_are_left_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = import_file(write(tmp_path / "m.py", TRAIN_V1), monkeypatch)
    info = snapshot_function(module.train).info
    assert (info.git_commit, info.git_branch, info.git_dirty, info.git_remote,
            info.diff_digest) == (None, None, None, None, None)


def test_editing_the_function_changes_function_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "train.py", TRAIN_V1)
    before = snapshot_function(import_file(path, monkeypatch).train).info
    path.write_text(TRAIN_V1.replace("return lr * 2", "return lr * 3 + 1"))
    after = snapshot_function(import_file(path, monkeypatch).train).info
    assert after.function_hash != before.function_hash
    assert after.bytecode_hash != before.bytecode_hash
    assert code_identity(after) != code_identity(before)


def test_editing_other_code_in_the_module_changes_module_hash_not_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "train.py", TRAIN_V1)
    before = snapshot_function(import_file(path, monkeypatch).train).info
    path.write_text(TRAIN_V1.replace("return 1", "return 12345"))
    after = snapshot_function(import_file(path, monkeypatch).train).info
    assert after.module_hash != before.module_hash
    assert after.function_hash == before.function_hash
    assert code_identity(after) == code_identity(before)


def test_snapshot_is_cached_against_edits_made_after_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "train.py", TRAIN_V1)
    module = import_file(path, monkeypatch)
    first = snapshot_function(module.train)
    path.write_text(TRAIN_V1.replace("return lr * 2", "return lr * 2 + 100"))
    # inspect now describes the edited file, not the code that runs ...
    assert "100" in inspect.getsource(module.train)
    # ... but the snapshot taken at decoration time stays.
    assert snapshot_function(module.train) == first


def test_lines_inserted_above_before_snapshot_fall_back_to_bytecode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "train.py", TRAIN_V1)
    module = import_file(path, monkeypatch)
    path.write_text("import os\nimport sys\n\n\n" + TRAIN_V1)  # train's lines moved down
    info = snapshot_function(module.train).info
    assert info.function_hash is None
    assert info.stable is False
    assert info.bytecode_hash is not None


def test_identical_functions_in_two_files_keep_their_own_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Code objects compare equal across files: the cache must not mix them up.
    a = write(tmp_path / "a.py", TRAIN_V1)
    b = write(tmp_path / "b.py", TRAIN_V1.replace("return 1", "return 2"))
    info_a = snapshot_function(import_file(a, monkeypatch).train).info
    info_b = snapshot_function(import_file(b, monkeypatch).train).info
    assert info_a.function_hash == info_b.function_hash
    assert (info_a.source_file, info_b.source_file) == (str(a), str(b))
    assert info_a.module_hash == sha256(a.read_bytes())
    assert info_b.module_hash == sha256(b.read_bytes())


CHILD = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("child_train", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
from modelver._capture.code import code_identity, snapshot_function
ns = {}
exec(compile(sys.argv[2], "<string>", "exec"), ns)
out = {}
for name, func in [("train", module.train), ("step", module.make_step(0.5)),
                   ("exec", ns["pick"]), ("sets", ns["make"]({"a", "b", "c", "d"}))]:
    info = snapshot_function(func).info
    out[name] = [info.function_hash, info.bytecode_hash, info.closure_hash, code_identity(info)]
print(json.dumps(out))
"""

EXEC_SOURCE = """
def pick(x):
    return x in {"alpha", "beta", "gamma", "delta", "epsilon"}

def make(options):
    def chosen(x):
        return x in options
    return chosen
"""


def run_child(path: Path, seed: str) -> dict[str, list[str | None]]:
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT),
           "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path), EXEC_SOURCE],
                          capture_output=True, text=True, env=env, check=True, timeout=60)
    result: dict[str, list[str | None]] = json.loads(proc.stdout)
    return result


def test_same_code_gets_the_same_hashes_in_other_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Different hash seeds reorder sets and frozensets: no digest may depend on them.
    path = write(tmp_path / "train.py", TRAIN_V1)
    first, second = run_child(path, "1"), run_child(path, "2")
    assert first == second
    here = snapshot_function(import_file(path, monkeypatch).train).info
    assert first["train"][0] == here.function_hash
    assert first["train"][1] == here.bytecode_hash


# -- functions without source -------------------------------------------------------------


def test_exec_function_without_source_gets_bytecode_hash_and_is_unstable() -> None:
    ns: dict[str, Any] = {}
    exec(compile("def f(x):\n    return x + 41\n", "<string>", "exec"), ns)  # noqa: S102
    info = snapshot_function(ns["f"]).info
    assert info.function_hash is None and info.source_digest is None
    assert info.stable is False
    assert info.bytecode_hash is not None and info.bytecode_hash.startswith("sha256:")
    assert info.python == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert info.module_hash is None and info.source_file is None
    assert snapshot_function(ns["f"]).blobs == {}
    assert code_identity(info).startswith("sha256:")


def test_bytecode_hash_follows_the_code_not_the_object() -> None:
    def compiled(body: str) -> Callable[..., Any]:
        ns: dict[str, Any] = {}
        exec(compile(f"def f(x):\n    {body}\n", "<string>", "exec"), ns)  # noqa: S102
        func: Callable[..., Any] = ns["f"]
        return func

    same = [snapshot_function(compiled("return (x, 1.5, b'z')")).info for _ in range(2)]
    other = snapshot_function(compiled("return (x, 2.5, b'z')")).info
    assert same[0].bytecode_hash == same[1].bytecode_hash
    assert other.bytecode_hash != same[0].bytecode_hash


def test_notebook_cell_source_is_found_through_linecache(monkeypatch: pytest.MonkeyPatch) -> None:
    # IPython registers each cell's text in linecache under a made-up file name.
    filename = "<ipython-input-7-0123456789ab>"
    source = "def cell_train(lr):\n    return lr * 4\n"
    monkeypatch.setitem(linecache.cache, filename,
                        (len(source), None, source.splitlines(True), filename))
    ns: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(source, filename, "exec"), ns)  # noqa: S102
    snap = snapshot_function(ns["cell_train"])
    assert snap.info.function_hash == sha256(source.encode())
    assert snap.info.stable is True
    assert snap.info.module_hash is None and snap.info.source_file is None
    assert snap.blobs == {sha256(source.encode()): source.encode()}


IPYTHON_CELLS = r"""
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
shell.run_cell("import json; from modelver._capture.code import snapshot_function")
shell.run_cell("def cell_train(lr):\n    return lr * 4\n")
shell.run_cell("print(json.dumps(snapshot_function(cell_train).info.function_hash))")
"""


def test_function_defined_in_a_real_ipython_cell_has_a_source_hash() -> None:
    pytest.importorskip("IPython")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-c", IPYTHON_CELLS], capture_output=True,
                          text=True, env=env, check=True, timeout=120)
    source = b"def cell_train(lr):\n    return lr * 4\n"
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == sha256(source)


def test_builtin_callable_is_named_without_hashes() -> None:
    info = snapshot_function(len).info
    assert info.function == "len"
    assert info.function_hash is None and info.bytecode_hash is None
    assert info.stable is False


# -- wrappers -----------------------------------------------------------------------------


def logged(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return wrapper


@logged
def decorated(lr: float) -> float:
    return lr * 5


def test_decorated_function_hashes_the_inner_function() -> None:
    info = snapshot_function(decorated).info
    inner = decorated.__wrapped__  # type: ignore[attr-defined]
    assert info.function_hash == sha256(inspect.getsource(inner).encode())
    assert info.function == "decorated"
    assert info.closure_hash is None  # the wrapper's closure (func) is not the code that runs
    assert snapshot_function(logged(logged(inner))).info == info


def test_partials_methods_and_callable_objects_hash_their_function() -> None:
    class Trainer:
        def fit(self, lr: float) -> float:
            return lr

        def __call__(self, lr: float) -> float:
            return lr

    fit = snapshot_function(Trainer.fit).info
    assert snapshot_function(Trainer().fit).info == fit
    assert snapshot_function(functools.partial(Trainer.fit, Trainer())).info == fit
    called = snapshot_function(Trainer()).info
    assert called.function is not None and called.function.endswith("Trainer.__call__")
    assert called.function_hash is not None


# -- closures -----------------------------------------------------------------------------


def test_closures_from_one_factory_differ_in_closure_hash_and_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = import_file(write(tmp_path / "train.py", TRAIN_V1), monkeypatch)
    a = snapshot_function(module.make_step(0.1)).info
    b = snapshot_function(module.make_step(0.01)).info
    assert a.function_hash == b.function_hash
    assert a.bytecode_hash == b.bytecode_hash
    assert a.closure_hash != b.closure_hash
    assert code_identity(a) != code_identity(b)
    again = snapshot_function(module.make_step(0.1)).info
    assert again.closure_hash == a.closure_hash
    assert code_identity(again) == code_identity(a)
    assert a.stable is True


def make_scaled(value: Any) -> Callable[[], Any]:
    def scaled() -> Any:
        return value

    return scaled


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ({"lr": 0.1, "layers": [64, 32]}, {"layers": [64, 32], "lr": 0.1}),
        ({"b", "a", "c"}, {"c", "a", "b"}),
        ((1, "x", None, True), (1, "x", None, True)),
    ],
)
def test_equal_captured_values_give_equal_closure_hash(left: Any, right: Any) -> None:
    a = snapshot_function(make_scaled(left)).info
    b = snapshot_function(make_scaled(right)).info
    assert a.closure_hash == b.closure_hash
    assert a.stable is True


@pytest.mark.parametrize(
    ("left", "right"),
    [(1, 1.0), (1, True), ((1, 2), [1, 2]), ("1", 1), (float("nan"), float("inf")), (0.0, -0.0)],
)
def test_captured_values_of_different_type_or_value_differ(left: Any, right: Any) -> None:
    assert (snapshot_function(make_scaled(left)).info.closure_hash
            != snapshot_function(make_scaled(right)).info.closure_hash)


def test_captured_functions_are_hashed_by_their_code() -> None:
    def relu(x: float) -> float:
        return max(x, 0.0)

    def tanh(x: float) -> float:
        return x

    a = snapshot_function(make_scaled(relu)).info
    assert a.closure_hash == snapshot_function(make_scaled(relu)).info.closure_hash
    assert a.closure_hash != snapshot_function(make_scaled(tanh)).info.closure_hash
    assert a.stable is True


def test_recursive_closure_does_not_loop() -> None:
    def factory(depth: int) -> Callable[[int], int]:
        def walk(n: int) -> int:
            return depth if n <= 0 else walk(n - 1)

        return walk

    a, b = snapshot_function(factory(1)).info, snapshot_function(factory(2)).info
    assert a.closure_hash is not None and a.closure_hash != b.closure_hash
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    assert snapshot_function(make_scaled(cyclic)).info.closure_hash is not None


def test_captured_numpy_arrays_are_hashed_by_content() -> None:
    np = pytest.importorskip("numpy")
    a = snapshot_function(make_scaled(np.arange(6.0).reshape(2, 3))).info
    same = snapshot_function(make_scaled(np.arange(6.0).reshape(2, 3))).info
    reshaped = snapshot_function(make_scaled(np.arange(6.0).reshape(3, 2))).info
    changed = snapshot_function(make_scaled(np.arange(6.0).reshape(2, 3) + 1)).info
    assert a.closure_hash == same.closure_hash
    assert len({a.closure_hash, reshaped.closure_hash, changed.closure_hash}) == 3
    assert a.stable is True
    assert (snapshot_function(make_scaled(np.float32(0.5))).info.closure_hash
            != snapshot_function(make_scaled(np.float64(0.5))).info.closure_hash)


def test_captured_plain_objects_are_unstable_but_free_of_addresses() -> None:
    class Config:
        pass

    a = snapshot_function(make_scaled(Config())).info
    b = snapshot_function(make_scaled(Config())).info
    assert a.stable is False
    assert a.function_hash is not None
    assert a.closure_hash == b.closure_hash  # "<Config object at 0x…>" minus the address


def test_closure_over_an_empty_cell_is_hashed() -> None:
    def outer() -> Callable[[], Any]:
        def inner() -> Any:
            return late

        snap = snapshot_function(inner)
        late = 1
        assert snap.info.closure_hash is not None
        return inner

    assert snapshot_function(outer()).info.closure_hash is not None


# -- the code around a with-block ---------------------------------------------------------


def test_caller_inside_a_function_is_that_function() -> None:
    frame = inspect.currentframe()
    assert frame is not None
    snap = snapshot_caller(frame)
    source = inspect.getsource(test_caller_inside_a_function_is_that_function).encode()
    assert snap.info.function_hash == sha256(source)
    assert snap.info.function == "test_caller_inside_a_function_is_that_function"
    assert snap.info.module == __name__
    assert snap.blobs[sha256(source)] == source


def test_caller_at_module_level_is_the_whole_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "script.py", """\
        import inspect
        from modelver._capture.code import snapshot_caller
        SNAP = snapshot_caller(inspect.currentframe())
        """)
    info = import_file(path, monkeypatch).SNAP.info
    assert info.function_hash == info.module_hash == sha256(path.read_bytes())
    assert info.stable is True


def test_caller_free_variables_count_as_its_closure() -> None:
    def block(lr: float) -> Callable[[], CodeSnapshot]:
        def run() -> CodeSnapshot:
            frame = inspect.currentframe()
            assert frame is not None and lr > 0
            return snapshot_caller(frame)

        return run

    a, b = block(0.1)().info, block(0.2)().info
    assert a.function_hash == b.function_hash
    assert a.closure_hash is not None and a.closure_hash != b.closure_hash
    assert block(0.1)().info == a


# -- identity and git fields --------------------------------------------------------------


def test_code_identity_ignores_module_hash_and_git() -> None:
    base = CodeInfo(function="f", function_hash="sha256:" + "a" * 64, module_hash="sha256:1")
    other = attrs.evolve(base, module_hash="sha256:2", git_commit="c" * 40, git_dirty=True)
    assert code_identity(base) == code_identity(other)
    assert code_identity(base) != code_identity(attrs.evolve(base, closure_hash="sha256:3"))
    source_less = CodeInfo(bytecode_hash="sha256:" + "b" * 64, python="3.11", stable=False)
    assert code_identity(source_less) != code_identity(attrs.evolve(source_less, python="3.12"))


def test_with_git_fills_the_git_fields() -> None:
    info = CodeInfo(function="f", function_hash="sha256:" + "a" * 64)
    state = GitState(commit="c" * 40, branch="main", dirty=True,
                     remote="https://user:pw@example.com/x.git", diff=b"diff")
    filled = with_git(info, state, "sha256:" + "d" * 64)
    assert (filled.git_commit, filled.git_branch, filled.git_dirty, filled.git_remote,
            filled.diff_digest) == ("c" * 40, "main", True, "https://example.com/x.git",
                                    "sha256:" + "d" * 64)
    assert filled.function_hash == info.function_hash
    assert with_git(filled, None, None) == info


def test_snapshot_of_a_typical_function_is_fast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = import_file(write(tmp_path / "train.py", TRAIN_V1), monkeypatch)
    start = time.perf_counter()
    snapshot_function(module.make_step(0.1))
    assert time.perf_counter() - start < 0.5  # first call reads the files; measured ~0.2 ms


# -- git ----------------------------------------------------------------------------------


@pytest.fixture
def git_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``git`` on PATH, isolated from the user's config, hooks' variables and identity."""
    if shutil.which("git") is None:
        pytest.skip("git is not on PATH")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR"):
        monkeypatch.delenv(var, raising=False)
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.com")


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return proc.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, git_env: None) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "train.py").write_text("def train():\n    return 1\n")
    (path / "weights.bin").write_bytes(bytes(range(256)) * 4)
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "first")
    return path


def test_find_repo_walks_up_to_the_worktree_root(repo: Path) -> None:
    nested = repo / "src" / "pkg"
    nested.mkdir(parents=True)
    assert find_repo(str(nested)) == str(repo)
    assert find_repo(str(repo / "train.py")) == str(repo)


def outside_any_repo(path: Path) -> Path:
    if any((parent / ".git").exists() for parent in (path, *path.parents)):
        pytest.skip("the temporary folder is inside a git repository")
    return path


def test_find_repo_outside_a_repo_is_none(tmp_path: Path) -> None:
    outside_any_repo(tmp_path)
    assert find_repo(str(tmp_path)) is None


def test_read_head_gives_the_commit_and_branch(repo: Path) -> None:
    assert read_head(str(repo)) == (git(repo, "rev-parse", "HEAD"), "main")


def test_read_head_reads_packed_refs(repo: Path) -> None:
    git(repo, "pack-refs", "--all", "--prune")
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    assert read_head(str(repo)) == (git(repo, "rev-parse", "HEAD"), "main")


def test_read_head_detached_gives_no_branch(repo: Path) -> None:
    sha = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "--detach")
    assert read_head(str(repo)) == (sha, None)


def test_read_head_before_the_first_commit_gives_the_branch_only(
    tmp_path: Path, git_env: None
) -> None:
    git(tmp_path, "init", "-q", "-b", "trunk")
    assert read_head(str(tmp_path)) == (None, "trunk")


def test_read_head_follows_a_git_file_in_a_linked_worktree(repo: Path, tmp_path: Path) -> None:
    worktree = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "feature", str(worktree))
    (worktree / "train.py").write_text("def train():\n    return 2\n")
    git(worktree, "commit", "-q", "-am", "feature work")
    assert (worktree / ".git").is_file()
    assert find_repo(str(worktree / "train.py")) == str(worktree)
    assert read_head(str(worktree)) == (git(worktree, "rev-parse", "HEAD"), "feature")
    assert read_head(str(repo)) == (git(repo, "rev-parse", "HEAD"), "main")


def test_read_head_is_fast(repo: Path) -> None:
    read_head(str(repo))
    start = time.perf_counter()
    for _ in range(100):
        read_head(str(repo))
    assert (time.perf_counter() - start) / 100 < 0.005  # measured ~0.03 ms


def test_probe_of_a_clean_repo(repo: Path) -> None:
    state = GitProbe(str(repo / "train.py")).result()
    assert state == GitState(commit=git(repo, "rev-parse", "HEAD"), branch="main",
                             dirty=False, remote=None, diff=b"")


def test_probe_of_a_modified_file_is_dirty_with_the_change_in_the_diff(repo: Path) -> None:
    (repo / "train.py").write_text("def train():\n    return 42\n")
    state = GitProbe(str(repo)).result()
    assert state.dirty is True
    assert state.diff is not None
    assert b"+    return 42" in state.diff and b"-    return 1" in state.diff


def test_probe_counts_untracked_files_as_dirty_but_diffs_tracked_files_only(repo: Path) -> None:
    (repo / "notes.txt").write_text("scratch\n")
    state = GitProbe(str(repo)).result()
    assert state.dirty is True
    assert state.diff == b""


def test_probe_diff_is_binary_safe(repo: Path) -> None:
    (repo / "weights.bin").write_bytes(bytes(reversed(range(256))) * 4)
    state = GitProbe(str(repo)).result()
    assert state.diff is not None and b"GIT binary patch" in state.diff


def test_probe_sees_staged_changes(repo: Path) -> None:
    (repo / "train.py").write_text("def train():\n    return 7\n")
    git(repo, "add", "train.py")
    state = GitProbe(str(repo)).result()
    assert state.dirty is True
    assert state.diff is not None and b"+    return 7" in state.diff


def test_probe_of_a_detached_head_has_no_branch(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    state = GitProbe(str(repo)).result()
    assert state.branch is None
    assert state.commit == git(repo, "rev-parse", "HEAD")


def test_probe_records_the_remote_without_credentials(repo: Path) -> None:
    git(repo, "remote", "add", "origin", "https://user:s3cret@example.com/org/repo.git")
    state = GitProbe(str(repo)).result()
    assert state.remote == "https://example.com/org/repo.git"
    assert "s3cret" not in repr(state)


def test_probe_outside_a_repo_gives_all_none_quickly(tmp_path: Path) -> None:
    outside_any_repo(tmp_path)
    start = time.perf_counter()
    state = GitProbe(str(tmp_path)).result()
    assert state == GitState()
    assert time.perf_counter() - start < 0.5


def test_probe_without_a_git_binary_reads_what_the_files_say(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    state = GitProbe(str(repo)).result()
    assert state.dirty is None and state.diff is None
    assert state.branch == "main" and state.commit is not None


def test_probe_with_no_time_left_does_not_run_git(repo: Path) -> None:
    start = time.perf_counter()
    state = GitProbe(str(repo), timeout=0.0).result()
    assert time.perf_counter() - start < 1.5
    assert state.dirty is None and state.diff is None


@pytest.mark.parametrize(
    ("url", "clean"),
    [
        ("https://user:s3cret@example.com/org/repo.git", "https://example.com/org/repo.git"),
        ("https://ghp_tokenvalue@github.com/org/repo.git", "https://github.com/org/repo.git"),
        ("https://oauth2:p@ss@gitlab.com:8443/org/repo", "https://gitlab.com:8443/org/repo"),
        ("https://host/org/repo.git?token=abc&ref=main", "https://host/org/repo.git?ref=main"),
        ("https://host/r.git?private_token=abc", "https://host/r.git"),
        ("https://host/r?X-Amz-Signature=abc&X-Amz-Credential=k", "https://host/r"),
        ("ssh://git:pw@host:2222/org/repo.git", "ssh://git@host:2222/org/repo.git"),
        ("ssh://git@host/org/repo.git", "ssh://git@host/org/repo.git"),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
        ("/srv/git/repo.git", "/srv/git/repo.git"),
        ("file:///srv/git/repo.git", "file:///srv/git/repo.git"),
        ("https://[::1", "https://[::1"),
    ],
)
def test_sanitize_url_strips_credentials(url: str, clean: str) -> None:
    assert sanitize_url(url) == clean
    assert sanitize_url(clean) == clean


def test_read_remote_parses_git_config(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (tmp_path / ".git" / "config").write_text(textwrap.dedent("""\
        [core]
        \tbare = false
        ; a comment
        [remote "upstream"]
        \turl = https://example.com/up.git
        [Remote "origin"]
        \tURL = "https://me:tok@example.com/my repo.git" # trailing comment
        \tfetch = +refs/heads/*:refs/remotes/origin/*
        """))
    assert read_remote(str(tmp_path)) == "https://example.com/my repo.git"

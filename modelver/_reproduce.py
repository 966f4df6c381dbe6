"""``reproduce``: rebuild a version from its record in a fresh process and compare digests.

The steps, each of which either succeeds or stops with :class:`NotReproducible` saying
what is missing (nothing is rebuilt on other code or other data):

1. **code**: a scratch git worktree at the recorded commit with the stored uncommitted
   diff applied, when the repository that made the run still has that commit; else
   the stored files of the modules the code lives in (``CodeInfo.files_digest``).
2. **data**: each data argument from its snapshot, or the current file or folder when
   its fingerprint still matches the record; otherwise the differing input is named.
3. **params and seed**: the recorded values; a param recorded only by type and
   fingerprint, or redacted as a secret, cannot be passed again.
4. **parents**: the versions the run loaded are copied into a scratch store, with the
   aliases of their models as they were when the run started.
5. the decorated function runs in a fresh ``python`` process (nothing shared with the
   caller) into the scratch store, under the recorded version number.

The outcome is a :class:`Reproduction`, also appended to the version's store as a run
that ``reproduces`` the version (``runs()``, ``show``, the HTML and the audit list it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from ._errors import ModelverError, NotFound, NotReproducible
from ._records import ModelVersion, Run
from ._render import render

if TYPE_CHECKING:
    from datetime import datetime

    from ._snapshots import SnapshotBackend


class Store(Protocol):
    """What reproducing needs of a store (``modelver.Store`` is one)."""

    @property
    def backend(self) -> SnapshotBackend:
        """Where blobs are read and written."""

    @property
    def stat_cache(self) -> Any:
        """The fingerprint stat cache."""

    def resolve(self, name: str, ref: str = "latest", *, at: datetime | None = None
                ) -> ModelVersion:
        """The version a reference names."""

    def get_run(self, run_id: str) -> Run:
        """One run by id."""

    def read_blob(self, digest: str) -> bytes:
        """A verified blob."""

    def push(self, name: str, ref: str = "latest", *, to: Any) -> Any:
        """Copy a version into another store."""

    def aliases(self, name: str) -> dict[str, str]:
        """The current aliases of a model."""

    def promote(self, name: str, version: str, alias: str = "prod", *,
                reason: str | None = None) -> Any:
        """Point an alias at a version."""

    def record_run(self, run: Run, model: Any) -> ModelVersion | None:
        """Append a finished run."""

    def init(self) -> Any:
        """Create the store if needed."""

    def close(self) -> None:
        """Close its connections."""

__all__ = ["Reproduction", "Store", "reproduce"]

_GIT_TIMEOUT_S = 120


@attrs.frozen
class Reproduction:
    """What rebuilding a version gave.

    ``identical`` is True when the rebuilt artifact has the recorded digest.
    ``metric_deltas`` maps each metric to ``{"recorded", "now", "delta"}`` (``delta``
    for numbers); ``differences`` lists every difference in environment and hardware
    from the recorded run; ``code`` and ``data`` say where each came from; ``wall_s``
    is the whole reproduction, ``train_s`` the training call alone; ``run_id`` is the
    reproduction's run in the store.
    """

    ref: str
    identical: bool
    expected: str
    digest: str | None
    metric_deltas: dict[str, dict[str, Any]]
    differences: list[str]
    code: str
    data: dict[str, str]
    wall_s: float
    train_s: float | None
    run_id: str
    workdir: str | None = None

    @property
    def status(self) -> str:
        """``"identical"`` or ``"different"``."""
        return "identical" if self.identical else "different"

    @property
    def exit_code(self) -> int:
        """The CLI's exit status: 0 identical, 1 different (2 is "could not reproduce")."""
        return 0 if self.identical else 1

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data, with ``status``."""
        return {"status": self.status, **attrs.asdict(self)}

    def __str__(self) -> str:
        lines = [f"{self.ref}: {self.status.upper()}"]
        if self.identical:
            lines.append(f"  artifact  {self.expected} (the recorded digest)")
        else:
            lines += [f"  artifact  {self.digest}", f"  recorded  {self.expected}"]
        lines.append(f"  code      {self.code}")
        lines += [f"  data      {key}: {how}" for key, how in sorted(self.data.items())]
        changed = {k: d for k, d in self.metric_deltas.items()
                   if d.get("recorded") != d.get("now")}
        for key, d in sorted(self.metric_deltas.items()):
            delta = d.get("delta")
            lines.append(f"  metric    {key}: {d.get('recorded')!r} -> {d.get('now')!r}"
                         + (f" ({delta:+.6g})" if isinstance(delta, float) and delta else ""))
        if not changed and self.metric_deltas:
            lines.append("            (every metric as recorded)")
        if self.differences:
            lines.append(f"  environment and hardware differ ({len(self.differences)}):")
            lines += [f"    {d}" for d in self.differences]
        else:
            lines.append("  environment and hardware as recorded")
        timing = f"  took      {self.wall_s:.2f}s"
        if self.train_s is not None:
            timing += f" (training {self.train_s:.2f}s)"
        lines.append(timing + f"; recorded as run {self.run_id[:12]}")
        if not self.identical:
            lines.append("  A different artifact means the rebuild did not give the same "
                         "bytes: an unseeded RNG, a nondeterministic kernel, or another "
                         "environment (see docs/reproducibility.md).")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return render("html", self)


# -- code -----------------------------------------------------------------------------------

def _git(repo: str, *args: str, input_: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR")}
    return subprocess.run(["git", "-C", repo, *args], capture_output=True, input=input_,
                          timeout=_GIT_TIMEOUT_S, env=env, check=False)


def _repo_with(commit: str, candidates: list[str | None]) -> str | None:
    from ._capture.git import find_repo

    for where in candidates:
        if not where:
            continue
        repo = find_repo(where)
        if repo is None:
            continue
        try:
            if _git(repo, "cat-file", "-e", f"{commit}^{{commit}}").returncode == 0:
                return repo
        except (OSError, subprocess.SubprocessError):
            return None
    return None


class _Code:
    """The code to run: where its module file is, its import root, and how it came."""

    def __init__(self, file: str, root: str, how: str, cwd: str) -> None:
        self.file, self.root, self.how, self.cwd = file, root, how, cwd


def _import_root(file: str, module: str) -> str:
    root = os.path.dirname(file)
    if module != "__main__" and not module.startswith("__"):
        depth = len(module.split(".")) - (0 if os.path.basename(file) == "__init__.py" else 1)
        for _ in range(depth):
            root = os.path.dirname(root)
    return root


@contextmanager
def _code(store: Store, mv: ModelVersion, run: Run, workdir: str) -> Iterator[_Code]:
    code = run.code
    if code is None or code.module is None:  # reproduce() checked it
        raise NotReproducible(f"{mv.ref} has no recorded code")
    module = code.module
    dest = os.path.join(workdir, "code")
    repo = None
    if code.git_commit and code.source_file:
        repo = _repo_with(code.git_commit, [code.source_file, run.cwd, os.getcwd()])
    if repo is not None and code.source_file and code.git_commit:
        source = os.path.realpath(code.source_file)
        rel = os.path.relpath(source, os.path.realpath(repo))
        if rel.startswith(".."):
            repo = None
    if repo is not None and code.source_file and code.git_commit:
        added = _git(repo, "worktree", "add", "--detach", dest, code.git_commit)
        if added.returncode != 0:
            raise NotReproducible(f"cannot check out commit {code.git_commit[:12]} of {repo!r} "
                                  f"for {mv.ref}: {added.stderr.decode(errors='replace')}")
        try:
            how = f"git worktree of {repo} at {code.git_commit[:12]}"
            if code.diff_digest:
                patch = store.read_blob(code.diff_digest)
                applied = _git(dest, "apply", "--binary", "--whitespace=nowarn", "-",
                               input_=patch)
                if applied.returncode != 0:
                    raise NotReproducible(
                        f"the uncommitted diff recorded with {mv.ref} does not apply to "
                        f"commit {code.git_commit[:12]}: "
                        f"{applied.stderr.decode(errors='replace').strip()}")
                how += " + the recorded uncommitted diff"
            file = os.path.join(dest, rel)
            cwd = dest
            if run.cwd:
                inside = os.path.relpath(os.path.realpath(run.cwd), os.path.realpath(repo))
                if not inside.startswith(".."):
                    cwd = os.path.normpath(os.path.join(dest, inside))
            yield _Code(file, _import_root(file, module), how, cwd)
        finally:
            _git(repo, "worktree", "remove", "--force", dest)
            _git(repo, "worktree", "prune")
        return
    if code.files_digest and code.source_file:
        from ._capture.code import module_path

        try:
            files = json.loads(store.read_blob(code.files_digest))
        except (ModelverError, ValueError) as exc:
            raise NotReproducible(f"the stored sources of {mv.ref} cannot be read: {exc}"
                                  ) from None
        for rel, text in sorted(files.items()):
            parts = str(rel).split("/")
            if ".." in parts or str(rel).startswith("/") or "" in parts:
                raise NotReproducible(f"the stored sources of {mv.ref} name an unsafe path "
                                      f"{rel!r}")
            path = os.path.join(dest, *parts)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
                f.write(text)
        file = os.path.join(dest, *module_path(module, code.source_file).split("/"))
        where = ("no git commit was recorded" if not code.git_commit else
                 f"commit {code.git_commit[:12]} is not in a repository here")
        yield _Code(file, _import_root(file, module),
                    f"the stored sources of {len(files)} module(s) ({where})", dest)
        return
    if code.git_commit:
        raise NotReproducible(
            f"the code of {mv.ref} is not available: commit {code.git_commit[:12]} is in no "
            "repository found from where it ran or from here, and no module files were "
            "stored with the run; run reproduce from a clone that has that commit")
    raise NotReproducible(f"the code of {mv.ref} is not available: it ran outside git and no "
                          "module files were stored with the run (recorded by an older "
                          "modelver, or code without a source file)")


# -- data, params -----------------------------------------------------------------------------

def _data(store: Store, mv: ModelVersion, run: Run, workdir: str
          ) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Each data argument as the child process reads it back (see
    :func:`modelver._snapshots.as_input`), and where it came from."""
    from ._fingerprint import fingerprint
    from ._snapshots import as_input, checkout

    inputs: dict[str, dict[str, str]] = {}
    how: dict[str, str] = {}
    for i, (key, fp) in enumerate(sorted(run.data.items())):
        what = f"data {key!r} of {mv.ref}"
        if fp.snapshot:
            folder = os.path.join(workdir, "data", f"{i:03d}")
            os.makedirs(folder)
            path = checkout(store.backend, fp.snapshot, folder, what)
            inputs[key] = as_input(path, fp.snapshot, store.backend, what)
            how[key] = f"snapshot {fp.snapshot[:19]}…"
            continue
        if fp.source and fp.kind in ("file", "folder") and "://" not in fp.source:
            try:
                now: str | None = fingerprint(fp.source, cache=store.stat_cache).digest
            except ModelverError:
                now = None
            if now == fp.digest:
                inputs[key] = {"kind": "path", "path": fp.source}
                how[key] = f"{fp.source} (unchanged: fingerprint matches)"
                continue
            state = "is gone" if now is None else f"now has {now}"
            raise NotReproducible(
                f"data {key!r} ({fp.source}) differs from what {mv.ref} was trained on: the "
                f"record has {fp.digest}, the {fp.kind} {state}. It has no snapshot (train "
                "with snapshot=True to keep the data), so reproducing would train on other "
                "data; put the original data back at that path")
        raise NotReproducible(
            f"data {key!r} ({fp.source or fp.kind}) of {mv.ref} was not snapshotted and "
            "cannot be read again from where it came; train with snapshot=True")
    return inputs, how


def _params(mv: ModelVersion, run: Run) -> dict[str, Any]:
    from ._capture.params import REDACTED

    def check(key: str, value: Any) -> None:
        if value == REDACTED:
            raise NotReproducible(f"param {key!r} of {mv.ref} was redacted as a secret; "
                                  "it cannot be passed again")
        if isinstance(value, dict):
            if "__type__" in value:
                raise NotReproducible(
                    f"param {key!r} of {mv.ref} was recorded as a {value['__type__']} by "
                    "its fields or fingerprint, not as a value the function can be called "
                    "with again")
            for k, v in value.items():
                check(f"{key}.{k}", v)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                check(f"{key}[{i}]", v)

    for key, value in run.params.items():
        check(key, value)
    return dict(run.params)


# -- parents ----------------------------------------------------------------------------------

def _parents(store: Store, run: Run, scratch: Store) -> None:
    """Copy the versions the run loaded, with their models' aliases as they were when
    the run started, into the scratch store."""
    from ._resolve import split_ref

    pushed: dict[str, set[str]] = {}
    for ref in run.parents:
        name, version = split_ref(ref)
        store.push(name, version, to=scratch)
        pushed.setdefault(name, set()).add(version)
    for name, versions in pushed.items():
        for alias in store.aliases(name):
            try:
                then = store.resolve(name, alias, at=run.started_at)
            except NotFound:
                continue
            if then.version in versions:
                scratch.promote(name, then.version, alias,
                                reason=f"as it was when run {run.id[:12]} started")


# -- the run ----------------------------------------------------------------------------------

def _child_env(scratch_uri: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTEST_CURRENT_TEST", "MODELVER_LOCK", "MODELVER_SNAPSHOT")}
    env["MODELVER_URI"] = scratch_uri
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _run_child(job: Mapping[str, Any], workdir: str, env: Mapping[str, str]) -> dict[str, Any]:
    job_file = os.path.join(workdir, "job.json")
    out_file = os.path.join(workdir, "result.json")
    with open(job_file, "w", encoding="utf-8") as f:
        json.dump({**job, "result": out_file}, f)
    proc = subprocess.run([sys.executable, "-m", "modelver._reproduce_child", job_file],
                          cwd=str(job["cwd"]), env=dict(env), capture_output=True, check=False)
    try:
        with open(out_file, encoding="utf-8") as f:
            result: dict[str, Any] = json.load(f)
    except (OSError, ValueError):
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-15:]
        raise NotReproducible("the rebuild process ended without a result (exit status "
                              f"{proc.returncode}):\n" + "\n".join(tail)) from None
    if result.get("error"):
        raise NotReproducible(f"the training function failed when rebuilt: {result['error']}")
    return result


def _metric_deltas(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        delta = None
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b)):
            delta = float(b - a)  # type: ignore[operator]
        out[key] = {"recorded": a, "now": b, "delta": delta}
    return out


def reproduce(store: Store, name: str, ref: str, *, workdir: str | None = None,
              open_store: Callable[..., Store]) -> Reproduction:
    """Rebuild ``name@ref`` (see the module's doc); ``workdir`` keeps the scratch folder
    (code, data, scratch store) for a look afterwards; by default it is removed.
    ``open_store`` opens the scratch store (``Store.open``)."""
    from ._diff import environment_differences

    started = time.perf_counter()
    mv = store.resolve(name, ref)
    if mv.run_id is None:
        raise NotReproducible(f"{mv.ref} was registered directly, not by a run: there is no "
                              "recorded code, data or params to rebuild it from")
    run = store.get_run(mv.run_id)
    if run.entry is None or run.code is None or run.code.module is None:
        raise NotReproducible(
            f"{mv.ref} was made by a training() block or recorded by an older modelver: "
            "reproduce re-runs functions decorated with @versioned_training")
    params = _params(mv, run)
    keep = workdir is not None
    if workdir is not None:
        os.makedirs(workdir, exist_ok=True)
        if os.listdir(workdir):
            raise ModelverError(f"workdir {workdir!r} is not empty; give a new folder")
        root = os.path.abspath(workdir)
    else:
        root = tempfile.mkdtemp(prefix="modelver-reproduce-")
    try:
        inputs, data_how = _data(store, mv, run, root)
        scratch_uri = os.path.join(root, "store")
        scratch = open_store(scratch_uri, snapshot=False)
        scratch.init()
        _parents(store, run, scratch)
        with _code(store, mv, run, root) as code:
            if not os.path.exists(code.file):
                raise NotReproducible(f"the module file of {mv.ref} is not at {code.file!r} "
                                      "in the checked-out code")
            job = {"file": code.file, "root": code.root, "module": run.code.module,
                   "entry": run.entry, "params": params, "data": inputs,
                   "seed": run.seeds.seed, "version": mv.version, "store": scratch_uri,
                   "cwd": code.cwd if os.path.isdir(code.cwd) else root}
            result = _run_child(job, root, _child_env(scratch_uri))
            code_how = code.how
        rebuilt = scratch.get_run(str(result["run_id"]))
        digest = result.get("digest")
        differences = environment_differences(run, rebuilt)
        deltas = _metric_deltas(run.metrics, rebuilt.metrics)
        identical = digest == mv.digest
        wall_s = round(time.perf_counter() - started, 3)
        outcome: dict[str, Any] = {"identical": identical, "digest": digest, "expected": mv.digest,
                   "metric_deltas": deltas, "differences": differences,
                   "code": code_how, "data": data_how,
                   "wall_s": wall_s, "train_s": result.get("train_s")}
        _record(store, scratch, mv, rebuilt, outcome)
        scratch.close()
        return Reproduction(ref=mv.ref, identical=identical, expected=mv.digest,
                            digest=digest, metric_deltas=deltas, differences=differences,
                            code=code_how, data=data_how, wall_s=wall_s,
                            train_s=result.get("train_s"), run_id=rebuilt.id,
                            workdir=root if keep else None)
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def _record(store: Store, scratch: Store, mv: ModelVersion, rebuilt: Run,
            outcome: dict[str, Any]) -> None:
    """Append the rebuild's run to the version's store, as a reproduction of ``mv``:
    its code blobs are copied over, its version and snapshots are the scratch store's."""
    from ._index.queries import CODE_BLOB_FIELDS

    if rebuilt.code is not None:
        for field in CODE_BLOB_FIELDS:
            digest = getattr(rebuilt.code, field)
            if digest and not store.backend.has_blob(digest):
                store.backend.put_bytes(scratch.read_blob(digest))
    record = attrs.evolve(rebuilt, version=None, blobs=[], reproduces=mv.ref,
                          reproduction=outcome, parents=[], bump_rule=None)
    store.record_run(record, None)

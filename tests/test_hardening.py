"""Bad input and damaged files get a clear ModelverError; nothing raw escapes.

Each test here failed before its fix (a raw ``TypeError``, ``sqlite3.DatabaseError``,
a stdin read, a left-over temporary file, a lost rollback step, a ``BrokenPipeError``).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import modelver


def test_parents_none_is_refused(store: modelver.Store) -> None:
    with pytest.raises(modelver.InvalidName, match="parents must be a list"):
        store.register("fraud", b"m", parents=None)  # type: ignore[arg-type]
    assert store.names() == []


def test_a_tag_key_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(modelver.InvalidName, match="keep_tagged"):
        modelver.RetentionPolicy(keep_last=1, keep_tagged=5)  # type: ignore[arg-type]


def test_promote_without_a_version_is_refused_not_a_rollback(store: modelver.Store) -> None:
    for i in range(2):
        store.register("fraud", {"i": i})
    store.promote("fraud", "0.1.0")
    store.promote("fraud", "0.1.1")
    with pytest.raises(modelver.InvalidName, match="invalid reference"):
        store.promote("fraud", None)  # type: ignore[arg-type]
    assert store.resolve("fraud", "prod").version == "0.1.1"


def test_a_rollback_after_a_rollback_to_an_unserved_version_keeps_walking_back(
        store: modelver.Store) -> None:
    for i in range(4):
        store.register("fraud", {"i": i})
    store.promote("fraud", "0.1.0")
    store.promote("fraud", "0.1.1")
    store.rollback("fraud", to="0.1.3")  # never behind prod before
    assert store.rollback("fraud").to_version == "0.1.1"
    assert store.rollback("fraud").to_version == "0.1.0"


def test_storage_options_of_the_wrong_type_are_refused() -> None:
    with pytest.raises(modelver.StoreError, match="storage_options must be a mapping"):
        modelver.open("memory://x", storage_options="anon=true")  # type: ignore[arg-type]


def test_a_nul_byte_in_a_store_path_is_refused() -> None:
    with pytest.raises(modelver.StoreError):
        modelver.open("./sto\0re").register("fraud", b"m")


def test_a_damaged_registry_database_is_a_store_error(tmp_path: Path) -> None:
    folder = tmp_path / ".modelver"
    folder.mkdir()
    (folder / "registry.db").write_bytes(os.urandom(8192))
    store = modelver.open(str(folder))
    with pytest.raises(modelver.StoreError, match="damaged"):
        store.versions("fraud")


def test_a_database_from_a_newer_modelver_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / ".modelver"
    modelver.open(str(folder)).register("fraud", b"m")
    conn = sqlite3.connect(folder / "registry.db")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(modelver.StoreError, match="upgrade modelver"):
        modelver.open(str(folder)).versions("fraud")


def test_use_lock_refuses_a_file_descriptor_instead_of_reading_stdin() -> None:
    with pytest.raises(modelver.InvalidName, match="lock file path"):
        modelver.use_lock(0)  # type: ignore[arg-type]


def test_a_lock_file_that_is_a_folder_or_not_utf8_is_refused(tmp_path: Path) -> None:
    with pytest.raises(modelver.InvalidName, match="is a folder"):
        modelver.use_lock(str(tmp_path))
    bad = tmp_path / "bad.lock"
    bad.write_bytes(b"\xff\xfe[models]\n")
    with pytest.raises(modelver.InvalidName, match="not valid TOML"):
        modelver.use_lock(str(bad))
    shape = tmp_path / "shape.lock"
    shape.write_text('models = "fraud"\n')
    with pytest.raises(modelver.InvalidName, match="must be a table"):
        modelver.use_lock(str(shape))


def test_locking_into_a_folder_leaves_no_temporary_file(
        store: modelver.Store, tmp_path: Path) -> None:
    store.register("fraud", b"m")
    target = tmp_path / "locks"
    target.mkdir()
    with pytest.raises(modelver.InvalidName, match="is a folder"):
        store.lock("fraud@latest", path=str(target))
    assert list(target.iterdir()) == []
    assert not any(p.name.startswith("locks.tmp-") for p in tmp_path.iterdir())


def test_the_cli_piped_into_a_reader_that_quits_prints_no_broken_pipe(tmp_path: Path) -> None:
    uri = str(tmp_path / ".modelver")
    store = modelver.open(uri)
    for i in range(3):
        store.register(f"model-{i:03d}", b"m")
    store.close()
    # `true` exits without reading: modelver's first write meets a closed pipe.
    script = f"{sys.executable} -m modelver ls --store {uri} | true"
    done = subprocess.run(["bash", "-c", f"set -o pipefail; {script}"], capture_output=True,
                          text=True, check=False)
    assert "BrokenPipeError" not in done.stderr
    assert "Traceback" not in done.stderr
    assert done.returncode == 0


def test_creating_a_store_imports_no_schema_library(tmp_path: Path) -> None:
    # The schema used to come from sqlite-utils, imported with sys.modules["pandas"] and
    # ["numpy"] blanked meanwhile (another thread's `import pandas` failed then).
    code = (f"import sys, modelver; modelver.open({str(tmp_path / 's')!r}).register('f', b'm');"
            " print([m for m in ('sqlite_utils', 'pandas', 'numpy') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


@pytest.mark.parametrize("name", ["apiToken", "clientSecret", "accessKey", "AWS_SECRET_KEY",
                                  "x-amz-security-token", "db_password"])
def test_secret_names_are_redacted_in_any_spelling(store: modelver.Store, name: str) -> None:
    with modelver.training("fraud", params={name: "hunter2"}, strict=False) as run:
        run.log_model(b"m")
    recorded = store.get_run(run.id).params
    assert recorded == {name: "<redacted>"}


def test_secrets_are_redacted_at_any_depth(store: modelver.Store) -> None:
    config = {"cloud": {"settings": {"clientSecret": "s3cr3t", "region": "eu"}},
              "mirrors": ["https://user:tok3n@example.com/data", "https://example.com/ok"]}
    with modelver.training("fraud", params={"config": config}, strict=False) as run:
        run.log_model(b"m")
    text = repr(store.get_run(run.id).params)
    assert "s3cr3t" not in text and "tok3n" not in text
    assert store.get_run(run.id).params["config"]["cloud"]["settings"]["region"] == "eu"
    assert "https://example.com/ok" in text


def test_a_capture_warning_stores_no_credentials(store: modelver.Store) -> None:
    @modelver.versioned_training("fraud", strict=False, data=("path",))
    def train(path: str) -> bytes:
        return b"m"

    with pytest.warns(modelver.CaptureWarning):
        train("s3://AKIAEXAMPLE:wJalrXUtnFEMI@bucket-that-is-not-there/x")
    run = store.runs("fraud")[0]
    assert run.warnings, "the fingerprint of an unreachable URL should have warned"
    assert not any("wJalrXUtnFEMI" in w or "AKIAEXAMPLE" in w for w in run.warnings)


def test_the_error_of_a_failed_run_stores_no_credentials(store: modelver.Store) -> None:
    @modelver.versioned_training("fraud")
    def train() -> bytes:
        raise RuntimeError("cannot open https://bob:pa55w0rd@db.example.com/x")

    with pytest.raises(RuntimeError):
        train()
    error = store.runs("fraud", status="failed")[0].error
    assert error is not None and "pa55w0rd" not in error and "db.example.com" in error


def test_locking_one_model_under_two_references_is_refused(
        store: modelver.Store, tmp_path: Path) -> None:
    store.register("fraud", b"m", version="1.0.0")
    store.promote("fraud", "1.0.0")
    path = tmp_path / "modelver.lock"
    with pytest.raises(modelver.InvalidName, match="named twice"):
        store.lock("fraud@prod", "fraud@~=1.0", path=str(path))
    assert not path.exists()
    store.lock("fraud@prod", "fraud@prod", path=str(path))  # the same twice is one pin
    assert list(modelver.use_lock(str(path)).models) == ["fraud"]  # type: ignore[union-attr]


def test_remote_gc_removes_uploads_that_killed_writers_left(tmp_path: Path) -> None:
    uri = f"file://{tmp_path}/shared"
    store = modelver.open(uri)
    store.register("fraud", os.urandom(2_000_000))  # over SMALL_BLOB: staged in tmp/
    tmp = tmp_path / "shared" / "tmp"
    tmp.mkdir(exist_ok=True)
    stale, fresh = tmp / "killed-writer", tmp / "writer-now"
    stale.write_bytes(b"partial upload")
    fresh.write_bytes(b"upload in progress")
    os.utime(stale, (1_000_000_000, 1_000_000_000))
    report = store.gc()
    assert [Path(p).name for p in report.temporaries] == ["killed-writer"]
    assert not stale.exists() and fresh.exists()
    assert store.load("fraud") is not None


def test_a_file_edited_inside_a_materialized_folder_is_never_served(
        store: modelver.Store, tmp_path: Path) -> None:
    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "weights.bin").write_bytes(b"w" * 1000)
    (model / "sub" / "config.json").write_text('{"layers": 2}')
    store.register("fraud", model)
    served = store.load("fraud")
    edited = served / "sub" / "config.json"
    # An editor saves a new file over the old name (the hard link to the blob is cut).
    (served / "sub" / "new.json").write_text('{"layers": 3}')
    os.replace(served / "sub" / "new.json", edited)
    (served / "extra.txt").write_text("planted")
    with pytest.warns(UserWarning, match="were changed"):
        again = store.load("fraud")
    assert (again / "sub" / "config.json").read_text() == '{"layers": 2}'
    assert not (again / "extra.txt").exists()
    assert sorted(p.name for p in again.rglob("*")) == ["config.json", "sub", "weights.bin"]
    (again / "weights.bin").unlink()  # a file removed is caught as well
    with pytest.warns(UserWarning, match="changed"):
        assert (store.load("fraud") / "weights.bin").read_bytes() == b"w" * 1000
    assert store.verify().ok


def test_an_edited_file_artifact_is_caught_on_the_next_load(
        store: modelver.Store, tmp_path: Path) -> None:
    src = tmp_path / "model.onnx"
    src.write_bytes(b"onnx" * 100)
    store.register("fraud", src)
    path = store.load("fraud")
    assert (path.name == "model.onnx" and not os.access(path, os.W_OK)) or os.geteuid() == 0
    # Made writable and edited in place: the materialized file is a hard link to the blob,
    # so the blob changed too; the load refuses it and verify reports it.
    path.chmod(0o644)
    path.write_bytes(b"evil" * 100)
    with pytest.warns(UserWarning, match="were changed"), pytest.raises(
            modelver.IntegrityError, match="corrupted"):
        store.load("fraud")
    assert not store.verify().ok


READ_ONLY_CHILD = textwrap.dedent("""
    import os, sys, tempfile, pathlib, modelver
    warm = modelver.open(tempfile.mkdtemp())  # import what the reads below import lazily
    warm.register("w", b"w"); warm.load("w"); warm.verify(); warm.versions("w")
    folder = pathlib.Path(tempfile.mkdtemp()); (folder / "f").write_text("f")
    warm.register("f", folder); warm.load("f")
    if os.geteuid() == 0:  # root writes anywhere: become nobody, as a serving user would be
        os.setgid(65534); os.setuid(65534)
    store = modelver.open(sys.argv[1])
    print(store.load("fraud", "prod"))
    print(sorted(p.name for p in store.load("weights").iterdir()))
    print([mv.version for mv in store.versions("fraud")])
    print(store.verify().ok)
    try:
        store.register("fraud", b"new")
    except modelver.StoreError as exc:
        print("refused:", exc)
""")


@pytest.mark.skipif(sys.platform != "linux", reason="permissions as on a Linux server")
def test_a_store_on_a_read_only_volume_serves_and_refuses_writes_clearly() -> None:
    import shutil
    import tempfile

    base = tempfile.mkdtemp(prefix="modelver-ro-")  # not under pytest's private tmp
    try:
        os.chmod(base, 0o755)  # noqa: S103 - another user reads it
        store = modelver.open(os.path.join(base, "store"))
        store.register("fraud", b"served")
        store.promote("fraud", "0.1.0")
        folder = Path(base) / "model"
        folder.mkdir()
        (folder / "config.json").write_text("{}")
        store.register("weights", folder)
        store.close()
        cache = os.path.join(base, "cache")
        os.makedirs(cache)
        os.chmod(cache, 0o777)  # noqa: S103 - another user reads it  # the serving user's own cache
        for root, dirs, files in os.walk(os.path.join(base, "store")):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o555)  # noqa: S103 - another user reads it
            for f in files:
                os.chmod(os.path.join(root, f), 0o444)
        os.chmod(os.path.join(base, "store"), 0o555)  # noqa: S103 - another user reads it
        env = {**os.environ, "MODELVER_CACHE": cache, "HOME": cache}
        done = subprocess.run([sys.executable, "-c", READ_ONLY_CHILD,
                               os.path.join(base, "store")], capture_output=True, text=True,
                              env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert lines[:4] == ["b'served'", "['config.json']", "['0.1.0']", "True"]
        assert lines[4].startswith("refused:")
        assert "not writable" in lines[4] or "Permission denied" in lines[4]
    finally:
        for root, dirs, _ in os.walk(base):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)  # noqa: S103 - another user reads it
        os.chmod(base, 0o755)  # noqa: S103 - another user reads it
        shutil.rmtree(base, ignore_errors=True)


FULL_DISK_CHILD = textwrap.dedent("""
    import os, resource, signal, sys, modelver
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead
    store = modelver.open(sys.argv[1])
    store.versions("fraud")
    limit = os.path.getsize(os.path.join(sys.argv[1], "registry.db")) + 4096
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    errors = 0
    for i in range(60):
        try:
            store.register("fraud", {"i": i, "pad": "x" * 2000})
        except modelver.StoreError as exc:
            errors += 1
            last = str(exc)
    print(errors, last)
""")


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE stands in for a full disk")
def test_a_full_disk_fails_clearly_keeps_the_store_consistent_and_recovers(
        tmp_path: Path) -> None:
    uri = str(tmp_path / "store")
    modelver.open(uri).register("fraud", b"first")
    done = subprocess.run([sys.executable, "-c", FULL_DISK_CHILD, uri], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    errors, message = done.stdout.split(" ", 1)
    assert int(errors) > 0 and ("full" in message or "too large" in message.lower()
                                or "disk" in message)
    store = modelver.open(uri)
    assert store.verify().ok
    mv = store.register("fraud", b"after space was freed")
    assert store.load("fraud", mv.version) == b"after space was freed"


@pytest.mark.parametrize("kind", ["typo", "file", "memory", "prefix"])
def test_reading_a_store_that_does_not_exist_is_not_found(
        kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import uuid

    from modelver.cli import main

    real = modelver.open(f"file://{tmp_path / 'real'}")
    real.register("fraud", b"m")
    (tmp_path / "a-file").write_text("not a store")
    uri = {"typo": str(tmp_path / "reel"), "file": str(tmp_path / "a-file"),
           "memory": f"memory://nobody-{uuid.uuid4().hex}",
           "prefix": f"file://{tmp_path / 'real' / 'wrong-prefix'}"}[kind]
    store = modelver.open(uri)
    for read in (store.versions, store.names, store.verify, lambda: store.load("fraud"),
                 lambda: store.runs()):
        with pytest.raises((modelver.NotFound, modelver.StoreError), match=r"no store|cannot"):
            read()
    for argv in (["ls"], ["verify"], ["show", "fraud"]):
        assert main(["--store", uri, *argv]) != 0
        assert "no store" in capsys.readouterr().err or kind == "file"
    store.register("fraud", b"a write creates it") if kind != "file" else None
    assert not (tmp_path / "reel").exists() or kind == "typo"


def test_an_unreachable_store_never_read_here_says_so(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "cache"))
    store = modelver.open("s3://bucket/store", {
        "endpoint_url": f"http://127.0.0.1:{port}", "key": "k", "secret": "s",
        "config_kwargs": {"connect_timeout": 1, "retries": {"max_attempts": 1}}})
    with pytest.raises(modelver.StoreError, match="cannot reach"):
        store.load("fraud", "prod")


def test_text_that_is_not_valid_unicode_is_refused_and_nothing_is_recorded(
        store: modelver.Store) -> None:
    store.register("m", {"a": 1})
    with pytest.raises(modelver.InvalidName, match="lone surrogate"):
        store.register("m", {"a": 2}, tags={"k": "\udc80"})
    with pytest.raises(modelver.InvalidName, match="lone surrogate"):
        store.annotate("m", "0.1.0", description="card \ud800")
    assert [v.version for v in store.versions("m")] == ["0.1.0"]
    assert store.resolve("m", "0.1.0").annotations == [] and store.verify().ok

"""Fuzzing the public API: any argument of any type gives a result or a ModelverError,
and a refused call changes nothing stored (500 examples per function)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import modelver
from modelver.cli import main

names = st.sampled_from(["fraud", "churn", "FRAUD", "nope", "", "..", "a/b", "x" * 300])
refs = st.sampled_from(["latest", "prod", "0.1.0", "0.2.0", "9.9.9", ">=0.1,<1", "~=0.1",
                        "sha256:", "sha256:zz", "fraud@prod", "fraud@", "@prod", "1.0.0-rc.1",
                        "99999999999999999999.0.0", "\x00", "prod\n"])
texts = st.one_of(st.text(max_size=40), names, refs)
scalars = st.one_of(
    texts, st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(),
    st.binary(max_size=8),
    st.sampled_from([object(), float("nan"), datetime(2020, 1, 1), timedelta(days=-1),
                     Path("."), Path("/nonexistent/x"), b"weights", lambda: 0]),
)
anything = st.one_of(scalars, st.lists(scalars, max_size=3),
                     st.dictionaries(texts, scalars, max_size=3), st.tuples(scalars, scalars))

FUZZ = settings(max_examples=500, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[modelver.Store]:
    root = tmp_path_factory.mktemp("fuzz") / ".modelver"
    store = modelver.open(str(root))
    store.register("fraud", {"v": 1})
    store.register("fraud", {"v": 2}, bump="minor")
    store.register("churn", b"c")
    store.promote("fraud", "0.1.0", "prod")
    store.hold("fraud", "0.1.0", "audit")
    yield store
    store.close()


def _stored(store: modelver.Store) -> tuple[str, list[str]]:
    """The chains' combined head and every file under the store's folder."""
    root = store.uri.removeprefix("file://")
    files = sorted(os.path.relpath(os.path.join(d, f), root)
                   for d, _, fs in os.walk(root) for f in fs
                   if not f.endswith(("-wal", "-shm", "-journal")))
    return store.head(), files


def _call(store: modelver.Store, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    before = _stored(store)
    try:
        fn(*args, **kwargs)
    except modelver.ModelverError:
        assert _stored(store) == before, f"refused {fn.__name__}{args}{kwargs} changed the store"


@FUZZ
@given(name=anything, ref=anything, at=st.one_of(st.none(), anything))
def test_resolve(store: modelver.Store, name: Any, ref: Any, at: Any) -> None:
    _call(store, store.resolve, name, ref, at=at)


@FUZZ
@given(name=anything, ref=anything, safe=anything)
def test_load(store: modelver.Store, name: Any, ref: Any, safe: Any) -> None:
    _call(store, store.load, name, ref, safe=safe)


@FUZZ
@given(name=anything, obj=anything, version=anything, bump=anything, parents=anything,
       tags=anything)
def test_register(store: modelver.Store, name: Any, obj: Any, version: Any, bump: Any,
                  parents: Any, tags: Any) -> None:
    _call(store, store.register, name, obj, version=version, bump=bump, parents=parents,
          tags=tags)


@FUZZ
@given(name=anything, version=anything, alias=anything, reason=anything, expect=anything)
def test_promote(store: modelver.Store, name: Any, version: Any, alias: Any, reason: Any,
                 expect: Any) -> None:
    _call(store, store.promote, name, version, alias, reason=reason, expect=expect)


@FUZZ
@given(name=anything, alias=anything, to=anything, reason=anything)
def test_rollback(store: modelver.Store, name: Any, alias: Any, to: Any, reason: Any) -> None:
    _call(store, store.rollback, name, alias, to=to, reason=reason)


@FUZZ
@given(name=anything, version=anything, reason=anything, release=st.booleans())
def test_hold_and_release(store: modelver.Store, name: Any, version: Any, reason: Any,
                          release: bool) -> None:
    _call(store, store.release if release else store.hold, name, version, reason)


@FUZZ
@given(a=anything, b=anything, name=anything, ref=anything, alias=anything)
def test_reads(store: modelver.Store, a: Any, b: Any, name: Any, ref: Any, alias: Any) -> None:
    _call(store, store.diff, a, b)
    _call(store, store.lineage, name, ref)
    _call(store, store.alias_history, name, alias)
    _call(store, store.versions, name)
    _call(store, store.aliases, name)
    _call(store, store.holds, name)
    _call(store, store.get_run, a)
    _call(store, store.used_by, a)


@FUZZ
@given(name=anything, status=anything, limit=anything)
def test_runs(store: modelver.Store, name: Any, status: Any, limit: Any) -> None:
    _call(store, store.runs, name, status=status, limit=limit)


@FUZZ
@given(grace=anything, keep_last=anything, keep_within=anything, min_age=anything,
       tagged=anything, head=anything)
def test_gc_retention_and_verify(store: modelver.Store, grace: Any, keep_last: Any,
                                 keep_within: Any, min_age: Any, tagged: Any,
                                 head: Any) -> None:
    _call(store, store.gc, dry_run=True, grace=grace)
    _call(store, lambda: store.plan_retention(modelver.RetentionPolicy(
        keep_last=keep_last, keep_within=keep_within, min_age=min_age, keep_tagged=tagged)))
    _call(store, store.verify, head=head, blobs=False)


@FUZZ
@given(refs=st.lists(anything, max_size=3), path=anything)
def test_lock_pin_and_use_lock(store: modelver.Store, tmp_path: Path, refs: list[Any],
                               path: Any) -> None:
    target = str(tmp_path / "fuzz.lock") if isinstance(path, bool) else path
    _call(store, store.lock, *refs, path=target)
    _call(store, store.check_lock, target)
    try:
        modelver.use_lock(target)
    except modelver.ModelverError:
        pass
    finally:
        modelver.use_lock(None)
    try:
        with modelver.pin({str(r): r for r in refs}):
            _call(store, store.load, "fraud", "prod")
    except modelver.ModelverError:
        pass


@FUZZ
@given(uri=st.one_of(anything, st.sampled_from(["", "ftpx", "sqlite://", "memory://",
                                                "file://", "\x00", "/dev/null"])),
       options=anything, safe=anything, offline=anything)
def test_open(uri: Any, options: Any, safe: Any, offline: Any) -> None:
    if isinstance(uri, str) and "://" in uri and not uri.startswith(("memory", "file",
                                                                     "sqlite")):
        return  # no network beyond loopback
    with contextlib.suppress(modelver.ModelverError):
        modelver.open(uri, options, safe=safe, offline=offline).versions()


@FUZZ
@given(name=anything, data=anything, seed=anything, bump=anything, version=anything,
       parents=anything, tags=anything, strict=anything, allow_env=anything)
def test_training_options(store: modelver.Store, name: Any, data: Any, seed: Any, bump: Any,
                          version: Any, parents: Any, tags: Any, strict: Any,
                          allow_env: Any) -> None:
    def build() -> None:
        modelver.versioned_training(name, data=data, seed=seed, bump=bump, version=version,
                                    parents=parents, tags=tags, store=store, strict=strict,
                                    allow_env=allow_env)

    _call(store, build)
    _call(store, lambda: modelver.training(name, params=data, seed=seed, store=store))


@FUZZ
@given(argv=st.lists(st.one_of(texts, st.sampled_from(
    ["ls", "show", "promote", "rollback", "history", "verify", "gc", "lock", "--json",
     "--check", "--grace", "diff", "retention", "--keep-last", "-1", "--yes"])), max_size=5))
def test_cli(store: modelver.Store, argv: list[str],
             capsys: pytest.CaptureFixture[str]) -> None:
    before = _stored(store)
    try:
        code = main([*argv, "--store", store.uri])
    except SystemExit as exc:  # argparse refusing the arguments
        code = exc.code if isinstance(exc.code, int) else 2
    capsys.readouterr()
    assert isinstance(code, int)
    if code != 0:
        assert _stored(store) == before, argv


def test_refused_calls_leave_the_store_verifiable(store: modelver.Store) -> None:
    report = store.verify()
    assert report.ok, str(report)

"""A store used before ``os.fork()`` works in the child (gunicorn --preload, DataLoader
workers, multiprocessing with fork), even with another thread mid-query at fork time."""

from __future__ import annotations

import multiprocessing
import sys
import threading
from pathlib import Path

import pytest

import modelver

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="fork is POSIX-only"),
    # Python 3.12+ warns that forking a threaded process may deadlock: that is the
    # situation under test.
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded"),
]


def _child(uri: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    store = _STORES[uri]  # the parent's store object, inherited through fork
    try:
        loaded = store.load("fraud", "prod")
        mv = store.register("fraud", {"w": "child"})
        queue.put(("ok", loaded, mv.version))
    except BaseException as exc:  # report anything to the parent
        queue.put(("error", repr(exc), None))


_STORES: dict[str, modelver.Store] = {}


def test_a_store_opened_before_fork_works_in_the_child(tmp_path: Path) -> None:
    uri = str(tmp_path / ".modelver")
    store = modelver.open(uri)
    store.register("fraud", {"w": 1})
    store.promote("fraud", "0.1.0")
    assert store.load("fraud", "prod") == {"w": 1}
    _STORES[uri] = store
    stop = threading.Event()

    def busy() -> None:  # a thread that keeps the read model's lock busy
        while not stop.is_set():
            store.versions("fraud")

    thread = threading.Thread(target=busy, daemon=True)
    thread.start()
    try:
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        children = [ctx.Process(target=_child, args=(uri, queue)) for _ in range(3)]
        for child in children:
            child.start()
        results = [queue.get(timeout=60) for _ in children]
        for child in children:
            child.join(timeout=60)
    finally:
        stop.set()
        thread.join()
        _STORES.clear()
    assert [r[0] for r in results] == ["ok"] * 3, results
    assert all(r[1] == {"w": 1} for r in results)
    assert sorted(r[2] for r in results) == ["0.1.1", "0.1.2", "0.1.3"]
    assert [mv.version for mv in store.versions("fraud")] == ["0.1.0", "0.1.1", "0.1.2",
                                                               "0.1.3"]
    assert store.verify().ok

"""modelver's pytest plugin (entry point ``pytest11``).

* ``modelver_store``: an isolated temporary store, made the default for the test.
* ``@pytest.mark.modelver(fraud="1.2.0")``: pin references for one test, so
  ``modelver.load("fraud", "prod")`` returns 1.2.0 whatever ``prod`` says now.
* ``--modelver-lock PATH``: put a lock file in force for the whole session.
* Capture is strict under pytest: recording errors raise instead of warning.

Only pytest is imported at module level, so the plugin costs nothing when unused,
and only public modelver names are used (``tools/check_public.py`` checks it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--modelver-lock``."""
    group = parser.getgroup("modelver")
    group.addoption("--modelver-lock", metavar="PATH", default=None,
                    help="load models through this modelver lock file")


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker and apply ``--modelver-lock``."""
    config.addinivalue_line(
        "markers", "modelver(**pins): pin model references for this test, "
        "e.g. @pytest.mark.modelver(fraud='1.2.0')")
    path = config.getoption("--modelver-lock", default=None)
    if path:
        import modelver

        modelver.use_lock(str(path))


@pytest.fixture
def modelver_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """An empty store in a temporary folder, the default store for this test.

    It is not bound by a lock file (the project's or ``--modelver-lock``): that lock
    pins versions of another store. ``@pytest.mark.modelver`` pins still apply.
    """
    import modelver

    path = tmp_path_factory.mktemp("modelver-store") / ".modelver"
    store = modelver.Store.open(str(path), lock_file=False).init()
    previous = modelver.configured()
    modelver.configure(store)
    try:
        yield store
    finally:
        modelver.configure(previous)
        store.close()


@pytest.fixture(autouse=True)
def _modelver_pins(request: pytest.FixtureRequest) -> Iterator[None]:
    """Apply ``@pytest.mark.modelver(...)`` pins for the duration of one test."""
    marker = request.node.get_closest_marker("modelver")
    if marker is None:
        yield
        return
    import modelver

    with modelver.pin({str(k): str(v) for k, v in marker.kwargs.items()}):
        yield

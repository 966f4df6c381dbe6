"""The backend registry: schemes map to import strings, resolved only when a store opens."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import modelver
from modelver.backends import _registry, available, register_backend


@pytest.fixture(autouse=True)
def _restore_registry() -> Iterator[None]:
    saved = dict(_registry._REGISTRY)
    yield
    _registry._REGISTRY.clear()
    _registry._REGISTRY.update(saved)


def _plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mine_backend.py").write_text(textwrap.dedent('''
        from modelver.backends.local import LocalBackend

        class Mine(LocalBackend):
            """A third-party backend: a local store under ``mine://PATH``."""

            @classmethod
            def from_uri(cls, uri, options):
                return super().from_uri(uri.split("://", 1)[1], options)
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))


def test_a_registered_backend_is_imported_and_used_by_scheme(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _plugin(tmp_path, monkeypatch)
    register_backend("mine", "mine_backend:Mine")
    store = modelver.open(f"mine://{tmp_path}/store")
    assert type(store.backend).__name__ == "Mine"
    mv = store.register("fraud", b"weights")
    assert store.load("fraud", mv.version) == b"weights"
    assert (tmp_path / "store" / "registry.db").exists()


def test_registering_a_taken_scheme_needs_clobber(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    register_backend("mine", "mine_backend:Mine")
    register_backend("mine", "mine_backend:Mine")  # the same again is fine
    with pytest.raises(modelver.StoreError, match="clobber=True"):
        register_backend("mine", "other_backend:Other")
    register_backend("mine", "other_backend:Other", clobber=True)
    assert available["mine"].target == "other_backend:Other"


def test_a_backend_that_cannot_be_imported_says_how_to_install_it() -> None:
    register_backend("nope", "no_such_module_here:Backend",
                     install_hint="pip install modelver[nope]")
    with pytest.raises(modelver.StoreError, match=r"pip install modelver\[nope\]"):
        modelver.open("nope://bucket/prefix")


@pytest.mark.parametrize(("scheme", "target"), [("", "m:C"), ("a://b", "m:C"),
                                                ("ok", "no-colon"), ("ok", "a:b:c")])
def test_malformed_registrations_are_refused(scheme: str, target: str) -> None:
    with pytest.raises(modelver.StoreError):
        register_backend(scheme, target)


def test_the_registry_is_read_only_from_outside() -> None:
    with pytest.raises(TypeError):
        available["x"] = available["sqlite"]  # type: ignore[index]


def test_importing_the_backends_package_imports_no_backend() -> None:
    code = ("import sys, modelver.backends; "
            "print([m for m in ('modelver.backends.local', 'modelver.backends.remote', "
            "'fsspec') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"

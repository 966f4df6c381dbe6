"""The pytest plugin, exercised in real pytest runs with ``pytester``."""

from __future__ import annotations

import pytest

PLUGIN_TESTS = '''
import pytest, modelver

def test_fixture_gives_an_isolated_default_store(modelver_store):
    assert modelver.versions() == []
    modelver.register("fraud", {"v": 1}, version="1.0.0")
    modelver.register("fraud", {"v": 2}, version="2.0.0")
    modelver.promote("fraud", "2.0.0", "prod")
    assert modelver.load("fraud", "prod") == {"v": 2}

@pytest.mark.modelver(fraud="1.0.0")
def test_marker_pins_a_reference(modelver_store):
    modelver.register("fraud", {"v": 1}, version="1.0.0")
    modelver.register("fraud", {"v": 2}, version="2.0.0")
    modelver.promote("fraud", "2.0.0", "prod")
    assert modelver.load("fraud", "prod") == {"v": 1}

def test_pins_do_not_leak_between_tests(modelver_store):
    modelver.register("fraud", {"v": 2}, version="2.0.0")
    assert modelver.load("fraud", "latest") == {"v": 2}

def test_capture_is_strict_under_pytest(modelver_store, monkeypatch):
    from modelver._capture import environment
    monkeypatch.setattr(environment, "capture_environment",
                        lambda *a: (_ for _ in ()).throw(RuntimeError("boom")))
    @modelver.versioned_training("m")
    def fit():
        return b"x"
    with pytest.raises(modelver.CaptureError):
        fit()
'''


def test_fixture_marker_and_strict_capture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plugin=PLUGIN_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_lock_option_pins_for_the_session(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_locked='''
import modelver

def test_locked(tmp_path):
    store = modelver.open(str(tmp_path / ".modelver"))
    store.register("fraud", {"v": 1}, version="1.0.0")
    store.promote("fraud", "1.0.0", "prod")
    modelver.configure(store)
    path = tmp_path / "modelver.lock"
    modelver.lock("fraud@prod", path=str(path))
''')
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
    lock = pytester.path / "session.lock"
    lock.write_text('[models."fraud"]\nref = "prod"\nversion = "1.0.0"\n'
                    'digest = "sha256:' + "0" * 64 + '"\n')
    pytester.makepyfile(test_uses_lock='''
import modelver, pytest
from modelver import _locking

def test_lock_in_force():
    assert _locking.active_lock() is not None
    assert set(_locking.active_lock().models) == {"fraud"}
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--modelver-lock",
                                           str(lock), "test_uses_lock.py")
    result.assert_outcomes(passed=1)


def test_the_plugin_module_imports_only_pytest() -> None:
    import subprocess
    import sys

    code = ("import sys; before = set(sys.modules); import modelver.pytest_plugin; "
            "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] not in "
            "('modelver', 'pytest', '_pytest', 'pluggy', 'iniconfig', 'packaging', "
            "'exceptiongroup', 'tomli', 'pygments', 'colorama')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert "numpy" not in out and "sqlite_utils" not in out and "fsspec" not in out


def test_the_isolated_store_is_not_bound_by_the_project_lock(pytester: pytest.Pytester) -> None:
    # Before: a modelver.lock beside pyproject.toml pinned the fixture's empty store too,
    # so every load there failed with "'fraud' is not pinned" or loaded the wrong version.
    pytester.makefile(".toml", pyproject="[project]\nname = 'proj'\n")
    pytester.makefile(".lock", modelver='[models."fraud"]\nref = "prod"\nversion = "9.9.9"\n'
                      'digest = "sha256:' + "0" * 64 + '"\n')
    pytester.makepyfile(test_isolated='''
import modelver, pytest
from modelver import _locking

def test_isolated(modelver_store):
    assert _locking.active_lock() is not None
    modelver.register("fraud", {"v": 1}, version="1.0.0")
    modelver.register("churn", {"c": 1})
    modelver.promote("fraud", "1.0.0", "prod")
    assert modelver.resolve("fraud", "prod").version == "1.0.0"
    assert modelver.load("fraud", "prod") == {"v": 1}
    assert modelver.load("churn") == {"c": 1}

@pytest.mark.modelver(fraud="1.0.0")
def test_pins_still_apply(modelver_store):
    modelver.register("fraud", {"v": 1}, version="1.0.0")
    modelver.register("fraud", {"v": 2}, version="2.0.0")
    assert modelver.load("fraud", "latest") == {"v": 1}

def test_other_stores_follow_the_project_lock(tmp_path):
    store = modelver.open(str(tmp_path / ".modelver"))
    store.register("fraud", {"v": 1}, version="1.0.0")
    with pytest.raises(modelver.NotFound, match="9.9.9"):
        store.load("fraud", "prod")
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)

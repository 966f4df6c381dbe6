"""Property tests: arbitrary names, versions and references never leak internal errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import modelver
from modelver._names import check_name, safe_join
from modelver._versions import normalize, parse_version

texts = st.one_of(
    st.text(max_size=80),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True),
    st.sampled_from(["latest", "prod", "..", "../x", "a/b", "1.2.0", ">=1,<2", "~=1.3",
                     "sha256:", "sha256:zz", "1.3.0-rc.1", "1.0.0+b", "\x00", "x\n", "ﬀ"]),
)

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> modelver.Store:
    store = modelver.open(str(tmp_path_factory.mktemp("prop") / ".modelver"))
    store.register("fraud", b"a")
    store.register("fraud", b"b", bump="minor")
    store.promote("fraud", "0.1.0", "prod")
    return store


@SETTINGS
@given(name=texts, ref=texts)
def test_resolve_gives_a_version_or_a_modelver_error(filled: modelver.Store, name: str,
                                                     ref: str) -> None:
    try:
        mv = filled.resolve(name, ref)
    except modelver.ModelverError:
        return
    assert mv.name == "fraud"


@SETTINGS
@given(name=texts, version=texts)
def test_register_accepts_or_refuses_cleanly(tmp_path: Path, name: str, version: str) -> None:
    store = modelver.open(str(tmp_path / ".modelver"))
    try:
        mv = store.register(name, b"x", version=version)
    except modelver.ModelverError:
        return
    finally:
        store.close()
    assert mv.version == normalize(version)


@given(st.text(max_size=200))
def test_valid_names_stay_inside_the_store(name: str) -> None:
    try:
        canonical = check_name(name)
    except modelver.InvalidName:
        return
    root = "/srv/store/objects"
    assert safe_join(root, canonical).startswith(root + "/")
    assert canonical.isascii() and "/" not in canonical and ".." not in canonical


@given(st.tuples(st.integers(0, 999), st.integers(0, 999), st.integers(0, 999)))
def test_versions_round_trip_and_order_like_tuples(parts: tuple[int, int, int]) -> None:
    text = ".".join(map(str, parts))
    assert normalize(text) == text
    assert parse_version(text).release == parts


def test_semver_prerelease_is_stored_in_pep440_form() -> None:
    assert normalize("1.3.0-rc.1") == "1.3.0rc1"
    assert parse_version("1.3.0rc1") < parse_version("1.3.0")

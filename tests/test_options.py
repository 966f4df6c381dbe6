"""Run options are validated where they enter: before any training code runs."""

from __future__ import annotations

from typing import Any

import pytest

import modelver


def _never_called(calls: list[str]) -> Any:
    def train() -> bytes:
        calls.append("called")
        return b"model"
    return train


@pytest.mark.parametrize(("option", "value", "match"), [
    ("bump", "mjaor", "bump must be"),
    ("seed", -1, "seed must be"),
    ("seed", "random", "seed must be"),
    ("seed", True, "seed must be"),
    ("version", "1.2", "invalid version"),
    ("parents", ["no such@"], "invalid"),
    ("tags", ["team"], "tags must be a mapping"),
    ("strict", "yes", "strict must be"),
    ("allow_env", [""], "allow_env must be"),
])
def test_a_bad_option_is_refused_when_decorating(
        store: modelver.Store, option: str, value: Any, match: str) -> None:
    calls: list[str] = []
    with pytest.raises(modelver.InvalidName, match=match):
        modelver.versioned_training("fraud", **{option: value})(_never_called(calls))
    assert calls == []


def test_a_bad_option_is_refused_by_training_before_the_block(
        store: modelver.Store) -> None:
    entered = []
    with pytest.raises(modelver.InvalidName, match="bump must be"), \
            modelver.training("fraud", bump="mayjor"):
        entered.append(True)
    assert entered == []


def test_a_taken_version_raises_before_the_function_runs(store: modelver.Store) -> None:
    store.register("fraud", b"first", version="1.0.0")
    calls: list[str] = []
    train = modelver.versioned_training("fraud", version="1.0.0")(_never_called(calls))
    with pytest.raises(modelver.VersionExists, match=r"fraud@1\.0\.0 already exists"):
        train()
    assert calls == []
    assert store.runs("fraud") == []  # nothing was recorded either


def test_a_taken_version_raises_before_a_training_block_runs(store: modelver.Store) -> None:
    store.register("fraud", b"first", version="1.0.0")
    entered = []
    with pytest.raises(modelver.VersionExists), modelver.training("fraud", version="1.0.0"):
        entered.append(True)
    assert entered == []


def test_a_free_version_is_used(store: modelver.Store) -> None:
    train = modelver.versioned_training("fraud", version="2.0.0-rc.1")(lambda: b"m")
    train()
    assert train.last_version is not None and train.last_version.version == "2.0.0rc1"


def test_a_misspelt_store_argument_type_is_refused(store: modelver.Store) -> None:
    with pytest.raises(modelver.InvalidName, match="store must be"):
        modelver.versioned_training("fraud", store=42)  # type: ignore[arg-type]

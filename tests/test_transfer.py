"""push and pull between a local SQLite store and a memory:// team store."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

import modelver
from modelver.cli import main


@pytest.fixture
def team() -> modelver.Store:
    return modelver.open(f"memory://team-{uuid.uuid4().hex}")


def test_push_copies_the_version_its_run_and_parents(store: modelver.Store,
                                                     team: modelver.Store) -> None:
    with modelver.training("base") as run:
        run.log_model({"w": 0})
    store.promote("base", "0.1.0", "prod")

    @modelver.versioned_training("fraud")
    def fine_tune() -> dict[str, int]:
        return {"w": modelver.load("base", "prod")["w"] + 1}

    fine_tune()
    report = store.push("fraud", "latest", to=team)
    assert report.copied == ["base@0.1.0", "fraud@0.1.0"]
    assert team.load("fraud", "0.1.0") == {"w": 1}
    child = team.resolve("fraud", "0.1.0")
    assert child.parents == ["base@0.1.0"]
    assert team.get_run(child.run_id or "").code is not None
    assert team.verify().ok


def test_a_second_push_copies_nothing(store: modelver.Store, team: modelver.Store) -> None:
    store.register("fraud", b"model")
    store.push("fraud", "0.1.0", to=team)
    again = store.push("fraud", "0.1.0", to=team)
    assert again.copied == [] and again.blobs_copied == 0 and again.skipped == ["fraud@0.1.0"]


def test_pull_into_the_local_store(store: modelver.Store, team: modelver.Store) -> None:
    team.register("churn", b"remote-model", version="2.1.0")
    report = store.pull("churn", "2.1.0", from_=team)
    assert report.copied == ["churn@2.1.0"]
    assert store.load("churn", "2.1.0") == b"remote-model"


def test_a_conflicting_version_is_refused(store: modelver.Store, team: modelver.Store) -> None:
    store.register("fraud", b"ours", version="1.0.0")
    team.register("fraud", b"theirs", version="1.0.0")
    with pytest.raises(modelver.VersionExists):
        store.push("fraud", "1.0.0", to=team)
    assert team.load("fraud", "1.0.0") == b"theirs"


def test_push_cli(store: modelver.Store, tmp_path: Path,
                  capsys: pytest.CaptureFixture[str]) -> None:
    store.register("fraud", b"m")
    target = str(tmp_path / "other" / ".modelver")
    assert main(["push", "fraud@latest", "--to", target, "--store", store.uri]) == 0
    assert "copied 1 version" in capsys.readouterr().out
    assert modelver.open(target).load("fraud") == b"m"

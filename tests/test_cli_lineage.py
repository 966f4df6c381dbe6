"""The lineage, diff, retention, gc and hold commands of the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import modelver
from modelver.cli import _commands, main

# Importing the module registers its commands. Until modelver/cli/_main.py imports it
# itself, they are registered only while these tests run, so that other tests (the
# generated docs/cli.md check) see the parser as it ships.
_BEFORE = list(_commands.COMMANDS)
from modelver.cli import _lineage_commands  # noqa: E402, F401

_OURS = [c for c in _commands.COMMANDS if c not in _BEFORE]
del _commands.COMMANDS[len(_BEFORE):]


@pytest.fixture(autouse=True)
def _registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_commands, "COMMANDS", [*_commands.COMMANDS, *_OURS])


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    status, out, err = _run(capsys, *argv, "--json")
    assert status == 0, err
    return json.loads(out)


@pytest.fixture
def trained(store: modelver.Store, tmp_path: Path) -> str:
    """fraud@0.1.0 and 0.2.0 trained on train.csv; fraud-ft@0.1.0 fine-tuned from 0.1.0."""
    data = tmp_path / "train.csv"
    data.write_text("a\n1\n")
    for lr in (0.1, 0.2):
        with modelver.training("fraud", params={"lr": lr}, data={"train": str(data)},
                               seed=0) as run:
            run.log_metrics(auc=lr)
            run.log_model({"lr": lr})
    store.promote("fraud", "0.1.0", "prod")
    store.register("fraud-ft", {"ft": 1}, parents=["fraud@prod"])
    return str(data)


def test_diff_prints_the_changes(trained: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, "diff", "fraud@prod", "fraud@latest")
    assert status == 0
    assert "~ lr: 0.1 -> 0.2" in out and "~ auc: 0.1 -> 0.2 (+0.1)" in out
    data = _json(capsys, "diff", "fraud@0.1.0", "fraud@0.2.0")
    assert data["sections"]["params"]["changed"]["lr"]["new"] == 0.2


@pytest.mark.parametrize("fmt, start", [("text", "fraud-ft@0.1.0"),
                                        ("dot", "digraph lineage {"),
                                        ("mermaid", "flowchart LR")])
def test_lineage_formats(trained: str, capsys: pytest.CaptureFixture[str], fmt: str,
                         start: str) -> None:
    status, out, _ = _run(capsys, "lineage", "fraud-ft@latest", "--format", fmt)
    assert status == 0 and out.startswith(start) and "fraud@0.1.0" in out


def test_lineage_json_and_depth(trained: str, capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, "lineage", "fraud@prod", "--depth", "0")
    assert [n["id"] for n in data["nodes"] if n["kind"] == "version"] == ["fraud@0.1.0"]
    data = _json(capsys, "lineage", "fraud@prod")
    assert {"source": "fraud@0.1.0", "target": "fraud-ft@0.1.0", "kind": "parent",
            "label": ""} in data["edges"]


def test_used_by_lists_versions_through_parents(trained: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, "used-by", trained)
    assert status == 0
    assert [line.split()[0] for line in out.splitlines()[1:]] == [
        "fraud@0.1.0", "fraud@0.2.0", "fraud-ft@0.1.0"]


def test_retention_dry_run_deletes_nothing(trained: str, store: modelver.Store,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    store.register("fraud", {"lr": 0.3})
    status, out, _ = _run(capsys, "retention", "fraud", "--keep-last", "1", "--dry-run")
    assert status == 0 and "delete 1 version(s)" in out and "dry run" in out
    assert store.resolve("fraud", "0.2.0").deleted is None


def test_retention_applies_and_reports(trained: str, store: modelver.Store,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    store.register("fraud", {"lr": 0.3})
    data = _json(capsys, "retention", "fraud", "--keep-last", "1", "--keep-within", "0d",
                 "--keep-tagged", "release", "--min-age", "7y")
    assert data["applied"] and [d["version"] for d in data["deletions"]] == ["0.2.0"]
    assert store.resolve("fraud", "0.2.0").deleted is not None
    _, out, _ = _run(capsys, "ls", "fraud")
    assert "(deleted)" in out


def test_retention_without_a_keep_rule_is_an_error(trained: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run(capsys, "retention", "--dry-run")
    assert status == 1 and "keep_last or keep_within" in err
    status, _, err = _run(capsys, "retention", "--keep-within", "6m")
    assert status == 1 and "ambiguous" in err


def test_gc_dry_run_and_gc(trained: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, "gc", "--dry-run")
    assert status == 0 and out.startswith("would delete 0 unreferenced blob(s)")
    data = _json(capsys, "gc")
    assert data["deleted"] == [] and data["dry_run"] is False


def test_hold_blocks_retention_until_release(trained: str, store: modelver.Store,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _run(capsys, "hold", "fraud", "0.2.0", "--reason", "legal: case 7")
    assert status == 0 and out.strip() == "held fraud@0.2.0: legal: case 7"
    store.register("fraud", {"lr": 0.3})
    _, out, _ = _run(capsys, "retention", "fraud", "--keep-last", "1", "--dry-run")
    assert "delete 0 version(s)" in out and "held: legal: case 7" in out
    status, out, _ = _run(capsys, "release", "fraud", "0.2.0")
    assert status == 0 and out.strip() == "released fraud@0.2.0"
    _, out, _ = _run(capsys, "retention", "fraud", "--keep-last", "1", "--dry-run")
    assert "delete 1 version(s)" in out


def test_hold_needs_a_reason(trained: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["hold", "fraud", "0.1.0"])
    assert "--reason" in capsys.readouterr().err

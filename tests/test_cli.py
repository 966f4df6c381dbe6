"""The CLI: every command documented, JSON everywhere, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import modelver
from modelver.cli import main
from modelver.cli._main import build_parser


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def filled(store: modelver.Store) -> modelver.Store:
    store.register("fraud", {"w": 1})
    store.register("fraud", {"w": 2}, bump="minor")
    store.promote("fraud", "0.1.0", "prod", reason="first")
    return store


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--version")
    assert code == 0 and out.startswith("modelver ")


def test_ls_lists_models_and_versions_with_aliases(filled: modelver.Store,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(capsys, "ls", "--store", filled.uri)
    assert "fraud" in out and "prod=0.1.0" in out
    _, out, _ = _run(capsys, "ls", "fraud", "--store", filled.uri)
    assert "0.1.0" in out and "0.2.0" in out and "prod" in out


def test_show_json_has_the_record_field_names(filled: modelver.Store,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "show", "fraud@prod", "--json", "--store", filled.uri)
    data = json.loads(out)
    assert code == 0 and data["version"]["version"] == "0.1.0"
    assert set(data["version"]) >= {"name", "digest", "format", "size", "created_at", "parents"}
    assert data["aliases"] == ["prod"]


def test_promote_rollback_history_round_trip(filled: modelver.Store,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    s = ("--store", filled.uri)
    assert _run(capsys, "promote", "fraud", "0.2.0", "prod", "--reason", "better", *s)[0] == 0
    code, out, _ = _run(capsys, "rollback", "fraud", "prod", "--reason", "regression", *s)
    assert code == 0 and "0.2.0 -> 0.1.0" in out
    _, out, _ = _run(capsys, "history", "fraud", "prod", "--json", *s)
    assert [e["kind"] for e in json.loads(out)] == ["promote", "promote", "rollback"]


def test_errors_print_one_line_and_exit_non_zero(filled: modelver.Store,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "show", "frod@prod", "--store", filled.uri)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "did you mean: fraud" in err


def test_head_and_verify_agree(filled: modelver.Store,
                               capsys: pytest.CaptureFixture[str]) -> None:
    _, head, _ = _run(capsys, "head", "--store", filled.uri)
    code, out, _ = _run(capsys, "verify", "--head", head.strip(), "--json", "--store",
                        filled.uri)
    assert code == 0 and json.loads(out)["ok"] is True


def test_every_command_has_help_with_an_example() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, cmd in sub.choices.items():  # type: ignore[union-attr]
        text = cmd.format_help()
        assert "example:" in text and f"modelver {name}" in text, name
        assert "--json" in text and "--store" in text, name


def test_the_console_script_runs() -> None:
    out = subprocess.run([sys.executable, "-m", "modelver", "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert "promote" in out and "rollback" in out


def test_json_output_is_the_stored_form_of_each_record(store: modelver.Store) -> None:
    """``--json`` builds data with ``attrs.asdict``; it prints what the store writes."""
    from datetime import datetime, timedelta, timezone

    import attrs

    from modelver._serde import unstructure
    from modelver.cli._commands import plain

    @modelver.versioned_training("fraud", seed=3, tags={"team": "risk"})
    def train(n: int = 2) -> dict[str, int]:
        modelver.log_metrics(auc=0.9)
        return {"n": n}

    train()
    mv = store.resolve("fraud")
    east = timezone(timedelta(hours=5))  # printed in UTC, as stored
    tomb = modelver.Tombstone(at=datetime(2026, 1, 2, 8, tzinfo=east), reason="r", by="ops")
    records = [mv, store.get_run(mv.run_id or ""), store.promote("fraud", mv.version),
               store.hold("fraud", mv.version, "legal"), attrs.evolve(mv, deleted=tomb),
               store.gc(dry_run=True), modelver.LineageEdge("a@1", "b@1", "parent")]
    for record in records:
        shown = json.dumps(plain(record), indent=2, sort_keys=True, default=str)
        assert shown == json.dumps(unstructure(record), indent=2, sort_keys=True, default=str)
    assert "2026-01-02T03:00:00+00:00" in json.dumps(plain(tomb))
    assert plain(None) is None

"""Annotations (model cards) and protected aliases with approvals, on SQLite and on S3."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tampering import tamper

import modelver
from modelver.cli import main

_OPTIONS: dict[str, dict[str, Any]] = {}  # the s3fs options of each S3 store, by URI
HOSTILE = "# Card\n<script>alert('x')</script>\n- <img src=x onerror=alert(1)>\n`<em>`"


def _user(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("MODELVER_USER", name)


def _filled(store: modelver.Store, monkeypatch: pytest.MonkeyPatch) -> modelver.Store:
    """fraud 0.1.0 (tagged), 0.2.0 and 0.3.0 by alice, and prod at 0.1.0."""
    _user(monkeypatch, "alice")
    store.register("fraud", {"w": 1}, version="0.1.0", tags={"team": "risk", "stage": "dev"})
    store.register("fraud", {"w": 2}, version="0.2.0")
    store.register("fraud", {"w": 3}, version="0.3.0")
    store.promote("fraud", "0.1.0", "prod")
    return store


@pytest.fixture(params=["local", "s3"])
def gov(request: pytest.FixtureRequest, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[modelver.Store]:
    """A filled store: local SQLite, or S3 on moto."""
    if request.param == "local":
        store = modelver.open(str(tmp_path / "store" / ".modelver")).init()
    else:
        place = request.getfixturevalue("s3")
        store = modelver.open(place.uri, storage_options=place.options).init()
        _OPTIONS[place.uri] = place.options
    yield _filled(store, monkeypatch)
    store.close()


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[modelver.Store]:
    """A filled local store, for what does not depend on where the store lives."""
    store = modelver.open(str(tmp_path / "store" / ".modelver")).init()
    yield _filled(store, monkeypatch)
    store.close()


# -- annotations --------------------------------------------------------------------------


def test_an_annotation_sets_the_description_and_keeps_the_history(gov: modelver.Store,
                                                                  monkeypatch: pytest.MonkeyPatch
                                                                  ) -> None:
    gov.annotate("fraud", "0.1.0", description="# v1\nfirst card")
    _user(monkeypatch, "bob")
    gov.annotate("fraud", "0.1.0", description="second card")
    mv = gov.resolve("fraud", "0.1.0")
    assert mv.description == "second card"
    assert [(n.by, n.description) for n in mv.annotations] == [
        ("alice", "# v1\nfirst card"), ("bob", "second card")]
    assert gov.resolve("fraud", "0.2.0").description is None


def test_annotation_tags_override_registered_tags_and_none_removes_one(
        gov: modelver.Store) -> None:
    gov.annotate("fraud", "0.1.0", tags={"stage": "prod", "owner": "risk-team"})
    gov.annotate("fraud", "0.1.0", tags={"team": None})
    mv = gov.resolve("fraud", "0.1.0")
    assert mv.tags == {"stage": "prod", "owner": "risk-team"}
    assert mv.description is None  # tags alone leave the description as it was
    rows = gov.chain.queries.table_rows("version_tags", ("name", "version", "key"))
    assert {k[2]: r[3] for k, r in rows.items() if k[1] == "0.1.0"} == mv.tags


def test_an_empty_description_clears_it(local: modelver.Store) -> None:
    local.annotate("fraud", "0.1.0", description="card")
    local.annotate("fraud", "0.1.0", description="")
    mv = local.resolve("fraud", "0.1.0")
    assert mv.description is None and len(mv.annotations) == 2


def test_annotate_refuses_nothing_bad_values_and_missing_versions(local: modelver.Store) -> None:
    with pytest.raises(modelver.InvalidName, match="nothing to annotate"):
        local.annotate("fraud", "0.1.0")
    with pytest.raises(modelver.InvalidName, match="description must be a text"):
        local.annotate("fraud", "0.1.0", description=42)  # type: ignore[arg-type]
    with pytest.raises(modelver.InvalidName, match="tags must be a mapping"):
        local.annotate("fraud", "0.1.0", tags=["a"])  # type: ignore[arg-type]
    with pytest.raises(modelver.NotFound):
        local.annotate("fraud", "9.9.9", description="x")


def test_a_version_record_in_the_log_never_holds_its_annotations(local: modelver.Store) -> None:
    local.annotate("fraud", "0.1.0", description="card", tags={"stage": "prod"})
    stored = json.loads(local.chain.queries.version_json("fraud", "0.1.0") or "{}")
    assert "description" not in stored and "annotations" not in stored
    assert stored["tags"] == {"team": "risk", "stage": "dev"}


def test_a_hostile_description_is_escaped_in_the_html_and_the_audit(
        local: modelver.Store) -> None:
    local.annotate("fraud", "0.1.0", description=HOSTILE)
    for page in (local.resolve("fraud", "0.1.0")._repr_html_(),
                 local.audit("fraud", "0.1.0").to_html()):
        assert "<script>" not in page and "<img" not in page and "<em>" not in page
        assert "&lt;script&gt;" in page and "&lt;img src=x" in page
        assert "<h3" in page and "<li>" in page and "<code>&lt;em&gt;</code>" in page


def test_the_audit_shows_the_card_protections_and_approvals(
        local: modelver.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    local.annotate("fraud", "0.1.0", description="the card", tags={"stage": "prod"})
    local.protect("fraud", "prod", approvals=1)
    _user(monkeypatch, "bob")
    local.approve("fraud", "0.2.0", "prod", reason="read the card")
    audit = local.audit("fraud", "0.1.0")
    page = audit.to_html()
    assert 'id="card"' in page and "the card" in page and "read the card" in page
    data = audit.to_dict()
    assert data["version"]["description"] == "the card"
    assert [p["alias"] for p in data["protections"]] == ["prod"]
    assert [a["by"] for a in data["approvals"]] == ["bob"]
    assert "prod (1 approvals)" in str(audit)


# -- protected aliases ----------------------------------------------------------------------


def test_a_protected_alias_refuses_a_move_and_says_what_is_missing(
        gov: modelver.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    gov.protect("fraud", "prod", approvals=2)
    _user(monkeypatch, "bob")
    gov.approve("fraud", "0.3.0", "prod")
    _user(monkeypatch, "alice")
    with pytest.raises(modelver.Protected) as caught:
        gov.promote("fraud", "0.3.0", "prod")
    assert str(caught.value).startswith(
        "fraud@prod is protected: moving it to 0.3.0 needs 2 approvals by users other than "
        "alice; has 1 (bob)")
    assert gov.aliases("fraud") == {"prod": "0.1.0"}


def test_the_movers_own_approval_does_not_count(gov: modelver.Store,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    gov.protect("fraud", "prod")
    gov.approve("fraud", "0.3.0", "prod")  # alice approves her own move
    with pytest.raises(modelver.Protected, match="alice's own approval does not count"):
        gov.promote("fraud", "0.3.0", "prod")
    _user(monkeypatch, "bob")  # but it counts when someone else moves it
    assert gov.promote("fraud", "0.3.0", "prod").to_version == "0.3.0"


def test_approvals_by_others_let_the_move_through_and_are_used_up(
        gov: modelver.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    gov.protect("fraud", "prod", approvals=2)
    for user in ("bob", "carol", "carol"):  # a user counts once
        _user(monkeypatch, user)
        gov.approve("fraud", "0.3.0", "prod")
    _user(monkeypatch, "bob")
    with pytest.raises(modelver.Protected, match="has 1 \\(carol\\)"):
        gov.promote("fraud", "0.3.0", "prod")  # bob moving: only carol counts
    _user(monkeypatch, "alice")
    event = gov.promote("fraud", "0.3.0", "prod")
    assert (event.to_version, event.by) == ("0.3.0", "alice")
    for user in ("bob", "carol"):
        _user(monkeypatch, user)
        gov.approve("fraud", "0.2.0", "prod")
    _user(monkeypatch, "alice")
    gov.promote("fraud", "0.2.0", "prod")
    with pytest.raises(modelver.Protected, match="has 0"):  # the move to 0.3.0 used them up
        gov.promote("fraud", "0.3.0", "prod")


def test_a_rollback_of_a_protected_alias_needs_approvals_too(
        gov: modelver.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    gov.promote("fraud", "0.2.0", "prod")
    gov.protect("fraud", "prod")
    with pytest.raises(modelver.Protected, match=r"moving it to 0\.1\.0 needs 1 approval"):
        gov.rollback("fraud", "prod")
    _user(monkeypatch, "bob")
    gov.approve("fraud", "0.1.0", "prod", reason="incident 42")
    _user(monkeypatch, "alice")
    assert gov.rollback("fraud", "prod").to_version == "0.1.0"


def test_unprotecting_lifts_the_protection(gov: modelver.Store) -> None:
    gov.protect("fraud", "prod", approvals=3)
    assert gov.protections("fraud") == {"prod": 3}
    gov.protect("fraud", "prod", approvals=0)
    assert gov.protections("fraud") == {}
    assert gov.promote("fraud", "0.2.0", "prod").to_version == "0.2.0"
    with pytest.raises(modelver.NotFound, match="not protected"):
        gov.protect("fraud", "prod", approvals=0)


def test_approvals_before_a_protection_is_changed_do_not_count(
        local: modelver.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    local.protect("fraud", "prod")
    _user(monkeypatch, "bob")
    local.approve("fraud", "0.2.0", "prod")
    _user(monkeypatch, "alice")
    local.protect("fraud", "prod", approvals=1)  # set again: the count starts afresh
    with pytest.raises(modelver.Protected, match="has 0"):
        local.promote("fraud", "0.2.0", "prod")


def test_approve_and_protect_refuse_what_cannot_count(local: modelver.Store) -> None:
    with pytest.raises(modelver.NotFound, match="not protected"):
        local.approve("fraud", "0.2.0", "prod")
    local.protect("fraud", "prod")
    with pytest.raises(modelver.NotFound):
        local.approve("fraud", "9.9.9", "prod")
    with pytest.raises(modelver.InvalidName):
        local.protect("fraud", "prod", approvals=-1)
    with pytest.raises(modelver.InvalidName):
        local.protect("fraud", "prod", approvals=True)
    with pytest.raises(modelver.InvalidName):
        local.protect("fraud", "1.0.0")  # an alias cannot look like a version


def test_a_protection_applies_to_an_alias_that_does_not_exist_yet(
        local: modelver.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    local.protect("fraud", "staging")
    with pytest.raises(modelver.Protected):
        local.promote("fraud", "0.2.0", "staging")
    _user(monkeypatch, "bob")
    local.approve("fraud", "latest", "staging")
    _user(monkeypatch, "alice")
    assert local.promote("fraud", "0.3.0", "staging").to_version == "0.3.0"
    assert [a.version for a in local.approvals("fraud", "staging")] == ["0.3.0"]


def test_module_functions_use_the_default_store(local: modelver.Store,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    modelver.configure(local)
    assert modelver.annotate("fraud", "0.1.0", description="d").description == "d"
    assert modelver.protect("fraud", "prod").approvals == 1
    _user(monkeypatch, "bob")
    assert modelver.approve("fraud", "0.2.0", "prod").by == "bob"
    _user(monkeypatch, "alice")
    assert modelver.promote("fraud", "0.2.0", "prod").to_version == "0.2.0"


# -- the log: verify and signatures ---------------------------------------------------------


def _fill(store: modelver.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.annotate("fraud", "0.1.0", description="card", tags={"stage": "prod", "team": None})
    store.protect("fraud", "prod", approvals=1)
    _user(monkeypatch, "bob")
    store.approve("fraud", "0.2.0", "prod")
    _user(monkeypatch, "alice")
    store.promote("fraud", "0.2.0", "prod")


def test_the_chain_verifies_after_annotations_and_approvals(
        gov: modelver.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    _fill(gov, monkeypatch)
    report = gov.verify()
    assert report.ok, str(report)
    assert report.entries == 8


def test_a_reopened_store_replays_the_same_governance(
        gov: modelver.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    _fill(gov, monkeypatch)
    again = modelver.open(gov.uri, storage_options=_OPTIONS.get(gov.uri))
    try:
        mv = again.resolve("fraud", "0.1.0")
        assert mv.description == "card" and mv.tags == {"stage": "prod"}
        assert again.protections("fraud") == {"prod": 1}
        assert [a.by for a in again.approvals("fraud")] == ["bob"]
    finally:
        again.close()


@pytest.fixture
def signed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[modelver.Store]:
    """A local store whose every entry is signed, written by alice."""
    monkeypatch.setenv("MODELVER_SIGNING_KEY", "k1")
    _user(monkeypatch, "alice")
    store = modelver.open(str(tmp_path / "signed")).init()
    store.register("fraud", {"w": 1}, version="0.1.0")
    store.register("fraud", {"w": 2}, version="0.2.0")
    store.promote("fraud", "0.1.0", "prod")
    store.protect("fraud", "prod")
    yield store
    store.close()


def test_an_edited_approval_entry_is_reported_by_verify(
        signed: modelver.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    _user(monkeypatch, "bob")
    signed.approve("fraud", "0.2.0", "prod")
    assert signed.verify().ok
    tamper(signed, "UPDATE entries SET data = pack_entry(replace(entry_json(data), "
                   "'\"by\":\"bob\"', '\"by\":\"eve\"')) WHERE kind = 'approval'",
            "UPDATE approvals SET approver = 'eve'")
    kinds = {p.kind for p in signed.verify().problems}
    assert "bad-signature" in kinds  # the text no longer matches its HMAC
    # (the next entry's link breaks too, and the row is what the edited text replays to)


def test_a_dropped_approval_signature_is_reported_and_does_not_count(
        signed: modelver.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    _user(monkeypatch, "bob")
    signed.approve("fraud", "0.2.0", "prod")
    tamper(signed, "UPDATE entries SET sig = NULL WHERE kind = 'approval'")
    report = signed.verify()
    assert [(p.kind, p.where) for p in report.problems] == [("bad-signature", "fraud#5")]
    _user(monkeypatch, "alice")
    with pytest.raises(modelver.Protected, match="1 approval\\(s\\) not signed"):
        signed.promote("fraud", "0.2.0", "prod")


def test_an_approval_written_without_the_key_does_not_count(
        signed: modelver.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELVER_SIGNING_KEY")
    _user(monkeypatch, "mallory")
    signed.approve("fraud", "0.2.0", "prod")
    monkeypatch.setenv("MODELVER_SIGNING_KEY", "k1")
    _user(monkeypatch, "alice")
    with pytest.raises(modelver.Protected, match="not signed"):
        signed.promote("fraud", "0.2.0", "prod")
    assert "bad-signature" in {p.kind for p in signed.verify().problems}


def test_a_forged_approval_row_without_an_entry_is_reported(
        local: modelver.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    local.protect("fraud", "prod")
    tamper(local, "INSERT INTO approvals (name, seq, version, alias, approver) "
                   "VALUES ('fraud', 99, '0.2.0', 'prod', 'eve')")
    assert ("inserted", "approvals fraud/99") in {
        (p.kind, p.where) for p in local.verify().problems}


def test_pushing_a_version_copies_its_registered_tags_not_its_annotations(
        local: modelver.Store, tmp_path: Path) -> None:
    local.annotate("fraud", "0.1.0", tags={"stage": "prod"}, description="card")
    target = modelver.open(str(tmp_path / "other" / ".modelver")).init()
    local.push("fraud", "0.1.0", to=target)
    copied = target.resolve("fraud", "0.1.0")
    assert copied.tags == {"team": "risk", "stage": "dev"} and copied.description is None
    assert target.verify().ok
    target.close()


# -- the CLI ---------------------------------------------------------------------------------


def _cli(capsys: pytest.CaptureFixture[str], store: modelver.Store, *argv: str
         ) -> tuple[int, str, str]:
    code = main([*argv, "--store", store.uri])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_annotate_protect_approve_and_show(local: modelver.Store, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    card = tmp_path / "MODEL_CARD.md"
    card.write_text("# Fraud\nGradient boosting.\n", encoding="utf-8")
    code, out, _ = _cli(capsys, local, "annotate", "fraud@0.2.0", "--description-file",
                        str(card), "--tag", "stage=beta", "--untag", "team")
    assert code == 0 and "description set" in out and "stage=beta" in out
    code, out, _ = _cli(capsys, local, "show", "fraud@0.2.0")
    assert "  description\n    # Fraud\n    Gradient boosting." in out
    code, out, _ = _cli(capsys, local, "protect", "fraud", "prod", "--approvals", "1")
    assert code == 0 and "needs 1 approval" in out
    code, _, err = _cli(capsys, local, "promote", "fraud", "0.2.0", "prod")
    assert code == 1 and "fraud@prod is protected" in err
    _user(monkeypatch, "bob")
    code, out, _ = _cli(capsys, local, "approve", "fraud@0.2.0", "prod", "--reason", "ok",
                        "--json")
    assert code == 0 and json.loads(out)["by"] == "bob" and json.loads(out)["reason"] == "ok"
    _user(monkeypatch, "alice")
    code, out, _ = _cli(capsys, local, "promote", "fraud", "0.2.0", "prod")
    assert code == 0 and "0.1.0 -> 0.2.0" in out
    code, out, _ = _cli(capsys, local, "protect", "fraud", "prod", "--approvals", "0")
    assert code == 0 and "no longer protected" in out


def test_cli_annotate_errors_are_one_line(local: modelver.Store,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(capsys, local, "annotate", "fraud@0.2.0")
    assert code == 1 and err.startswith("modelver: error: nothing to annotate")
    code, _, err = _cli(capsys, local, "annotate", "fraud@0.2.0", "--description-file",
                        "missing.md")
    assert code == 1 and "cannot read the description" in err


def test_an_identical_rerun_of_an_annotated_version_is_still_a_rerun(
        store: modelver.Store) -> None:
    @modelver.versioned_training("m", seed=1, tags={"team": "risk"})
    def train() -> bytes:
        return b"weights"

    train()
    store.annotate("m", "0.1.0", tags={"team": "fraud", "reviewed": "yes"})
    train()  # the same inputs and tags as registered: no new version
    assert [v.version for v in store.versions("m")] == ["0.1.0"]
    mv = store.resolve("m", "0.1.0")
    assert len(mv.reruns) == 1 and mv.tags == {"team": "fraud", "reviewed": "yes"}


def test_protecting_a_model_that_does_not_exist_is_refused(local: modelver.Store) -> None:
    with pytest.raises(modelver.NotFound, match="no model 'fruad'"):
        local.protect("fruad", "prod")
    assert "fruad" not in local.names()

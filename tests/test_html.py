"""Jupyter HTML: every record and list shows itself, escaped, self-contained, theme-neutral."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

import modelver
from modelver._records import Tombstone
from modelver._render import html as _html

EVIL = '<script>alert("x")</script>'
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def _version(i: int = 0, **kw: object) -> modelver.ModelVersion:
    fields: dict[str, object] = dict(name="fraud", version=f"0.{i + 1}.0",
                                     digest="sha256:" + f"{i:02x}" * 32, format="pickle",
                                     size=1234, created_at=T0, created_by="ana")
    fields.update(kw)
    return modelver.ModelVersion(**fields)  # type: ignore[arg-type]


def _event(**kw: object) -> modelver.AliasEvent:
    fields: dict[str, object] = dict(name="fraud", alias="prod", from_version="0.1.0",
                                     to_version="0.2.0", at=T0, by="ana", reason="AUC +2%")
    fields.update(kw)
    return modelver.AliasEvent(**fields)  # type: ignore[arg-type]


def assert_self_contained(markup: str) -> None:
    """No scripts, no network references, no fixed backgrounds; keeps the theme's colour."""
    assert "<script" not in markup.lower()
    assert re.search(r"https?:|//|href|src=|url\(|@import", markup, re.IGNORECASE) is None
    assert "background" not in markup
    assert set(re.findall(r"(?<![-\w])color:\s*([^;\"]+)", markup)) == {"inherit"}


@pytest.fixture
def trained(store: modelver.Store) -> modelver.Store:
    """Two trained versions of fraud, with tags, metrics and a promote/rollback history."""
    np = pytest.importorskip("numpy")

    @modelver.versioned_training("fraud", seed=7, tags={"team": EVIL})
    def train(x: object, depth: int = 3, label: str = EVIL) -> dict[str, int]:
        modelver.log_metrics(auc=0.91 + depth / 1000, note=EVIL)
        return {"depth": depth}

    x = np.arange(12.0).reshape(4, 3)
    train(x)
    train(x, depth=5)
    modelver.promote("fraud", "0.1.0", "prod", reason=EVIL)
    modelver.promote("fraud", "0.2.0", "prod")
    modelver.rollback("fraud", "prod", reason="canary <b>bad</b>")
    return store


def test_a_tag_value_with_a_script_tag_is_escaped(trained: modelver.Store) -> None:
    markup = trained.resolve("fraud", "0.1.0")._repr_html_()
    assert "&lt;script&gt;" in markup
    assert_self_contained(markup)


def test_a_version_shows_its_reference_digest_format_size_and_run(
        trained: modelver.Store) -> None:
    mv = trained.resolve("fraud", "0.2.0")
    markup = mv._repr_html_()
    for expected in ("fraud@0.2.0", mv.digest, mv.format, "tester", "team="):
        assert expected in markup
    assert mv.run_id is not None and mv.run_id in markup
    assert_self_contained(markup)


def test_a_deleted_version_says_when_and_why() -> None:
    mv = _version(deleted=Tombstone(at=T0, reason="keep_last=2", by="ops", rule="keep-last"))
    markup = _html.version_html(mv)
    assert "deleted" in markup and "keep_last=2" in markup and "2026-01-02 03:04:05" in markup


def test_a_run_shows_every_captured_section(trained: modelver.Store) -> None:
    run = trained.runs("fraud")[0]
    markup = run._repr_html_()
    for section in ("params", "metrics", "data", "code", "seeds", "environment", "hardware",
                    "resources"):
        assert re.search(f"<summary[^>]*>{section}\\b", markup), section
    assert "depth" in markup and "0.915" in markup and "succeeded" in markup
    assert "&lt;script&gt;" in markup and EVIL not in markup
    assert "installed packages" in markup  # the long list is collapsed in its own section
    assert "<details" in markup
    assert_self_contained(markup)


def test_a_failed_run_shows_its_error(store: modelver.Store) -> None:
    @modelver.versioned_training("fraud", seed=None)
    def train() -> None:
        raise ValueError("bad <input>")

    with pytest.raises(ValueError, match="bad"):
        train()
    markup = store.runs("fraud")[0]._repr_html_()
    assert "failed" in markup and "bad &lt;input&gt;" in markup


def test_an_alias_event_shows_the_move_who_when_and_why() -> None:
    markup = _event(reason=EVIL)._repr_html_()
    for expected in ("fraud@prod", "0.1.0", "0.2.0", "promote", "ana", "2026-01-02 03:04:05",
                     "&lt;script&gt;"):
        assert expected in markup
    assert_self_contained(markup)


def test_a_first_promotion_has_no_from_version() -> None:
    markup = _event(from_version=None)._repr_html_()
    assert "&ndash;" in markup and "None" not in markup


def test_a_version_list_is_a_table_of_every_version(trained: modelver.Store) -> None:
    markup = trained.versions("fraud")._repr_html_()
    assert markup.count("<tr>") == 3  # header and two versions
    assert "0.1.0" in markup and "0.2.0" in markup and "2 versions" in markup
    assert_self_contained(markup)


def test_a_long_version_list_shows_both_ends_and_counts_the_rest() -> None:
    versions = [_version(i) for i in range(60)]
    markup = _html.versions_html(versions)
    assert "0.1.0" in markup and "0.60.0" in markup and "0.30.0" not in markup
    assert "10 more rows" in markup and "60 versions" in markup


def test_a_run_list_has_params_and_metrics_as_columns(trained: modelver.Store) -> None:
    markup = trained.runs("fraud")._repr_html_()
    for column in ("param.depth", "param.label", "metric.auc", "metric.note"):
        assert column in markup
    assert "0.915" in markup and "0.913" in markup and "2 runs" in markup
    assert_self_contained(markup)


def test_a_run_list_with_many_keys_puts_them_in_one_cell() -> None:
    run = modelver.Run(id="r1", name="fraud", params={f"p{i}": i for i in range(20)},
                       started_at=T0)
    markup = _html.runs_html([run])
    assert "param.p0" not in markup and "p0=0, p1=1" in markup


def test_an_alias_history_lists_every_move_and_the_current_target(
        trained: modelver.Store) -> None:
    markup = trained.alias_history("fraud", "prod")._repr_html_()
    assert "3 moves" in markup and "rollback" in markup
    assert "canary &lt;b&gt;bad&lt;/b&gt;" in markup and "<b>" not in markup
    assert_self_contained(markup)


def test_a_history_of_several_aliases_names_the_alias_on_each_row() -> None:
    markup = _html.history_html([_event(), _event(alias="staging", at=T0 + timedelta(1))])
    assert "2 aliases" in markup and "fraud@staging" in markup


@pytest.mark.parametrize("render", [_html.versions_html, _html.runs_html, _html.history_html])
def test_an_empty_list_says_so(render: object) -> None:
    markup = render([])  # type: ignore[operator]
    assert "no " in markup and "<table" not in markup


def test_long_values_are_cut_with_the_whole_text_in_a_tooltip() -> None:
    run = modelver.Run(id="r1", name="fraud", params={"path": "x" * 500}, started_at=T0)
    markup = _html.run_html(run)
    assert "x" * 500 in markup  # in the title attribute
    assert "x" * 200 + "<" not in markup  # but not in the cell text
    assert "…" in markup


def test_every_registered_renderer_exists_for_a_public_class() -> None:
    import importlib

    from modelver import _render

    for (fmt, cls), target in _render._RENDERERS.items():
        module, _, function = target.partition(":")
        assert cls in modelver.__all__, cls
        assert callable(getattr(importlib.import_module(f"modelver._render.{module}"), function))
        assert _render.renderer(fmt, getattr(modelver, cls)).__name__ == function


def test_importing_modelver_loads_no_renderer() -> None:
    import subprocess
    import sys

    code = "import sys, modelver; print(sorted(m for m in sys.modules if '_render.' in m))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"

"""Training curves: ``log_metrics(step=N, ...)`` series, their bounds, their drawings,
the overlay in ``diff``, and ``modelver runs`` (failed runs too), on SQLite and on S3."""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Iterator
from typing import Any

import pytest
from conftest_s3 import S3Place

import modelver
from modelver import _series
from modelver.cli import main


@pytest.fixture(params=["sqlite", "s3"])
def any_store(request: pytest.FixtureRequest, store: modelver.Store) -> Iterator[modelver.Store]:
    """The same tests on a local SQLite store and on S3 (moto on loopback)."""
    if request.param == "sqlite":
        yield store
        return
    place: S3Place = request.getfixturevalue("s3")
    remote = modelver.open(place.uri, storage_options=place.options)
    yield remote
    remote.close()


def _train(store: modelver.Store, losses: list[float], *, name: str = "curves",
           fail: bool = False) -> modelver.ActiveRun:
    expected = pytest.raises(RuntimeError) if fail else contextlib.nullcontext()
    with expected, modelver.training(name, store=store, params={"n": len(losses)}) as run:
        for step, loss in enumerate(losses):
            run.log_metrics(step=step, loss=loss, acc=1 - loss)
        if fail:
            raise RuntimeError("diverged")
        run.log_model({"losses": losses})
    return run


# -- recording -----------------------------------------------------------------------


def test_a_training_block_records_a_series_per_metric_and_the_last_value_as_metric(
        any_store: modelver.Store) -> None:
    run = _train(any_store, [0.9, 0.5, 0.3])
    recorded = any_store.get_run(run.id)
    assert recorded.metric_history("loss") == [(0, 0.9), (1, 0.5), (2, 0.3)]
    assert recorded.metrics == {"loss": 0.3, "acc": pytest.approx(0.7)}
    assert "step" not in recorded.metrics


def test_a_decorated_function_records_series_with_the_module_level_log_metrics(
        any_store: modelver.Store) -> None:
    @modelver.versioned_training("decorated", store=any_store)
    def train(epochs: int) -> dict[str, int]:
        for epoch in range(epochs):
            modelver.log_metrics(step=epoch * 10, loss=1.0 / (epoch + 1))
        return {"epochs": epochs}

    train(4)
    assert train.last_run is not None
    run = any_store.get_run(train.last_run.id)
    assert [s for s, _ in run.metric_history("loss")] == [0, 10, 20, 30]
    assert run.metrics["loss"] == 0.25


def test_a_call_without_step_sets_the_metric_and_adds_no_point(store: modelver.Store) -> None:
    with modelver.training("curves", store=store) as run:
        run.log_metrics(step=0, loss=1.0)
        run.log_metrics(step=1, loss=0.5)
        run.log_metrics(loss=0.4, note="final")
    recorded = store.get_run(run.id)
    assert recorded.metrics == {"loss": 0.4, "note": "final"}
    assert recorded.metric_history("loss") == [(0, 1.0), (1, 0.5)]


def test_a_run_without_series_keeps_its_entry_as_before(store: modelver.Store) -> None:
    with modelver.training("plain", store=store) as run:
        run.log_metrics(auc=0.9)
    entry = store.chain.queries.index.one(
        "SELECT entry_json(data) FROM entries WHERE name = 'plain'")
    assert entry is not None and "metric_series" not in entry[0]
    assert store.get_run(run.id).metric_series == {}


def test_an_unknown_key_is_not_found_with_the_nearest_keys(store: modelver.Store) -> None:
    run = store.get_run(_train(store, [0.5, 0.4]).id)
    with pytest.raises(modelver.NotFound) as info:
        run.metric_history("los")
    assert info.value.suggestions == ["loss"]
    with modelver.training("curves", store=store) as plain:
        plain.log_metrics(auc=0.9)
    with pytest.raises(modelver.NotFound, match="without step="):
        store.get_run(plain.id).metric_history("auc")


def test_non_finite_values_are_gaps_and_the_metric_says_which(store: modelver.Store) -> None:
    with modelver.training("curves", store=store) as run:
        run.log_metrics(step=0, loss=1.0)
        run.log_metrics(step=1, loss=float("inf"))
        run.log_metrics(step=2, loss=float("nan"))
    recorded = store.get_run(run.id)
    history = recorded.metric_history("loss")
    assert history[0] == (0, 1.0) and all(math.isnan(v) for _, v in history[1:])
    assert recorded.metric_series["loss"][1] == (1, None)
    assert recorded.metrics["loss"] == {"__float__": "nan"}


def test_numpy_scalars_count_as_numbers_and_text_with_step_is_refused(
        store: modelver.Store) -> None:
    np = pytest.importorskip("numpy")
    with modelver.training("curves", store=store) as run:
        run.log_metrics(step=np.int64(3), loss=np.float32(0.5))
        with pytest.raises(modelver.InvalidName, match="must be a number"):
            run.log_metrics(step=4, loss="low")
        bad: Any
        for bad in (-1, 1.5, True, "3"):
            with pytest.raises(modelver.InvalidName, match="step must be"):
                run.log_metrics(step=bad, loss=0.1)
    assert store.get_run(run.id).metric_history("loss") == [(3, 0.5)]


# -- bounds --------------------------------------------------------------------------


def test_a_long_series_is_thinned_keeping_first_last_lowest_and_highest() -> None:
    series = _series.Series(cap=100)
    for step in range(100_000):
        series.add(step, 10.0 if step == 54_321 else -1.0 if step == 77_777 else 1.0)
    points = series.points()
    assert len(points) <= 100
    steps = [s for s, _ in points]
    assert steps[0] == 0 and steps[-1] == 99_999
    assert 54_321 in steps and 77_777 in steps
    assert steps == sorted(steps)


def test_a_million_points_make_a_bounded_entry(store: modelver.Store) -> None:
    with modelver.training("long", store=store) as run:
        for step in range(1_000_000):
            run.log_metrics(step=step, loss=1.0 / (step + 1))
    recorded = store.get_run(run.id)
    assert len(recorded.metric_history("loss")) <= _series.MAX_POINTS
    assert recorded.metric_history("loss")[-1] == (999_999, 1e-6)
    size = store.chain.queries.index.one(
        "SELECT length(entry_json(data)) FROM entries WHERE name = 'long'")
    assert size is not None and size[0] < 1_000_000


def test_many_keys_share_the_run_budget() -> None:
    many = {}
    for k in range(50):
        series = many[f"k{k}"] = _series.Series()
        for step in range(5_000):
            series.add(step, float(step % 7))
    record = _series.series_record(many, budget=10_000)
    assert sum(len(p) for p in record.values()) <= 10_000
    assert all(p[0][0] == 0 and p[-1][0] == 4_999 for p in record.values())


# -- drawings -----------------------------------------------------------------------


def test_the_runs_html_draws_a_chart_per_series_and_escapes_keys(store: modelver.Store) -> None:
    hostile = '<script>alert("x")</script>'
    with modelver.training("curves", store=store) as run:
        for step in range(5):
            run.log_metrics(step=step, loss=1.0 / (step + 1), **{hostile: float(step)})
    html = store.get_run(run.id)._repr_html_()
    assert html.count("<svg") == 2
    assert len(re.findall(r"<polyline ", html)) >= 2
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "currentColor" in html


def test_the_audit_report_shows_the_curves(store: modelver.Store) -> None:
    run = _train(store, [0.9, 0.5, 0.3])
    assert run.version is not None
    html = store.audit("curves", run.version.version).to_html()
    assert "<polyline " in html


def test_a_gap_breaks_the_line_and_a_lone_point_is_a_dot() -> None:
    from modelver._render.curves import curve_svg

    svg = curve_svg("loss", [("loss", [(0, 1.0), (1, 0.5), (2, None), (3, 0.4)])])
    assert svg.count("<polyline ") == 1 and svg.count("<circle ") == 1
    assert "no finite values" in curve_svg("loss", [("loss", [(0, None)])])


# -- diff ----------------------------------------------------------------------------


def test_diff_overlays_both_runs_curves_with_a_legend(any_store: modelver.Store) -> None:
    a = _train(any_store, [0.9, 0.5, 0.31])
    b = _train(any_store, [0.8, 0.4, 0.3, 0.29])
    assert a.version is not None and b.version is not None
    d = any_store.diff(a.version.ref, b.version.ref)
    assert d.curves["loss"] == ([(0, 0.9), (1, 0.5), (2, 0.31)],
                                [(0, 0.8), (1, 0.4), (2, 0.3), (3, 0.29)])
    html = d._repr_html_()
    chart = html[html.index("<svg"):]
    assert chart.count("<polyline ") >= 2
    assert a.version.ref in chart and b.version.ref in chart
    assert "loss: 3 points vs 4, last 0.31 -> 0.29" in str(d)
    assert d.to_dict()["curves"]["loss"]["b"] == {"points": 4, "last": 0.29}


# -- modelver runs -------------------------------------------------------------------


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, _ = capsys.readouterr()
    return code, out


@pytest.fixture
def trained(store: modelver.Store) -> dict[str, str]:
    ok = _train(store, [0.9, 0.3])
    failed = _train(store, [0.9, 1.7], fail=True)
    other = _train(store, [0.2], name="other")
    return {"ok": ok.id, "failed": failed.id, "other": other.id}


def test_runs_lists_succeeded_and_failed_runs_with_final_metrics(
        capsys: pytest.CaptureFixture[str], trained: dict[str, str]) -> None:
    code, out = _cli(capsys, "runs", "curves")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["RUN", "STATUS", "VERSION"]
    failed = next(line for line in lines if line.startswith(trained["failed"][:12]))
    ok = next(line for line in lines if line.startswith(trained["ok"][:12]))
    assert "failed" in failed and "loss=1.7~" in failed and "RuntimeError: diverged" in failed
    assert "succeeded" in ok and "loss=0.3~" in ok and " 0.1.0 " in ok
    assert lines.index(failed) < lines.index(ok)  # newest first
    assert trained["other"][:12] not in out


def test_runs_filters_by_status_and_limits(capsys: pytest.CaptureFixture[str],
                                           trained: dict[str, str]) -> None:
    _, out = _cli(capsys, "runs", "--status", "failed")
    assert trained["failed"][:12] in out and trained["ok"][:12] not in out
    _, out = _cli(capsys, "runs", "--limit", "1")
    assert trained["other"][:12] in out and "the 1 newest shown" in out
    assert trained["ok"][:12] not in out


def test_runs_json_gives_every_metric_and_the_error(capsys: pytest.CaptureFixture[str],
                                                    trained: dict[str, str]) -> None:
    code, out = _cli(capsys, "runs", "curves", "--json")
    assert code == 0
    rows = {r["id"]: r for r in json.loads(out)}
    assert rows[trained["failed"]]["status"] == "failed"
    assert rows[trained["failed"]]["error"] == "RuntimeError: diverged"
    assert rows[trained["ok"]]["metrics"] == {"loss": 0.3, "acc": pytest.approx(0.7)}
    assert rows[trained["ok"]]["version"] == "curves@0.1.0"
    assert rows[trained["ok"]]["curves"] == ["acc", "loss"]


def test_run_summaries_list_failed_runs_on_both_stores(any_store: modelver.Store) -> None:
    ok = _train(any_store, [0.9, 0.3])
    failed = _train(any_store, [0.9, 1.7], fail=True)
    summaries = any_store.run_summaries("curves")
    assert [s.id for s in summaries] == [failed.id, ok.id]
    assert summaries[0].status == "failed" and summaries[0].metrics["loss"] == 1.7
    assert [s.id for s in any_store.run_summaries(status="succeeded")] == [ok.id]
    with pytest.raises(modelver.InvalidName):
        any_store.run_summaries(status="done")
    with pytest.raises(modelver.InvalidName):
        any_store.run_summaries(limit=-1)

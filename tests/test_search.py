"""``modelver.search``: the where/order_by language, its semantics, and its refusals.

The core behaviours run on a local SQLite store and on S3 (moto); the language's
corner cases run locally. Every refusal is a ``QueryError`` pointing at the bad token,
and nothing in an expression ever reaches SQL as text.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest_s3 import S3Place
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import modelver
from modelver import QueryError, RetentionPolicy
from modelver.cli import main


def _train(store: modelver.Store, name: str, version: str, params: dict[str, Any],
           metrics: dict[str, Any], tags: dict[str, str], data: bytes = b"rows") -> None:
    with modelver.training(name, params=params, data={"train": data}, version=version,
                           tags=tags, store=store, seed=None) as run:
        run.log_metrics(**metrics)
        run.log_model(f"{name}-{version}".encode())


def _fill(store: modelver.Store) -> modelver.Store:
    """fraud 1.2.0, 1.9.0, 1.10.0 and churn 0.1.0 from runs; churn 0.2.0 without one."""
    _train(store, "fraud", "1.2.0", {"lr": 0.5, "depth": -1, "opt": {"name": "sgd"}},
           {"auc": 0.7}, {"team": "risk", "note": "it's \"quoted\""})
    _train(store, "fraud", "1.9.0", {"lr": 0.1, "depth": 3, "ok": True,
                                     "opt": {"name": "adam"}, "label": "o'neil"},
           {"auc": 0.91, "loss": 0.3}, {"team": "risk"}, b"other rows")
    _train(store, "fraud", "1.10.0", {"lr": 0.01, "depth": 5, "ok": False,
                                      "opt": {"name": "sgd"}},
           {"auc": 0.95, "loss": 0.2}, {"team": "ops"})
    _train(store, "churn", "0.1.0", {"lr": 0.1, "layers": [1, 2]}, {"auc": 0.88},
           {"team": "risk"})
    store.register("churn", b"hand made", version="0.2.0", tags={"team": "growth"})
    store.promote("fraud", "1.10.0", "prod")
    store.promote("churn", "0.1.0", "staging")
    return store


@pytest.fixture
def local(store: modelver.Store) -> modelver.Store:
    """The catalog in a local SQLite store."""
    return _fill(store)


@pytest.fixture(params=["local", "s3"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[modelver.Store]:
    """The same catalog on a local store and on S3 (moto)."""
    if request.param == "local":
        store = modelver.open(str(tmp_path / "store" / ".modelver")).init()
    else:
        place = S3Place(request.getfixturevalue("moto_s3"))
        store = modelver.open(place.uri, storage_options=place.options)
    yield _fill(store)
    store.close()


def refs(found: list[modelver.ModelVersion]) -> list[str]:
    return [f"{mv.name}@{mv.version}" for mv in found]


def where(store: modelver.Store, expression: str, **kw: Any) -> set[str]:
    return set(refs(store.search(where=expression, **kw)))


# -- core behaviour, local and S3 ------------------------------------------------------

def test_a_metric_filter_with_order_and_limit(catalog: modelver.Store) -> None:
    found = catalog.search(where="metrics.auc > 0.85", order_by="metrics.auc desc", limit=2)
    assert refs(found) == ["fraud@1.10.0", "fraud@1.9.0"]
    assert isinstance(found, modelver.VersionList)


def test_results_are_the_same_records_versions_returns(catalog: modelver.Store) -> None:
    everything = {f"{mv.name}@{mv.version}": mv for mv in catalog.versions()}
    for mv in catalog.search():
        assert mv == everything[f"{mv.name}@{mv.version}"]


def test_tags_params_and_boolean_logic(catalog: modelver.Store) -> None:
    assert where(catalog, "tags.team == 'risk' and not params.opt.name == 'adam'") == {
        "fraud@1.2.0", "churn@0.1.0"}
    assert where(catalog, "params.ok == true or tags.team == 'growth'") == {
        "fraud@1.9.0", "churn@0.2.0"}


def test_version_compares_by_precedence_not_text(catalog: modelver.Store) -> None:
    assert refs(catalog.search("fraud", where="version > '1.9.0'")) == ["fraud@1.10.0"]
    assert refs(catalog.search("fraud", order_by="version desc")) == [
        "fraud@1.10.0", "fraud@1.9.0", "fraud@1.2.0"]


def test_alias_matches_the_current_aliases(catalog: modelver.Store) -> None:
    assert where(catalog, "alias == 'prod'") == {"fraud@1.10.0"}
    assert where(catalog, "alias in ('prod', 'staging')") == {"fraud@1.10.0", "churn@0.1.0"}


def test_an_unknown_key_is_refused_with_a_suggestion(catalog: modelver.Store) -> None:
    with pytest.raises(QueryError, match=r"did you mean: metrics\.auc\?") as err:
        catalog.search(where="metrics.acu > 0.5")
    assert err.value.suggestions == ["metrics.auc"]
    assert "\n  metrics.acu > 0.5\n  ^^^^^^^^^^^" in str(err.value)


@pytest.mark.parametrize("attack", [
    "1=1; DROP TABLE versions",
    "params.lr == 'x' -- ",
    "params.lr == 'x'; DELETE FROM versions",
    "params.lr == 'x' /* comment */",
    "tags.team == 'risk' or 1 == 1",
])
def test_injection_attempts_are_refused(catalog: modelver.Store, attack: str) -> None:
    with pytest.raises(QueryError):
        catalog.search(where=attack)
    assert len(catalog.versions()) == 5


# -- the language, locally ---------------------------------------------------------------

@pytest.mark.parametrize(("expression", "expected"), [
    ("metrics.auc == 0.91", {"fraud@1.9.0"}),
    ("metrics.auc != 0.91", {"fraud@1.2.0", "fraud@1.10.0", "churn@0.1.0"}),
    ("metrics.auc < 0.88", {"fraud@1.2.0"}),
    ("metrics.auc <= 0.88", {"fraud@1.2.0", "churn@0.1.0"}),
    ("metrics.auc > 0.91", {"fraud@1.10.0"}),
    ("metrics.auc >= 0.91", {"fraud@1.9.0", "fraud@1.10.0"}),
])
def test_each_operator(local: modelver.Store, expression: str, expected: set[str]) -> None:
    assert where(local, expression) == expected


def test_and_binds_tighter_than_or(local: modelver.Store) -> None:
    # a or (b and c), not (a or b) and c
    assert where(local, "tags.team == 'growth' or tags.team == 'risk' and "
                        "metrics.auc > 0.9") == {"churn@0.2.0", "fraud@1.9.0"}
    assert where(local, "(tags.team == 'growth' or tags.team == 'risk') and "
                        "metrics.auc > 0.9") == {"fraud@1.9.0"}


def test_not_negates_and_includes_versions_without_the_key(local: modelver.Store) -> None:
    assert where(local, "not metrics.auc > 0.8") == {"fraud@1.2.0", "churn@0.2.0"}
    assert where(local, "not not metrics.auc > 0.9") == {"fraud@1.9.0", "fraud@1.10.0"}


def test_a_comparison_on_a_missing_key_is_false_even_not_equal(local: modelver.Store) -> None:
    # churn@0.2.0 has no run: no params; only fraud@1.9.0 and 1.10.0 have params.ok
    assert where(local, "params.ok != true") == {"fraud@1.10.0"}
    assert "churn@0.2.0" not in where(local, "params.lr != 0.5")


def test_in_and_not_in(local: modelver.Store) -> None:
    assert where(local, "params.lr in (0.1, 0.5)") == {
        "fraud@1.2.0", "fraud@1.9.0", "churn@0.1.0"}
    assert where(local, "params.lr not in (0.1, 0.5,)") == {"fraud@1.10.0"}
    assert where(local, "name in ('churn')") == {"churn@0.1.0", "churn@0.2.0"}
    assert where(local, "version not in ('1.2.0', '1.9.0', '0.1.0')") == {
        "fraud@1.10.0", "churn@0.2.0"}
    assert where(local, "params.opt.name in ('adam', 1)") == {"fraud@1.9.0"}


def test_string_literals_take_either_quote_and_escapes(local: modelver.Store) -> None:
    assert where(local, "params.label == \"o'neil\"") == {"fraud@1.9.0"}
    assert where(local, "params.label == 'o\\'neil'") == {"fraud@1.9.0"}
    assert where(local, "tags.note == 'it\\'s \"quoted\"'") == {"fraud@1.2.0"}
    assert where(local, 'tags.note == "it\'s \\"quoted\\""') == {"fraud@1.2.0"}


def test_number_literals(local: modelver.Store) -> None:
    assert where(local, "params.depth == -1") == {"fraud@1.2.0"}
    assert where(local, "params.depth < -0.5") == {"fraud@1.2.0"}
    assert where(local, "params.depth >= 3e0") == {"fraud@1.9.0", "fraud@1.10.0"}
    assert where(local, "params.lr == .01") == {"fraud@1.10.0"}


def test_booleans_and_keywords_are_case_insensitive(local: modelver.Store) -> None:
    assert where(local, "params.ok == TRUE") == {"fraud@1.9.0"}
    assert where(local, "params.ok == false AND NOT tags.team == 'risk'") == {"fraud@1.10.0"}


def test_each_field_kind(local: modelver.Store) -> None:
    train = local.get_run(local.resolve("fraud", "1.9.0").run_id or "").data["train"].digest
    assert where(local, f"data.train.digest == '{train}'") == {"fraud@1.9.0"}
    assert where(local, "format == 'bytes' and name == 'churn'") == {
        "churn@0.1.0", "churn@0.2.0"}
    assert where(local, "created_by == 'tester' and version == '1.9.0'") == {"fraud@1.9.0"}
    assert where(local, "params.layers == '[1,2]'") == {"churn@0.1.0"}
    assert where(local, "params.'opt'.\"name\" == 'adam'") == {"fraud@1.9.0"}


def test_created_at_compares_as_time(local: modelver.Store) -> None:
    middle = local.resolve("fraud", "1.9.0").created_at
    later = where(local, f"created_at > '{middle.isoformat()}'")
    assert later == {"fraud@1.10.0", "churn@0.1.0", "churn@0.2.0"}
    assert where(local, "created_at < '2000-01-01'") == set()
    assert len(where(local, "created_at >= '2000-01-01T00:00:00Z'")) == 5
    with pytest.raises(QueryError, match="ISO-8601"):
        local.search(where="created_at > 'yesterday'")


def test_default_order_is_newest_first_and_limit_counts(local: modelver.Store) -> None:
    assert refs(local.search(limit=2)) == ["churn@0.2.0", "churn@0.1.0"]
    assert refs(local.search(order_by="name, version")) == [
        "churn@0.1.0", "churn@0.2.0", "fraud@1.2.0", "fraud@1.9.0", "fraud@1.10.0"]


def test_ordering_by_a_key_puts_versions_without_it_last(local: modelver.Store) -> None:
    assert refs(local.search(order_by="metrics.loss"))[:2] == ["fraud@1.10.0", "fraud@1.9.0"]
    assert refs(local.search(order_by="metrics.loss desc"))[:2] == [
        "fraud@1.9.0", "fraud@1.10.0"]
    assert refs(local.search(order_by="tags.team asc, version desc")) == [
        "churn@0.2.0", "fraud@1.10.0", "fraud@1.9.0", "fraud@1.2.0", "churn@0.1.0"]
    assert refs(local.search("fraud", order_by="params.opt.name, params.lr desc")) == [
        "fraud@1.9.0", "fraud@1.2.0", "fraud@1.10.0"]


def test_deleted_versions_are_not_found(local: modelver.Store) -> None:
    local.plan_retention(RetentionPolicy(keep_last=1, keep_aliased=True), "fraud").apply()
    assert where(local, "name == 'fraud'") == {"fraud@1.10.0"}


def test_search_of_one_model(local: modelver.Store) -> None:
    assert where(local, "metrics.auc > 0.8", name="churn") == {"churn@0.1.0"}


def test_the_module_function_uses_the_default_store(local: modelver.Store) -> None:
    assert refs(modelver.search(where="alias == 'staging'")) == ["churn@0.1.0"]


def test_a_version_list_becomes_a_frame(local: modelver.Store) -> None:
    pytest.importorskip("pandas")
    frame = local.search(where="tags.team == 'risk'").to_pandas()
    assert sorted(frame["version"]) == ["0.1.0", "1.2.0", "1.9.0"]


# -- refusals ---------------------------------------------------------------------

@pytest.mark.parametrize(("expression", "message", "at"), [
    ("foo > 1", r"unknown field 'foo'", 0),
    ("metric.auc > 1", r"did you mean: metrics", 0),
    ("params.lr = 0.1", r"compare with ==", 10),
    ("params.lr == ", r"expected a value", 13),
    ("params.lr == 0.1 and", r"expected a field", 20),
    ("(params.lr == 0.1", r"expected '\)'", 17),
    ("params.lr == 0.1)", r"unexpected '\)'", 16),
    ("params.lr in ()", r"expected a value", 14),
    ("params.lr in 0.1", r"expected '\('", 13),
    ("params.lr", r"expected a comparison", 9),
    ("params == 1", r"params needs a key", 0),
    ("version.x == '1'", r"version takes no key", 8),
    ("data.train == 'x'", r"data\.<key>\.digest", 5),
    ("version >= 1.2.0", r"write a version as text", 11),
    ("version >= 'one'", r"invalid version", 11),
    ("tags.team == 'risk", r"no closing '", 13),
    ("tags.team == 'a\\q'", r"unknown escape", 15),
    ("tags.team == 1", r"tags\.team is text", 13),
    ("metrics.auc > 'high'", r"is a number", 14),
    ("params.lr == 0.1 0.2", r"unexpected '0\.2'", 17),
    ("", r"empty", 0),
    ("params.lr == 1..2", r"not a number", 13),
    ("params.lr == 'x' # comment", r"unexpected character '#'", 17),
    ("and", r"expected a field", 0),
])
def test_bad_expressions_point_at_the_bad_token(local: modelver.Store, expression: str,
                                                message: str, at: int) -> None:
    with pytest.raises(QueryError, match=message) as err:
        local.search(where=expression)
    assert err.value.position == at
    assert isinstance(err.value, ValueError) and isinstance(err.value, modelver.ModelverError)


@pytest.mark.parametrize(("order", "message"), [
    ("alias", "cannot be ordered by alias"),
    ("metrics.auc sideways", "expected asc, desc"),
    ("metrics.aux", "did you mean: metrics.auc"),
    ("version,", "expected a field"),
])
def test_bad_orders_are_refused(local: modelver.Store, order: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        local.search(order_by=order)


@pytest.mark.parametrize("limit", [0, -1, True, 1.5, "3"])
def test_limit_must_be_a_positive_int(local: modelver.Store, limit: Any) -> None:
    with pytest.raises(QueryError, match="limit"):
        local.search(limit=limit)


def test_deep_nesting_is_refused_not_a_recursion_error(local: modelver.Store) -> None:
    with pytest.raises(QueryError, match="nests deeper"):
        local.search(where="(" * 500 + "params.lr == 1" + ")" * 500)
    with pytest.raises(QueryError, match="nests deeper"):
        local.search(where="not " * 500 + "params.lr == 1")
    with pytest.raises(QueryError, match="characters long"):
        local.search(where="params.lr == 1 or " * 1000 + "params.lr == 1")


@pytest.mark.parametrize("value", [
    "x'; DROP TABLE versions; --",
    "' OR '1'='1",
    "\") OR 1=1 --",
    "risk' /*",
])
def test_quote_tricks_in_values_are_just_values(local: modelver.Store, value: str) -> None:
    quoted = "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    assert where(local, f"tags.team == {quoted}") == set()
    assert len(local.versions()) == 5


def test_quote_tricks_in_keys_are_just_keys(local: modelver.Store) -> None:
    for key in ["a') OR 1=1 --", "team' OR '1'='1", "x\"; DROP TABLE runs; --"]:
        quoted = "'" + key.replace("'", "\\'") + "'"
        with pytest.raises(QueryError, match="unknown tag"):
            local.search(where=f"tags.{quoted} == 'x'")
    assert len(local.versions()) == 5
    db = sqlite3.connect(local.backend.db_path)  # type: ignore[attr-defined]
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        db.close()
    assert {"versions", "runs", "run_params", "run_metrics", "version_tags"} <= tables
    assert local.verify().ok


# -- the CLI -------------------------------------------------------------------------

def test_cli_search_prints_a_table_and_json(local: modelver.Store,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    uri = local.uri
    assert main(["--store", uri, "search", "fraud", "--where", "metrics.auc > 0.9",
                 "--order-by", "metrics.auc desc", "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert "1.10.0" in out and "1.9.0" not in out
    assert main(["--store", uri, "search", "--where", "tags.team == 'risk'", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {(d["name"], d["version"]) for d in data} == {
        ("fraud", "1.2.0"), ("fraud", "1.9.0"), ("churn", "0.1.0")}


def test_cli_search_reports_a_bad_expression(local: modelver.Store,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--store", local.uri, "search", "--where", "metrics.acu > 1"]) == 1
    err = capsys.readouterr().err
    assert "did you mean: metrics.auc" in err and "^^^" in err


# -- a property: search agrees with a filter in Python -------------------------------

_CHECKS: dict[str, Any] = {
    "metrics.auc": lambda r: r["metrics"].get("auc"),
    "params.lr": lambda r: r["params"].get("lr"),
    "params.depth": lambda r: r["params"].get("depth"),
    "tags.team": lambda r: r["tags"].get("team"),
}
_VALUES: dict[str, list[Any]] = {
    "metrics.auc": [0.7, 0.88, 0.9, 0.95], "params.lr": [0.01, 0.1, 0.5],
    "params.depth": [-1, 3, 4], "tags.team": ["risk", "ops", "growth", "x"]}
_PY_OPS = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
           "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


@st.composite
def _expressions(draw: st.DrawFn, depth: int = 0) -> tuple[str, Any]:
    """A random expression over known fields, and the same test in Python."""
    choice = draw(st.integers(0, 3 if depth < 3 else 0))
    if choice == 0:
        field = draw(st.sampled_from(sorted(_CHECKS)))
        op = draw(st.sampled_from(sorted(_PY_OPS)))
        value = draw(st.sampled_from(_VALUES[field]))
        get = _CHECKS[field]
        text = repr(value) if isinstance(value, str) else str(value)
        return (f"{field} {op} {text}",
                lambda r: get(r) is not None and _PY_OPS[op](get(r), value))
    if choice == 1:
        text, fn = draw(_expressions(depth + 1))
        return f"not ({text})", lambda r: not fn(r)
    left, lf = draw(_expressions(depth + 1))
    right, rf = draw(_expressions(depth + 1))
    if choice == 2:
        return f"({left}) and ({right})", lambda r: lf(r) and rf(r)
    return f"({left}) or ({right})", lambda r: lf(r) or rf(r)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_expressions())
def test_search_agrees_with_a_python_filter(local: modelver.Store,
                                            case: tuple[str, Any]) -> None:
    text, check = case
    records = []
    for mv in local.versions():
        run = local.get_run(mv.run_id) if mv.run_id else None
        records.append({"ref": f"{mv.name}@{mv.version}", "tags": mv.tags,
                        "params": run.params if run else {},
                        "metrics": run.metrics if run else {}})
    assert where(local, text) == {r["ref"] for r in records if check(r)}


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from(list("params.lr metrics.auc tags.team ==!<>'\"()"
                                                 "andornotin,0.5-1;x\\")), max_size=40))
def test_random_text_raises_only_query_errors(local: modelver.Store, text: str) -> None:
    with contextlib.suppress(QueryError):
        local.search(where=text)
    assert len(local.versions()) == 5



@pytest.mark.parametrize("order", ["metrics.loss", "metrics.auc desc", "params.lr desc, version",
                                   "params.opt.name", "tags.team desc", "version desc",
                                   "data.train.digest"])
def test_a_limit_keeps_the_order_of_the_full_result(local: modelver.Store, order: str) -> None:
    everything = refs(local.search(order_by=order))
    assert len(everything) == 5
    for limit in (1, 2, 4, 6):
        assert refs(local.search(order_by=order, limit=limit)) == everything[:limit]


def test_a_long_chain_of_and_or_or_runs_flat(local: modelver.Store) -> None:
    everything = " and ".join(["metrics.auc >= 0"] * 150)
    assert len(local.search(where=everything)) == 4
    one = " or ".join(["metrics.auc == 5"] * 150) + " or version == '1.9.0'"
    assert [mv.ref for mv in local.search(where=one, limit=3)] == ["fraud@1.9.0"]


def test_ordering_by_a_param_is_the_same_with_and_without_a_limit(store: modelver.Store
                                                                   ) -> None:
    for i, value in enumerate(["a", None, 1.5, 3, float("nan")]):
        _train(store, "m", f"0.{i + 1}.0", {"x": value}, {"auc": i / 10}, {})
    for order in ("params.x", "params.x desc"):
        every = [mv.version for mv in store.search(order_by=order)]
        assert [mv.version for mv in store.search(order_by=order, limit=10)] == every


def test_a_nan_param_is_one_value_not_a_nested_key(store: modelver.Store) -> None:
    _train(store, "m", "0.1.0", {"lr": float("nan")}, {"auc": 0.5}, {})
    assert [mv.version for mv in store.search(where="params.lr == 'nan'")] == ["0.1.0"]


def test_a_lone_surrogate_in_an_expression_is_a_query_error(local: modelver.Store) -> None:
    with pytest.raises(QueryError, match="lone surrogate") as caught:
        local.search(where="tags.team == '\udc80'")
    assert caught.value.position == 14

"""Search over the read model: a parsed expression (:mod:`modelver._search`) compiled to
one parameterized SQL query, then the matching versions read like ``versions()``.

Only fixed SQL fragments are written here; every value, key and literal of the user's
expression is a bound parameter. Each comparison is a membership test against the
indexed fact tables (``run_params``, ``run_metrics``, ``run_data``, ``version_tags``,
``aliases``), which is true or false, never NULL: a comparison on a missing key is
false, ``!=`` needs the key present, and ``not`` is plain negation (``not
params.lr == 0.1`` matches versions without ``params.lr`` too).

The search runs in two steps: the filtered and ordered ``(name, version)`` pairs from
the columns and indexes alone, then the full rows of only those versions.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from .._errors import QueryError
from .._records import ModelVersion
from .._search import And, Compare, Field, In, Literal, Node, Not, Or, OrderKey
from .blob_queries import _LIVE
from .queries import _BY_REF, _V, Queries, _version

__all__ = ["search"]

_SQL_OPS = {"==": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
# The plain columns of a version, by field.
_COLUMNS = {"name": "v.name", "created_by": "v.created_by", "format": "v.format",
            "created_at": "v.created_at", "version": "v.sort_key"}
# A keyed field's test: the version's run (or the version) has a fact row ``f`` with
# this key whose value meets {cond}. Never NULL, so that NOT is plain negation. The set
# form reads the matching rows once (best when few match: the versions are then found
# by index); the row form looks each candidate version up (best when many match and an
# ordered index with a LIMIT decides which versions are candidates).
_TABLES = {"params": "run_params", "metrics": "run_metrics", "data": "run_data",
           "tags": "version_tags"}
_AS_SET = {
    "params": ("(v.run_id IS NOT NULL AND v.run_id IN "
               "(SELECT f.run_id FROM run_params f WHERE f.key = ? AND {cond}))"),
    "metrics": ("(v.run_id IS NOT NULL AND v.run_id IN "
                "(SELECT f.run_id FROM run_metrics f WHERE f.key = ? AND {cond}))"),
    "data": ("(v.run_id IS NOT NULL AND v.run_id IN "
             "(SELECT f.run_id FROM run_data f WHERE f.key = ? AND {cond}))"),
    "tags": ("(v.name, v.version) IN "
             "(SELECT f.name, f.version FROM version_tags f WHERE f.key = ? AND {cond})"),
}
_BY_ROW = {
    "params": ("EXISTS (SELECT 1 FROM run_params f WHERE f.run_id = v.run_id AND f.key = ? "
               "AND {cond})"),
    "metrics": ("EXISTS (SELECT 1 FROM run_metrics f WHERE f.run_id = v.run_id AND f.key = ? "
                "AND {cond})"),
    "data": ("EXISTS (SELECT 1 FROM run_data f WHERE f.run_id = v.run_id AND f.key = ? "
             "AND {cond})"),
    "tags": ("EXISTS (SELECT 1 FROM version_tags f WHERE f.name = v.name "
             "AND f.version = v.version AND f.key = ? AND {cond})"),
}
# At most this many matching fact rows make a test "selective": it is read as a set.
_FEW = 1000
# The first order key, when keyed: the fact table joined in, and its value columns.
_DRIVER = {
    "params": "JOIN run_params o ON o.run_id = v.run_id AND o.key = ?",
    "metrics": "JOIN run_metrics o ON o.run_id = v.run_id AND o.key = ?",
    "data": "JOIN run_data o ON o.run_id = v.run_id AND o.key = ?",
    "tags": "JOIN version_tags o ON o.name = v.name AND o.version = v.version AND o.key = ?",
}
_DRIVER_ORDER = {"params": ("o.num", "o.txt"), "metrics": ("o.value",), "data": ("o.digest",),
                 "tags": ("o.value",)}
_KEYS = {"params": "SELECT DISTINCT key FROM run_params",
         "metrics": "SELECT DISTINCT key FROM run_metrics",
         "data": "SELECT DISTINCT key FROM run_data",
         "tags": "SELECT DISTINCT key FROM version_tags"}
_HAS_KEY = {"params": "SELECT 1 FROM run_params WHERE key = ? LIMIT 1",
            "metrics": "SELECT 1 FROM run_metrics WHERE key = ? LIMIT 1",
            "data": "SELECT 1 FROM run_data WHERE key = ? LIMIT 1",
            "tags": "SELECT 1 FROM version_tags WHERE key = ? LIMIT 1"}
_ALIASED = "(v.name, v.version) IN (SELECT name, version FROM aliases{cond})"
# The value a version orders by, for keyed fields (NULL when it lacks the key).
_ORDER_VALUE = {
    "params": ("(SELECT num FROM run_params WHERE run_id = v.run_id AND key = ?)",
               "(SELECT txt FROM run_params WHERE run_id = v.run_id AND key = ?)"),
    "metrics": ("(SELECT value FROM run_metrics WHERE run_id = v.run_id AND key = ?)",),
    "data": ("(SELECT digest FROM run_data WHERE run_id = v.run_id AND key = ?)",),
    "tags": ("(SELECT value FROM version_tags WHERE name = v.name AND version = v.version "
             "AND key = ?)",),
}
# versions_created orders by time; ties (rare: microseconds) are sorted after it.
_DEFAULT_ORDER = "v.created_at DESC, v.name DESC, v.sort_key DESC"
_TIES = "v.name, v.sort_key DESC"
_FETCH = f"{_V} JOIN json_each(?) j ON {_BY_REF.format(r='j.value')} ORDER BY j.key"


class _Compiler:
    """Turns an AST into a SQL condition on ``versions v`` and its bound values."""

    def __init__(self, queries: Queries, text: str, *, limited: bool) -> None:
        self.queries = queries
        self.text = text
        self.limited = limited
        self.params: list[Any] = []
        self.checked: set[tuple[str, str]] = set()
        self.selective = False  # a test every result must pass matches few rows
        self.top = True  # compiling a test every result must pass (not under or/not)

    def fact(self, kind: str, key: str, cond: str, values: list[Any]) -> str:
        """A keyed test, in the form that suits how many rows match it (see _AS_SET)."""
        if self.limited:
            count = self.queries.index.one(
                f"SELECT count(*) FROM (SELECT 1 FROM {_TABLES[kind]} f WHERE f.key = ? "
                f"AND {cond} LIMIT {_FEW})", (key, *values))
            if count is not None and count[0] >= _FEW:
                self.bind(key, *values)
                return _BY_ROW[kind].format(cond=cond)
            self.selective = self.selective or self.top
        self.bind(key, *values)
        return _AS_SET[kind].format(cond=cond)

    def fail(self, message: str, at: Field | Literal, suggestions: list[str] | None = None
             ) -> QueryError:
        return QueryError(message, self.text, at.pos, at.end - at.pos, suggestions or ())

    def node(self, node: Node) -> str:
        if isinstance(node, And):
            # A chain of one operator is one flat list: nested brackets would overflow
            # SQLite's parser stack at about a hundred terms.
            return "(" + " AND ".join(self.node(n) for n in _chain(node, And)) + ")"
        if isinstance(node, (Or, Not)):
            top, self.top = self.top, False
            try:
                if isinstance(node, Not):
                    return f"NOT ({self.node(node.operand)})"
                return "(" + " OR ".join(self.node(n) for n in _chain(node, Or)) + ")"
            finally:
                self.top = top
        if isinstance(node, Compare):
            return self.compare(node.field, node.op, node.value)
        return self.membership(node)

    # -- keys -------------------------------------------------------------------

    def check_key(self, field: Field) -> None:
        """Refuse a key that no record in the store has, suggesting the nearest ones."""
        key = field.key or ""
        if (field.kind, key) in self.checked:
            return
        if self.queries.index.one(_HAS_KEY[field.kind], (key,)) is None:
            known = [r[0] for r in self.queries.index.query(_KEYS[field.kind])]
            close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
            what = {"params": "param", "metrics": "metric", "tags": "tag",
                    "data": "data key"}[field.kind]
            raise self.fail(f"unknown {what} {key!r}: no version in this store has "
                            f"{field.text}", field,
                            [_keyed(field.kind, k) for k in close])
        self.checked.add((field.kind, key))

    # -- values -------------------------------------------------------------------

    def value(self, field: Field, literal: Literal) -> Any:
        """The bound value a literal compares as, for this field."""
        value = literal.value
        kind = field.kind
        if kind == "metrics":
            if isinstance(value, str):
                raise self.fail(f"{field.text} is a number: compare it with a number", literal)
            return float(value)
        if kind == "params":
            return float(value) if isinstance(value, (bool, float)) else value
        if not isinstance(value, str):
            raise self.fail(f"{field.text} is text: compare it with a quoted string",
                            literal)
        if kind == "version":
            from .._versions import parse_version, sort_key

            try:
                return sort_key(parse_version(value))
            except ValueError as exc:
                raise self.fail(str(exc), literal) from None
        if kind == "created_at":
            from .._times import parse_time
            from .packing import pack_time

            try:
                return pack_time(parse_time(value, "created_at").isoformat())
            except ValueError as exc:
                raise self.fail(str(exc), literal) from None
        return value

    # -- comparisons --------------------------------------------------------------

    def bind(self, *values: Any) -> None:
        self.params.extend(values)

    def compare(self, field: Field, op: str, literal: Literal) -> str:
        value = self.value(field, literal)
        sql_op = _SQL_OPS[op]
        if field.kind in _COLUMNS:
            self.bind(value)
            return f"{_COLUMNS[field.kind]} {sql_op} ?"
        if field.kind == "alias":
            if op == "!=":  # aliased, and not by this alias
                self.bind(value)
                return (f"({_ALIASED.format(cond='')} AND NOT "
                        f"{_ALIASED.format(cond=' WHERE alias = ?')})")
            self.bind(value)
            return _ALIASED.format(cond=f" WHERE alias {sql_op} ?")
        self.check_key(field)
        if field.kind == "params":
            column = "f.txt" if isinstance(value, str) else "f.num"
            cond = f"{column} IS NOT ?" if op == "!=" else f"{column} {sql_op} ?"
        else:
            column = {"metrics": "f.value", "data": "f.digest", "tags": "f.value"}[field.kind]
            cond = f"{column} {sql_op} ?"
        return self.fact(field.kind, field.key or "", cond, [value])

    def membership(self, node: In) -> str:
        field = node.field
        values = [self.value(field, v) for v in node.values]
        marks = ", ".join("?" for _ in values)
        if field.kind in _COLUMNS:
            self.bind(*values)
            return f"{_COLUMNS[field.kind]} {'NOT IN' if node.negated else 'IN'} ({marks})"
        if field.kind == "alias":
            self.bind(*values)
            inside = _ALIASED.format(cond=f" WHERE alias IN ({marks})")
            return f"({_ALIASED.format(cond='')} AND NOT {inside})" if node.negated else inside
        self.check_key(field)
        if field.kind == "params":
            nums = [v for v in values if not isinstance(v, str)]
            txts = [v for v in values if isinstance(v, str)]
            parts = []
            if nums:
                parts.append(f"coalesce(f.num IN ({', '.join('?' for _ in nums)}), 0)")
            if txts:
                parts.append(f"coalesce(f.txt IN ({', '.join('?' for _ in txts)}), 0)")
            cond = " OR ".join(parts)
            values = [*nums, *txts]
        else:
            column = {"metrics": "f.value", "data": "f.digest", "tags": "f.value"}[field.kind]
            cond = f"{column} IN ({marks})"
        cond = f"NOT ({cond})" if node.negated else f"({cond})"
        return self.fact(field.kind, field.key or "", cond, values)

    # -- order ----------------------------------------------------------------------

    def order(self, keys: tuple[OrderKey, ...]) -> tuple[list[str], list[Any]]:
        """ORDER BY terms and their bound values: versions lacking a keyed field's value
        come after those with it."""
        terms: list[str] = []
        params: list[Any] = []
        for key in keys:
            field, way = key.field, " DESC" if key.descending else ""
            if field.kind in _COLUMNS:
                terms.append(f"{_COLUMNS[field.kind]}{way}")
                continue
            self.check_key(field)
            for expression in _ORDER_VALUE[field.kind]:
                terms += [f"{expression} IS NULL", f"{expression}{way}"]
                params += [field.key, field.key]
        return terms, params


def _chain(node: Node, op: type[And] | type[Or]) -> list[Node]:
    """The operands of a chain of ``op`` (``a and b and c``), left to right."""
    out: list[Node] = []
    stack: list[Node] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, op):
            stack += [item.right, item.left]
        else:
            out.append(item)
    return out


def _keyed(kind: str, key: str) -> str:
    return f"data.{key}.digest" if kind == "data" else f"{kind}.{key}"


def search(queries: Queries, *, name: str | None, where: Node | None, where_text: str,
           order: tuple[OrderKey, ...], order_text: str, limit: int | None
           ) -> list[ModelVersion]:
    """Live (not deleted) versions matching ``where``, in ``order`` (newest first by
    default), at most ``limit`` of them.

    When the first order key is a keyed field, its fact table drives the query through
    its ``(key, value)`` index, so a LIMIT stops early; the versions without that key
    follow from a second query, in the order of the other keys.
    """
    compiler = _Compiler(queries, where_text, limited=limit is not None)
    conditions = [_LIVE]
    if name is not None:
        conditions.append("v.name = ?")
        compiler.bind(name)
    if where is not None:
        conditions.append(compiler.node(where))
    where_params = compiler.params
    compiler.text = order_text
    if not order:
        return _fetch(queries, _select(conditions, [_DEFAULT_ORDER], limit), [
            *where_params, *_limit(limit)])
    first, rest = order[0], order[1:]
    if limit is None or compiler.selective or first.field.kind in _COLUMNS:
        # Every matching version is read (no limit, or few match): sort them.
        terms, order_params = compiler.order(order)
        return _fetch(queries, _select(conditions, [*terms, _TIES], limit),
                      [*where_params, *order_params, *_limit(limit)])
    terms, order_params = compiler.order(rest)
    compiler.check_key(first.field)
    kind, key = first.field.kind, first.field.key
    if kind == "params" and not first.descending:  # numbers, then text, then neither
        driven = ["o.num IS NULL", "o.num", "o.txt IS NULL", "o.txt"]
    else:
        driven = [f"{c}{' DESC' if first.descending else ''}" for c in _DRIVER_ORDER[kind]]
    sql = _select(conditions, [*driven, *terms, _TIES], limit, join=_DRIVER[kind])
    refs = _refs(queries, sql, [key, *where_params, *order_params, *_limit(limit)])
    if len(refs) < limit:  # (a limit is set here: without one, all were sorted above)
        lacking = [*conditions, f"NOT {_BY_ROW[kind].format(cond='1')}"]
        left = limit - len(refs)
        refs += _refs(queries, _select(lacking, [*terms, _TIES], left),
                      [*where_params, key, *order_params, *_limit(left)])
    return _rows(queries, refs)


def _select(conditions: list[str], order: list[str], limit: int | None, join: str = "") -> str:
    sql = (f"SELECT v.name || '@' || v.version FROM versions v {join} "
           f"WHERE {' AND '.join(conditions)} ORDER BY {', '.join(order)}")
    return sql + (" LIMIT ?" if limit is not None else "")


def _limit(limit: int | None) -> list[int]:
    return [] if limit is None else [limit]


def _refs(queries: Queries, sql: str, params: list[Any]) -> list[str]:
    return [r[0] for r in queries.index.query(sql, params)]


def _fetch(queries: Queries, sql: str, params: list[Any]) -> list[ModelVersion]:
    return _rows(queries, _refs(queries, sql, params))


def _rows(queries: Queries, refs: list[str]) -> list[ModelVersion]:
    """The versions named ``name@version``, in that order, read as ``versions()`` reads
    them."""
    if not refs:
        return []
    return [_version(r) for r in queries.index.query(_FETCH, (json.dumps(refs),))]

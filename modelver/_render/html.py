"""Jupyter HTML for records, lists, diffs and plans: pure functions to escaped HTML.

Everything a user or a store provided (names, tags, params, reasons, paths) goes
through :func:`html.escape`. The markup is self-contained — inline styles only, no
CSS classes to load, no scripts, no links to fetch — and themes-neutral: text keeps
the notebook's colour (``color: inherit``), rules use ``currentColor`` at low
opacity, and no background colour is ever set, so it reads in light and dark themes.

Long lists show their first and last rows with a count of the rows left out;
``to_pandas()`` gives all of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any

from .._records import (
    AliasEvent,
    CodeInfo,
    DataFingerprint,
    Environment,
    Hardware,
    ModelVersion,
    Resources,
    Run,
    Seeds,
)
from .card import card_pairs
from .curves import curves_html, overlay_html
from .text import SHOWN, plan_summary, show_value

if TYPE_CHECKING:
    from .._diff import Diff
    from .._retention import RetentionPlan

__all__ = ["diff_html", "event_html", "history_html", "plan_html", "run_html", "runs_html",
           "version_html", "versions_html"]

#: Rows shown at each end of a long list.
EDGE_ROWS = 25
#: Values longer than this are cut in a cell; the full text is in the cell's tooltip.
MAX_CELL = 120
#: Params or metrics keys shown as their own columns in a list of runs.
MAX_KEY_COLUMNS = 8

_BOX = "color:inherit;font-size:12px;line-height:1.4;margin:2px 0"
_TABLE = "border-collapse:collapse;color:inherit;margin:2px 0 6px 0"
# Key/value tables set their cells' alignment and rules (a notebook's table CSS would
# right-align them); they inherit colour from the table.
_TD = ("text-align:left;padding:1px 10px 1px 0;vertical-align:top;"
       "border-bottom:1px solid rgba(128,128,128,.25)")
_KEY = _TD + ";opacity:.75;white-space:nowrap"
_MUTED = "opacity:.65"
_BADGE = ("display:inline-block;padding:0 6px;margin-left:4px;border:1px solid currentColor;"
          "border-radius:8px;font-size:11px;opacity:.85")
_SUMMARY = "cursor:pointer;font-weight:600;margin:4px 0"

_STATUS = {"succeeded": "✓ succeeded", "failed": "✗ failed", "running": "… running"}


# -- small pieces ------------------------------------------------------------------


def _e(value: object) -> str:
    """Escaped text of any value."""
    return escape(str(value), quote=True)


def _cut(text: str, limit: int = MAX_CELL) -> str:
    """Escaped ``text``, cut to ``limit`` characters with the whole in a tooltip."""
    if len(text) <= limit:
        return _e(text)
    return f'<span title="{_e(text)}">{_e(text[:limit - 1])}…</span>'


def _code(text: str | None, *, short: int | None = None) -> str:
    """A digest or hash in monospace; with ``short``, cut with the whole in a tooltip."""
    if not text:
        return _none()
    shown = text if short is None or len(text) <= short else text[:short] + "…"
    return f'<code title="{_e(text)}" style="color:inherit">{_e(shown)}</code>'


def _none() -> str:
    return f'<span style="{_MUTED}">&ndash;</span>'


def _badge(text: str) -> str:
    return f'<span style="{_BADGE}">{_e(text)}</span>'


def _when(at: datetime | None) -> str:
    if at is None:
        return _none()
    return f'<span title="{_e(at.isoformat())}">{_e(at.strftime("%Y-%m-%d %H:%M:%S"))}</span>'


def _size(n: int | None) -> str:
    """Bytes in binary units: ``1.5 MiB``."""
    if n is None:
        return _none()
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{n:,} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _value_text(value: Any) -> str:
    """Plain text of a param or metric value: numbers short, structures as JSON."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (int, str)):
        return str(value)
    try:
        return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _value(value: Any) -> str:
    return _cut(_value_text(value)) if value is not None else _none()


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table from escaped ``header`` text and cells that are already HTML.

    Cells are left to the notebook's own table style (theme-aware, striped, as for
    pandas frames): a long list stays small without a style repeated in every cell.
    """
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return (f'<table style="{_TABLE}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def _fields(pairs: Iterable[tuple[str, str]]) -> str:
    """A two-column key/value table; keys are escaped here, values are already HTML."""
    rows = "".join(f'<tr><td style="{_KEY}">{_e(k)}</td><td style="{_TD}">{v}</td></tr>'
                   for k, v in pairs)
    return f'<table style="{_TABLE}"><tbody>{rows}</tbody></table>'


def _mapping(values: Mapping[str, Any]) -> str:
    if not values:
        return f'<div style="{_MUTED}">none</div>'
    return _fields((k, _value(v)) for k, v in sorted(values.items()))


def _section(title: str, body: str, *, count: int | None = None, open_: bool = False) -> str:
    """A collapsible ``<details>`` section."""
    label = _e(title) + (f' <span style="{_MUTED};font-weight:400">({count})</span>'
                         if count is not None else "")
    return (f'<details{" open" if open_ else ""} style="margin:2px 0">'
            f'<summary style="{_SUMMARY}">{label}</summary>'
            f'<div style="margin-left:14px">{body}</div></details>')


def _box(title: str, body: str) -> str:
    return (f'<div class="modelver" style="{_BOX}"><div style="font-size:13px;'
            f'margin-bottom:2px">{title}</div>{body}</div>')


def _edges(items: Sequence[Any]) -> tuple[list[Any], int]:
    """The items to show of a long list, and how many are left out in the middle."""
    if len(items) <= 2 * EDGE_ROWS:
        return list(items), 0
    return [*items[:EDGE_ROWS], None, *items[-EDGE_ROWS:]], len(items) - 2 * EDGE_ROWS


def _rows(items: Sequence[Any], width: int, row: Any) -> list[list[str]]:
    shown, hidden = _edges(items)
    out = []
    for item in shown:
        if item is None:
            gap = f'<span style="{_MUTED}">… {hidden:,} more rows (to_pandas() has them all)</span>'
            out.append([gap] + [""] * (width - 1))
        else:
            out.append(row(item))
    return out


# -- model versions ------------------------------------------------------------------


def _tags(tags: Mapping[str, str]) -> str:
    if not tags:
        return _none()
    return " ".join(_badge(f"{k}={v}") for k, v in sorted(tags.items()))


def version_html(mv: ModelVersion) -> str:
    """One model version: its reference, digest, format, size, run, parents and tags."""
    title = f"<strong>{_e(mv.ref)}</strong>"
    if mv.deleted is not None:
        title += _badge("deleted")
    pairs = [
        ("digest", _code(mv.digest)),
        ("format", _e(mv.format)),
        ("size", _size(mv.size)),
        ("run", _code(mv.run_id) if mv.run_id else
         f'<span style="{_MUTED}">registered directly, no run</span>'),
        ("parents", ", ".join(_e(p) for p in mv.parents) or _none()),
        ("tags", _tags(mv.tags)),
        ("created", f"{_when(mv.created_at)} UTC by {_e(mv.created_by or '?')}"),
    ]
    if mv.artifacts:
        pairs.insert(3, ("artifacts", ", ".join(
            f"{_e(k)}: {_e(a.format)} ({_size(a.size)})" for k, a in mv.artifacts.items())))
    if mv.requirements:
        pairs.insert(3, ("needs", ", ".join(f"{_e(m)} {_e(v)}"
                                           for m, v in mv.requirements.items())))
    if mv.reruns:
        pairs.append(("reproduced by", ", ".join(_code(r, short=12) for r in mv.reruns)
                      + f' <span style="{_MUTED}">identical reruns: same inputs, same '
                      "artifact</span>"))
    if mv.reproductions:
        pairs.append(("rebuilt by", ", ".join(_code(r, short=12) for r in mv.reproductions)
                      + f' <span style="{_MUTED}">runs of modelver.reproduce; each run\'s '
                      "reproduction says identical or not</span>"))
    if mv.deleted is not None:
        d = mv.deleted
        pairs.append(("deleted", f"{_when(d.at)} UTC by {_e(d.by)}: {_e(d.reason)}"
                      + (f" ({_e(d.rule)})" if d.rule else "")))
    return _box(title, _fields([*pairs, *card_pairs(mv)]))


def versions_html(versions: Sequence[ModelVersion]) -> str:
    """A table of versions, oldest first as listed; long lists show both ends."""
    if not versions:
        return _box("<strong>no versions</strong>", "")
    names = sorted({mv.name for mv in versions})
    title = (f"<strong>{_e(names[0]) if len(names) == 1 else f'{len(names)} models'}</strong>"
             f' <span style="{_MUTED}">{len(versions):,} version'
             f'{"s" if len(versions) != 1 else ""}</span>')
    header = ["name", "version", "digest", "format", "size", "created (UTC)", "by", "run",
              "parents", "tags"]

    def row(mv: ModelVersion) -> list[str]:
        version = _e(mv.version) + (_badge("deleted") if mv.deleted is not None else "")
        return [_e(mv.name), f"<strong>{version}</strong>", _code(mv.digest, short=19),
                _e(mv.format), _size(mv.size), _when(mv.created_at), _e(mv.created_by),
                _code(mv.run_id, short=8), ", ".join(_e(p) for p in mv.parents) or _none(),
                _tags(mv.tags)]

    return _box(title, _table(header, _rows(versions, len(header), row)))


# -- runs ----------------------------------------------------------------------------


def _status(status: str) -> str:
    return _badge(_STATUS.get(status, status))


def _data(data: Mapping[str, DataFingerprint]) -> str:
    rows = [[_e(k), _e(fp.kind), _code(fp.digest, short=19), _size(fp.size),
             (_badge("type only: content not compared") if fp.method == "type-only"
              else _e(fp.method) + ("" if fp.stable else " (unstable)")),
             _cut(fp.source or "") or _none()]
            for k, fp in sorted(data.items())]
    return _table(["key", "kind", "digest", "size", "method", "source"], rows)


def _code_info(c: CodeInfo) -> str:
    where = ".".join(p for p in (c.module, c.function) if p) or None
    git = _none()
    if c.git_commit or c.git_branch:
        git = (_code(c.git_commit, short=12) + f" on {_e(c.git_branch or 'detached HEAD')}"
               + (_badge("dirty") if c.git_dirty else ""))
    pairs = [
        ("function", _e(where) if where else _none()),
        ("source hash", _code(c.function_hash, short=23) if c.function_hash else
         f"{_code(c.bytecode_hash, short=23)} (bytecode, Python {_e(c.python or '?')})"),
        ("module hash", _code(c.module_hash, short=23)),
        ("file", _cut(c.source_file) if c.source_file else _none()),
        ("git", git),
        ("remote", _cut(c.git_remote) if c.git_remote else _none()),
        ("uncommitted diff", _code(c.diff_digest, short=23) if c.diff_digest else _none()),
    ]
    if c.closure_hash:
        pairs.insert(2, ("closure hash", _code(c.closure_hash, short=23)))
    if c.user_code:
        items = "".join(f"<div>{_e(k)} {_code(v, short=19)}</div>" for k, v in
                        sorted(c.user_code.items()))
        pairs.insert(2, (f"user code reached ({len(c.user_code)})", items))
    if not c.stable:
        pairs.append(("stable", "no: only bytecode could be hashed"))
    return _fields(pairs)


def _environment(env: Environment) -> str:
    pairs = [("python", f"{_e(env.python)} ({_e(env.implementation)})"),
             ("platform", _e(env.platform)),
             ("packages", f"{len(env.packages):,} {_code(env.packages_hash, short=19)}")]
    if env.variables:
        pairs.append(("variables", _mapping(env.variables)))
    listing = ", ".join(f"{_e(k)}&nbsp;{_e(v)}" for k, v in sorted(env.packages.items()))
    packages = _section("installed packages", f"<div>{listing}</div>",
                        count=len(env.packages)) if env.packages else ""
    return _fields(pairs) + packages


def _hardware(hw: Hardware) -> str:
    cores = ", ".join(f"{n} {what}" for n, what in ((hw.cores_physical, "physical"),
                                                    (hw.cores_logical, "logical"))
                      if n is not None)
    pairs = [("cpu", _e(hw.cpu or "unknown") + (f" ({_e(hw.arch)})" if hw.arch else "")),
             ("cores", _e(cores) if cores else _none()),
             ("frequency", _e(f"{hw.cpu_freq_mhz:,.0f} MHz") if hw.cpu_freq_mhz else _none()),
             ("memory", _size(hw.memory_total))]
    if hw.gpus:
        gpus = _table(["#", "name", "memory", "driver", "CUDA", "capability", "uuid"], [
            [_e(g.index if g.index is not None else ""), _e(g.name), _size(g.memory_total),
             _e(g.driver_version or ""), _e(g.cuda_version or ""),
             _e(g.compute_capability or ""), _code(g.uuid, short=12)] for g in hw.gpus])
        pairs.append(("gpus", gpus))
    else:
        pairs.append(("gpus", _e(hw.gpu_status)))
    if hw.cuda_visible_devices is not None:
        pairs.append(("CUDA_VISIBLE_DEVICES", _e(hw.cuda_visible_devices)))
    return _fields(pairs)


def _resources(r: Resources) -> str:
    return _fields([("wall", _e(f"{r.wall_s:.3f} s")), ("cpu", _e(f"{r.cpu_s:.3f} s")),
                    ("peak RSS", _size(r.peak_rss)),
                    ("peak GPU memory", _size(r.peak_gpu_memory))])


def _seeds(seeds: Seeds) -> str:
    if seeds.seed is None:
        return "not seeded (seed=None)"
    text = _e(f"{seeds.seed} → {', '.join(seeds.seeded) or 'nothing seeded'}")
    return text + "".join(f"<div>not seeded: {_e(lib)}: {_e(why)}</div>"
                          for lib, why in sorted(seeds.not_seeded.items()))


def run_html(run: Run) -> str:
    """One run: outcome and timing up top, then a collapsible section per captured part."""
    title = (f"<strong>run {_e(run.id[:12])}</strong> of <strong>{_e(run.name)}</strong>"
             + _status(run.status))
    wall = f"{run.resources.wall_s:.3f} s" if run.resources else None
    top = [("version", _e(run.version) if run.version else _none()),
           ("started", f"{_when(run.started_at)} UTC"),
           ("ended", f"{_when(run.ended_at)} UTC" if run.ended_at else _none()),
           ("wall time", _e(wall) if wall else _none())]
    if run.bump_rule:
        top.append(("bump rule", _e(run.bump_rule)))
    if run.parents:
        top.append(("parents", ", ".join(_e(p) for p in run.parents)))
    if run.error:
        top.append(("error", f"<code style=\"color:inherit\">{_cut(run.error, 400)}</code>"))
    seeds = run.seeds
    parts = [
        _section("params", _mapping(run.params), count=len(run.params),
                 open_=len(run.params) <= 12),
        _section("metrics", _mapping(run.metrics) + curves_html(run.metric_series),
                 count=len(run.metrics), open_=len(run.metrics) <= 12),
        _section("data", _data(run.data) if run.data else f'<div style="{_MUTED}">none</div>',
                 count=len(run.data), open_=0 < len(run.data) <= 6),
        _section("code", _code_info(run.code) if run.code else _none()),
        _section("seeds", _seeds(seeds)),
        _section("environment", _environment(run.environment) if run.environment
                 else _none()),
        _section("hardware", _hardware(run.hardware) if run.hardware else _none()),
        _section("resources", _resources(run.resources) if run.resources else _none()),
    ]
    if run.warnings:
        parts.append(_section("capture warnings", "".join(
            f"<div>{_cut(w, 400)}</div>" for w in run.warnings), count=len(run.warnings),
            open_=True))
    return _box(title, _fields(top) + "".join(parts))


def _key_columns(runs: Sequence[Run], attr: str) -> list[str] | None:
    """The union of ``attr`` keys if few enough to be columns, else None."""
    keys = sorted({k for r in runs for k in getattr(r, attr)})
    return keys if len(keys) <= MAX_KEY_COLUMNS else None


def _inline(values: Mapping[str, Any]) -> str:
    return _cut(", ".join(f"{k}={_value_text(v)}" for k, v in sorted(values.items()))) \
        if values else _none()


def runs_html(runs: Sequence[Run]) -> str:
    """A table of runs with params and metrics as columns (when there are few keys)."""
    if not runs:
        return _box("<strong>no runs</strong>", "")
    names = sorted({r.name for r in runs})
    failed = sum(r.status == "failed" for r in runs)
    title = (f"<strong>{_e(names[0]) if len(names) == 1 else f'{len(names)} models'}</strong>"
             f' <span style="{_MUTED}">{len(runs):,} run{"s" if len(runs) != 1 else ""}'
             + (f", {failed} failed" if failed else "") + "</span>")
    params, metrics = _key_columns(runs, "params"), _key_columns(runs, "metrics")
    header = ["run", "name", "status", "version", "started (UTC)", "wall"]
    header += [f"param.{k}" for k in params] if params is not None else ["params"]
    header += [f"metric.{k}" for k in metrics] if metrics is not None else ["metrics"]

    def cells(values: Mapping[str, Any], keys: list[str] | None) -> list[str]:
        if keys is None:
            return [_inline(values)]
        return [_value(values[k]) if k in values else _none() for k in keys]

    def row(r: Run) -> list[str]:
        wall = f"{r.resources.wall_s:.2f} s" if r.resources else ""
        return [_code(r.id, short=8), _e(r.name), _status(r.status),
                _e(r.version.partition("@")[2] or r.version) if r.version else _none(),
                _when(r.started_at), _e(wall), *cells(r.params, params),
                *cells(r.metrics, metrics)]

    return _box(title, _table(header, _rows(runs, len(header), row)))


# -- alias events ----------------------------------------------------------------------


def _move(e: AliasEvent) -> str:
    old = _e(e.from_version) if e.from_version else "&ndash;"
    return f"{old} → <strong>{_e(e.to_version)}</strong>"


def event_html(e: AliasEvent) -> str:
    """One alias move: ``fraud@prod: 0.1.0 → 0.2.0``, its kind, who, when and why."""
    title = f"<strong>{_e(e.name)}@{_e(e.alias)}</strong>: {_move(e)}{_badge(e.kind)}"
    pairs = [("at", f"{_when(e.at)} UTC"), ("by", _e(e.by)),
             ("reason", _cut(e.reason, 400) if e.reason else _none())]
    if e.run_id:
        pairs.append(("run", _code(e.run_id, short=12)))
    return _box(title, _fields(pairs))


def history_html(events: Sequence[AliasEvent]) -> str:
    """The moves of an alias, oldest first, and where it points now."""
    if not events:
        return _box("<strong>no alias moves</strong>", "")
    last = events[-1]
    pairs = sorted({(e.name, e.alias) for e in events})
    subject = f"{pairs[0][0]}@{pairs[0][1]}" if len(pairs) == 1 else f"{len(pairs)} aliases"
    title = (f"<strong>{_e(subject)}</strong>"
             + (f" → <strong>{_e(last.to_version)}</strong>" if len(pairs) == 1 else "")
             + f' <span style="{_MUTED}">{len(events):,} move'
             f'{"s" if len(events) != 1 else ""}</span>')
    header = ["at (UTC)", "kind", "from → to", "by", "reason"]
    if len(pairs) > 1:
        header.insert(0, "alias")

    def row(e: AliasEvent) -> list[str]:
        cells = [_when(e.at), _e(e.kind), _move(e), _e(e.by),
                 _cut(e.reason) if e.reason else _none()]
        return [_e(f"{e.name}@{e.alias}"), *cells] if len(pairs) > 1 else cells

    return _box(title, _table(header, _rows(events, len(header), row)))


# -- diffs and retention plans ------------------------------------------------------

# Their cells carry a rule each, without the key/value tables' top alignment.
_RULED = "text-align:left;padding:1px 10px 1px 0;border-bottom:1px solid rgba(128,128,128,.25)"


def diff_html(d: Diff) -> str:
    """A table of the changes (section, mark, key, old, new, delta; snapshot files
    too), then the source diff and the diff of the git diffs."""
    rows = []
    for name, s in [(s.name, s) for s in d.sections] + [(f"snapshot {f.name}", f)
                                                        for f in d.snapshots]:
        for mark, changes in (("+", s.added), ("-", s.removed), ("~", s.changed)):
            for c in changes:
                delta = "" if c.delta is None else f"{c.delta:+.6g}"
                cells = (name, mark, c.key, show_value(c.old), show_value(c.new), delta)
                rows.append("<tr>" + "".join(f'<td style="{_RULED}">{escape(x)}</td>'
                                             for x in cells) + "</tr>")
    head = "".join(f'<th style="{_RULED}">{escape(x)}</th>' for x in (
        "section", "", "key", d.a.ref, d.b.ref, "delta"))
    body = "".join(rows) or f'<tr><td style="{_RULED}" colspan="6">no differences</td></tr>'
    notes = "".join(f'<div style="opacity:.75">{escape(n)}</div>' for n in d.notes)
    src = overlay_html(d.curves, d.a.ref, d.b.ref) + "".join(
        f'<pre style="color:inherit">{escape(t)}</pre>' for t in (d.source_diff, d.git_diff) if t)
    return (f'<div style="color:inherit;font-size:12px"><table style="border-collapse:'
            f'collapse;color:inherit"><tr>{head}</tr>{body}</table>{notes}{src}</div>')


def plan_html(plan: RetentionPlan) -> str:
    """The plan's summary, then a table of deletions and kept versions with why."""
    rows = [(f"delete {d.ref}", f"{d.size:,}", d.rule) for d in plan.deletions[:SHOWN]]
    rows += [(f"keep {ref}", "", why) for ref, why in plan.kept[:SHOWN]]
    body = "".join("<tr>" + "".join(f'<td style="{_RULED}">{escape(x)}</td>' for x in row)
                   + "</tr>" for row in rows)
    summary = plan_summary(plan).splitlines()[0]  # a tag key may hold a line break
    return (f'<div style="color:inherit;font-size:12px"><div>{escape(summary)}</div>'
            f'<table style="border-collapse:collapse;color:inherit">{body}</table></div>')

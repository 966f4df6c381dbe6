"""The audit report, one self-contained HTML page, and a reproduction's HTML.

The page is meant to be attached to a ticket and read offline, years later: one file
with an inline stylesheet (light and dark), the lineage drawn as inline SVG, and no
scripts, fonts, images or links to fetch. Every value from a record goes through
:func:`html.escape`; long texts (a diff, a source file) stay whole in ``<pre>`` blocks.
Sections are plain ``<section>`` elements with ids, listed in a table of contents, so
the page prints whole and a browser's find sees everything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._records import DataFingerprint, ModelVersion, Run
from .card import governance_html
from .curves import curves_html
from .html import (
    _code,
    _code_info,
    _fields,
    _hardware,
    _mapping,
    _none,
    _resources,
    _seeds,
    _size,
    _table,
    _value,
    _when,
)
from .html import _e as e
from .svg import lineage_svg

if TYPE_CHECKING:
    from .._audit import Audit
    from .._reproduce import Reproduction

__all__ = ["audit_html", "audit_text", "reproduction_html"]

_STYLE = """
:root { color-scheme: light dark; --fg: #1f2328; --bg: #ffffff; --muted: #59636e;
  --rule: #d1d9e0; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --code: #f6f8fa; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9198a1; --rule: #3d444d;
    --ok: #3fb950; --bad: #f85149; --warn: #d29922; --code: #151b23; } }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg);
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 0 0 8px; }
h3 { font-size: 15px; margin: 12px 0 4px; }
section { border-top: 1px solid var(--rule); padding: 16px 0; }
.meta, .muted { color: var(--muted); }
nav ol { columns: 3; margin: 8px 0; padding-left: 20px; }
a { color: inherit; }
table { border-collapse: collapse; margin: 4px 0 8px; }
th, td { text-align: left; vertical-align: top; padding: 3px 12px 3px 0;
  border-bottom: 1px solid var(--rule); }
th { font-weight: 600; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 12px; }
pre { background: var(--code); padding: 10px; overflow-x: auto; white-space: pre;
  border: 1px solid var(--rule); border-radius: 6px; max-height: 600px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0; }
.card { border: 1px solid var(--rule); border-radius: 8px; padding: 8px 12px;
  min-width: 200px; flex: 1; }
.card b { display: block; font-size: 12px; color: var(--muted); font-weight: 500; }
.ok { color: var(--ok); } .bad { color: var(--bad); } .warn { color: var(--warn); }
.add { color: var(--ok); } .del { color: var(--bad); } .hunk { color: var(--muted); }
.lineage { overflow-x: auto; border: 1px solid var(--rule); border-radius: 6px;
  padding: 6px; }
tr.this td { font-weight: 600; }
@media print { pre { max-height: none; white-space: pre-wrap; } .lineage { overflow: visible; } }
"""

_SECTIONS = [("summary", "Summary"), ("version", "Version and artifacts"),
             ("card", "Model card and governance"), ("lineage", "Lineage"),
             ("code", "Code"), ("data", "Data"),
             ("params", "Params and seeds"), ("metrics", "Metrics"),
             ("environment", "Environment"), ("hardware", "Hardware and resources"),
             ("aliases", "Alias history"), ("retention", "Holds and retention"),
             ("verify", "Verify"), ("reproductions", "Reproductions")]


def _section(key: str, body: str) -> str:
    title = dict(_SECTIONS)[key]
    return f'<section id="{key}"><h2>{e(title)}</h2>{body}</section>'


def _muted(text: str) -> str:
    return f'<p class="muted">{e(text)}</p>'


def _pre_diff(text: str) -> str:
    """A unified diff with added, removed and hunk lines marked."""
    out = []
    for line in text.splitlines():
        cls = ("add" if line.startswith("+") and not line.startswith("+++") else
               "del" if line.startswith("-") and not line.startswith("---") else
               "hunk" if line.startswith("@@") else "")
        out.append(f'<span class="{cls}">{e(line)}</span>' if cls else e(line))
    return "<pre>" + "\n".join(out) + "</pre>"


def _verdict(r: Run) -> tuple[str, str]:
    outcome = r.reproduction or {}
    if outcome.get("identical"):
        return "identical", "ok"
    return "different", "bad"


# -- sections -------------------------------------------------------------------------


def _summary(a: Audit) -> str:
    mv = a.version
    ok = ('<span class="ok">OK</span>' if a.verify.ok else
          f'<span class="bad">{len(a.verify.problems)} problem(s)</span>')
    counts = [_verdict(r)[0] for r in a.reproductions]
    if counts:
        same = counts.count("identical")
        cls = "ok" if same == len(counts) else "warn" if same else "bad"
        rebuilt = (f'<span class="{cls}">{same} of {len(counts)} identical</span>'
                   f" (last: {e(counts[-1])})")
    else:
        rebuilt = '<span class="muted">never rebuilt</span>'
    aliases = ", ".join(e(f"{mv.name}@{x}") for x in a.aliases) or '<span class="muted">none'\
        "</span>"
    state = ('<span class="bad">artifact deleted</span>' if mv.deleted is not None else
             '<span class="ok">artifact present</span>')
    cards = [("verify (chain and blobs)", ok), ("reproduction", rebuilt),
             ("aliases now", aliases), ("status", state),
             ("retention", e(_retention_text(a)))]
    return "<div class=\"cards\">" + "".join(
        f'<div class="card"><b>{e(k)}</b>{v}</div>' for k, v in cards) + "</div>"


def _retention_text(a: Audit) -> str:
    d = a.version.deleted
    if d is not None:
        return (f"deleted by retention on {d.at:%Y-%m-%d %H:%M} UTC by {d.by}: {d.reason}"
                + (f" ({d.rule})" if d.rule else "") + "; the record stays")
    if a.retention:
        return "kept whatever the policy: " + "; ".join(a.retention)
    return ("not held and no alias points at it: a retention policy may delete its "
            "artifact (its record stays)")


def _artifacts(mv: ModelVersion) -> str:
    pairs = [("reference", e(mv.ref)), ("digest", _code(mv.digest)), ("format", e(mv.format)),
             ("size", _size(mv.size)),
             ("run", _code(mv.run_id) if mv.run_id else "registered directly, no run"),
             ("parents", ", ".join(e(p) for p in mv.parents) or _none()),
             ("tags", _mapping(mv.tags) if mv.tags else _none()),
             ("created", f"{_when(mv.created_at)} UTC by {e(mv.created_by or '?')}"),
             ("needs", ", ".join(f"{e(m)} {e(v)}" for m, v in mv.requirements.items())
              or _none())]
    body = _fields(pairs)
    if mv.artifacts:
        body += "<h3>Bundle members</h3>" + _table(
            ["member", "format", "size", "digest"],
            [[e(k), e(x.format), _size(x.size), _code(x.digest)]
             for k, x in sorted(mv.artifacts.items())])
    if mv.blobs:
        body += f"<h3>Blobs ({len(mv.blobs)})</h3>" + "".join(
            f"<div>{_code(b)}</div>" for b in mv.blobs)
    return body


def _lineage(a: Audit) -> str:
    graph = a.lineage
    up = set(graph.upstream().nodes)

    def relation(mv: ModelVersion) -> str:
        if mv.ref == graph.root:
            return "this version"
        return "ancestor" if mv.ref in up else "descendant"

    rows = [[e(relation(mv)), e(mv.ref) + (' <span class="bad">deleted</span>'
                                          if mv.deleted is not None else ""),
             _code(mv.digest, short=23), _when(mv.created_at), e(mv.created_by),
             ", ".join(e(p) for p in mv.parents) or _none()]
            for mv in graph.versions()]
    return (f'<div class="lineage">{lineage_svg(graph)}</div>'
            '<p class="muted">datasets → training runs → model versions; dashed edges '
            "join parent versions to their children.</p><h3>Versions in the graph</h3>"
            + _table(["relation", "version", "digest", "created (UTC)", "by", "parents"],
                     rows))


def _code_section(a: Audit) -> str:
    run = a.run
    if run is None or run.code is None:
        return _muted("No code was captured: the version was registered outside a run.")
    c = run.code
    body = _code_info(c)
    if c.diff_digest:
        body += "<h3>Uncommitted diff (applied on top of the commit)</h3>" + (
            _pre_diff(a.diff) if a.diff is not None else
            '<p class="bad">the stored diff cannot be read (see Verify)</p>')
    elif c.git_commit:
        body += _muted("The working tree was clean at the commit.")
    if a.source is not None:
        body += "<h3>Source of the training function's file</h3><pre>" + e(a.source) + "</pre>"
    return body


def _data(run: Run | None) -> str:
    if run is None or not run.data:
        return _muted("No data inputs were recorded.")

    def row(key: str, fp: DataFingerprint) -> list[str]:
        return [e(key), e(fp.kind), _code(fp.digest), _size(fp.size), e(fp.method),
                _code(fp.snapshot) if fp.snapshot else '<span class="muted">no snapshot'
                "</span>", e(fp.source or "")]

    return _table(["key", "kind", "digest", "size", "method", "snapshot", "source"],
                  [row(k, fp) for k, fp in sorted(run.data.items())])


def _params(run: Run | None) -> str:
    if run is None:
        return _muted("No run.")
    return (_mapping(run.params) + "<h3>Seeds</h3>" + f"<div>{_seeds(run.seeds)}</div>")


def _environment(run: Run | None) -> str:
    env = run.environment if run is not None else None
    if env is None:
        return _muted("No environment was captured.")
    pairs = [("python", f"{e(env.python)} ({e(env.implementation)})"),
             ("platform", e(env.platform)), ("executable", e(env.executable or "")),
             ("packages hash", _code(env.packages_hash))]
    if env.variables:
        pairs.append(("variables", _mapping(env.variables)))
    return (_fields(pairs) + f"<h3>Installed packages ({len(env.packages)})</h3>"
            + _table(["package", "version"],
                     [[e(k), e(v)] for k, v in sorted(env.packages.items())]))


def _hardware_section(run: Run | None) -> str:
    if run is None or run.hardware is None:
        return _muted("No hardware was captured.")
    body = _hardware(run.hardware)
    if run.resources is not None:
        body += "<h3>Resources used</h3>" + _resources(run.resources)
    return body


def _aliases(a: Audit) -> str:
    if not a.alias_history:
        return _muted(f"{a.version.name} has never had an alias.")
    v = a.version.version
    rows = []
    for ev in a.alias_history:
        this = v in (ev.to_version, ev.from_version)
        old = e(ev.from_version) if ev.from_version else _none()
        cells = [e(ev.alias), f"{old} → {e(ev.to_version)}",
                 e(ev.kind), _when(ev.at), e(ev.by), e(ev.reason or "")]
        rows.append(("this" if this else "", cells))
    head = "".join(f"<th>{e(h)}</th>" for h in
                   ("alias", "move", "kind", "at (UTC)", "by", "reason"))
    body = "".join(f'<tr class="{cls}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
                   for cls, cells in rows)
    return (f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            + _muted(f"Every move of every alias of {a.version.name}, oldest first; moves "
                     f"to or from {v} are in bold."))


def _retention(a: Audit) -> str:
    holds = (_table(["reason", "since (UTC)", "by"],
                    [[e(h.reason), _when(h.at), e(h.by)] for h in a.holds])
             if a.holds else _muted("No hold on this version."))
    return "<h3>Holds</h3>" + holds + f"<h3>Retention</h3><p>{e(_retention_text(a))}</p>"


def _verify(a: Audit) -> str:
    r = a.verify
    pairs = [("result", '<span class="ok">OK</span>' if r.ok else
              f'<span class="bad">{len(r.problems)} problem(s)</span>'),
             ("log entries checked", e(f"{r.entries:,} (the {a.version.name} chain)")),
             ("blobs re-hashed", e(f"{r.blobs:,}")), ("chain head", _code(r.head))]
    body = _fields(pairs)
    if r.problems:
        body += _table(["kind", "where", "detail"],
                       [[e(p.kind), e(p.where), e(p.detail)] for p in r.problems])
    return body


def _reproductions(a: Audit) -> str:
    if not a.reproductions:
        return _muted(f"{a.ref} was never rebuilt; `modelver reproduce {a.ref}` does it.")
    rows = []
    for r in a.reproductions:
        verdict, cls = _verdict(r)
        out = r.reproduction or {}
        deltas = out.get("metric_deltas") or {}
        changed = "; ".join(f"{k}: {d.get('recorded')} → {d.get('now')}"
                            for k, d in sorted(deltas.items())
                            if d.get("recorded") != d.get("now"))
        rows.append([_code(r.id, short=12), _when(r.started_at),
                     f'<span class="{cls}">{e(verdict)}</span>',
                     _code(out.get("digest"), short=23), e(changed) or "as recorded",
                     "<br>".join(e(d) for d in out.get("differences") or ()) or "none",
                     e(f"{out.get('wall_s', 0):.2f} s")])
    return _table(["run", "at (UTC)", "result", "artifact", "metric changes",
                   "environment and hardware differences", "took"], rows)


# -- pages ------------------------------------------------------------------------------


def audit_html(a: Audit) -> str:
    """The audit as one self-contained HTML page."""
    run = a.run
    toc = "".join(f'<li><a href="#{k}">{e(t)}</a></li>' for k, t in _SECTIONS)
    sections = [
        _section("summary", _summary(a)),
        _section("version", _artifacts(a.version)),
        _section("card", governance_html(a.version, a.protections, a.approvals)),
        _section("lineage", _lineage(a)),
        _section("code", _code_section(a)),
        _section("data", _data(run)),
        _section("params", _params(run)),
        _section("metrics", _mapping(run.metrics) + curves_html(run.metric_series)
                 if run is not None else _muted("No run.")),
        _section("environment", _environment(run)),
        _section("hardware", _hardware_section(run)),
        _section("aliases", _aliases(a)),
        _section("retention", _retention(a)),
        _section("verify", _verify(a)),
        _section("reproductions", _reproductions(a)),
    ]
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="generator" content="modelver {e(a.modelver_version)}">'
            f"<title>Audit of {e(a.ref)}</title><style>{_STYLE}</style></head><body><main>"
            f"<header><h1>Audit of {e(a.ref)}</h1><p class=\"meta\">generated "
            f"{_when(a.generated_at)} UTC by {e(a.generated_by)} from {e(a.store)} with "
            f"modelver {e(a.modelver_version)}</p></header>"
            f'<nav aria-label="contents"><ol>{toc}</ol></nav>'
            + "".join(sections) + "</main></body></html>\n")


def audit_text(a: Audit) -> str:
    """A few lines: what was audited and what the page says up top."""
    verify = "OK" if a.verify.ok else f"{len(a.verify.problems)} problem(s)"
    lines = [f"audit of {a.ref}", f"  digest        {a.version.digest}",
             f"  verify        {verify} ({a.verify.entries} entries, {a.verify.blobs} blobs)",
             f"  aliases now   {', '.join(a.aliases) or 'none'}",
             f"  alias moves   {len(a.alias_history)}",
             f"  holds         {len(a.holds)}",
             "  protected     " + (", ".join(f"{p.alias} ({p.approvals} approvals)"
                                           for p in a.protections) or "none")]
    lines.append(f"  retention     {_retention_text(a)}")
    verdicts = [_verdict(r)[0] for r in a.reproductions]
    lines.append(f"  reproductions {len(verdicts)}"
                 + (f" ({verdicts.count('identical')} identical)" if verdicts else ""))
    lines += [f"  problem       {p}" for p in a.verify.problems]
    return "\n".join(lines)


def reproduction_html(r: Reproduction) -> str:
    """Jupyter: a reproduction's verdict, digests, metric deltas and differences."""
    colour = "#1a7f37" if r.identical else "#cf222e"
    title = (f"<strong>{e(r.ref)}</strong> <strong style=\"color:{colour}\">"
             f"{e(r.status.upper())}</strong>")
    pairs: list[tuple[str, str]] = [("artifact", _code(r.digest)),
                                    ("recorded", _code(r.expected)), ("code", e(r.code))]
    pairs += [(f"data {k}", e(v)) for k, v in sorted(r.data.items())]
    pairs += [(f"metric {k}", f"{_value(d.get('recorded'))} → {_value(d.get('now'))}")
              for k, d in sorted(r.metric_deltas.items())]
    pairs.append(("differences", "<br>".join(e(d) for d in r.differences) or "none"))
    took = f"{r.wall_s:.2f} s" + (f" (training {r.train_s:.2f} s)" if r.train_s else "")
    pairs += [("took", e(took)), ("run", _code(r.run_id, short=12))]
    return (f'<div style="color:inherit;font-size:12px">{title}{_fields(pairs)}</div>')

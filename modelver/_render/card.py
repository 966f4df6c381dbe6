"""A version's model card (its description) and governance, drawn as escaped HTML.

A description is Markdown text written by people, so it is drawn as a small, safe
subset: headings, paragraphs, bullet lists, fenced code blocks, inline ``code`` and
``**bold**``. Every character is escaped *before* any of that markup is added, so no
tag, attribute or entity the author wrote reaches the page as HTML: a description
can never run a script or load anything. Everything else is shown as plain text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from html import escape

from .._records import Annotation, Approval, ModelVersion, Protection

__all__ = ["card_html", "card_pairs", "governance_html"]

_HEADING = re.compile(r"(#{1,6})\s+(.*)")
_ITEM = re.compile(r"[-*+]\s+(.*)")
_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")
_CARD = "margin:2px 0;max-width:80ch"
_PRE = "white-space:pre-wrap;margin:4px 0"


# Small pieces of its own: :mod:`.html` draws a version with this module's rows.


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _none() -> str:
    return '<span style="opacity:.65">&ndash;</span>'


def _when(at: datetime) -> str:
    return f'<span title="{_e(at.isoformat())}">{_e(at.strftime("%Y-%m-%d %H:%M:%S"))}</span>'


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _inline(text: str) -> str:
    """Escaped text with ``code`` and **bold** spans (their content escaped too)."""
    out = _CODE.sub(r"<code>\1</code>", _e(text))
    return _BOLD.sub(r"<strong>\1</strong>", out)


def card_html(text: str) -> str:
    """A description's Markdown subset as HTML, every character of it escaped first."""
    blocks: list[str] = []
    para: list[str] = []
    items: list[str] = []
    code: list[str] | None = None

    def flush() -> None:
        if para:
            blocks.append(f'<p style="margin:4px 0">{_inline(" ".join(para))}</p>')
            para.clear()
        if items:
            blocks.append('<ul style="margin:4px 0">'
                          + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
            items.clear()

    for line in text.splitlines():
        stripped = line.strip()
        if code is not None:
            if stripped.startswith("```"):
                blocks.append(f'<pre style="{_PRE}"><code>{_e(chr(10).join(code))}</code></pre>')
                code = None
            else:
                code.append(line)
            continue
        heading, item = _HEADING.fullmatch(stripped), _ITEM.fullmatch(stripped)
        if stripped.startswith("```"):
            flush()
            code = []
        elif heading:
            flush()
            level = min(len(heading[1]) + 2, 6)  # the page's own headings come first
            blocks.append(f'<h{level} style="margin:6px 0 2px">{_inline(heading[2])}'
                          f"</h{level}>")
        elif item:
            if para:
                flush()
            items.append(_inline(item[1]))
        elif not stripped:
            flush()
        else:
            if items:
                flush()
            para.append(stripped)
    if code is not None:  # an unclosed fence: the rest is code
        blocks.append(f'<pre style="{_PRE}"><code>{_e(chr(10).join(code))}</code></pre>')
    flush()
    return f'<div class="model-card" style="{_CARD}">{"".join(blocks)}</div>'


def _tag_changes(note: Annotation) -> str:
    return ", ".join(_e(f"{k}={v}") if v is not None else _e(f"-{k}")
                     for k, v in sorted(note.tags.items()))


def card_pairs(mv: ModelVersion) -> list[tuple[str, str]]:
    """The rows a version's HTML gains from its annotations: description, annotations."""
    if not mv.annotations:
        return []
    last = mv.annotations[-1]
    pairs = [("annotations", f"{len(mv.annotations)}, latest {_when(last.at)} UTC by "
              f"{_e(last.by)}")]
    if mv.description is not None:
        pairs.insert(0, ("description", card_html(mv.description)))
    return pairs


def governance_html(mv: ModelVersion, protections: Sequence[Protection],
                    approvals: Sequence[Approval]) -> str:
    """The audit's model card section: the description, every annotation of the version,
    the model's protected aliases and every approval recorded for them."""
    body = "<h3>Description</h3>" + (card_html(mv.description) if mv.description else
                                      '<p class="muted">No description.</p>')
    notes = [[_when(n.at), _e(n.by), _e("set" if n.description else "cleared")
              if n.description is not None else _none(), _tag_changes(n) or _none()]
             for n in mv.annotations]
    body += "<h3>Annotations</h3>" + (
        _table(["at (UTC)", "by", "description", "tag changes"], notes) if notes else
        '<p class="muted">Never annotated.</p>')
    guards = [[_e(p.alias), _e(str(p.approvals)), _when(p.at), _e(p.by)] for p in protections]
    body += "<h3>Protected aliases</h3>" + (
        _table(["alias", "approvals a move needs", "since (UTC)", "by"], guards) if guards
        else f'<p class="muted">No alias of {_e(mv.name)} is protected.</p>')
    oks = [[_e(a.alias), _e(a.version), _when(a.at), _e(a.by), _e(a.reason or "")]
           for a in approvals]
    body += "<h3>Approvals</h3>" + (
        _table(["alias", "version", "at (UTC)", "by", "reason"], oks) if oks else
        f'<p class="muted">No approval recorded for {_e(mv.name)}.</p>')
    return body + ('<p class="muted">A protected alias moves only with that many approvals '
                   "of the target by users other than the mover; a move uses them up.</p>")

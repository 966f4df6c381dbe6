"""Rendering in one place: the text, HTML and graph drawings of records and results.

The drawings are pure functions from values to text, in this package's modules:

* :mod:`modelver._render.html`: Jupyter HTML of records, lists, diffs, retention plans;
* :mod:`modelver._render.text`: the plain text of diffs, plans and reports (``str(x)``);
* :mod:`modelver._render.lineage`: a lineage graph as a text tree, DOT, Mermaid, HTML
  and networkx;
* :mod:`modelver._render.svg`: a lineage graph as SVG, laid out in Python;
* :mod:`modelver._render.audit`: the audit report (one self-contained HTML page) and a
  reproduction's HTML.

How the classes reach them without an import cycle: the records and result types
(``ModelVersion``, ``Diff``, ``RetentionPlan``, …) sit below the renderers, which
import them (the result types for annotations only), never the other way round. A
class's ``__str__``, ``_repr_html_`` or ``to_dot`` is one line,
``return render("text", self)``, calling :func:`render` here. This module is a
registry in the way of fsspec's ``registry.py``: it maps a format and a class name to
the *import string* of the function that draws it, and imports that module on first
use, so it imports nothing it lists, nor any other part of modelver. Every module may
call it; dependencies point one way, renderers → records; and ``import modelver``
loads no renderer until something is drawn.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["render", "renderer"]

# (format, class name) -> "module:function", the module relative to this package.
_RENDERERS: dict[tuple[str, str], str] = {
    ("html", "ModelVersion"): "html:version_html",
    ("html", "Run"): "html:run_html",
    ("html", "AliasEvent"): "html:event_html",
    ("html", "VersionList"): "html:versions_html",
    ("html", "RunList"): "html:runs_html",
    ("html", "AliasHistory"): "html:history_html",
    ("html", "Diff"): "html:diff_html",
    ("html", "RetentionPlan"): "html:plan_html",
    ("text", "Diff"): "text:diff_text",
    ("text", "RetentionPlan"): "text:plan_text",
    ("text", "GcReport"): "text:gc_text",
    ("text", "Problem"): "text:problem_text",
    ("text", "VerifyReport"): "text:verify_text",
    ("text", "TransferReport"): "text:transfer_text",
    ("text", "Lineage"): "lineage:lineage_text",
    ("html", "Lineage"): "svg:lineage_html",
    ("dot", "Lineage"): "lineage:lineage_dot",
    ("svg", "Lineage"): "svg:lineage_svg",
    ("html", "Audit"): "audit:audit_html",
    ("text", "Audit"): "audit:audit_text",
    ("html", "Reproduction"): "audit:reproduction_html",
    ("mermaid", "Lineage"): "lineage:lineage_mermaid",
    ("networkx", "Lineage"): "lineage:lineage_networkx",
}

_loaded: dict[tuple[str, str], Callable[[Any], Any]] = {}


def renderer(fmt: str, cls: type) -> Callable[[Any], Any]:
    """The function that draws instances of ``cls`` (or of its nearest listed base) in
    ``fmt`` (``"text"``, ``"html"``, ``"dot"``, ``"mermaid"``, ``"svg"``, ``"networkx"``)."""
    for klass in cls.__mro__:
        key = (fmt, klass.__name__)
        found = _loaded.get(key)
        if found is not None:
            return found
        target = _RENDERERS.get(key)
        if target is not None:
            module, _, function = target.partition(":")
            drawn: Callable[[Any], Any] = getattr(
                importlib.import_module(f"{__name__}.{module}"), function)
            _loaded[key] = drawn
            return drawn
    raise LookupError(f"no {fmt} renderer for {cls.__qualname__}")


def render(fmt: str, obj: object) -> str:
    """``obj`` drawn in ``fmt``: its text, HTML, DOT or Mermaid."""
    text: str = renderer(fmt, type(obj))(obj)
    return text

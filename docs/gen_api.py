"""Write docs/api.md from the docstrings of every name in ``modelver.__all__``.

Run ``python docs/gen_api.py`` after changing a public name or its docstring;
``python docs/gen_api.py --check`` exits 1 when docs/api.md is out of date (the test
suite runs the same check). Names are grouped by topic; a name no group lists lands
in a group chosen by its kind, so nothing public is ever left out.
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

import modelver

OUT = Path(__file__).resolve().parent / "api.md"

GROUPS: list[tuple[str, list[str]]] = [
    ("Training", ["versioned_training", "training", "current_run", "log_params", "log_metrics",
                  "log_data", "fingerprint", "ActiveRun", "CaptureWarning"]),
    ("Registry", ["register", "load", "resolve", "split_ref", "versions", "search", "runs",
                  "get_run",
                  "promote", "rollback", "alias_history"]),
    ("Lineage, diff and retention", ["lineage", "used_by", "diff", "hold", "release",
                                     "RetentionPolicy"]),
    ("Rebuild and audit", ["checkout_data", "reproduce", "Reproduction"]),
    ("Pinning versions", ["lock", "use_lock", "pin"]),
    ("Stores", ["open", "configure", "configured", "Store", "push", "pull"]),
    ("Records", ["ModelVersion", "Run", "AliasEvent", "DataFingerprint", "CodeInfo", "Seeds",
                 "Environment", "Hardware", "GpuInfo", "Resources", "Hold", "Tombstone"]),
    # What the functions above return; users receive these, and may annotate with them.
    ("Results", ["VersionList", "RunList", "RunSummary", "AliasHistory", "Diff", "Lineage",
                 "LineageNode", "LineageEdge", "RetentionPlan", "PlannedDeletion", "GcReport",
                 "VerifyReport", "Problem", "TransferReport", "LockFile", "LockEntry",
                 "LockMove"]),
    ("Errors", ["ModelverError"]),  # every other exception joins it, by kind
    ("Package", ["__version__"]),
]
OTHER_FUNCTIONS, OTHER_CLASSES, ERRORS = "Other functions", "Other classes", "Errors"

# Members that the library drives itself; documenting them would invite misuse.
HIDDEN = {"ActiveRun": {"start", "finish", "guard"}, "Store": {"put_model", "record_run"}}


class _Text(str):
    """An annotation string that prints without quotes in a signature."""

    def __repr__(self) -> str:
        return str(self)


def _annotation(value: Any) -> Any:
    if value is inspect.Parameter.empty:
        return value
    if isinstance(value, str):
        return _Text(value)
    if isinstance(value, type):
        return _Text(value.__qualname__ if value.__module__ == "builtins" else
                     f"{value.__module__}.{value.__qualname__}")
    return _Text(str(value).replace("typing.", ""))


def signature(name: str, obj: Callable[..., Any], *, drop_self: bool = False) -> str:
    """``name(params) -> return`` with annotations as written, wrapped when long."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return f"{name}(...)"
    params = list(sig.parameters.values())
    if drop_self and params and params[0].name in ("self", "cls"):
        params = params[1:]
    params = [p.replace(annotation=_annotation(p.annotation)) for p in params]
    parts: list[str] = []
    star_done = False
    for i, p in enumerate(params):
        if p.kind is p.KEYWORD_ONLY and not star_done:
            parts.append("*")
            star_done = True
        if p.kind is p.VAR_POSITIONAL:
            star_done = True
        parts.append(str(p))
        if p.kind is p.POSITIONAL_ONLY and (i + 1 == len(params)
                                            or params[i + 1].kind is not p.POSITIONAL_ONLY):
            parts.append("/")
    ret = sig.return_annotation
    tail = "" if ret is inspect.Signature.empty else f" -> {_annotation(ret)}"
    one = f"{name}({', '.join(parts)}){tail}"
    if len(one) <= 88:
        return one
    return f"{name}(\n" + "".join(f"    {p},\n" for p in parts) + f"){tail}"


_ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|exc|obj):`~?([^`]+)`")


def markdown(doc: str) -> str:
    """reST-flavoured docstring text as Markdown: literals, roles, doctests, ``::`` blocks."""
    doc = _ROLE.sub(r"`\1`", doc)
    doc = re.sub(r"``(.+?)``", r"`\1`", doc)
    out: list[str] = []
    lines = doc.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(">>>"):
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i].strip())
                i += 1
            out += ["```pycon", *block, "```"]
            continue
        if line.rstrip().endswith("::") and i + 1 < len(lines):
            out.append(line.rstrip()[:-1])
            i += 1
            block = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith((" ", "\t"))):
                block.append(lines[i])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            while block and not block[0].strip():
                block.pop(0)
            indent = min(len(b) - len(b.lstrip()) for b in block if b.strip()) if block else 0
            out += ["", "```", *(b[indent:] for b in block), "```", ""]
            continue
        out.append(line)
        i += 1
    return "\n".join(out).strip()


def _doc(obj: Any) -> str:
    return markdown(inspect.getdoc(obj) or "")


def _default(field: Any) -> str:
    default = field.default
    if default is attrs.NOTHING:
        return "required"
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        factory = default.factory
        return f"`{getattr(factory, '__qualname__', repr(factory))}()`"
    return f"`{default!r}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _fields(cls: type) -> list[str]:
    # Annotations as written: ``attrs.resolve_types`` (which cattrs calls) replaces the
    # fields' ``type`` strings with the objects they name, so the output would depend
    # on what ran before.
    written: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        written.update(inspect.get_annotations(klass))
    rows = ["| field | type | default |", "| --- | --- | --- |"]
    for f in attrs.fields(cls):
        kind = str(_annotation(written.get(f.name, f.type)))
        rows.append(f"| `{f.name}` | `{_cell(kind)}` | {_default(f)} |")
    return rows


def _members(cls: type, qualname: str) -> list[str]:
    out: list[str] = []
    hidden = HIDDEN.get(qualname, set())
    # The class's own members, then those of its modelver mixins (Store's methods live
    # in a few mixins, one concern each), each name once.
    members: dict[str, Any] = {}
    for klass in cls.__mro__:
        if klass.__module__.startswith("modelver"):
            for key, raw in vars(klass).items():
                members.setdefault(key, raw)
    for key, raw in members.items():
        if key.startswith("_") or key in hidden:
            continue
        if isinstance(raw, property):
            out += ["", f"#### `{qualname}.{key}`", "", "*property*", ""]
            out.append(_doc(raw))
            continue
        func = raw.__func__ if isinstance(raw, (classmethod, staticmethod)) else raw
        if not inspect.isfunction(func):
            continue
        kind = "@classmethod\n" if isinstance(raw, classmethod) else ""
        out += ["", f"#### `{qualname}.{key}`", "", "```python",
                kind + signature(f"{qualname}.{key}", func,
                                 drop_self=not isinstance(raw, staticmethod)),
                "```", ""]
        doc = _doc(func)
        if doc:
            out.append(doc)
    return out


def entry(name: str, obj: Any) -> list[str]:
    """The Markdown of one public name."""
    out = [f"### `modelver.{name}`", ""]
    if name == "__version__":
        return [*out, "The installed version of modelver, as a string (read from the "
                "package metadata when first asked for).", ""]
    if isinstance(obj, type) and issubclass(obj, BaseException):
        bases = ", ".join(b.__name__ for b in obj.__bases__)
        return [*out, "```python", f"class {name}({bases})", "```", "", _doc(obj), ""]
    if isinstance(obj, type):
        if attrs.has(obj):
            out += ["*frozen record*", "", _doc(obj), "", *_fields(obj)]
        else:
            init = signature(name, obj).removesuffix(" -> None")
            out += ["```python", f"class {init}", "```", "", _doc(obj)]
        out += _members(obj, name)
        return [*out, ""]
    return [*out, "```python", signature(name, obj), "```", "", _doc(obj), ""]


def _group_of(name: str, obj: Any, listed: dict[str, str]) -> str:
    if name in listed:
        return listed[name]
    if isinstance(obj, type) and issubclass(obj, BaseException):
        return ERRORS
    if isinstance(obj, type):
        return OTHER_CLASSES
    return OTHER_FUNCTIONS


def render() -> str:
    """The whole of docs/api.md."""
    listed = {n: title for title, names in GROUPS for n in names}
    order = list(dict.fromkeys([title for title, _ in GROUPS]
                               + [ERRORS, OTHER_CLASSES, OTHER_FUNCTIONS]))
    groups: dict[str, list[str]] = {title: [] for title in order}
    rank = {n: i for _, names in GROUPS for i, n in enumerate(names)}
    for name in sorted(modelver.__all__, key=lambda n: (rank.get(n, 999), n.lower())):
        groups[_group_of(name, getattr(modelver, name), listed)].append(name)
    lines = [
        "# API reference",
        "",
        "<!-- Generated by docs/gen_api.py from the docstrings; do not edit by hand. -->",
        "",
        "Everything below is importable from `modelver` and listed in `modelver.__all__`.",
        "Every module-level function works on the default store (see [concepts](concepts.md));",
        "each is also a method of [`Store`](#modelverstore) for working with a store "
        "explicitly.",
        "",
    ]
    for title in order:
        if groups[title]:
            lines.append(f"- [{title}](#{_anchor(title)}): "
                         + ", ".join(f"`{n}`" for n in groups[title]))
    lines.append("")
    for title in order:
        if not groups[title]:
            continue
        lines += [f"## {title}", ""]
        for name in groups[title]:
            lines += entry(name, getattr(modelver, name))
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.rstrip() + "\n"


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", title.lower()).replace(" ", "-")


def main(argv: list[str]) -> int:
    """Write docs/api.md, or with ``--check`` say whether it is current."""
    text = render()
    if "--check" in argv:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != text:
            print(f"{OUT} is out of date: run python docs/gen_api.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Diff: what changed between the runs of two versions, section by section.

Sections are params, data, code, seeds, environment, hardware and metrics; each
lists what was added, removed and changed. Params compare field by field (a config's
``opt.lr``). Code is compared by its identity (the function's source and closure,
see :func:`modelver._capture.code.code_identity`), by each user function, class and
constant it reaches (``module:qualname``), and by git state, with a unified diff of
every changed source when both sources are stored, and a unified diff of the two
stored uncommitted git diffs when they differ. Data compares by fingerprint digest;
where both runs stored a folder snapshot of a key, the files added, removed and
changed in it are listed too (``snapshots``).

The module file's hash is not compared: it changes with code the function does not
run. CPU frequency and resource use are not compared either: they vary
from run to run on the same machine.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ._errors import ModelverError
from ._records import CodeInfo, DataFingerprint, Environment, Hardware, ModelVersion, Run
from ._render import render
from ._serde import unstructure

__all__ = ["Change", "Diff", "FunctionIdentity", "Section", "diff", "environment_differences"]

SECTIONS = ("params", "data", "code", "seeds", "environment", "hardware", "metrics")


@attrs.frozen
class Change:
    """One difference: ``old`` is None when added, ``new`` is None when removed.

    ``delta`` is ``new - old`` for changed numeric metrics.
    """

    key: str
    old: Any = None
    new: Any = None
    delta: float | None = None


@attrs.frozen
class Section:
    """The differences in one section of two runs."""

    name: str
    added: tuple[Change, ...] = ()
    removed: tuple[Change, ...] = ()
    changed: tuple[Change, ...] = ()

    def __bool__(self) -> bool:
        """True when anything in this section differs."""
        return bool(self.added or self.removed or self.changed)

    def __len__(self) -> int:
        return len(self.added) + len(self.removed) + len(self.changed)

    @property
    def keys(self) -> list[str]:
        """The keys that differ, in order: added, removed, changed."""
        return [c.key for c in (*self.added, *self.removed, *self.changed)]


@attrs.frozen
class Diff:
    """How version ``b`` differs from version ``a``, section by section.

    ``source_diff`` is the unified diff of the two functions' source (and of each
    reached function or class that changed), when both are stored and they differ;
    ``git_diff`` is the unified diff between the two runs' stored uncommitted git
    diffs, when they differ (a run without one counts as an empty diff);
    ``snapshots`` has one section per data key whose folder snapshot differs, named
    for the key, listing files (relative paths → digests) added, removed and changed;
    ``notes`` says what could not be compared. ``curves`` maps each metric that either
    run logged with ``step=`` to its two series, ``(a's points, b's points)`` (empty
    for a run without that curve): ``_repr_html_`` draws them on one chart per key.
    """

    a: ModelVersion
    b: ModelVersion
    params: Section
    data: Section
    code: Section
    seeds: Section
    environment: Section
    hardware: Section
    metrics: Section
    source_diff: str | None = None
    notes: tuple[str, ...] = ()
    git_diff: str | None = None
    snapshots: tuple[Section, ...] = ()
    curves: dict[str, tuple[list[tuple[int, float | None]], list[tuple[int, float | None]]]] = (
        attrs.field(factory=dict))

    @property
    def sections(self) -> tuple[Section, ...]:
        """All seven sections, in order."""
        return tuple(getattr(self, name) for name in SECTIONS)

    @property
    def changed_sections(self) -> list[str]:
        """Names of the sections that differ."""
        return [s.name for s in self.sections if s]

    def __bool__(self) -> bool:
        """True when the two runs differ in any section."""
        return any(self.sections)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (what ``modelver diff --json`` prints)."""
        def value(v: Any) -> Any:
            return unstructure(v) if attrs.has(type(v)) else v

        sections = {
            s.name: {
                "added": {c.key: value(c.new) for c in s.added},
                "removed": {c.key: value(c.old) for c in s.removed},
                "changed": {c.key: {"old": value(c.old), "new": value(c.new), "delta": c.delta}
                            for c in s.changed},
            } for s in self.sections}
        snapshots = {s.name: {"added": {c.key: c.new for c in s.added},
                              "removed": {c.key: c.old for c in s.removed},
                              "changed": {c.key: {"old": c.old, "new": c.new}
                                          for c in s.changed}} for s in self.snapshots}
        curves = {key: {side: {"points": len(points),
                               "last": points[-1][1] if points else None}
                        for side, points in zip(("a", "b"), pair, strict=True)}
                  for key, pair in self.curves.items()}
        return {"a": self.a.ref, "b": self.b.ref, "sections": sections,
                "source_diff": self.source_diff, "git_diff": self.git_diff,
                "snapshots": snapshots, "notes": list(self.notes), "curves": curves}

    def __str__(self) -> str:
        """Terminal text: one line per change, the files of changed folder snapshots,
        the source diff and the diff of the uncommitted git diffs."""
        return render("text", self)

    def _repr_html_(self) -> str:
        """Jupyter: an escaped HTML table of the changes (snapshot files included), then
        the source diff and the diff of the git diffs (inline styles only, no background
        colours: it reads in light and dark themes)."""
        return render("html", self)


def _compare(name: str, a: Mapping[str, Any], b: Mapping[str, Any], *,
             deltas: bool = False) -> Section:
    added = tuple(Change(k, None, b[k]) for k in sorted(b.keys() - a.keys()))
    removed = tuple(Change(k, a[k], None) for k in sorted(a.keys() - b.keys()))
    changed = []
    for k in sorted(a.keys() & b.keys()):
        if a[k] != b[k]:
            delta = None
            if deltas and _number(a[k]) and _number(b[k]):
                delta = float(b[k] - a[k])
            changed.append(Change(k, a[k], b[k], delta))
    return Section(name, added, removed, tuple(changed))


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _data(run: Run | None) -> dict[str, DataFingerprint]:
    return dict(run.data) if run else {}


def _data_section(a: Run | None, b: Run | None) -> Section:
    """Data keys compare by digest (how a fingerprint was made is not a change)."""
    da, db = _data(a), _data(b)
    base = _compare("data", {k: v.digest for k, v in da.items()},
                    {k: v.digest for k, v in db.items()})
    return Section(
        "data",
        tuple(Change(c.key, None, db[c.key]) for c in base.added),
        tuple(Change(c.key, da[c.key], None) for c in base.removed),
        tuple(Change(c.key, da[c.key], db[c.key]) for c in base.changed),
    )


def _code_facts(code: CodeInfo | None, reached: bool) -> dict[str, Any]:
    if code is None:
        return {}
    from ._capture.code import code_identity

    where = ".".join(p for p in (code.module, code.function) if p) or "?"
    facts: dict[str, Any] = {"function": FunctionIdentity(
        code_identity(code, reached=False), where, code.function_hash or code.bytecode_hash)}
    if reached and code.user_code is not None:
        facts.update(code.user_code)
    for field in ("git_commit", "git_branch", "git_dirty"):
        value = getattr(code, field)
        if value is not None:
            facts[field] = value
    if code.diff_digest:
        facts["git_diff"] = code.diff_digest
    return facts


@attrs.frozen
class FunctionIdentity:
    """Which function ran, compared by ``identity`` (its source and closure) only:
    ``function`` is ``module.qualname`` and ``hash`` its source (or bytecode) hash."""

    identity: str
    function: str = attrs.field(eq=False)
    hash: str | None = attrs.field(eq=False)

    def __repr__(self) -> str:
        return f"{self.function} {(self.hash or self.identity)[:19]}…"


def _env_facts(env: Environment | None) -> dict[str, Any]:
    if env is None:
        return {}
    facts: dict[str, Any] = dict(env.packages)
    facts.update(python=env.python, implementation=env.implementation, platform=env.platform)
    facts.update({f"${k}": v for k, v in env.variables.items()})
    return facts


def _hardware_facts(hw: Hardware | None) -> dict[str, Any]:
    if hw is None:
        return {}
    facts: dict[str, Any] = {
        "cpu": hw.cpu, "arch": hw.arch, "cores_physical": hw.cores_physical,
        "cores_logical": hw.cores_logical, "memory_total": hw.memory_total,
        "gpus": [g.name for g in hw.gpus], "gpu_status": hw.gpu_status,
        "gpu_drivers": sorted({g.driver_version for g in hw.gpus if g.driver_version}),
        "cuda": sorted({g.cuda_version for g in hw.gpus if g.cuda_version}),
        "cuda_visible_devices": hw.cuda_visible_devices,
    }
    return {k: v for k, v in facts.items() if v not in (None, [])}


def compare_runs(a: ModelVersion, b: ModelVersion, run_a: Run | None, run_b: Run | None,
                 source_diff: str | None = None, notes: tuple[str, ...] = (), *,
                 git_diff: str | None = None, snapshots: tuple[Section, ...] = ()) -> Diff:
    """The diff of two versions' runs (pure: no store access)."""
    from ._bump import flat

    seeds_a = {} if run_a is None else {"seed": run_a.seeds.seed,
                                        "seeded": sorted(run_a.seeds.seeded)}
    seeds_b = {} if run_b is None else {"seed": run_b.seeds.seed,
                                        "seeded": sorted(run_b.seeds.seeded)}
    code_a, code_b = (r.code if r else None for r in (run_a, run_b))
    reached = (code_a is not None and code_b is not None and code_a.user_code is not None
               and code_b.user_code is not None)
    return Diff(
        a=a, b=b,
        params=_compare("params", flat(run_a.params) if run_a else {},
                        flat(run_b.params) if run_b else {}),
        data=_data_section(run_a, run_b),
        code=_compare("code", _code_facts(code_a, reached), _code_facts(code_b, reached)),
        seeds=_compare("seeds", seeds_a, seeds_b),
        environment=_compare("environment", _env_facts(run_a.environment if run_a else None),
                             _env_facts(run_b.environment if run_b else None)),
        hardware=_compare("hardware", _hardware_facts(run_a.hardware if run_a else None),
                          _hardware_facts(run_b.hardware if run_b else None)),
        metrics=_compare("metrics", run_a.metrics if run_a else {},
                         run_b.metrics if run_b else {}, deltas=True),
        source_diff=source_diff, notes=notes, git_diff=git_diff, snapshots=snapshots,
        curves=_curves(run_a, run_b),
    )


def _curves(a: Run | None, b: Run | None
            ) -> dict[str, tuple[list[tuple[int, float | None]], list[tuple[int, float | None]]]]:
    """Both runs' series of each metric that either logged with ``step=``."""
    series_a = a.metric_series if a else {}
    series_b = b.metric_series if b else {}
    return {key: (list(series_a.get(key, [])), list(series_b.get(key, [])))
            for key in sorted({*series_a, *series_b})}


def _read_text(read_blob: Callable[[str], bytes], digest: str, mv: ModelVersion, what: str,
               notes: list[str]) -> str | None:
    try:
        return read_blob(digest).decode("utf-8", errors="replace")
    except (ModelverError, OSError):
        notes.append(f"the {what} of {mv.ref} ({digest[:19]}…) is not in the store")
        return None


def _sources(read_blob: Callable[[str], bytes], mv: ModelVersion, code: CodeInfo,
             notes: list[str]) -> dict[str, str] | None:
    """The reached user code's texts (key → source) stored with a run, if any."""
    if code.sources_digest is None:
        return {}
    import json

    text = _read_text(read_blob, code.sources_digest, mv, "user code sources", notes)
    if text is None:
        return None
    try:
        texts = json.loads(text)
    except ValueError:
        notes.append(f"the user code sources of {mv.ref} cannot be read")
        return None
    return {str(k): str(v) for k, v in texts.items()} if isinstance(texts, dict) else None


def _unified(old: str, new: str, a: str, b: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True),
                                        new.splitlines(keepends=True), a, b))


def _source_diff(read_blob: Callable[[str], bytes], a: ModelVersion, code_a: CodeInfo,
                 b: ModelVersion, code_b: CodeInfo, notes: list[str]) -> str | None:
    """Unified diffs of the function and of each reached item whose source changed."""
    from ._bump import code_changes

    parts: list[str] = []
    old_digest, new_digest = code_a.source_digest, code_b.source_digest
    if old_digest and new_digest and old_digest != new_digest:
        old = _read_text(read_blob, old_digest, a, "function source", notes)
        new = _read_text(read_blob, new_digest, b, "function source", notes)
        if old is not None and new is not None:
            parts.append(_unified(old, new, f"{a.ref}:{code_a.function}",
                                  f"{b.ref}:{code_b.function}"))
    items = [k for k in code_changes(code_a, code_b) if ":" in k]
    if items:
        old_texts = _sources(read_blob, a, code_a, notes)
        new_texts = _sources(read_blob, b, code_b, notes)
        if old_texts is not None and new_texts is not None:
            for key in items:
                parts.append(_unified(old_texts.get(key, ""), new_texts.get(key, ""),
                                      f"{a.ref}:{key}", f"{b.ref}:{key}"))
    return "".join(parts) or None


def diff(a: ModelVersion, run_a: Run | None, b: ModelVersion, run_b: Run | None,
         read_blob: Callable[[str], bytes]) -> Diff:
    """How ``b`` (and its run) differs from ``a``; ``read_blob`` reads the stored
    sources, for a source diff of each function or class that changed."""
    versions, runs = (a, b), (run_a, run_b)
    notes: list[str] = []
    for mv, run in zip(versions, runs, strict=True):
        if run is None:
            notes.append(f"{mv.ref} was registered directly: it has no run to compare")
    source_diff = git_diff = None
    code_a, code_b = (r.code if r else None for r in runs)
    if code_a and code_b:
        source_diff = _source_diff(read_blob, a, code_a, b, code_b, notes)
        git_diff = _git_diff(read_blob, a, code_a, b, code_b, notes)
    snapshots = _snapshots(read_blob, a, run_a, b, run_b, notes) if run_a and run_b else ()
    return compare_runs(a, b, run_a, run_b, source_diff, tuple(notes), git_diff=git_diff,
                        snapshots=snapshots)


def _git_diff(read_blob: Callable[[str], bytes], a: ModelVersion, code_a: CodeInfo,
              b: ModelVersion, code_b: CodeInfo, notes: list[str]) -> str | None:
    """The unified diff between the two runs' stored uncommitted git diffs."""
    old_digest, new_digest = code_a.diff_digest, code_b.diff_digest
    if old_digest == new_digest:
        return None
    old = _read_text(read_blob, old_digest, a, "git diff", notes) if old_digest else ""
    new = _read_text(read_blob, new_digest, b, "git diff", notes) if new_digest else ""
    if old is None or new is None:
        return None
    return _unified(old, new, f"{a.ref}:git-diff", f"{b.ref}:git-diff") or None


def _folder_files(read_blob: Callable[[str], bytes], mv: ModelVersion, key: str,
                  digest: str, notes: list[str]) -> dict[str, str] | None:
    """relative path → digest of the files of a stored folder snapshot (None: not a
    folder snapshot, or not readable)."""
    import json

    text = _read_text(read_blob, digest, mv, f"snapshot of {key!r}", notes)
    try:
        manifest = json.loads(text) if text is not None else None
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        if text is not None:
            notes.append(f"the snapshot of {key!r} of {mv.ref} cannot be read")
        return None
    if manifest.get("format") != "folder":
        return None
    return {str(rel): str(entry[0]) for rel, entry in manifest["files"].items()
            if isinstance(entry, list) and entry}


def _snapshots(read_blob: Callable[[str], bytes], a: ModelVersion, run_a: Run,
               b: ModelVersion, run_b: Run, notes: list[str]) -> tuple[Section, ...]:
    """Per data key snapshotted as a folder by both runs: the files that differ."""
    out = []
    for key in sorted(run_a.data.keys() & run_b.data.keys()):
        fa, fb = run_a.data[key], run_b.data[key]
        if not fa.snapshot or not fb.snapshot or fa.snapshot == fb.snapshot:
            continue
        old = _folder_files(read_blob, a, key, fa.snapshot, notes)
        new = _folder_files(read_blob, b, key, fb.snapshot, notes) if old is not None else None
        if old is not None and new is not None and (section := _compare(key, old, new)):
            out.append(section)
    return tuple(out)


def environment_differences(recorded: Run, now: Run) -> list[str]:
    """Every difference in Python, packages, platform and hardware between a run and a
    later one, as lines: ``"package numpy: 1.26.4 recorded, 2.1.0 now"``."""
    lines: list[str] = []
    for name, facts in (("environment", _env_facts), ("hardware", _hardware_facts)):
        a = facts(getattr(recorded, name))
        b = facts(getattr(now, name))
        if not a or not b:
            lines.append(f"{name}: not recorded" + (" for the version" if not a else " now"))
            continue
        section = _compare(name, a, b)
        label = "package " if name == "environment" else ""
        for c in section.changed:
            what = c.key if c.key in ("python", "implementation", "platform") or \
                name == "hardware" else f"{label}{c.key}"
            lines.append(f"{what}: {c.old} recorded, {c.new} now")
        lines += [f"{label}{c.key}: not installed when recorded, {c.new} now"
                  if name == "environment" else f"{c.key}: none recorded, {c.new} now"
                  for c in section.added]
        lines += [f"{label}{c.key}: {c.old} recorded, not installed now"
                  if name == "environment" else f"{c.key}: {c.old} recorded, none now"
                  for c in section.removed]
    return lines

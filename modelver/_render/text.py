"""Plain text for terminals and logs: what ``str()`` of a diff, plan or report prints.

Pure functions of the values they draw; the CLI prints them as they are. The result
classes are imported for their types only (see :mod:`modelver._render` for why that
makes no cycle).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._records import DataFingerprint

if TYPE_CHECKING:
    from .._diff import Diff
    from .._gc import GcReport
    from .._retention import RetentionPlan
    from .._transfer import TransferReport
    from .._verify import Problem, VerifyReport

__all__ = ["diff_text", "gc_text", "plan_summary", "plan_text", "problem_text", "show_value",
           "transfer_text", "verify_text"]

#: Lines of each list printed for a retention plan or a gc report.
SHOWN = 100


def show_value(value: Any) -> str:
    """A diffed value in one line: ``-`` for none, a fingerprint by digest, kind and size."""
    if value is None:
        return "-"
    if isinstance(value, DataFingerprint):
        size = f", {value.size:,} B" if value.size is not None else ""
        return f"{value.digest[:19]}… ({value.kind}{size})"
    if isinstance(value, str):
        return value
    return repr(value)


def diff_text(d: Diff) -> str:
    """One line per change, the files of changed folder snapshots under ``data``, the
    source diff and the diff of the git diffs under ``code``, then the unchanged sections."""
    lines = [f"diff {d.a.ref} -> {d.b.ref}"]
    lines += [f"  note: {n}" for n in d.notes]
    for s in d.sections:
        if not s:
            continue
        lines.append(s.name)
        lines += [f"  + {c.key}: {show_value(c.new)}" for c in s.added]
        lines += [f"  - {c.key}: {show_value(c.old)}" for c in s.removed]
        lines += [f"  ~ {c.key}: {show_value(c.old)} -> {show_value(c.new)}"
                  + (f" ({c.delta:+.6g})" if c.delta is not None else "") for c in s.changed]
        if s.name == "data":
            for f in d.snapshots:
                lines.append(f"  files of {f.name} (snapshot)")
                lines += [f"    + {c.key}" for c in f.added]
                lines += [f"    - {c.key}" for c in f.removed]
                lines += [f"    ~ {c.key}" for c in f.changed]
        if s.name == "code":
            for text in (d.source_diff, d.git_diff):
                lines += ["    " + line for line in (text or "").splitlines()]
    curves = [(key, a, b) for key, (a, b) in d.curves.items() if a != b]
    if curves:
        from .curves import curve_change

        lines.append("curves")
        lines += [f"  ~ {key}: {curve_change(a, b)}" for key, a, b in curves]
    same = [s.name for s in d.sections if not s]
    lines.append(f"unchanged: {', '.join(same)}" if same else "every section changed")
    return "\n".join(lines)


def plan_summary(plan: RetentionPlan) -> str:
    """The first line of a plan: its scope, policy, counts and the bytes it frees."""
    scope = plan.name or "every model"
    return (f"retention plan for {scope} ({plan.policy}): delete {len(plan.deletions)} "
            f"version(s), keep {len(plan.kept)}, free {plan.bytes_freed:,} bytes")


def plan_text(plan: RetentionPlan) -> str:
    """The summary, then each deletion with its rule and each kept version with why."""
    lines = [plan_summary(plan)]
    if plan.deletions:
        lines.append("delete")
        lines += [f"  {d.ref}  {d.digest[:19]}…  {d.size:,} B  {d.rule}"
                  for d in plan.deletions[:SHOWN]]
        if len(plan.deletions) > SHOWN:
            lines.append(f"  … and {len(plan.deletions) - SHOWN} more")
    if plan.kept:
        lines.append("keep")
        lines += [f"  {ref}  {why}" for ref, why in plan.kept[:SHOWN]]
        if len(plan.kept) > SHOWN:
            lines.append(f"  … and {len(plan.kept) - SHOWN} more")
    return "\n".join(lines)


def gc_text(report: GcReport) -> str:
    """What gc deleted (or would), what it kept as too recent, and temporaries removed."""
    verb = "would delete" if report.dry_run else "deleted"
    lines = [f"{verb} {len(report.deleted)} unreferenced blob(s), {report.bytes_freed:,} bytes"]
    lines += [f"  {d}" for d in report.deleted[:SHOWN]]
    if report.skipped_recent:
        lines.append(f"kept {len(report.skipped_recent)} recent blob(s) (or of unknown age) "
                     "that a writer may be about to reference")
    if report.temporaries:
        lines.append(f"removed {len(report.temporaries)} leftover temporary file(s)")
    if report.restored:
        lines.append(f"put back {len(report.restored)} blob(s) from the trash that a record "
                     "names again")
    return "\n".join(lines)


def problem_text(p: Problem) -> str:
    """``kind: where: detail``."""
    return f"{p.kind}: {p.where}: {p.detail}"


def verify_text(report: VerifyReport) -> str:
    """What was checked, one line per problem, then ``OK`` or the count of problems."""
    lines = [f"checked {report.entries} log entries and {report.blobs} blobs; "
             f"head {report.head}"]
    lines += [f"  {problem_text(p)}" for p in report.problems]
    lines.append("OK" if report.ok else f"{len(report.problems)} problem(s) found")
    return "\n".join(lines)


def transfer_text(report: TransferReport) -> str:
    """The counts of a push or pull, then each version copied or skipped."""
    lines = [f"{report.source} -> {report.target}: copied {len(report.copied)} version(s), "
             f"{report.blobs_copied} blob(s), {report.bytes_copied:,} bytes; "
             f"{len(report.skipped)} already there"]
    lines += [f"  copied  {r}" for r in report.copied]
    lines += [f"  skipped {r}" for r in report.skipped]
    return "\n".join(lines)

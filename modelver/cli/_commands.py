"""The CLI's commands: each parses its arguments and calls the public API.

Only public names are used here (``tools/check_public.py`` checks it): the CLI is an
example of what any program built on modelver can do.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import attrs

import modelver

__all__ = ["COMMANDS", "Command", "Output", "plain"]


@attrs.frozen
class Output:
    """What a command prints: ``text`` for people, ``data`` for ``--json``.

    ``data`` may be a function of no arguments, called only under ``--json`` (a long
    listing's JSON costs more than its table).
    """

    text: str
    data: Any
    status: int = 0


@attrs.frozen
class Command:
    """One CLI command: its name, handler, help line, an example and its arguments."""

    name: str
    handler: Callable[[argparse.Namespace, modelver.Store], Output]
    help: str
    example: str
    arguments: Callable[[argparse.ArgumentParser], None]


COMMANDS: list[Command] = []


def _json_value(_: Any, __: Any, value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    return value


def plain(record: Any) -> Any:
    """A record as JSON-able data with its field names (``attrs.asdict``), times as
    ISO 8601 UTC text: the same data the store writes, and what ``--json`` prints."""
    if record is None:
        return None
    return attrs.asdict(record, value_serializer=_json_value)


def command(name: str, help_text: str, example: str,
            arguments: Callable[[argparse.ArgumentParser], None] = lambda p: None
            ) -> Callable[[Callable[[argparse.Namespace, modelver.Store], Output]],
                          Callable[[argparse.Namespace, modelver.Store], Output]]:
    """Register a handler as a CLI command."""
    def wrap(fn: Callable[[argparse.Namespace, modelver.Store], Output]
             ) -> Callable[[argparse.Namespace, modelver.Store], Output]:
        COMMANDS.append(Command(name, fn, help_text, example, arguments))
        return fn
    return wrap


def table(rows: list[list[str]], header: list[str]) -> str:
    """A plain aligned text table."""
    if not rows:
        return "(none)"
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*map(str, r)).rstrip() for r in [header, *rows])


def _positional(p: argparse.ArgumentParser, name: str, **kwargs: Any) -> None:
    p.add_argument(name, **kwargs)


def _ago(mv: modelver.ModelVersion) -> str:
    return mv.created_at.strftime("%Y-%m-%d %H:%M")


# -- ls / show ------------------------------------------------------------------

@command("ls", "list models, or the versions of one model with their aliases",
         "modelver ls fraud", lambda p: _positional(p, "name", nargs="?"))
def cmd_ls(args: argparse.Namespace, store: modelver.Store) -> Output:
    if args.name is None:
        rows, data = [], []
        for name in store.names():
            vs = store.versions(name)
            aliases = store.aliases(name)
            rows.append([name, str(len(vs)), vs[-1].version if vs else "-",
                         ", ".join(f"{a}={v}" for a, v in aliases.items())])
            data.append({"name": name, "versions": len(vs), "aliases": aliases})
        return Output(table(rows, ["NAME", "VERSIONS", "LATEST", "ALIASES"]), data)
    versions = store.versions(args.name)
    if not versions:
        raise modelver.NotFound(f"no model named {args.name!r} in {store.uri!r}")
    aliases = store.aliases(args.name)
    by_version: dict[str, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(version, []).append(alias)
    rows = [[mv.version, mv.digest[:19], mv.format, str(mv.size), _ago(mv), mv.created_by,
             ",".join(by_version.get(mv.version, [])) + (" (deleted)" if mv.deleted else "")]
            for mv in versions]
    return Output(table(rows, ["VERSION", "DIGEST", "FORMAT", "SIZE", "CREATED", "BY",
                               "ALIASES"]),
                  lambda: [dict(plain(mv), aliases=by_version.get(mv.version, []))
                           for mv in versions])


def _show_text(mv: modelver.ModelVersion, run: modelver.Run | None, aliases: list[str],
               code_files: list[str] | None = None) -> str:
    lines = [f"{mv.ref}" + (f"  [{', '.join(aliases)}]" if aliases else ""),
             f"  digest    {mv.digest}", f"  format    {mv.format} ({mv.size} bytes)",
             f"  created   {mv.created_at.isoformat()} by {mv.created_by}"]
    if mv.artifacts:
        lines.append("  artifacts")
    for key, art in mv.artifacts.items():
        lines.append(f"    {key}: {art.format} ({art.size} bytes) {art.digest[:19]}")
    python = [f"python {run.environment.python}"] if run and run.environment else []
    if mv.requirements or python:  # the environment the model needs to load
        lines.append("  needs     " + ", ".join(
            python + [f"{m} {v}" for m, v in mv.requirements.items()]))
    if mv.signature is not None:
        lines.append("  signature (input schema; load(..., check_input=True) checks it)")
        lines += [f"    {line}" for line in str(mv.signature).splitlines()]
    if mv.parents:
        lines.append(f"  parents   {', '.join(mv.parents)}")
    if mv.tags:
        lines.append(f"  tags      {mv.tags}")
    if mv.annotations:
        last = mv.annotations[-1]
        lines.append(f"  annotated {len(mv.annotations)} time(s), last {last.at.isoformat()} "
                     f"by {last.by}")
    if mv.description:
        lines += ["  description"] + [f"    {line}".rstrip() for line in
                                      mv.description.splitlines()]
    if mv.deleted:
        lines.append(f"  DELETED   {mv.deleted.at.isoformat()}: {mv.deleted.reason}")
    if mv.reruns:
        lines.append(f"  reruns    {', '.join(r[:12] for r in mv.reruns)} (identical inputs "
                     "and artifact: no new version)")
    if mv.reproductions:
        lines.append(f"  rebuilt   {', '.join(r[:12] for r in mv.reproductions)} (runs of "
                     "modelver reproduce; modelver runs shows each outcome)")
    if run is None:
        lines.append("  run       (registered directly, no run)")
        return "\n".join(lines)
    lines.append(f"  run       {run.id} {run.status}  rule: {run.bump_rule}")
    for section in ("params", "metrics"):
        values = getattr(run, section)
        if values:
            lines.append(f"  {section}")
            lines += [f"    {k} = {v!r}" for k, v in sorted(values.items())]
    if run.data:
        lines.append("  data")
        lines += [f"    {k}: {fp.kind} {fp.digest[:19]} ({fp.size} bytes, {fp.method})"
                  + ("  TYPE ONLY: content changes do not show" if fp.method == "type-only"
                     else "") + (f"  snapshot {fp.snapshot[:19]}" if fp.snapshot else "")
                  + (f"\n      from {fp.source}" if fp.source else "")
                  for k, fp in sorted(run.data.items())]
    if run.code:
        c = run.code
        lines += ["  code", f"    function  {c.module}.{c.function}",
                  f"    hash      {c.function_hash or c.bytecode_hash}"
                  + ("" if c.stable else " (bytecode, unstable)"),
                  f"    git       {c.git_commit or '-'} on {c.git_branch or '-'}"
                  + (" (dirty)" if c.git_dirty else "")]
        if c.user_code:
            lines.append(f"    reaches   {len(c.user_code)} user functions, classes and "
                         "constants")
            lines += [f"      {k} {v[:19]}" for k, v in sorted(c.user_code.items())]
        if code_files:
            lines.append(f"    files     {len(code_files)} module files stored (modelver "
                         "reproduce runs them outside git)")
            lines += [f"      {f}" for f in code_files]
    lines.append(f"  seed      {run.seeds.seed} ({', '.join(run.seeds.seeded) or 'nothing'})")
    lines += [f"    not seeded: {lib}: {why}" for lib, why in sorted(run.seeds.not_seeded.items())]
    if run.environment:
        e = run.environment
        lines.append(f"  python    {e.python} on {e.platform} ({len(e.packages)} packages)")
    if run.hardware:
        h = run.hardware
        gpus = ", ".join(g.name for g in h.gpus) or h.gpu_status
        lines.append(f"  hardware  {h.cpu} x{h.cores_logical}, "
                     f"{(h.memory_total or 0) / 2**30:.1f} GiB, GPUs: {gpus}")
    if run.resources:
        r = run.resources
        lines.append(f"  resources wall {r.wall_s:.3f}s, cpu {r.cpu_s:.3f}s, "
                     f"peak RSS {(r.peak_rss or 0) / 2**20:.0f} MiB")
    return "\n".join(lines)


def _at(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--at", metavar="TIME", help=f"{what} TIME: ISO 8601 (2026-03-01T12:00, "
                   "UTC unless it names a timezone) or a date (its midnight, UTC)")


def _show_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("ref", metavar="NAME@REF")
    _at(p, "resolve an alias as it was at")
    p.add_argument("--diff", action="store_true",
                   help="print the uncommitted git diff stored with the version's run")


def _no_diff(mv: modelver.ModelVersion, run: modelver.Run | None) -> str:
    """Why a version has no stored git diff."""
    code = run.code if run else None
    why = ("it was registered directly, without a run" if run is None else
           "its run recorded no code" if code is None else
           "its code was not in a git repository" if code.git_commit is None else
           "the git working tree was clean" if not code.git_dirty else
           "no tracked file had changed (untracked files are not stored), or the diff "
           "was too large to keep")
    return f"{mv.ref}: no uncommitted git diff stored ({why})"


def _show_diff(store: modelver.Store, mv: modelver.ModelVersion, run: modelver.Run | None
               ) -> Output:
    digest = run.code.diff_digest if run and run.code else None
    if digest is None:
        return Output(_no_diff(mv, run), {"ref": mv.ref, "digest": None, "diff": None})
    text = store.read_blob(digest).decode("utf-8", errors="replace")
    return Output(text.rstrip("\n"), {"ref": mv.ref, "digest": digest, "diff": text})


@command("show", "show one version with everything its run captured",
         "modelver show fraud@prod --json   |   modelver show fraud@prod --at 2026-03-01 "
         "--diff", _show_args)
def cmd_show(args: argparse.Namespace, store: modelver.Store) -> Output:
    name, ref = modelver.split_ref(args.ref)
    mv = store.resolve(name, ref, at=args.at)
    run = store.get_run(mv.run_id) if mv.run_id else None
    if args.diff:
        return _show_diff(store, mv, run)
    aliases = [a for a, v in store.aliases(name).items() if v == mv.version]
    files = _code_files(store, run)
    data = {"version": plain(mv), "run": plain(run) if run else None,
            "aliases": aliases, "code_files": files,
            "data_paths": {k: fp.source for k, fp in run.data.items() if fp.source}
            if run else {}}
    return Output(_show_text(mv, run, aliases, files), data)


def _code_files(store: modelver.Store, run: modelver.Run | None) -> list[str]:
    """The module files a run's code closure lives in (relative to their import root), as
    stored for ``reproduce``; empty when none were stored or the blob cannot be read."""
    digest = run.code.files_digest if run and run.code else None
    if digest is None:
        return []
    try:
        files = json.loads(store.read_blob(digest))
    except (modelver.ModelverError, ValueError):
        return []
    return sorted(files) if isinstance(files, dict) else []


# -- aliases ----------------------------------------------------------------------

def _event_line(e: modelver.AliasEvent) -> list[str]:
    return [e.at.strftime("%Y-%m-%d %H:%M:%S"), e.kind, e.from_version or "-", e.to_version,
            e.by, e.reason or ""]


def _promote_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name")
    p.add_argument("version", help="a version or any reference (e.g. latest)")
    p.add_argument("alias", nargs="?", default="prod")
    p.add_argument("--reason")
    p.add_argument("--expect", metavar="VERSION",
                   help="move only if the alias still points to VERSION")


@command("promote", "point an alias at a version (recorded in the alias history)",
         "modelver promote fraud 1.2.0 prod --reason 'AUC +2%'", _promote_args)
def cmd_promote(args: argparse.Namespace, store: modelver.Store) -> Output:
    e = store.promote(args.name, args.version, args.alias, reason=args.reason,
                      expect=args.expect)
    return Output(f"{e.name}@{e.alias}: {e.from_version or '-'} -> {e.to_version}",
                  plain(e))


def _rollback_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name")
    p.add_argument("alias", nargs="?", default="prod")
    p.add_argument("--to", metavar="VERSION")
    p.add_argument("--reason")


@command("rollback", "move an alias back to its previous version (or --to one)",
         "modelver rollback fraud prod --reason 'latency regression'", _rollback_args)
def cmd_rollback(args: argparse.Namespace, store: modelver.Store) -> Output:
    e = store.rollback(args.name, args.alias, to=args.to, reason=args.reason)
    return Output(f"{e.name}@{e.alias}: {e.from_version or '-'} -> {e.to_version} (rollback)",
                  plain(e))


def _history_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name")
    p.add_argument("alias", nargs="?", default="prod")
    _at(p, "only the moves made up to")


@command("history", "the append-only history of an alias, oldest first",
         "modelver history fraud prod   |   modelver history fraud prod --at 2026-03-01T12:00",
         _history_args)
def cmd_history(args: argparse.Namespace, store: modelver.Store) -> Output:
    events = store.alias_history(args.name, args.alias, at=args.at)
    text = table([_event_line(e) for e in events],
                 ["AT (UTC)", "KIND", "FROM", "TO", "BY", "REASON"])
    if args.at is None:
        return Output(text, [plain(e) for e in events])
    now = events[-1]
    text += f"\nat {args.at}: {now.name}@{now.alias} -> {now.to_version}"
    return Output(text, {"at": args.at, "version": now.to_version,
                         "events": [plain(e) for e in events]})


# -- integrity --------------------------------------------------------------------

def _verify_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--head", metavar="HASH", help="a trusted head from `modelver head`")
    p.add_argument("--no-blobs", action="store_true", help="skip re-hashing blobs")


@command("verify", "re-hash every blob and walk the hash-chained log; non-zero on problems",
         "modelver verify --head sha256:…", _verify_args)
def cmd_verify(args: argparse.Namespace, store: modelver.Store) -> Output:
    report = store.verify(head=args.head, blobs=not args.no_blobs)
    data = {"ok": report.ok, "entries": report.entries, "blobs": report.blobs,
            "head": report.head, "problems": [plain(p) for p in report.problems]}
    return Output(str(report), data, 0 if report.ok else 1)


@command("head", "print the log's head hash, to pin in CI and pass to `verify --head`",
         "modelver head")
def cmd_head(args: argparse.Namespace, store: modelver.Store) -> Output:
    head = store.head()
    return Output(head, {"head": head})


# -- lock files ---------------------------------------------------------------------

def _lock_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("refs", nargs="*", metavar="NAME@REF",
                   help="references to pin (default: those already in the lock file)")
    p.add_argument("--file", default="modelver.lock", help="lock file path")
    p.add_argument("--check", action="store_true",
                   help="exit 1 if a locked reference now resolves elsewhere (for CI), or "
                   "if the store could not be read")
    p.add_argument("--offline-ok", action="store_true",
                   help="with --check: accept this machine's copy when the store cannot be "
                   "reached")


@command("lock", "pin references to exact versions and digests in modelver.lock",
         "modelver lock fraud@prod churn@~=2.1   |   modelver lock --check", _lock_args)
def cmd_lock(args: argparse.Namespace, store: modelver.Store) -> Output:
    if args.check:
        # A check that could not read the store must not pass: no stale answers.
        checker = store if args.offline_ok else modelver.Store(store.backend, safe=store.safe,
                                                               offline="error")
        try:
            moves = checker.check_lock(args.file)
        except modelver.StoreError as exc:
            return Output(f"could not check {args.file}: {exc}", {"error": str(exc)}, 1)
        text = "\n".join(f"moved: {m}" for m in moves) or f"{args.file}: up to date"
        return Output(text, [attrs.asdict(m) for m in moves], 1 if moves else 0)
    written = store.lock(*args.refs, path=args.file)
    rows = [[e.name, e.ref, e.version, e.digest[:19]] for e in written.models.values()]
    return Output(f"wrote {args.file}\n" + table(rows, ["NAME", "REF", "VERSION", "DIGEST"]),
                  {n: attrs.asdict(e) for n, e in written.models.items()})


# -- moving between stores ------------------------------------------------------------

def _push_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("ref", metavar="NAME@REF")
    p.add_argument("--to", required=True, metavar="URI", help="the target store")


@command("push", "copy a version with its run, ancestors and blobs to another store",
         "modelver push fraud@prod --to s3://ml-models/registry", _push_args)
def cmd_push(args: argparse.Namespace, store: modelver.Store) -> Output:
    name, ref = modelver.split_ref(args.ref)
    report = store.push(name, ref, to=args.to)
    return Output(str(report), attrs.asdict(report))


def _pull_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("ref", metavar="NAME@REF")
    p.add_argument("--from", dest="source", required=True, metavar="URI",
                   help="the source store")


@command("pull", "copy a version with its run, ancestors and blobs from another store",
         "modelver pull fraud@prod --from s3://ml-models/registry", _pull_args)
def cmd_pull(args: argparse.Namespace, store: modelver.Store) -> Output:
    name, ref = modelver.split_ref(args.ref)
    report = store.pull(name, ref, from_=args.source)
    return Output(str(report), attrs.asdict(report))

"""CLI commands that bring models in from other registries: import-mlflow."""

from __future__ import annotations

import argparse
from pathlib import Path

import modelver

from ._commands import Output, command

__all__ = ["cmd_import_mlflow"]


def _import_mlflow_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tracking-uri", metavar="URI", required=True,
                   help="the MLflow tracking (and registry) URI: http://host:5000, "
                   "sqlite:///mlflow.db, databricks, …")
    p.add_argument("--model", metavar="NAME",
                   help="import this registered model only (default: all of them)")
    p.add_argument("--version-map", metavar="N=X.Y.Z|FILE", action="append", default=[],
                   help="give MLflow version N (or MODEL:N) this version instead of 0.N.0; "
                   "repeat it, or name a file of N=X.Y.Z lines")


def _version_map(specs: list[str]) -> dict[str | int, str]:
    """``--version-map`` values: ``N=X.Y.Z`` pairs, or files of such lines."""
    lines: list[str] = []
    for spec in specs:
        if "=" in spec:
            lines.append(spec)
            continue
        try:
            text = Path(spec).read_text(encoding="utf-8")
        except OSError as exc:
            raise modelver.NotFound(f"cannot read the version map {spec!r}: {exc}") from None
        lines += [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
    pairs: dict[str | int, str] = {}
    for line in filter(None, lines):
        key, sep, version = line.partition("=")
        if not sep:
            raise modelver.InvalidName(f"version map line {line!r} is not N=X.Y.Z")
        pairs[key.strip()] = version.strip()
    return pairs


@command("import-mlflow", "copy the registered models of an MLflow registry: every version "
         "(as 0.N.0), its artifact in modelver's native format where the flavor allows, its "
         "run's params, metrics and git commit, and the aliases as they are now; a second "
         "run copies only new versions (exit 1 when a version could not be imported)",
         "modelver import-mlflow --tracking-uri http://mlflow:5000 --model fraud",
         _import_mlflow_args)
def cmd_import_mlflow(args: argparse.Namespace, store: modelver.Store) -> Output:
    """``modelver import-mlflow --tracking-uri URI [--model NAME] [--version-map N=X.Y.Z]``."""
    report = modelver.import_mlflow(args.tracking_uri, model=args.model, store=store,
                                    version_map=_version_map(args.version_map) or None)
    return Output(str(report), report.to_dict(), 0 if report.ok else 1)

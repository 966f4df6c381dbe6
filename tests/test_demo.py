"""The README's first command: the end-to-end demo runs to the end in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_demo_trains_serves_rolls_back_and_rebuilds_identically(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MODELVER_") and k != "PYTEST_CURRENT_TEST"}
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "fraud_demo.py")],
                          capture_output=True, text=True, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "fraud@0.2.1: IDENTICAL" in out
    assert "data      train_path: snapshot sha256:" in out
    assert "prod is now fraud@0.2.0" in out
    assert out.rstrip().splitlines()[-1].startswith("removed ")
    assert "\nOK\n" in out
    assert not list(tmp_path.glob("modelver-demo-*")), "the demo left its folder behind"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def _modelver(store: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "modelver", "--store", str(store), *args],
                          capture_output=True, text=True, env=env, timeout=600, check=False)


def test_the_demo_versions_rebuild_identically_after_the_script_and_csvs_change(
        tmp_path: Path) -> None:
    """The issue's acceptance run: the demo trained from a git tree with an uncommitted
    edit; then the script and every CSV change on disk. The snapshotted versions rebuild
    identically from the CLI (commit + stored diff + snapshot); fraud-eu, trained without
    a snapshot, names the changed input and exits 2."""
    repo = tmp_path / "project"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "demo@example.com")
    _git(repo, "config", "user.name", "demo")
    script = repo / "fraud_demo.py"
    source = (ROOT / "examples" / "fraud_demo.py").read_text()
    script.write_text(source)
    _git(repo, "add", "fraud_demo.py")
    _git(repo, "commit", "-qm", "demo")
    # An uncommitted edit that changes what train() does: the stored diff must be applied.
    edited = source.replace("random_state=0).fit(x, y)", "random_state=1).fit(x, y)")
    assert edited != source
    script.write_text(edited)
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MODELVER_") and k != "PYTEST_CURRENT_TEST"}
    env["TMPDIR"] = str(temp)
    env["MODELVER_CACHE"] = str(tmp_path / "cache")
    done = subprocess.run([sys.executable, str(script), "--keep"], cwd=repo,
                          capture_output=True, text=True, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "fraud@0.2.1: IDENTICAL" in done.stdout
    # The Try line names the venv's modelver script: it works without activating the venv.
    try_line = done.stdout.rstrip().splitlines()[-1]
    assert try_line.startswith("Try: MODELVER_URI=")
    assert try_line.endswith(" show fraud@prod")
    command = try_line.split()[2]
    assert Path(command).name == "modelver" and Path(repo, command).exists()
    (workdir,) = temp.glob("modelver-demo-*")
    store = workdir / ".modelver"

    # Everything the versions were made from changes on disk.
    script.write_text(edited.replace("max_depth: int = 6", "max_depth: int = 3"))
    for name in ("january.csv", "february.csv", "eu.csv"):
        (workdir / name).write_text("amount,hour,distance,foreign,fraud\n1,2,3,0,1\n")

    for ref in ("fraud@0.1.0", "fraud@0.2.1"):
        rebuilt = _modelver(store, "reproduce", ref, env=env)
        assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
        assert f"{ref}: IDENTICAL" in rebuilt.stdout
    refused = _modelver(store, "reproduce", "fraud-eu@0.1.0", env=env)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "COULD NOT REPRODUCE" in refused.stdout and "path" in refused.stdout

    report = tmp_path / "report.html"
    audited = _modelver(store, "audit", "fraud@prod", "-o", str(report), env=env)
    assert audited.returncode == 0, audited.stdout + audited.stderr
    page = report.read_text()
    assert "<svg" in page and "fraud@0.2.0" in page and "<script" not in page

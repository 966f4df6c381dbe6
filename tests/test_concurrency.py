"""Many processes writing one SQLite store: nothing lost, nothing duplicated, no lock errors."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
from pathlib import Path

import modelver
from modelver._versions import parse_version

REGISTER = textwrap.dedent("""
    import sys, modelver
    store = modelver.open(sys.argv[1])
    for i in range(int(sys.argv[3])):
        mv = store.register("fraud", {"writer": sys.argv[2], "i": i})
        print(mv.version, flush=True)
""")

PROMOTE = textwrap.dedent("""
    import sys, modelver
    store = modelver.open(sys.argv[1])
    for i in range(int(sys.argv[3])):
        store.promote("fraud", sys.argv[2], "prod", reason=f"{sys.argv[2]}-{i}")
""")


def _spawn(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_eight_processes_registering_get_distinct_consecutive_versions(tmp_path: Path) -> None:
    uri = str(tmp_path / ".modelver")
    modelver.open(uri).register("fraud", {"seed": True})  # 0.1.0, and the schema exists
    procs = [_spawn(REGISTER, uri, str(w), "50") for w in range(8)]
    reported: list[str] = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert "locked" not in err
        reported += out.split()
    assert len(reported) == len(set(reported)) == 400
    store = modelver.open(uri)
    versions = [mv.version for mv in store.versions("fraud")]
    assert len(versions) == 401
    patches = sorted(parse_version(v).release[2] for v in versions)
    assert patches == list(range(401))  # 0.1.0 … 0.1.400, no gaps
    assert store.verify().ok


def test_four_processes_promoting_keep_every_move(tmp_path: Path) -> None:
    uri = str(tmp_path / ".modelver")
    store = modelver.open(uri)
    for i in range(4):
        store.register("fraud", {"i": i})
    targets = [mv.version for mv in store.versions("fraud")]
    procs = [_spawn(PROMOTE, uri, v, "25") for v in targets]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    history = store.alias_history("fraud", "prod")
    assert len(history) == 100
    assert {e.reason for e in history} == {f"{v}-{i}" for v in targets for i in range(25)}
    for before, after in itertools.pairwise(history):
        assert after.from_version == before.to_version  # an unbroken chain of moves
    assert store.resolve("fraud", "prod").version == history[-1].to_version
    assert store.verify().ok

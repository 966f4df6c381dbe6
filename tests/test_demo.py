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
    assert out.rstrip().splitlines()[-1].startswith("Try: MODELVER_URI=")
    assert "\nOK\n" in out

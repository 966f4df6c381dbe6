"""Regenerate ``docs/audit-report.png``: the demo's audit report, drawn by a real browser.

Run ``make demo`` (or ``TMPDIR=/tmp/demo .venv/bin/python examples/fraud_demo.py``), then::

    .venv/bin/python docs/gen_audit_screenshot.py /tmp/demo/modelver-demo-*/.modelver

It writes the audit of ``fraud@0.2.1`` (rebuilt by the demo) and screenshots its top
in Debian's chromium, headless (``apt-get install -y chromium``), through Playwright.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import modelver

OUT = Path(__file__).resolve().parent / "audit-report.png"


def main() -> None:
    """Write the screenshot of the report of the store named on the command line."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None or len(sys.argv) != 2:
        sys.exit("usage: gen_audit_screenshot.py STORE (needs chromium on PATH)")
    with tempfile.TemporaryDirectory() as tmp:
        page_file = modelver.open(sys.argv[1]).audit("fraud", "0.2.1").save(
            Path(tmp) / "report.html")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1150, "height": 1500},
                                    color_scheme="light")
            page.goto(page_file.as_uri())
            page.screenshot(path=str(OUT))
            browser.close()
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

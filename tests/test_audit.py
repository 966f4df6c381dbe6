"""``audit``: the report of a real trained, promoted, held and rebuilt version, read as a
reviewer would (parsed HTML, JSON, the CLI) and in a real browser (Debian's chromium,
headless, through Playwright)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from test_reproduce import _csv, _git, _script, _train

import modelver
from modelver.cli import main as cli

SECTIONS = ("summary", "version", "card", "lineage", "code", "data", "params", "metrics",
            "environment", "hardware", "aliases", "retention", "verify", "reproductions")
HOSTILE = "<script>alert('x')</script>"


class _Page(HTMLParser):
    """Every tag with its attributes, and the text of ``<style>``."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style += data


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A store where m@0.2.0 was trained from a dirty git tree on a snapshot CSV,
    promoted (with a hostile reason), held and rebuilt once; its folder and the project."""
    root = tmp_path_factory.mktemp("audit")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELVER_CACHE", str(root / "cache"))
        mp.setenv("MODELVER_USER", "auditor")
        mp.delenv("MODELVER_SIGNING_KEY", raising=False)
        repo = root / "project"
        repo.mkdir()
        _git(repo, "init", "-q")
        _git(repo, "config", "user.email", "t@example.com")
        _git(repo, "config", "user.name", "t")
        _script(repo)
        _git(repo, "add", "train.py")
        _git(repo, "commit", "-qm", "first")
        store = root / "store"
        data = _csv(repo / "train.csv", 1)
        assert _train(repo, store, data) == "0.1.0"
        _script(repo, body=f"x = x * 2.0  # {HOSTILE}")  # uncommitted: a stored diff
        assert _train(repo, store, data) == "0.2.0"
        s = modelver.open(str(store))
        s.promote("m", "0.1.0", "prod", reason="first")
        s.promote("m", "0.2.0", "prod", reason=f"better {HOSTILE}")
        s.hold("m", "0.2.0", "audit <2026>")
        assert s.reproduce("m", "0.2.0").identical
        s.close()
        yield store, repo


def test_the_report_shows_every_part_of_the_record_escaped_and_self_contained(
        audited: tuple[Path, Path]) -> None:
    store, _ = audited
    s = modelver.open(str(store))
    report = s.audit("m", "prod")
    mv, run = report.version, report.run
    assert report.ref == "m@0.2.0" and run is not None and run.code is not None
    assert report.ok and report.verify.blobs >= 4  # manifest, file, code, snapshot
    assert report.aliases == ["prod"] and [h.reason for h in report.holds] == ["audit <2026>"]
    assert [(e.from_version, e.to_version) for e in report.alias_history] == [
        (None, "0.1.0"), ("0.1.0", "0.2.0")]
    assert report.retention == ["held: audit <2026>", "alias prod"]
    assert len(report.reproductions) == 1 and report.reproductions[0].reproduces == mv.ref
    assert report.diff is not None and HOSTILE in report.diff
    assert report.source is not None and "def train" in report.source

    page = report.to_html()
    parsed = _parse(page)
    ids = [a.get("id") for _, a in parsed.tags]
    assert all(key in ids for key in SECTIONS)
    # Nothing to fetch: no script, no external reference of any kind.
    assert not any(tag in ("script", "img", "link", "iframe", "object") for tag, _ in parsed.tags)
    for _, attrs in parsed.tags:
        assert "src" not in attrs
        assert (attrs.get("href") or "#").startswith("#")
        assert not any(k.startswith("on") for k in attrs)
    assert "@import" not in parsed.style and "url(" not in parsed.style
    assert "url(" not in page.replace("url(#mv-arrow)", "")
    # Everything from the record is there, escaped.
    assert HOSTILE not in page and "&lt;script&gt;" in page
    fp = run.data["path"]
    for text in (mv.digest, *mv.blobs, fp.digest, str(fp.snapshot), run.code.git_commit,
                 "audit &lt;2026&gt;", "kept whatever the policy", "1 of 1 identical",
                 'class="add"', "DecisionTreeClassifier", "acc", "scikit-learn",
                 "first", "auditor"):
        assert text in page, text
    assert page.count('class="node node-version"') == 1  # the runs named no parent
    assert page.count('class="node node-data"') == 1
    assert page.count('class="node node-run"') == 2  # the training run and the rebuild
    assert page.count('class="edge edge-reproduces"') == 1
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def test_to_json_has_the_same_content_for_machines(audited: tuple[Path, Path],
                                                   tmp_path: Path) -> None:
    store, _ = audited
    report = modelver.open(str(store)).audit("m", "0.2.0")
    data = json.loads(report.to_json())
    assert data == json.loads(json.dumps(report.to_dict(), default=str))
    assert data["version"]["digest"] == report.version.digest
    assert report.run is not None and data["run"]["id"] == report.run.id
    assert data["verify"]["ok"] is True and data["retention"] == report.retention
    assert data["lineage"]["nodes"][0]["id"] == "m@0.2.0"
    assert data["reproductions"][0]["identical"] is True
    assert data["diff"] == report.diff
    saved = report.save(tmp_path / "audit.json")
    assert json.loads(saved.read_text())["ref"] == "m@0.2.0"
    assert "audit of m@0.2.0" in str(report) and "1 identical" in str(report)


def test_the_cli_writes_the_report_and_exits_1_when_a_blob_was_altered(
        audited: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
        ) -> None:
    store, _ = audited
    copy = tmp_path / "copy"
    shutil.copytree(store, copy)
    out = tmp_path / "report.html"
    assert cli(["--store", str(copy), "audit", "m@prod", "-o", str(out)]) == 0
    assert f"to {out}" in capsys.readouterr().out
    assert "<h2>Lineage</h2>" in out.read_text()
    # An artifact file altered on disk: verify in the report says so.
    s = modelver.open(str(copy))
    blob = s.backend.blob_path(s.resolve("m", "prod").blobs[0])  # type: ignore[attr-defined]
    os.chmod(blob, 0o644)
    with open(blob, "ab") as f:
        f.write(b"tampered")
    assert cli(["--store", str(copy), "audit", "m@prod", "-o", str(out)]) == 1
    text = capsys.readouterr().out
    assert "altered-blob" in text
    assert "altered-blob" in out.read_text() and "problem(s)" in out.read_text()
    assert cli(["--store", str(copy), "--json", "audit", "m@prod", "-o", "-"]) == 1
    assert json.loads(capsys.readouterr().out)["verify"]["ok"] is False
    assert cli(["--store", str(copy), "audit", "m@9.9.9"]) != 0
    assert "'9.9.9' not found" in capsys.readouterr().err


def test_a_version_with_50_ancestors_is_drawn_whole(store: modelver.Store) -> None:
    parent = None
    for i in range(51):
        mv = store.register("chain", np.arange(i + 1), parents=[parent] if parent else [])
        parent = mv.ref
    report = store.audit("chain", "latest")
    assert len(report.lineage.versions()) == 51
    page = report.to_html()
    assert page.count('class="node node-version"') == 51
    assert page.count('class="edge edge-parent"') == 50
    assert page.count("<td>ancestor</td>") == 50
    assert report.retention == [] and "a retention policy may delete" in page
    assert "never rebuilt" in page and "No code was captured" in page


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.environ.get("MODELVER_REQUIRE_BROWSER"):
        pytest.fail("chromium is required here (MODELVER_REQUIRE_BROWSER is set): "
                    "apt-get install -y chromium")
    return found


def test_the_report_renders_in_a_real_browser(audited: tuple[Path, Path],
                                              tmp_path: Path) -> None:
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no chromium on this machine (apt-get install -y chromium)")
    from PIL import Image
    from playwright.sync_api import sync_playwright

    store, _ = audited
    page_file = modelver.open(str(store)).audit("m", "prod").save(tmp_path / "report.html")
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            for scheme in ("light", "dark"):
                page = browser.new_page(color_scheme=scheme, viewport={"width": 1200,
                                                                       "height": 900})
                page.on("console", lambda m: errors.append(m.text) if m.type == "error"
                        else None)
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.on("request", lambda r: requests.append(r.url))
                page.goto(page_file.as_uri())
                box = page.locator("svg.modelver-lineage").bounding_box()
                assert box is not None and box["width"] > 300 and box["height"] > 30
                nodes = page.locator("svg.modelver-lineage g.node")
                # the version, its run, the dataset, and the run that reproduced it
                assert nodes.count() == 4
                assert all(nodes.nth(i).bounding_box() for i in range(nodes.count()))
                for key in SECTIONS:
                    assert page.locator(f"section#{key}").is_visible(), key
                shot = tmp_path / f"{scheme}.png"
                page.screenshot(path=str(shot), full_page=True)
                with Image.open(shot) as image:
                    colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
                assert colours is not None and len(colours) > 50  # drawn, not blank
                page.close()
        finally:
            browser.close()
    assert errors == []
    assert all(url.startswith("file://") for url in requests), requests

"""The quick-start notebook runs top to bottom, so it cannot rot."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "quickstart.ipynb"

nbformat = pytest.importorskip("nbformat")


def _read() -> Any:
    return nbformat.read(str(NOTEBOOK), as_version=4)


def test_the_committed_notebook_has_no_outputs() -> None:
    nb = _read()
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.slow
# Jupyter's own machinery may deprecate things under our filterwarnings=error (e.g.
# jupyter_core's platformdirs migration notice): tolerated for its modules, in this test only.
@pytest.mark.filterwarnings("ignore::DeprecationWarning:jupyter_core")
@pytest.mark.filterwarnings("ignore::DeprecationWarning:jupyter_client")
@pytest.mark.filterwarnings("ignore::DeprecationWarning:zmq")
def test_the_quickstart_notebook_runs_top_to_bottom(tmp_path: Path) -> None:
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("sklearn")
    nb = _read()
    # A last cell that says which interpreter and which modelver the kernel used.
    nb.cells.append(nbformat.v4.new_code_cell(
        "import sys, modelver\nprint(sys.executable)\nprint(modelver.__file__)"))
    # The "python3" kernel runs sys.executable: jupyter_client substitutes it for "python".
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()

    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    executable, module = nb.cells[-1].outputs[0].text.split()
    assert Path(executable).resolve() == Path(sys.executable).resolve()
    assert Path(module).resolve() == ROOT / "modelver" / "__init__.py"
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    for expected in ("fraud@0.2.1", "metric.accuracy", "rollback", "environment"):
        assert expected in html, expected
    text = "".join(o.get("text", "") for o in outputs)
    assert "flowchart" in text and "\nOK" in text
    assert not list(tmp_path.glob("**/.modelver")), "the notebook must use a temporary store"

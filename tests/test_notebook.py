"""The tutorial notebook (examples/tutorial.ipynb) runs from start to end in a fresh kernel."""

import pytest

from conftest import ROOT

NOTEBOOK = ROOT / "examples" / "tutorial.ipynb"


@pytest.mark.notebook
def test_tutorial_runs_and_shows_results(monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="nbformat (the [test] extra) is not installed")
    nbclient = pytest.importorskip("nbclient", reason="nbclient (the [test] extra) is not installed")
    pytest.importorskip("ipykernel", reason="ipykernel (the [test] extra) is not installed")
    monkeypatch.delenv("MPLBACKEND", raising=False)          # the kernel draws inline, as in Jupyter
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "nanocloak-formulation" in html and "nanocloak-result" in html and "2 simulated designs" in html
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 3     # the three plots
    text = "".join(o.get("text", "") for o in outputs)
    assert "blood half-life" in text

"""The training example notebook runs top to bottom against the session daemon (runs after test_training.py)."""
import os

import nbformat
from nbclient import NotebookClient

NOTEBOOK = os.path.join(os.path.dirname(__file__), "..", "examples", "training.ipynb")


def test_training_notebook_runs(daemon, tmp_path, monkeypatch):
    plot = str(tmp_path / "training.png")
    monkeypatch.setenv("TORL_CONNECT", daemon)
    monkeypatch.setenv("TORL_PLOT", plot)
    monkeypatch.setenv("PYTHONPATH", os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                      for output in cell.outputs)
    step_lines = [line for line in printed.splitlines() if line.startswith("step ")]
    assert len(step_lines) == 3, printed
    steps = [int(line.split()[1]) for line in step_lines]
    assert steps == list(range(steps[0], steps[0] + 3))
    assert os.path.getsize(plot) > 1000

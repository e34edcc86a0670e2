"""The notebooks' code cells run as written (so the quick start cannot rot)."""
import json
from pathlib import Path

import matplotlib
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_code_cells_run(path, capsys):
    matplotlib.use("Agg")
    cells = json.loads(path.read_text())["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    namespace = {}
    for source in code:
        exec(compile(source, f"{path.name}", "exec"), namespace)
    assert "final return" in capsys.readouterr().out

"""The notebook tour (notebooks/*.ipynb) runs cell by cell, and git stores it stripped.

A failing cell fails the test (nbclient raises CellExecutionError naming the cell).
"""
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_is_a_tour():
    assert [p.name for p in NOTEBOOKS] == ["tour.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_without_error(path, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for c in code for o in c.outputs)
    # the tour's conclusions are printed, computed from its own numbers
    assert "Nesterov" in text and "AdaGrad's step length" in text
    assert "wins on average" in text
    assert re.search(r"(generalises (worse|better) here|No clear difference)", text)


def _stripped(source):
    import json
    nb = json.loads(source)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
        assert "attachments" not in cell
    return True


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_with_outputs_stripped(path):
    assert _stripped(path.read_text(encoding="utf-8"))
    rel = path.relative_to(ROOT).as_posix()
    try:                    # and the copy git holds, when this is a git checkout
        stored = subprocess.run(["git", "show", f"HEAD:{rel}"], cwd=ROOT, capture_output=True,
                                text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return
    if stored.returncode == 0:
        assert _stripped(stored.stdout)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_uses_only_the_public_api(path):
    import json
    source = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                       if c["cell_type"] == "code")
    assert not re.search(r"\bmt(\.\w+)*\._", source)              # no private names
    assert not re.search(r"^\s*(from minitrain\b|import minitrain\.)", source, re.M)  # `mt.`

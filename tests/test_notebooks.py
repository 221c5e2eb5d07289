"""The notebooks of studies/notebooks/, executed with nbclient so that they never rot, and
committed without outputs.

Each notebook runs in a kernel of this interpreter (the kernel ``python3`` of a kernelspec
written for the test, so that no kernelspec of the user's can send it to another Python), in
studies/notebooks/ as a user's Jupyter would, its results in ``tmp_path`` through
``MTZ_NOTEBOOK_OUT``. A cell that raises fails the test (nbclient's CellExecutionError).
Serial: each notebook is one process (a kernel) running its cases on one rank.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from fem.post import calibration

from conftest import ROOT

pytestmark = pytest.mark.serial

NOTEBOOKS = ROOT / "studies" / "notebooks"
NAMES = ("one_case", "energy_sweep")
VERDICTS = {"agrees", "tolerated", "too small", "too large", "not simulated"}


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    """The kernel ``python3`` of this interpreter: a kernelspec first on JUPYTER_PATH."""
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("PYVISTA_OFF_SCREEN", "true")
    return "python3"


def execute(nb, kernel: str, cwd: Path = NOTEBOOKS, timeout: int = 600):
    """``nb`` executed in place (a failing cell raises), in ``cwd``."""
    client = nbclient.NotebookClient(nb, kernel_name=kernel, timeout=timeout,
                                     resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return nb


def run_notebook(name: str, tmp_path: Path, kernel: str, monkeypatch):
    """The notebook executed with its results in ``tmp_path / name``, kept as
    ``tmp_path / <name>.ipynb`` (for a look after a failure)."""
    out = tmp_path / name
    monkeypatch.setenv("MTZ_NOTEBOOK_OUT", str(out))
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    try:
        execute(nb, kernel)
    finally:
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
    return nb, out


def outputs(nb) -> list[dict]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def markdown_tables(nb) -> list[list[list[str]]]:
    """The Markdown tables the notebook displayed: rows of cells, the header first (the
    separator line left out)."""
    tables = []
    for o in outputs(nb):
        text = o.get("data", {}).get("text/markdown", "")
        lines = [ln for ln in text.splitlines() if ln.startswith("|")]
        if len(lines) >= 2 and set(lines[1]) <= set("|- :"):
            tables.append([[c.strip() for c in ln.strip("|").split(" | ")]
                           for ln in lines[:1] + lines[2:]])
    return tables


def table_with(nb, column: str) -> list[dict[str, str]]:
    """The one displayed table with that column, as one dict per row."""
    found = [t for t in markdown_tables(nb) if column in t[0]]
    assert len(found) == 1, f"{len(found)} tables with a column {column!r}"
    header, *body = found[0]
    return [dict(zip(header, row)) for row in body]


def test_the_kernel_is_this_interpreter(kernel, tmp_path):
    nb = new_notebook(cells=[new_code_cell("import sys; print(sys.executable, sys.prefix)")])
    execute(nb, kernel, cwd=tmp_path, timeout=120)
    assert outputs(nb)[0]["text"].split() == [sys.executable, sys.prefix]


def test_one_case_notebook(kernel, tmp_path, monkeypatch):
    nb, out = run_notebook("one_case", tmp_path, kernel, monkeypatch)
    metrics = json.loads((out / "metrics.json").read_text())
    renders = sorted((out / "renders").glob("*.png"))
    assert renders
    # every picture of renders/ displayed inline, the probe plot too
    images = [o for o in outputs(nb) if "image/png" in o.get("data", {})]
    assert len(images) == len(renders) + 1
    shown = {o["data"]["text/markdown"].strip("*") for o in outputs(nb)
             if o.get("data", {}).get("text/markdown", "").startswith("**")}
    assert shown == {p.name for p in renders}
    # the glossary table: one row per metric, its value and unit
    rows = {r["metric"].strip("`"): r for r in table_with(nb, "meaning")}
    assert set(rows) == set(metrics)
    depth = rows["mtz_depth_um"]
    assert float(depth["value"]) == pytest.approx(metrics["mtz_depth_um"], rel=1e-3)
    assert depth["unit"] == "µm" and "collagen" in depth["meaning"]
    assert metrics["mtz_depth_um"] > 0


def test_energy_sweep_notebook(kernel, tmp_path, monkeypatch):
    nb, out = run_notebook("energy_sweep", tmp_path, kernel, monkeypatch)
    # three cases, one result directory each, on the coarse mesh without mechanics or renders
    dirs = sorted(p.parent for p in out.glob("*/metrics.json"))
    assert len(dirs) == 3
    sims = sorted(calibration.sims_from_results(dirs), key=lambda s: s["energy_mJ"])
    assert [s["wavelength_nm"] for s in sims] == [1550] * 3
    assert all("tightening_area_percent" not in s and not (Path(s["case"]) / "renders").exists()
               for s in sims)
    simulated = table_with(nb, "depth (µm)")
    assert [float(r["energy (mJ)"]) for r in simulated] == [s["energy_mJ"] for s in sims]
    assert [float(r["depth (µm)"]) for r in simulated] == pytest.approx(
        [s["mtz_depth_um"] for s in sims], rel=1e-3)
    assert calibration.increasing(sims, "mtz_depth_um")
    # the plot, and the verdict of every chart row at 1550 nm as judge gives it
    assert any("image/png" in o.get("data", {}) for o in outputs(nb))
    assert (out / "columns_vs_energy.png").stat().st_size > 0
    verdicts = table_with(nb, "verdict")
    expected = calibration.judge(sims)
    assert len(verdicts) == len(expected) == sum(
        abs(p.wavelength_nm - 1550) < 1 for p in calibration.read_chart())
    assert [r["verdict"] for r in verdicts] == [v["verdict"] for v in expected]
    assert {r["verdict"] for r in verdicts} <= VERDICTS


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebooks_have_no_outputs(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    for c in code:
        assert c.outputs == [] and c.execution_count is None, c.source[:60]


def test_every_notebook_is_tested():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)

"""The time series for ParaView (fem.output.series) read back by independent readers.

A coarse demo with mechanics and healing writes ``fields/temperature.pvd``,
``fields/displacement.pvd`` and ``fields/healing.pvd``; pyvista's PVD reader, VTK's XML reader,
meshio, ADIOS2 (for the ``.bp`` files) and, where it is installed, ParaView's own ``pvpython``
must find the times (s), the arrays and the values of the snapshot, in µm and °C. Serial and on
2 ranks (the run is collective; the reading is local).
"""

import csv
import json
import shutil
import subprocess
from pathlib import Path

from mpi4py import MPI

import dolfinx.fem as dfem
import numpy as np
import pytest
from dolfinx import mesh

from fem.api import load_case, run
from fem.output import names
from fem.output.series import UNITS_COMMENT, coordinates_in_um, write_series

from conftest import DEMO

SERIES = {"temperature": names.TEMPERATURE_PVD, "displacement": names.DISPLACEMENT_PVD,
          "healing": names.HEALING_PVD}


@pytest.fixture(scope="module")
def result(shared_tmp) -> Path:
    """The coarse demo to 5 ms with mechanics and healing, fields on, no pictures."""
    case = load_case(DEMO, mesh={"resolution": "coarse"}, time={"end_ms": 5},
                     output={"render": False, "fields": True})
    out = shared_tmp / "series"
    run(case, out, progress=False)
    return out


def pvd_times(path: Path) -> list[float]:
    import pyvista

    return list(pyvista.PVDReader(path).time_values)


def read_at(path: Path, t: float):
    import pyvista

    reader = pyvista.PVDReader(path)
    reader.set_active_time_value(t)
    return reader.read()[0]


def test_thermal_series_has_the_animation_times_and_ends_at_the_final_temperature(result):
    import pyvista

    times = pvd_times(result / names.TEMPERATURE_PVD)
    frames_ms = json.loads((result / names.FRAMES_JSON).read_text())["frames_ms"]
    assert times == pytest.approx([t * 1e-3 for t in frames_ms], rel=1e-12, abs=1e-15)
    assert times[0] == 0.0 and times[-1] == pytest.approx(5e-3)
    assert np.all(np.diff(times) > 0)
    last = read_at(result / names.TEMPERATURE_PVD, times[-1])
    snap = pyvista.read(result / names.SNAPSHOT_VTU)
    assert list(last.point_data) == ["temperature_C"]
    np.testing.assert_allclose(last.points, snap.points)  # the same gathered grid, in µm
    np.testing.assert_allclose(last.point_data["temperature_C"],
                               snap.point_data["temperature_end_C"], rtol=0, atol=1e-9)
    first = read_at(result / names.TEMPERATURE_PVD, 0.0).point_data["temperature_C"]
    assert 30.0 < first.min() < first.max() < 40.0  # body temperature in °C, not kelvin


def test_mechanics_series_has_the_output_times_and_the_end(result):
    import pyvista

    with open(result / names.MECHANICS_CSV) as f:
        rows_s = sorted({float(r["time_ms"]) * 1e-3 for r in csv.DictReader(f)})
    times = pvd_times(result / names.DISPLACEMENT_PVD)
    assert times == pytest.approx(rows_s)
    snap = pyvista.read(result / names.SNAPSHOT_VTU)
    last = read_at(result / names.DISPLACEMENT_PVD, times[-1]).point_data["displacement_um"]
    assert last.shape == (snap.n_points, 3)
    np.testing.assert_allclose(last, snap.point_data["displacement_um"], atol=1e-9)
    assert 0.1 < np.abs(last).max() < 100.0  # µm, not metres


def test_healing_series_has_the_output_days_in_seconds(result):
    import pyvista

    days = json.loads((result / names.SNAPSHOT_JSON).read_text())["healing"]["output_days"]
    times = pvd_times(result / names.HEALING_PVD)
    assert times == pytest.approx([d * 86400.0 for d in days])
    snap = pyvista.read(result / names.SNAPSHOT_VTU)
    for d, t in zip(days, times):
        piece = read_at(result / names.HEALING_PVD, t)
        assert {"fibroblasts", "collagen_I", "collagen_III", "new_collagen"} <= set(
            piece.point_data)
        np.testing.assert_allclose(piece.point_data["new_collagen"],
                                   snap.point_data[f"new_collagen_d{d}"], atol=1e-12)


def test_pieces_read_by_vtk_xml_and_meshio_with_their_time_and_units(result):
    import xml.etree.ElementTree as ET

    import meshio
    import vtk

    for pvd in SERIES.values():
        path = result / pvd
        assert UNITS_COMMENT in path.read_text()
        datasets = ET.parse(path).getroot().iter("DataSet")
        for ds in datasets:
            piece = path.parent / ds.get("file")
            reader = vtk.vtkXMLUnstructuredGridReader()
            reader.SetFileName(str(piece))
            reader.Update()
            grid = reader.GetOutput()
            assert grid.GetNumberOfCells() > 0
            time_value = grid.GetFieldData().GetArray("TimeValue").GetValue(0)
            assert time_value == pytest.approx(float(ds.get("timestep")), rel=1e-12)
            m = meshio.read(piece)
            assert m.field_data["TimeValue"][0] == pytest.approx(time_value)
            with open(piece, "rb") as f:
                assert f.readline().startswith(b"<?xml")
                assert f.readline().decode().strip() == UNITS_COMMENT
    for vtu in (names.SNAPSHOT_VTU, names.FRAMES_VTU, names.EPIDERMIS_VTU):
        assert meshio.read(result / vtu).points.size > 0
        with open(result / vtu, "rb") as f:
            f.readline()
            assert f.readline().decode().strip() == UNITS_COMMENT


def read_blocks(f, name: str) -> np.ndarray:
    """A VTX variable of every writing rank (one ADIOS2 block each), concatenated."""
    blocks = len(f.all_blocks_info(name)[0])
    return np.concatenate([f.read(name, block_id=b) for b in range(blocks)])


def test_vtx_files_are_in_micrometres_and_celsius(result):
    import adios2
    import pyvista

    snap = pyvista.read(result / names.SNAPSHOT_VTU)
    with adios2.FileReader(str(result / names.HEAT_BP)) as f:
        variables = set(f.available_variables())
        x = read_blocks(f, "geometry")
        T = read_blocks(f, "temperature_end_C")
    assert {"temperature_end_of_pulse_C", "temperature_peak_C", "omega_collagen"} <= variables
    np.testing.assert_allclose(x.min(axis=0), snap.points.min(axis=0), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(x.max(axis=0), snap.points.max(axis=0), rtol=1e-12, atol=1e-9)
    assert T.max() == pytest.approx(snap.point_data["temperature_end_C"].max(), abs=1e-9)
    with adios2.FileReader(str(result / names.DISPLACEMENT_BP)) as f:
        u = read_blocks(f, "displacement_um")
    assert np.abs(u).max() == pytest.approx(np.abs(snap.point_data["displacement_um"]).max(),
                                            rel=0.05)  # P1 nodes of the P(k) field
    with adios2.FileReader(str(result / names.HEALING_BP)) as f:
        assert read_blocks(f, "geometry").max(axis=0) == pytest.approx(snap.points.max(axis=0))


@pytest.mark.serial  # a child ParaView under an MPI launcher's environment is not portable
@pytest.mark.skipif(shutil.which("pvpython") is None, reason="ParaView (pvpython) not installed")
def test_paraview_opens_every_series_with_its_times(result, tmp_path):
    script = tmp_path / "open.py"
    script.write_text(
        "import json, sys\n"
        "from paraview.simple import OpenDataFile\n"
        "out = {}\n"
        "for path in sys.argv[1:]:\n"
        "    r = OpenDataFile(path)\n"
        "    ts = list(r.TimestepValues)\n"
        "    r.UpdatePipeline(ts[-1])\n"
        "    out[path] = {'times': ts, 'arrays': list(r.PointData.keys()),\n"
        "                 'points': r.GetDataInformation().GetNumberOfPoints()}\n"
        "print('RESULT' + json.dumps(out))\n")
    paths = [str(result / p) for p in SERIES.values()]
    proc = subprocess.run(["pvpython", str(script), *paths], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT"))
    seen = json.loads(line[len("RESULT"):])
    for path in paths:
        assert seen[path]["times"] == pytest.approx(pvd_times(Path(path)))
        assert seen[path]["points"] > 0
    assert seen[paths[0]]["arrays"] == ["temperature_C"]
    assert seen[paths[1]]["arrays"] == ["displacement_um"]


def test_coordinates_come_back_in_metres_after_an_error():
    msh = mesh.create_unit_cube(MPI.COMM_WORLD, 2, 2, 2)
    before = msh.geometry.x.copy()
    with pytest.raises(RuntimeError):
        with coordinates_in_um(msh):
            assert msh.geometry.x.max() == pytest.approx(1e6)
            raise RuntimeError("a full disk")
    np.testing.assert_array_equal(msh.geometry.x, before)


def test_series_keeps_the_later_of_two_frames_at_one_time(shared_tmp):
    msh = mesh.create_unit_cube(MPI.COMM_WORLD, 2, 2, 2)
    V = dfem.functionspace(msh, ("Lagrange", 1))
    frames = []
    for t, value in ((0.0, 300.0), (1.0, 310.0), (1.0, 320.0)):
        f = dfem.Function(V)
        f.x.array[:] = value
        frames.append((t, {"temperature_C": f}))
    path = shared_tmp / "dedupe" / "t.pvd"
    if MPI.COMM_WORLD.rank == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
    MPI.COMM_WORLD.Barrier()
    write_series(path, V, frames)
    assert pvd_times(path) == [0.0, 1.0]
    T = read_at(path, 1.0).point_data["temperature_C"]
    assert T == pytest.approx(np.full(T.shape, 320.0 - 273.15))

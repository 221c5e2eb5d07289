"""Fields for ParaView and for the pictures: parallel VTX files and gathered VTU snapshots.

Every file is in the unit convention of :mod:`fem.output.series` (µm, °C, kPa, s), which
writes the time series (PVD) that any ParaView opens.

* :func:`write_vtx`: DOLFINx's parallel writer (VTX / ADIOS2 ``.bp``), every rank writes;
  coordinates in µm.
* :func:`write_snapshot` gathers the P1 fields of the owned cells of every rank to rank 0 and
  writes a VTU (coordinates in µm, temperatures in °C) for the renderer, so that
  ``mtz render DIR`` works from saved results on one process; :func:`write_frames` does the
  same for the temperatures of the animation.
"""

from __future__ import annotations

from pathlib import Path

from mpi4py import MPI

import dolfinx.fem as dfem
import numpy as np
from dolfinx import plot

from fem.config.sections import DAY
from fem.output.files import KELVIN, write_json
from fem.output.series import coordinates_in_um, gathered_grid, nodal_values, save_vtu
from fem.parallel import on_root


def write_vtx(comm: MPI.Comm, path: Path, functions: list[dfem.Function], t: float = 0.0) -> None:
    """One VTX (ADIOS2) file with functions of one space, at one time; coordinates in µm (the
    functions are written as they are: give them in the unit their names end with)."""
    from dolfinx.io import VTXWriter

    with coordinates_in_um(functions[0].function_space.mesh), \
            VTXWriter(comm, str(path), functions, engine="BP4") as vtx:
        vtx.write(t)


def healing_frames(day_fields: dict) -> list[tuple[float, dict[str, dfem.Function]]]:
    """The healing fields by output day (``{day: {"new_collagen_d28": f, ...}}``) as frames of
    a time series: ``(t in s, {"new_collagen": f, ...})`` in time order."""
    return [(day * DAY, {name.rsplit("_d", 1)[0]: f for name, f in fields.items()})
            for day, fields in sorted(day_fields.items())]


def write_healing_vtx(comm: MPI.Comm, path: Path,
                      frames: list[tuple[float, dict[str, dfem.Function]]]) -> None:
    """The dermal fields at the output days (:func:`healing_frames`) as one VTX time series
    (time in s, coordinates in µm)."""
    from dolfinx.io import VTXWriter

    if not frames:
        return
    series = {name: f.copy() for name, f in frames[0][1].items()}
    for name, f in series.items():
        f.name = name
    with coordinates_in_um(next(iter(series.values())).function_space.mesh), \
            VTXWriter(comm, str(path), list(series.values()), engine="BP4") as vtx:
        for t, fields in frames:
            for name, f in fields.items():
                series[name].x.array[:] = f.x.array
            vtx.write(t)


def write_snapshot(path: Path, V: dfem.FunctionSpace, point_data: dict[str, dfem.Function],
                   cell_data: dict[str, np.ndarray]) -> None:
    """Gather P1 point data and per-cell data of the owned cells to rank 0 and write a VTU.

    Args:
        path: the ``.vtu`` file.
        V: the scalar P1 space of the point data (vector P1 functions are allowed too).
        point_data: name -> function (scalar or vector, P1 on the same mesh); names ending
            in ``_C`` hold temperatures, converted from kelvin.
        cell_data: name -> array over the owned cells.
    """
    comm = V.mesh.comm
    topology, cell_types, x = plot.vtk_mesh(V)
    n_nodes = x.shape[0]
    arrays = {name: nodal_values(f, n_nodes) - (KELVIN if name.endswith("_C") else 0.0)
              for name, f in point_data.items()}
    pieces = comm.gather((topology, cell_types, x, arrays, cell_data), root=0)
    on_root(comm, lambda: _save_vtu(path, pieces))  # an error (a full disk) on every rank


def _save_vtu(path: Path, pieces: list) -> None:
    """The gathered pieces as one VTU (rank 0), through a temporary file and a rename."""
    grid = gathered_grid(pieces)
    pdata, cdata = {}, {}
    for *_, arr, carr in pieces:
        for k, v in arr.items():
            pdata.setdefault(k, []).append(v)
        for k, v in carr.items():
            cdata.setdefault(k, []).append(v)
    for k, v in pdata.items():
        a = np.concatenate(v)
        grid.point_data[k] = a[:, 0] if a.shape[1] == 1 else a
    for k, v in cdata.items():
        grid.cell_data[k] = np.concatenate(v)
    save_vtu(grid, path)


def write_frames(path: Path, V: dfem.FunctionSpace, frames: list[tuple[float, dfem.Function]],
                 meta: dict) -> None:
    """The animation frames: one VTU of temperatures (°C) ``temperature_000_C``, ... and
    ``path.json`` (the snapshot metadata and ``frames_ms``), gathered like the snapshot.
    """
    write_snapshot(path, V, {f"temperature_{i:03d}_C": T for i, (_, T) in enumerate(frames)}, {})
    on_root(V.mesh.comm, lambda: write_json(Path(path).with_suffix(".json"),
                                            {**meta, "frames_ms": [t * 1e3 for t, _ in frames]}))


def write_mesh_xdmf(path: Path, data) -> None:
    """A mesh and its cell and facet tags (``dolfinx.io.gmsh.MeshData``) as XDMF (parallel
    writer)."""
    from dolfinx.io import XDMFFile

    with XDMFFile(data.mesh.comm, str(path), "w") as f:
        f.write_mesh(data.mesh)
        data.mesh.topology.create_connectivity(2, 3)
        f.write_meshtags(data.cell_tags, data.mesh.geometry)
        f.write_meshtags(data.facet_tags, data.mesh.geometry)

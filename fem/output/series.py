"""Fields over time for every ParaView: a PVD collection of VTU pieces, time in seconds.

The VTX files (``.bp``, :func:`fem.output.fields.write_vtx`) are DOLFINx's parallel format,
but the stock ParaView of Debian and Ubuntu has no ADIOS2 reader. A ParaView collection
(``.pvd``) of XML unstructured grids (``.vtu``) opens in any ParaView, VTK or pyvista, with the
physical time on ParaView's time slider. :func:`write_series` gathers the P1 fields of the
owned cells of every rank to rank 0 at each time (the grid once) and writes one VTU per time
and the PVD that lists them, last and atomically.

One unit convention holds for every field file a run writes (VTU, PVD and VTX): coordinates and
displacements in µm, temperatures in °C, stresses in kPa, time in s; an array with a unit ends
with it (``temperature_C``, ``displacement_um``, ``von_mises_kPa``), the others (damage Omega,
the healing fields) are dimensionless. Each VTU and PVD states it in a comment after its XML
declaration (a string array in the field data would stop meshio reading the file); a piece of
a series gives its time as the field data ``TimeValue``, which VTK's readers of a single file
take as its time.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from xml.sax.saxutils import quoteattr

import dolfinx.fem as dfem
import dolfinx.mesh
import numpy as np
from dolfinx import plot

from fem.output.files import KELVIN
from fem.parallel import on_root

UNITS_COMMENT = ("<!-- MTZ-FEM units: coordinates and displacements (*_um) um, temperatures "
                 "(*_C) degree Celsius, stresses (*_kPa) kPa, time (TimeValue, PVD timestep) "
                 "s; omega_* and the healing fields dimensionless -->")


def nodal_values(f: dfem.Function, n_nodes: int) -> np.ndarray:
    """The values of a P1 function at the first ``n_nodes`` local nodes, ``(n, bs)``."""
    bs = f.function_space.dofmap.index_map_bs
    return f.x.array.reshape(-1, bs)[:n_nodes].copy()


def write_series(path: Path, V: dfem.FunctionSpace,
                 frames: list[tuple[float, dict[str, dfem.Function]]]) -> None:
    """A PVD of one gathered VTU per time (collective).

    Args:
        path: the ``.pvd`` file; the pieces go in the folder of its stem beside it.
        V: the scalar P1 space of the fields (vector P1 functions on its mesh are allowed).
        frames: ``(t, {name: function})`` in time order, t in s; the name of each array is
            the key (a name ending in ``_C`` holds a temperature, converted from kelvin). Of
            two frames at the same time the later is kept.
    """
    kept: list[tuple[float, dict]] = []
    for t, fields in frames:
        if kept and abs(t - kept[-1][0]) <= 1e-12 * max(abs(t), 1e-9):
            kept.pop()
        kept.append((t, fields))
    if not kept:
        return
    comm = V.mesh.comm
    path = Path(path)
    folder = path.with_suffix("")
    topology, cell_types, x = plot.vtk_mesh(V)
    n_nodes = x.shape[0]
    pieces = comm.gather((topology, cell_types, x), root=0)
    grid = on_root(comm, lambda: _empty(folder) or gathered_grid(pieces))
    files = []
    for i, (t, fields) in enumerate(kept):
        arrays = {name: nodal_values(f, n_nodes) - (KELVIN if name.endswith("_C") else 0.0)
                  for name, f in fields.items()}
        gathered = comm.gather(arrays, root=0)
        piece = folder / f"{folder.name}_{i:03d}.vtu"
        on_root(comm, lambda: _save_piece(grid, piece, t, gathered))
        files.append((t, f"{folder.name}/{piece.name}"))
    on_root(comm, lambda: _save_pvd(path, files))


def _empty(folder: Path) -> None:
    """The pieces' folder, made or emptied of an earlier run's pieces."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.vtu"):
        old.unlink()


def gathered_grid(pieces: list):
    """One pyvista grid (coordinates in µm) of the ranks' ``(topology, cell types, x)`` from
    :func:`dolfinx.plot.vtk_mesh`, gathered on rank 0 (extra items of a piece are ignored)."""
    import pyvista

    cells, types, points, offset = [], [], [], 0
    for top, ct, xx, *_ in pieces:
        per_cell = int(top[0]) + 1 if top.size else 5
        conn = top.reshape(-1, per_cell).copy()  # [n, v0, ..., v_n-1] per cell
        conn[:, 1:] += offset
        cells.append(conn.ravel())
        types.append(ct)
        points.append(xx)
        offset += xx.shape[0]
    return pyvista.UnstructuredGrid(np.concatenate(cells), np.concatenate(types),
                                    np.concatenate(points) * 1e6)


def _save_piece(grid, path: Path, t: float, gathered: list[dict]) -> None:
    """One time of the series: the grid with this time's arrays (rank 0)."""
    grid = grid.copy(deep=False)
    grid.clear_data()
    for name in gathered[0]:
        a = np.concatenate([g[name] for g in gathered])
        grid.point_data[name] = a[:, 0] if a.shape[1] == 1 else a
    grid.field_data["TimeValue"] = np.array([t])
    save_vtu(grid, path)


def save_vtu(grid, path: Path) -> None:
    """A pyvista grid as a binary VTU with the units comment, through a temporary file and a
    rename (no partial file)."""
    path = Path(path)
    raw = path.with_name(path.stem + ".raw.vtu")
    tmp = path.with_name(path.stem + ".tmp.vtu")
    try:
        grid.save(raw, binary=True)
        with open(raw, "rb") as src, open(tmp, "wb") as dst:
            head = src.readline()  # <?xml version="1.0"?>
            if not head.startswith(b"<?xml"):
                src.seek(0)
                head = b'<?xml version="1.0"?>\n'
            dst.write(head + UNITS_COMMENT.encode() + b"\n")
            shutil.copyfileobj(src, dst)
        os.replace(tmp, path)
    finally:
        raw.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)


def _save_pvd(path: Path, files: list[tuple[float, str]]) -> None:
    """The collection, through a temporary file and a rename (rank 0)."""
    lines = ['<?xml version="1.0"?>', UNITS_COMMENT,
             '<VTKFile type="Collection" version="0.1" byte_order="LittleEndian">',
             "  <Collection>"]
    lines += [f'    <DataSet timestep="{t!r}" group="" part="0" file={quoteattr(f)}/>'
              for t, f in files]
    lines += ["  </Collection>", "</VTKFile>", ""]
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text("\n".join(lines))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def coordinates_in_um(mesh: dolfinx.mesh.Mesh):
    """The mesh's coordinates in µm for the duration of a write (a VTX file in the unit
    convention above), restored to metres after it, even on an error."""
    x = mesh.geometry.x
    saved = x.copy()
    x *= 1e6
    try:
        yield
    finally:
        x[:] = saved


def celsius(T: dfem.Function, name: str) -> dfem.Function:
    """A copy of a temperature (K) in °C, named ``name``."""
    c = T.copy()
    c.x.array[:] -= KELVIN
    c.name = name
    return c


def scaled(f: dfem.Function, factor: float, name: str) -> dfem.Function:
    """A copy of ``f`` times ``factor`` (m to µm: 1e6), named ``name``."""
    c = f.copy()
    c.x.array[:] *= factor
    c.name = name
    return c

"""Result files: atomic writes on rank 0, parallel field writers, the render snapshot.

* Small files (JSON, CSV, TOML, HTML) are written by rank 0 to ``name.tmp`` and renamed, so a
  result file is never left half-written.
* Fields for ParaView go through DOLFINx's parallel writers (VTX / ADIOS2 ``.bp``).
* :func:`write_snapshot` gathers the P1 fields of the owned cells of every rank to rank 0 and
  writes ``fields/snapshot.vtu`` (coordinates in µm) for the renderer, so that
  ``mtz render DIR`` works from saved results on one process.
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from mpi4py import MPI

import numpy as np
import tomli_w
from dolfinx import fem, plot

KELVIN = 273.15


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def on_root(comm: MPI.Comm, work):
    """Run ``work()`` on rank 0 of ``comm`` (the result files of a case, its report) and
    return its result on every rank once it is done, or raise its error on every rank.

    Without this the other ranks would return while rank 0 is still writing (a caller on
    rank 1 would not find ``metrics.json`` yet) or would hang in the next collective call
    when rank 0 fails.
    """
    result = None
    if comm.rank == 0:
        try:
            result = work()
        except Exception as exc:  # noqa: BLE001 - raised below, after telling every rank
            result = exc
    result = comm.bcast(result, root=0)
    if isinstance(result, Exception):
        raise result
    return result


def write_json(path: Path, obj) -> None:
    """Atomic, indented JSON."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_case_toml(path: Path, resolved: dict) -> None:
    """The fully resolved case, enough to rerun it."""
    atomic_write_text(path, "# Resolved case (presets expanded)\n" + tomli_w.dumps(resolved))


def write_probes_csv(path: Path, names: list[str], purposes: list[str], times, values) -> None:
    """``probes.csv``: one row per time, temperature (C) and damage per probe."""
    buf = io.StringIO()
    w = csv.writer(buf)
    header = ["time_ms"]
    for name in names:
        header += [f"{name}_T_C"] + [f"{name}_omega_{p}" for p in purposes]
    w.writerow(header)
    for t, v in zip(times, values):  # v: (n_probes, 1 + n_purposes)
        row = [f"{t * 1e3:.6g}"]
        for p in range(v.shape[0]):
            row += [f"{v[p, 0] - KELVIN:.6g}"] + [f"{x:.6g}" for x in v[p, 1:]]
        w.writerow(row)
    atomic_write_text(path, buf.getvalue())


def write_vtx(comm: MPI.Comm, path: Path, functions: list[fem.Function], t: float = 0.0) -> None:
    """One VTX (ADIOS2) file with functions of one space, at one time."""
    from dolfinx.io import VTXWriter

    with VTXWriter(comm, str(path), functions, engine="BP4") as vtx:
        vtx.write(t)


def write_snapshot(path: Path, V: fem.FunctionSpace, point_data: dict[str, fem.Function],
                   cell_data: dict[str, np.ndarray]) -> None:
    """Gather P1 point data and per-cell data of the owned cells to rank 0 and write a VTU.

    Args:
        path: the ``.vtu`` file.
        V: the scalar P1 space of the point data (vector P1 functions are allowed too).
        point_data: name -> function (scalar or vector, P1 on the same mesh).
        cell_data: name -> array over the owned cells.
    """
    comm = V.mesh.comm
    topology, cell_types, x = plot.vtk_mesh(V)
    n_nodes = x.shape[0]
    arrays = {}
    for name, f in point_data.items():
        bs = f.function_space.dofmap.index_map_bs
        arrays[name] = f.x.array.reshape(-1, bs)[:n_nodes].copy()
        if name.endswith("_C"):
            arrays[name] -= KELVIN
    pieces = comm.gather((topology, cell_types, x, arrays, cell_data), root=0)
    if comm.rank != 0:
        return
    import pyvista

    cells, types, points, pdata, cdata, offset = [], [], [], {}, {}, 0
    for top, ct, xx, arr, carr in pieces:
        conn = top.reshape(-1, 5).copy()  # [4, v0, v1, v2, v3] per tetrahedron
        conn[:, 1:] += offset
        cells.append(conn.ravel())
        types.append(ct)
        points.append(xx)
        offset += xx.shape[0]
        for k, v in arr.items():
            pdata.setdefault(k, []).append(v)
        for k, v in carr.items():
            cdata.setdefault(k, []).append(v)
    grid = pyvista.UnstructuredGrid(np.concatenate(cells), np.concatenate(types),
                                    np.concatenate(points) * 1e6)
    for k, v in pdata.items():
        a = np.concatenate(v)
        grid.point_data[k] = a[:, 0] if a.shape[1] == 1 else a
    for k, v in cdata.items():
        grid.cell_data[k] = np.concatenate(v)
    tmp = Path(path).with_name(Path(path).stem + ".tmp.vtu")
    grid.save(tmp, binary=True)
    os.replace(tmp, path)


def animation_steps(steps: list[tuple[float, float]], t_pulse: float, during: int = 8,
                    after: int = 8) -> set[int]:
    """Step numbers (0: the initial state) whose temperature becomes a frame of the animation.

    About ``during`` frames evenly spaced over the steps of the pulse and ``after`` over the
    (growing) steps after it, the end of the pulse and the last step included.

    Args:
        steps: The time schedule, ``(t0, t1)`` per step (s).
        t_pulse: End of the pulse (s).
    """
    def pick(numbers: list[int], k: int) -> set[int]:
        if not numbers:
            return set()
        idx = np.unique(np.round(np.linspace(0, len(numbers) - 1, max(k, 1))).astype(int))
        return {numbers[i] for i in idx}

    on = [n for n, (_, t1) in enumerate(steps, 1) if t1 <= t_pulse * (1 + 1e-12)]
    off = [n for n, (_, t1) in enumerate(steps, 1) if t1 > t_pulse * (1 + 1e-12)]
    return {0} | pick(on, during) | pick(off, after)


def write_frames(path: Path, V: fem.FunctionSpace, frames: list[tuple[float, fem.Function]],
                 meta: dict) -> None:
    """The animation frames: one VTU of temperatures (°C) ``temperature_000_C``, ... and
    ``path.json`` (the snapshot metadata and ``frames_ms``), gathered like the snapshot.
    """
    write_snapshot(path, V, {f"temperature_{i:03d}_C": T for i, (_, T) in enumerate(frames)}, {})
    if V.mesh.comm.rank == 0:
        write_json(Path(path).with_suffix(".json"),
                   {**meta, "frames_ms": [t * 1e3 for t, _ in frames]})


def git_commit() -> str | None:
    """The commit of the source tree this package runs from, if it is a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        if out.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def versions() -> dict[str, str]:
    """Versions of the interpreter and the numerical stack."""
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for dist in ("mtz-fem", "fenics-dolfinx", "dolfinx-solver-real", "petsc4py", "mpi4py",
                 "fenics-basix", "fenics-ffcx", "fenics-ufl", "gmsh", "numpy", "pyvista", "vtk"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    import dolfinx

    out["dolfinx"] = dolfinx.__version__
    from petsc4py import PETSc

    out["petsc"] = ".".join(str(v) for v in PETSc.Sys.getVersion())
    out["mpi"] = MPI.Get_library_version().splitlines()[0].strip()
    return out


def provenance(ranks: int, phases: dict[str, float], extra: dict) -> dict:
    """The provenance record of a run."""
    return {
        "command": " ".join(sys.argv),
        "git_commit": git_commit(),
        "versions": versions(),
        "ranks": ranks,
        "phases_s": {k: round(v, 3) for k, v in phases.items()},
        "total_s": round(sum(phases.values()), 3),
        **extra,
    }

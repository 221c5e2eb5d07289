"""Provenance of a run: the command, the source commit, the versions, the phase times."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from mpi4py import MPI


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

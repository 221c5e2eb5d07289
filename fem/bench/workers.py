"""The worker processes of the heat benchmarks (:mod:`fem.bench.heat`,
:mod:`fem.bench.production`): what both drivers and all their workers share.

A worker is ``python -m fem.bench --worker VARIANT --case CASE --save PATH`` on the ranks it
is started on (:func:`launch`: ``mpiexec -n RANKS`` for several, one BLAS/OpenMP thread per
rank, so that every variant runs in the same environment and its ``peak_rss_MB`` is its own).
It writes ``PATH.json`` (its record) and ``PATH.npz`` (the DOF coordinates and its initial and
final temperatures, sorted by coordinate: runs on different partitions compare), which
:func:`load_run` reads back. :func:`time_loop` is the timed loop of the solver variants and of
the floor.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from mpi4py import MPI

import dolfinx.fem as dfem
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "studies" / "demo.toml"
# The physics both solver variants share (the tutorial baseline writes the linear Pennes
# problem): plain convection on the surface, no explicit terms (evaporation beyond its
# tangent, perfusion shutdown, boiling), the Beer-Lambert source. The fast solver with it is
# the floor of a production step (fem.bench.production).
SAME_PHYSICS = ["boundary.evaporation=false", "tissue.perfusion_shutdown=false",
                "tissue.vaporisation=false", "laser.light='beer_lambert'"]  # an expression
SINGLE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
COORDINATE_GRID = 1e-11  # m: DOF coordinates snapped to it for sorting (ulps differ by rank)


def say(comm: MPI.Comm, msg: str) -> None:
    """A progress line on rank 0."""
    if comm.rank == 0:
        print(f"[bench] {msg}", flush=True)


def sorted_values(V: dfem.FunctionSpace, arrays: list[np.ndarray], comm: MPI.Comm):
    """On rank 0: the owned DOF coordinates and the given DOF arrays of all ranks, sorted by
    coordinate (snapped to :data:`COORDINATE_GRID`: the coordinates of a DOF differ in the
    last bits between partitions), a partition-independent order; ``None`` elsewhere."""
    n = V.dofmap.index_map.size_local
    x = V.tabulate_dof_coordinates()[:n]
    parts = comm.gather([x] + [a[:n] for a in arrays], root=0)
    if comm.rank != 0:
        return None
    x = np.concatenate([p[0] for p in parts])
    key = np.round(x / COORDINATE_GRID)
    order = np.lexsort((key[:, 2], key[:, 1], key[:, 0]))
    return [x[order]] + [np.concatenate([p[k] for p in parts])[order]
                         for k in range(1, len(arrays) + 1)]


def save_fields(save: Path, V: dfem.FunctionSpace, T_initial: np.ndarray, T: np.ndarray,
                comm: MPI.Comm) -> None:
    """``save.npz``: the sorted coordinates and the initial and final temperatures."""
    out = sorted_values(V, [T_initial, T], comm)
    if comm.rank == 0:
        np.savez(save.with_suffix(".npz"), x=out[0], T_initial=out[1], T=out[2])


def peak_rss_mb(comm: MPI.Comm) -> tuple[float, float]:
    """(largest, summed) peak resident memory over the ranks, MB (``ru_maxrss`` is in kB)."""
    mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return comm.allreduce(mb, op=MPI.MAX), comm.allreduce(mb, op=MPI.SUM)


def time_loop(problem, steps: list[tuple[float, float]],
              power: Callable[[float, float], float | np.ndarray]) -> dict:
    """Run all the steps once, ``problem.step(t0, t1, power(t0, t1))``; wall times (rank 0,
    after barriers) of the loop and of the steps that set up a new step size (matrix assembly
    and solver setup included)."""
    comm = problem.comm
    setup_seconds, iterations, n_setups = 0.0, problem.iterations, problem.step_sizes
    comm.Barrier()
    t_start = time.perf_counter()
    for n, (t0, t1) in enumerate(steps, start=1):
        tic, before = time.perf_counter(), problem.step_sizes
        problem.step(t0, t1, power(t0, t1), step=n)
        if problem.step_sizes != before:
            comm.Barrier()
            setup_seconds += time.perf_counter() - tic
    comm.Barrier()
    total = time.perf_counter() - t_start
    return {"loop_seconds": total, "new_step_size_seconds": setup_seconds,
            "step_sizes": problem.step_sizes - n_setups,
            "iterations": problem.iterations - iterations}


def launch(variant: str, case_name: str, ranks: int, work: Path, repeats: int,
           reuse: bool = False) -> dict:
    """Run one worker in its own process(es); returns its record and its fields (``reuse``:
    those of an earlier run in ``work`` when there is one)."""
    save = work / f"{case_name}_{variant}_n{ranks}"
    if reuse and save.with_suffix(".json").exists() and save.with_suffix(".npz").exists():
        print(f"[bench] {case_name}/{variant}/{ranks} rank(s): reusing {save}.json", flush=True)
        return load_run(save)
    cmd = [sys.executable, "-m", "fem.bench", "--worker", variant, "--case", case_name,
           "--save", str(save), "--repeats", str(repeats)]
    if ranks > 1:
        mpiexec = Path(sys.executable).parent / "mpiexec"
        cmd = [str(mpiexec) if mpiexec.exists() else shutil.which("mpiexec") or "mpiexec",
               "-n", str(ranks)] + cmd
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "PMIX_", "HYDRA_"))}
    env.update(SINGLE_THREAD)
    p = subprocess.run(cmd, env=env, cwd=ROOT)
    if p.returncode != 0:
        raise RuntimeError(f"bench worker failed (exit {p.returncode}): {' '.join(cmd)}")
    return load_run(save)


def load_run(save: Path) -> dict:
    """The record and fields a worker saved."""
    record = json.loads(save.with_suffix(".json").read_text())
    with np.load(save.with_suffix(".npz")) as f:
        fields = {k: f[k] for k in f.files}
    return {"record": record, "fields": fields}

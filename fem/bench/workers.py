"""The worker processes of the benchmarks (:mod:`fem.bench.heat`, :mod:`fem.bench.production`,
:mod:`fem.bench.mechanics`): what their drivers and workers share.

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


def repeat_loop(problem, steps: list[tuple[float, float]],
                power: Callable[[float, float], float | np.ndarray], repeats: int,
                reset: Callable[[], None], tag: str) -> list[dict]:
    """:func:`time_loop` ``repeats`` times, ``reset()`` between runs, a progress line each."""
    runs = []
    for r in range(repeats):
        if r:
            reset()
        runs.append(time_loop(problem, steps, power))
        say(problem.comm, f"{tag}: run {r + 1}/{repeats}: {runs[-1]['loop_seconds']:.2f} s "
                          f"({runs[-1]['loop_seconds'] / len(steps):.4f} s/step)")
    return runs


def driver_under_mpiexec(prog: str) -> bool:
    """Whether a benchmark's driver was started under mpiexec (it must not be: it starts its
    workers on their ranks itself); says so on rank 0."""
    if MPI.COMM_WORLD.size == 1:
        return False
    if MPI.COMM_WORLD.rank == 0:
        print(f"{prog}: start the driver on one process; it runs its workers under mpiexec "
              "itself", file=sys.stderr)
    return True


def suffixed(save: Path, suffix: str) -> Path:
    """``save`` with ``suffix`` appended (a run's stem may hold dots: ``threshold_0.05``)."""
    return save.with_name(save.name + suffix)


def start_worker(module: str, args: list[str], ranks: int) -> None:
    """Run ``python -m module args`` on ``ranks`` ranks (``mpiexec -n`` for several) with one
    BLAS/OpenMP thread per rank and without the launcher's variables of this process; a
    failure raises."""
    cmd = [sys.executable, "-m", module] + args
    if ranks > 1:
        mpiexec = Path(sys.executable).parent / "mpiexec"
        cmd = [str(mpiexec) if mpiexec.exists() else shutil.which("mpiexec") or "mpiexec",
               "-n", str(ranks)] + cmd
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "PMIX_", "HYDRA_"))}
    env.update(SINGLE_THREAD)
    p = subprocess.run(cmd, env=env, cwd=ROOT)
    if p.returncode != 0:
        raise RuntimeError(f"bench worker failed (exit {p.returncode}): {' '.join(cmd)}")


def launch(variant: str, case_name: str, ranks: int, work: Path, repeats: int,
           reuse: bool = False) -> dict:
    """Run one worker in its own process(es); returns its record and its fields (``reuse``:
    those of an earlier run in ``work`` when there is one)."""
    save = work / f"{case_name}_{variant}_n{ranks}"
    if reuse and suffixed(save, ".json").exists() and suffixed(save, ".npz").exists():
        print(f"[bench] {case_name}/{variant}/{ranks} rank(s): reusing {save}.json", flush=True)
        return load_run(save)
    start_worker("fem.bench", ["--worker", variant, "--case", case_name, "--save", str(save),
                               "--repeats", str(repeats)], ranks)
    return load_run(save)


def load_run(save: Path) -> dict:
    """The record and fields a worker saved."""
    record = json.loads(suffixed(save, ".json").read_text())
    with np.load(suffixed(save, ".npz")) as f:
        fields = {k: f[k] for k in f.files}
    return {"record": record, "fields": fields}

"""Transient heat benchmark (``make bench``): :class:`fem.physics.heat.PennesProblem` against the
DOLFINx tutorial pattern on the same discrete problem (records of kind ``solver``), then the
heat step in production against that solver alone, its floor (records of kind
``production``: :mod:`fem.bench.production`).

Cases: the demo (medium mesh) on one rank, and the demo with a fine column mesh of about 500k
DOFs on one and on two ranks (``--quick``: the coarse demo on one rank only). For each, two
variants solve the same time steps from the same initial state:

* ``fast``: :meth:`fem.physics.heat.PennesProblem.step` (``M``, ``K``, the loads and the source per
  watt assembled once; one matrix and one CG + GAMG solver per step size ``t1 - t0``, all
  kept; no assembly in the loop; the energy ledger is kept as in a real run);
* ``baseline``: the tutorial pattern: the same bilinear form assembled and factorised by MUMPS
  (``preonly`` + LU) when the step size changes (:class:`TutorialHeat`), and the whole
  right-hand side re-assembled every step from a linear form in which the source is the
  Gaussian-beam Beer-Lambert formula of :mod:`fem.physics.source` as a UFL expression of the spatial
  coordinate (per layer, quadrature degree 4, power as a ``Constant``).

Both start from the steady state of :meth:`~fem.physics.heat.PennesProblem.solve_steady` (the
baseline copies it), use the time points of :class:`fem.run.schedule.Schedule` and the exact
mean power of :func:`fem.physics.source.mean_power`, with the physics both can write
(:data:`fem.bench.workers.SAME_PHYSICS`).

What is timed: the whole time loop (all the steps of the schedule), which includes for each
new step size the matrix assembly and the solver setup (GAMG hierarchy, or the MUMPS
factorisation), between barriers, best of ``--repeats`` runs; ``seconds_per_step`` is that
time over the number of steps. Not timed: the mesh, the constant assembly of
:class:`~fem.physics.heat.PennesProblem`, the steady state, the JIT compilation of the forms.

Each variant runs in its own process (:func:`fem.bench.workers.launch`: ``mpiexec -n RANKS``
for several ranks, one BLAS/OpenMP thread per rank) so that ``peak_rss_MB`` (``ru_maxrss``,
the largest over the ranks) is its own. A worker writes its record and its final temperature
sorted by the DOF coordinates (so that runs on different partitions compare); the driver
compares them: ``max_rel_diff = max |T_fast - T_base| / max |T_base - T_initial|`` (relative
to the largest temperature rise; ``max_rel_diff_K`` is relative to the temperature in
kelvin), and writes ``results/bench/bench.json`` atomically, a list of the records of both
kinds (``kind``).

    python -m fem.bench [--quick] [--out results/bench] [--repeats N]
        [--only CASE:RANKS | --only production:CASE:RANKS ...]
    mpiexec -n 2 python -m fem.bench --worker fast --case large --save DIR/large_fast_n2
    mpiexec -n 2 python -m fem.bench --worker production --case patch --save DIR/patch_n2

The driver starts its workers itself (do not start the driver under ``mpiexec``); a worker
runs on the ranks it is given.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import sys
import time
from pathlib import Path

from mpi4py import MPI
from petsc4py import PETSc

import dolfinx.fem as dfem
import dolfinx.fem.petsc
import numpy as np
import ufl

from fem.bench import production
from fem.bench.workers import (COORDINATE_GRID, DEMO, ROOT, SAME_PHYSICS, driver_under_mpiexec,
                               launch, peak_rss_mb, repeat_loop, save_fields, say)
from fem.config import Case, load_case
from fem.config.presets import BLOOD_DENSITY, BLOOD_SPECIFIC_HEAT
from fem.output.files import write_json
from fem.physics.heat import SOURCE_QUADRATURE_DEGREE
from fem.physics.layers import cellwise
from fem.physics.source import mean_power
from fem.run.mesh import build_mesh
from fem.run.problems import beam_source, heat_problem
from fem.run.schedule import Schedule
from fem.solvers import check_converged
from meshes.skin import BOTTOM, TOP, WALL, layer_tag

# Overrides per benchmark case (on top of studies/demo.toml).
CASES = {
    "coarse": ["mesh.resolution='coarse'"],
    "demo": ["mesh.resolution='medium'"],
    # ~505k DOFs (3.1M cells): the fine resolution with a uniform 5 um column element in a
    # refined column of 140 um radius (fixed, so that the size does not follow the preset's
    # spot) and the surface size everywhere on top (the mesh of before cells followed the
    # injury, kept so that the records compare).
    "large": ["mesh.resolution='fine'", "mesh.column_size_um=5", "mesh.column_radius_um=140",
              "mesh.column_bottom_size_um=5", "mesh.surface_far_size_um=7.5"],
}
# (case, ranks) of the records, in order.
FULL_PLAN = [("demo", 1), ("large", 1), ("large", 2)]
QUICK_PLAN = [("coarse", 1)]


# --------------------------------------------------------------------------------------------
# The baseline: the DOLFINx tutorial pattern
# --------------------------------------------------------------------------------------------


def source_expression(case: Case, x, i: int):
    """``q / P`` of layer ``i`` as a UFL expression of the coordinate ``x``: the Gaussian-beam
    Beer-Lambert formula of :meth:`fem.physics.source.BeamSource.density` (less the Fresnel
    reflection), summed over the columns."""
    lz = case.laser
    d_top, mu, tau_top = beam_source(case).layer_optics()[i]
    d = -x[2]
    w2 = lz.w0**2 + (math.tan(lz.divergence) * (d - lz.focal_depth)) ** 2
    axial = (1.0 - lz.specular) * mu * ufl.exp(-(tau_top + mu * (d - d_top))) * 2.0 / (
        math.pi * w2)
    return sum(axial * ufl.exp(-2.0 * ((x[0] - cx) ** 2 + (x[1] - cy) ** 2) / w2)
               for cx, cy in case.pattern.layout.centres)


class TutorialHeat:
    """Backward-Euler Pennes heat the way the DOLFINx tutorials write it.

    The bilinear form (with ``1/dt`` a ``Constant``) is assembled and LU-factorised (MUMPS)
    when the step size changes, and that one matrix and factorisation are kept while it does
    not; the whole linear form, mass term and laser source (a UFL expression times the power
    ``Constant``) included, is assembled every step. Step sizes are compared to 10 significant
    digits (``t1 - t0`` of equal steps differs in the last bits), so the demo schedule
    factorises once per nominal size (7 times). Only the current factorisation is kept:
    at 500k DOFs one MUMPS factor takes about 6 GB.
    """

    def __init__(self, domain, cell_tags, facet_tags, case: Case, T_initial: np.ndarray):
        self.case, self.comm = case, domain.comm
        self.V = dfem.functionspace(domain, ("Lagrange", 1))
        V0 = dfem.functionspace(domain, ("DG", 0))
        L = case.skin.layers
        rho_c = cellwise(V0, cell_tags, [la.rho * la.c for la in L], "rho_c")
        k = cellwise(V0, cell_tags, [la.k for la in L], "k")
        w_b = cellwise(V0, cell_tags,
                       [la.perfusion * BLOOD_DENSITY * BLOOD_SPECIFIC_HEAT for la in L], "wcb")
        q_met = cellwise(V0, cell_tags, [la.rho * la.metabolic for la in L], "q_met")
        self.T = dfem.Function(self.V, name="temperature")
        self.T_n = dfem.Function(self.V, name="temperature_previous")
        self.T_initial = T_initial.copy()
        self.A, self.ksp, self.dt_key, self.setups = None, None, None, 0
        self.reset()

        dx = ufl.Measure("dx", domain=domain, subdomain_data=cell_tags)
        dxq = ufl.Measure("dx", domain=domain, subdomain_data=cell_tags,
                          metadata={"quadrature_degree": SOURCE_QUADRATURE_DEGREE})
        ds = ufl.Measure("ds", domain=domain, subdomain_data=facet_tags)((TOP, WALL))
        T, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        b = case.boundary
        h = b.h_surface
        self.inv_dt = dfem.Constant(domain, PETSc.ScalarType(1.0))
        self.power = dfem.Constant(domain, PETSc.ScalarType(0.0))
        x = ufl.SpatialCoordinate(domain)
        a = (self.inv_dt * rho_c * T * v * dx + ufl.inner(k * ufl.grad(T), ufl.grad(v)) * dx
             + w_b * T * v * dx + h * T * v * ds)
        rhs = ((self.inv_dt * rho_c * self.T_n + w_b * b.arterial_T + q_met) * v * dx
               + h * b.ambient_T * v * ds)
        for i in range(len(L)):
            rhs += (self.power * source_expression(case, x, i) * v
                    * dxq((layer_tag(i, False), layer_tag(i, True))))
        self.a, self.L = dfem.form(a), dfem.form(rhs)
        bottom = facet_tags.find(BOTTOM)
        dofs = dfem.locate_dofs_topological(self.V, domain.topology.dim - 1, bottom)
        self.bc = dfem.dirichletbc(PETSc.ScalarType(b.core_T), dofs, self.V)
        self.b = dolfinx.fem.petsc.create_vector(self.V)

    def reset(self) -> None:
        """Back to the initial state; drop the matrix and its factorisation."""
        self.T.x.array[:] = self.T_initial
        self.T_n.x.array[:] = self.T_initial
        if self.ksp is not None:
            self.ksp.destroy(), self.A.destroy()
        self.A, self.ksp, self.dt_key, self.setups = None, None, None, 0

    def _update_matrix(self, dt: float) -> None:
        """Assemble and factorise (MUMPS LU) the matrix for a new step size."""
        key = float(f"{dt:.10g}")
        if key == self.dt_key:
            return
        if self.ksp is not None:
            self.ksp.destroy(), self.A.destroy()
        self.inv_dt.value = 1.0 / dt  # also in the right-hand side while this size lasts
        self.A = dolfinx.fem.petsc.assemble_matrix(self.a, bcs=[self.bc])
        self.A.assemble()
        self.ksp = PETSc.KSP().create(self.comm)
        self.ksp.setOperators(self.A)
        self.ksp.setType("preonly")
        self.ksp.getPC().setType("lu")
        self.ksp.getPC().setFactorSolverType("mumps")
        self.dt_key = key
        self.setups += 1

    def step(self, t0: float, t1: float, power: float, step: int = 0) -> dfem.Function:
        """Advance from ``t0`` to ``t1`` with mean laser power ``power``; returns ``T``."""
        self._update_matrix(t1 - t0)
        self.power.value = power
        with self.b.localForm() as b_local:
            b_local.set(0.0)
        dolfinx.fem.petsc.assemble_vector(self.b, self.L)
        dolfinx.fem.petsc.apply_lifting(self.b, [self.a], bcs=[[self.bc]])
        self.b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        dolfinx.fem.petsc.set_bc(self.b, [self.bc])
        self.ksp.solve(self.b, self.T.x.petsc_vec)
        check_converged(self.ksp, "baseline heat", step, t1)
        self.T.x.scatter_forward()
        self.T_n.x.array[:] = self.T.x.array
        return self.T

    @property
    def iterations(self) -> int:
        """Krylov iterations (none: a direct solve)."""
        return 0

    @property
    def step_sizes(self) -> int:
        """How many matrices and factorisations (one per step size) it has set up so far."""
        return self.setups


# --------------------------------------------------------------------------------------------
# One worker: one variant of one case on the ranks it is started on
# --------------------------------------------------------------------------------------------


def run_worker(variant: str, case_name: str, save: Path, repeats: int,
               comm: MPI.Comm = MPI.COMM_WORLD) -> None:
    """Set up ``variant`` on case ``case_name``, time its loop ``repeats`` times and write
    ``save.json`` (record) and ``save.npz`` (sorted coordinates, initial and final T)."""
    case = load_case(DEMO, CASES[case_name] + SAME_PHYSICS)
    steps = Schedule.of(case).steps
    tag = f"{case_name}/{variant}/{comm.size} rank(s)"
    t0 = time.perf_counter()
    data, _ = build_mesh(case, comm)
    domain, ct, ft = data.mesh, data.cell_tags, data.facet_tags
    t_mesh = time.perf_counter() - t0
    t0 = time.perf_counter()
    heat = heat_problem(domain, ct, ft, case, with_laser=(variant == "fast"))
    heat.solve_steady()
    T_initial = heat.T_initial.x.array.copy()
    dofs = heat.dofs
    if variant == "fast":
        problem = heat
        reset = lambda: heat.reset(T_initial)  # noqa: E731
    else:
        del heat  # the baseline keeps only the initial state
        gc.collect()
        problem = TutorialHeat(domain, ct, ft, case, T_initial)
        reset = problem.reset
    t_setup = time.perf_counter() - t0
    say(comm, f"{tag}: {dofs} dofs, mesh {t_mesh:.1f} s, setup {t_setup:.1f} s, "
              f"{len(steps)} steps")
    runs = repeat_loop(problem, steps, lambda t0, t1: mean_power(case.laser, t0, t1), repeats,
                       reset, tag)
    best = min(runs, key=lambda run: run["loop_seconds"])
    rss_max, rss_sum = peak_rss_mb(comm)
    save_fields(save, problem.V, T_initial, problem.T.x.array, comm)
    if comm.rank == 0:
        write_json(save.with_suffix(".json"), {
            "variant": variant, "case": case_name, "dofs": dofs, "ranks": comm.size,
            "steps": len(steps), "step_sizes": best["step_sizes"],
            "repeats": repeats, "seconds_per_step": best["loop_seconds"] / len(steps),
            "loop_seconds_runs": [run["loop_seconds"] for run in runs],
            "new_step_size_seconds": best["new_step_size_seconds"],
            "iterations": best["iterations"], "mesh_seconds": t_mesh,
            "setup_seconds": t_setup, "peak_rss_MB": rss_max, "peak_rss_MB_all_ranks": rss_sum,
        })


# --------------------------------------------------------------------------------------------
# The driver: one process per variant, records compared and written
# --------------------------------------------------------------------------------------------


def differences(fast: dict, base: dict) -> tuple[float, float]:
    """(max |T_fast - T_base| / max |T_base - T_initial|, max |T_fast - T_base| / max T_base)
    on the coordinate-sorted DOFs."""
    if (fast["x"].shape != base["x"].shape
            or not np.allclose(fast["x"], base["x"], rtol=0.0, atol=10 * COORDINATE_GRID)):
        raise RuntimeError("bench: the two runs do not have the same DOFs (different meshes: "
                           "was meshes/skin.py or the case edited between them?)")
    diff = np.max(np.abs(fast["T"] - base["T"]))
    rise = np.max(np.abs(base["T"] - base["T_initial"]))
    return float(diff / rise), float(diff / np.max(np.abs(base["T"])))


def combine(case_name: str, fast: dict, base: dict) -> dict:
    """The record of one case on one number of ranks."""
    f, b = fast["record"], base["record"]
    rel, rel_K = differences(fast["fields"], base["fields"])
    return {
        "kind": "solver", "name": case_name, "dofs": f["dofs"], "ranks": f["ranks"],
        "seconds_per_step": f["seconds_per_step"],
        "baseline_seconds_per_step": b["seconds_per_step"],
        "speedup": b["seconds_per_step"] / f["seconds_per_step"],
        "max_rel_diff": rel, "max_rel_diff_K": rel_K,
        "peak_rss_MB": f["peak_rss_MB"], "baseline_peak_rss_MB": b["peak_rss_MB"],
        "peak_rss_MB_all_ranks": f["peak_rss_MB_all_ranks"],
        "baseline_peak_rss_MB_all_ranks": b["peak_rss_MB_all_ranks"],
        "steps": f["steps"], "step_sizes": f["step_sizes"],
        "baseline_step_sizes": b["step_sizes"], "repeats": f["repeats"],
        "baseline_repeats": b["repeats"],
        "cg_iterations": f["iterations"],
        "new_step_size_seconds": f["new_step_size_seconds"],
        "baseline_new_step_size_seconds": b["new_step_size_seconds"],
        "loop_seconds_runs": f["loop_seconds_runs"],
        "baseline_loop_seconds_runs": b["loop_seconds_runs"],
    }


def add_parallel_speedups(records: list[dict]) -> None:
    """``parallel_speedup`` (and the baseline's) of each multi-rank record against the
    one-rank record of the same case."""
    solver = [r for r in records if kind(r) == "solver"]
    serial = {r["name"]: r for r in solver if r["ranks"] == 1}
    for r in solver:
        s = serial.get(r["name"])
        if r["ranks"] > 1 and s is not None:
            r["parallel_speedup"] = s["seconds_per_step"] / r["seconds_per_step"]
            r["baseline_parallel_speedup"] = (s["baseline_seconds_per_step"]
                                              / r["baseline_seconds_per_step"])


def kind(record: dict) -> str:
    """``solver`` (fast against the tutorial baseline) or ``production`` (against the floor);
    records written before there were production records are of the solver."""
    return record.get("kind", "solver")


def order(record: dict) -> tuple:
    """Where a record goes in ``bench.json``: the solver's, then production's, by case."""
    cases = list(CASES) if kind(record) == "solver" else list(production.CASES)
    return (kind(record) != "solver", cases.index(record["name"]), record["ranks"])


def table(records: list[dict]) -> str:
    """The solver records as a text table."""
    lines = [f"{'name':8s} {'dofs':>8s} {'ranks':>5s} {'s/step':>9s} {'base s/step':>11s} "
             f"{'speedup':>8s} {'max rel diff':>12s} {'RSS MB':>8s} {'base RSS':>8s} "
             f"{'par. sp.':>8s}"]
    for r in records:
        par = f"{r['parallel_speedup']:8.2f}" if "parallel_speedup" in r else f"{'-':>8s}"
        lines.append(
            f"{r['name']:8s} {r['dofs']:8d} {r['ranks']:5d} {r['seconds_per_step']:9.4f} "
            f"{r['baseline_seconds_per_step']:11.4f} {r['speedup']:8.2f} "
            f"{r['max_rel_diff']:12.2e} {r['peak_rss_MB']:8.0f} {r['baseline_peak_rss_MB']:8.0f} "
            f"{par}")
    return "\n".join(lines)


def default_repeats(case_name: str, variant: str) -> int:
    """Timed runs per variant: 3 on the small meshes; at 500k DOFs 2 for the fast variant and
    1 for the baseline (a run of the baseline takes about a quarter of an hour there)."""
    if case_name != "large":
        return 3
    return 2 if variant == "fast" else 1


def run_bench(out: Path, quick: bool = False, repeats: int | None = None,
              only: list[tuple[str, str, int]] | None = None,
              reuse_baseline: bool = False) -> list[dict]:
    """All the records of the plan, the solver's (:data:`FULL_PLAN`, :data:`QUICK_PLAN`)
    then production's (:data:`fem.bench.production.FULL_PLAN`, ``QUICK_PLAN``), or the
    ``only`` entries ``(kind, case, ranks)``, merged into an existing ``out/bench.json`` (a
    long benchmark can be taken in parts, e.g. the 2-rank records on a quiet machine); writes
    ``out/bench.json`` and returns the records."""
    out = Path(out)
    work = out / "runs"
    work.mkdir(parents=True, exist_ok=True)
    records, serial_fields = [], {}
    plan = ([("solver", c, n) for c, n in (QUICK_PLAN if quick else FULL_PLAN)]
            + [("production", c, n)
               for c, n in (production.QUICK_PLAN if quick else production.FULL_PLAN)])
    if only:
        old = out / "bench.json"
        keep = json.loads(old.read_text()) if old.exists() else []
        records = [r for r in keep if (kind(r), r["name"], r["ranks"]) not in only]
        for r in records:  # the fields of earlier serial runs, for the rank comparison
            npz = work / f"{r['name']}_fast_n1.npz"
            if kind(r) == "solver" and r["ranks"] == 1 and npz.exists():
                with np.load(npz) as f:
                    serial_fields[r["name"]] = {k: f[k] for k in f.files}
        plan = only
    for what, case_name, ranks in plan:
        print(f"[bench] {what} {case_name} on {ranks} rank(s)", flush=True)
        if what == "production":
            rec = production.measure(case_name, ranks, work, repeats)
        else:
            runs = {v: launch(v, case_name, ranks, work,
                              repeats or default_repeats(case_name, v),
                              reuse=reuse_baseline and v == "baseline")
                    for v in ("fast", "baseline")}
            rec = combine(case_name, runs["fast"], runs["baseline"])
            if ranks == 1:
                serial_fields[case_name] = runs["fast"]["fields"]
            elif case_name in serial_fields:  # the answer does not depend on the partition
                rec["max_rel_diff_vs_1_rank"] = differences(runs["fast"]["fields"],
                                                            serial_fields[case_name])[0]
        records.append(rec)
        records.sort(key=order)
        add_parallel_speedups(records)
        write_json(out / "bench.json", records)
        print((production.table if what == "production" else table)([rec]), flush=True)
    print(table([r for r in records if kind(r) == "solver"]), flush=True)
    print(production.table([r for r in records if kind(r) == "production"]), flush=True)
    print(f"[bench] wrote {out / 'bench.json'}", flush=True)
    return records


def parse_only(entries: list[str]) -> list[tuple[str, str, int]] | None:
    """``--only`` entries: ``CASE:RANKS`` (a solver record) or ``production:CASE:RANKS``;
    None if one is not valid."""
    out = []
    for entry in entries:
        parts = entry.split(":")
        what = parts.pop(0) if len(parts) == 3 else "solver"
        cases = {"solver": CASES, "production": production.CASES}.get(what, {})
        if len(parts) != 2 or parts[0] not in cases or not parts[1].isdigit() \
                or int(parts[1]) < 1:
            return None
        out.append((what, parts[0], int(parts[1])))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="the coarse demo and the coarse patch's production only (tests)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "bench")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed runs per variant, best taken (default: see default_repeats)")
    parser.add_argument("--only", action="append", metavar="[production:]CASE:RANKS",
                        help="run only these records (e.g. large:2, production:patch:2) and "
                             "merge them into an existing bench.json; cases: "
                             f"{', '.join(CASES)}; production: {', '.join(production.CASES)}")
    parser.add_argument("--reuse-baseline", action="store_true",
                        help="take the baseline's runs from an earlier bench in OUT/runs (it "
                             "does not change when only the fast solver does)")
    parser.add_argument("--worker", choices=("fast", "baseline") + production.VARIANTS,
                        help=argparse.SUPPRESS)
    parser.add_argument("--case", choices=tuple(dict.fromkeys([*CASES, *production.CASES])),
                        help=argparse.SUPPRESS)
    parser.add_argument("--save", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker = production.run_worker if args.worker in production.VARIANTS else run_worker
        worker(args.worker, args.case, args.save, args.repeats or 1)
        return 0
    if driver_under_mpiexec("fem.bench"):
        return 2
    only = parse_only(args.only) if args.only else None
    if args.only and not only:
        print(f"fem.bench: --only {args.only!r}: expected CASE:RANKS with CASE one of "
              f"{', '.join(CASES)}, or production:CASE:RANKS with CASE one of "
              f"{', '.join(production.CASES)}, and RANKS >= 1", file=sys.stderr)
        return 2
    run_bench(args.out, args.quick, args.repeats, only, args.reuse_baseline)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

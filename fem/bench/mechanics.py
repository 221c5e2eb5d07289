"""Mechanics benchmark (``make bench-mechanics``): :class:`fem.physics.mechanics.ElasticityProblem`
against the pattern of the DOLFINx elasticity demo, on the same mesh and the same loads.

Case: ``studies/patch_100.toml`` with ``--set`` overrides (default ``pattern.patch_um=1500``:
18 random columns at medium resolution, 366k cells and 192k P1 displacement DOFs on the
graded mesh; ``--set mesh.column_bottom_size_um=15.075 --set mesh.surface_far_size_um=15``
too: the uniform column of before, 1.09M cells and 556k DOFs); ``--quick``: a 1 mm patch at
coarse resolution (8 columns, 37k DOFs). The loads: six synthetic states like a run with
healing, three thermal output times and three healing states
(:func:`fem.bench.mechanics_demo.load_states`; synthetic, not the thermal run's fields: the
heat solve of the 1.5 mm patch costs more than this whole benchmark, and the solvers' work
does not depend on where the loads come from). The variants solve the same six linear
systems:

* ``demo``: ``python/demo/demo_elasticity.py`` of DOLFINx v0.11.0 written for this problem
  (:class:`~fem.bench.mechanics_demo.DemoElasticity`): CG + GAMG with the rigid-body
  near-nullspace and the demo's options (rtol 1e-8, Chebyshev + Jacobi level smoothers, 10
  eigenvalue-estimate steps); a new matrix, KSP and GAMG hierarchy at every state, zero first
  guess. Its own rtol already gives the same answer (``max_rel_err_vs_reference``), so it is
  kept (``--demo-rtol`` to change it).
* ``production``: :meth:`ElasticityProblem.solve` as a run calls it
  (:func:`fem.run.problems.elasticity_problem`: CG to rtol 1e-8, GAMG coarsened aggressively
  on 2 levels, one hierarchy for all the
  solves, each from the previous solution). ``--options`` adds runs of production with one
  tweak each (:data:`TWEAKS`: PETSc options set on its ``mech_`` KSP after construction, a
  looser rtol, a zero first guess, or :class:`GalerkinGuess`); the production settings in
  :mod:`fem.physics.mechanics` are not changed.
* ``reference``: production's solver to rtol 1e-12 (untimed). Every variant's answer is
  compared with it (``max_rel_err_vs_reference``) and production's with the demo's
  (``max_rel_diff``), per state ``max |u - u_other| / max |u_other|``; the same answer is
  both within :data:`SAME_ANSWER` (1e-6).

What is timed (wall clock on rank 0 between barriers, and the CPU time of the busiest rank,
the steadier figure on a shared machine): the whole sequence, setup included. The demo: its
forms, boundary conditions and near-nullspace once, then at each state the matrix assembly,
KSP creation and GAMG setup (``setup_seconds``) and the right-hand side and CG solve
(``solve_seconds``). Production: the construction of the problem (forms, matrix, KSP) and the
hierarchy's setup once (``setup_seconds``), then its ``solve()`` at each state (right-hand
side, CG, and the cell stresses it updates: ``solve_seconds``). ``ksp_solve_seconds`` and
``pc_setup_seconds`` are PETSc's own event times (rank 0). Not timed: the mesh, the loads, the
JIT compilation (the reference worker, which runs first, compiles every form). Best of
``--repeats`` runs (the one of least CPU time). ``solve_outside_ksp_seconds``: the solves' time
outside CG (right-hand side; production also updates the cell stresses a run reports).

Each variant runs in its own process (``mpiexec -n RANKS``, one thread per rank) so that its
peak RSS (``ru_maxrss``, largest and summed over the ranks) is its own; a worker writes its
record and its displacements sorted by DOF coordinate; the driver compares them and writes
``results/bench/mechanics.json``, one record per case and number of ranks (merged with those
already there):

    python -m fem.bench.mechanics [--quick] [--ranks N] [--set KEY=VALUE ...]
        [--options all|NAME,NAME] [--repeats N] [--reuse] [--out results/bench]

The driver starts its workers itself (do not start it under ``mpiexec``).
"""

from __future__ import annotations

from mpi4py import MPI
from petsc4py import PETSc

import argparse
import hashlib
import json
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import dolfinx.fem as dfem
import dolfinx.fem.petsc
import numpy as np

from fem.bench.mechanics_demo import DEMO_OPTIONS, DemoElasticity, Stopwatch, load_states
from fem.bench.workers import (COORDINATE_GRID, ROOT, driver_under_mpiexec, load_run,
                               peak_rss_mb, say, sorted_values, start_worker, suffixed)
from fem.config import Case, load_case
from fem.output import names
from fem.output.files import write_json
from fem.run.mesh import build_mesh
from fem.run.problems import elasticity_problem

CASE = ROOT / "studies" / "patch_100.toml"
FULL_SETS = ["pattern.patch_um=1500"]
QUICK_SETS = ["pattern.patch_um=1000", "mesh.resolution='coarse'"]
REFERENCE_RTOL = 1e-12
SAME_ANSWER = 1e-6  # the issue's "same answer", relative to max |u|


# --------------------------------------------------------------------------------------------
# Production and its tweaks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tweak:
    """One change to production's solver: PETSc options on its ``mech_`` prefix, a relative
    tolerance, a zero first guess (what the previous solution saves), or the
    :class:`GalerkinGuess` of the previous solutions."""

    petsc: dict = field(default_factory=dict)
    rtol: float | None = None
    zero_guess: bool = False
    galerkin: bool = False


TWEAKS = {
    "default": Tweak(),
    "plain": Tweak({"pc_gamg_agg_nsmooths": 0}),  # MECHANICS_SMOOTHED = False
    "threshold_0": Tweak({"pc_gamg_threshold": 0.0}),
    "threshold_0.01": Tweak({"pc_gamg_threshold": 0.01}),
    "threshold_0.05": Tweak({"pc_gamg_threshold": 0.05}),
    "threshold_0.1": Tweak({"pc_gamg_threshold": 0.1}),
    "reuse_interpolation": Tweak({"pc_gamg_reuse_interpolation": True}),
    "aggressive_1_rtol_1e-9": Tweak({"pc_gamg_aggressive_coarsening": 1}, rtol=1e-9),  # before
    "aggressive_0": Tweak({"pc_gamg_aggressive_coarsening": 0}),
    "aggressive_1": Tweak({"pc_gamg_aggressive_coarsening": 1}),
    "aggressive_3": Tweak({"pc_gamg_aggressive_coarsening": 3}),
    "threshold_-1": Tweak({"pc_gamg_threshold": -1.0}),
    "smooth_1": Tweak({"mg_levels_ksp_max_it": 1}),
    "smooth_3": Tweak({"mg_levels_ksp_max_it": 3}),
    "rtol_1e-9": Tweak(rtol=1e-9),
    "rtol_1e-7": Tweak(rtol=1e-7),
    "zero_guess": Tweak(zero_guess=True),
    "galerkin": Tweak(galerkin=True),
}


class GalerkinGuess:
    """The first guess of a solve from all the previous solutions: the projection of the new
    solution on their span in the energy norm, ``u0 = U (U^T A U)^-1 U^T b`` (``U``
    A-orthonormalised as they come). Exact when a state's load is a combination of earlier
    ones, never worse than a zero guess; one matrix-vector product and a few dot products per
    solve, and two vectors kept per solution. Done outside :class:`ElasticityProblem` here, so
    its right-hand side is assembled once more (timed with the solve)."""

    def __init__(self, problem):
        self.problem, self.U, self.AU = problem, [], []
        self.b = dolfinx.fem.petsc.create_vector(problem.V)  # ghosted, as assembly needs

    def first_guess(self, state) -> None:
        """Set the problem's displacement to the projection for ``state``'s load."""
        p, b = self.problem, self.b
        if not self.U:
            return  # the first solve: the previous solution (zero)
        p.T.x.array[:] = state.T.x.array
        p.omega.x.array[:] = state.omega.x.array
        p.remodelling.x.array[:] = (0.0 if state.remodelling is None
                                    else state.remodelling.x.array)
        b.zeroEntries()
        dolfinx.fem.petsc.assemble_vector(b, p.L)
        dolfinx.fem.petsc.apply_lifting(b, [p.a], bcs=[p.bcs])
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        dolfinx.fem.petsc.set_bc(b, p.bcs)
        x = p.u.x.petsc_vec
        x.zeroEntries()
        for U in self.U:
            x.axpy(U.dot(b), U)
        p.u.x.scatter_forward()

    def add(self, u: dfem.Function) -> None:
        """A-orthonormalise a new solution against the kept ones (twice) and keep it."""
        w = u.x.petsc_vec.copy()
        Aw = self.b.duplicate()
        self.problem.A.mult(w, Aw)
        for _ in range(2):
            for U, AU in zip(self.U, self.AU):
                c = AU.dot(w)
                w.axpy(-c, U)
                Aw.axpy(-c, AU)
        n2 = w.dot(Aw)
        if n2 > 0.0:
            w.scale(n2**-0.5), Aw.scale(n2**-0.5)
            self.U.append(w), self.AU.append(Aw)


def production(data, case: Case, T0, tweak: Tweak, rtol: float | None = None):
    """The run's elasticity problem, with one tweak applied before its first solve."""
    problem = elasticity_problem(data.mesh, data.cell_tags, data.facet_tags, case, T0)
    if tweak.petsc:
        opts = PETSc.Options()
        for k, v in tweak.petsc.items():
            opts[f"mech_{k}"] = v
        problem.ksp.setFromOptions()
    rtol = rtol or tweak.rtol
    if rtol is not None:
        problem.ksp.setTolerances(rtol=rtol, max_it=max(problem.settings.max_it, 2000))
    if tweak.zero_guess:
        problem.ksp.setInitialGuessNonzero(False)
    return problem


# --------------------------------------------------------------------------------------------
# One worker: one variant on the ranks it is started on
# --------------------------------------------------------------------------------------------


def petsc_event_seconds() -> dict[str, float]:
    """PETSc's own times of the solves and of the preconditioner setups so far (rank 0)."""
    return {name: PETSc.Log.Event(event).getPerfInfo()["time"]
            for name, event in (("ksp_solve_seconds", "KSPSolve"),
                                ("pc_setup_seconds", "PCSetUp"))}


def timed_sequence(variant: str, data, case: Case, T0, states, tweak: Tweak,
                   demo_rtol: float) -> tuple[dict, list[np.ndarray], object]:
    """One run of the whole sequence: its record, the displacements, the solver object."""
    comm = data.mesh.comm
    before = petsc_event_seconds()
    clock = Stopwatch(comm)
    if variant == "demo":
        solver = DemoElasticity(data.mesh, data.cell_tags, data.facet_tags, case, T0,
                                demo_rtol)
    else:
        solver = production(data, case, T0, tweak,
                            REFERENCE_RTOL if variant == "reference" else None)
        solver.ksp.setUp()  # the hierarchy, kept for every solve
    guess = GalerkinGuess(solver) if tweak.galerkin else None
    once = clock.lap()
    rows, answers, cpu = [], [], [once[1]]
    for state in states:
        if variant == "demo":
            setup, solve = solver.solve(state)
            u = solver.uh
            clock.lap()
        else:
            if guess is not None:
                guess.first_guess(state)
            u = solver.solve(state.T, state.omega, state.remodelling)
            if guess is not None:
                guess.add(u)
            setup, solve = (0.0, 0.0), clock.lap()
        reason = (solver.last_reason if variant == "demo"
                  else int(solver.ksp.getConvergedReason()))
        rows.append({"label": state.label, "setup_seconds": setup[0], "solve_seconds": solve[0],
                     "iterations": solver.last_iterations, "converged_reason": reason})
        cpu += [setup[1], solve[1]]
        answers.append(u.x.array.reshape(-1, 3).copy())
    total = clock.total()
    cpu = np.array(cpu + [total[1]])
    comm.Allreduce(MPI.IN_PLACE, cpu, op=MPI.MAX)  # the busiest rank
    after = petsc_event_seconds()
    ksp = solver.ksp if variant != "demo" else None
    rec = {"total_seconds": total[0],
           "setup_seconds": once[0] + sum(r["setup_seconds"] for r in rows),
           "solve_seconds": sum(r["solve_seconds"] for r in rows),
           "setup_once_seconds": once[0],
           "cpu_seconds": float(cpu[-1]), "setup_cpu_seconds": float(cpu[0] + cpu[1:-1:2].sum()),
           "solve_cpu_seconds": float(cpu[2:-1:2].sum()),
           **{k: after[k] - before[k] for k in after},
           "iterations": [r["iterations"] for r in rows], "states": rows,
           "rtol": demo_rtol if ksp is None else ksp.getTolerances()[0],
           "initial_guess_nonzero": ksp is not None and ksp.getInitialGuessNonzero()}
    return rec, answers, solver


def run_worker(variant: str, sets: list[str], save: Path, tweak_name: str, repeats: int,
               demo_rtol: float, comm: MPI.Comm = MPI.COMM_WORLD) -> None:
    """Run ``variant`` on the case ``sets``; write ``save.json`` (record) and ``save.npz``
    (coordinate-sorted DOF coordinates and the displacement of every state)."""
    PETSc.Log.begin()
    case = load_case(CASE, sets)
    tweak = TWEAKS[tweak_name]
    tag = variant if variant != "production" else f"production/{tweak_name}"
    t0 = time.perf_counter()
    data, _ = build_mesh(case, comm)
    t_mesh = time.perf_counter() - t0
    VT = dfem.functionspace(data.mesh, ("Lagrange", 1))
    T0, states = load_states(VT, case)
    if variant == "reference":  # compile the demo's forms too: no JIT in the timed runs
        DemoElasticity(data.mesh, data.cell_tags, data.facet_tags, case, T0, demo_rtol)
        DemoElasticity.forget_options()
    runs = []
    for r in range(max(1, repeats if variant != "reference" else 1)):
        rec, answers, solver = timed_sequence(variant, data, case, T0, states, tweak,
                                              demo_rtol)
        runs.append(rec)
        say(comm, f"mechanics {tag} on {comm.size} rank(s), run {r + 1}: "
                  f"{rec['total_seconds']:.2f} s (setup {rec['setup_seconds']:.2f} s), "
                  f"iterations {rec['iterations']}")
        V = solver.V
        if r + 1 < repeats:
            del solver
    best = min(runs, key=lambda run: run["cpu_seconds"])  # the steadier figure
    rss_max, rss_sum = peak_rss_mb(comm)
    out = sorted_values(V, answers, comm)
    prefix = "" if variant == "demo" else "mech_"
    options = {k: v for k, v in PETSc.Options().getAll().items()
               if (k.startswith(prefix) if prefix else not k.startswith("mech_"))}
    if comm.rank == 0:
        np.savez(suffixed(save, ".npz"), x=out[0], u=np.stack(out[1:]))
        write_json(suffixed(save, ".json"), {
            "variant": variant, "option": tweak_name if variant == "production" else None,
            "dofs": V.dofmap.index_map.size_global * V.dofmap.index_map_bs,
            "cells": data.mesh.topology.index_map(3).size_global, "ranks": comm.size,
            "labels": [s.label for s in states], **best,
            "total_seconds_runs": [run["total_seconds"] for run in runs],
            "cpu_seconds_runs": [run["cpu_seconds"] for run in runs],
            "petsc_options": {k: str(v) for k, v in sorted(options.items())},
            "mesh_seconds": t_mesh, "peak_rss_MB": rss_max, "peak_rss_MB_all_ranks": rss_sum,
        })


# --------------------------------------------------------------------------------------------
# The driver: one process per variant, answers compared, records written
# --------------------------------------------------------------------------------------------


def run_key(name: str, sets: list[str], ranks: int) -> str:
    """The file stem of a case's runs: its name, a hash of its overrides, the ranks."""
    digest = hashlib.sha256(json.dumps(sets).encode()).hexdigest()[:8]
    return f"{name}_{digest}_n{ranks}"


def launch(variant: str, sets: list[str], ranks: int, save: Path, tweak: str = "default",
           repeats: int = 1, demo_rtol: float = DEMO_OPTIONS["ksp_rtol"],
           reuse: bool = False) -> dict:
    """Run one worker in its own process(es); returns its record and its fields (``reuse``:
    those of an earlier run at ``save`` when there is one)."""
    if reuse and suffixed(save, ".json").exists() and suffixed(save, ".npz").exists():
        print(f"[bench] mechanics {variant}: reusing {save}.json", flush=True)
        return load_run(save)
    start_worker("fem.bench.mechanics",
                 ["--worker", variant, "--save", str(save), "--tweak", tweak, "--repeats",
                  str(repeats), "--demo-rtol", repr(demo_rtol)]
                 + [a for s in sets for a in ("--set", s)], ranks)
    return load_run(save)


def rel_diff(run: dict, ref: dict) -> list[float]:
    """Per state ``max |u_run - u_ref| / max |u_ref|`` on the coordinate-sorted DOFs."""
    a, b = run["fields"], ref["fields"]
    if (a["x"].shape != b["x"].shape
            or not np.allclose(a["x"], b["x"], rtol=0.0, atol=10 * COORDINATE_GRID)):
        raise RuntimeError("bench-mechanics: the runs do not have the same DOFs (different "
                           "meshes: was meshes/skin.py or the case edited between them?)")
    return [float(np.max(np.abs(ua - ub)) / np.max(np.abs(ub)))
            for ua, ub in zip(a["u"], b["u"])]


SUMMARY = ("total_seconds", "setup_seconds", "solve_seconds", "setup_once_seconds",
           "cpu_seconds", "setup_cpu_seconds", "solve_cpu_seconds",
           "ksp_solve_seconds", "pc_setup_seconds", "iterations", "rtol",
           "initial_guess_nonzero", "peak_rss_MB", "peak_rss_MB_all_ranks")


def variant_record(run: dict, ref: dict, demo: dict | None) -> dict:
    """A variant's record: its times, iterations, memory and its answer against the
    reference (and against the demo)."""
    r = run["record"]
    out = {k: r[k] for k in ("variant", "option") if r.get(k) is not None}
    out.update({k: r[k] for k in ("dofs", "ranks") + SUMMARY})
    out["iterations_per_solve"] = sum(r["iterations"]) / len(r["iterations"])
    out["solve_outside_ksp_seconds"] = r["solve_seconds"] - r["ksp_solve_seconds"]
    out["states"] = r["states"]
    err = rel_diff(run, ref)
    out["max_rel_err_vs_reference"], out["rel_err_vs_reference"] = max(err), err
    if demo is not None:
        diff = rel_diff(run, demo)
        out["max_rel_diff"], out["rel_diff_per_state"] = max(diff), diff
        out["speedup"] = demo["record"]["total_seconds"] / r["total_seconds"]
        out["speedup_cpu"] = demo["record"]["cpu_seconds"] / r["cpu_seconds"]
    out["converged"] = all(row["converged_reason"] > 0 for row in r["states"])
    out["same_answer"] = (out["max_rel_err_vs_reference"] <= SAME_ANSWER
                          and out.get("max_rel_diff", 0.0) <= SAME_ANSWER)
    out["petsc_options"] = r["petsc_options"]
    return out


def table(rec: dict) -> str:
    """The variants of a record as a text table."""
    lines = [f"{'variant':24s} {'total s':>8s} {'setup s':>8s} {'solve s':>8s} {'cpu s':>8s} "
             f"{'it/solve':>8s} {'RSS MB':>7s} {'err ref':>8s} {'diff demo':>9s} "
             f"{'speedup':>7s} {'cpu sp.':>7s}"]
    rows = [rec["demo"], rec["production"]] + [o for o in rec["options"]]
    for v in rows:
        name = v["variant"] if v["variant"] != "production" else f"production/{v['option']}"
        lines.append(
            f"{name:24s} {v['total_seconds']:8.2f} {v['setup_seconds']:8.2f} "
            f"{v['solve_seconds']:8.2f} {v['cpu_seconds']:8.2f} "
            f"{v['iterations_per_solve']:8.1f} {v['peak_rss_MB']:7.0f} "
            f"{v['max_rel_err_vs_reference']:8.1e} {v.get('max_rel_diff', 0.0):9.1e} "
            f"{v.get('speedup', 1.0):7.2f} {v.get('speedup_cpu', 1.0):7.2f}")
    return "\n".join(lines)


def run_bench(out: Path, name: str, sets: list[str], ranks: int, options: list[str],
              repeats: int = 1, demo_rtol: float = DEMO_OPTIONS["ksp_rtol"],
              reuse: bool = False) -> dict:
    """Reference, demo, production (and its ``options``) on one case; the record is merged
    into ``out/mechanics.json`` (replacing one of the same case and ranks)."""
    out = Path(out)
    work = out / names.BENCH_MECHANICS_RUNS_DIR
    work.mkdir(parents=True, exist_ok=True)
    key = run_key(name, sets, ranks)
    print(f"[bench] mechanics: {name} ({' '.join(sets)}) on {ranks} rank(s)", flush=True)
    ref = launch("reference", sets, ranks, work / f"{key}_reference", reuse=reuse)
    demo = launch("demo", sets, ranks, work / f"{key}_demo", repeats=repeats,
                  demo_rtol=demo_rtol, reuse=reuse)
    prod = launch("production", sets, ranks, work / f"{key}_production", repeats=repeats)
    r = ref["record"]
    rec = {"name": name, "case": str(CASE.relative_to(ROOT)), "set": sets, "ranks": ranks,
           "dofs": r["dofs"], "cells": r["cells"], "states": r["labels"],
           "demo": variant_record(demo, ref, None),
           "production": variant_record(prod, ref, demo)}
    p = rec["production"]
    rec.update({"speedup": p["speedup"], "speedup_cpu": p["speedup_cpu"],
                "max_rel_diff": p["max_rel_diff"],
                "max_rel_diff_per_state": p["rel_diff_per_state"],
                "reference": {"rtol": r["rtol"], "iterations": r["iterations"]},
                "options": []})
    for opt in options:
        if opt == "default":
            continue
        save = work / f"{key}_production_{opt}"
        try:
            run = launch("production", sets, ranks, save, tweak=opt, repeats=repeats,
                         reuse=reuse)
        except RuntimeError as e:  # a failed tweak (one that does not converge) is recorded
            rec.setdefault("failed_options", {})[opt] = str(e)
            continue
        rec["options"].append(variant_record(run, ref, demo))
        print(table({**rec, "options": rec["options"][-1:]}), flush=True)
    good = [o for o in [p] + rec["options"] if o["same_answer"]]
    if good:  # of those at the same answer, the least CPU time (and wall time)
        rec["best_option"] = min(good, key=lambda o: o["cpu_seconds"]).get("option", "default")
        rec["best_option_wall"] = min(good, key=lambda o: o["total_seconds"]).get("option",
                                                                                   "default")
    records = []
    path = out / names.BENCH_MECHANICS_JSON
    if path.exists():
        records = [x for x in json.loads(path.read_text())
                   if (x.get("name"), x.get("set"), x.get("ranks")) != (name, sets, ranks)]
    write_json(path, records + [rec])
    print(table(rec), flush=True)
    print(f"[bench] mechanics: speed-up demo/production {rec['speedup']:.2f}, max rel diff "
          f"{rec['max_rel_diff']:.2e}; wrote {path}", flush=True)
    return rec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"a small coarse case ({' '.join(QUICK_SETS)}; tests)")
    parser.add_argument("--set", action="append", default=None, metavar="KEY=VALUE",
                        help=f"case overrides (default: {' '.join(FULL_SETS)})")
    parser.add_argument("--ranks", type=int, default=1)
    parser.add_argument("--name", help="the record's name (default: quick, patch_1500, or "
                                       "custom with --set)")
    parser.add_argument("--options", default="default",
                        help=f"production tweaks to time too: 'all' or a comma list of "
                             f"{', '.join(TWEAKS)}")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs, best taken")
    parser.add_argument("--demo-rtol", type=float, default=DEMO_OPTIONS["ksp_rtol"],
                        help="the demo's CG tolerance (default: the demo's own)")
    parser.add_argument("--reuse", action="store_true",
                        help="take the runs of an earlier bench in OUT (reference, demo, "
                             "options; production itself always runs): delete a run's files "
                             "in OUT/mechanics_runs to run it again")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "bench")
    parser.add_argument("--worker", choices=("reference", "demo", "production"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--save", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--tweak", default="default", choices=tuple(TWEAKS),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        try:
            run_worker(args.worker, args.set or [], args.save, args.tweak, args.repeats,
                       args.demo_rtol)
        except BaseException:  # one failing rank must not leave the others waiting
            traceback.print_exc()
            sys.stderr.flush()
            MPI.COMM_WORLD.Abort(1)
        return 0
    if driver_under_mpiexec("fem.bench.mechanics"):
        return 2
    options = list(TWEAKS) if args.options == "all" else args.options.split(",")
    unknown = [o for o in options if o not in TWEAKS]
    if unknown or args.ranks < 1:
        print(f"fem.bench.mechanics: unknown option(s) {unknown} (one of {', '.join(TWEAKS)}) "
              f"or --ranks < 1", file=sys.stderr)
        return 2
    if args.quick:
        name, sets = "quick", QUICK_SETS + (args.set or [])
    else:
        name, sets = ("patch_1500" if args.set is None else "custom"), args.set or FULL_SETS
    name = args.name or name
    run_bench(args.out, name, sets, args.ranks, options, args.repeats, args.demo_rtol,
              args.reuse)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The heat step in production against its floor (records of ``make bench`` of kind
``production``).

The **production** variant is the time loop of a real run: :func:`fem.run.coupled.
run_thermal_damage` with everything :meth:`fem.run.driver.CaseRun.heat_and_damage` builds
for it (:func:`~fem.run.problems.beam_source` on the run's ranks, so the Monte Carlo map of
the 1550 nm beam where the case has it; :func:`~fem.run.problems.surface_conditions`,
:func:`~fem.run.problems.heat_problem` with that source and surface,
:func:`~fem.run.problems.damage_integrals`, the probes of the case, ``Schedule.of(case,
source, surface)``) and every physical option of the case as it is: evaporation, perfusion
shutdown, boiling, the firing groups of a scan. No mechanics, no checkpoint (a run writes one
a minute), no output files. The **floor** is the same mesh and the same time steps (those of
the production schedule) solved by :meth:`fem.physics.heat.PennesProblem.step` alone with
:data:`~fem.bench.workers.SAME_PHYSICS` (the ``fast`` variant of :mod:`fem.bench.heat`):
the CG + AMG solve with nothing else (the source assembled once per firing group, the
right-hand side by mat-vecs, one matrix and preconditioner per step size, the energy
ledger), driven by the same mean powers per group.

Cases (:data:`CASES`): the demo (``studies/demo.toml`` as it is) and a scanned patch:
``studies/patch_100.toml`` on a 1 mm square (8 columns in two random passes) fired column
after column (``pattern.firing_order = 'raster'``: 8 firing groups 3 ms apart, 178 steps).
Plans: the demo (medium) on one rank, the patch (medium) and ``studies/patch_100.toml`` as it
is (98 columns, 358k DOFs) on two; ``--quick``: the coarse patch on one rank.

What is timed: the time loop of each variant from its first step to its last, between
barriers, matrix assemblies and AMG setups of new step sizes included, best of
``--repeats`` runs. For production that is every step of ``run_thermal_damage`` (the heat step
with its explicit terms and boiling, the damage integrals, the peak temperature, the probes,
the animation frames), measured by a stand-in for its checkpoint (:class:`LoopClock`), which
also splits it into the heat steps (``heat_seconds_per_step``), the damage and peak updates
(``damage_seconds_per_step``, the loop's own clocks) and the rest (``other_seconds_per_step``).
Not timed: the mesh, the light map, the constant assembly, the steady state, JIT compilation.
Between repeats the heat problem goes back to its first state (no matrices, the water of the
tissue back) and the damage integrals start anew; a repeat must end on the same temperatures
as the first (checked).

The record (``kind = "production"``) has ``seconds_per_step`` (production),
``floor_seconds_per_step``, ``production_over_floor``, ``beyond_floor_seconds_per_step``,
DOFs, ranks, steps, firing groups, CG iterations and peak RSS of each. The answers of the two
variants solve different physics, so no difference of temperatures is recorded (the floor's
answer is checked against the tutorial baseline in the ``solver`` records).
"""

from __future__ import annotations

import time
from pathlib import Path

from mpi4py import MPI

import numpy as np

from fem.bench.workers import (DEMO, ROOT, SAME_PHYSICS, launch, peak_rss_mb, repeat_loop,
                               save_fields, say)
from fem.config import Case, load_case
from fem.output.files import write_json
from fem.post.probes import PointEvaluator
from fem.run.coupled import run_thermal_damage
from fem.run.mesh import build_mesh
from fem.run.problems import beam_source, damage_integrals, heat_problem, surface_conditions
from fem.run.schedule import Schedule

PATCH = ROOT / "studies" / "patch_100.toml"
SCAN = ["pattern.patch_um=1000", "pattern.firing_order='raster'"]  # 8 columns, 8 groups
# (case file, overrides) per production case.
CASES = {
    "coarse": (DEMO, ["mesh.resolution='coarse'"]),
    "demo": (DEMO, []),  # studies/demo.toml as it is (medium)
    "patch_coarse": (PATCH, SCAN + ["mesh.resolution='coarse'"]),
    "patch": (PATCH, SCAN),  # medium
    "patch_100": (PATCH, []),  # studies/patch_100.toml as it is: 98 columns, medium
}
VARIANTS = ("production", "floor")
FULL_PLAN = [("demo", 1), ("patch", 2), ("patch_100", 2)]
QUICK_PLAN = [("patch_coarse", 1)]
TARGET = 1.5  # production within this factor of the floor (the target)


def load(case_name: str, floor: bool = False) -> Case:
    """The production case (``floor``: with :data:`SAME_PHYSICS` on top)."""
    path, overrides = CASES[case_name]
    return load_case(path, overrides + (SAME_PHYSICS if floor else []))


class LoopClock:
    """Stands in for the checkpoint of :func:`~fem.run.coupled.run_thermal_damage`, which
    calls :meth:`restore` once before the first step and :meth:`after_step` after each: times
    the loop (rank 0, barriers at both ends and after a step that set up a new step size, as
    :func:`~fem.bench.workers.time_loop` does) and keeps the loop's own heat clock at the
    start (the steady state), so that the heat steps of the loop can be told apart."""

    def __init__(self, comm: MPI.Comm, heat):
        self.comm, self.heat = comm, heat
        self.loop_seconds = self.new_step_size_seconds = self.steady_seconds = 0.0

    def restore(self, problems: dict, n_steps: int) -> int:
        self.history = problems["history"]
        self.steady_seconds = self.history.heat_seconds
        self.sizes, self.iterations = self.heat.step_sizes, self.heat.iterations
        self.first_sizes = self.sizes
        self.comm.Barrier()
        self.t_start = self.t_last = time.perf_counter()
        return 0  # nothing restored: every step runs

    def after_step(self, n: int, n_steps: int, problems: dict) -> None:
        if self.heat.step_sizes != self.sizes:
            self.comm.Barrier()
            self.new_step_size_seconds += time.perf_counter() - self.t_last
            self.sizes = self.heat.step_sizes
        if n == n_steps:
            self.comm.Barrier()
            self.loop_seconds = time.perf_counter() - self.t_start
        self.t_last = time.perf_counter()

    def run(self) -> dict:
        """The timings of the loop just run (as :func:`~fem.bench.workers.time_loop`)."""
        hist = self.history
        heat = hist.heat_seconds - self.steady_seconds
        return {"loop_seconds": self.loop_seconds,
                "new_step_size_seconds": self.new_step_size_seconds,
                "step_sizes": self.heat.step_sizes - self.first_sizes,
                "iterations": self.heat.iterations - self.iterations,
                "heat_seconds": heat, "damage_seconds": hist.damage_seconds,
                "other_seconds": self.loop_seconds - heat - hist.damage_seconds}


def run_production(case_name: str, data, repeats: int, comm: MPI.Comm, tag: str) -> dict:
    """Set up the loop of a run of ``case_name`` on the mesh ``data`` and time it ``repeats``
    times; returns the runs and what the record needs."""
    t0 = time.perf_counter()
    case = load(case_name)
    source = beam_source(case, comm)  # the Monte Carlo map, from its cache or computed
    surface = surface_conditions(case)
    heat = heat_problem(data.mesh, data.cell_tags, data.facet_tags, case, source, surface)
    probes = (PointEvaluator(data.mesh, np.array(case.output.probes), key="output.probes_um")
              if case.output.probes else None)
    schedule = Schedule.of(case, source, surface)
    t_setup = time.perf_counter() - t0
    say(comm, f"{tag}: {heat.dofs} dofs, setup {t_setup:.1f} s, {len(schedule.steps)} steps, "
              f"{len(source.groups)} firing group(s)")
    runs, T_first, T_initial = [], None, None
    for r in range(repeats):
        if r:  # the state of a new problem: no matrices, no damage, the tissue water back
            heat.reset(T_initial)
        clock = LoopClock(comm, heat)
        run_thermal_damage(heat, damage_integrals(heat.V, case), schedule, source, probes,
                           checkpoint=clock)
        runs.append(clock.run())
        T_initial = heat.T_initial.x.array.copy()
        if T_first is None:
            T_first = heat.T.x.array.copy()
        elif comm.allreduce(not np.array_equal(T_first, heat.T.x.array), op=MPI.LOR):
            raise RuntimeError(f"bench {tag}: run {r + 1} did not end on the temperatures of "
                               "run 1 (the reset between repeats misses some state)")
        say(comm, f"{tag}: run {r + 1}/{repeats}: {runs[-1]['loop_seconds']:.2f} s "
                  f"({runs[-1]['loop_seconds'] / len(schedule.steps):.4f} s/step)")
    return {"runs": runs, "heat": heat, "source": source, "T_initial": T_initial,
            "setup_seconds": t_setup, "steps": len(schedule.steps)}


def run_floor(case_name: str, data, repeats: int, comm: MPI.Comm, tag: str) -> dict:
    """The floor of ``case_name`` on the mesh ``data`` with the production schedule's steps,
    timed ``repeats`` times; returns the runs and what the record needs."""
    t0 = time.perf_counter()
    case = load(case_name, floor=True)
    source = beam_source(case, comm)
    heat = heat_problem(data.mesh, data.cell_tags, data.facet_tags, case, source)
    steps = Schedule.of(load(case_name)).steps  # the production schedule
    heat.solve_steady()
    heat.plan_steps(steps)  # as the loop of a run plans them
    T_initial = heat.T_initial.x.array.copy()
    t_setup = time.perf_counter() - t0
    say(comm, f"{tag}: {heat.dofs} dofs, setup {t_setup:.1f} s, {len(steps)} steps, "
              f"{len(source.groups)} firing group(s)")
    runs = repeat_loop(heat, steps, source.mean_powers, repeats,
                       lambda: heat.reset(T_initial), tag)
    return {"runs": runs, "heat": heat, "source": source, "T_initial": T_initial,
            "setup_seconds": t_setup, "steps": len(steps)}


def run_worker(variant: str, case_name: str, save: Path, repeats: int,
               comm: MPI.Comm = MPI.COMM_WORLD) -> None:
    """Time ``variant`` (production or floor) of ``case_name`` ``repeats`` times on the mesh
    of the production case; write ``save.json`` (record) and ``save.npz`` (sorted
    coordinates, initial and final T)."""
    case = load(case_name)
    tag = f"{case_name}/{variant}/{comm.size} rank(s)"
    t0 = time.perf_counter()
    data, _ = build_mesh(case, comm)  # the floor too: its own case might mesh otherwise
    t_mesh = time.perf_counter() - t0
    go = run_production if variant == "production" else run_floor
    out = go(case_name, data, repeats, comm, tag)
    runs, heat, steps = out["runs"], out["heat"], out["steps"]
    best = min(runs, key=lambda run: run["loop_seconds"])
    rss_max, rss_sum = peak_rss_mb(comm)
    save_fields(save, heat.V, out["T_initial"], heat.T.x.array, comm)
    if comm.rank == 0:
        record = {
            "variant": variant, "case": case_name, "dofs": heat.dofs, "ranks": comm.size,
            "steps": steps, "step_sizes": best["step_sizes"],
            "firing_groups": len(out["source"].groups), "columns": case.pattern.layout.count,
            "repeats": repeats, "seconds_per_step": best["loop_seconds"] / steps,
            "loop_seconds_runs": [run["loop_seconds"] for run in runs],
            "new_step_size_seconds": best["new_step_size_seconds"],
            "iterations": best["iterations"], "mesh_seconds": t_mesh,
            "setup_seconds": out["setup_seconds"], "peak_rss_MB": rss_max,
            "peak_rss_MB_all_ranks": rss_sum,
        }
        for part in ("heat", "damage", "other"):
            if f"{part}_seconds" in best:
                record[f"{part}_seconds_per_step"] = best[f"{part}_seconds"] / steps
        write_json(save.with_suffix(".json"), record)


# --------------------------------------------------------------------------------------------
# The driver's part: both variants of a case, one record
# --------------------------------------------------------------------------------------------


def default_repeats(case_name: str) -> int:
    """Timed runs per variant: 3 on one rank's meshes, 2 for the medium patch, 1 for the
    98-column patch."""
    return {"patch": 2, "patch_100": 1}.get(case_name, 3)


def measure(case_name: str, ranks: int, work: Path, repeats: int | None = None) -> dict:
    """Both variants of ``case_name`` on ``ranks`` ranks, each in its own process(es); their
    record (``kind = "production"``)."""
    n = repeats or default_repeats(case_name)
    prod, floor = (launch(v, case_name, ranks, work, n)["record"] for v in VARIANTS)
    for key in ("dofs", "steps", "ranks"):
        if prod[key] != floor[key]:
            raise RuntimeError(f"bench {case_name}: production and floor differ in {key} "
                               f"({prod[key]} against {floor[key]}: was the mesh or the case "
                               "edited between them?)")
    case = load(case_name)
    rec = {
        "kind": "production", "name": case_name, "dofs": prod["dofs"], "ranks": ranks,
        "steps": prod["steps"], "firing_groups": prod["firing_groups"],
        "columns": prod["columns"], "light": case.laser.light,
        "evaporation": case.boundary.evaporation,
        "perfusion_shutdown": case.tissue.perfusion_shutdown,
        "vaporisation": case.tissue.vaporisation,
        "seconds_per_step": prod["seconds_per_step"],
        "floor_seconds_per_step": floor["seconds_per_step"],
        "production_over_floor": prod["seconds_per_step"] / floor["seconds_per_step"],
        "beyond_floor_seconds_per_step": prod["seconds_per_step"] - floor["seconds_per_step"],
        "target": TARGET,
    }
    rec.update({f"{p}_seconds_per_step": prod[f"{p}_seconds_per_step"]
                for p in ("heat", "damage", "other")})
    for prefix, r in (("", prod), ("floor_", floor)):
        rec.update({f"{prefix}cg_iterations": r["iterations"],
                    f"{prefix}step_sizes": r["step_sizes"],
                    f"{prefix}new_step_size_seconds": r["new_step_size_seconds"],
                    f"{prefix}peak_rss_MB": r["peak_rss_MB"],
                    f"{prefix}peak_rss_MB_all_ranks": r["peak_rss_MB_all_ranks"],
                    f"{prefix}repeats": r["repeats"],
                    f"{prefix}loop_seconds_runs": r["loop_seconds_runs"]})
    return rec


def table(records: list[dict]) -> str:
    """The production records as a text table."""
    lines = [f"{'name':12s} {'dofs':>8s} {'ranks':>5s} {'steps':>5s} {'s/step':>9s} "
             f"{'floor s/step':>12s} {'prod/floor':>10s} {'heat':>8s} {'damage':>8s} "
             f"{'other':>8s} {'CG its':>6s} {'floor its':>9s} {'RSS MB':>7s} {'floor RSS':>9s}"]
    for r in records:
        lines.append(
            f"{r['name']:12s} {r['dofs']:8d} {r['ranks']:5d} {r['steps']:5d} "
            f"{r['seconds_per_step']:9.4f} {r['floor_seconds_per_step']:12.4f} "
            f"{r['production_over_floor']:10.2f} {r['heat_seconds_per_step']:8.4f} "
            f"{r['damage_seconds_per_step']:8.4f} {r['other_seconds_per_step']:8.4f} "
            f"{r['cg_iterations']:6d} {r['floor_cg_iterations']:9d} {r['peak_rss_MB']:7.0f} "
            f"{r['floor_peak_rss_MB']:9.0f}")
    return "\n".join(lines)

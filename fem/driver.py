"""One case end to end: mesh -> heat + damage -> mechanics -> metrics -> output -> render.

:func:`run_case` is what ``mtz run`` calls on every rank. It times each phase (provenance.json)
and writes the result directory described in DESIGN.md. Input is validated before this is
called, so nothing here creates a directory for a bad case.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from pathlib import Path

from mpi4py import MPI

import numpy as np
from dolfinx import fem

from fem import io, source
from fem.checkpoint import Checkpointer
from fem.config import Case
from fem.coupled import run_thermal_damage, steps_at, time_schedule
from fem.heat import PennesProblem
from fem.mechanics import ElasticityProblem
from fem.metrics import ColumnSampler, columns_csv, damage_metrics
from fem.probes import PointEvaluator
from meshes.skin import COLUMN_OFFSET, default_cache_dir, geometry_from_case, to_dolfinx

log = logging.getLogger(__name__)


class Timer:
    """Wall time per phase, measured on rank 0 after a barrier (the slowest rank counts)."""

    def __init__(self, comm: MPI.Comm):
        self.comm, self.phases = comm, {}

    @contextmanager
    def __call__(self, name: str):
        self.comm.Barrier()
        t0 = time.perf_counter()
        yield
        self.comm.Barrier()
        self.phases[name] = self.phases.get(name, 0.0) + time.perf_counter() - t0


def build_mesh(case: Case, comm: MPI.Comm):
    """Mesh of a case: ``(MeshData, quality summary)``, from the mesh cache when it has it."""
    return to_dolfinx(geometry_from_case(case), comm,
                      default_cache_dir() if case.mesh_cache else None)


def region_cell_data(domain, cell_tags) -> dict[str, np.ndarray]:
    """Per owned cell: its layer index and whether it lies in a column (for the snapshots)."""
    n_owned = domain.topology.index_map(3).size_local
    tags = np.zeros(n_owned, dtype=np.int32)
    own = cell_tags.indices < n_owned
    tags[cell_tags.indices[own]] = cell_tags.values[own]
    return {"layer": (tags - 1) % COLUMN_OFFSET,
            "in_column": (tags > COLUMN_OFFSET).astype(np.int32)}


def write_mesh(out: Path, data) -> None:
    """The mesh and its cell and facet tags as XDMF (parallel writer)."""
    from dolfinx.io import XDMFFile

    with XDMFFile(data.mesh.comm, str(out / "mesh.xdmf"), "w") as f:
        f.write_mesh(data.mesh)
        data.mesh.topology.create_connectivity(2, 3)
        f.write_meshtags(data.cell_tags, data.mesh.geometry)
        f.write_meshtags(data.facet_tags, data.mesh.geometry)


def run_mesh(case: Case, out: Path, comm: MPI.Comm = MPI.COMM_WORLD) -> dict:
    """``mtz mesh``: the mesh (XDMF with tags), its quality summary, a VTU and a cut render."""
    out = Path(out)
    data, quality = build_mesh(case, comm)
    if comm.rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    comm.Barrier()
    write_mesh(out, data)
    V = fem.functionspace(data.mesh, ("Lagrange", 1))
    io.write_snapshot(out / "mesh.vtu", V, {}, region_cell_data(data.mesh, data.cell_tags))

    def finish() -> None:
        io.write_json(out / "mesh_quality.json", quality)
        io.write_json(out / "mesh.json", snapshot_info(case, quality))
        log.info("mesh: %d cells, %d column(s) (%s), min quality %.3f, mean %.3f%s",
                 quality["cells"], case.layout.count, case.layout.kind, quality["min_quality"],
                 quality["mean_quality"], " (from the cache)" if quality.get("cached") else "")
        for name, r in quality["regions"].items():
            log.info("  %-28s %9d cells  quality min %.3f mean %.3f", name, r["cells"],
                     r["min_quality"], r["mean_quality"])
        log.info("wrote %s", out / "mesh.xdmf")
        if case.render:
            from fem.render import render_mesh

            render_mesh(out)

    io.on_root(comm, finish)
    return quality


MECHANICS_COLUMNS = ("time_ms", "tightening_area_percent", "linear_contraction_percent",
                     "max_von_mises_kPa", "residual_stress_kPa")


def mechanics_csv(rows: list[dict]) -> str:
    """``mechanics.csv``: the mechanics metrics at each output time and at the end."""
    lines = [",".join(MECHANICS_COLUMNS)]
    lines += [",".join(f"{r[k]:.8g}" for k in MECHANICS_COLUMNS) for r in rows]
    return "\n".join(lines) + "\n"


COOLED_METRICS = ("tightening_area_percent", "linear_contraction_percent", "max_von_mises_kPa",
                  "residual_stress_kPa")


class StaggeredMechanics:
    """Mechanics from the temperature and collagen damage at an output time (one-way coupled:
    a staggered solve is exact). The elasticity problem is built at the first call (it needs
    the initial temperature) and kept; each call returns a row of ``mechanics.csv``: the time
    and the mechanics metrics."""

    def __init__(self, domain, cell_tags, facet_tags, case: Case, heat: PennesProblem):
        self.args, self.case, self.heat = (domain, cell_tags, facet_tags), case, heat
        self.problem: ElasticityProblem | None = None
        self.seconds = 0.0  # spent in the calls so far

    def _solve(self, T: fem.Function, damage: dict) -> dict:
        tic = time.perf_counter()
        if self.problem is None:
            self.problem = ElasticityProblem.from_case(*self.args, self.case,
                                                       self.heat.T_initial)
        self.problem.solve(T, damage["collagen"].omega)
        self.seconds += time.perf_counter() - tic
        return self.problem.metrics()

    def __call__(self, t: float, T: fem.Function, damage: dict) -> dict:
        row = {"time_ms": t * 1e3, **self._solve(T, damage)}
        log.info("mechanics at %.4g ms: tightening %.3f %%", row["time_ms"],
                 row["tightening_area_percent"])
        return row

    def cooled(self, damage: dict) -> dict:
        """The lasting state: the collagen shrinkage of ``damage`` with the tissue back at its
        initial temperature (no thermal strain left; denatured collagen stays shrunk and
        Omega no longer grows at body temperature). Metrics prefixed ``cooled_``: the
        tightening a patient keeps, whereas the end-time metrics still hold the thermal
        expansion of the heat that has not yet left (a dense patch stays warm for tens of
        seconds). The fields (displacement, stresses) are not kept: solve the end state after.
        """
        row = self._solve(self.heat.T_initial, damage)
        return {f"cooled_{k}": row[k] for k in COOLED_METRICS}


def run_case(case: Case, out: Path, comm: MPI.Comm = MPI.COMM_WORLD, resume: bool = False,
             checkpoint_every: int | None = None, draw: bool = True) -> dict:
    """Run one case into ``out``; returns the metrics (on every rank).

    The time loop checkpoints into ``out/checkpoint`` every ``checkpoint_every`` steps (None:
    every minute of wall time); ``resume`` continues from that checkpoint if there is one. The
    checkpoint is removed once ``metrics.json`` is written. With ``draw`` False the renders
    and the report are left to the caller (a study draws its cases afterwards with one
    common view, :func:`fem.study.draw_cases`); the fields they need are written anyway.
    """
    t_total = time.perf_counter()
    timer = Timer(comm)
    out = Path(out)
    if comm.rank == 0:
        (out / "fields").mkdir(parents=True, exist_ok=True)
        io.write_case_toml(out / "case.toml", case.resolved)
    comm.Barrier()

    with timer("mesh"):
        data, quality = build_mesh(case, comm)
    domain, cell_tags, facet_tags = data.mesh, data.cell_tags, data.facet_tags
    n_cells = domain.topology.index_map(3).size_global
    log.info("mesh: %d cells, %d column(s), min quality %.3f (%.1f s%s)", n_cells,
             case.layout.count, quality["min_quality"], timer.phases["mesh"],
             ", from the cache" if quality.get("cached") else "")

    with timer("heat"):
        heat = PennesProblem(domain, cell_tags, facet_tags, case)
        probes = PointEvaluator(domain, np.array(case.probes)) if case.probes else None
        steps = time_schedule(case)
        log.info("heat: %d dofs, %d steps", heat.dofs, len(steps))
        ckpt = Checkpointer(out, case.resolved, comm, every_steps=checkpoint_every,
                            resume=resume)
        frame_steps = (io.animation_steps(steps, source.pulse_end(case))
                       if case.render else set())
        staggered = StaggeredMechanics(domain, cell_tags, facet_tags, case, heat)
        damage, hist = run_thermal_damage(
            heat, case, probes, checkpoint=ckpt, frame_steps=frame_steps,
            output_steps=steps_at(steps, case.output_times)
            if case.mechanics_enabled else (), on_output=staggered)
    timer.phases["heat"] -= hist.damage_seconds + staggered.seconds
    timer.phases["damage"] = hist.damage_seconds
    ledger = heat.balance()
    # Energies are reported for the whole unit (a quarter cell counts four times).
    sym = case.layout.symmetry_factor
    delivered = case.laser.energy * case.layout.count
    expected = sym * case.laser.energy * source.expected_absorbed_fraction(case)
    log.info("heat: peak %.1f C, absorbed %.4g J of %.4g J delivered, balance error %.2e",
             hist.peak_temperature - io.KELVIN, sym * ledger.absorbed, delivered, ledger.error)

    mech_metrics, mech, mech_rows = {}, None, []
    if case.mechanics_enabled:
        in_loop = staggered.seconds
        with timer("mechanics"):
            cooled = staggered.cooled(damage)  # first: the end state's fields are written
            mech_rows = hist.outputs + [staggered(case.end_time, heat.T, damage)]
            mech = staggered.problem
        timer.phases["mechanics"] += in_loop
        mech_metrics = {k: v for k, v in mech_rows[-1].items() if k != "time_ms"}
        mech_metrics.update(cooled)
        log.info("mechanics: P%d, %d dofs, %d CG iterations, tightening %.3f %% (cooled "
                 "%.3f %%), residual stress %.1f kPa (sides %s)", case.mechanics_degree,
                 mech.dofs, mech.iterations, mech_metrics["tightening_area_percent"],
                 cooled["cooled_tightening_area_percent"], mech_metrics["residual_stress_kPa"],
                 case.mechanics_sides)

    with timer("metrics"):
        sampler = ColumnSampler(domain, case)
        per_column: list[dict] = []
        metrics = damage_metrics(sampler, damage, case, per_column=per_column)
    metrics.update(
        peak_temperature_C=hist.peak_temperature - io.KELVIN,
        absorbed_energy_J=sym * ledger.absorbed,
        delivered_energy_J=delivered,
        expected_absorbed_energy_J=expected,
        source_energy_error=abs(sym * ledger.absorbed - expected) / expected,
        energy_balance_error=ledger.error,
        stored_energy_J=sym * ledger.stored,
        perfusion_loss_J=sym * ledger.perfusion_out,
        surface_loss_J=sym * ledger.surface_out,
        vaporised_energy_J=sym * ledger.vaporised,
        bottom_inflow_J=sym * ledger.bottom_inflow,
        **mech_metrics,
    )
    metrics.update(
        dofs=heat.dofs,
        mechanics_dofs=mech.dofs if mech else 0,
        cells=n_cells,
        time_steps=hist.steps,
        heat_cg_iterations=heat.iterations,
        ranks=comm.size,
    )

    with timer("output"):
        if comm.rank == 0:
            io.atomic_write_text(out / "columns.csv", columns_csv(per_column))
            if case.mechanics_enabled:
                io.atomic_write_text(out / "mechanics.csv", mechanics_csv(mech_rows))
        if comm.rank == 0 and probes is not None:
            names = [f"p{i}_z{int(round(p[2] * 1e6))}um" for i, p in enumerate(case.probes)]
            io.write_probes_csv(out / "probes.csv", names, list(damage), hist.probe_times,
                                hist.probe_values)
        if case.write_fields:
            T_end = heat.T.copy()
            T_end.name = "temperature_end"
            io.write_vtx(comm, out / "fields" / "heat.bp",
                         [hist.T_end_of_pulse, hist.T_peak, T_end]
                         + [d.omega for d in damage.values()], case.end_time)
            if mech:
                io.write_vtx(comm, out / "fields" / "displacement.bp", [mech.u], case.end_time)
        cell_data = region_cell_data(domain, cell_tags)
        point_data = {
            "temperature_end_of_pulse_C": hist.T_end_of_pulse,
            "temperature_peak_C": hist.T_peak,
            "temperature_end_C": heat.T,
            "omega_cell": damage["cell"].omega,
            "omega_collagen": damage["collagen"].omega,
        }
        if mech:
            cell_data.update(mech.cell_stress_kPa())  # von Mises, principal stresses 1-3
            u1 = _displacement_um_p1(mech, heat.V)
            point_data["displacement_um"] = u1
        io.write_snapshot(out / "fields" / "snapshot.vtu", heat.V, point_data, cell_data)
        if comm.rank == 0:
            io.write_json(out / "fields" / "snapshot.json", snapshot_info(case, quality))
        if hist.frames:
            io.write_frames(out / "fields" / "frames.vtu", heat.V, hist.frames,
                            snapshot_info(case, quality))

    if case.render and draw:
        from fem.render import render_all

        with timer("render"):
            io.on_root(comm, lambda: render_all(out))
    metrics["wall_time_s"] = time.perf_counter() - t_total

    def finish() -> None:  # metrics.json (atomic: it marks the case finished), provenance, report
        io.write_json(out / "metrics.json", metrics)
        ckpt.remove()
        io.write_json(out / "provenance.json", io.provenance(
            comm.size, timer.phases,
            {"dofs": heat.dofs, "mechanics_dofs": metrics["mechanics_dofs"], "cells": n_cells,
             "mesh_quality": quality, "time_steps": hist.steps,
             "heat_step_sizes": len(heat._rungs), "wall_time_s": metrics["wall_time_s"]}))
        if case.render and draw:
            render_and_report(out, renders=False)  # the report, with provenance

    io.on_root(comm, finish)  # every rank returns once the case is on disk
    return metrics


def _displacement_um_p1(mech: ElasticityProblem, V1: fem.FunctionSpace) -> fem.Function:
    """Displacement in µm on the vector P1 space (for the snapshot)."""
    Vv = fem.functionspace(V1.mesh, ("Lagrange", 1, (3,)))
    u1 = fem.Function(Vv, name="displacement_um")
    u1.interpolate(mech.u)
    u1.x.array[:] *= 1e6
    return u1


def snapshot_info(case: Case, quality: dict) -> dict:
    """The metadata the renderer needs next to snapshot.vtu."""
    z = case.layer_interfaces()
    x0, x1, y0, y1 = case.layout.extent
    return {
        "title": case.title,
        "layers": [{"name": la.name, "top_um": z[i] * 1e6, "bottom_um": z[i + 1] * 1e6}
                   for i, la in enumerate(case.layers)],
        "layout": case.layout.kind,
        "extent_um": [v * 1e6 for v in case.layout.extent],
        "columns_um": [[x * 1e6, y * 1e6] for x, y in case.layout.centres],
        "mirror": list(case.layout.mirror),
        "crater": None if case.crater.shape == "none" else {
            "shape": case.crater.shape, "depth_um": case.crater.depth * 1e6,
            "diameter_um": 2e6 * case.crater.radius},
        "cell_size_um": [(x1 - x0) * 1e6, (y1 - y0) * 1e6],
        "depth_um": case.depth * 1e6,
        "column_radius_um": case.column_radius * 1e6,
        "column_depth_um": case.column_depth * 1e6,
        "pulse_end_ms": source.pulse_end(case) * 1e3,
        "end_ms": case.end_time * 1e3,
        "mesh_quality": quality,
    }


def render_and_report(out: Path, renders: bool = True) -> None:
    """Renders (optional) and the HTML report, on the calling rank."""
    if renders:
        from fem.render import render_all

        render_all(out)
    from fem.report import write_report

    write_report(out)

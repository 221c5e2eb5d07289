"""One case end to end: mesh -> heat + damage -> mechanics -> metrics -> output -> render.

:func:`run_case` is what ``mtz run`` calls on every rank; it runs the phases of a
:class:`CaseRun` in order, times each (``provenance.json``) and writes the result directory
described in DESIGN.md, ``metrics.json`` last (it marks the case finished). :func:`run_mesh`
is ``mtz mesh``. Input is validated before either is called, so nothing here creates a
directory for a bad case.
"""

from __future__ import annotations

import gc
import logging
import shutil
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

from mpi4py import MPI
from petsc4py import PETSc

import dolfinx.fem as dfem
import numpy as np

from fem.config import Case
from fem.output import names
from fem.output.fields import (healing_frames, write_frames, write_healing_vtx,
                               write_mesh_xdmf, write_snapshot, write_vtx)
from fem.output.files import (KELVIN, OutputError, atomic_write_text, write_case_toml,
                              write_json, write_probes_csv)
from fem.output.provenance import provenance
from fem.output.series import celsius, scaled, write_series
from fem.parallel import on_root
from fem.physics.mechanics import ElasticityProblem
from fem.post.metrics import ColumnSampler, columns_csv, damage_metrics
from fem.post.probes import PointEvaluator
from fem.post.sanity import case_warnings, energy_check_failures, result_warnings
from fem.run import signals
from fem.run.checkpoint import Checkpointer
from fem.run.coupled import run_thermal_damage
from fem.run.course import HealingStage, healing_csv
from fem.run.mesh import build_mesh, mesh_case, region_cell_data
from fem.run.problems import beam_source, damage_integrals, heat_problem, surface_conditions
from fem.run.schedule import Schedule
from fem.run.staggered import StaggeredMechanics, displacement_um_p1, mechanics_csv
from fem.solvers import SolverError

log = logging.getLogger(__name__)

# Disk space of a result (fem/output): 3.75 kB per temperature unknown measured on the coarse
# demo with mechanics and healing (13.9 MB of fields for 3709 unknowns; the time series and the
# healing days dominate) and 1.7 MB of pictures; doubled for the margin.
BYTES_PER_DOF = 7500
RESULT_BYTES = 4_000_000


def free_bytes(path: Path) -> int:
    """Free bytes on the file system of ``path`` (or of its nearest existing parent)."""
    path = Path(path).resolve()
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free


class Timer:
    """Wall time per phase, measured on rank 0 after a barrier (the slowest rank counts)."""

    def __init__(self, comm: MPI.Comm):
        self.comm, self.phases = comm, {}
        self.started: dict[str, float] = {}  # when each phase first started (Unix time, s)

    @contextmanager
    def __call__(self, name: str):
        self.comm.Barrier()
        self.started.setdefault(name, time.time())
        t0 = time.perf_counter()
        yield
        self.comm.Barrier()
        self.phases[name] = self.phases.get(name, 0.0) + time.perf_counter() - t0


def run_mesh(case: Case, out: Path, comm: MPI.Comm = MPI.COMM_WORLD) -> dict:
    """``mtz mesh``: the mesh (XDMF with tags), its quality summary, a VTU and a cut render."""
    out = Path(out)
    data, quality = build_mesh(case, comm)
    if comm.rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    comm.Barrier()
    write_mesh_xdmf(out / names.MESH_XDMF, data)
    V = dfem.functionspace(data.mesh, ("Lagrange", 1))
    write_snapshot(out / names.MESH_VTU, V, {}, region_cell_data(data.mesh, data.cell_tags))

    def finish() -> None:
        write_json(out / names.MESH_QUALITY_JSON, quality)
        write_json(out / names.MESH_JSON, snapshot_info(case, quality))
        lay = case.pattern.layout
        log.info("mesh: %d cells, %d column(s) (%s), min quality %.3f, mean %.3f%s",
                 quality["cells"], lay.count, lay.kind, quality["min_quality"],
                 quality["mean_quality"], " (from the cache)" if quality.get("cached") else "")
        for name, r in quality["regions"].items():
            log.info("  %-28s %9d cells  quality min %.3f mean %.3f", name, r["cells"],
                     r["min_quality"], r["mean_quality"])
        log.info("wrote %s", out / names.MESH_XDMF)
        if case.output.render:
            from fem.render import render_mesh

            render_mesh(out)

    on_root(comm, finish)
    return quality


def run_case(case: Case, out: Path, comm: MPI.Comm = MPI.COMM_WORLD, resume: bool = False,
             checkpoint_every: int | None = None, draw: bool = True,
             keep_fields: dict | None = None) -> dict:
    """Run one case into ``out``; returns the metrics (on every rank).

    The time loop checkpoints into ``out/checkpoint`` every ``checkpoint_every`` steps (None:
    every minute of wall time); ``resume`` continues from that checkpoint if there is one. The
    checkpoint is removed once ``metrics.json`` is written. With ``draw`` False the renders
    and the report are left to the caller (a study draws its cases afterwards with one
    common view, :func:`fem.run.study.draw_cases`); the fields they need are written anyway.
    ``keep_fields``, a dict, receives the run's DOLFINx functions (:meth:`CaseRun.release`).
    """
    run = CaseRun(case, Path(out), comm)
    run.start()
    run.mesh()
    run.stop_point("the mesh")
    run.heat_and_damage(resume, checkpoint_every)
    run.stop_point("the heat and damage")
    run.mechanics()
    run.stop_point("the mechanics")
    run.healing(resume, checkpoint_every)
    run.stop_point("the healing")
    run.measure()
    run.write_results()
    run.stop_point("the result files")
    run.release(keep_fields)
    draw = draw and case.output.render
    if draw:
        run.draw()
    return run.finish(report=draw)


class CaseRun:
    """The phases of one case, each timed; every rank runs them together.

    Attributes set by the phases: ``data`` and ``quality`` (the mesh), ``heat``, ``damage``,
    ``hist``, ``source``, ``schedule``, ``probes`` and ``checkpoint`` (heat and damage),
    ``staggered``, ``mechanics_rows`` and ``mechanics_metrics`` (mechanics), ``healed`` (the
    healing stage), ``metrics`` and ``per_column`` (the metrics).
    """

    def __init__(self, case: Case, out: Path, comm: MPI.Comm):
        self.case, self.out, self.comm = case, out, comm
        self.t_total = time.perf_counter()
        self.timer = Timer(comm)
        self.checkpoints: list[Checkpointer] = []  # of the loops, in order

    def stop_point(self, phase: str) -> None:
        """Between two phases: when a signal asked for a stop (on any rank), checkpoint the
        loops that ran (their last step) and stop every rank (:mod:`fem.run.signals`)."""
        signum = signals.requested(self.comm)
        if not signum:
            return
        saved = self.save_checkpoints()
        signals.stop(self.comm, signum, f"stopped after {phase} of {self.out}" + (
            f"; checkpoint of the last step in {saved[-1]}" if saved
            else " (nothing to checkpoint yet)"))

    def save_checkpoints(self) -> list[Path]:
        """The state of the last step of each loop that ran, unless on disk already (a stop
        between phases: ``--resume`` then skips the loops); their files (collective)."""
        return [ck.path for ck in self.checkpoints if ck.stop_saving()]

    def start(self) -> None:
        """The result directory and ``case.toml``; a ``metrics.json`` of an earlier run of
        the directory is removed (it is not finished until this run writes it). A directory
        that cannot be written is an :class:`OutputError` before anything is solved."""
        def start() -> None:
            (self.out / names.FIELDS_DIR).mkdir(parents=True, exist_ok=True)
            (self.out / names.METRICS_JSON).unlink(missing_ok=True)
            write_case_toml(self.out / names.CASE_TOML, self.case.resolved)

        with self.writing("create the result directory"):
            on_root(self.comm, start)
        self.case_warnings = case_warnings(self.case)
        for w in self.case_warnings:
            log.warning("warning: %s", w)

    @contextmanager
    def writing(self, what: str):
        """Writes of the results: an ``OSError`` (no permission, a full disk; raised on every
        rank, the writers hand rank 0's error to all) removes what this run wrote but the
        case and the checkpoint, so that no partial result is left, and becomes an
        :class:`OutputError` naming the path and the reason (exit status 1)."""
        try:
            yield
        except OSError as e:
            try:  # the state of the loops' last steps, for --resume once there is room
                self.save_checkpoints()
            except OSError:
                pass
            on_root(self.comm, self.remove_partial)
            path = e.filename or self.out
            raise OutputError(f"cannot {what}: {path}: {e.strerror or e}") from e

    def remove_partial(self) -> None:
        """Everything in the result directory but ``case.toml`` and the checkpoint."""
        keep = {names.CASE_TOML, names.CHECKPOINT_DIR}
        for p in self.out.iterdir() if self.out.is_dir() else []:
            if p.name not in keep:
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)

    def check_space(self, dofs: int) -> None:
        """Enough free space for the result files of ``dofs`` temperature unknowns (about
        :data:`BYTES_PER_DOF` each with the healing stage and every field, plus the
        pictures), before anything is solved."""
        need = RESULT_BYTES + BYTES_PER_DOF * dofs
        free = on_root(self.comm, lambda: free_bytes(self.out))
        if free < need:
            raise OutputError(f"cannot write the results: {self.out}: about {need / 1e6:.0f} MB "
                              f"needed, {free / 1e6:.0f} MB free")

    def mesh(self) -> None:
        """The mesh, from the cache when it has it."""
        with self.timer("mesh"):
            self.case, self.data, self.quality = mesh_case(self.case, self.comm)
        self.cells = self.data.mesh.topology.index_map(3).size_global
        self.check_space(self.data.mesh.geometry.index_map().size_global)  # P1: one per node
        log.info("mesh: %d cells, %d column(s), min quality %.3f (%.1f s%s)", self.cells,
                 self.case.pattern.layout.count, self.quality["min_quality"],
                 self.timer.phases["mesh"],
                 ", from the cache" if self.quality.get("cached") else "")

    def heat_and_damage(self, resume: bool, checkpoint_every: int | None) -> None:
        """The heat and damage problems on one clock (mechanics at the output times)."""
        case, data = self.case, self.data
        with self.timer("light"):  # the Monte Carlo map, when the case has one
            self.source = beam_source(case, self.comm)
        with self.timer("heat"):
            surface = surface_conditions(case)
            self.heat = heat_problem(data.mesh, data.cell_tags, data.facet_tags, case,
                                     self.source, surface)
            self.damage = damage_integrals(self.heat.V, case)
            self.probes = (PointEvaluator(data.mesh, np.array(case.output.probes),
                                          key="output.probes_um")
                           if case.output.probes else None)
            self.schedule = Schedule.of(case, self.source, surface)
            log.info("heat: %d dofs, %d steps", self.heat.dofs, len(self.schedule.steps))
            self.checkpoint = Checkpointer(self.out, case.resolved, self.comm,
                                           every_steps=checkpoint_every, resume=resume)
            self.checkpoints.append(self.checkpoint)
            self.staggered = StaggeredMechanics(data, case, self.heat)
            with self.writing("write the checkpoint"):
                self.hist = run_thermal_damage(
                    self.heat, self.damage, self.schedule, self.source, self.probes,
                    checkpoint=self.checkpoint,
                    on_output=self.staggered if case.mechanics.enabled else None,
                    keep_final=case.healing.enabled)
        self.heat_step_sizes = self.heat.step_sizes  # for provenance.json
        self.heat.release_solvers()  # the step matrices and AMGs: the loop is done
        phases = self.timer.phases
        phases["heat"] -= self.hist.damage_seconds + self.staggered.seconds
        phases["damage"] = self.hist.damage_seconds
        ledger, sym = self.heat.ledger, case.pattern.layout.symmetry_factor
        log.info("heat: peak %.1f C, absorbed %.4g J of %.4g J delivered, balance error %.2e",
                 self.hist.peak_temperature - KELVIN, sym * ledger.absorbed,
                 self.source.delivered_energy, ledger.error)

    def mechanics(self) -> None:
        """The lasting (cooled) state and the end state; the rows of ``mechanics.csv``."""
        case, staggered = self.case, self.staggered
        self.mechanics_rows, self.mechanics_metrics = [], {}
        self.elasticity: ElasticityProblem | None = None
        if not case.mechanics.enabled:
            return
        in_loop = staggered.seconds
        with self.timer("mechanics"):
            cooled = staggered.cooled(self.damage)  # first: the end state's fields are written
            self.mechanics_rows = self.hist.outputs + [
                staggered(case.time.end, self.heat.T, self.damage)]
            self.elasticity = mech = staggered.problem
        self.timer.phases["mechanics"] += in_loop
        metrics = {k: v for k, v in self.mechanics_rows[-1].items() if k != "time_ms"}
        metrics.update(cooled)
        self.mechanics_metrics = metrics
        log.info("mechanics: P%d, %d dofs, %d CG iterations, tightening %.3f %% (cooled "
                 "%.3f %%), residual stress %.1f kPa (sides %s)", case.mechanics.degree,
                 mech.dofs, mech.iterations, metrics["tightening_area_percent"],
                 cooled["cooled_tightening_area_percent"], metrics["residual_stress_kPa"],
                 case.mechanics.sides)

    def healing(self, resume: bool, checkpoint_every: int | None) -> None:
        """The days and months after the pulse (fem.run.course), on the same mesh; the end
        state of the mechanics is kept for the thermal results."""
        self.healed = None
        case = self.case
        if not case.healing.enabled:
            return
        with self.timer("healing"):
            log.info("healing: %s epidermis, %g days%s", case.healing.epidermis_model,
                     case.healing.end_days / 86400.0,
                     f", a course of {case.course.sessions} sessions "
                     f"{case.course.interval / 86400.0:g} days apart"
                     if case.course.sessions > 1 else "")
            stage = HealingStage(case, self.data, self.heat.V, self.damage, self.elasticity,
                                 self.heat.T_initial)
            checkpoint = Checkpointer(self.out, case.resolved, self.comm,
                                      every_steps=checkpoint_every, resume=resume,
                                      state_file=names.CHECKPOINT_HEALING)
            self.checkpoints.append(checkpoint)
            keep = self.elasticity.preserved() if self.elasticity else nullcontext()
            with keep, self.writing("write the checkpoint"):
                self.healed = stage.run(checkpoint)
        m = self.healed.metrics
        log.info("healing: epidermis closed at %.1f h, MENDs shed by day %.1f (pigment "
                 "cleared %.2f %%), new collagen %.3f %%, late tightening %.3f %% at day %g, "
                 "downtime %.1f days", m["reepithelialization_h"], m["mend_shed_days"],
                 m["pigment_cleared_percent"], m["new_collagen_percent"],
                 m["late_tightening_area_percent"], case.healing.end_days / 86400.0,
                 m["downtime_days"])
        if case.course.sessions > 1:
            log.info("course: %d sessions, pigment cleared %.2f %%, downtime %.1f days in all",
                     m["sessions"], m["course_pigment_cleared_percent"],
                     m["course_downtime_days"])

    def light_metrics(self) -> dict:
        """The Monte Carlo map's photons, statistical error and wall time (none for
        Beer-Lambert)."""
        scattered = self.source.scattered
        if scattered is None:
            return {}
        m = scattered.map
        return {"light_photons": m.photons, "light_error": m.relative_error,
                "light_seconds": m.wall_time}

    def measure(self) -> None:
        """The metrics of ``metrics.json`` (energies for the whole unit: a quarter cell counts
        four times)."""
        case, heat, hist = self.case, self.heat, self.hist
        with self.timer("metrics"):
            sampler = ColumnSampler(self.data.mesh, case)
            self.per_column: list[dict] = []
            metrics = damage_metrics(sampler, self.damage, case, per_column=self.per_column)
        ledger = heat.ledger
        sym = case.pattern.layout.symmetry_factor
        delivered = self.source.delivered_energy
        expected = sym * case.laser.energy * self.source.expected_absorbed_fraction()
        metrics.update(
            peak_temperature_C=hist.peak_temperature - KELVIN,
            absorbed_energy_J=sym * ledger.absorbed,
            delivered_energy_J=delivered,
            expected_absorbed_energy_J=expected,
            source_energy_error=abs(sym * ledger.absorbed - expected) / expected,
            **self.source.ledger().metrics(),
            **self.light_metrics(),
            energy_balance_error=ledger.error,
            energy_balance_bound=ledger.bound(case.solver.rtol),
            stored_energy_J=sym * ledger.stored,
            perfusion_loss_J=sym * ledger.perfusion_out,
            surface_loss_J=sym * ledger.surface_out,
            vaporised_energy_J=sym * ledger.vaporised,
            bottom_inflow_J=sym * ledger.bottom_inflow,
            **self.mechanics_metrics,
            **(self.healed.metrics if self.healed else {}),
        )
        mech = self.elasticity
        metrics.update(
            dofs=heat.dofs,
            mechanics_dofs=mech.dofs if mech else 0,
            cells=self.cells,
            time_steps=hist.steps,
            heat_cg_iterations=heat.iterations,
            ranks=self.comm.size,
        )
        self.metrics = metrics
        self.check(metrics)

    def check(self, metrics: dict) -> None:
        """The energy checks (:func:`fem.post.sanity.energy_check_failures`): a failure stops
        the run (exit status 1, no result) unless ``solver.energy_checks = "warn"``; and the
        warnings of the case and of its result, logged and kept in ``metrics["warnings"]``."""
        failures = energy_check_failures(metrics)
        if failures and self.case.solver.energy_checks == "stop":
            self.save_checkpoints()  # a rerun that keeps the run resumes after the loops
            raise SolverError("energy check: " + "; ".join(failures) + "; to keep the run: "
                              "--resume --set solver.energy_checks=warn")
        found = result_warnings(self.case, metrics) + ["energy check: " + f for f in failures]
        for w in found:  # those of the case were logged at the start
            log.warning("warning: %s", w)
        metrics["warnings"] = self.case_warnings + found

    def write_results(self) -> None:
        """The tables, the fields for ParaView, the snapshot and the animation frames (no
        partial result: :meth:`writing`)."""
        with self.writing("write the results"), self.timer("output"):
            self._write_results()

    def _write_results(self) -> None:
        case, out, comm, heat, hist = self.case, self.out, self.comm, self.heat, self.hist
        mech = self.elasticity

        def tables() -> None:
            atomic_write_text(out / names.COLUMNS_CSV, columns_csv(self.per_column))
            if case.mechanics.enabled:
                atomic_write_text(out / names.MECHANICS_CSV, mechanics_csv(self.mechanics_rows))
            if self.healed:
                atomic_write_text(out / names.HEALING_CSV, healing_csv(self.healed.rows))
            if self.probes is not None:
                probe_names = [f"p{i}_z{int(round(p[2] * 1e6))}um"
                               for i, p in enumerate(case.output.probes)]
                write_probes_csv(out / names.PROBES_CSV, probe_names, list(self.damage),
                                 hist.probe_times, hist.probe_values)

        on_root(comm, tables)
        if case.output.fields:  # every field file in µm, °C, kPa, s (fem.output.series)
            write_vtx(comm, out / names.HEAT_BP,
                      [celsius(hist.T_end_of_pulse, "temperature_end_of_pulse_C"),
                       celsius(hist.T_peak, "temperature_peak_C"),
                       celsius(heat.T, "temperature_end_C")]
                      + [d.omega for d in self.damage.values()], case.time.end)
            write_series(out / names.TEMPERATURE_PVD, heat.V,
                         [(t, {"temperature_C": T}) for t, T in hist.frames])
            if mech:
                write_vtx(comm, out / names.DISPLACEMENT_BP,
                          [scaled(mech.u, 1e6, "displacement_um")], case.time.end)
                write_series(out / names.DISPLACEMENT_PVD, heat.V,
                             [(t, {"displacement_um": u})
                              for t, u in self.staggered.displacements])
            if self.healed:
                frames = healing_frames(self.healed.day_fields)
                write_healing_vtx(comm, out / names.HEALING_BP, frames)
                write_series(out / names.HEALING_PVD, heat.V, frames)
        cell_data = region_cell_data(self.data.mesh, self.data.cell_tags)
        point_data = {
            "temperature_end_of_pulse_C": hist.T_end_of_pulse,
            "temperature_peak_C": hist.T_peak,
            "temperature_end_C": heat.T,
            "omega_cell": self.damage["cell"].omega,
            "omega_collagen": self.damage["collagen"].omega,
        }
        if mech:
            cell_data.update(mech.cell_stress_kPa())  # von Mises, principal stresses 1-3
            point_data["displacement_um"] = displacement_um_p1(mech, heat.V)
        if self.healed:
            point_data["heat_shock_stimulus"] = self.healed.stimulus
            for fields in self.healed.day_fields.values():
                point_data.update(fields)
            write_snapshot(out / names.EPIDERMIS_VTU, self.healed.plane.V,
                           self.healed.plane_fields, {})
        write_snapshot(out / names.SNAPSHOT_VTU, heat.V, point_data, cell_data)
        info = snapshot_info(case, self.quality)
        if self.healed:
            info["healing"] = self.healed.info
        on_root(comm, lambda: write_json(out / names.SNAPSHOT_JSON, info))
        if hist.frames:
            write_frames(out / names.FRAMES_VTU, heat.V, hist.frames, info)

    def release(self, keep: dict | None = None) -> None:
        """Free the solvers and fields once the results are on disk (collective): the renders
        read the files, and :meth:`finish` only the counts kept here. ``keep``, a dict,
        receives the functions a caller asked for (fem.api.run): the temperatures (K) at the
        end of the pulse, the peak and the end, the damage integrals, the displacement (m)."""
        self.counts = {"dofs": self.heat.dofs, "time_steps": self.hist.steps}
        if keep is not None:
            keep.update(temperature_end_of_pulse=self.hist.T_end_of_pulse,
                        temperature_peak=self.hist.T_peak, temperature_end=self.heat.T,
                        **{f"omega_{k}": d.omega for k, d in self.damage.items()})
            if self.elasticity is not None:
                keep["displacement"] = self.elasticity.u
        if self.elasticity is not None:
            self.elasticity.release_solver()
        self.heat = self.hist = self.damage = self.staggered = self.elasticity = None
        self.healed = self.probes = self.source = self.data = None
        gc.collect()
        PETSc.garbage_cleanup(self.comm)

    def draw(self) -> None:
        """The renders, drawn from the written files, shared out between the ranks (each
        picture is drawn by one rank)."""
        from fem.render import render_all

        with self.writing("draw the results"), self.timer("render"):
            render_all(self.out, share=(self.comm.rank, self.comm.size))

    def finish(self, report: bool) -> dict:
        """``metrics.json`` (atomic: it marks the case finished), provenance and the report;
        every rank returns once the case is on disk."""
        metrics = self.metrics
        metrics["wall_time_s"] = time.perf_counter() - self.t_total

        def finish() -> None:
            write_json(self.out / names.METRICS_JSON, metrics)
            self.checkpoint.remove()
            write_json(self.out / names.PROVENANCE_JSON, provenance(
                self.comm.size, self.timer.phases,
                {"dofs": self.counts["dofs"], "mechanics_dofs": metrics["mechanics_dofs"],
                 "cells": self.cells, "mesh_quality": self.quality,
                 "time_steps": self.counts["time_steps"],
                 "heat_step_sizes": self.heat_step_sizes,
                 "wall_time_s": metrics["wall_time_s"],
                 "phase_started_unix_s": self.timer.started}))
            if report:
                render_and_report(self.out, renders=False)  # the report, with provenance

        with self.writing("write the results"):
            on_root(self.comm, finish)
        return metrics


def snapshot_info(case: Case, quality: dict) -> dict:
    """The metadata the renderer needs next to snapshot.vtu."""
    z = case.skin.interfaces()
    lay = case.pattern.layout
    x0, x1, y0, y1 = lay.extent
    return {
        "title": case.title,
        "layers": [{"name": la.name, "top_um": z[i] * 1e6, "bottom_um": z[i + 1] * 1e6}
                   for i, la in enumerate(case.skin.layers)],
        "layout": lay.kind,
        "extent_um": [v * 1e6 for v in lay.extent],
        "columns_um": [[x * 1e6, y * 1e6] for x, y in lay.centres],
        "mirror": list(lay.mirror),
        "crater": None if case.crater.shape == "none" else {
            "shape": case.crater.shape, "depth_um": case.crater.depth * 1e6,
            "diameter_um": 2e6 * case.crater.radius},
        "cell_size_um": [(x1 - x0) * 1e6, (y1 - y0) * 1e6],
        "depth_um": case.skin.depth * 1e6,
        "column_radius_um": case.mesh.column_radius * 1e6,
        "column_depth_um": case.mesh.column_depth * 1e6,
        "pulse_end_ms": case.laser.duration * 1e3,
        "end_ms": case.time.end * 1e3,
        "mesh_quality": quality,
    }


def render_and_report(out: Path, renders: bool = True) -> None:
    """Renders (optional) and the HTML report, on the calling rank."""
    if renders:
        from fem.render import render_all

        render_all(out)
    from fem.report import write_report

    write_report(out)

"""The coupled thermal-damage time loop: heat and damage on one clock.

The loop (:func:`run_thermal_damage`) solves the initial steady state, then for each step of
the :class:`~fem.run.schedule.Schedule` advances the heat problem, the damage integrals and the
record of the run (:class:`ThermalHistory`: probes, peak and end-of-pulse temperatures,
animation frames, timings), and hands the problems to the checkpoint.

Mechanics is one-way coupled (it does not feed back on heat), so it is solved at the output
times from the temperature and damage of that step (staggered, exact for one-way thermal
strain) and at the end, by :mod:`fem.run.staggered`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mpi4py import MPI

import dolfinx.fem as dfem
import numpy as np

from fem.physics.heat import PennesProblem
from fem.physics.source import BeamSource
from fem.physics.state import State, Stateful, set_owned
from fem.post.probes import PointEvaluator
from fem.run.schedule import Schedule
from fem.solvers import SolverError

log = logging.getLogger(__name__)


@dataclass
class ThermalHistory:
    """What the loop records: probe history, snapshots, timings."""

    probe_times: list[float] = field(default_factory=list)
    probe_values: list[np.ndarray] = field(default_factory=list)
    T_end_of_pulse: dfem.Function | None = None
    T_peak: dfem.Function | None = None
    peak_temperature: float = 0.0
    steps: int = 0
    heat_seconds: float = 0.0
    damage_seconds: float = 0.0
    frames: list[tuple[float, dfem.Function]] = field(default_factory=list)  # (t, T) animation
    outputs: list[dict] = field(default_factory=list)  # what on_output returned, by time

    def state(self) -> State:
        """The running peak and end-of-pulse temperatures, the frames, the probe history, the
        mechanics rows and the timings."""
        fields = {"T_peak": self.T_peak}
        if self.T_end_of_pulse is not None:
            fields["T_end_of_pulse"] = self.T_end_of_pulse
        fields.update({f"frame_{i}": f for i, (_, f) in enumerate(self.frames)})
        probe_values = (np.stack(self.probe_values) if self.probe_values
                        else np.zeros((0, 0, 0)))
        return State(fields, {"frame_times": [t for t, _ in self.frames],
                              "outputs": list(self.outputs), "heat_seconds": self.heat_seconds,
                              "damage_seconds": self.damage_seconds},
                     {"probe_times": np.asarray(self.probe_times, dtype=float),
                      "probe_values": probe_values})

    def restore(self, state: State) -> None:
        """The record up to the saved step (``T_peak`` already exists: the initial state)."""
        set_owned(self.T_peak, state.fields["T_peak"])
        if "T_end_of_pulse" in state.fields:
            self.T_end_of_pulse = self.T_peak.copy()
            self.T_end_of_pulse.name = "temperature_end_of_pulse"
            set_owned(self.T_end_of_pulse, state.fields["T_end_of_pulse"])
        self.outputs = list(state.values["outputs"])
        self.frames = []
        for i, t in enumerate(state.values["frame_times"]):
            frame = self.T_peak.copy()
            set_owned(frame, state.fields[f"frame_{i}"])
            self.frames.append((t, frame))
        self.heat_seconds = state.values["heat_seconds"]
        self.damage_seconds = state.values["damage_seconds"]
        self.probe_times = [float(t) for t in state.arrays["probe_times"]]
        self.probe_values = [v for v in state.arrays["probe_values"]]


def run_thermal_damage(heat: PennesProblem, damage: dict, schedule: Schedule,
                       source: BeamSource | None = None, probes: PointEvaluator | None = None,
                       progress: bool = True, checkpoint=None,
                       on_output: Callable[[float, dfem.Function, dict], dict] | None = None,
                       keep_final: bool = False) -> ThermalHistory:
    """Solve the initial steady state and the transient heat + damage problem.

    Args:
        heat: the heat problem.
        damage: the damage integrals by purpose (on the temperature space), advanced in place.
        schedule: the steps, the output steps and the animation frames.
        source: the laser source, whose mean power over each step drives ``heat`` (None: no
            laser).
        probes: where the temperature and damage are recorded at every step.
        progress: log about ten progress lines.
        checkpoint: a :class:`fem.run.checkpoint.Checkpointer` (optional) that may restore
            a saved state before the first step (``restore``) and is called after every step
            (``after_step``) with the problems of the loop.
        on_output: ``on_output(t, T, damage)`` after each output step (mechanics at the
            output times, one-way staggered); what it returns (a dict) is kept in
            ``history.outputs``.
        keep_final: also checkpoint the state after the last step (a later stage, the
            healing, follows: its resume then skips this loop).

    Returns:
        The recorded history.
    """
    hist = ThermalHistory()
    t_start = time.perf_counter()
    T = heat.solve_steady()
    hist.heat_seconds += time.perf_counter() - t_start
    for d in damage.values():
        d.start(T)
    hist.T_peak = T.copy()
    hist.T_peak.name = "temperature_peak"

    def record(t: float):
        if probes is not None:
            vals = [probes(T)] + [probes(d.omega) for d in damage.values()]
            hist.probe_times.append(t)
            hist.probe_values.append(np.stack(vals, axis=1))

    steps = schedule.steps
    heat.plan_steps(steps)  # which sizes own an AMG: from the schedule, as on a resume
    record(schedule.start)
    if 0 in schedule.frame_steps:
        hist.frames.append((schedule.start, T.copy()))
    if "cell" in damage:
        heat.set_cell_damage(damage["cell"].omega)  # perfusion stops as cells die
    problems = {"heat": heat, **{f"damage_{p}": d for p, d in damage.items()}, "history": hist}
    if isinstance(on_output, Stateful):  # the mechanics: its last solution, the next guess
        problems["mechanics"] = on_output
    done = checkpoint.restore(problems, len(steps)) if checkpoint else 0
    if done:
        for d in damage.values():
            d.start(T)  # the rate at the restored temperature, as the trapezoid rule keeps it
    every = max(1, len(steps) // 10)
    t_loop = time.perf_counter()
    for n, (t0, t1) in enumerate(steps, start=1):
        if n <= done:
            continue
        tic = time.perf_counter()
        heat.step(t0, t1, source.mean_powers(t0, t1) if source is not None else 0.0, step=n)
        toc = time.perf_counter()
        for d in damage.values():
            d.update(T, t1 - t0)
        np.maximum(hist.T_peak.x.array, T.x.array, out=hist.T_peak.x.array)
        hist.damage_seconds += time.perf_counter() - toc
        hist.heat_seconds += toc - tic
        if hist.T_end_of_pulse is None and t1 >= schedule.end_of_pulses * (1 - 1e-12):
            hist.T_end_of_pulse = T.copy()
            hist.T_end_of_pulse.name = "temperature_end_of_pulse"
        record(t1)
        if n in schedule.frame_steps:
            hist.frames.append((t1, T.copy()))
        if on_output is not None and n in schedule.output_steps:
            hist.outputs.append(on_output(t1, T, damage))
        if checkpoint is not None:
            checkpoint.after_step(n, len(steps), problems)
        if progress and (n % every == 0 or n == len(steps)):
            eta = (time.perf_counter() - t_loop) / (n - done) * (len(steps) - n)
            log.info("  step %d/%d  t = %.3g ms  T_max = %.1f C  ETA %.0f s", n, len(steps),
                     t1 * 1e3, heat.comm.allreduce(float(T.x.array.max()), op=MPI.MAX) - 273.15,
                     eta)
    if hist.T_end_of_pulse is None:
        hist.T_end_of_pulse = T.copy()
    if checkpoint is not None and keep_final and done < len(steps):
        checkpoint.finished(len(steps), problems)
    n_owned = heat.V.dofmap.index_map.size_local
    hist.peak_temperature = heat.comm.allreduce(
        float(hist.T_peak.x.array[:n_owned].max()), op=MPI.MAX)
    hist.steps = len(steps)
    if not np.all(np.isfinite(T.x.array)):
        raise SolverError("heat: temperature is not finite at the end of the run")
    return hist

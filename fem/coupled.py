"""The coupled thermal-damage time loop: heat and damage on one clock.

Time steps follow the physics (:func:`time_schedule`): ``steps_per_pulse`` equal steps while
the laser is on, then a ladder of steps growing by ``growth`` every ``steps_per_rung`` steps
(capped at ``max_step``) until the end time. Each step size is a rung of
:class:`fem.heat.PennesProblem`, which assembles its matrix once.

Mechanics is one-way coupled (it does not feed back on heat), so it is solved after the loop
from the final temperature and damage (staggered, exact for one-way thermal strain).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from mpi4py import MPI

import numpy as np
from dolfinx import fem

from fem import source
from fem.config import Case
from fem.damage import make_damage
from fem.heat import PennesProblem, SolverError
from fem.probes import PointEvaluator

log = logging.getLogger(__name__)


def time_schedule(case: Case) -> list[tuple[float, float]]:
    """The list of steps ``(t0, t1)``, pulse first, then a growing ladder to the end time."""
    t_pulse = min(source.pulse_end(case), case.end_time)
    dt = source.pulse_end(case) / case.steps_per_pulse
    steps, t = [], 0.0
    n_pulse = max(1, round(t_pulse / dt))
    for i in range(n_pulse):
        t1 = t_pulse if i == n_pulse - 1 else (i + 1) * dt
        steps.append((t, t1))
        t = t1
    rung = 0
    while t < case.end_time * (1 - 1e-12):
        rung += 1
        dt_r = min(dt * case.growth**rung, case.max_step)
        for _ in range(case.steps_per_rung):
            t1 = min(t + dt_r, case.end_time)
            if case.end_time - t1 < 0.25 * dt_r:  # no sliver of a step at the end
                t1 = case.end_time
            steps.append((t, t1))
            t = t1
            if t >= case.end_time:
                break
    return steps


@dataclass
class ThermalHistory:
    """What the loop records: probe history, snapshots, timings."""

    probe_times: list[float] = field(default_factory=list)
    probe_values: list[np.ndarray] = field(default_factory=list)
    T_end_of_pulse: fem.Function | None = None
    T_peak: fem.Function | None = None
    peak_temperature: float = 0.0
    steps: int = 0
    heat_seconds: float = 0.0
    damage_seconds: float = 0.0
    frames: list[tuple[float, fem.Function]] = field(default_factory=list)  # (t, T) animation


def run_thermal_damage(heat: PennesProblem, case: Case, probes: PointEvaluator | None = None,
                       progress: bool = True, checkpoint=None, frame_steps=()):
    """Solve the initial steady state and the transient heat + damage problem.

    ``checkpoint`` (a :class:`fem.checkpoint.Checkpointer`, optional) may restore a saved state
    before the first step (``restore``) and is called after every step (``after_step``).
    ``frame_steps``: step numbers (0: the initial state) whose temperature is kept in
    ``history.frames`` for the animation.

    Returns:
        ``(damage, history)``: the damage objects by purpose, and the recorded history.
    """
    hist = ThermalHistory()
    t_start = time.perf_counter()
    T = heat.solve_steady()
    hist.heat_seconds += time.perf_counter() - t_start
    damage = make_damage(heat.V, case.kinetics)
    for d in damage.values():
        d.start(T)
    hist.T_peak = T.copy()
    hist.T_peak.name = "temperature_peak"

    def record(t: float):
        if probes is not None:
            vals = [probes(T)] + [probes(d.omega) for d in damage.values()]
            hist.probe_times.append(t)
            hist.probe_values.append(np.stack(vals, axis=1))

    record(0.0)
    if 0 in frame_steps:
        hist.frames.append((0.0, T.copy()))
    steps = time_schedule(case)
    t_pulse = source.pulse_end(case)
    every = max(1, len(steps) // 10)
    done = checkpoint.restore(heat, damage, hist, len(steps)) if checkpoint else 0
    t_loop = time.perf_counter()
    for n, (t0, t1) in enumerate(steps, start=1):
        if n <= done:
            continue
        tic = time.perf_counter()
        heat.step(t0, t1, source.mean_power(case, t0, t1), step=n)
        toc = time.perf_counter()
        for d in damage.values():
            d.update(T, t1 - t0)
        np.maximum(hist.T_peak.x.array, T.x.array, out=hist.T_peak.x.array)
        hist.damage_seconds += time.perf_counter() - toc
        hist.heat_seconds += toc - tic
        if hist.T_end_of_pulse is None and t1 >= t_pulse * (1 - 1e-12):
            hist.T_end_of_pulse = T.copy()
            hist.T_end_of_pulse.name = "temperature_end_of_pulse"
        record(t1)
        if n in frame_steps:
            hist.frames.append((t1, T.copy()))
        if checkpoint is not None:
            checkpoint.after_step(n, len(steps), heat, damage, hist)
        if progress and (n % every == 0 or n == len(steps)):
            eta = (time.perf_counter() - t_loop) / (n - done) * (len(steps) - n)
            log.info("  step %d/%d  t = %.3g ms  T_max = %.1f C  ETA %.0f s", n, len(steps),
                     t1 * 1e3, heat.comm.allreduce(float(T.x.array.max()), op=MPI.MAX) - 273.15,
                     eta)
    if hist.T_end_of_pulse is None:
        hist.T_end_of_pulse = T.copy()
    n_owned = heat.V.dofmap.index_map.size_local
    hist.peak_temperature = heat.comm.allreduce(
        float(hist.T_peak.x.array[:n_owned].max()), op=MPI.MAX)
    hist.steps = len(steps)
    if not np.all(np.isfinite(T.x.array)):
        raise SolverError("heat: temperature is not finite at the end of the run")
    return damage, hist


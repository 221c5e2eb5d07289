"""The coupled thermal-damage time loop: heat and damage on one clock.

Time steps follow the physics (:func:`time_schedule`): ``steps_per_pulse`` equal steps while
a pulse is on, then a ladder of steps growing by ``growth`` every ``steps_per_rung`` steps
(capped at ``max_step``) until the next pulse (a scan of columns), the next change of the
surface condition (a cryogen spurt, a contact window) or the end time. Each step size and
surface state is a rung of :class:`fem.heat.PennesProblem`, which assembles its matrix once.

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

from fem import cooling, source
from fem.config import Case
from fem.damage import make_damage
from fem.heat import PennesProblem, SolverError
from fem.probes import PointEvaluator

log = logging.getLogger(__name__)


def _ladder(t0: float, t1: float, dt: float, case: Case) -> list[tuple[float, float]]:
    """Steps from ``t0`` to ``t1`` after a change: ``dt`` growing by ``growth`` every
    ``steps_per_rung`` steps (capped at ``max_step``), the last one landing on ``t1`` (no
    sliver: a remainder under a quarter step joins the step before)."""
    steps, t, rung = [], t0, 0
    while t < t1 - 1e-12 * max(abs(t1), dt):
        rung += 1
        dt_r = min(dt * case.growth**rung, case.max_step)
        for _ in range(case.steps_per_rung):
            s1 = min(t + dt_r, t1)
            if t1 - s1 < 0.25 * dt_r:
                s1 = t1
            steps.append((t, s1))
            t = s1
            if t >= t1:
                break
    return steps


def time_schedule(case: Case) -> list[tuple[float, float]]:
    """The steps ``(t0, t1)`` from the start (0, or earlier when a cooling device acts before
    the pulse) to the end time: ``steps_per_pulse`` equal steps per pulse while any pulse is
    on, and after every pulse window or change of the surface condition a ladder of growing
    steps up to the next one. Windows and gaps of equal length get equal steps, so a scan of
    many columns reuses a few matrices."""
    dt = source.pulse_end(case) / case.steps_per_pulse
    windows = [(a, min(b, case.end_time)) for a, b in source.pulse_windows(case)
               if a < case.end_time]
    marks = sorted({cooling.start_time(case), case.end_time, *cooling.breakpoints(case),
                    *(t for w in windows for t in w)})
    steps = []
    for t0, t1 in zip(marks, marks[1:]):
        if t1 - t0 <= 1e-12 * max(abs(t1), 1e-9):
            continue
        pulse_on = any(a - 1e-15 <= t0 and t1 <= b + 1e-15 for a, b in windows)
        if pulse_on:
            n = max(1, round((t1 - t0) / dt))
            steps += [(t0 + (t1 - t0) * i / n, t0 + (t1 - t0) * (i + 1) / n) for i in range(n)]
            steps[-1] = (steps[-1][0], t1)
        else:
            steps += _ladder(t0, t1, dt, case)
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
    outputs: list[dict] = field(default_factory=list)  # what on_output returned, by time


def steps_at(steps: list[tuple[float, float]], times) -> set[int]:
    """The step numbers (1-based) that end at or first after each of ``times``."""
    ends = np.array([t1 for _, t1 in steps])
    return {int(np.searchsorted(ends, t - 1e-12 * max(abs(t), 1e-9))) + 1 for t in times
            if t <= ends[-1]}


def run_thermal_damage(heat: PennesProblem, case: Case, probes: PointEvaluator | None = None,
                       progress: bool = True, checkpoint=None, frame_steps=(),
                       output_steps=(), on_output=None):
    """Solve the initial steady state and the transient heat + damage problem.

    ``checkpoint`` (a :class:`fem.checkpoint.Checkpointer`, optional) may restore a saved state
    before the first step (``restore``) and is called after every step (``after_step``).
    ``frame_steps``: step numbers (0: the initial state) whose temperature is kept in
    ``history.frames`` for the animation. ``output_steps``: step numbers after which
    ``on_output(t, T, damage)`` is called (mechanics at the output times, one-way staggered);
    what it returns (a dict) is kept in ``history.outputs``.

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

    steps = time_schedule(case)
    record(steps[0][0])
    if 0 in frame_steps:
        hist.frames.append((steps[0][0], T.copy()))
    t_pulse = source.pulse_windows(case)[-1][1]  # the end of the last pulse
    groups = source.firing_groups(case)
    if case.perfusion_shutdown and "cell" in damage:
        heat.omega_cell = damage["cell"].omega  # perfusion stops as cells die
    every = max(1, len(steps) // 10)
    done = checkpoint.restore(heat, damage, hist, len(steps)) if checkpoint else 0
    t_loop = time.perf_counter()
    for n, (t0, t1) in enumerate(steps, start=1):
        if n <= done:
            continue
        tic = time.perf_counter()
        heat.step(t0, t1, source.mean_powers(case, t0, t1, groups), step=n)
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
        if on_output is not None and n in output_steps:
            hist.outputs.append(on_output(t1, T, damage))
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


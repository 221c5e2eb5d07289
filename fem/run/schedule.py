"""The time schedule of a case, computed once: the steps, and which of them carry output.

Time steps follow the physics (:func:`time_steps`): ``steps_per_pulse`` equal steps while a
pulse is on, then a ladder of steps growing by ``growth`` every ``steps_per_rung`` steps
(capped at ``max_step``) until the next pulse (a scan of columns), the next change of the
surface condition (a cryogen spurt, a contact window) or the end time. Each step size and
surface state is a rung of :class:`fem.physics.heat.PennesProblem`, which assembles its matrix
once. :class:`Schedule` adds the steps after which mechanics is solved (the output times) and
whose temperature becomes a frame of the animation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fem.config import Case
from fem.config.sections import Time
from fem.physics.cooling import SurfaceConditions
from fem.physics.source import BeamSource
from fem.run.problems import beam_source, surface_conditions

Steps = list[tuple[float, float]]


def _ladder(t0: float, t1: float, dt: float, time: Time) -> Steps:
    """Steps from ``t0`` to ``t1`` after a change: ``dt`` growing by ``growth`` every
    ``steps_per_rung`` steps (capped at ``max_step``), the last one landing on ``t1`` (no
    sliver: a remainder under a quarter step joins the step before)."""
    steps, t, rung = [], t0, 0
    while t < t1 - 1e-12 * max(abs(t1), dt):
        rung += 1
        dt_r = min(dt * time.growth**rung, time.max_step)
        for _ in range(time.steps_per_rung):
            s1 = min(t + dt_r, t1)
            if t1 - s1 < 0.25 * dt_r:
                s1 = t1
            steps.append((t, s1))
            t = s1
            if t >= t1:
                break
    return steps


def time_steps(time: Time, source: BeamSource, surface: SurfaceConditions) -> Steps:
    """The steps ``(t0, t1)`` from the start (0, or earlier when a cooling device acts before
    the pulse) to the end time: ``steps_per_pulse`` equal steps per pulse while any pulse is
    on, and after every pulse window or change of the surface condition a ladder of growing
    steps up to the next one. Windows and gaps of equal length get equal steps, so a scan of
    many columns reuses a few matrices."""
    end = time.end
    dt = source.duration / time.steps_per_pulse
    windows = [(a, min(b, end)) for a, b in source.windows if a < end]
    marks = sorted({surface.start_time, end, *surface.breakpoints(end),
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
            steps += _ladder(t0, t1, dt, time)
    return steps


def steps_at(steps: Steps, times) -> set[int]:
    """The step numbers (1-based) that end at or first after each of ``times``."""
    ends = np.array([t1 for _, t1 in steps])
    return {int(np.searchsorted(ends, t - 1e-12 * max(abs(t), 1e-9))) + 1 for t in times
            if t <= ends[-1]}


def animation_steps(steps: Steps, t_pulse: float, during: int = 8, after: int = 8) -> set[int]:
    """Step numbers (0: the initial state) whose temperature becomes a frame of the animation.

    About ``during`` frames evenly spaced over the steps of the pulse and ``after`` over the
    (growing) steps after it, the end of the pulse and the last step included.

    Args:
        steps: The time schedule, ``(t0, t1)`` per step (s).
        t_pulse: End of the pulse (s).
    """
    def pick(numbers: list[int], k: int) -> set[int]:
        if not numbers:
            return set()
        idx = np.unique(np.round(np.linspace(0, len(numbers) - 1, max(k, 1))).astype(int))
        return {numbers[i] for i in idx}

    on = [n for n, (_, t1) in enumerate(steps, 1) if t1 <= t_pulse * (1 + 1e-12)]
    off = [n for n, (_, t1) in enumerate(steps, 1) if t1 > t_pulse * (1 + 1e-12)]
    return {0} | pick(on, during) | pick(off, after)


@dataclass(frozen=True)
class Schedule:
    """The steps of a run and the steps that carry output.

    Attributes:
        steps: ``(t0, t1)`` per step, s.
        end_of_pulses: when the last pulse ends, s (the temperature "at the end of the pulse").
        output_steps: after which steps mechanics is solved (the output times).
        frame_steps: whose temperature is kept for the animation and the time series
            (0: the initial state).
    """

    steps: Steps
    end_of_pulses: float
    output_steps: frozenset[int] = frozenset()
    frame_steps: frozenset[int] = frozenset()

    @property
    def start(self) -> float:
        """The time of the initial state, s."""
        return self.steps[0][0]

    @classmethod
    def of(cls, case: Case, source: BeamSource | None = None,
           surface: SurfaceConditions | None = None) -> Schedule:
        """The schedule of a case (its source and surface conditions, if already built)."""
        source = source or beam_source(case, light=False)
        surface = surface or surface_conditions(case)
        steps = time_steps(case.time, source, surface)
        output = steps_at(steps, case.output.times) if case.mechanics.enabled else set()
        frames = (animation_steps(steps, source.duration)
                  if case.output.render or case.output.fields else set())
        return cls(steps, source.end_of_pulses, frozenset(output), frozenset(frames))


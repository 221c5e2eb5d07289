"""Laser heat source: a Gaussian beam attenuated in depth by Beer-Lambert absorption per layer.

Absorbed power density, with depth ``d = -z`` and radius ``r`` from the beam axis::

    q(r, d, t) = P(t) * mu(d) * exp(-tau(d)) * G(r, w(d)),
    G(r, w)    = 2 / (pi w^2) * exp(-2 r^2 / w^2)         (unit integral over the plane),
    tau(d)     = int_0^d mu(s) ds                          (optical depth, piecewise linear),
    w(d)^2     = w0^2 + (tan(theta) * (d - d_f))^2         (1/e^2 radius, waist w0 at d_f).

``mu`` is the effective attenuation of the layer at ``d`` (:meth:`fem.config.Case.attenuation`).
Because ``G`` has unit integral at every depth, the power crossing depth ``d`` is
``P exp(-tau(d))`` and the power absorbed in the block is exactly ``P (1 - exp(-tau(D)))`` minus
the Gaussian tails that leave through the sides of the domain: :func:`expected_absorbed_fraction`
evaluates that exactly (1D quadrature), and the finite-element integral of ``q`` is compared
with it. A pattern sums one such beam per column; :func:`density` evaluates the sum with
numpy at the quadrature points, once per run and firing group.

Time: ``P(t) = E * s(t)`` with a pulse shape of unit integral. Backward Euler uses the exact
mean power over each step, ``E (S(t1) - S(t0)) / dt`` with ``S`` the cumulative shape, so the
delivered energy is exact whatever the step. In a pattern each column fires at its own time
(``case.fire_times``: all at once, or a raster or random scan, pass after pass;
:func:`firing_groups`); the heat problem keeps one source vector per group and scales each
by its group's mean power (:func:`mean_powers`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fem import ablation
from fem.config import GAUSSIAN_WINDOW, Case


def pulse_end(case: Case) -> float:
    """Duration of one pulse (time at which a pulse fired at t = 0 is over), s."""
    return case.laser.duration


def cumulative_pulse(case: Case, t: float) -> float:
    """Fraction of the pulse energy delivered by time ``t`` (pulse fired at t = 0)."""
    tau = case.laser.pulse
    if case.laser.pulse_shape == "square":
        return min(max(t / tau, 0.0), 1.0)
    # Gaussian of FWHM tau centred at 1.5 tau, renormalised on the window [0, 3 tau].
    sigma = tau / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    tc = 0.5 * GAUSSIAN_WINDOW * tau
    t = min(max(t, 0.0), GAUSSIAN_WINDOW * tau)

    def phi(s: float) -> float:
        return 0.5 * (1.0 + math.erf((s - tc) / (math.sqrt(2.0) * sigma)))

    return (phi(t) - phi(0.0)) / (phi(GAUSSIAN_WINDOW * tau) - phi(0.0))


def mean_power(case: Case, t0: float, t1: float) -> float:
    """Exact mean laser power of one column fired at t = 0 over ``[t0, t1]``, W."""
    return case.laser.energy * (cumulative_pulse(case, t1) - cumulative_pulse(case, t0)) / (t1 - t0)


@dataclass(frozen=True)
class FiringGroup:
    """Columns whose pulses start together (``case.fire_times``), by index in the layout."""

    start: float  # s
    columns: tuple[int, ...]


def firing_groups(case: Case) -> list[FiringGroup]:
    """The columns grouped by firing time, in time order: one group when all fire together,
    one per column for a sequential scan."""
    groups: dict[float, list[int]] = {}
    for i, t in enumerate(case.fire_times):
        groups.setdefault(t, []).append(i)
    return [FiringGroup(t, tuple(cols)) for t, cols in sorted(groups.items())]


def pulse_windows(case: Case) -> list[tuple[float, float]]:
    """The time intervals during which some pulse is on, merged where they overlap, s."""
    out: list[tuple[float, float]] = []
    for g in firing_groups(case):
        a, b = g.start, g.start + pulse_end(case)
        if out and a <= out[-1][1] * (1 + 1e-12):
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def mean_powers(case: Case, t0: float, t1: float,
                groups: list[FiringGroup] | None = None) -> np.ndarray:
    """Exact mean power over ``[t0, t1]`` of one column of each firing group (``groups``:
    :func:`firing_groups` of the case, computed once by a time loop), W."""
    groups = firing_groups(case) if groups is None else groups
    return np.array([mean_power(case, t0 - g.start, t1 - g.start) for g in groups])


def beam_radius(case: Case, d: np.ndarray | float) -> np.ndarray:
    """1/e^2 beam radius at depth ``d`` (m)."""
    lz = case.laser
    return np.sqrt(lz.w0**2 + (math.tan(lz.divergence) * (np.asarray(d) - lz.focal_depth)) ** 2)


def layer_optics(case: Case) -> list[tuple[float, float, float]]:
    """Per layer: (top depth, absorption 1/m, optical depth at the top of the layer)."""
    out, tau, d = [], 0.0, 0.0
    for layer in case.layers:
        mu = case.attenuation(layer)
        out.append((d, mu, tau))
        tau += mu * layer.thickness
        d += layer.thickness
    return out


def lateral_cutoff(case: Case) -> float:
    """Radius beyond which a beam deposits nothing that matters: 5 1/e^2 radii at the deepest
    point (the Gaussian has fallen by exp(-50) there)."""
    return 5.0 * float(np.max(beam_radius(case, np.array([0.0, case.depth]))))


def density(case: Case, layer_index: int, x: np.ndarray,
            columns: tuple[int, ...] | None = None) -> np.ndarray:
    """``q / P`` (1/m^3) at points ``x`` (shape ``(3, n)``) of one layer, summed over the
    columns of the layout (or the given ``columns``), each fired with power ``P``.

    Only the points within :func:`lateral_cutoff` of a column axis are evaluated for it (the
    points sorted by x, a window per column), so the cost grows with the number of columns
    times the points near one column, not with their product.
    """
    d_top, mu, tau_top = layer_optics(case)[layer_index]
    d = -x[2]
    w2 = beam_radius(case, d) ** 2
    axial = mu * np.exp(-(tau_top + mu * (d - d_top))) * 2.0 / (math.pi * w2)
    q = np.zeros(x.shape[1])
    cut = lateral_cutoff(case)
    order = np.argsort(x[0])
    xs = x[0][order]
    centres = case.layout.centres
    for cx, cy in (centres if columns is None else [centres[i] for i in columns]):
        lo, hi = np.searchsorted(xs, [cx - cut, cx + cut])
        idx = order[lo:hi]
        idx = idx[np.abs(x[1][idx] - cy) < cut]
        r2 = (x[0][idx] - cx) ** 2 + (x[1][idx] - cy) ** 2
        q[idx] += axial[idx] * np.exp(-2.0 * r2 / w2[idx])
    return q


def expected_absorbed_fraction(case: Case, n: int = 400) -> float:
    """Exact energy absorbed in the domain per unit pulse energy of one column, summed over
    the columns (bottom and side losses out, and what falls in the crater of an ablative
    column: the blow-off energy).

    ``sum_c int_0^D mu exp(-tau) F_c(d) dd`` with ``F_c`` the share of the Gaussian of column
    ``c`` inside the domain rectangle (a product of erf differences), Gauss-Legendre per layer.
    """
    x0, x1, y0, y1 = case.layout.extent
    total = 0.0
    xg, wg = np.polynomial.legendre.leggauss(n)
    erf = np.vectorize(math.erf)

    def inside(a, b, c, w):
        return 0.5 * (erf(math.sqrt(2.0) * (b - c) / w) - erf(math.sqrt(2.0) * (a - c) / w))

    def crater_share(c, lo, hi):  # half a crater on a symmetry plane through its axis
        return 0.5 if min(abs(c - lo), abs(c - hi)) < 1e-12 else 1.0

    for (d_top, mu, tau_top), layer in zip(layer_optics(case), case.layers):
        d = d_top + 0.5 * layer.thickness * (xg + 1.0)
        w = beam_radius(case, d)
        # The Gaussian inside the crater (radius r_c(d) about the axis) is blown off.
        in_crater = 1.0 - np.exp(-2.0 * ablation.radius_at_depth(case.crater.profile, d) ** 2
                                 / w**2)
        lateral = sum(inside(x0, x1, cx, w) * inside(y0, y1, cy, w)
                      - crater_share(cx, x0, x1) * crater_share(cy, y0, y1) * in_crater
                      for cx, cy in case.layout.centres)
        f = mu * np.exp(-(tau_top + mu * (d - d_top))) * lateral
        total += 0.5 * layer.thickness * float(np.dot(wg, f))
    return total

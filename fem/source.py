"""Laser heat source: a Gaussian beam attenuated in depth by Beer-Lambert absorption per layer.

Absorbed power density, with depth ``d = -z`` and radius ``r`` from the beam axis::

    q(r, d, t) = P(t) * mu(d) * exp(-tau(d)) * G(r, w(d)),
    G(r, w)    = 2 / (pi w^2) * exp(-2 r^2 / w^2)         (unit integral over the plane),
    tau(d)     = int_0^d mu(s) ds                          (optical depth, piecewise linear),
    w(d)^2     = w0^2 + (tan(theta) * (d - d_f))^2         (1/e^2 radius, waist w0 at d_f).

``mu`` is the effective attenuation of the layer at ``d`` (:meth:`fem.config.Case.attenuation`). Because ``G`` has unit integral at
every depth, the power crossing depth ``d`` is ``P exp(-tau(d))`` and the power absorbed in the
block is exactly ``P (1 - exp(-tau(D)))`` minus the Gaussian tails that leave through the sides
of the cell: :func:`expected_absorbed_fraction` evaluates that exactly (1D quadrature), and the
finite-element integral of ``q`` is compared with it.

Time: ``P(t) = E * s(t)`` with a pulse shape of unit integral. Backward Euler uses the exact
mean power over each step, ``E (S(t1) - S(t0)) / dt`` with ``S`` the cumulative shape, so the
delivered energy is exact whatever the step.
"""

from __future__ import annotations

import math

import numpy as np
import ufl

from fem.config import Case

GAUSSIAN_WINDOW = 3.0  # a Gaussian pulse of FWHM tau is delivered over [0, 3 tau]


def pulse_end(case: Case) -> float:
    """Time at which the pulse is over, s."""
    tau = case.laser.pulse
    return tau if case.laser.pulse_shape == "square" else GAUSSIAN_WINDOW * tau


def cumulative_pulse(case: Case, t: float) -> float:
    """Fraction of the pulse energy delivered by time ``t``."""
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
    """Exact mean laser power over ``[t0, t1]``, W."""
    return case.laser.energy * (cumulative_pulse(case, t1) - cumulative_pulse(case, t0)) / (t1 - t0)


def beam_radius(case: Case, d):
    """1/e^2 beam radius at depth ``d`` (numpy array or UFL expression)."""
    lz = case.laser
    t = math.tan(lz.divergence)
    if isinstance(d, np.ndarray) or np.isscalar(d):
        return np.sqrt(lz.w0**2 + (t * (d - lz.focal_depth)) ** 2)
    return ufl.sqrt(lz.w0**2 + (t * (d - lz.focal_depth)) ** 2)


def layer_optics(case: Case) -> list[tuple[float, float, float]]:
    """Per layer: (top depth, absorption 1/m, optical depth at the top of the layer)."""
    out, tau, d = [], 0.0, 0.0
    for layer in case.layers:
        mu = case.attenuation(layer)
        out.append((d, mu, tau))
        tau += mu * layer.thickness
        d += layer.thickness
    return out


def spatial_density(case: Case, x, layer_index: int):
    """UFL expression of q / P in one layer (1/m^3), ``x`` the spatial coordinate."""
    d_top, mu, tau_top = layer_optics(case)[layer_index]
    d = -x[2]
    w2 = beam_radius(case, d) ** 2
    r2 = x[0] ** 2 + x[1] ** 2
    return mu * ufl.exp(-(tau_top + mu * (d - d_top))) * 2.0 / (math.pi * w2) * ufl.exp(-2.0 * r2 / w2)


def expected_absorbed_fraction(case: Case, n: int = 400) -> float:
    """Exact fraction of the pulse energy absorbed in the block (bottom and side losses out).

    ``int_0^D mu exp(-tau) erf(L / (sqrt(2) w))^2 dd``, Gauss-Legendre per layer.
    """
    half = 0.5 * case.cell_side
    total = 0.0
    xg, wg = np.polynomial.legendre.leggauss(n)
    for (d_top, mu, tau_top), layer in zip(layer_optics(case), case.layers):
        d = d_top + 0.5 * layer.thickness * (xg + 1.0)
        w = beam_radius(case, d)
        lateral = np.array([math.erf(half * math.sqrt(2.0) / wi) ** 2 for wi in w])
        f = mu * np.exp(-(tau_top + mu * (d - d_top))) * lateral
        total += 0.5 * layer.thickness * float(np.dot(wg, f))
    return total

"""Laser heat source: a Gaussian beam attenuated in depth by Beer-Lambert absorption per layer.

Absorbed power density, with depth ``d = -z`` and radius ``r`` from the beam axis::

    q(r, d, t) = P(t) * mu(d) * exp(-tau(d)) * G(r, w(d)),
    G(r, w)    = 2 / (pi w^2) * exp(-2 r^2 / w^2)         (unit integral over the plane),
    tau(d)     = int_0^d mu(s) ds                          (optical depth, piecewise linear),
    w(d)^2     = w0^2 + (tan(theta) * (d - d_f))^2         (1/e^2 radius, waist w0 at d_f).

``mu`` is the effective attenuation of the layer at ``d`` (:func:`attenuation`).
Because ``G`` has unit integral at every depth, the power crossing depth ``d`` is
``P exp(-tau(d))`` and the power absorbed in the block is exactly ``P (1 - exp(-tau(D)))`` minus
the Gaussian tails that leave through the sides of the domain:
:meth:`BeamSource.expected_absorbed_fraction` evaluates that exactly (1D quadrature), and the
finite-element integral of ``q`` is compared with it. A pattern sums one such beam per column;
:meth:`BeamSource.density` evaluates the sum with numpy at the quadrature points, once per run
and firing group.

Time: ``P(t) = E * s(t)`` with a pulse shape of unit integral. Backward Euler uses the exact
mean power over each step, ``E (S(t1) - S(t0)) / dt`` with ``S`` the cumulative shape, so the
delivered energy is exact whatever the step. In a pattern each column fires at its own time
(``pattern.fire_times``: all at once, or a raster or random scan, pass after pass;
:func:`firing_groups`); the heat problem keeps one source vector per group and scales each
by its group's mean power (:meth:`BeamSource.mean_powers`).

Full field (``pattern.layout = "full_field"``, a non-fractional resurfacing treatment): the
beam is a flat top that covers the whole block, at the peak fluence of the Gaussian beam of
the same energy and spot, ``F = 2 E / (pi w0^2)`` (so the tissue under every point of the
surface gets what the axis of a fractional column gets), with the same Beer-Lambert
attenuation per layer and the same pulse shape::

    q(d, t) = F s(t) * mu(d) * exp(-tau(d))                (no lateral dependence),

which is ``P(t) * (F / E) * mu exp(-tau)`` in the per-watt form above. An infinite uniform
field neither spreads nor loses anything through the (insulated, symmetry-plane) sides, so
the beam broadening does not enter and the block absorbs exactly
``F A (1 - exp(-tau(D)))``, ``A`` the block area. :attr:`BeamSource.delivered_energy` is the
energy delivered to the block, ``F A`` (``E`` times the number of columns for the
fractional layouts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fem.config.sections import GAUSSIAN_WINDOW, Crater, Laser, Layer
from meshes.patterns import Layout


def cumulative_pulse(laser: Laser, t: float) -> float:
    """Fraction of the pulse energy delivered by time ``t`` (pulse fired at t = 0)."""
    tau = laser.pulse
    if laser.pulse_shape == "square":
        return min(max(t / tau, 0.0), 1.0)
    # Gaussian of FWHM tau centred at 1.5 tau, renormalised on the window [0, 3 tau].
    sigma = tau / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    tc = 0.5 * GAUSSIAN_WINDOW * tau
    t = min(max(t, 0.0), GAUSSIAN_WINDOW * tau)

    def phi(s: float) -> float:
        return 0.5 * (1.0 + math.erf((s - tc) / (math.sqrt(2.0) * sigma)))

    return (phi(t) - phi(0.0)) / (phi(GAUSSIAN_WINDOW * tau) - phi(0.0))


def mean_power(laser: Laser, t0: float, t1: float) -> float:
    """Exact mean laser power of one column fired at t = 0 over ``[t0, t1]``, W."""
    return laser.energy * (cumulative_pulse(laser, t1) - cumulative_pulse(laser, t0)) / (t1 - t0)


@dataclass(frozen=True)
class FiringGroup:
    """Columns whose pulses start together (``pattern.fire_times``), by index in the layout."""

    start: float  # s
    columns: tuple[int, ...]


def firing_groups(fire_times: tuple[float, ...]) -> list[FiringGroup]:
    """The columns grouped by firing time, in time order: one group when all fire together,
    one per column for a sequential scan."""
    groups: dict[float, list[int]] = {}
    for i, t in enumerate(fire_times):
        groups.setdefault(t, []).append(i)
    return [FiringGroup(t, tuple(cols)) for t, cols in sorted(groups.items())]


def pulse_windows(groups: list[FiringGroup], duration: float) -> list[tuple[float, float]]:
    """The time intervals during which some pulse is on, merged where they overlap, s."""
    out: list[tuple[float, float]] = []
    for g in groups:
        a, b = g.start, g.start + duration
        if out and a <= out[-1][1] * (1 + 1e-12):
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def attenuation(laser: Laser, layer: Layer) -> float:
    """Attenuation of the collimated beam in a layer, mu_a + mu_s', 1/m (mu_a from the water:
    ``water_fraction * water_absorption``).

    Light scattered out of the beam is taken as absorbed close to it (a modelling choice,
    good where mu_s' is of the order of mu_a or above, within a few per cent of the
    diffusion-theory sqrt(3 mu_a (mu_a + mu_s')) at 1550 nm); the lateral spread of the
    scattered light is carried by the beam broadening (``divergence_deg``). The energy
    deposited is exactly the energy removed from the beam.
    """
    return layer.water_fraction * laser.water_absorption + laser.reduced_scattering


class BeamSource:
    """The laser source of a treatment: one Gaussian beam per column of ``layout``, each fired
    at its time of ``fire_times``, attenuated through ``layers``; what falls in a column's
    ``crater`` is blown off. A full-field layout (``layout.full_field``) is lit instead by one
    flat top of the Gaussian's peak fluence over the whole block (no crater).

    Args:
        laser: the beam and its pulse.
        layers: the skin layers, top to bottom.
        layout: the domain and the column axes.
        crater: the crater cut at each column (``shape == "none"``: none).
        fire_times: when each column's pulse starts, s.
    """

    def __init__(self, laser: Laser, layers: tuple[Layer, ...], layout: Layout, crater: Crater,
                 fire_times: tuple[float, ...]):
        self.laser, self.layers, self.layout, self.crater = laser, layers, layout, crater
        self.groups = firing_groups(fire_times)
        self.duration = laser.duration  # how long one pulse delivers energy, s
        self.windows = pulse_windows(self.groups, self.duration)
        self.depth = sum(layer.thickness for layer in layers)
        self.flat_top = layout.full_field

    # -- energy ------------------------------------------------------------------------

    @property
    def peak_fluence_per_joule(self) -> float:
        """Peak fluence of the Gaussian beam per joule of pulse energy, ``2 / (pi w0^2)``,
        1/m^2 (the fluence of the full-field flat top per joule)."""
        return 2.0 / (math.pi * self.laser.w0**2)

    @property
    def fluence(self) -> float:
        """Peak fluence of one pulse, ``2 E / (pi w0^2)``, J/m^2 (the flat top's fluence)."""
        return self.laser.energy * self.peak_fluence_per_joule

    @property
    def delivered_energy(self) -> float:
        """Laser energy delivered to the whole unit, J: ``E`` times the number of columns (a
        quarter column counts as the whole column it is a quarter of), or for a full field
        the flat top's fluence times the block area."""
        lay = self.layout
        if self.flat_top:
            return self.fluence * lay.area * lay.symmetry_factor
        return self.laser.energy * lay.count

    # -- time --------------------------------------------------------------------------

    @property
    def end_of_pulses(self) -> float:
        """When the last pulse ends, s."""
        return self.windows[-1][1]

    def mean_powers(self, t0: float, t1: float) -> np.ndarray:
        """Exact mean power over ``[t0, t1]`` of one column of each firing group, W."""
        return np.array([mean_power(self.laser, t0 - g.start, t1 - g.start)
                         for g in self.groups])

    # -- space -------------------------------------------------------------------------

    def attenuation(self, layer: Layer) -> float:
        """Attenuation of the beam in a layer, 1/m (:func:`attenuation`)."""
        return attenuation(self.laser, layer)

    def beam_radius(self, d: np.ndarray | float) -> np.ndarray:
        """1/e^2 beam radius at depth ``d`` (m)."""
        lz = self.laser
        return np.sqrt(lz.w0**2 + (math.tan(lz.divergence) * (np.asarray(d) - lz.focal_depth))
                       ** 2)

    def layer_optics(self) -> list[tuple[float, float, float]]:
        """Per layer: (top depth, attenuation 1/m, optical depth at the top of the layer)."""
        out, tau, d = [], 0.0, 0.0
        for layer in self.layers:
            mu = self.attenuation(layer)
            out.append((d, mu, tau))
            tau += mu * layer.thickness
            d += layer.thickness
        return out

    def lateral_cutoff(self) -> float:
        """Radius beyond which a beam deposits nothing that matters: 5 1/e^2 radii at the
        deepest point (the Gaussian has fallen by exp(-50) there)."""
        return 5.0 * float(np.max(self.beam_radius(np.array([0.0, self.depth]))))

    def density(self, layer_index: int, x: np.ndarray,
                columns: tuple[int, ...] | None = None) -> np.ndarray:
        """``q / P`` (1/m^3) at points ``x`` (shape ``(3, n)``) of one layer, summed over the
        columns of the layout (or the given ``columns``), each fired with power ``P``.

        Only the points within :meth:`lateral_cutoff` of a column axis are evaluated for it
        (the points sorted by x, a window per column), so the cost grows with the number of
        columns times the points near one column, not with their product. A full field is
        the flat top ``(F / E) mu exp(-tau(d))`` everywhere.
        """
        d_top, mu, tau_top = self.layer_optics()[layer_index]
        d = -x[2]
        if self.flat_top:
            return self.peak_fluence_per_joule * mu * np.exp(-(tau_top + mu * (d - d_top)))
        w2 = self.beam_radius(d) ** 2
        axial = mu * np.exp(-(tau_top + mu * (d - d_top))) * 2.0 / (math.pi * w2)
        q = np.zeros(x.shape[1])
        cut = self.lateral_cutoff()
        order = np.argsort(x[0])
        xs = x[0][order]
        centres = self.layout.centres
        for cx, cy in (centres if columns is None else [centres[i] for i in columns]):
            lo, hi = np.searchsorted(xs, [cx - cut, cx + cut])
            idx = order[lo:hi]
            idx = idx[np.abs(x[1][idx] - cy) < cut]
            r2 = (x[0][idx] - cx) ** 2 + (x[1][idx] - cy) ** 2
            q[idx] += axial[idx] * np.exp(-2.0 * r2 / w2[idx])
        return q

    def expected_absorbed_fraction(self, n: int = 400) -> float:
        """Exact energy absorbed in the domain per unit pulse energy of one column, summed over
        the columns (bottom and side losses out, and what falls in the crater of an ablative
        column: the blow-off energy).

        ``sum_c int_0^D mu exp(-tau) F_c(d) dd`` with ``F_c`` the share of the Gaussian of
        column ``c`` inside the domain rectangle (a product of erf differences),
        Gauss-Legendre per layer. A full field absorbs ``(F / E) A (1 - exp(-tau(D)))``
        (block area ``A``; nothing leaves through the sides): more than 1 when the block is
        larger than the beam's ``pi w0^2 / 2``.
        """
        if self.flat_top:
            d_top, mu, tau_top = self.layer_optics()[-1]
            tau_bottom = tau_top + mu * self.layers[-1].thickness
            return self.peak_fluence_per_joule * self.layout.area * -math.expm1(-tau_bottom)
        x0, x1, y0, y1 = self.layout.extent
        total = 0.0
        xg, wg = np.polynomial.legendre.leggauss(n)
        erf = np.vectorize(math.erf)

        def inside(a, b, c, w):
            return 0.5 * (erf(math.sqrt(2.0) * (b - c) / w) - erf(math.sqrt(2.0) * (a - c) / w))

        def crater_share(c, lo, hi):  # half a crater on a symmetry plane through its axis
            return 0.5 if min(abs(c - lo), abs(c - hi)) < 1e-12 else 1.0

        for (d_top, mu, tau_top), layer in zip(self.layer_optics(), self.layers):
            d = d_top + 0.5 * layer.thickness * (xg + 1.0)
            w = self.beam_radius(d)
            # The Gaussian inside the crater (radius r_c(d) about the axis) is blown off.
            in_crater = 1.0 - np.exp(-2.0 * self.crater.radius_at_depth(d) ** 2 / w**2)
            lateral = sum(inside(x0, x1, cx, w) * inside(y0, y1, cy, w)
                          - crater_share(cx, x0, x1) * crater_share(cy, y0, y1) * in_crater
                          for cx, cy in self.layout.centres)
            f = mu * np.exp(-(tau_top + mu * (d - d_top))) * lateral
            total += 0.5 * layer.thickness * float(np.dot(wg, f))
        return total

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
and firing group (:meth:`BeamSource.densities`: the firing groups at the same points).

Surface: a share ``R = ((n - 1) / (n + 1))^2`` of the beam is reflected at the skin
(Fresnel at normal incidence, ``laser.refractive_index``); ``(1 - R) P`` enters.

Light models (``laser.light``): ``beer_lambert`` is the Gaussian beam above;
``monte_carlo`` replaces ``mu exp(-tau) G`` by the absorbed power of one beam computed by
photon transport in the layers (:mod:`fem.physics.photon`, mapped onto the mesh by
:class:`fem.physics.beam_map.ScatteredBeam`), the same map for every column; the Fresnel
reflection is then part of the transport.

Steady-state crater (``crater.shape = "steady_state"``, :mod:`fem.config.crater`): inside
the crater mouth the heat the wall holds, ``W(r)`` per area of the wall's horizontal
projection, enters through the wall as the flux ``E s(t) W(r) |n_z| / E``
(:meth:`BeamSource.wall_flux`; the absorption depth, 13-18 um at 10.6 um, is below the
element size, and a flux is exact for energy on any wall slope); outside the mouth the beam
is the Gaussian above. The rest of the fluence that entered the mouth left with the ablation
(``ablation_fraction`` of :meth:`BeamSource.ledger`).

Energy ledger (:meth:`BeamSource.ledger`): fractions of the delivered energy that are
reflected at the surface (``specular``), leave it as diffuse light (``diffuse``, Monte Carlo
only), are absorbed in the block (``absorbed``), leave through its bottom
(``transmitted``), through its sides (``side_loss``), or with the ablated tissue
(``ablation``); they add up to one.

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
from scipy.special import erf

from fem.config.sections import GAUSSIAN_WINDOW, Crater, Laser, Layer
from fem.physics.beam_map import column_share
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


@dataclass(frozen=True)
class LightLedger:
    """Where the delivered laser energy goes, fractions of it (they add up to one)."""

    specular: float
    diffuse: float
    absorbed: float
    transmitted: float
    side_loss: float
    ablation: float = 0.0

    @property
    def error(self) -> float:
        """How far the fractions are from adding up to one."""
        return abs(self.specular + self.diffuse + self.absorbed + self.transmitted
                   + self.side_loss + self.ablation - 1.0)

    def metrics(self) -> dict[str, float]:
        """The ledger's entries of ``metrics.json``."""
        return {"specular_reflectance": self.specular, "diffuse_reflectance": self.diffuse,
                "absorbed_fraction": self.absorbed, "transmitted_fraction": self.transmitted,
                "side_loss_fraction": self.side_loss, "ablation_fraction": self.ablation,
                "light_ledger_error": self.error}


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
                 fire_times: tuple[float, ...], scattered=None):
        self.laser, self.layers, self.layout, self.crater = laser, layers, layout, crater
        self.groups = firing_groups(fire_times)
        self.duration = laser.duration  # how long one pulse delivers energy, s
        self.windows = pulse_windows(self.groups, self.duration)
        self.depth = sum(layer.thickness for layer in layers)
        self.flat_top = layout.full_field
        # the Monte Carlo map (fem.physics.beam_map.ScatteredBeam), or None: Beer-Lambert
        self.scattered = scattered
        self.steady = crater.shape == "steady_state"
        self.entering = 1.0 - laser.specular  # share of the beam that enters the skin

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

    def optical_depth(self, d: np.ndarray) -> np.ndarray:
        """``tau(d)`` of the collimated beam at depths ``d`` (m)."""
        d = np.asarray(d, dtype=float)
        tau = np.zeros(d.shape)
        for (d_top, mu, _), layer in zip(self.layer_optics(), self.layers):
            tau += mu * np.clip(d - d_top, 0.0, layer.thickness)
        return tau

    def _wall(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Crater depth ``d_c(r)`` and the fluence of the wall per joule of pulse energy
        ``W(r) / E`` at radii inside the mouth of a steady-state crater."""
        radii = np.array([p[0] for p in self.crater.profile])
        depth = np.array([p[1] for p in self.crater.profile])
        wall = np.array(self.crater.wall_fluence) / self.laser.energy
        return np.interp(r, radii, depth), np.interp(r, radii, wall)

    @property
    def mouth(self) -> float:
        """Mouth radius of a steady-state crater (0 without one), m."""
        return self.crater.profile[-1][0] if self.steady else 0.0

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
        centres = self.layout.centres
        centres = centres if columns is None else [centres[i] for i in columns]
        if self.scattered is not None:
            return self.scattered.density(layer_index, x, centres, self.flat_top)
        d_top, mu, tau_top = self.layer_optics()[layer_index]
        d = -x[2]
        if self.flat_top:
            return self.entering * self.peak_fluence_per_joule * mu * np.exp(
                -(tau_top + mu * (d - d_top)))
        w2 = self.beam_radius(d) ** 2
        axial = self.entering * mu * np.exp(-(tau_top + mu * (d - d_top))) * 2.0 / (math.pi * w2)
        q = np.zeros(x.shape[1])
        cut = self.lateral_cutoff()
        order = np.argsort(x[0])
        xs = x[0][order]
        for cx, cy in centres:
            lo, hi = np.searchsorted(xs, [cx - cut, cx + cut])
            idx = order[lo:hi]
            idx = idx[np.abs(x[1][idx] - cy) < cut]
            r2 = (x[0][idx] - cx) ** 2 + (x[1][idx] - cy) ** 2
            contribution = axial[idx] * np.exp(-2.0 * r2 / w2[idx])
            if self.steady:  # inside the mouth the heat enters through the wall instead
                contribution[r2 < self.mouth**2] = 0.0
            q[idx] += contribution
        return q

    def densities(self, layer_index: int, x: np.ndarray,
                  column_sets: list[tuple[int, ...]]) -> list[np.ndarray]:
        """:meth:`density` of each set of columns (the firing groups) at the same points, each
        equal to it; the Monte Carlo map shares the work that depends on the points alone
        (:meth:`fem.physics.beam_map.ScatteredBeam.densities`)."""
        if self.scattered is None:
            return [self.density(layer_index, x, cols) for cols in column_sets]
        centres = self.layout.centres
        return self.scattered.densities(layer_index, x, [[centres[i] for i in cols]
                                                         for cols in column_sets],
                                        self.flat_top)

    def wall_flux(self, x: np.ndarray, columns: tuple[int, ...] | None = None) -> np.ndarray:
        """The heat a steady-state crater wall holds per joule of pulse energy and per area
        of its horizontal projection, ``W(r) / E`` (1/m^2), at points ``x`` (shape
        ``(3, n)``), summed over the columns (0 outside every mouth). Through a wall facet of
        normal ``n`` it enters as the flux ``P(t) W(r) |n_z| / E``, so that each ring of the
        wall passes on the heat ``W(r) 2 pi r dr`` whatever its slope."""
        centres = self.layout.centres
        out = np.zeros(x.shape[1])
        for cx, cy in (centres if columns is None else [centres[i] for i in columns]):
            r = np.hypot(x[0] - cx, x[1] - cy)
            inside = r <= self.mouth * (1.0 + 1e-6)  # the rim of the mouth holds F_th
            out[inside] += self._wall(r[inside])[1]
        return out

    def expected_absorbed_fraction(self) -> float:
        """Exact energy absorbed in the domain per unit pulse energy of one column, summed over
        the columns (:meth:`ledger`'s ``absorbed`` before the sharing out over the delivered
        energy)."""
        return self._budget()["absorbed"]

    def _budget(self, n: int = 400) -> dict[str, float]:
        """Absorbed, transmitted and side-lost energy per unit pulse energy of one column,
        summed over the columns of the domain (the share of each that belongs to it).

        Beer-Lambert: ``sum_c int_0^D mu exp(-tau) F_c(d) dd`` with ``F_c`` the share of the
        Gaussian of column ``c`` inside the domain rectangle (a product of erf differences),
        Gauss-Legendre per layer; what the Gaussian carries outside the rectangle is the side
        loss, what crosses the bottom inside it is transmitted. A blow-off crater removes the
        Gaussian inside the crater at each depth; a steady-state crater replaces the Gaussian
        inside its mouth by the wall's heat (radial Gauss-Legendre between profile radii). A
        full field absorbs ``(F / E) A (1 - exp(-tau(D)))`` (block area ``A``; nothing leaves
        through the sides): more than 1 when the block is larger than ``pi w0^2 / 2``.
        The Monte Carlo map: :meth:`fem.physics.beam_map.ScatteredBeam.budget`.
        """
        if self.scattered is not None:
            return self.scattered.budget(self.layout, self.flat_top)
        tau_bottom = float(self.optical_depth(self.depth))
        if self.flat_top:
            per_area = self.entering * self.peak_fluence_per_joule * self.layout.area
            return {"absorbed": per_area * -math.expm1(-tau_bottom),
                    "transmitted": per_area * math.exp(-tau_bottom), "side_loss": 0.0}
        absorbed, transmitted = self._gaussian_in_domain(cut=True, n=n)
        shares = column_share(self.layout)
        if self.steady:  # the wall's heat inside the mouth
            absorbed += sum(shares) * self._wall_heat() / self.entering
        e = self.entering
        # without a crater, light that is neither absorbed nor transmitted inside the domain
        # left through its sides; a crater's side loss is computed from the whole beam (ledger)
        side = None if self.crater.profile else sum(shares) - absorbed - transmitted
        return {"absorbed": e * absorbed, "transmitted": e * transmitted,
                "side_loss": None if side is None else e * side}

    def _gaussian_in_domain(self, cut: bool, n: int = 400) -> tuple[float, float]:
        """Energy of the Gaussian beams (per joule entering, summed over the columns) absorbed
        inside the domain rectangle and crossing its bottom inside it: ``int_0^D mu exp(-tau)
        F(d) dd`` and ``exp(-tau(D)) F(D)``, ``F`` the share of the beams inside the rectangle
        (a product of erf differences), Gauss-Legendre per layer. ``cut``: less the crater
        (inside a blow-off crater at each depth, inside a steady-state mouth at all depths)."""
        x0, x1, y0, y1 = self.layout.extent
        xg, wg = np.polynomial.legendre.leggauss(n)
        shares = column_share(self.layout)

        def inside(a, b, c, w):
            return 0.5 * (erf(math.sqrt(2.0) * (b - c) / w) - erf(math.sqrt(2.0) * (a - c) / w))

        def lateral(d):
            w = self.beam_radius(d)
            radius = (np.full_like(d, self.mouth) if self.steady
                      else self.crater.radius_at_depth(d)) if cut else np.zeros_like(d)
            removed = 1.0 - np.exp(-2.0 * radius**2 / w**2)
            return sum(inside(x0, x1, cx, w) * inside(y0, y1, cy, w) - s * removed
                       for (cx, cy), s in zip(self.layout.centres, shares))

        absorbed = 0.0
        for (d_top, mu, tau_top), layer in zip(self.layer_optics(), self.layers):
            d = d_top + 0.5 * layer.thickness * (xg + 1.0)
            f = mu * np.exp(-(tau_top + mu * (d - d_top))) * lateral(d)
            absorbed += 0.5 * layer.thickness * float(np.dot(wg, f))
        tau_bottom = float(self.optical_depth(self.depth))
        transmitted = math.exp(-tau_bottom) * float(lateral(np.array([self.depth]))[0])
        return absorbed, transmitted

    def _wall_heat(self, n: int = 24) -> float:
        """The heat the wall of a steady-state crater passes to the tissue, per joule of pulse
        energy (per whole column): ``int W(r) / E 2 pi r dr`` over the mouth (Gauss-Legendre
        between profile radii, exact for the piecewise-linear ``W``)."""
        radii = [p[0] for p in self.crater.profile]
        xg, wg = np.polynomial.legendre.leggauss(n)
        heat = 0.0
        for r0, r1 in zip(radii, radii[1:]):
            r = r0 + 0.5 * (r1 - r0) * (xg + 1.0)
            heat += float(np.dot(2.0 * math.pi * r * 0.5 * (r1 - r0) * wg, self._wall(r)[1]))
        return heat

    def ledger(self) -> LightLedger:
        """Where the delivered energy goes (:class:`LightLedger`), exactly: the Beer-Lambert
        integrals of :meth:`_budget` or the photon tallies of the Monte Carlo map."""
        lay = self.layout
        per_delivered = (self.laser.energy * lay.symmetry_factor / self.delivered_energy)
        b = self._budget()
        absorbed = per_delivered * b["absorbed"]
        transmitted = per_delivered * b["transmitted"]
        if self.scattered is not None:
            return LightLedger(self.scattered.specular, self.scattered.diffuse, absorbed,
                               transmitted, per_delivered * b["side_loss"])
        spec = self.laser.specular
        if self.flat_top:
            return LightLedger(spec, 0.0, absorbed, transmitted, 0.0)
        if b["side_loss"] is None:  # a crater: the side loss of the whole Gaussian, the rest
            # left with the ablation
            side = per_delivered * self.entering * self._gaussian_side_loss()
            ablation = 1.0 - spec - absorbed - transmitted - side
            return LightLedger(spec, 0.0, absorbed, transmitted, side, ablation)
        return LightLedger(spec, 0.0, absorbed, transmitted, per_delivered * b["side_loss"])

    def _gaussian_side_loss(self) -> float:
        """What the uncut Gaussian beams carry outside the domain per joule, per column."""
        return sum(column_share(self.layout)) - sum(self._gaussian_in_domain(cut=False))

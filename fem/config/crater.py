"""The ablation crater: the channel a strongly absorbed pulse removes, and its profile.

The crater is a derived value of the case, computed once when the case is read (before any
mesh exists: the mesh is cut around it), from the pulse and the layers. Tissue is removed by
vaporisation; the heat of ablation ``h_abl`` is the energy that heats its water to 100 C and
vaporises it (and heats the rest of the tissue), per layer::

    h_abl = w rho_w (c_w (100 C - T0) + L_v) + (1 - w) rho c (100 C - T0)

with water fraction ``w``, latent heat of water ``L_v = 2.257e6 J/kg``. The threshold fluence
of the surface layer is ``F_th = h_abl / mu_a`` (``laser.ablation_threshold_J_per_cm2``
overrides it). Two regimes, chosen by the pulse length against the thermal relaxation time
of the absorption depth ``delta = 1 / mu_a`` of the most absorbing layer,
``tau_r = delta^2 / (4 kappa)`` (:func:`relaxation_time`):

**Blow-off** (pulse shorter than ``tau_r``: the heat stays where the light put it). Tissue is
removed where the deposited energy density exceeds ``h_abl``: with Beer-Lambert deposition
``mu F(r) exp(-tau(d))`` the crater wall is where the remaining fluence has fallen to
``F_th``::

    tau(d_c(r)) = ln(F(r) / F_th),    F(r) = 2 E / (pi w_s^2) exp(-2 r^2 / w_s^2),

``w_s`` the 1/e^2 beam radius at the surface and ``tau`` the optical depth of
:meth:`fem.physics.source.BeamSource.layer_optics`. In one homogeneous layer the crater is a
paraboloid of depth ``ln(F0/F_th)/mu``. The laser source is left unchanged: cutting the crater
out of the mesh removes exactly the energy deposited in the blown-off tissue, and the wall
receives the residual (threshold) fluence.

**Steady state** (millisecond pulses, longer than ``tau_r``: the channel grows during the
pulse). Once the first ``F_th`` has brought the surface to ablation, the front at each radius
``r`` advances as the fluence reaching it is spent on the heat of ablation of the layer it is
in (:func:`steady_state_depths`)::

    h_abl(d) dd = eta F_1(r, d) de / (1 + d / (A w(d))),

with ``de`` the pulse energy delivered, ``F_1(r, d) = 2 / (pi w(d)^2) exp(-2 r^2 / w(d)^2)``
the fluence per joule of the beam at the depth of the front (the beam widens with
``laser.divergence_deg``: for a CO2 beam its diffraction, ``lambda / (pi w0)``), ``eta`` the
ablation efficiency (``laser.ablation_efficiency``: the share of the fluence reaching the
front that vaporises tissue) and ``A`` the channel aspect ratio (depth over beam radius) at
which the vapour plume confined in the channel halves the drilling rate
(``laser.shielding_aspect``; a phenomenological closure of the fall of the drilling rate with
depth seen in laser drilling). For a top-hat fluence ``F`` on a uniform absorber without
shielding the depth is the one-dimensional ``eta (F - F_th) / h_abl``. The energy the front
receives that does not vaporise tissue leaves with the plume, except the share
``chi = laser.wall_heat_fraction`` that the wall keeps as heat; the wall at radius ``r``
holds::

    W(r) = F_th + (chi / eta) int_0^{d_c(r)} h_abl(s) ds      (J/m^2),

deposited below the wall by the attenuated beam (fem.physics.source); the coagulation around
and below the channel comes from it.

Any crater (blow-off, steady state, cone, paraboloid) is described by its profile: depths
``d_k`` at radii ``r_k`` from the axis (``r_0 = 0``, ``d`` decreasing to 0 at the mouth),
revolved about the column axis by the mesher; :func:`radius_at_depth` inverts it.
"""

from __future__ import annotations

import math

import numpy as np

from fem.config.presets import BOILING_C, LATENT_HEAT_WATER, WATER_DENSITY, WATER_SPECIFIC_HEAT

PROFILE_POINTS = 13  # nodes of a curved crater profile (12 chords)
RIM_DEPTH, RIM_DEPTH_MIN = 0.02, 3e-6  # where a steady-state profile meets its last chord
INTERFACE_GAP = 5e-6  # m: no steady-state profile vertex closer to a layer interface


def heat_of_ablation(water_fraction: float, rho: float, c: float, T0_C: float = 37.0) -> float:
    """``h_abl`` of a tissue, J/m^3: its water heated to 100 C and vaporised, the rest heated."""
    dT = BOILING_C - T0_C
    w = water_fraction
    return (w * WATER_DENSITY * (WATER_SPECIFIC_HEAT * dT + LATENT_HEAT_WATER)
            + (1.0 - w) * rho * c * dT)


def depth_of_optical_depth(thicknesses, attenuations, tau: np.ndarray) -> np.ndarray:
    """Depth (m) at which the optical depth of a layer stack reaches ``tau``."""
    tau = np.asarray(tau, dtype=float)
    total = float(sum(thicknesses))
    d = np.full(tau.shape, total)
    found = np.zeros(tau.shape, dtype=bool)
    d_top = tau_top = 0.0
    for t, mu in zip(thicknesses, attenuations):
        inside = ~found & (tau < tau_top + mu * t)
        d[inside] = d_top + (tau[inside] - tau_top) / mu
        found |= inside
        d_top, tau_top = d_top + t, tau_top + mu * t
    return d


def blowoff_profile(thicknesses, attenuations, threshold: float, energy: float,
                    surface_radius: float) -> tuple[tuple[float, float], ...]:
    """The blow-off crater profile ``((r_k, d_k), ...)`` (m), or ``()`` below threshold.

    Args:
        thicknesses, attenuations: the layer stack (m, 1/m), top first.
        threshold: blow-off threshold fluence ``F_th`` (J/m^2).
        energy: pulse energy (J).
        surface_radius: 1/e^2 beam radius at the surface (m).
    """
    ws = surface_radius
    ratio = 2.0 * energy / (math.pi * ws**2) / threshold
    if ratio <= 1.0:
        return ()
    mouth = ws * math.sqrt(0.5 * math.log(ratio))
    r = np.linspace(0.0, mouth, PROFILE_POINTS)
    tau = np.maximum(math.log(ratio) - 2.0 * r**2 / ws**2, 0.0)
    d = depth_of_optical_depth(thicknesses, attenuations, tau)
    d[-1] = 0.0
    return tuple((float(a), float(b)) for a, b in zip(r, d))


def relaxation_time(mu_a: float, k: float, rho: float, c: float) -> float:
    """Thermal relaxation time of the absorption depth ``1 / mu_a``, ``delta^2 / (4 kappa)``, s."""
    return (1.0 / mu_a) ** 2 / (4.0 * k / (rho * c))


def _by_depth(thicknesses, values, d: np.ndarray) -> np.ndarray:
    """The layer value at depths ``d`` (the last layer below the stack)."""
    edges = np.cumsum(thicknesses)[:-1]
    return np.asarray(values, dtype=float)[np.searchsorted(edges, d, side="right")]


def cumulative_heat(thicknesses, heats, d: np.ndarray) -> np.ndarray:
    """``int_0^d h_abl(s) ds`` (J/m^2) through the layers."""
    d = np.asarray(d, dtype=float)
    out = np.zeros(d.shape)
    top = 0.0
    for t, h in zip(thicknesses, heats):
        out += h * np.clip(d - top, 0.0, t)
        top += t
    return out


def steady_state_depths(radii: np.ndarray, energy: float, fluence_per_joule, threshold: float,
                        thicknesses, heats, efficiency: float, aspect: float | None,
                        beam_radius, points: int = 4000) -> np.ndarray:
    """Final depth (m) of the steady-state ablation front at each radius.

    Args:
        radii: radii from the beam axis, m.
        energy: pulse energy, J.
        fluence_per_joule: ``F_1(r, d)``, fluence per joule at radius r and depth d, 1/m^2.
        threshold: ``F_th``, J/m^2 (spent before the front moves).
        thicknesses, heats: the layer stack (m) and the heat of ablation of each (J/m^3).
        efficiency: ``eta``. aspect: ``A`` (None: no shielding).
        beam_radius: ``w(d)``, m.
        points: depth samples of the stack.

    The front at each radius starts when the energy delivered reaches ``F_th / F_1(r, 0)``
    and spends the rest, ``E - F_th / F_1(r, 0)``. Its speed per joule depends on its depth
    only, so the energy it needs to reach depth ``D`` is a quadrature,
    ``e(D) = int_0^D h_abl (1 + s / (A w)) / (eta F_1(r, s)) ds`` (trapezoids on a depth grid
    with each layer interface doubled, exact for a top hat), and the final depth is where
    ``e`` reaches the energy left (the bottom of the stack if it never does).
    """
    radii = np.asarray(radii, dtype=float)
    left = np.maximum(energy - threshold / fluence_per_joule(radii, 0.0), 0.0)
    edges = np.cumsum(thicknesses)
    total = float(edges[-1])
    d = np.sort(np.concatenate([np.linspace(0.0, total, points), edges[:-1], edges[:-1]]))
    h = np.asarray(heats, dtype=float)[np.minimum(np.searchsorted(edges, d, side="right"),
                                                  len(heats) - 1)]
    # the doubled interface points: the first belongs to the layer above
    first = np.concatenate([[False], (d[1:] == d[:-1])])
    second = np.roll(first, -1)
    h[second] = np.asarray(heats)[np.searchsorted(edges, d[second], side="left")]
    shield = 1.0 if aspect is None else 1.0 + d / (aspect * beam_radius(d))
    cost = h * shield / (efficiency * fluence_per_joule(radii[:, None], d[None, :]))
    spent = np.concatenate([np.zeros((len(radii), 1)), np.cumsum(
        0.5 * (cost[:, 1:] + cost[:, :-1]) * np.diff(d), axis=1)], axis=1)
    out = np.empty(len(radii))
    for i, (e, row) in enumerate(zip(left, spent)):
        out[i] = total if e >= row[-1] else float(np.interp(e, row, d))
    return np.where(left > 0.0, out, 0.0)


def steady_state_profile(thicknesses, heats, threshold: float, energy: float, w0: float,
                         divergence: float, focal_depth: float, efficiency: float,
                         aspect: float | None, wall_heat_fraction: float):
    """The steady-state crater of a Gaussian beam: its profile ``((r_k, d_k), ...)`` (m) and
    the heat its wall holds at each profile radius, ``W(r_k)`` (J/m^2); ``((), ())`` below
    threshold.

    Args:
        thicknesses, heats: the layer stack (m) and the heat of ablation of each (J/m^3).
        threshold: ``F_th`` (J/m^2). energy: pulse energy (J).
        w0, divergence, focal_depth: the beam's 1/e^2 waist radius (m), half-angle (rad) and
            focus depth (m).
        efficiency, aspect, wall_heat_fraction: ``eta``, ``A`` (None: no shielding), ``chi``.
    """
    tan = math.tan(divergence)

    def beam_radius(d):
        return np.sqrt(w0**2 + (tan * (np.asarray(d) - focal_depth)) ** 2)

    def fluence_per_joule(r, d):
        w2 = beam_radius(d) ** 2
        return 2.0 / (math.pi * w2) * np.exp(-2.0 * np.asarray(r) ** 2 / w2)

    ws = float(beam_radius(0.0))
    ratio = energy * float(fluence_per_joule(0.0, 0.0)) / threshold
    if ratio <= 1.0:
        return (), ()
    mouth = ws * math.sqrt(0.5 * math.log(ratio))
    fine = np.linspace(0.0, mouth, 8 * PROFILE_POINTS)[:-1]  # F_1 > F_th / E inside
    d_fine = steady_state_depths(fine, energy, fluence_per_joule, threshold, thicknesses,
                                 heats, efficiency, aspect, beam_radius)
    # The rim of a Gaussian crater is a long shallow dish: the profile stops where the depth
    # falls to RIM_DEPTH (of the depth, at least RIM_DEPTH_MIN) and its last chord is
    # extended to the surface (no facet of the wall thinner than a few um, see meshes.skin)
    rim = max(RIM_DEPTH * d_fine[0], RIM_DEPTH_MIN)
    if d_fine[0] <= 2.0 * rim:
        return (), ()
    r_rim = float(np.interp(-rim, -d_fine, fine))
    r = np.linspace(0.0, r_rim, PROFILE_POINTS - 1)
    d = np.interp(r, fine, d_fine)
    r_mouth = r[-1] + (r[-1] - r[-2]) / (d[-2] - d[-1]) * d[-1]
    r, d = np.append(r, r_mouth), np.append(d, 0.0)
    # a vertex a few um from a layer interface makes sliver faces in the mesh: drop it
    gap = np.min(np.abs(d[:, None] - np.cumsum(thicknesses)[None, :-1]), axis=1)
    keep = (gap >= INTERFACE_GAP) | (np.arange(len(d)) == 0) | (np.arange(len(d)) == len(d) - 1)
    r, d = r[keep], d[keep]
    d[1] = d[0]  # a flat floor out to the first radius: gmsh fails, now and then, on the apex
    wall = threshold + wall_heat_fraction / efficiency * cumulative_heat(thicknesses, heats, d)
    return (tuple((float(a), float(b)) for a, b in zip(r, d)),
            tuple(float(x) for x in wall))


def shape_profile(shape: str, depth: float, radius: float) -> tuple[tuple[float, float], ...]:
    """Profile of a cone or a paraboloid crater of given depth and mouth radius (m).

    The paraboloid ``d = depth (1 - r^2/R^2)`` is sampled at :data:`PROFILE_POINTS` radii; its
    chords lose ``1 / (3 n^2)`` of the volume (0.2 % for 12 chords).
    """
    if shape == "cone":
        return ((0.0, depth), (radius, 0.0))
    r = np.linspace(0.0, radius, PROFILE_POINTS)
    return tuple((float(a), float(depth * (1.0 - (a / radius) ** 2))) for a in r)


def profile_volume(profile) -> float:
    """Volume (m^3) of the solid of revolution under a piecewise-linear profile (exact)."""
    v = 0.0
    for (r0, d0), (r1, d1) in zip(profile, profile[1:]):
        # frustum-like shell: int_{r0}^{r1} 2 pi r d(r) dr with d linear in r
        a = (d1 - d0) / (r1 - r0)
        b = d0 - a * r0
        v += 2.0 * math.pi * (a * (r1**3 - r0**3) / 3.0 + b * (r1**2 - r0**2) / 2.0)
    return v


def radius_at_depth(profile, d: np.ndarray) -> np.ndarray:
    """Crater radius (m) at depths ``d`` (0 below the crater), from the profile."""
    if not profile:
        return np.zeros_like(np.asarray(d, dtype=float))
    r = np.array([p[0] for p in profile])
    depth = np.array([p[1] for p in profile])
    # depth decreases with r: interpolate r as a function of depth (increasing order)
    return np.where(np.asarray(d) < depth[0], np.interp(d, depth[::-1], r[::-1]), 0.0)


def depth_at_radius(profile, r: np.ndarray) -> np.ndarray:
    """Crater depth at distances ``r`` from the axis (0 outside the mouth), in the unit of
    the profile ``((r_k, d_k), ...)``."""
    r = np.asarray(r, dtype=float)
    if not profile:
        return np.zeros_like(r)
    radii = np.array([p[0] for p in profile])
    depth = np.array([p[1] for p in profile])
    return np.where(r < radii[-1], np.interp(r, radii, depth), 0.0)


def resample_crater(crater, points: int):
    """The same crater (a :class:`fem.config.sections.Crater`) with its profile (and wall
    fluences) resampled at ``points`` equally spaced radii along the same polyline."""
    import dataclasses

    prof = np.array(crater.profile)
    r = np.linspace(0.0, prof[-1, 0], points)
    d = np.interp(r, prof[:, 0], prof[:, 1])
    d[-1] = 0.0
    if crater.shape == "steady_state":
        d[1] = d[0]  # its flat floor (steady_state_profile)
    wall = (tuple(float(w) for w in np.interp(r, prof[:, 0], crater.wall_fluence))
            if crater.wall_fluence else ())
    return dataclasses.replace(crater, profile=tuple((float(a), float(b)) for a, b in zip(r, d)),
                               wall_fluence=wall)

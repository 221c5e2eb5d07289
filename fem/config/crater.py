"""The ablation crater: the crater a strongly absorbed pulse blows off, and its profile.

The crater is a derived value of the case, computed once when the case is read (before any
mesh exists: the mesh is cut around it), from the pulse and the layers.

Blow-off model (steady-state vaporisation). Tissue is removed where the energy a pulse deposits
per unit volume exceeds the heat of ablation ``h_abl``, the energy that heats its water to
100 C and vaporises it (and heats the rest of the tissue)::

    h_abl = w rho_w (c_w (100 C - T0) + L_v) + (1 - w) rho c (100 C - T0)

with water fraction ``w``, latent heat of water ``L_v = 2.257e6 J/kg``. With Beer-Lambert
deposition ``mu F(r) exp(-tau(d))`` the crater wall is where the remaining fluence has fallen
to the threshold ``F_th = h_abl / mu_a`` of the surface layer::

    tau(d_c(r)) = ln(F(r) / F_th),    F(r) = 2 E / (pi w_s^2) exp(-2 r^2 / w_s^2),

``w_s`` the 1/e^2 beam radius at the surface and ``tau`` the optical depth of
:meth:`fem.physics.source.BeamSource.layer_optics`. In one homogeneous layer the crater is a
paraboloid of depth ``ln(F0/F_th)/mu`` and mouth radius ``w_s sqrt(ln(F0/F_th)/2)``; in layers
it follows the optical depth. Nothing is removed when the peak fluence is below the threshold.

Energy: the laser source of :mod:`fem.physics.source` is left unchanged; cutting the crater out
of the mesh removes exactly the energy deposited in the blown-off tissue, and the tissue below
the wall receives the residual (threshold) fluence, attenuated from the wall on: the residual
heat goes into the wall.

The threshold fluence of the surface layer, ``F_th = h_abl / mu_a``, is derived when the case
is resolved (``laser.ablation_threshold_J_per_cm2`` overrides it).

Any crater (blow-off, cone, paraboloid) is described by its profile: depths ``d_k`` at radii
``r_k`` from the axis (``r_0 = 0``, ``d`` decreasing to 0 at the mouth), revolved about the
column axis by the mesher; :func:`radius_at_depth` inverts it.
"""

from __future__ import annotations

import math

import numpy as np

from fem.config.presets import BOILING_C, LATENT_HEAT_WATER, WATER_DENSITY, WATER_SPECIFIC_HEAT

PROFILE_POINTS = 13  # nodes of a curved crater profile (12 chords)


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

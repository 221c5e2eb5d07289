"""The Monte Carlo beam map on the mesh: the absorbed power of one scattered beam, on its
axisymmetric (r, z) grid (:mod:`fem.physics.photon`), as a heat source for every column.

Radially the map is *histopolated*: in each depth bin the cumulative absorbed energy
``C(r_k)`` at the ring edges is interpolated by a monotone cubic (PCHIP) in the area
coordinate ``u = r^2``, and the power density is its derivative, ``q = C'(u) / (pi dz)``. So
``q`` is continuous in ``r``, never negative, and integrates over each ring to exactly the
energy the photons left in it; near the axis, where the rings are small and noisy, it is
smooth. In depth ``q`` is constant within a bin (the bins end on the layer interfaces).
A column at ``(cx, cy)`` deposits ``q(|x - c|, d)`` per watt; beyond the map's radius it
deposits nothing (that light is counted as lost through the sides).

Energy: the energy of a column inside the domain rectangle is the sum over rings of the ring's
energy times the share of the ring's area inside the rectangle (:func:`disc_rectangle_area`,
exact), so :meth:`ScatteredBeam.budget` is exact for the map and the finite-element integral
of ``q`` is checked against it (``source_energy_error``). A full field (an infinite uniform
illumination) absorbs the laterally integrated map: by superposition, the depth profile of a
uniform field of fluence ``F`` is ``F`` times the pencil beam's absorbed energy per depth.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.interpolate import PchipInterpolator

FINE = 4  # radial samples of the interpolated density per ring


def _quadrant_area(x: np.ndarray, y: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Area of the disc ``X^2 + Y^2 <= R^2`` with ``X <= x`` and ``Y <= y`` (exact)."""
    x, y, R = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float),
                                  np.asarray(radius, float))

    def S(t):  # int_0^t sqrt(R^2 - X^2) dX
        t = np.clip(t, -R, R)
        return 0.5 * (t * np.sqrt(np.maximum(R**2 - t**2, 0.0))
                      + R**2 * np.arcsin(np.divide(t, R, out=np.zeros_like(t), where=R > 0)))

    xc = np.clip(x, -R, R)
    yc = np.clip(y, -R, R)
    xy = np.sqrt(np.maximum(R**2 - yc**2, 0.0))  # where the chord Y = y meets the circle

    def seg(a, b):  # [a, b] clipped to [-R, xc]
        lo, hi = np.clip(a, -R, xc), np.clip(b, -R, xc)
        return lo, np.maximum(hi, lo)

    # |X| > xy: the whole chord (y > 0) or nothing (y < 0); |X| < xy: from -sqrt to y
    full = np.where(yc > 0, 2.0, 0.0)
    a1, b1 = seg(-R, -xy)
    a2, b2 = seg(-xy, xy)
    a3, b3 = seg(xy, R)
    area = (full * (S(b1) - S(a1)) + full * (S(b3) - S(a3))
            + (S(b2) - S(a2)) + yc * (b2 - a2))
    return np.where(y >= R, 2.0 * (S(xc) - S(-R)), np.where(y <= -R, 0.0, area))


def disc_rectangle_area(radius: np.ndarray, cx: float, cy: float,
                        extent: tuple[float, float, float, float]) -> np.ndarray:
    """Area of the discs of ``radius`` centred at ``(cx, cy)`` inside the rectangle
    ``extent = (x0, x1, y0, y1)``, by inclusion-exclusion of quadrant areas."""
    x0, x1, y0, y1 = (v - c for v, c in zip(extent, (cx, cx, cy, cy)))
    q = _quadrant_area
    return (q(x1, y1, radius) - q(x0, y1, radius) - q(x1, y0, radius) + q(x0, y0, radius))


def column_share(layout) -> list[float]:
    """The share of each column's beam that belongs to the domain by symmetry: 1, or 1/2 for
    each symmetry plane through its axis."""

    def one(c, lo, hi):
        return 0.5 if min(abs(c - lo), abs(c - hi)) < 1e-12 else 1.0

    x0, x1, y0, y1 = layout.extent
    return [one(cx, x0, x1) * one(cy, y0, y1) for cx, cy in layout.centres]


class ScatteredBeam:
    """One Monte Carlo beam map (:class:`fem.physics.photon.BeamMap`) as the source of every
    column of a layout.

    Args:
        beam_map: the map, per unit delivered energy.
        peak_fluence_per_joule: the full field's fluence per joule of pulse energy (1/m^2).
    """

    def __init__(self, beam_map, peak_fluence_per_joule: float):
        self.map = beam_map
        self.flat_fluence = peak_fluence_per_joule
        r, z, A = beam_map.r_edges, beam_map.z_edges, beam_map.absorbed
        self.r_max = float(r[-1])
        dz = np.diff(z)
        cumulative = np.vstack([np.zeros((1, A.shape[1])), np.cumsum(A, axis=0)])
        rate = PchipInterpolator(r**2, cumulative, axis=0).derivative()
        self.r_fine = np.linspace(0.0, self.r_max, FINE * (len(r) - 1) + 1)
        self.q_fine = np.maximum(rate(self.r_fine**2), 0.0) / (math.pi * dz)  # (n_fine, nz)
        self.depth_profile = A.sum(axis=0) / dz  # absorbed per depth of a uniform field, 1/m
        layers = np.asarray(beam_map.layer_of_bin)
        self.layer_bins = [(int(np.argmax(layers == i)), int(len(layers) - np.argmax(
            layers[::-1] == i) - 1)) for i in range(int(layers.max()) + 1)]

    @property
    def specular(self) -> float:
        return float(self.map.specular)

    @property
    def diffuse(self) -> float:
        return float(self.map.diffuse_reflectance)

    def _bins(self, layer_index: int, d: np.ndarray) -> np.ndarray:
        """The depth bin of each depth, within the bins of its layer."""
        j0, j1 = self.layer_bins[layer_index]
        j = np.searchsorted(self.map.z_edges, d, side="right") - 1
        return np.clip(j, j0, j1)

    def density(self, layer_index: int, x: np.ndarray, centres, flat_top: bool) -> np.ndarray:
        """``q / P`` (1/m^3) at points ``x`` (shape ``(3, n)``) of one layer, summed over the
        beams at ``centres``; a full field: the uniform field's ``F / E`` times the depth
        profile."""
        j = self._bins(layer_index, -x[2])
        if flat_top:
            return self.flat_fluence * self.depth_profile[j]
        q = np.zeros(x.shape[1])
        cut = self.r_max
        order = np.argsort(x[0])
        xs = x[0][order]
        step = self.r_fine[1]
        for cx, cy in centres:
            lo, hi = np.searchsorted(xs, [cx - cut, cx + cut])
            idx = order[lo:hi]
            idx = idx[np.abs(x[1][idx] - cy) < cut]
            r = np.hypot(x[0][idx] - cx, x[1][idx] - cy)
            idx, r = idx[r < cut], r[r < cut]
            t = r / step
            i = np.minimum(t.astype(int), len(self.r_fine) - 2)
            f = t - i
            jj = j[idx]
            q[idx] += (1.0 - f) * self.q_fine[i, jj] + f * self.q_fine[i + 1, jj]
        return q

    def budget(self, layout, flat_top: bool) -> dict[str, float]:
        """Absorbed, transmitted and side-lost energy per unit pulse energy of one column,
        summed over the columns of the domain (each by the share that belongs to it): the
        rings' energy inside the domain rectangle is absorbed; the rest of the map and what
        the photons left beyond its radius are the side loss; the transmitted light is
        shared like the beam."""
        m = self.map
        if flat_top:
            per_area = self.flat_fluence * layout.area
            return {"absorbed": per_area * float(m.absorbed.sum()),
                    "transmitted": per_area * float(m.transmitted),
                    "side_loss": per_area * float(m.absorbed_beyond)}
        rings = m.absorbed.sum(axis=1)
        r = m.r_edges
        ring_area = math.pi * np.diff(r**2)
        absorbed = side = transmitted = 0.0
        for (cx, cy), share in zip(layout.centres, column_share(layout)):
            inside = np.diff(disc_rectangle_area(r, cx, cy, layout.extent)) / ring_area
            a = float(np.dot(rings, inside))
            absorbed += a
            side += share * (float(rings.sum()) + float(m.absorbed_beyond)) - a
            transmitted += share * float(m.transmitted)
        return {"absorbed": absorbed, "transmitted": transmitted, "side_loss": side}

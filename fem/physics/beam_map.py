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
# The core/halo split of a sum over many columns (ScatteredBeam.density): from this many
# columns on; the core ends where the density is below this fraction of its peak; the halo
# lattice has this many nodes per core radius.
SPLIT_COLUMNS = 4
CORE_FRACTION = 0.003
HALO_LATTICE = 8
# The points of a layer are sorted once into lateral bins of this fraction of the cut radius
# of a sum (at most MAX_BINS_PER_SIDE bins across), so that the points near a column are a few
# contiguous runs; the halos are interpolated HALO_CHUNK points at a time.
BINS_PER_CUT = 4
MAX_BINS_PER_SIDE = 2048
HALO_CHUNK = 1 << 18


def _sum_beams(x: np.ndarray, j: np.ndarray, centres, r_fine: np.ndarray, table: np.ndarray,
               cut: float) -> np.ndarray:
    """``sum_c table(|x - c|, j)`` over the columns, linear in ``r`` on ``r_fine``, for the
    points within ``cut`` of each axis (the points sorted by x once, a strip per column)."""
    q = np.zeros(x.shape[1])
    order = np.argsort(x[0])
    xs = x[0][order]
    for cx, cy in centres:
        lo, hi = np.searchsorted(xs, [cx - cut, cx + cut])
        idx = order[lo:hi]
        idx = idx[np.abs(x[1][idx] - cy) < cut]
        r = np.hypot(x[0][idx] - cx, x[1][idx] - cy)
        idx, r = idx[r < cut], r[r < cut]
        i, f = _radial(r, r_fine)
        jj = j[idx]
        q[idx] += (1.0 - f) * table[i, jj] + f * table[i + 1, jj]
    return q


class _BinnedPoints:
    """The points of one layer sorted into lateral bins of width ``h`` (``x``, ``y`` and depth
    bin ``j`` in that order), for the sums of :func:`_sum_beams` over several sets of columns:
    the points within a cut of a column are then a few contiguous runs, found without a search
    over all points. :meth:`sum_beams` selects and sums exactly as :func:`_sum_beams` does, so
    the result is the same to the last bit."""

    def __init__(self, x: np.ndarray, j: np.ndarray, h: float):
        span = max(float(np.ptp(x[0])), float(np.ptp(x[1])), 0.0)
        self.h = h = max(h, span / MAX_BINS_PER_SIDE)
        bx, by = (np.floor(v / h).astype(np.int64) for v in (x[0], x[1]))
        self.bx0, self.by0 = int(bx.min()), int(by.min())
        self.nx, self.ny = int(bx.max()) - self.bx0 + 1, int(by.max()) - self.by0 + 1
        key = (bx - self.bx0) * self.ny + (by - self.by0)
        del bx, by
        self.order = np.argsort(key)
        self.starts = np.concatenate([[0], np.cumsum(np.bincount(key, minlength=self.nx
                                                                 * self.ny))])
        del key
        self.x, self.y, self.j = x[0][self.order], x[1][self.order], j[self.order]

    def near(self, cx: float, cy: float, cut: float) -> np.ndarray:
        """The (sorted) indices of the points in the bins about a column, a bin of margin
        beyond the cut on every side (a superset of the points :func:`_sum_beams` selects)."""
        h = self.h
        ix0 = max(math.floor((cx - cut) / h) - self.bx0 - 1, 0)
        ix1 = min(math.floor((cx + cut) / h) - self.bx0 + 1, self.nx - 1)
        iy0 = max(math.floor((cy - cut) / h) - self.by0 - 1, 0)
        iy1 = min(math.floor((cy + cut) / h) - self.by0 + 1, self.ny - 1)
        if ix1 < ix0 or iy1 < iy0:
            return np.zeros(0, dtype=np.int64)
        rows = np.arange(ix0, ix1 + 1) * self.ny
        lo, hi = self.starts[rows + iy0], self.starts[rows + iy1 + 1]
        return np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)])

    def sum_beams(self, centres, r_fine: np.ndarray, table: np.ndarray,
                  cut: float) -> np.ndarray:
        """:func:`_sum_beams` at the sorted points: the same points per column (``cx - cut <=
        x < cx + cut``, ``|y - cy| < cut``, ``r < cut``), the same arithmetic, the columns
        added in the same order."""
        q = np.zeros(self.x.shape[0])
        nz, flat = table.shape[1], table.reshape(-1)  # table[i, j] = flat[i * nz + j]
        for cx, cy in centres:
            lo, hi = cx - cut, cx + cut
            idx = self.near(cx, cy, cut)
            xi, yi = self.x[idx], self.y[idx]
            box = (xi >= lo) & (xi < hi)
            box &= np.abs(yi - cy) < cut
            k = np.flatnonzero(box)
            r = np.hypot(xi[k] - cx, yi[k] - cy)  # the most of the time: 20 ns a point
            inside = r < cut
            idx, r = idx[k[inside]], r[inside]
            i, f = _radial(r, r_fine)
            at = i * nz + self.j[idx]
            q[idx] += (1.0 - f) * flat[at] + f * flat[at + nz]
        return q

    def unsort(self, q: np.ndarray) -> np.ndarray:
        """Values at the sorted points back in the order of the points given."""
        out = np.empty_like(q)
        out[self.order] = q
        return out


def _radial(r: np.ndarray, r_fine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The fine-radius interval ``i`` of each radius and its fraction ``f`` in it (``r_fine``
    equally spaced from 0): a table is ``(1 - f) t[i] + f t[i + 1]`` there."""
    t = r / r_fine[1]
    i = np.minimum(t.astype(int), len(r_fine) - 2)
    return i, t - i


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
        # The core/halo split of a sum over many columns (density): the core radius, where
        # the density has fallen below CORE_FRACTION of its peak at every depth; the halo
        # q(max(r, r_core)) and the core q - q_halo (zero beyond r_core).
        peak = self.q_fine.max(axis=1)
        above = np.flatnonzero(peak > CORE_FRACTION * peak.max())
        k = min(int(above.max()) + 1 if above.size else 1, len(self.r_fine) - 1)
        self.r_core = float(self.r_fine[k])
        self.q_halo = self.q_fine.copy()
        self.q_halo[:k] = self.q_fine[k]
        self.q_core = self.q_fine - self.q_halo
        self._halo_lattice: dict[tuple, np.ndarray] = {}  # the lattices of the last sum

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
        profile.

        With :data:`SPLIT_COLUMNS` columns or more the sum is split at the core radius
        ``r_core`` (where the density has fallen below :data:`CORE_FRACTION` of its peak at
        every depth): ``q = q_core + q_halo`` with ``q_halo(r) = q(max(r, r_core))``, so
        ``q_core`` is zero beyond ``r_core``. The cores are summed exactly at the points of
        each column's core; the halos (a third to a half of the energy, out to the map's
        radius of about 1.5 mm, so that every point of a patch lies in dozens of them) are
        summed once on a lateral lattice of spacing ``r_core / HALO_LATTICE`` at every depth
        bin and interpolated bilinearly. A hundred columns then cost about as much as one,
        instead of a hundred times (:func:`direct_density` is the exact sum, the reference of
        ``tests/test_light.py``). The lattice is anchored at the origin, so every rank
        computes the same value at a point whatever the partition."""
        return self.densities(layer_index, x, [centres], flat_top)[0]

    def densities(self, layer_index: int, x: np.ndarray, column_sets,
                  flat_top: bool) -> list[np.ndarray]:
        """:meth:`density` of each set of columns (the firing groups of a source) at the same
        points, equal to it to the last bit; what depends on the points alone (their depth
        bins, their lateral bins, the weights of the lattice) is computed once for all."""
        j = self._bins(layer_index, -x[2])
        if flat_top:
            return [self.flat_fluence * self.depth_profile[j] for _ in column_sets]
        if x.shape[1] == 0:
            return [np.zeros(0) for _ in column_sets]
        split = [len(c) >= SPLIT_COLUMNS for c in column_sets]
        binned: dict[float, _BinnedPoints] = {}
        out = []
        for centres, s in zip(column_sets, split):
            cut, table = (self.r_core, self.q_core) if s else (self.r_max, self.q_fine)
            h = cut / BINS_PER_CUT
            if h not in binned:
                binned[h] = _BinnedPoints(x, j, h)
            out.append((binned[h], binned[h].sum_beams(centres, self.r_fine, table, cut)))
        sets = [c for c, s in zip(column_sets, split) if s]
        if sets:  # the halos at the points in the order of the cores' bins
            pts = binned[self.r_core / BINS_PER_CUT]
            halos = iter(self._halo_at(pts.x, pts.y, pts.j, sets))
            for (p, q), s in zip(out, split):
                if s:
                    q += next(halos)
        return [p.unsort(q) for p, q in out]

    def direct_density(self, layer_index: int, x: np.ndarray, centres) -> np.ndarray:
        """The exact sum of the beams at ``centres`` (no lattice), ``q / P`` (1/m^3)."""
        j = self._bins(layer_index, -x[2])
        return _sum_beams(x, j, centres, self.r_fine, self.q_fine, self.r_max)

    def _lattice(self, centres, step: float, extent: tuple[int, int, int, int]) -> np.ndarray:
        """The sum of the halos of the columns at the nodes ``(ix, iy) * step`` of the lattice
        ``ix0 <= ix <= ix1``, ``iy0 <= iy <= iy1``, shape ``(nx, ny, depth bins)``."""
        ix0, ix1, iy0, iy1 = extent
        gx = np.arange(ix0, ix1 + 1) * step
        gy = np.arange(iy0, iy1 + 1) * step
        X, Y = np.meshgrid(gx, gy, indexing="ij")
        nodes = np.stack([X.ravel(), Y.ravel()])
        grid = np.zeros((nodes.shape[1], self.q_halo.shape[1]))
        for cx, cy in centres:
            r = np.hypot(nodes[0] - cx, nodes[1] - cy)
            near = np.flatnonzero(r < self.r_max)
            i, f = _radial(r[near], self.r_fine)
            f = f[:, None]
            grid[near] += (1.0 - f) * self.q_halo[i] + f * self.q_halo[i + 1]
        return grid.reshape(len(gx), len(gy), -1)

    def _halo_at(self, x: np.ndarray, y: np.ndarray, j: np.ndarray,
                 column_sets) -> list[np.ndarray]:
        """The halos of each set of columns at the points, bilinear on the lattice (see
        :meth:`density`); the weights of a point, computed once for all the sets, a chunk of
        points at a time. The lattices of the last call are kept (the layers of a source
        share them)."""
        step = self.r_core / HALO_LATTICE
        ix0, iy0 = (int(math.floor(v.min() / step)) for v in (x, y))
        ix1, iy1 = (int(math.floor(v.max() / step)) + 1 for v in (x, y))
        keys = [(tuple(map(tuple, c)), ix0, ix1, iy0, iy1) for c in column_sets]
        cache = self._halo_lattice
        for key in [k for k in cache if k not in keys]:
            del cache[key]
        for key, centres in zip(keys, column_sets):
            if key not in cache:
                cache[key] = self._lattice(centres, step, key[1:])
        grids = [cache[k] for k in keys]
        nx, ny, nz = grids[0].shape
        flat = [g.reshape(-1) for g in grids]
        out = [np.empty(x.shape[0]) for _ in grids]
        for lo in range(0, x.shape[0], HALO_CHUNK):
            c = slice(lo, lo + HALO_CHUNK)
            tx, ty = x[c] / step - ix0, y[c] / step - iy0
            kx = np.clip(tx.astype(int), 0, nx - 2)
            ky = np.clip(ty.astype(int), 0, ny - 2)
            fx, fy = tx - kx, ty - ky
            w00, w10 = (1 - fx) * (1 - fy), fx * (1 - fy)
            w01, w11 = (1 - fx) * fy, fx * fy
            k00 = (kx * ny + ky) * nz + j[c]
            k10, k01 = k00 + ny * nz, k00 + nz
            k11 = k10 + nz
            for g, o in zip(flat, out):
                o[c] = w00 * g[k00] + w10 * g[k10] + w01 * g[k01] + w11 * g[k11]
        return out

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

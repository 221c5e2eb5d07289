"""MTZ metrics from the damage fields: column depth and width, epidermal necrosis, coverage.

The ``Omega = 1`` contour is located with sub-element accuracy: ``log10(Omega)``, taken at the
nodes and interpolated linearly in the elements (nearly linear across the contour, where Omega
itself changes by orders of magnitude inside one element), is sampled on fine radial lines in
four azimuths through each column axis (``+x, -x, +y, -y``, those inside the domain) and on
the axis itself, and the crossings of zero are interpolated linearly between samples.

* depth: the deepest crossing below the surface (µm);
* width: the largest diameter of the contour, measured along x and along y and averaged
  (each radius the end of the first damaged stretch out from the axis);
* MEND width: the same width restricted to the stratum corneum and epidermis;
* coverage: the collagen column projected onto the surface, on a raster of the patch at the
  depths where the columns are widest (:func:`coverage_raster`), its contour placed between
  pixel centres (:func:`projected_fraction`); fused columns count once, and a cluster only
  with the area it covers;
* epidermal gap: the largest distance from necrotic to viable epidermis, on a raster of the
  cell-death field through the viable epidermis (:class:`EpidermalRaster`);
* thermal dose: depth and width of the CEM43 = 240 min contour, when the dose is computed.

Full field (``pattern.layout = "full_field"``): the one nominal column is the centre of a
laterally uniform injury, so the depths are those of the field; a contour that reaches the sides
of the block covers the whole field and its width is reported as the block width (200 um by
default); coverage is 100 % and the spared volume 0 % once the surface is injured; with the
whole epidermis necrotic the epidermal gap is about the half-diagonal of the block (that of
its raster), a lower bound: nothing viable is left to migrate from in the field itself.

The functions on sampled grids (:func:`deepest_crossing`, :func:`first_run_end`,
:func:`largest_gap`, :func:`projected_fraction`) are pure numpy and tested on analytic fields.
"""

from __future__ import annotations

from mpi4py import MPI

import dolfinx.fem as dfem
import numpy as np
import ufl

from fem.config import Case
from fem.physics.damage import CEM43_NECROSIS_MIN
from fem.post.probes import PointEvaluator
from meshes.patterns import nearest_neighbour_distances

LOG_FLOOR = -300.0
EPIDERMAL_LAYERS = ("stratum_corneum", "epidermis")


def log_omega(values: np.ndarray) -> np.ndarray:
    """``log10(Omega)`` with a floor for undamaged tissue (Omega = 0)."""
    return np.log10(np.maximum(values, 10.0**LOG_FLOOR))


def nodal_log_omega(omega: dfem.Function) -> dfem.Function:
    """``log10(Omega)`` at the nodes, as a function of the same space.

    Contours are drawn on this field: interpolated linearly between the nodes, ``log10(Omega)``
    is nearly exact across an element, whereas the linear interpolant of Omega, which
    changes by orders of magnitude over an element, moves the contour outward by up to a
    quarter of an element (the interpolant of a convex function lies above it).
    """
    lw = omega.copy()
    lw.x.array[:] = log_omega(omega.x.array)
    return lw


def deepest_crossing(depths: np.ndarray, lw: np.ndarray) -> float:
    """Deepest depth where a line of ``log10(Omega)`` samples crosses zero.

    Args:
        depths: increasing depths along the line.
        lw: ``log10(Omega)`` at those depths.

    Returns:
        The interpolated depth of the last sample >= 0 crossing into < 0; 0 when nothing is
        damaged; the last depth when the whole line is damaged.
    """
    inside = np.flatnonzero(lw >= 0.0)
    if inside.size == 0:
        return 0.0
    i = inside[-1]
    if i == lw.size - 1:
        return float(depths[-1])
    f = lw[i] / (lw[i] - lw[i + 1])
    return float(depths[i] + f * (depths[i + 1] - depths[i]))


def first_run_end(radii: np.ndarray, lw: np.ndarray) -> float:
    """Outer edge of the first damaged stretch of a radial line (0 if nothing is damaged).

    Walking out from the axis, the first run of samples with ``lw >= 0`` is this column's
    injury, and its end, interpolated, is the column's radius on this line: a ring about a
    crater (NaN samples inside it) counts, damage of another column beyond undamaged tissue
    does not, and columns fused into a cluster give the edge of the cluster. The last radius
    when the run reaches the end of the line.
    """
    damaged = lw >= 0.0
    first = np.flatnonzero(damaged)
    if first.size == 0:
        return 0.0
    after = np.flatnonzero(~damaged[first[0]:])
    if after.size == 0:
        return float(radii[-1])
    j = first[0] + after[0]
    i = j - 1
    if not np.isfinite(lw[j]):
        return float(radii[i])
    f = lw[i] / (lw[i] - lw[j])
    return float(radii[i] + f * (radii[j] - radii[i]))


class ColumnSampler:
    """Samples of the damage fields on lines through every column.

    Per column: radial lines in the four azimuths ``+x, -x, +y, -y`` that lie in the domain (a
    quarter cell keeps ``+x`` and ``+y``), at ``n_z`` depths; and the column axis at ``n_axis``
    depths. A line reaches to the domain side, or half-way to the nearest other column but at
    least twice the refined column radius (so that a cluster of fused columns is measured to
    its edge, :func:`first_run_end`); the depth is taken only within half-way to the nearest
    column (the neighbour's own depth is not this column's). Patches of more than four
    columns are sampled more coarsely (the cost is per column).
    """

    AZIMUTHS = ((1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0))

    def __init__(self, domain, case: Case, n_r: int = 161, n_z: int = 241, n_axis: int = 2001):
        lay = case.pattern.layout
        if lay.count > 4:
            n_r, n_z, n_axis = 61, 121, 401
        x0, x1, y0, y1 = lay.extent
        spacing = nearest_neighbour_distances(lay)
        self.depths = np.linspace(0.0, 0.98 * case.skin.depth, n_z)
        self.axis_depths = np.linspace(0.0, 0.98 * case.skin.depth, n_axis)
        self.lines: list[list[np.ndarray]] = []  # per column: the radii of each kept azimuth
        self.sides: list[list[float]] = []  # per column: each kept azimuth's distance to the side
        self.full_field = lay.full_field
        self.depth_reach: list[float] = []  # per column: radii that count for the depth
        pts = []
        for (cx, cy), gap in zip(lay.centres, spacing):
            rays, sides = [], []
            self.depth_reach.append(0.5 * gap)
            for ax, ay in self.AZIMUTHS:
                side = ({1.0: x1 - cx, -1.0: cx - x0}[ax] if ax
                        else {1.0: y1 - cy, -1.0: cy - y0}[ay])
                reach = min(side, max(0.5 * gap, 2.0 * case.mesh.column_radius))
                if side <= 1e-3 * (x1 - x0):
                    continue  # a symmetry plane through the axis: the mirror ray is kept
                radii = np.linspace(0.0, 0.98 * reach, n_r)
                R, Z = np.meshgrid(radii, self.depths)  # rows: depth, columns: radius
                pts.append(np.stack([cx + ax * R.ravel(), cy + ay * R.ravel(), -Z.ravel()], 1))
                rays.append(radii)
                sides.append(side)
            pts.append(np.stack([np.full(n_axis, cx), np.full(n_axis, cy), -self.axis_depths], 1))
            self.lines.append(rays)
            self.sides.append(sides)
        self.shape = (n_z, n_r)
        self.domain = domain
        self.evaluate = PointEvaluator(domain, np.concatenate(pts))

    def columns(self, omega: dfem.Function, max_depth: float | None = None) -> list[dict]:
        """Per column: depth and width (m) of ``Omega >= 1``, optionally above ``max_depth``.

        The width is twice the mean radius over the sampled azimuths, each the largest edge
        of the first damaged stretch over the depths (:func:`first_run_end`).
        """
        lw = self.evaluate(nodal_log_omega(omega))
        n_grid = self.shape[0] * self.shape[1]
        rows = slice(None) if max_depth is None else self.depths <= max_depth + 1e-12
        row_depths = self.depths[rows]
        out, k = [], 0
        for rays, sides, depth_reach in zip(self.lines, self.sides, self.depth_reach):
            grids = [lw[k + a * n_grid: k + (a + 1) * n_grid].reshape(self.shape)
                     for a in range(len(rays))]
            k += len(rays) * n_grid
            axis = lw[k: k + self.axis_depths.size]
            k += self.axis_depths.size
            depth = deepest_crossing(self.axis_depths, axis)
            for radii, g in zip(rays, grids):
                for j in np.flatnonzero(radii <= depth_reach):
                    depth = max(depth, deepest_crossing(self.depths, g[:, j]))
            ends = [np.array([first_run_end(radii, row) for row in g[rows]])
                    for radii, g in zip(rays, grids)]
            radius = [float(e.max()) if e.size else 0.0 for e in ends]
            if self.full_field:  # damage out to the side covers the field: the block's width
                radius = [side if r >= radii[-1] else r
                          for r, radii, side in zip(radius, rays, sides)]
            widest = [float(row_depths[int(np.argmax(e))]) for e in ends
                      if e.size and e.max() > 0.0]
            out.append({"depth": depth, "width": 2.0 * float(np.mean(radius)),
                        "widest_depths": widest})
        return out


def contour_points(lw: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Points ``(n, 2)`` where a raster field ``lw[iy, ix]`` crosses zero, interpolated
    linearly between neighbouring pixel centres along x and along y (sub-pixel)."""
    out = []
    a, b = lw[:, :-1], lw[:, 1:]
    i, j = np.nonzero((a >= 0.0) != (b >= 0.0))
    f = a[i, j] / (a[i, j] - b[i, j])
    out.append(np.stack([xs[j] + f * (xs[j + 1] - xs[j]), ys[i]], 1))
    a, b = lw[:-1, :], lw[1:, :]
    i, j = np.nonzero((a >= 0.0) != (b >= 0.0))
    f = a[i, j] / (a[i, j] - b[i, j])
    out.append(np.stack([xs[j], ys[i] + f * (ys[i + 1] - ys[i])], 1))
    return np.concatenate(out)


def distance_to_points(p: np.ndarray, q: np.ndarray, pairs: int = 2_000_000) -> np.ndarray:
    """Distance from each point of ``p (n, 2)`` to the nearest point of ``q (m, 2)`` (brute
    force, ``pairs`` point pairs at a time)."""
    out = np.empty(p.shape[0])
    chunk = max(1, pairs // max(1, q.shape[0]))
    for k in range(0, p.shape[0], chunk):
        d2 = ((p[k:k + chunk, None, :] - q[None, :, :]) ** 2).sum(axis=2)
        out[k:k + chunk] = np.sqrt(d2.min(axis=1))
    return out


def largest_gap(lw: np.ndarray, xs: np.ndarray, ys: np.ndarray, n_refine: int = 8) -> float:
    """Largest distance from a point where ``lw >= 0`` (injured) to the ``lw = 0`` contour.

    The contour is located between pixel centres (:func:`contour_points`); the distance is
    maximised over the injured pixel centres and then, about the best few, on a sub-pixel grid.
    The sides of the raster need no mirror images: the mirror of a viable point is never
    nearer than the point itself. 0 when nothing is injured; without any viable pixel the
    half-diagonal of the raster (a lower bound).
    """
    injured = lw >= 0.0
    if not injured.any():
        return 0.0
    q = contour_points(lw, xs, ys)
    if q.size == 0:
        return 0.5 * float(np.hypot(xs[-1] - xs[0], ys[-1] - ys[0]))
    X, Y = np.meshgrid(xs, ys)
    p = np.stack([X[injured], Y[injured]], 1)
    d = distance_to_points(p, q)
    hx, hy = xs[1] - xs[0], ys[1] - ys[0]
    best = p[np.argsort(d)[-n_refine:]]
    u = np.linspace(-1.0, 1.0, 21)
    U, W = np.meshgrid(u * hx, u * hy)
    fine = (best[:, None, :] + np.stack([U.ravel(), W.ravel()], 1)[None]).reshape(-1, 2)
    fine[:, 0] = np.clip(fine[:, 0], xs[0] - 0.5 * hx, xs[-1] + 0.5 * hx)  # in the domain
    fine[:, 1] = np.clip(fine[:, 1], ys[0] - 0.5 * hy, ys[-1] + 0.5 * hy)
    return float(max(d.max(), distance_to_points(fine, q).max()))


class TopRaster:
    """Samples of a damage field on a raster of the patch seen from above: pixel centres of
    the patch at a few depths, a pixel injured where ``Omega >= 1`` at any of them.

    Args:
        domain: the mesh.
        case: the case (its patch extent).
        depths: the depths (m, positive down) sampled under every pixel.
        pixel: the wanted pixel size (m); at least 16 and at most ``max_pixels`` a side.
    """

    def __init__(self, domain, case: Case, depths, pixel: float, max_pixels: int):
        x0, x1, y0, y1 = case.pattern.layout.extent
        nx = int(min(max_pixels, max(16, np.ceil((x1 - x0) / pixel))))
        ny = int(min(max_pixels, max(16, np.ceil((y1 - y0) / pixel))))
        self.xs = x0 + (np.arange(nx) + 0.5) * (x1 - x0) / nx
        self.ys = y0 + (np.arange(ny) + 0.5) * (y1 - y0) / ny
        Z, Y, X = np.meshgrid(-np.asarray(depths, dtype=float), self.ys, self.xs, indexing="ij")
        self.shape = Z.shape
        self.evaluate = PointEvaluator(domain, np.stack([X.ravel(), Y.ravel(), Z.ravel()], 1))

    def log_omega(self, omega: dfem.Function) -> np.ndarray:
        """``(ny, nx)`` raster of the largest ``log10(Omega)`` over the depths (outside the
        mesh, e.g. in a crater, counts as injured)."""
        lw = self.evaluate(nodal_log_omega(omega)).reshape(self.shape)
        return np.nan_to_num(lw, nan=1.0).max(axis=0)


class EpidermalRaster(TopRaster):
    """Cell-death samples on a raster of the treated surface through the viable epidermis.

    ``n_depths`` depths evenly inside the viable epidermis (the layer ``epidermis``, below the
    stratum corneum); pixels of about half the column element size, at most ``max_pixels`` a
    side. A point is injured where ``Omega_cell >= 1`` at any of the depths.
    """

    def __init__(self, domain, case: Case, n_depths: int = 3, max_pixels: int = 300):
        names = [layer.name for layer in case.skin.layers]
        self.valid = "epidermis" in names
        if not self.valid:
            return
        i = names.index("epidermis")
        top = sum(layer.thickness for layer in case.skin.layers[:i])
        bottom = top + case.skin.layers[i].thickness
        depths = top + (np.arange(n_depths) + 0.5) / n_depths * (bottom - top)
        super().__init__(domain, case, depths, 0.5 * case.mesh.column_size, max_pixels)

    def max_gap(self, omega: dfem.Function) -> float:
        """Largest distance (m) from necrotic to viable epidermis, how far keratinocytes
        must migrate to close the wound (:func:`largest_gap`; 0 without epidermis)."""
        if not self.valid:
            return 0.0
        return largest_gap(self.log_omega(omega), self.xs, self.ys)


def projected_fraction(lw: np.ndarray, refine: int = 4) -> float:
    """Share of a raster ``lw[iy, ix]`` (values at pixel centres) where ``lw >= 0``, with the
    contour placed between pixel centres: the raster is interpolated bilinearly onto
    ``refine`` x ``refine`` sub-pixels of every pixel (clamped at the sides), which are counted.
    """
    def upsample(a: np.ndarray, axis: int) -> np.ndarray:
        n = a.shape[axis]
        at = (np.arange(n * refine) + 0.5) / refine - 0.5  # sub-pixel centres, pixel units
        at = np.clip(at, 0.0, n - 1.0)
        i = np.minimum(at.astype(int), max(n - 2, 0))
        f = at - i
        lo, hi = np.take(a, i, axis=axis), np.take(a, np.minimum(i + 1, n - 1), axis=axis)
        shape = [1, 1]
        shape[axis] = -1
        return lo + f.reshape(shape) * (hi - lo)

    return float((upsample(upsample(lw, 0), 1) >= 0.0).mean())


def coverage_raster(domain, case: Case, columns: list[dict], max_depths: int = 8,
                    max_pixels: int = 256) -> TopRaster:
    """The raster for ``coverage_percent``: pixels of a quarter of the column element size
    (at most ``max_pixels`` a side) at the depths where the columns are widest (from
    :meth:`ColumnSampler.columns`; at most ``max_depths`` of them, spread over their range),
    so that the union over those depths is the damaged region projected onto the surface."""
    widest = np.unique([d for c in columns for d in c.get("widest_depths", [])])
    if widest.size == 0:
        widest = np.array([0.0])
    if widest.size > max_depths:
        widest = widest[np.round(np.linspace(0, widest.size - 1, max_depths)).astype(int)]
    return TopRaster(domain, case, widest, 0.25 * case.mesh.column_size, max_pixels)


def summarise(name: str, values: list[float]) -> dict[str, float]:
    """``name`` (mean over columns, µm) with ``name_min`` and ``name_max`` when there are
    several columns."""
    v = np.asarray(values) * 1e6
    out = {name: float(v.mean())}
    if v.size > 1:
        out.update({f"{name}_min": float(v.min()), f"{name}_max": float(v.max())})
    return out


def damaged_volume(omega: dfem.Function, below: float | None = None) -> float:
    """Volume (m^3) where Omega >= 1, optionally only above the depth ``below``."""
    domain = omega.function_space.mesh
    x = ufl.SpatialCoordinate(domain)
    chi = ufl.conditional(ufl.ge(omega, 1.0), 1.0, 0.0)
    if below is not None:
        chi = chi * ufl.conditional(ufl.ge(x[2], -below), 1.0, 0.0)
    form = dfem.form(chi * ufl.dx(domain=domain, metadata={"quadrature_degree": 2}))
    return domain.comm.allreduce(dfem.assemble_scalar(form), op=MPI.SUM)


def damage_metrics(sampler: ColumnSampler, damage: dict, case: Case,
                   raster: EpidermalRaster | None = None,
                   per_column: list | None = None) -> dict[str, float]:
    """The column metrics of DESIGN.md from the cell-death and collagen damage fields: the
    mean over the columns (``*_min``, ``*_max`` too for patterns), coverage, spared volume,
    the largest epidermal gap (``raster``, built here when not given) and, when the damage
    holds the ``cem43`` dose, the depth and width of its 240 min contour. ``per_column``, if
    given, receives one row per column (centre and sizes in µm, see :func:`columns_csv`)."""
    col = sampler.columns(damage["collagen"].omega)
    nec = sampler.columns(damage["cell"].omega)
    epi_bottom = 0.0
    for layer in case.skin.layers:
        if layer.name not in EPIDERMAL_LAYERS:
            break
        epi_bottom += layer.thickness
    mend = (sampler.columns(damage["cell"].omega, max_depth=epi_bottom) if epi_bottom
            else [{"width": 0.0}] * len(col))
    treated_depth = max(max(c["depth"] for c in col), max(c["depth"] for c in nec))
    if treated_depth > 0:
        dead = damaged_volume(damage["cell"].omega, below=treated_depth)
        # at least 0: the dead volume is integrated on the linear interpolant of Omega, whose
        # contour lies a little outside that of log10(Omega) (a full field spares nothing)
        spared = max(0.0, 100.0 * (1.0 - dead / (case.pattern.layout.area * treated_depth)))
    else:
        spared = 100.0
    out = {"columns": len(col)}
    out.update(summarise("mtz_depth_um", [c["depth"] for c in col]))
    out.update(summarise("mtz_width_um", [c["width"] for c in col]))
    out.update(summarise("necrosis_depth_um", [c["depth"] for c in nec]))
    out.update(summarise("necrosis_width_um", [c["width"] for c in nec]))
    out.update(summarise("mend_width_um", [c["width"] for c in mend]))
    if raster is None:
        raster = EpidermalRaster(sampler.domain, case)
    out.update(
        ablation_depth_um=case.crater.depth * 1e6,  # the crater cut (given or blow-off)
        coverage_percent=100.0 * projected_fraction(
            coverage_raster(sampler.domain, case, col).log_omega(damage["collagen"].omega)),
        spared_volume_percent=spared,
        max_epidermal_gap_um=raster.max_gap(damage["cell"].omega) * 1e6,
    )
    cem = None
    if "cem43" in damage:
        dose = damage["cem43"].omega.copy()
        dose.x.array[:] /= CEM43_NECROSIS_MIN  # the 240 min contour at "Omega" = 1
        cem = sampler.columns(dose)
        out.update(summarise("cem43_depth_um", [c["depth"] for c in cem]))
        out.update(summarise("cem43_width_um", [c["width"] for c in cem]))
    if per_column is not None:
        for i, (cx, cy) in enumerate(case.pattern.layout.centres):
            row = {"column": i, "x_um": cx * 1e6, "y_um": cy * 1e6,
                   "mtz_depth_um": col[i]["depth"] * 1e6, "mtz_width_um": col[i]["width"] * 1e6,
                   "necrosis_depth_um": nec[i]["depth"] * 1e6,
                   "necrosis_width_um": nec[i]["width"] * 1e6,
                   "mend_width_um": mend[i]["width"] * 1e6}
            if cem is not None:
                row.update(cem43_depth_um=cem[i]["depth"] * 1e6,
                           cem43_width_um=cem[i]["width"] * 1e6)
            per_column.append(row)
    return out


def columns_csv(rows: list[dict]) -> str:
    """The per-column rows of :func:`damage_metrics` as CSV text (``columns.csv``)."""
    if not rows:
        return ""
    keys = list(rows[0])
    lines = [",".join(keys)] + [",".join(f"{r[k]:.6g}" if isinstance(r[k], float) else str(r[k])
                                         for k in keys) for r in rows]
    return "\n".join(lines) + "\n"

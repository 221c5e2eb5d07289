"""MTZ metrics from the damage fields: column depth and width, epidermal necrosis, coverage.

The ``Omega = 1`` contour is located with sub-element accuracy: ``log10(Omega)`` is sampled on
fine radial lines in four azimuths through the column axis (``+x, -x, +y, -y``) and on the
axis itself, and the crossings of zero are interpolated linearly between samples. ``log10``
makes the field nearly linear across the contour (Omega itself varies by orders of magnitude
inside one element).

* depth: the deepest crossing below the surface (µm);
* width: the largest diameter of the contour, measured along x and along y and averaged;
* MEND width: the same width restricted to the stratum corneum and epidermis.

The functions on sampled grids (:func:`deepest_crossing`, :func:`outermost_crossing`) are
pure numpy and tested on analytic fields.
"""

from __future__ import annotations

import math

from mpi4py import MPI

import numpy as np
import ufl
from dolfinx import fem

from fem.config import Case
from fem.probes import PointEvaluator

LOG_FLOOR = -300.0
EPIDERMAL_LAYERS = ("stratum_corneum", "epidermis")


def log_omega(values: np.ndarray) -> np.ndarray:
    """``log10(Omega)`` with a floor for undamaged tissue (Omega = 0)."""
    return np.log10(np.maximum(values, 10.0**LOG_FLOOR))


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


def outermost_crossing(radii: np.ndarray, lw: np.ndarray) -> float:
    """Largest radius where a radial line of ``log10(Omega)`` crosses zero (0 if none)."""
    return deepest_crossing(radii, lw)


class ColumnSampler:
    """Samples of the damage fields on lines through one column (axis at ``x = y = 0``)."""

    AZIMUTHS = ((1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0))

    def __init__(self, domain, case: Case, n_r: int = 161, n_z: int = 241, n_axis: int = 2001):
        half = 0.5 * case.cell_side
        self.radii = np.linspace(0.0, 0.98 * half, n_r)
        self.depths = np.linspace(0.0, 0.98 * case.depth, n_z)
        self.axis_depths = np.linspace(0.0, 0.98 * case.depth, n_axis)
        pts = []
        for cx, cy in self.AZIMUTHS:
            R, Z = np.meshgrid(self.radii, self.depths)  # rows: depth, columns: radius
            pts.append(np.stack([cx * R.ravel(), cy * R.ravel(), -Z.ravel()], axis=1))
        axis = np.stack([np.zeros(n_axis), np.zeros(n_axis), -self.axis_depths], axis=1)
        self.n_grid = len(self.AZIMUTHS) * n_r * n_z
        self.evaluate = PointEvaluator(domain, np.concatenate(pts + [axis]))
        self.shape = (len(self.AZIMUTHS), n_z, n_r)

    def column(self, omega: fem.Function, max_depth: float | None = None) -> dict[str, float]:
        """Depth and width (m) of the ``Omega >= 1`` region, optionally above ``max_depth``."""
        lw = log_omega(self.evaluate(omega))
        grid = lw[: self.n_grid].reshape(self.shape)
        axis = lw[self.n_grid:]
        rows = slice(None) if max_depth is None else self.depths <= max_depth + 1e-12
        depth = deepest_crossing(self.axis_depths, axis)
        for g in grid:
            for j in range(g.shape[1]):
                depth = max(depth, deepest_crossing(self.depths, g[:, j]))
        radius = np.zeros(len(self.AZIMUTHS))
        for a, g in enumerate(grid):
            radius[a] = max((outermost_crossing(self.radii, row) for row in g[rows]), default=0.0)
        width = 0.5 * ((radius[0] + radius[1]) + (radius[2] + radius[3]))
        return {"depth": depth, "width": width}


def damaged_volume(omega: fem.Function, below: float | None = None) -> float:
    """Volume (m^3) where Omega >= 1, optionally only above the depth ``below``."""
    domain = omega.function_space.mesh
    x = ufl.SpatialCoordinate(domain)
    chi = ufl.conditional(ufl.ge(omega, 1.0), 1.0, 0.0)
    if below is not None:
        chi = chi * ufl.conditional(ufl.ge(x[2], -below), 1.0, 0.0)
    form = fem.form(chi * ufl.dx(domain=domain, metadata={"quadrature_degree": 2}))
    return domain.comm.allreduce(fem.assemble_scalar(form), op=MPI.SUM)


def damage_metrics(sampler: ColumnSampler, damage: dict, case: Case) -> dict[str, float]:
    """The column metrics of DESIGN.md from the cell-death and collagen damage fields."""
    col = sampler.column(damage["collagen"].omega)
    nec = sampler.column(damage["cell"].omega)
    epi_bottom = 0.0
    for layer in case.layers:
        if layer.name not in EPIDERMAL_LAYERS:
            break
        epi_bottom += layer.thickness
    mend = sampler.column(damage["cell"].omega, max_depth=epi_bottom) if epi_bottom else {"width": 0.0}
    area = case.cell_side**2
    treated_depth = max(col["depth"], nec["depth"])
    if treated_depth > 0:
        dead = damaged_volume(damage["cell"].omega, below=treated_depth)
        spared = 100.0 * (1.0 - dead / (area * treated_depth))
    else:
        spared = 100.0
    return {
        "mtz_depth_um": col["depth"] * 1e6,
        "mtz_width_um": col["width"] * 1e6,
        "necrosis_depth_um": nec["depth"] * 1e6,
        "necrosis_width_um": nec["width"] * 1e6,
        "mend_width_um": mend["width"] * 1e6,
        "ablation_depth_um": 0.0,  # non-ablative lasers only (the crater model is issue 4)
        "coverage_percent": 100.0 * math.pi * (0.5 * col["width"]) ** 2 / area,
        "spared_volume_percent": spared,
    }

"""Treatment patterns: where the columns of a fractional treatment land on the skin.

A fractional handpiece fires ``density_per_cm2`` microbeams per square centimetre. The layouts:

* ``single``: one column at the centre of a square patch (by default one pitch wide);
* ``unit_cell``: one column in a square whose side is the pitch ``1/sqrt(density)`` (with
  insulated, mirror-symmetric sides this is the periodic cell of a square grid);
* ``quarter_cell``: a quarter of the unit cell, ``[0, pitch/2]^2``, the column axis on the
  corner ``x = y = 0`` and the planes ``x = 0`` and ``y = 0`` symmetry planes: a dense treatment
  for the price of a quarter column;
* ``grid``: a square lattice of pitch ``1/sqrt(density)`` filling the patch;
* ``hex``: a hexagonal (triangular) lattice with the same density, nearest-neighbour distance
  ``sqrt(2 / (sqrt(3) density))``, rows offset by half a pitch;
* ``random``: ``passes`` independent passes, each placing ``round(density * area)`` columns
  uniformly (seeded) so that passes overlap into clusters as real scanned passes do;
* ``full_field``: not fractional at all: a full-field (resurfacing) treatment that heats the
  whole skin surface uniformly. Its area is much larger than the depth, so the field is
  laterally uniform and the computational block is a small square of side ``patch`` (default
  :data:`FULL_FIELD_PATCH`, 200 um): its insulated sides are exact symmetry planes of the
  infinite, uniformly heated field, so the block size does not change the thermal result. It
  has one nominal centre at (0, 0), where the metrics and probes sample (the column refinement
  of the mesh about it is harmless); ``density`` and ``passes`` are ignored. The source is a
  flat top (:class:`fem.physics.source.BeamSource`).

Columns are kept at least ``margin`` (the refined column radius) inside the patch sides, so a
column never straddles a side; all lengths in metres, the patch centred on the origin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LAYOUTS = ("single", "unit_cell", "quarter_cell", "grid", "hex", "random", "full_field")
FULL_FIELD_PATCH = 200e-6  # m: side of the block of a full-field treatment (any side will do)


@dataclass(frozen=True)
class Layout:
    """The computational domain in the plane and the column axes in it (metres)."""

    kind: str
    extent: tuple[float, float, float, float]  # xmin, xmax, ymin, ymax
    centres: tuple[tuple[float, float], ...]
    pitch: float  # nearest-neighbour distance of the lattice (square pitch for random; the
    # block side for full_field)
    mirror: tuple[str, ...] = ()  # symmetry planes x = xmin / y = ymin ("x", "y")

    @property
    def area(self) -> float:
        """Area of the domain's top surface, m^2."""
        x0, x1, y0, y1 = self.extent
        return (x1 - x0) * (y1 - y0)

    @property
    def symmetry_factor(self) -> int:
        """How many copies of the domain make the full unit (4 for the quarter cell)."""
        return 2 ** len(self.mirror)

    @property
    def count(self) -> int:
        """Number of columns (a quarter column counts as one; a full field has one nominal
        centre)."""
        return len(self.centres)

    @property
    def full_field(self) -> bool:
        """Whether the whole surface is treated (no columns: a flat-top beam covers the block)."""
        return self.kind == "full_field"


def square_pitch(density_per_m2: float) -> float:
    """Side of the square cell of one column, m."""
    return 1.0 / math.sqrt(density_per_m2)


def hex_pitch(density_per_m2: float) -> float:
    """Nearest-neighbour distance of a hexagonal lattice of the given density, m."""
    return math.sqrt(2.0 / (math.sqrt(3.0) * density_per_m2))


def _square_extent(side: float) -> tuple[float, float, float, float]:
    h = 0.5 * side
    return (-h, h, -h, h)


def make_layout(kind: str, density_per_m2: float, patch: float | None = None, margin: float = 0.0,
                seed: int = 1, passes: int = 1) -> Layout:
    """Build a layout.

    Args:
        kind: one of :data:`LAYOUTS`.
        density_per_m2: columns per square metre (per pass for ``random``; ignored by
            ``full_field``).
        patch: side of the square patch (``single``, ``grid``, ``hex``, ``random``,
            ``full_field``); defaults to one pitch for ``single``, :data:`FULL_FIELD_PATCH`
            for ``full_field`` and three pitches otherwise. Ignored by the cells.
        margin: smallest distance from a column axis to a patch side (``hex``, ``random``).
        seed: random seed (``random``).
        passes: number of independent random passes (``random``).
    """
    a = square_pitch(density_per_m2)
    if kind == "full_field":
        side = FULL_FIELD_PATCH if patch is None else patch
        return Layout(kind, _square_extent(side), ((0.0, 0.0),), side)
    if kind in ("unit_cell", "single") and patch is None:
        patch = a
    if kind == "unit_cell":
        return Layout(kind, _square_extent(a), ((0.0, 0.0),), a)
    if kind == "quarter_cell":
        return Layout(kind, (0.0, 0.5 * a, 0.0, 0.5 * a), ((0.0, 0.0),), a, ("x", "y"))
    patch = 3.0 * a if patch is None else patch
    extent = _square_extent(patch)
    if kind == "single":
        return Layout(kind, extent, ((0.0, 0.0),), a)
    if kind == "grid":
        n = max(1, round(patch / a))
        c = (np.arange(n) - 0.5 * (n - 1)) * a
        X, Y = np.meshgrid(c, c, indexing="xy")
        return Layout(kind, extent, _pairs(X.ravel(), Y.ravel()), a)
    if kind == "hex":
        return _hex(extent, hex_pitch(density_per_m2), margin)
    if kind == "random":
        return _random(extent, a, density_per_m2, margin, seed, passes)
    raise ValueError(f"unknown layout {kind!r}; allowed: {', '.join(LAYOUTS)}")


def _pairs(x: np.ndarray, y: np.ndarray) -> tuple[tuple[float, float], ...]:
    return tuple((float(a), float(b)) for a, b in zip(x, y))


def _hex(extent, a: float, margin: float) -> Layout:
    """Hexagonal lattice centred in the patch: rows ``a sqrt(3)/2`` apart, odd rows shifted."""
    x0, x1, y0, y1 = extent
    dy = 0.5 * math.sqrt(3.0) * a
    rows = max(1, round((y1 - y0) / dy))
    cols = max(1, round((x1 - x0) / a))
    ys = (np.arange(rows) - 0.5 * (rows - 1)) * dy
    xs, yy = [], []
    for j, y in enumerate(ys):
        shift = 0.25 * a if j % 2 else -0.25 * a
        x = (np.arange(cols) - 0.5 * (cols - 1)) * a + (shift if cols > 1 else 0.0)
        xs.append(x)
        yy.append(np.full_like(x, y))
    x, y = np.concatenate(xs), np.concatenate(yy)
    keep = (np.abs(x) <= 0.5 * (x1 - x0) - margin) & (np.abs(y) <= 0.5 * (y1 - y0) - margin)
    if not keep.any():  # a patch smaller than the lattice: keep the central column
        keep = np.argmin(x**2 + y**2) == np.arange(x.size)
    return Layout("hex", extent, _pairs(x[keep], y[keep]), a)


def _random(extent, a: float, density_per_m2: float, margin: float, seed: int,
            passes: int) -> Layout:
    """``passes`` independent uniform passes of ``round(density * area)`` columns each."""
    x0, x1, y0, y1 = extent
    n = max(1, round(density_per_m2 * (x1 - x0) * (y1 - y0)))
    rng = np.random.default_rng(seed)
    lo_x, hi_x = x0 + margin, x1 - margin
    lo_y, hi_y = y0 + margin, y1 - margin
    pts = rng.uniform((lo_x, lo_y), (hi_x, hi_y), size=(n * passes, 2))
    return Layout("random", extent, _pairs(pts[:, 0], pts[:, 1]), a)


def nearest_neighbour_distances(layout: Layout) -> np.ndarray:
    """Distance from each column to its nearest neighbour (inf for a single column)."""
    c = np.asarray(layout.centres)
    if len(c) < 2:
        return np.full(len(c), np.inf)
    d = np.sqrt(((c[:, None, :] - c[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    return d.min(axis=1)

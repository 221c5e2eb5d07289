"""Before meshing: how many cells the mesh of a case will have, and whether they fit in memory.

The mesher (:mod:`meshes.skin`) sets the element size with gmsh Box fields combined by a Min
field: through the top layers the far surface size over the block and the surface size over
each column, the column's slabs (the column size graded in depth,
:attr:`~meshes.skin.SkinGeometry.column_slabs`) in boxes of half-width ``column_radius`` about
each column axis down to ``column_depth``, a crater-wall size in a box about each crater, a top
size for a full field; outside each box the size grows linearly with the distance (rate
``growth``) up to the far-field size. :func:`size_field` is that function.
A tetrahedral mesh that follows a size field ``h(x)`` has about ``TETS_PER_H3 / h^3`` cells per
volume, so :func:`estimate_cells` integrates ``TETS_PER_H3 * h^-3`` over the block less the
craters: in depth by the midpoint rule on steps of half the smallest size at each depth, in
the plane by importance sampling of the squares about the columns where a column box sets the
size (:data:`SAMPLES` points, seeded: reproducible, within 2 % of 65536 points), the rest of
the block (far field and surface layers only) in closed form. It takes 5-20 ms.

Constants and where they were measured (this machine, gmsh 4.15 HXT, meshes of
:func:`meshes.skin.build_skin_block` from the demo case with overrides):

* :data:`TETS_PER_H3` = 4.5: cells of 25 actual meshes against the integral of ``h^-3``
  (coarse, medium and fine; single, unit and quarter cells, grids, hex and random patches of
  up to 40 columns, a full field, blow-off and steady-state CO2 and Er:YAG craters). The
  ratio was 4.0-4.7 for the five meshes of 0.7-3.6 M cells (grid 1000/cm2 medium 729 k: 4.58;
  single fine 789 k: 4.31; abdomen patch medium 837 k: 4.56; random 2 passes medium 2.13 M:
  4.00; grid 400/cm2 medium 2.52 M: 4.69; hex 600/cm2 fine 3.63 M: 4.26) and up to 6.9 for
  small ones (12-300 k cells, where the refined surface weighs more): the estimate is within
  -11 % / +5 % where memory matters, and low by up to a third for small meshes. (A regular
  tetrahedron of edge ``h`` would give ``6 sqrt(2) = 8.5``: gmsh's edges come out longer.)
  Measured again with the columns graded in depth and the top layers coarser away from the
  columns: the 98-column patch of ``studies/patch_100.toml`` 2.09 M cells against 2.26 M
  estimated (+8 %), the demo at medium resolution 38.8 k against 33.9 k (-13 %).
* :data:`BYTES_PER_CELL` = 5.4 kB: the peak memory of a run of 2.77 M cells with P1
  mechanics on 2 ranks was about 15 GB (all ranks together). :data:`MECHANICS_FACTOR` scales
  it for the mechanics: measured with ``/usr/bin/time -v`` on one rank, the demo at medium
  resolution with the Beer-Lambert beam (101,863 cells, ``time.end_ms = 10``, healing, fields
  and renders off) peaked at 577 MB without mechanics, 664 MB with P1 (58,575 dofs) and
  1400 MB with P2 (438,558 dofs); less the 0.25 GB of the interpreter and libraries that is
  3.2, 4.1 and 11.3 kB per cell: heat only 0.8 times P1, P2 2.8 times.
* the mesher's pairwise column distances (:func:`pairwise_bytes`, ``24 N^2`` bytes for
  ``N`` columns) bound the number of columns of one mesh.
* the machine's memory: ``os.sysconf`` physical pages times the page size, or a container's
  cgroup limit where lower; the environment variable ``MTZ_MEMORY_GB`` overrides it (a run
  over several cluster nodes: the memory of the whole allocation).

May import: :mod:`meshes` (the mesher's geometry), numpy, scipy and the standard library.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import numpy as np

from meshes.skin import SkinGeometry

log = logging.getLogger(__name__)

TETS_PER_H3 = 4.5  # cells per h^3 of the size field (measured, see the module docstring)
BYTES_PER_CELL = 5.4e3  # peak bytes per cell of a run, P1 mechanics (2.77 M cells: 15 GB)
MECHANICS_FACTOR = {"off": 0.8, 1: 1.0, 2: 2.8}  # bytes per cell against P1 (measured)
BASE_BYTES = 0.5e9  # the interpreter, PETSc and DOLFINx of one rank, before any mesh
SAMPLES = 2048  # lateral samples of the squares about the columns
MAX_DEPTH_STEPS = 20000  # depth steps of the integral, at most
MEMORY_ENV = "MTZ_MEMORY_GB"
CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
WALL_MIN_SIZE = 4.5e-6  # m: as fem.run.mesh.WALL_MIN_SIZE (the smallest crater-wall element)


def machine_memory() -> float:
    """Bytes of memory of this machine (``MTZ_MEMORY_GB`` overrides), inf if unknown."""
    env = os.environ.get(MEMORY_ENV, "").strip()
    if env:
        try:
            gb = float(env)
        except ValueError:
            gb = float("nan")
        if math.isfinite(gb) and gb > 0:
            return gb * 1e9
        log.warning("%s = %r is not a number of GB > 0: ignored", MEMORY_ENV, env)
    try:
        memory = float(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        memory = float("inf")
    for limit in CGROUP_LIMITS:  # a container's limit, where it is lower
        try:
            memory = min(memory, float(Path(limit).read_text().strip()))
        except (OSError, ValueError):
            pass
    return memory


def memory_bytes(cells: float, mechanics: dict | None = None) -> float:
    """Peak memory (bytes, all ranks together) of a run with this many cells and the resolved
    ``[mechanics]`` table (None: P1)."""
    mechanics = mechanics or {}
    kind = mechanics.get("degree", 1) if mechanics.get("enabled", True) else "off"
    return BASE_BYTES + cells * BYTES_PER_CELL * MECHANICS_FACTOR.get(kind, 1.0)


def size_field(geo: SkinGeometry, d_col, d_wall, depth):
    """Element size (m) of the mesher's size field at ``depth`` below the surface, at lateral
    distance ``d_col`` from the nearest column box and ``d_wall`` from the nearest crater box
    (arrays that broadcast)."""
    g, far = geo.growth, geo.far_size
    surf = float(sum(geo.thicknesses[: geo.surface_layers]))
    below = np.maximum(0.0, depth - surf)
    h = np.minimum(far, max(geo.surface_far_size, geo.surface_size) + g * below)
    if geo.surface_far_size > geo.surface_size:  # the top layers fine over the columns only
        h = np.minimum(h, geo.surface_size + g * np.sqrt(d_col**2 + below**2))
    for top, bottom, h_col in geo.column_slabs:
        dz = np.maximum(0.0, np.maximum(depth - bottom, top - depth))
        h = np.minimum(h, h_col + g * np.sqrt(d_col**2 + dz**2))
    if geo.top_size > 0.0:
        h = np.minimum(h, geo.top_size + g * np.maximum(0.0, depth - geo.top_depth))
    if geo.crater_profile and geo.wall_size > 0.0:
        dzw = np.maximum(0.0, depth - geo.crater_depth)
        h = np.minimum(h, geo.wall_size + g * np.sqrt(d_wall**2 + dzw**2))
    return h


def _depth_grid(geo: SkinGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Midpoints and widths of depth steps of about half the smallest size at each depth
    (equal steps of ``int 2 / h dz`` on a fine grid; the midpoint rule is then within 2 % of
    the integral of ``h^-3`` where ``h`` grows at the mesher's rate)."""
    fine = np.linspace(0.0, geo.depth, 4001)
    with np.errstate(all="ignore"):
        steps = 2.0 / size_field(geo, 0.0, 0.0, 0.5 * (fine[1:] + fine[:-1]))
        cum = np.concatenate([[0.0], np.cumsum(steps * np.diff(fine))])
    if not cum[-1] <= MAX_DEPTH_STEPS:  # elements far too small anyway: the fine grid will do
        e = fine
    else:
        n = max(int(math.ceil(cum[-1])), 1)
        e = np.interp(np.linspace(0.0, cum[-1], n + 1), cum, fine)
    return 0.5 * (e[1:] + e[:-1]), np.diff(e)


def _box_distance(dx: np.ndarray, dy: np.ndarray, half: float) -> np.ndarray:
    """Lateral distance to a square box of half-width ``half`` at offsets ``(dx, dy)``."""
    return np.hypot(np.maximum(np.abs(dx) - half, 0.0), np.maximum(np.abs(dy) - half, 0.0))


def _squares(geo: SkinGeometry) -> tuple[np.ndarray, np.ndarray, float]:
    """Corners of the squares about the columns (clipped to the block) beyond which no column
    or crater box sets the size, and their half-width before clipping."""
    x0, x1, y0, y1 = geo.extent
    centres = np.asarray(geo.centres, dtype=float).reshape(-1, 2)
    g, far = geo.growth, geo.far_size
    reach = geo.column_radius + max(far - geo.column_element, 0.0) / g
    if geo.crater_profile and geo.wall_size > 0.0:
        reach = max(reach, geo.crater_radius + max(far - geo.wall_size, 0.0) / g)
    return (np.maximum(centres - reach, [x0, y0]), np.minimum(centres + reach, [x1, y1]),
            reach)


def upper_bound_cells(geo: SkinGeometry) -> float:
    """A cheap upper bound of :func:`estimate_cells`: every square about a column refined as
    on the column axis (overlaps counted twice, craters as tissue)."""
    mid, dz = _depth_grid(geo)
    with np.errstate(all="ignore"):
        background = float(np.sum(size_field(geo, np.inf, np.inf, mid) ** -3.0 * dz))
        axis = float(np.sum(size_field(geo, 0.0, 0.0, mid) ** -3.0 * dz))
    lo, hi, _ = _squares(geo)
    total_q = float(np.prod(np.maximum(hi - lo, 0.0), axis=1).sum())
    x0, x1, y0, y1 = geo.extent
    return TETS_PER_H3 * ((x1 - x0) * (y1 - y0) * background + total_q * (axis - background))


def estimate_cells(geo: SkinGeometry, samples: int = SAMPLES) -> float:
    """Expected number of cells of the mesh of ``geo`` (see the module docstring)."""
    with np.errstate(all="ignore"):  # sizes of 1e-100 m give inf, which is refused
        return _estimate_cells(geo, samples)


def _estimate_cells(geo: SkinGeometry, samples: int) -> float:
    from scipy.spatial import cKDTree

    x0, x1, y0, y1 = geo.extent
    area = (x1 - x0) * (y1 - y0)
    mid, dz = _depth_grid(geo)
    background = float(np.sum(size_field(geo, np.inf, np.inf, mid) ** -3.0 * dz))
    centres = np.asarray(geo.centres, dtype=float).reshape(-1, 2)
    lo, hi, reach = _squares(geo)
    q = np.prod(np.maximum(hi - lo, 0.0), axis=1)
    total_q = float(q.sum())
    if not len(centres) or total_q <= 0.0:
        return TETS_PER_H3 * area * background
    crater, R = bool(geo.crater_profile), geo.crater_radius
    rng = np.random.default_rng(0)
    pick = rng.choice(len(centres), size=samples, p=q / total_q)
    pts = lo[pick] + rng.random((samples, 2)) * (hi[pick] - lo[pick])
    near = cKDTree(centres).query_ball_point(pts, reach * (1 + 1e-12), p=np.inf)
    counts = np.array([len(n) for n in near])
    owner = np.repeat(np.arange(samples), counts)
    idx = np.concatenate([np.asarray(n, dtype=int) for n in near])
    dx, dy = (pts[owner] - centres[idx]).T
    d_col = np.full(samples, np.inf)
    np.minimum.at(d_col, owner, _box_distance(dx, dy, geo.column_radius))
    d_wall = np.full(samples, np.inf)
    void = np.zeros(samples)
    if crater:
        np.minimum.at(d_wall, owner, _box_distance(dx, dy, R))
        rho = np.full(samples, np.inf)
        np.minimum.at(rho, owner, np.hypot(dx, dy))
        prof = np.asarray(geo.crater_profile)
        void = np.where(rho < R, np.interp(rho, prof[:, 0], prof[:, 1]), 0.0)
    h = size_field(geo, d_col[:, None], d_wall[:, None], mid[None, :])
    per_volume = 1.0 / (h * h * h)
    if crater:
        per_volume *= mid[None, :] >= void[:, None]
    column = per_volume @ dz
    extra = total_q * float(np.mean((column - background) / counts))
    return TETS_PER_H3 * (area * background + extra)


def lower_bound_cells(area: float, depth: float, far_size: float, columns: float,
                      column_area: float, column_depth: float, column_size: float) -> float:
    """A quick lower bound on the cells (before the columns are placed): the far field over
    the block and the refined columns, their expected union (random positions) at the
    column size."""
    covered = area * -math.expm1(-columns * column_area / area) if area > 0 else 0.0
    return TETS_PER_H3 * max(area * depth / far_size**3,
                             covered * column_depth / column_size**3)


# --------------------------------------------------------------------------------------------
# The geometry of a resolved case, and the refusal
# --------------------------------------------------------------------------------------------


def _wall_and_top(out: dict, profile_um: tuple) -> tuple[float, float, float]:
    """Crater-wall size, full-field top size and its depth (m), as
    :func:`fem.run.mesh.wall_size` and :func:`fem.run.mesh.top_refinement` choose them."""
    from fem.config.crater import depth_of_optical_depth

    lz, mesh = out["laser"], out["mesh"]
    layers = list(out["skin"]["layers"].values())
    mu = [100.0 * (la["water_fraction"] * lz["water_absorption_per_cm"]
                   + lz["reduced_scattering_per_cm"]) for la in layers]
    absorption = max(0.5 / max(max(mu[:2]), 1e-30), WALL_MIN_SIZE)
    wall = 0.0
    if profile_um:
        wall = min(mesh["column_size_um"] * 1e-6, profile_um[0][1] * 1e-6 / 3.0, absorption)
    top = depth = 0.0
    if out["pattern"]["layout"] == "full_field" and absorption < mesh["surface_size_um"] * 1e-6:
        thick = [la["thickness_um"] * 1e-6 for la in layers]
        top = absorption
        depth = min(float(depth_of_optical_depth(thick, mu, np.array(4.0))), 0.5 * sum(thick))
    return wall, top, depth


def geometry_of(out: dict, layout, profile_um: tuple) -> SkinGeometry:
    """The :class:`meshes.skin.SkinGeometry` (m) that :func:`fem.run.mesh.geometry_from_case`
    makes of a resolved case (file units), its layout and crater profile (um)."""
    layers = out["skin"]["layers"]
    mesh = out["mesh"]
    wall, top, depth = _wall_and_top(out, profile_um)
    return SkinGeometry(
        layer_names=tuple(layers), extent=layout.extent, centres=layout.centres,
        thicknesses=tuple(la["thickness_um"] * 1e-6 for la in layers.values()),
        column_radius=mesh["column_radius_um"] * 1e-6,
        column_depth=mesh["column_depth_um"] * 1e-6,
        column_size=mesh["column_size_um"] * 1e-6,
        column_bottom_size=mesh["column_bottom_size_um"] * 1e-6,
        surface_far_size=mesh["surface_far_size_um"] * 1e-6,
        surface_size=mesh["surface_size_um"] * 1e-6,
        far_size=mesh["far_size_um"] * 1e-6, quarter=layout.kind == "quarter_cell",
        crater_profile=tuple((r * 1e-6, d * 1e-6) for r, d in profile_um), wall_size=wall,
        top_size=top, top_depth=depth)


def pairwise_bytes(columns: float) -> float:
    """Bytes of the mesher's pairwise column distances (:attr:`SkinGeometry.conforming_columns`:
    an ``(N, N, 2)`` array of differences and its ``(N, N)`` squares)."""
    return 24.0 * columns**2 if columns > 1 else 0.0


def _culprit(out: dict, given: dict) -> str:
    """The key to name: the patch, else a mesh size the user set, else the resolution."""
    if "patch_um" in given.get("pattern", {}):
        return f"pattern.patch_um = {out['pattern']['patch_um']!r}"
    for key in ("column_size_um", "surface_size_um", "far_size_um"):
        if key in given.get("mesh", {}):
            return f"mesh.{key} = {out['mesh'][key]!r}"
    if out["pattern"]["layout"] in ("unit_cell", "quarter_cell"):
        return f"pattern.density_per_cm2 = {out['pattern']['density_per_cm2']!r}"
    return f"mesh.resolution = {out['mesh']['resolution']!r}"


def _count(x: float) -> str:
    """A large count for a message (``1e+30`` and beyond as a bound)."""
    return f"{x:.3g}" if x < 1e30 else "more than 1e+30"


def _refuse(out: dict, given: dict, what: str, need: float, have: float) -> None:
    from fem.config.schema import CaseError

    raise CaseError(
        f"{_culprit(out, given)}: {what} need about {_count(need / 1e9)} GB, more than the "
        f"{have / 1e9:.3g} GB of this machine ({MEMORY_ENV} overrides); allowed: a coarser "
        "mesh.resolution, larger mesh sizes (mesh.column_size_um, mesh.surface_size_um, "
        "mesh.far_size_um), a smaller pattern.patch_um or fewer columns")


def precheck_columns(out: dict, given: dict, columns: float, area_um2: float) -> None:
    """Before the columns are placed: refuse a pattern whose columns alone overflow the memory
    (the mesher's pairwise distances, or the refined columns at the column size)."""
    mesh = out["mesh"]
    total_um = sum(la["thickness_um"] for la in out["skin"]["layers"].values())
    r = mesh["column_radius_um"]
    column = SkinGeometry(
        layer_names=(), thicknesses=(), extent=(0.0, 0.0, 0.0, 0.0), centres=(),
        column_radius=r, column_depth=mesh["column_depth_um"],
        column_size=mesh["column_size_um"], surface_size=0.0, far_size=0.0,
        column_bottom_size=mesh["column_bottom_size_um"])
    # the size whose h^-3 is the mean of the column's slabs (the column graded in depth)
    slabs = column.column_slabs
    h_col = float(np.mean([h**-3.0 for _, _, h in slabs])) ** (-1.0 / 3.0)
    cells = lower_bound_cells(area_um2, total_um, mesh["far_size_um"], columns, 4 * r * r,
                              mesh["column_depth_um"], h_col)
    need = max(memory_bytes(cells, out["mechanics"]), BASE_BYTES + pairwise_bytes(columns))
    have = machine_memory()
    log.debug("budget: %.0f columns on %.4g mm2, at least %.3g cells, %.3g GB of %.3g GB",
              columns, area_um2 * 1e-6, cells, need / 1e9, have / 1e9)
    if not need <= have:  # NaN too
        _refuse(out, given, f"{columns:.4g} columns (at least {_count(cells)} cells)", need,
                have)


def check_memory(out: dict, given: dict, geo: SkinGeometry) -> float:
    """Refuse a case whose mesh (and run) would not fit in this machine's memory; returns the
    estimated number of cells (an upper bound where that fits already)."""
    have = machine_memory()
    pairs = BASE_BYTES + pairwise_bytes(len(geo.centres))
    cells = upper_bound_cells(geo)
    what = "at most"
    if not max(memory_bytes(cells, out["mechanics"]), pairs) <= have:
        cells, what = estimate_cells(geo), "about"
    need = max(memory_bytes(cells, out["mechanics"]), pairs)
    log.debug("budget: %s %.3g cells (%d columns), %.3g GB of %.3g GB", what, cells,
              len(geo.centres), need / 1e9, have / 1e9)
    if not need <= have:  # NaN too
        _refuse(out, given, f"the mesh of about {_count(cells)} cells ({len(geo.centres)} "
                f"column(s)) and its run", need, have)
    return cells

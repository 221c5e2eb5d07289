"""MTZ metrics on analytic damage fields: a cylinder of Omega > 1 gives its depth and width back
within half an element, a smooth column converges under refinement, the epidermal gap of a
known wound, coverage and spared volume, and the same metrics on 1 and on 2 ranks."""

import math
from types import SimpleNamespace

from mpi4py import MPI

import numpy as np
import pytest
import dolfinx.fem as dfem
from dolfinx import mesh

from fem.config import case_from_dict
from fem.post.metrics import (ColumnSampler, EpidermalRaster, columns_csv, damage_metrics,
                         largest_gap)

UM = 1e-6
SLOPE = 20 * UM  # log10(Omega) changes by one per 20 um across the contour


def thin_case(layout: str):
    """Face skin cut to 615 um deep, columns at 1000 /cm^2 (a 316 um pitch)."""
    return case_from_dict({
        "skin": {"layers": {"reticular_dermis": {"thickness_um": 300},
                            "fat": {"thickness_um": 100}}},
        "pattern": {"layout": layout, "density_per_cm2": 1000},
        "mesh": {"resolution": "coarse"},
    })


@pytest.fixture(scope="module")
def case():
    """One column in a 316 um cell."""
    return thin_case("single")


def box(case, n_xy: int, comm=MPI.COMM_WORLD):
    """A tetrahedral box over the case's domain with ``n_xy`` cells a side (h = side / n_xy)."""
    x0, x1, y0, y1 = case.pattern.layout.extent
    h = (x1 - x0) / n_xy
    nz = max(1, round(case.skin.depth / h))
    return mesh.create_box(comm, [[x0, y0, -case.skin.depth], [x1, y1, 0.0]], [n_xy, n_xy, nz],
                           mesh.CellType.tetrahedron), h


def field(domain, lw_of):
    """A P1 Omega = 10^lw(r, depth) about the column axis at the origin."""
    V = dfem.functionspace(domain, ("Lagrange", 1))
    omega = dfem.Function(V)
    omega.interpolate(lambda x: 10.0 ** lw_of(np.hypot(x[0], x[1]), -x[2]))
    return SimpleNamespace(omega=omega)


def cylinder(R: float, D: float):
    return lambda r, d: np.minimum(R - r, D - d) / SLOPE


def ellipsoid(R: float, D: float):
    return lambda r, d: 3.0 * (1.0 - (r / R) ** 2 - (d / D) ** 2)


def metrics_of(case, domain, cell, collagen):
    sampler = ColumnSampler(domain, case)
    return damage_metrics(sampler, {"cell": field(domain, cell),
                                    "collagen": field(domain, collagen)}, case)


def test_cylinder_gives_depth_width_gap_coverage_and_spared_volume(case):
    """Cylinders of Omega > 1 (cells: R 60 um, D 250 um; collagen: R 45 um, D 200 um) from the
    surface: depths and widths within half an element, MEND = the cell width, the epidermal
    gap = the cell radius, coverage and spared volume of the exact cylinders."""
    domain, h = box(case, 16)  # h = 19.8 um
    R, D, Rc, Dc = 60 * UM, 250 * UM, 45 * UM, 200 * UM
    m = metrics_of(case, domain, cylinder(R, D), cylinder(Rc, Dc))
    assert m["columns"] == 1
    for key, exact in (("necrosis_depth_um", D), ("necrosis_width_um", 2 * R),
                       ("mtz_depth_um", Dc), ("mtz_width_um", 2 * Rc),
                       ("mend_width_um", 2 * R), ("max_epidermal_gap_um", R)):
        assert abs(m[key] - exact / UM) < 0.5 * h / UM, (key, m[key], exact / UM)
    area = case.pattern.layout.area
    assert m["coverage_percent"] == pytest.approx(100 * math.pi * Rc**2 / area, rel=0.05)
    # spared: the living share of the treated volume (the cell cylinder in its depth)
    assert m["spared_volume_percent"] == pytest.approx(100 * (1 - math.pi * R**2 / area),
                                                       abs=1.0)


def test_contours_converge_under_refinement(case):
    """A smooth column (an ellipsoid of Omega > 1, R 70 um, D 300 um): the errors of depth and
    width fall as the mesh is refined, at a rate of at least 1.5 (P1 interpolation: 2)."""
    R, D = 70 * UM, 300 * UM
    errors, hs = [], []
    for n in (6, 12, 24):
        domain, h = box(case, n)
        sampler = ColumnSampler(domain, case)
        c = sampler.columns(field(domain, ellipsoid(R, D)).omega)[0]
        errors.append(abs(c["depth"] - D) + abs(c["width"] - 2 * R))
        hs.append(h)
        assert abs(c["depth"] - D) < 0.5 * h and abs(c["width"] - 2 * R) < 0.5 * h
    rate = np.polyfit(np.log(hs), np.log(errors), 1)[0]
    assert rate > 1.5, (rate, errors)


def test_metrics_do_not_depend_on_the_number_of_ranks(case):
    """The same field on the whole communicator and on each rank alone gives the same metrics
    (a real check under mpiexec -n 2; the partition differs, the located contours do not)."""
    R, D = 55 * UM, 230 * UM
    lw = lambda r, d: np.minimum(R - r, D - d) / SLOPE + 0.3 * np.sin(r / (30 * UM))  # noqa
    world, _ = box(case, 12)
    alone, _ = box(case, 12, MPI.COMM_SELF)
    m_world = metrics_of(case, world, lw, ellipsoid(R, D))
    m_alone = metrics_of(case, alone, lw, ellipsoid(R, D))
    assert m_world.keys() == m_alone.keys()
    for key, v in m_world.items():
        assert v == pytest.approx(m_alone[key], rel=1e-9, abs=1e-9), key
    all_ranks = MPI.COMM_WORLD.allgather(m_world)
    assert all(m == all_ranks[0] for m in all_ranks)


def test_epidermal_gap_of_two_overlapping_wounds_and_a_corner_wound():
    """Two discs of radius 50 um, centres 60 um apart: the farthest injured point from viable
    skin is a disc centre, 50 um from the union's edge; a quarter disc of radius 40 um in the
    corner of a quarter cell: 40 um; nothing injured: 0."""
    x = (np.arange(200) + 0.5) * 1.5 * UM
    X, Y = np.meshgrid(x, x)
    lw = np.maximum(50 * UM - np.hypot(X - 100 * UM, Y - 150 * UM),
                    50 * UM - np.hypot(X - 160 * UM, Y - 150 * UM)) / SLOPE
    assert largest_gap(lw, x, x) == pytest.approx(50 * UM, abs=0.5 * UM)
    xc = (np.arange(60) + 0.5) * 5 * UM  # coarse pixels: sub-pixel contour
    Xc, Yc = np.meshgrid(xc, xc)
    assert largest_gap((40 * UM - np.hypot(Xc, Yc)) / SLOPE, xc, xc) == pytest.approx(
        40 * UM, abs=0.5 * UM)
    assert largest_gap(-np.ones((10, 10)), xc[:10], xc[:10]) == 0.0


def test_epidermal_raster_without_epidermis_gives_zero(case):
    """A stack without a layer named ``epidermis`` has no epidermal gap to report."""
    layers = {name: dict(v) for name, v in case.resolved["skin"]["layers"].items()
              if name in ("papillary_dermis", "reticular_dermis")}
    own = case_from_dict({"skin": {"preset": "none", "layers": layers},
                          "pattern": {"layout": "single", "density_per_cm2": 1000},
                          "mesh": {"resolution": "coarse"}})
    domain, _ = box(own, 6)
    raster = EpidermalRaster(domain, own)
    assert raster.max_gap(field(domain, cylinder(50 * UM, 100 * UM)).omega) == 0.0


def test_first_run_end_on_a_crater_ring_a_neighbour_and_a_cluster():
    """Along a radial line: a crater (NaN) then a damaged wall counts; a neighbour's damage
    beyond sound tissue does not; fused damage runs to its edge."""
    from fem.post.metrics import first_run_end

    r = np.linspace(0.0, 100.0, 101)
    ring = np.where(r < 20, np.nan, (50.0 - r) / 10)
    assert first_run_end(r, ring) == pytest.approx(50.0)
    two = np.maximum((30.0 - r) / 10, (r - 70.0) / 10)  # own column to 30, a neighbour from 70
    assert first_run_end(r, two) == pytest.approx(30.0)
    fused = np.maximum((45.0 - r) / 10, (15.0 - abs(r - 55.0)) / 10)  # 0..45 and 40..70
    assert first_run_end(r, fused) == pytest.approx(70.0)
    assert first_run_end(r, -np.ones_like(r)) == 0.0


def test_grid_of_columns_gives_each_width_and_the_summary():
    """A 3 x 3 grid (pitch 316 um) of cylinders of different radii: every column's width within
    half an element, the mean, min and max of the patch."""
    case = thin_case("grid")
    centres = np.array(case.pattern.layout.centres)
    assert len(centres) == 9
    radii = (40 + 5 * np.arange(9)) * UM
    domain, h = box(case, 30)  # h = 31.6 um

    def lw(x):
        return np.max([np.minimum(R - np.hypot(x[0] - cx, x[1] - cy), 200 * UM + x[2])
                       for (cx, cy), R in zip(centres, radii)], axis=0) / SLOPE

    V = dfem.functionspace(domain, ("Lagrange", 1))
    omega = dfem.Function(V)
    omega.interpolate(lambda x: 10.0 ** lw(x))
    sampler = ColumnSampler(domain, case)
    cols = sampler.columns(omega)
    widths = np.array([c["width"] for c in cols])
    assert np.all(np.abs(widths - 2 * radii) < 0.5 * h), (widths - 2 * radii) / UM
    assert np.all(np.abs(np.array([c["depth"] for c in cols]) - 200 * UM) < 0.5 * h)
    rows = []
    m = damage_metrics(sampler, {"cell": SimpleNamespace(omega=omega),
                                 "collagen": SimpleNamespace(omega=omega)}, case,
                       per_column=rows)
    assert [r["mtz_width_um"] for r in rows] == pytest.approx(widths / UM)
    assert np.allclose([(r["x_um"], r["y_um"]) for r in rows], centres / UM)
    table = columns_csv(rows).splitlines()
    assert table[0].startswith("column,x_um,y_um,mtz_depth_um") and len(table) == 10
    assert m["mtz_width_um_min"] == pytest.approx(widths.min() / UM)
    assert m["mtz_width_um_max"] == pytest.approx(widths.max() / UM)
    assert m["mtz_width_um"] == pytest.approx(widths.mean() / UM)
    assert m["max_epidermal_gap_um"] == pytest.approx(radii.max() / UM, abs=0.5 * h / UM)


def test_projected_fraction_places_the_contour_between_pixel_centres():
    """A disc of radius 7.3 pixels on a 40 x 40 raster of a linear log10(Omega) profile: its
    area within 1 % (plain pixel counting is off by several per cent at this size)."""
    from fem.post.metrics import projected_fraction

    x = np.arange(40) + 0.5
    X, Y = np.meshgrid(x, x)
    lw = (7.3 - np.hypot(X - 18.2, Y - 21.7)) / 3.0
    assert projected_fraction(lw) == pytest.approx(math.pi * 7.3**2 / 1600, rel=0.01)
    assert projected_fraction(-np.ones((5, 7))) == 0.0
    assert projected_fraction(np.ones((5, 7))) == 1.0


def test_coverage_of_a_buried_column_and_of_a_fused_cluster(case):
    """Coverage is the damaged region projected onto the surface: a buried lens of Omega > 1,
    widest (R 70 um) 150 um below the surface, covers pi R^2; on a 3 x 3 grid of cylinders
    fused into one cluster (R 170 um at a pitch of 316 um: 87 %) coverage is the area of the union
    of the discs, not of discs of the measured widths (each the cluster's edge)."""
    R = 70 * UM
    lens = lambda r, d: 3.0 * (1.0 - (r / R) ** 2 - ((d - 150 * UM) / (90 * UM)) ** 2)  # noqa
    domain, _ = box(case, 32)  # h = 9.9 um: the P1 contour is 2 % short in area (16: 6 %)
    m = metrics_of(case, domain, lens, lens)
    assert m["coverage_percent"] == pytest.approx(100 * math.pi * R**2 / case.pattern.layout.area,
                                                  rel=0.03)

    grid = thin_case("grid")
    centres = np.array(grid.pattern.layout.centres)
    Rc = 170 * UM

    def lw(x):
        r = np.min([np.hypot(x[0] - cx, x[1] - cy) for cx, cy in centres], axis=0)
        return np.minimum(Rc - r, 200 * UM + x[2]) / SLOPE

    domain, h = box(grid, 30)
    V = dfem.functionspace(domain, ("Lagrange", 1))
    omega = dfem.Function(V)
    omega.interpolate(lambda x: 10.0 ** lw(x))
    damage = {"cell": SimpleNamespace(omega=omega), "collagen": SimpleNamespace(omega=omega)}
    m = damage_metrics(ColumnSampler(domain, grid), damage, grid)
    x0, x1, y0, y1 = grid.pattern.layout.extent
    fine = np.linspace(x0, x1, 2001)
    X, Y = np.meshgrid(fine, np.linspace(y0, y1, 2001))
    union = np.min([np.hypot(X - cx, Y - cy) for cx, cy in centres], axis=0) <= Rc
    assert m["coverage_percent"] == pytest.approx(100 * union.mean(), rel=0.02)
    assert m["coverage_percent"] < 90.0  # discs of the widths (the lines' reach) give 99.5 %

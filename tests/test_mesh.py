"""The skin block: physical groups, tags, layer, column and crater volumes, quality, cache."""

import json
import math
import subprocess

from mpi4py import MPI

import numpy as np
import pytest
import ufl
import dolfinx.fem as dfem

from fem.config import load_case
from fem.run.mesh import geometry_from_case, to_dolfinx
from meshes.skin import (BOTTOM, MIN_QUALITY, SIDES, TOP, WALL, build_skin_block, layer_tag,
                         quality_summary)

from conftest import ROOT

DEMO = ROOT / "studies" / "demo.toml"
# The geometry tests fix the beam (which sets the column radius and element sizes), so that
# they do not move with the calibration of the laser presets.
# (Craters are cut under the Beer-Lambert beam only.)
COARSE = ["mesh.resolution='coarse'", "laser.spot_um=140", "laser.light='beer_lambert'"]


def mesh_of(overrides, cache_dir=None):
    case = load_case(DEMO, COARSE + overrides)
    data, quality = to_dolfinx(geometry_from_case(case), MPI.COMM_WORLD, cache_dir)
    return case, data, quality


@pytest.fixture(scope="module")
def built():
    return mesh_of([])


def integrate(data, measure):
    return data.mesh.comm.allreduce(
        dfem.assemble_scalar(dfem.form(dfem.Constant(data.mesh, 1.0) * measure)), op=MPI.SUM)


def dx_of(data):
    return ufl.Measure("dx", domain=data.mesh, subdomain_data=data.cell_tags)


def test_physical_groups_name_every_layer_column_and_boundary(built):
    case, data, _ = built
    names = set(data.physical_groups)
    assert [la.name for la in case.skin.layers] == [
        "stratum_corneum", "epidermis", "papillary_dermis", "reticular_dermis", "fat"]
    for layer in case.skin.layers:
        assert layer.name in names
    assert {"column_stratum_corneum", "column_epidermis", "column_papillary_dermis",
            "column_reticular_dermis"} <= names
    assert {"top", "bottom", "sides"} <= names and "crater_wall" not in names


def test_layer_volumes_equal_the_box_sizes(built):
    case, data, _ = built
    dx = dx_of(data)
    for i, layer in enumerate(case.skin.layers):
        vol = integrate(data, dx(layer_tag(i, False))) + integrate(data, dx(layer_tag(i, True)))
        assert vol == pytest.approx(case.pattern.layout.area * layer.thickness, rel=1e-9)


def test_column_volume_is_the_cylinder():
    """The refined column is the cylinder, faceted by its elements: at the column size all the
    way down within 2 %, graded in depth (the default: 12 segments round it at the bottom)
    within the area of a polygon of 12 sides (4.5 %)."""
    for bottom, rel in (("mesh.column_bottom_size_um=42", 0.02), (None, 0.045)):
        case, data, _ = mesh_of([bottom] if bottom else [])
        dx = dx_of(data)
        vol = sum(integrate(data, dx(layer_tag(i, True))) for i in range(len(case.skin.layers)))
        exact = math.pi * case.mesh.column_radius**2 * case.mesh.column_depth
        assert vol == pytest.approx(exact, rel=rel)  # faceted cylinder
        assert vol < exact


def test_boundary_areas(built):
    case, data, _ = built
    ds = ufl.Measure("ds", domain=data.mesh, subdomain_data=data.facet_tags)
    x0, x1, y0, y1 = case.pattern.layout.extent
    D = case.skin.depth
    assert integrate(data, ds(TOP)) == pytest.approx(case.pattern.layout.area, rel=1e-9)
    assert integrate(data, ds(BOTTOM)) == pytest.approx(case.pattern.layout.area, rel=1e-9)
    assert integrate(data, ds(SIDES)) == pytest.approx(2 * (x1 - x0 + y1 - y0) * D, rel=1e-9)


def test_quality_summary(built):
    _, data, quality = built
    assert quality["cells"] == data.mesh.topology.index_map(3).size_global
    assert quality["min_quality"] >= MIN_QUALITY
    assert 0.6 < quality["mean_quality"] <= 1.0
    assert sum(r["cells"] for r in quality["regions"].values()) == quality["cells"]
    for region in quality["regions"].values():
        assert region["min_quality"] <= region["mean_quality"] <= 1.0


@pytest.mark.parametrize("shape, factor", [("cone", 1 / 3), ("paraboloid", 1 / 2)])
@pytest.mark.parametrize("layout", ["unit_cell", "quarter_cell"])
def test_crater_volume_and_wall(shape, factor, layout):
    depth, diameter = 60.0, 160.0
    case, data, _ = mesh_of([f"crater.shape={shape!r}", f"crater.depth_um={depth}",
                             f"crater.diameter_um={diameter}", f"pattern.layout={layout!r}"])
    exact = factor * math.pi * (diameter / 2 * 1e-6) ** 2 * depth * 1e-6
    assert case.crater.volume == pytest.approx(exact, rel=3e-3)  # 12 chords of a parabola
    share = 1 / case.pattern.layout.symmetry_factor  # a quarter crater in the quarter cell
    removed = case.pattern.layout.area * case.skin.depth - integrate(data, ufl.dx(domain=data.mesh))
    assert removed == pytest.approx(share * exact, rel=0.03)  # faceted curved wall
    ds = ufl.Measure("ds", domain=data.mesh, subdomain_data=data.facet_tags)
    R, d = diameter / 2 * 1e-6, depth * 1e-6
    top = integrate(data, ds(TOP))
    assert top == pytest.approx(case.pattern.layout.area - share * math.pi * R**2, rel=0.01)
    wall = integrate(data, ds(WALL))
    if shape == "cone":
        assert wall == pytest.approx(share * math.pi * R * math.hypot(R, d), rel=0.02)
    else:  # z = c r^2: area = pi / (6 c^2) ((1 + 4 c^2 R^2)^(3/2) - 1)
        c = d / R**2
        exact_wall = math.pi / (6 * c**2) * ((1 + 4 * c**2 * R**2) ** 1.5 - 1)
        assert wall == pytest.approx(share * exact_wall, rel=0.02)


@pytest.mark.serial
@pytest.mark.parametrize("overrides", [
    ["pattern.layout='grid'", "pattern.patch_um=632.5"],
    ["pattern.layout='hex'", "pattern.patch_um=1000"],
    ["pattern.layout='random'", "pattern.patch_um=700", "pattern.passes=3", "pattern.seed=3"],
    ["pattern.layout='random'", "pattern.patch_um=560", "pattern.passes=2",
     "crater.shape='cone'", "crater.depth_um=30", "crater.diameter_um=100"],
], ids=["grid", "hex", "random-3-passes", "random-craters"])
def test_patterns_mesh_with_good_elements(overrides):
    """Multi-column patches (small ones, 1000 columns/cm2) mesh with no element below the
    quality bound and tag the columns, overlapping or not."""
    import gmsh

    case = load_case(DEMO, COARSE + ["pattern.density_per_cm2=1000",
                                     "skin.layers.reticular_dermis.thickness_um=600",
                                     "mesh.column_depth_um=500"] + overrides)
    geo = geometry_from_case(case)
    assert len(geo.centres) >= 3
    gmsh.initialize(interruptible=False)
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.option.setNumber("General.NumThreads", 1)
    try:
        gmsh.model.add("pattern")
        build_skin_block(gmsh.model, geo)
        q = quality_summary(gmsh.model)
        kinds = {gmsh.model.getPhysicalName(2, t) for _, t in gmsh.model.getPhysicalGroups(2)}
    finally:
        gmsh.finalize()
    # Overlapping craters meet at sharp edges, which bounds the quality of the cells there.
    assert q["min_quality"] >= (MIN_QUALITY if case.crater.shape != "none" else 0.25)
    assert ("crater_wall" in kinds) == (case.crater.shape != "none")
    if geo.conforming_columns:  # geometric columns: a column group per layer they cross
        assert q["regions"]["column_epidermis"]["cells"] > 0


def test_overlapping_columns_are_tagged_by_centroid():
    case, data, _ = mesh_of(["pattern.layout='random'", "pattern.density_per_cm2=1000",
                             "pattern.patch_um=700", "pattern.passes=3", "pattern.seed=3",
                             "skin.layers.reticular_dermis.thickness_um=600",
                             "mesh.column_depth_um=500"])
    geo = geometry_from_case(case)
    assert not geo.conforming_columns
    dx = dx_of(data)
    vol = sum(integrate(data, dx(layer_tag(i, True))) for i in range(len(case.skin.layers)))
    # Union of the column cylinders, by Monte Carlo on the same axes (seeded).
    rng = np.random.default_rng(0)
    x0, x1, y0, y1 = case.pattern.layout.extent
    p = rng.uniform((x0, y0), (x1, y1), size=(200_000, 2))
    c = np.array(case.pattern.layout.centres)
    inside = (((p[:, None, :] - c[None, :, :]) ** 2).sum(-1) < case.mesh.column_radius**2).any(1)
    exact = inside.mean() * case.pattern.layout.area * case.mesh.column_depth
    assert vol == pytest.approx(exact, rel=0.15)  # cells by centroid: a jagged union


def test_mesh_cache_reuses_a_geometry(shared_tmp):
    cache = shared_tmp / "mesh-cache"
    _, first, q1 = mesh_of(["pattern.layout='quarter_cell'"], cache)
    _, second, q2 = mesh_of(["pattern.layout='quarter_cell'", "laser.pulse_ms=5"], cache)
    assert not q1["cached"] and q2["cached"]
    assert q1["cells"] == q2["cells"] and q1["min_quality"] == q2["min_quality"]
    tags = sorted(set().union(*MPI.COMM_WORLD.allgather(set(first.cell_tags.values.tolist()))))
    for tag in tags:  # the same loop on every rank (a rank may lack a region)
        a = integrate(first, dx_of(first)(int(tag)))
        b = integrate(second, dx_of(second)(int(tag)))
        assert a == pytest.approx(b, rel=1e-12)
    _, _, q3 = mesh_of(["pattern.layout='quarter_cell'", "mesh.column_size_um=30"], cache)
    assert not q3["cached"]  # another geometry, another mesh
    if MPI.COMM_WORLD.rank == 0:
        assert len(list(cache.glob("*.msh"))) == 2


def test_a_mesh_failure_on_rank_0_reaches_every_rank(monkeypatch):
    """gmsh meshes on rank 0 only; when it fails, every rank raises its error (under mpiexec
    the other ranks would otherwise wait for the mesh for ever)."""
    import fem.run.mesh
    from meshes.skin import MeshError

    def fail(*args):
        raise MeshError("gmsh could not mesh the test geometry")

    monkeypatch.setattr(fem.run.mesh, "_build_or_load", fail)
    with pytest.raises(MeshError, match="could not mesh the test geometry"):
        mesh_of([])


@pytest.mark.serial
def test_mtz_mesh_writes_mesh_quality_and_render(tmp_path, mtz_cmd):
    out = tmp_path / "mesh"
    p = subprocess.run(mtz_cmd + ["mesh", str(DEMO), "-o", str(out), "--set",
                                  "mesh.resolution='coarse'", "--set",
                                  "pattern.layout='quarter_cell'"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    for name in ("mesh.xdmf", "mesh.h5", "mesh.vtu", "mesh.json", "mesh_quality.json",
                 "renders/mesh_cut.png"):
        assert (out / name).is_file(), name
    quality = json.loads((out / "mesh_quality.json").read_text())
    assert quality["min_quality"] >= MIN_QUALITY
    assert "column_epidermis" in quality["regions"]
    assert "min quality" in p.stderr and "column_epidermis" in p.stderr

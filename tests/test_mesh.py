"""The skin block: physical groups, tags, layer and column volumes, quality."""

import math

from mpi4py import MPI

import numpy as np
import pytest
import ufl
from dolfinx import fem

from fem.config import load_case
from meshes.skin import BOTTOM, SIDES, TOP, geometry_from_case, layer_tag, to_dolfinx

from conftest import ROOT


@pytest.fixture(scope="module")
def built():
    case = load_case(ROOT / "studies" / "demo.toml", ["mesh.resolution=coarse"])
    data, quality = to_dolfinx(geometry_from_case(case), MPI.COMM_WORLD)
    return case, data, quality


def integrate(data, measure):
    return data.mesh.comm.allreduce(
        fem.assemble_scalar(fem.form(fem.Constant(data.mesh, 1.0) * measure)), op=MPI.SUM)


def test_physical_groups_name_every_layer_column_and_boundary(built):
    case, data, _ = built
    names = set(data.physical_groups)
    for layer in case.layers:
        assert layer.name in names
    assert {"column_stratum_corneum", "column_epidermis", "column_dermis"} <= names
    assert {"top", "bottom", "sides"} <= names


def test_layer_volumes_equal_the_box_sizes(built):
    case, data, _ = built
    dx = ufl.Measure("dx", domain=data.mesh, subdomain_data=data.cell_tags)
    area = case.cell_side**2
    for i, layer in enumerate(case.layers):
        vol = integrate(data, dx(layer_tag(i, False))) + integrate(data, dx(layer_tag(i, True)))
        assert vol == pytest.approx(area * layer.thickness, rel=1e-9)


def test_column_volume_is_the_cylinder(built):
    case, data, _ = built
    dx = ufl.Measure("dx", domain=data.mesh, subdomain_data=data.cell_tags)
    vol = sum(integrate(data, dx(layer_tag(i, True))) for i in range(len(case.layers)))
    exact = math.pi * case.column_radius**2 * case.column_depth
    assert vol == pytest.approx(exact, rel=0.02)  # faceted cylinder


def test_boundary_areas(built):
    case, data, _ = built
    ds = ufl.Measure("ds", domain=data.mesh, subdomain_data=data.facet_tags)
    L, D = case.cell_side, case.depth
    assert integrate(data, ds(TOP)) == pytest.approx(L * L, rel=1e-9)
    assert integrate(data, ds(BOTTOM)) == pytest.approx(L * L, rel=1e-9)
    assert integrate(data, ds(SIDES)) == pytest.approx(4 * L * D, rel=1e-9)


def test_quality_summary(built):
    _, data, quality = built
    assert quality["cells"] == data.mesh.topology.index_map(3).size_global
    assert quality["min_quality"] > 0.1
    assert 0.6 < quality["mean_quality"] <= 1.0
    assert sum(r["cells"] for r in quality["regions"].values()) == quality["cells"]

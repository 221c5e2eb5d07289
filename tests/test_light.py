"""The light models on the mesh: the Monte Carlo beam map as a heat source (histopolation,
exact budget, cache, the same map on any number of ranks) and the energy ledger of both
models (Fresnel reflection, absorbed, transmitted, side loss)."""

import math

from mpi4py import MPI

import numpy as np
import pytest

from fem.config import CaseError, load_case
from fem.physics.beam_map import ScatteredBeam, disc_rectangle_area
from fem.run import light
from fem.run.problems import beam_source

from conftest import ROOT

DEMO = ROOT / "studies" / "demo.toml"
FAST = ["mesh.resolution='coarse'", "laser.photons=40000", "healing.enabled=false"]


@pytest.fixture(autouse=True)
def no_cache(monkeypatch):
    monkeypatch.setenv("MTZ_LIGHT_CACHE", "off")


def test_disc_rectangle_area_is_exact():
    R = np.array([0.5, 1.0, 2.0, 3.0])
    assert disc_rectangle_area(R, 0, 0, (-5, 5, -5, 5)) == pytest.approx(math.pi * R**2)
    assert disc_rectangle_area(R, 0, 0, (0, 5, 0, 5)) == pytest.approx(math.pi * R**2 / 4)
    assert disc_rectangle_area(R, 0, 0, (-1, 1, -1, 1))[-2:] == pytest.approx([4.0, 4.0])
    # a disc of radius 1 cut by the line x = 0.5: a circular segment off
    seg = math.acos(0.5) - 0.5 * math.sqrt(0.75)
    assert disc_rectangle_area(np.array([1.0]), 0, 0, (-2, 0.5, -2, 2))[0] == pytest.approx(
        math.pi - seg, rel=1e-12)


def test_beer_lambert_ledger_closes_with_the_fresnel_reflection():
    for layout in ("single", "quarter_cell"):
        case = load_case(DEMO, ["laser.light='beer_lambert'", f"pattern.layout='{layout}'"])
        led = beam_source(case).ledger()
        n = case.laser.refractive_index
        assert led.specular == pytest.approx(((n - 1) / (n + 1)) ** 2)
        assert led.diffuse == 0.0 and led.ablation == 0.0
        assert min(led.absorbed, led.transmitted, led.side_loss) >= 0.0
        assert led.error < 1e-12
        assert led.absorbed > 0.5


def test_histopolation_keeps_the_energy_of_each_ring():
    """The interpolated density integrates over the map to its absorbed energy, per depth bin
    (the PCHIP of the cumulative energy in r^2 is exact at ring edges)."""
    case = load_case(DEMO, FAST)
    layers, launch, grid = light.optics(case)
    from fem.physics import photon

    m = photon.simulate(layers, launch, grid, photons=20000, seed=3)
    beam = ScatteredBeam(m, 1.0)
    r = beam.r_fine
    per_bin = np.array([np.trapezoid(beam.q_fine[:, j] * 2 * math.pi * r, r)
                        for j in range(m.absorbed.shape[1])]) * np.diff(m.z_edges)
    big = m.absorbed.sum(axis=0) > 1e-3
    assert per_bin[big] == pytest.approx(m.absorbed.sum(axis=0)[big], rel=2e-3)
    assert np.all(beam.q_fine >= 0.0)


def test_many_columns_core_and_halo_equal_the_exact_sum():
    """The sum over many columns, cores exact and halos on a lattice, equals the exact sum of
    every column at every point to 0.1 % of the peak density, and its mean to 1e-4; the
    value at a point does not depend on which other points are evaluated with it (a rank's
    share of a partition)."""
    case = load_case(DEMO, FAST)
    layers, launch, grid = light.optics(case)
    from fem.physics import beam_map, photon

    m = photon.simulate(layers, launch, grid, photons=20000, seed=3)
    beam = ScatteredBeam(m, 1.0)
    rng = np.random.default_rng(1)
    centres = [tuple(c) for c in rng.uniform(-1.5e-3, 1.5e-3, (12, 2))]
    assert len(centres) >= beam_map.SPLIT_COLUMNS
    x = np.vstack([rng.uniform(-1.7e-3, 1.7e-3, (2, 20000)), -rng.uniform(0, 4e-4, 20000)])
    split = beam.density(2, x, centres, False)
    exact = beam.direct_density(2, x, centres)
    peak = exact.max()
    assert np.abs(split - exact).max() < 1e-3 * peak
    assert split.mean() == pytest.approx(exact.mean(), rel=1e-4)
    half = beam.density(2, x[:, ::2], centres, False)  # another set of points
    assert np.array_equal(half, split[::2])
    # the firing groups at the same points, each as evaluated alone; a few columns are summed
    # exactly (the binned points select and add as the direct sum does: to the last bit)
    sets = [centres, centres[:3], centres[5:]]
    for q, c in zip(beam.densities(2, x, sets, False), sets):
        assert np.array_equal(q, beam.density(2, x, c, False))
    assert np.array_equal(beam.density(2, x, centres[:3], False),
                          beam.direct_density(2, x, centres[:3]))


def test_the_map_is_the_same_on_one_and_all_ranks():
    case = load_case(DEMO, FAST)
    world = light.beam_map(case, MPI.COMM_WORLD)
    alone = light.beam_map(case, MPI.COMM_SELF)
    assert np.array_equal(world.absorbed, alone.absorbed)
    assert world.diffuse_reflectance == alone.diffuse_reflectance
    assert world.ledger_error < 1e-12


def test_the_map_cache_is_keyed_by_the_optics(shared_tmp, monkeypatch):
    cache = shared_tmp / "light_cache"
    monkeypatch.setenv("MTZ_LIGHT_CACHE", str(cache))
    case = load_case(DEMO, FAST)
    first = light.beam_map(case, MPI.COMM_WORLD)
    MPI.COMM_WORLD.Barrier()
    assert len(list(cache.glob("*.npz"))) == 1
    again = light.beam_map(case, MPI.COMM_WORLD)
    assert np.array_equal(first.absorbed, again.absorbed) and again.photons == first.photons
    # the energy does not enter the map; the scattering does
    assert light.cache_key(load_case(DEMO, [*FAST, "laser.energy_mJ=20"])) == \
        light.cache_key(case)
    assert light.cache_key(load_case(DEMO, [*FAST, "laser.reduced_scattering_per_cm=12"])) \
        != light.cache_key(case)


@pytest.mark.parametrize("layout", ["single", "quarter_cell", "full_field"])
def test_monte_carlo_source_is_energy_exact_on_the_mesh(layout):
    """The finite-element integral of the mapped source equals the map's exact budget in the
    domain (rings cut by the domain rectangle) within 0.5 % on the coarse mesh, and the ledger
    of the photons closes to round-off."""
    from fem.run.mesh import build_mesh
    from fem.run.problems import heat_problem

    case = load_case(DEMO, [*FAST, f"pattern.layout='{layout}'"])
    source = beam_source(case, MPI.COMM_WORLD)
    data, _ = build_mesh(case, MPI.COMM_WORLD)
    heat = heat_problem(data.mesh, data.cell_tags, data.facet_tags, case, source)
    exact = source.expected_absorbed_fraction()
    assert heat.source_integral == pytest.approx(exact, rel=5e-3)
    led = source.ledger()
    assert led.error < 1e-12 and led.diffuse > 0.01 and led.side_loss >= 0.0
    assert led.specular == pytest.approx(((1.4 - 1) / 2.4) ** 2, rel=1e-6)


def test_monte_carlo_refuses_a_crater():
    with pytest.raises(CaseError, match="crater.shape = 'cone'"):
        load_case(DEMO, ["crater.shape='cone'", "crater.depth_um=50", "crater.diameter_um=60"])

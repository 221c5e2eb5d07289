"""Verification of the Monte Carlo light transport (fem.physics.photon).

References:

* Matched slab (n = 1, mu_a = 10 /cm, mu_s = 90 /cm, g = 0.75, 0.02 cm; optical thickness 2,
  albedo 0.9): total diffuse reflectance 0.09739 and total transmittance 0.66096, van de Hulst
  (1980) as tabulated by Wang, Jacques & Zheng 1995 (MCML, Comput Methods Programs Biomed
  47:131, the comparison table of section 4).
* Mismatched slab (n = 1.5 in air, same mu_a, mu_s and thickness, g = 0): the adding-doubling
  solution (Prahl's method; iadpython 0.5.3 ``Sample(a=0.9, b=2, g=0, n=1.5).rt()`` converged
  over 24-64 quadrature points, less the specular 0.04): diffuse reflectance 0.21307(2),
  total transmittance 0.28880(2). MCML itself (10^6 packets, the program of Wang & Wu,
  Biomedical Optics 2007) gives 0.21335 and 0.28881 for this slab.
* Thick slab: the decay of the laterally integrated absorption deep in the medium against
  diffusion theory, mu_eff = sqrt(3 mu_a (mu_a + mu_s')), and against the exact transport
  asymptote (the P_N eigenvalue of the Henyey-Greenstein medium, computed here).
"""

from mpi4py import MPI

import numpy as np
import pytest

from fem.physics.photon import Launch, MapGrid, OpticalLayer, simulate

CM = 100.0  # 1/cm in 1/m
PENCIL = Launch(w0=0.0, focal_depth=0.0, divergence=0.0)


def mcml_slab(n: float, g: float) -> list[OpticalLayer]:
    """The MCML test slab: mu_a = 10 /cm, mu_s = 90 /cm, 0.02 cm thick."""
    return [OpticalLayer(thickness=0.02e-2, mu_a=10 * CM, mu_s=90 * CM, g=g, n=n)]


def skin() -> list[OpticalLayer]:
    """The 1550 nm skin stack: stratum corneum, epidermis, dermis, fat."""
    thick = (15e-6, 50e-6, 1200e-6, 1000e-6)
    water = (0.3, 0.7, 0.7, 0.15)
    return [OpticalLayer(t, f * 10 * CM, 100 * CM, 0.9, 1.4) for t, f in zip(thick, water)]


@pytest.mark.parametrize("n, g, r_ref, t_ref, ref_tol", [
    (1.0, 0.75, 0.09739, 0.66096, 1e-5),  # van de Hulst, via MCML 1995
    (1.5, 0.0, 0.21307, 0.28880, 1e-4),  # adding-doubling (see the module docstring)
])
def test_mcml_slabs_against_reference_tables(n, g, r_ref, t_ref, ref_tol):
    res = simulate(mcml_slab(n, g), PENCIL, MapGrid(1e-3, 10, 0.05e-3), photons=100_000,
                   batch=5_000, n_below=1.0)
    assert res.specular == pytest.approx(((n - 1) / (n + 1)) ** 2, rel=1e-12)
    assert abs(res.diffuse_reflectance - r_ref) < 3 * res.diffuse_reflectance_error + ref_tol
    assert abs(res.transmitted - t_ref) < 3 * res.transmitted_error + ref_tol
    assert 0 < res.diffuse_reflectance_error < 2e-3 and 0 < res.transmitted_error < 2e-3
    assert res.ledger_error < 1e-12


def test_absorption_only_is_beer_lambert_bin_by_bin():
    n = 1.4
    layers = [OpticalLayer(40e-6, 20 * CM, 0.0, 0.0, n), OpticalLayer(100e-6, 50 * CM, 0.0, 0.0, n),
              OpticalLayer(60e-6, 5 * CM, 0.0, 0.0, n)]
    grid = MapGrid(r_max=0.5e-3, nr=20, dz=10e-6)
    res = simulate(layers, Launch(50e-6, 0.0, 0.0), grid, photons=2_000, batch=500)
    z = res.z_edges
    assert z.size == 21 and np.allclose(z[[4, 14]], [40e-6, 140e-6], rtol=0, atol=1e-18)
    mu = np.array([lay.mu_a for lay in layers])[res.layer_of_bin]
    tau = np.concatenate([[0.0], np.cumsum(mu * np.diff(z))])
    r_sp = ((n - 1) / (n + 1)) ** 2
    expected = (1 - r_sp) * (np.exp(-tau[:-1]) - np.exp(-tau[1:]))
    np.testing.assert_allclose(res.absorbed.sum(axis=0), expected, rtol=1e-12, atol=0)
    assert res.specular == pytest.approx(r_sp, rel=1e-14)
    assert res.transmitted == pytest.approx((1 - r_sp) * np.exp(-tau[-1]), rel=1e-12)
    assert res.diffuse_reflectance == 0.0 and res.absorbed_beyond == 0.0
    assert res.ledger_error < 1e-12
    volume = np.pi * np.diff(res.r_edges ** 2)[:, None] * np.diff(z)[None, :]
    np.testing.assert_allclose(res.density() * volume, res.absorbed, rtol=1e-14)


def test_launch_reproduces_the_beam_radius_in_depth():
    """Non-scattering, barely absorbing: <r^2> over each depth bin is w(d)^2 / 2."""
    w0, d_f, theta = 30e-6, 0.4e-3, 0.1
    layers = [OpticalLayer(1e-3, 10.0, 0.0, 0.0, 1.4)]
    res = simulate(layers, Launch(w0, d_f, theta), MapGrid(0.5e-3, 250, 0.1e-3),
                   photons=20_000, batch=5_000)
    r2_ring = 0.5 * (res.r_edges[:-1] ** 2 + res.r_edges[1:] ** 2)
    mean_r2 = (r2_ring[:, None] * res.absorbed).sum(axis=0) / res.absorbed.sum(axis=0)
    z0, z1 = res.z_edges[:-1], res.z_edges[1:]
    zc = 0.5 * (z0 + z1)
    w2 = w0 ** 2 + np.tan(theta) ** 2 * ((zc - d_f) ** 2 + (z1 - z0) ** 2 / 12)
    np.testing.assert_allclose(mean_r2, w2 / 2, rtol=0.04)
    assert res.absorbed_beyond == 0.0


def test_scoring_beyond_r_max_does_not_change_the_transport():
    """The grid only scores: a smaller r_max clips the chords at r_max and sends the rest
    beyond, with the same packets (a clear layer below a scattering one gives long chords)."""
    layers = [OpticalLayer(200e-6, 5 * CM, 100 * CM, 0.9, 1.4),
              OpticalLayer(1e-3, 5 * CM, 0.0, 0.0, 1.4)]
    beam = Launch(30e-6, 0.0, 0.0)
    small = simulate(layers, beam, MapGrid(0.2e-3, 40, 20e-6), photons=4_000, batch=1_000)
    large = simulate(layers, beam, MapGrid(2e-3, 400, 20e-6), photons=4_000, batch=1_000)
    for name in ("specular", "diffuse_reflectance", "transmitted"):
        assert getattr(small, name) == getattr(large, name), name
    assert small.absorbed.sum() + small.absorbed_beyond == pytest.approx(
        large.absorbed.sum() + large.absorbed_beyond, abs=1e-12)
    assert small.absorbed_beyond == pytest.approx(
        large.absorbed[40:].sum() + large.absorbed_beyond, abs=1e-5)
    np.testing.assert_allclose(small.absorbed.sum(axis=1), large.absorbed[:40].sum(axis=1),
                               rtol=0.02)


def transport_decay(albedo: float, g: float, order: int = 101) -> float:
    """Slowest decay constant (per mean free path) of the plane-symmetric transport equation
    with a Henyey-Greenstein phase function: the largest eigenvalue ``1/kappa`` of the P_N
    moment recursion ``(2l+1)(1 - albedo g^l) phi_l / kappa = (l+1) phi_{l+1} + l phi_{l-1}``."""
    ell = np.arange(order + 1)
    h = (2 * ell + 1) * (1 - albedo * g ** ell)
    m = np.diag((ell[:-1] + 1) / h[:-1], 1) + np.diag(ell[1:] / h[1:], -1)
    return 1 / np.max(np.linalg.eigvals(m).real)


def test_deep_decay_matches_diffusion_theory():
    mu_a, mu_s, g = 1 * CM, 100 * CM, 0.9
    res = simulate([OpticalLayer(2e-2, mu_a, mu_s, g, 1.0)], PENCIL, MapGrid(5e-2, 1, 0.25e-3),
                   photons=20_000, batch=2_000)
    profile = res.absorbed.sum(axis=0)
    error = res.absorbed_error.sum(axis=0)
    z = 0.5 * (res.z_edges[1:] + res.z_edges[:-1])
    l_tr = 1 / (mu_a + mu_s * (1 - g))
    sel = (z > 3 * l_tr) & (z < 8 * l_tr)
    slope = -np.polyfit(z[sel], np.log(profile[sel]), 1, w=profile[sel] / error[sel])[0]
    mu_eff = np.sqrt(3 * mu_a * (mu_a + mu_s * (1 - g)))
    exact = transport_decay(mu_s / (mu_a + mu_s), g) * (mu_a + mu_s)
    assert exact / mu_eff == pytest.approx(0.980, abs=0.002)  # diffusion is 2 % steep here
    assert slope == pytest.approx(mu_eff, rel=0.05)
    assert slope == pytest.approx(exact, rel=0.03)
    assert res.ledger_error < 1e-12 and res.absorbed_beyond == 0.0


SKIN_GRID = MapGrid(r_max=0.5e-3, nr=50, dz=50e-6)
SKIN_BEAM = Launch(w0=50e-6, focal_depth=0.0, divergence=0.0)


def test_ledger_closes_and_the_seed_decides():
    a = simulate(skin(), SKIN_BEAM, SKIN_GRID, photons=3_000, batch=1_000, seed=7)
    b = simulate(skin(), SKIN_BEAM, SKIN_GRID, photons=3_000, batch=1_000, seed=7)
    c = simulate(skin(), SKIN_BEAM, SKIN_GRID, photons=3_000, batch=1_000, seed=8)
    assert a.ledger_error < 1e-12 and c.ledger_error < 1e-12
    assert np.array_equal(a.absorbed, b.absorbed)
    assert np.array_equal(a.absorbed_error, b.absorbed_error)
    assert a.diffuse_reflectance == b.diffuse_reflectance and a.transmitted == b.transmitted
    assert not np.array_equal(a.absorbed, c.absorbed)
    assert a.photons == 3_000 and a.batches == 3 and a.seed == 7
    assert a.absorbed.shape == (50, a.z_edges.size - 1) == a.absorbed_error.shape
    assert np.all(a.absorbed >= 0) and 0 < a.relative_error < 1


def test_photons_round_up_to_whole_batches():
    res = simulate(skin(), SKIN_BEAM, SKIN_GRID, photons=1_001, batch=500)
    assert res.photons == 1_500 and res.batches == 3


def test_target_error_is_reached_with_the_fewest_rounds():
    target, batch = 0.08, 500
    res = simulate(skin(), SKIN_BEAM, SKIN_GRID, target_error=target, batch=batch, seed=3)
    assert res.relative_error <= target and res.photons % (4 * batch) == 0
    assert res.ledger_error < 1e-12
    # the same batches, one round fewer, miss the target
    if res.photons > 4 * batch:
        fewer = simulate(skin(), SKIN_BEAM, SKIN_GRID, photons=res.photons - 4 * batch,
                         batch=batch, seed=3)
        assert fewer.relative_error > target
    capped = simulate(skin(), SKIN_BEAM, SKIN_GRID, target_error=1e-6, batch=batch,
                      max_photons=3_000)
    assert capped.photons == 3_000 and capped.relative_error > 1e-6


def test_one_of_photons_and_target_error():
    with pytest.raises(ValueError):
        simulate(skin(), SKIN_BEAM, SKIN_GRID)
    with pytest.raises(ValueError):
        simulate(skin(), SKIN_BEAM, SKIN_GRID, photons=100, target_error=0.1)


@pytest.mark.parametrize("mode", [{"photons": 5_000}, {"target_error": 0.2}])
def test_ranks_share_the_batches_bit_for_bit(mode):
    world = simulate(skin(), SKIN_BEAM, SKIN_GRID, batch=500, comm=MPI.COMM_WORLD, **mode)
    alone = simulate(skin(), SKIN_BEAM, SKIN_GRID, batch=500, comm=MPI.COMM_SELF, **mode)
    assert np.array_equal(world.absorbed, alone.absorbed)
    assert np.array_equal(world.absorbed_error, alone.absorbed_error)
    for name in ("absorbed_beyond", "specular", "diffuse_reflectance", "transmitted",
                 "relative_error", "photons", "batches"):
        assert getattr(world, name) == getattr(alone, name), name
    # every rank holds the same map
    maps = MPI.COMM_WORLD.allgather(world.absorbed)
    assert all(np.array_equal(m, maps[0]) for m in maps)

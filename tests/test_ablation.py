"""Ablation: the threshold, the blow-off and steady-state craters, the regime chosen by the
pulse length, and an ablative case end to end."""

import json
import math

from mpi4py import MPI

import numpy as np
import pytest

from fem.config import crater as craters
from fem.cli import main
from fem.config import load_case

from conftest import ROOT

DEMO = ROOT / "studies" / "demo.toml"


def test_heat_of_ablation_of_water():
    # Pure water from 37 C: 63 K of heating and the latent heat, per m^3.
    h = craters.heat_of_ablation(1.0, 1000.0, 4180.0, 37.0)
    assert h == pytest.approx(1000.0 * (4180.0 * 63.0 + 2.257e6))
    assert 2.4e9 < h < 2.6e9  # ~2.5 kJ/cm^3


def test_blowoff_crater_in_one_layer_is_the_paraboloid():
    mu, F_th, E, ws = 560e2, 3e4, 10e-3, 60e-6  # 1/m, J/m^2 (3 J/cm^2), J, m
    prof = craters.blowoff_profile([1e-3], [mu], F_th, E, ws)
    F0 = 2 * E / (math.pi * ws**2)
    depth, mouth = math.log(F0 / F_th) / mu, ws * math.sqrt(0.5 * math.log(F0 / F_th))
    assert prof[0] == pytest.approx((0.0, depth))
    assert prof[-1] == pytest.approx((mouth, 0.0))
    for r, d in prof:  # the wall is where the remaining fluence is the threshold
        F = F0 * math.exp(-2 * r**2 / ws**2)
        assert F * math.exp(-mu * d) == pytest.approx(F_th, rel=1e-9)
        assert d == pytest.approx(depth * (1 - (r / mouth) ** 2), abs=1e-12)
    # 12 chords lose 1/(3 n^2) of the paraboloid's volume
    exact = 0.5 * math.pi * mouth**2 * depth
    assert craters.profile_volume(prof) == pytest.approx(exact * (1 - 1 / (3 * 12**2)),
                                                          rel=2e-3)


def test_blowoff_in_layers_follows_the_optical_depth():
    thick, mu = [15e-6, 50e-6, 1e-3], [240e2, 560e2, 560e2]
    prof = craters.blowoff_profile(thick, mu, 4e4, 10e-3, 60e-6)
    d0 = prof[0][1]
    tau = mu[0] * thick[0] + mu[1] * (d0 - thick[0])  # d0 lies in the second layer
    F0 = 2 * 10e-3 / (math.pi * (60e-6) ** 2)
    assert tau == pytest.approx(math.log(F0 / 4e4))
    assert craters.blowoff_profile(thick, mu, 1e9, 10e-3, 60e-6) == ()  # below threshold


def test_radius_at_depth_inverts_the_profile():
    prof = craters.shape_profile("cone", 40e-6, 60e-6)
    d = np.array([0.0, 10e-6, 20e-6, 40e-6, 50e-6])
    assert craters.radius_at_depth(prof, d) == pytest.approx([60e-6, 45e-6, 30e-6, 0, 0])
    assert craters.profile_volume(prof) == pytest.approx(math.pi * 60e-6**2 * 40e-6 / 3)


def test_steady_state_front_of_a_top_hat_is_the_one_dimensional_closed_form():
    """A top-hat fluence F on a uniform absorber, no shielding: the front ends at
    eta (F - F_th) / h_abl, in one layer and across two (where int h dd = eta (F - F_th))."""
    F, F_th, h, E = 5e6, 4e4, 1.8e9, 1.0  # J/m^2, J/m^2, J/m^3, J (fluence per joule F / E)

    def flat(r, d):
        return np.full(np.shape(r), F / E)

    def wide(d):
        return np.full(np.shape(d), 1.0)

    r = np.array([0.0, 1e-6])
    for eta in (1.0, 0.3):
        d = craters.steady_state_depths(r, E, flat, F_th, [1.0], [h], eta, None, wide)
        assert d == pytest.approx(eta * (F - F_th) / h, rel=1e-7)
    # two layers: 1 mm of h, then 2 h below
    d = craters.steady_state_depths(r, E, flat, F_th, [1e-3, 1.0], [h, 2 * h], 1.0, None, wide)
    assert h * 1e-3 + 2 * h * (d[0] - 1e-3) == pytest.approx(F - F_th, rel=1e-7)
    # below the threshold the front does not move
    assert craters.steady_state_depths(r, 0.5 * F_th / F, flat, F_th, [1.0], [h], 1.0, None,
                                       wide) == pytest.approx([0.0, 0.0])


def test_steady_state_crater_deepens_with_energy_and_its_wall_holds_heat():
    case = load_case(DEMO, ["laser.preset='co2_10600'", "laser.energy_mJ=80"])
    deeper = load_case(DEMO, ["laser.preset='co2_10600'", "laser.energy_mJ=160"])
    assert case.crater.shape == deeper.crater.shape == "steady_state"
    assert 2.0 * case.crater.depth > deeper.crater.depth > 1.2 * case.crater.depth
    assert case.crater.depth > 300e-6  # hundreds of micrometres at 80 mJ, not tens
    # the wall holds at least the threshold fluence, most on the axis
    wall = np.array(case.crater.wall_fluence)
    assert wall[-1] == pytest.approx(case.laser.ablation_threshold)
    assert np.all(np.diff(wall) <= 0) and wall[0] > wall[-1]
    # a wider spot at the same energy: shallower and wider
    wide = load_case(DEMO, ["laser.preset='co2_10600'", "laser.energy_mJ=80",
                            "laser.spot_um=300", "pattern.patch_um=1200"])
    assert wide.crater.depth < case.crater.depth and wide.crater.radius > case.crater.radius


@pytest.mark.parametrize("preset, shape", [("co2_10600", "steady_state"),
                                           ("eryag_2940", "steady_state"),
                                           ("erglass_1550", "none"), ("thulium_1927", "none")])
def test_ablative_presets_cut_a_crater(preset, shape):
    case = load_case(DEMO, [f"laser.preset='{preset}'"])
    assert case.crater.shape == shape
    if shape != "none":
        lz = case.resolved["laser"]
        assert lz["ablation_threshold_J_per_cm2"] > 0
        assert case.resolved["crater"]["depth_um"] == pytest.approx(case.crater.depth * 1e6,
                                                                    abs=1e-3)
        assert case.mesh.column_radius > case.crater.radius
    # Below the threshold nothing is removed; crater.shape = "none" turns it off.
    low = load_case(DEMO, [f"laser.preset='{preset}'", "laser.energy_mJ=1e-4"])
    assert low.crater.shape == "none"
    off = load_case(DEMO, [f"laser.preset='{preset}'", "crater.shape='none'"])
    assert off.crater.shape == "none"


def test_the_regime_follows_the_thermal_relaxation_time():
    """tau_r = delta^2 / (4 kappa) of the most absorbing layer (the epidermis at 10.6 um:
    delta = 1 / (0.7 * 792 /cm) = 18 um, kappa = 0.21 / (1150 * 3600)): 1.6 ms. A 3 ms pulse
    drills in the steady state; a 0.1 ms one blows off."""
    from fem.config.case import resolve
    from fem.config.resolve import relaxation_time_ms

    resolved = resolve({"laser": {"preset": "co2_10600"}})
    kappa = 0.21 / (1150.0 * 3600.0)
    assert relaxation_time_ms(resolved) == pytest.approx(
        1e3 * (1.0 / (0.7 * 792e2)) ** 2 / (4 * kappa), rel=1e-12)
    assert 1.5 < relaxation_time_ms(resolved) < 1.7
    short = load_case(DEMO, ["laser.preset='co2_10600'", "laser.pulse_ms=0.1"])
    assert short.crater.shape == "blowoff" and short.crater.wall_fluence == ()
    assert load_case(DEMO, ["laser.preset='co2_10600'"]).crater.shape == "steady_state"


@pytest.mark.serial
def test_co2_quarter_cell_end_to_end(tmp_path):
    """The CO2 preset on a coarse quarter cell: the steady-state crater is cut, the heat its
    wall holds is energy-exact within 0.5 %, and the books balance."""
    out = tmp_path / "co2"
    assert main(["run", str(DEMO), "-o", str(out), "--set", "laser.preset='co2_10600'",
                 "--set", "pattern.layout='quarter_cell'", "--set", "mesh.resolution=coarse",
                 "--set", "output.render=false", "--set", "output.fields=false"]) == 0
    MPI.COMM_WORLD.Barrier()
    m = json.loads((out / "metrics.json").read_text())
    case = load_case(out / "case.toml")
    assert m["ablation_depth_um"] == pytest.approx(case.crater.depth * 1e6)
    assert 20.0 < m["ablation_depth_um"] < 200.0
    assert m["source_energy_error"] < 0.005
    assert m["energy_balance_error"] < 1e-6
    assert m["light_ledger_error"] < 1e-12 and m["ablation_fraction"] > 0.5
    assert m["specular_reflectance"] == pytest.approx(((1.18 - 1) / 2.18) ** 2)
    # Most of the pulse leaves with the ablated tissue; coagulation lines the crater.
    assert m["absorbed_energy_J"] < 0.5 * m["delivered_energy_J"]
    assert m["mtz_depth_um"] > m["ablation_depth_um"]


@pytest.mark.parametrize("preset, pulse", [("co2_10600", "3"), ("co2_10600", "0.1"),
                                           ("eryag_2940", "0.25")])
def test_ablative_source_is_energy_exact_on_coarse_meshes(preset, pulse):
    """The finite-element integral of the source equals the exact absorbed energy within
    0.5 % on the coarse mesh: below a blow-off wall the residual source (the wall elements
    follow the absorption length down to 4.5 um, fem.run.mesh.wall_size), through a
    steady-state wall the heat it holds (a flux, exact for energy up to the faceting)."""
    from fem.run.mesh import build_mesh
    from fem.run.problems import beam_source, heat_problem

    case = load_case(DEMO, [f"laser.preset='{preset}'", "pattern.layout='quarter_cell'",
                            "mesh.resolution='coarse'", f"laser.pulse_ms={pulse}"])
    data, _ = build_mesh(case, MPI.COMM_WORLD)
    heat = heat_problem(data.mesh, data.cell_tags, data.facet_tags, case)
    exact = beam_source(case).expected_absorbed_fraction()
    assert heat.source_integral == pytest.approx(exact, rel=5e-3)
    assert exact < 0.5  # most of the pulse leaves with the blown-off tissue

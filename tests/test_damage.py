"""Arrhenius damage: exact isothermal and linearly ramped histories, log-form safety."""

import math

from mpi4py import MPI

import numpy as np
import pytest
import dolfinx.fem as dfem
from dolfinx import mesh

from fem.physics.damage import R_GAS, ArrheniusDamage, ArrheniusKinetics
from fem.config.presets import KINETICS_PRESETS

KELVIN = 273.15


@pytest.fixture(scope="module")
def V():
    return dfem.functionspace(mesh.create_unit_cube(MPI.COMM_WORLD, 2, 2, 2), ("Lagrange", 1))


@pytest.mark.parametrize("name, T_C, t", [
    # parameters.md: isothermal holds that give Omega = 1 (temperatures rounded there)
    ("henriques_moritz", 70.4, 1e-3), ("henriques_moritz", 66.8, 1e-2),
    ("henriques_moritz", 59.9, 1.0), ("maitland_walsh", 90.7, 1e-3),
    ("maitland_walsh", 84.0, 1e-2), ("maitland_walsh", 71.4, 1.0),
])
def test_published_isothermal_holds_give_omega_one(name, T_C, t):
    """Omega = A t exp(-Ea/(R T)) = 1 at the published hold temperature, within 0.5 C."""
    k = ArrheniusKinetics(**KINETICS_PRESETS[name])
    T_one = k.Ea / (R_GAS * (k.lnA + math.log(t))) - KELVIN
    assert T_one == pytest.approx(T_C, abs=0.5)
    assert k.rate(np.array([T_one + KELVIN]))[0] * t == pytest.approx(1.0, rel=1e-12)


def test_isothermal_integral_is_exact(V):
    params = KINETICS_PRESETS["henriques_moritz"]
    d = ArrheniusDamage(V, ArrheniusKinetics(**params), "cell")
    T = dfem.Function(V)
    T.x.array[:] = 65.0 + KELVIN
    d.start(T)
    for dt in (1e-3, 2e-3, 5e-3, 2e-3):
        d.update(T, dt)
    exact = params["A_per_s"] * 10e-3 * math.exp(-params["Ea_J_per_mol"] / (R_GAS * (65 + KELVIN)))
    assert np.allclose(d.omega.x.array, exact, rtol=1e-12)


def test_linear_ramp_converges_at_second_order(V):
    """T rises linearly 40 -> 90 C over 10 ms: trapezoid error falls as dt^2."""
    params = KINETICS_PRESETS["maitland_walsh"]
    k = ArrheniusKinetics(**params)
    t_end, T0, T1 = 10e-3, 40 + KELVIN, 90 + KELVIN
    # reference: composite Simpson with 2e5 intervals of the exact integrand
    s = np.linspace(0, t_end, 200001)
    f = k.rate(T0 + (T1 - T0) * s / t_end)
    h = s[1] - s[0]
    ref = h / 3 * (f[0] + f[-1] + 4 * f[1:-1:2].sum() + 2 * f[2:-1:2].sum())
    errors = []
    for n in (20, 40, 80):
        d = ArrheniusDamage(V, k, "collagen")
        T = dfem.Function(V)
        T.x.array[:] = T0
        d.start(T)
        for i in range(1, n + 1):
            T.x.array[:] = T0 + (T1 - T0) * i / n
            d.update(T, t_end / n)
        errors.append(abs(d.omega.x.array[0] - ref) / ref)
    rate = np.polyfit(np.log([20, 40, 80]), np.log(errors), 1)[0]
    assert rate < -1.9, (rate, errors)


def test_log_form_does_not_overflow():
    k = ArrheniusKinetics(**KINETICS_PRESETS["henriques_moritz"])
    r = k.rate(np.array([310.0, 1000.0, 5000.0]))
    assert np.all(np.isfinite(r)) and r[0] < 1e-6 < r[1] <= r[2]


def test_weaver_stoll_switches_branch_at_50C():
    k = ArrheniusKinetics(**KINETICS_PRESETS["weaver_stoll"])
    p = KINETICS_PRESETS["weaver_stoll"]
    T = np.array([49.0 + KELVIN, 51.0 + KELVIN])
    expect = [math.log(p["A_per_s"]) - p["Ea_J_per_mol"] / (R_GAS * T[0]),
              math.log(p["A_high_per_s"]) - p["Ea_high_J_per_mol"] / (R_GAS * T[1])]
    assert k.log_rate(T) == pytest.approx(expect)


# --------------------------------------------------------------------------------------------
# CEM43 thermal dose (Sapareto & Dewey 1984)
# --------------------------------------------------------------------------------------------


def _dose_of_history(V, T_C_of_t, times):
    """Run a ThermalDose through the temperatures T(t) at the given times (C)."""
    from fem.physics.damage import ThermalDose

    d = ThermalDose(V)
    T = dfem.Function(V)
    T.x.array[:] = T_C_of_t(times[0]) + KELVIN
    d.start(T)
    for t0, t1 in zip(times[:-1], times[1:]):
        T.x.array[:] = T_C_of_t(t1) + KELVIN
        d.update(T, t1 - t0)
    return d.omega.x.array


@pytest.mark.parametrize("T_C, minutes", [(43.0, 60.0), (44.0, 30.0), (46.0, 7.5),
                                          (42.0, 240.0), (41.0, 960.0)])
def test_cem43_isothermal_holds_are_sixty_minutes(V, T_C, minutes):
    """60 CEM43 min: 60 min at 43 C, halved per degree above (R = 0.5), quartered per degree
    below (R = 0.25), whatever the steps."""
    times = np.concatenate([[0.0], np.cumsum([7.0, 60.0, 1.0, 600.0])])
    times = times * (minutes * 60.0) / times[-1]
    dose = _dose_of_history(V, lambda t: T_C, times)
    assert np.allclose(dose, 60.0, rtol=1e-12)


@pytest.mark.parametrize("T0, T1", [(45.0, 60.0), (37.0, 42.5), (37.0, 55.0), (60.0, 40.0)])
def test_cem43_linear_ramp_is_exact_for_any_step(V, T0, T1):
    """A linear ramp (below, above and across 43 C, heating and cooling) against the closed
    form of the integral, split at 43 C; one step and 37 unequal steps give it exactly."""
    t_end = 120.0
    slope = (T1 - T0) / t_end

    def exact():  # int R^(43 - T) dt with T = T0 + slope t, piecewise at 43 C
        lo, hi = sorted((T0, T1))
        total = 0.0
        for a, b, R in ((lo, min(hi, 43.0), 0.25), (max(lo, 43.0), hi, 0.5)):
            if b > a:
                k = -math.log(R)  # R^(43 - T) = exp(k (T - 43))
                total += (math.exp(k * (b - 43)) - math.exp(k * (a - 43))) / k
        return total / abs(slope) / 60.0

    ramp = lambda t: T0 + slope * t  # noqa: E731
    one = _dose_of_history(V, ramp, np.array([0.0, t_end]))
    cuts = t_end * np.sort(np.random.default_rng(1).random(36))
    many = _dose_of_history(V, ramp, np.concatenate([[0.0], cuts, [t_end]]))
    ref = exact()
    assert np.allclose(one, ref, rtol=1e-10)
    assert np.allclose(many, ref, rtol=1e-10)


def test_cem43_of_hot_tissue_does_not_overflow(V):
    from fem.physics.damage import cem43_mean_rate

    r = cem43_mean_rate(np.array([37.0, 300.0, 900.0, 2000.0]), np.array([900.0, 2000.0, 37.0,
                                                                            2000.0]))
    assert np.all(np.isfinite(r)) and np.all(r > 0)


# --------------------------------------------------------------------------------------------
# Kinetics per layer
# --------------------------------------------------------------------------------------------


def test_kinetics_per_layer_from_the_case(V):
    """[damage.layers.epidermis] cell = mehta_wong_epidermis: nodes in the epidermis depth
    interval integrate Mehta-Wong, the others Henriques-Moritz; cem43 adds the dose."""
    from fem.config import case_from_dict
    from fem.physics.damage import ThermalDose, make_damage

    case = case_from_dict({"damage": {"cem43": True, "layers": {
        "epidermis": {"cell": "mehta_wong_epidermis", "collagen": "maitland_walsh"}}}})
    assert "by_depth" not in case.damage.kinetics["collagen"]  # same as the default: no override
    sc, epi = (layer.thickness for layer in case.skin.layers[:2])
    # a unit cube mapped onto depths 0 .. 130 um: z = 0 is the surface
    Vd = dfem.functionspace(mesh.create_box(MPI.COMM_WORLD, [[0, 0, -130e-6], [1e-4, 1e-4, 0]],
                                           [1, 1, 26]), ("Lagrange", 1))
    damage = make_damage(Vd, case.damage.kinetics)
    assert set(damage) == {"cell", "collagen", "heat_shock", "cem43"}
    assert isinstance(damage["cem43"], ThermalDose)
    T = dfem.Function(Vd)
    T.x.array[:] = 70.0 + KELVIN
    for d in damage.values():
        d.start(T)
        d.update(T, 1e-3)
    depth = -Vd.tabulate_dof_coordinates()[:, 2]
    in_epi = (depth >= sc - 1e-10) & (depth < sc + epi - 1e-10)
    hm = ArrheniusKinetics(**KINETICS_PRESETS["henriques_moritz"]).rate(np.array([343.15]))[0]
    mw = ArrheniusKinetics(**KINETICS_PRESETS["mehta_wong_epidermis"]).rate(
        np.array([343.15]))[0]
    omega = damage["cell"].omega.x.array
    assert in_epi.any() and (~in_epi).any()
    assert np.allclose(omega[in_epi], 1e-3 * mw, rtol=1e-12)
    assert np.allclose(omega[~in_epi], 1e-3 * hm, rtol=1e-12)
    assert np.allclose(damage["cem43"].omega.x.array, 1e-3 / 60 * 2.0 ** 27, rtol=1e-12)


@pytest.mark.parametrize("damage, message", [
    ({"layers": {"dermis": {"cell": "weaver_stoll"}}}, "damage.layers.dermis"),
    ({"layers": {"epidermis": {"cell": "arrhenius"}}},
     "damage.layers.epidermis.cell = 'arrhenius'"),
    ({"layers": {"epidermis": {"dose": "cem43"}}}, "damage.layers.epidermis.dose"),
    ({"layers": "epidermis"}, "damage.layers = 'epidermis'"),
    ({"cem43": "yes"}, "damage.cem43 = 'yes'"),
])
def test_bad_damage_input_names_the_key(damage, message):
    from fem.config import CaseError, resolve

    with pytest.raises(CaseError, match="allowed|expected|known keys") as e:
        resolve({"damage": damage})
    assert str(e.value).startswith(message) and "\n" not in str(e.value)

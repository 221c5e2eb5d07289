"""Arrhenius damage: exact isothermal and linearly ramped histories, log-form safety."""

import math

from mpi4py import MPI

import numpy as np
import pytest
from dolfinx import fem, mesh

from fem.damage import R_GAS, ArrheniusDamage, ArrheniusKinetics
from fem.presets import KINETICS_PRESETS

KELVIN = 273.15


@pytest.fixture(scope="module")
def V():
    return fem.functionspace(mesh.create_unit_cube(MPI.COMM_WORLD, 2, 2, 2), ("Lagrange", 1))


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
    T = fem.Function(V)
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
        T = fem.Function(V)
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

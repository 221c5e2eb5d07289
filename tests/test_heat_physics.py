"""The heat model's lasers, surfaces and tissue terms: firing schedules, evaporation, cooling
devices, perfusion shutdown and k(T), each against an exact solution where one exists.

Exact references (all on one-layer boxes, ``skin.preset = 'none'``, water-like tissue):

* steady state with evaporation: the 1D slab whose top balances conduction, convection and
  the ASHRAE evaporation law (a scalar equation), exact for P1 (the profile is linear);
* steady state with k(T): the Kirchhoff transform ``U = int k dT`` is linear in depth;
* perfusion fully stopped by damage: the fixed point of the lagged term is the steady state
  without perfusion;
* a cryogen spurt on a half-space at uniform temperature: the classical surface temperature
  ``T_s = T_i + (T_f - T_i) (1 - exp(b^2) erfc(b))``, ``b = h sqrt(a t) / k``
  (Carslaw & Jaeger 1959, section 2.7).
"""

import json
import math

from mpi4py import MPI

import numpy as np
import pytest
import ufl
import dolfinx.fem as dfem

from fem.config import presets
from fem.cli import main
from fem.config import CaseError, case_from_dict, load_case
from fem.run.schedule import Schedule
from fem.run.problems import heat_problem, surface_conditions
from fem.post.probes import PointEvaluator

from conftest import ROOT
from test_heat_verification import ALPHA, C, K, RHO, box_mesh

DEMO = ROOT / "studies" / "demo.toml"


def slab_case(depth_um=1000.0, h=10.0, T_amb=25.0, T_core=37.0, perfusion=0.0,
              evaporation=False, slope=0.0, cooling_table=None, shutdown=False):
    layer = {
        "thickness_um": depth_um, "density_kg_per_m3": RHO, "specific_heat_J_per_kgK": C,
        "conductivity_W_per_mK": K, "perfusion_per_s": perfusion, "metabolic_W_per_kg": 0.0,
        "water_fraction": 1.0, "youngs_modulus_kPa": 1000.0, "poisson_ratio": 0.45,
        "expansion_per_K": 1e-4, "collagen": True,
    }
    raw = {
        "skin": {"preset": "none", "layers": {"dermis": layer}},
        "pattern": {"layout": "quarter_cell", "density_per_cm2": 100.0},
        "boundary": {"ambient_temperature_C": T_amb, "surface_htc_W_per_m2K": h,
                     "core_temperature_C": T_core, "arterial_temperature_C": T_core,
                     "evaporation": evaporation},
        "tissue": {"conductivity_slope_per_K": slope, "perfusion_shutdown": shutdown},
        "mesh": {"column_radius_um": 100.0, "column_depth_um": 0.5 * depth_um},
        "cooling": cooling_table or {},
    }
    return case_from_dict(raw)


def column_mesh(case, nz: int, grading: float = 0.0):
    """A 1D column of tetrahedra through the slab (2 x 2 cells across)."""
    return box_mesh(case, (2, 2, nz), grading)


def surface_and_depth_values(heat, case, depths):
    probe = PointEvaluator(heat.mesh, np.array([[1e-6, 1e-6, -d] for d in depths]))
    return probe(heat.T)


def bisect(f, a: float, b: float, tol: float = 1e-13) -> float:
    fa = f(a)
    for _ in range(200):
        m = 0.5 * (a + b)
        if (f(m) > 0) == (fa > 0):
            a, fa = m, f(m)
        else:
            b = m
        if b - a < tol:
            break
    return 0.5 * (a + b)


# --------------------------------------------------------------------------------------------
# Firing schedules
# --------------------------------------------------------------------------------------------


def grid_case(*extra):
    return load_case(DEMO, ["pattern.layout='grid'", "pattern.density_per_cm2=400",
                            "pattern.patch_um=1500", "mesh.resolution='coarse'", *extra])


def test_raster_and_random_firing_times():
    pulse_ms = 3.0  # the erglass_1550 preset
    raster = grid_case("pattern.firing_order='raster'", "pattern.column_interval_ms=5",
                       "time.end_ms=100")
    assert raster.pattern.layout.count == 9
    assert np.allclose(np.array(raster.pattern.fire_times) * 1e3, 5.0 * np.arange(9))
    rand = grid_case("pattern.firing_order='random'", "pattern.column_interval_ms=5",
                     "time.end_ms=100", "pattern.seed=3")
    assert sorted(rand.pattern.fire_times) == pytest.approx(sorted(raster.pattern.fire_times))
    assert list(rand.pattern.fire_times) != list(raster.pattern.fire_times)
    again = grid_case("pattern.firing_order='random'", "pattern.column_interval_ms=5",
                      "time.end_ms=100", "pattern.seed=3")
    assert again.pattern.fire_times == rand.pattern.fire_times  # reproducible with its seed
    # Back to back by default; simultaneous fires everything at once.
    back = grid_case("pattern.firing_order='raster'", "time.end_ms=100")
    assert np.allclose(np.diff(back.pattern.fire_times) * 1e3, pulse_ms)
    assert set(grid_case().pattern.fire_times) == {0.0}
    # Random passes: the second pass starts after the first plus the delay.
    two = load_case(DEMO, ["pattern.layout='random'", "pattern.passes=2", "pattern.seed=1",
                           "pattern.density_per_cm2=100", "pattern.patch_um=2000",
                           "pattern.firing_order='raster'", "pattern.column_interval_ms=4",
                           "pattern.pass_delay_ms=50", "time.end_ms=200",
                           "mesh.resolution='coarse'"])
    n = two.pattern.layout.count // 2
    t = np.array(two.pattern.fire_times) * 1e3
    assert np.allclose(t[:n], 4.0 * np.arange(n))
    assert t[n] == pytest.approx(4.0 * (n - 1) + pulse_ms + 50.0)


def test_schedule_resolves_every_pulse_with_few_step_sizes():
    case = grid_case("pattern.firing_order='raster'", "pattern.column_interval_ms=7",
                     "time.end_ms=120")
    steps = Schedule.of(case).steps
    starts, ends = np.array([s for s, _ in steps]), np.array([e for _, e in steps])
    assert starts[0] == 0.0 and ends[-1] == pytest.approx(case.time.end)
    assert np.allclose(starts[1:], ends[:-1], rtol=0, atol=1e-15)  # contiguous
    pulse = case.laser.duration
    for t_fire in case.pattern.fire_times:  # at least 20 steps inside every pulse, none across it
        inside = (starts >= t_fire - 1e-12) & (ends <= t_fire + pulse + 1e-12)
        assert inside.sum() >= 20
        assert not np.any((starts < t_fire - 1e-12) & (ends > t_fire + 1e-12))
    # Equal gaps get equal steps: 9 pulses and 8 gaps of 4 ms share the sizes of one pulse
    # and one gap (0.15, 0.3, 0.6 ms and the 0.4 ms remainder); the last, long gap adds its
    # rungs up to max_step (1.2, 2.4, 4.8, 9.6, 10 ms): about 190 steps, 9 matrices.
    sizes = {float(f"{e - s:.12g}") for s, e in steps}
    assert len(steps) > 9 * 20 and len(sizes) <= 9, sorted(sizes)


@pytest.mark.parametrize("overrides, words", [
    (["pattern.layout='quarter_cell'", "pattern.firing_order='raster'"],
     ["pattern.firing_order", "periodic", "simultaneous"]),
    (["pattern.layout='grid'", "pattern.patch_um=1500", "pattern.density_per_cm2=400",
      "pattern.firing_order='raster'", "pattern.column_interval_ms=10"],
     ["time.end_ms", "last pulse ends at 83 ms"]),
    (["pattern.column_interval_ms=10"], ["pattern.column_interval_ms", "sequential"]),
    (["cooling.mode='contact'", "cooling.spray_ms=30"], ["cooling.spray_ms", "cryogen"]),
    (["cooling.mode='cryogen'", "cooling.spray_ms=0"], ["cooling.spray_ms", "> 0"]),
])
def test_bad_schedules_are_refused(overrides, words):
    with pytest.raises(CaseError) as e:
        load_case(DEMO, overrides)
    for w in words:
        assert w in str(e.value)


# --------------------------------------------------------------------------------------------
# Surface: evaporation, steady state
# --------------------------------------------------------------------------------------------


def test_evaporation_law():
    """ASHRAE: E = w LR h (p_sat(T_s) - phi p_sat(T_a)); at 34 C skin, 25 C air of 50 %
    humidity, h = 10 W/(m^2 K), w = 0.06 and steam-table pressures (5.324 kPa at 34 C, 3.169
    kPa at 25 C): 0.06 * 16.5 * 10 * (5.324 - 1.5845) = 37.0 W/m^2."""
    case = slab_case(evaporation=True)
    evap = surface_conditions(case).evaporation
    T_s = 34.0 + 273.15
    assert float(evap.flux(T_s)) == pytest.approx(37.0, rel=0.01)
    h, g = evap.linear()
    T = np.array([280.0, 300.0, T_s, 330.0, 373.0, 500.0])
    assert evap.flux(T) == pytest.approx(h * T - g + evap.remainder(T), rel=1e-12)
    assert float(evap.remainder(T_s)) == pytest.approx(0.0, abs=1e-9)
    assert np.all(evap.remainder(T) >= -1e-9)  # convex: the tangent lies below
    # Boiling caps the vapour pressure: the flux stops growing at 100 C.
    assert float(evap.flux(600.0)) == pytest.approx(float(evap.flux(373.15)), rel=1e-12)
    assert surface_conditions(slab_case(evaporation=True, h=0.0)).evaporation is None


def test_steady_state_with_evaporation_is_the_exact_slab():
    """No perfusion: the steady profile is linear, so P1 is exact; the top temperature solves
    k (T_c - T_s) / D = h (T_s - T_a) + q_evap(T_s)."""
    D, h = 1e-3, 10.0
    case = slab_case(depth_um=D * 1e6, h=h, evaporation=True)
    heat = heat_problem(*column_mesh(case, 8), case, with_laser=False)
    heat.solve_steady()
    evap = surface_conditions(case).evaporation
    T_s = bisect(lambda T: K * (case.boundary.core_T - T) / D - h * (T - case.boundary.ambient_T)
                 - float(evap.flux(T)), case.boundary.ambient_T, case.boundary.core_T)
    values = surface_and_depth_values(heat, case, [0.0, 0.5 * D])
    assert values[0] == pytest.approx(T_s, abs=1e-7)
    assert values[1] == pytest.approx(0.5 * (T_s + case.boundary.core_T), abs=1e-7)
    dry = slab_case(depth_um=D * 1e6, h=h, evaporation=False)
    T_dry = (K / D * dry.boundary.core_T + h * dry.boundary.ambient_T) / (K / D + h)
    assert T_dry - T_s > 0.05  # evaporation cools the skin measurably (0.09 K here)


def test_temperature_dependent_conductivity_matches_kirchhoff():
    """k(T) = k (1 + b (T - 37 C)): U(T) = int_{T_c}^T k ds is linear in depth and the top
    balances -U(T_s) / D = h (T_s - T_a). The L2 error of the steady state converges at
    second order (3D tetrahedra with a coefficient varying inside them are not nodally exact,
    unlike the 1D element); with constant k the answer is far off."""
    D, h, b = 1e-3, 2000.0, 0.02
    T_r = 37.0 + 273.15

    def U(T, Tc):
        return K * ((T - Tc) + 0.5 * b * ((T - T_r) ** 2 - (Tc - T_r) ** 2))

    def l2_error(nz):
        case = slab_case(depth_um=D * 1e6, h=h, T_amb=5.0, slope=b)
        heat = heat_problem(*box_mesh(case, (nz // 2, nz // 2, nz)), case, with_laser=False)
        heat.solve_steady()
        Tc, Ta = case.boundary.core_T, case.boundary.ambient_T
        U_s = U(bisect(lambda T: -U(T, Tc) / D - h * (T - Ta), Ta, Tc), Tc)

        def exact(x):  # invert U(T) = U_s (z + D) / D, a quadratic in y = T - T_r
            c = (T_r - Tc) - 0.5 * b * (Tc - T_r) ** 2 - U_s * (x[2] + D) / (D * K)
            return T_r + (-1.0 + np.sqrt(1.0 - 2.0 * b * c)) / b

        V2 = dfem.functionspace(heat.mesh, ("Lagrange", 3))
        T_ex = dfem.Function(V2)
        T_ex.interpolate(exact)
        err = dfem.form((heat.T - T_ex) ** 2 * ufl.dx)
        e = math.sqrt(heat.comm.allreduce(dfem.assemble_scalar(err), op=MPI.SUM) / D**3)
        return e, exact(np.zeros((3, 1)))[0]

    (e1, T_s), (e2, _), (e3, _) = l2_error(4), l2_error(8), l2_error(16)
    rates = [math.log2(e1 / e2), math.log2(e2 / e3)]
    assert min(rates) > 1.8 and e3 < 0.02, (e1, e2, e3, rates)
    const = slab_case(depth_um=D * 1e6, h=h, T_amb=5.0)
    T_const = (K / D * const.boundary.core_T + h * const.boundary.ambient_T) / (K / D + h)
    assert abs(T_const - T_s) > 1.0  # the slope matters (1.5 K at the surface)


# --------------------------------------------------------------------------------------------
# Perfusion shutdown
# --------------------------------------------------------------------------------------------


def test_perfusion_stopped_by_damage_reaches_the_unperfused_steady_state():
    """With Omega huge everywhere (F = 1) the lagged perfusion term cancels the implicit one
    at the fixed point: long steps reach the steady state of the same slab without perfusion,
    and the ledger balances throughout."""
    w = 2e-2  # 1/s, 10x dermis, 5 mm: perfusion changes the profile by kelvins
    case = slab_case(depth_um=5000.0, perfusion=w, h=50.0, T_amb=5.0, shutdown=True)
    heat = heat_problem(*column_mesh(case, 8), case, with_laser=False)
    heat.solve_steady()
    perfused = heat.T.x.array.copy()
    omega = dfem.Function(heat.V)
    omega.x.array[:] = 50.0
    heat.set_cell_damage(omega)
    t = 0.0
    for n in range(40):  # 4000 s, 20 diffusion times D^2 / a of the slab
        heat.step(t, t + 100.0, 0.0, n)
        t += 100.0
    ref_case = slab_case(depth_um=5000.0, perfusion=0.0, h=50.0, T_amb=5.0)
    ref = heat_problem(heat.mesh, *column_mesh(ref_case, 8)[1:], ref_case, with_laser=False)
    ref.solve_steady()
    change = heat.comm.allreduce(float(np.abs(perfused - ref.T.x.array).max()), op=MPI.MAX)
    diff = heat.comm.allreduce(float(np.abs(heat.T.x.array - ref.T.x.array).max()), op=MPI.MAX)
    assert change > 1.0  # perfusion mattered before
    assert diff < 1e-6 * change
    led = heat.ledger
    rhs = led.metabolic + led.bottom_inflow - led.perfusion_out - led.surface_out
    assert led.stored == pytest.approx(rhs, rel=1e-6, abs=1e-12)


# --------------------------------------------------------------------------------------------
# Cooling devices
# --------------------------------------------------------------------------------------------


def test_cooling_schedules():
    cryo = slab_case(cooling_table={"mode": "cryogen"})
    spray, delay = presets.CRYOGEN_DEFAULTS["spray_ms"], presets.CRYOGEN_DEFAULTS["delay_ms"]
    surface = surface_conditions(cryo)
    assert surface.start_time == pytest.approx(-(spray + delay) * 1e-3)
    assert surface.state_at(-(delay + 0.5 * spray) * 1e-3).name == "cryogen"
    assert surface.state_at(-0.5 * delay * 1e-3).name == "air"
    steps = Schedule.of(cryo).steps
    assert steps[0][0] == pytest.approx(surface.start_time)
    assert -delay * 1e-3 in [s for s, _ in steps]  # a step boundary where the spurt ends
    contact = slab_case(cooling_table={"mode": "contact", "precool_ms": 40})
    surface = surface_conditions(contact)
    assert surface.state_at(0.02).name == "contact"
    assert surface.state_at(-0.05).name == "air"
    assert surface.device.h_top == 5000.0


def test_cryogen_spurt_matches_the_convective_half_space():
    """A spurt of h = 5000 W/(m^2 K) at -45 C on tissue at a uniform 37 C (core = ambient, no
    convection before): the surface follows the exact half-space solution during the spurt and
    the books balance. 2 mm deep: the bottom is 9 diffusion lengths away at 30 ms."""
    h_s, T_f, spray = 5000.0, -45.0, 30.0
    case = slab_case(depth_um=2000.0, h=0.0, T_amb=37.0, T_core=37.0,
                     cooling_table={"mode": "cryogen", "spray_htc_W_per_m2K": h_s,
                                    "spray_temperature_C": T_f, "spray_ms": spray,
                                    "delay_ms": 5.0})
    heat = heat_problem(*column_mesh(case, 48, grading=4.0), case, with_laser=False)
    heat.solve_steady()
    probe = PointEvaluator(heat.mesh, np.array([[1e-6, 1e-6, 0.0]]))
    t_end_spray = -5e-3
    for n, (t0, t1) in enumerate(Schedule.of(case).steps):
        if t0 >= t_end_spray - 1e-12:
            break
        T = heat.step(t0, t1, 0.0, n)
    t = spray * 1e-3
    b = h_s * math.sqrt(ALPHA * t) / K
    exact = 37.0 + (T_f - 37.0) * (1.0 - math.exp(b * b) * math.erfc(b))
    got = probe(T)[0] - 273.15
    assert got == pytest.approx(exact, abs=0.02 * (37.0 - exact)), (got, exact)
    led = heat.ledger
    assert led.surface_out > 0
    rhs = led.metabolic + led.bottom_inflow - led.perfusion_out - led.surface_out
    assert led.stored == pytest.approx(rhs, rel=1e-6)


# --------------------------------------------------------------------------------------------
# A scan end to end
# --------------------------------------------------------------------------------------------


def test_raster_scan_end_to_end(shared_tmp):
    """Four columns fired one after another (coarse grid patch): every pulse delivered and
    absorbed as expected, the books balance, each column peaks in its turn, and the matrices
    stay few."""
    out = shared_tmp / "scan"
    args = ["run", str(DEMO), "-o", str(out), "--set", "pattern.layout='grid'",
            "--set", "pattern.density_per_cm2=400", "--set", "pattern.patch_um=1000",
            "--set", "pattern.firing_order='raster'", "--set", "pattern.column_interval_ms=8",
            "--set", "time.end_ms=40", "--set", "mesh.resolution='coarse'",
            "--set", "mechanics.enabled=false", "--set", "output.render=false",
            "--set", "output.fields=false", "--set", "cooling.mode='cryogen'",
            "--set", "healing.enabled=false"]
    case = load_case(DEMO, [a for a in args[4:] if a != "--set"])
    centres = np.array(case.pattern.layout.centres)
    probes = [[x * 1e6, y * 1e6, -100.0] for x, y in centres]
    args += ["--set", f"output.probes_um={json.dumps(probes)}"]
    assert main(args) == 0
    MPI.COMM_WORLD.Barrier()
    m = json.loads((out / "metrics.json").read_text())
    assert m["columns"] == 4
    assert m["delivered_energy_J"] == pytest.approx(4 * case.laser.energy)
    assert m["source_energy_error"] < 0.005
    assert m["energy_balance_error"] < 1e-6
    lines = (out / "probes.csv").read_text().splitlines()
    head, rows = lines[0].split(","), np.array([[float(v) for v in r.split(",")]
                                                for r in lines[1:]])
    temps = [rows[:, j] for j, name in enumerate(head) if name.endswith("_T_C")]
    peaks = [rows[np.argmax(T), 0] for T in temps]
    assert np.all(np.diff(peaks) > 0), peaks  # raster order
    prov = json.loads((out / "provenance.json").read_text())
    # (step size, surface) pairs: the pulse step, the ladders of the 5 ms gaps, the spurt
    # and the delay before the first pulse: a dozen matrices for 157 steps.
    assert prov["heat_step_sizes"] <= 16


# --------------------------------------------------------------------------------------------
# Boiling of tissue water
# --------------------------------------------------------------------------------------------


def test_boiling_plateau_of_uniformly_heated_tissue():
    """Tissue heated uniformly (no losses far from the bottom) rises to 100 C, stays there
    while its water boils off (latent heat w rho_w L_v), then heats on: the 0D history
    T(t) = T0 + q t / (rho c) up to 100 C, a plateau of w rho_w L_v / q, then the same slope.
    Checked 500 um deep, 1.5 mm from the core-temperature bottom (diffusion length 140 um at
    the end; the insulated top is a mirror); the ledger books the latent heat as vaporised
    and balances."""
    case = slab_case(depth_um=2000.0, h=0.0, T_amb=37.0, T_core=37.0)
    assert case.tissue.vaporisation
    domain, cell_tags, facet_tags = column_mesh(case, 40)
    rho_c = RHO * C
    q = rho_c * 63.0 / 10e-3  # W/m^3: 37 -> 100 C in 10 ms
    volume = case.pattern.layout.area * case.skin.depth
    heat = heat_problem(domain, cell_tags, facet_tags, case,
                        heat_input=lambda v: (1.0 / volume) * v * ufl.dx)
    heat.solve_steady()
    probe = PointEvaluator(heat.mesh, np.array([[1e-6, 1e-6, -500e-6]]))
    t_boil = 10e-3
    t_dry = t_boil + presets.WATER_DENSITY * presets.LATENT_HEAT_WATER / q  # 100 ms
    dt, history = 1e-3, []
    for n in range(150):
        T = heat.step(n * dt, (n + 1) * dt, q * volume, n)
        history.append(((n + 1) * dt, probe(T)[0] - 273.15))
    for t, got in history:
        if t < t_boil - 2 * dt:
            exact = 37.0 + q * t / rho_c
        elif t_boil + 2 * dt < t < t_dry - 2 * dt:
            exact = 100.0
        elif t > t_dry + 2 * dt:
            exact = 100.0 + q * (t - t_dry) / rho_c
        else:
            continue  # within two steps of a kink
        assert got == pytest.approx(exact, abs=1e-6 * exact + 0.01), (t, got, exact)
    led = heat.ledger
    assert led.vaporised > 0.5 * volume * presets.WATER_DENSITY * presets.LATENT_HEAT_WATER
    assert led.error < 1e-8

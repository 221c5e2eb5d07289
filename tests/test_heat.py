"""Pennes bioheat verification: the steady slab against the exact cosh/sinh solution.

The Pennes forms of :class:`fem.physics.heat.PennesProblem` are run on structured boxes refined
uniformly in depth (the solution is 1D), so that the L2 error falls at the P1 rate of 2.
"""

import math

from mpi4py import MPI

import numpy as np
import pytest
import ufl
import dolfinx.fem as dfem

from fem.config import case_from_dict
from fem.run.problems import heat_problem
from fem.config.presets import BLOOD_DENSITY, BLOOD_SPECIFIC_HEAT

K, RHO, PERF, MET = 0.37, 1116.0, 0.02, 50.0  # strong perfusion: 1/m ~ 2 mm
DEPTH_UM, H, T_AMB, T_CORE, T_ART = 5000.0, 200.0, 20.0, 37.0, 36.0


def slab_case(h_um: float):
    layer = {
        "thickness_um": DEPTH_UM, "density_kg_per_m3": RHO, "specific_heat_J_per_kgK": 3300.0,
        "conductivity_W_per_mK": K, "perfusion_per_s": PERF, "metabolic_W_per_kg": MET,
        "water_fraction": 0.7, "youngs_modulus_kPa": 1000.0, "poisson_ratio": 0.45,
        "expansion_per_K": 1e-4, "collagen": True,
    }
    return case_from_dict({
        "skin": {"preset": "none", "layers": {"dermis": layer}},
        "pattern": {"density_per_cm2": 400.0},  # 500 um cell
        "boundary": {"ambient_temperature_C": T_AMB, "surface_htc_W_per_m2K": H,
                     "core_temperature_C": T_CORE, "arterial_temperature_C": T_ART,
                     "evaporation": False},  # the exact solution has a linear Robin top
        "mesh": {"column_size_um": h_um, "surface_size_um": h_um, "far_size_um": h_um,
                 "column_radius_um": 100.0, "column_depth_um": 1000.0},
    })


def exact_steady(z):
    """theta = T - T* = A cosh(m z) + B sinh(m z), z in [-D, 0] (z = 0 the surface)."""
    wcb = PERF * BLOOD_DENSITY * BLOOD_SPECIFIC_HEAT
    m = math.sqrt(wcb / K)
    T_star = T_ART + 273.15 + RHO * MET / wcb
    D = DEPTH_UM * 1e-6
    # bottom: theta(-D) = Tc - T*;  top: k theta'(0) = -h (theta(0) + T* - T_amb)
    # theta(0) = A, theta'(0) = m B  ->  k m B = -h (A + T* - Tamb)
    # A cosh(mD) - B sinh(mD) = Tc - T*
    Tc, Ta = T_CORE + 273.15, T_AMB + 273.15
    M = np.array([[math.cosh(m * D), -math.sinh(m * D)], [H, K * m]])
    A, B = np.linalg.solve(M, [Tc - T_star, -H * (T_star - Ta)])
    return T_star + A * np.cosh(m * z) + B * np.sinh(m * z)


def slab_mesh(case, nz: int):
    """Structured box over the slab refined uniformly, tagged like the skin block."""
    from test_heat_verification import box_mesh

    return box_mesh(case, (max(1, nz // 10), max(1, nz // 10), nz))


def steady_error(nz: int) -> tuple[float, float]:
    case = slab_case(200.0)
    domain, cell_tags, facet_tags = slab_mesh(case, nz)
    heat = heat_problem(domain, cell_tags, facet_tags, case, with_laser=False)
    T = heat.solve_steady()
    # L2 error of T - T_core against the exact solution, in a higher-degree space
    V3 = dfem.functionspace(domain, ("Lagrange", 3))
    Te = dfem.Function(V3)
    Te.interpolate(lambda x: exact_steady(x[2]))
    e = dfem.form((T - Te) ** 2 * ufl.dx)
    n = dfem.form((Te - (T_CORE + 273.15)) ** 2 * ufl.dx)
    comm = domain.comm
    err = math.sqrt(comm.allreduce(dfem.assemble_scalar(e), MPI.SUM))
    norm = math.sqrt(comm.allreduce(dfem.assemble_scalar(n), MPI.SUM))
    return err / norm, case.skin.depth / nz


def test_steady_pennes_slab_converges_at_rate_two():
    errors, sizes = zip(*(steady_error(nz) for nz in (10, 20, 40, 80)))
    rate = np.polyfit(np.log(sizes), np.log(errors), 1)[0]
    assert errors[-1] < 2e-3, errors
    assert rate > 1.8, (rate, errors)


def test_exact_solution_satisfies_its_boundary_conditions():
    D = DEPTH_UM * 1e-6
    assert exact_steady(np.array([-D]))[0] == pytest.approx(T_CORE + 273.15)
    eps = 1e-9
    dTdz = (exact_steady(np.array([0.0]))[0] - exact_steady(np.array([-eps]))[0]) / eps
    T0 = exact_steady(np.array([0.0]))[0]
    assert -K * dTdz == pytest.approx(H * (T0 - T_AMB - 273.15), rel=1e-4)

"""Verification of the eigenstrain elasticity (fem/mechanics.py) against exact solutions.

* A free block with uniform eigenstrain (isotropic thermal, in-plane shrinkage): zero stress,
  displacement = strain x position, area loss 1 - (1 - s)^2; with held sides the biaxial
  stress E s / (1 - nu) (the residual stress).
* A cylindrical inclusion with uniform (dilatational) eigenstrain e* in a matrix, plane strain
  (a slab one element thick, u_z = 0 on both faces), a quarter of it with symmetry planes and
  the exact displacement of the infinite matrix on the outer sides (so the finite domain adds no
  error): inside sigma_rr = sigma_tt = -E e* / (2 (1 - nu)), outside
  u_r = (1 + nu) e* a^2 / (2 (1 - nu) r) (shared/physics/parameters.md). Stresses are compared
  in the core r < a/2 (away from the polygonal interface, whose area error is O(h^2)) and the
  displacement in the whole matrix; convergence rates are fitted over three meshes.
* No locking: with P2 the error does not grow from nu = 0.3 to 0.499 (P1's does).
* CG + GAMG iteration counts stay bounded under refinement.

Runs serially and under ``mpiexec -n 2`` (the inclusion and block errors must not depend on
the number of ranks beyond solver tolerance).
"""

from types import SimpleNamespace

from mpi4py import MPI

import numpy as np
import pytest
import ufl
import dolfinx.fem as dfem
from dolfinx import mesh

from fem.config import CaseError, case_from_dict, resolve
from fem.physics.mechanics import ElasticityProblem, MechanicsSettings, held
from fem.run.problems import elasticity_problem
from meshes.skin import BOTTOM, TOP, layer_tag

E, NU = 1.0e6, 0.45  # Pa; dermis-like (parameters.md)


# --------------------------------------------------------------------------------------------
# Free block with uniform eigenstrain, through the production boundary conditions
# --------------------------------------------------------------------------------------------


METHODS = [(1, "displacement"), (2, "displacement"), (2, "mixed")]
LAYOUTS = {"single": {"layout": "single", "patch_um": 400.0},
           # the quarter of a 400 um cell: 200 x 200 um with symmetry planes x = 0, y = 0
           "quarter_cell": {"layout": "quarter_cell", "density_per_cm2": 625.0}}


def block_case(sides: str, degree: int | None, nu: float = NU, layout: str = "single",
               formulation: str = "displacement"):
    """A one-layer collagen block (300 um thick) as a case with free or held sides: a
    400 x 400 um patch, or the quarter cell of a 400 um pitch."""
    raw = {
        "skin": {"preset": "none", "layers": {"dermis": {
            "thickness_um": 300.0, "density_kg_per_m3": 1100.0, "specific_heat_J_per_kgK": 3500.0,
            "conductivity_W_per_mK": 0.5, "perfusion_per_s": 0.0, "metabolic_W_per_kg": 0.0,
            "water_fraction": 0.7, "youngs_modulus_kPa": E * 1e-3, "poisson_ratio": nu,
            "expansion_per_K": 1e-4, "collagen": True}}},
        "pattern": LAYOUTS[layout],
        "mechanics": {"sides": sides, "formulation": formulation}
        | ({} if degree is None else {"degree": degree}),
        "mesh": {"column_radius_um": 50.0, "column_depth_um": 200.0},
    }
    return case_from_dict(raw)


def block_mesh(case, n: int = 3):
    """A box mesh of the case's block, cells tagged as layer 0, top and bottom facets tagged."""
    x0, x1, y0, y1 = case.pattern.layout.extent
    domain = mesh.create_box(MPI.COMM_WORLD, [[x0, y0, -case.skin.depth], [x1, y1, 0.0]], [n, n, n],
                             mesh.CellType.tetrahedron)
    tdim = domain.topology.dim
    domain.topology.create_entities(tdim - 1)
    cells = np.arange(domain.topology.index_map(tdim).size_local
                      + domain.topology.index_map(tdim).num_ghosts, dtype=np.int32)
    cell_tags = mesh.meshtags(domain, tdim, cells, np.full(cells.size, layer_tag(0, False),
                                                            dtype=np.int32))
    top = mesh.locate_entities_boundary(domain, tdim - 1, lambda x: np.isclose(x[2], 0.0))
    bottom = mesh.locate_entities_boundary(domain, tdim - 1,
                                           lambda x: np.isclose(x[2], -case.skin.depth))
    facets = np.concatenate([top, bottom])
    values = np.concatenate([np.full(top.size, TOP), np.full(bottom.size, BOTTOM)])
    order = np.argsort(facets)
    facet_tags = mesh.meshtags(domain, tdim - 1, facets[order], values[order].astype(np.int32))
    return domain, cell_tags, facet_tags


def solve_block(case, dT: float = 0.0, omega: float = 0.0):
    """Uniform temperature rise ``dT`` and collagen damage ``omega`` on the block."""
    domain, cell_tags, facet_tags = block_mesh(case)
    VT = dfem.functionspace(domain, ("Lagrange", 1))
    T0 = dfem.Function(VT)
    T0.x.array[:] = 310.0
    problem = elasticity_problem(domain, cell_tags, facet_tags, case, T0)
    T, w = dfem.Function(VT), dfem.Function(VT)
    T.x.array[:] = 310.0 + dT
    w.x.array[:] = omega
    problem.solve(T, w)
    return problem


def max_error_to(problem, exact) -> float:
    """Largest nodal difference between the displacement and ``exact(x)`` (3 x n array)."""
    V = problem.V
    ref = dfem.Function(V)
    ref.interpolate(exact)
    err = np.abs(problem.u.x.array - ref.x.array).max(initial=0.0)
    return MPI.COMM_WORLD.allreduce(err, op=MPI.MAX)


def fixed_point(case):
    """The point of the block's top plane that does not move in a uniform in-plane strain:
    the pinned corner (free sides), the symmetry axis (quarter cell), the centre (periodic
    sides of a full cell, which move symmetrically)."""
    x0, x1, y0, y1 = case.pattern.layout.extent
    if case.mechanics.sides == "periodic" and not case.pattern.layout.mirror:
        return 0.5 * (x0 + x1), 0.5 * (y0 + y1)
    return x0, y0


@pytest.mark.parametrize("sides", ["free", "periodic"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("degree, formulation", METHODS)
def test_free_block_thermal_expansion_is_stress_free(degree, formulation, layout, sides):
    case = block_case(sides, degree, layout=layout, formulation=formulation)
    dT, alpha = 40.0, case.skin.layers[0].alpha
    problem = solve_block(case, dT=dT)
    x0, y0 = fixed_point(case)
    e = alpha * dT
    err = max_error_to(problem, lambda x: np.vstack([e * (x[0] - x0), e * (x[1] - y0),
                                                     e * (x[2] + case.skin.depth)]))
    assert err < 1e-6 * e * case.skin.depth  # exact to the solver's tolerance (CG to 1e-8)
    m = problem.metrics()
    assert m["max_von_mises_kPa"] < 1e-6 * E * e * 1e-3  # zero stress to solver tolerance
    assert abs(m["residual_stress_kPa"]) < 1e-6 * E * e * 1e-3
    assert m["tightening_area_percent"] == pytest.approx(100.0 * (1.0 - (1.0 + e) ** 2), rel=1e-7)


@pytest.mark.parametrize("sides", ["free", "periodic"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("degree, formulation", METHODS)
def test_free_block_in_plane_shrinkage_gives_exact_area_loss(degree, formulation, layout, sides):
    case = block_case(sides, degree, layout=layout, formulation=formulation)
    omega = 1.5
    s = case.mechanics.shrinkage_max * (1.0 - np.exp(-omega))
    problem = solve_block(case, omega=omega)
    x0, y0 = fixed_point(case)
    err = max_error_to(problem, lambda x: np.vstack([-s * (x[0] - x0), -s * (x[1] - y0),
                                                     0.0 * x[2]]))
    assert err < 1e-6 * s * case.skin.depth  # exact to the solver tolerance (CG to 1e-8)
    m = problem.metrics()
    assert m["max_von_mises_kPa"] < 1e-6 * E * s * 1e-3
    assert m["tightening_area_percent"] == pytest.approx(100.0 * (1.0 - (1.0 - s) ** 2), rel=1e-7)
    assert m["linear_contraction_percent"] == pytest.approx(100.0 * s, rel=1e-7)
    cells = problem.cell_stress_kPa()
    assert set(cells) == {"von_mises_kPa", "principal_stress_1_kPa", "principal_stress_2_kPa",
                          "principal_stress_3_kPa"}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("degree, formulation", METHODS)
def test_periodic_cell_of_a_bilayer_contracts_as_a_plate(degree, formulation, layout):
    """A stiff top layer that does not shrink (100 um, 1.5 MPa: an epidermis) on a shrinking
    one (200 um, 1 MPa): with periodic sides (plane, zero net force) the cell cannot bend
    or curl at its edges, and the exact solution is one in-plane strain through the depth,
    the mean of the eigenstrains weighted by the biaxial stiffness E t / (1 - nu); the
    tightening is 1 - (1 + e)^2 exactly. Free sides (an isolated patch) read less: the top
    layer curls up at the free edges and bends."""
    layer = {"density_kg_per_m3": 1100.0, "specific_heat_J_per_kgK": 3500.0,
             "conductivity_W_per_mK": 0.5, "perfusion_per_s": 0.0, "metabolic_W_per_kg": 0.0,
             "water_fraction": 0.7, "poisson_ratio": NU, "expansion_per_K": 1e-4}
    layers = {"top": layer | {"thickness_um": 100.0, "youngs_modulus_kPa": 1500.0,
                              "collagen": False},
              "dermis": layer | {"thickness_um": 200.0, "youngs_modulus_kPa": 1000.0,
                                 "collagen": True}}
    omega, result = 1.5, {}
    for sides in ("periodic", "free"):
        case = case_from_dict({
            "skin": {"preset": "none", "layers": layers}, "pattern": LAYOUTS[layout],
            "mechanics": {"sides": sides, "formulation": formulation, "degree": degree},
            "mesh": {"column_radius_um": 50.0, "column_depth_um": 200.0}})
        domain, cell_tags, facet_tags = block_mesh(case, n=3)  # planes at -100, -200 um
        tdim = domain.topology.dim
        mid = mesh.compute_midpoints(domain, tdim, cell_tags.indices)
        values = np.where(mid[:, 2] > -100e-6, layer_tag(0, False), layer_tag(1, False))
        cell_tags = mesh.meshtags(domain, tdim, cell_tags.indices, values.astype(np.int32))
        VT = dfem.functionspace(domain, ("Lagrange", 1))
        T0, w = dfem.Function(VT), dfem.Function(VT)
        T0.x.array[:] = 310.0
        w.x.array[:] = omega
        problem = elasticity_problem(domain, cell_tags, facet_tags, case, T0)
        problem.solve(T0, w)
        result[sides] = problem.metrics()
    s = case.mechanics.shrinkage_max * (1.0 - np.exp(-omega))
    M = np.array([1.5e6, 1.0e6]) / (1 - NU) * np.array([100.0, 200.0])
    e = (M[1] * -s) / M.sum()
    m = result["periodic"]
    # Exact for displacement elements; the mixed form's continuous pressure smears the jump
    # of the mean stress at the interface over one element (here a third of the block): 3 %.
    rel = 1e-6 if formulation == "displacement" else 0.05
    assert m["tightening_area_percent"] == pytest.approx(100 * (1 - (1 + e) ** 2), rel=rel)
    assert m["linear_contraction_percent"] == pytest.approx(-100 * e, rel=rel)
    assert result["free"]["tightening_area_percent"] < 0.9 * m["tightening_area_percent"]


def test_tightening_is_the_area_of_the_patch_seen_from_above():
    """Tightening measures the treated patch as a square marked on the skin does: a dimple
    (u = (0, 0, w)) changes nothing although the true surface area grows; a uniform in-plane
    shrinkage s with a dimple on top gives 1 - (1 - s)^2 exactly and the linear contraction s;
    a crater whose mouth closes while the outer edge stays put gives none either (the top
    alone would grow: the crater walls count)."""
    case = block_case("free", 1)
    domain, cell_tags, facet_tags = block_mesh(case, n=8)
    T0 = dfem.Function(dfem.functionspace(domain, ("Lagrange", 1)))
    T0.x.array[:] = 310.0
    problem = elasticity_problem(domain, cell_tags, facet_tags, case, T0)
    x0, x1, y0, y1 = case.pattern.layout.extent
    L = x1 - x0

    def dimple(x):
        return 20e-6 * np.sin(np.pi * (x[0] - x0) / L) * np.sin(np.pi * (x[1] - y0) / L)

    s = 0.07
    for u, loss in ((lambda x: np.stack([0 * x[0], 0 * x[0], dimple(x)]), 0.0),
                    (lambda x: np.stack([-s * x[0], -s * x[1], dimple(x)]), 1 - (1 - s) ** 2)):
        problem.u.interpolate(u)
        m = problem.metrics()
        assert m["tightening_area_percent"] == pytest.approx(100 * loss, abs=1e-9)
    assert m["linear_contraction_percent"] == pytest.approx(100 * s, rel=1e-9)

    crater = case_from_dict({"laser": {"preset": "co2_10600", "energy_mJ": 20},
                             "pattern": {"layout": "single", "density_per_cm2": 400},
                             "mesh": {"resolution": "coarse"}})
    from fem.run.mesh import build_mesh

    data, _ = build_mesh(crater, MPI.COMM_WORLD)
    T0 = dfem.Function(dfem.functionspace(data.mesh, ("Lagrange", 1)))
    T0.x.array[:] = 310.0
    problem = elasticity_problem(data.mesh, data.cell_tags, data.facet_tags, crater, T0)
    R = crater.crater.radius  # 89 um: the mouth closes by 30 %, nothing moves beyond 2.5 R
    assert 2.5 * R < 0.5 * (crater.pattern.layout.extent[1] - crater.pattern.layout.extent[0])

    def closing(x):
        r = np.hypot(x[0], x[1])
        f = -0.3 * np.clip((2.5 * R - r) / (1.5 * R), 0.0, 1.0)
        return np.stack([f * x[0], f * x[1], 0 * x[0]])

    problem.u.interpolate(closing)
    assert abs(problem.metrics()["tightening_area_percent"]) < 1e-9


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("degree, formulation", METHODS)
def test_held_sides_give_biaxial_residual_stress(degree, formulation, layout):
    """Sides held, in-plane shrinkage s: u_x = u_y = 0, sigma_xx = sigma_yy = E s / (1 - nu),
    sigma_zz = 0 (free top), no tightening."""
    case = block_case("held", degree, layout=layout, formulation=formulation)
    omega = 1.0
    s = case.mechanics.shrinkage_max * (1.0 - np.exp(-omega))
    problem = solve_block(case, omega=omega)
    m = problem.metrics()
    sigma = E * s / (1.0 - NU)
    assert m["residual_stress_kPa"] == pytest.approx(sigma * 1e-3, rel=1e-6)
    assert abs(m["tightening_area_percent"]) < 1e-6
    c = problem.cell_stress_kPa()
    if c["von_mises_kPa"].size:  # biaxial: principal stresses (sigma, sigma, 0), von Mises sigma
        assert np.allclose(c["principal_stress_1_kPa"], sigma * 1e-3, rtol=1e-6)
        assert np.allclose(c["principal_stress_2_kPa"], sigma * 1e-3, rtol=1e-6)
        assert np.allclose(c["principal_stress_3_kPa"], 0.0, atol=1e-6 * sigma * 1e-3)
        assert np.allclose(c["von_mises_kPa"], sigma * 1e-3, rtol=1e-6)


# --------------------------------------------------------------------------------------------
# Cylindrical inclusion in plane strain
# --------------------------------------------------------------------------------------------

A_INC, L_DOM, E_STAR = 1.0, 2.5, 1e-2  # inclusion radius, quarter-domain side, eigenstrain
CORE, RING, MATRIX = 1, 2, 3  # cell tags = layer_tag(0..2, False)


def inclusion_mesh(h: float):
    """Quarter of a disk of radius a (core r < a/2 and ring) in a square of side L, extruded
    one element of height h in z, conforming to both circles; gmsh on rank 0."""
    import gmsh
    from dolfinx.io.gmsh import model_to_mesh

    comm = MPI.COMM_WORLD
    if not gmsh.isInitialized():
        gmsh.initialize(interruptible=False)
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.option.setNumber("General.NumThreads", 1)
    gmsh.model.add("inclusion")
    try:
        if comm.rank == 0:
            occ = gmsh.model.occ
            square = occ.addRectangle(0.0, 0.0, 0.0, L_DOM, L_DOM)
            disks = [(2, occ.addDisk(0.0, 0.0, 0.0, r, r)) for r in (A_INC, 0.5 * A_INC)]
            occ.fragment([(2, square)], disks)
            occ.synchronize()
            outside = [s for s in gmsh.model.getEntities(2)
                       if min(occ.getCenterOfMass(*s)[:2]) < 0.0]
            occ.remove(outside, recursive=True)
            occ.extrude(occ.getEntities(2), 0.0, 0.0, h, numElements=[1])
            occ.synchronize()
            for dim, tag in gmsh.model.getEntities(3):
                x, y, _ = occ.getCenterOfMass(dim, tag)
                r = np.hypot(x, y)
                region = CORE if r < 0.5 * A_INC else RING if r < A_INC else MATRIX
                gmsh.model.addPhysicalGroup(3, [tag], region)
            gmsh.option.setNumber("Mesh.MeshSizeMin", h)
            gmsh.option.setNumber("Mesh.MeshSizeMax", h)
            gmsh.model.mesh.generate(3)
        data = model_to_mesh(gmsh.model, comm, 0, gdim=3)
    finally:
        gmsh.model.remove()
        gmsh.finalize()  # leave no options (mesh sizes) behind for the next gmsh user
    return data.mesh, data.cell_tags, data.facet_tags


def inclusion_error(h: float, nu: float, degree: int,
                    formulation: str = "displacement") -> dict[str, float]:
    """Relative L2 errors of the core stress (``stress``) and of its deviatoric part
    (``deviatoric``, relative to the whole stress), of the matrix displacement
    (``displacement``), and the CG iterations."""
    domain, cell_tags, facet_tags = inclusion_mesh(h)
    inclusion = SimpleNamespace(E=E, nu=nu, alpha=E_STAR, collagen=False)
    layers = [inclusion, inclusion, SimpleNamespace(E=E, nu=nu, alpha=0.0, collagen=False)]
    B = (1 + nu) * E_STAR * A_INC**2 / (2 * (1 - nu))  # u_r = B / r outside

    def bcs(V):
        fdim = 2
        out = []
        for comp, axis in ((0, 0), (1, 1)):  # symmetry planes
            f = mesh.locate_entities_boundary(domain, fdim, lambda x, a=axis: np.isclose(x[a], 0))
            out.append(held(V, comp, fdim, f))
        f = mesh.locate_entities_boundary(domain, fdim, lambda x: np.isclose(x[2], 0)
                                          | np.isclose(x[2], h))  # plane strain
        out.append(held(V, 2, fdim, f))
        return out

    # The outer sides carry the traction of the infinite matrix's solution (not its
    # displacement: prescribing the normal displacement on the whole boundary would fix the
    # volume, and the O(h^2) area error of the polygonal inclusion would then load the nearly
    # incompressible matrix with a spurious pressure ~ kappa h^2).
    outer = mesh.locate_entities_boundary(domain, 2, lambda x: np.isclose(x[0], L_DOM)
                                          | np.isclose(x[1], L_DOM))
    outer_tags = mesh.meshtags(domain, 2, np.sort(outer), np.ones(outer.size, dtype=np.int32))
    x = ufl.SpatialCoordinate(domain)
    r2 = x[0] ** 2 + x[1] ** 2
    xv = ufl.as_vector([x[0], x[1], 0.0])
    I2 = ufl.as_matrix([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 0]])
    mu = E / (2 * (1 + nu))
    sigma_out = 2 * mu * B * (I2 / r2 - 2 * ufl.outer(xv, xv) / r2**2)  # sigma_zz = 0 outside
    n = ufl.FacetNormal(domain)
    ds_outer = ufl.Measure("ds", domain=domain, subdomain_data=outer_tags,
                           metadata={"quadrature_degree": 6})(1)

    def traction(v):
        return ufl.inner(sigma_out * n, v) * ds_outer

    VT = dfem.functionspace(domain, ("Lagrange", 1))
    T0, T, omega = dfem.Function(VT), dfem.Function(VT), dfem.Function(VT)
    T.x.array[:] = 1.0  # alpha (T - T0) = e* in the inclusion
    settings = MechanicsSettings(degree=degree, rtol=1e-10, max_it=2000, formulation=formulation)
    problem = ElasticityProblem(domain, cell_tags, facet_tags, layers, T0, settings, bcs,
                                load=traction)
    u = problem.solve(T, omega)

    u_ex = B * ufl.as_vector([x[0] / r2, x[1] / r2, 0.0])
    s0 = -E * E_STAR / (2 * (1 - nu))  # sigma_rr = sigma_tt inside
    sigma_ex = ufl.as_matrix([[s0, 0, 0], [0, s0, 0], [0, 0, 2 * nu * s0 - E * E_STAR]])
    dx = ufl.Measure("dx", domain=domain, subdomain_data=cell_tags,
                     metadata={"quadrature_degree": 2 * degree + 2})

    def integral(expr):
        return domain.comm.allreduce(dfem.assemble_scalar(dfem.form(expr)), op=MPI.SUM)

    e_sigma = problem.sigma(u) - sigma_ex
    err_s = np.sqrt(integral(ufl.inner(e_sigma, e_sigma) * dx(CORE))
                    / integral(ufl.inner(sigma_ex, sigma_ex) * dx(CORE)))
    e_dev = ufl.dev(e_sigma)
    err_d = np.sqrt(integral(ufl.inner(e_dev, e_dev) * dx(CORE))
                    / integral(ufl.inner(sigma_ex, sigma_ex) * dx(CORE)))
    err_u = np.sqrt(integral(ufl.inner(u - u_ex, u - u_ex) * dx(MATRIX))
                    / integral(ufl.inner(u_ex, u_ex) * dx(MATRIX)))
    return {"stress": err_s, "deviatoric": err_d, "displacement": err_u,
            "iterations": problem.last_iterations}


def rate(hs, errors) -> float:
    return float(np.polyfit(np.log(hs), np.log(errors), 1)[0])


@pytest.mark.parametrize("degree, formulation", [(1, "displacement"), (2, "displacement"),
                                                  (2, "mixed")])
def test_inclusion_converges_to_eshelby_solution(degree, formulation):
    hs = [A_INC / 3, A_INC / 6, A_INC / 12]
    res = [inclusion_error(h, NU, degree, formulation) for h in hs]
    err_s, err_u, its = (np.array([r[k] for r in res]) for k in ("stress", "displacement",
                                                                 "iterations"))
    if MPI.COMM_WORLD.rank == 0:
        print(f"\nP{degree} {formulation}, inclusion, nu {NU}: h {np.round(hs, 4)}"
              f"\n  core stress error {err_s}, rate {rate(hs, err_s):.2f}"
              f"\n  matrix displacement error {err_u}, rate {rate(hs, err_u):.2f}"
              f"\n  iterations {its}")
    assert err_s[-1] < 0.02 and err_u[-1] < 0.01
    assert rate(hs, err_s) > 0.9 * degree  # O(h^p) stresses
    assert rate(hs, err_u) > 1.5  # O(h^2) at best: the polygonal interface moves O(h^2)
    # the Krylov iteration count stays bounded under refinement (16x the cells)
    assert its[-1] <= 1.5 * its[0] + 5, its


def test_no_locking_as_nu_approaches_one_half():
    """The error does not grow as nu -> 1/2: P2 displacements and the mixed (Taylor-Hood)
    stresses stay flat from nu = 0.3 to 0.499; P1 locks, and the same check fails for it."""
    nus = [0.3, 0.45, 0.49, 0.499]
    runs = {(1, "displacement"): None, (2, "displacement"): None, (2, "mixed"): None}
    for key in runs:
        runs[key] = [inclusion_error(A_INC / 4, nu, *key) for nu in nus]

    def col(key, name):
        return np.array([r[name] for r in runs[key]])

    if MPI.COMM_WORLD.rank == 0:
        print(f"\nnu {nus}")
        for key in runs:
            print(f"P{key[0]} {key[1]}: " + "; ".join(
                f"{k} {np.array2string(col(key, k), precision=4)}"
                for k in ("displacement", "stress", "deviatoric", "iterations")))
    u2 = col((2, "displacement"), "displacement")
    assert np.all(u2 <= 1.1 * u2[0]), u2
    s_mixed, u_mixed = col((2, "mixed"), "stress"), col((2, "mixed"), "displacement")
    assert np.all(s_mixed <= 1.1 * s_mixed[0]), s_mixed
    assert np.all(u_mixed <= 1.1 * u_mixed[0]), u_mixed
    its_mixed = col((2, "mixed"), "iterations")
    assert its_mixed[-1] <= 2 * its_mixed[0], its_mixed  # the block preconditioner is robust
    u1, s1 = col((1, "displacement"), "displacement"), col((1, "displacement"), "stress")
    assert u1[-1] > 4.0 * u1[0] and s1[-1] > 10.0 * s1[0], (u1, s1)  # P1 locks


def test_default_degree_follows_the_poisson_ratio():
    """P1 where it does not lock (the presets' nu = 0.45), P2 above; an explicit degree wins."""
    assert block_case("free", None, nu=0.45).mechanics.degree == 1
    assert block_case("free", None, nu=0.49).mechanics.degree == 2
    assert block_case("free", 1, nu=0.49).mechanics.degree == 1
    with pytest.raises(CaseError, match="mechanics.degree = 1"):
        resolve({"mechanics": {"formulation": "mixed", "degree": 1}})

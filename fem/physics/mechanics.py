"""Quasi-static small-strain elasticity with thermal and collagen-shrinkage eigenstrain.

    -div sigma = 0,   sigma = lambda tr(eps(u) - eps*) I + 2 mu (eps(u) - eps*)
    eps* = alpha (T - T0) I - (s_max F(Omega_collagen) + e_r) P,    F(Omega) = 1 - exp(-Omega)

``P`` projects on the plane of the dermal collagen (``diag(1, 1, 0)``, or ``I`` for isotropic
shrinkage) and shrinkage acts only in layers flagged ``collagen``; ``e_r`` is the remodelling
contraction of the weeks after the pulse (fem.physics.healing_dermis; zero in the thermal
run). ``T0`` is the initial (steady) temperature, the stress-free state. Per-layer E and nu
come from the case (``shared/physics/parameters.md``: nu 0.45-0.49, nearly incompressible).

Locking (``tests/test_mechanics.py``, an eigenstrain inclusion from nu = 0.3 to 0.499):
linear tetrahedra lock as nu -> 1/2; quadratic ones (``degree = 2``) keep the displacement
error flat, but their mean stress degrades above nu ~ 0.49; the Taylor-Hood displacement-
pressure form (``formulation = "mixed"``) keeps both flat. The case default is P1 while every
layer has nu <= 0.45 (cheap, P1 only starts to lock there) and P2 above (fem.config.resolve).

Boundary conditions (:func:`skin_bcs`): the bottom is held in the normal direction, the top is
free. Sides ``"free"``: the patch contracts; the in-plane rigid motions left are removed by
pinning two bottom corners (one in x and y, one in y), which changes no strain or stress.
Sides ``"periodic"``: one cell of a large treated area; the sides stay plane and move
together with zero net force (:class:`PlaneSides`, superposed exactly in
:meth:`ElasticityProblem.solve`), so the cell neither bends nor curls at its edges as an
isolated patch does. Sides ``"held"``: zero normal displacement on the four sides, a patch
held by the untreated skin around it; this leaves residual stress. In a quarter cell the
planes x = x0 and y = y0 are always symmetry planes (normal displacement zero).

Solver: CG + GAMG with the six rigid-body modes as near-nullspace (``A.setNearNullSpace``);
the mixed form: MINRES with a block-diagonal preconditioner (GAMG with the rigid-body modes on
the displacement block, Jacobi on a weighted pressure mass matrix). The iteration counts stay
bounded under mesh refinement (README, Mechanics).

Outputs: the displacement, the stress per cell (von Mises and the three principal stresses,
at the cell centroid), and :meth:`ElasticityProblem.metrics`: tightening, the loss of area of
the treated patch seen from above (Nanson's formula for the vertical component of the
deformed area of the top and the crater walls; the true area of a dimpled surface is not what
tightens), linear contraction, peak von Mises stress and the residual stress (mean in-plane
stress in the collagen layers, positive in tension).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from mpi4py import MPI
from petsc4py import PETSc

import dolfinx.fem as dfem
import dolfinx.fem.petsc
import numpy as np
import ufl
from dolfinx import la, mesh

from fem.config.sections import Mechanics, Solver
from fem.physics.layers import cellwise
from fem.solvers import check_converged, make_spd_solver
from meshes.patterns import Layout
from meshes.skin import BOTTOM, TOP, WALL

log = logging.getLogger(__name__)
# GAMG for the displacement form (make bench-mechanics, 98-column patch, 1.07M DOFs, 2 ranks,
# six loads): smoothed aggregation coarsened aggressively on 2 levels, CG to 1e-8, sets up in
# 16 s and solves in 37 iterations, 123 s in all, against 208 s (32 s, 55) with PETSc's 1 level
# to 1e-9, the answer within 5e-8 of rtol 1e-12 either way; plain aggregation set up 12x
# faster at 357k DOFs but solved 2x slower.
MECHANICS_SMOOTHED = True
MECHANICS_AGGRESSIVE = 2
MECHANICS_RTOL = 1e-8


@dataclass(frozen=True)
class MechanicsSettings:
    """Discretisation and eigenstrain settings of :class:`ElasticityProblem`."""

    degree: int = 2  # Lagrange degree of the displacement (1 locks as nu -> 1/2)
    shrinkage_max: float = 0.2  # s_max (parameters.md: modelling choice, default 0.2)
    shrinkage_plane: str = "in_plane"  # "in_plane" (dermis plane) | "isotropic"
    rtol: float = MECHANICS_RTOL  # relative residual of CG (MINRES for the mixed form)
    max_it: int = 500
    formulation: str = "displacement"  # "displacement" | "mixed" (Taylor-Hood u-p)

    @classmethod
    def from_sections(cls, mechanics: Mechanics, solver: Solver) -> MechanicsSettings:
        """The settings of a case's ``[mechanics]`` (CG to :data:`MECHANICS_RTOL`, the case's
        iteration limit)."""
        return cls(mechanics.degree, mechanics.shrinkage_max, mechanics.shrinkage_plane,
                   MECHANICS_RTOL, solver.max_it, mechanics.formulation)


def rigid_body_modes(V: dfem.FunctionSpace) -> tuple[PETSc.NullSpace, list[la.Vector]]:
    """The six rigid-body modes of a 3D vector space, orthonormalised, as a PETSc NullSpace.

    Returns the nullspace and the vectors that hold its storage (keep them alive with it).
    """
    index_map, bs = V.dofmap.index_map, V.dofmap.index_map_bs
    n = index_map.size_local
    basis = [la.vector(index_map, bs=bs, dtype=PETSc.ScalarType) for _ in range(6)]
    b = [v.array.reshape(-1, bs) for v in basis]
    x = V.tabulate_dof_coordinates()[:n]
    for i in range(3):
        b[i][:n, i] = 1.0  # translations
    b[3][:n, 0], b[3][:n, 1] = -x[:, 1], x[:, 0]  # rotations
    b[4][:n, 0], b[4][:n, 2] = x[:, 2], -x[:, 0]
    b[5][:n, 2], b[5][:n, 1] = x[:, 1], -x[:, 2]
    la.orthonormalize(basis)
    vecs = [v.petsc_vec for v in basis]
    return PETSc.NullSpace().create(vectors=vecs, comm=V.mesh.comm), basis


def epsilon(u):
    """Small strain."""
    return ufl.sym(ufl.grad(u))


def held(V: dfem.FunctionSpace, component: int, dim: int, entities: np.ndarray) -> dfem.DirichletBC:
    """Zero displacement component ``component`` on the given mesh entities of dimension ``dim``."""
    dofs = dfem.locate_dofs_topological(V.sub(component), dim, entities)
    return dfem.dirichletbc(PETSc.ScalarType(0.0), dofs, V.sub(component))


def skin_bcs(V: dfem.FunctionSpace, facet_tags: mesh.MeshTags, layout: Layout, sides: str,
             depth: float) -> list[dfem.DirichletBC]:
    """Bottom (at ``z = -depth``) held in z; ``sides`` "free" (two corners pinned), "held" or
    "periodic"; the symmetry planes of a quarter cell. (Periodic sides are added by the
    problem itself, :func:`plane_sides`.)"""
    domain = V.mesh
    fdim = domain.topology.dim - 1
    x0, x1, y0, y1 = layout.extent
    tol = 1e-6 * max(x1 - x0, y1 - y0)
    bcs = [held(V, 2, fdim, facet_tags.find(BOTTOM))]
    planes = []  # (normal component, coordinate index, value)
    if layout.mirror:  # quarter cell: x = x0 and y = y0 are symmetry planes
        planes += [(0, 0, x0), (1, 1, y0)]
    if sides == "held":  # the other sides (all four without mirror planes)
        planes += [(0, 0, x1), (1, 1, y1)]
        if not layout.mirror:
            planes += [(0, 0, x0), (1, 1, y0)]
    for component, axis, value in planes:
        facets = mesh.locate_entities_boundary(
            domain, fdim, lambda x, a=axis, v=value: np.abs(x[a] - v) < tol)
        bcs.append(held(V, component, fdim, facets))
    if not planes and sides == "free":  # pin two bottom corners against
        # in-plane rigid motions (periodic sides: their plane motion leaves none)
        D = depth
        for cx, comps in ((x0, (0, 1)), (x1, (1,))):
            corner = mesh.locate_entities_boundary(
                domain, 0, lambda x, cx=cx: (np.abs(x[0] - cx) < tol)
                & (np.abs(x[1] - y0) < tol) & (np.abs(x[2] + D) < tol))
            bcs += [held(V, i, 0, corner) for i in comps]
    return bcs


@dataclass
class PlaneSides:
    """The sides normal to axis ``axis`` of a periodic cell: they stay plane and move
    together, ``u_axis = delta (x_axis - centre)``, with the one unknown ``delta`` (the
    cell's strain along the axis) set by zero net force (:meth:`ElasticityProblem.solve`).
    ``value`` is the Dirichlet value on them (zero, or the unit motion while that is solved
    for)."""

    axis: int
    centre: float
    bc: dfem.DirichletBC
    value: dfem.Function

    def unit_motion(self, x: np.ndarray) -> np.ndarray:
        return x[self.axis] - self.centre


def plane_sides(V: dfem.FunctionSpace, layout: Layout) -> list[PlaneSides]:
    """The moving sides of a periodic cell (``sides = "periodic"``): the outer sides of a
    quarter cell (its symmetry planes x = x0, y = y0 stay held), or both sides of each axis
    of a full cell, which move symmetrically about its centre."""
    domain = V.mesh
    fdim = domain.topology.dim - 1
    x0, x1, y0, y1 = layout.extent
    tol = 1e-6 * max(x1 - x0, y1 - y0)
    out = []
    for axis, (lo, hi) in enumerate(((x0, x1), (y0, y1))):
        centre, at = (lo, (hi,)) if layout.mirror else (0.5 * (lo + hi), (lo, hi))
        facets = np.unique(np.concatenate([mesh.locate_entities_boundary(
            domain, fdim, lambda x, a=axis, v=v: np.abs(x[a] - v) < tol) for v in at]))
        Va, _ = V.sub(axis).collapse()
        value = dfem.Function(Va)
        dofs = dfem.locate_dofs_topological((V.sub(axis), Va), fdim, facets)
        out.append(PlaneSides(axis, centre, dfem.dirichletbc(value, dofs, V.sub(axis)), value))
    return out


class ElasticityProblem:
    """Eigenstrain elasticity of a layered body; :meth:`solve` for given T and Omega.

    Life cycle: the constructor runs the set-up steps of :meth:`initialise` (function spaces,
    coefficients, eigenstrain, boundary conditions, forms and solver, outputs; the matrix is
    assembled once) -> :meth:`solve` for each temperature and damage -> :meth:`metrics`.

    Args:
        domain, cell_tags, facet_tags: the mesh; cells tagged by layer
            (:func:`meshes.skin.layer_tag`), the top surface tagged ``TOP``.
        layers: per layer (top to bottom) objects with ``E`` (Pa), ``nu``, ``alpha`` (1/K) and
            ``collagen`` (bool), such as :class:`fem.config.sections.Layer`.
        T0: the stress-free temperature (K), on the temperature space.
        settings: degree, shrinkage and solver settings.
        bcs: builds the Dirichlet conditions on the displacement space.
        load: optional external load, ``load(v)`` a linear form in the displacement test
            function ``v`` (e.g. a surface traction); the skin has none.
        periodic: builds the plane sides of a periodic cell (:func:`plane_sides`), which
            move together with zero net force; None: no such sides.
    """

    def __init__(self, domain: mesh.Mesh, cell_tags: mesh.MeshTags, facet_tags: mesh.MeshTags,
                 layers: Sequence, T0: dfem.Function, settings: MechanicsSettings,
                 bcs: Callable[[dfem.FunctionSpace], list[dfem.DirichletBC]],
                 load: Callable[[ufl.Argument], ufl.Form] | None = None,
                 periodic: Callable[[dfem.FunctionSpace], list[PlaneSides]] | None = None):
        self.mesh, self.comm, self.settings = domain, domain.comm, settings
        self.cell_tags, self.facet_tags, self.layers = cell_tags, facet_tags, layers
        self._T0, self._load, self._bcs, self._periodic = T0, load, bcs, periodic
        self.initialise()

    def initialise(self) -> None:
        """The set-up steps, in order: function spaces, coefficients, eigenstrain, boundary
        conditions, forms and solver, outputs (stress, tightening)."""
        for setup in (self.define_function_spaces, self.define_coefficients,
                      self.define_eigenstrain, self.define_boundary_conditions,
                      self.define_forms_and_solver, self.define_outputs):
            setup()

    # -- set-up steps ---------------------------------------------------------------------

    def define_function_spaces(self) -> None:
        """The displacement (vector Lagrange of the settings' degree), the temperature and
        collagen damage it is solved for (on the temperature space), DG0 coefficients."""
        gdim = self.mesh.geometry.dim
        self.V = dfem.functionspace(self.mesh, ("Lagrange", self.settings.degree, (gdim,)))
        self.V0 = dfem.functionspace(self.mesh, ("DG", 0))
        VT = self._T0.function_space
        self.T0 = self._T0.copy()
        self.T = dfem.Function(VT, name="temperature")
        self.omega = dfem.Function(VT, name="omega_collagen")
        self.remodelling = dfem.Function(VT, name="remodelling_strain")  # e_r, 0 until healing
        self.u = dfem.Function(self.V, name="displacement")
        self.p = None  # the pressure (mean stress) of the mixed formulation

    def define_coefficients(self) -> None:
        """Per-layer Lame coefficients, bulk modulus, expansion and collagen flag (DG0)."""
        V0, tags, layers = self.V0, self.cell_tags, self.layers
        E = np.array([la_.E for la_ in layers])
        nu = np.array([la_.nu for la_ in layers])
        self.lmbda = cellwise(V0, tags, list(E * nu / ((1 + nu) * (1 - 2 * nu))), "lambda")
        self.mu = cellwise(V0, tags, list(E / (2 * (1 + nu))), "mu")
        self.alpha = cellwise(V0, tags, [la_.alpha for la_ in layers], "alpha")
        self.collagen = cellwise(V0, tags, [float(la_.collagen) for la_ in layers], "collagen")
        self.kappa = self.lmbda + 2.0 / 3.0 * self.mu  # bulk modulus

    def define_eigenstrain(self) -> None:
        """``eps* = alpha (T - T0) I - (s_max F(Omega) + e_r) P`` (shrinkage and remodelling
        contraction in the collagen layers)."""
        s = self.settings
        Id = ufl.Identity(self.mesh.geometry.dim)
        P = (ufl.as_matrix([[1, 0, 0], [0, 1, 0], [0, 0, 0]])
             if s.shrinkage_plane == "in_plane" else Id)
        F_omega = 1.0 - ufl.exp(-self.omega)
        self.eps_star = (self.alpha * (self.T - self.T0) * Id
                         - self.collagen * (s.shrinkage_max * F_omega + self.remodelling) * P)

    def define_boundary_conditions(self) -> None:
        """The Dirichlet conditions, the plane sides of a periodic cell, and the rigid-body
        modes (the near-nullspace of the AMG)."""
        self.bcs = self._bcs(self.V)
        self.sides = self._periodic(self.V) if self._periodic is not None else []
        self.bcs += [side.bc for side in self.sides]
        self._units = None  # the unit motions of the plane sides, solved at the first solve
        self.nullspace, self._nullspace_basis = rigid_body_modes(self.V)

    def define_forms_and_solver(self) -> None:
        """The forms of the formulation, their matrix (assembled once) and its solver."""
        if self.settings.formulation == "mixed":
            self._setup_mixed()
        else:
            self._setup_displacement()
        self.iterations = 0  # all solves
        self.last_iterations = 0

    def define_outputs(self) -> None:
        """The stress per cell at its centroid (DG0 tensor, for von Mises and principal
        stresses), the work on the plane sides, and the forms of the tightening."""
        domain, gdim = self.mesh, self.mesh.geometry.dim
        dx = ufl.dx(domain=domain)
        Vs = dfem.functionspace(domain, ("DG", 0, (gdim, gdim)))
        self.stress = dfem.Function(Vs, name="stress")
        self._stress_expr = dfem.Expression(self.sigma(self.u), Vs.element.interpolation_points)
        self.von_mises = dfem.Function(self.V0, name="von_mises")
        self.principal = np.zeros((0, 3))
        if self.sides:  # work of the current stress on a side motion: the net force on them
            self._motion = dfem.Function(self.V)
            self._work = dfem.form(ufl.inner(self.sigma(self.u), epsilon(self._motion)) * dx)

        # The treated patch seen from above: the z component of the deformed area vector
        # (Nanson, cof(F) N) over the top and the crater walls; with the fixed bottom it is
        # the area enclosed by the deformed outer edge of the top (what a square marked on
        # the skin measures), holes included, and out-of-plane dimples add nothing to it.
        ds = ufl.Measure("ds", domain=domain, subdomain_data=self.facet_tags)
        N = ufl.FacetNormal(domain)
        Fd = ufl.Identity(gdim) + ufl.grad(self.u)
        seen_from_above = (ufl.det(Fd) * ufl.inv(Fd).T * N)[2]
        self._area = dfem.form(seen_from_above * ds(TOP) + seen_from_above * ds(WALL))
        self._area0 = dfem.form(N[2] * ds(TOP) + N[2] * ds(WALL))
        s = self.sigma(self.u)
        self._dermis_volume = dfem.form(self.collagen * dx)
        self._dermis_stress = dfem.form(self.collagen * 0.5 * (s[0, 0] + s[1, 1]) * dx)

    def _setup_displacement(self) -> None:
        """Pure displacement form, CG + GAMG with the rigid-body near-nullspace."""
        u, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        dx = ufl.dx(domain=self.mesh)
        self.a = dfem.form(ufl.inner(self.sigma_elastic(epsilon(u)), epsilon(v)) * dx)
        self.L = dfem.form(self._with_load(
            ufl.inner(self.sigma_elastic(self.eps_star), epsilon(v)) * dx, v))
        self.A = dolfinx.fem.petsc.assemble_matrix(self.a, bcs=self.bcs)
        self.A.assemble()
        self.A.setNearNullSpace(self.nullspace)
        self.A.setOption(PETSc.Mat.Option.SPD, True)
        self.b = dolfinx.fem.petsc.create_vector(self.V)
        # The hierarchy is set up once and kept for every later solve (output times, the
        # cooled state, the healing stage's late tightening), each starting from the previous
        # solution (MECHANICS_SMOOTHED, MECHANICS_AGGRESSIVE: the measured trade-offs).
        self.ksp = make_spd_solver(self.comm, self.A, "mech_", self.settings.rtol,
                                   self.settings.max_it, smoothed=MECHANICS_SMOOTHED,
                                   aggressive=MECHANICS_AGGRESSIVE)

    def _setup_mixed(self) -> None:
        """Taylor-Hood u-p form (P2 displacement, P1 pressure p = kappa tr(eps(u) - eps*)):

            int 2 mu dev(eps(u)) : eps(v) + p div v = int 2 mu dev(eps*) : eps(v)
            int q div u - p q / kappa               = int q tr(eps*)

        symmetric indefinite: MINRES with a block-diagonal preconditioner, GAMG (rigid-body
        near-nullspace) on the elasticity matrix 2 mu eps : eps and Jacobi on the pressure mass
        matrix weighted by 1 / (2 mu) + 1 / kappa (the Schur complement, robust as nu -> 1/2).
        """
        domain, dx = self.mesh, ufl.dx(domain=self.mesh)
        if self.settings.degree != 2:
            raise ValueError("the mixed formulation is Taylor-Hood P2-P1: degree must be 2")
        self.Q = dfem.functionspace(domain, ("Lagrange", 1))
        self.p = dfem.Function(self.Q, name="pressure")
        u, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        p, q = ufl.TrialFunction(self.Q), ufl.TestFunction(self.Q)
        mu, kappa = self.mu, self.kappa
        self.a = dfem.form([[2.0 * mu * ufl.inner(ufl.dev(epsilon(u)), epsilon(v)) * dx,
                            p * ufl.div(v) * dx],
                           [q * ufl.div(u) * dx, -p * q / kappa * dx]])
        self.L = dfem.form([self._with_load(
            2.0 * mu * ufl.inner(ufl.dev(self.eps_star), epsilon(v)) * dx, v),
                           ufl.tr(self.eps_star) * q * dx])
        P = dfem.form([[2.0 * mu * ufl.inner(epsilon(u), epsilon(v)) * dx, None],
                      [None, (0.5 / mu + 1.0 / kappa) * p * q * dx]])
        self.A = dolfinx.fem.petsc.assemble_matrix(self.a, bcs=self.bcs, kind="mpi")
        self.A.assemble()
        self.P = dolfinx.fem.petsc.assemble_matrix(P, bcs=self.bcs, kind="mpi")
        self.P.assemble()
        spaces = dfem.extract_function_spaces(self.L)
        self.b = dolfinx.fem.petsc.create_vector(spaces, kind="mpi")
        self.x = dolfinx.fem.petsc.create_vector(spaces, kind="mpi")
        # The two fields in the monolithic vector: this rank's displacement dofs, then its
        # pressure dofs. The rigid-body modes go with the displacement field to its GAMG.
        V_map, bs = self.V.dofmap.index_map, self.V.dofmap.index_map_bs
        Q_map = self.Q.dofmap.index_map
        offset_u = V_map.local_range[0] * bs + Q_map.local_range[0]
        offset_p = offset_u + V_map.size_local * bs
        is_u = PETSc.IS().createStride(V_map.size_local * bs, offset_u, 1, comm=self.comm)
        is_p = PETSc.IS().createStride(Q_map.size_local, offset_p, 1, comm=self.comm)
        is_u.setBlockSize(bs)
        is_u.compose("nearnullspace", self.nullspace)
        self._fields = (is_u, is_p)
        ksp = PETSc.KSP().create(self.comm)
        ksp.setOptionsPrefix("mech_mixed_")
        ksp.setOperators(self.A, self.P)
        ksp.setType("minres")
        ksp.setInitialGuessNonzero(True)
        ksp.setTolerances(rtol=self.settings.rtol, atol=1e-30, max_it=self.settings.max_it)
        pc = ksp.getPC()
        pc.setType("fieldsplit")
        pc.setFieldSplitType(PETSc.PC.CompositeType.ADDITIVE)
        pc.setFieldSplitIS(("u", is_u), ("p", is_p))
        opts = PETSc.Options()
        pre = "mech_mixed_fieldsplit_"
        opts[f"{pre}u_ksp_type"] = "preonly"
        opts[f"{pre}u_pc_type"] = "gamg"
        opts[f"{pre}u_pc_gamg_threshold"] = 0.02
        opts[f"{pre}u_mg_levels_ksp_type"] = "chebyshev"
        opts[f"{pre}u_mg_levels_pc_type"] = "jacobi"
        opts[f"{pre}p_ksp_type"] = "preonly"
        opts[f"{pre}p_pc_type"] = "jacobi"
        # Relative to the first residual in MINRES's own (preconditioned natural) norm: the
        # default compares with the 2-norm of the preconditioned right-hand side, which in SI
        # units is dominated by the pressure block and stops MINRES before it starts.
        opts["mech_mixed_ksp_converged_use_initial_residual_norm"] = None
        ksp.setFromOptions()
        self.ksp = ksp

    def _with_load(self, form: ufl.Form, v) -> ufl.Form:
        """``form`` plus the external load, if any."""
        return form if self._load is None else form + self._load(v)

    def sigma_elastic(self, e):
        """Hooke's law for a strain ``e``."""
        return self.lmbda * ufl.tr(e) * ufl.Identity(3) + 2.0 * self.mu * e

    def sigma(self, u):
        """Stress of a displacement, eigenstrain included (mixed form: with the pressure)."""
        e = epsilon(u) - self.eps_star
        if self.p is not None:
            return 2.0 * self.mu * ufl.dev(e) + self.p * ufl.Identity(3)
        return self.sigma_elastic(e)

    def solve(self, T: dfem.Function, omega_collagen: dfem.Function,
              remodelling: dfem.Function | None = None, stresses: bool = True) -> dfem.Function:
        """Displacement for the given temperature, collagen damage and remodelling contraction
        ``e_r`` (all on T0's space; None: no contraction); the cell stresses too unless
        ``stresses`` is False (then only :meth:`tightening` reads the solution).

        With plane sides (a periodic cell) the solution is superposed, exactly, from the
        solution with those sides held and the unit motion of each pair of sides (solved
        once, without eigenstrain, with the same matrix): ``u = u_held + sum delta_a phi_a``
        with ``K delta = -r``, ``K_ab`` the work of ``phi_a``'s stress on ``phi_b`` and
        ``r_a`` that of ``u_held``'s stress, so that the net force on every pair of sides is
        zero (the stationary point of the energy over the sides' motions).
        """
        self.prepare()
        self.T.x.array[:] = T.x.array
        self.omega.x.array[:] = omega_collagen.x.array
        self.remodelling.x.array[:] = 0.0 if remodelling is None else remodelling.x.array
        self._solve_once()
        self.last_iterations = self.ksp.getIterationNumber()
        if self.sides:
            phis, K = self._units
            r = np.array([self._work_on(phi) for phi, _ in phis])
            delta = np.linalg.solve(K, -r)
            for d, (phi, p) in zip(delta, phis):
                self.u.x.array[:] += d * phi.x.array
                if self.p is not None:
                    self.p.x.array[:] += d * p.x.array
        self.u.x.scatter_forward()
        if stresses:
            self._update_stress()
        return self.u

    def prepare(self) -> None:
        """The unit motions of the plane sides (solved once, before the first solve; they
        leave the displacement at zero, the first guess of the first solve)."""
        if self.sides and self._units is None:
            self._units = self._unit_motions()

    @contextmanager
    def preserved(self):
        """Solves inside the block leave the current solution, its loads and its stresses as
        they were (the healing stage solves later states without losing the end state)."""
        fields = [self.T, self.omega, self.remodelling, self.u] + (
            [self.p] if self.p is not None else [])
        saved = [f.x.array.copy() for f in fields]
        try:
            yield self
        finally:
            for f, a in zip(fields, saved):
                f.x.array[:] = a
            self._update_stress()

    def release_solver(self) -> None:
        """Free the matrices and the solver's hierarchy (collective) after the last solve."""
        for obj in (self.ksp, self.A, getattr(self, "P", None)):
            if obj is not None:
                obj.destroy()

    def _solve_once(self) -> None:
        if self.p is None:
            self._solve_displacement()
        else:
            self._solve_mixed()
        check_converged(self.ksp, "mechanics")
        self.iterations += self.ksp.getIterationNumber()
        self.u.x.scatter_forward()

    def _work_on(self, motion: dfem.Function) -> float:
        """Work of the current stress on ``motion`` (the net force on its sides)."""
        self._motion.x.array[:] = motion.x.array
        return self.comm.allreduce(dfem.assemble_scalar(self._work), op=MPI.SUM)

    def _unit_motions(self):
        """Each pair of plane sides moved by one unit, the others held, no eigenstrain:
        the displacements (and pressures) and their work matrix ``K``."""
        self.T.x.array[:] = self.T0.x.array  # no thermal strain
        self.omega.x.array[:] = 0.0  # no shrinkage
        self.remodelling.x.array[:] = 0.0
        phis = []
        for side in self.sides:
            for other in self.sides:
                if other is side:
                    other.value.interpolate(other.unit_motion)
                else:
                    other.value.x.array[:] = 0.0
            self._set_solution(None)
            self._solve_once()
            phis.append((self.u.copy(), None if self.p is None else self.p.copy()))
        for side in self.sides:
            side.value.x.array[:] = 0.0
        K = np.empty((len(phis), len(phis)))
        for a, pair in enumerate(phis):
            self._set_solution(pair)
            for b, (other, _) in enumerate(phis):
                K[a, b] = self._work_on(other)
        self._set_solution(None)  # not a first guess for the held solves
        return phis, 0.5 * (K + K.T)

    def _set_solution(self, pair) -> None:
        """Set the displacement (and pressure) to a stored ``(u, p)`` pair, or to zero."""
        u, p = pair if pair is not None else (None, None)
        self.u.x.array[:] = u.x.array if u is not None else 0.0
        if self.p is not None:
            self.p.x.array[:] = p.x.array if p is not None else 0.0

    def _solve_displacement(self) -> None:
        b = self.b
        with b.localForm() as b_local:
            b_local.set(0.0)
        dolfinx.fem.petsc.assemble_vector(b, self.L)
        dolfinx.fem.petsc.apply_lifting(b, [self.a], bcs=[self.bcs])
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        dolfinx.fem.petsc.set_bc(b, self.bcs)
        self.ksp.solve(b, self.u.x.petsc_vec)

    def _solve_mixed(self) -> None:
        b, x = self.b, self.x
        with b.localForm() as b_local:
            b_local.set(0.0)
        dolfinx.fem.petsc.assemble_vector(b, self.L)
        bcs1 = dfem.bcs_by_block(dfem.extract_function_spaces(self.a, 1), self.bcs)
        dolfinx.fem.petsc.apply_lifting(b, self.a, bcs=bcs1)
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        bcs0 = dfem.bcs_by_block(dfem.extract_function_spaces(self.L), self.bcs)
        dolfinx.fem.petsc.set_bc(b, bcs0)
        dolfinx.fem.petsc.assign((self.u, self.p), x)  # previous solution as first guess
        self.ksp.solve(b, x)
        x.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
        dolfinx.fem.petsc.assign(x, (self.u, self.p))
        self.p.x.scatter_forward()

    def _update_stress(self) -> None:
        """Von Mises and principal stresses (descending) of the owned cells, Pa."""
        self.stress.interpolate(self._stress_expr)
        n = self.mesh.topology.index_map(self.mesh.topology.dim).size_local
        s = self.stress.x.array.reshape(-1, 3, 3)
        s = 0.5 * (s + s.transpose(0, 2, 1))
        dev = s - np.einsum("cii->c", s)[:, None, None] / 3.0 * np.eye(3)
        self.von_mises.x.array[:] = np.sqrt(1.5 * np.einsum("cij,cij->c", dev, dev))
        self.principal = np.linalg.eigvalsh(s[:n])[:, ::-1]

    def cell_stress_kPa(self) -> dict[str, np.ndarray]:
        """Per owned cell: von Mises and principal stresses (sigma_1 >= sigma_2 >= sigma_3), kPa."""
        n = self.principal.shape[0]
        out = {"von_mises_kPa": self.von_mises.x.array[:n] * 1e-3}
        for i in range(3):
            out[f"principal_stress_{i + 1}_kPa"] = self.principal[:, i] * 1e-3
        return out

    @property
    def dofs(self) -> int:
        """Global number of displacement unknowns."""
        return self.V.dofmap.index_map.size_global * self.V.dofmap.index_map_bs

    def tightening(self) -> dict[str, float]:
        """Of the last solve: ``tightening_area_percent``, the relative loss of area of the
        patch's top seen from above (crater mouths included), and ``linear_contraction_percent``,
        1 - sqrt(A / A0): the shortening of each edge when the patch contracts evenly."""
        ratio = self._total(self._area) / self._total(self._area0)
        return {"tightening_area_percent": 100.0 * (1.0 - ratio),
                "linear_contraction_percent": 100.0 * (1.0 - np.sqrt(ratio))}

    def _total(self, form) -> float:
        return self.comm.allreduce(dfem.assemble_scalar(form), op=MPI.SUM)

    def metrics(self) -> dict[str, float]:
        """:meth:`tightening`, ``max_von_mises_kPa`` (the largest cell value) and
        ``residual_stress_kPa`` (the mean in-plane stress 0.5 (sigma_xx + sigma_yy) of the
        collagen layers, positive in tension: about zero with free sides, what the surrounding
        skin holds with held sides) of the last solve with its stresses."""
        n = self.principal.shape[0]
        vm = self.comm.allreduce(float(self.von_mises.x.array[:n].max()) if n else 0.0,
                                 op=MPI.MAX)
        dermis = self._total(self._dermis_volume)
        residual = self._total(self._dermis_stress) / dermis if dermis > 0 else 0.0
        return {
            **self.tightening(),
            "max_von_mises_kPa": vm * 1e-3,
            "residual_stress_kPa": residual * 1e-3,
            "mechanics_cg_iterations": self.last_iterations,
        }

"""Transient Pennes bioheat equation (P1 Lagrange, backward Euler).

    rho c dT/dt = div(k grad T) + w_b (1 - F(Omega)) rho_b c_b (T_a - T) + q_met + q_laser(x, t)

Boundary conditions: ``-k dT/dn = h (T - T_env) + q_evap(T)`` on the skin surface and on crater
walls, with ``h`` and ``T_env`` of air, a contact window or a cryogen spray as time goes on
(:mod:`fem.physics.cooling`); the core temperature on the bottom; insulated (symmetry) sides.
The initial state is the steady solution without the laser, the surface in air.

Discretely, with mass matrix ``M`` (rho c), ``K0`` (conduction + perfusion) and the surface
mass matrices ``S_top``, ``S_wall``, each step solves::

    (M / dt + K0 + h_top S_top + h_wall S_wall) T1 = M T0 / dt + f + e(T0) + sum_g p_g(t) b_g

where ``f`` (arterial blood, metabolism, the surface environment) and ``b_g`` (the laser
source per watt of each firing group of columns, :func:`fem.physics.source.firing_groups`) are
assembled once. ``e`` holds the terms taken one step behind, none of them a form assembly
unless ``k(T)`` is asked for: the evaporation beyond its tangent (``S e_evap(T0)``), the
perfusion that damage has stopped (``P_w (F (T0 - T_a))``, ``P_w`` the perfusion mass matrix;
F = 1 - exp(-Omega_cell), Schutt & Haemmerich 2008, Med Phys 35:3462) and, optionally, the
temperature dependence of the conductivity, ``k(T) = k (1 + slope (T - 37 C))`` (one vector
assembly per step). One matrix, one lifting vector and one CG + GAMG solver are kept per step
size and surface state (a small ladder of sizes, air and the cooling device), so a run
assembles a handful of matrices and no matrix in the time loop. Where tissue water boils, its
latent heat caps the temperature (:mod:`fem.physics.boiling`).

The energy bookkeeping uses the consistent (residual) heat flux through the Dirichlet bottom,
so that ``stored = absorbed + metabolic + bottom inflow - perfusion - surface losses`` holds to
what the solves leave over, within the bound of :mod:`fem.physics.ledger`;
:attr:`PennesProblem.ledger` holds the terms. Which step size owns an AMG and which borrows a
nearby one is planned from the whole schedule (:meth:`PennesProblem.plan_steps`), so that a
resumed run builds the same solvers as an uninterrupted one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from mpi4py import MPI
from petsc4py import PETSc

import basix.ufl
import dolfinx.fem as dfem
import dolfinx.fem.petsc
import numpy as np
import ufl
from dolfinx import cpp as _cpp
from dolfinx import mesh

from fem.config.presets import BLOOD_DENSITY, BLOOD_SPECIFIC_HEAT
from fem.config.sections import Boundary, Layer, Solver, Tissue
from fem.physics.boiling import TissueBoiling
from fem.physics.cooling import SurfaceConditions, SurfaceState
from fem.physics.layers import cellwise
from fem.physics.ledger import EnergyLedger
from fem.physics.source import BeamSource
from fem.physics.state import State, set_owned
from fem.solvers import (SolverError, assemble_matrix, assemble_vector, check_converged,
                         make_lagged_solver, make_spd_solver)
from meshes.skin import BOTTOM, TOP, WALL, layer_tag

log = logging.getLogger(__name__)

SOURCE_QUADRATURE_DEGREE = 4  # fixed: exp() of coordinates must not drive the degree
# The source values of the firing groups evaluated together, at most (bytes per rank): one
# quadrature function per group of the batch (14 values per cell, 233 MB for the 2.09 M cells
# of the 98-column patch), so that a scan of one column per group stays within memory.
SOURCE_BATCH_BYTES = 1.0e9

# AMG for the heat matrices (make bench, 505k DOFs, 41 steps of 7 sizes): smoothed aggregation,
# reused across step sizes within 16x (two setups), 1.25 s/step on 1 rank and 1.77x faster on
# 2; unsmoothed aggregation ran 0.72 s/step on 1 rank but scaled only 1.51x (memory-bound).
SMOOTHED_AGGREGATION = True
AMG_REUSE_RATIO = 16.0  # a step size within this factor of one with an AMG of its own uses it


def _assemble_like(pattern: PETSc.Mat, form: dfem.Form) -> PETSc.Mat:
    """A bilinear form assembled into a copy of the nonzero structure of ``pattern``, a matrix
    of a form over the same cells and spaces (``M``, ``K0`` and ``P_w``: one sparsity): the
    same matrix, to the last bit, as a matrix of its own, without building the sparsity again
    (as long as the assembly itself: a second at 2 M cells)."""
    A = pattern.duplicate(copy=False)
    dolfinx.fem.petsc.assemble_matrix(A, form)
    A.assemble()
    return A


@dataclass
class SourceGroup:
    """The laser source of one firing group per watt: its owned nonzero entries."""

    index: np.ndarray  # owned dof indices where the vector is nonzero
    value: np.ndarray
    integral: float  # int q dx per watt (global)


class PennesProblem:
    """Pennes bioheat on a layered skin mesh.

    Life cycle: the constructor runs the set-up steps of :meth:`initialise` (function spaces,
    coefficients, boundary conditions, forms, constant operators, heat input, lagged terms,
    boiling, work vectors) -> :meth:`solve_steady` (the initial state) -> :meth:`step` for
    each time step. :meth:`state` / :meth:`restore` hand its state to a checkpoint and back.

    Args:
        domain, cell_tags, facet_tags: the skin block and its layer and boundary tags.
        layers: the skin layers, top to bottom.
        boundary: the core and arterial temperatures (the surface in ``surface``).
        tissue: perfusion shutdown, boiling, conductivity slope.
        solver: CG tolerance and iteration limit.
        surface: the surface condition at each time (air, a cooling device).
        source: the laser source; None: no laser.
        heat_input: replaces the laser source (verification against exact solutions): a
            function of the test function ``v`` returning the linear form of the heat input
            per watt, e.g. ``lambda v: g * v * ds`` for a surface flux ``P g`` or
            ``s * v * dx`` for a volume source ``P s``. It is assembled once, like the laser,
            so :meth:`step` scales it by ``power`` and the energy ledger counts it as absorbed.
    """

    def __init__(self, domain: mesh.Mesh, cell_tags: mesh.MeshTags, facet_tags: mesh.MeshTags,
                 layers: tuple[Layer, ...], boundary: Boundary, tissue: Tissue, solver: Solver,
                 surface: SurfaceConditions, source: BeamSource | None = None,
                 heat_input: Callable[[ufl.Argument], ufl.Form] | None = None):
        self.mesh, self.comm = domain, domain.comm
        self.cell_tags, self.facet_tags = cell_tags, facet_tags
        self.layers, self.boundary, self.tissue, self.solver = layers, boundary, tissue, solver
        self.surface, self.source, self.heat_input = surface, source, heat_input
        self.initialise()

    def initialise(self) -> None:
        """The set-up steps, in order; nothing is assembled after them but the step matrices."""
        for setup in (self.define_function_spaces, self.define_coefficients,
                      self.define_boundary_conditions, self.define_forms,
                      self.assemble_constant_operators, self.define_heat_input,
                      self.define_lagged_terms, self.define_boiling, self.define_work_vectors):
            setup()

    # -- set-up steps ---------------------------------------------------------------------

    def define_function_spaces(self) -> None:
        """P1 temperatures ``T`` (new) and ``T_n`` (previous step), DG0 coefficients."""
        self.V = dfem.functionspace(self.mesh, ("Lagrange", 1))
        self.V0 = dfem.functionspace(self.mesh, ("DG", 0))
        self.T = dfem.Function(self.V, name="temperature")  # T^{n+1}
        self.T_n = dfem.Function(self.V, name="temperature_previous")

    def define_coefficients(self) -> None:
        """Per-layer rho c, k, w_b rho_b c_b and metabolic heat (DG0)."""
        V0, tags, L = self.V0, self.cell_tags, self.layers
        self.rho_c = cellwise(V0, tags, [la.rho * la.c for la in L], "rho_c")
        self.k = cellwise(V0, tags, [la.k for la in L], "k")
        self.w_b = cellwise(
            V0, tags, [la.perfusion * BLOOD_DENSITY * BLOOD_SPECIFIC_HEAT for la in L], "wcb"
        )
        self.q_met = cellwise(V0, tags, [la.rho * la.metabolic for la in L], "q_met")

    def define_boundary_conditions(self) -> None:
        """The core temperature on the bottom (the surface conditions enter the forms)."""
        bottom = self.facet_tags.find(BOTTOM)
        self.bc_dofs = dfem.locate_dofs_topological(self.V, self.mesh.topology.dim - 1, bottom)
        self.bc = dfem.dirichletbc(PETSc.ScalarType(self.boundary.core_T), self.bc_dofs, self.V)
        n_owned = self.V.dofmap.index_map.size_local
        self.bc_owned = self.bc_dofs[self.bc_dofs < n_owned]
        start = self.V.dofmap.index_map.local_range[0]
        self.bc_rows = (self.bc_owned + start).astype(PETSc.IntType)  # global PETSc rows

    def define_forms(self) -> None:
        """The forms, as in the equation; the surface condition -k dT/dn = h T - g on the skin
        (TOP) and crater walls (WALL) enters through S_top, S_wall with the h and g of each
        surface state (:meth:`_system`)."""
        self.dx = ufl.Measure("dx", domain=self.mesh, subdomain_data=self.cell_tags)
        self.ds = ufl.Measure("ds", domain=self.mesh, subdomain_data=self.facet_tags)
        dx, ds = self.dx, self.ds
        T, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        mass = self.rho_c * T * v * dx
        bulk = (
            ufl.inner(self.k * ufl.grad(T), ufl.grad(v)) * dx  # conduction
            + self.w_b * T * v * dx  # perfusion
        )
        load = (self.w_b * self.boundary.arterial_T + self.q_met) * v * dx  # blood, metabolism
        self.a_M, self.a_K0, self.L_f0 = dfem.form(mass), dfem.form(bulk), dfem.form(load)
        self.a_S_top, self.a_S_wall = dfem.form(T * v * ds(TOP)), dfem.form(T * v * ds(WALL))
        self.L_s_top, self.L_s_wall = dfem.form(v * ds(TOP)), dfem.form(v * ds(WALL))

    def assemble_constant_operators(self) -> None:
        """``M``, ``K0`` (no bcs: for the bottom flux), the surface matrices and vectors, the
        constant load ``f0``, and the row sums the energy ledger uses (sum_j phi_j = 1)."""
        self.M = assemble_matrix(self.a_M)
        self.K0 = _assemble_like(self.M, self.a_K0)
        self.S_top = assemble_matrix(self.a_S_top)
        self.S_wall = assemble_matrix(self.a_S_wall)
        self.f0 = assemble_vector(self.L_f0)
        self.s_top = assemble_vector(self.L_s_top)  # = S_top 1
        self.s_wall = assemble_vector(self.L_s_wall)
        self.area_top, self.area_wall = self.s_top.sum(), self.s_wall.sum()

    def define_heat_input(self) -> None:
        """The heat input per watt of each firing group: the verification input, the laser,
        or none; then the row sums of the ledger."""
        v = ufl.TestFunction(self.V)
        if self.heat_input is not None:
            self.groups = [self._group(assemble_vector(dfem.form(self.heat_input(v))))]
        elif self.source is not None:
            self.groups = self._laser_groups(v)
        else:
            self.groups = []
        ones = self.T.x.petsc_vec.duplicate()
        ones.set(1.0)
        self.m_row = self.M.createVecLeft()
        self.M.mult(ones, self.m_row)
        self.perf_vec = assemble_vector(dfem.form(self.w_b * v * self.dx))  # = P_w 1
        self.perf_const = self.perf_vec.sum() * self.boundary.arterial_T
        self.met_power = assemble_vector(dfem.form(self.q_met * v * self.dx)).sum()

    def define_lagged_terms(self) -> None:
        """The explicit terms, one step behind (none unless the case asks for them): the
        evaporation beyond its tangent, the perfusion stopped by damage (``omega_cell`` is set
        by the coupled loop), the change of conductivity with temperature."""
        T, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        self.evaporation = self.surface.evaporation
        # The owned dofs on the skin and the crater walls, where the evaporation is evaluated:
        # S_top, S_wall and s_top, s_wall hold exact zeros at every other dof (a facet's
        # integral of the basis function of a vertex off the facet).
        self.surface_dofs = np.flatnonzero((self.s_top.array_r != 0.0)
                                           | (self.s_wall.array_r != 0.0))
        self.omega_cell: dfem.Function | None = None
        self.P_w = None
        if self.tissue.perfusion_shutdown and self.perf_vec.norm() > 0:
            self.P_w = _assemble_like(self.M, dfem.form(self.w_b * T * v * self.dx))
        self.L_k = None
        if self.tissue.conductivity_slope:
            # -int k slope (T_n - 37 C) grad T_n . grad v: the change of conductivity with
            # temperature, k(T) = k (1 + slope (T - 37 C)), one step behind.
            T_ref = 37.0 + 273.15
            self.L_k = dfem.form(-self.tissue.conductivity_slope * self.k * (self.T_n - T_ref)
                                 * ufl.inner(ufl.grad(self.T_n), ufl.grad(v)) * self.dx)

    def define_boiling(self) -> None:
        """The latent heat of tissue water, when boiling is modelled."""
        self.boiling = (TissueBoiling(self.V, self.cell_tags, self.layers, self.m_row)
                        if self.tissue.vaporisation else None)

    def define_work_vectors(self) -> None:
        """The step matrices (built on first use), the bottom values, work vectors, ledger."""
        self._rungs: dict[tuple, tuple[PETSc.Mat, PETSc.Vec, PETSc.KSP]] = {}
        self._plan: dict[tuple, tuple | None] = {}  # key -> the key of its AMG (None: own)
        self._plan_dt: dict[tuple, float] = {}  # key -> its step size (its first step)
        self._bc_values = self.f0.duplicate()  # core temperature at the bottom dofs
        self._bc_values.zeroEntries()
        dolfinx.fem.petsc.set_bc(self._bc_values, [self.bc])
        work = [self.f0.duplicate() for _ in range(8)]
        self._b, self._r, self._dT, self._Md, self._x, self._y, self._extra, self._q = work
        self.ledger = EnergyLedger()
        self.iterations = 0

    def _group(self, b: PETSc.Vec) -> SourceGroup:
        arr = b.array_r
        index = np.flatnonzero(arr)
        group = SourceGroup(index, arr[index].copy(), b.sum())
        b.destroy()
        return group

    def _laser_groups(self, v) -> list[SourceGroup]:
        """One source vector per firing group: ``q / P`` at the quadrature points of a fixed
        degree (:data:`SOURCE_QUADRATURE_DEGREE`), evaluated with numpy
        (:meth:`fem.physics.source.BeamSource.densities`), integrated against the test
        functions. No form has an ``exp()`` of coordinates, and any number of columns costs one
        evaluation per point. The groups are evaluated :data:`SOURCE_BATCH_BYTES` of values at
        a time, layer by layer: the points of a layer are computed once for the groups of a
        batch, which share the work that depends on the points alone (as
        ``Function.interpolate`` of each group would, to the last bit)."""
        domain, source = self.mesh, self.source
        Qe = basix.ufl.quadrature_element(domain.basix_cell(), value_shape=(), scheme="default",
                                          degree=SOURCE_QUADRATURE_DEGREE)
        Q = dfem.functionspace(domain, Qe)
        q = dfem.Function(Q, name="laser_profile")
        dxq = ufl.Measure("dx", domain=domain,
                          metadata={"quadrature_degree": SOURCE_QUADRATURE_DEGREE})
        heat = q * v * dxq
        if source.steady:  # the heat a steady-state crater wall holds enters through the wall
            wall = dfem.Function(self.V, name="wall_fluence")  # W(r) / E, per horizontal area
            n = ufl.FacetNormal(domain)
            heat = heat + wall * abs(n[2]) * v * self.ds(WALL)
        form = dfem.form(heat)
        layers = [np.concatenate([self.cell_tags.find(layer_tag(i, c)) for c in (False, True)])
                  for i in range(len(self.layers))]
        size = max(1, int(SOURCE_BATCH_BYTES // max(q.x.array.nbytes, 1)))
        groups = []
        for first in range(0, len(source.groups), size):
            batch = source.groups[first:first + size]
            values = [q] + [dfem.Function(Q) for _ in batch[1:]]
            for i, cells in enumerate(layers):
                # the interpolation points of the cells, as Function.interpolate computes them
                x = _cpp.fem.interpolation_coords(Q.element._cpp_object,
                                                  domain.geometry._cpp_object, cells)
                for f, d in zip(values, source.densities(i, x, [g.columns for g in batch])):
                    f._cpp_object.interpolate_f(np.asarray(d, dtype=f.dtype), cells)
                del x
            for f, g in zip(values, batch):
                if f is not q:
                    q.x.array[:] = f.x.array
                q.x.scatter_forward()
                if source.steady:
                    wall.interpolate(lambda x: source.wall_flux(x, g.columns))
                    wall.x.scatter_forward()
                groups.append(self._group(assemble_vector(form)))
            del values
        return groups

    # -- properties ---------------------------------------------------------------------

    @property
    def dofs(self) -> int:
        """Global number of temperature unknowns."""
        return self.V.dofmap.index_map.size_global

    @property
    def source_integral(self) -> float:
        """``int q dx`` per watt, summed over the firing groups."""
        return sum(g.integral for g in self.groups)

    def set_cell_damage(self, omega: dfem.Function) -> None:
        """The cell-death integral (on ``V``) that stops the perfusion, ``w_b (1 - F(Omega))``,
        when ``tissue.perfusion_shutdown``; otherwise it is not used."""
        self.omega_cell = omega

    @property
    def step_sizes(self) -> int:
        """How many step matrices (step size and surface state) have been built."""
        return len(self._rungs)

    # -- surface states and step sizes ----------------------------------------------------

    def _surface_load(self, state: SurfaceState, out: PETSc.Vec) -> PETSc.Vec:
        """``f = f0 + g_top s_top + g_wall s_wall`` of a surface state."""
        self.f0.copy(out)
        out.axpy(state.g_top, self.s_top)
        out.axpy(state.g_wall, self.s_wall)
        return out

    def _system(self, state: SurfaceState, inv_dt: float = 0.0):
        """``A = M inv_dt + K0 + h_top S_top + h_wall S_wall`` and its constant right-hand side
        ``c``, from the matrices assembled once (no form assembly: a third of the cost of a
        new step size at 500k DOFs); the core temperature: rows and columns of the bottom
        dofs zeroed, 1 on the diagonal, the columns moved to ``c`` (the lifting)."""
        A = self.K0.duplicate(copy=True)
        if inv_dt:
            A.axpy(inv_dt, self.M, structure=PETSc.Mat.Structure.SAME_NONZERO_PATTERN)
        for h, S in ((state.h_top, self.S_top), (state.h_wall, self.S_wall)):
            if h:
                A.axpy(h, S, structure=PETSc.Mat.Structure.SUBSET_NONZERO_PATTERN)
        c = self._surface_load(state, self.f0.duplicate())
        A.zeroRowsColumns(self.bc_rows, diag=1.0, x=self._bc_values, b=c)
        A.setOption(PETSc.Mat.Option.SPD, True)
        return A, c

    @staticmethod
    def _key(dt: float, state: SurfaceState) -> tuple:
        return (float(f"{dt:.12g}"), state)  # sizes equal to 12 digits share one matrix

    def plan_steps(self, steps) -> None:
        """Decide, from the whole schedule (``[(t0, t1), ...]``), which step size and surface
        state owns an AMG hierarchy and which borrows the AMG of a nearby size (see
        :meth:`_assign`). The choice is then a function of the schedule alone, not of which
        steps this process has run, so a run resumed at any step builds the same matrices and
        solvers as the uninterrupted run and repeats its arithmetic."""
        self._plan, self._plan_dt = {}, {}
        for t0, t1 in steps:
            self._assign(t1 - t0, self.surface.state_at(0.5 * (t0 + t1)))

    def _assign(self, dt: float, state: SurfaceState) -> tuple:
        """The key of a step size and state, planned: the first size of each surface state
        owns an AMG, a later one within :data:`AMG_REUSE_RATIO` of an owner borrows the
        nearest owner's (in the order sizes are planned: the schedule's, or of first use when
        no schedule was planned)."""
        key = self._key(dt, state)
        if key not in self._plan:
            near = [(max(dt / self._plan_dt[k], self._plan_dt[k] / dt), k)
                    for k, owner in self._plan.items() if owner is None and k[1] == state]
            ratio, base = min(near, key=lambda r: r[0]) if near else (math.inf, None)
            self._plan[key] = base if ratio <= AMG_REUSE_RATIO else None
            self._plan_dt[key] = dt
        return key

    def _rung(self, dt: float, state: SurfaceState):
        """Matrix, constant right-hand side and solver for a step size and surface state,
        built once with the AMG of its own or of its owner (:meth:`_assign`), with the planned
        step size whichever step comes first."""
        key = self._assign(dt, state)
        if key not in self._rungs:
            dt, owner = self._plan_dt[key], self._plan[key]
            if owner is not None and owner not in self._rungs:
                self._rung(self._plan_dt[owner], owner[1])  # the owner first (a resumed run)
            A, c = self._system(state, 1.0 / dt)
            prefix = f"heat{list(self._plan).index(key)}_"
            rtol, max_it = self.solver.rtol, self.solver.max_it
            if owner is not None:  # the AMG of a nearby step size
                ksp = make_lagged_solver(self.comm, A, self._rungs[owner][2].getPC(), prefix,
                                         rtol, max_it)
            else:
                ksp = make_spd_solver(self.comm, A, prefix, rtol, max_it,
                                      smoothed=SMOOTHED_AGGREGATION)
                ksp.setUp()
            self._rungs[key] = (A, c, ksp)
            log.debug("heat: new step size %.4g ms, surface %s (%d matrices, %s)", dt * 1e3,
                      state.name, len(self._rungs), "own AMG" if owner is None else "lagged")
        return key, self._rungs[key]

    # -- explicit terms -------------------------------------------------------------------

    def _explicit(self, state: SurfaceState) -> tuple[float, float]:
        """The lagged terms of this step into ``self._extra`` (right-hand side): evaporation
        beyond its tangent, perfusion stopped by damage, change of conductivity. Returns
        their surface and perfusion powers (W) for the ledger."""
        e, x, y = self._extra, self._x, self._y
        with e.localForm() as e_local:
            e_local.set(0.0)
        if self.L_k is not None:
            dolfinx.fem.petsc.assemble_vector(e, self.L_k)
            e.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        surface = perfusion = 0.0
        T_n = self.T_n.x.petsc_vec.array_r  # owned values
        if self.evaporation is not None and (state.evaporating_top or state.evaporating_wall):
            x.zeroEntries()  # the flux beyond the tangent, W/m^2, on the surface dofs
            x.array_w[self.surface_dofs] = self.evaporation.remainder(T_n[self.surface_dofs])
            for on, S, s in ((state.evaporating_top, self.S_top, self.s_top),
                             (state.evaporating_wall, self.S_wall, self.s_wall)):
                if on:
                    S.mult(x, y)
                    e.axpy(-1.0, y)
                    surface += s.dot(x)
        if self.P_w is not None and self.omega_cell is not None:
            # w_b F(Omega) (T_n - T_a), F = 1 - exp(-Omega): the perfusion that has stopped.
            n = len(T_n)
            x.array_w[:] = -np.expm1(-self.omega_cell.x.array[:n]) * (T_n
                                                                       - self.boundary.arterial_T)
            self.P_w.mult(x, y)
            e.axpy(1.0, y)
            perfusion -= self.perf_vec.dot(x)
        return surface, perfusion

    # -- solves ---------------------------------------------------------------------------

    def solve_steady(self, max_picard: int = 30) -> dfem.Function:
        """Steady state without the laser, with the surface in air: the initial temperature.
        The explicit terms (evaporation beyond its tangent, k(T)) are iterated to a fixed
        point. Sets ``T``, ``T_n`` and ``T_initial``."""
        state = self.surface.air
        A, lift = self._system(state)
        ksp = make_spd_solver(self.comm, A, "heat_steady_", self.solver.rtol, self.solver.max_it)
        b = self.f0.duplicate()
        self.T.x.array[:] = self.boundary.core_T
        self.T_n.x.array[:] = self.boundary.core_T
        nonlinear = self.evaporation is not None or self.L_k is not None
        for it in range(max_picard if nonlinear else 1):
            self._explicit(state)
            lift.copy(b)
            b.axpy(1.0, self._extra)
            dolfinx.fem.petsc.set_bc(b, [self.bc])
            ksp.solve(b, self.T.x.petsc_vec)
            check_converged(ksp, "steady heat")
            self.T.x.scatter_forward()
            change = np.abs(self.T.x.array - self.T_n.x.array).max()
            change = self.comm.allreduce(float(change), op=MPI.MAX)
            self.T_n.x.array[:] = self.T.x.array
            if change < 1e-9:
                break
        else:
            if nonlinear:
                raise SolverError(f"steady heat: the fixed point of the surface evaporation "
                                  f"did not converge in {max_picard} iterations "
                                  f"(last change {change:.3e} K)")
        self.T_initial = self.T.copy()
        self.T_initial.name = "temperature_initial"
        ksp.destroy(), A.destroy(), b.destroy(), lift.destroy()
        return self.T

    def step(self, t0: float, t1: float, power, step: int = 0) -> dfem.Function:
        """Advance from ``t0`` to ``t1``; returns ``T``.

        Args:
            power: the mean laser power (W) of one column of each firing group over the step
                (:meth:`fem.physics.source.BeamSource.mean_powers`), or one number when there
                is one group.
        """
        state = self.surface.state_at(0.5 * (t0 + t1))
        key, (A, c, ksp) = self._rung(t1 - t0, state)
        dt = self._plan_dt[key]  # the size the matrix was built with
        powers = np.atleast_1d(np.asarray(power, dtype=float))
        surface_x, perfusion_x = self._explicit(state)
        q = self._q  # the laser, sum_g p_g b_g
        q.zeroEntries()
        absorbed = 0.0
        if self.groups:
            arr = q.array_w
            for p, g in zip(powers, self.groups, strict=True):
                if p != 0.0:
                    arr[g.index] += p * g.value
                    absorbed += p * g.integral
        b = self._b
        self.M.mult(self.T_n.x.petsc_vec, b)
        b.scale(1.0 / dt)
        b.axpy(1.0, c)
        b.axpy(1.0, self._extra)
        b.axpy(1.0, q)
        dolfinx.fem.petsc.set_bc(b, [self.bc])
        ksp.solve(b, self.T.x.petsc_vec)
        check_converged(ksp, "heat", step, t1)
        self.iterations += ksp.getIterationNumber()
        self.T.x.scatter_forward()
        self._account(dt, state, absorbed, surface_x, perfusion_x)
        if self.boiling is not None:
            self.boiling.apply(self.T, self.ledger)
        self.T_n.x.array[:] = self.T.x.array
        return self.T

    def _account(self, dt: float, state: SurfaceState, absorbed: float,
                 surface_x: float, perfusion_x: float) -> None:
        """Add this step's terms to the energy ledger (consistent bottom flux), the energy the
        solve leaves over at the free dofs and the heat content that bounds it
        (:mod:`fem.physics.ledger`)."""
        T1, T0, r, dT = self.T.x.petsc_vec, self.T_n.x.petsc_vec, self._r, self._dT
        dT.waxpy(-1.0, T0, T1)  # dT = T1 - T0
        # Residual of the step with every test function, bottom rows included:
        # r = M dT / dt + K T1 - f - e - sum_g p_g b_g. It vanishes at free dofs (to solver
        # tolerance) and is the heat flowing in through the bottom at the Dirichlet dofs;
        # the bottom rows are summed, where the laser and the explicit terms count too, and
        # apart the free rows: what the solve leaves unbooked (the ledger's imbalance).
        self.K0.mult(T1, r)
        for h, S in ((state.h_top, self.S_top), (state.h_wall, self.S_wall)):
            if h:
                S.mult(T1, self._y)
                r.axpy(h, self._y)
        self.M.mult(dT, self._Md)
        r.axpy(1.0 / dt, self._Md)
        r.axpy(-1.0, self._surface_load(state, self._x))
        r.axpy(-1.0, self._extra)
        r.axpy(-1.0, self._q)
        r_own = r.array_r
        bottom = float(np.sum(r_own[self.bc_owned]))
        local = np.array([bottom, float(np.sum(r_own)) - bottom])
        inflow, residual = self.comm.allreduce(local, MPI.SUM)
        # H = sum_i C_i T_i by PETSc's dot, not numpy's: numpy's BLAS is threaded, and waiting
        # for its threads doubled the time of a run's step on a busy 2-core machine (29k
        # DOFs; 4x on 2 ranks); its last bits also depended on the number of threads
        heat_content = self.m_row.dot(T1)
        surf_T1 = state.h_top * self.s_top.dot(T1) + state.h_wall * self.s_wall.dot(T1)
        surf_const = state.g_top * self.area_top + state.g_wall * self.area_wall
        led = self.ledger
        led.absorbed += dt * absorbed
        led.metabolic += dt * self.met_power
        led.bottom_inflow += dt * inflow
        led.perfusion_out += dt * (self.perf_vec.dot(T1) - self.perf_const + perfusion_x)
        led.surface_out += dt * (surf_T1 - surf_const + surface_x)
        led.stored += self.m_row.dot(dT)
        led.solver_residual += dt * residual
        led.heat_content += heat_content

    # -- state ----------------------------------------------------------------------------

    def state(self) -> State:
        """The temperature, the ledger and the CG iterations (and the boiling's water)."""
        s = State(fields={"T": self.T}, values={"ledger": vars(self.ledger).copy(),
                                                "iterations": self.iterations})
        if self.boiling is not None:
            s.fields.update(self.boiling.state().fields)
        return s

    def restore(self, state: State) -> None:
        """Continue from a saved state (after :meth:`solve_steady`)."""
        set_owned(self.T, state.fields["T"])
        self.T_n.x.array[:] = self.T.x.array
        self.ledger = EnergyLedger(**state.values["ledger"])
        self.iterations = state.values["iterations"]
        if self.boiling is not None:
            self.boiling.restore(state)

    def release_solvers(self) -> None:
        """Free the step matrices and solvers (collective); a later step rebuilds its own."""
        for A, c, ksp in self._rungs.values():
            ksp.destroy(), A.destroy(), c.destroy()
        self._rungs = {}  # the plan of the step sizes is kept

    def reset(self, T: np.ndarray) -> None:
        """Back to the temperature ``T`` (all local values) as at the start of a run: no step
        matrices or solvers (rebuilt by the next steps, as planned), an empty ledger, no
        cell damage stopping the perfusion, all the tissue water left to boil."""
        self.release_solvers()
        self.T.x.array[:] = T
        self.T_n.x.array[:] = T
        self.ledger = EnergyLedger()
        self.iterations = 0
        self.omega_cell = None
        if self.boiling is not None:
            self.boiling.reset()

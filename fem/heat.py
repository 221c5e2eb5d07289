"""Transient Pennes bioheat equation (P1 Lagrange, backward Euler).

    rho c dT/dt = div(k grad T) + w_b (1 - F(Omega)) rho_b c_b (T_a - T) + q_met + q_laser(x, t)

Boundary conditions: ``-k dT/dn = h (T - T_env) + q_evap(T)`` on the skin surface and on crater
walls, with ``h`` and ``T_env`` of air, a contact window or a cryogen spray as time goes on
(:mod:`fem.cooling`); the core temperature on the bottom; insulated (symmetry) sides. The
initial state is the steady solution without the laser, the surface in air.

Discretely, with mass matrix ``M`` (rho c), ``K0`` (conduction + perfusion) and the surface
mass matrices ``S_top``, ``S_wall``, each step solves::

    (M / dt + K0 + h_top S_top + h_wall S_wall) T1 = M T0 / dt + f + e(T0) + sum_g p_g(t) b_g

where ``f`` (arterial blood, metabolism, the surface environment) and ``b_g`` (the laser
source per watt of each firing group of columns, :func:`fem.source.firing_groups`) are
assembled once. ``e`` holds the terms taken one step behind, none of them a form assembly
unless ``k(T)`` is asked for: the evaporation beyond its tangent (``S e_evap(T0)``), the
perfusion that damage has stopped (``P_w (F (T0 - T_a))``, ``P_w`` the perfusion mass matrix;
F = 1 - exp(-Omega_cell), Schutt & Haemmerich 2008, Med Phys 35:3462) and, optionally, the
temperature dependence of the conductivity, ``k(T) = k (1 + slope (T - 37 C))`` (one vector
assembly per step). One matrix, one lifting vector and one CG + GAMG solver are kept per step
size and surface state (a small ladder of sizes, air and the cooling device), so a run
assembles a handful of matrices and no matrix in the time loop.

The energy bookkeeping uses the consistent (residual) heat flux through the Dirichlet bottom,
so that ``stored = absorbed + metabolic + bottom inflow - perfusion - surface losses`` holds to
solver tolerance; :meth:`PennesProblem.balance` reports the terms.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from mpi4py import MPI
from petsc4py import PETSc

import basix.ufl
import dolfinx.fem.petsc
import numpy as np
import ufl
from dolfinx import fem, mesh

from fem import ablation, cooling, source
from fem.config import Case
from fem.presets import BLOOD_DENSITY, BLOOD_SPECIFIC_HEAT
from meshes.skin import BOTTOM, TOP, WALL, layer_tag

log = logging.getLogger(__name__)

SOURCE_QUADRATURE_DEGREE = 4  # fixed: exp() of coordinates must not drive the degree
BOILING_K = ablation.BOILING_C + 273.15  # tissue water boils (one atmosphere)


class SolverError(RuntimeError):
    """A linear solve failed (exit status 1)."""


def cellwise(V0: fem.FunctionSpace, cell_tags: mesh.MeshTags, values: list[float], name: str):
    """A DG0 function equal to ``values[i]`` on layer ``i`` (inside and outside the column)."""
    f = fem.Function(V0, name=name)
    for i, v in enumerate(values):
        for col in (False, True):
            cells = cell_tags.find(layer_tag(i, col))
            f.x.array[cells] = v
    f.x.scatter_forward()
    return f


def check_converged(ksp: PETSc.KSP, what: str, step: int | None = None, time: float | None = None):
    """Raise :class:`SolverError` unless the KSP converged (reason > 0)."""
    reason = ksp.getConvergedReason()
    if reason <= 0:
        names = {v: k for k, v in PETSc.KSP.ConvergedReason.__dict__.items() if isinstance(v, int)}
        where = f" at step {step} (t = {time * 1e3:.4g} ms)" if step is not None else ""
        raise SolverError(
            f"{what} solver did not converge{where}: {names.get(reason, reason)} "
            f"after {ksp.getIterationNumber()} iterations, residual {ksp.getResidualNorm():.3e}"
        )


def make_spd_solver(comm, A: PETSc.Mat, prefix: str, rtol: float, max_it: int,
                    smoothed: bool = True) -> PETSc.KSP:
    """CG + GAMG for an SPD matrix, with its own options prefix.

    ``smoothed = False``: plain (unsmoothed) aggregation. For the heat matrices
    ``M / dt + K``, which the mass term makes strongly diagonal, it sets up 4x faster than
    smoothed aggregation for 15 % more iterations (measured at 500k DOFs: 1.8 s against 7.6 s
    per matrix, 361 against 313 iterations for the 41 steps of the demo schedule), but scales
    worse on two ranks (see SMOOTHED_AGGREGATION).
    """
    ksp = PETSc.KSP().create(comm)
    ksp.setOptionsPrefix(prefix)
    ksp.setOperators(A)
    ksp.setType("cg")
    ksp.getPC().setType("gamg")
    ksp.setTolerances(rtol=rtol, atol=1e-30, max_it=max_it)
    ksp.setInitialGuessNonzero(True)
    opts = PETSc.Options()
    opts[f"{prefix}pc_gamg_threshold"] = 0.02
    if not smoothed:
        opts[f"{prefix}pc_gamg_agg_nsmooths"] = 0
    opts[f"{prefix}mg_levels_ksp_type"] = "chebyshev"
    opts[f"{prefix}mg_levels_pc_type"] = "jacobi"
    ksp.setFromOptions()
    return ksp


class LaggedPreconditioner:
    """The algebraic multigrid of a nearby step size as the preconditioner of another.

    ``M / dt' + K`` and ``M / dt + K`` are spectrally equivalent within ``max(dt/dt', dt'/dt)``,
    so CG preconditioned by the AMG of ``dt'`` converges to the same tolerance (the same
    answer) in a few more iterations, without the setup of a new AMG hierarchy (the larger
    part of the cost of a new step size). A petsc4py ``python`` PC.
    """

    def __init__(self, amg: PETSc.PC):
        self.amg = amg

    def apply(self, pc: PETSc.PC, x: PETSc.Vec, y: PETSc.Vec) -> None:
        self.amg.apply(x, y)


def make_lagged_solver(comm, A: PETSc.Mat, amg: PETSc.PC, prefix: str, rtol: float,
                       max_it: int) -> PETSc.KSP:
    """CG on ``A`` preconditioned by an AMG set up for a nearby matrix."""
    ksp = PETSc.KSP().create(comm)
    ksp.setOptionsPrefix(prefix)
    ksp.setOperators(A)
    ksp.setType("cg")
    pc = ksp.getPC()
    pc.setType(PETSc.PC.Type.PYTHON)
    pc.setPythonContext(LaggedPreconditioner(amg))
    ksp.setTolerances(rtol=rtol, atol=1e-30, max_it=max_it)
    ksp.setInitialGuessNonzero(True)
    return ksp


# AMG for the heat matrices (make bench, 505k DOFs, demo schedule of 41 steps and 7 sizes):
# unsmoothed aggregation with an AMG per size within 4x ran 0.72 s/step on 1 rank but only
# 1.51x faster on 2 (the memory-bound solves dominate); smoothed aggregation, reused across
# step sizes within 16x (two setups), runs 1.25 s/step on 1 rank, 1.77x faster on 2, and
# more than 10x faster than the tutorial pattern on both. The latter is the default.
SMOOTHED_AGGREGATION = True
AMG_REUSE_RATIO = 16.0  # a step size within this factor of one with an AMG of its own uses it


@dataclass
class EnergyLedger:
    """Time-integrated energy terms of the heat balance, J."""

    absorbed: float = 0.0  # laser
    metabolic: float = 0.0
    bottom_inflow: float = 0.0
    perfusion_out: float = 0.0
    surface_out: float = 0.0  # convection, evaporation, cooling devices
    vaporised: float = 0.0  # latent heat of the tissue water boiled off
    stored: float = 0.0  # sensible heat

    @property
    def error(self) -> float:
        """Relative imbalance, normalised by the absorbed laser energy."""
        rhs = (
            self.absorbed + self.metabolic + self.bottom_inflow - self.perfusion_out
            - self.surface_out - self.vaporised
        )
        return abs(self.stored - rhs) / max(abs(self.absorbed), 1e-300)


@dataclass
class SourceGroup:
    """The laser source of one firing group per watt: its owned nonzero entries."""

    index: np.ndarray  # owned dof indices where the vector is nonzero
    value: np.ndarray
    integral: float  # int q dx per watt (global)


class PennesProblem:
    """Pennes bioheat on a layered skin mesh.

    Life cycle: ``__init__`` (spaces, coefficients, forms, constant matrices and vectors) ->
    :meth:`solve_steady` (initial state) -> :meth:`step` for each time step.

    Args:
        domain, cell_tags, facet_tags: the skin block and its layer and boundary tags.
        case: the validated case.
        with_laser: assemble the laser source of the case (False: no heat source).
        source: replaces the laser source (verification against exact solutions): a function
            of the test function ``v`` returning the linear form of the heat input per watt,
            e.g. ``lambda v: g * v * ds`` for a surface flux ``P g`` or ``s * v * dx`` for a
            volume source ``P s``. It is assembled once, like the laser, so :meth:`step`
            scales it by ``power`` and the energy ledger counts it as absorbed.
    """

    def __init__(self, domain: mesh.Mesh, cell_tags: mesh.MeshTags, facet_tags: mesh.MeshTags,
                 case: Case, with_laser: bool = True,
                 source: Callable[[ufl.Argument], ufl.Form] | None = None):
        self.mesh, self.case, self.comm = domain, case, domain.comm
        self.V = fem.functionspace(domain, ("Lagrange", 1))
        V0 = fem.functionspace(domain, ("DG", 0))
        L = case.layers
        self.rho_c = cellwise(V0, cell_tags, [la.rho * la.c for la in L], "rho_c")
        self.k = cellwise(V0, cell_tags, [la.k for la in L], "k")
        self.w_b = cellwise(
            V0, cell_tags, [la.perfusion * BLOOD_DENSITY * BLOOD_SPECIFIC_HEAT for la in L], "wcb"
        )
        self.q_met = cellwise(V0, cell_tags, [la.rho * la.metabolic for la in L], "q_met")

        self.T = fem.Function(self.V, name="temperature")  # T^{n+1}
        self.T_n = fem.Function(self.V, name="temperature_previous")
        dx = ufl.Measure("dx", domain=domain, subdomain_data=cell_tags)
        ds = ufl.Measure("ds", domain=domain, subdomain_data=facet_tags)
        self.dx = dx
        T, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)

        # The forms, as in the equation; the surface condition -k dT/dn = h T - g on the skin
        # (TOP) and crater walls (WALL) enters through S_top, S_wall with the h and g of each
        # surface state (fem.cooling, :meth:`_system`).
        mass = self.rho_c * T * v * dx
        bulk = (
            ufl.inner(self.k * ufl.grad(T), ufl.grad(v)) * dx  # conduction
            + self.w_b * T * v * dx  # perfusion
        )
        load = (self.w_b * case.arterial_T + self.q_met) * v * dx  # blood and metabolism
        self.a_M, self.a_K0 = fem.form(mass), fem.form(bulk)

        bottom = facet_tags.find(BOTTOM)
        self.bc_dofs = fem.locate_dofs_topological(self.V, domain.topology.dim - 1, bottom)
        self.bc = fem.dirichletbc(PETSc.ScalarType(case.core_T), self.bc_dofs, self.V)
        n_owned = self.V.dofmap.index_map.size_local
        self.bc_owned = self.bc_dofs[self.bc_dofs < n_owned]
        start = self.V.dofmap.index_map.local_range[0]
        self.bc_rows = (self.bc_owned + start).astype(PETSc.IntType)  # global PETSc rows

        self.M = self._assemble_matrix(self.a_M)
        self.K0 = self._assemble_matrix(self.a_K0)  # no bcs: for the bottom flux
        self.S_top = self._assemble_matrix(fem.form(T * v * ds(TOP)))
        self.S_wall = self._assemble_matrix(fem.form(T * v * ds(WALL)))
        self.f0 = self._assemble_vector(fem.form(load))
        self.s_top = self._assemble_vector(fem.form(v * ds(TOP)))  # = S_top 1
        self.s_wall = self._assemble_vector(fem.form(v * ds(WALL)))
        self.area_top, self.area_wall = self.s_top.sum(), self.s_wall.sum()

        if source is not None:
            self.groups = [self._group(self._assemble_vector(fem.form(source(v))))]
        elif with_laser:
            self.groups = self._laser_groups(domain, cell_tags, v)
        else:
            self.groups = []
        # Row sums used by the energy ledger: sum_j phi_j = 1.
        ones = self.T.x.petsc_vec.duplicate()
        ones.set(1.0)
        self.m_row = self.M.createVecLeft()
        self.M.mult(ones, self.m_row)
        self.perf_vec = self._assemble_vector(fem.form(self.w_b * v * dx))  # = P_w 1
        self.perf_const = self.perf_vec.sum() * case.arterial_T
        self.met_power = self._assemble_vector(fem.form(self.q_met * v * dx)).sum()

        # Explicit terms, lagged by one step (zero unless the case asks for them).
        self.evaporation = cooling.evaporation(case)
        self.omega_cell: fem.Function | None = None  # set by the coupled loop
        self.P_w = None
        if case.perfusion_shutdown and self.perf_vec.norm() > 0:
            self.P_w = self._assemble_matrix(fem.form(self.w_b * T * v * dx))
        self.L_k = None
        if case.conductivity_slope:
            # -int k slope (T_n - 37 C) grad T_n . grad v: the change of conductivity with
            # temperature, k(T) = k (1 + slope (T - 37 C)), one step behind.
            T_ref = 37.0 + 273.15
            self.L_k = fem.form(-case.conductivity_slope * self.k * (self.T_n - T_ref)
                                * ufl.inner(ufl.grad(self.T_n), ufl.grad(v)) * dx)

        # Tissue water boils at BOILING_K: the latent heat left per node (J), used up by the
        # temperature-recovery step of :meth:`_vaporise`.
        self.latent_left: fem.Function | None = None
        if case.vaporisation:
            lat = cellwise(V0, cell_tags, [la.water_fraction * ablation.WATER_DENSITY
                                           * ablation.LATENT_HEAT_WATER for la in L], "latent")
            self.latent_left = fem.Function(self.V, name="latent_heat_left")
            vec = self._assemble_vector(fem.form(lat * v * dx))
            n = self.V.dofmap.index_map.size_local
            self.latent_left.x.array[:n] = vec.array_r
            self.latent_left.x.scatter_forward()
            vec.destroy()

        self._rungs: dict[tuple, tuple[PETSc.Mat, PETSc.Vec, PETSc.KSP]] = {}
        self._dt: dict[tuple, float] = {}
        self._amg: list[tuple[float, cooling.SurfaceState, PETSc.KSP]] = []  # own AMG setups
        self._bc_values = self.f0.duplicate()  # core temperature at the bottom dofs
        self._bc_values.zeroEntries()
        dolfinx.fem.petsc.set_bc(self._bc_values, [self.bc])
        work = [self.f0.duplicate() for _ in range(8)]
        self._b, self._r, self._dT, self._Md, self._x, self._y, self._extra, self._q = work
        self.ledger = EnergyLedger()
        self.iterations = 0

    # -- assembly helpers -----------------------------------------------------------------

    def _assemble_matrix(self, form, bcs=()) -> PETSc.Mat:
        A = dolfinx.fem.petsc.assemble_matrix(form, bcs=list(bcs))
        A.assemble()
        return A

    def _assemble_vector(self, form) -> PETSc.Vec:
        b = dolfinx.fem.petsc.assemble_vector(form)
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        return b

    def _group(self, b: PETSc.Vec) -> SourceGroup:
        arr = b.array_r
        index = np.flatnonzero(arr)
        group = SourceGroup(index, arr[index].copy(), b.sum())
        b.destroy()
        return group

    def _laser_groups(self, domain, cell_tags, v) -> list[SourceGroup]:
        """One source vector per firing group: ``q / P`` at the quadrature points of a fixed
        degree (:data:`SOURCE_QUADRATURE_DEGREE`), evaluated with numpy
        (:func:`fem.source.density`), integrated against the test functions. No form has an
        ``exp()`` of coordinates, and any number of columns costs one evaluation per point."""
        case = self.case
        Qe = basix.ufl.quadrature_element(domain.basix_cell(), value_shape=(), scheme="default",
                                          degree=SOURCE_QUADRATURE_DEGREE)
        q = fem.Function(fem.functionspace(domain, Qe), name="laser_profile")
        dxq = ufl.Measure("dx", domain=domain,
                          metadata={"quadrature_degree": SOURCE_QUADRATURE_DEGREE})
        form = fem.form(q * v * dxq)
        layers = [np.concatenate([cell_tags.find(layer_tag(i, c)) for c in (False, True)])
                  for i in range(len(case.layers))]
        groups = []
        for g in source.firing_groups(case):
            for i, cells in enumerate(layers):
                q.interpolate(lambda x, i=i: source.density(case, i, x, g.columns), cells0=cells)
            q.x.scatter_forward()
            groups.append(self._group(self._assemble_vector(form)))
        return groups

    @property
    def dofs(self) -> int:
        """Global number of temperature unknowns."""
        return self.V.dofmap.index_map.size_global

    @property
    def source_integral(self) -> float:
        """``int q dx`` per watt, summed over the firing groups."""
        return sum(g.integral for g in self.groups)

    # -- surface states and step sizes ----------------------------------------------------

    def _surface_load(self, state: cooling.SurfaceState, out: PETSc.Vec) -> PETSc.Vec:
        """``f = f0 + g_top s_top + g_wall s_wall`` of a surface state."""
        self.f0.copy(out)
        out.axpy(state.g_top, self.s_top)
        out.axpy(state.g_wall, self.s_wall)
        return out

    def _system(self, state: cooling.SurfaceState, inv_dt: float = 0.0):
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

    def _rung(self, dt: float, state: cooling.SurfaceState):
        """Matrix, constant right-hand side and solver for a step size and surface state
        (built once; sizes equal to 12 digits share one)."""
        key = (float(f"{dt:.12g}"), state)
        if key not in self._rungs:
            A, c = self._system(state, 1.0 / dt)
            prefix = f"heat{len(self._rungs)}_"
            near = [(max(dt / d, d / dt), k) for d, st, k in self._amg if st == state]
            ratio, base = min(near, key=lambda r: r[0]) if near else (math.inf, None)
            if ratio <= AMG_REUSE_RATIO:  # the AMG of a nearby step size
                ksp = make_lagged_solver(self.comm, A, base.getPC(), prefix, self.case.rtol,
                                         self.case.max_it)
            else:
                ksp = make_spd_solver(self.comm, A, prefix, self.case.rtol, self.case.max_it,
                                      smoothed=SMOOTHED_AGGREGATION)
                ksp.setUp()
                self._amg.append((dt, state, ksp))
            self._rungs[key] = (A, c, ksp)
            self._dt[key] = dt
            log.debug("heat: new step size %.4g ms, surface %s (%d matrices)", dt * 1e3,
                      state.name, len(self._rungs))
        return key, self._rungs[key]

    # -- explicit terms -------------------------------------------------------------------

    def _explicit(self, state: cooling.SurfaceState) -> tuple[float, float]:
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
        if self.evaporation is not None:
            x.array_w[:] = self.evaporation.remainder(T_n)  # flux beyond the tangent, W/m^2
            for on, S, s in ((state.evaporating_top, self.S_top, self.s_top),
                             (state.evaporating_wall, self.S_wall, self.s_wall)):
                if on:
                    S.mult(x, y)
                    e.axpy(-1.0, y)
                    surface += s.dot(x)
        if self.P_w is not None and self.omega_cell is not None:
            # w_b F(Omega) (T_n - T_a), F = 1 - exp(-Omega): the perfusion that has stopped.
            n = len(T_n)
            x.array_w[:] = -np.expm1(-self.omega_cell.x.array[:n]) * (T_n - self.case.arterial_T)
            self.P_w.mult(x, y)
            e.axpy(1.0, y)
            perfusion -= self.perf_vec.dot(x)
        return surface, perfusion

    # -- solves ---------------------------------------------------------------------------

    def solve_steady(self, max_picard: int = 30) -> fem.Function:
        """Steady state without the laser, with the surface in air: the initial temperature.
        The explicit terms (evaporation beyond its tangent, k(T)) are iterated to a fixed
        point. Sets ``T`` and ``T_n``."""
        state = cooling.air_state(self.case)
        A, lift = self._system(state)
        ksp = make_spd_solver(self.comm, A, "heat_steady_", self.case.rtol, self.case.max_it)
        b = self.f0.duplicate()
        self.T.x.array[:] = self.case.core_T
        self.T_n.x.array[:] = self.case.core_T
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

    def step(self, t0: float, t1: float, power, step: int = 0) -> fem.Function:
        """Advance from ``t0`` to ``t1``; returns ``T``.

        Args:
            power: the mean laser power (W) of one column of each firing group over the step
                (:func:`fem.source.mean_powers`), or one number when there is one group.
        """
        state = cooling.state_at(self.case, 0.5 * (t0 + t1))
        key, (A, c, ksp) = self._rung(t1 - t0, state)
        dt = self._dt[key]
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
        if self.latent_left is not None:
            self._vaporise()
        self.T_n.x.array[:] = self.T.x.array
        return self.T

    def _vaporise(self) -> None:
        """Temperature recovery for the boiling of tissue water (Hsiao 1985, Numer Heat
        Transfer 8:653): where a node has risen above 100 C and water is left, the sensible
        heat above 100 C, ``C_i (T_i - T_b)`` with the node's heat capacity ``C_i`` (the row
        sum of ``M``), goes into vaporisation until the node's latent heat is used up; then the
        dry tissue heats on. Node by node, no matrix changes; the ledger moves the heat from
        stored to vaporised, so the books still balance exactly."""
        n = self.V.dofmap.index_map.size_local
        T, left = self.T.x.array[:n], self.latent_left.x.array[:n]
        hot = np.flatnonzero((T > BOILING_K) & (left > 0.0))
        taken = 0.0
        if hot.size:
            cap = self.m_row.array_r[hot]
            take = np.minimum(cap * (T[hot] - BOILING_K), left[hot])
            T[hot] -= take / cap
            left[hot] -= take
            taken = float(take.sum())
        taken = self.comm.allreduce(taken, op=MPI.SUM)
        if taken:
            self.T.x.scatter_forward()
            self.latent_left.x.scatter_forward()
            self.ledger.stored -= taken
            self.ledger.vaporised += taken

    def _account(self, dt: float, state: cooling.SurfaceState, absorbed: float,
                 surface_x: float, perfusion_x: float) -> None:
        """Add this step's terms to the energy ledger (consistent bottom flux)."""
        T1, T0, r, dT = self.T.x.petsc_vec, self.T_n.x.petsc_vec, self._r, self._dT
        dT.waxpy(-1.0, T0, T1)  # dT = T1 - T0
        # Residual of the step with every test function, bottom rows included:
        # r = M dT / dt + K T1 - f - e - sum_g p_g b_g. It vanishes at free dofs (to solver
        # tolerance) and is the heat flowing in through the bottom at the Dirichlet dofs;
        # only the bottom rows are summed, where the laser and the explicit terms count too.
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
        with r.localForm() as r_local:
            inflow = self.comm.allreduce(float(np.sum(r_local.array[self.bc_owned])), MPI.SUM)
        surf_T1 = state.h_top * self.s_top.dot(T1) + state.h_wall * self.s_wall.dot(T1)
        surf_const = state.g_top * self.area_top + state.g_wall * self.area_wall
        led = self.ledger
        led.absorbed += dt * absorbed
        led.metabolic += dt * self.met_power
        led.bottom_inflow += dt * inflow
        led.perfusion_out += dt * (self.perf_vec.dot(T1) - self.perf_const + perfusion_x)
        led.surface_out += dt * (surf_T1 - surf_const + surface_x)
        led.stored += self.m_row.dot(dT)

    def balance(self) -> EnergyLedger:
        """The energy ledger so far."""
        return self.ledger

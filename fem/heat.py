"""Transient Pennes bioheat equation (P1 Lagrange, backward Euler).

    rho c dT/dt = div(k grad T) + w_b rho_b c_b (T_a - T) + q_met + q_laser(x, t)

Boundary conditions: convection ``-k dT/dn = h (T - T_amb)`` on the skin surface and on crater
walls, the core
temperature on the bottom, insulated (symmetry) sides. The initial state is the steady
solution of the same problem without the laser.

Discretely, with mass matrix ``M`` (rho c) and stiffness ``K`` (conduction + perfusion +
surface convection), each step solves::

    (M / dt + K) T1 = M T0 / dt + f + p(t) b_q

where ``f`` (arterial blood, metabolism, ambient air) and ``b_q`` (the laser source per watt)
are assembled once. ``M``, ``K`` and the vectors never change; one matrix, one lifting vector
and one CG + GAMG solver are kept per step size (a small ladder of sizes), so a run assembles a
handful of matrices and no form inside the time loop.

The energy bookkeeping uses the consistent (residual) heat flux through the Dirichlet bottom,
so that ``stored = absorbed + metabolic + bottom inflow - perfusion - surface losses`` holds to
solver tolerance; :meth:`PennesProblem.balance` reports the terms.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from mpi4py import MPI
from petsc4py import PETSc

import basix.ufl
import dolfinx.fem.petsc
import numpy as np
import ufl
from dolfinx import fem, mesh

from fem import source
from fem.config import Case
from fem.presets import BLOOD_DENSITY, BLOOD_SPECIFIC_HEAT
from meshes.skin import BOTTOM, TOP, WALL, layer_tag

log = logging.getLogger(__name__)

SOURCE_QUADRATURE_DEGREE = 4  # fixed: exp() of coordinates must not drive the degree


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


def laser_profile(domain: mesh.Mesh, cell_tags: mesh.MeshTags, case: Case) -> fem.Function:
    """``q / P`` at the quadrature points of the source integral, layer by layer.

    A function on a quadrature space (degree :data:`SOURCE_QUADRATURE_DEGREE`), evaluated once
    with numpy (:func:`fem.source.density`): the form that uses it has no ``exp()`` of
    coordinates and any number of columns costs one evaluation per point.
    """
    Qe = basix.ufl.quadrature_element(domain.basix_cell(), value_shape=(), scheme="default",
                                      degree=SOURCE_QUADRATURE_DEGREE)
    q = fem.Function(fem.functionspace(domain, Qe), name="laser_profile")
    for i in range(len(case.layers)):
        cells = np.concatenate([cell_tags.find(layer_tag(i, c)) for c in (False, True)])
        q.interpolate(lambda x, i=i: source.density(case, i, x), cells0=cells)
    q.x.scatter_forward()
    return q


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


def make_spd_solver(comm, A: PETSc.Mat, prefix: str, rtol: float, max_it: int) -> PETSc.KSP:
    """CG + GAMG for an SPD matrix, with its own options prefix."""
    ksp = PETSc.KSP().create(comm)
    ksp.setOptionsPrefix(prefix)
    ksp.setOperators(A)
    ksp.setType("cg")
    ksp.getPC().setType("gamg")
    ksp.setTolerances(rtol=rtol, atol=1e-30, max_it=max_it)
    ksp.setInitialGuessNonzero(True)
    opts = PETSc.Options()
    opts[f"{prefix}pc_gamg_threshold"] = 0.02
    opts[f"{prefix}mg_levels_ksp_type"] = "chebyshev"
    opts[f"{prefix}mg_levels_pc_type"] = "jacobi"
    ksp.setFromOptions()
    return ksp


@dataclass
class EnergyLedger:
    """Time-integrated energy terms of the heat balance, J."""

    absorbed: float = 0.0  # laser
    metabolic: float = 0.0
    bottom_inflow: float = 0.0
    perfusion_out: float = 0.0
    surface_out: float = 0.0
    stored: float = 0.0

    @property
    def error(self) -> float:
        """Relative imbalance, normalised by the absorbed laser energy."""
        rhs = (
            self.absorbed + self.metabolic + self.bottom_inflow - self.perfusion_out
            - self.surface_out
        )
        return abs(self.stored - rhs) / max(abs(self.absorbed), 1e-300)


class PennesProblem:
    """Pennes bioheat on a layered skin mesh.

    Life cycle: ``__init__`` (spaces, coefficients, forms, constant vectors) ->
    :meth:`solve_steady` (initial state) -> :meth:`step` for each time step.

    Args:
        domain, cell_tags, facet_tags: the skin block and its layer and boundary tags.
        case: the validated case.
        with_laser: assemble the laser source of the case (False: no heat source).
        source: replaces the laser source (verification against exact solutions): a function
            of the test function ``v`` returning the linear form of the heat input per watt,
            e.g. ``lambda v: g * v * ds`` for a surface flux ``P g`` or ``s * v * dx`` for a
            volume source ``P s``. It is assembled once into the same vector as the laser, so
            :meth:`step` scales it by ``power`` and the energy ledger counts it as absorbed.
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
        self.dx, self.ds_top = dx, ds((TOP, WALL))  # skin surface and crater walls
        T, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        T_a, T_amb, h = case.arterial_T, case.ambient_T, case.h_surface
        self.inv_dt = fem.Constant(domain, PETSc.ScalarType(1.0))

        # The forms, as in the equation.
        mass = self.rho_c * T * v * dx
        stiffness = (
            ufl.inner(self.k * ufl.grad(T), ufl.grad(v)) * dx  # conduction
            + self.w_b * T * v * dx  # perfusion
            + h * T * v * self.ds_top  # surface convection
        )
        load = (self.w_b * T_a + self.q_met) * v * dx + h * T_amb * v * self.ds_top
        self.a_M, self.a_K = fem.form(mass), fem.form(stiffness)
        self.a_step = fem.form(self.inv_dt * mass + stiffness)
        self.L_f = fem.form(load)

        bottom = facet_tags.find(BOTTOM)
        self.bc_dofs = fem.locate_dofs_topological(self.V, domain.topology.dim - 1, bottom)
        self.bc = fem.dirichletbc(PETSc.ScalarType(case.core_T), self.bc_dofs, self.V)
        n_owned = self.V.dofmap.index_map.size_local
        self.bc_owned = self.bc_dofs[self.bc_dofs < n_owned]

        self.M = dolfinx.fem.petsc.assemble_matrix(self.a_M)
        self.M.assemble()
        self.K = dolfinx.fem.petsc.assemble_matrix(self.a_K)  # no bcs: for the bottom flux
        self.K.assemble()
        self.f = self._assemble_vector(self.L_f)
        if source is not None:
            self.b_q = self._assemble_vector(fem.form(source(v)))
        elif with_laser:
            self.q_profile = laser_profile(domain, cell_tags, case)
            dxq = ufl.Measure("dx", domain=domain,
                              metadata={"quadrature_degree": SOURCE_QUADRATURE_DEGREE})
            self.b_q = self._assemble_vector(fem.form(self.q_profile * v * dxq))
        else:
            self.b_q = self.f.duplicate()
            self.b_q.zeroEntries()
        # Row sums used by the energy ledger: sum_j phi_j = 1.
        ones = self.T.x.petsc_vec.duplicate()
        ones.set(1.0)
        self.m_row = self.M.createVecLeft()
        self.M.mult(ones, self.m_row)
        self.perf_vec = self._assemble_vector(fem.form(self.w_b * v * dx))
        if h > 0.0:
            self.surf_vec = self._assemble_vector(fem.form(h * v * self.ds_top))
        else:  # insulated surface: UFL folds h * v * ds to an empty form, which cannot assemble
            self.surf_vec = self.f.duplicate()
            self.surf_vec.zeroEntries()
        self.perf_const = self.perf_vec.sum() * T_a
        self.surf_const = self.surf_vec.sum() * T_amb
        self.met_power = self._assemble_vector(fem.form(self.q_met * v * dx)).sum()
        self.source_integral = self.b_q.sum()  # int q dx per watt of laser power
        self._rungs: dict[float, tuple[PETSc.Mat, PETSc.Vec, PETSc.KSP]] = {}
        self._b = self.f.duplicate()
        self._r = self.f.duplicate()
        self._dT = self.f.duplicate()
        self._Md = self.f.duplicate()
        self.ledger = EnergyLedger()
        self.iterations = 0

    def _assemble_vector(self, form) -> PETSc.Vec:
        b = dolfinx.fem.petsc.assemble_vector(form)
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        return b

    @property
    def dofs(self) -> int:
        """Global number of temperature unknowns."""
        return self.V.dofmap.index_map.size_global

    def _rung(self, dt: float):
        """Matrix, constant right-hand side and solver for step size ``dt`` (built once)."""
        if dt not in self._rungs:
            self.inv_dt.value = 1.0 / dt
            A = dolfinx.fem.petsc.assemble_matrix(self.a_step, bcs=[self.bc])
            A.assemble()
            A.setOption(PETSc.Mat.Option.SPD, True)
            c = self.f.duplicate()
            c.zeroEntries()
            dolfinx.fem.petsc.apply_lifting(c, [self.a_step], bcs=[[self.bc]])
            c.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
            c.axpy(1.0, self.f)
            ksp = make_spd_solver(self.comm, A, f"heat{len(self._rungs)}_", self.case.rtol,
                                  self.case.max_it)
            self._rungs[dt] = (A, c, ksp)
            log.debug("heat: new step size %.4g ms (%d sizes)", dt * 1e3, len(self._rungs))
        return self._rungs[dt]

    def solve_steady(self) -> fem.Function:
        """Steady state without the laser: the initial temperature. Sets ``T`` and ``T_n``."""
        A = dolfinx.fem.petsc.assemble_matrix(self.a_K, bcs=[self.bc])
        A.assemble()
        b = self.f.duplicate()
        b.zeroEntries()
        dolfinx.fem.petsc.apply_lifting(b, [self.a_K], bcs=[[self.bc]])
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        b.axpy(1.0, self.f)
        dolfinx.fem.petsc.set_bc(b, [self.bc])
        ksp = make_spd_solver(self.comm, A, "heat_steady_", self.case.rtol, self.case.max_it)
        self.T.x.array[:] = self.case.core_T
        ksp.solve(b, self.T.x.petsc_vec)
        check_converged(ksp, "steady heat")
        self.T.x.scatter_forward()
        self.T_n.x.array[:] = self.T.x.array
        self.T_initial = self.T.copy()
        self.T_initial.name = "temperature_initial"
        ksp.destroy(), A.destroy(), b.destroy()
        return self.T

    def step(self, t0: float, t1: float, power: float, step: int = 0) -> fem.Function:
        """Advance from ``t0`` to ``t1`` with mean laser power ``power`` (W); returns ``T``."""
        dt = t1 - t0
        A, c, ksp = self._rung(dt)
        b = self._b
        self.M.mult(self.T_n.x.petsc_vec, b)
        b.scale(1.0 / dt)
        b.axpy(1.0, c)
        b.axpy(power, self.b_q)
        dolfinx.fem.petsc.set_bc(b, [self.bc])
        ksp.solve(b, self.T.x.petsc_vec)
        check_converged(ksp, "heat", step, t1)
        self.iterations += ksp.getIterationNumber()
        self.T.x.scatter_forward()
        self._account(dt, power)
        self.T_n.x.array[:] = self.T.x.array
        return self.T

    def _account(self, dt: float, power: float) -> None:
        """Add this step's terms to the energy ledger (consistent bottom flux)."""
        T1, T0, r, dT = self.T.x.petsc_vec, self.T_n.x.petsc_vec, self._r, self._dT
        dT.waxpy(-1.0, T0, T1)  # dT = T1 - T0
        # Residual of the step with every test function, bottom rows included:
        # r = M dT / dt + K T1 - f - p b_q. It vanishes at free dofs (to solver tolerance) and
        # is the heat flowing in through the bottom at the Dirichlet dofs.
        self.K.mult(T1, r)
        self.M.mult(dT, self._Md)
        r.axpy(1.0 / dt, self._Md)
        r.axpy(-1.0, self.f)
        r.axpy(-power, self.b_q)
        with r.localForm() as r_local:
            inflow = self.comm.allreduce(float(np.sum(r_local.array[self.bc_owned])), MPI.SUM)
        led = self.ledger
        led.absorbed += dt * power * self.source_integral
        led.metabolic += dt * self.met_power
        led.bottom_inflow += dt * inflow
        led.perfusion_out += dt * (self.perf_vec.dot(T1) - self.perf_const)
        led.surface_out += dt * (self.surf_vec.dot(T1) - self.surf_const)
        led.stored += self.m_row.dot(dT)

    def balance(self) -> EnergyLedger:
        """The energy ledger so far."""
        return self.ledger

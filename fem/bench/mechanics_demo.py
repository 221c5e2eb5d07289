"""The mechanics benchmark's loads and its baseline (:mod:`fem.bench.mechanics`): a synthetic
sequence of states like a run with healing, and the DOLFINx elasticity demo's pattern for it.

The loads (:func:`load_states`), on the temperature space (P1) of a run: T0 a linear profile
from 34 C at the top to 37 C at the bottom (the stress-free state); three thermal output
times, T = T0 + a Gaussian hot column at each of the layout's centres, decaying with depth
(60, 25, 8 K, widening as the heat spreads), with the collagen damage Omega large in the
columns and growing outwards; three healing states at body temperature (T0), the denatured
share F(Omega) falling (faster at the edges of a column, where less was denatured) and a
remodelling contraction ``e_r`` rising to 2 % and spreading. No two states are multiples of
each other or of a combination of the others.

:class:`DemoElasticity` is ``python/demo/demo_elasticity.py`` of DOLFINx v0.11.0 written for
this problem: its forms (``inner(sigma(u), grad(v))``; the stress is symmetric, so this is the
matrix of ``inner(sigma(u), eps(v))`` up to round-off) with the eigenstrain of
:mod:`fem.physics.mechanics` on the right-hand side, the case's layers and boundary conditions
(:func:`~fem.physics.mechanics.skin_bcs`), the six rigid-body modes as the near-nullspace,
and the demo's PETSc options (:data:`DEMO_OPTIONS`, set globally as the demo does); a new
matrix, KSP and GAMG hierarchy for every state, from a zero first guess.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from mpi4py import MPI
from petsc4py import PETSc

import dolfinx.fem as dfem
import dolfinx.fem.petsc
import numpy as np
import ufl

from fem.config import Case
from fem.physics.layers import cellwise
from fem.physics.mechanics import epsilon, rigid_body_modes, skin_bcs
from fem.solvers import check_converged

# demo_elasticity.py (DOLFINx v0.11.0): its solver options verbatim (global, no prefix).
DEMO_OPTIONS = {"ksp_type": "cg", "ksp_rtol": 1.0e-8, "pc_type": "gamg",
                "mg_levels_ksp_type": "chebyshev", "mg_levels_pc_type": "jacobi",
                "mg_levels_ksp_chebyshev_esteig_steps": 10}
BODY_T = 310.15  # K: the bottom of the block
T_TOP = 307.15  # K: the skin surface
# (label, peak temperature rise K, hot-column width factor, peak Omega, damage width factor)
THERMAL = [("thermal_1", 60.0, 1.0, 2.0, 1.0), ("thermal_2", 25.0, 1.5, 3.0, 1.15),
           ("thermal_3", 8.0, 2.2, 3.2, 1.25)]
# (label, denatured share left at the column axis, contraction peak, its spreading exponent)
HEALING = [("healing_1", 0.8, 0.006, 1.0), ("healing_2", 0.5, 0.015, 0.7),
           ("healing_3", 0.2, 0.02, 0.5)]


class Stopwatch:
    """Wall and CPU seconds (this rank's) between barriers."""

    def __init__(self, comm: MPI.Comm):
        self.comm = comm
        comm.Barrier()
        self.start = self.last = (time.perf_counter(), time.process_time())

    def lap(self) -> tuple[float, float]:
        """(wall, CPU) seconds since the last lap (or the start)."""
        self.comm.Barrier()
        now = (time.perf_counter(), time.process_time())
        out, self.last = (now[0] - self.last[0], now[1] - self.last[1]), now
        return out

    def total(self) -> tuple[float, float]:
        """(wall, CPU) seconds since the start."""
        self.comm.Barrier()
        return time.perf_counter() - self.start[0], time.process_time() - self.start[1]


@dataclass
class LoadState:
    """One state of the sequence: temperature, collagen damage, remodelling contraction."""

    label: str
    T: dfem.Function
    omega: dfem.Function
    remodelling: dfem.Function | None


def load_states(VT: dfem.FunctionSpace, case: Case) -> tuple[dfem.Function, list[LoadState]]:
    """The stress-free temperature T0 and the six states (see the module docstring)."""
    depth, centres = case.skin.depth, case.pattern.layout.centres
    width0 = 0.5 * case.mesh.column_radius  # about the beam's 1/e^2 radius
    decay = 0.5 * case.mesh.column_depth
    x = VT.tabulate_dof_coordinates().T

    def columns(width):
        s = sum(np.exp(-2.0 * ((x[0] - cx) ** 2 + (x[1] - cy) ** 2) / width**2)
                for cx, cy in centres)
        return s * np.exp(x[2] / decay)  # z <= 0 below the surface

    def function(values, name):
        f = dfem.Function(VT, name=name)
        f.x.array[:] = values
        return f

    T0 = function(BODY_T - (BODY_T - T_TOP) * (1.0 + x[2] / depth), "T0")
    states = []
    for label, rise, width, omega, spread in THERMAL:
        states.append(LoadState(label, function(T0.x.array + rise * columns(width0 * width), "T"),
                                function(omega * columns(width0 * spread), "omega"), None))
    F_end = 1.0 - np.exp(-states[-1].omega.x.array)
    for label, share, e_r, p in HEALING:
        F = F_end * share ** (2.0 - F_end)  # replaced faster where less was denatured
        states.append(LoadState(label, T0, function(-np.log1p(-F), "omega"),
                                function(e_r * F_end**p, "remodelling")))
    return T0, states


class DemoElasticity:
    """The elasticity demo's way, for a sequence of loads: forms, boundary conditions and the
    rigid-body near-nullspace once; per :meth:`solve` the matrix assembled, a KSP from the
    demo's options (global, as the demo sets them, CG to ``rtol``) and its GAMG hierarchy set
    up, the right-hand side assembled and CG from a zero first guess. Only the current matrix
    and solver are kept."""

    def __init__(self, domain, cell_tags, facet_tags, case: Case, T0: dfem.Function,
                 rtol: float = DEMO_OPTIONS["ksp_rtol"]):
        m = case.mechanics
        if m.formulation != "displacement" or m.sides == "periodic":
            raise SystemExit("bench-mechanics: the demo pattern is the displacement form with "
                             "free or held sides (not mixed, not periodic)")
        self.comm = domain.comm
        V = dfem.functionspace(domain, ("Lagrange", m.degree, (domain.geometry.dim,)))
        V0 = dfem.functionspace(domain, ("DG", 0))
        L_ = case.skin.layers
        E, nu = np.array([la.E for la in L_]), np.array([la.nu for la in L_])
        lmbda = cellwise(V0, cell_tags, list(E * nu / ((1 + nu) * (1 - 2 * nu))), "lambda")
        mu = cellwise(V0, cell_tags, list(E / (2 * (1 + nu))), "mu")
        alpha = cellwise(V0, cell_tags, [la.alpha for la in L_], "alpha")
        collagen = cellwise(V0, cell_tags, [float(la.collagen) for la in L_], "collagen")
        VT = T0.function_space
        self.T, self.omega, self.e_r = (dfem.Function(VT) for _ in range(3))
        Id = ufl.Identity(3)
        P = (ufl.as_matrix([[1, 0, 0], [0, 1, 0], [0, 0, 0]])
             if m.shrinkage_plane == "in_plane" else Id)
        eps_star = (alpha * (self.T - T0) * Id - collagen * (
            m.shrinkage_max * (1.0 - ufl.exp(-self.omega)) + self.e_r) * P)

        def sigma(e):
            return 2.0 * mu * e + lmbda * ufl.tr(e) * Id

        u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        self.a = dfem.form(ufl.inner(sigma(epsilon(u)), ufl.grad(v)) * ufl.dx)
        self.L = dfem.form(ufl.inner(sigma(eps_star), ufl.grad(v)) * ufl.dx)
        self.bcs = skin_bcs(V, facet_tags, case.pattern.layout, m.sides, case.skin.depth)
        self.ns, self._basis = rigid_body_modes(V)
        self.V, self.uh = V, dfem.Function(V, name="displacement")
        opts = PETSc.Options()
        for k, val in {**DEMO_OPTIONS, "ksp_rtol": rtol}.items():
            opts[k] = val
        self.iterations, self.last_iterations = 0, 0

    @staticmethod
    def forget_options() -> None:
        """Remove the demo's global options (a process that only compiled its forms)."""
        for k in DEMO_OPTIONS:
            PETSc.Options().delValue(k)

    def solve(self, state: LoadState) -> tuple[tuple[float, float], tuple[float, float]]:
        """Solve one state; returns the (wall, CPU) seconds of its setup and of its solve."""
        comm = self.comm
        self.T.x.array[:] = state.T.x.array
        self.omega.x.array[:] = state.omega.x.array
        self.e_r.x.array[:] = 0.0 if state.remodelling is None else state.remodelling.x.array
        clock = Stopwatch(comm)
        A = dolfinx.fem.petsc.assemble_matrix(self.a, bcs=self.bcs)
        A.assemble()
        A.setNearNullSpace(self.ns)
        A.setOption(PETSc.Mat.Option.SPD, True)
        ksp = PETSc.KSP().create(comm)
        ksp.setFromOptions()
        ksp.setOperators(A)
        ksp.setUp()  # the GAMG hierarchy (ksp.solve would set it up here too)
        setup = clock.lap()
        b = dolfinx.fem.petsc.assemble_vector(self.L)
        dolfinx.fem.petsc.apply_lifting(b, [self.a], bcs=[self.bcs])
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        dolfinx.fem.petsc.set_bc(b, self.bcs)
        ksp.solve(b, self.uh.x.petsc_vec)  # the initial guess is zero (KSP's default)
        check_converged(ksp, "demo mechanics")
        self.uh.x.scatter_forward()
        solve = clock.lap()
        self.last_iterations = ksp.getIterationNumber()
        self.last_reason = int(ksp.getConvergedReason())
        self.iterations += self.last_iterations
        ksp.destroy(), A.destroy(), b.destroy()
        return setup, solve

"""Linear solvers shared by the physics: CG + GAMG for SPD systems, the lagged AMG
preconditioner, converged-reason checks, and assembly of the constant operators.

Every solve is checked with :func:`check_converged`, which raises :class:`SolverError` (exit
status 1, with the step and the solver's reason) unless PETSc's converged reason is positive.
"""

from __future__ import annotations

import dolfinx.fem as dfem
import dolfinx.fem.petsc
from petsc4py import PETSc


class SolverError(RuntimeError):
    """A linear solve failed, or a result is not finite (exit status 1)."""


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
                    smoothed: bool = True, aggressive: int | None = None) -> PETSc.KSP:
    """CG + GAMG for an SPD matrix, with its own options prefix.

    ``smoothed = False``: plain (unsmoothed) aggregation. For the heat matrices
    ``M / dt + K``, which the mass term makes strongly diagonal, it sets up 4x faster than
    smoothed aggregation for 15 % more iterations (measured at 500k DOFs: 1.8 s against 7.6 s
    per matrix, 361 against 313 iterations for the 41 steps of the demo schedule), but scales
    worse on two ranks (:data:`fem.physics.heat.SMOOTHED_AGGREGATION`). ``aggressive``: the
    number of levels coarsened aggressively (PETSc's default: 1).
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
    if aggressive is not None:
        opts[f"{prefix}pc_gamg_aggressive_coarsening"] = aggressive
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


def assemble_matrix(form: dfem.Form, bcs=()) -> PETSc.Mat:
    """An assembled PETSc matrix of a bilinear form."""
    A = dolfinx.fem.petsc.assemble_matrix(form, bcs=list(bcs))
    A.assemble()
    return A


def assemble_vector(form: dfem.Form) -> PETSc.Vec:
    """An assembled PETSc vector of a linear form, ghost contributions summed."""
    b = dolfinx.fem.petsc.assemble_vector(form)
    b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    return b

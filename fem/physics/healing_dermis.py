"""Dermal remodelling after the pulse: stimulus, fibroblasts, collagen III and I, contraction.

**Stimulus** ``S`` (0-1) of the surviving fibroblasts, at each node of the temperature space:

    S = exp(-Omega_cell) max(1 - exp(-Omega_hs), W),   W = min(1, 2 s),
    l^2 (-lap s) + s = 1 - exp(-Omega_collagen)   (natural boundary conditions)

``Omega_hs`` is the sub-lethal heat-shock integral of the thermal run (kinetics purpose
``heat_shock``, by default fitted to Ortner et al. 2015); ``W`` is the wound signal of the
coagulated column, which reaches a distance of about ``l = healing.wound_signal_um`` into the
viable tissue around it (a screened-Poisson solve, :func:`wound_signal`; ``W = 1`` on the
border of a wide column); ``exp(-Omega_cell)`` the share of cells alive.

**Kinetics**, linear with constant rates (:class:`DermalKinetics`), at every node:

    H'  = -k_H H                       H(0) = S      heat-shock / activation signal
    A'  =  k_A H - k_F A               A(0) = 0      activated (myo)fibroblasts
    D'  = -k_c D                       D(0) = D0     denatured collagen, D0 = 1 - exp(-Omega_col)
    C3' =  k_c D + k_s A - k_m C3      C3(0) = 0     new collagen type III
    C1' =  k_m C3                      C1(0) = 0     collagen type I, matured from III
    E'  =  beta A                      E(0) = 0      contraction locked in by new collagen

``k_A`` is set so that ``A`` peaks at ``S`` (a fully stimulated node activates fully). New
collagen replaces what is cleared (``k_c D``) and is synthesised by activated fibroblasts
(``k_s A``); maturation moves collagen from III to I and conserves it:
``(D + C3 + C1)' = k_s A``. Collagen amounts are fractions of the native collagen. Being linear
with node-independent rates, the system is solved exactly: ``x(t) = expm(M t) x(0)`` for any
``t`` (no time-step error, no state to carry but the initial values).

**Remodelling eigenstrain** (solved with :class:`fem.physics.mechanics.ElasticityProblem` at
the output days, the tissue back at body temperature): in the collagen layers, in the plane of
the dermis, ``eps* = -(s_max D(t) + E(t)) P``: the shrinkage of the collagen still denatured,
which relaxes as it is cleared, and the contraction locked in by the new matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

from mpi4py import MPI

import dolfinx.fem as dfem
import numpy as np
import ufl
from scipy.linalg import expm

from fem.config.sections import Healing
from fem.solvers import assemble_matrix, assemble_vector, check_converged, make_spd_solver

H, A, D, C3, C1, E = range(6)
SPECIES = ("signal", "fibroblasts", "denatured_collagen", "collagen_III", "collagen_I",
           "contraction")


@dataclass(frozen=True)
class DermalRates:
    """The rates of :class:`DermalKinetics`, 1/s."""

    k_H: float  # decay of the activation signal
    k_F: float  # deactivation (apoptosis) of activated fibroblasts
    k_c: float  # clearance of denatured collagen
    k_m: float  # maturation of collagen III into I
    k_s: float  # synthesis of new collagen per activated fibroblast fraction
    beta: float  # contraction rate (strain per second) per activated fraction

    @classmethod
    def from_healing(cls, h: Healing) -> DermalRates:
        return cls(1.0 / h.signal_decay, 1.0 / h.fibroblast_life, 1.0 / h.clearance_time,
                   1.0 / h.maturation_time, h.synthesis, h.contraction)

    @property
    def k_A(self) -> float:
        """Activation rate that makes ``A`` peak at ``S``: ``A/S = k_A (e^-kH t - e^-kF t) /
        (kF - kH)``, whose peak is at ``t* = ln(kF / kH) / (kF - kH)``."""
        kH, kF = self.k_H, self.k_F
        if abs(kF - kH) < 1e-12 * kH:  # A/S = k_A t e^{-k t}, peak 1/(e k)
            return kH * np.e
        t = np.log(kF / kH) / (kF - kH)
        return (kF - kH) / (np.exp(-kH * t) - np.exp(-kF * t))


class DermalKinetics:
    """The linear cascade at every node, solved exactly (``expm``)."""

    def __init__(self, rates: DermalRates):
        self.rates = r = rates
        M = np.zeros((6, 6))
        M[H, H] = -r.k_H
        M[A, H], M[A, A] = r.k_A, -r.k_F
        M[D, D] = -r.k_c
        M[C3, D], M[C3, A], M[C3, C3] = r.k_c, r.k_s, -r.k_m
        M[C1, C3] = r.k_m
        M[E, A] = r.beta
        self.M = M

    def initial(self, S: np.ndarray, D0: np.ndarray) -> np.ndarray:
        """Initial values ``(n, 6)`` from the stimulus and the denatured collagen."""
        x0 = np.zeros((S.size, 6))
        x0[:, H], x0[:, D] = S, D0
        return x0

    def at(self, x0: np.ndarray, t: float) -> np.ndarray:
        """All species at time ``t`` (s) from the initial values ``(n, 6)``."""
        return x0 @ expm(self.M * t).T


def wound_signal(V: dfem.FunctionSpace, source: dfem.Function, length: float,
                 rtol: float = 1e-10, max_it: int = 500) -> dfem.Function:
    """``s`` with ``l^2 (grad s, grad v) + (s, v) = (f, v)``: the signal of the coagulated
    tissue ``f`` (0-1), screened over ``length`` (one CG + GAMG solve)."""
    s = dfem.Function(V, name="wound_signal")
    if length <= 0.0:
        s.x.array[:] = 0.0
        return s
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    a = dfem.form(length**2 * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx + u * v * ufl.dx)
    L = dfem.form(source * v * ufl.dx)
    K = assemble_matrix(a)
    b = assemble_vector(L)
    ksp = make_spd_solver(V.mesh.comm, K, "wound_signal_", rtol, max_it)
    ksp.setInitialGuessNonzero(False)
    ksp.solve(b, s.x.petsc_vec)
    check_converged(ksp, "wound signal")
    s.x.scatter_forward()
    ksp.destroy()
    K.destroy()
    b.destroy()
    return s


def stimulus(omega_cell: np.ndarray, omega_hs: np.ndarray, signal: np.ndarray) -> np.ndarray:
    """``S = exp(-Omega_cell) max(1 - exp(-Omega_hs), min(1, 2 s))`` (0-1)."""
    hs = -np.expm1(-np.maximum(omega_hs, 0.0))
    w = np.clip(2.0 * signal, 0.0, 1.0)
    return np.exp(-np.maximum(omega_cell, 0.0)) * np.maximum(hs, w)


class VolumeMeans:
    """Volume means over the collagen layers of nodal values (lumped: ``sum m_i x_i``, ``m_i``
    the integral of the test function over the dermis cells), the same on every rank."""

    def __init__(self, V: dfem.FunctionSpace, weight: dfem.Function):
        v = ufl.TestFunction(V)
        b = assemble_vector(dfem.form(weight * v * ufl.dx))
        n = V.dofmap.index_map.size_local
        self.m = b.array[:n].copy()
        b.destroy()
        self.n, self.comm = n, V.mesh.comm
        self.volume = self.comm.allreduce(float(self.m.sum()), op=MPI.SUM)

    def mean(self, values: np.ndarray) -> np.ndarray:
        """Means of the columns of ``values`` (local dofs, ``(n,)`` or ``(n, k)``)."""
        part = self.m @ values[:self.n]
        total = np.empty_like(np.atleast_1d(part))
        self.comm.Allreduce(np.atleast_1d(part).astype(float), total, op=MPI.SUM)
        return total / self.volume if self.volume > 0 else np.zeros_like(total)

    def share(self, mask: np.ndarray) -> float:
        """Volume share where ``mask`` holds."""
        return float(self.mean(mask.astype(float))[0])

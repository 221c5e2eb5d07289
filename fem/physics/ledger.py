"""The energy ledger of the heat problem: every term of the balance, integrated over time.

    stored = absorbed + metabolic + bottom inflow - perfusion - surface losses - vaporised

:class:`fem.physics.heat.PennesProblem` adds each step's terms with the consistent (residual)
heat flux through the Dirichlet bottom. Every term is booked as the sum over all rows of the
step equation (the row sums of its matrices and vectors), so the books close *exactly* up to
what the step solves leave over: the residual ``r`` of each solve at the free dofs,
``dt sum_free r_i``, which :attr:`EnergyLedger.solver_residual` accumulates.
:attr:`EnergyLedger.error` is the relative imbalance (``energy_balance_error``);
:attr:`EnergyLedger.bookkeeping_error` the imbalance left once the solver residual is booked
too, round-off for consistent books at any solver tolerance.

**Bound.** CG stops when its (preconditioned) residual is below ``rtol`` of the right-hand
side ``M T0 / dt + ...``, which holds the *absolute* temperature (about 310 K), so each step
may leave ``|dt sum_free r_i| <= rtol H_n`` unbooked, ``H_n = sum_i C_i T_i`` the heat content
of the block at absolute temperature (``C_i`` the row sums of the mass matrix); the error of
a run is normalised by the absorbed energy, which is small beside ``H`` (``H / E_abs`` is 220
on the coarse demo, 7940 for the insulated half-space of the verification), and the steps'
residuals add up rather than cancel (they mostly share a sign: CG started from the last
step's temperature falls short of the change).
Hence, with ``eps`` the float64 round-off, ``C`` the block's heat capacity, ``T_core`` in K,

    energy_balance_error <= (rtol + 16 eps) sum_n H_n / E_abs
                         ~= N_steps (rtol + 16 eps) C T_core / E_abs

(:meth:`EnergyLedger.bound`). Measured per step: ``|dt sum_free r_i| <= 0.074 rtol H_n`` and
round-off ``<= 0.2 eps H_n`` (the larger floor, 1.4e-13 of the absorbed energy with contact
cooling, is PETSc's sequential sum of the surface area against the pairwise sums of the
residual: ``g A`` is 0.7 W there); coarse demo with each tissue, surface and cooling option,
rtol 1e-14 to 1e-6, one and two ranks; insulated flux, n = 4-16. Runs sit 36-3000x below the
bound: the default rtol 1e-10 gives 3e-10 to 6e-9 on the demo options and 5e-8 to 9e-8 on the
insulated flux (``tests/test_ledger.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

EPS = 2.220446049250313e-16  # float64 machine epsilon
ROUNDOFF = 16.0 * EPS  # round-off per step, relative to the heat content (measured 0.2 eps)


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
    # what the solves leave over: sum_n dt sum_free r_i (zero for exact solves)
    solver_residual: float = 0.0
    heat_content: float = 0.0  # sum_n H_n, H_n = sum_i C_i T_i^{n+1} (absolute T), J

    @property
    def imbalance(self) -> float:
        """``stored`` less the sum of the other terms, J."""
        return self.stored - (
            self.absorbed + self.metabolic + self.bottom_inflow - self.perfusion_out
            - self.surface_out - self.vaporised
        )

    @property
    def error(self) -> float:
        """Relative imbalance, normalised by the absorbed laser energy."""
        return abs(self.imbalance) / max(abs(self.absorbed), 1e-300)

    @property
    def bookkeeping_error(self) -> float:
        """Relative imbalance with the solver residual booked: round-off (at most
        ``bound(0.0)``) unless a term is booked otherwise than the step equation has it."""
        return abs(self.imbalance - self.solver_residual) / max(abs(self.absorbed), 1e-300)

    def bound(self, rtol: float) -> float:
        """The bound of :attr:`error` for the CG tolerance ``rtol`` (module docstring):
        ``(rtol + 16 eps) sum_n H_n / E_abs``."""
        return (rtol + ROUNDOFF) * self.heat_content / max(abs(self.absorbed), 1e-300)

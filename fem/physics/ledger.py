"""The energy ledger of the heat problem: every term of the balance, integrated over time.

    stored = absorbed + metabolic + bottom inflow - perfusion - surface losses - vaporised

:class:`fem.physics.heat.PennesProblem` adds each step's terms with the consistent (residual)
heat flux through the Dirichlet bottom, so that the balance holds to solver tolerance;
:attr:`EnergyLedger.error` is its relative imbalance.
"""

from __future__ import annotations

from dataclasses import dataclass


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

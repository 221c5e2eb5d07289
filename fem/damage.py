"""Arrhenius thermal damage, Omega(x, t) = int_0^t A exp(-Ea / (R T(x, s))) ds.

The rate is evaluated in log form, ``exp(ln A - Ea / (R T))``, because frequency factors such as
3.1e98 1/s overflow intermediate products otherwise. Omega lives on the temperature nodes (a P1
function), so it needs no communication and no projection, and it is integrated in time with the
trapezoid rule alongside the heat steps.

``Omega = 1`` (63 % of the molecules or cells denatured) draws the damage contours: cell death
with Henriques-Moritz kinetics gives the necrotic column, collagen denaturation with
Maitland-Walsh kinetics the coagulated column.
"""

from __future__ import annotations

import math

import numpy as np
from dolfinx import fem

R_GAS = 8.314462618  # J/(mol K)
MAX_LOG_RATE = 700.0  # exp(700) ~ 1e304: clip, Omega is astronomically large anyway


class ArrheniusKinetics:
    """One kinetics set: ``ln A`` and ``Ea``, optionally a second branch above a switch."""

    def __init__(self, A_per_s: float, Ea_J_per_mol: float, switch_C: float | None = None,
                 A_high_per_s: float | None = None, Ea_high_J_per_mol: float | None = None):
        self.lnA, self.Ea = math.log(A_per_s), Ea_J_per_mol
        self.switch = None if switch_C is None else switch_C + 273.15
        if self.switch is not None:
            self.lnA_high, self.Ea_high = math.log(A_high_per_s), Ea_high_J_per_mol

    def log_rate(self, T: np.ndarray) -> np.ndarray:
        """``ln(dOmega/dt)`` at temperatures ``T`` (K)."""
        T = np.asarray(T, dtype=float)
        out = self.lnA - self.Ea / (R_GAS * T)
        if self.switch is not None:
            high = T >= self.switch
            out[high] = self.lnA_high - self.Ea_high / (R_GAS * T[high])
        return out

    def rate(self, T: np.ndarray) -> np.ndarray:
        """``dOmega/dt`` (1/s) at temperatures ``T`` (K)."""
        return np.exp(np.minimum(self.log_rate(T), MAX_LOG_RATE))


class ArrheniusDamage:
    """Damage integral of one kinetics set on the temperature space."""

    def __init__(self, V: fem.FunctionSpace, kinetics: ArrheniusKinetics, name: str):
        self.kinetics, self.name = kinetics, name
        self.omega = fem.Function(V, name=f"omega_{name}")
        self._rate_prev: np.ndarray | None = None

    def start(self, T: fem.Function) -> None:
        """Record the rate at the initial temperature (Omega stays at zero)."""
        self._rate_prev = self.kinetics.rate(T.x.array)

    def update(self, T: fem.Function, dt: float) -> None:
        """Trapezoid step: Omega += dt (rate(T_old) + rate(T_new)) / 2."""
        rate = self.kinetics.rate(T.x.array)
        self.omega.x.array[:] += 0.5 * dt * (self._rate_prev + rate)
        self._rate_prev = rate


def make_damage(V: fem.FunctionSpace, kinetics: dict[str, dict]) -> dict[str, ArrheniusDamage]:
    """One :class:`ArrheniusDamage` per purpose (``cell``, ``collagen``)."""
    return {purpose: ArrheniusDamage(V, ArrheniusKinetics(**params), purpose)
            for purpose, params in kinetics.items()}

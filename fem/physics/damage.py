"""Thermal damage: Arrhenius integrals and the CEM43 thermal dose, on the temperature nodes.

Arrhenius (Henriques & Moritz 1947; Pearce, "Comparative analysis of mathematical models of
cell death and thermal damage processes", Int J Hyperthermia 29:262, 2013):

    Omega(x, t) = int_0^t A exp(-Ea / (R T(x, s))) ds.

The rate is evaluated in log form, ``exp(ln A - Ea / (R T))``, because frequency factors such as
3.1e98 1/s overflow intermediate products otherwise. ``Omega = 1`` (63 % of the molecules or
cells denatured) draws the damage contours: cell death (Henriques-Moritz by default) gives the
necrotic column, collagen denaturation (Maitland-Walsh) the coagulated column. A kinetics set may
differ per layer (e.g. Mehta-Wong epidermis / dermis): each node takes the set of the layer
its depth lies in (a node on an interface belongs to the layer below it).

Thermal dose (Sapareto & Dewey 1984, Int J Radiat Oncol Biol Phys 10:787), in equivalent
minutes at 43 C:

    CEM43(x, t) = int_0^t R(T)^(43 - T(x, s)) ds / 60 s,   R = 0.5 for T >= 43 C, 0.25 below.

Both live on the temperature nodes (a P1 function), so they need no communication and no
projection, and both are accumulated with the time stepping. Within a step the temperature is
taken linear in time between the two solutions: the Arrhenius integral uses the trapezoid rule
(second order), the thermal dose is integrated exactly (``R^(43 - T)`` is an exponential in T,
so its mean over a linear ramp has a closed form).
"""

from __future__ import annotations

import math

import dolfinx.fem as dfem
import numpy as np

from fem.config.presets import R_GAS  # J/(mol K)
from fem.physics.state import State, set_owned

MAX_LOG_RATE = 700.0  # exp(700) ~ 1e304: clip, Omega is astronomically large anyway
KELVIN = 273.15

# Sapareto & Dewey 1984: R = 0.5 above the 43 C breakpoint, 0.25 below.
CEM43_BREAK_C = 43.0
CEM43_R_HIGH = 0.5
CEM43_R_LOW = 0.25
# 240 CEM43 minutes: the dose commonly taken as the threshold of thermal necrosis in soft
# tissue (Dewhirst et al. 2003, Int J Hyperthermia 19:267; Yarmolenko et al. 2011, Int J
# Hyperthermia 27:320); the contour of the dose metrics.
CEM43_NECROSIS_MIN = 240.0
_MAX_DOSE_EXPONENT = 700.0  # ln of the largest rate kept (1/s), as for Arrhenius


class ArrheniusKinetics:
    """One kinetics set: ``ln A`` and ``Ea``, optionally a second branch above a switch."""

    def __init__(self, A_per_s: float, Ea_J_per_mol: float, switch_C: float | None = None,
                 A_high_per_s: float | None = None, Ea_high_J_per_mol: float | None = None):
        self.lnA, self.Ea = math.log(A_per_s), Ea_J_per_mol
        self.switch = None if switch_C is None else switch_C + KELVIN
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


class LayeredKinetics:
    """Kinetics that differ by depth: a default set and sets for depth intervals (layers).

    Args:
        default: the set used outside every interval.
        by_depth: ``(top, bottom, kinetics)`` with depths in metres below the surface
            (positive downward); a depth in ``[top, bottom)`` takes that set.
        depth: the depth of every node, fixed for the run.
    """

    def __init__(self, default: ArrheniusKinetics,
                 by_depth: list[tuple[float, float, ArrheniusKinetics]], depth: np.ndarray):
        self.parts = [(np.ones(depth.size, dtype=bool), default)]
        for top, bottom, kin in by_depth:
            # a node within 0.1 nm of an interface is on it (round-off of the mesh coordinates)
            mask = (depth >= top - 1e-10) & (depth < bottom - 1e-10)
            self.parts[0][0][mask] = False
            self.parts.append((mask, kin))

    def rate(self, T: np.ndarray) -> np.ndarray:
        out = np.empty_like(np.asarray(T, dtype=float))
        for mask, kin in self.parts:
            out[mask] = kin.rate(T[mask])
        return out


class ArrheniusDamage:
    """Damage integral of one kinetics set on the temperature space."""

    def __init__(self, V: dfem.FunctionSpace, kinetics: ArrheniusKinetics | LayeredKinetics,
                 name: str):
        self.kinetics, self.name = kinetics, name
        self.omega = dfem.Function(V, name=f"omega_{name}")
        self._rate_prev: np.ndarray | None = None

    def start(self, T: dfem.Function) -> None:
        """Record the rate at the current temperature (a restart keeps the accumulated Omega)."""
        self._rate_prev = self.kinetics.rate(T.x.array)

    def update(self, T: dfem.Function, dt: float) -> None:
        """Trapezoid step: Omega += dt (rate(T_old) + rate(T_new)) / 2."""
        rate = self.kinetics.rate(T.x.array)
        self.omega.x.array[:] += 0.5 * dt * (self._rate_prev + rate)
        self._rate_prev = rate

    def state(self) -> State:
        """The accumulated Omega (the rate of the last step is ``rate(T)``, see :meth:`start`)."""
        return State(fields={"omega": self.omega})

    def restore(self, state: State) -> None:
        """The accumulated Omega back; call :meth:`start` with the restored temperature."""
        set_owned(self.omega, state.fields["omega"])


def _dose_primitive(T_C: np.ndarray) -> np.ndarray:
    """A continuous primitive ``G`` of ``R(T)^(43 - T)`` in T (C): ``dG/dT = R^(43 - T)``."""
    x = np.minimum(T_C - CEM43_BREAK_C, _MAX_DOSE_EXPONENT / math.log(2.0))
    ln_lo, ln_hi = -math.log(CEM43_R_LOW), -math.log(CEM43_R_HIGH)  # ln 4, ln 2
    below = np.exp(ln_lo * np.minimum(x, 0.0)) / ln_lo
    above = 1.0 / ln_lo + np.expm1(ln_hi * np.maximum(x, 0.0)) / ln_hi
    return np.where(x < 0.0, below, above)


def cem43_rate(T_C: np.ndarray) -> np.ndarray:
    """``R(T)^(43 - T)``: equivalent seconds at 43 C per second at ``T_C`` (C)."""
    x = np.minimum(np.asarray(T_C, dtype=float) - CEM43_BREAK_C,
                   _MAX_DOSE_EXPONENT / math.log(2.0))
    return np.where(x < 0.0, CEM43_R_LOW ** (-x), CEM43_R_HIGH ** (-x))


def cem43_mean_rate(Ta_C: np.ndarray, Tb_C: np.ndarray) -> np.ndarray:
    """Exact mean of ``R(T)^(43 - T)`` over a step in which T goes linearly from Ta to Tb (C).

    On one side of 43 C the mean of ``exp(b (T - 43))`` is
    ``exp(b (Ta - 43)) expm1(b dT) / (b dT)`` (no cancellation for small steps); a step that
    crosses 43 C uses the difference of the continuous primitive.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _cem43_mean_rate(np.asarray(Ta_C, dtype=float), np.asarray(Tb_C, dtype=float))


def _cem43_mean_rate(Ta: np.ndarray, Tb: np.ndarray) -> np.ndarray:
    cap = _MAX_DOSE_EXPONENT / math.log(2.0) + CEM43_BREAK_C
    Ta, Tb = np.minimum(Ta, cap), np.minimum(Tb, cap)
    dT = Tb - Ta
    high = (Ta >= CEM43_BREAK_C) & (Tb >= CEM43_BREAK_C)
    low = (Ta < CEM43_BREAK_C) & (Tb < CEM43_BREAK_C)
    b = np.where(high, -math.log(CEM43_R_HIGH), -math.log(CEM43_R_LOW))
    d = b * dT
    small = np.abs(d) < 1e-12
    ratio = np.where(small, 1.0 + 0.5 * d, np.expm1(d) / np.where(small, 1.0, d))
    same_side = np.exp(b * (Ta - CEM43_BREAK_C)) * ratio
    crossing = (_dose_primitive(Tb) - _dose_primitive(Ta)) / np.where(high | low, 1.0, dT)
    return np.where(high | low, same_side, crossing)


class ThermalDose:
    """CEM43 thermal dose (minutes) on the temperature space, exact for linear-in-time steps.

    Same interface as :class:`ArrheniusDamage` (``omega`` holds the dose in minutes), so the
    time loop, the probes and the checkpoints treat it like a damage integral.
    """

    def __init__(self, V: dfem.FunctionSpace, name: str = "cem43"):
        self.name = name
        self.omega = dfem.Function(V, name=f"{name}_min")
        self._T_prev: np.ndarray | None = None

    def start(self, T: dfem.Function) -> None:
        """Record the current temperature (a restart keeps the accumulated dose)."""
        self._T_prev = T.x.array - KELVIN

    def update(self, T: dfem.Function, dt: float) -> None:
        """Exact step for T linear in time: dose += dt * mean rate / 60."""
        T_C = T.x.array - KELVIN
        self.omega.x.array[:] += dt / 60.0 * cem43_mean_rate(self._T_prev, T_C)
        self._T_prev = T_C

    def state(self) -> State:
        """The accumulated dose (minutes)."""
        return State(fields={"omega": self.omega})

    def restore(self, state: State) -> None:
        """The accumulated dose back; call :meth:`start` with the restored temperature."""
        set_owned(self.omega, state.fields["omega"])


def _kinetics(params: dict) -> ArrheniusKinetics:
    return ArrheniusKinetics(**{k: v for k, v in params.items() if k != "by_depth"})


def make_damage(V: dfem.FunctionSpace, kinetics: dict[str, dict]) -> dict:
    """One damage integral per purpose (``cell``, ``collagen``; ``cem43`` for the dose).

    Args:
        V: the temperature space.
        kinetics: purpose -> preset values (``A_per_s``, ``Ea_J_per_mol``, ...), optionally
            with ``by_depth``: ``((top_m, bottom_m, preset values), ...)`` for layers whose set
            differs; the purpose ``cem43`` makes a :class:`ThermalDose`.
    """
    out: dict = {}
    depth = None
    for purpose, params in kinetics.items():
        if purpose == "cem43":
            out[purpose] = ThermalDose(V)
            continue
        kin = _kinetics(params)
        if params.get("by_depth"):
            if depth is None:
                depth = -V.tabulate_dof_coordinates()[:, 2]
            kin = LayeredKinetics(kin, [(top, bottom, _kinetics(p))
                                        for top, bottom, p in params["by_depth"]], depth)
        out[purpose] = ArrheniusDamage(V, kin, purpose)
    return out

"""The skin surface: convection and evaporation to air, contact cooling, cryogen spray.

The surface condition on the skin (facet tag ``TOP``) and on crater walls (``WALL``) is a
heat transfer coefficient ``h`` to an environment temperature, plus evaporation in air::

    -k dT/dn = h (T - T_env) + q_evap(T)

* **Air** (always, outside the cooling device's action): natural convection
  ``boundary.surface_htc_W_per_m2K`` to ``ambient_temperature_C``, and evaporation of the
  skin's water (ASHRAE Handbook Fundamentals 2017, ch. 9, eq. for E_sk, nude skin)::

      q_evap = w LR h_c (p_sat(T) - phi p_sat(T_amb)),     LR = 16.5 K/kPa (Lewis relation)

  with the skin wettedness ``w`` (0.06 for dry skin without sweating, ASHRAE ch. 9) and the
  relative humidity ``phi``. ``q_evap`` is split into a part linear about ``T_REF_C`` (implicit,
  in the matrix, so the matrix stays constant) and the convex remainder, which is small near
  skin temperatures and is evaluated explicitly from the previous step (:func:`evaporation`).
* **Contact cooling** (``cooling.mode = "contact"``): a cooled window pressed on the skin from
  ``precool_ms`` before the pulse to the end: ``h`` is the contact conductance, ``T_env`` the
  window temperature; no evaporation under the window. Defaults: a sapphire window at 5 C,
  contact conductance 5000 W/(m^2 K) (modelling choice within the range that Zenzie et al.
  2000, Lasers Surg Med 26:130, discuss for sapphire contact cooling; precooling 100 ms,
  modelling choice).
* **Cryogen spray** (``cooling.mode = "cryogen"``): a spurt of R134a of ``spray_ms`` ending
  ``delay_ms`` before the pulse: ``h`` and ``T_env`` of the boiling film, then air again.
  Defaults: -45 C film temperature and h = 5000 W/(m^2 K), a 30 ms spurt and a 20 ms delay
  (modelling choices within the ranges of Anvari et al. 1995, Phys Med Biol 40:241, and
  Aguilar et al. 2001, Lasers Surg Med 28:113: film temperatures of -40 to -50 C, h of the
  order 10^3 - 10^4 W/(m^2 K), spurts of 10-100 ms and delays of 10-50 ms).

A :class:`SurfaceState` is one of these conditions; :func:`schedule` lists when each holds.
The heat problem keeps one matrix per (step size, surface state), so the matrix changes only
when the step size or the state does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LEWIS_RATIO = 16.5  # K/kPa, ASHRAE Fundamentals 2017 ch. 9 (Lewis relation at sea level)
T_REF_C = 34.0  # linearisation point of the evaporation, C (skin surface in air 32-34 C)

CONTACT_DEFAULTS = {  # see the module docstring for the sources
    "window_temperature_C": 5.0,
    "contact_conductance_W_per_m2K": 5000.0,
    "precool_ms": 100.0,
}
CRYOGEN_DEFAULTS = {
    "spray_htc_W_per_m2K": 5000.0,
    "spray_temperature_C": -45.0,
    "spray_ms": 30.0,
    "delay_ms": 20.0,
}
MODE_KEYS = {"none": {}, "contact": CONTACT_DEFAULTS, "cryogen": CRYOGEN_DEFAULTS}


ATMOSPHERE_KPA = 101.325


def saturation_pressure_kPa(T_C: np.ndarray | float) -> np.ndarray:
    """Saturation vapour pressure of water (kPa) at ``T_C`` (C): Magnus form of Alduchov &
    Eskridge 1996 (J Appl Meteorol 35:601), 0.3 % from -40 to 50 C, 3 % at 100 C; capped at
    one atmosphere, reached at the boiling point (a surface above 100 C boils: the vapour
    leaves at ambient pressure, and the evaporation law of ASHRAE no longer describes it)."""
    T_C = np.asarray(T_C, dtype=float)
    return np.minimum(0.61094 * np.exp(17.625 * T_C / (T_C + 243.04)), ATMOSPHERE_KPA)


@dataclass(frozen=True)
class Evaporation:
    """Evaporative heat flux ``q(T) = a (p_sat(T) - phi p_sat(T_amb))`` (W/m^2), T in K."""

    coefficient: float  # a = w LR h_c, W/(m^2 kPa)
    vapour_pressure_kPa: float  # phi p_sat(T_amb)

    def flux(self, T: np.ndarray) -> np.ndarray:
        """Heat flux leaving the surface, W/m^2 (T in K)."""
        return self.coefficient * (saturation_pressure_kPa(np.asarray(T) - 273.15)
                                   - self.vapour_pressure_kPa)

    def linear(self) -> tuple[float, float]:
        """``(h, g)`` of the tangent at ``T_REF_C``: ``q ~ h T - g`` (W/(m^2 K), W/m^2)."""
        T_ref = T_REF_C + 273.15
        eps = 1e-3
        q0 = float(self.flux(T_ref))
        h = float(self.flux(T_ref + eps) - self.flux(T_ref - eps)) / (2 * eps)
        return h, h * T_ref - q0

    def remainder(self, T: np.ndarray) -> np.ndarray:
        """``q(T)`` minus its tangent at ``T_REF_C``: the explicit part, W/m^2."""
        h, g = self.linear()
        return self.flux(T) - (h * np.asarray(T) - g)


def evaporation(case) -> Evaporation | None:
    """The evaporation law of a case (None when off or without convection)."""
    b = case.resolved["boundary"]
    if not b["evaporation"] or case.h_surface <= 0.0 or b["skin_wettedness"] <= 0.0:
        return None
    a = b["skin_wettedness"] * LEWIS_RATIO * case.h_surface
    p_a = 0.01 * b["relative_humidity_percent"] * float(
        saturation_pressure_kPa(b["ambient_temperature_C"]))
    return Evaporation(a, p_a)


@dataclass(frozen=True)
class SurfaceState:
    """One surface condition: ``-k dT/dn = h T - g`` on the top and on crater walls, plus the
    explicit evaporation remainder where ``evaporating``."""

    name: str
    h_top: float  # W/(m^2 K)
    g_top: float  # W/m^2 (h T_env, and the evaporation tangent's constant)
    h_wall: float
    g_wall: float
    evaporating_top: bool
    evaporating_wall: bool


def air_state(case) -> SurfaceState:
    """Convection (and evaporation) to air on the whole surface."""
    h, g = case.h_surface, case.h_surface * case.ambient_T
    evap = evaporation(case)
    if evap is not None:
        he, ge = evap.linear()
        h, g = h + he, g + ge
    return SurfaceState("air", h, g, h, g, evap is not None, evap is not None)


def device_state(case) -> SurfaceState | None:
    """The surface while the cooling device acts (None without a device)."""
    c = case.resolved["cooling"]
    air = air_state(case)
    if c["mode"] == "contact":  # the window covers the skin; crater walls stay in air
        h = c["contact_conductance_W_per_m2K"]
        return SurfaceState("contact", h, h * (c["window_temperature_C"] + 273.15),
                            air.h_wall, air.g_wall, False, air.evaporating_wall)
    if c["mode"] == "cryogen":  # the spray wets everything
        h = c["spray_htc_W_per_m2K"]
        g = h * (c["spray_temperature_C"] + 273.15)
        return SurfaceState("cryogen", h, g, h, g, False, False)
    return None


def device_window(case) -> tuple[float, float] | None:
    """``(start, end)`` of the cooling device's action, s (pulse starts at t = 0)."""
    c = case.resolved["cooling"]
    if c["mode"] == "contact":
        return (-c["precool_ms"] * 1e-3, math.inf)
    if c["mode"] == "cryogen":
        end = -c["delay_ms"] * 1e-3
        return (end - c["spray_ms"] * 1e-3, end)
    return None


def start_time(case) -> float:
    """When the simulation starts: 0, or earlier when a device acts before the pulse."""
    w = device_window(case)
    return min(0.0, w[0]) if w else 0.0


def breakpoints(case) -> list[float]:
    """Times at which the surface condition changes (within the run)."""
    w = device_window(case)
    if not w:
        return []
    return [t for t in w if start_time(case) < t < case.end_time]


def state_at(case, t: float) -> SurfaceState:
    """The surface condition at time ``t`` (use the middle of a step)."""
    w = device_window(case)
    if w and w[0] <= t < w[1]:
        return device_state(case)
    return air_state(case)

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
  skin temperatures and is evaluated explicitly from the previous step
  (:meth:`Evaporation.remainder`).
* **Contact cooling** (``cooling.mode = "contact"``): a cooled window pressed on the skin from
  ``precool_ms`` before the pulse to the end: ``h`` is the contact conductance, ``T_env`` the
  window temperature; no evaporation under the window.
* **Cryogen spray** (``cooling.mode = "cryogen"``): a spurt of R134a of ``spray_ms`` ending
  ``delay_ms`` before the pulse: ``h`` and ``T_env`` of the boiling film, then air again.

The defaults of both devices, with their sources, are in :mod:`fem.config.presets`.

A :class:`SurfaceState` is one of these conditions; :class:`SurfaceConditions` says which holds
when. The heat problem keeps one matrix per (step size, surface state), so the matrix changes
only when the step size or the state does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fem.config.sections import Boundary, Cooling

LEWIS_RATIO = 16.5  # K/kPa, ASHRAE Fundamentals 2017 ch. 9 (Lewis relation at sea level)
T_REF_C = 34.0  # linearisation point of the evaporation, C (skin surface in air 32-34 C)

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


class SurfaceConditions:
    """Which surface condition holds when: air, and the cooling device while it acts.

    Args:
        boundary: the surface in air (convection, evaporation) and the ambient temperature.
        cooling: the cooling device (``mode = "none"``: none).
    """

    def __init__(self, boundary: Boundary, cooling: Cooling):
        self.boundary, self.cooling = boundary, cooling
        self.evaporation = self._evaporation()
        self.air = self._air()
        self.device = self._device()
        self.window = self._window()

    def _evaporation(self) -> Evaporation | None:
        """The evaporation law in air (None when off or without convection)."""
        b = self.boundary
        if not b.evaporation or b.h_surface <= 0.0 or b.skin_wettedness <= 0.0:
            return None
        a = b.skin_wettedness * LEWIS_RATIO * b.h_surface
        p_a = b.relative_humidity * float(saturation_pressure_kPa(b.ambient_T - 273.15))
        return Evaporation(a, p_a)

    def _air(self) -> SurfaceState:
        """Convection (and evaporation) to air on the whole surface."""
        b = self.boundary
        h, g = b.h_surface, b.h_surface * b.ambient_T
        evap = self.evaporation
        if evap is not None:
            he, ge = evap.linear()
            h, g = h + he, g + ge
        return SurfaceState("air", h, g, h, g, evap is not None, evap is not None)

    def _device(self) -> SurfaceState | None:
        """The surface while the cooling device acts (None without a device)."""
        c, air = self.cooling, self.air
        if c.mode == "contact":  # the window covers the skin; crater walls stay in air
            h = c.contact_conductance
            return SurfaceState("contact", h, h * c.window_T, air.h_wall, air.g_wall, False,
                                air.evaporating_wall)
        if c.mode == "cryogen":  # the spray wets everything
            h = c.spray_htc
            g = h * c.spray_T
            return SurfaceState("cryogen", h, g, h, g, False, False)
        return None

    def _window(self) -> tuple[float, float] | None:
        """``(start, end)`` of the cooling device's action, s (pulse starts at t = 0)."""
        c = self.cooling
        if c.mode == "contact":
            return (-c.precool, math.inf)
        if c.mode == "cryogen":
            end = -c.delay
            return (end - c.spray, end)
        return None

    @property
    def start_time(self) -> float:
        """When the simulation starts: 0, or earlier when a device acts before the pulse."""
        w = self.window
        return min(0.0, w[0]) if w else 0.0

    def breakpoints(self, end_time: float) -> list[float]:
        """Times at which the surface condition changes, within the run."""
        w = self.window
        if not w:
            return []
        return [t for t in w if self.start_time < t < end_time]

    def state_at(self, t: float) -> SurfaceState:
        """The surface condition at time ``t`` (use the middle of a step)."""
        w = self.window
        if w and w[0] <= t < w[1]:
            return self.device
        return self.air

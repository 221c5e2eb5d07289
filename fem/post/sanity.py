"""Warnings for runs that look wrong without failing: settings far outside the clinical range
of their laser (:func:`case_warnings`, before the run) and results with no damage or hardly any
heating (:func:`result_warnings`, after it).

A typo of units passes every check of the schema, which allows whatever is physical:
``laser.energy_mJ = 0.01`` (joules typed into the millijoule key) runs to a peak of 37 C and
no damage at all. Each warning is one sentence naming the key, its value, the range and its
source (:data:`fem.config.presets.CLINICAL_RANGES`); the driver logs them and keeps them in
``metrics.json`` (``warnings``), and the report shows them at the top. Pure functions: no
MPI, no fields.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from fem.config import Case
from fem.config.presets import CLINICAL_RANGES

#: "Far outside" a clinical range ``lo``-``hi``: below ``lo / FAR_FACTOR`` or above
#: ``hi * FAR_FACTOR``. A factor 3 keeps the studies of the repository (sweeps from 4 to
#: 40 mJ, 100 to 1500 columns per cm2) quiet and catches every slip of a unit prefix, which is
#: a factor 10 or 1000 (joules for millijoules, millimetres for micrometres, per mm2 for per
#: cm2); a modelling choice.
FAR_FACTOR = 3.0

#: A peak temperature below this (C) damages nothing in a pulse of milliseconds: at 50 C,
#: Omega = 1 takes 17 min with Henriques-Moritz, 78 min with the Maitland-Walsh collagen set
#: and 58 s with Mehta-Wong epidermis (the sets of parameters.md, A exp(-Ea / (R T)) held
#: isothermal); a modelling choice.
PEAK_WARNING_C = 50.0

#: The checked settings: (section, key, unit shown, hint below, hint above).
CHECKED: tuple[tuple[str, str, str, str, str], ...] = (
    ("laser", "energy_mJ", "mJ", "a value in joules?",
     "energy_mJ is the energy of one column, not of a pass"),
    ("laser", "spot_um", "um", "a value in millimetres?",
     "spot_um is the 1/e^2 diameter of one beam, in micrometres"),
    ("pattern", "density_per_cm2", "per cm2", "a value per mm2?",
     "density_per_cm2 is per pass, not the total of all passes"),
)

#: The depth metrics whose all being 0 means no damage at all (cell death, collagen, crater).
DAMAGE_DEPTHS = ("mtz_depth_um", "necrosis_depth_um", "ablation_depth_um")


def _number(value: Any) -> float | None:
    """``value`` as a finite float, or None (missing, not a number, NaN)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def case_warnings(case: Case) -> list[str]:
    """The settings of ``case`` far outside the clinical range of its laser preset.

    Checks ``laser.energy_mJ``, ``laser.spot_um`` and ``pattern.density_per_cm2`` (not for a
    full field, which ignores it) of ``case.resolved`` against
    :data:`fem.config.presets.CLINICAL_RANGES`; far is more than :data:`FAR_FACTOR` outside.
    A preset without ranges (or none) is not checked.

    Args:
        case: the case (its ``resolved`` dictionary, in file units, is read).

    Returns:
        One sentence per setting far outside its range, e.g. ``"laser.energy_mJ = 0.01 is far
        below the clinical range of erglass_1550 (4.5-70 mJ, ...): a value in joules?"``;
        empty when all are within.
    """
    resolved = case.resolved or {}
    laser = resolved.get("laser") or {}
    preset = laser.get("preset")
    ranges = CLINICAL_RANGES.get(preset) if isinstance(preset, str) else None
    if not ranges:
        return []
    out = []
    for section, key, unit, hint_low, hint_high in CHECKED:
        table = resolved.get(section) or {}
        value = _number(table.get(key))
        rng = ranges.get(key)
        if value is None or rng is None:
            continue
        if section == "pattern" and table.get("layout") == "full_field":
            continue  # a full field has no density
        if value < rng.lo / FAR_FACTOR:
            where, hint = "below", hint_low
        elif value > rng.hi * FAR_FACTOR:
            where, hint = "above", hint_high
        else:
            continue
        out.append(f"{section}.{key} = {value:g} is far {where} the clinical range of {preset} "
                   f"({rng.lo:g}-{rng.hi:g} {unit}, {rng.source}): {hint}")
    return out


def result_warnings(case: Case, metrics: Mapping[str, Any]) -> list[str]:
    """What looks wrong in the metrics of a finished run of ``case``.

    * no damage at all: every depth of :data:`DAMAGE_DEPTHS` present in ``metrics`` is 0 (no
      cell nor collagen reaches Omega >= 1, no crater);
    * a peak temperature below :data:`PEAK_WARNING_C`.

    Metrics that are missing (a run without them) are not checked.

    Args:
        case: the case that was run (its energy is named in the messages).
        metrics: the metrics of ``metrics.json`` (:func:`fem.post.metrics.damage_metrics` and
            the driver's ``peak_temperature_C``).

    Returns:
        One sentence per finding; empty when nothing looks wrong.
    """
    resolved = getattr(case, "resolved", None) or {}
    energy = _number((resolved.get("laser") or {}).get("energy_mJ"))
    at = f" at laser.energy_mJ = {energy:g}" if energy is not None else ""
    out = []
    depths = {k: _number(metrics.get(k)) for k in DAMAGE_DEPTHS}
    depths = {k: v for k, v in depths.items() if v is not None}
    if ({"mtz_depth_um", "necrosis_depth_um"} & set(depths)
            and all(v <= 0.0 for v in depths.values())):
        zero = ", ".join(f"{k} = 0" for k in depths)
        out.append(f"no damage at all{at}: no cell reaches Omega >= 1 ({zero}); check the "
                   "energy and its unit")
    peak = _number(metrics.get("peak_temperature_C"))
    if peak is not None and peak < PEAK_WARNING_C:
        out.append(f"peak_temperature_C = {peak:.1f} is below {PEAK_WARNING_C:g} C{at}: too "
                   "little heating to damage tissue in a pulse of milliseconds")
    return out


#: ``source_energy_error`` above this fails the run's energy check: the heat the source puts
#: into the mesh differs from what the beam delivers by more than 0.5 % (a pulse cut short, a
#: beam wider than the domain, a source under-resolved by the mesh).
SOURCE_ENERGY_TOLERANCE = 0.005


def energy_check_failures(metrics: Mapping[str, Any]) -> list[str]:
    """The energy checks a run fails, one sentence each with the figures: the source against
    the beam (:data:`SOURCE_ENERGY_TOLERANCE`) and the energy balance against its bound
    (``energy_balance_bound``, :meth:`fem.physics.ledger.EnergyLedger.bound`). A run that
    absorbs nothing has no relative balance to check."""
    failures = []
    source = _number(metrics.get("source_energy_error"))
    if source is not None and source > SOURCE_ENERGY_TOLERANCE:
        failures.append(
            f"source_energy_error = {source:.3g}: the source holds "
            f"{metrics.get('absorbed_energy_J', float('nan')):.4g} J against the "
            f"{metrics.get('expected_absorbed_energy_J', float('nan')):.4g} J the beam "
            f"delivers (allowed: {SOURCE_ENERGY_TOLERANCE:.1%})")
    balance = _number(metrics.get("energy_balance_error"))
    bound = _number(metrics.get("energy_balance_bound"))
    absorbed = _number(metrics.get("absorbed_energy_J"))
    if balance is not None and bound is not None and absorbed and balance > bound:
        failures.append(f"energy_balance_error = {balance:.3g} is above its bound {bound:.3g} "
                        "for the solver tolerance (solver.rtol)")
    elif balance is None and metrics.get("energy_balance_error") is not None:
        failures.append(f"energy_balance_error = {metrics['energy_balance_error']}: not finite")
    return failures

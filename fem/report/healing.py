"""The "After the treatment" section of the case report: the outcome of the healing stage in
one plain paragraph (:func:`outcome_sentence`), its metrics with their definitions and the
healing pictures. Nothing when the run had no healing stage (no ``healing`` key in
``snapshot.json``).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fem.output.names import HEALING_CSV, RENDERS_DIR, SNAPSHOT_JSON
from fem.report.captions import CAPTIONS, HEALING_FIGURE_ORDER
from fem.report.page import _esc, _figure, _num_cell

logger = logging.getLogger(__name__)


#: The healing metrics of the section's table: key, quantity, unit, definition.
HEALING_METRICS: tuple[tuple[str, str, str, str], ...] = (
    ("reepithelialization_h", "Re-epithelialisation", "h",
     "Hours after the pulse until keratinocytes from the viable margin have covered the whole "
     "epidermal defect (the last point closes); 0 without a defect."),
    ("mend_shed_days", "MENDs shed", "days",
     "Days until the last MEND (the necrotic epidermis pushed up by the new epithelium) "
     "reaches the surface and is shed."),
    ("pigment_cleared_percent", "Pigment cleared", "%",
     "Share of the patch's epidermal melanin that lay in necrotic epidermis and leaves with "
     "the MENDs (one session)."),
    ("stimulated_volume_percent", "Stimulated dermis", "%",
     "Share of the dermis volume in which the fibroblast stimulus (the sub-lethal heat-shock "
     "response and the wound signal around the coagulated column) is at least 0.5."),
    ("new_collagen_percent", "New collagen", "%",
     "New collagen (type III + I) laid down by the end day, as a share of the native collagen "
     "of the dermis in the block."),
    ("remodelling_complete_days", "Remodelling complete", "days",
     "Days until 95 % of the denatured collagen has been cleared and replaced."),
    ("late_tightening_area_percent", "Late tightening, area", "%",
     "Loss of area of the patch seen from above at the end day, from the remodelling "
     "eigenstrain."),
    ("late_linear_contraction_percent", "Late tightening, linear", "%",
     "Linear shrinkage of the patch seen from above at the end day, from the remodelling "
     "eigenstrain."),
    ("downtime_days", "Downtime", "days",
     "Days until the barrier is closed and the visible debris (MENDs at the surface) covers "
     "less than 5 % of the skin."),
)

#: How the section names the healing models of ``snapshot.json``.
MODEL_NAMES: dict[str, str] = {
    "front": "a closing front (keratinocytes advance from the viable margin at a set speed)",
    "fisher_kpp": "Fisher–KPP reaction–diffusion (keratinocytes migrate and proliferate)",
}


def _value(metrics: Mapping[str, Any], key: str) -> float | None:
    value = metrics.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _hours(h: float) -> str:
    """``"11 h"``, ``"4.5 h"``, ``"3.2 days"``."""
    if h >= 48.0:
        return f"{h / 24.0:.2g} days"
    return f"{h:.0f} h" if h >= 10.0 else f"{h:.2g} h"


def _g(x: float) -> str:
    """Two significant digits, whole numbers from 10 up: ``0.42``, ``5.4``, ``70``, ``123``."""
    return f"{x:.0f}" if abs(x) >= 10.0 else f"{x:.2g}"


def outcome_sentence(metrics: Mapping[str, Any], healing: Mapping[str, Any]) -> str:
    """The outcome of the healing stage in plain words, from the metrics.

    Args:
        metrics: Contents of ``metrics.json``.
        healing: The ``healing`` entry of ``snapshot.json`` (for the end day).

    Returns:
        Plain text (not yet HTML-escaped); clauses whose metric is missing are left out.
    """
    epidermis: list[str] = []
    reep = _value(metrics, "reepithelialization_h")
    if reep is not None:
        epidermis.append(f"The epidermis closed {_hours(reep)} after the pulse" if reep > 0
                         else "There was no epidermal wound to close")
    shed = _value(metrics, "mend_shed_days")
    pigment = _value(metrics, "pigment_cleared_percent")
    if shed is not None:
        clause = f"the MENDs were shed by day {_g(shed)}"
        if pigment is not None:
            clause += f", carrying {_g(pigment)} % of the epidermal pigment"
        epidermis.append(clause)
    elif pigment is not None:
        epidermis.append(f"{_g(pigment)} % of the epidermal pigment left with the MENDs")
    if epidermis:
        epidermis[0] = epidermis[0][0].upper() + epidermis[0][1:]

    end = _value(healing, "end_days") if isinstance(healing, Mapping) else None
    dermis = []
    new = _value(metrics, "new_collagen_percent")
    if new is not None:
        dermis.append(f"the dermis laid down {_g(new)} % new collagen")
    area = _value(metrics, "late_tightening_area_percent")
    linear = _value(metrics, "late_linear_contraction_percent")
    if area is not None:
        verb = "tightened" if area >= 0 else "expanded"
        clause = f"the patch {verb} {_g(abs(area))} % in area"
        if linear is not None:
            clause += f" ({_g(abs(linear))} % linear)"
        dermis.append(clause)
    if dermis:
        lead = f"by day {end:g} " if end is not None else "by the end day "
        epidermis.append(lead + " and ".join(dermis))
    text = "; ".join(epidermis) + "." if epidermis else ""

    tail = []
    done = _value(metrics, "remodelling_complete_days")
    if done is not None:
        tail.append(f"95 % of the denatured collagen was replaced by day {_g(done)}")
    elif "remodelling_complete_days" in metrics:
        tail.append("the denatured collagen was not yet 95 % replaced at the end day")
    down = _value(metrics, "downtime_days")
    if down is not None:
        tail.append(f"downtime {_g(down)} days")
    if tail:
        tail[0] = tail[0][0].upper() + tail[0][1:]
        text += (" " if text else "") + "; ".join(tail) + "."
    return text


def _metrics_rows(metrics: Mapping[str, Any]) -> str:
    rows = []
    for key, label, unit, definition in HEALING_METRICS:
        if key not in metrics:
            continue
        rows.append(
            f"<tr><td>{_esc(label)}<br><code>{_esc(key)}</code></td>{_num_cell(metrics[key])}"
            f"<td>{_esc(unit)}</td><td>{_esc(definition)}</td></tr>"
        )
    if not rows:
        return ""
    return (
        '<div class="scroll"><table><thead><tr><th>Quantity</th><th>Value</th><th>Unit</th>'
        f"<th>Definition</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _setting_line(healing: Mapping[str, Any]) -> str:
    """``<p class="sub">`` with the model, the end day and the output days."""
    parts = []
    model = healing.get("model")
    if isinstance(model, str) and model:
        parts.append(f"model: {_esc(MODEL_NAMES.get(model, model))}")
    end = _value(healing, "end_days")
    if end is not None:
        parts.append(f"followed to day {end:g} after the pulse")
    days = healing.get("output_days")
    if isinstance(days, list) and days:
        parts.append("fields and the mechanics of the remodelling at days "
                     + ", ".join(_esc(d) for d in days))
    return f'<p class="sub">Healing {"; ".join(parts)}.</p>' if parts else ""


def healing_meta(result_dir: Path) -> dict[str, Any] | None:
    """The ``healing`` entry of ``snapshot.json``, or None (no healing stage)."""
    try:
        meta = json.loads((Path(result_dir) / SNAPSHOT_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    healing = meta.get("healing") if isinstance(meta, dict) else None
    return healing if isinstance(healing, dict) else None


def healing_section(
    result_dir: Path, metrics: Mapping[str, Any] | None, available: set[str]
) -> str:
    """The HTML of the "After the treatment" section, or "" without a healing stage.

    Args:
        result_dir: The results directory.
        metrics: Contents of ``metrics.json`` (None if missing).
        available: File names in ``renders/``.

    Returns:
        The outcome paragraph, the model line, the metrics table with definitions and the
        healing pictures with captions; "" when ``snapshot.json`` has no ``healing`` key.
    """
    healing = healing_meta(result_dir)
    if healing is None:
        return ""
    metrics = metrics or {}
    parts = []
    sentence = outcome_sentence(metrics, healing)
    if sentence:
        parts.append(f'<p class="outcome">{_esc(sentence)}</p>')
    parts.append(_setting_line(healing))
    table = _metrics_rows(metrics)
    parts.append(table or '<p class="missing">No healing metrics in this run.</p>')
    figures = [
        _figure(f"{RENDERS_DIR}/{name}", *CAPTIONS[name])
        for name in HEALING_FIGURE_ORDER
        if name in available
    ]
    if figures:
        parts += figures
    else:
        parts.append(f'<p class="missing">No healing pictures were rendered (is {HEALING_CSV} '
                     "there, and were the pictures made after the run?).</p>")
    return "".join(parts)

"""The figure captions of the pictures made by :mod:`fem.render` and the order the case
report shows them in. The colours named in the captions come from :mod:`fem.render.style`.

Also the words of the study plots: the readable name of a metric or case key with its unit
(:func:`axis_label`, "Column depth (µm)", units from :mod:`fem.post.glossary`) and the title
and caption of a study plot (:func:`study_plot_caption`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from fem.output.names import (
    ANIMATION_GIF,
    COLLAGEN_PNG,
    COVERAGE_PNG,
    DAMAGE_PNG,
    HEALING_CSV,
    HEALING_TIMELINE_PNG,
    HISTOLOGY_PNG,
    ISOSURFACES_PNG,
    MESH_CUT_PNG,
    MESH_TOP_PNG,
    OVERVIEW_PNG,
    PRINCIPAL_1_PNG,
    PRINCIPAL_3_PNG,
    PROBES_PNG,
    SURFACE_PNG,
    TEMPERATURE_END_PNG,
    TEMPERATURE_PEAK_PNG,
    TEMPERATURE_PNG,
    VON_MISES_PNG,
    WOUND_CLOSURE_PNG,
)
from fem.render.healing import (
    BARRIER_COLOR_NAME,
    DENATURED_COLOR_NAME,
    EPIDERMIS_COLOR_NAME,
    FOLLICLE_COLOR_NAME,
    NEW_EPITHELIUM_COLOR_NAME,
    WOUND_COLOR_NAME,
)
from fem.post.calibration import BAND
from fem.post.glossary import is_companion, lookup
from fem.render.style import (
    COLLAGEN_COLOR_NAME,
    CROP_FACTOR,
    ISOSURFACE_COLOR_NAME,
    MARKER_COLOR_NAME,
    NECROSIS_COLOR_NAME,
)
from fem.report.page import format_number, split_unit

logger = logging.getLogger(__name__)


#: Figure captions for the pictures made by :mod:`fem.render`.
CAPTIONS: dict[str, tuple[str, str]] = {
    TEMPERATURE_PNG: (
        "Temperature at the end of the pulse",
        (
            "Vertical cut through the axis of the MTZ column nearest the centre of the domain "
            "(the plane y = const given in the picture), coloured by the temperature at the "
            "end of the laser pulse. Symmetry planes of a quarter cell are unfolded, so the "
            "whole unit cell is shown. Thin grey lines are the interfaces between skin layers; the "
            "skin surface is at z = 0 and depth increases downwards. The view is cropped to the "
            f"top {CROP_FACTOR:g} × column depth of the block and drawn at true aspect ratio."
        ),
    ),
    TEMPERATURE_PEAK_PNG: (
        "Peak temperature",
        (
            "The same cut coloured by the highest temperature each point reached during the run "
            "(not a single instant). All temperature pictures of a case, and the animation, "
            "share one colour scale, so they can be compared directly; in a study, all cases share "
            "it."
        ),
    ),
    TEMPERATURE_END_PNG: (
        "Temperature at the end of the run",
        (
            "The same cut at the last time step: what is left of the heat after the cooling "
            "phase, on the same colour scale as the other temperature pictures."
        ),
    ),
    ANIMATION_GIF: (
        "Temperature during and after the pulse (animation)",
        (
            "The cut through the column axis at about eight instants during the pulse and eight "
            "after it (the time and whether the laser is on are given above the picture), on the "
            "colour scale of the temperature pictures. The steps grow after the pulse, so the "
            "later frames are further apart in time."
        ),
    ),
    HISTOLOGY_PNG: (
        "Histology-like section",
        (
            "The cut drawn like a haematoxylin-and-eosin stained section, to compare with "
            "histology: each layer in its usual stain (purple epidermis, pink dermis with "
            "collagen fibres, pale fat cells) with scattered nuclei. Where the collagen is "
            "denatured the tissue darkens and loses its fibres, with the weight "
            "1 − exp(−Ω<sub>collagen</sub>); where cells died (1 − exp(−Ω<sub>cell</sub>)) it "
            "pales and the nuclei are missing. The texture is a fixed illustrative pattern; only "
            "the damage is computed. The bar in the lower right corner is a length scale."
        ),
    ),
    ISOSURFACES_PNG: (
        "Damage isosurfaces in 3D",
        (
            "The top of the tissue block with every skin layer drawn as a faint see-through "
            f"shell in its colour. The solid {ISOSURFACE_COLOR_NAME} surface is "
            "Ω<sub>collagen</sub> = 1 (the coagulation column), the translucent "
            f"{NECROSIS_COLOR_NAME} surface around it Ω<sub>cell</sub> = 1 (the necrosis zone). "
            "The black bar is a length scale."
        ),
    ),
    PRINCIPAL_1_PNG: (
        "Largest principal stress",
        (
            "The same cut (undeformed) coloured by the largest principal stress σ<sub>1</sub> of "
            "the mechanics solve, per cell: positive (red) is tension, as in the tissue around a "
            "shrinking coagulated column. The colour range is symmetric and shared with the "
            "smallest principal stress."
        ),
    ),
    PRINCIPAL_3_PNG: (
        "Smallest principal stress",
        (
            "The same cut coloured by the smallest principal stress σ<sub>3</sub>: negative (blue) "
            "is compression; same colour range as σ<sub>1</sub>."
        ),
    ),
    SURFACE_PNG: (
        "Skin surface deformation",
        (
            "The skin surface on the deformed shape, the displacement magnified by the factor in "
            "the subtitle and coloured by its vertical component (red up, blue down); the grey "
            "line is the undeformed edge of the surface, the black line the collagen Ω = 1 "
            "contour on the surface. Collagen shrinkage pulls the surface in toward the column."
        ),
    ),
    DAMAGE_PNG: (
        "Thermal damage contours",
        (
            "The same cut, coloured by skin layer (legend). The thick "
            f"{COLLAGEN_COLOR_NAME} line is Ω<sub>collagen</sub> = 1, "
            "the edge of the coagulation column (denatured collagen); the thick "
            f"{NECROSIS_COLOR_NAME} line is "
            "Ω<sub>cell</sub> = 1, the edge of the necrosis zone (cell death). Ω is the Arrhenius "
            "damage integral; both lines are the level log<sub>10</sub> Ω = 0. A note in the "
            "picture title says when a contour is absent (no damage of that kind in view)."
        ),
    ),
    VON_MISES_PNG: (
        "Von Mises stress and deformation",
        (
            "The same cut, coloured by the von Mises stress of the mechanics solve and drawn on "
            "the deformed shape; the displacement is magnified by the factor given in the picture "
            "title so that the contraction around the column is visible. The grey line is the "
            "undeformed outline of the cut."
        ),
    ),
    OVERVIEW_PNG: (
        "3D overview",
        (
            "The top of the tissue block with one quadrant cut away (its corner on the axis of "
            "the cut column, coordinates in the picture title), faces "
            f"coloured by skin layer; the {ISOSURFACE_COLOR_NAME} "
            "surface is the collagen Ω = 1 isosurface, i.e. the coagulation column."
        ),
    ),
    COVERAGE_PNG: (
        "Treated columns seen from above",
        (
            "The skin surface of the whole domain seen from above, coloured by "
            "log<sub>10</sub> Ω<sub>collagen</sub> (scalar bar); the "
            f"{COLLAGEN_COLOR_NAME} line is Ω<sub>collagen</sub> = 1, the edge of the coagulated "
            f"spots, and the {MARKER_COLOR_NAME} crosses mark the column centres. Only for "
            "patterns of several columns."
        ),
    ),
    MESH_CUT_PNG: (
        "Mesh: vertical cut",
        (
            "The tetrahedral mesh cut through a column axis: cells coloured by skin layer, the "
            "refined column region in a darker shade, cell edges drawn. The subtitle gives the "
            "number of cells and the minimum and mean cell quality; the quality per region is "
            "listed under the legend."
        ),
    ),
    MESH_TOP_PNG: (
        "Mesh: top view",
        (
            "The mesh on the skin surface seen from above, coloured like the cut; the "
            f"{MARKER_COLOR_NAME} circles are the column footprints (column radius)."
        ),
    ),
    PROBES_PNG: (
        "Probe histories",
        (
            "Temperature (left) and, where recorded, the damage integrals Ω (right, logarithmic; "
            "solid: collagen, dashed: cell) against time at the probe points. The dotted vertical "
            "line marks the end of the laser pulse."
        ),
    ),
    WOUND_CLOSURE_PNG: (
        "The epidermal wound closing",
        (
            "The basal plane of the epidermis seen from above at the times in the panel titles "
            f"(after the pulse). {WOUND_COLOR_NAME.capitalize()}: the open wound, where the "
            "necrotic epidermis has not yet been undermined by keratinocytes migrating in from "
            f"the viable margin; {NEW_EPITHELIUM_COLOR_NAME}: the new epithelium that has "
            f"covered the wound so far; {EPIDERMIS_COLOR_NAME}: the intact epidermis. "
            f"{FOLLICLE_COLOR_NAME.capitalize()} outlines are hair-follicle islands (full-field "
            f"layouts), {BARRIER_COLOR_NAME} dashed outlines the craters where the ablation "
            "opened the barrier. Each title gives the share of the initial defect still open. "
            "Axes in micrometres, true aspect ratio."
        ),
    ),
    COLLAGEN_PNG: (
        "Collagen remodelling in the dermis",
        (
            "The vertical cut through the axis of the central column (as the cuts above), one "
            "panel per output day, coloured by the new collagen (type III + type I) as a "
            "fraction of the native collagen, on one colour scale for all days. Thin grey "
            f"lines are the layer interfaces; the solid {DENATURED_COLOR_NAME} line is where "
            "the denatured collagen of that day is 0.5 (the part of the coagulated column not "
            "yet cleared and replaced), the dashed grey line the edge of the coagulated column "
            "just after the pulse (Ω<sub>collagen</sub> = 1)."
        ),
    ),
    HEALING_TIMELINE_PNG: (
        "The course of the healing",
        (
            f"The healing stage ({HEALING_CSV}) against the time after the pulse on a "
            "logarithmic axis, minutes to months. Top: the share of the skin with an open "
            "epidermal defect and with debris (MENDs) at the surface, and the depth of the "
            "deepest MEND below the surface (dashed, right axis). Middle: the activated "
            "fibroblasts, the new collagen III and I and the denatured collagen, in per cent. "
            "Bottom, where the mechanics of the remodelling was solved: the late tightening of "
            "the patch (area and linear) at those days. Dotted vertical lines mark the closure "
            "of the epidermis, the shedding of the last MEND, the downtime and 95 % "
            "remodelling (table above)."
        ),
    ),
}

#: The pictures of the healing stage, in the order of the report's "After the treatment".
HEALING_FIGURE_ORDER: tuple[str, ...] = (
    WOUND_CLOSURE_PNG,
    COLLAGEN_PNG,
    HEALING_TIMELINE_PNG,
)

#: Pictures in the order of the report (those present).
FIGURE_ORDER: tuple[str, ...] = (
    TEMPERATURE_PNG,
    TEMPERATURE_PEAK_PNG,
    TEMPERATURE_END_PNG,
    ANIMATION_GIF,
    DAMAGE_PNG,
    HISTOLOGY_PNG,
    ISOSURFACES_PNG,
    VON_MISES_PNG,
    PRINCIPAL_1_PNG,
    PRINCIPAL_3_PNG,
    SURFACE_PNG,
    OVERVIEW_PNG,
    COVERAGE_PNG,
    MESH_CUT_PNG,
    MESH_TOP_PNG,
)


#: Readable names of the metrics whose key name reads badly ("MTZ depth"); the others are
#: named from their key (:func:`fem.report.page.split_unit`). Units come from the glossary.
METRIC_NAMES: dict[str, str] = {
    "mtz_depth_um": "Column depth",
    "mtz_width_um": "Column width",
    "cem43_depth_um": "Thermal-dose depth",
    "cem43_width_um": "Thermal-dose width",
    "coverage_percent": "Surface coverage",
    "max_epidermal_gap_um": "Largest epidermal gap",
    "tightening_area_percent": "Area tightening (warm)",
    "linear_contraction_percent": "Linear contraction (warm)",
    "cooled_tightening_area_percent": "Lasting area tightening",
    "cooled_linear_contraction_percent": "Lasting linear contraction",
    "max_von_mises_kPa": "Largest von Mises stress",
    "cooled_max_von_mises_kPa": "Largest von Mises stress, cooled",
    "reepithelialization_h": "Re-epithelialisation time",
    "mend_shed_days": "MENDs shed",
    "late_tightening_area_percent": "Late area tightening",
    "late_linear_contraction_percent": "Late linear contraction",
    "heat_cg_iterations": "Heat CG iterations",
    "mechanics_cg_iterations": "Mechanics solver iterations",
    "mechanics_dofs": "Mechanics DOFs",
    "ranks": "MPI ranks",
    "light_photons": "Photon packets",
    "light_seconds": "Light-model time",
}


def lower_first(text: str) -> str:
    """``text`` with its first letter in lower case, unless the first word is an acronym
    ("Column depth" -> "column depth", "MEND width" stays)."""
    word = text.split(" ", 1)[0]
    if len(word) > 1 and word[1].isupper():
        return text
    return text[:1].lower() + text[1:]


def axis_label(key: str, unit: bool = True) -> str:
    """The readable name of a metric or a dotted case key, with its unit in brackets.

    ``mtz_depth_um`` -> "Column depth (µm)", ``laser.energy_mJ`` -> "Laser energy (mJ)",
    ``mtz_depth_um_max`` -> "Column depth, largest (µm)", ``energy_balance_error`` -> "Energy
    balance error" (no unit). A metric's unit is that of :func:`fem.post.glossary.lookup`, a
    case key's that of its name (:func:`fem.report.page.split_unit`).

    Args:
        key: the metric or dotted case key.
        unit: append the unit.
    """
    section, _, name = str(key).rpartition(".")
    extreme = ""
    if is_companion(name):
        name, extreme = name[:-4], {"_min": ", smallest", "_max": ", largest"}[name[-4:]]
    entry = lookup(name) if not section else None
    label, key_unit = split_unit(name)
    label = METRIC_NAMES.get(name, label) if entry is not None else label
    if section:
        owner = section.rpartition(".")[2].replace("_", " ")
        label = f"{owner[:1].upper()}{owner[1:]} {lower_first(label)}"
    text = label + extreme
    unit_text = entry.unit if entry is not None else key_unit
    return f"{text} ({unit_text})" if unit and unit_text else text


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def study_plot_caption(x_key: str, shown: Iterable[str], others: Iterable[str] = (),
                       constant: Mapping[str, object] | None = None,
                       bookkeeping: Iterable[str] = ()) -> tuple[str, str]:
    """Title and caption of a study plot (:func:`fem.render.study_plots.plot_study`).

    Args:
        x_key: its x axis, a swept key or a metric.
        shown: the metrics with a panel, in panel order.
        others: the other swept keys (one line per combination of their values).
        constant: metrics left out as the same in every case, with that value.
        bookkeeping: metrics left out as counts of the computation (wall time, DOFs, ...).

    Returns:
        ``(title, caption)``: "Column depth against laser energy (mJ)" and an HTML caption.
    """
    shown, others, bookkeeping = list(shown), list(others), list(bookkeeping)
    x = lower_first(axis_label(x_key))
    names = [axis_label(m, unit=False) for m in shown] or ["Metrics"]
    head = names if len(names) <= 3 else names[:2] + [f"{len(names) - 2} more metrics"]
    title = f"{_and([head[0]] + [lower_first(n) for n in head[1:]])} against {x}"
    parts = [f"One panel per metric: {_and([lower_first(axis_label(m)) for m in shown])}; "
             "one point per finished case" if shown else "No metric varies across the cases"]
    if others:
        parts[0] += "; one line per value of " + _and([lower_first(axis_label(k, unit=False))
                                                        for k in others])
    parts[0] += "."
    if constant:
        same = [f"{lower_first(axis_label(m, unit=False))} "
                f"({format_number(v)}{' ' + u if (u := _unit(m)) else ''})"
                for m, v in constant.items()]
        parts.append(f"The same in every case, so not drawn: {_and(same)}.")
    if bookkeeping:
        parts.append("Not drawn, as counts of the computation rather than results: "
                     f"{_and([lower_first(axis_label(m, unit=False)) for m in bookkeeping])}.")
    return title, " ".join(parts)


def _unit(metric: str) -> str:
    label = axis_label(metric)
    return label[label.rfind("(") + 1:-1] if label.endswith(")") else ""


#: Title and caption of the study's calibration plot (:func:`fem.post.calibration.plot`).
CALIBRATION_CAPTION: tuple[str, str] = (
    "Simulated columns against histology",
    "Simulated column sizes (solid line: the coagulated collagen column; dashed: the necrotic "
    "column, for reference) against the published histology of the calibration chart (black "
    f"markers) at the study's wavelengths. The shaded band is {100 * BAND[0]:g} to "
    f"{100 * BAND[1]:g} % "
    "above each chart value, where a simulation agrees: excised tissue shrinks in fixation. "
    "The verdicts are in the table at the top of this page.",
)

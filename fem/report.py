"""Self-contained HTML reports of a finished run and of a parameter study.

The pages use inline CSS only and reference the pictures by relative paths
(``renders/*.png``), so they open in a plain browser without network access
and keep working when the results directory is moved or archived.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import logging
import math
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from fem.render import (
    ANIMATION_GIF,
    COLLAGEN_COLOR_NAME,
    COVERAGE_PNG,
    CROP_FACTOR,
    DAMAGE_PNG,
    HISTOLOGY_PNG,
    ISOSURFACE_COLOR_NAME,
    ISOSURFACES_PNG,
    MARKER_COLOR_NAME,
    MESH_CUT_PNG,
    MESH_TOP_PNG,
    NECROSIS_COLOR_NAME,
    OVERVIEW_PNG,
    PRINCIPAL_1_PNG,
    PRINCIPAL_3_PNG,
    PROBES_PNG,
    RENDERS_DIR,
    SURFACE_PNG,
    TEMPERATURE_END_PNG,
    TEMPERATURE_PEAK_PNG,
    TEMPERATURE_PNG,
    VIEW3D_HTML,
    VON_MISES_PNG,
)

logger = logging.getLogger(__name__)

REPORT_NAME = "report.html"

#: Key suffix -> unit, longest suffixes first so that ``_ms`` wins over ``_s``.
UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_J_per_cm2", "J/cm²"),
    ("_kg_per_m3", "kg/m³"),
    ("_J_per_kgK", "J/(kg·K)"),
    ("_W_per_m2K", "W/(m²·K)"),
    ("_W_per_mK", "W/(m·K)"),
    ("_W_per_kg", "W/kg"),
    ("_per_cm2", "cm⁻²"),
    ("_per_cm", "cm⁻¹"),
    ("_per_K", "K⁻¹"),
    ("_per_s", "s⁻¹"),
    ("_percent", "%"),
    ("_deg", "°"),
    ("_nm", "nm"),
    ("_um3", "µm³"),
    ("_um2", "µm²"),
    ("_mm2", "mm²"),
    ("_kPa", "kPa"),
    ("_MPa", "MPa"),
    ("_Pa", "Pa"),
    ("_um", "µm"),
    ("_mm", "mm"),
    ("_ms", "ms"),
    ("_mJ", "mJ"),
    ("_mW", "mW"),
    ("_J", "J"),
    ("_W", "W"),
    ("_C", "°C"),
    ("_K", "K"),
    ("_s", "s"),
)

#: Metrics shown in the headline table, in this order (those present).
HEADLINE_KEYS: tuple[str, ...] = (
    "mtz_depth_um",
    "mtz_width_um",
    "necrosis_depth_um",
    "necrosis_width_um",
    "mend_width_um",
    "ablation_depth_um",
    "peak_temperature_C",
    "coverage_percent",
    "spared_volume_percent",
    "linear_contraction_percent",
    "tightening_area_percent",
    "max_von_mises_kPa",
    "energy_balance_error",
    "source_energy_error",
    "dofs",
    "ranks",
    "wall_time_s",
)

_WORDS = {
    "mtz": "MTZ",
    "dofs": "DOFs",
    "mend": "MEND",
    "mises": "Mises",
    "von": "von",
    "rms": "RMS",
    "max": "max",
}

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")

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
}

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
       margin: 0 auto; max-width: 1250px; padding: 1em 2em 3em; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { font-size: 1.3em; border-bottom: 2px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
.sub { color: #666; font-size: 0.9em; margin-top: 0; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.93em; }
th, td { border: 1px solid #d5d5d5; padding: 0.3em 0.7em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
tr:nth-child(even) td { background: #fafafa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.headline td.num { font-size: 1.15em; font-weight: 600; }
code { font-size: 0.88em; color: #555; }
figure { margin: 1.2em 0 2em; }
figure img { max-width: min(100%, 1100px); border: 1px solid #ddd; }
figcaption { max-width: 1000px; color: #333; font-size: 0.93em; margin-top: 0.4em; }
figcaption b { color: #000; }
pre { background: #f6f8fa; border: 1px solid #ddd; padding: 0.8em; overflow-x: auto;
      font-size: 0.85em; line-height: 1.35; }
.missing { color: #a33; font-style: italic; }
nav a { margin-right: 1em; }
.scroll { overflow-x: auto; }
.figs { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr));
        gap: 0 1.5em; }
.figs figure { margin: 0.8em 0 1.2em; }
.figs figure img { width: 100%; }
iframe.view3d { width: 100%; max-width: 1100px; height: 640px; border: 1px solid #ddd; }
.row { display: flex; flex-wrap: wrap; gap: 0.8em; }
figure.thumb { margin: 0.3em 0; width: 300px; }
figure.thumb img { width: 300px; }
figure.thumb figcaption { text-align: center; }
"""


# --------------------------------------------------------------------------- formatting


def split_unit(key: str) -> tuple[str, str]:
    """Split a metric key into a readable label and its unit.

    Args:
        key: A metric name whose suffix gives the unit, e.g. ``mtz_depth_um``.

    Returns:
        ``(label, unit)``, e.g. ``("MTZ depth", "µm")``; the unit is ``""``
        for dimensionless keys.
    """
    unit = ""
    stem = key
    for suffix, name in UNIT_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            stem, unit = key[: -len(suffix)], name
            break
    words = [_WORDS.get(w.lower(), w) for w in stem.split("_") if w]
    label = " ".join(words)
    if label and label[0].islower() and not label.startswith("von"):
        label = label[0].upper() + label[1:]
    return label or key, unit


def format_number(value: Any) -> str:
    """Format a metric value with 4 significant digits (integers as they are).

    Args:
        value: A number (or anything else, shown as text).

    Returns:
        Plain text (not yet HTML-escaped), with exponents written as
        ``× 10⁻⁵``.
    """
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        text = f"{value:.4g}"
        if "e" in text:
            mant, _, exp = text.partition("e")
            return f"{mant} × 10{str(int(exp)).translate(_SUPERSCRIPT)}"
        return text
    if isinstance(value, (list, tuple)):
        return ", ".join(format_number(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num_cell(value: Any) -> str:
    cls = ' class="num"' if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
    return f"<td{cls}>{_esc(format_number(value))}</td>"


def _metrics_table(metrics: Mapping[str, Any], keys: Iterable[str], css: str = "") -> str:
    rows = []
    for key in keys:
        label, unit = split_unit(key)
        rows.append(
            f"<tr><td>{_esc(label)}<br><code>{_esc(key)}</code></td>"
            f"{_num_cell(metrics[key])}<td>{_esc(unit)}</td></tr>"
        )
    cls = f' class="{css}"' if css else ""
    return (
        f"<table{cls}><thead><tr><th>Quantity</th><th>Value</th><th>Unit</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _kv_table(items: Mapping[str, Any], head: tuple[str, str] = ("Key", "Value")) -> str:
    rows = []
    for key, value in items.items():
        cell = f"<td>{_kv_table(value)}</td>" if isinstance(value, Mapping) else _num_cell(value)
        rows.append(f"<tr><td>{_esc(key)}</td>{cell}</tr>")
    return (
        f"<table><thead><tr><th>{_esc(head[0])}</th><th>{_esc(head[1])}</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _figure(src: str, title: str, caption: str) -> str:
    return (
        f'<figure><a href="{_esc(src)}"><img src="{_esc(src)}" alt="{_esc(title)}"></a>'
        f"<figcaption><b>{_esc(title)}.</b> {caption}</figcaption></figure>"
    )


def _page(title: str, subtitle: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f'<h1>{_esc(title)}</h1>\n<p class="sub">{subtitle}</p>\n{body}\n</body>\n</html>\n'
    )


def _atomic_write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` via ``path.tmp`` and :func:`os.replace`."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    logger.info("wrote %s", path)
    return path


def _now() -> str:
    return _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")


# --------------------------------------------------------------------------- inputs


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        logger.warning("no %s", path)
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        logger.warning("could not parse %s", path, exc_info=True)
        return None
    if not isinstance(data, dict):
        logger.warning("%s is not a JSON object", path)
        return None
    return data


def _case_title(case_text: str) -> str | None:
    """The top-level ``title`` of the case file, if any."""
    try:
        title = tomllib.loads(case_text).get("title")
        if isinstance(title, str) and title.strip():
            return title.strip()
    except tomllib.TOMLDecodeError:
        pass
    match = re.search(r'^\s*title\s*=\s*"([^"]*)"', case_text, flags=re.MULTILINE)
    return match.group(1).strip() if match and match.group(1).strip() else None


def _run_title(result_dir: Path, case_text: str | None) -> str:
    meta = _read_json_quiet(result_dir / "fields" / "snapshot.json")
    if meta and isinstance(meta.get("title"), str) and meta["title"].strip():
        return meta["title"].strip()
    if case_text:
        title = _case_title(case_text)
        if title:
            return title
    return result_dir.resolve().name or str(result_dir)


def _read_json_quiet(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# --------------------------------------------------------------------------- sections

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


def _setting_rows(table: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``(dotted key, value)`` of a TOML table, nested tables flattened."""
    rows: list[tuple[str, Any]] = []
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            rows += _setting_rows(value, name + ".")
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            for i, item in enumerate(value):
                rows += _setting_rows(item, f"{name}[{i}].")
        else:
            rows.append((name, value))
    return rows


def _layers_table(layers: Mapping[str, Any]) -> str:
    """The skin layers as one table: a row per layer, a column per property, units in the head."""
    names = [n for n, v in layers.items() if isinstance(v, Mapping)]
    keys: list[str] = []
    for n in names:
        keys += [k for k in layers[n] if k not in keys and not isinstance(layers[n][k], Mapping)]
    head = "".join(
        f"<th>{_esc(split_unit(k)[0])}<br><span class=\"sub\">{_esc(split_unit(k)[1] or '–')}"
        "</span></th>"
        for k in keys
    )
    rows = "".join(
        f"<tr><td>{_esc(n.replace('_', ' '))}</td>"
        + "".join(_num_cell(layers[n][k]) if k in layers[n] else "<td></td>" for k in keys)
        + "</tr>"
        for n in names
    )
    return (
        f'<div class="scroll"><table><thead><tr><th>Layer (top to bottom)</th>{head}</tr>'
        f"</thead><tbody>{rows}</tbody></table></div>"
    )


#: The settings that name a treatment, for the line above the key results: (section, key).
TREATMENT_KEYS: tuple[tuple[str, str], ...] = (
    ("laser", "preset"),
    ("laser", "wavelength_nm"),
    ("laser", "energy_mJ"),
    ("laser", "spot_um"),
    ("laser", "pulse_ms"),
    ("pattern", "layout"),
    ("pattern", "density_per_cm2"),
    ("crater", "shape"),
    ("skin", "preset"),
    ("cooling", "mode"),
)


def _treatment_line(case_text: str | None) -> str:
    """``<p>`` with the laser, pattern and skin of the case (those given), or ""."""
    try:
        case = tomllib.loads(case_text or "")
    except tomllib.TOMLDecodeError:
        return ""
    parts = []
    for section, key in TREATMENT_KEYS:
        table = case.get(section)
        if not isinstance(table, Mapping) or key not in table:
            continue
        label, unit = split_unit(key)
        value = format_number(table[key]) + (f" {unit}" if unit else "")
        parts.append(f"{_esc(section)} {_esc(label.lower())} <b>{_esc(value)}</b>")
    return f'<p class="treatment">Treatment: {" · ".join(parts)}</p>' if parts else ""


def _settings_section(case_text: str | None) -> str:
    """The resolved settings of ``case.toml`` as tables with units: one per section, and the layers.

    Returns:
        HTML, or "" if there is no readable case file.
    """
    if not case_text:
        return ""
    try:
        case = tomllib.loads(case_text)
    except tomllib.TOMLDecodeError:
        logger.warning("case.toml is not valid TOML: no settings table")
        return ""
    parts = []
    top = {k: v for k, v in case.items() if not isinstance(v, Mapping)}
    sections = {k: v for k, v in case.items() if isinstance(v, Mapping)}
    layers = None
    skin = sections.get("skin")
    if isinstance(skin, Mapping) and isinstance(skin.get("layers"), Mapping):
        layers = skin["layers"]
        sections["skin"] = {k: v for k, v in skin.items() if k != "layers"}
    rows = []
    for section, table in [("", top), *sections.items()]:
        for key, value in _setting_rows(table):
            label, unit = split_unit(key.rpartition(".")[2])
            rows.append(
                f"<tr><td>{_esc(section)}</td><td><code>{_esc(key)}</code></td>"
                f"<td>{_esc(label)}</td>{_num_cell(value)}<td>{_esc(unit)}</td></tr>"
            )
    if rows:
        parts.append(
            "<p>Every value the run used, presets expanded (from <code>case.toml</code>); the "
            "unit is part of the key name.</p>"
            '<div class="scroll"><table><thead><tr><th>Section</th><th>Key</th><th>Quantity</th>'
            f"<th>Value</th><th>Unit</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        )
    if layers:
        parts.append("<h3>Skin layers</h3>" + _layers_table(layers))
    return "".join(parts)


def _provenance_section(prov: Mapping[str, Any]) -> str:
    parts = []
    scalars = {k: v for k, v in prov.items() if not isinstance(v, (Mapping, list))}
    if scalars:
        parts.append(_kv_table(scalars, ("Item", "Value")))
    versions = prov.get("versions")
    if isinstance(versions, Mapping) and versions:
        parts.append("<h3>Versions</h3>" + _kv_table(versions, ("Package", "Version")))
    phases = prov.get("phases_s")
    if isinstance(phases, Mapping) and phases:
        total = prov.get("total", prov.get("total_s"))
        if not isinstance(total, (int, float)) or isinstance(total, bool) or total <= 0:
            nums = [v for v in phases.values() if isinstance(v, (int, float))]
            total = sum(nums) if nums else None
        rows = []
        for name, secs in phases.items():
            share = ""
            if isinstance(secs, (int, float)) and total:
                share = f"{100.0 * secs / total:.1f}"
            rows.append(
                f'<tr><td>{_esc(name)}</td>{_num_cell(secs)}<td class="num">{share}</td></tr>'
            )
        if total:
            rows.append(
                f'<tr><th>total</th><td class="num"><b>{_esc(format_number(total))}</b></td>'
                '<td class="num">100</td></tr>'
            )
        parts.append(
            "<h3>Phase wall times</h3><table><thead><tr><th>Phase</th><th>Wall time (s)</th>"
            f"<th>Share (%)</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
    others = {
        k: v
        for k, v in prov.items()
        if isinstance(v, (Mapping, list)) and k not in ("versions", "phases_s")
    }
    for key, value in others.items():
        if isinstance(value, Mapping):
            parts.append(f"<h3>{_esc(key)}</h3>" + _kv_table(value))
        else:
            text = json.dumps(value, indent=2, sort_keys=True, default=str)
            parts.append(f"<h3>{_esc(key)}</h3><pre>{_esc(text)}</pre>")
    return "".join(parts)


def write_report(result_dir: Path) -> Path:
    """Write ``result_dir/report.html`` for a finished run.

    The page holds the headline metrics, the pictures in ``renders/`` (made by
    :func:`fem.render.render_all`, which should run first) with captions, the
    full metrics table, the provenance and the resolved case file. Missing
    inputs are noted on the page and logged; they never raise.

    Args:
        result_dir: The results directory written by the solver.

    Returns:
        Path of the written report.
    """
    result_dir = Path(result_dir)
    case_path = result_dir / "case.toml"
    case_text: str | None = None
    if case_path.is_file():
        try:
            case_text = case_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            logger.warning("could not read %s", case_path)
    else:
        logger.warning("no %s", case_path)
    title = _run_title(result_dir, case_text)
    metrics = _read_json(result_dir / "metrics.json")
    prov = _read_json(result_dir / "provenance.json")

    renders = result_dir / RENDERS_DIR
    available = (
        {p.name for p in renders.iterdir() if p.suffix in (".png", ".gif", ".html")}
        if renders.is_dir()
        else set()
    )

    sections: list[tuple[str, str, str]] = []  # (anchor, heading, html)

    # Headline metrics, with the treatment setting in one line above them.
    if metrics:
        keys = [k for k in HEADLINE_KEYS if k in metrics]
        if keys:
            sections.append(
                (
                    "summary",
                    "Key results",
                    _treatment_line(case_text) + _metrics_table(metrics, keys, css="headline"),
                )
            )
    else:
        sections.append(
            ("summary", "Key results", '<p class="missing">No metrics.json in this run.</p>')
        )

    # Field pictures.
    figures = [
        _figure(f"{RENDERS_DIR}/{name}", *CAPTIONS[name])
        for name in FIGURE_ORDER
        if name in available
    ]
    extra = sorted(n for n in available - set(CAPTIONS) if not n.endswith(".html"))
    figures += [
        _figure(f"{RENDERS_DIR}/{name}", Path(name).stem.replace("_", " ").capitalize(), "")
        for name in extra
    ]
    sections.append(
        (
            "fields",
            "Fields",
            (f'<div class="figs">{"".join(figures)}</div>' if figures else
             '<p class="missing">No field pictures were rendered.</p>'),
        )
    )

    # Interactive 3D view.
    if VIEW3D_HTML in available:
        src = f"{RENDERS_DIR}/{VIEW3D_HTML}"
        sections.append(
            (
                "view3d",
                "Interactive 3D view",
                (
                    f'<iframe class="view3d" src="{src}" title="Interactive 3D view"></iframe>'
                    f'<p class="sub">Drag to rotate, scroll to zoom, double click to reset '
                    f'(<a href="{src}">open on its own page</a>). The solid '
                    f"{ISOSURFACE_COLOR_NAME} surface is Ω<sub>collagen</sub> = 1, the "
                    f"translucent {NECROSIS_COLOR_NAME} one Ω<sub>cell</sub> = 1, in the top of "
                    "the block with the layer interfaces; the page is self-contained (no "
                    "network).</p>"
                ),
            )
        )

    # Full metrics.
    if metrics:
        sections.append(("metrics", "All metrics", _metrics_table(metrics, list(metrics))))

    # Probes.
    if PROBES_PNG in available:
        body = _figure(f"{RENDERS_DIR}/{PROBES_PNG}", *CAPTIONS[PROBES_PNG])
    else:
        body = '<p class="missing">No probe histories (probes.csv missing or empty).</p>'
    sections.append(("probes", "Probes", body))

    # Settings.
    settings = _settings_section(case_text)
    if settings:
        sections.append(("settings", "Settings", settings))

    # Provenance.
    if prov:
        body = _provenance_section(prov)
    else:
        body = '<p class="missing">No provenance.json in this run.</p>'
    sections.append(("provenance", "Provenance", body))

    # Case file.
    if case_text is not None:
        body = (
            "<p>The file as written by the run; <code>mtz run case.toml</code> in this directory "
            f"reruns it.</p><pre>{_esc(case_text)}</pre>"
        )
    else:
        body = '<p class="missing">No case.toml in this run.</p>'
    sections.append(("case", "Resolved case (case.toml)", body))

    nav = "<nav>" + "".join(f'<a href="#{a}">{_esc(h)}</a>' for a, h, _ in sections) + "</nav>"
    body = nav + "".join(f'<h2 id="{a}">{_esc(h)}</h2>\n{b}\n' for a, h, b in sections)
    subtitle = (
        f"MTZ-FEM results <code>{_esc(result_dir.resolve().name)}</code> · report written {_now()}"
    )
    return _atomic_write(result_dir / REPORT_NAME, _page(title, subtitle, body))


def _case_link(study_dir: Path, value: Any) -> str | None:
    """A relative link to a case's report if ``value`` names a results directory."""
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        return None
    try:
        candidate = Path(value)
        if not candidate.is_absolute():
            candidate = study_dir / candidate
        report = candidate / REPORT_NAME
        if report.is_file():
            return Path(os.path.relpath(report, study_dir)).as_posix()
    except (OSError, ValueError):
        return None
    return None


#: Pictures shown side by side for every case of a study (those present).
SIDE_BY_SIDE: tuple[str, ...] = (
    TEMPERATURE_PEAK_PNG,
    DAMAGE_PNG,
    HISTOLOGY_PNG,
    ISOSURFACES_PNG,
    SURFACE_PNG,
    COVERAGE_PNG,
)


def _row_case_dir(study_dir: Path, row: Mapping[str, Any]) -> Path | None:
    """The results directory of a study row: the first value naming a directory with a report."""
    for value in row.values():
        link = _case_link(study_dir, value)
        if link is not None:
            return (study_dir / link).parent
    return None


def _side_by_side(study_dir: Path, cases: list[tuple[str, Path]]) -> str:
    """A row of thumbnails per picture, one per case, each linking to the case's report."""
    parts = []
    for name in SIDE_BY_SIDE:
        cells = []
        for label, case_dir in cases:
            picture = case_dir / RENDERS_DIR / name
            if not picture.is_file():
                continue
            src = Path(os.path.relpath(picture, study_dir)).as_posix()
            report = Path(os.path.relpath(case_dir / REPORT_NAME, study_dir)).as_posix()
            cells.append(
                f'<figure class="thumb"><a href="{_esc(report)}"><img src="{_esc(src)}" '
                f'alt="{_esc(label)}: {_esc(CAPTIONS[name][0])}"></a>'
                f"<figcaption>{_esc(label)}</figcaption></figure>"
            )
        if cells:
            heading = f"<h3>{_esc(CAPTIONS[name][0])}</h3>"
            parts.append(f'{heading}<div class="row">{"".join(cells)}</div>')
    return "".join(parts)


def write_study_report(
    study_dir: Path,
    rows: list[dict],
    plots: list[Path],
    common_view: bool = True,
) -> Path:
    """Write ``study_dir/report.html`` summarising a parameter study.

    Args:
        study_dir: The study's output directory.
        rows: One dict per case; the union of their keys (in order of first
            appearance) gives the table columns. Values naming a case
            directory that holds a ``report.html`` become links to it.
        plots: Pictures to show below the table (referenced relative to
            ``study_dir``).
        common_view: Draw the pictures of every case again with one camera,
            crop and colour ranges (:func:`fem.render.render_study`) and
            rewrite their reports, so that they compare side by side.

    Returns:
        Path of the written report.
    """
    study_dir = Path(study_dir)
    study_dir.mkdir(parents=True, exist_ok=True)
    cases: list[tuple[str, Path]] = []
    for i, row in enumerate(rows):
        case_dir = _row_case_dir(study_dir, row)
        if case_dir is not None:
            cases.append((str(row.get("case", case_dir.name or f"case {i}")), case_dir))
    if common_view and len(cases) > 1:
        try:
            from fem.render import render_study

            render_study([d for _, d in cases])
            for _, case_dir in cases:
                write_report(case_dir)
        except Exception:  # the study report is written anyway
            logger.exception("could not draw the cases with a common view")
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(str(key))

    head = []
    for key in columns:
        _, unit = split_unit(key)
        unit_html = f'<br><span class="sub">{_esc(unit)}</span>' if unit else ""
        head.append(f"<th>{_esc(key)}{unit_html}</th>")
    body_rows = []
    for row in rows:
        cells = []
        for key in columns:
            value = row.get(key)
            link = _case_link(study_dir, value)
            if link is not None:
                cells.append(f'<td><a href="{_esc(link)}">{_esc(format_number(value))}</a></td>')
            else:
                cells.append(_num_cell(value) if key in row else "<td></td>")
        body_rows.append(f"<tr>{''.join(cells)}</tr>")
    if rows:
        table = (
            f'<div class="scroll"><table><thead><tr>{"".join(head)}</tr></thead>'
            f"<tbody>{''.join(body_rows)}</tbody></table></div>"
        )
    else:
        table = '<p class="missing">No cases.</p>'

    figures = []
    for plot in plots:
        plot = Path(plot)
        if not plot.is_absolute() and not plot.exists():
            plot = study_dir / plot
        if not plot.is_file():
            logger.warning("study plot %s does not exist: left out of the report", plot)
            continue
        try:
            src = Path(os.path.relpath(plot, study_dir)).as_posix()
        except ValueError:  # different drive on Windows
            src = plot.resolve().as_uri()
        figures.append(_figure(src, plot.stem.replace("_", " ").capitalize(), ""))

    body = (
        f"<h2>Cases ({len(rows)})</h2>\n<p>Links open the report of each case.</p>{table}\n"
        "<h2>Plots</h2>\n" + ("".join(figures) or '<p class="missing">No plots.</p>')
    )
    side = _side_by_side(study_dir, cases)
    if side:
        same = "the same camera, crop and colour scales" if common_view else "its own view"
        body += (
            f"<h2>Cases side by side</h2>\n<p>Each case drawn with {same}; click a picture "
            f"for the case's report.</p>{side}"
        )
    described = _read_json_quiet(study_dir / "study.json") or {}
    study = described.get("study") if isinstance(described.get("study"), Mapping) else {}
    name = study.get("title") if isinstance(study.get("title"), str) else None
    title = f"Study: {name or study_dir.resolve().name}"
    subtitle = (
        f"MTZ-FEM parameter study <code>{_esc(study_dir.resolve().name)}</code>"
        f" · report written {_now()}"
    )
    sweep = study.get("sweep")
    if isinstance(sweep, Mapping) and sweep:
        swept = "; ".join(f"{_esc(k)} = {_esc(format_number(v))}" for k, v in sweep.items())
        mode = _esc(study.get("mode", "grid"))
        base = _esc(study.get("base", ""))
        body = f"<p>Sweep ({mode}): {swept}; base case <code>{base}</code>.</p>" + body
    return _atomic_write(study_dir / REPORT_NAME, _page(title, subtitle, body))

"""The report of one case (:func:`write_report`). It opens with the answer: one plain sentence
of what the pulse does (:func:`summary_sentence`, from ``metrics.json`` and ``case.toml``), the
verdict against the calibration chart where the case is at a chart row
(:func:`fem.post.calibration.judge_case`, :func:`verdict_table`), then the run's warnings (a
box, from ``metrics.json``, :mod:`fem.post.sanity`). Below: key results, the pictures with
their captions, the interactive 3D view, all metrics (each name with its glossary definition
as a tooltip), probes, the healing stage ("After the treatment", :mod:`fem.report.healing`),
the resolved settings, the provenance and the case file.
"""

from __future__ import annotations

import json
import logging
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from fem.output.names import (
    CASE_TOML,
    METRICS_JSON,
    PROBES_CSV,
    PROBES_PNG,
    PROVENANCE_JSON,
    RENDERS_DIR,
    REPORT_HTML,
    SNAPSHOT_JSON,
    VIEW3D_HTML,
)
from fem.post.calibration import BAND, TOLERANCE, judge_case, pulse_of
from fem.render.style import ISOSURFACE_COLOR_NAME, NECROSIS_COLOR_NAME
from fem.report.captions import CAPTIONS, FIGURE_ORDER
from fem.report.healing import _g, _hours, _value, healing_section
from fem.report.page import (
    _esc,
    _figure,
    _kv_table,
    _metrics_table,
    _now,
    _num_cell,
    _page,
    _write_page,
    format_number,
    split_unit,
    warning_list,
    warnings_box,
)

logger = logging.getLogger(__name__)


#: The key of ``metrics.json`` that lists the run's warnings (fem.post.sanity), shown in a
#: box at the top of the page rather than in the tables.
WARNINGS_KEY = "warnings"

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
    "specular_reflectance",
    "diffuse_reflectance",
    "absorbed_fraction",
    "transmitted_fraction",
    "side_loss_fraction",
    "ablation_fraction",
    "dofs",
    "ranks",
    "wall_time_s",
)


def _length(um: float, mm: bool | None = None) -> str:
    """A column size in words: ``0.61 mm`` (``mm``; default: from 100 µm up), else ``45 µm``."""
    return f"{um / 1000.0:.2f} mm" if (um >= 100.0 if mm is None else mm) else f"{_g(um)} µm"


def summary_sentence(metrics: Mapping[str, Any], case: Mapping[str, Any] | None = None) -> str:
    """What the pulse does, in one plain sentence, from the metrics that exist.

    "A 10 mJ pulse at 1550 nm with a 100 µm spot makes a column 0.61 mm deep and 0.17 mm wide;
    4.7 % of the surface is covered; peak temperature 100 °C; the epidermis closes in 11 h, the
    MEND is shed by day 5; lasting tightening 0.47 % of the area." Clauses whose metrics are
    missing (no mechanics, no healing) are left out.

    Args:
        metrics: contents of ``metrics.json``.
        case: the resolved case (``case.toml`` as a dict) for the laser; None: "A pulse".

    Returns:
        Plain text (not yet HTML-escaped); "" when no metric of the sentence exists.
    """
    laser = case.get("laser") if isinstance(case, Mapping) else None
    laser = laser if isinstance(laser, Mapping) else {}
    energy, wavelength, spot = (_value(laser, k) for k in ("energy_mJ", "wavelength_nm", "spot_um"))
    subject = "A" + (f" {energy:g} mJ" if energy is not None else "") + " pulse"
    subject += f" at {wavelength:g} nm" if wavelength is not None else ""
    subject += f" with a {spot:g} µm spot" if spot is not None else ""
    many = (_value(metrics, "columns") or 1) > 1
    made = []
    crater = _value(metrics, "ablation_depth_um")
    if crater:
        made.append(f"{'craters' if many else 'a crater'} {_length(crater)} deep")
    depth, width = _value(metrics, "mtz_depth_um"), _value(metrics, "mtz_width_um")
    if depth == 0.0:
        made.append("no coagulated column")
    elif depth is not None or width is not None:
        mm = max(v for v in (depth, width) if v is not None) >= 100.0  # one unit for both
        size = [f"{_length(v, mm)} {w}" for v, w in ((depth, "deep"), (width, "wide"))
                if v is not None]
        made.append(f"{'columns' if many else 'a column'} {' and '.join(size)}"
                    + (" on average" if many else ""))
    clauses = [f"{subject} makes {' and '.join(made)}"] if made else []
    cover = _value(metrics, "coverage_percent")
    if cover is not None:
        clauses.append(f"{_g(cover)} % of the surface is covered")
    peak = _value(metrics, "peak_temperature_C")
    if peak is not None:
        clauses.append(f"peak temperature {peak:.0f} °C")
    healing = []
    reep = _value(metrics, "reepithelialization_h")
    if reep is not None:
        healing.append(f"the epidermis closes in {_hours(reep)}" if reep > 0
                       else "there is no epidermal wound")
    shed = _value(metrics, "mend_shed_days")
    if shed is not None:
        healing.append(f"the MENDs are shed by day {_g(shed)}" if many
                       else f"the MEND is shed by day {_g(shed)}")
    if healing:
        clauses.append(", ".join(healing))
    for key, words in (("cooled_tightening_area_percent", "lasting tightening"),
                       ("tightening_area_percent", "tightening (still warm)")):
        tight = _value(metrics, key)
        if tight is not None:
            clauses.append(f"{words} {_g(tight)} % of the area")
            break
    if not clauses:
        return ""
    text = "; ".join(clauses) + "."
    return text[0].upper() + text[1:]


#: How the verdict table names the chart's quantities.
QUANTITY_NAMES = {"depth_um": "Column depth", "width_um": "Column width",
                  "ablation_depth_um": "Crater depth",
                  "total_depth_um": "Crater and coagulation depth"}


def _um(value: Any) -> str:
    """A size of the verdict table: a number, a range ``[a, b]`` or ``{energy: size}``."""
    if isinstance(value, Mapping):
        return "; ".join(f"{format_number(v)} at {e} mJ" for e, v in value.items()) or "—"
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return f"{format_number(value[0])}–{format_number(value[1])}"
    return format_number(value)


def verdict_table(rows: Iterable[Mapping[str, Any]]) -> str:
    """The verdicts of :func:`fem.post.calibration.judge` as a table: simulated, chart,
    difference, verdict (and the source of the row as a tooltip); "" if none."""
    body = []
    for r in rows:
        chart = ("> " if r.get("relation") == "greater_than" else "") + _um(r.get("chart_um"))
        ratio = r.get("ratio")
        diff = f"{100.0 * ratio:+.0f} %" if isinstance(ratio, (int, float)) else "—"
        energy, relation = r.get("energy_mJ"), str(r.get("relation", ""))
        fluence = re.search(r"(\d+(?:\.\d+)?)_to_(\d+(?:\.\d+)?)_J_per_cm2", relation)
        at = (f"{format_number(energy)} mJ" if energy is not None else
              f"single pulse, {fluence[1]}–{fluence[2]} J/cm²" if fluence else
              "any energy (typical range)" if relation == "typical_range" else relation)
        name = QUANTITY_NAMES.get(r.get("quantity"), split_unit(str(r.get("quantity")))[0])
        body.append(
            f'<tr><td title="{_esc(r.get("source", ""))}">{_esc(name)}</td><td>{_esc(at)}</td>'
            f'<td class="num">{_esc(_um(r.get("simulated_um")))}</td>'
            f'<td class="num">{_esc(chart)}</td><td class="num">{_esc(diff)}</td>'
            f"<td><b>{_esc(r.get('verdict', ''))}</b></td></tr>")
    if not body:
        return ""
    return (
        "<table><thead><tr><th>Chart row</th><th>At</th><th>Simulated (µm)</th>"
        "<th>Chart (µm)</th><th>Difference</th><th>Verdict</th></tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
        f'<p class="sub">Agrees: the simulation is {100 * BAND[0]:g} to {100 * BAND[1]:g} % '
        "above the histology (excised tissue shrinks in fixation); tolerated: "
        f"{100 * TOLERANCE[0]:+g} to {100 * TOLERANCE[1]:+g} %. Hover a row for its source.</p>"
    )


def _calibration_block(case: Mapping[str, Any] | None, metrics: Mapping[str, Any]) -> str:
    """The verdict of the case against the calibration chart, or the line saying that no
    chart row matches it; "" when the case names no pulse."""
    pulse = pulse_of(case) if case else None
    if pulse is None:
        return ""
    try:
        rows = judge_case(case, metrics)
    except (OSError, ValueError):
        logger.warning("could not judge the case against the calibration chart", exc_info=True)
        return ""
    where = f"{pulse['wavelength_nm']:g} nm, {pulse['energy_mJ']:g} mJ"
    if not rows:
        return f'<p class="sub" id="calibration">No calibration row matches {_esc(where)}.</p>'
    return (f'<h3 id="calibration">Against the calibration chart ({_esc(where)})</h3>'
            + verdict_table(rows))


def _answer(case_text: str | None, metrics: Mapping[str, Any] | None) -> str:
    """The top of the page: the summary sentence and the calibration verdict."""
    if not metrics:
        return ""
    try:
        case = tomllib.loads(case_text) if case_text else None
    except tomllib.TOMLDecodeError:
        case = None
    sentence = summary_sentence(metrics, case)
    text = f'<p class="summary" style="font-size: 1.12em">{_esc(sentence)}</p>' if sentence else ""
    return text + _calibration_block(case, metrics) + "\n"


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
    meta = _read_json_quiet(result_dir / SNAPSHOT_JSON)
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
        logger.warning("%s is not valid TOML: no settings table", CASE_TOML)
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
            f"<p>Every value the run used, presets expanded (from <code>{CASE_TOML}</code>); the "
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
        if isinstance(v, (Mapping, list))
        and k not in ("versions", "phases_s", "phase_started_unix_s")
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

    The page holds the run's warnings (``warnings`` of ``metrics.json``, in a box at the top;
    none in older results), the headline metrics, the pictures in ``renders/`` (made by
    :func:`fem.render.render_all`, which should run first) with captions, the
    full metrics table, the provenance and the resolved case file. Missing
    inputs are noted on the page and logged; they never raise.

    Args:
        result_dir: The results directory written by the solver.

    Returns:
        Path of the written report.
    """
    result_dir = Path(result_dir)
    case_path = result_dir / CASE_TOML
    case_text: str | None = None
    if case_path.is_file():
        try:
            case_text = case_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            logger.warning("could not read %s", case_path)
    else:
        logger.warning("no %s", case_path)
    title = _run_title(result_dir, case_text)
    metrics = _read_json(result_dir / METRICS_JSON)
    prov = _read_json(result_dir / PROVENANCE_JSON)

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
            ("summary", "Key results", f'<p class="missing">No {METRICS_JSON} in this run.</p>')
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
        keys = [k for k in metrics if k != WARNINGS_KEY]
        sections.append(("metrics", "All metrics", _metrics_table(metrics, keys)))

    # Probes.
    if PROBES_PNG in available:
        body = _figure(f"{RENDERS_DIR}/{PROBES_PNG}", *CAPTIONS[PROBES_PNG])
    else:
        body = f'<p class="missing">No probe histories ({PROBES_CSV} missing or empty).</p>'
    sections.append(("probes", "Probes", body))

    # After the treatment: the healing stage, when the run had one.
    healing = healing_section(result_dir, metrics, available)
    if healing:
        sections.append(("healing", "After the treatment", healing))

    # Settings.
    settings = _settings_section(case_text)
    if settings:
        sections.append(("settings", "Settings", settings))

    # Provenance.
    if prov:
        body = _provenance_section(prov)
    else:
        body = f'<p class="missing">No {PROVENANCE_JSON} in this run.</p>'
    sections.append(("provenance", "Provenance", body))

    # Case file.
    if case_text is not None:
        body = (
            f"<p>The file as written by the run; <code>mtz run {CASE_TOML}</code> in this "
            f"directory reruns it.</p><pre>{_esc(case_text)}</pre>"
        )
    else:
        body = f'<p class="missing">No {CASE_TOML} in this run.</p>'
    sections.append(("case", f"Resolved case ({CASE_TOML})", body))

    nav = "<nav>" + "".join(f'<a href="#{a}">{_esc(h)}</a>' for a, h, _ in sections) + "</nav>"
    # The answer first (summary, calibration verdict), then the run's warnings (fem.post.sanity).
    box = warnings_box(warning_list((metrics or {}).get(WARNINGS_KEY)))
    body = _answer(case_text, metrics) + box + nav + "".join(
        f'<h2 id="{a}">{_esc(h)}</h2>\n{b}\n' for a, h, b in sections)
    subtitle = (
        f"MTZ-FEM results <code>{_esc(result_dir.resolve().name)}</code> · report written {_now()}"
    )
    return _write_page(result_dir / REPORT_HTML, _page(title, subtitle, body))

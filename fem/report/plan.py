"""The report of ``mtz plan`` (:func:`write_plan_report`): the recommendation in one line, its
settings, the targets with what the plan predicted and what the full model verified, the
trade-off chart, and the model runs the plan made.

Everything is read from the plan's result dictionary (``plan.json``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fem.config.plan import JUDGED
from fem.output import names
from fem.report.page import (
    _esc,
    _figure,
    _now,
    _num_cell,
    _page,
    _write_page,
    format_number,
    key_header,
)

logger = logging.getLogger(__name__)

#: The check that the sessions of a course come after the MENDs are shed (not a target).
SHEDDING = "sessions_after_shedding"
SHEDDING_MEANING = "sessions after the MENDs are shed"

#: Dotted setting key -> readable name with its unit.
SETTINGS: dict[str, str] = {
    "laser.energy_mJ": "Energy per column (mJ)",
    "pattern.density_per_cm2": "Density per pass (/cm²)",
    "pattern.passes": "Passes",
    "course.sessions": "Sessions",
    "course.interval_days": "Interval (days)",
    "cooling.mode": "Cooling",
}

#: The columns of the table of runs.
RUN_COLUMNS: tuple[str, ...] = (
    "name", "purpose", "energy_mJ", "density_per_cm2", "cooling", "status", "depth_um",
    "coverage_percent", "downtime_days", "pigment_cleared_percent", "new_collagen_percent",
    "late_tightening_area_percent",
)

_BOX = {
    True: "background:#e7f5e9;border:1px solid #2e7d32;border-left:6px solid #2e7d32;",
    False: "background:#fff5e0;border:1px solid #d08c00;border-left:6px solid #d08c00;",
}


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _message_box(result: Mapping[str, Any]) -> str:
    feasible = bool(result.get("feasible"))
    message = result.get("message") or ("plan: feasible" if feasible else "plan: infeasible")
    return (f'<div style="{_BOX[feasible]}padding:0.7em 1em;margin:1em 0;font-size:1.08em;'
            f'font-weight:600;">{_esc(message)}</div>')


def _settings_table(settings: Mapping[str, Any]) -> str:
    keys = [k for k in SETTINGS if k in settings] + [k for k in settings if k not in SETTINGS]
    if not keys:
        return '<p class="missing">No settings.</p>'
    rows = []
    for key in keys:
        label = SETTINGS.get(key, key)
        rows.append(f"<tr><td>{_esc(label)}<br><code>{_esc(key)}</code></td>"
                    f"{_num_cell(settings[key])}</tr>")
    return ("<table class=\"headline\"><thead><tr><th>Setting</th><th>Value</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _target_value(name: str, value: Any) -> str:
    """A target as text: ranges ``a–b``, bounds ``≤ a`` / ``≥ a``."""
    kind = JUDGED.get(name, ("", ""))[1]
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return f"{format_number(value[0])}–{format_number(value[1])}"
    if kind == "max":
        return f"≤ {format_number(value)}"
    if kind == "min":
        return f"≥ {format_number(value)}"
    return format_number(value)


def _tick(value: Any) -> str:
    if value is True:
        return '<td style="color:#2e7d32;font-weight:600">✓</td>'
    if value is False:
        return '<td style="color:#c62828;font-weight:600">✗</td>'
    return "<td></td>"


def _value_cell(values: Mapping[str, Any], key: str | None) -> str:
    if key is None or key not in values:
        return "<td></td>"
    return _num_cell(values[key])


def _shedding_cells(pred: Mapping[str, Any]) -> str:
    shed, interval = pred.get("mend_shed_days"), pred.get("interval_days")
    if shed is None and interval is None:
        return "<td></td>"
    return (f"<td>interval {_esc(format_number(interval))} days, MENDs shed by day "
            f"{_esc(format_number(shed))}</td>")


def _targets_table(result: Mapping[str, Any]) -> str:
    """The targets, with the predicted (and verified) values of the recommendation, or the
    predicted values and violations of the nearest setting of an infeasible plan."""
    targets = _map(result.get("targets"))
    meaning = _map(result.get("target_meaning"))
    rec = result.get("recommended")
    feasible = isinstance(rec, Mapping)
    source = _map(rec) if feasible else _map(result.get("nearest"))
    pred = _map(source.get("predicted"))
    if feasible:
        se = _map(_map(source.get("uncertainty")).get("standard_error"))
        verified = _map(source.get("verified"))
        meets = _map(source.get("meets"))
        binding = set(source.get("binding") or [])
        head = ("Target", "Meaning", "Target value", "Predicted", "±", "Verified", "Meets",
                "Binds")
    else:
        violations = _map(source.get("violations"))
        worst = source.get("cannot_meet")
        head = ("Target", "Meaning", "Target value", "Predicted (nearest)", "Violation",
                "Meets")
    names_ = [k for k in targets if k != "outcome_day"]
    extra = meets if feasible else violations
    if SHEDDING in extra and SHEDDING not in names_:
        names_.append(SHEDDING)
    rows = []
    for k in names_:
        metric = JUDGED.get(k, (None, ""))[0]
        if k == SHEDDING:
            cells = [f"<td>{_esc(SHEDDING_MEANING)}<br><code>{_esc(SHEDDING)}</code></td>",
                     "<td>each session comes after the MENDs of the one before are shed</td>",
                     "<td>interval ≥ shedding</td>", _shedding_cells(pred)]
        else:
            if metric is None and k in pred:
                metric = k
            label = _esc(k) + (f"<br><code>{_esc(metric)}</code>" if metric and metric != k else "")
            cells = [f"<td>{label}</td>", f"<td>{_esc(meaning.get(k, ''))}</td>",
                     f"<td>{_esc(_target_value(k, targets.get(k)))}</td>",
                     _value_cell(pred, metric)]
        if feasible:
            cells += [_value_cell(se, metric) if k != SHEDDING else "<td></td>",
                      (_value_cell(verified, metric) if k != SHEDDING
                       else _shedding_cells(verified)),
                      _tick(meets.get(k)), f"<td>{'yes' if k in binding else ''}</td>"]
            row = f"<tr>{''.join(cells)}</tr>"
        else:
            v = violations.get(k)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                viol = f"<td class=\"num\">{_esc(format_number(100.0 * float(v)))} %</td>"
                ok = _tick(v == 0)
            else:
                viol, ok = "<td></td>", "<td></td>"
            if k == worst:
                viol = viol.replace("</td>", " <b>(cannot be met)</b></td>")
            cells += [viol, ok]
            style = ' style="font-weight:600"' if k == worst else ""
            row = f"<tr{style}>{''.join(cells)}</tr>"
        rows.append(row)
    if not rows:
        return '<p class="missing">No targets.</p>'
    thead = "".join(f"<th>{_esc(h)}</th>" for h in head)
    return (f'<div class="scroll"><table><thead><tr>{thead}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _targets_caption(result: Mapping[str, Any]) -> str:
    targets = _map(result.get("targets"))
    day = targets.get("outcome_day")
    when = (f"The course is judged {_esc(format_number(day))} days after its first session "
            "(<code>outcome_day</code>). " if day is not None else "")
    if isinstance(result.get("recommended"), Mapping):
        how = ("<b>Predicted</b>: the course predicted from the model run of one session at "
               "the recommended setting (the sessions' responses added up), <b>±</b> one "
               "standard error from the calibration of the laser preset (blank where none), "
               "<b>verified</b>: the full model run of the recommended course; <b>meets</b> "
               "is judged on the verified values; <b>binds</b>: a target within 5 % of the "
               "prediction, which limits the choice.")
    else:
        how = ("No setting run meets every target. <b>Predicted</b>: the course predicted "
               "from the model run of the nearest setting; <b>violation</b>: how far it "
               "misses each target, relative to the target value.")
    return f"<p>{when}{how}</p>"


def _free_line(result: Mapping[str, Any]) -> str:
    free = _map(result.get("free"))
    if not free:
        return ""
    parts = []
    for key, value in free.items():
        if (isinstance(value, (list, tuple)) and len(value) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
            text = f"{format_number(value[0])}–{format_number(value[1])}"
        else:
            text = format_number(value)
        parts.append(f"<code>{_esc(key)}</code> {_esc(text)}")
    return f"<p>Searched: {'; '.join(parts)}.</p>"


def _links(result: Mapping[str, Any]) -> str:
    rec = _map(result.get("recommended"))
    items = []
    if rec.get("report"):
        items.append(f'<a href="{_esc(rec["report"])}">report of the recommended course</a> '
                     "(the full model run)")
    if rec.get("case_file"):
        items.append(f'<a href="{_esc(rec["case_file"])}">the case file</a> '
                     f"<code>{_esc(rec['case_file'])}</code> (<code>mtz run "
                     f"{_esc(rec['case_file'])}</code> reproduces it)")
    return f"<p>{'; '.join(items)}.</p>" if items else ""


def _runs_table(out: Path, runs: list) -> str:
    rows = [r for r in runs if isinstance(r, Mapping)]
    if not rows:
        return '<p class="missing">No model runs.</p>'
    head = [key_header(key) for key in RUN_COLUMNS]
    body = []
    for r in rows:
        cells = []
        for key in RUN_COLUMNS:
            value = r.get(key)
            if key == "name" and value:
                run_dir = out / names.PLAN_RUNS_DIR / str(value)
                href = None
                try:
                    if (run_dir / names.REPORT_HTML).is_file():
                        href = f"{names.PLAN_RUNS_DIR}/{value}/{names.REPORT_HTML}"
                    elif run_dir.is_dir():
                        href = f"{names.PLAN_RUNS_DIR}/{value}/"
                except (OSError, ValueError):
                    href = None
                text = _esc(value)
                cells.append(f'<td><a href="{_esc(href)}">{text}</a></td>' if href
                             else f"<td>{text}</td>")
            elif key == "status" and value not in (None, "ok"):
                cells.append(f'<td class="missing">{_esc(value)}</td>')
            else:
                cells.append(_num_cell(value) if key in r else "<td></td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (f'<div class="scroll"><table><thead><tr>{"".join(head)}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _footer(result: Mapping[str, Any]) -> str:
    windows = []
    for cooling, window in _map(result.get("energy_window")).items():
        if isinstance(window, (list, tuple)) and len(window) == 2:
            text = f"{format_number(window[0])}–{format_number(window[1])} mJ"
        else:
            text = ("depth targets out of reach at the allowed energies" if window is None
                    else str(window))
        windows.append(f"{_esc(cooling)}: {_esc(text)}")
    seconds = result.get("wall_time_s")
    seconds = (f"{seconds:.0f}" if isinstance(seconds, (int, float))
               and not isinstance(seconds, bool) else format_number(seconds))
    line = (f"{_esc(format_number(result.get('model_runs')))} full model runs in "
            f"{_esc(seconds)} s")
    if windows:
        line += f" · energy window per cooling mode: {'; '.join(windows)}"
    return f'<hr><p class="sub">{line}.</p>'


def write_plan_report(out: Path, result: dict) -> Path:
    """Write ``out/plan.html``, the report of ``mtz plan``, and its trade-off chart
    ``out/tradeoff.png``.

    Args:
        out: The plan's output directory.
        result: The plan's result dictionary (``plan.json``).

    Returns:
        Path of the written page.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    picture = None
    try:
        from fem.render.plan_plots import plot_tradeoff

        picture = plot_tradeoff(result, out / names.TRADEOFF_PNG)
    except Exception:  # a picture must not stop the report
        logger.warning("could not draw the trade-off chart of the plan", exc_info=True)

    rec = result.get("recommended")
    feasible = isinstance(rec, Mapping)
    parts = [_message_box(result)]
    if feasible:
        parts.append("<h2>Recommended settings</h2>")
        parts.append(_settings_table(_map(_map(rec).get("settings"))))
    else:
        near = _map(result.get("nearest"))
        parts.append("<h2>Nearest setting</h2>")
        worst = near.get("cannot_meet")
        if worst:
            meaning = SHEDDING_MEANING if worst == SHEDDING else _map(
                result.get("target_meaning")).get(worst, "")
            about = f" ({_esc(meaning)})" if meaning else ""
            parts.append(f"<p>No setting meets every target: <b><code>{_esc(worst)}</code></b>"
                         f"{about} cannot be met. The setting that comes nearest:</p>")
        parts.append(_settings_table(_map(near.get("settings"))))
    parts.append("<h2>Targets</h2>")
    parts.append(_targets_caption(result))
    parts.append(_targets_table(result))
    parts.append(_free_line(result))
    parts.append(_links(result))

    parts.append("<h2>Trade-off</h2>")
    if picture is not None and Path(picture).is_file():
        pick = "Red star: the recommendation" if feasible else (
            "Red cross: the nearest setting (the plan is infeasible)")
        caption = (
            "<b>Left</b>: column depth against the downtime of one session. <b>Right</b>: the "
            "efficacy of the course against its downtime. Small points: the surrogate's "
            "predictions on the search grid, coloured by the coverage of one session; black "
            "edges: those predicted to meet every target. Hollow black circles: the full "
            "model runs the plan made (one session each). Shaded green: the targets on "
            "depth and downtime; dashed line: the efficacy target. The step line is the "
            "Pareto front: the least course downtime for each level of efficacy. "
            f"{_esc(pick)}."
        )
        parts.append(_figure(names.TRADEOFF_PNG, "Trade-off of the plan", caption))
    else:
        parts.append('<p class="missing">No trade-off chart (no candidates).</p>')

    runs = result.get("runs") or []
    parts.append(f"<h2>Model runs ({len(runs)})</h2>")
    parts.append("<p>The full model runs of one session that the surrogate was fitted to.</p>")
    parts.append(_runs_table(out, runs))
    parts.append(_footer(result))

    title = f"Plan: {result.get('title') or out.resolve().name}"
    sub = [f"MTZ-FEM plan <code>{_esc(result.get('plan_file', ''))}</code>"]
    if result.get("goal"):
        sub.append(f"goal {_esc(result['goal'])}")
    if result.get("phototype") is not None:
        sub.append(f"phototype {_esc(result['phototype'])}")
    if result.get("base"):
        sub.append(f"base case <code>{_esc(result['base'])}</code>")
    sub.append(f"report written {_now()}")
    body = "\n".join(p for p in parts if p)
    return _write_page(out / names.PLAN_HTML, _page(title, " · ".join(sub), body))

"""The report of a parameter study (:func:`write_study_report`). It opens with the answer: a
plain summary (:func:`study_summary`: how many cases, the swept parameters and their range, the
range of the main metrics) and the verdicts against the calibration chart where the study wrote
them (``plots/calibration.json``, :func:`fem.post.calibration.study_plot`), then the warnings
of the cases. Below: the table of the cases with links to their reports, the study's plots with
their captions (:func:`fem.report.captions.study_plot_caption`), and the cases side by side,
drawn again with one common view.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fem.output.names import (
    CALIBRATION_JSON,
    CALIBRATION_PNG,
    COVERAGE_PNG,
    DAMAGE_PNG,
    HISTOLOGY_PNG,
    ISOSURFACES_PNG,
    PLOTS_DIR,
    RENDERS_DIR,
    REPORT_HTML,
    STUDY_JSON,
    SURFACE_PNG,
    TEMPERATURE_PEAK_PNG,
)
from fem.post.glossary import lookup
from fem.render.study_plots import is_constant, left_out, panel_metrics, plot_name, x_axes
from fem.report.captions import (
    CALIBRATION_CAPTION,
    CAPTIONS,
    axis_label,
    lower_first,
    study_plot_caption,
)
from fem.report.case import (
    HEADLINE_KEYS,
    WARNINGS_KEY,
    _read_json_quiet,
    verdict_table,
    write_report,
)
from fem.report.page import (
    _esc,
    _figure,
    _now,
    _num_cell,
    _page,
    _write_page,
    format_number,
    key_header,
    warning_list,
    warnings_box,
)

logger = logging.getLogger(__name__)


def _case_link(study_dir: Path, value: Any) -> str | None:
    """A relative link to a case's report if ``value`` names a results directory."""
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        return None
    try:
        candidate = Path(value)
        if not candidate.is_absolute():
            candidate = study_dir / candidate
        report = candidate / REPORT_HTML
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
            report = Path(os.path.relpath(case_dir / REPORT_HTML, study_dir)).as_posix()
            cells.append(
                f'<figure class="thumb"><a href="{_esc(report)}"><img src="{_esc(src)}" '
                f'alt="{_esc(label)}: {_esc(CAPTIONS[name][0])}"></a>'
                f"<figcaption>{_esc(label)}</figcaption></figure>"
            )
        if cells:
            heading = f"<h3>{_esc(CAPTIONS[name][0])}</h3>"
            parts.append(f'{heading}<div class="row">{"".join(cells)}</div>')
    return "".join(parts)


#: Row keys that are neither a parameter nor a metric of a case.
ROW_KEYS = ("case", "status", "error")
#: How many metrics the summary gives the range of.
SUMMARY_METRICS = 4


class _Settings:
    """The study's settings the report needs, from ``study.json`` (``mtz study`` writes it);
    without one, the swept keys are the parameters that differ between the rows and the
    metrics are the headline ones."""

    def __init__(self, described: Mapping[str, Any], rows: list[dict]):
        study = described.get("study")
        study = study if isinstance(study, Mapping) else {}
        self.title = study.get("title") if isinstance(study.get("title"), str) else None
        sweep = study.get("sweep")
        if isinstance(sweep, Mapping) and sweep:
            self.sweep = {str(k): list(v) if isinstance(v, list) else [v]
                          for k, v in sweep.items()}
        else:
            keys = [k for r in rows for k in r if k not in ROW_KEYS and lookup(k) is None]
            self.sweep = {}
            for k in dict.fromkeys(keys):  # a parameter of every row, not one value in all
                values = [r.get(k) for r in rows]
                if all(k in r for r in rows) and len({format_number(v) for v in values}) > 1:
                    self.sweep[k] = values
        self.mode = str(study.get("mode", "grid"))
        listed = study.get("metrics")
        self.metrics = ([str(m) for m in listed] if isinstance(listed, list) else
                        [k for k in HEADLINE_KEYS if any(k in r for r in rows)])
        against = study.get("plot_against")
        self.plot_against = [str(m) for m in against] if isinstance(against, list) else []


def _first(rows: list[dict], metric: str) -> float:
    """The first number of ``metric`` in ``rows`` (there is one: the metric is constant)."""
    return next(float(r[metric]) for r in rows if isinstance(r.get(metric), (int, float)))


def _short(value: float) -> str:
    """A number of the summary, three significant digits: ``0.37``, ``412``, ``1,204``."""
    if abs(value) >= 1000.0:
        return f"{value:,.0f}"
    text = f"{value:.3g}"
    return format_number(value) if "e" in text else text


def _with_unit(key: str, text: str) -> str:
    label = axis_label(key)
    unit = label[label.rfind("(") + 1:-1] if label.endswith(")") else ""
    return f"{text} {unit}" if unit else text


def _swept(key: str, values: list[Any]) -> str:
    """``laser energy from 5 to 40 mJ`` or ``laser preset over erglass_1550 and co2_10600``."""
    name = lower_first(axis_label(key, unit=False))
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(nums) == len(values) and len(set(nums)) > 1:
        return name + " from " + _with_unit(key, f"{_short(min(nums))} to {_short(max(nums))}")
    shown = list(dict.fromkeys(format_number(v) for v in values))
    if len(shown) == 1:
        return f"{name} {shown[0]}"
    return f"{name} over {', '.join(shown[:-1])} and {shown[-1]}"


def study_summary(rows: list[dict], settings: _Settings) -> str:
    """The study in plain words: how many cases, what they sweep, the range of its main metrics
    across the finished cases and the metrics that are the same in all of them.

    Returns:
        Plain text (not yet HTML-escaped); "" without rows.
    """
    if not rows:
        return ""
    status = [r.get("status", "ok") for r in rows]
    ok = [r for r, st in zip(rows, status) if st == "ok"]
    counts = [f"{status.count(st)} {st}" for st in ("failed", "not run") if st in status]
    text = f"{len(rows)} case{'s' if len(rows) > 1 else ''}"
    if counts:
        text += f" ({len(ok)} finished, {', '.join(counts)})"
    if settings.sweep:
        parts = [_swept(k, v) for k, v in settings.sweep.items()]
        how = (" in every combination" if settings.mode == "grid" else " together") \
            if len(parts) > 1 else ""
        text += (" sweep " if len(rows) > 1 else " sets ") + " and ".join(parts) + how
    text += "."
    if not ok:
        return text + " No case has finished."
    main = panel_metrics(settings.metrics, ok, settings.sweep, settings.plot_against)
    ranges = []
    for m in main[:SUMMARY_METRICS]:
        values = [float(r[m]) for r in ok if isinstance(r.get(m), (int, float))]
        span = (_short(min(values)) if len(ok) == 1 or is_constant(m, ok)
                else f"from {_short(min(values))} to {_short(max(values))}")
        ranges.append(f"{lower_first(axis_label(m, unit=False))} {_with_unit(m, span)}")
    if ranges:
        lead = " Across the finished cases, " if len(ok) > 1 else " The case gives "
        text += lead + "; ".join(ranges) + "."
    same = [m for m, why in left_out(settings.metrics, ok).items() if why == "constant"]
    if same:
        text += " The same in every case: " + "; ".join(
            f"{lower_first(axis_label(m, unit=False))} {_with_unit(m, _short(_first(ok, m)))}"
            for m in same[:3]) + "."
    return text


def _calibration_section(study_dir: Path) -> str:
    """The verdicts of ``plots/calibration.json`` as a table; "" if the study wrote none."""
    result = _read_json_quiet(study_dir / PLOTS_DIR / CALIBRATION_JSON)
    rows = result.get("rows") if result else None
    if not isinstance(rows, list) or not rows:
        return ""
    judged = [r for r in rows if isinstance(r, Mapping) and r.get("verdict") != "not simulated"]
    table = verdict_table(judged) or '<p class="missing">No chart row is within the simulated ' \
        "energies.</p>"
    if len(judged) < len(rows):
        table += (f'<p class="sub">{len(rows) - len(judged)} more chart row(s) at these '
                  "wavelengths lie outside the simulated energies (not simulated).</p>")
    trend = []
    for key, name in (("depth_increases_with_energy", "depth"),
                      ("width_increases_with_energy", "width")):
        if isinstance(result.get(key), bool):
            trend.append(f"the column {name} {'grows' if result[key] else 'does not grow'} "
                         "with the energy")
    note = f"<p>{_esc('; '.join(trend))[:1].upper()}{_esc('; '.join(trend))[1:]}.</p>" \
        if trend else ""
    return ('<h2 id="calibration">Against the calibration chart</h2>\n'
            f"<p>The chart rows at the study's wavelengths against its finished cases "
            f"(<code>{PLOTS_DIR}/{CALIBRATION_JSON}</code>).</p>{table}{note}\n")


def _plot_words(plot: Path, rows: list[dict], settings: _Settings) -> tuple[str, str]:
    """Title and caption of a study plot: a metrics-against-key figure, the calibration plot,
    or (any other picture) its file name in words."""
    if plot.name == CALIBRATION_PNG:
        return CALIBRATION_CAPTION
    axes = [k for k in x_axes(settings) if plot_name(k) == plot.name]
    if not axes:
        words = plot.stem.replace("_", " ")
        return words[:1].upper() + words[1:], ""
    x_key = axes[0]
    ok = [r for r in rows if r.get("status", "ok") == "ok"]
    shown = [m for m in panel_metrics(settings.metrics, ok, settings.sweep,
                                      settings.plot_against) if m != x_key]
    dropped = left_out(settings.metrics, ok, settings.sweep, settings.plot_against)
    constant = {m: _first(ok, m) for m, why in dropped.items() if why == "constant"}
    counts = [m for m, why in dropped.items() if why == "bookkeeping"]
    others = [k for k in settings.sweep if k != x_key]
    if x_key not in settings.sweep:
        others = list(settings.sweep)[1:]
    return study_plot_caption(x_key, shown, others, constant, counts)


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
            appearance) gives the table columns, but for ``warnings`` (the
            warnings of the case's ``metrics.json``), listed per case in a box
            at the top. Values naming a case
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
    described = _read_json_quiet(study_dir / STUDY_JSON) or {}
    study = described.get("study") if isinstance(described.get("study"), Mapping) else {}
    settings = _Settings(described, rows)
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns and key != WARNINGS_KEY:  # listed in the box at the top
                columns.append(str(key))
    warned = [f"{row.get('case', f'case {i}')}: {w}" for i, row in enumerate(rows)
              for w in warning_list(row.get(WARNINGS_KEY))]

    head = [key_header(key) for key in columns]
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
        figures.append(_figure(src, *_plot_words(plot, rows, settings)))

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
    title = f"Study: {settings.title or study_dir.resolve().name}"
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
    summary = study_summary(rows, settings)
    answer = f'<p class="summary" style="font-size: 1.12em">{_esc(summary)}</p>\n' if summary \
        else ""
    body = (answer + _calibration_section(study_dir) + warnings_box(warned, "Warnings of the cases")
            + body)
    return _write_page(study_dir / REPORT_HTML, _page(title, subtitle, body))

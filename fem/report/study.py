"""The report of a parameter study (:func:`write_study_report`): the table of the cases with
links to their reports, the study's plots, and the cases side by side, drawn again with one common
view.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fem.output.names import (
    COVERAGE_PNG,
    DAMAGE_PNG,
    HISTOLOGY_PNG,
    ISOSURFACES_PNG,
    RENDERS_DIR,
    REPORT_HTML,
    STUDY_JSON,
    SURFACE_PNG,
    TEMPERATURE_PEAK_PNG,
)
from fem.report.captions import CAPTIONS
from fem.report.case import WARNINGS_KEY, _read_json_quiet, write_report
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
    described = _read_json_quiet(study_dir / STUDY_JSON) or {}
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
    body = warnings_box(warned, "Warnings of the cases") + body
    return _write_page(study_dir / REPORT_HTML, _page(title, subtitle, body))

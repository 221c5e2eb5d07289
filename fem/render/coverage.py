"""The top view of the treated columns: the skin surface seen from above, coloured by
log10 Omega collagen, with the column centres marked (patterns of several columns).
"""

from __future__ import annotations

import logging
from pathlib import Path

from fem.output.names import COVERAGE_PNG
from fem.render.draw import (
    _add_scalar_bar,
    _add_titles,
    _new_plotter,
    _omega,
    _screenshot,
    _setup_top,
)
from fem.render.geometry import _contour, _crosses, _pattern_label, _top_surface, _toward_camera
from fem.render.snapshot import _LOG_COLLAGEN, Snapshot, _as_float
from fem.render.style import (
    COLLAGEN_COLOR,
    COLLAGEN_COLOR_NAME,
    COVERAGE_CLIM,
    COVERAGE_CMAP,
    MARKER_COLOR,
    MARKER_COLOR_NAME,
)

logger = logging.getLogger(__name__)


def render_coverage(snap: Snapshot, out_dir: Path) -> Path | None:
    """Top view of the skin surface coloured by log10 Omega collagen, column centres marked.

    Only for patterns of several columns; the collagen Omega = 1 contour
    outlines the treated spots.

    Args:
        snap: The loaded snapshot.
        out_dir: Directory for the PNG.

    Returns:
        Path of ``coverage_top.png``, or None for a single column or no damage field.
    """
    if snap.n_columns < 2:
        logger.debug("one column: no %s", COVERAGE_PNG)
        return None
    if not snap.has_point(_LOG_COLLAGEN):
        logger.warning("no omega_collagen point array: skipping %s", COVERAGE_PNG)
        return None
    surface = _top_surface(snap)
    if surface is None:
        return None
    p = _new_plotter()
    actor = p.add_mesh(
        surface,
        scalars=_LOG_COLLAGEN,
        cmap=COVERAGE_CMAP,
        clim=list(COVERAGE_CLIM),
        show_scalar_bar=False,
        lighting=False,
    )
    width = snap.bounds[1] - snap.bounds[0]
    sub = f"skin surface seen from above, {_pattern_label(snap)}\n"
    line = _contour(surface, _LOG_COLLAGEN)
    if line is not None:
        p.add_mesh(
            _toward_camera(line, 0.02 * width, "z"),
            color=COLLAGEN_COLOR,
            line_width=3,
            lighting=False,
            reset_camera=False,
        )
        sub += _omega(f"{COLLAGEN_COLOR_NAME} line: Ω collagen = 1; ")
    else:
        sub += _omega("no Ω collagen = 1 contour on the surface; ")
    radius = _as_float(snap.meta.get("column_radius_um")) or 0.02 * width
    markers = _crosses(snap.centres, 0.5 * radius, snap.z_top + 0.04 * width)
    p.add_mesh(markers, color=MARKER_COLOR, line_width=2.5, lighting=False, reset_camera=False)
    sub += f"{MARKER_COLOR_NAME} crosses: column centres"
    frame = _setup_top(p, snap, x_range=(0.11, 0.70))
    _add_scalar_bar(p, actor, _omega("log10 Ω collagen"), frame, "%.0f")
    _add_titles(p, "Top view: treated columns", sub)
    frame.apply_camera(p)
    return _screenshot(p, out_dir / COVERAGE_PNG)

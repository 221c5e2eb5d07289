"""The pictures of the mesh alone (``mtz mesh``): a vertical cut and a top view with the
cells coloured by layer, the column region darker, the cell quality in the captions.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fem.output.names import MESH_CUT_PNG, MESH_JSON, MESH_TOP_PNG
from fem.render.draw import (
    _add_legend,
    _add_titles,
    _Frame,
    _layer_legend,
    _layer_rgb,
    _new_plotter,
    _screenshot,
    _setup_cut,
    _setup_top,
    _style_text,
)
from fem.render.geometry import _circles, _cut, _cut_label, _pattern_label, _top_surface
from fem.render.snapshot import Snapshot, _as_float
from fem.render.style import COLUMN_SHADE, MARKER_COLOR, _layer_color, _pretty_layer

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pyvista as pv

logger = logging.getLogger(__name__)


def _add_cells(p: pv.Plotter, snap: Snapshot, mesh: pv.DataSet) -> list[tuple[str, str, str]]:
    """Draw the cells of ``mesh`` with thin edges, coloured by layer, the column cells darker.

    Returns:
        The legend entries: the layers present, then the column region.
    """
    import pyvista as pv

    layer = mesh.cell_data["layer"] if "layer" in mesh.cell_data else np.zeros(mesh.n_cells)
    rgb, present = _layer_rgb(layer)
    legend = _layer_legend(snap, present)
    if "in_column" in mesh.cell_data:
        column = np.asarray(mesh.cell_data["in_column"]) > 0
        rgb[column] = np.round(rgb[column] * COLUMN_SHADE).astype(np.uint8)
        if column.any():
            # The legend patch shows the shade of the layer most of the column lies in.
            ids = np.clip(np.asarray(layer)[column].astype(int), 0, None)
            base = np.array(pv.Color(_layer_color(int(np.bincount(ids).argmax()))).int_rgb)
            shade = "#{:02x}{:02x}{:02x}".format(*np.round(base * COLUMN_SHADE).astype(int))
            legend.append(("column region (darker)", shade, "patch"))
    mesh.cell_data["layer_rgb"] = rgb
    p.add_mesh(
        mesh,
        scalars="layer_rgb",
        rgb=True,
        show_edges=True,
        edge_color="#555555",
        line_width=0.5,
        show_scalar_bar=False,
        lighting=False,
    )
    return legend


def _quality_text(q: dict[str, Any]) -> str:
    """``"25,575 cells; quality min 0.214, mean 0.712"`` from a quality summary."""
    cells = _as_float(q.get("cells"))
    low, mean = _as_float(q.get("min_quality")), _as_float(q.get("mean_quality"))
    stats = ", ".join(f"{k} {v:.3g}" for k, v in (("min", low), ("mean", mean)) if v is not None)
    parts = [f"{int(cells):,} cells"] if cells is not None else []
    parts += [f"quality {stats}"] if stats else []
    return "; ".join(parts) or "no quality values"


def _quality(snap: Snapshot) -> tuple[str, str]:
    """The mesh quality (``mesh_quality`` of mesh.json): overall, and per region (one per line)."""
    quality = snap.meta.get("mesh_quality")
    if not isinstance(quality, dict):
        return f"no mesh quality summary in {MESH_JSON}", ""
    regions = quality.get("regions")
    if not isinstance(regions, dict):
        regions = {}
    per_region = "\n".join(
        f"{_pretty_layer(str(name))}: " + _quality_text(q).replace("; ", "\n   ")
        for name, q in regions.items()
        if isinstance(q, dict)
    )
    return _quality_text(quality), per_region


def _add_side_legend(
    p: pv.Plotter, frame: _Frame, entries: list[tuple[str, str, str]], note: str = ""
) -> None:
    """The legend right of a view, with an optional text block below it."""
    x = min(frame.right + 0.07, 0.66)
    _add_legend(p, entries, x=x, y_top=0.78, width=0.97 - x)
    if note:
        y = 0.78 - (0.045 * len(entries) + 0.02) - 0.04
        actor = p.add_text(note, position=(x, y), viewport=True, font_size=11)
        _style_text(actor.prop, color="#333333")
        actor.prop.justification_horizontal = "left"
        actor.prop.justification_vertical = "top"


def render_mesh_cut(snap: Snapshot, out_dir: Path) -> Path | None:
    """Vertical cut of the mesh through a column axis, cells coloured by layer, edges drawn.

    The column cells (``in_column = 1``) are drawn in a darker shade of their
    layer colour; the subtitle gives the cell count and the quality.

    Args:
        snap: The loaded mesh (:func:`load_mesh`).
        out_dir: Directory for the PNG.

    Returns:
        Path of ``mesh_cut.png``, or None if the cut is empty.
    """
    cut = _cut(snap)
    if cut is None:
        return None
    p = _new_plotter()
    legend = _add_cells(p, snap, cut)
    overall, per_region = _quality(snap)
    frame = _setup_cut(p, snap, cut, x_range=(0.11, 0.56))
    _add_side_legend(p, frame, legend, per_region)
    _add_titles(p, "Mesh", _cut_label(snap) + ", coloured by skin layer\n" + overall)
    frame.apply_camera(p)
    return _screenshot(p, out_dir / MESH_CUT_PNG)


def render_mesh_top(snap: Snapshot, out_dir: Path) -> Path | None:
    """Top view of the mesh on the skin surface with the column footprints.

    Only for patterns of several columns. Faces are coloured by layer (the
    column cells darker), edges drawn, and a circle of the column radius
    marks each column.

    Args:
        snap: The loaded mesh (:func:`load_mesh`).
        out_dir: Directory for the PNG.

    Returns:
        Path of ``mesh_top.png``, or None for a single column.
    """
    if snap.n_columns < 2:
        logger.debug("one column: no %s", MESH_TOP_PNG)
        return None
    surface = _top_surface(snap)
    if surface is None:
        return None
    p = _new_plotter()
    legend = _add_cells(p, snap, surface)
    width = snap.bounds[1] - snap.bounds[0]
    radius = _as_float(snap.meta.get("column_radius_um"))
    if radius is not None and radius > 0:
        rings = _circles(snap.centres, radius, snap.z_top + 0.04 * width)
        p.add_mesh(rings, color=MARKER_COLOR, line_width=2.5, lighting=False, reset_camera=False)
        legend.append((f"column footprint, r = {radius:g} µm", MARKER_COLOR, "line"))
    overall, per_region = _quality(snap)
    frame = _setup_top(p, snap, x_range=(0.11, 0.60))
    _add_side_legend(p, frame, legend, per_region)
    sub = f"top view of the skin surface, {_pattern_label(snap)}\n" + overall
    _add_titles(p, "Mesh", sub)
    frame.apply_camera(p)
    return _screenshot(p, out_dir / MESH_TOP_PNG)

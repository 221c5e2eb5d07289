"""The 3D pictures: the overview of the layered block with a quadrant cut away, the
Omega = 1 isosurfaces inside see-through layers and the skin surface on the deformed shape, with
their perspective camera and length scale.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fem.output.names import ISOSURFACES_PNG, OVERVIEW_PNG, SURFACE_PNG
from fem.render.draw import (
    _add_legend,
    _add_scalar_bar,
    _add_titles,
    _Frame,
    _layer_legend,
    _layer_rgb,
    _new_plotter,
    _omega,
    _scale_length,
    _screenshot,
)
from fem.render.geometry import _box3d, _contour, _crop_top, _top_surface
from fem.render.snapshot import _LOG_CELL, _LOG_COLLAGEN, Snapshot
from fem.render.style import (
    COLLAGEN_COLOR,
    COLLAGEN_COLOR_NAME,
    DISPLACEMENT_CMAP,
    ISOSURFACE_COLOR,
    NECROSIS_COLOR,
    WARP_SHARE,
    WINDOW_SIZE,
    _fmt_factor,
    _fmt_um,
    _layer_color,
    _nice_factor,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pyvista as pv

logger = logging.getLogger(__name__)


def _fit_perspective(
    p: pv.Plotter,
    box: tuple[float, float, float, float, float, float],
    toward_camera: tuple[float, float, float],
    half_width: float,
    half_height: float,
    offset: tuple[float, float],
    view_angle: float = 30.0,
) -> None:
    """Perspective camera, z up, that shows ``box`` inside part of the picture.

    Args:
        p: The plotter.
        box: ``(xmin, xmax, ymin, ymax, zmin, zmax)`` to show.
        toward_camera: Direction from the box centre to the camera.
        half_width: Half width of the part of the picture the box may use, as
            a fraction of the picture's half width.
        half_height: The same for the height.
        offset: Where the box centre lands, in normalized device coordinates
            (-1..1, 0 is the middle of the picture).
        view_angle: Vertical view angle, degrees.
    """
    xmin, xmax, ymin, ymax, zmin, zmax = box
    centre = np.array([0.5 * (xmin + xmax), 0.5 * (ymin + ymax), 0.5 * (zmin + zmax)])
    back = np.asarray(toward_camera, dtype=float)
    back /= np.linalg.norm(back)
    right = np.cross(-back, (0.0, 0.0, 1.0))
    right /= np.linalg.norm(right)
    up = np.cross(right, -back)
    corners = np.array(
        [(x, y, z) for x in (xmin, xmax) for y in (ymin, ymax) for z in (zmin, zmax)]
    )
    rel = corners - centre
    r, u, d = rel @ right, rel @ up, rel @ back
    tan_v = math.tan(math.radians(0.5 * view_angle))
    tan_h = tan_v * WINDOW_SIZE[0] / WINDOW_SIZE[1]
    # A corner at depth d (toward the camera) and lateral offsets r, u projects
    # to r / ((dist - d) tan_h), u / ((dist - d) tan_v) in device coordinates.
    dist = float(
        np.max(
            np.maximum(d + np.abs(u) / (half_height * tan_v), d + np.abs(r) / (half_width * tan_h))
        )
    )
    dist = max(dist, 1e-6 + float(np.max(d)))
    # Moving the camera right/up moves the picture left/down.
    focal = centre - offset[0] * dist * tan_h * right - offset[1] * dist * tan_v * up
    p.camera.view_angle = view_angle
    p.camera.focal_point = tuple(focal)
    p.camera.position = tuple(focal + dist * back)
    p.camera.up = (0.0, 0.0, 1.0)
    p.reset_camera_clipping_range()


def _add_scale_bar_3d(p: pv.Plotter, box: tuple[float, ...]) -> None:
    """A length scale (round µm) along the front top edge of a 3D box, labelled in µm."""
    import pyvista as pv

    xmin, xmax, ymin, ymax, _, zmax = box
    length = _scale_length(xmax - xmin)
    y = ymin - 0.08 * (ymax - ymin)
    tick = 0.03 * (xmax - xmin)
    a, b = np.array([xmin, y, zmax]), np.array([xmin + length, y, zmax])
    up = np.array([0.0, 0.0, tick])
    for pa, pb in ((a, b), (a - up, a + up), (b - up, b + up)):
        p.add_mesh(pv.Line(pa, pb), color="black", line_width=4, lighting=False, reset_camera=False)
    p.add_point_labels(
        [0.5 * (a + b) + (0, 0, 1.5 * tick)], [f"{length:g} µm"], font_size=16, shape=None,
        show_points=False, always_visible=True, text_color="black", font_family="arial",
    )


def _side_bar(p: pv.Plotter, actor: Any, title: str, fmt: str) -> None:
    """A scalar bar at the right of a 3D picture."""
    _add_scalar_bar(p, actor, title, _Frame((0, 1, 0, 1), 1.0, 0.1, 0.72, 0.2, 0.72), fmt)


def render_overview(snap: Snapshot, out_dir: Path) -> Path | None:
    """3D view of the top of the block, one quadrant removed, with the collagen isosurface.

    The quadrant x > x_c, y < y_c is cut away to show the inside, its corner
    on the axis of the cut column (x_c, y_c); faces are coloured by layer and the
    collagen Omega = 1 isosurface is drawn in a solid colour.

    Args:
        snap: The loaded snapshot.
        out_dir: Directory for the PNG.

    Returns:
        Path of ``overview_3d.png``.
    """
    xmin, xmax, ymin, _, _, zmax = snap.bounds
    z_low = snap.z_crop
    pad = 1.0 + 1e-3 * (xmax - xmin)
    top = _crop_top(snap)
    x0, y0 = snap.cut_axis
    block = top.clip_box((x0, xmax + pad, ymin - pad, y0, z_low - pad, zmax + pad), invert=True)

    p = _new_plotter()
    legend: list[tuple[str, str, str]] = []
    shading = {"ambient": 0.6, "diffuse": 0.45, "specular": 0.0}
    if "layer" in block.cell_data:
        rgb, present = _layer_rgb(block.cell_data["layer"])
        block.cell_data["layer_rgb"] = rgb
        p.add_mesh(block, scalars="layer_rgb", rgb=True, show_scalar_bar=False, **shading)
        legend += _layer_legend(snap, present)
    else:
        p.add_mesh(block, color="#f2cfa6", **shading)
    p.add_mesh(top.outline(), color="#777777", line_width=1)

    sub = (
        f"top {zmax - z_low:.0f} µm of the block, "
        f"quadrant x > {_fmt_um(x0)} µm, y < {_fmt_um(y0)} µm cut away"
    )
    iso = _contour(top, _LOG_COLLAGEN) if _LOG_COLLAGEN in top.point_data else None
    if iso is not None:
        p.add_mesh(
            iso, color=ISOSURFACE_COLOR, smooth_shading=True, ambient=0.3, diffuse=0.8, specular=0.3
        )
        legend.append((_omega("Ω collagen = 1: coagulation column"), ISOSURFACE_COLOR, "patch"))
    elif _LOG_COLLAGEN not in top.point_data:
        sub += "\nno omega_collagen field: no isosurface"
    elif np.nanmax(top.point_data[_LOG_COLLAGEN]) < 0.0:
        sub += _omega("\nno collagen damage in view (Ω < 1 everywhere): no isosurface")
    else:
        sub += _omega("\nΩ collagen ≥ 1 everywhere in view: no isosurface")
    _add_legend(p, legend, x=0.62, y_top=0.80, width=0.36, row=0.05)
    _add_titles(p, _omega("3D overview: layers and the collagen Ω = 1 isosurface"), sub)
    p.add_axes(color="black", xlabel="x", ylabel="y", zlabel="z", line_width=3)

    box = _box3d(snap)
    _add_scale_bar_3d(p, box)
    _fit_perspective(
        p, box, toward_camera=(1.0, -1.25, 0.75), half_width=0.5, half_height=0.74,
        offset=(-0.29, -0.1),
    )
    return _screenshot(p, out_dir / OVERVIEW_PNG)


def render_isosurfaces(snap: Snapshot, out_dir: Path) -> Path | None:
    """3D view of the Omega = 1 isosurfaces (collagen and necrosis) inside see-through layers.

    Each skin layer of the top of the block is drawn as a faint, semi-transparent
    shell in its colour; the necrosis surface (cell Omega = 1) is translucent,
    the coagulation surface (collagen Omega = 1) inside it solid.

    Returns:
        Path of ``damage_isosurfaces.png``, or None without damage fields.
    """
    if not (snap.has_point(_LOG_COLLAGEN) or snap.has_point(_LOG_CELL)):
        logger.warning("no omega arrays: skipping %s", ISOSURFACES_PNG)
        return None
    top = _crop_top(snap)
    p = _new_plotter()
    legend: list[tuple[str, str, str]] = []
    if "layer" in top.cell_data:
        layer = np.asarray(top.cell_data["layer"]).astype(int)
        present = sorted(set(layer.tolist()))
        for i in present:
            shell = top.extract_cells(np.flatnonzero(layer == i)).extract_surface(algorithm=None)
            p.add_mesh(shell, color=_layer_color(i), opacity=0.16, lighting=False)
        legend += _layer_legend(snap, present)
    p.add_mesh(top.outline(), color="#777777", line_width=1)
    notes = []
    for scalars, label, color, opacity in (
        (_LOG_CELL, "Ω cell = 1: necrosis", NECROSIS_COLOR, 0.4),
        (_LOG_COLLAGEN, "Ω collagen = 1: coagulation column", ISOSURFACE_COLOR, 1.0),
    ):
        iso = _contour(top, scalars) if scalars in top.point_data else None
        if iso is None:
            notes.append(f"no {label.split(':')[0]} surface in view")
            continue
        p.add_mesh(iso, color=color, opacity=opacity, smooth_shading=True, ambient=0.3,
                   diffuse=0.8, specular=0.2)
        legend.append((_omega(label), color, "patch"))
    box = _box3d(snap)
    _add_scale_bar_3d(p, box)
    _add_legend(p, legend, x=0.62, y_top=0.80, width=0.36, row=0.05)
    sub = f"top {box[5] - box[4]:.0f} µm of the block; layers drawn see-through"
    if notes:
        sub += "\n" + _omega("; ".join(notes))
    _add_titles(p, _omega("Damage: Ω = 1 isosurfaces inside the skin layers"), sub)
    p.add_axes(color="black", xlabel="x", ylabel="y", zlabel="z", line_width=3)
    _fit_perspective(p, box, toward_camera=(1.0, -1.25, 0.6), half_width=0.5, half_height=0.7,
                     offset=(-0.29, -0.12))
    return _screenshot(p, out_dir / ISOSURFACES_PNG)


def _warp_factor(snap: Snapshot, umax: float) -> float:
    """Displacement magnification: the study's, or largest displacement = WARP_SHARE x width."""
    if snap.view.warp is not None:
        return snap.view.warp
    width = snap.bounds[1] - snap.bounds[0]
    return _nice_factor(WARP_SHARE * width / umax) if umax > 0 else 1.0


def render_surface_displacement(snap: Snapshot, out_dir: Path) -> Path | None:
    """The skin surface warped by the (magnified) displacement, coloured by its vertical part.

    The undeformed edge of the surface is drawn in grey and the collagen
    Omega = 1 contour on the surface in black.

    Returns:
        Path of ``surface_displacement.png``, or None without a displacement field.
    """
    if not snap.has_point("displacement_um"):
        logger.warning("no displacement_um array: skipping %s", SURFACE_PNG)
        return None
    surface = _top_surface(snap)
    if surface is None:
        return None
    u = np.nan_to_num(np.asarray(surface.point_data["displacement_um"], dtype=float))
    umax = float(np.max(np.linalg.norm(u, axis=1))) if u.size else 0.0
    factor = _warp_factor(snap, umax)
    surface.point_data["u_z_um"] = u[:, 2]
    warped = surface.warp_by_vector("displacement_um", factor=factor)
    uz = snap.view.displacement_um or max(float(np.max(np.abs(u[:, 2]))), 1e-9)
    p = _new_plotter()
    actor = p.add_mesh(warped, scalars="u_z_um", cmap=DISPLACEMENT_CMAP, clim=[-uz, uz],
                       show_scalar_bar=False, smooth_shading=True, ambient=0.35, diffuse=0.7)
    edge = surface.extract_feature_edges(boundary_edges=True, feature_edges=False,
                                         manifold_edges=False, non_manifold_edges=False)
    if edge.n_points:
        p.add_mesh(edge, color="#888888", line_width=2)
    line = _contour(warped, _LOG_COLLAGEN) if _LOG_COLLAGEN in warped.point_data else None
    sub = f"displacement ×{_fmt_factor(factor)}, largest {umax:.3g} µm; grey: undeformed edge"
    if line is not None:
        p.add_mesh(line, color=COLLAGEN_COLOR, line_width=3)
        sub += _omega(f"; {COLLAGEN_COLOR_NAME}: Ω collagen = 1")
    xmin, xmax, ymin, ymax = _box3d(snap)[:4]
    zt = snap.z_top
    box = (xmin, xmax, ymin, ymax, zt - 0.25 * (xmax - xmin), zt + 0.1 * (xmax - xmin))
    _add_scale_bar_3d(p, (xmin, xmax, ymin, ymax, box[4], zt))
    _side_bar(p, actor, "vertical displacement (µm)", "%.2g")
    _add_titles(p, "Skin surface on the deformed shape", sub)
    p.add_axes(color="black", xlabel="x", ylabel="y", zlabel="z", line_width=3)
    _fit_perspective(p, box, toward_camera=(0.9, -1.3, 1.0), half_width=0.62, half_height=0.6,
                     offset=(-0.12, -0.12))
    return _screenshot(p, out_dir / SURFACE_PNG)

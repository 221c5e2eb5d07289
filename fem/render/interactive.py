"""The interactive 3D page (``view3d.html``): the Omega = 1 surfaces of the top of the block
as a JSON scene, inlined into the HTML/JavaScript template shipped next to this module
(``fem/render/viewer.html``).
"""

from __future__ import annotations

import json
import logging
import math
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fem.output.files import atomic_write_text
from fem.output.names import VIEW3D_HTML
from fem.render.draw import _omega, _scale_length
from fem.render.geometry import _box3d, _contour, _crop_top
from fem.render.snapshot import _LOG_CELL, _LOG_COLLAGEN, Snapshot
from fem.render.style import ISOSURFACE_COLOR, NECROSIS_COLOR

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pyvista as pv

logger = logging.getLogger(__name__)


#: Most triangles per surface in the interactive 3D view (decimated above).
VIEW3D_MAX_TRIANGLES: int = 6000

#: The page template, package data next to this module; ``__TITLE__`` and ``__SCENE__``
#: are replaced by the title and the scene (JSON).
VIEW3D_TEMPLATE: str = "viewer.html"


def _page_template() -> str:
    """The HTML/JavaScript page of the 3D view, read from the package data file."""
    return resources.files("fem.render").joinpath(VIEW3D_TEMPLATE).read_text(encoding="utf-8")


def _scene_mesh(surface: pv.PolyData, label: str, color: str, alpha: float) -> dict[str, Any]:
    """A triangle surface for the 3D page: rounded points (µm) and triangle indices."""
    import pyvista as pv

    tri = surface.extract_surface(algorithm=None).triangulate().clean()
    # cleaning turns triangles that merged points made degenerate into lines and vertices,
    # which the decimation refuses: the triangles only
    tri = pv.PolyData(tri.points, faces=tri.faces) if tri.n_faces else pv.PolyData()
    if tri.n_cells > VIEW3D_MAX_TRIANGLES:
        tri = tri.decimate(1.0 - VIEW3D_MAX_TRIANGLES / tri.n_cells)
    faces = np.asarray(tri.faces).reshape(-1, 4)[:, 1:] if tri.n_cells else np.zeros((0, 3))
    return {
        "label": label,
        "color": list(pv.Color(color).int_rgb),
        "alpha": alpha,
        "points": np.round(np.asarray(tri.points), 1).ravel().tolist(),
        "tris": faces.astype(int).ravel().tolist(),
    }


def render_interactive(snap: Snapshot, out_dir: Path) -> Path | None:
    """An interactive 3D page (``view3d.html``): the Omega = 1 surfaces in the layered block.

    A self-contained HTML file, no network and no library: the surfaces are
    inlined as JSON and drawn by a few lines of JavaScript on a canvas (flat
    shading, back-to-front), rotated with the mouse and zoomed with the wheel.
    The block outline, the layer interfaces and a length scale in µm are
    drawn as lines.

    Returns:
        Path of ``view3d.html``, or None without an Omega = 1 surface in view.
    """
    if not (snap.has_point(_LOG_COLLAGEN) or snap.has_point(_LOG_CELL)):
        return None
    top = _crop_top(snap)
    meshes = []
    for scalars, label, color, alpha in (
        (_LOG_CELL, _omega("Ω cell = 1: necrosis"), NECROSIS_COLOR, 0.35),
        (_LOG_COLLAGEN, _omega("Ω collagen = 1: coagulation column"), ISOSURFACE_COLOR, 1.0),
    ):
        iso = _contour(top, scalars) if scalars in top.point_data else None
        if iso is not None:
            meshes.append(_scene_mesh(iso, label, color, alpha))
    if not meshes:
        logger.info("no Omega = 1 surface in view: no %s", VIEW3D_HTML)
        return None
    xmin, xmax, ymin, ymax, zlow, ztop = _box3d(snap)
    corners = [(x, y) for x, y in ((xmin, ymin), (xmax, ymin), (xmax, ymax), (xmin, ymax))]

    def ring(z: float) -> list[float]:
        out: list[float] = []
        for i in range(4):
            (xa, ya), (xb, yb) = corners[i], corners[(i + 1) % 4]
            out += [xa, ya, z, xb, yb, z]
        return out

    outline = ring(ztop) + ring(zlow)
    for x, y in corners:
        outline += [x, y, zlow, x, y, ztop]
    interfaces: list[float] = []
    for z in snap.interface_depths():
        if z > zlow:
            interfaces += ring(z)
    lines = [{"label": "", "color": [90, 90, 90], "width": 1.2, "segments": outline}]
    if interfaces:
        lines.append({"label": "layer interfaces", "color": [200, 150, 110], "width": 1.0,
                      "segments": interfaces})
    centre = [0.5 * (xmin + xmax), 0.5 * (ymin + ymax), 0.5 * (zlow + ztop)]
    radius = 0.5 * math.sqrt((xmax - xmin) ** 2 + (ymax - ymin) ** 2 + (ztop - zlow) ** 2)
    scene = {
        "meshes": meshes,
        "lines": lines,
        "centre": centre,
        "radius": radius,
        "scale_um": _scale_length(xmax - xmin),
    }
    import html as _html

    title = _html.escape(str(snap.meta.get("title") or "MTZ-FEM 3D view"))
    text = _page_template().replace("__TITLE__", title).replace(
        "__SCENE__", json.dumps(scene, separators=(",", ":")).replace("</", "<\\/")
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / VIEW3D_HTML
    atomic_write_text(path, text)
    logger.info("wrote %s (%d kB)", path, path.stat().st_size // 1024)
    return path

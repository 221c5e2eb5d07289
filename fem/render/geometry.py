"""The parts of a snapshot the pictures show: the vertical cut through a column axis and its
window, the top of the block and the box the 3D views frame, the skin surface, the Omega = 1
contours, and the line sets that mark the columns in the top views.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from fem.render.snapshot import Snapshot
from fem.render.style import _fmt_um

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pyvista as pv

logger = logging.getLogger(__name__)


def _cut_label(snap: Snapshot) -> str:
    """Caption of the vertical cuts: which plane they show."""
    return f"vertical cut through a column axis (y = {_fmt_um(snap.cut_axis[1])} µm)"


def _cut_window(snap: Snapshot) -> tuple[float, float]:
    """The x range of the cuts.

    Centred on the cut column when it has room on both sides (at least a
    quarter of the width), else the whole width. Sides on the edge of the
    block are padded so that no boundary triangle is clipped.
    """
    xmin, xmax = snap.bounds[:2]
    width = xmax - xmin
    xc = snap.cut_axis[0]
    half = min(xc - xmin, xmax - xc)
    low, high = (xc - half, xc + half) if half >= 0.25 * width else (xmin, xmax)
    if snap.view.half_width_um is not None:
        low = max(xmin, xc - snap.view.half_width_um)
        high = min(xmax, xc + snap.view.half_width_um)
    pad = 1.0 + 1e-3 * width
    return (low - pad if low <= xmin + pad else low, high + pad if high >= xmax - pad else high)


def _cut(snap: Snapshot) -> pv.UnstructuredGrid | None:
    """Cut the block through the axis of the cut column and crop it to the interesting part.

    The plane is y = y_c of :attr:`Snapshot.cut_axis`, nudged by a tiny offset
    so that it never coincides with mesh faces (which would give duplicated,
    degenerate triangles); the crop is :func:`_cut_window` in x and the top of
    the block down to :attr:`Snapshot.z_crop` in z.

    Returns:
        The cropped cut (triangles with interpolated point data and the cell
        data of the cut tetrahedra), or None if the plane misses the mesh.
    """
    xmin, xmax, ymin, ymax, _, zmax = snap.bounds
    xc, yc = snap.cut_axis
    y0 = yc + 1e-7 * max(1.0, xmax - xmin)
    sl = snap.mesh.slice(normal="y", origin=(xc, y0, 0.0))
    if sl.n_cells == 0:
        logger.warning("the plane y = %g µm does not cut the mesh", yc)
        return None
    pad = 1.0 + 1e-3 * (xmax - xmin)
    box = (*_cut_window(snap), ymin - pad, ymax + pad, snap.z_crop, zmax + pad)
    cropped = sl.clip_box(box, invert=False)
    if cropped.n_cells == 0:
        return None
    return cropped


def _toward_camera(mesh: pv.DataSet, amount: float, normal: str = "y") -> pv.DataSet:
    """Shift a line set toward the camera so it is drawn above the picture.

    Args:
        mesh: The lines.
        amount: Shift, µm.
        normal: ``"y"`` for a vertical cut (camera at -y), ``"z"`` for a top
            view (camera at +z).
    """
    out = mesh.copy()
    if normal == "y":
        out.points[:, 1] -= amount
    else:
        out.points[:, 2] += amount
    return out


def _contour(mesh: pv.DataSet, scalars: str) -> pv.PolyData | None:
    """The level-0 contour of ``scalars`` (log10 Omega = 0, i.e. Omega = 1), or None if empty."""
    if scalars not in mesh.point_data:
        return None
    values = np.asarray(mesh.point_data[scalars])
    if values.size == 0 or not (np.nanmin(values) < 0.0 < np.nanmax(values)):
        return None
    out = mesh.contour([0.0], scalars=scalars)
    return out if out.n_points > 0 else None


def _box3d(snap: Snapshot) -> tuple[float, float, float, float, float, float]:
    """The box the 3D views frame: the top of the block, or the study's common box."""
    xmin, xmax, ymin, ymax, _, zmax = snap.bounds
    view = snap.view
    if view.half_extent_um is None:
        return (xmin, xmax, ymin, ymax, snap.z_crop, zmax)
    xc, yc = snap.cut_axis
    hw = view.half_extent_um
    return (xc - hw, xc + hw, yc - hw, yc + hw, snap.z_crop, max(zmax, snap.z_top))


def _crop_top(snap: Snapshot) -> pv.UnstructuredGrid:
    """The block above :attr:`Snapshot.z_crop` (the part the 3D views show)."""
    xmin, xmax, ymin, ymax, zmin, zmax = snap.bounds
    if snap.z_crop <= zmin:
        return snap.mesh
    pad = 1.0 + 1e-3 * (xmax - xmin)
    box = (xmin - pad, xmax + pad, ymin - pad, ymax + pad, snap.z_crop, zmax + pad)
    return snap.mesh.clip_box(box, invert=False)


def _top_surface(snap: Snapshot) -> pv.UnstructuredGrid | None:
    """The skin surface: the boundary faces that face up or down, except the bottom of the block.

    That is the plane z = 0 and, where a crater is cut out, its walls; the
    faces carry the point data and the cell data of their tetrahedra.
    """
    surface = snap.mesh.extract_surface(algorithm=None)
    if surface.n_cells == 0:
        return None
    normals = surface.compute_normals(cell_normals=True, point_normals=False)
    zmin, zmax = snap.bounds[4], snap.bounds[5]
    bottom = zmin + 1e-6 * max(1.0, zmax - zmin)
    not_vertical = np.abs(normals.cell_data["Normals"][:, 2]) > 0.1
    keep = not_vertical & (surface.cell_centers().points[:, 2] > bottom)
    if not keep.any():
        logger.warning("the mesh has no top surface")
        return None
    return surface.extract_cells(np.flatnonzero(keep))


def _polylines(paths: list[np.ndarray]) -> pv.PolyData:
    """One line set from several polylines, each an ``(n, 3)`` array of points."""
    import pyvista as pv

    lines: list[int] = []
    start = 0
    for path in paths:
        lines += [len(path), *range(start, start + len(path))]
        start += len(path)
    return pv.PolyData(np.vstack(paths), lines=np.array(lines))


def _crosses(centres: np.ndarray, half: float, z: float) -> pv.PolyData:
    """A ``+`` of arm ``half`` (µm) at each centre, in the plane ``z``."""
    paths = []
    for x, y in centres:
        paths.append(np.array([[x - half, y, z], [x + half, y, z]]))
        paths.append(np.array([[x, y - half, z], [x, y + half, z]]))
    return _polylines(paths)


def _circles(centres: np.ndarray, radius: float, z: float) -> pv.PolyData:
    """A circle of ``radius`` (µm) around each centre, in the plane ``z``."""
    t = np.linspace(0.0, 2.0 * np.pi, 65)
    ring = np.column_stack([radius * np.cos(t), radius * np.sin(t), np.full_like(t, z)])
    return _polylines([ring + (x, y, 0.0) for x, y in centres])


def _pattern_label(snap: Snapshot) -> str:
    """``"25 columns (hex pattern)"``: the number of columns and the layout, if known."""
    n = snap.n_columns
    text = f"{n} column" + ("s" if n != 1 else "")
    layout = snap.meta.get("layout")
    return text + (f" ({layout} pattern)" if isinstance(layout, str) and layout else "")

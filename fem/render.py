"""Off-screen pictures of a finished MTZ-FEM run.

Reads the results directory written by the solver (``fields/snapshot.vtu``,
``fields/snapshot.json``, ``probes.csv``) and writes PNG files into
``<result_dir>/renders/``. Nothing inside ``fields/`` is ever modified.

All pictures are made off screen (VTK falls back to software rendering when
there is no display). pyvista and matplotlib are imported lazily inside the
functions so that ``import fem.render`` stays cheap.

Conventions of the input (see the solver's output writer): coordinates in
micrometres, z up, skin surface at z = 0, tissue at z < 0. The metadata next
to the grid gives the treatment pattern (``layout``, ``extent_um``,
``columns_um``, ``mirror``); old files without it have one column on the line
x = y = 0. Symmetry planes listed in ``mirror`` are unfolded for display, so a
quarter cell is shown as the full unit cell, and the vertical cuts go through
the axis of the column nearest the centre of the domain.

:func:`render_all` draws a finished run, :func:`render_mesh` the mesh alone
(``mesh.vtu`` and ``mesh.json``, written by ``mtz mesh``).
"""

from __future__ import annotations

import csv
import json
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pyvista as pv

logger = logging.getLogger(__name__)

#: Window size (pixels) of every picture.
WINDOW_SIZE: tuple[int, int] = (1200, 900)
#: The 2D cuts show the top ``CROP_FACTOR * column_depth_um`` of the block.
CROP_FACTOR: float = 1.3
#: Omega values are clipped to at least this before taking log10.
OMEGA_FLOOR: float = 1e-30

#: Colour (and its name, for captions) of the collagen Omega = 1 contour (coagulation column).
COLLAGEN_COLOR, COLLAGEN_COLOR_NAME = "#000000", "black"
#: Colour (and its name) of the cell Omega = 1 contour (necrosis).
NECROSIS_COLOR, NECROSIS_COLOR_NAME = "#0a6cff", "blue"
#: Colour (and its name) of the collagen Omega = 1 isosurface in the 3D overview.
ISOSURFACE_COLOR, ISOSURFACE_COLOR_NAME = "#c0392b", "red"
#: Colour (and its name) of the column centres and footprints in the top views.
MARKER_COLOR, MARKER_COLOR_NAME = "#0a6cff", "blue"
#: Colour map and range (log10 Omega) of the top view of the treated columns.
COVERAGE_CMAP: str = "YlOrRd"
COVERAGE_CLIM: tuple[float, float] = (-8.0, 2.0)
#: The column cells (``in_column = 1``) of the mesh pictures are darkened by this factor.
COLUMN_SHADE: float = 0.7

#: Muted, skin-like categorical colours for the layers (top to bottom).
LAYER_COLORS: tuple[str, ...] = (
    "#b89b6a",  # stratum corneum
    "#f2cfa6",  # epidermis
    "#f7c6c7",  # papillary dermis
    "#e8a3a3",  # reticular dermis
    "#fbe9a6",  # hypodermis / fat
    "#c7d7e8",
    "#d5c4e0",
    "#c9e4c5",
)

RENDERS_DIR = "renders"
TEMPERATURE_PNG = "temperature_end_of_pulse.png"
TEMPERATURE_PEAK_PNG = "temperature_peak.png"
TEMPERATURE_END_PNG = "temperature_end.png"
HISTOLOGY_PNG = "histology.png"
ISOSURFACES_PNG = "damage_isosurfaces.png"
SURFACE_PNG = "surface_displacement.png"
ANIMATION_GIF = "temperature.gif"
VIEW3D_HTML = "view3d.html"
PRINCIPAL_1_PNG = "principal_stress_1.png"
PRINCIPAL_3_PNG = "principal_stress_3.png"
DAMAGE_PNG = "damage_contours.png"
VON_MISES_PNG = "von_mises.png"
OVERVIEW_PNG = "overview_3d.png"
PROBES_PNG = "probes.png"
COVERAGE_PNG = "coverage_top.png"
MESH_CUT_PNG = "mesh_cut.png"
MESH_TOP_PNG = "mesh_top.png"

_LOG_COLLAGEN = "log10_omega_collagen"
_LOG_CELL = "log10_omega_cell"

#: Colour map of every temperature picture (cuts and animation), one range per view.
TEMPERATURE_CMAP: str = "inferno"
#: Colour map of the von Mises stress.
STRESS_CMAP: str = "viridis"
#: Diverging colour map of the vertical surface displacement (blue down, red up).
DISPLACEMENT_CMAP: str = "RdBu_r"
#: Largest displacement drawn as this share of the block width in the warped pictures.
WARP_SHARE: float = 0.08


@dataclass(frozen=True)
class View:
    """What the pictures of one case show, fixed across the cases of a study.

    Every field left at None is taken from the case itself. A study fixes them
    all (:func:`study_view`) so that its cases are drawn with the same camera,
    the same crop and the same colour ranges and can be compared side by side.

    Attributes:
        half_width_um: Half width of the vertical cuts about the column axis.
        half_extent_um: Half side of the box the 3D views frame, about the column axis.
        depth_um: Depth below the skin surface shown in the cuts and 3D views.
        temperature_C: Colour range of every temperature picture.
        von_mises_kPa: Top of the von Mises colour range.
        principal_kPa: Half width of the (symmetric) principal stress colour range.
        displacement_um: Top of the surface displacement colour range (symmetric).
        warp: Magnification of the displacement in the warped pictures.
    """

    half_width_um: float | None = None
    half_extent_um: float | None = None
    depth_um: float | None = None
    temperature_C: tuple[float, float] | None = None
    von_mises_kPa: float | None = None
    principal_kPa: float | None = None
    displacement_um: float | None = None
    warp: float | None = None


@dataclass
class Snapshot:
    """The solver's field snapshot plus its metadata.

    Attributes:
        mesh: Tetrahedral grid (micrometres) with point and cell data; Omega
            arrays get log10 companions (``log10_omega_*``) on load.
        meta: Contents of ``snapshot.json`` (empty if the file is missing).
        bounds: ``(xmin, xmax, ymin, ymax, zmin, zmax)`` of the mesh.
        columns: Column centres ``(n, 2)`` in µm as shown (mirrored copies
            included), or None to fall back to one column on the axis x = y = 0
            (the middle of the block if that axis misses it).
    """

    mesh: pv.UnstructuredGrid
    meta: dict[str, Any] = field(default_factory=dict)
    bounds: tuple[float, float, float, float, float, float] = (0, 0, 0, 0, 0, 0)
    columns: np.ndarray | None = None
    view: View = field(default_factory=View)

    @property
    def n_columns(self) -> int:
        """Number of columns of the treatment pattern (``columns_um``), at least 1."""
        columns = self.meta.get("columns_um")
        return len(columns) if isinstance(columns, list) and columns else 1

    @property
    def centres(self) -> np.ndarray:
        """Column centres ``(n, 2)`` shown in the pictures, µm."""
        if self.columns is not None and len(self.columns):
            return self.columns
        xmin, xmax, ymin, ymax = self.bounds[:4]
        x0 = 0.0 if xmin <= 0.0 <= xmax else 0.5 * (xmin + xmax)
        y0 = 0.0 if ymin <= 0.0 <= ymax else 0.5 * (ymin + ymax)
        return np.array([[x0, y0]])

    @property
    def cut_axis(self) -> tuple[float, float]:
        """``(x, y)`` of the column nearest the centre of the domain: the cuts go through it."""
        xmin, xmax, ymin, ymax = self.bounds[:4]
        middle = np.array([0.5 * (xmin + xmax), 0.5 * (ymin + ymax)])
        centres = self.centres
        x, y = centres[int(np.argmin(np.sum((centres - middle) ** 2, axis=1)))]
        return float(x), float(y)

    @property
    def z_top(self) -> float:
        """Height of the skin surface: z = 0 by contract, else the top of the block."""
        zmin, zmax = float(self.bounds[4]), float(self.bounds[5])
        tol = 1e-6 * max(1.0, zmax - zmin)
        return 0.0 if zmin < 0.0 <= zmax + tol else zmax

    @property
    def z_crop(self) -> float:
        """Lowest z shown in the cropped views."""
        depth = _as_float(self.meta.get("column_depth_um"))
        zmin = float(self.bounds[4])
        if self.view.depth_um is not None:
            return max(zmin, self.z_top - self.view.depth_um)
        if depth is None or depth <= 0:
            return zmin
        return max(zmin, self.z_top - CROP_FACTOR * depth)

    def has_point(self, name: str) -> bool:
        """Whether the mesh carries point array ``name``."""
        return name in self.mesh.point_data

    def has_cell(self, name: str) -> bool:
        """Whether the mesh carries cell array ``name``."""
        return name in self.mesh.cell_data

    def _layers(self) -> list[dict[str, Any]]:
        """The ``layers`` entries of the metadata that are JSON objects."""
        layers = self.meta.get("layers")
        if not isinstance(layers, list):
            return []
        return [layer if isinstance(layer, dict) else {} for layer in layers]

    def layer_names(self) -> list[str]:
        """Layer names from the metadata, or generic names from the ``layer`` array."""
        names = [str(layer.get("name", f"layer {i}")) for i, layer in enumerate(self._layers())]
        if self.has_cell("layer"):
            n = int(np.max(self.mesh.cell_data["layer"])) + 1 if self.mesh.n_cells else 0
            names += [f"layer {i}" for i in range(len(names), n)]
        return names

    def interface_depths(self) -> list[float]:
        """Heights z of the layer interfaces (not the top and bottom of the block)."""
        zs: list[float] = []
        zmin = float(self.bounds[4])
        for layer in self._layers():
            bottom = _as_float(layer.get("bottom_um"))
            if bottom is None:
                continue
            z = self.z_top - bottom
            if z - zmin > 1e-6 * max(1.0, abs(zmin)) and z < self.z_top:
                zs.append(z)
        return zs


# --------------------------------------------------------------------------- helpers


def _as_float(value: Any) -> float | None:
    """Convert ``value`` to a finite float, or None."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _pretty_layer(name: str) -> str:
    """``"papillary_dermis"`` -> ``"papillary dermis"``."""
    return name.replace("_", " ")


def _layer_color(i: int) -> str:
    """Categorical colour for layer ``i``."""
    return LAYER_COLORS[i % len(LAYER_COLORS)]


def _nice_factor(x: float) -> float:
    """Round a positive number to the nearest (in log) 1, 2 or 5 times a power of ten."""
    if x <= 0 or not math.isfinite(x):
        return 1.0
    exp = math.floor(math.log10(x))
    candidates = [m * 10.0**e for e in (exp, exp + 1) for m in (1.0, 2.0, 5.0)]
    return min(candidates, key=lambda c: abs(math.log(c / x)))


def _fmt_factor(f: float) -> str:
    """Format a magnification factor compactly (``20``, ``0.5``, ``2e+04``)."""
    return f"{f:g}"


def _round_ticks(lo: float, hi: float, target: float = 6) -> tuple[float, float, int] | None:
    """Round tick positions inside ``[lo, hi]``.

    Args:
        lo: Lower end of the interval.
        hi: Upper end of the interval.
        target: Wanted number of ticks.

    Returns:
        ``(first, last, count)`` of equally spaced round values, with the step
        (1, 2, 2.5 or 5 times a power of ten) whose tick count is closest to
        ``target`` (the larger step on ties), or None for an empty interval.
    """
    span = hi - lo
    if not (span > 0 and math.isfinite(span)):
        return None
    eps = 1e-9 * span
    exp = math.floor(math.log10(span))
    best: tuple[float, float, int] | None = None
    for step in (m * 10.0**e for e in range(exp + 1, exp - 3, -1) for m in (5.0, 2.5, 2.0, 1.0)):
        first = math.ceil((lo - eps) / step) * step
        last = math.floor((hi + eps) / step) * step
        n = round((last - first) / step) + 1
        if n >= 2 and (best is None or abs(n - target) < abs(best[2] - target)):
            best = (first, last, n)
    return best


def _mirror_planes(meta: dict[str, Any], bounds: tuple[float, ...]) -> list[tuple[int, float]]:
    """The symmetry planes named in ``mirror``: ``(axis, coordinate)`` of x = xmin and y = ymin.

    The coordinates come from ``extent_um`` when it is valid, else from ``bounds``.
    """
    mirror = meta.get("mirror")
    if not isinstance(mirror, list):
        return []
    extent = meta.get("extent_um")
    if not (isinstance(extent, list) and len(extent) == 4):
        extent = [None] * 4
    planes = []
    for axis, name in enumerate("xy"):
        if name in mirror:
            low = _as_float(extent[2 * axis])
            planes.append((axis, float(bounds[2 * axis]) if low is None else low))
    return planes


def _reflect(mesh: pv.UnstructuredGrid, planes: list[tuple[int, float]]) -> pv.UnstructuredGrid:
    """Unfold ``mesh`` across each symmetry plane: the mesh plus its mirror image.

    Point and cell data are copied; vectors (3-component arrays such as
    ``displacement_um``) get their component normal to the plane negated.
    """
    import pyvista as pv

    for axis, coord in planes:
        normal = np.eye(3)[axis]
        image = mesh.reflect(normal, point=coord * normal, transform_all_input_vectors=True)
        mesh = pv.merge([mesh, image], merge_points=False)  # merged by clean()
    return mesh


def _column_centres(meta: dict[str, Any], planes: list[tuple[int, float]]) -> np.ndarray | None:
    """Centres ``(n, 2)`` from ``columns_um`` with their mirror images, or None if absent."""
    try:
        xy = np.asarray(meta.get("columns_um"), dtype=float).reshape(-1, 2)
    except (TypeError, ValueError):
        return None
    xy = xy[np.all(np.isfinite(xy), axis=1)]
    if not len(xy):
        return None
    for axis, coord in planes:
        image = xy.copy()
        image[:, axis] = 2.0 * coord - image[:, axis]
        xy = np.vstack([xy, image])
    # Drop the images that fall on their original (centres on a symmetry plane).
    _, first = np.unique(np.round(xy, 3) + 0.0, axis=0, return_index=True)
    return xy[np.sort(first)]


def _read_meta(path: Path) -> dict[str, Any]:
    """The JSON metadata next to a grid, or an empty dict (with a warning)."""
    if not path.is_file():
        logger.warning("no %s: no layer names or crop depth", path)
        return {}
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        logger.warning("could not parse %s: no layer names or crop depth", path)
        return {}
    return meta if isinstance(meta, dict) else {}


def _read_grid(vtu: Path, what: str) -> Snapshot | None:
    """Read a grid and its metadata (same name, ``.json``), unfolded across symmetry planes.

    Points duplicated along partition seams and mirror planes are merged.

    Args:
        vtu: The VTU file.
        what: The pictures skipped when the grid is unusable (for the log).

    Returns:
        The grid with its metadata, or None if the file is missing, unreadable or empty.
    """
    import pyvista as pv

    if not vtu.is_file():
        logger.warning("no grid at %s: skipping %s", vtu, what)
        return None
    try:
        mesh = pv.read(vtu)
    except Exception:  # any reader failure means "no pictures"
        logger.exception("could not read %s", vtu)
        return None
    if not isinstance(mesh, pv.UnstructuredGrid):
        mesh = mesh.cast_to_unstructured_grid()
    if mesh.n_cells == 0:
        logger.warning("%s has no cells: skipping %s", vtu, what)
        return None
    meta = _read_meta(vtu.with_suffix(".json"))
    planes = _mirror_planes(meta, mesh.bounds)
    if planes:
        mesh = _reflect(mesh, planes)
    # Partition seams repeat points whose coordinates may differ in the last bits: merge
    # within a millionth of the block size (far below any element).
    tolerance = 1e-6 * float(np.linalg.norm(np.subtract(mesh.bounds[1::2], mesh.bounds[0::2])))
    try:
        mesh = mesh.clean(tolerance=tolerance, produce_merge_map=False)
    except Exception:  # seams are harmless, merging is cosmetic
        logger.debug("clean() failed, using the mesh with duplicated seam points", exc_info=True)
    return Snapshot(
        mesh=mesh,
        meta=meta,
        bounds=tuple(float(b) for b in mesh.bounds),
        columns=_column_centres(meta, planes),
    )


def load_snapshot(result_dir: Path) -> Snapshot | None:
    """Read ``fields/snapshot.vtu`` and ``fields/snapshot.json``.

    Symmetry planes are unfolded (see :func:`_read_grid`), and the Omega
    arrays get ``log10`` companions clipped at :data:`OMEGA_FLOOR`.

    Args:
        result_dir: The results directory.

    Returns:
        The snapshot, or None if the VTU file is missing or unreadable.
    """
    snap = _read_grid(Path(result_dir) / "fields" / "snapshot.vtu", "the field pictures")
    if snap is None:
        return None
    for src, dst in (("omega_collagen", _LOG_COLLAGEN), ("omega_cell", _LOG_CELL)):
        if snap.has_point(src):
            omega = np.nan_to_num(np.asarray(snap.mesh.point_data[src], dtype=float), nan=0.0)
            snap.mesh.point_data[dst] = np.log10(np.clip(omega, OMEGA_FLOOR, None))
    return snap


def load_mesh(result_dir: Path) -> Snapshot | None:
    """Read ``mesh.vtu`` and ``mesh.json`` (written by ``mtz mesh``) like a snapshot.

    Args:
        result_dir: The directory holding the mesh files.

    Returns:
        The mesh (cell data ``layer`` and ``in_column`` only), or None if missing.
    """
    return _read_grid(Path(result_dir) / "mesh.vtu", "the mesh pictures")


def _font_file() -> str | None:
    """Path of the DejaVu Sans font shipped with matplotlib (has Ω, µ, °, ×), if found."""
    global _FONT_FILE
    if _FONT_FILE is None:
        try:
            import matplotlib

            path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
            _FONT_FILE = str(path) if path.is_file() else ""
        except (ImportError, OSError):  # fall back to VTK's own font
            _FONT_FILE = ""
    return _FONT_FILE or None


_FONT_FILE: str | None = None


def _style_text(prop: Any, size: int | None = None, color: str = "black") -> None:
    """Plain (no bold, italic or shadow) black text in DejaVu Sans on a vtkTextProperty."""
    import pyvista as pv

    font = _font_file()
    if font:
        prop.SetFontFamily(4)  # VTK_FONT_FILE
        prop.SetFontFile(font)
    prop.SetBold(False)
    prop.SetItalic(False)
    prop.SetShadow(False)
    prop.SetColor(pv.Color(color).float_rgb)
    if size is not None:
        prop.SetFontSize(size)


def _omega(text: str) -> str:
    """Use the Greek letter if the font has it, else the word."""
    return text if _font_file() else text.replace("Ω", "Omega ").replace("≥", ">=")


def _fmt_um(value: float) -> str:
    """A coordinate in whole micrometres, never ``-0``."""
    return f"{round(value):d}"


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


def _layer_rgb(layer: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Exact categorical RGB (uint8) per cell from the layer ids, and the ids present."""
    import pyvista as pv

    ids = np.clip(np.asarray(layer).astype(int), 0, None)
    present = sorted(set(ids.tolist()))
    table = np.array([pv.Color(_layer_color(i)).int_rgb for i in range(max(present) + 1)])
    return table[ids].astype(np.uint8), present


def _layer_legend(snap: Snapshot, present: list[int]) -> list[tuple[str, str, str]]:
    """Legend entries (name, colour, ``"patch"``) of the layers ``present``."""
    names = snap.layer_names()
    return [
        (_pretty_layer(names[i]) if i < len(names) else f"layer {i}", _layer_color(i), "patch")
        for i in present
    ]


def _new_plotter() -> pv.Plotter:
    """A white, off-screen plotter of :data:`WINDOW_SIZE`."""
    import pyvista as pv

    pv.OFF_SCREEN = True
    p = pv.Plotter(off_screen=True, window_size=list(WINDOW_SIZE))
    p.set_background("white")
    return p


def _add_titles(p: pv.Plotter, title: str, subtitle: str = "") -> None:
    """Centred title (and smaller subtitle lines) at the top of the picture."""
    actor = p.add_text(title, position=(0.5, 0.955), viewport=True, font_size=17)
    _style_text(actor.prop)
    actor.prop.justification_horizontal = "center"
    actor.prop.justification_vertical = "center"
    if subtitle:
        actor = p.add_text(subtitle, position=(0.5, 0.905), viewport=True, font_size=12)
        _style_text(actor.prop, color="#333333")
        actor.prop.justification_horizontal = "center"
        actor.prop.justification_vertical = "top"


def _add_legend(
    p: pv.Plotter,
    entries: list[tuple[str, str, str]],
    x: float,
    y_top: float,
    width: float,
    row: float = 0.045,
) -> None:
    """A legend box with black text and coloured symbols.

    Args:
        p: The plotter.
        entries: ``(label, colour, kind)`` with kind ``"patch"`` (square) or
            ``"line"`` (thick bar).
        x: Left edge, normalized viewport coordinates.
        y_top: Top edge, normalized viewport coordinates.
        width: Largest width, normalized viewport coordinates.
        row: Height of one entry, normalized viewport coordinates.
    """
    import pyvista as pv
    import vtk

    if not entries:
        return
    legend = vtk.vtkLegendBoxActor()
    legend.SetNumberOfEntries(len(entries))

    def quad(x0: float, x1: float, y0: float, y1: float) -> list[list[float]]:
        return [[x0, y0, 0.0], [x1, y0, 0.0], [x1, y1, 0.0], [x0, y1, 0.0]]

    for i, (label, color, kind) in enumerate(entries):
        # Every symbol spans the same box (a white pad first, drawn underneath)
        # so all get the same size and keep a gap to their text.
        shape = quad(0.45, 1.25, 0.1, 0.9) if kind == "patch" else quad(0.0, 1.7, 0.36, 0.64)
        sym = pv.PolyData(
            np.array(quad(0.0, 2.1, 0.0, 1.0) + shape), faces=[4, 0, 1, 2, 3, 4, 4, 5, 6, 7]
        )
        sym.cell_data["rgb"] = np.array([[255, 255, 255], pv.Color(color).int_rgb], dtype=np.uint8)
        sym.cell_data.active_scalars_name = "rgb"
        legend.SetEntry(i, sym, label, (0.0, 0.0, 0.0))  # black text
    legend.ScalarVisibilityOn()  # symbols coloured by their own RGB
    _style_text(legend.GetEntryTextProperty())
    legend.UseBackgroundOn()
    legend.SetBackgroundColor(1.0, 1.0, 1.0)
    legend.BorderOn()
    legend.GetBoxProperty().SetColor(0.6, 0.6, 0.6)
    legend.SetPadding(6)
    height = row * len(entries) + 0.02
    # vtkLegendBoxActor scales the text to fill the box: size the box to the
    # longest label so that the font size does not depend on the labels.
    longest = max(len(label) for label, _, _ in entries)
    width = min(width, 0.07 + 0.0085 * longest)
    legend.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
    legend.GetPositionCoordinate().SetValue(x, y_top - height)
    legend.GetPosition2Coordinate().SetCoordinateSystemToNormalizedViewport()
    legend.GetPosition2Coordinate().SetValue(width, height)
    p.add_actor(legend, reset_camera=False, pickable=False)


def _add_scalar_bar(p: pv.Plotter, actor: Any, title: str, frame: _Frame, fmt: str) -> None:
    """Vertical scalar bar for ``actor``'s colours, right of the cut and as tall."""
    height = max(frame.top - frame.bottom - 0.04, 0.4)
    y = max(0.08, 0.5 * (frame.bottom + frame.top - 0.04 - height))
    bar = p.add_scalar_bar(
        title=title + "\n",
        mapper=actor.mapper,
        vertical=True,
        position_x=min(frame.right + 0.06, 0.82),
        position_y=y,
        width=0.06,
        height=height,
        n_labels=6,
        fmt=fmt,
        color="black",
        title_font_size=17,
        label_font_size=16,
        unconstrained_font_size=True,
    )
    _style_text(bar.GetTitleTextProperty(), 17)
    _style_text(bar.GetLabelTextProperty(), 16)
    bar.GetTitleTextProperty().SetJustificationToLeft()


@dataclass
class _Frame:
    """Where a planar view sits in the picture (parallel projection).

    Two kinds of view: a vertical cut (``normal="y"``, the plane y = level
    seen from -y, x to the right, z up) and a top view (``normal="z"``, the
    plane z = level seen from +z, x to the right, y up).

    Attributes:
        bounds: ``(hmin, hmax, vmin, vmax)`` of the view along its horizontal
            (x) and vertical (z or y) axes, micrometres.
        scale: Micrometres per unit of normalized viewport height.
        left, right, bottom, top: The view's edges, normalized viewport coordinates.
        normal: ``"y"`` (cut) or ``"z"`` (top view).
        level: Coordinate of the viewed plane along the normal, micrometres.
    """

    bounds: tuple[float, float, float, float]
    scale: float
    left: float
    right: float
    bottom: float
    top: float
    normal: str = "y"
    level: float = 0.0

    @classmethod
    def fit(
        cls,
        bounds: tuple[float, float, float, float],
        box: tuple[float, float, float, float] = (0.10, 0.64, 0.13, 0.78),
        normal: str = "y",
        level: float = 0.0,
    ) -> _Frame:
        """Fit the view at true aspect into ``box = (x0, x1, y0, y1)`` (normalized), centred."""
        hmin, hmax, vmin, vmax = bounds
        width, height = max(hmax - hmin, 1e-9), max(vmax - vmin, 1e-9)
        aspect = WINDOW_SIZE[0] / WINDOW_SIZE[1]
        x0, x1, y0, y1 = box
        scale = max(height / (y1 - y0), width / ((x1 - x0) * aspect))
        half_w = 0.5 * width / (scale * aspect)
        half_h = 0.5 * height / scale
        cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
        return cls(bounds, scale, cx - half_w, cx + half_w, cy - half_h, cy + half_h, normal, level)

    @property
    def axes(self) -> tuple[str, str]:
        """Names of the horizontal and vertical axes of the view."""
        return ("x", "z") if self.normal == "y" else ("x", "y")

    def world(self, h: float, v: float, lift: float = 0.0) -> tuple[float, float, float]:
        """The 3D point at view coordinates ``(h, v)``, ``lift`` toward the camera."""
        if self.normal == "y":
            return (h, self.level - lift, v)
        return (h, v, self.level + lift)

    def to_view(self, h: float, v: float) -> tuple[float, float]:
        """Normalized picture coordinates of the view point ``(h, v)``."""
        hmin, hmax, vmin, vmax = self.bounds
        aspect = WINDOW_SIZE[0] / WINDOW_SIZE[1]
        nx = 0.5 * (self.left + self.right) + (h - 0.5 * (hmin + hmax)) / (self.scale * aspect)
        ny = 0.5 * (self.bottom + self.top) + (v - 0.5 * (vmin + vmax)) / self.scale
        return nx, ny

    def apply_camera(self, p: pv.Plotter) -> None:
        """Point the camera so the view lands on its rectangle; call after adding actors."""
        hmin, hmax, vmin, vmax = self.bounds
        aspect = WINDOW_SIZE[0] / WINDOW_SIZE[1]
        ch, cv = 0.5 * (hmin + hmax), 0.5 * (vmin + vmax)
        bx, by = 0.5 * (self.left + self.right), 0.5 * (self.bottom + self.top)
        fh = ch - (bx - 0.5) * self.scale * aspect
        fv = cv - (by - 0.5) * self.scale
        dist = 10.0 * max(hmax - hmin, vmax - vmin, 1.0)
        p.enable_parallel_projection()
        p.camera.focal_point = self.world(fh, fv)
        p.camera.position = self.world(fh, fv, dist)
        p.camera.up = (0.0, 0.0, 1.0) if self.normal == "y" else (0.0, 1.0, 0.0)
        p.camera.parallel_scale = 0.5 * self.scale
        p.reset_camera_clipping_range()


def _add_rulers(p: pv.Plotter, frame: _Frame) -> None:
    """Axes with round micrometre ticks left of and below a planar view.

    Lines and ticks are drawn in the world (in front of the viewed plane);
    the numbers are text placed at the matching picture positions, so their
    size does not depend on the length of the axis.
    """
    import pyvista as pv

    hmin, hmax, vmin, vmax = frame.bounds
    gap = 0.025 * frame.scale  # 2.5 % of the picture height, in micrometres
    tick = 0.012 * frame.scale
    lift = 0.05 * (hmax - hmin)
    lines: list[tuple[tuple[float, float], tuple[float, float]]] = []
    labels: list[tuple[str, tuple[float, float], str, str]] = []

    # About one number per 90 px of height and per 110 px of width.
    ticks = _round_ticks(vmin, vmax, max(2.0, (frame.top - frame.bottom) * WINDOW_SIZE[1] / 90))
    ha = hmin - gap
    lines.append(((ha, vmin), (ha, vmax)))
    if ticks is not None:
        a, b, n = ticks
        for v in np.linspace(a, b, n):
            lines.append(((ha - tick, v), (ha, v)))
            labels.append((f"{v:.0f}", frame.to_view(ha - 1.6 * tick, v), "right", "center"))
    ticks = _round_ticks(hmin, hmax, max(2.0, (frame.right - frame.left) * WINDOW_SIZE[0] / 110))
    va = vmin - gap
    lines.append(((hmin, va), (hmax, va)))
    if ticks is not None:
        a, b, n = ticks
        for h in np.linspace(a, b, n):
            lines.append(((h, va - tick), (h, va)))
            labels.append((f"{h:.0f}", frame.to_view(h, va - 1.6 * tick), "center", "top"))
    for pa, pb in lines:
        p.add_mesh(
            pv.Line(frame.world(*pa, lift), frame.world(*pb, lift)),
            color="black",
            line_width=1.5,
            lighting=False,
            reset_camera=False,
        )
    h_name, v_name = frame.axes
    nx, ny = frame.to_view(ha, vmax)
    labels.append((f"{v_name} (µm)", (nx, ny + 0.025), "center", "bottom"))
    nx, ny = frame.to_view(0.5 * (hmin + hmax), va)
    labels.append((f"{h_name} (µm)", (nx, ny - 0.05), "center", "top"))
    for text, pos, horizontal, vertical in labels:
        actor = p.add_text(text, position=pos, viewport=True, font_size=12)
        _style_text(actor.prop)
        actor.prop.justification_horizontal = horizontal
        actor.prop.justification_vertical = vertical


def _setup_cut(
    p: pv.Plotter, snap: Snapshot, cut: pv.DataSet, x_range: tuple[float, float] = (0.11, 0.72)
) -> _Frame:
    """Fit a cut into the picture and draw rulers with round micrometre ticks.

    Args:
        p: The plotter.
        snap: The snapshot (for the crop depth and the plane of the cut).
        cut: The cropped cut.
        x_range: Normalized horizontal band the cut is centred in (the rest
            of the width is for the scalar bar or the legend).

    Returns:
        Where the cut sits in the picture; call its ``apply_camera`` last.
    """
    xmin, xmax, _, _, zmin, zmax = cut.bounds
    zmin = max(zmin, snap.z_crop)
    view = snap.view
    if view.half_width_um is not None:
        xc = snap.cut_axis[0]
        xmin, xmax = xc - view.half_width_um, xc + view.half_width_um
    if view.depth_um is not None:
        zmin, zmax = snap.z_top - view.depth_um, max(zmax, snap.z_top)
    frame = _Frame.fit(
        (xmin, xmax, zmin, zmax), (*x_range, 0.13, 0.78), normal="y", level=snap.cut_axis[1]
    )
    _add_rulers(p, frame)
    return frame


def _setup_top(
    p: pv.Plotter, snap: Snapshot, x_range: tuple[float, float] = (0.11, 0.64)
) -> _Frame:
    """Fit the top view of the whole block into the picture and draw rulers.

    Args:
        p: The plotter.
        snap: The snapshot (for the extent and the skin surface height).
        x_range: Normalized horizontal band the view is centred in.

    Returns:
        Where the view sits in the picture; call its ``apply_camera`` last.
    """
    xmin, xmax, ymin, ymax = snap.bounds[:4]
    frame = _Frame.fit(
        (xmin, xmax, ymin, ymax), (*x_range, 0.13, 0.80), normal="z", level=snap.z_top
    )
    _add_rulers(p, frame)
    return frame


def _add_interfaces(p: pv.Plotter, snap: Snapshot, cut: pv.DataSet, color: str) -> None:
    """Draw the layer interfaces (horizontal lines at the layer bottoms) on a cut."""
    import pyvista as pv

    xmin, xmax = cut.bounds[0], cut.bounds[1]
    y = snap.cut_axis[1] - 0.01 * (xmax - xmin)
    for z in snap.interface_depths():
        if z < snap.z_crop:
            continue
        line = pv.Line((xmin, y, z), (xmax, y, z))
        p.add_mesh(line, color=color, line_width=1.5, lighting=False, reset_camera=False)


def _screenshot(p: pv.Plotter, path: Path) -> Path:
    """Save the plotter's picture to ``path`` and close it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        p.screenshot(str(path))
    finally:
        p.close()
    logger.info("wrote %s", path)
    return path


# --------------------------------------------------------------------------- pictures


_TEMPERATURE_ARRAYS = ("temperature_end_of_pulse_C", "temperature_peak_C", "temperature_end_C")


def _temperature_range(snap: Snapshot) -> tuple[float, float] | None:
    """Colour range of every temperature picture of a case: coolest to hottest value of any field.

    The view's range (:attr:`View.temperature_C`) wins when set, so that the
    cases of a study share one scale.
    """
    if snap.view.temperature_C is not None:
        return snap.view.temperature_C
    lows, highs = [], []
    for name in _TEMPERATURE_ARRAYS:
        if snap.has_point(name):
            values = np.asarray(snap.mesh.point_data[name], dtype=float)
            if values.size and np.isfinite(values).any():
                lows.append(float(np.nanmin(values)))
                highs.append(float(np.nanmax(values)))
    if not lows:
        return None
    lo, hi = min(lows), max(highs)
    return lo, max(hi, lo + 1e-6)


def _add_layer_labels(p: pv.Plotter, snap: Snapshot, frame: _Frame, color: str) -> None:
    """Layer names inside a cut, at the left edge, half-way down each layer that has room."""
    names = snap.layer_names()
    hmin, hmax, vmin, vmax = frame.bounds
    room = 0.035 * frame.scale  # a line of text, micrometres
    for i, layer in enumerate(snap._layers()):
        top, bottom = _as_float(layer.get("top_um")), _as_float(layer.get("bottom_um"))
        if top is None or bottom is None:
            continue
        z_hi = min(snap.z_top - top, vmax)
        z_lo = max(snap.z_top - bottom, vmin)
        if z_hi - z_lo < room or i >= len(names):
            continue
        nx, ny = frame.to_view(hmin + 0.02 * (hmax - hmin), 0.5 * (z_hi + z_lo))
        actor = p.add_text(_pretty_layer(names[i]), position=(nx, ny), viewport=True, font_size=10)
        _style_text(actor.prop, color=color)
        actor.prop.justification_horizontal = "left"
        actor.prop.justification_vertical = "center"


def _render_temperature_cut(
    snap: Snapshot, out_dir: Path, name: str, title: str, when: str, png: str
) -> Path | None:
    """A vertical cut through a column axis coloured by the temperature field ``name``.

    Args:
        snap: The loaded snapshot.
        out_dir: Directory for the PNG.
        name: Point array (°C).
        title: Picture title.
        when: What time the field is (first words of the subtitle), or "".
        png: File name.

    Returns:
        Path of the PNG, or None (with a warning) when the snapshot lacks ``name``.
    """
    if not snap.has_point(name):
        logger.warning("no %s array: skipping %s", name, png)
        return None
    cut = _cut(snap)
    if cut is None:
        return None
    clim = _temperature_range(snap)
    values = np.asarray(cut.point_data[name], dtype=float)
    tmax = float(np.nanmax(values))
    sub = (when + ", " if when else "") + _cut_label(snap)
    sub += f"\nmax in view {tmax:.0f} °C; thin grey lines: layer interfaces"

    p = _new_plotter()
    actor = p.add_mesh(
        cut,
        scalars=name,
        cmap=TEMPERATURE_CMAP,
        clim=list(clim) if clim else None,
        show_scalar_bar=False,
        lighting=False,
    )
    _add_interfaces(p, snap, cut, color="#bdbdbd")
    frame = _setup_cut(p, snap, cut, x_range=(0.11, 0.74))
    _add_layer_labels(p, snap, frame, color="#dddddd")
    _add_scalar_bar(p, actor, "Temperature (°C)", frame, "%.0f")
    _add_titles(p, title, sub)
    frame.apply_camera(p)
    return _screenshot(p, out_dir / png)


def render_temperature(snap: Snapshot, out_dir: Path) -> Path | None:
    """Vertical cut through a column axis coloured by the temperature at the end of the pulse.

    Falls back to the peak temperature if the end-of-pulse array is missing.
    All temperature pictures of a case share one colour range.

    Args:
        snap: The loaded snapshot.
        out_dir: Directory for the PNG.

    Returns:
        Path of ``temperature_end_of_pulse.png``, or None if there is nothing to show.
    """
    name, title = "temperature_end_of_pulse_C", "Temperature at the end of the pulse"
    if not snap.has_point(name):
        name, title = "temperature_peak_C", "Peak temperature (end-of-pulse field missing)"
        if not snap.has_point(name):
            logger.warning("no temperature array in the snapshot: skipping %s", TEMPERATURE_PNG)
            return None
        logger.warning(
            "no temperature_end_of_pulse_C: %s shows the peak temperature", TEMPERATURE_PNG
        )
    pulse = _as_float(snap.meta.get("pulse_end_ms"))
    when = f"t = {pulse:g} ms" if pulse is not None and name.endswith("of_pulse_C") else ""
    return _render_temperature_cut(snap, out_dir, name, title, when, TEMPERATURE_PNG)


def render_temperature_peak(snap: Snapshot, out_dir: Path) -> Path | None:
    """The same cut coloured by the peak temperature (the highest value at each point over time).

    Returns:
        Path of ``temperature_peak.png``, or None without a ``temperature_peak_C`` array.
    """
    title = "Peak temperature (highest value over the run at each point)"
    return _render_temperature_cut(snap, out_dir, "temperature_peak_C", title, "",
                                   TEMPERATURE_PEAK_PNG)


def render_temperature_end(snap: Snapshot, out_dir: Path) -> Path | None:
    """The same cut coloured by the temperature at the end of the run (cooling).

    Returns:
        Path of ``temperature_end.png``, or None without a ``temperature_end_C`` array.
    """
    end = _as_float(snap.meta.get("end_ms"))
    when = f"t = {end:g} ms" if end is not None else ""
    return _render_temperature_cut(snap, out_dir, "temperature_end_C",
                                   "Temperature at the end of the run", when, TEMPERATURE_END_PNG)


def render_damage(snap: Snapshot, out_dir: Path) -> Path | None:
    """Vertical cut through a column axis coloured by layer, with the Omega = 1 contours.

    The contours are those of collagen (coagulation) and cells (necrosis).

    Args:
        snap: The loaded snapshot.
        out_dir: Directory for the PNG.

    Returns:
        Path of ``damage_contours.png``, or None if the cut is empty.
    """
    cut = _cut(snap)
    if cut is None:
        return None
    p = _new_plotter()
    legend: list[tuple[str, str, str]] = []
    if snap.has_cell("layer"):
        rgb, present = _layer_rgb(cut.cell_data["layer"])
        cut.cell_data["layer_rgb"] = rgb
        p.add_mesh(cut, scalars="layer_rgb", rgb=True, show_scalar_bar=False, lighting=False)
        legend += _layer_legend(snap, present)
    else:
        logger.warning("no 'layer' cell array: damage cut drawn in plain grey")
        p.add_mesh(cut, color="#dddddd", lighting=False)
    _add_interfaces(p, snap, cut, color="#8a8a8a")

    lift = 0.02 * (cut.bounds[1] - cut.bounds[0])
    notes = []
    for scalars, label, color, field_name in (
        (_LOG_COLLAGEN, "Ω collagen = 1: coagulation column", COLLAGEN_COLOR, "omega_collagen"),
        (_LOG_CELL, "Ω cell = 1: necrosis", NECROSIS_COLOR, "omega_cell"),
    ):
        if not snap.has_point(scalars):
            notes.append(f"no {field_name} field")
            logger.warning("no %s point array: no contour in %s", field_name, DAMAGE_PNG)
            continue
        line = _contour(cut, scalars)
        if line is None:
            below = bool(np.nanmax(cut.point_data[scalars]) < 0.0)
            notes.append(
                f"no {label.split(':')[0]} contour: "
                + (f"{field_name} < 1 in view" if below else f"{field_name} ≥ 1 everywhere in view")
            )
            continue
        p.add_mesh(
            _toward_camera(line, lift),
            color=color,
            line_width=5,
            lighting=False,
            reset_camera=False,
        )
        legend.append((_omega(label), color, "line"))
    frame = _setup_cut(p, snap, cut, x_range=(0.11, 0.52))
    _add_legend(
        p,
        legend,
        x=min(frame.right + 0.07, 0.62),
        y_top=0.78,
        width=0.97 - min(frame.right + 0.07, 0.62),
    )
    sub = _cut_label(snap) + ", coloured by skin layer"
    if notes:
        sub += "\n" + "; ".join(_omega(n) for n in notes)
    _add_titles(p, _omega("Thermal damage: Ω = 1 contours"), sub)
    frame.apply_camera(p)
    return _screenshot(p, out_dir / DAMAGE_PNG)


def render_von_mises(snap: Snapshot, out_dir: Path) -> Path | None:
    """Vertical cut through a column axis coloured by the von Mises stress, warped.

    The in-plane displacement is magnified so that its largest value shows as
    about 8 % of the block width; the factor is stated in the title and the
    undeformed outline is drawn in grey.

    Args:
        snap: The loaded snapshot.
        out_dir: Directory for the PNG.

    Returns:
        Path of ``von_mises.png``, or None if there is no stress field.
    """
    name = "von_mises_kPa"
    if not snap.has_cell(name):
        logger.warning("no %s cell array: skipping %s", name, VON_MISES_PNG)
        return None
    cut = _cut(snap)
    if cut is None:
        return None
    sub = _cut_label(snap)
    outline = cut.extract_surface(algorithm=None).extract_feature_edges(
        boundary_edges=True, feature_edges=False, manifold_edges=False, non_manifold_edges=False
    )
    shown = cut
    if snap.has_point("displacement_um"):
        u = np.nan_to_num(np.asarray(cut.point_data["displacement_um"], dtype=float)).copy()
        u[:, 1] = 0.0  # keep the cut in its plane
        umax = float(np.max(np.linalg.norm(u, axis=1))) if u.size else 0.0
        width = cut.bounds[1] - cut.bounds[0]
        if umax > 0.0 and math.isfinite(umax):
            factor = snap.view.warp or _nice_factor(WARP_SHARE * width / umax)
            cut.point_data["_u_inplane"] = u
            shown = cut.warp_by_vector("_u_inplane", factor=factor)
            title = f"von Mises stress on the deformed shape, displacement ×{_fmt_factor(factor)}"
            sub += f"\nlargest in-plane displacement {umax:.3g} µm; grey line: undeformed outline"
        else:
            title = "von Mises stress (displacement is zero)"
    else:
        title = "von Mises stress (no displacement field: undeformed shape)"

    smax = float(np.nanmax(cut.cell_data[name])) if cut.n_cells else 0.0
    smax = snap.view.von_mises_kPa or smax
    p = _new_plotter()
    actor = p.add_mesh(
        shown,
        scalars=name,
        cmap=STRESS_CMAP,
        clim=[0.0, smax if smax > 0 else 1.0],
        show_scalar_bar=False,
        lighting=False,
    )
    lift = 0.02 * (cut.bounds[1] - cut.bounds[0])
    if outline.n_points and shown is not cut:
        p.add_mesh(
            _toward_camera(outline, lift),
            color="#888888",
            line_width=1.5,
            lighting=False,
            reset_camera=False,
        )
    frame = _setup_cut(p, snap, cut, x_range=(0.11, 0.74))
    _add_scalar_bar(p, actor, "von Mises stress (kPa)", frame, "%.3g")
    _add_titles(p, title, sub)
    frame.apply_camera(p)
    return _screenshot(p, out_dir / VON_MISES_PNG)


_PRINCIPAL = ("principal_stress_1_kPa", "principal_stress_3_kPa")


def _principal_range(snap: Snapshot) -> float:
    """Half width of the principal stress colour range: the largest |sigma_1|, |sigma_3|."""
    if snap.view.principal_kPa is not None:
        return snap.view.principal_kPa
    peak = max(
        (float(np.nanmax(np.abs(snap.mesh.cell_data[n]))) for n in _PRINCIPAL if snap.has_cell(n)),
        default=0.0,
    )
    return peak if peak > 0 else 1.0


def _render_principal(snap: Snapshot, out_dir: Path, which: int) -> Path | None:
    """The cut coloured by principal stress ``which`` (1: largest, 3: smallest), blue to red."""
    name = f"principal_stress_{which}_kPa"
    png = PRINCIPAL_1_PNG if which == 1 else PRINCIPAL_3_PNG
    if not snap.has_cell(name):
        logger.warning("no %s cell array: skipping %s", name, png)
        return None
    cut = _cut(snap)
    if cut is None:
        return None
    half = _principal_range(snap)
    values = np.asarray(cut.cell_data[name], dtype=float)
    p = _new_plotter()
    actor = p.add_mesh(cut, scalars=name, cmap=DISPLACEMENT_CMAP, clim=[-half, half],
                       show_scalar_bar=False, lighting=False)
    _add_interfaces(p, snap, cut, color="#777777")
    frame = _setup_cut(p, snap, cut, x_range=(0.11, 0.74))
    _add_layer_labels(p, snap, frame, color="#222222")
    label = "σ" if _font_file() else "sigma "
    _add_scalar_bar(p, actor, f"{label}{which} (kPa), + tension", frame, "%.3g")
    kind = "largest (most tensile)" if which == 1 else "smallest (most compressive)"
    sub = (f"{_cut_label(snap)}, undeformed shape\nin view: {np.nanmin(values):.3g} to "
           f"{np.nanmax(values):.3g} kPa; red: tension, blue: compression")
    _add_titles(p, f"Principal stress {label}{which}: the {kind}", sub)
    frame.apply_camera(p)
    return _screenshot(p, out_dir / png)


def render_principal_stress_1(snap: Snapshot, out_dir: Path) -> Path | None:
    """The cut coloured by the largest principal stress (tension where the collagen shrank).

    Returns:
        Path of ``principal_stress_1.png``, or None without the array.
    """
    return _render_principal(snap, out_dir, 1)


def render_principal_stress_3(snap: Snapshot, out_dir: Path) -> Path | None:
    """The cut coloured by the smallest principal stress (compression), same colour range.

    Returns:
        Path of ``principal_stress_3.png``, or None without the array.
    """
    return _render_principal(snap, out_dir, 3)


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


def _scale_length(span: float) -> float:
    """A round length (1, 2 or 5 times a power of ten) about a quarter of ``span``."""
    target = 0.25 * span
    exp = math.floor(math.log10(target)) if target > 0 else 0
    candidates = [m * 10.0**e for e in (exp - 1, exp) for m in (1.0, 2.0, 5.0)]
    return max(c for c in candidates if c <= target) if target > 0 else 1.0


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


def _add_scale_bar_2d(p: pv.Plotter, frame: _Frame, color: str = "black") -> None:
    """A histology-style length scale in the lower right corner of a planar view."""
    import pyvista as pv

    hmin, hmax, vmin, vmax = frame.bounds
    length = _scale_length(hmax - hmin)
    margin = 0.05 * (hmax - hmin)
    h1 = hmax - margin
    v = vmin + 0.04 * (vmax - vmin) + margin
    p.add_mesh(
        pv.Line(frame.world(h1 - length, v, 1.0), frame.world(h1, v, 1.0)),
        color=color, line_width=6, lighting=False, reset_camera=False,
    )
    nx, ny = frame.to_view(h1 - 0.5 * length, v)
    actor = p.add_text(f"{length:g} µm", position=(nx, ny + 0.012), viewport=True, font_size=12)
    _style_text(actor.prop, color=color)
    actor.prop.justification_horizontal = "center"
    actor.prop.justification_vertical = "bottom"


def _side_bar(p: pv.Plotter, actor: Any, title: str, fmt: str) -> None:
    """A scalar bar at the right of a 3D picture."""
    _add_scalar_bar(p, actor, title, _Frame((0, 1, 0, 1), 1.0, 0.1, 0.72, 0.2, 0.72), fmt)


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


#: Haematoxylin-and-eosin-like colours of the layers, by a word of the layer name.
HISTOLOGY_COLORS: tuple[tuple[str, str], ...] = (
    ("corneum", "#efb6cf"),
    ("epidermis", "#b77fb3"),
    ("papillary", "#f3a8c8"),
    ("reticular", "#e58db6"),
    ("dermis", "#e999bd"),
    ("fat", "#fbeef4"),
    ("hypodermis", "#fbeef4"),
)
#: Coagulated (denatured, hyalinised) collagen stains darker and bluer in H&E.
HISTOLOGY_COAGULATED: str = "#8e4f9e"
#: Necrotic tissue (cells dead, collagen intact) stains paler, without nuclei.
HISTOLOGY_NECROTIC: str = "#f1c9e0"
#: Nuclei (haematoxylin).
HISTOLOGY_NUCLEUS: str = "#4b2466"
#: Pixel size of the histology picture, micrometres per pixel at most.
HISTOLOGY_MAX_PIXEL_UM: float = 2.0


def _histology_color(name: str) -> str:
    """The H&E-like colour of a layer by name (pink dermis, purple epidermis, white fat)."""
    low = name.lower()
    return next((c for word, c in HISTOLOGY_COLORS if word in low), "#e999bd")


def _disks(mask: np.ndarray, radius: int) -> np.ndarray:
    """Grow each True pixel of ``mask`` into a disk of ``radius`` pixels."""
    out = mask.copy()
    for di in range(-radius, radius + 1):
        for dj in range(-radius, radius + 1):
            if di * di + dj * dj <= radius * radius:
                out |= np.roll(np.roll(mask, di, axis=0), dj, axis=1)
    return out


def render_histology(snap: Snapshot, out_dir: Path) -> Path | None:
    """A histology-like section of the damage: the cut stained as in H&E.

    The cut through a column axis is resampled on a pixel grid and coloured
    like a haematoxylin-and-eosin section: each layer its stain (pink dermis
    with collagen fibres, purple epidermis, pale fat cells) and scattered
    nuclei; coagulated collagen (weight 1 - exp(-Omega_collagen)) turns dark
    and homogeneous, necrotic cells (1 - exp(-Omega_cell)) lose their nuclei
    and pale. The texture is a fixed pseudo-random pattern, the same for
    every run; only the damage changes the picture.

    Returns:
        Path of ``histology.png``, or None without layer or damage data.
    """
    import pyvista as pv

    if not snap.has_cell("layer") or not snap.has_point("omega_collagen"):
        logger.warning("no layer or omega_collagen array: skipping %s", HISTOLOGY_PNG)
        return None
    x0, x1 = _cut_window(snap)
    z0, z1 = snap.z_crop, snap.z_top
    pixel = max((x1 - x0) / 700.0, (z1 - z0) / 560.0, 1e-6)
    if (x1 - x0) / HISTOLOGY_MAX_PIXEL_UM < 900:
        pixel = min(pixel, HISTOLOGY_MAX_PIXEL_UM)
    nx, nz = round((x1 - x0) / pixel) + 1, round((z1 - z0) / pixel) + 1
    y0 = snap.cut_axis[1] + 1e-7 * max(1.0, x1 - x0)
    plane = pv.ImageData(dimensions=(nx, 1, nz), spacing=(pixel, 1.0, pixel), origin=(x0, y0, z0))
    sampled = plane.sample(snap.mesh)
    valid = np.asarray(sampled.point_data["vtkValidPointMask"]).astype(bool).reshape(nz, nx)
    layer = np.asarray(sampled.point_data["layer"]).astype(int).reshape(nz, nx)
    omega_col = np.asarray(sampled.point_data["omega_collagen"], dtype=float).reshape(nz, nx)
    omega_cell = (
        np.asarray(sampled.point_data["omega_cell"], dtype=float).reshape(nz, nx)
        if "omega_cell" in sampled.point_data else np.zeros_like(omega_col)
    )
    f_col = 1.0 - np.exp(-np.clip(np.nan_to_num(omega_col), 0.0, 50.0))
    f_cell = 1.0 - np.exp(-np.clip(np.nan_to_num(omega_cell), 0.0, 50.0))

    names = snap.layer_names()
    table = np.array([pv.Color(_histology_color(names[i] if i < len(names) else "")).float_rgb
                      for i in range(max(int(layer.max()), 0) + 1)])
    rgb = table[np.clip(layer, 0, None)]
    x = x0 + pixel * np.arange(nx)[None, :]
    z = z0 + pixel * np.arange(nz)[:, None]
    low = [n.lower() for n in names]
    is_fat = np.isin(layer, [i for i, n in enumerate(low) if "fat" in n or "hypoderm" in n])
    is_dermis = np.isin(layer, [i for i, n in enumerate(low) if "dermis" in n and "epi" not in n])
    # Wavy collagen fibres in the dermis, fat cell membranes in the fat.
    fibres = np.sin(2 * np.pi * ((z - 0.0) / 14.0 + 0.35 * np.sin(x / 55.0)))
    shade = np.where(is_dermis, 1.0 + 0.06 * fibres * (1.0 - f_col), 1.0)
    membrane = (np.abs(np.sin(x / 22.0 + 0.6 * np.sin(z / 31.0)) * np.sin(z / 20.0)) < 0.09)
    rgb = rgb * shade[..., None]
    rgb = np.where((is_fat & membrane)[..., None], pv.Color("#e7a9c7").float_rgb, rgb)
    # Damage: necrosis pales and loses nuclei, coagulation darkens and homogenises.
    nec = np.asarray(pv.Color(HISTOLOGY_NECROTIC).float_rgb)
    coag = np.asarray(pv.Color(HISTOLOGY_COAGULATED).float_rgb)
    dermal = (~is_fat)[..., None]
    pale = 0.35 * f_cell[..., None]
    rgb = np.where(dermal, rgb * (1 - pale) + pale * nec, rgb)
    rgb = rgb * (1 - 0.8 * f_col[..., None]) + 0.8 * f_col[..., None] * coag
    # Nuclei: dense in the epidermis, sparse in the dermis, gone where the cells died.
    rng = np.random.default_rng(20240531)
    density = np.where(is_dermis, 0.0025, np.where(is_fat, 0.0006, 0.02)) * pixel**2 / 4.0
    seeds = (rng.random((nz, nx)) < density) & (rng.random((nz, nx)) > f_cell)
    nuclei = _disks(seeds, max(1, round(4.0 / pixel)))  # nuclei of about 8 µm
    rgb = np.where(nuclei[..., None], pv.Color(HISTOLOGY_NUCLEUS).float_rgb, rgb)
    rgb = np.where(valid[..., None], rgb, 1.0)  # outside the tissue (crater, air): slide glass
    plane.point_data["he_rgb"] = (np.clip(rgb, 0, 1).reshape(-1, 3) * 255).astype(np.uint8)

    p = _new_plotter()
    p.add_mesh(plane, scalars="he_rgb", rgb=True, lighting=False, show_scalar_bar=False)
    frame = _setup_cut(p, snap, plane, x_range=(0.11, 0.55))
    _add_layer_labels(p, snap, frame, color="#222222")
    _add_scale_bar_2d(p, frame)
    legend = [(_pretty_layer(n), _histology_color(n), "patch") for n in names[: len(table)]]
    legend += [
        (_omega("coagulated collagen (Ω collagen ≥ 1)"), HISTOLOGY_COAGULATED, "patch"),
        (_omega("necrosis, no nuclei (Ω cell ≥ 1)"), HISTOLOGY_NECROTIC, "patch"),
    ]
    x = min(frame.right + 0.07, 0.62)
    _add_legend(p, legend, x=x, y_top=0.78, width=0.97 - x)
    _add_titles(p, "Histology-like section (H&E style)", _cut_label(snap)
                + "\nsimulated stain from the damage fields; texture is illustrative")
    frame.apply_camera(p)
    return _screenshot(p, out_dir / HISTOLOGY_PNG)


#: Most triangles per surface in the interactive 3D view (decimated above).
VIEW3D_MAX_TRIANGLES: int = 6000

_VIEW3D_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
body { margin: 0; font-family: Helvetica, Arial, sans-serif; background: #fff; color: #222; }
#view { display: block; width: 100%; height: 100vh; cursor: grab; touch-action: none; }
#help { position: absolute; left: 10px; top: 8px; font-size: 13px; color: #444;
        background: rgba(255,255,255,0.8); padding: 2px 6px; }
#legend { position: absolute; right: 10px; top: 8px; font-size: 13px;
          background: rgba(255,255,255,0.85); padding: 4px 8px; border: 1px solid #ccc; }
#legend span { display: inline-block; width: 12px; height: 12px; margin-right: 6px;
               vertical-align: -1px; }
</style></head><body>
<canvas id="view"></canvas>
<div id="help">drag: rotate · wheel: zoom · double click: reset</div>
<div id="legend"></div>
<script type="application/json" id="scene">__SCENE__</script>
<script>
"use strict";
var scene = JSON.parse(document.getElementById("scene").textContent);
var canvas = document.getElementById("view"), ctx = canvas.getContext("2d");
var yaw0 = -0.65, pitch0 = 0.45, yaw = yaw0, pitch = pitch0, zoom = 1.0, drawn = 0;
var legend = document.getElementById("legend");
scene.meshes.concat(scene.lines).forEach(function (m) {
  if (!m.label) return;
  var row = document.createElement("div");
  var box = document.createElement("span");
  box.style.background = "rgb(" + m.color.join(",") + ")";
  row.appendChild(box); row.appendChild(document.createTextNode(m.label));
  legend.appendChild(row);
});
function rotate(p) {
  var x = p[0] - scene.centre[0], y = p[1] - scene.centre[1], z = p[2] - scene.centre[2];
  var cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
  var x1 = cy * x - sy * y, y1 = sy * x + cy * y;        // about z (up)
  return [x1, cp * y1 - sp * z, sp * y1 + cp * z];  // tilted: [right, depth, up]
}
function draw() {
  var w = canvas.clientWidth, h = canvas.clientHeight, dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(w * dpr)) { canvas.width = Math.round(w * dpr); }
  if (canvas.height !== Math.round(h * dpr)) { canvas.height = Math.round(h * dpr); }
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = "#ffffff"; ctx.fillRect(0, 0, w, h);
  var s = zoom * 0.42 * Math.min(w, h) / scene.radius;
  function px(q) { return [w / 2 + s * q[0], h / 2 - s * q[2]]; }
  var light = [0.35, -0.8, 0.5], ln = Math.hypot(light[0], light[1], light[2]);
  var tris = [];
  scene.meshes.forEach(function (m) {
    var pts = [];
    for (var i = 0; i < m.points.length; i += 3) pts.push(rotate(m.points.slice(i, i + 3)));
    for (var t = 0; t < m.tris.length; t += 3) {
      var a = pts[m.tris[t]], b = pts[m.tris[t + 1]], c = pts[m.tris[t + 2]];
      var u = [b[0] - a[0], b[1] - a[1], b[2] - a[2]], v = [c[0] - a[0], c[1] - a[1], c[2] - a[2]];
      var n = [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]];
      var nn = Math.hypot(n[0], n[1], n[2]) || 1;
      var dot = n[0] * light[0] + n[1] * light[1] + n[2] * light[2];
      var shade = 0.35 + 0.65 * Math.abs(dot / (nn * ln));
      tris.push([(a[1] + b[1] + c[1]) / 3, px(a), px(b), px(c), m, shade]);
    }
  });
  tris.sort(function (p, q) { return q[0] - p[0]; });     // far (large depth) first
  tris.forEach(function (t) {
    var m = t[4], k = t[5];
    var rgb = m.color.map(function (c) { return Math.round(c * k); });
    ctx.fillStyle = "rgba(" + rgb.join(",") + "," + m.alpha + ")";
    ctx.strokeStyle = ctx.fillStyle;
    ctx.beginPath(); ctx.moveTo(t[1][0], t[1][1]); ctx.lineTo(t[2][0], t[2][1]);
    ctx.lineTo(t[3][0], t[3][1]); ctx.closePath(); ctx.fill();
    if (m.alpha >= 1) { ctx.lineWidth = 0.5; ctx.stroke(); }
  });
  scene.lines.forEach(function (l) {
    ctx.strokeStyle = "rgb(" + l.color.join(",") + ")"; ctx.lineWidth = l.width || 1;
    for (var i = 0; i < l.segments.length; i += 6) {
      var a = px(rotate(l.segments.slice(i, i + 3)));
      var b = px(rotate(l.segments.slice(i + 3, i + 6)));
      ctx.beginPath(); ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]); ctx.stroke();
    }
  });
  var bar = scene.scale_um * s;                          // length scale, bottom left
  ctx.strokeStyle = "#000"; ctx.lineWidth = 4;
  ctx.beginPath(); ctx.moveTo(20, h - 24); ctx.lineTo(20 + bar, h - 24); ctx.stroke();
  ctx.fillStyle = "#000"; ctx.font = "14px Helvetica, Arial, sans-serif";
  ctx.fillText(scene.scale_um + " \u00b5m", 20, h - 34);
  drawn += 1;
  document.body.setAttribute("data-drawn", String(drawn));
}
var drag = null;
canvas.addEventListener("pointerdown", function (e) {
  drag = [e.clientX, e.clientY, yaw, pitch];
  try { canvas.setPointerCapture(e.pointerId); } catch (err) { /* synthetic events */ }
});
canvas.addEventListener("pointermove", function (e) {
  if (!drag) return;
  yaw = drag[2] + (e.clientX - drag[0]) * 0.01;
  pitch = Math.max(-1.5, Math.min(1.5, drag[3] + (e.clientY - drag[1]) * 0.01));
  draw();
});
canvas.addEventListener("pointerup", function () { drag = null; });
canvas.addEventListener("wheel", function (e) {
  e.preventDefault(); zoom *= Math.exp(-e.deltaY * 0.001); draw();
}, {passive: false});
canvas.addEventListener("dblclick", function () { yaw = yaw0; pitch = pitch0; zoom = 1; draw(); });
window.addEventListener("resize", draw);
draw();
</script></body></html>
"""


def _scene_mesh(surface: pv.PolyData, label: str, color: str, alpha: float) -> dict[str, Any]:
    """A triangle surface for the 3D page: rounded points (µm) and triangle indices."""
    import pyvista as pv

    tri = surface.extract_surface(algorithm=None).triangulate().clean()
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
    text = _VIEW3D_PAGE.replace("__TITLE__", title).replace(
        "__SCENE__", json.dumps(scene, separators=(",", ":")).replace("</", "<\\/")
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / VIEW3D_HTML
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    logger.info("wrote %s (%d kB)", path, path.stat().st_size // 1024)
    return path


def load_frames(result_dir: Path) -> tuple[Snapshot, list[tuple[float, str]]] | None:
    """Read the temperature frames (``fields/frames.vtu`` and ``frames.json``).

    Returns:
        The grid (unfolded like the snapshot) and ``(time_ms, array name)`` in
        time order, or None if there are no frames.
    """
    vtu = Path(result_dir) / "fields" / "frames.vtu"
    if not vtu.is_file():
        logger.info("no %s: no animation", vtu)
        return None
    snap = _read_grid(vtu, "the animation")
    if snap is None:
        return None
    times = snap.meta.get("frames_ms")
    if not isinstance(times, list):
        logger.warning("frames.json has no frames_ms: no animation")
        return None
    frames = [
        (float(t), f"temperature_{i:03d}_C")
        for i, t in enumerate(times)
        if _as_float(t) is not None and snap.has_point(f"temperature_{i:03d}_C")
    ]
    return (snap, frames) if frames else None


def _gif_palette() -> np.ndarray:
    """One GIF palette for every frame: 56 greys and 200 colours of the temperature map.

    The pictures hold only colours of the map (no lighting), white, black and grey text
    and lines, so a fixed palette keeps the colour bar free of bands and the frames
    consistent with one another.

    Returns:
        ``(256, 3)`` uint8 RGB.
    """
    import matplotlib as mpl

    cmap = mpl.colormaps[TEMPERATURE_CMAP]
    greys = np.repeat(np.linspace(255, 0, 56)[:, None], 3, axis=1)
    colours = cmap(np.linspace(0.0, 1.0, 200))[:, :3] * 255
    return np.vstack([greys, colours]).round().astype(np.uint8)


def _to_palette(rgb: np.ndarray, palette: np.ndarray) -> Any:
    """A ``P``-mode image of ``rgb`` with every pixel set to its nearest palette colour."""
    from PIL import Image

    flat = rgb.reshape(-1, 3).astype(np.int32)
    keys, inverse = np.unique(flat[:, 0] << 16 | flat[:, 1] << 8 | flat[:, 2], return_inverse=True)
    unique = np.column_stack([keys >> 16, (keys >> 8) & 255, keys & 255])
    distance = ((unique[:, None, :] - palette[None].astype(np.int32)) ** 2).sum(2)
    index = np.argmin(distance, axis=1).astype(np.uint8)[inverse.ravel()]
    img = Image.fromarray(index.reshape(rgb.shape[:2]), mode="P")
    img.putpalette(palette.ravel().tolist())
    return img


def render_animation(
    result_dir: Path, out_dir: Path, snap: Snapshot | None = None, scale: float = 2.0 / 3.0
) -> Path | None:
    """A GIF of the temperature on the cut through a column axis, during and after the pulse.

    Every frame uses the same camera and colour range (that of the snapshot
    when given, so the animation matches the temperature pictures).

    Args:
        result_dir: The results directory (``fields/frames.vtu``).
        out_dir: Directory for the GIF.
        snap: The loaded snapshot, for the colour range and the view.
        scale: Size of the GIF relative to :data:`WINDOW_SIZE`.

    Returns:
        Path of ``temperature.gif``, or None without frames.
    """
    loaded = load_frames(result_dir)
    if loaded is None:
        return None
    frames_snap, frames = loaded
    if snap is not None:
        frames_snap.view = snap.view
    cut = _cut(frames_snap)
    if cut is None:
        return None
    from PIL import Image

    clim = _temperature_range(snap) if snap is not None else None
    if clim is None:
        values = np.concatenate([np.asarray(cut.point_data[n], dtype=float) for _, n in frames])
        clim = (float(np.nanmin(values)), float(np.nanmax(values)) + 1e-6)
    pulse = _as_float(frames_snap.meta.get("pulse_end_ms"))
    cut.point_data["T_frame"] = np.asarray(cut.point_data[frames[0][1]], dtype=float).copy()
    p = _new_plotter()
    actor = p.add_mesh(cut, scalars="T_frame", cmap=TEMPERATURE_CMAP, clim=list(clim),
                       show_scalar_bar=False, lighting=False)
    _add_interfaces(p, frames_snap, cut, color="#bdbdbd")
    frame = _setup_cut(p, frames_snap, cut, x_range=(0.11, 0.74))
    _add_layer_labels(p, frames_snap, frame, color="#dddddd")
    _add_scalar_bar(p, actor, "Temperature (°C)", frame, "%.0f")
    _add_titles(p, "Temperature during and after the pulse", _cut_label(frames_snap))
    clock = p.add_text(" ", position=(0.5, 0.83), viewport=True, font_size=16)
    _style_text(clock.prop)
    clock.prop.justification_horizontal = "center"
    frame.apply_camera(p)
    images = []
    size = (int(WINDOW_SIZE[0] * scale), int(WINDOW_SIZE[1] * scale))
    palette = _gif_palette()
    try:
        for t, name in frames:
            cut.point_data["T_frame"][:] = np.asarray(cut.point_data[name], dtype=float)
            state = ""
            if pulse is not None:
                state = " (pulse on)" if 0 < t < pulse * (1 - 1e-9) else " (pulse off)"
                state = " (start of the pulse)" if t <= 0 else state
            clock.input = f"t = {t:.3g} ms{state}"
            p.render()
            img = Image.fromarray(p.screenshot(return_img=True)).resize(size, Image.LANCZOS)
            images.append(_to_palette(np.asarray(img.convert("RGB")), palette))
    finally:
        p.close()
    path = out_dir / ANIMATION_GIF
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.gif")
    durations = [400] * (len(images) - 1) + [1500]
    images[0].save(tmp, save_all=True, append_images=images[1:], duration=durations, loop=0)
    tmp.replace(path)
    logger.info("wrote %s", path)
    return path


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
        return "no mesh quality summary in mesh.json", ""
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


def _render_each(
    funcs: tuple[Callable[[Snapshot, Path], Path | None], ...], snap: Snapshot, out_dir: Path
) -> list[Path]:
    """Call each ``func(snap, out_dir)``; log failures and go on. Returns the written paths."""
    written = []
    for func in funcs:
        try:
            path = func(snap, out_dir)
        except Exception:  # never let a picture stop the run
            logger.exception("%s failed", func.__name__)
            continue
        if path is not None:
            written.append(path)
    return written


def render_mesh(result_dir: Path) -> list[Path]:
    """Pictures of the mesh alone (``mtz mesh``), from ``mesh.vtu`` and ``mesh.json``.

    Writes ``renders/mesh_cut.png`` and, for patterns of several columns,
    ``renders/mesh_top.png``. Failures are logged, never raised.

    Args:
        result_dir: The directory holding the mesh files.

    Returns:
        Paths of the PNG files written.
    """
    result_dir = Path(result_dir)
    try:
        snap = load_mesh(result_dir)
    except Exception:
        logger.exception("could not load the mesh")
        return []
    if snap is None:
        return []
    return _render_each((render_mesh_cut, render_mesh_top), snap, result_dir / RENDERS_DIR)


def read_probes(path: Path) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]] | None:
    """Parse ``probes.csv``.

    Args:
        path: The CSV file (header ``time_ms,<probe>_T_C,<probe>_omega_cell,...``).

    Returns:
        ``(time_ms, {probe: {quantity: values}})`` with quantity ``T_C`` or
        ``omega_<kind>`` (other columns: the text after the last underscore),
        or None if the file is missing or has no usable data.
    """
    if not path.is_file():
        return None
    try:
        with path.open(newline="") as fh:
            rows = list(csv.reader(fh))
    except OSError:
        logger.warning("could not read %s", path)
        return None
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if len(rows) < 2:
        logger.warning("%s has no data rows", path)
        return None
    header = [h.strip() for h in rows[0]]
    data = np.full((len(rows) - 1, len(header)), np.nan)
    for i, row in enumerate(rows[1:]):
        for j, cell in enumerate(row[: len(header)]):
            value = _as_float(cell)
            data[i, j] = np.nan if value is None else value
    tcol = next((j for j, h in enumerate(header) if h.lower().startswith("time")), 0)
    time = data[:, tcol]
    probes: dict[str, dict[str, np.ndarray]] = {}
    for j, h in enumerate(header):
        if j == tcol:
            continue
        match = re.fullmatch(r"(.+?)_(T_C|omega_[A-Za-z0-9]+)", h)
        if match:
            probe, qty = match.groups()
        else:
            probe, _, qty = h.rpartition("_")
        probes.setdefault(probe or h, {})[qty or h] = data[:, j]
    return time, probes


def render_probes(
    result_dir: Path, out_dir: Path, pulse_end_ms: float | None = None
) -> Path | None:
    """Temperature (and damage, if present) against time at each probe.

    Args:
        result_dir: The results directory holding ``probes.csv``.
        out_dir: Directory for the PNG.
        pulse_end_ms: End of the laser pulse, marked by a vertical line if known.

    Returns:
        Path of ``probes.png``, or None if there is no probe file.
    """
    parsed = read_probes(Path(result_dir) / "probes.csv")
    if parsed is None:
        logger.warning("no usable probes.csv in %s: skipping %s", result_dir, PROBES_PNG)
        return None
    time, probes = parsed
    temps = {k: v["T_C"] for k, v in probes.items() if "T_C" in v}
    damage = {(k, q): v[q] for k, v in probes.items() for q in v if q.startswith("omega_")}
    if not temps and not damage:
        logger.warning("probes.csv has no temperature or damage columns: skipping %s", PROBES_PNG)
        return None

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ncols = 2 if damage else 1
    fig = Figure(figsize=(WINDOW_SIZE[0] / 100, WINDOW_SIZE[1] / 100), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    positive = time > 0
    logx = bool(np.count_nonzero(positive) >= 2) and (
        np.nanmax(time[positive]) / np.nanmin(time[positive]) > 20.0
    )
    mask = positive if logx else np.isfinite(time)
    import matplotlib as mpl

    cycle = mpl.colormaps["tab10"].colors
    colors = {name: cycle[i % len(cycle)] for i, name in enumerate(probes)}

    ax = axes[0]
    for name, values in temps.items():
        ax.plot(time[mask], values[mask], lw=2, color=colors[name], label=name)
    ax.set_title("Temperature at the probes")
    ax.set_ylabel("Temperature (°C)")
    if damage:
        ax2 = axes[1]
        for (name, qty), values in damage.items():
            ls = {"omega_collagen": "-", "omega_cell": "--"}.get(qty, ":")
            y = np.clip(values[mask], OMEGA_FLOOR, None)
            ax2.plot(
                time[mask],
                y,
                ls=ls,
                lw=2,
                color=colors[name],
                label=f"{name} {qty.replace('omega_', 'Ω ')}",
            )
        ax2.set_yscale("log")
        ax2.axhline(1.0, color="k", lw=1, alpha=0.6)
        ax2.text(0.01, 1.0, " Ω = 1", transform=ax2.get_yaxis_transform(), va="bottom")
        styles = "solid: collagen, dashed: cell"
        if any(q not in ("omega_collagen", "omega_cell") for _, q in damage):
            styles += ", dotted: other"
        ax2.set_title(f"Damage integral at the probes ({styles})")
        ax2.set_ylabel("Ω (dimensionless)")
        lo, hi = ax2.get_ylim()
        if hi > 1e-12 > lo:  # do not spend decades on negligible damage
            ax2.set_ylim(1e-12, hi)
    for a in axes:
        if logx:
            a.set_xscale("log")
        a.set_xlabel("Time (ms)" + (", log scale" if logx else ""))
        a.grid(True, which="major", alpha=0.4)
        if pulse_end_ms is not None and (not logx or pulse_end_ms > 0):
            a.axvline(pulse_end_ms, color="0.3", ls=":", lw=1.5, label="end of pulse")
        a.legend(fontsize=8, loc="best")
    fig.suptitle("Probe histories", fontsize=14)
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / PROBES_PNG
    fig.savefig(path, dpi=100, facecolor="white")
    logger.info("wrote %s", path)
    return path


#: The field pictures of a finished run, in the order of the report.
FIELD_PICTURES: tuple[Callable[[Snapshot, Path], Path | None], ...] = (
    render_temperature,
    render_temperature_peak,
    render_temperature_end,
    render_damage,
    render_histology,
    render_isosurfaces,
    render_von_mises,
    render_principal_stress_1,
    render_principal_stress_3,
    render_surface_displacement,
    render_overview,
    render_coverage,
)


def render_all(result_dir: Path, view: View | None = None) -> list[Path]:
    """Make every picture of a finished run.

    Call on one MPI rank only: everything is read from the written files, so
    the pictures do not depend on the number of ranks of the run. Each
    picture is made independently: a missing input or a failure in one
    picture is logged and the others are still made.

    Args:
        result_dir: The results directory written by the solver.
        view: Camera, crop and colour ranges shared with other cases (see
            :func:`study_view`); None fits them to this case.

    Returns:
        Paths of the PNG (and GIF) files written into ``result_dir/renders/``.
    """
    result_dir = Path(result_dir)
    out_dir = result_dir / RENDERS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    try:
        snap = load_snapshot(result_dir)
    except Exception:  # never let a picture stop the run
        logger.exception("could not load the field snapshot")
        snap = None
    if snap is not None:
        if view is not None:
            snap.view = view
        written += _render_each(FIELD_PICTURES + (render_interactive,), snap, out_dir)
    try:
        gif = render_animation(result_dir, out_dir, snap)
    except Exception:
        logger.exception("render_animation failed")
        gif = None
    if gif is not None:
        written.append(gif)

    pulse = _as_float(snap.meta.get("pulse_end_ms")) if snap is not None else None
    if pulse is None:
        pulse = _pulse_end_from_json(result_dir)
    try:
        path = render_probes(result_dir, out_dir, pulse)
    except Exception:
        logger.exception("render_probes failed")
        path = None
    if path is not None:
        written.append(path)
    return written


def study_view(result_dirs: list[Path]) -> View:
    """One view for all the cases of a study: the largest crop, the widest colour ranges.

    Args:
        result_dirs: The cases' results directories (those without a snapshot are skipped).

    Returns:
        The common :class:`View`; every picture of every case drawn with it
        has the same camera, crop, colour ranges and displacement magnification.
    """
    half_width = half_extent = depth = 0.0
    t_lo, t_hi, stress, principal, uz, umax = math.inf, -math.inf, 0.0, 0.0, 0.0, 0.0
    found = False
    for result_dir in result_dirs:
        try:
            snap = load_snapshot(Path(result_dir))
        except Exception:
            logger.exception("could not load %s", result_dir)
            continue
        if snap is None:
            continue
        found = True
        xmin, xmax, ymin, ymax = snap.bounds[:4]
        xc, yc = snap.cut_axis
        x0, x1 = _cut_window(snap)
        half_width = max(half_width, xc - x0, x1 - xc)
        half_extent = max(half_extent, xc - xmin, xmax - xc, yc - ymin, ymax - yc)
        depth = max(depth, snap.z_top - snap.z_crop)
        t_range = _temperature_range(snap)
        if t_range is not None:
            t_lo, t_hi = min(t_lo, t_range[0]), max(t_hi, t_range[1])
        if snap.has_cell("von_mises_kPa"):
            stress = max(stress, float(np.nanmax(snap.mesh.cell_data["von_mises_kPa"])))
        if any(snap.has_cell(n) for n in _PRINCIPAL):
            principal = max(principal, _principal_range(snap))
        if snap.has_point("displacement_um"):
            u = np.nan_to_num(np.asarray(snap.mesh.point_data["displacement_um"], dtype=float))
            umax = max(umax, float(np.max(np.linalg.norm(u, axis=1))))
            surface = _top_surface(snap)
            if surface is not None:
                top_u = np.asarray(surface.point_data["displacement_um"], dtype=float)
                uz = max(uz, float(np.nanmax(np.abs(top_u[:, 2]))))
    if not found:
        return View()
    return View(
        half_width_um=half_width,
        half_extent_um=half_extent,
        depth_um=depth,
        temperature_C=(t_lo, t_hi) if t_lo < t_hi else None,
        von_mises_kPa=stress or None,
        principal_kPa=principal or None,
        displacement_um=uz or None,
        warp=_nice_factor(WARP_SHARE * 2.0 * half_extent / umax) if umax > 0 else None,
    )


def render_study(result_dirs: list[Path]) -> View:
    """Draw every case of a study again with one common :func:`study_view`.

    Args:
        result_dirs: The cases' results directories.

    Returns:
        The view used.
    """
    dirs = [Path(d) for d in result_dirs]
    view = study_view(dirs)
    for result_dir in dirs:
        if (result_dir / "fields" / "snapshot.vtu").is_file():
            render_all(result_dir, view)
    return view


def _pulse_end_from_json(result_dir: Path) -> float | None:
    """``pulse_end_ms`` from ``fields/snapshot.json`` without loading the mesh."""
    js = Path(result_dir) / "fields" / "snapshot.json"
    try:
        return _as_float(json.loads(js.read_text()).get("pulse_end_ms"))
    except (OSError, ValueError, AttributeError):
        return None

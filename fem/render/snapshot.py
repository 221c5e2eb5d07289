"""The snapshot model: what the pictures of a case show (:class:`View`), the grid they are
drawn from with its metadata (:class:`Snapshot`), and the reading of the VTU grids and their
JSON metadata, unfolded across the symmetry planes (:func:`load_snapshot`, :func:`load_mesh`,
:func:`load_frames`).
"""

from __future__ import annotations

import csv
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fem.output.names import FRAMES_JSON, FRAMES_VTU, MESH_VTU, SNAPSHOT_VTU
from fem.render.style import CROP_FACTOR

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pyvista as pv

logger = logging.getLogger(__name__)


#: Omega values are clipped to at least this before taking log10.
OMEGA_FLOOR: float = 1e-30

_LOG_COLLAGEN = "log10_omega_collagen"
_LOG_CELL = "log10_omega_cell"


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


def _as_float(value: Any) -> float | None:
    """Convert ``value`` to a finite float, or None."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def read_csv_table(path: Path) -> tuple[list[str], np.ndarray] | None:
    """A CSV result table as its header and a float array (empty or non-numeric cells NaN;
    blank rows skipped), or None when the file is missing, unreadable or has no data row."""
    if not Path(path).is_file():
        return None
    try:
        with Path(path).open(newline="") as fh:
            rows = [r for r in csv.reader(fh) if r and any(c.strip() for c in r)]
    except OSError:
        logger.warning("could not read %s", path)
        return None
    if len(rows) < 2:
        logger.warning("%s has no data rows", path)
        return None
    header = [h.strip() for h in rows[0]]
    data = np.full((len(rows) - 1, len(header)), np.nan)
    for i, row in enumerate(rows[1:]):
        for j, cell in enumerate(row[: len(header)]):
            value = _as_float(cell)
            data[i, j] = np.nan if value is None else value
    return header, data


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


def _read_grid(vtu: Path, what: str, meta: dict[str, Any] | None = None) -> Snapshot | None:
    """Read a grid and its metadata (same name, ``.json``), unfolded across symmetry planes.

    Points duplicated along partition seams and mirror planes are merged. A plane of
    ``mirror`` is unfolded only when the grid lies on its side of it (a quarter cell written
    as such).

    Args:
        vtu: The VTU file.
        what: The pictures skipped when the grid is unusable (for the log).
        meta: The metadata to use instead of the grid's own ``.json`` (a grid of the same
            case without one, such as the epidermis).

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
    meta = _read_meta(vtu.with_suffix(".json")) if meta is None else meta
    size = float(np.linalg.norm(np.subtract(mesh.bounds[1::2], mesh.bounds[0::2])))
    planes = [(axis, c) for axis, c in _mirror_planes(meta, mesh.bounds)
              if mesh.bounds[2 * axis] >= c - 1e-6 * size]
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
    snap = _read_grid(Path(result_dir) / SNAPSHOT_VTU, "the field pictures")
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
    return _read_grid(Path(result_dir) / MESH_VTU, "the mesh pictures")


def load_frames(result_dir: Path) -> tuple[Snapshot, list[tuple[float, str]]] | None:
    """Read the temperature frames (``fields/frames.vtu`` and ``frames.json``).

    Returns:
        The grid (unfolded like the snapshot) and ``(time_ms, array name)`` in
        time order, or None if there are no frames.
    """
    vtu = Path(result_dir) / FRAMES_VTU
    if not vtu.is_file():
        logger.info("no %s: no animation", vtu)
        return None
    snap = _read_grid(vtu, "the animation")
    if snap is None:
        return None
    times = snap.meta.get("frames_ms")
    if not isinstance(times, list):
        logger.warning("%s has no frames_ms: no animation", FRAMES_JSON)
        return None
    frames = [
        (float(t), f"temperature_{i:03d}_C")
        for i, t in enumerate(times)
        if _as_float(t) is not None and snap.has_point(f"temperature_{i:03d}_C")
    ]
    return (snap, frames) if frames else None

"""The pictures of the healing stage, "after the treatment": the closing epidermal wound seen
from above (:func:`render_wound_closure`) and the new collagen on the vertical cut through the
column axis at each output day (:func:`render_collagen_remodelling`); the course over time is
in :mod:`fem.render.healing_timeline`. Also the reading shared by the three: the ``healing``
key of ``snapshot.json`` (:func:`healing_meta`) and the epidermis grid (:func:`load_epidermis`).

Each picture is made only when the run had a healing stage (the ``healing`` key) and its input
exists: ``epidermis.vtu``, the ``*_d<day>`` arrays of ``snapshot.vtu``, ``healing.csv``. They
are drawn with matplotlib (several panels on one colour scale) in the font of the other
pictures (DejaVu Sans); the cut is the plane and window of :mod:`fem.render.geometry`,
resampled on pixels as the histology is.
"""

from __future__ import annotations

import json
import logging
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fem.output.names import (
    COLLAGEN_PNG,
    EPIDERMIS_VTU,
    SNAPSHOT_JSON,
    WOUND_CLOSURE_PNG,
)
from fem.render.geometry import _cut_label, _cut_window
from fem.render.snapshot import (
    _LOG_COLLAGEN,
    Snapshot,
    _as_float,
    _read_grid,
    load_snapshot,
)
from fem.render.style import (
    COLLAGEN_COLOR,
    LAYER_COLORS,
    MARKER_COLOR,
    MARKER_COLOR_NAME,
    WINDOW_SIZE,
    _pretty_layer,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pyvista as pv
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)


#: Colour (and its name, for the captions) of the intact (viable) epidermis seen from above.
EPIDERMIS_COLOR, EPIDERMIS_COLOR_NAME = LAYER_COLORS[1], "skin tone"
#: Colour (and its name) of the epithelium that has covered part of the wound.
NEW_EPITHELIUM_COLOR, NEW_EPITHELIUM_COLOR_NAME = "#e79bb6", "pink"
#: Colour (and its name) of the open wound (defect not yet covered).
WOUND_COLOR, WOUND_COLOR_NAME = "#8c1c24", "dark red"
#: Outline (and its name) of the hair-follicle islands.
FOLLICLE_COLOR, FOLLICLE_COLOR_NAME = MARKER_COLOR, MARKER_COLOR_NAME
#: Outline (and its name) of the craters that opened the barrier (dashed).
BARRIER_COLOR, BARRIER_COLOR_NAME = "#000000", "black"
#: Colour map and (fixed lower end of the) range of the new collagen on the cuts.
NEW_COLLAGEN_CMAP: str = "YlGnBu"
#: Colour (and its name) of the denatured collagen = 0.5 contour.
DENATURED_COLOR, DENATURED_COLOR_NAME = COLLAGEN_COLOR, "black"
#: Level of the denatured collagen contour on the cuts.
DENATURED_LEVEL: float = 0.5
#: Most panels of the wound-closure picture.
MAX_WOUND_PANELS: int = 8

_DAY_ARRAY = re.compile(r"new_collagen_d(\d+)$")


# -- reading ----------------------------------------------------------------------------------
def _read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``, or None when missing or unreadable."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def healing_meta(result_dir: Path, snap: Snapshot | None = None) -> dict[str, Any] | None:
    """The ``healing`` entry of ``snapshot.json`` (from ``snap`` when given), or None.

    None means the run had no healing stage: then there are no healing pictures.
    """
    meta = snap.meta if snap is not None else _read_json(Path(result_dir) / SNAPSHOT_JSON)
    healing = (meta or {}).get("healing")
    return healing if isinstance(healing, dict) else None


def _snapshot_meta(result_dir: Path, snap: Snapshot | None) -> dict[str, Any]:
    return snap.meta if snap is not None else (_read_json(Path(result_dir) / SNAPSHOT_JSON) or {})


def load_epidermis(result_dir: Path, meta: dict[str, Any]) -> pv.UnstructuredGrid | None:
    """Read ``fields/epidermis.vtu`` as triangles, unfolded across the snapshot's symmetry planes.

    A plane of ``mirror`` is unfolded only when the grid lies on one side of it (a quarter cell
    written as such); seams between partitions are merged.

    Args:
        result_dir: The results directory.
        meta: The snapshot metadata (``mirror``, ``extent_um``).

    Returns:
        The triangulated basal plane with its point data, or None if missing or empty.
    """
    grid = _read_grid(Path(result_dir) / EPIDERMIS_VTU, WOUND_CLOSURE_PNG, meta)
    if grid is None:
        return None
    return grid.mesh.triangulate().cast_to_unstructured_grid()


def _output_days(healing: dict[str, Any], snap: Snapshot) -> list[int]:
    """The output days whose ``new_collagen_d<day>`` array the snapshot holds, in order."""
    listed = healing.get("output_days")
    if isinstance(listed, list) and listed:
        days = [int(d) for d in listed if _as_float(d) is not None]
    else:
        days = sorted(int(m.group(1)) for n in snap.mesh.point_data
                      if (m := _DAY_ARRAY.match(n)))
    return [d for d in days if snap.has_point(f"new_collagen_d{d}")]


# -- formatting -------------------------------------------------------------------------------
def fmt_hours(t: float) -> str:
    """A time after the pulse: ``"20 min"``, ``"3 h"``, ``"11.2 h"``, ``"5.4 days"``."""
    if t < 1.0 and t > 0.0:
        return f"{t * 60.0:.3g} min"
    if t < 48.0:
        return f"{t:.3g} h"
    return f"{t / 24.0:.3g} days"


def _figure(width_in: float, height_in: float, layout: str | None = None) -> Figure:
    """A matplotlib figure (inches at 100 dpi) on the Agg canvas: no display, no pyplot."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=100, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, facecolor="white")
    logger.info("wrote %s", path)
    return path


def _triangulation(mesh: pv.DataSet, axes: tuple[int, int]) -> Any:
    """A matplotlib triangulation of the triangles of ``mesh`` projected on two axes."""
    from matplotlib.tri import Triangulation

    cells = mesh.cells_dict
    import pyvista as pv

    tris = np.asarray(cells.get(pv.CellType.TRIANGLE, np.empty((0, 3), dtype=int)))
    pts = np.asarray(mesh.points)
    return Triangulation(pts[:, axes[0]], pts[:, axes[1]], tris)


RASTER = 700  # grid points along the longer side of the wound-closure panels


def _raster(mesh: pv.DataSet, fields: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """Point fields of the epidermis grid (flat, z = 0) sampled onto a regular grid of about
    :data:`RASTER` points along the longer side by VTK's probe filter: ``X, Y`` and one array
    per field. Filled contours of a triangulation of 10^5-10^6 triangles take minutes in
    matplotlib, those of a grid a fraction of a second, with the same level sets at this
    resolution."""
    import pyvista as pv

    xmin, xmax, ymin, ymax = mesh.bounds[:4]
    span = max(xmax - xmin, ymax - ymin, 1e-12)
    nx = max(int(RASTER * (xmax - xmin) / span), 2)
    ny = max(int(RASTER * (ymax - ymin) / span), 2)
    grid = pv.ImageData(dimensions=(nx, ny, 1), origin=(xmin, ymin, 0.0),
                        spacing=((xmax - xmin) / (nx - 1), (ymax - ymin) / (ny - 1), 1.0))
    source = mesh.copy(deep=False)
    source.clear_data()
    for name, values in fields.items():
        source.point_data[name] = values
    sampled = grid.sample(source)
    X = np.asarray(sampled.points[:, 0]).reshape(ny, nx)
    Y = np.asarray(sampled.points[:, 1]).reshape(ny, nx)
    return (X, Y, *(np.asarray(sampled.point_data[name]).reshape(ny, nx) for name in fields))


def _tri_areas(tri: Any) -> np.ndarray:
    x, y, t = tri.x, tri.y, tri.triangles
    return 0.5 * np.abs((x[t[:, 1]] - x[t[:, 0]]) * (y[t[:, 2]] - y[t[:, 0]])
                        - (x[t[:, 2]] - x[t[:, 0]]) * (y[t[:, 1]] - y[t[:, 0]]))


def _has_level(values: np.ndarray, level: float) -> bool:
    return bool(values.size) and float(np.nanmin(values)) < level < float(np.nanmax(values))


# -- wound closure ----------------------------------------------------------------------------
def _wound_times(healing: dict[str, Any], closure: np.ndarray) -> list[float]:
    """The times (h) of the panels: ``wound_times_h``, else five steps up to the last closure."""
    listed = healing.get("wound_times_h")
    times = [t for t in (_as_float(v) for v in listed) if t is not None and t >= 0] \
        if isinstance(listed, list) else []
    if not times:
        end = _as_float(healing.get("reepithelialization_h")) or float(np.nanmax(closure))
        times = [float(t) for t in np.linspace(0.0, end, 5)] if end > 0 else [0.0]
    return sorted(set(times))[:MAX_WOUND_PANELS]


def render_wound_closure(result_dir: Path, out_dir: Path,
                         snap: Snapshot | None = None) -> Path | None:
    """The epidermal wound closing, seen from above, one panel per time of ``wound_times_h``.

    In each panel the open wound (defect points whose ``closure_time_h`` is later than the
    panel's time) is dark red, the epithelium that has covered the wound so far pink and the
    intact epidermis skin-toned; follicle islands are outlined in blue and craters that
    opened the barrier dashed in black. The title gives the time and the share still open.

    Args:
        result_dir: The results directory (``fields/epidermis.vtu``, ``snapshot.json``).
        out_dir: Directory for the PNG.
        snap: The loaded snapshot, for its metadata (read from ``snapshot.json`` if None).

    Returns:
        Path of ``wound_closure.png``, or None without healing, epidermis grid or wound.
    """
    healing = healing_meta(result_dir, snap)
    if healing is None:
        return None
    mesh = load_epidermis(result_dir, _snapshot_meta(result_dir, snap))
    if mesh is None:
        return None
    if "closure_time_h" not in mesh.point_data or "defect" not in mesh.point_data:
        logger.warning("%s lacks closure_time_h or defect: skipping %s", EPIDERMIS_VTU,
                       WOUND_CLOSURE_PNG)
        return None

    def point(name: str) -> np.ndarray:
        if name not in mesh.point_data:
            return np.zeros(mesh.n_points)
        return np.nan_to_num(np.asarray(mesh.point_data[name], dtype=float))

    defect = point("defect")
    closure = np.asarray(mesh.point_data["closure_time_h"], dtype=float)
    finite = np.isfinite(closure)
    eps = 1e-6 * max(float(closure[finite].max()) if finite.any() else 0.0, 1.0)
    # A defect point that never closed (NaN or inf) stays open in every panel.
    closure = np.where(finite, closure, np.where(defect > 0.5, 1e12, 0.0))
    barrier, follicle = point("open_barrier"), point("follicle")
    if not defect.max() > 0.5:
        logger.info("no epidermal defect: no %s", WOUND_CLOSURE_PNG)
        return None
    tri = _triangulation(mesh, (0, 1))
    areas = _tri_areas(tri)
    cells = tri.triangles
    defect_area = float(np.sum(areas * defect[cells].mean(axis=1)))
    times = _wound_times(healing, np.where(finite, closure, 0.0))

    from matplotlib.patches import Patch, Rectangle

    X, Y, closure_g, follicle_g, barrier_g = _raster(
        mesh, {"closure": closure, "follicle": follicle, "barrier": barrier})
    n = len(times)
    ncols = 2 if n == 4 else min(n, 3 if n <= 6 else 4)
    nrows = math.ceil(n / ncols)
    width = WINDOW_SIZE[0] / 100
    xmin, xmax, ymin, ymax = mesh.bounds[:4]
    panel = (width - 1.2) / ncols
    height = nrows * panel * (ymax - ymin) / max(xmax - xmin, 1e-9) + 0.65 * nrows + 1.6
    fig = _figure(width, min(max(height, 4.5), 14.0))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.set_axis_off()
            continue
        t = times[k]
        # The intact epidermis: the whole (rectangular) block top, drawn as one rectangle (a
        # filled contour of a constant field traces every triangle: minutes on a patch).
        ax.add_patch(Rectangle((xmin, ymin), xmax - xmin, ymax - ymin, color=EPIDERMIS_COLOR,
                               zorder=0, linewidth=0))
        # The wound's footprint and its open part are level sets of the closure time (smooth
        # edges, the same at every time); the defect flag weighs the shares only.
        ceiling = 2.0 * float(closure.max()) + 1.0
        ax.contourf(X, Y, closure_g, levels=[eps, ceiling], colors=[NEW_EPITHELIUM_COLOR])
        level = max(t, eps)
        open_now = (closure > level) & (defect > 0.5)
        if open_now.any():
            ax.contourf(X, Y, closure_g, levels=[level, ceiling], colors=[WOUND_COLOR])
        if _has_level(follicle, 0.5):
            ax.contour(X, Y, follicle_g, levels=[0.5], colors=[FOLLICLE_COLOR], linewidths=1.6)
        if _has_level(barrier, 0.5):
            ax.contour(X, Y, barrier_g, levels=[0.5], colors=[BARRIER_COLOR], linewidths=1.4,
                       linestyles="--")
        share = float(np.sum(areas * open_now[cells].mean(axis=1))) / defect_area \
            if defect_area > 0 else 0.0
        percent = min(round(100.0 * share), 99 if t > 0 and share < 1.0 - 1e-9 else 100)
        state = ("closed" if share <= 0.0 else "under 1 % of the wound open"
                 if share < 0.005 else f"{percent} % of the wound open")
        ax.set_title(f"t = {fmt_hours(t)}: {state}", fontsize=11)
        ax.set_aspect("equal")
        ax.set_xlim(xmin, xmax)
        ax.set_ylim(ymin, ymax)
        ax.tick_params(labelsize=9)
        if k % ncols == 0:
            ax.set_ylabel("y (µm)")
        if k // ncols == nrows - 1 or k + ncols >= n:
            ax.set_xlabel("x (µm)")
            ax.xaxis.set_tick_params(labelbottom=True)

    from matplotlib.lines import Line2D

    handles = [
        Patch(color=WOUND_COLOR, label="open wound"),
        Patch(color=NEW_EPITHELIUM_COLOR, label="new epithelium (wound covered)"),
        Patch(color=EPIDERMIS_COLOR, label="intact epidermis"),
    ]
    if _has_level(follicle, 0.5):
        handles.append(Line2D([], [], color=FOLLICLE_COLOR, lw=1.6, label="hair follicle"))
    if _has_level(barrier, 0.5):
        handles.append(Line2D([], [], color=BARRIER_COLOR, lw=1.4, ls="--",
                              label="crater (barrier opened)"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=10,
               frameon=False)
    end = _as_float(healing.get("reepithelialization_h"))
    sub = "basal plane of the epidermis seen from above"
    if end is not None:
        sub += f"; closed {fmt_hours(end)} after the pulse" if end > 0 else "; no wound"
    fig.suptitle(f"Re-epithelialisation of the epidermal wound\n{sub}", fontsize=14)
    fig.tight_layout(rect=(0.0, 0.05, 1.0, 1.0))
    return _save(fig, Path(out_dir) / WOUND_CLOSURE_PNG)


# -- collagen remodelling ---------------------------------------------------------------------
def _layer_bands(snap: Snapshot) -> list[tuple[str, float, float]]:
    """``(name, z_top, z_bottom)`` of each layer with depths in the metadata."""
    names = snap.layer_names()
    bands = []
    for i, layer in enumerate(snap._layers()):
        top, bottom = _as_float(layer.get("top_um")), _as_float(layer.get("bottom_um"))
        if top is not None and bottom is not None and i < len(names):
            bands.append((_pretty_layer(names[i]), snap.z_top - top, snap.z_top - bottom))
    return bands


def _sample_cut(snap: Snapshot, names: list[str]) -> tuple[dict[str, np.ndarray], tuple] | None:
    """The point arrays ``names`` on a pixel grid in the plane of the cut (as the histology).

    Returns:
        ``({name: (nz, nx) array, NaN outside the tissue}, (x0, x1, z0, z1))``, or None when
        the plane misses the mesh.
    """
    import pyvista as pv

    x0, x1 = _cut_window(snap)
    x0, x1 = max(x0, snap.bounds[0]), min(x1, snap.bounds[1])
    z0, z1 = snap.z_crop, snap.z_top
    pixel = max((x1 - x0) / 400.0, (z1 - z0) / 800.0, 1e-6)
    nx, nz = round((x1 - x0) / pixel) + 1, round((z1 - z0) / pixel) + 1
    y0 = snap.cut_axis[1] + 1e-7 * max(1.0, x1 - x0)
    plane = pv.ImageData(dimensions=(nx, 1, nz), spacing=((x1 - x0) / (nx - 1), 1.0,
                                                          (z1 - z0) / (nz - 1)),
                         origin=(x0, y0, z0))
    sampled = plane.sample(snap.mesh)
    valid = np.asarray(sampled.point_data["vtkValidPointMask"]).astype(bool).reshape(nz, nx)
    if not valid.any():
        logger.warning("the plane y = %g µm does not cut the mesh", snap.cut_axis[1])
        return None
    out = {}
    for name in names:
        if name in sampled.point_data:
            values = np.asarray(sampled.point_data[name], dtype=float).reshape(nz, nx)
            out[name] = np.where(valid, values, np.nan)
    return out, (x0, x1, z0, z1)


def render_collagen_remodelling(result_dir: Path, out_dir: Path,
                                snap: Snapshot | None = None) -> Path | None:
    """The new collagen on the vertical cut through the column axis, one panel per output day.

    Coloured by ``new_collagen_d<day>`` (type III + I, fraction of the native collagen) on one
    colour scale for all days, with the layer interfaces, the denatured collagen = 0.5
    contour of that day (solid) and the edge of the coagulated column after the pulse
    (Omega collagen = 1, dashed). The cut is resampled on a pixel grid like the histology.

    Args:
        result_dir: The results directory (``snapshot.vtu`` is loaded if ``snap`` is None).
        out_dir: Directory for the PNG.
        snap: The loaded snapshot.

    Returns:
        Path of ``collagen_remodelling.png``, or None without healing or day arrays.
    """
    healing = healing_meta(result_dir, snap)
    if healing is None:
        return None
    if snap is None:
        snap = load_snapshot(result_dir)
        if snap is None:
            return None
    days = _output_days(healing, snap)
    if not days:
        logger.warning("no new_collagen_d<day> arrays in the snapshot: skipping %s", COLLAGEN_PNG)
        return None
    names = [f"{kind}_d{d}" for d in days for kind in ("new_collagen", "denatured_collagen")]
    sampled = _sample_cut(snap, names + [_LOG_COLLAGEN])
    if sampled is None:
        return None
    grids, (x0, x1, z0, z1) = sampled
    extent = (x0, x1, z0, z1)
    top = max(float(np.nanmax(grids[f"new_collagen_d{d}"])) for d in days)
    vmax = max(0.05, math.ceil(top * 20.0 - 1e-9) / 20.0)

    from matplotlib.colors import Normalize

    import matplotlib as mpl

    cmap = mpl.colormaps[NEW_COLLAGEN_CMAP].with_extremes(bad="white")
    norm = Normalize(0.0, vmax)
    n = len(days)
    ncols = min(n, 5)
    nrows = math.ceil(n / ncols)
    fig = _figure(WINDOW_SIZE[0] / 100, WINDOW_SIZE[1] / 100 * (1.0 if nrows == 1 else 1.6),
                  layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    bands = _layer_bands(snap)
    omega = grids.get(_LOG_COLLAGEN)
    has_column = omega is not None and _has_level(omega[np.isfinite(omega)], 0.0)
    image = None
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.set_axis_off()
            continue
        d = days[k]
        values = grids[f"new_collagen_d{d}"]
        xs = np.linspace(x0, x1, values.shape[1])
        zs = np.linspace(z0, z1, values.shape[0])
        image = ax.imshow(values, origin="lower", extent=extent, cmap=cmap, norm=norm,
                          interpolation="bilinear", aspect="equal")
        for _, _, z in bands:
            if z0 < z < z1:
                ax.axhline(z, color="#7a7a7a", lw=0.8)
        denatured = grids.get(f"denatured_collagen_d{d}")
        note = ""
        if denatured is not None and _has_level(denatured[np.isfinite(denatured)],
                                                DENATURED_LEVEL):
            ax.contour(xs, zs, denatured, levels=[DENATURED_LEVEL], colors=[DENATURED_COLOR],
                       linewidths=2.0)
        elif denatured is not None:
            note = f"; denatured < {DENATURED_LEVEL:g}" \
                if np.nanmax(denatured) < DENATURED_LEVEL else ""
        if has_column:
            ax.contour(xs, zs, omega, levels=[0.0], colors=["#555555"], linewidths=1.0,
                       linestyles="--")
        ax.set_title(f"day {d}: max {np.nanmax(values):.2f}{note}", fontsize=11)
        ax.set_xlim(x0, x1)
        ax.set_ylim(z0, z1)
        ax.tick_params(labelsize=9)
        if k % ncols == 0:
            ax.set_ylabel("z (µm)")
            room = 0.03 * (z1 - z0)
            for name, zt, zb in bands:
                hi, lo = min(zt, z1), max(zb, z0)
                if hi - lo > room:
                    ax.text(x0 + 0.03 * (x1 - x0), 0.5 * (hi + lo), name, fontsize=8,
                            color="#222222", va="center", ha="left",
                            bbox={"facecolor": "white", "alpha": 0.6, "lw": 0, "pad": 1.0})
        if k + ncols >= n:
            ax.set_xlabel("x (µm)")
    if image is not None:
        bar = fig.colorbar(image, ax=axes, shrink=0.8, pad=0.02)
        bar.set_label("New collagen, type III + I (fraction of the native collagen)")
    end = _as_float(healing.get("end_days"))
    sub = _cut_label(snap) + (f", healing followed to day {end:g}" if end is not None else "")
    sub += f"\nsolid {DENATURED_COLOR_NAME} line: denatured collagen = {DENATURED_LEVEL:g}"
    if has_column:
        sub += "; dashed: coagulated column after the pulse (Ω collagen = 1)"
    fig.suptitle(f"Dermal collagen remodelling: new collagen at each output day\n{sub}",
                 fontsize=12)
    return _save(fig, Path(out_dir) / COLLAGEN_PNG)

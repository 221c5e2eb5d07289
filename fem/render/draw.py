"""The drawing toolkit of the pictures: fonts and text, the off-screen plotter, titles,
legends, scalar bars, the frame of the planar views (cuts and top views) with its rulers, length
scales, layer interfaces and labels, and the screenshot.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fem.render.snapshot import Snapshot, _as_float
from fem.render.style import WINDOW_SIZE, _layer_color, _pretty_layer

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pyvista as pv

logger = logging.getLogger(__name__)


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


def _scale_length(span: float) -> float:
    """A round length (1, 2 or 5 times a power of ten) about a quarter of ``span``."""
    target = 0.25 * span
    exp = math.floor(math.log10(target)) if target > 0 else 0
    candidates = [m * 10.0**e for e in (exp - 1, exp) for m in (1.0, 2.0, 5.0)]
    return max(c for c in candidates if c <= target) if target > 0 else 1.0


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


def _screenshot(p: pv.Plotter, path: Path) -> Path:
    """Save the plotter's picture to ``path`` and close it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        p.screenshot(str(path))
    finally:
        p.close()
    logger.info("wrote %s", path)
    return path

"""The temperature animation: a GIF of the cut through a column axis during and after the
pulse, one fixed palette for every frame.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from fem.output.names import ANIMATION_GIF
from fem.render.cuts import _temperature_range
from fem.render.draw import (
    _add_interfaces,
    _add_layer_labels,
    _add_scalar_bar,
    _add_titles,
    _new_plotter,
    _setup_cut,
    _style_text,
)
from fem.render.geometry import _cut, _cut_label
from fem.render.snapshot import Snapshot, _as_float, load_frames
from fem.render.style import TEMPERATURE_CMAP, WINDOW_SIZE

logger = logging.getLogger(__name__)


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

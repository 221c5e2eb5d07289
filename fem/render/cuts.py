"""The pictures of the vertical cut through a column axis: temperature (end of pulse, peak,
end of run), the thermal damage contours on the skin layers, the von Mises stress on the deformed
shape and the principal stresses.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from fem.output.names import (
    DAMAGE_PNG,
    PRINCIPAL_1_PNG,
    PRINCIPAL_3_PNG,
    TEMPERATURE_END_PNG,
    TEMPERATURE_PEAK_PNG,
    TEMPERATURE_PNG,
    VON_MISES_PNG,
)
from fem.render.draw import (
    _add_interfaces,
    _add_layer_labels,
    _add_legend,
    _add_scalar_bar,
    _add_titles,
    _font_file,
    _layer_legend,
    _layer_rgb,
    _new_plotter,
    _omega,
    _screenshot,
    _setup_cut,
)
from fem.render.geometry import _contour, _cut, _cut_label, _toward_camera
from fem.render.snapshot import _LOG_CELL, _LOG_COLLAGEN, Snapshot, _as_float
from fem.render.style import (
    COLLAGEN_COLOR,
    DISPLACEMENT_CMAP,
    NECROSIS_COLOR,
    STRESS_CMAP,
    TEMPERATURE_CMAP,
    WARP_SHARE,
    _fmt_factor,
    _nice_factor,
)

logger = logging.getLogger(__name__)


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

"""Every picture of a run, a mesh or a study: the list of field pictures
(:data:`FIELD_PICTURES`), :func:`render_all`, :func:`render_mesh`, and the common view of the
cases of a study (:func:`study_view`, :func:`render_study`). Each picture is made
independently: a failure is logged and the others are still made.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from fem.output.names import RENDERS_DIR, SNAPSHOT_JSON, SNAPSHOT_VTU
from fem.render.animation import render_animation
from fem.render.coverage import render_coverage
from fem.render.cuts import (
    _PRINCIPAL,
    _principal_range,
    _temperature_range,
    render_damage,
    render_principal_stress_1,
    render_principal_stress_3,
    render_temperature,
    render_temperature_end,
    render_temperature_peak,
    render_von_mises,
)
from fem.render.geometry import _cut_window, _top_surface
from fem.render.healing import render_collagen_remodelling, render_wound_closure
from fem.render.healing_timeline import render_healing_timeline
from fem.render.histology import render_histology
from fem.render.interactive import render_interactive
from fem.render.mesh import render_mesh_cut, render_mesh_top
from fem.render.probes import render_probes
from fem.render.snapshot import Snapshot, View, _as_float, load_mesh, load_snapshot
from fem.render.style import WARP_SHARE, _nice_factor
from fem.render.views3d import render_isosurfaces, render_overview, render_surface_displacement

logger = logging.getLogger(__name__)


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


#: The pictures of the healing stage, after the others: ``func(result_dir, out_dir, snap)``;
#: each returns None when the run had no healing stage or its input is missing.
HEALING_PICTURES: tuple[Callable[[Path, Path, Snapshot | None], Path | None], ...] = (
    render_wound_closure,
    render_collagen_remodelling,
    render_healing_timeline,
)


def _render_each(funcs: tuple[Callable[..., Path | None], ...], *args) -> list[Path]:
    """Call each ``func(*args)`` (e.g. ``(snap, out_dir)``); log failures and go on. Returns
    the written paths."""
    written = []
    for func in funcs:
        try:
            path = func(*args)
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


#: Every picture of a run in the order they are shared out between ranks (round robin): the
#: slowest ones first, alternating (on a 98-column patch the isosurfaces, the overview, the
#: 3D page and the animation take 60-80 % of the time).
PICTURE_ORDER = ("render_isosurfaces", "render_overview", "render_interactive",
                 "render_animation")


def _tasks(snap: Snapshot | None, result_dir: Path, out_dir: Path) -> list[tuple]:
    """``(func, args)`` of every picture of a run, the slowest first."""
    pulse = _as_float(snap.meta.get("pulse_end_ms")) if snap is not None else None
    if pulse is None:
        pulse = _pulse_end_from_json(result_dir)
    tasks = []
    if snap is not None:
        tasks += [(f, (snap, out_dir)) for f in FIELD_PICTURES + (render_interactive,)]
    tasks += [(render_animation, (result_dir, out_dir, snap)),
              (render_probes, (result_dir, out_dir, pulse))]
    # the healing stage's pictures (none when the run had no healing stage)
    tasks += [(f, (result_dir, out_dir, snap)) for f in HEALING_PICTURES]
    rank = {name: i for i, name in enumerate(PICTURE_ORDER)}
    return sorted(tasks, key=lambda t: rank.get(t[0].__name__, len(rank)))


def render_all(result_dir: Path, view: View | None = None,
               share: tuple[int, int] = (0, 1)) -> list[Path]:
    """Make every picture of a finished run (or this rank's share of them).

    Everything is read from the written files, so the pictures do not depend on the number
    of ranks of the run. Each picture is made independently: a missing input or a failure in
    one picture is logged and the others are still made.

    Args:
        result_dir: The results directory written by the solver.
        view: Camera, crop and colour ranges shared with other cases (see
            :func:`study_view`); None fits them to this case.
        share: ``(rank, ranks)``: make the pictures ``rank, rank + ranks, ...`` of the list
            (every rank of a run calls it with its own rank; each loads the snapshot).

    Returns:
        Paths of the PNG (and GIF) files written into ``result_dir/renders/``.
    """
    result_dir = Path(result_dir)
    out_dir = result_dir / RENDERS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        snap = load_snapshot(result_dir)
    except Exception:  # never let a picture stop the run
        logger.exception("could not load the field snapshot")
        snap = None
    if snap is not None and view is not None:
        snap.view = view
    rank, ranks = share
    written: list[Path] = []
    for func, args in _tasks(snap, result_dir, out_dir)[rank::ranks]:
        written += _render_each((func,), *args)
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
        if (result_dir / SNAPSHOT_VTU).is_file():
            render_all(result_dir, view)
    return view


def _pulse_end_from_json(result_dir: Path) -> float | None:
    """``pulse_end_ms`` from ``fields/snapshot.json`` without loading the mesh."""
    js = Path(result_dir) / SNAPSHOT_JSON
    try:
        return _as_float(json.loads(js.read_text()).get("pulse_end_ms"))
    except (OSError, ValueError, AttributeError):
        return None

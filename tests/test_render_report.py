"""Pictures and HTML report of a (synthetic) finished run."""

from mpi4py import MPI

import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest

import fem.render.all
from fem.output.names import (
    ANIMATION_GIF,
    COVERAGE_PNG,
    DAMAGE_PNG,
    HISTOLOGY_PNG,
    ISOSURFACES_PNG,
    MESH_CUT_PNG,
    MESH_TOP_PNG,
    OVERVIEW_PNG,
    PRINCIPAL_1_PNG,
    PRINCIPAL_3_PNG,
    PROBES_PNG,
    SURFACE_PNG,
    TEMPERATURE_END_PNG,
    TEMPERATURE_PEAK_PNG,
    TEMPERATURE_PNG,
    VIEW3D_HTML,
    VON_MISES_PNG,
)
from fem.render.all import render_all, render_mesh, study_view
from fem.render.animation import render_animation
from fem.render.cuts import render_damage, render_temperature
from fem.render.geometry import _cut
from fem.render.histology import render_histology
from fem.render.interactive import VIEW3D_MAX_TRIANGLES
from fem.render.probes import read_probes, render_probes
from fem.render.snapshot import View, load_frames, load_snapshot
from fem.report.case import write_report
from fem.report.study import write_study_report

#: Rendering runs on one rank: every test but the parallel snapshot test is serial.
serial = pytest.mark.serial

LAYERS = [
    ("stratum_corneum", 0.0, 15.0),
    ("epidermis", 15.0, 80.0),
    ("papillary_dermis", 80.0, 300.0),
    ("reticular_dermis", 300.0, 1800.0),
    ("hypodermis", 1800.0, 2265.0),
]
HALF_WIDTH = 158.1
DEPTH = 2265.0
COLUMN_RADIUS = 100.0
COLUMN_DEPTH = 900.0
PULSE_END_MS = 3.0

METRICS = {
    "mtz_depth_um": 898.7,
    "mtz_width_um": 201.3,
    "necrosis_depth_um": 1003.2,
    "necrosis_width_um": 262.9,
    "mend_width_um": 190.0,
    "ablation_depth_um": 0.0,
    "peak_temperature_C": 287.123456,
    "coverage_percent": 31.42,
    "spared_volume_percent": 68.58,
    "absorbed_energy_J": 0.0123456,
    "delivered_energy_J": 0.0125,
    "energy_balance_error": 1.234e-4,
    "source_energy_error": 2.0e-6,
    "tightening_area_percent": 4.2,
    "linear_contraction_percent": 2.1,
    "max_von_mises_kPa": 153.7,
    "dofs": 123456,
    "ranks": 4,
    "wall_time_s": 61.5,
}


FULL_EXTENT = (-HALF_WIDTH, HALF_WIDTH, -HALF_WIDTH, HALF_WIDTH)


def _synthetic_mesh(
    n_xy: int,
    n_z: int,
    seams: bool = True,
    extent: tuple[float, float, float, float] = FULL_EXTENT,
    columns: tuple[tuple[float, float], ...] = ((0.0, 0.0),),
    crater_um: float = 0.0,
):
    """A tetrahedral block in micrometres with analytic MTZ-like fields.

    Args:
        n_xy: Points across the block in x and y.
        n_z: Points through the depth.
        seams: Split the block in two at the middle of x without merging the
            seam points, like a mesh written from several MPI partitions.
        extent: ``(xmin, xmax, ymin, ymax)`` of the block, micrometres.
        columns: Column centres; the fields follow the nearest column.
        crater_um: Depth (and diameter) of a conical crater cut out of the
            tissue at each column (no crater if 0).
    """
    import pyvista as pv

    xmin, xmax, ymin, ymax = extent
    spacing = ((xmax - xmin) / (n_xy - 1), (ymax - ymin) / (n_xy - 1), DEPTH / (n_z - 1))
    grid = pv.ImageData(dimensions=(n_xy, n_xy, n_z), spacing=spacing, origin=(xmin, ymin, -DEPTH))
    mesh = grid.triangulate().cast_to_unstructured_grid()
    centres = np.asarray(columns, dtype=float)
    if crater_um > 0:
        c = mesh.cell_centers().points
        rc = np.min(np.hypot(*(c[:, None, :2] - centres[None]).transpose(2, 0, 1)), axis=1)
        outside = -c[:, 2] > crater_um * (1.0 - 2.0 * rc / crater_um)
        mesh = mesh.extract_cells(np.flatnonzero(outside))
    if seams:
        left = mesh.cell_centers().points[:, 0] < 0.5 * (xmin + xmax)
        mesh = pv.merge(
            [mesh.extract_cells(np.flatnonzero(left)), mesh.extract_cells(np.flatnonzero(~left))],
            merge_points=False,
        )
    mesh = mesh.cast_to_unstructured_grid()
    # Coordinates relative to the nearest column centre.
    nearest = np.argmin(np.sum((mesh.points[:, None, :2] - centres[None]) ** 2, axis=2), axis=1)
    x, y = (mesh.points[:, :2] - centres[nearest]).T
    z = mesh.points[:, 2]
    r2 = x**2 + y**2
    d = -z
    t_pulse = 37.0 + 260.0 * np.exp(-r2 / COLUMN_RADIUS**2) * np.exp(-d / 600.0)
    mesh.point_data["temperature_end_of_pulse_C"] = t_pulse
    mesh.point_data["temperature_peak_C"] = t_pulse + 5.0
    mesh.point_data["temperature_end_C"] = 37.0 + 0.2 * (t_pulse - 37.0)
    # ln(omega) crosses 0 on ellipses: the coagulation column (r = 100, depth 900)
    # and the wider, deeper necrosis zone (r = 130, depth 1000); omega up to ~1e30.
    arg_col = 69.0 * (1.0 - r2 / COLUMN_RADIUS**2 - (d / COLUMN_DEPTH) ** 2)
    arg_cell = 69.0 * (1.0 - r2 / 130.0**2 - (d / 1000.0) ** 2)
    mesh.point_data["omega_collagen"] = np.exp(np.clip(arg_col, -700, 69))
    mesh.point_data["omega_cell"] = np.exp(np.clip(arg_cell, -700, 69))
    r = np.sqrt(r2) + 1e-9
    mag = 3.0 * np.exp(-((np.sqrt(r2) - COLUMN_RADIUS) ** 2) / 80.0**2) * np.exp(-d / 800.0)
    mesh.point_data["displacement_um"] = np.column_stack([-mag * x / r, -mag * y / r, 0.5 * mag])

    c = mesh.cell_centers().points
    cr = np.min(np.hypot(*(c[:, None, :2] - centres[None]).transpose(2, 0, 1)), axis=1)
    cd = -c[:, 2]
    layer = np.zeros(mesh.n_cells, dtype=np.int32)
    for i, (_, top, _bottom) in enumerate(LAYERS):
        layer[cd >= top] = i
    mesh.cell_data["layer"] = layer
    mesh.cell_data["in_column"] = ((cr < COLUMN_RADIUS) & (cd < COLUMN_DEPTH)).astype(np.int32)
    mesh.cell_data["von_mises_kPa"] = (
        150.0 * np.exp(-((cr - COLUMN_RADIUS) ** 2) / 60.0**2) * (np.exp(-cd / 700.0))
    )
    # Tension around the column, compression inside it.
    mesh.cell_data["principal_stress_1_kPa"] = mesh.cell_data["von_mises_kPa"] * np.tanh(
        (cr - 0.6 * COLUMN_RADIUS) / 30.0
    )
    mesh.cell_data["principal_stress_2_kPa"] = 0.5 * mesh.cell_data["principal_stress_1_kPa"]
    mesh.cell_data["principal_stress_3_kPa"] = -0.8 * mesh.cell_data["von_mises_kPa"]
    return mesh


def _pattern_meta(
    layout: str,
    extent: list[float],
    columns: list[list[float]],
    mirror: list[str] | None = None,
    crater_um: float = 0.0,
) -> dict:
    """The treatment-pattern keys of snapshot.json / mesh.json."""
    crater = {"shape": "cone", "depth_um": crater_um, "diameter_um": crater_um}
    return {
        "layout": layout,
        "extent_um": extent,
        "columns_um": columns,
        "mirror": mirror or [],
        "crater": crater if crater_um > 0 else None,
        "cell_size_um": [extent[1] - extent[0], extent[3] - extent[2]],
    }


def _mesh_args(pattern: dict | None) -> dict:
    """Keyword arguments of :func:`_synthetic_mesh` for a pattern (see :func:`_pattern_meta`)."""
    if pattern is None:
        return {}
    crater = pattern["crater"]
    return {
        "extent": tuple(pattern["extent_um"]),
        "columns": tuple(map(tuple, pattern["columns_um"])),
        "crater_um": crater["depth_um"] if crater else 0.0,
    }


#: A quarter cell of pitch 700 µm: the column at the corner (0, 0), mirrored in x and y.
QUARTER = _pattern_meta("quarter_cell", [0.0, 350.0, 0.0, 350.0], [[0.0, 0.0]], ["x", "y"])
#: The full unit cell that QUARTER is a quarter of.
UNIT_CELL = _pattern_meta("unit_cell", [-350.0, 350.0, -350.0, 350.0], [[0.0, 0.0]])
#: Three columns with craters; (450, 500) is the one nearest the centre (350, 350).
THREE_COLUMNS = _pattern_meta(
    "random",
    [0.0, 700.0, 0.0, 700.0],
    [[150.0, 150.0], [550.0, 150.0], [450.0, 500.0]],
    crater_um=120.0,
)


def make_result_dir(
    root: Path,
    n_xy: int = 11,
    n_z: int = 31,
    probes: bool = True,
    provenance: bool = True,
    pattern: dict | None = None,
    frames: bool = False,
) -> Path:
    """Write a synthetic results directory like the solver's into ``root``.

    Args:
        pattern: Treatment-pattern metadata (see :func:`_pattern_meta`); None
            writes an old-style snapshot with one column on x = y = 0.

    Returns:
        The results directory.
    """
    root.mkdir(parents=True, exist_ok=True)
    fields = root / "fields"
    fields.mkdir(exist_ok=True)
    _synthetic_mesh(n_xy, n_z, **_mesh_args(pattern)).save(fields / "snapshot.vtu")
    meta = {
        "layers": [{"name": n, "top_um": t, "bottom_um": b} for n, t, b in LAYERS],
        "cell_size_um": [2 * HALF_WIDTH, 2 * HALF_WIDTH],
        "depth_um": DEPTH,
        "column_radius_um": COLUMN_RADIUS,
        "column_depth_um": COLUMN_DEPTH,
        "pulse_end_ms": PULSE_END_MS,
        "end_ms": 100.0,
        "title": "Synthetic MTZ <test> & co",
        **(pattern or {}),
    }
    (fields / "snapshot.json").write_text(json.dumps(meta, indent=2))
    (root / "metrics.json").write_text(json.dumps(METRICS, indent=2))
    (root / "case.toml").write_text(
        'title = "Synthetic MTZ from case.toml"\n\n[laser]\nenergy_mJ = 12.5\n'
        'note = "a <b>bold</b> & unescaped string"\n\n'
        "[skin.layers.epidermis]\nthickness_um = 65\ndensity_kg_per_m3 = 1190\n"
        "[skin.layers.papillary_dermis]\nthickness_um = 220\nperfusion_per_s = 0.0021\n"
    )
    if frames:
        write_frames(root, meta)
    if probes:
        t = np.concatenate([[0.0], np.geomspace(0.01, 100.0, 60)])
        heat = np.where(t <= PULSE_END_MS, t / PULSE_END_MS, np.exp(-(t - PULSE_END_MS) / 15.0))
        cols = {"time_ms": t}
        for i, (depth, amp) in enumerate([(0, 260.0), (200, 180.0), (500, 110.0)]):
            name = f"p{i}_z-{depth}um"
            temp = 37.0 + amp * heat
            cols[f"{name}_T_C"] = temp
            dose = np.cumsum(np.exp((temp - 37.0) / 25.0)) * 1e-3
            cols[f"{name}_omega_cell"] = dose * 3.0
            cols[f"{name}_omega_collagen"] = dose
        header = ",".join(cols)
        body = np.column_stack(list(cols.values()))
        np.savetxt(root / "probes.csv", body, delimiter=",", header=header, comments="", fmt="%.8g")
    if provenance:
        prov = {
            "versions": {"dolfinx": "0.11.0", "petsc": "3.24.0", "python": "3.12.1"},
            "git_commit": "0123456789abcdef",
            "ranks": 4,
            "dofs": 123456,
            "phases_s": {
                "mesh": 1.2,
                "heat": 30.1,
                "damage": 2.3,
                "mechanics": 20.4,
                "output": 3.3,
                "render": 4.2,
            },
            "total": 61.5,
        }
        (root / "provenance.json").write_text(json.dumps(prov, indent=2))
    return root


#: Times (ms) of the synthetic animation frames and the share of the pulse heating at each.
FRAMES = ((0.0, 0.0), (1.0, 0.5), (3.0, 1.0), (10.0, 0.6), (100.0, 0.1))


def write_frames(root: Path, meta: dict) -> None:
    """``fields/frames.vtu`` and ``frames.json`` like the solver's: temperature at a few times."""
    import pyvista as pv

    mesh = pv.read(root / "fields" / "snapshot.vtu")
    rise = np.asarray(mesh.point_data["temperature_end_of_pulse_C"]) - 37.0
    mesh.clear_data()
    for i, (_, share) in enumerate(FRAMES):
        mesh.point_data[f"temperature_{i:03d}_C"] = 37.0 + share * rise
    mesh.save(root / "fields" / "frames.vtu")
    frames_meta = {**meta, "frames_ms": [t for t, _ in FRAMES]}
    (root / "fields" / "frames.json").write_text(json.dumps(frames_meta))


def _assert_real_picture(path: Path) -> None:
    """The PNG exists, is not tiny and is not a single flat colour."""
    from PIL import Image

    assert path.is_file(), path
    assert path.stat().st_size > 5_000, (path, path.stat().st_size)
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.int64)
    assert pixels.shape[0] > 300 and pixels.shape[1] > 300
    assert pixels.std() > 5.0, (path, pixels.std())
    # More than a couple of colours: there is an actual picture, not just a title.
    packed = (pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2]
    assert len(np.unique(packed)) > 50, path


ALL_PNGS = (
    TEMPERATURE_PNG,
    TEMPERATURE_PEAK_PNG,
    TEMPERATURE_END_PNG,
    DAMAGE_PNG,
    HISTOLOGY_PNG,
    ISOSURFACES_PNG,
    VON_MISES_PNG,
    PRINCIPAL_1_PNG,
    PRINCIPAL_3_PNG,
    SURFACE_PNG,
    OVERVIEW_PNG,
    PROBES_PNG,
)


@pytest.fixture(scope="module")
def full_result(tmp_path_factory) -> Path:
    """A complete synthetic result, rendered and reported once for the module."""
    root = make_result_dir(tmp_path_factory.mktemp("result"))
    render_all(root)
    write_report(root)
    return root


@serial
@pytest.mark.serial  # pictures of files: one process (rank independence below)
def test_render_all_writes_every_picture(full_result: Path) -> None:
    """Every picture is written, non-trivial, and fields/ is left alone."""
    renders = sorted(p.name for p in (full_result / "renders").glob("*.png"))
    assert renders == sorted(ALL_PNGS)
    for name in ALL_PNGS:
        _assert_real_picture(full_result / "renders" / name)
    # The solver's field directory is read only.
    assert sorted(p.name for p in (full_result / "fields").iterdir()) == [
        "snapshot.json",
        "snapshot.vtu",
    ]


@serial
@pytest.mark.serial
def test_the_ranks_share_the_pictures_out(tmp_path: Path, monkeypatch) -> None:
    """``render_all(share=(rank, ranks))``: each picture drawn by exactly one rank, the
    slowest ones first and on different ranks; together all of them."""
    pictures = (render_temperature, render_histology)
    monkeypatch.setattr(fem.render.all, "FIELD_PICTURES", pictures)
    root = make_result_dir(tmp_path / "r", n_xy=7, n_z=15)
    every = {p.name for p in render_all(root)}
    parts = [{p.name for p in render_all(root, share=(r, 2))} for r in range(2)]
    assert parts[0] and parts[1] and not parts[0] & parts[1]
    assert parts[0] | parts[1] == every
    assert VIEW3D_HTML in parts[0]  # render_interactive is first in PICTURE_ORDER here


@serial
@pytest.mark.serial  # pictures of files: one process (rank independence below)
def test_render_all_returns_paths(tmp_path: Path, monkeypatch) -> None:
    """render_all returns the written paths (no probes: no probes picture)."""
    pictures = (render_temperature, render_histology)
    monkeypatch.setattr(fem.render.all, "FIELD_PICTURES", pictures)
    root = make_result_dir(tmp_path / "r", n_xy=7, n_z=15, probes=False)
    paths = render_all(root)
    assert {p.name for p in paths} == {TEMPERATURE_PNG, HISTOLOGY_PNG, VIEW3D_HTML}
    assert all(p.parent == root / "renders" and p.is_file() for p in paths)


@serial
@pytest.mark.serial  # pictures of files: one process (rank independence below)
def test_report_mentions_renders_and_metrics(full_result: Path) -> None:
    """The report is complete, escaped, offline and formats the metrics."""
    html = (full_result / "report.html").read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "<html" in html and "</html>" in html
    assert not (full_result / "report.html.tmp").exists()
    for name in ALL_PNGS:
        assert f"renders/{name}" in html
    for key in METRICS:
        assert key in html
    # Units from the key suffixes, 4 significant digits.
    assert "µm" in html and "°C" in html and "kPa" in html and "%" in html
    assert "287.1" in html and "287.12" not in html
    # Title from snapshot.json, HTML-escaped; case.toml shown escaped.
    assert "Synthetic MTZ &lt;test&gt; &amp; co" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html
    # Provenance: versions and phase times.
    assert "dolfinx" in html and "0.11.0" in html and "mechanics" in html
    assert "0123456789abcdef" in html
    # No network resources.
    assert "http://" not in html and "https://" not in html
    # Every picture the page shows is on disk next to it.
    sources = re.findall(r'<img src="([^"]+)"', html)
    assert len(sources) == len(ALL_PNGS)
    assert all((full_result / src).is_file() for src in sources)


@serial
@pytest.mark.serial  # pictures of files: one process (rank independence below)
def test_interactive_view(full_result: Path) -> None:
    """The 3D page is self-contained, holds both Omega = 1 surfaces, and the report embeds it."""
    page = (full_result / "renders" / VIEW3D_HTML).read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page and "<script src" not in page
    scene = json.loads(re.search(r'id="scene">(.*?)</script>', page, flags=re.DOTALL).group(1))
    assert [m["alpha"] for m in scene["meshes"]] == [0.35, 1.0]
    for mesh in scene["meshes"]:
        tris = np.asarray(mesh["tris"]).reshape(-1, 3)
        points = np.asarray(mesh["points"]).reshape(-1, 3)
        assert 100 < len(tris) <= VIEW3D_MAX_TRIANGLES and tris.max() < len(points)
    # The coagulation surface reaches about the column depth of the synthetic field.
    collagen = np.asarray(scene["meshes"][1]["points"]).reshape(-1, 3)
    assert -collagen[:, 2].max() < 50.0
    assert -collagen[:, 2].min() == pytest.approx(COLUMN_DEPTH, rel=0.1)
    html = (full_result / "report.html").read_text(encoding="utf-8")
    assert f'<iframe class="view3d" src="renders/{VIEW3D_HTML}"' in html


@serial
@pytest.mark.serial  # pictures of files: one process (rank independence below)
def test_report_settings_table(full_result: Path) -> None:
    """The resolved settings with units from the key names, and the layers as one table."""
    html = (full_result / "report.html").read_text(encoding="utf-8")
    assert "Treatment: laser energy <b>12.5 mJ</b>" in html
    settings = html[html.index('id="settings"') :]
    assert re.search(r"<code>energy_mJ</code></td><td>Energy</td><td[^>]*>12.5</td><td>mJ</td>",
                     settings)
    layers = settings[settings.index("Skin layers") :]
    assert "kg/m³" in layers and "s⁻¹" in layers and "µm" in layers
    assert "papillary dermis" in layers and "0.0021" in layers and "1,190" in layers


@serial
@pytest.mark.serial  # pictures of files: one process (rank independence below)
def test_seams_merge_despite_roundoff(tmp_path: Path) -> None:
    """Points repeated on partition seams merge even when their coordinates differ in the last bits.

    (Seen on 2 ranks: unmerged seams became boundary faces in the surface pictures.)
    """
    import pyvista as pv

    root = make_result_dir(tmp_path / "r", n_xy=7, n_z=15, probes=False)
    exact = load_snapshot(root).mesh.n_points
    vtu = root / "fields" / "snapshot.vtu"
    mesh = pv.read(vtu)
    jitter = np.random.default_rng(1).uniform(-1e-9, 1e-9, mesh.points.shape) * DEPTH
    mesh.points = mesh.points + jitter
    mesh.save(vtu)
    snap = load_snapshot(root)
    assert snap.mesh.n_points == exact == 7 * 7 * 15
    assert snap.mesh.extract_surface(algorithm=None).n_cells == 4 * (6 * 6 + 2 * 6 * 14)


@serial
@pytest.mark.serial  # pictures of files: one process (rank independence below)
def test_animation(tmp_path: Path) -> None:
    """The temperature GIF: one frame per saved time, frames that differ, each a real picture."""
    from PIL import Image, ImageSequence

    root = make_result_dir(tmp_path / "r", n_xy=7, n_z=15, probes=False, frames=True)
    snap = load_snapshot(root)
    gif = render_animation(root, root / "renders", snap)
    assert gif == root / "renders" / ANIMATION_GIF
    frames = [
        np.asarray(f.convert("RGB"), dtype=float) for f in ImageSequence.Iterator(Image.open(gif))
    ]
    assert len(frames) == len(FRAMES)
    for frame in frames:
        assert frame.std() > 5.0
    # Heating then cooling: the hottest frame (end of pulse) differs from the first and last.
    assert np.mean(np.abs(frames[2] - frames[0])) > 1.0
    assert np.mean(np.abs(frames[2] - frames[-1])) > 1.0
    assert render_animation(tmp_path / "nothing", tmp_path, None) is None


@serial
@pytest.mark.serial  # pictures of files: one process (rank independence below)
def test_missing_inputs_degrade_gracefully(tmp_path: Path, caplog, monkeypatch) -> None:
    """No probes.csv, provenance.json or snapshot.json: warnings, no crash."""
    pictures = (render_temperature, render_damage)
    monkeypatch.setattr(fem.render.all, "FIELD_PICTURES", pictures)
    root = make_result_dir(tmp_path / "r", n_xy=7, n_z=15, probes=False, provenance=False)
    (root / "fields" / "snapshot.json").unlink()
    with caplog.at_level(logging.WARNING):
        paths = render_all(root)
        report = write_report(root)
    names = {p.name for p in paths}
    assert PROBES_PNG not in names
    assert TEMPERATURE_PNG in names and DAMAGE_PNG in names
    html = report.read_text(encoding="utf-8")
    assert "</html>" in html
    assert "renders/probes.png" not in html
    # Title falls back to case.toml.
    assert "Synthetic MTZ from case.toml" in html
    assert any("probes" in r.getMessage() for r in caplog.records)


@serial
@pytest.mark.serial  # pictures of files: one process (rank independence below)
def test_missing_fields_and_arrays(tmp_path: Path) -> None:
    """Missing point arrays, no damage, then no snapshot at all."""
    import pyvista as pv

    root = make_result_dir(tmp_path / "r", n_xy=7, n_z=15)
    vtu = root / "fields" / "snapshot.vtu"
    mesh = pv.read(vtu)
    for name in ("temperature_end_of_pulse_C", "omega_cell", "displacement_um"):
        del mesh.point_data[name]
    # No damage anywhere: the contour and isosurface are empty.
    mesh.point_data["omega_collagen"] = np.zeros(mesh.n_points)
    mesh.save(vtu)
    paths = {p.name for p in render_all(root)}
    # No displacement: no warped surface; no damage: no 3D page.
    assert paths == set(ALL_PNGS) - {SURFACE_PNG}
    for name in paths:
        _assert_real_picture(root / "renders" / name)

    vtu.unlink()
    (root / "metrics.json").unlink()
    paths = render_all(root)
    assert [p.name for p in paths] == [PROBES_PNG]
    html = write_report(root).read_text(encoding="utf-8")
    assert "</html>" in html


@serial
@pytest.mark.serial  # pictures of files: one process (rank independence below)
def test_empty_dir_does_not_crash(tmp_path: Path) -> None:
    """An empty directory gives no pictures and a bare report."""
    assert render_all(tmp_path) == []
    html = write_report(tmp_path).read_text(encoding="utf-8")
    assert tmp_path.name in html and "</html>" in html


@serial
@pytest.mark.serial  # pictures of files: one process (rank independence below)
def test_read_probes_generic(tmp_path: Path) -> None:
    """Probe columns are grouped by the name before the quantity suffix."""
    path = tmp_path / "probes.csv"
    path.write_text(
        "time_ms,a_T_C,a_omega_cell,b_z-10um_T_C,b_z-10um_omega_vessel\n"
        "0,37,0,37,0\n1,40,nan,39,0.5\n"
    )
    time, probes = read_probes(path)
    np.testing.assert_allclose(time, [0.0, 1.0])
    assert set(probes) == {"a", "b_z-10um"}
    np.testing.assert_allclose(probes["b_z-10um"]["T_C"], [37.0, 39.0])
    np.testing.assert_allclose(probes["b_z-10um"]["omega_vessel"], [0.0, 0.5])
    assert np.isnan(probes["a"]["omega_cell"][1])
    assert render_probes(tmp_path, tmp_path / "renders", pulse_end_ms=0.5) is not None


@serial
@pytest.mark.serial  # pictures of files: one process (rank independence below)
def test_study_report(tmp_path: Path) -> None:
    """The study page has the union of the row keys and the plots."""
    import matplotlib.image

    plot = tmp_path / "plots" / "depth.png"
    plot.parent.mkdir()
    matplotlib.image.imsave(plot, np.random.default_rng(0).random((20, 30)))
    rows = [
        {"case": "low", "energy_mJ": 5.0, "mtz_depth_um": 412.345678},
        {"case": "high <x>", "energy_mJ": 20.0, "mtz_depth_um": 1204.5, "note": "only here"},
    ]
    out = write_study_report(tmp_path, rows, [plot])
    assert out == tmp_path / "report.html"
    html = out.read_text(encoding="utf-8")
    assert "</html>" in html and "plots/depth.png" in html
    assert "412.3" in html and "412.34" not in html
    assert "high &lt;x&gt;" in html and "note" in html
    assert not (tmp_path / "report.html.tmp").exists()


def _rows_of(path: Path, rgb: tuple[int, int, int]) -> tuple[int, int]:
    """First and last picture row holding the exact colour ``rgb``."""
    from PIL import Image

    pixels = np.asarray(Image.open(path).convert("RGB"))
    rows = np.flatnonzero(np.all(pixels == rgb, axis=2).any(axis=1))
    assert rows.size, (path, rgb)
    return int(rows[0]), int(rows[-1])


@serial
@pytest.mark.serial  # pictures of files: one process (rank independence below)
def test_study_common_view(tmp_path: Path, monkeypatch) -> None:
    """The cases of a study are drawn with one camera and colour range, and linked."""
    monkeypatch.setattr(fem.render.all, "FIELD_PICTURES", (render_damage,))
    study = tmp_path / "study"
    deep = make_result_dir(study / "deep", n_xy=7, n_z=15, probes=False)
    shallow = make_result_dir(study / "shallow", n_xy=7, n_z=15, probes=False)
    meta = json.loads((shallow / "fields" / "snapshot.json").read_text())
    meta["column_depth_um"] = 300.0  # its own view would crop at 390 µm instead of 1170 µm
    (shallow / "fields" / "snapshot.json").write_text(json.dumps(meta))
    import pyvista as pv

    mesh = pv.read(shallow / "fields" / "snapshot.vtu")
    mesh.point_data["temperature_peak_C"] = mesh.point_data["temperature_peak_C"] + 100.0
    mesh.save(shallow / "fields" / "snapshot.vtu")

    view = study_view([deep, shallow, tmp_path / "missing"])
    assert view.depth_um == pytest.approx(1.3 * COLUMN_DEPTH)
    snap_deep, snap_shallow = load_snapshot(deep), load_snapshot(shallow)
    t_max = float(np.max(snap_shallow.mesh.point_data["temperature_peak_C"]))
    t_min = min(
        float(np.min(s.mesh.point_data["temperature_end_C"])) for s in (snap_deep, snap_shallow)
    )
    assert view.temperature_C == pytest.approx((t_min, t_max))
    assert view.half_width_um == pytest.approx(HALF_WIDTH, rel=1e-2)
    assert study_view([]) == View()

    epidermis = (242, 207, 166)  # LAYER_COLORS[1], drawn without lighting
    for case in (deep, shallow):
        render_all(case)
        write_report(case)
    own = [_rows_of(c / "renders" / DAMAGE_PNG, epidermis) for c in (deep, shallow)]
    assert own[0] != own[1]  # each case fitted on its own: different scales

    rows = [{"case": "deep", "mtz_depth_um": 900.0}, {"case": "shallow", "mtz_depth_um": 300.0}]
    html = write_study_report(study, rows, []).read_text(encoding="utf-8")
    same = [_rows_of(c / "renders" / DAMAGE_PNG, epidermis) for c in (deep, shallow)]
    assert same[0] == same[1] == own[0]
    assert 'href="deep/report.html"' in html and 'href="shallow/report.html"' in html
    assert "Cases side by side" in html and 'src="shallow/renders/damage_contours.png"' in html


# --------------------------------------------------------------------------- treatment patterns


def make_mesh_dir(root: Path, pattern: dict, n_xy: int = 9, n_z: int = 21) -> Path:
    """Write ``mesh.vtu`` (cell data ``layer`` and ``in_column`` only) and ``mesh.json``.

    Args:
        root: The directory to write into.
        pattern: Treatment-pattern metadata (see :func:`_pattern_meta`).
        n_xy: Points across the block in x and y.
        n_z: Points through the depth.
    """
    root.mkdir(parents=True, exist_ok=True)
    mesh = _synthetic_mesh(n_xy, n_z, **_mesh_args(pattern))
    mesh.clear_point_data()
    for name in list(mesh.cell_data):
        if name not in ("layer", "in_column"):
            del mesh.cell_data[name]
    mesh.save(root / "mesh.vtu")
    column = int(np.sum(mesh.cell_data["in_column"]))
    meta = {
        **pattern,
        "title": "Synthetic mesh",
        "layers": [{"name": n, "top_um": t, "bottom_um": b} for n, t, b in LAYERS],
        "depth_um": DEPTH,
        "column_radius_um": COLUMN_RADIUS,
        "column_depth_um": COLUMN_DEPTH,
        "mesh_quality": {
            "cells": mesh.n_cells,
            "min_quality": 0.214,
            "mean_quality": 0.712,
            "regions": {
                "column": {"cells": column, "min_quality": 0.301, "mean_quality": 0.755},
                "bulk": {"cells": mesh.n_cells - column, "min_quality": 0.214, "mean_quality": 0.7},
            },
        },
    }
    (root / "mesh.json").write_text(json.dumps(meta, indent=2))
    return root


def _mean_difference(a: Path, b: Path) -> float:
    """Mean absolute difference of two pictures of the same size (0-255 per channel)."""
    from PIL import Image

    pa, pb = (np.asarray(Image.open(p).convert("RGB"), dtype=float) for p in (a, b))
    assert pa.shape == pb.shape
    return float(np.mean(np.abs(pa - pb)))


@serial
@pytest.mark.serial  # pictures of files: one process (rank independence below)
def test_quarter_cell_is_unfolded(tmp_path: Path) -> None:
    """A mirrored quarter cell is shown as the full unit cell, vectors reflected."""
    root = make_result_dir(tmp_path / "quarter", n_xy=9, n_z=21, probes=False, pattern=QUARTER)
    snap = load_snapshot(root)
    np.testing.assert_allclose(snap.bounds[:4], [-350.0, 350.0, -350.0, 350.0])
    assert snap.cut_axis == (0.0, 0.0)
    cut = _cut(snap)
    np.testing.assert_allclose(cut.bounds[:2], [-350.0, 350.0])
    # The inward displacement points toward the column on both sides of x = 0.
    x = snap.mesh.points[:, 0]
    ux = snap.mesh.point_data["displacement_um"][:, 0]
    far = np.abs(x) > 1.0
    assert np.all(np.sign(ux[far]) == -np.sign(x[far]))

    paths = {p.name for p in render_all(root)}
    assert paths == set(ALL_PNGS) - {PROBES_PNG} | {VIEW3D_HTML}
    paths.remove(VIEW3D_HTML)
    for name in paths:
        _assert_real_picture(root / "renders" / name)

    # The same pictures as the full unit cell it is a quarter of.
    full = make_result_dir(tmp_path / "full", n_xy=17, n_z=21, probes=False, pattern=UNIT_CELL)
    out = render_damage(load_snapshot(full), full / "renders")
    assert _mean_difference(out, root / "renders" / DAMAGE_PNG) < 1.0


@serial
@pytest.mark.serial  # pictures of files: one process (rank independence below)
def test_several_columns(tmp_path: Path) -> None:
    """Several columns: the cut goes through the one nearest the centre; top view of coverage."""
    root = make_result_dir(tmp_path / "r", n_xy=17, n_z=21, probes=False, pattern=THREE_COLUMNS)
    snap = load_snapshot(root)
    assert snap.n_columns == 3
    assert snap.cut_axis == (450.0, 500.0)
    cut = _cut(snap)
    np.testing.assert_allclose(cut.points[:, 1], 500.0, atol=1e-3)
    # Centred on the column: as much room on both sides as the nearer edge allows.
    np.testing.assert_allclose(cut.bounds[:2], [200.0, 700.0])

    paths = {p.name for p in render_all(root)}
    assert paths == (set(ALL_PNGS) - {PROBES_PNG}) | {COVERAGE_PNG, VIEW3D_HTML}
    paths.remove(VIEW3D_HTML)
    for name in paths:
        _assert_real_picture(root / "renders" / name)
    html = write_report(root).read_text(encoding="utf-8")
    assert f"renders/{COVERAGE_PNG}" in html and "Treated columns seen from above" in html


@serial
@pytest.mark.serial  # pictures of files: one process (rank independence below)
def test_render_mesh(tmp_path: Path) -> None:
    """The mesh pictures: a cut always, a top view for several columns."""
    quarter = make_mesh_dir(tmp_path / "quarter", QUARTER)
    assert [p.name for p in render_mesh(quarter)] == [MESH_CUT_PNG]
    _assert_real_picture(quarter / "renders" / MESH_CUT_PNG)

    three = make_mesh_dir(tmp_path / "three", THREE_COLUMNS, n_xy=17)
    assert [p.name for p in render_mesh(three)] == [MESH_CUT_PNG, MESH_TOP_PNG]
    for name in (MESH_CUT_PNG, MESH_TOP_PNG):
        _assert_real_picture(three / "renders" / name)
    assert not (three / "report.html").exists()


@serial
@pytest.mark.serial  # pictures of files: one process (rank independence below)
@pytest.mark.filterwarnings("ignore::UserWarning")  # pyvista's warning about the bad file
def test_render_mesh_never_raises(tmp_path: Path, monkeypatch) -> None:
    """No mesh, an unreadable one, or a failing picture: logged, never raised."""
    assert render_mesh(tmp_path / "nothing") == []
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "mesh.vtu").write_text("not a VTU file")
    (bad / "mesh.json").write_text("{not json")
    assert render_mesh(bad) == []

    def broken(*args, **kwargs):
        raise RuntimeError("broken picture")

    monkeypatch.setattr(fem.render.all, "render_mesh_cut", broken)
    root = make_mesh_dir(tmp_path / "three", THREE_COLUMNS, n_xy=9)
    assert [p.name for p in render_mesh(root)] == [MESH_TOP_PNG]


# --------------------------------------------------------------------------- parallel runs


def test_written_snapshot_is_rank_independent(shared_tmp: Path) -> None:
    """The snapshot and frames written from any number of ranks load as the same grid.

    The solver's writer gathers the partitions on rank 0; the renderer merges the
    seams. On 1 or 2 ranks the loaded grid has exactly the vertices and boundary
    faces of the global mesh and the fields take their analytic values, so the
    pictures cannot depend on the number of ranks.
    """
    import dolfinx.fem as dfem
    from dolfinx import mesh as dmesh

    from fem.output import fields as output_fields
    from fem.output.files import KELVIN, write_json

    comm = MPI.COMM_WORLD
    n = (6, 6, 10)
    domain = dmesh.create_box(
        comm, [[-2e-4, -2e-4, -1e-3], [2e-4, 2e-4, 0.0]], list(n), dmesh.CellType.tetrahedron
    )
    V = dfem.functionspace(domain, ("Lagrange", 1))

    def kelvin(x):
        return KELVIN + 37.0 + 300.0 * np.exp(-(x[0] ** 2 + x[1] ** 2) / 1e-8 + x[2] / 5e-4)

    T = dfem.Function(V)
    T.interpolate(kelvin)
    omega = dfem.Function(V)
    omega.interpolate(lambda x: np.exp(30.0 * (1.0 - (x[0] ** 2 + x[1] ** 2) / 1e-8 + x[2] / 6e-4)))
    n_owned = domain.topology.index_map(3).size_local
    z = dmesh.compute_midpoints(domain, 3, np.arange(n_owned, dtype=np.int32))[:, 2]
    layer = (z < -1e-4).astype(np.int32) + (z < -4e-4).astype(np.int32)

    out = shared_tmp / "parallel_snapshot"
    fields = out / "fields"
    if comm.rank == 0:
        fields.mkdir(parents=True, exist_ok=True)
    comm.Barrier()
    meta = {
        "layers": [{"name": name, "top_um": top, "bottom_um": bottom}
                   for name, top, bottom in (("epidermis", 0, 100), ("papillary_dermis", 100, 400),
                                             ("reticular_dermis", 400, 1000))],
        "column_depth_um": 700.0,
        "pulse_end_ms": 1.0,
    }
    point_data = {
        "temperature_peak_C": T,
        "temperature_end_C": T,
        "omega_collagen": omega,
        "omega_cell": omega,
    }
    output_fields.write_snapshot(fields / "snapshot.vtu", V, point_data, {"layer": layer})
    output_fields.write_frames(fields / "frames.vtu", V, [(0.0, T), (1e-3, T)], meta)
    if comm.rank == 0:
        write_json(fields / "snapshot.json", meta)
    comm.Barrier()
    if comm.rank != 0:
        return

    snap = load_snapshot(out)
    vertices = (n[0] + 1) * (n[1] + 1) * (n[2] + 1)
    assert snap.mesh.n_points == vertices and snap.mesh.n_cells == 6 * n[0] * n[1] * n[2]
    faces = 2 * 2 * (n[0] * n[1] + n[0] * n[2] + n[1] * n[2])
    assert snap.mesh.extract_surface(algorithm=None).n_cells == faces
    x = snap.mesh.points.T * 1e-6
    np.testing.assert_allclose(snap.mesh.point_data["temperature_peak_C"], kelvin(x) - KELVIN,
                               rtol=1e-10)
    np.testing.assert_array_equal(
        snap.mesh.cell_data["layer"],
        (snap.mesh.cell_centers().points[:, 2] < -100.0).astype(int)
        + (snap.mesh.cell_centers().points[:, 2] < -400.0),
    )
    frames_snap, frames = load_frames(out)
    assert [t for t, _ in frames] == [0.0, 1.0] and frames_snap.mesh.n_points == vertices
    _assert_real_picture(render_damage(snap, out / "renders"))


@pytest.mark.serial
def test_3d_view_surfaces_with_degenerate_triangles_are_decimated() -> None:
    """An isosurface whose points merge (cleaning makes lines of its degenerate triangles, as
    on a 98-column patch) is still decimated to the 3D page's budget."""
    import pyvista as pv

    from fem.render.interactive import _scene_mesh

    s = pv.Sphere(theta_resolution=400, phi_resolution=400)
    pts = s.points.copy()
    pts[5:40] = pts[4]
    surface = pv.PolyData(pts, faces=s.faces)
    assert surface.triangulate().clean().n_lines > 0
    scene = _scene_mesh(surface, "necrosis", "red", 0.5)
    assert 0 < len(scene["tris"]) // 3 <= VIEW3D_MAX_TRIANGLES

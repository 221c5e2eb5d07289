"""Pictures and report section of the healing stage ("After the treatment"), from synthetic
result files built to the contract: ``healing.csv``, ``fields/epidermis.vtu``, the ``*_d<day>``
arrays of ``snapshot.vtu``, the ``healing`` key of ``snapshot.json`` and the healing metrics.
"""

from mpi4py import MPI  # noqa: F401  (before anything that may load PETSc)

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from fem.output.names import (
    COLLAGEN_PNG,
    EPIDERMIS_VTU,
    HEALING_CSV,
    HEALING_TIMELINE_PNG,
    METRICS_JSON,
    RENDERS_DIR,
    REPORT_HTML,
    SNAPSHOT_JSON,
    SNAPSHOT_VTU,
    WOUND_CLOSURE_PNG,
)
from fem.render.all import render_all
from fem.render.healing import load_epidermis, render_collagen_remodelling, render_wound_closure
from fem.render.healing_timeline import read_healing_csv, render_healing_timeline
from fem.report.case import write_report
from fem.report.healing import outcome_sentence
from test_render_report import (
    COLUMN_DEPTH,
    COLUMN_RADIUS,
    METRICS,
    QUARTER,
    _assert_real_picture,
    make_result_dir,
)

pytestmark = pytest.mark.serial

HEALING_PNGS = (WOUND_CLOSURE_PNG, COLLAGEN_PNG, HEALING_TIMELINE_PNG)
OUTPUT_DAYS = (7, 28, 90)
END_DAYS = 90.0
WOUND_RADIUS = 110.0  # µm, the epidermal defect around each column
FRONT_SPEED = 10.0  # µm/h, the re-epithelialisation front
HEADER = ("time_h,time_days,open_defect_percent,mend_depth_um,debris_percent,"
          "activated_fibroblasts_percent,collagen_III_percent,collagen_I_percent,"
          "denatured_collagen_percent,late_tightening_area_percent,"
          "late_linear_contraction_percent")
HEALING_METRICS = {
    "reepithelialization_h": WOUND_RADIUS / FRONT_SPEED,
    "mend_shed_days": 5.4,
    "pigment_cleared_percent": 6.2,
    "stimulated_volume_percent": 18.5,
    "new_collagen_percent": 3.1,
    "remodelling_complete_days": 61.0,
    "late_tightening_area_percent": 0.42,
    "late_linear_contraction_percent": 0.21,
    "downtime_days": 5.9,
}


def _healing_meta() -> dict:
    return {
        "model": "front",
        "output_days": list(OUTPUT_DAYS),
        "end_days": END_DAYS,
        "reepithelialization_h": WOUND_RADIUS / FRONT_SPEED,
        "wound_times_h": [0, 3, 6, 9, 12],
    }


def _add_day_fields(root: Path) -> None:
    """The healing point arrays of ``snapshot.vtu``: collagen laid down around the column."""
    import pyvista as pv

    vtu = root / SNAPSHOT_VTU
    mesh = pv.read(vtu)
    x, y, z = np.asarray(mesh.points).T
    r, d = np.hypot(x, y), -z
    inside = np.exp(-np.clip(r**2 / COLUMN_RADIUS**2 + (d / COLUMN_DEPTH) ** 2 - 1.0, -50, 50)
                    * 8.0)
    inside = inside / (1.0 + inside)  # ~1 in the column, ~0 outside
    dermis = (d > 80.0).astype(float)
    stimulus = np.exp(-((r - COLUMN_RADIUS) ** 2) / 70.0**2) * np.exp(-d / 900.0) * dermis
    mesh.point_data["heat_shock_stimulus"] = stimulus
    for day in OUTPUT_DAYS:
        left = np.exp(-day / 25.0)
        denatured = inside * left * dermis
        growth = 1.0 - np.exp(-day / 20.0)
        collagen_iii = 0.6 * growth * np.exp(-day / 60.0) * (inside + 0.5 * stimulus) * dermis
        collagen_i = 0.8 * (growth - 0.6 * growth * np.exp(-day / 60.0)) * inside * dermis
        mesh.point_data[f"denatured_collagen_d{day}"] = denatured
        mesh.point_data[f"collagen_III_d{day}"] = collagen_iii
        mesh.point_data[f"collagen_I_d{day}"] = collagen_i
        mesh.point_data[f"new_collagen_d{day}"] = collagen_iii + collagen_i
        mesh.point_data[f"fibroblasts_d{day}"] = np.clip(stimulus * np.exp(-day / 30.0), 0, 1)
    mesh.save(vtu)


def _write_epidermis(root: Path, extent: tuple[float, float, float, float],
                     columns: tuple[tuple[float, float], ...] = ((0.0, 0.0),), n: int = 61) -> None:
    """``fields/epidermis.vtu``: the basal plane with a closing disc around each column."""
    import pyvista as pv

    xmin, xmax, ymin, ymax = extent
    plane = pv.ImageData(dimensions=(n, n, 1), spacing=((xmax - xmin) / (n - 1),
                                                         (ymax - ymin) / (n - 1), 1.0),
                         origin=(xmin, ymin, 0.0))
    mesh = plane.triangulate().cast_to_unstructured_grid()
    xy = np.asarray(mesh.points)[:, :2]
    centres = np.asarray(columns, dtype=float)
    r = np.min(np.linalg.norm(xy[:, None, :] - centres[None], axis=2), axis=1)
    defect = (r < WOUND_RADIUS).astype(float)
    mesh.point_data["defect"] = defect
    mesh.point_data["closure_time_h"] = defect * (WOUND_RADIUS - r) / FRONT_SPEED
    mesh.point_data["open_barrier"] = (r < 35.0).astype(float)
    follicle = np.hypot(xy[:, 0] - 95.0, xy[:, 1] + 100.0) < 22.0
    mesh.point_data["follicle"] = follicle.astype(float)
    (root / EPIDERMIS_VTU).parent.mkdir(parents=True, exist_ok=True)
    mesh.save(root / EPIDERMIS_VTU)


def _write_healing_csv(root: Path) -> None:
    t_h = np.geomspace(1.0 / 60.0, END_DAYS * 24.0, 90)
    t_d = t_h / 24.0
    reep = WOUND_RADIUS / FRONT_SPEED
    open_defect = 12.0 * np.clip(1.0 - t_h / reep, 0.0, 1.0) ** 2
    mend_depth = 60.0 * np.clip(1.0 - t_d / 5.4, 0.0, 1.0)
    debris = 12.0 * np.exp(-(np.log(t_d / 2.5) ** 2) / 1.2) * (t_d < 6.5)
    fibro = 25.0 * (1.0 - np.exp(-t_d / 2.0)) * np.exp(-t_d / 25.0)
    c3 = 2.5 * (1.0 - np.exp(-t_d / 7.0)) * np.exp(-t_d / 60.0)
    c1 = 2.0 * (1.0 - np.exp(-t_d / 30.0))
    denat = 8.0 * np.exp(-t_d / 20.0)
    with (root / HEALING_CSV).open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER.split(","))
        for i in range(t_h.size):
            late = ["", ""]
            for day, area in ((7, 0.10), (28, 0.28), (90, 0.42)):
                if abs(t_d[i] - day) < 1e-9 or (i and t_d[i - 1] < day < t_d[i]):
                    late = [f"{area:.4g}", f"{area / 2:.4g}"]
            out.writerow([f"{v:.8g}" for v in (t_h[i], t_d[i], open_defect[i], mend_depth[i],
                                                 debris[i], fibro[i], c3[i], c1[i], denat[i])]
                         + late)


def make_healing_dir(root: Path, healing: bool = True, **kwargs) -> Path:
    """A synthetic finished run with a healing stage (``healing=False``: the files without the
    ``healing`` key of ``snapshot.json``, as a run with healing off would not write them)."""
    root = make_result_dir(root, n_xy=11, n_z=31, **kwargs)
    _add_day_fields(root)
    half = 158.1
    _write_epidermis(root, (-half, half, -half, half))
    _write_healing_csv(root)
    meta = json.loads((root / SNAPSHOT_JSON).read_text())
    if healing:
        meta["healing"] = _healing_meta()
    (root / SNAPSHOT_JSON).write_text(json.dumps(meta, indent=2))
    (root / METRICS_JSON).write_text(json.dumps({**METRICS, **HEALING_METRICS}, indent=2))
    return root


@pytest.fixture(scope="module")
def healing_result(tmp_path_factory) -> Path:
    """A synthetic run with a healing stage, rendered and reported once for the module."""
    root = make_healing_dir(tmp_path_factory.mktemp("healing"))
    render_all(root)
    write_report(root)
    return root


def test_healing_pictures_are_drawn(healing_result: Path) -> None:
    for name in HEALING_PNGS:
        _assert_real_picture(healing_result / RENDERS_DIR / name)


def test_wound_closure_panels_change(healing_result: Path) -> None:
    """The dark red open wound shrinks from panel to panel: fewer wound pixels at the end."""
    from PIL import Image

    from fem.render.healing import WOUND_COLOR

    pixels = np.asarray(Image.open(healing_result / RENDERS_DIR / WOUND_CLOSURE_PNG)
                        .convert("RGB"), dtype=int)
    wound = np.array([int(WOUND_COLOR[i:i + 2], 16) for i in (1, 3, 5)])
    is_wound = np.all(np.abs(pixels - wound) < 12, axis=2)
    top, bottom = is_wound[: pixels.shape[0] // 2], is_wound[pixels.shape[0] // 2:]
    assert top.sum() > 200 and top.sum() > 2 * bottom.sum()


def test_report_has_the_section(healing_result: Path) -> None:
    html = (healing_result / REPORT_HTML).read_text(encoding="utf-8")
    assert 'id="healing"' in html and "After the treatment" in html
    section = html[html.index('id="healing"'):]
    section = section[: section.index("<h2", 10)] if "<h2" in section[10:] else section
    for name in HEALING_PNGS:
        assert f'src="renders/{name}"' in section
    for key in HEALING_METRICS:
        assert f"<code>{key}</code>" in section
    assert "closed 11 h after the pulse" in section
    assert "day 5.4" in section and "6.2 %" in section and "3.1 %" in section
    assert "last point closes" in section  # a definition
    # The healing pictures are not repeated among the field pictures.
    fields = html[html.index('id="fields"'): html.index('id="healing"')]
    assert not any(name in fields for name in HEALING_PNGS)
    sources = re.findall(r'<img src="([^"]+)"', html)
    assert all((healing_result / src).is_file() for src in sources)


def test_no_healing_key_no_pictures(tmp_path: Path) -> None:
    """Without the ``healing`` key: no healing picture and no report section, files or not."""
    root = make_healing_dir(tmp_path / "r", healing=False, probes=False)
    out = root / RENDERS_DIR
    for func in (render_wound_closure, render_collagen_remodelling, render_healing_timeline):
        assert func(root, out) is None
    write_report(root)
    assert not any((out / name).exists() for name in HEALING_PNGS)
    html = (root / REPORT_HTML).read_text(encoding="utf-8")
    assert 'id="healing"' not in html and "After the treatment" not in html


def test_missing_inputs_give_no_picture(tmp_path: Path) -> None:
    """Each picture needs its own input: the others are still drawn."""
    root = make_healing_dir(tmp_path / "r", probes=False)
    (root / EPIDERMIS_VTU).unlink()
    (root / HEALING_CSV).unlink()
    out = root / RENDERS_DIR
    assert render_wound_closure(root, out) is None
    assert render_healing_timeline(root, out) is None
    assert render_collagen_remodelling(root, out) == out / COLLAGEN_PNG
    html = write_report(root).read_text(encoding="utf-8")
    assert f"renders/{COLLAGEN_PNG}" in html and f"renders/{WOUND_CLOSURE_PNG}" not in html


def test_read_healing_csv(tmp_path: Path) -> None:
    root = tmp_path
    _write_healing_csv(root)
    data = read_healing_csv(root / HEALING_CSV)
    assert set(HEADER.split(",")) <= set(data)
    late = data["late_tightening_area_percent"]
    assert np.count_nonzero(np.isfinite(late)) == 3
    assert data["time_days"][-1] == pytest.approx(END_DAYS)


def test_quarter_epidermis_is_unfolded(tmp_path: Path) -> None:
    """An epidermis written on the quarter cell is unfolded like the snapshot."""
    _write_epidermis(tmp_path, (0.0, 350.0, 0.0, 350.0), n=21)
    mesh = load_epidermis(tmp_path, QUARTER)
    assert mesh.bounds[0] == pytest.approx(-350.0) and mesh.bounds[2] == pytest.approx(-350.0)
    assert mesh.n_points == 41 * 41
    # Already full: left alone.
    _write_epidermis(tmp_path, (-350.0, 350.0, -350.0, 350.0), n=21)
    assert load_epidermis(tmp_path, QUARTER).n_points == 21 * 21


def test_outcome_sentence() -> None:
    text = outcome_sentence({**HEALING_METRICS}, _healing_meta())
    assert text.startswith("The epidermis closed 11 h after the pulse")
    assert "by day 90" in text and "0.42 %" in text
    assert outcome_sentence({"reepithelialization_h": 0.0}, {}).startswith(
        "There was no epidermal wound")

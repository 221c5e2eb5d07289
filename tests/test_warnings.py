"""Warnings for runs that look wrong (fem.post.sanity) and their box at the top of the reports."""

import json
from pathlib import Path

import pytest

from conftest import ROOT
from fem.config import load_case
from fem.config.presets import CLINICAL_RANGES, LASER_PRESETS
from fem.post.sanity import FAR_FACTOR, case_warnings, result_warnings
from fem.report.case import write_report
from fem.report.study import write_study_report

DEMO = ROOT / "studies" / "demo.toml"

#: The metrics of a run that damaged nothing: the example of joules typed as millijoules.
NO_DAMAGE = {
    "columns": 1,
    "mtz_depth_um": 0.0,
    "mtz_width_um": 0.0,
    "necrosis_depth_um": 0.0,
    "necrosis_width_um": 0.0,
    "ablation_depth_um": 0.0,
    "peak_temperature_C": 37.02,
}
#: The metrics of a normal demo run (coarse values).
DEMO_METRICS = {
    "columns": 1,
    "mtz_depth_um": 365.4,
    "necrosis_depth_um": 434.5,
    "ablation_depth_um": 0.0,
    "peak_temperature_C": 110.2,
}


def test_every_laser_preset_has_clinical_ranges_holding_its_defaults() -> None:
    assert set(CLINICAL_RANGES) == set(LASER_PRESETS)
    for name, ranges in CLINICAL_RANGES.items():
        assert set(ranges) == {"energy_mJ", "spot_um", "density_per_cm2"}
        for key, rng in ranges.items():
            assert 0 < rng.lo < rng.hi and rng.source, (name, key)
        for key in ("energy_mJ", "spot_um"):
            assert ranges[key].lo <= LASER_PRESETS[name][key] <= ranges[key].hi, (name, key)


def test_energy_in_joules_is_warned() -> None:
    case = load_case(DEMO, ["laser.energy_mJ=0.01"])
    warnings = case_warnings(case)
    assert len(warnings) == 1
    text = warnings[0]
    assert text.startswith("laser.energy_mJ = 0.01 is far below the clinical range of "
                           "erglass_1550 (4.5-70 mJ, ")
    assert "Kono 2007" in text and text.endswith("a value in joules?")


def test_normal_demo_has_no_warnings() -> None:
    case = load_case(DEMO)
    assert case_warnings(case) == []
    assert result_warnings(case, DEMO_METRICS) == []


def test_far_means_a_factor_outside_the_range() -> None:
    lo, hi, _ = CLINICAL_RANGES["erglass_1550"]["energy_mJ"]
    just_in = [f"laser.energy_mJ={lo / FAR_FACTOR * 1.01}", f"laser.energy_mJ={hi * 2.9}"]
    for override in just_in:
        assert case_warnings(load_case(DEMO, [override])) == [], override
    high = case_warnings(load_case(DEMO, [f"laser.energy_mJ={hi * FAR_FACTOR * 1.1}"]))
    assert len(high) == 1 and "far above" in high[0]


def test_spot_and_density_and_other_presets() -> None:
    # a 10 um spot meshes its column finely: the coarse mesh fits this machine's memory
    spot = case_warnings(load_case(DEMO, ["laser.spot_um=10", 'mesh.resolution="coarse"']))
    assert len(spot) == 1 and spot[0].startswith("laser.spot_um = 10 is far below")
    dense = case_warnings(load_case(DEMO, ["pattern.density_per_cm2=10"]))
    assert len(dense) == 1 and dense[0].startswith("pattern.density_per_cm2 = 10 is far below")
    co2 = case_warnings(load_case(DEMO, ['laser.preset="co2_10600"', "laser.energy_mJ=0.01"]))
    assert len(co2) == 1 and "clinical range of co2_10600" in co2[0]
    # a full field ignores the density: not checked
    field = load_case(DEMO, ['pattern.layout="full_field"', "pattern.density_per_cm2=2"])
    assert case_warnings(field) == []


def test_no_preset_ranges_no_range_check() -> None:
    case = load_case(DEMO, ["laser.energy_mJ=0.01"])
    case.resolved["laser"].pop("preset")
    assert case_warnings(case) == []
    case.resolved["laser"]["preset"] = "not_a_preset"
    assert case_warnings(case) == []


def test_result_without_damage_is_warned() -> None:
    case = load_case(DEMO, ["laser.energy_mJ=0.01"])
    warnings = result_warnings(case, NO_DAMAGE)
    assert len(warnings) == 2
    assert warnings[0].startswith("no damage at all at laser.energy_mJ = 0.01")
    assert "mtz_depth_um = 0" in warnings[0] and "necrosis_depth_um = 0" in warnings[0]
    assert warnings[1].startswith("peak_temperature_C = 37.0 is below 50 C")
    # a crater is damage; missing metrics are not checked
    crater = {**NO_DAMAGE, "ablation_depth_um": 40.0, "peak_temperature_C": 300.0}
    assert result_warnings(case, crater) == []
    assert result_warnings(case, {}) == []
    assert result_warnings(case, {"mtz_depth_um": None, "peak_temperature_C": "n/a"}) == []


# ------------------------------------------------------------------------------- the reports


def _result_dir(root: Path, warnings: list[str] | None) -> Path:
    """A minimal finished run: case.toml and metrics.json (with ``warnings`` if given)."""
    root.mkdir(parents=True)
    (root / "case.toml").write_text('title = "Joules typed as millijoules"\n\n[laser]\n'
                                    'preset = "erglass_1550"\nenergy_mJ = 0.01\n')
    metrics = dict(NO_DAMAGE)
    if warnings is not None:
        metrics["warnings"] = warnings
    (root / "metrics.json").write_text(json.dumps(metrics))
    return root


@pytest.mark.serial
def test_report_shows_the_warnings_at_the_top(tmp_path: Path) -> None:
    case = load_case(DEMO, ["laser.energy_mJ=0.01"])
    warnings = case_warnings(case) + result_warnings(case, NO_DAMAGE)
    assert len(warnings) == 3
    html = write_report(_result_dir(tmp_path / "r", warnings)).read_text(encoding="utf-8")
    assert 'class="warnings"' in html
    body = html[html.index("<body>"):]
    first = body.index("laser.energy_mJ = 0.01 is far below the clinical range")
    assert first < body.index("<nav>") < body.index("Key results")
    assert body.index("no damage at all") < body.index("<nav>")
    # in the box, not in the table of all metrics
    metrics_table = body[body.index('id="metrics"'):]
    assert "far below" not in metrics_table and "<code>warnings</code>" not in metrics_table


@pytest.mark.serial
def test_report_without_warnings_has_no_box(tmp_path: Path) -> None:
    for name, warnings in (("old", None), ("none", [])):
        html = write_report(_result_dir(tmp_path / name, warnings)).read_text(encoding="utf-8")
        assert 'class="warnings"' not in html and "</html>" in html


@pytest.mark.serial
def test_study_report_lists_the_warnings_of_its_cases(tmp_path: Path) -> None:
    rows = [
        {"case": "joules", "energy_mJ": 0.01, "mtz_depth_um": 0.0,
         "warnings": ["laser.energy_mJ = 0.01 is far below the clinical range"]},
        {"case": "fine", "energy_mJ": 10.0, "mtz_depth_um": 365.4, "warnings": []},
        {"case": "old", "energy_mJ": 20.0, "mtz_depth_um": 480.0},
    ]
    html = write_study_report(tmp_path, rows, []).read_text(encoding="utf-8")
    body = html[html.index("<body>"):]
    assert body.index("joules: laser.energy_mJ = 0.01 is far below") < body.index("<h2>Cases")
    assert "Warnings of the cases (1)" in body
    assert "<th>warnings" not in body

"""The report and trade-off chart of ``mtz plan``, from a synthetic result dictionary."""

import copy
import math

import pytest

from fem.output import names
from fem.post.tradeoff import pareto
from fem.render.plan_plots import plot_tradeoff
from fem.report.plan import write_plan_report

pytestmark = pytest.mark.serial  # pure pictures and HTML: nothing about ranks

SETTINGS = {"laser.energy_mJ": 6.2, "pattern.density_per_cm2": 900.0, "pattern.passes": 2,
            "course.sessions": 4, "course.interval_days": 28.0, "cooling.mode": "none"}
PREDICTED = {"depth_um": 260.0, "width_um": 80.0, "coverage_percent": 12.0,
             "downtime_days": 3.1, "mend_shed_days": 5.0, "sessions": 4, "interval_days": 28.0,
             "course_downtime_days": 12.4, "course_pigment_cleared_percent": 52.0,
             "new_collagen_percent": 1.2, "late_tightening_area_percent": 0.8}
TARGETS = {"depth_um": [150.0, 450.0], "coverage_percent": [5.0, 20.0],
           "max_downtime_days": 7.0, "min_pigment_cleared_percent": 50.0, "outcome_day": 90.0}
MESSAGE = ("plan: recommended 6.2 mJ, 900/cm2 x 2 pass(es), 4 session(s) 28 days apart, "
           "cooling none: depth 260 um, coverage 12.0 %, downtime 3.1 days per session "
           "(12 in all); verified by mtz run: meets every target")


def _candidate(i: int) -> dict:
    energy = 5.0 + 1.25 * i
    density = 400.0 + 100.0 * (i % 5)
    depth = 60.0 * math.sqrt(energy) * (1.2 if i % 2 else 1.0)
    coverage = 0.011 * density * (1 + 0.02 * energy)
    downtime = 0.25 * coverage ** 0.8
    sessions = 3 + i % 3
    pigment = min(95.0, 1.4 * coverage * sessions ** 0.7)
    row = {"energy_mJ": energy, "density_per_cm2": density,
           "cooling": "none" if i % 2 else "contact", "depth_um": depth,
           "coverage_percent": coverage, "downtime_days": downtime,
           "course_downtime_days": downtime * sessions, "sessions": sessions,
           "interval_days": 28.0, "course_pigment_cleared_percent": pigment,
           "new_collagen_percent": 0.1 * energy, "late_tightening_area_percent": 0.05 * energy}
    feasible = (150 <= depth <= 450 and 5 <= coverage <= 20 and downtime <= 7
                and pigment >= 50)
    row["feasible"] = feasible
    row["violation"] = 0.0 if feasible else 0.1 + 0.01 * i
    return row


def _run(i: int) -> dict:
    energy = 5.0 + 4.0 * i
    row = {"name": f"energy_mJ-{energy:g}_density_per_cm2-1800_mode-none",
           "purpose": "bracket" if i < 3 else "refine", "energy_mJ": energy,
           "density_per_cm2": 1800.0, "cooling": "none", "status": "ok"}
    if i == 5:
        row["status"] = "failed"
        return row
    row.update({"depth_um": 60.0 * math.sqrt(energy), "width_um": 80.0,
                "coverage_percent": 10.0 + i, "downtime_days": 2.0 + 0.5 * i,
                "pigment_cleared_percent": 14.0 + i, "new_collagen_percent": 0.4,
                "late_tightening_area_percent": None})
    return row


def _result() -> dict:
    verified = {k: v for k, v in PREDICTED.items() if k != "width_um"}
    verified["depth_um"] = 270.0
    return {
        "title": "Even tone and pigment: 1550 nm on the face", "goal": "tone_pigment",
        "phototype": 3, "plan_file": "studies/plan_tone_1550.toml", "base": "studies/demo.toml",
        "targets": dict(TARGETS),
        "target_meaning": {
            "depth_um": "depth of the coagulated column, mtz_depth_um (each session)",
            "coverage_percent": "surface covered by the columns, coverage_percent",
            "max_downtime_days": "downtime_days of each session",
            "min_pigment_cleared_percent": "course_pigment_cleared_percent at the end",
            "outcome_day": "days after the first session at which the course is judged"},
        "free": {"laser.energy_mJ": [5, 30], "cooling.mode": ["none", "contact"]},
        "feasible": True, "energy_window": {"none": [5.2, 14.0], "contact": None},
        "recommended": {
            "settings": dict(SETTINGS), "predicted": dict(PREDICTED),
            "uncertainty": {"parameters": {"spot_um": [100.5, 13.0]},
                            "standard_error": {"depth_um": 20.0, "coverage_percent": 1.5}},
            "verified": verified,
            "meets": {"depth_um": True, "coverage_percent": True, "max_downtime_days": True,
                      "min_pigment_cleared_percent": True, "sessions_after_shedding": True},
            "verified_all": True, "binding": ["min_pigment_cleared_percent"],
            "margins": {"depth_um": 0.4, "min_pigment_cleared_percent": 0.04},
            "case_file": "recommended.toml", "case_dir": "recommended",
            "report": "recommended/report.html", "verify_seconds": 20.0},
        "message": MESSAGE,
        "runs": [_run(i) for i in range(6)],
        "candidates": [_candidate(i) for i in range(20)],
        "model_runs": 18, "model_seconds": 150.0, "wall_time_s": 170.0,
    }


def _infeasible() -> dict:
    result = copy.deepcopy(_result())
    rec = result.pop("recommended")
    result["feasible"] = False
    result["nearest"] = {"settings": rec["settings"], "predicted": rec["predicted"],
                         "violations": {"depth_um": 0.2, "coverage_percent": 0.0,
                                        "max_downtime_days": 0.0,
                                        "min_pigment_cleared_percent": 0.05,
                                        "sessions_after_shedding": 0.0},
                         "cannot_meet": "depth_um"}
    result["message"] = ("plan: infeasible: depth_um = [150.0, 450.0] (depth_um 120) cannot be "
                         "met; nearest setting 6.2 mJ, 900/cm2 x 2 pass(es)")
    for c in result["candidates"]:
        c["feasible"] = False
    return result


def _is_png(path) -> bool:
    return path.is_file() and path.stat().st_size > 100 and path.read_bytes()[:8] == (
        b"\x89PNG\r\n\x1a\n")


def test_pareto_front():
    points = [(1.0, 1.0), (2.0, 3.0), (2.5, 2.0), (3.0, 4.0), (0.5, 0.2), (3.0, 3.5)]
    assert pareto(points) == [4, 0, 1, 3]


def test_feasible_plan_report(tmp_path):
    result = _result()
    (tmp_path / names.PLAN_RUNS_DIR / result["runs"][0]["name"]).mkdir(parents=True)
    page = write_plan_report(tmp_path, result)
    assert page == tmp_path / names.PLAN_HTML and page.is_file()
    text = page.read_text()
    assert "recommended 6.2 mJ, 900/cm2 x 2 pass(es)" in text
    assert "Energy per column (mJ)" in text and "Density per pass (/cm²)" in text
    assert "Interval (days)" in text and "Cooling" in text
    assert "✓" in text and "✗" not in text
    assert 'href="recommended/report.html"' in text
    assert 'href="recommended.toml"' in text
    assert "150–450" in text
    assert "sessions after the MENDs are shed" in text
    assert f'href="runs/{result["runs"][0]["name"]}/"' in text
    assert f'href="runs/{result["runs"][1]["name"]}/"' not in text
    assert 'src="tradeoff.png"' in text
    assert _is_png(tmp_path / names.TRADEOFF_PNG)


def test_infeasible_plan_report(tmp_path):
    page = write_plan_report(tmp_path, _infeasible())
    text = page.read_text()
    assert "plan: infeasible" in text
    assert "depth_um" in text and "cannot be met" in text
    assert "recommended/report.html" not in text
    assert "✗" in text
    assert "Energy per column (mJ)" in text
    assert _is_png(tmp_path / names.TRADEOFF_PNG)


@pytest.mark.parametrize("goal", ["scar_elasticity", "rapid_recovery"])
def test_tradeoff_other_goals(tmp_path, goal):
    result = _result()
    result["goal"] = goal
    result["targets"] = {"depth_um": [500.0, 1500.0], "min_new_collagen_percent": 1.0,
                         "max_course_downtime_days": 20.0, "outcome_day": 180.0}
    assert _is_png(plot_tradeoff(result, tmp_path / "t.png"))


def test_no_candidates(tmp_path):
    result = _result()
    result["candidates"] = []
    assert plot_tradeoff(result, tmp_path / "t.png") is None
    text = write_plan_report(tmp_path, result).read_text()
    assert "No trade-off chart" in text

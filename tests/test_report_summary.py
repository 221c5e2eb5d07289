"""What the reports open with: the summary sentence of a case, its verdict against the
calibration chart, the study summary, the readable axis labels and the panels a study draws.

Serial and on 2 ranks: every test but the real-run one is plain Python on its own files (a
directory per rank); the real run (the cheap demo of conftest) runs on all ranks, rank 0 writes
its report and every rank reads it after a barrier.
"""

import json
import tomllib
from types import SimpleNamespace

from mpi4py import MPI

import pytest

from fem.output.names import (
    CALIBRATION_JSON,
    CASE_TOML,
    METRICS_JSON,
    PLOTS_DIR,
    REPORT_HTML,
    STUDY_JSON,
)
from fem.post.calibration import judge_case, read_chart
from fem.render.study_plots import left_out, panel_metrics, plot_study
from fem.report.captions import axis_label, lower_first, study_plot_caption
from fem.report.case import _calibration_block, summary_sentence, verdict_table, write_report
from fem.report.study import write_study_report

CASE = {"laser": {"wavelength_nm": 1550.0, "energy_mJ": 10.0, "spot_um": 120.0}}
THERMAL = {"columns": 1, "mtz_depth_um": 612.0, "mtz_width_um": 171.0, "ablation_depth_um": 0.0,
           "coverage_percent": 4.71, "peak_temperature_C": 100.0}
MECHANICS = {"tightening_area_percent": 0.41, "cooled_tightening_area_percent": 0.47}
HEALING = {"reepithelialization_h": 11.2, "mend_shed_days": 4.9}


@pytest.fixture
def own_dir(shared_tmp, request):
    """A directory of this test and rank."""
    path = shared_tmp / f"{request.node.name}_rank{MPI.COMM_WORLD.rank}"
    path.mkdir(parents=True, exist_ok=True)
    return path


# ------------------------------------------------------------------------ summary sentence


def test_summary_sentence_with_every_stage():
    text = summary_sentence({**THERMAL, **MECHANICS, **HEALING}, CASE)
    assert text.startswith("A 10 mJ pulse at 1550 nm with a 120 µm spot makes a column "
                           "0.61 mm deep and 0.17 mm wide; ")
    assert "4.7 % of the surface is covered" in text
    assert "peak temperature 100 °C" in text
    assert "the epidermis closes in 11 h, the MEND is shed by day 4.9" in text
    assert text.endswith("lasting tightening 0.47 % of the area.")
    assert "crater" not in text  # ablation depth 0: no crater clause


def test_summary_sentence_leaves_out_what_the_run_did_not_compute():
    text = summary_sentence(THERMAL, CASE)
    for word in ("epidermis", "MEND", "tightening"):
        assert word not in text
    assert text.endswith("peak temperature 100 °C.")
    warm = summary_sentence({**THERMAL, "tightening_area_percent": 0.41}, CASE)
    assert warm.endswith("tightening (still warm) 0.41 % of the area.")


def test_summary_sentence_of_a_pattern_with_craters_and_no_case():
    metrics = {"columns": 4, "mtz_depth_um": 80.0, "mtz_width_um": 60.0,
               "ablation_depth_um": 35.0, "mend_shed_days": 6.0, "reepithelialization_h": 0.0}
    text = summary_sentence(metrics)
    assert text.startswith("A pulse makes craters 35 µm deep and columns 80 µm deep and "
                           "60 µm wide on average")
    assert "there is no epidermal wound, the MENDs are shed by day 6" in text
    assert summary_sentence({}, CASE) == ""
    assert summary_sentence({"mtz_depth_um": float("nan")}) == ""


# ------------------------------------------------------------------ verdict of one case


def test_a_case_at_a_chart_row_gets_its_verdict():
    rows = judge_case(CASE, {"mtz_depth_um": 560.0, "mtz_width_um": 150.0})
    chart = [p for p in read_chart() if p.wavelength_nm == 1550 and p.energy_mJ == 10]
    assert len(rows) == len(chart) == 1  # the typical ranges match no single case
    (row,) = rows
    assert row["quantity"] == "depth_um" and row["chart_um"] == chart[0].low
    assert row["ratio"] == pytest.approx(560.0 / chart[0].low - 1)
    assert row["verdict"] == "agrees"  # 12 % above the chart
    table = verdict_table(rows)
    assert "Column depth" in table and "+12 %" in table and "<b>agrees</b>" in table
    html = _calibration_block(CASE, {"mtz_depth_um": 560.0})
    assert "Against the calibration chart (1550 nm, 10 mJ)" in html


def test_a_case_at_no_chart_row_says_so():
    case = {"laser": {**CASE["laser"], "energy_mJ": 12.0}}
    assert judge_case(case, {"mtz_depth_um": 560.0}) == []
    assert "No calibration row matches 1550 nm, 12 mJ." in _calibration_block(
        case, {"mtz_depth_um": 560.0})
    assert judge_case({"laser": {"wavelength_nm": 1927.0, "energy_mJ": 10.0,
                                 "spot_um": 140.0}}, {"mtz_depth_um": 300.0}) == []
    assert _calibration_block({}, {"mtz_depth_um": 1.0}) == ""  # no pulse named: nothing
    # a chart row with a spot matches that spot only
    co2 = {"laser": {"wavelength_nm": 10600.0, "energy_mJ": 80.0, "spot_um": 300.0}}
    assert judge_case(co2, {"ablation_depth_um": 500.0, "mtz_depth_um": 700.0}) == []


# --------------------------------------------------------------------- labels and panels


def test_axis_labels_are_names_with_units():
    assert axis_label("mtz_depth_um") == "Column depth (µm)"
    assert axis_label("laser.energy_mJ") == "Laser energy (mJ)"
    assert axis_label("pattern.density_per_cm2") == "Pattern density (cm⁻²)"
    assert axis_label("peak_temperature_C") == "Peak temperature (°C)"
    assert axis_label("mtz_width_um_max") == "Column width, largest (µm)"
    assert axis_label("energy_balance_error") == "Energy balance error"
    assert axis_label("mend_shed_days", unit=False) == "MENDs shed"
    assert lower_first("Column depth") == "column depth" and lower_first("MEND width") == \
        "MEND width"
    title, caption = study_plot_caption("laser.energy_mJ", ["mtz_depth_um"], [],
                                        {"ablation_depth_um": 0.0}, ["wall_time_s"])
    assert title == "Column depth against laser energy (mJ)"
    assert "ablation depth (0 µm)" in caption and "wall time" in caption
    assert "_um" not in title + caption


ROWS = [{"case": f"e{e}", "laser.energy_mJ": e, "status": "ok", "mtz_depth_um": d,
         "ablation_depth_um": 0.0, "wall_time_s": w, "dofs": 3709, "peak_temperature_C": 100.0}
        for e, d, w in ((5, 250.0, 7.1), (10, 370.0, 6.4), (20, 520.0, 8.0))]
ROWS.append({"case": "e40", "laser.energy_mJ": 40, "status": "failed"})
METRICS = ["mtz_depth_um", "ablation_depth_um", "peak_temperature_C", "wall_time_s", "dofs",
           "tightening_area_percent"]


def test_constant_and_bookkeeping_metrics_get_no_panel():
    assert panel_metrics(METRICS, ROWS, ["laser.energy_mJ"]) == ["mtz_depth_um"]
    assert left_out(METRICS, ROWS, ["laser.energy_mJ"]) == {
        "ablation_depth_um": "constant", "peak_temperature_C": "constant",
        "wall_time_s": "bookkeeping", "dofs": "constant", "tightening_area_percent": "no value"}
    # a study of the computation keeps its wall times
    assert panel_metrics(METRICS, ROWS, ["ranks"]) == ["mtz_depth_um", "wall_time_s"]
    assert panel_metrics(METRICS, ROWS, ["mesh.resolution"]) == ["mtz_depth_um", "wall_time_s"]
    # one finished case: nothing is "constant across the cases"
    assert "ablation_depth_um" in panel_metrics(METRICS, ROWS[:1], ["laser.energy_mJ"])


def test_study_plots_draw_the_varying_metrics_only(own_dir):
    study = SimpleNamespace(title="t", sweep={"laser.energy_mJ": [5, 10, 20, 40]},
                            metrics=METRICS, plot_against=[])
    paths = plot_study(study, ROWS, own_dir / "plots")
    assert [p.name for p in paths] == ["vs_laser_energy_mJ.png"] and paths[0].is_file()
    flat = [{**r, "mtz_depth_um": 300.0} for r in ROWS]
    assert plot_study(study, flat, own_dir / "flat") == []  # nothing varies: no figure


def test_study_report_opens_with_summary_and_verdicts(own_dir):
    study = {"title": "Energy", "mode": "grid", "sweep": {"laser.energy_mJ": [5, 10, 20, 40]},
             "metrics": METRICS, "plot_against": []}
    (own_dir / STUDY_JSON).write_text(json.dumps({"study": study, "cases": []}))
    (own_dir / PLOTS_DIR).mkdir(exist_ok=True)
    (own_dir / PLOTS_DIR / "vs_laser_energy_mJ.png").write_bytes(b"")
    verdicts = judge_case(CASE, {"mtz_depth_um": 370.0})
    (own_dir / PLOTS_DIR / CALIBRATION_JSON).write_text(json.dumps(
        {"rows": verdicts, "depth_increases_with_energy": True}))
    html = write_study_report(own_dir, ROWS, [own_dir / PLOTS_DIR / "vs_laser_energy_mJ.png"],
                              common_view=False).read_text(encoding="utf-8")
    summary = html.index('class="summary"')
    assert summary < html.index('id="calibration"') < html.index("<h2>Cases")
    assert ("4 cases (3 finished, 1 failed) sweep laser energy from 5 to 40 mJ. Across the "
            "finished cases, column depth from 250 to 520 µm.") in html
    assert "The same in every case: ablation depth 0 µm; peak temperature 100 °C" in html
    assert "too small" in html and "The column depth grows with the energy" in html
    assert "<b>Column depth against laser energy (mJ).</b>" in html
    assert "Vs laser energy" not in html


# ------------------------------------------------------------------------- a real run


def test_report_of_a_real_run_opens_with_the_answer(uninterrupted, shared_tmp):
    """The cheap demo (1550 nm, 10 mJ; mechanics and healing off): summary, verdict, tooltips."""
    out = shared_tmp / "cheap_full"
    if MPI.COMM_WORLD.rank == 0:
        write_report(out)
    MPI.COMM_WORLD.Barrier()
    html = (out / REPORT_HTML).read_text(encoding="utf-8")
    metrics = json.loads((out / METRICS_JSON).read_text())
    case = tomllib.loads((out / CASE_TOML).read_text())
    sentence = summary_sentence(metrics, case)
    assert sentence.startswith(f"A {case['laser']['energy_mJ']:g} mJ pulse at 1550 nm")
    assert "epidermis" not in sentence and "tightening" not in sentence
    top = html.index('class="summary"')
    assert top < html.index('id="calibration"') < html.index("<nav>")
    assert "Against the calibration chart (1550 nm, 10 mJ)" in html
    assert 'title="depth of the coagulated collagen column' in html  # glossary tooltip

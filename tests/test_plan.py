"""``mtz plan``: the planner on an analytic stand-in, plan files, and a plan of the real model.

The stand-in has depth, width, coverage, downtime, pigment and the dermal curves as known
functions of the settings, so the optimum and the Pareto front are known by brute force on a
fine grid; the planner must find them with a bounded number of model calls. On the real model
(coarse mesh, Beer-Lambert light so that a run takes seconds) a small plan must recommend a
case that ``mtz run`` reproduces and that meets every target the plan says it meets.
"""

from __future__ import annotations

import copy
import json
import math
import subprocess

import numpy as np
import pytest

from fem.config import CaseError
from fem.config.plan import GOALS, PHOTOTYPE_COVERAGE_CAP, load_plan
from fem.post.tradeoff import pareto
from fem.run.planner import (MARGIN, Outcome, Planner, Problem, Setting, best_course,
                             predict_course, rank, violations)

AGES = np.array([0.0, 3.0, 7.0, 14.0, 28.0, 42.0, 56.0, 70.0, 90.0])
TARGETS = {"depth_um": [200.0, 450.0], "coverage_percent": [5.0, 20.0],
           "max_downtime_days": 5.0, "min_pigment_cleared_percent": 50.0, "outcome_day": 90.0}


def stand_in(s: Setting) -> Outcome:
    """A model with the structure of the real one: depth and width grow as powers of the
    energy, coverage is the columns' area share, downtime grows with the injured share."""
    E, rho = s.energy_mJ, s.density_per_cm2
    depth = 120.0 * E ** 0.45 * (0.9 if s.cooling == "contact" else 1.0)
    width = 40.0 * E ** 0.4
    cov = 100.0 * rho * math.pi * (0.5 * width * 1e-4) ** 2
    down = 0.3 + 0.3 * cov * (E / 10.0) ** 0.3
    col = 0.002 * rho / 100.0 * E * (1.0 - np.exp(-AGES / 30.0))
    tig = 0.001 * rho / 100.0 * E * (0.5 + (1.0 - np.exp(-AGES / 40.0)))
    return Outcome(depth, width, cov, down, 1.4 * cov, 5.0, AGES, col, tig)


def problem(targets=TARGETS) -> Problem:
    return Problem(targets, (2.0, 40.0), (100.0, 3000.0), ("none", "contact"), (1, 6),
                   (21.0, 42.0))


def brute_force(prob: Problem, n: int = 70):
    best = None
    for c in prob.coolings:
        for E in np.geomspace(*prob.energy, n):
            for r in np.geomspace(*prob.density, n):
                s = Setting(float(E), float(r), c)
                pred, bad = best_course(stand_in(s), prob)
                k = rank(s, pred, bad)
                if best is None or k < best[0]:
                    best = (k, s, pred)
    return best


def plan_stand_in(targets=TARGETS, batch=2):
    calls = []

    def evaluate(settings, purpose):
        calls.append(len(settings))
        return [stand_in(s) for s in settings]

    planner = Planner(problem(targets), evaluate, AGES, batch=batch)
    return planner.search(), sum(calls)


@pytest.mark.serial  # no MPI in it
def test_planner_finds_the_known_optimum_with_few_runs():
    result, runs = plan_stand_in()
    assert result.feasible
    # the planner aims MARGIN inside the depth window: its optimum is that of the margined
    # targets, and it may do a little better (its energy window ends at the aimed depth)
    margined = copy.deepcopy(TARGETS)
    margined["depth_um"] = [200.0 * (1 + MARGIN), 450.0 * (1 - MARGIN)]
    k_true, s_true, _ = brute_force(problem(margined))
    found = result.prediction["course_downtime_days"]
    assert found <= k_true[1] * 1.02, (found, k_true)
    assert abs(math.log(result.setting.energy_mJ / s_true.energy_mJ)) < 0.3
    assert result.setting.cooling == s_true.cooling
    # the prediction of the recommendation is its own run's: exact for the stand-in
    exact = predict_course(stand_in(result.setting), result.prediction["sessions"],
                           result.prediction["interval_days"], 90.0)
    assert exact["course_downtime_days"] == pytest.approx(found, rel=1e-12)
    assert not any(violations(exact, TARGETS).values())
    assert runs <= 30, runs


@pytest.mark.serial  # no MPI in it
def test_planner_pareto_front_matches_the_brute_force_front():
    result, _ = plan_stand_in()
    cands = [c for c in result.candidates if c["prediction"]["sessions"] >= 1]
    pts = [(c["prediction"]["course_downtime_days"],
            c["prediction"]["course_pigment_cleared_percent"]) for c in cands]
    front = [cands[i] for i in pareto(pts)]
    assert len(front) >= 3
    for c in front:  # the surrogate's front is the model's within 10 %
        p, s = c["prediction"], c["setting"]
        true = predict_course(stand_in(s), p["sessions"], p["interval_days"], 90.0)
        for key in ("course_downtime_days", "course_pigment_cleared_percent"):
            assert true[key] == pytest.approx(p[key], rel=0.10), (s, key)
    # every point of the brute-force front over the same settings is matched within 10 %
    grid = [Setting(c["setting"].energy_mJ, c["setting"].density_per_cm2, c["setting"].cooling)
            for c in cands]
    true_pts = []
    for s in grid:
        pred, _ = best_course(stand_in(s), result_problem := problem())
        true_pts.append((pred["course_downtime_days"], pred["course_pigment_cleared_percent"]))
    assert result_problem.day == 90.0
    for i in pareto(true_pts):
        x, y = true_pts[i]
        assert any(a <= x * 1.10 + 1e-9 and b >= y * 0.90 for a, b in
                   (pts[j] for j in pareto(pts))), (x, y)


@pytest.mark.serial  # no MPI in it
def test_an_unreachable_depth_is_infeasible_with_the_nearest_setting():
    targets = {**TARGETS, "depth_um": [2000.0, 3000.0]}
    result, runs = plan_stand_in(targets)
    assert not result.feasible
    assert max(result.violations, key=result.violations.get) == "depth_um"
    assert result.unreachable == ["depth_um"]
    assert result.setting.energy_mJ == pytest.approx(40.0)  # the deepest it can go
    assert runs <= 12


@pytest.mark.serial  # no MPI in it
def test_course_prediction_adds_sessions_up():
    o = stand_in(Setting(10.0, 500.0, "none"))
    one = predict_course(o, 1, 30.0, 90.0)
    three = predict_course(o, 3, 30.0, 90.0)
    assert three["course_pigment_cleared_percent"] == pytest.approx(
        100 * (1 - (1 - o.pigment_percent / 100) ** 3))
    assert three["new_collagen_percent"] == pytest.approx(
        sum(np.interp(a, AGES, o.collagen) for a in (90.0, 60.0, 30.0)))
    assert three["course_downtime_days"] == pytest.approx(3 * one["downtime_days"])
    # sessions closer than the downtime overlap: counted once
    close = predict_course(o, 2, 0.5 * o.downtime_days, 90.0)
    assert close["course_downtime_days"] == pytest.approx(1.5 * o.downtime_days)


# ------------------------------------------------------------------------ plan files

PLAN = """title = "test plan"
base = "{base}"
goal = "tone_pigment"
phototype = 3
[set]
"mesh.resolution" = "coarse"
[free]
"laser.energy_mJ" = [5, 30]
"pattern.density_per_cm2" = [100, 800]
"course.sessions" = [1, 4]
"""


def write_plan(tmp_path, text=PLAN, **extra):
    base = tmp_path / "base.toml"
    base.write_text('[laser]\npreset = "erglass_1550_beer_lambert"\nenergy_mJ = 10\n'
                    '[pattern]\nlayout = "single"\n')
    path = tmp_path / "plan.toml"
    path.write_text(text.format(base=base.name) + "".join(f"{v}\n" for v in extra.values()))
    return path


@pytest.mark.serial  # no MPI in it
def test_goals_expand_into_targets_that_the_file_overrides(tmp_path):
    plan = load_plan(write_plan(tmp_path, PLAN.replace('phototype = 3', 'phototype = 5')
                                + '[targets]\nmax_downtime_days = 3\n'
                                  'min_pigment_cleared_percent = false\n'))
    assert plan.targets["max_downtime_days"] == 3.0
    assert "min_pigment_cleared_percent" not in plan.targets
    assert plan.targets["depth_um"] == GOALS["tone_pigment"]["depth_um"]
    assert plan.targets["coverage_percent"][1] == PHOTOTYPE_COVERAGE_CAP[5] == 10.0


@pytest.mark.serial  # no MPI in it
@pytest.mark.parametrize("edit, words", [
    (("goal = \"tone_pigment\"", "goal = \"glow\""), ["goal", "tone_pigment"]),
    (("phototype = 3", "phototype = 7"), ["phototype", "1-6"]),
    (("[free]", "[free]\n\"laser.spot_um\" = [50, 100]"), ["free.laser.spot_um", "allowed"]),
    (("[5, 30]", "[30, 5]"), ["free.laser.energy_mJ", "lower"]),
    (("[1, 4]", "[1.5, 4]"), ["free.course.sessions", "integers"]),
    (("[5, 30]", "[5, 3000]"), ["laser.energy_mJ", "allowed"]),
    (("title", "colour = 1\ntitle"), ["colour", "unknown key"]),
    (("[set]", "[targets]\ncoverage_percent = [25, 30]\n[set]"), ["phototype 3", "20"]),
])
def test_a_malformed_plan_is_one_line_and_exit_2(tmp_path, mtz_cmd, edit, words):
    path = write_plan(tmp_path, PLAN.replace(*edit))
    with pytest.raises(CaseError) as err:
        load_plan(path)
    for w in words:
        assert w in str(err.value)
    if "glow" not in edit[1]:
        return  # the command line once (a process costs seconds)
    out = tmp_path / "out"
    run = subprocess.run([*mtz_cmd, "plan", str(path), "-o", str(out)], capture_output=True,
                         text=True)
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "mtz: error:" in run.stderr
    assert not out.exists()


@pytest.mark.serial  # no MPI in it
def test_a_plan_file_is_not_a_case(tmp_path, mtz_cmd):
    path = write_plan(tmp_path)
    run = subprocess.run([*mtz_cmd, "run", str(path)], capture_output=True, text=True)
    assert run.returncode == 2 and "mtz plan" in run.stderr
    check = subprocess.run([*mtz_cmd, "check", str(path)], capture_output=True, text=True)
    assert check.returncode == 0 and "goal tone_pigment" in check.stdout


# ------------------------------------------------------------------------ the real model

REAL = """title = "quick plan"
base = "{base}"
goal = "rapid_recovery"
phototype = 3
[set]
"mesh.resolution" = "coarse"
"mechanics.enabled" = false
"output.render" = false
"laser.energy_mJ" = 6
[targets]
min_new_collagen_percent = 2.0
[free]
"pattern.density_per_cm2" = [100, 300]
"course.sessions" = [1, 3]
"""


def test_a_plan_of_the_real_model_is_reproduced_by_mtz_run(shared_tmp, comm, mtz_cmd):
    from fem.output import names
    from fem.run.plan import model_outcome, run_plan

    d = shared_tmp / "real"
    if comm.rank == 0:
        d.mkdir()
        path = write_plan(d, REAL)
    path = d / "plan.toml"
    comm.Barrier()
    result = run_plan(path, d / "out", comm)
    assert result["feasible"], result["message"]
    rec = result["recommended"]
    assert rec["verified_all"], rec["meets"]
    assert rec["settings"]["course.sessions"] >= 2  # a course: its sum is verified
    assert result["model_runs"] <= 12
    if comm.rank == 0:
        saved = json.loads((d / "out" / names.PLAN_JSON).read_text())
        assert saved["recommended"]["settings"] == rec["settings"]
        assert (d / "out" / names.PLAN_HTML).is_file()
    # run again (as after an interruption): every run is reused, the plan is the same
    before = sorted(p.name for p in (d / "out" / names.PLAN_RUNS_DIR).iterdir())
    again = run_plan(path, d / "out", comm)
    assert again["recommended"]["settings"] == rec["settings"]
    assert again["recommended"]["verified"] == rec["verified"]
    assert sorted(p.name for p in (d / "out" / names.PLAN_RUNS_DIR).iterdir()) == before
    assert again["wall_time_s"] < 0.5 * result["wall_time_s"]
    if comm.rank == 0 and comm.size == 1:  # (no mpiexec within mpiexec)
        # the recommended case file reproduces the verified outcome with mtz run
        rerun = d / "rerun"
        run = subprocess.run([*mtz_cmd, "run", str(d / "out" / names.RECOMMENDED_TOML),
                              "-o", str(rerun)], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr[-2000:]
        m = json.loads((rerun / names.METRICS_JSON).read_text())
        again = {**model_outcome(m), "interval_days": rec["settings"]["course.interval_days"]}
        assert not any(violations(again, saved["targets"]).values())
        for k in ("depth_um", "coverage_percent", "new_collagen_percent",
                  "course_downtime_days"):
            assert again[k] == pytest.approx(rec["verified"][k], rel=1e-6)
            # the course the planner predicted from one session is the model's course
            assert again[k] == pytest.approx(rec["predicted"][k], rel=0.02), k
    comm.Barrier()


@pytest.mark.serial  # one process of mtz
def test_an_infeasible_goal_exits_0_with_the_nearest_setting(tmp_path, mtz_cmd):
    from fem.output import names

    path = write_plan(tmp_path, REAL.replace("min_new_collagen_percent = 2.0",
                                             "depth_um = [2500, 3000]"))
    out = tmp_path / "out"
    run = subprocess.run([*mtz_cmd, "plan", str(path), "-o", str(out)], capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads((out / names.PLAN_JSON).read_text())
    assert result["feasible"] is False and "recommended" not in result
    assert result["nearest"]["cannot_meet"] == "depth_um"
    line = [x for x in run.stderr.splitlines() if "plan: infeasible" in x]
    assert len(line) == 1 and "depth_um" in line[0] and "nearest setting" in line[0]
    assert result["model_runs"] <= 2
    assert not (out / names.RECOMMENDED_TOML).exists()


@pytest.mark.serial  # files only
def test_a_run_of_another_case_is_not_reused(tmp_path):
    from fem.config import load_case
    from fem.output import names
    from fem.output.files import write_case_toml
    from fem.run.plan import reusable

    case = load_case("studies/demo.toml", ["mesh.resolution='coarse'"])
    d = tmp_path / "run"
    d.mkdir()
    write_case_toml(d / names.CASE_TOML, case.resolved)
    assert not reusable(d, case)  # not finished
    (d / names.METRICS_JSON).write_text("{}")
    assert reusable(d, case)
    other = load_case("studies/demo.toml", ["mesh.resolution='coarse'", "healing.end_days=60"])
    assert not reusable(d, other) and not d.exists()

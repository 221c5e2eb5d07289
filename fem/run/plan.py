"""``mtz plan PLAN.toml -o DIR``: from a treatment goal to the settings that reach it.

The plan file (:mod:`fem.config.plan`) gives the base case, the goal's targets and the free
settings; the search is :class:`fem.run.planner.Planner`, with the real model in the loop:
every run is one session of the base case (energy, lattice density, cooling) with its healing
to the outcome day, run through the study machinery (:func:`fem.run.study.run_cases`: MPI
sub-communicators of ``ranks_per_case`` ranks, several runs at once, shared meshes, finished
runs reused, so an interrupted plan resumes where it stopped) into ``DIR/runs/<name>``.

Then, for a feasible goal:

* the **recommendation**: the best setting run, its density per pass and passes (the fewest
  passes whose density per pass is within its bounds), the course predicted from its run;
* the **calibration uncertainty** of the predicted outcome: one run per fitted parameter of
  the device preset at its value plus its standard error (fem.config.presets.CALIBRATION),
  combined in quadrature (linear propagation);
* ``DIR/recommended.toml``, a case file of the recommended course that ``mtz run`` reproduces,
  and its **verifying run** in ``DIR/recommended/`` (the course solved by the model: the
  sessions' kinetics summed and the late mechanics solved for the sum), with its report;
* ``DIR/plan.json``: the recommendation, the prediction with its uncertainty, the verified
  outcome, the targets each meets, those that bind, every run made; ``DIR/plan.html``.

An infeasible goal is not an error: exit status 0, ``"feasible": false``, the nearest setting
and the target that cannot be met, in one line of the log.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import shutil
import time
import tomllib
from pathlib import Path

import numpy as np
import tomli_w
from mpi4py import MPI

from fem import parallel
from fem.config import CaseError, case_from_dict
from fem.config import presets
from fem.config.plan import TARGETS, Plan, load_plan
from fem.config.resolve import set_dotted
from fem.output import names
from fem.output.files import atomic_write_text, write_json
from fem.render.snapshot import read_csv_table
from fem.run import planner as pl
from fem.run.study import Study, StudyCase, run_cases

log = logging.getLogger(__name__)

#: The days at which every run solves its late mechanics (healing.output_days), up to the
#: outcome day (and that day).
SOLVE_DAYS = (7.0, 14.0, 28.0, 56.0, 90.0, 135.0, 180.0, 270.0, 365.0)
AGE_STEP = 2.0  # days between the ages at which a run's curves are read
BINDING = 0.05  # a target binds when the recommendation is within 5 % of it


def solve_days(day: float) -> list[float]:
    return sorted({*(a for a in SOLVE_DAYS if a < day), float(day)})


def ages(day: float) -> np.ndarray:
    """The ages (days) at which a run gives its new collagen (every row of healing.csv,
    interpolated) and its late tightening (interpolated between the solve days)."""
    return np.array(sorted({*np.arange(0.0, day, AGE_STEP), *solve_days(day), 0.0}))


class ModelRuns:
    """The real model as the planner's ``evaluate``: sessions run as cases of a study."""

    def __init__(self, plan: Plan, out: Path, comm: MPI.Comm):
        self.plan, self.out, self.comm = plan, Path(out), comm
        self.ages = ages(plan.targets["outcome_day"])
        self.count = 0  # runs the plan made (or reused)
        self.new = 0  # of which run now (not found finished in DIR/runs)
        self.seconds = 0.0

    def case_raw(self, s: pl.Setting, extra: dict | None = None, session_only: bool = True
                 ) -> dict:
        """The case dictionary of a session (the lattice density as one pass)."""
        raw = copy.deepcopy(self.plan.base_raw)
        values = {"laser.energy_mJ": s.energy_mJ, "pattern.density_per_cm2": s.density_per_cm2,
                  "pattern.passes": 1, "cooling.mode": s.cooling,
                  "healing.end_days": self.plan.targets["outcome_day"],
                  "healing.output_days": solve_days(self.plan.targets["outcome_day"])}
        if session_only:
            values.update({"course.sessions": 1, "output.render": False,
                           "output.fields": False})
        values.update(extra or {})
        if s.cooling != self.plan.fixed("cooling.mode"):  # the mode's own defaults
            raw.get("cooling", {}).clear()
        for k, v in values.items():
            set_dotted(raw, k, v)
        return raw

    def name(self, s: pl.Setting, extra: dict | None = None) -> str:
        params = {"laser.energy_mJ": s.energy_mJ, "pattern.density_per_cm2": s.density_per_cm2,
                  "cooling.mode": s.cooling, **(extra or {})}
        return names.case_name(params)

    def __call__(self, settings: list[pl.Setting], purpose: str,
                 extra: dict | None = None) -> list[pl.Outcome | None]:
        cases = []
        for i, s in enumerate(settings):
            case = case_from_dict(self.case_raw(s, extra))
            cases.append(StudyCase(i, self.name(s, extra), {}, case, self.plan.ranks_per_case))
        study = Study(self.plan.path, f"{self.plan.title}: {purpose}", self.plan.base, "zip",
                      self.plan.ranks_per_case, False, {}, [], [], cases=cases)
        runs_dir = self.out / names.PLAN_RUNS_DIR
        self.new += parallel.on_root(self.comm, lambda: sum(
            not reusable(runs_dir / c.name, c.case) for c in cases))
        tic = time.perf_counter()
        run_cases(study, runs_dir, self.comm, resume=True, draw=False)
        self.seconds += time.perf_counter() - tic
        self.count += len(settings)
        return parallel.on_root(self.comm, lambda: [self.read(c.name) for c in cases])

    def read(self, name: str) -> pl.Outcome | None:
        d = self.out / names.PLAN_RUNS_DIR / name
        return outcome(d, self.ages)


def reusable(d: Path, case) -> bool:
    """Whether ``d`` holds a finished run of exactly this case; a run of another case (the
    plan file or its base changed since) is removed, so that it runs again."""
    if not (d / names.METRICS_JSON).is_file():
        return False
    try:
        same = tomllib.loads((d / names.CASE_TOML).read_text()) == tomllib.loads(
            tomli_w.dumps(case.resolved))
    except (OSError, tomllib.TOMLDecodeError):
        same = False
    if not same:
        log.info("plan: %s is a run of another case; running it again", d)
        shutil.rmtree(d)
    return same


def outcome(d: Path, ages_days: np.ndarray) -> pl.Outcome | None:
    """The planner's outcome of a finished run (None if it failed): its metrics, and its new
    collagen and late tightening at ``ages_days`` from ``healing.csv`` (the late tightening
    at day 0 is the cooled thermal one, ``cooled_tightening_area_percent``)."""
    mpath = d / names.METRICS_JSON
    if not mpath.is_file():
        return None
    m = json.loads(mpath.read_text())
    header, data = read_csv_table(d / names.HEALING_CSV)
    c = {k: data[:, header.index(k)] for k in ("time_days", "collagen_III_percent",
                                               "collagen_I_percent",
                                               "late_tightening_area_percent")}
    t = np.concatenate([[0.0], c["time_days"]])
    col = np.concatenate([[0.0], c["collagen_III_percent"] + c["collagen_I_percent"]])
    solved = ~np.isnan(c["late_tightening_area_percent"])  # the output days
    lt = np.concatenate([[0.0], c["time_days"][solved]])
    lv = np.concatenate([[m.get("cooled_tightening_area_percent", 0.0)],
                         c["late_tightening_area_percent"][solved]])
    return pl.Outcome(m["mtz_depth_um"], m["mtz_width_um"], m["coverage_percent"],
                      m["downtime_days"], m["pigment_cleared_percent"], m["mend_shed_days"],
                      ages_days, np.interp(ages_days, t, col), np.interp(ages_days, lt, lv))


def problem(plan: Plan) -> pl.Problem:
    d0, d1 = plan.span("pattern.density_per_cm2")
    p0, p1 = plan.span("pattern.passes")
    n0, n1 = plan.span("course.sessions")
    return pl.Problem(plan.targets, plan.span("laser.energy_mJ"), (d0 * p0, d1 * p1),
                      plan.coolings(), (int(n0), int(n1)), plan.span("course.interval_days"))


def passes_for(plan: Plan, density: float) -> tuple[float, int]:
    """Density per pass and passes of a lattice density: the fewest passes whose density
    per pass is within its bounds."""
    d0, d1 = plan.span("pattern.density_per_cm2")
    p0, p1 = (int(x) for x in plan.span("pattern.passes"))
    p = next((p for p in range(p0, p1 + 1) if density / p <= d1 * (1 + 1e-9)), p1)
    return density / p, p  # exact, so the lattice (and the mesh) is the one that was run


def settings_of(plan: Plan, s: pl.Setting, pred: dict) -> dict:
    """The recommended settings as dotted case keys."""
    density, passes = passes_for(plan, s.density_per_cm2)
    return {"laser.energy_mJ": s.energy_mJ, "pattern.density_per_cm2": density,
            "pattern.passes": passes, "course.sessions": int(pred["sessions"]),
            "course.interval_days": float(pred["interval_days"]), "cooling.mode": s.cooling}


def at_bounds(plan: Plan, settings: dict) -> list[str]:
    """The free settings the recommendation takes at one of their bounds."""
    out = []
    for k, b in plan.free.items():
        if b.kind != "choice" and (math.isclose(settings[k], b.lo, rel_tol=1e-6)
                                   or math.isclose(settings[k], b.hi, rel_tol=1e-6)):
            out.append(k)
    return out


def model_outcome(m: dict) -> dict:
    """A run's metrics as the planner's prediction keys (the course as the model solved it)."""
    return {"depth_um": m["mtz_depth_um"], "width_um": m["mtz_width_um"],
            "coverage_percent": m["coverage_percent"], "downtime_days": m["downtime_days"],
            "mend_shed_days": m["mend_shed_days"], "sessions": m["sessions"],
            "course_downtime_days": m["course_downtime_days"],
            "course_pigment_cleared_percent": m["course_pigment_cleared_percent"],
            "new_collagen_percent": m["new_collagen_percent"],
            "late_tightening_area_percent": m["late_tightening_area_percent"]}


def uncertainty(plan: Plan, runs: ModelRuns, s: pl.Setting, pred: dict) -> dict:
    """One standard error of each predicted quantity from the preset's fitted parameters
    (a run per parameter at value + standard error, combined in quadrature); {} when the
    preset has no calibration record or the base case sets a fitted value itself."""
    case = plan.base_case
    record = presets.CALIBRATION.get(case.laser.preset)
    user = plan.base_raw.get("laser", {})
    if not record or any(k in user for k in record["fitted"]):
        return {}
    keys = [k for k in pred if isinstance(pred[k], float)]
    var = dict.fromkeys(keys, 0.0)
    for k, (value, sigma) in record["fitted"].items():
        extra = {f"laser.{k}": float(f"{value + sigma:.4g}")}
        o = runs([s], "uncertainty", extra)[0]
        if o is None:
            continue
        p = pl.predict_course(o, int(pred["sessions"]), float(pred["interval_days"]),
                              plan.targets["outcome_day"])
        for q in keys:
            var[q] += (p[q] - pred[q]) ** 2
    return {"parameters": {k: list(v) for k, v in record["fitted"].items()},
            "standard_error": {q: math.sqrt(v) for q, v in var.items()}}


def recommended_case(plan: Plan, runs: ModelRuns, s: pl.Setting, pred: dict) -> dict:
    """The recommended case dictionary (the whole course, rendered)."""
    st = settings_of(plan, s, pred)
    raw = runs.case_raw(s, {"pattern.density_per_cm2": st["pattern.density_per_cm2"],
                            "pattern.passes": st["pattern.passes"],
                            "course.sessions": st["course.sessions"],
                            "course.interval_days": st["course.interval_days"]},
                        session_only=False)
    raw["title"] = f"{plan.title}: recommended"
    return raw


def _fmt_setting(st: dict) -> str:
    return (f"{st['laser.energy_mJ']:g} mJ, {st['pattern.density_per_cm2']:.4g}/cm2 x "
            f"{st['pattern.passes']} pass(es), {st['course.sessions']} session(s) "
            f"{st['course.interval_days']:g} days apart, cooling {st['cooling.mode']}")


def _describe_violation(name: str, pred: dict, targets: dict) -> str:
    if name == "sessions_after_shedding":
        return (f"the sessions come before the MENDs are shed (day "
                f"{pred['mend_shed_days']:.3g})")
    metric, kind = pl.JUDGED[name]
    return f"{name} = {targets[name]} ({metric} {pred[metric]:.4g})"


def run_plan(path: str | Path, out: str | Path, comm: MPI.Comm = MPI.COMM_WORLD,
             overrides: list[str] | None = None) -> dict:
    """Plan, recommend, verify; writes the outputs on rank 0 and returns ``plan.json``."""
    tic = time.perf_counter()
    plan = load_plan(path, overrides)
    out = Path(out)
    runs = ModelRuns(plan, out, comm)
    prob = problem(plan)
    groups = max(1, comm.size // plan.ranks_per_case)
    log.info("plan %s: goal %s, phototype %d, targets %s", plan.title, plan.goal,
             plan.phototype, ", ".join(f"{k} {v}" for k, v in plan.targets.items()))
    planner = pl.Planner(prob, runs, runs.ages, batch=groups)
    found = planner.search()
    result = {"title": plan.title, "plan_file": str(plan.path), "base": str(plan.base),
              "goal": plan.goal, "phototype": plan.phototype, "targets": plan.targets,
              "target_meaning": {k: TARGETS[k][1] for k in plan.targets},
              "free": {k: (list(b.choices) if b.kind == "choice" else [b.lo, b.hi])
                       for k, b in plan.free.items()},
              "feasible": found.feasible, "energy_window": found.energy_window}
    s, pred = found.setting, found.prediction
    if s is None:
        raise CaseError(f"{plan.path}: every run of the plan failed (see {out / 'runs'})")
    settings = settings_of(plan, s, pred)
    if found.feasible:
        unc = uncertainty(plan, runs, s, pred)
        raw = recommended_case(plan, runs, s, pred)
        rec_case = case_from_dict(copy.deepcopy(raw))
        parallel.on_root(comm, lambda: (out.mkdir(parents=True, exist_ok=True),
                                        atomic_write_text(out / names.RECOMMENDED_TOML,
                                                          _case_text(plan, raw))))
        study = Study(plan.path, plan.title, plan.base, "zip", plan.ranks_per_case, False, {},
                      [], [], cases=[StudyCase(0, names.RECOMMENDED_DIR, {}, rec_case,
                                               plan.ranks_per_case)])
        t_verify = time.perf_counter()
        runs.new += parallel.on_root(comm, lambda: int(not reusable(
            out / names.RECOMMENDED_DIR, rec_case)))
        run_cases(study, out, comm, resume=True, draw=True)
        verify_s = time.perf_counter() - t_verify
        runs.count += 1
        m = parallel.on_root(comm, lambda: json.loads(
            (out / names.RECOMMENDED_DIR / names.METRICS_JSON).read_text()))
        verified = {**model_outcome(m), "interval_days": settings["course.interval_days"]}
        meets = {k: v == 0.0 for k, v in pl.violations(verified, plan.targets).items()}
        marg = pl.margins(pred, plan.targets)
        result["recommended"] = {
            "settings": settings, "predicted": pred, "uncertainty": unc,
            "verified": verified, "meets": meets, "verified_all": all(meets.values()),
            "binding": sorted(k for k, v in marg.items() if v < BINDING),
            "at_bounds": at_bounds(plan, settings),
            "margins": marg, "case_file": names.RECOMMENDED_TOML,
            "case_dir": names.RECOMMENDED_DIR,
            "report": f"{names.RECOMMENDED_DIR}/{names.REPORT_HTML}",
            "verify_seconds": verify_s}
        missed = [k for k, v in meets.items() if not v]
        result["message"] = (f"plan: recommended {_fmt_setting(settings)}: depth "
                             f"{pred['depth_um']:.0f} um, coverage {pred['coverage_percent']:.1f}"
                             f" %, downtime {pred['downtime_days']:.2g} days per session "
                             f"({pred['course_downtime_days']:.2g} in all); verified by "
                             "mtz run: " + ("meets every target" if not missed else
                                            "misses " + ", ".join(missed)))
    else:
        worst = (found.unreachable or [max(found.violations, key=found.violations.get)])[0]
        result["nearest"] = {"settings": settings, "predicted": pred,
                             "violations": found.violations, "cannot_meet": worst}
        result["message"] = (f"plan: infeasible: {_describe_violation(worst, pred, plan.targets)}"
                             f" cannot be met; nearest setting {_fmt_setting(settings)}")
    result["runs"] = [_run_row(r, runs) for r in found.runs]
    result["candidates"] = [_cand_row(c) for c in found.candidates]
    result["model_runs"] = runs.count
    result["new_runs"] = runs.new
    result["model_seconds"] = runs.seconds
    result["wall_time_s"] = time.perf_counter() - tic
    log.info("%s", result["message"])
    log.info("plan: %d full runs (%d new, the others reused from %s) in %.0f s", runs.count,
             runs.new, out / names.PLAN_RUNS_DIR, result["wall_time_s"])

    def write() -> None:
        from fem.report.plan import write_plan_report

        out.mkdir(parents=True, exist_ok=True)
        write_json(out / names.PLAN_JSON, result)
        write_plan_report(out, result)

    parallel.on_root(comm, write)
    return result


def _case_text(plan: Plan, raw: dict) -> str:
    head = (f"# {plan.title}: the recommendation of mtz plan {plan.path.name} (goal "
            f"{plan.goal}, phototype {plan.phototype}).\n# Reproduce: mtz run "
            f"{names.RECOMMENDED_TOML} -o results/recommended\n")
    return head + tomli_w.dumps(raw)


def _run_row(r: pl.Run, runs: ModelRuns) -> dict:
    o = r.outcome
    row = {"name": runs.name(r.setting), "purpose": r.purpose,
           "energy_mJ": r.setting.energy_mJ, "density_per_cm2": r.setting.density_per_cm2,
           "cooling": r.setting.cooling, "status": "ok" if o else "failed"}
    if o is not None:
        row.update({"depth_um": o.depth_um, "width_um": o.width_um,
                    "coverage_percent": o.coverage_percent, "downtime_days": o.downtime_days,
                    "pigment_cleared_percent": o.pigment_percent,
                    "new_collagen_percent": float(o.collagen[-1]),
                    "late_tightening_area_percent": float(o.tightening[-1])})
    return row


def _cand_row(c: dict) -> dict:
    s, p = c["setting"], c["prediction"]
    return {"energy_mJ": s.energy_mJ, "density_per_cm2": s.density_per_cm2,
            "cooling": s.cooling, "feasible": c["violation"] == 0.0,
            "violation": c["violation"], **{k: p[k] for k in (
                "depth_um", "coverage_percent", "downtime_days", "course_downtime_days",
                "sessions", "interval_days", "course_pigment_cleared_percent",
                "new_collagen_percent", "late_tightening_area_percent")}}

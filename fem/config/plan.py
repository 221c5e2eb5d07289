"""Plan files: a base case, a treatment goal with its explicit targets, and the free settings.

A plan file (TOML) names the case it starts from and what the treatment should achieve::

    title = "Even tone and pigment: 1550 nm on the face, skin type III"
    base = "demo.toml"           # skin site and device preset (relative to the plan file)
    goal = "tone_pigment"        # tone_pigment | scar_elasticity | rapid_recovery
    phototype = 3                # Fitzpatrick 1-6: caps the coverage per session
    ranks_per_case = 1           # MPI ranks of each run (mpiexec -n 2: two runs at once)

    [set]                        # applied to every run (dotted case keys)
    "mesh.resolution" = "coarse"

    [targets]                    # override or add to the goal's targets (GOALS)
    max_downtime_days = 5

    [free]                       # the settings the plan chooses, with their bounds
    "laser.energy_mJ" = [5, 40]
    "pattern.density_per_cm2" = [100, 1500]   # per pass
    "pattern.passes" = [1, 3]
    "course.sessions" = [1, 6]
    "course.interval_days" = [21, 42]
    "cooling.mode" = ["none", "contact"]      # a list of choices

A setting that is not free is the base case's (with ``[set]``). A goal expands into the
targets of :data:`GOALS` (README, Planning), each of which the ``[targets]`` table overrides;
the phototype caps the coverage per session (:data:`PHOTOTYPE_COVERAGE_CAP`). Every problem is
a :class:`~fem.config.schema.CaseError` naming the file, the key, the value and what is
allowed (exit status 2), raised before anything runs.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from fem.config.case import case_from_dict
from fem.config.resolve import apply_overrides, read_toml, set_dotted
from fem.config.schema import CaseError
from fem.config.sections import PERIODIC_PASSES, Case

PLAN_KEYS = ("title", "base", "goal", "phototype", "ranks_per_case", "set", "targets", "free")

#: Coverage per session allowed by the skin phototype, percent: about 20 % in types I-III and
#: at most 10-15 % in IV-VI, for the risk of post-inflammatory pigmentation (Manstein 2004
#: rules of thumb; Chan 2007, Lasers Surg Med 39:381: PIH in 7.1 % of sessions at 1000 MTZ/cm2
#: against 12.4 % at 2000; Kono 2007). Derived from those sources, shared/physics/healing.md.
PHOTOTYPE_COVERAGE_CAP = {1: 20.0, 2: 20.0, 3: 20.0, 4: 15.0, 5: 10.0, 6: 10.0}

#: The explicit targets, their kinds and what each judges (README, Planning).
TARGETS = {
    "depth_um": ("range", "depth of the coagulated column, mtz_depth_um (each session)"),
    "coverage_percent": ("range", "surface covered by the columns, coverage_percent (each "
                                  "session; its maximum is capped by the phototype)"),
    "max_downtime_days": ("max", "downtime_days of each session"),
    "max_course_downtime_days": ("max", "course_downtime_days: the downtime of the course"),
    "min_pigment_cleared_percent": ("min", "course_pigment_cleared_percent at the end"),
    "min_new_collagen_percent": ("min", "new_collagen_percent of the course at outcome_day"),
    "min_late_tightening_percent": ("min", "late_tightening_area_percent of the course at "
                                           "outcome_day"),
    "outcome_day": ("day", "days after the first session at which the course is judged"),
}

#: Target -> (the metric of a course it judges, the kind of bound); the metrics are those of
#: fem.run.planner.predict_course and of a run's metrics.json.
JUDGED = {
    "depth_um": ("depth_um", "range"),
    "coverage_percent": ("coverage_percent", "range"),
    "max_downtime_days": ("downtime_days", "max"),
    "max_course_downtime_days": ("course_downtime_days", "max"),
    "min_pigment_cleared_percent": ("course_pigment_cleared_percent", "min"),
    "min_new_collagen_percent": ("new_collagen_percent", "min"),
    "min_late_tightening_percent": ("late_tightening_area_percent", "min"),
}

#: The goals, each a set of targets. Modelling choices of this product (not fitted), chosen
#: from the clinical logic of healing.md: tone and pigment want many shallow columns whose
#: MENDs carry pigment out, over several sessions; scars want deep columns at low density that
#: stimulate the dermis; rapid recovery keeps the injured share small so the reservoir heals it
#: within a day.
GOALS: dict[str, dict[str, Any]] = {
    "tone_pigment": {
        "depth_um": [150.0, 450.0], "coverage_percent": [5.0, 25.0],
        "max_downtime_days": 7.0, "min_pigment_cleared_percent": 50.0, "outcome_day": 90.0,
    },
    "scar_elasticity": {
        "depth_um": [500.0, 1500.0], "coverage_percent": [2.0, 12.0],
        "max_downtime_days": 7.0, "min_new_collagen_percent": 1.0,
        "min_late_tightening_percent": 0.5, "outcome_day": 180.0,
    },
    "rapid_recovery": {
        "depth_um": [200.0, 600.0], "coverage_percent": [1.0, 8.0],
        "max_downtime_days": 1.0, "min_new_collagen_percent": 1.0, "outcome_day": 90.0,
    },
}

#: The settings a plan may leave free: key -> kind ("float", "int" bounds or "choice").
FREE_KEYS = {
    "laser.energy_mJ": "float",
    "pattern.density_per_cm2": "float",
    "pattern.passes": "int",
    "course.sessions": "int",
    "course.interval_days": "float",
    "cooling.mode": "choice",
}


@dataclass(frozen=True)
class Bounds:
    """The range of one free setting (numbers) or its choices."""

    key: str
    kind: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()


@dataclass
class Plan:
    """A validated plan file."""

    path: Path
    title: str
    base: Path
    goal: str
    phototype: int
    ranks_per_case: int
    targets: dict[str, Any]
    free: dict[str, Bounds]
    base_raw: dict = field(repr=False)  # the base case with [set] applied, not validated
    ablative: bool = False

    def fixed(self, key: str) -> Any:
        """The base case's value of a dotted key (its resolved value)."""
        section, name = key.split(".")
        return self.base_case.resolved[section][name]

    @cached_property
    def base_case(self) -> Case:
        """The base case with ``[set]`` (resolved once)."""
        return case_from_dict(copy.deepcopy(self.base_raw))

    def span(self, key: str) -> tuple[float, float]:
        """The bounds of a numeric setting (free) or its fixed value twice."""
        if key in self.free:
            b = self.free[key]
            return b.lo, b.hi
        v = float(self.fixed(key))
        return v, v

    def coolings(self) -> tuple[str, ...]:
        if "cooling.mode" in self.free:
            return self.free["cooling.mode"].choices
        return (self.fixed("cooling.mode"),)


def _bad(path: Path, key: str, value: Any, allowed: str) -> CaseError:
    return CaseError(f"{path}: {key} = {value!r}: {allowed}")


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _targets(path: Path, goal: str, user: Any, phototype: int) -> dict[str, Any]:
    if not isinstance(user, dict):
        raise _bad(path, "targets", user, "allowed: a table of targets")
    out = dict(copy.deepcopy(GOALS[goal]))
    for k, v in user.items():
        if k not in TARGETS:
            raise _bad(path, f"targets.{k}", v, "unknown target; known: " + ", ".join(TARGETS))
        kind = TARGETS[k][0]
        if kind == "range":
            if not (isinstance(v, list) and len(v) == 2 and all(_number(x) for x in v)
                    and 0 <= v[0] < v[1]):
                raise _bad(path, f"targets.{k}", v, "allowed: [lower, upper] with 0 <= lower "
                                                    "< upper")
            v = [float(x) for x in v]
        elif v is False:  # a goal's target switched off
            out.pop(k, None)
            continue
        elif not _number(v) or v < 0 or (kind == "day" and v <= 0):
            raise _bad(path, f"targets.{k}", v, "allowed: a number >= 0 (> 0 for outcome_day),"
                                                " or false to drop the goal's target")
        out[k] = v if kind == "range" else float(v)
    cap = PHOTOTYPE_COVERAGE_CAP[phototype]
    lo, hi = out.get("coverage_percent", [0.0, cap])
    if lo >= cap:
        raise _bad(path, "targets.coverage_percent", [lo, hi],
                   f"phototype {phototype} caps the coverage per session at {cap:g} %; allowed:"
                   f" a lower bound under {cap:g}")
    out["coverage_percent"] = [lo, min(hi, cap)]
    return out


def _free(path: Path, raw: Any) -> dict[str, Bounds]:
    if not isinstance(raw, dict) or not raw:
        raise _bad(path, "free", raw, "required: a table of free settings with their bounds; "
                                      "allowed keys: " + ", ".join(FREE_KEYS))
    out = {}
    for k, v in raw.items():
        if k not in FREE_KEYS:
            raise _bad(path, f"free.{k}", v, "not a free setting; allowed: "
                       + ", ".join(FREE_KEYS))
        kind = FREE_KEYS[k]
        if kind == "choice":
            if not (isinstance(v, list) and v and all(isinstance(c, str) for c in v)
                    and len(set(v)) == len(v)):
                raise _bad(path, f"free.{k}", v, "allowed: a list of distinct choices")
            out[k] = Bounds(k, kind, choices=tuple(v))
            continue
        ok = isinstance(v, list) and len(v) == 2 and all(_number(x) for x in v) and v[0] <= v[1]
        if ok and kind == "int":
            ok = all(isinstance(x, int) for x in v)
        if not ok or v[0] <= 0:
            what = "integers" if kind == "int" else "numbers"
            raise _bad(path, f"free.{k}", v, f"allowed: [lower, upper], {what} with "
                                             "0 < lower <= upper")
        out[k] = Bounds(k, kind, float(v[0]), float(v[1]))
    return out


def _corners(plan: Plan) -> None:
    """Every free setting at its bounds must make a valid case (each choice once)."""
    def at(b: Bounds, end: int) -> Any:
        if b.kind == "choice":
            return b.choices[-end]
        v = b.hi if end else b.lo
        return int(v) if b.kind == "int" else v

    los = {k: at(b, 0) for k, b in plan.free.items()}
    his = {k: at(b, 1) for k, b in plan.free.items()}
    extra = [{k: c} for k, b in plan.free.items() if b.kind == "choice" for c in b.choices]
    for values in (los, his, *extra):
        raw = copy.deepcopy(plan.base_raw)
        for k, v in values.items():
            if k not in ("course.sessions", "course.interval_days"):  # judged below
                section, name = k.split(".")
                raw.setdefault(section, {})[name] = v
        try:
            case_from_dict(raw)
        except CaseError as e:
            raise CaseError(f"{plan.path}: free settings {values}: {e}") from None
    n_lo, _ = plan.span("course.sessions")
    d_lo, _ = plan.span("course.interval_days")
    day = plan.targets["outcome_day"]
    if (n_lo - 1) * d_lo >= day:
        raise CaseError(f"{plan.path}: course.sessions = {n_lo:g} sessions {d_lo:g} days apart "
                        f"end after targets.outcome_day = {day:g}; allowed: fewer or closer "
                        "sessions, or a later outcome_day")


def load_plan(path: str | Path, overrides: list[str] | None = None) -> Plan:
    """Read and validate a plan file; raises :class:`CaseError` (exit status 2)."""
    path = Path(path)
    raw = read_toml(path)
    for k, v in raw.items():
        if k not in PLAN_KEYS:
            raise _bad(path, k, v, "unknown key; known keys: " + ", ".join(PLAN_KEYS))
    base = raw.get("base")
    if not isinstance(base, str) or not (path.parent / base).is_file():
        raise _bad(path, "base", base, "required: an existing case file, relative to the plan")
    goal = raw.get("goal")
    if not isinstance(goal, str) or goal not in GOALS:
        raise _bad(path, "goal", goal, "allowed: one of " + ", ".join(map(repr, GOALS)))
    photo = raw.get("phototype", 3)
    if not isinstance(photo, int) or isinstance(photo, bool) or photo not in PHOTOTYPE_COVERAGE_CAP:
        raise _bad(path, "phototype", photo, "allowed: a Fitzpatrick skin type, an integer 1-6")
    rpc = raw.get("ranks_per_case", 1)
    if isinstance(rpc, bool) or not isinstance(rpc, int) or rpc < 1:
        raise _bad(path, "ranks_per_case", rpc, "allowed: an integer >= 1")
    title = raw.get("title", path.stem)
    if not isinstance(title, str):
        raise _bad(path, "title", title, "allowed: a string")
    fixed = raw.get("set", {})
    if not isinstance(fixed, dict):
        raise _bad(path, "set", fixed, "allowed: a table of dotted case keys to values")
    base_path = (path.parent / base).resolve()
    base_raw = read_toml(base_path)
    for k, v in fixed.items():
        set_dotted(base_raw, k, v)
    base_raw = apply_overrides(base_raw, overrides)
    try:
        case = case_from_dict(copy.deepcopy(base_raw))
    except CaseError as e:
        raise CaseError(f"{path}: base: {e}") from None
    if case.pattern.kind not in PERIODIC_PASSES:
        raise _bad(path, "base: pattern.layout", case.pattern.kind,
                   "a plan searches on a periodic layout; allowed: " + ", ".join(PERIODIC_PASSES))
    if not case.healing.enabled:
        raise _bad(path, "base: healing.enabled", False, "a plan judges the healing; allowed: "
                                                        "true")
    plan = Plan(path, title, base_path, goal, photo, rpc,
                _targets(path, goal, raw.get("targets", {}), photo), _free(path, raw.get("free")),
                base_raw, ablative=case.crater.shape != "none")
    plan.base_case = case  # the cached property, resolved above
    _corners(plan)
    return plan

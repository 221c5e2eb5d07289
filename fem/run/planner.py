"""The search of ``mtz plan``: settings that meet a goal's targets with the least downtime.

The planner works on any model given as a function ``evaluate(settings) -> outcomes`` (the
real model through the study machinery, :mod:`fem.run.plan`; an analytic stand-in in the
tests). What one run simulates is a **session**, :class:`Setting`: the energy per column,
the lattice density of the session (density per pass x passes) and the cooling. A **course**
of ``n`` sessions ``D`` days apart follows from one session's outcome without another run
(:func:`predict_course`): the sessions' dermal responses add up in time (the kinetics are
linear, fem.run.course), so the new collagen and the late tightening at the outcome day are
sums of the session's curves at the ages of its sessions, the pigment cleared is
``1 - (1 - p)^n`` and the downtimes add up.

The search spends runs where they matter:

1. **Bracket the depth** (it grows monotonically with energy): at a reference density, runs
   at the energy bounds, then secant steps on ``log depth`` against ``log energy`` towards
   both ends of the depth window (aimed :data:`MARGIN` inside it), for every cooling choice at
   once, until each end is within :data:`DEPTH_TOL`. This gives the energies that can meet the
   depth target.
2. **Design**: runs at the corners of that energy interval and of the density band the
   coverage target allows (coverage scales with density, estimated from the bracket runs).
3. **Propose and verify**: a surrogate fitted to the runs (radial basis functions,
   :class:`scipy.interpolate.RBFInterpolator`, thin-plate spline with a linear tail, on the
   logarithms: power laws are reproduced exactly) predicts the outcome on a grid of settings;
   the best feasible point of the grid (least course downtime, then fewest sessions, lowest
   energy, lowest density) is run, and the surrogate refitted, until the proposal has been run
   or :data:`MAX_ROUNDS` rounds. The surrogate only proposes: the recommendation is the best
   setting among those *run*, its course predicted from its own run.

Only a setting that was run is recommended; its course is then verified by a full run of the
course (:mod:`fem.run.plan`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import RBFInterpolator

from fem.config.plan import JUDGED

log = logging.getLogger(__name__)

MARGIN = 0.06  # the depth bracket aims this far (relative) inside the depth window
DEPTH_TOL = 0.05  # a bracket end is found when its depth is within this of its aim
BRACKET_ROUNDS = 4
MAX_ROUNDS = 6  # propose-and-run rounds
GRID = 11  # energies and densities of the proposal grid
INTERVALS = 7  # intervals between sessions tried (evenly over the free range)
GAIN = 0.01  # a proposal is run when predicted this much better than the best run


@dataclass(frozen=True)
class Setting:
    """What one run simulates: one session."""

    energy_mJ: float
    density_per_cm2: float  # columns per cm2 of the session (density per pass x passes)
    cooling: str

    def rounded(self) -> Setting:
        """The setting at 3 significant digits (run names, reuse on resume)."""
        return Setting(float(f"{self.energy_mJ:.3g}"), float(f"{self.density_per_cm2:.3g}"),
                       self.cooling)


@dataclass
class Outcome:
    """What a run of one session gives the planner."""

    depth_um: float
    width_um: float
    coverage_percent: float
    downtime_days: float
    pigment_percent: float  # of one session
    mend_shed_days: float
    ages_days: np.ndarray  # the ages of the curves below
    collagen: np.ndarray  # new collagen, percent, at each age
    tightening: np.ndarray  # late tightening (area), percent, at each age

    def vector(self) -> np.ndarray:
        """The surrogate's outputs (logarithms)."""
        scalars = [self.depth_um, self.width_um, self.coverage_percent, self.downtime_days,
                   self.pigment_percent, self.mend_shed_days]
        return np.log(np.maximum(np.concatenate([scalars, self.collagen, self.tightening]),
                                 1e-9))

    @classmethod
    def from_vector(cls, v: np.ndarray, ages: np.ndarray) -> Outcome:
        e = np.exp(v)
        n = ages.size
        return cls(*map(float, e[:6]), ages, e[6:6 + n], e[6 + n:6 + 2 * n])


@dataclass(frozen=True)
class Problem:
    """The search space and the targets (from a plan file, :mod:`fem.config.plan`)."""

    targets: dict
    energy: tuple[float, float]  # mJ
    density: tuple[float, float]  # columns per cm2 of a session
    coolings: tuple[str, ...]
    sessions: tuple[int, int]
    interval: tuple[float, float]  # days

    @property
    def day(self) -> float:
        return float(self.targets["outcome_day"])

    def courses(self) -> list[tuple[int, float]]:
        """The (sessions, interval) pairs to try: every count, intervals evenly spaced, the
        last session before the outcome day."""
        d0, d1 = self.interval
        # whole days (sessions are booked by the day), within the bounds
        ds = sorted({min(d1, max(d0, float(round(d)))) for d in
                     np.linspace(d0, d1, INTERVALS if d1 > d0 else 1)})
        out = [(1, ds[0])]
        for n in range(max(2, self.sessions[0]), self.sessions[1] + 1):
            out += [(n, d) for d in ds if (n - 1) * d < self.day]
        return [c for c in out if c[0] >= self.sessions[0]]


def _at(o: Outcome, values: np.ndarray, age: float) -> float:
    return float(np.interp(age, o.ages_days, values))


def predict_course(o: Outcome, sessions: int, interval: float, day: float) -> dict:
    """The outcome of a course from one session's outcome (see the module docstring)."""
    ages = [day - k * interval for k in range(sessions)]
    dt = o.downtime_days
    return {
        "depth_um": o.depth_um, "width_um": o.width_um,
        "coverage_percent": o.coverage_percent, "downtime_days": dt,
        "mend_shed_days": o.mend_shed_days,
        "sessions": sessions, "interval_days": float(interval),
        "course_downtime_days": dt + (sessions - 1) * min(dt, interval),
        "course_pigment_cleared_percent":
            100.0 * (1.0 - (1.0 - o.pigment_percent / 100.0) ** sessions),
        "new_collagen_percent": sum(_at(o, o.collagen, a) for a in ages),
        "late_tightening_area_percent": sum(_at(o, o.tightening, a) for a in ages),
    }


def margins(pred: dict, targets: dict) -> dict[str, float]:
    """How far inside each target a prediction is, relative to the bound (negative:
    violated; a range: the nearer of its two bounds)."""
    out = {}
    for name, (metric, kind) in JUDGED.items():
        if name not in targets:
            continue
        v, t = pred[metric], targets[name]
        if kind == "range":
            out[name] = min((v - t[0]) / max(t[0], 1e-9), (t[1] - v) / t[1])
        elif kind == "max":
            out[name] = (t - v) / max(t, 1e-9)
        else:
            out[name] = (v - t) / max(t, 1e-9)
    return out


def violations(pred: dict, targets: dict) -> dict[str, float]:
    """Each target's relative violation (0 when met: the margin's shortfall), and
    ``sessions_after_shedding``: a plan fires no session before the MENDs of the one before
    are shed."""
    out = {k: max(0.0, -m) for k, m in margins(pred, targets).items()}
    if pred["sessions"] > 1:
        out["sessions_after_shedding"] = max(0.0, (pred["mend_shed_days"]
                                                   - pred["interval_days"])
                                             / pred["mend_shed_days"])
    return out


def best_course(o: Outcome, problem: Problem) -> tuple[dict, float]:
    """The course of least downtime that meets the targets with this session (else the one
    of least total violation); returns the prediction and its total violation."""
    best, best_key = None, None
    for n, d in problem.courses():
        pred = predict_course(o, n, d, problem.day)
        bad = sum(violations(pred, problem.targets).values())
        key = (bad > 0, bad if bad > 0 else 0.0, pred["course_downtime_days"], n, -d)
        if best_key is None or key < best_key:
            best, best_key = pred, key
    return best, best_key[1]


def rank(s: Setting, pred: dict, bad: float) -> tuple:
    """Order of preference: feasible first, least course downtime, fewest sessions, lowest
    energy, lowest density (infeasible: least violation)."""
    if bad > 0:
        return (1, bad)
    return (0, round(pred["course_downtime_days"], 6), pred["sessions"], s.energy_mJ,
            s.density_per_cm2)


def improves(a: tuple, b: tuple) -> bool:
    """Whether rank ``a`` is worth a run against the best run's ``b``: feasible against
    infeasible, :data:`GAIN` less violation or course downtime, or the same downtime (within
    GAIN) in fewer sessions."""
    if a[0] != b[0]:
        return a[0] < b[0]
    if a[0] == 1:
        return a[1] < b[1] * (1 - GAIN)
    if a[1] < b[1] * (1 - GAIN):
        return True
    return a[1] <= b[1] * (1 + GAIN) and a[2] < b[2]


@dataclass
class Run:
    """One run the planner made."""

    setting: Setting
    outcome: Outcome | None  # None: the run failed
    purpose: str


@dataclass
class Result:
    """What the search found."""

    feasible: bool
    setting: Setting | None
    prediction: dict | None
    violations: dict
    runs: list[Run]
    candidates: list[dict] = field(default_factory=list)  # the last proposal grid
    energy_window: dict = field(default_factory=dict)  # cooling -> [E_a, E_b] or None
    unreachable: list[str] = field(default_factory=list)  # targets no setting can meet


class Surrogate:
    """Radial basis functions of the run outcomes in (log energy, log density), one per
    cooling choice; a plane in the logarithms while the runs are too few or collinear."""

    def __init__(self, runs: list[Run], ages: np.ndarray, scale: tuple[float, float]):
        self.ages = ages
        self.scale = np.array(scale)
        ok = [r for r in runs if r.outcome is not None]
        self.X = np.array([[math.log(r.setting.energy_mJ), math.log(r.setting.density_per_cm2)]
                           for r in ok]) / self.scale
        Y = np.array([r.outcome.vector() for r in ok])
        self.f = None
        if len(ok) >= 4:
            try:
                self.f = RBFInterpolator(self.X, Y, kernel="thin_plate_spline", degree=1)
            except np.linalg.LinAlgError:
                self.f = None
        if self.f is None:  # least squares plane in the logarithms that vary (or constant)
            A = np.column_stack([np.ones(len(ok)), self.X])
            self.cols = [0] + [j + 1 for j in range(2) if np.ptp(self.X[:, j]) > 1e-12]
            self.coef = np.linalg.lstsq(A[:, self.cols], Y, rcond=None)[0]

    def __call__(self, energy: np.ndarray, density: np.ndarray) -> list[Outcome]:
        X = np.column_stack([np.log(energy), np.log(density)]) / self.scale
        if self.f is not None:
            V = self.f(X)
        else:
            V = np.column_stack([np.ones(len(X)), X])[:, self.cols] @ self.coef
        return [Outcome.from_vector(v, self.ages) for v in V]


class Planner:
    """The search (module docstring) over a model ``evaluate``.

    Args:
        problem: the search space and targets.
        evaluate: ``evaluate(settings, purpose) -> outcomes`` (None for a failed run); the
            settings of one call may run at once.
        ages: the ages (days) at which an outcome gives its curves.
        batch: how many runs one call may take at once (the proposals of a round).
    """

    def __init__(self, problem: Problem,
                 evaluate: Callable[[list[Setting], str], list[Outcome | None]],
                 ages: np.ndarray, batch: int = 1):
        self.problem, self.evaluate, self.ages = problem, evaluate, ages
        self.batch = max(1, batch)
        self.runs: dict[Setting, Run] = {}
        e, d = problem.energy, problem.density
        self.scale = (max(math.log(e[1] / e[0]), 0.1), max(math.log(d[1] / d[0]), 0.1))

    # -- runs ---------------------------------------------------------------------------

    def run(self, settings: list[Setting], purpose: str) -> list[Outcome | None]:
        todo = []
        for s in (s.rounded() for s in settings):
            if s not in self.runs and s not in todo:
                todo.append(s)
        if todo:
            for s, o in zip(todo, self.evaluate(todo, purpose)):
                self.runs[s] = Run(s, o, purpose)
        return [self.runs[s.rounded()].outcome for s in settings]

    def outcomes(self, cooling: str) -> list[Run]:
        return [r for r in self.runs.values() if r.setting.cooling == cooling and r.outcome]

    # -- 1. the depth bracket -----------------------------------------------------------

    def bracket(self) -> dict[str, tuple[float, float] | None]:
        """The energy interval of each cooling choice whose depth can meet the target."""
        p = self.problem
        e0, e1 = p.energy
        rho = math.sqrt(p.density[0] * p.density[1])
        self.rho_ref = float(f"{rho:.3g}")
        self.run([Setting(e, rho, c) for c in p.coolings for e in sorted({e0, e1})], "bracket")
        window = p.targets.get("depth_um")
        out: dict[str, tuple[float, float] | None] = {}
        if window is None:
            return {c: (e0, e1) for c in p.coolings}
        aims = (window[0] * (1 + MARGIN), window[1] * (1 - MARGIN))
        for _ in range(BRACKET_ROUNDS):
            want, found = [], {}
            for c in p.coolings:
                found[c] = self._ends(c, aims)
                want += [Setting(e, self.rho_ref, c) for e, done in found[c] if not done]
            if not want:
                break
            self.run(want, "bracket")
        for c in p.coolings:
            ends = self._ends(c, aims)
            lo, hi = ends[0][0], ends[1][0]
            depth = self._depths(c)
            if depth[-1][1] < window[0] or depth[0][1] > window[1]:
                out[c] = None  # the depth window is out of reach at these energies
            else:
                out[c] = (max(e0, min(lo, hi)), min(e1, max(lo, hi)))
        return out

    def _depths(self, cooling: str) -> list[tuple[float, float]]:
        """(energy, depth) of the runs at the reference density, by energy."""
        return sorted((r.setting.energy_mJ, r.outcome.depth_um) for r in self.outcomes(cooling)
                      if r.setting.density_per_cm2 == self.rho_ref)

    def _ends(self, cooling: str, aims: tuple[float, float]) -> list[tuple[float, bool]]:
        """For each aimed depth: the energy the runs interpolate to (log-log, monotone,
        extrapolated by the end slopes, within the bounds) and whether a run is close."""
        pts = self._depths(cooling)
        e = np.log([q[0] for q in pts])
        d = np.maximum.accumulate(np.log([q[1] for q in pts]))
        e0, e1 = self.problem.energy
        out = []
        for aim in aims:
            y = math.log(aim)
            close = any(abs(dd / aim - 1.0) <= DEPTH_TOL for _, dd in pts)
            if y <= d[0] or y >= d[-1]:  # outside the runs: the end slope (or the bound)
                i = 0 if y <= d[0] else len(d) - 2
                slope = (d[i + 1] - d[i]) / (e[i + 1] - e[i]) if len(d) > 1 else 0.0
                at_bound = (y <= d[0] and pts[0][0] <= e0 * (1 + 1e-9)) or \
                           (y >= d[-1] and pts[-1][0] >= e1 * (1 - 1e-9))
                if slope <= 0 or at_bound:
                    out.append((e0 if y <= d[0] else e1, True))
                    continue
                x = e[i] + (y - d[i]) / slope
            else:
                j = int(np.searchsorted(d, y))
                x = e[j - 1] + (y - d[j - 1]) * (e[j] - e[j - 1]) / max(d[j] - d[j - 1], 1e-12)
            out.append((float(min(e1, max(e0, math.exp(x)))), close))
        return out

    # -- 2. design, 3. propose ----------------------------------------------------------

    def density_band(self, cooling: str, energies: tuple[float, float]) -> tuple[float, float]:
        """The densities whose coverage can meet the target at these energies (coverage
        scales with density; from the runs), within the bounds."""
        d0, d1 = self.problem.density
        target = self.problem.targets.get("coverage_percent")
        runs = self.outcomes(cooling)
        if target is None or not runs:
            return d0, d1
        per = [r.outcome.coverage_percent / r.setting.density_per_cm2 for r in runs]
        lo = target[0] / max(per) / 1.15
        hi = target[1] / min(per) * 1.15
        return max(d0, min(lo, d1)), min(d1, max(hi, d0))

    def design(self, windows: dict) -> None:
        want = []
        for c, w in windows.items():
            if w is None:
                continue
            band = self.density_band(c, w)
            want += [Setting(e, r, c) for e in sorted(set(w)) for r in sorted(set(band))]
        self.run(want, "design")

    def candidates(self, windows: dict, zoom: tuple[Setting, float] | None = None
                   ) -> list[dict]:
        """The proposal grid of every cooling choice, predicted by the surrogate; ``zoom``:
        a grid about a setting instead, spanning the given share of the window (in logs)."""
        p, out = self.problem, []
        for c in p.coolings:
            runs = self.outcomes(c)
            if not runs or (zoom is not None and zoom[0].cooling != c):
                continue
            w = windows.get(c) or p.energy
            band = self.density_band(c, w)
            if zoom is not None:  # a window about the setting, inside the full one
                s0, share = zoom
                w = _about(s0.energy_mJ, w, share)
                band = _about(s0.density_per_cm2, band, share)
            es = np.geomspace(w[0], w[1], GRID) if w[1] > w[0] else np.array([w[0]])
            rs = np.geomspace(band[0], band[1], GRID) if band[1] > band[0] else np.array(
                [band[0]])
            E, R = (a.ravel() for a in np.meshgrid(es, rs, indexing="ij"))
            sur = Surrogate(runs, self.ages, self.scale)
            for e, r, o in zip(E, R, sur(E, R)):
                s = Setting(float(e), float(r), c)
                pred, bad = best_course(o, p)
                out.append({"setting": s, "prediction": pred, "violation": bad,
                            "rank": rank(s, pred, bad)})
        return out

    def best_run(self) -> tuple[Setting | None, dict | None, float]:
        """The best setting among those run, its course predicted from its own run."""
        best = (None, None, math.inf)
        key = None
        for s, r in self.runs.items():
            if r.outcome is None:
                continue
            pred, bad = best_course(r.outcome, self.problem)
            k = rank(s, pred, bad)
            if key is None or k < key:
                best, key = (s, pred, bad), k
        return best

    def search(self) -> Result:
        windows = self.bracket()
        log.info("plan: energies that can meet the depth target: %s", ", ".join(
            f"{c}: {'none' if w is None else f'{w[0]:.3g}-{w[1]:.3g} mJ'}"
            for c, w in windows.items()))
        reachable = {c: w for c, w in windows.items() if w is not None}
        self.design(reachable)
        cands: list[dict] = []
        idle = 0
        for k in range(MAX_ROUNDS + 2):
            best, best_pred, best_bad = self.best_run()
            grid = self.candidates(reachable or windows)
            if best is not None and k > 0:  # and a finer grid about the best run so far
                grid += self.candidates(reachable or windows, (best, 0.5 ** k))
            cands = sorted(grid, key=lambda c: c["rank"])
            bar = rank(best, best_pred, best_bad) if best is not None else (2,)
            picks: list[Setting] = []
            for c in cands:  # proposals predicted better than the best run, not yet run
                s = c["setting"].rounded()
                if improves(c["rank"], bar) and s not in self.runs and s not in picks:
                    picks.append(s)
                if len(picks) == self.batch:
                    break
            if not picks:
                idle += 1
                if idle == 2 or k >= MAX_ROUNDS:
                    break  # nothing predicted better, on the grid or about the best run
                continue
            idle = 0
            log.info("plan: round %d proposes %s", k + 1, ", ".join(
                f"{s.energy_mJ:g} mJ, {s.density_per_cm2:g}/cm2, {s.cooling}" for s in picks))
            self.run(picks, "proposal")
        s, pred, bad = self.best_run()
        viol = violations(pred, self.problem.targets) if pred else {}
        return Result(feasible=s is not None and bad == 0, setting=s, prediction=pred,
                      violations=viol, runs=list(self.runs.values()), candidates=cands,
                      energy_window={c: (None if w is None else list(w))
                                     for c, w in windows.items()},
                      unreachable=["depth_um"] if not reachable else [])


def _about(x: float, window: tuple[float, float], share: float) -> tuple[float, float]:
    """A window about ``x``, ``share`` of ``window`` wide in logarithms, clipped to it."""
    lo, hi = window
    half = 0.5 * share * math.log(hi / lo) if hi > lo else 0.0
    return max(lo, x * math.exp(-half)), min(hi, x * math.exp(half))

"""``mtz calibrate``: the free parameters of a preset fitted to the histology chart, as an
inverse problem over runs of the real model.

A calibration file (``studies/calibrate_<preset>.toml``) names a base case, the overrides of
every run, and one or more stages; each stage names the chart quantities it fits and its free
parameters with bounds and a start. A stage's parameters are fitted to every chart row of its
quantities at once (rows of the file's wavelength with an energy; a row's spot when it gives
one) with :func:`scipy.optimize.least_squares` (trust-region reflective, bounds, forward
differences), later stages starting from the values of the earlier ones.

Residual of a row: the simulated value against the chart in the histology band (simulated
columns come out -10 % to +35 % of the histology, :data:`fem.post.calibration.TOLERANCE`),
in log space and in units of the band's half width, about its centre::

    r = (ln(sim / chart) - c) / h,   c = (ln 0.9 + ln 1.35) / 2,   h = (ln 1.35 - ln 0.9) / 2,

so ``|r| <= 1`` is inside the band; a range (``typical_range``, judged at the file's
``typical_at_mJ`` energies) is the same about the range scaled by the band; a lower bound
(``greater_than``) has ``r = min(0, ln(sim / chart) / h)``; a ceiling on the peak temperature
at the typical energies (``max_peak_temperature_C``: a non-ablative laser leaves the stratum
corneum intact) adds ``max(0, (T - T_max) / 10 K)`` per typical energy. Uncertainty of the
fitted values: the covariance ``s^2 (J^T J)^-1`` from the Jacobian at the solution, ``s^2``
the residual variance (with as many rows as parameters, the band half width: ``s = 1``).

A stage that fits only crater depths (``ablation_depth_um``) evaluates the crater of each
resolved case (the model computes it before meshing); any other stage runs the cases (every
rank together, one after the other) into ``OUT/runs/<key>/``, where a finished run is reused:
an interrupted calibration continues where it stopped.

Output: ``OUT/fit.json`` (the fitted values, their standard errors, the residual of every
row, every evaluation) and the log's residual table.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from mpi4py import MPI
from scipy.optimize import least_squares

from fem.config import CaseError, load_case
from fem.config.resolve import read_toml
from fem.output import names
from fem.output.files import write_json
from fem.post.calibration import METRIC_OF, TOLERANCE, ChartPoint, read_chart

log = logging.getLogger(__name__)

PEAK_SCALE = 10.0  # K per unit residual above a peak-temperature ceiling
CENTRE = 0.5 * (math.log(1 + TOLERANCE[0]) + math.log(1 + TOLERANCE[1]))
HALF = 0.5 * (math.log(1 + TOLERANCE[1]) - math.log(1 + TOLERANCE[0]))


@dataclass(frozen=True)
class Stage:
    """One least-squares fit: chart quantities and free parameters (key -> lo, start, hi)."""

    quantities: tuple[str, ...]
    parameters: dict[str, tuple[float, float, float]]


@dataclass(frozen=True)
class Calibration:
    """A calibration file."""

    title: str
    base: Path
    wavelength_nm: float
    overrides: tuple[str, ...]
    stages: tuple[Stage, ...]
    chart: tuple[ChartPoint, ...]
    typical_at_mJ: tuple[float, ...] = ()  # where the chart's typical ranges are judged
    max_peak_C: float | None = None  # a ceiling on the peak temperature at typical_at_mJ


def _fmt(value) -> str:
    if isinstance(value, float) and not math.isfinite(value):  # TOML spells them nan, inf
        return repr(value)
    if isinstance(value, list) and any(isinstance(v, float) and not math.isfinite(v)
                                       for v in value):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else json.dumps(value)


def load_calibration(path: str | Path) -> Calibration:
    """Read and check a calibration file; raises :class:`CaseError`."""
    path = Path(path)
    raw = read_toml(path)
    allowed = {"title", "base", "wavelength_nm", "set", "stage", "typical_at_mJ",
               "max_peak_temperature_C"}
    for k in raw:
        if k not in allowed:
            raise CaseError(f"{path}: {k}: unknown key; allowed: {', '.join(sorted(allowed))}")
    for k in ("base", "wavelength_nm", "stage"):
        if k not in raw:
            raise CaseError(f"{path}: {k}: missing")
    if not isinstance(raw.get("title", ""), str):
        raise CaseError(f"{path}: title = {raw['title']!r}: allowed: a string")
    if not isinstance(raw["base"], str) or not raw["base"]:
        raise CaseError(f"{path}: base = {raw['base']!r}: allowed: a case file name (a string)")
    base = (path.parent / raw["base"]).resolve()
    if not base.is_file():
        raise CaseError(f"{path}: base = {raw['base']!r}: no such case file")
    fixed = raw.get("set", {})
    if not isinstance(fixed, dict):
        raise CaseError(f"{path}: set = {fixed!r}: allowed: a table of dotted case keys to "
                        "values")
    try:
        overrides = tuple(f"{k}={_fmt(v)}" for k, v in fixed.items())
    except (TypeError, ValueError) as e:
        raise CaseError(f"{path}: set = {fixed!r}: allowed: case values ({e})") from None
    if not _finite(raw["wavelength_nm"]) or raw["wavelength_nm"] <= 0:
        raise CaseError(f"{path}: wavelength_nm = {raw['wavelength_nm']!r}: allowed: a finite "
                        "number > 0 (nm)")
    wl = float(raw["wavelength_nm"])
    typical_raw = raw.get("typical_at_mJ", [])
    if not isinstance(typical_raw, list) or not all(_finite(e) and e > 0 for e in typical_raw):
        raise CaseError(f"{path}: typical_at_mJ = {typical_raw!r}: allowed: a list "
                        "of finite energies > 0 (mJ)")
    typical = tuple(float(e) for e in typical_raw)
    chart = []
    for p in read_chart():
        if abs(p.wavelength_nm - wl) >= 1.0:
            continue
        if p.energy_mJ is None and p.relation == "typical_range":  # judged at typical_at_mJ
            chart.extend(dataclasses.replace(p, energy_mJ=e) for e in typical)
        else:
            chart.append(p)
    chart = tuple(chart)
    stages = []
    if not isinstance(raw["stage"], list) or not all(isinstance(st, dict) for st in raw["stage"]):
        raise CaseError(f"{path}: stage = {raw['stage']!r}: allowed: [[stage]] tables")
    for i, st in enumerate(raw["stage"]):
        unknown = [k for k in st if k not in ("quantities", "parameters")]
        if unknown:
            raise CaseError(f"{path}: stage[{i}].{unknown[0]}: unknown key; allowed: "
                            "quantities, parameters")
        qs = st.get("quantities", [])
        if not isinstance(qs, list) or not qs or not all(
                isinstance(q, str) and q in METRIC_OF for q in qs):
            raise CaseError(f"{path}: stage[{i}].quantities = {qs!r}: allowed: a list "
                            f"of {', '.join(METRIC_OF)}")
        qs = tuple(qs)
        table = st.get("parameters", {})
        if not isinstance(table, dict):
            raise CaseError(f"{path}: stage[{i}].parameters = {table!r}: allowed: a table of "
                            "dotted case keys to [lower, start, upper]")
        params = {}
        for k, v in table.items():
            if not (isinstance(v, list) and len(v) == 3 and all(_finite(x) for x in v)
                    and v[0] <= v[1] <= v[2] and v[0] < v[2]):
                raise CaseError(f"{path}: stage[{i}].parameters.{k} = {v!r}: allowed: "
                                "[lower, start, upper], finite numbers with lower <= start "
                                "<= upper")
            params[k] = tuple(float(x) for x in v)
        if not params:
            raise CaseError(f"{path}: stage[{i}].parameters: at least one is needed")
        if not [p for p in chart if p.quantity in qs and p.energy_mJ is not None]:
            raise CaseError(f"{path}: stage[{i}]: no chart row of {list(qs)} at "
                            f"{wl:g} nm with an energy")
        stages.append(Stage(qs, params))
    peak = raw.get("max_peak_temperature_C")
    if peak is not None and (not _finite(peak) or not typical):
        raise CaseError(f"{path}: max_peak_temperature_C = {peak!r}: allowed: a number, with "
                        "typical_at_mJ (the energies where it applies)")
    if peak is not None:  # a limit row per typical energy (quantity peak_temperature_C)
        chart = chart + tuple(ChartPoint(wl, e, None, "peak_temperature_C", float(peak),
                                         float(peak), "at_most", "calibration file")
                              for e in typical)
    cal = Calibration(raw.get("title", path.stem), base, wl, overrides, tuple(stages), chart,
                      typical, None if peak is None else float(peak))
    load_case(base, list(overrides))  # the overrides must make a valid case
    for i, st in enumerate(stages):  # and so must every stage at its start
        start = [f"{k}={v[1]!r}" for k, v in st.parameters.items()]
        try:
            load_case(base, list(overrides) + start)
        except CaseError as e:
            raise CaseError(f"{path}: stage[{i}].parameters at their start: {e}") from None
    return cal


def _finite(x) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def residual(row: ChartPoint, simulated: float) -> float:
    """The row's residual in band half widths (see the module docstring)."""
    if row.relation == "at_most":  # a ceiling: 0 below it, +1 per PEAK_SCALE above
        return max(0.0, (simulated - row.low) / PEAK_SCALE)
    x = math.log(max(simulated, 1e-9))
    if row.relation == "greater_than":
        return min(0.0, (x - math.log(row.low)) / HALF)
    lo, hi = math.log(row.low * (1 + TOLERANCE[0])), math.log(row.high * (1 + TOLERANCE[1]))
    return (x - 0.5 * (lo + hi)) / (0.5 * (hi - lo))


def in_band(row: ChartPoint, simulated: float) -> bool:
    """Whether a simulated value meets the row (inside the band, or above a lower bound)."""
    if row.relation == "at_most":
        return simulated <= row.low
    return abs(residual(row, simulated)) <= 1.0 + 1e-12 if row.relation != "greater_than" \
        else simulated > row.low


class Fitter:
    """The runs of one calibration on a communicator, reused across evaluations."""

    def __init__(self, cal: Calibration, out: Path, comm: MPI.Comm):
        self.cal, self.out, self.comm = cal, Path(out), comm
        self.evaluations: list[dict] = []
        self.values: dict[str, float] = {}  # fitted so far

    def rows(self, stage: Stage) -> list[ChartPoint]:
        return [p for p in self.cal.chart if p.energy_mJ is not None and (
            p.quantity in stage.quantities or p.relation == "at_most")]

    def overrides(self, row: ChartPoint, params: dict[str, float]) -> list[str]:
        extra = [f"laser.energy_mJ={row.energy_mJ!r}"]
        if row.spot_um is not None:
            extra.append(f"laser.spot_um={row.spot_um!r}")
        return [*self.cal.overrides, *extra,
                *(f"{k}={v!r}" for k, v in {**self.values, **params}.items())]

    def simulate(self, stage: Stage, params: dict[str, float]) -> list[float]:
        """The simulated value of each row of the stage, by crater or by run."""
        rows, sims, done = self.rows(stage), [], {}
        crater_only = set(stage.quantities) == {"ablation_depth_um"}
        for row in rows:
            ov = self.overrides(row, params)
            key = hashlib.sha256("\n".join(ov).encode()).hexdigest()[:16]
            if key not in done:
                case = load_case(self.cal.base, ov)
                if crater_only:
                    done[key] = {"ablation_depth_um": case.crater.depth * 1e6}
                else:
                    done[key] = self._run(case, key)
            metric = "peak_temperature_C" if row.relation == "at_most" else row.metric
            sims.append(float(done[key][metric]))
        return sims

    def _run(self, case, key: str) -> dict:
        from fem.run.driver import run_case

        out = self.out / "runs" / key
        metrics_file = out / names.METRICS_JSON
        if metrics_file.is_file():
            return json.loads(metrics_file.read_text())
        return run_case(case, out, self.comm, draw=False)

    def fit(self, stage: Stage) -> dict:
        """Least squares of one stage; returns its summary."""
        keys = list(stage.parameters)
        lo = np.array([stage.parameters[k][0] for k in keys])
        x0 = np.array([stage.parameters[k][1] for k in keys])
        hi = np.array([stage.parameters[k][2] for k in keys])
        rows = self.rows(stage)

        def fun(x):
            params = dict(zip(keys, (float(v) for v in x)))
            sims = self.simulate(stage, params)
            res = [residual(r, s) for r, s in zip(rows, sims)]
            self.evaluations.append({"parameters": params, "simulated": sims,
                                     "residuals": res})
            log.info("calibrate: %s -> %s", ", ".join(f"{k} = {v:.4g}"
                                                      for k, v in params.items()),
                     ", ".join(f"{s:.0f}" for s in sims))
            return np.array(res)

        # a few per cent of a parameter is far inside the band (+-20 % in size): tolerances
        # of 1e-2 spare runs
        sol = least_squares(fun, x0, bounds=(lo, hi), diff_step=0.03, x_scale="jac",
                            xtol=1e-2, ftol=1e-2, max_nfev=30)
        m, p = len(rows), len(keys)
        s2 = float(sol.fun @ sol.fun) / (m - p) if m > p else 1.0
        try:
            cov = s2 * np.linalg.inv(sol.jac.T @ sol.jac)
            sigma = np.sqrt(np.maximum(np.diag(cov), 0.0))
        except np.linalg.LinAlgError:
            sigma = np.full(p, np.nan)
        values = dict(zip(keys, (float(v) for v in sol.x)))
        self.values.update(values)
        sims = self.simulate(stage, {})
        table = [{"quantity": r.quantity, "energy_mJ": r.energy_mJ, "spot_um": r.spot_um,
                  "chart_um": r.low if r.low == r.high else [r.low, r.high],
                  "relation": r.relation, "simulated_um": s,
                  "ratio": s / r.low - 1 if r.low == r.high else None,
                  "residual": residual(r, s), "in_band": in_band(r, s), "source": r.source}
                 for r, s in zip(rows, sims)]
        return {"quantities": list(stage.quantities), "values": values,
                "standard_errors": dict(zip(keys, (float(v) for v in sigma))),
                "cost": float(sol.cost), "evaluations": int(sol.nfev), "status": sol.message,
                "rows": table}


def run_calibration(path: str | Path, out: str | Path, comm: MPI.Comm = MPI.COMM_WORLD) -> dict:
    """Fit every stage of a calibration file; writes ``OUT/fit.json`` on rank 0."""
    cal = load_calibration(path)
    out = Path(out)
    fitter = Fitter(cal, out, comm)
    stages = []
    for st in cal.stages:
        result = fitter.fit(st)
        stages.append(result)
        for r in result["rows"]:
            log.info("calibrate: %-18s %6s mJ %5s um  chart %9s  simulated %6.0f  %s  %s",
                     r["quantity"], r["energy_mJ"], r["spot_um"] or "", r["chart_um"],
                     r["simulated_um"], "" if r["ratio"] is None else
                     f"{100 * r['ratio']:+6.1f} %", "in band" if r["in_band"] else
                     "OUT OF BAND")
        for k, v in result["values"].items():
            log.info("calibrate: %s = %.4g +- %.2g", k, v, result["standard_errors"][k])
    result = {"title": cal.title, "calibration_file": str(path), "base": str(cal.base),
              "overrides": list(cal.overrides), "band": list(TOLERANCE),
              "values": fitter.values, "stages": stages, "evaluations": fitter.evaluations}
    if comm.rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / names.FIT_JSON, result)
    comm.Barrier()
    return result

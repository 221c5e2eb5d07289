"""The Python interface of MTZ-FEM: what ``import fem`` offers. The ``mtz`` command does the
same through these functions' building blocks (fem.run, fem.config).

    import fem

    case = fem.load_case("studies/demo.toml", laser={"energy_mJ": 20},
                         mesh={"resolution": "coarse"})
    result = fem.run(case, "results/demo_20mJ")   # on every rank of MPI.COMM_WORLD
    result.metrics["mtz_depth_um"]                 # the numbers of metrics.json
    result.paths["report"]                         # the files written
    result.fields["temperature_peak"]              # DOLFINx functions, while the process lives

    saved = fem.read_results("results/demo_20mJ")  # later, from the files alone
    saved.probes["time_ms"], saved.mechanics["tightening_area_percent"]

Overrides are Python values, one keyword per table of the case file (``laser={...}``, nested
tables as nested dicts, e.g. ``damage={"layers": {"epidermis": {"cell": "weaver_stoll"}}}``),
checked exactly as the file's own values are (:class:`fem.config.CaseError` names the key).
Studies and plans go the same way: :func:`load_study`, :func:`run_study`, :func:`run_plan`;
:func:`make_mesh`, :func:`run_calibration` and :func:`report` are the other verbs of ``mtz``,
which is a thin layer over this module (``--set key=value`` becomes ``sets=[...]``).
"""

from __future__ import annotations

import copy
import csv
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mpi4py import MPI

import numpy as np

from fem.config import Case, CaseError
from fem.config.case import case_from_dict
from fem.config.resolve import read_toml
from fem.output import names

__all__ = ["Result", "Results", "load_case", "load_study", "make_mesh", "read_results", "report",
           "run", "run_calibration", "run_plan", "run_study", "setup_logging"]


# --------------------------------------------------------------------------------------------
# Progress on rank 0
# --------------------------------------------------------------------------------------------


class RankZeroFilter(logging.Filter):
    """Let records through on rank 0, and errors on every rank (marked with the rank): the
    other ranks do work of their own too (the cases of a study, their pictures)."""

    def filter(self, record: logging.LogRecord) -> bool:
        rank = MPI.COMM_WORLD.rank
        if rank != 0 and record.levelno >= logging.ERROR:
            record.msg = f"[rank {rank}] {record.msg}"
            return True
        return rank == 0


def setup_logging(verbose: bool = False) -> None:
    """Log to stderr on rank 0 (errors on every rank), one line per message with elapsed
    seconds."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RankZeroFilter())
    start = time.perf_counter()

    class Elapsed(logging.Formatter):
        def format(self, record):
            record.elapsed = time.perf_counter() - start
            return super().format(record)

    handler.setFormatter(Elapsed("[%(elapsed)6.1fs] %(message)s"))
    for name in ("fem", "meshes"):
        lg = logging.getLogger(name)
        lg.handlers[:] = [handler]
        lg.setLevel(logging.DEBUG if verbose else logging.INFO)
        lg.propagate = False


# --------------------------------------------------------------------------------------------
# Cases, studies, plans
# --------------------------------------------------------------------------------------------


def _merged(raw: dict, overrides: dict, where: str = "") -> dict:
    """``raw`` with ``overrides`` merged in, table by table (a copy)."""
    out = copy.deepcopy(raw)
    for key, value in overrides.items():
        if isinstance(value, dict):
            node = out.get(key, {})
            if not isinstance(node, dict):
                raise CaseError(f"{where}{key}: not a table, so it takes no {value!r}")
            out[key] = _merged(node, value, f"{where}{key}.")
        else:
            out[key] = value
    return out


def load_case(path: str | Path, sets: list[str] | tuple = (), **overrides: Any) -> Case:
    """Read, override and validate a case file: one typed case in SI units. ``sets``:
    overrides in the command line's form (``"laser.energy_mJ=20"``), applied before the
    keyword ones."""
    from fem.config.resolve import apply_overrides

    try:
        return case_from_dict(_merged(apply_overrides(read_toml(path), list(sets)), overrides))
    except CaseError as e:
        msg = str(e)
        raise CaseError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None


def _as_sets(overrides: dict, prefix: str = "") -> list[str]:
    """Overrides as ``key.path=value`` lines (the form studies and plans take)."""
    import tomli_w

    out = []
    for key, value in overrides.items():
        if isinstance(value, dict):
            out += _as_sets(value, f"{prefix}{key}.")
        else:
            out.append(f"{prefix}{key}=" + tomli_w.dumps({"v": value})[4:].strip())
    return out


def load_study(path: str | Path, sets: list[str] | tuple = (), **overrides: Any):
    """Read a study file, with overrides of its base case: a :class:`fem.run.study.Study`."""
    from fem.run.study import load_study as load

    return load(path, list(sets) + _as_sets(overrides))


def run_study(study, out: str | Path, progress: bool = True, resume: bool = False,
              comm: MPI.Comm = MPI.COMM_WORLD, only: int | None = None,
              checkpoint_every: int | None = None) -> list[dict]:
    """Run a study (a path or :func:`load_study`'s result) into ``out``: one row per case
    (its metrics and status), as in ``metrics.csv``. ``only``: the case of that index alone
    (a Slurm array task)."""
    from fem.run.study import run_study as run_all

    if not hasattr(study, "cases"):
        study = load_study(study)
    if progress:
        setup_logging()
    return run_all(study, Path(out), comm, resume=resume, only=only,
                   checkpoint_every=checkpoint_every)


def run_plan(path: str | Path, out: str | Path, progress: bool = True,
             comm: MPI.Comm = MPI.COMM_WORLD, sets: list[str] | tuple = (),
             **overrides: Any) -> dict:
    """Run a plan file into ``out``; returns ``plan.json`` (the recommendation and its runs).
    The overrides apply to the base case of every run."""
    from fem.run.plan import run_plan as plan

    if progress:
        setup_logging()
    return plan(path, Path(out), comm, list(sets) + _as_sets(overrides))


def run_calibration(path: str | Path, out: str | Path, progress: bool = True,
                    comm: MPI.Comm = MPI.COMM_WORLD) -> dict:
    """Fit a preset's free parameters to the chart (a calibration file); returns
    ``fit.json``."""
    from fem.run.calibrate import run_calibration as fit

    if progress:
        setup_logging()
    return fit(path, Path(out), comm)


# --------------------------------------------------------------------------------------------
# One run and its results
# --------------------------------------------------------------------------------------------

#: The result files by short name (those a run wrote are in ``Result.paths``).
FILES = {
    "metrics": names.METRICS_JSON, "report": names.REPORT_HTML, "case": names.CASE_TOML,
    "provenance": names.PROVENANCE_JSON, "probes": names.PROBES_CSV,
    "columns": names.COLUMNS_CSV, "mechanics": names.MECHANICS_CSV,
    "healing": names.HEALING_CSV, "heat_bp": names.HEAT_BP,
    "displacement_bp": names.DISPLACEMENT_BP, "healing_bp": names.HEALING_BP,
    "snapshot": names.SNAPSHOT_VTU, "frames": names.FRAMES_VTU,
    "epidermis": names.EPIDERMIS_VTU, "renders": names.RENDERS_DIR,
    "temperature_pvd": names.TEMPERATURE_PVD, "displacement_pvd": names.DISPLACEMENT_PVD,
    "healing_pvd": names.HEALING_PVD,
}


def _paths(out: Path) -> dict[str, Path]:
    return {k: out / v for k, v in FILES.items() if (out / v).exists()}


@dataclass
class Result:
    """What :func:`run` returns: the metrics, the result files by short name (:data:`FILES`)
    and the DOLFINx functions of the run (temperatures in K, damage integrals, displacement in
    m), which live as long as this object."""

    out: Path
    metrics: dict[str, float]
    paths: dict[str, Path]
    fields: dict[str, Any] = field(default_factory=dict)


def run(case: Case | str | Path, out: str | Path, progress: bool = True, resume: bool = False,
        draw: bool = True, comm: MPI.Comm = MPI.COMM_WORLD,
        checkpoint_every: int | None = None) -> Result:
    """Run one case into ``out`` (mesh, heat, damage, mechanics, healing, metrics, files,
    renders and report unless ``draw`` is False), on every rank of ``comm``. ``progress``
    logs the phases on rank 0 as ``mtz run`` does; ``resume`` continues from a checkpoint,
    written every ``checkpoint_every`` steps (None: every minute of wall time)."""
    from fem.run.driver import run_case

    if not isinstance(case, Case):
        case = load_case(case)
    if progress:
        setup_logging()
    out, fields = Path(out), {}
    metrics = run_case(case, out, comm, resume=resume, draw=draw, keep_fields=fields,
                       checkpoint_every=checkpoint_every)
    metrics = comm.bcast(metrics, root=0)  # those of metrics.json (rank 0's wall time)
    return Result(out, metrics, _paths(out), fields)


def make_mesh(case: Case | str | Path, out: str | Path, progress: bool = True,
              comm: MPI.Comm = MPI.COMM_WORLD) -> dict:
    """The mesh of a case alone (``mtz mesh``): XDMF with its tags, a VTU, the quality
    summary (returned) and a cut picture in ``out``."""
    from fem.run.driver import run_mesh

    if not isinstance(case, Case):
        case = load_case(case)
    if progress:
        setup_logging()
    return run_mesh(case, Path(out), comm)


def report(out: str | Path, renders: bool = True) -> Path:
    """Draw the pictures again (``renders``) and write the report of a saved result
    directory, on the calling process; returns the report's path."""
    from fem.run.driver import render_and_report

    out = Path(out)
    if not (out / names.SNAPSHOT_VTU).is_file():
        raise CaseError(f"{out}: not a result directory (no {names.SNAPSHOT_VTU})")
    render_and_report(out, renders=renders)
    return out / names.REPORT_HTML


def _table(path: Path) -> dict[str, np.ndarray]:
    """A CSV file as columns: numbers as float arrays (empty cells NaN), else strings.
    (numpy.genfromtxt would rename headers such as ``p1_z-100um_T_C``.)"""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    out = {}
    for i, name in enumerate(header):
        cells = [r[i] if i < len(r) else "" for r in body]
        try:
            out[name] = np.array([float(c) if c != "" else np.nan for c in cells])
        except ValueError:
            out[name] = np.array(cells)
    return out


@dataclass
class Results:
    """A result directory read back (:func:`read_results`): the metrics and provenance, and
    each table (probes, columns, mechanics, healing) as ``{column: array}``, empty when the
    run did not write it."""

    out: Path
    metrics: dict[str, float]
    provenance: dict
    probes: dict[str, np.ndarray]
    columns: dict[str, np.ndarray]
    mechanics: dict[str, np.ndarray]
    healing: dict[str, np.ndarray]
    paths: dict[str, Path]


def read_results(out: str | Path) -> Results:
    """Read a finished result directory (one with ``metrics.json``)."""
    out = Path(out)
    if not (out / names.METRICS_JSON).is_file():
        raise CaseError(f"{out}: not a finished result directory (no {names.METRICS_JSON})")

    def table(name: str) -> dict[str, np.ndarray]:
        path = out / name
        return _table(path) if path.is_file() else {}

    provenance = out / names.PROVENANCE_JSON
    return Results(out, json.loads((out / names.METRICS_JSON).read_text()),
                   json.loads(provenance.read_text()) if provenance.is_file() else {},
                   table(names.PROBES_CSV), table(names.COLUMNS_CSV),
                   table(names.MECHANICS_CSV), table(names.HEALING_CSV), _paths(out))

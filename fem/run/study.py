"""Parameter studies: a base case, a sweep, one metrics table and one study report.

A study file (TOML) names a base case and the keys to sweep::

    title = "Pulse energy at 1550 nm"
    base = "demo.toml"              # relative to the study file
    mode = "grid"                   # grid: every combination; zip: the i-th values together
    ranks_per_case = 1              # MPI ranks of each case; mpiexec -n 8 runs 8 / this at once
    small = true                    # cheap enough for `make studies`
    metrics = ["mtz_depth_um"]      # what the plots show (default: the headline metrics)
    plot_against = ["dofs"]         # extra x axes taken from the metrics (default: none)

    [sweep]
    "laser.energy_mJ" = [5, 10, 20]
    "laser.preset" = ["erglass_1550", "thulium_1927"]

    [set]                           # applied to every case (before the swept values)
    "mesh.resolution" = "coarse"

Keys of ``[sweep]`` and ``[set]`` are dotted case keys (``[set]`` may also hold nested tables);
the sweep key ``ranks`` is special: it is not a case key but the number of MPI ranks of each
case (scaling studies). Every expanded case is validated as a case file before anything runs,
so a bad key or value is exit status 2 with nothing written.

Each case runs :func:`fem.run.driver.run_case` into ``OUT/<name>``, the name built from its
parameters (:func:`fem.output.names.case_name`: ``energy_mJ-20_preset-thulium_1927``). Cases
run on MPI sub-communicators of ``ranks_per_case`` ranks, several at once (static round robin
over the groups); a case that fails (a numerical failure or any exception raised on all its
ranks) leaves ``error.txt`` in its directory and a ``failed`` row, and the others go on; an
error raised on some of its ranks only, while the others wait in a collective call, ends the
whole study (status 1, :mod:`fem.parallel`). A case is finished when its ``metrics.json``
exists; the driver writes it last and atomically, so ``--resume`` skips exactly the finished
cases and resumes an interrupted one from its checkpoint. ``metrics.csv`` and the plots are
always built from the ``metrics.json`` files, so a killed and resumed study gives the same
table as an uninterrupted one. The plots are :func:`fem.render.study_plots.plot_study`, a
Slurm job array of the study :func:`fem.run.slurm.write_slurm`.
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mpi4py import MPI

from fem import parallel
from fem.config import Case, CaseError, apply_overrides, case_from_dict, read_toml
from fem.config.resolve import set_dotted
from fem.output import names
from fem.output.files import atomic_write_text, write_json, write_table
from fem.run import signals
from fem.run.driver import run_case  # imports DOLFINx (PETSc starts collectively): every rank
from fem.run.signals import Interrupted
from fem.solvers import SolverError
from meshes.skin import MeshError

log = logging.getLogger(__name__)

STUDY_KEYS = ("title", "base", "mode", "ranks_per_case", "small", "metrics", "plot_against",
              "sweep", "set")
MODES = ("grid", "zip")
RANKS_KEY = "ranks"
#: Metrics plotted when the study file does not say (those present in the results).
DEFAULT_METRICS = ("mtz_depth_um", "mtz_width_um", "necrosis_depth_um", "necrosis_width_um",
                   "peak_temperature_C", "ablation_depth_um", "tightening_area_percent",
                   "energy_balance_error", "wall_time_s")
#: Errors that every rank of a case raises together (the case fails, the study goes on).
COLLECTIVE_ERRORS = (SolverError, CaseError, MeshError)


@dataclass
class StudyCase:
    """One expanded case of a study."""

    index: int
    name: str  # its directory under the study's output directory
    params: dict[str, Any]  # swept key -> value
    case: Case
    ranks: int


@dataclass
class Study:
    """A validated study file with its expanded cases."""

    path: Path
    title: str
    base: Path
    mode: str
    ranks_per_case: int
    small: bool
    sweep: dict[str, list]
    metrics: list[str]
    plot_against: list[str]
    overrides: list[str] = field(default_factory=list)
    cases: list[StudyCase] = field(default_factory=list)


# ------------------------------------------------------------------------------ reading


def is_study_file(path: str | Path) -> bool:
    """Whether a TOML file is a study (it has ``base`` or ``[sweep]``) rather than a case, a
    calibration (``[[stage]]``, fem.run.calibrate) or a plan (``goal``, fem.config.plan)."""
    raw = read_toml(path)
    return ("sweep" in raw or "base" in raw) and "stage" not in raw and "goal" not in raw


def _bad(path: Path, key: str, value: Any, allowed: str) -> CaseError:
    return CaseError(f"{path}: {key} = {value!r}: {allowed}")


def _flatten(table: dict, prefix: str = "") -> dict[str, Any]:
    """``{"mesh": {"resolution": "coarse"}}`` -> ``{"mesh.resolution": "coarse"}``."""
    out = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def expand(sweep: dict[str, list], mode: str) -> list[dict[str, Any]]:
    """The parameter sets of a sweep: every combination (grid, the last key fastest) or the
    i-th values of every key together (zip, all lists of one length)."""
    keys = list(sweep)
    if not keys:
        return [{}]
    if mode == "zip":
        lengths = {len(v) for v in sweep.values()}
        if len(lengths) != 1:
            raise CaseError("sweep: mode = 'zip' needs lists of one length; got lengths "
                            + ", ".join(f"{k}: {len(v)}" for k, v in sweep.items()))
        return [dict(zip(keys, values)) for values in zip(*sweep.values())]
    return [dict(zip(keys, values)) for values in itertools.product(*sweep.values())]


def load_study(path: str | Path, overrides: list[str] | None = None) -> Study:
    """Read and validate a study file and every case it expands to.

    Args:
        path: the study file.
        overrides: ``--set key=value`` applied to every case (after the study's ``[set]``).

    Raises:
        CaseError: on the first problem, naming the file, the key, the value and what is
            allowed (or the case that does not validate).
    """
    path = Path(path)
    raw = read_toml(path)
    if "base" not in raw and "sweep" not in raw:
        raise CaseError(f"{path}: not a study file (a study has base = \"CASE.toml\" and a "
                        "[sweep] table); run a case with mtz run")
    for key, value in raw.items():
        if key not in STUDY_KEYS:
            raise _bad(path, key, value, "unknown key; known keys: " + ", ".join(STUDY_KEYS))
    base = raw.get("base")
    if not isinstance(base, str) or not base:
        raise _bad(path, "base", base, "required: the base case file, relative to the study")
    base_path = (path.parent / base).resolve()
    if not base_path.is_file():
        raise _bad(path, "base", base, f"no such case file ({base_path})")
    mode = raw.get("mode", "grid")
    if mode not in MODES:
        raise _bad(path, "mode", mode, "allowed: one of 'grid', 'zip'")
    rpc = raw.get("ranks_per_case", 1)
    if isinstance(rpc, bool) or not isinstance(rpc, int) or rpc < 1:
        raise _bad(path, "ranks_per_case", rpc, "allowed: an integer >= 1")
    small = raw.get("small", False)
    if not isinstance(small, bool):
        raise _bad(path, "small", small, "allowed: true or false")
    title = raw.get("title", path.stem)
    if not isinstance(title, str):
        raise _bad(path, "title", title, "allowed: a string")
    lists = {}
    for key in ("metrics", "plot_against"):
        value = raw.get(key, list(DEFAULT_METRICS) if key == "metrics" else [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _bad(path, key, value, "allowed: a list of metric names")
        lists[key] = value
    sweep = raw.get("sweep")
    if not isinstance(sweep, dict) or not sweep:
        raise _bad(path, "sweep", sweep, "required: a table of dotted case keys to lists")
    for key, values in sweep.items():
        if not isinstance(values, list) or not values:
            raise _bad(path, f"sweep.{key}", values, "allowed: a non-empty list of values")
        if key == RANKS_KEY and not all(isinstance(v, int) and not isinstance(v, bool)
                                        and v >= 1 for v in values):
            raise _bad(path, f"sweep.{key}", values, "allowed: a list of integers >= 1")
    fixed = raw.get("set", {})
    if not isinstance(fixed, dict):
        raise _bad(path, "set", fixed, "allowed: a table of dotted case keys to values")

    try:
        base_raw = read_toml(base_path)
    except CaseError as e:
        raise CaseError(f"{path}: base: {e}") from None
    for key, value in _flatten(fixed).items():
        set_dotted(base_raw, key, value)
    base_raw = apply_overrides(base_raw, overrides)

    try:
        param_sets = expand(sweep, mode)
    except CaseError as e:
        raise CaseError(f"{path}: {e}") from None
    study = Study(path=path, title=title, base=base_path, mode=mode, ranks_per_case=rpc,
                  small=small, sweep=sweep, metrics=lists["metrics"],
                  plot_against=lists["plot_against"], overrides=list(overrides or []))
    seen = set()
    for i, params in enumerate(param_sets):
        name = names.case_name(params)
        if name in seen:
            raise CaseError(f"{path}: sweep gives the case {name!r} twice")
        seen.add(name)
        case_raw = copy.deepcopy(base_raw)
        for key, value in params.items():
            if key != RANKS_KEY:
                set_dotted(case_raw, key, value)
        try:
            case = case_from_dict(case_raw)
        except CaseError as e:
            raise CaseError(f"{path}: case {name}: {e}") from None
        study.cases.append(StudyCase(i, name, params, case, params.get(RANKS_KEY, rpc)))
    return study


def describe(study: Study) -> dict:
    """The study as ``mtz check`` prints it: its settings and the expanded cases."""
    return {
        "study": {"title": study.title, "base": str(study.base), "mode": study.mode,
                  "ranks_per_case": study.ranks_per_case, "small": study.small,
                  "cases": len(study.cases), "sweep": study.sweep, "metrics": study.metrics,
                  "plot_against": study.plot_against},
        "cases": [{"index": c.index, "name": c.name, "ranks": c.ranks, **c.params}
                  for c in study.cases],
    }


# ------------------------------------------------------------------------------ running


def _say(sub: MPI.Comm, group: int, message: str) -> None:
    """Progress on the first rank of a case group (the world's rank 0 logs; the first rank of
    another group prints its lines to stderr with a ``[group g]`` prefix, so every case shows
    its progress: start, the step lines with the simulated time and ETA, end)."""
    if sub.rank != 0:
        return
    if MPI.COMM_WORLD.rank == 0:
        log.info("%s", message)
    else:
        print(f"[group {group}] {message}", file=sys.stderr, flush=True)


def _run_one(sc: StudyCase, total: int, out: Path, sub: MPI.Comm, group: int, resume: bool,
             checkpoint_every: int | None, draw: bool = True) -> str:
    """Run one case on ``sub``; returns its status (``ok`` or ``failed``). ``draw``: make
    its renders and report now (otherwise :func:`draw_cases` does, with the common view).

    A case fails alone when its error is raised on every rank of ``sub`` (a numerical
    failure, bad input, a mesh failure, or any error that all of them caught); an error on
    some ranks only, while the others wait in a collective call, ends the study
    (:func:`fem.parallel.failed_together`, then an abort)."""
    d = out / sc.name

    def clear() -> None:
        d.mkdir(parents=True, exist_ok=True)
        (d / names.ERROR_TXT).unlink(missing_ok=True)
        (d / names.METRICS_JSON).unlink(missing_ok=True)

    parallel.on_root(sub, clear)
    label = ", ".join(f"{k}={v}" for k, v in sc.params.items())
    _say(sub, group, f"case {sc.index + 1}/{total} ({label}) on {sub.size} rank(s) -> {d}")
    tic = time.perf_counter()
    steps = None  # the step lines (time step, simulated time, ETA) of this group's cases
    if sub.rank == 0 and MPI.COMM_WORLD.rank != 0:
        steps = logging.StreamHandler(sys.stderr)
        steps.setFormatter(logging.Formatter(f"[group {group}] %(message)s"))
        logging.getLogger("fem.run.coupled").addHandler(steps)
    guard = sub.Dup()  # for the agreement on an error alone
    try:
        run_case(sc.case, d, sub, resume=resume, checkpoint_every=checkpoint_every, draw=draw)
        status, error = "ok", None
    except Interrupted:  # a signal: the study stops (run_cases), the case resumes later
        raise
    except SolverError as e:
        status, error = "failed", f"numerical failure: {e}"
    except CaseError as e:
        status, error = "failed", f"input error: {e}"
    except Exception as e:  # noqa: BLE001 - a failing case must not stop the study
        if not isinstance(e, COLLECTIVE_ERRORS) and not parallel.failed_together(sub, guard):
            parallel.report_error(e, MPI.COMM_WORLD, f"case {sc.name} failed")
            parallel.abort(MPI.COMM_WORLD)
        status, error = "failed", f"{type(e).__name__}: {e}"
        log.debug("%s", traceback.format_exc())
    finally:
        if steps is not None:
            logging.getLogger("fem.run.coupled").removeHandler(steps)
    guard.Free()
    if error is not None and sub.rank == 0:
        atomic_write_text(d / names.ERROR_TXT, error.replace("\n", " ") + "\n")
    _say(sub, group, f"case {sc.index + 1}/{total} {status} in {time.perf_counter() - tic:.1f} s"
         + (f": {error}" if error else ""))
    return status


def finished(out: Path, sc: StudyCase) -> bool:
    """A case is finished when its metrics.json exists (written last, atomically)."""
    return (out / sc.name / names.METRICS_JSON).is_file()


def run_study(study: Study, out: Path, comm: MPI.Comm = MPI.COMM_WORLD, resume: bool = False,
              only: int | None = None, checkpoint_every: int | None = None) -> list[dict]:
    """Run the cases of a study into ``out`` and write ``metrics.csv``, plots and the report.

    Args:
        study: the validated study.
        out: the study's output directory.
        comm: the ranks that share the work.
        resume: skip finished cases; continue interrupted ones from their checkpoints.
        only: run only the case of this index (a Slurm array task); the table and report are
            written all the same, from what is finished.
        checkpoint_every: checkpoint interval of each case, in steps (None: every minute).

    Returns:
        The rows of the table (on every rank).
    """
    import fem.report  # noqa: F401 - every rank imports before the groups split

    out = Path(out)
    t0 = time.perf_counter()
    run_cases(study, out, comm, resume, only, checkpoint_every)

    def finish() -> list[dict]:
        from fem.post import calibration  # the histology chart, where the cases are in it
        from fem.render.study_plots import plot_study

        rows = collect_rows(study, out)
        write_table(out / names.STUDY_METRICS_CSV, rows)
        plots = plot_study(study, rows, out / names.PLOTS_DIR)
        chart = calibration.study_plot(study, rows, out / names.PLOTS_DIR)
        plots += [chart] if chart else []
        fem.report.write_study_report(out, rows, plots, common_view=False)
        ok = sum(r["status"] == "ok" for r in rows)
        log.info("study: %d ok, %d failed, %d not run, %.1f s; wrote %s and %s", ok,
                 sum(r["status"] == "failed" for r in rows),
                 sum(r["status"] == "not run" for r in rows), time.perf_counter() - t0,
                 out / names.STUDY_METRICS_CSV, out / names.REPORT_HTML)
        return rows

    return parallel.on_root(comm, finish)


def run_cases(study: Study, out: Path, comm: MPI.Comm = MPI.COMM_WORLD, resume: bool = False,
              only: int | None = None, checkpoint_every: int | None = None,
              draw: bool | None = None) -> None:
    """Run the cases of a study into ``out/<case>`` on sub-communicators (the arguments of
    :func:`run_study`); ``draw``: draw each case as it finishes (default: only a single case
    or a Slurm task; several cases are drawn after the runs with one common view)."""
    out = Path(out)
    need = max(c.ranks for c in study.cases)
    if need > comm.size:
        raise CaseError(f"{study.path}: a case needs {need} MPI ranks (ranks_per_case or "
                        f"sweep.ranks) but the study runs on {comm.size}; use mpiexec -n {need} "
                        "or more")
    if only is not None and not 0 <= only < len(study.cases):
        raise CaseError(f"--case {only}: the study has cases 0 to {len(study.cases) - 1}")
    todo = [c for c in study.cases if only is None or c.index == only]

    def start() -> list[int]:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / names.STUDY_JSON, describe(study))
        return [c.index for c in todo if resume and finished(out, c)]

    done = set(parallel.on_root(comm, start))
    if done:
        log.info("resume: %d of %d case(s) already finished", len(done), len(todo))
    todo = [c for c in todo if c.index not in done]
    total = len(study.cases)
    log.info("study %s: %d case(s) to run on %d rank(s)", study.title, len(todo), comm.size)

    # Several cases are drawn once, after the runs, with one common view (draw_cases); a
    # Slurm array task (only) draws its own case and the gathering run draws them all.
    common = draw is None and not (only is not None or len(study.cases) == 1)
    draw = (only is not None or len(study.cases) == 1) if draw is None else draw
    sizes = {c.ranks for c in todo}
    if len(sizes) == 1:  # groups of one size, several cases at once
        n = sizes.pop()
        groups = comm.size // n
        color = comm.rank // n if comm.rank < groups * n else MPI.UNDEFINED
        sub = comm.Split(color, comm.rank)

        def groups_run() -> None:
            if sub != MPI.COMM_NULL:
                try:
                    for i, sc in enumerate(todo):
                        if i % groups == color:
                            _run_one(sc, total, out, sub, color, resume, checkpoint_every, draw)
                finally:
                    sub.Free()

        _stop_together(comm, groups_run)
    else:  # cases of different sizes (sweep.ranks): one after the other on the first ranks
        for sc in todo:
            sub = comm.Split(0 if comm.rank < sc.ranks else MPI.UNDEFINED, comm.rank)

            def one_run(sc=sc, sub=sub) -> None:
                if sub != MPI.COMM_NULL:
                    try:
                        _run_one(sc, total, out, sub, 0, resume, checkpoint_every, draw)
                    finally:
                        sub.Free()

            _stop_together(comm, one_run)
    comm.Barrier()
    if common:
        draw_cases(study, out, comm)


def _stop_together(comm: MPI.Comm, work) -> None:
    """``work()`` on the groups of ``comm``; when a signal stopped some group (its case is
    checkpointed), every rank of ``comm`` stops together once the others are done or stopped
    too (they all got the signal), instead of waiting for ever in the next collective call."""
    signum = 0
    try:
        work()
    except Interrupted as e:
        signum = e.signum
    signum = comm.allreduce(max(signum, signals.pending()), op=MPI.MAX)
    if signum:
        signals.stop(comm, signum, "the study stopped; finished cases are kept")


def draw_cases(study: Study, out: Path, comm: MPI.Comm) -> None:
    """The renders and report of every finished case of the study, drawn with one common
    view (:func:`fem.render.study_view`: camera, crop, colour ranges) so that the cases
    compare side by side; the cases are shared among the ranks, each rank drawing its own
    from the written files (pictures do not depend on the ranks of a run). A picture that
    fails is logged and does not stop the study."""
    from fem.render import render_all, study_view
    from fem.report import write_report

    dirs = [out / sc.name for sc in study.cases if sc.case.output.render and finished(out, sc)]
    view = None
    if comm.rank == 0:
        t0 = time.perf_counter()
        try:
            view = study_view(dirs)
        except Exception:  # noqa: BLE001 - each case is then fitted on its own
            log.exception("could not compute the common view of the cases")
    view = comm.bcast(view, root=0)
    for i, d in enumerate(dirs):
        if i % comm.size == comm.rank:
            try:
                render_all(d, view)
                write_report(d)
            except Exception:  # noqa: BLE001 - a picture must not stop the study
                log.exception("could not draw %s", d)
    comm.Barrier()
    if comm.rank == 0 and dirs:
        log.info("drew %d case(s) with a common view on %d rank(s) in %.1f s", len(dirs),
                 comm.size, time.perf_counter() - t0)


# ------------------------------------------------------------------------------- table


def collect_rows(study: Study, out: Path) -> list[dict]:
    """One row per case, in study order, from the files of the case directories."""
    rows = []
    for sc in study.cases:
        d = out / sc.name
        row = {"case": sc.name, **sc.params}
        metrics_path, error_path = d / names.METRICS_JSON, d / names.ERROR_TXT
        if metrics_path.is_file():
            row["status"] = "ok"
            row.update(json.loads(metrics_path.read_text()))
        elif error_path.is_file():
            row["status"] = "failed"
            row["error"] = error_path.read_text().strip()
        else:
            row["status"] = "not run"
        rows.append(row)
    return rows

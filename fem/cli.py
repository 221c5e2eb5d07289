"""The ``mtz`` command line (also ``python -m fem``); every verb is MPI-aware.

Exit status: 0 success, 2 bad input (one line naming key, value and what is allowed; nothing
written), 1 numerical failure (the step and the solver's reason) or any other error; an error
raised on one MPI rank only is shown with its rank and ends every rank with status 1
(:func:`fem.parallel.abort_on_error`).

A thin layer over the Python interface (:mod:`fem.api`): each verb parses its arguments,
calls the function of the same name there and turns its errors into exit statuses.
"""

from __future__ import annotations

import argparse
from contextlib import nullcontext
import logging
import shutil
import sys
from pathlib import Path

from mpi4py import MPI

from fem import api
from fem.api import setup_logging
from fem.output import names

EXIT_OK, EXIT_NUMERICAL, EXIT_INPUT = 0, 1, 2
log = logging.getLogger("fem")


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: allowed: an integer >= 1")
    return int(text)


# Examples shown by ``mtz VERB --help``.
EXAMPLES = {
    "run": ["mtz run studies/demo.toml", "mtz run studies/demo.toml --set laser.energy_mJ=20 "
            "--set laser.spot_um=150 -o results/demo_20mJ",
            "mpiexec -n 4 mtz run studies/demo.toml   # on 4 MPI ranks",
            "mtz run studies/demo.toml --resume       # after a stop, from the checkpoint"],
    "mesh": ["mtz mesh studies/demo.toml -o results/demo_mesh"],
    "check": ["mtz check studies/demo.toml --set laser.energy_mJ=20",
              "mtz check studies/energy_sweep_1550.toml"],
    "study": ["mpiexec -n 2 mtz study studies/energy_sweep_1550.toml",
              "mtz study studies/weak_scaling.toml --slurm -o results/weak"],
    "calibrate": ["mtz calibrate studies/calibrate_1550.toml"],
    "plan": ["mtz plan studies/plan_tone_1550.toml"],
    "render": ["mtz render results/demo"],
    "report": ["mtz report results/demo"],
    "presets": ["mtz presets"],
    "metrics": ["mtz metrics"],
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    def of(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return "?"

    import dolfinx
    from petsc4py import PETSc

    petsc = ".".join(str(n) for n in PETSc.Sys.getVersion())
    return (f"{of('mtz-fem')} (DOLFINx {dolfinx.__version__}, PETSc {petsc}, "
            f"gmsh {of('gmsh')}, Python {sys.version.split()[0]})")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mtz", description=__doc__.splitlines()[0])
    p.add_argument("-v", "--verbose", action="store_true", help="debug output")
    p.add_argument("--version", action="version", version="%(prog)s " + _version())
    sub = p.add_subparsers(dest="verb", required=True)

    def verb_parser(verb: str, **kwargs) -> argparse.ArgumentParser:
        """A verb with its examples and ``-v`` accepted after it too."""
        examples = "\n".join(f"  {e}" for e in EXAMPLES.get(verb, []))
        s = sub.add_parser(verb, epilog=f"examples:\n{examples}" if examples else None,
                       formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)
        s.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                       help="debug output")
        return s

    for verb, helptext in (("run", "run one case: mesh, heat, damage, mechanics, metrics, "
                            "renders, report"), ("mesh", "only the mesh, with a quality summary"),
                           ("check", "validate a case or study file and print the resolved "
                            "values"),
                           ("study", "run a study: a sweep of cases, one metrics table, one "
                            "report")):
        s = verb_parser(verb, help=helptext)
        s.add_argument("case", type=Path, help="study file (TOML)" if verb == "study"
                       else "case file (TOML)")
        s.add_argument("--set", dest="overrides", action="append", default=[],
                       metavar="KEY=VALUE", help="override a case key, e.g. laser.energy_mJ=20")
        if verb != "check":
            s.add_argument("-o", "--output", type=Path, help="result directory "
                           "(default results/<case name>)")
        if verb in ("run", "study"):
            s.add_argument("--resume", action="store_true", help="continue from the last "
                           "checkpoint" if verb == "run" else "skip finished cases and "
                           "continue interrupted ones from their checkpoints")
            s.add_argument("--checkpoint-every", type=_positive_int, metavar="STEPS",
                           help="checkpoint every STEPS time steps (default: every minute of "
                           "wall time)")
        if verb == "study":
            s.add_argument("--slurm", action="store_true", help="write OUT/slurm.sh (a job "
                           "array, one task per case) instead of running")
            s.add_argument("--case", dest="only", type=int, metavar="INDEX",
                           help="run only the case of this index (a Slurm array task)")
    s = verb_parser("calibrate", help="fit a preset's free parameters to the histology "
                       "chart (a calibration file, studies/calibrate_<preset>.toml)")
    s.add_argument("case", type=Path, help="calibration file (TOML)")
    s.add_argument("-o", "--output", type=Path, help="result directory (default "
                   "results/<file name>): fit.json and the runs, reused when rerun")
    s = verb_parser("plan", help="find the settings that reach a treatment goal with the "
                       "least downtime (a plan file, studies/plan_<goal>_<device>.toml)")
    s.add_argument("case", type=Path, help="plan file (TOML)")
    s.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="KEY=VALUE", help="override a key of the base case of every run")
    s.add_argument("-o", "--output", type=Path, help="result directory (default "
                   "results/<file name>): plan.json, plan.html, recommended.toml, the runs "
                   "(reused when rerun)")
    for verb in ("render", "report"):
        s = verb_parser(verb, help=f"{verb} again from a saved result directory")
        s.add_argument("dir", type=Path)
    verb_parser("presets", help="the skin sites, lasers and kinetics sets a case can name, "
                   "with their values and sources")
    verb_parser("metrics", help="what each metric of metrics.json means, with its unit")
    return p


def _output_dir(args) -> Path:
    return args.output if args.output else Path("results") / args.case.stem


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    setup_logging(args.verbose)
    comm = MPI.COMM_WORLD
    from fem.config import CaseError
    from fem.parallel import abort_on_error
    from fem.output.files import OutputError
    from fem.run.signals import Interrupted, catch_stop
    from fem.solvers import SolverError

    running = args.verb in ("run", "study", "calibrate", "plan")
    stoppable = catch_stop() if running else nullcontext()
    with stoppable:  # SIGTERM / SIGINT: checkpoint at the end of the step, then stop
        try:
            return abort_on_error(comm, lambda: _verb(args, comm),
                                  handled=(CaseError, SolverError, Interrupted, OutputError))
        except Interrupted as e:  # raised on every rank together; the line is logged
            return e.exit_status


def _verb(args, comm) -> int:
    """The verb of the command line, on every rank; returns the exit status."""
    from fem.config import CaseError

    if args.verb in ("presets", "metrics"):
        if comm.rank == 0:
            if args.verb == "presets":
                from fem.config.catalogue import describe_presets

                sys.stdout.write(describe_presets())
            else:
                from fem.post.glossary import glossary_text

                sys.stdout.write(glossary_text())
        return EXIT_OK
    if args.verb == "calibrate":
        return _calibrate(args, comm)
    if args.verb == "plan":
        return _plan(args, comm)
    try:
        if args.verb in ("run", "mesh", "study", "check") and _is_plan(args.case):
            if args.verb != "check":
                raise CaseError(f"{args.case}: a plan file (it has goal = ...); run it with: "
                                f"mtz plan {args.case}")
            from fem.config.plan import load_plan

            plan = load_plan(args.case, args.overrides)
            if comm.rank == 0:
                print(f"{args.case}: plan file, goal {plan.goal}, phototype {plan.phototype}, "
                      f"free {', '.join(plan.free)}; targets: "
                      + ", ".join(f"{k} {v}" for k, v in plan.targets.items()))
            return EXIT_OK
        if args.verb == "study" or (args.verb == "check" and _is_study(args.case)):
            return _study(args, comm)
        if args.verb in ("run", "mesh") and _is_study(args.case):
            raise CaseError(f"{args.case}: a study file (it has base = ... or [sweep]); run "
                            f"it with: mtz study {args.case}")
        if args.verb in ("run", "mesh", "check") and _is_calibration(args.case):
            if args.verb != "check":
                raise CaseError(f"{args.case}: a calibration file (it has [[stage]]); run it "
                                f"with: mtz calibrate {args.case}")
            from fem.run.calibrate import load_calibration

            cal = load_calibration(args.case)
            if comm.rank == 0:
                print(f"{args.case}: calibration file, {len(cal.stages)} stage(s), "
                      f"{len(cal.chart)} chart row(s) at {cal.wavelength_nm:g} nm")
            return EXIT_OK
        if args.verb in ("run", "mesh", "check"):
            case = api.load_case(args.case, sets=args.overrides)
        if args.verb == "check":
            if comm.rank == 0:
                import tomli_w

                sys.stdout.write(tomli_w.dumps(case.resolved))
            return EXIT_OK
        if args.verb in ("render", "report"):
            if comm.rank == 0:
                path = api.report(args.dir, renders=args.verb == "render")
                log.info("wrote %s", path)
            return EXIT_OK
    except CaseError as e:
        if comm.rank == 0:
            print(f"mtz: error: {e}", file=sys.stderr)
        return EXIT_INPUT

    out = _output_dir(args)
    new_dir = None if out.exists() or getattr(args, "resume", False) else out

    def work() -> None:
        if args.verb == "mesh":
            api.make_mesh(case, out, progress=False, comm=comm)
            return

        log.info("mtz run %s -> %s on %d rank(s)", args.case, out, comm.size)
        metrics = api.run(case, out, progress=False, resume=args.resume, comm=comm,
                          checkpoint_every=args.checkpoint_every).metrics
        if comm.rank == 0:
            keys = ("mtz_depth_um", "mtz_width_um", "necrosis_depth_um", "necrosis_width_um",
                    "peak_temperature_C", "tightening_area_percent", "wall_time_s")
            for k in keys:
                if k in metrics:
                    log.info("  %-26s %10.4g", k, metrics[k])
            log.info("wrote %s", out / (names.REPORT_HTML if case.output.render
                                        else names.METRICS_JSON))

    return _exit_status(work, comm, new_dir)


def _exit_status(work, comm, new_dir: Path | None = None) -> int:
    """The exit status of ``work()``: 0 when it returns, else that of its error, raised on
    every rank: bad input 2 (a checkpoint of another case, a probe outside the mesh), a
    numerical failure 1, results that cannot be written 1 (nothing partial is left). An
    infeasible plan is not a failure. ``new_dir``: the result
    directory this command created, removed after bad input or Ctrl-C (no partial result);
    a run stopped by a signal keeps it (its checkpoint)."""
    from fem.config import CaseError
    from fem.output.files import OutputError
    from fem.solvers import SolverError
    from meshes.skin import MeshError

    def remove_new_dir() -> None:
        if new_dir is not None and comm.rank == 0:
            shutil.rmtree(new_dir, ignore_errors=True)

    try:
        work()
    except CaseError as e:
        remove_new_dir()
        if comm.rank == 0:
            print(f"mtz: error: {e}", file=sys.stderr)
        return EXIT_INPUT
    except OutputError as e:
        if comm.rank == 0:
            print(f"mtz: error: {e}", file=sys.stderr)
        return EXIT_NUMERICAL
    except (SolverError, MeshError) as e:
        if comm.rank == 0:
            print(f"mtz: numerical failure: {e}", file=sys.stderr)
        return EXIT_NUMERICAL
    except KeyboardInterrupt:
        remove_new_dir()
        raise
    return EXIT_OK


def _calibrate(args, comm) -> int:
    """``mtz calibrate``: fit.json in the output directory."""
    status = _exit_status(lambda: api.run_calibration(args.case, _output_dir(args),
                                                      progress=False, comm=comm), comm)
    if status == EXIT_OK and comm.rank == 0:
        log.info("wrote %s", _output_dir(args) / names.FIT_JSON)
    return status


def _plan(args, comm) -> int:
    """``mtz plan``: plan.json and plan.html in the output directory."""
    status = _exit_status(lambda: api.run_plan(args.case, _output_dir(args), progress=False,
                                               comm=comm, sets=args.overrides), comm)
    if status == EXIT_OK and comm.rank == 0:
        log.info("wrote %s and %s", _output_dir(args) / names.PLAN_JSON,
                 _output_dir(args) / names.PLAN_HTML)
    return status


def _is_plan(path: Path) -> bool:
    from fem.config.resolve import read_toml

    return path.is_file() and "goal" in read_toml(path)


def _is_calibration(path: Path) -> bool:
    from fem.config.resolve import read_toml

    return path.is_file() and "stage" in read_toml(path)


def _is_study(path: Path) -> bool:
    from fem.run.study import is_study_file

    return is_study_file(path)


def _study(args, comm) -> int:
    """``mtz study`` and ``mtz check STUDY.toml``; input errors propagate as CaseError."""
    from fem.run.slurm import write_slurm
    from fem.run.study import describe

    study = api.load_study(args.case, sets=args.overrides)
    if args.verb == "check":
        if comm.rank == 0:
            import tomli_w

            sys.stdout.write(tomli_w.dumps(describe(study)))
        return EXIT_OK
    out = args.output if args.output else Path("results") / args.case.stem
    if args.slurm:
        if comm.rank == 0:
            path = write_slurm(study, out, str(args.case))
            log.info("wrote %s (%d array tasks); submit with: sbatch %s", path,
                     len(study.cases), path)
        return EXIT_OK
    rows = api.run_study(study, out, progress=False, resume=args.resume, comm=comm,
                         only=args.only, checkpoint_every=args.checkpoint_every)
    return EXIT_OK if all(r["status"] != "failed" for r in rows) else EXIT_NUMERICAL


if __name__ == "__main__":
    sys.exit(main())

"""SIGTERM and SIGINT (Slurm's time limit or preemption, Ctrl-C): ``mtz run`` and ``mtz study``
checkpoint at the end of the current step, say so in one line, exit with 143 (130), on every
rank, with no metrics.json; ``--resume`` then continues to the metrics of an uninterrupted run.

In process, the stop is asked for as a signal handler would (:func:`fem.run.signals.request`)
at a chosen step or between two phases; the command-line tests send real signals to ``mtz``
and to ``mpiexec``, which forwards them to every rank.
"""

import json
import os
import signal
import subprocess
import sys
import time

from mpi4py import MPI

import pytest

from fem.output import names
from fem.run import checkpoint as ck
from fem.run import driver, signals
from fem.run.driver import run_case
from fem.run.signals import Interrupted, catch_stop

from conftest import CHEAP, DEMO, ROOT
from test_checkpoint import ROUND_OFF, assert_same_metrics

MPIEXEC = os.path.join(os.path.dirname(sys.executable), "mpiexec")


def stopped_run(case, out, monkeypatch) -> Interrupted:
    """Run ``case`` into ``out`` with the signal handlers set, to the stop that the patches of
    ``monkeypatch`` ask for (then undone); the stop, with no ``metrics.json`` left."""
    with catch_stop(), pytest.raises(Interrupted) as stopped:
        run_case(case, out, MPI.COMM_WORLD)
    monkeypatch.undo()
    assert not (out / names.METRICS_JSON).exists()
    return stopped.value


def test_a_stop_during_the_loop_checkpoints_that_step(cheap_case, uninterrupted, shared_tmp,
                                                      monkeypatch):
    comm, out = MPI.COMM_WORLD, shared_tmp / "sig_loop"
    after_step = ck.Checkpointer.after_step

    def signal_at_7(self, n, n_steps, problems):
        if n == 7 and comm.rank == comm.size - 1:  # one rank gets it: every rank stops
            signals.request(signal.SIGTERM)
        after_step(self, n, n_steps, problems)

    monkeypatch.setattr(ck.Checkpointer, "after_step", signal_at_7)
    stopped = stopped_run(cheap_case, out, monkeypatch)
    assert stopped.exit_status == 143
    assert "after step 7 of" in str(stopped)
    assert (out / names.CHECKPOINT_STATE).exists()
    resumed = run_case(cheap_case, out, comm, resume=True)
    assert_same_metrics(uninterrupted, resumed, rtol=ROUND_OFF)


def test_a_stop_between_phases_keeps_the_last_step(cheap_case, uninterrupted, shared_tmp,
                                                   monkeypatch):
    """A signal during the mechanics: the state after the last step is saved and the resumed
    run skips the time loop."""
    comm, out = MPI.COMM_WORLD, shared_tmp / "sig_phase"
    mechanics = driver.CaseRun.mechanics

    def signal_in_mechanics(self):
        mechanics(self)
        signals.request(signal.SIGINT)

    monkeypatch.setattr(driver.CaseRun, "mechanics", signal_in_mechanics)
    stopped = stopped_run(cheap_case, out, monkeypatch)
    assert stopped.exit_status == 130
    assert "after the mechanics" in str(stopped)
    steps = []
    step = ck.Checkpointer.restore

    def restore(self, problems, n_steps):
        steps.append((step(self, problems, n_steps), n_steps))
        return steps[-1][0]

    monkeypatch.setattr(ck.Checkpointer, "restore", restore)
    resumed = run_case(cheap_case, out, comm, resume=True)
    assert steps and steps[0][0] == steps[0][1]  # resumed after the last step
    assert_same_metrics(uninterrupted, resumed, rtol=ROUND_OFF)


def _start(cmd: list[str], log_path) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=open(log_path, "w"), start_new_session=True)


def _signal_when(proc, log_path, text: str, signum: int, timeout: float = 180) -> float:
    """Send ``signum`` once ``text`` is in the log; returns the seconds until the exit."""
    deadline = time.time() + timeout
    while text not in log_path.read_text() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before the signal"
    t0 = time.perf_counter()
    proc.send_signal(signum)
    proc.wait(timeout=120)
    return time.perf_counter() - t0


@pytest.mark.serial
def test_sigterm_to_mpiexec_stops_every_rank_with_143(tmp_path, mtz_cmd):
    sets = [a for s in CHEAP for a in ("--set", s)]
    run = [MPIEXEC, "-n", "2", *mtz_cmd, "run", str(DEMO), *sets]
    full = subprocess.run(run + ["-o", str(tmp_path / "full")], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert full.returncode == 0, full.stderr[-2000:]
    out, log_path = tmp_path / "stopped", tmp_path / "stopped.log"
    proc = _start(run + ["-o", str(out)], log_path)
    seconds = _signal_when(proc, log_path, " steps", signal.SIGTERM)
    err = log_path.read_text()
    assert proc.returncode == 143, err[-2000:]
    lines = [line for line in err.splitlines() if "SIGTERM:" in line]
    assert len(lines) == 1 and "continue with --resume" in lines[0], err[-2000:]
    assert "Traceback" not in err
    assert not (out / names.METRICS_JSON).exists()
    assert (out / names.CHECKPOINT_DIR).is_dir()
    assert not list((out / names.CHECKPOINT_DIR).glob("*.tmp"))  # nothing half written
    resumed = subprocess.run(run + ["-o", str(out), "--resume"], cwd=ROOT, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resume: continuing after step" in resumed.stderr
    a = json.loads((tmp_path / "full" / names.METRICS_JSON).read_text())
    b = json.loads((out / names.METRICS_JSON).read_text())
    assert_same_metrics(a, b, rtol=ROUND_OFF)  # the same ranks: the same arithmetic
    print(f"\nSIGTERM to mpiexec -n 2: exit 143 after {seconds:.2f} s")


@pytest.mark.serial
def test_sigint_stops_a_study_with_130_and_resume_finishes_it(tmp_path, mtz_cmd):
    study = tmp_path / "two.toml"
    sets = "\n".join(f'"{k}" = {v if v in ("true", "false") or v[0].isdigit() else repr(v)}'
                     for k, v in (s.split("=") for s in CHEAP))
    study.write_text(f'title = "two energies"\nbase = "{DEMO}"\n\n[sweep]\n'
                     f'"laser.energy_mJ" = [8, 12]\n\n[set]\n{sets}\n')
    out, log_path = tmp_path / "study", tmp_path / "study.log"
    proc = _start([*mtz_cmd, "study", str(study), "-o", str(out)], log_path)
    seconds = _signal_when(proc, log_path, " steps", signal.SIGINT)
    err = log_path.read_text()
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    first = out / "case_000" if (out / "case_000").exists() else next(out.glob("*/"))
    assert not (first / names.METRICS_JSON).exists()
    assert (first / names.CHECKPOINT_DIR).is_dir()
    res = subprocess.run([*mtz_cmd, "study", str(study), "-o", str(out), "--resume"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "resume: continuing after step" in res.stderr
    assert len(list(out.glob(f"*/{names.METRICS_JSON}"))) == 2
    print(f"\nSIGINT to mtz study: exit 130 after {seconds:.2f} s")

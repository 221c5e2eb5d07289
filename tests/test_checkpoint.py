"""Checkpoint and restart of a transient case (``mtz run --resume``).

A run stopped after some steps and resumed from its last checkpoint repeats the arithmetic of
an uninterrupted run (the same solvers, the same first guesses): the same iteration counts and
metrics to round-off (1e-12), on one rank and on two, resumed at any step (before and after
the mechanics output, after the largest change of step size). A run killed from outside and
resumed on another number of ranks agrees within the rank-invariance tolerance.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

from mpi4py import MPI

import numpy as np
import pytest

from fem.output import names
from fem.run import checkpoint as ck
from fem.config import CaseError, load_case
from fem.run.driver import run_case
from fem.run.schedule import Schedule

from conftest import CHEAP, DEMO, ROOT
NOT_COMPARED = {"wall_time_s", "ranks"}
ROUND_OFF = 1e-12  # a resumed run on the same ranks repeats the arithmetic
# Across rank counts: the tolerances of tests/test_demo.py (solver-tolerance quantities apart).
ACROSS_RANKS = {"energy_balance_error": None, "heat_cg_iterations": None,
                "source_energy_error": 1e-3, "bottom_inflow_J": 1e-3}


class Stop(Exception):
    """Stands for a run killed after a step."""


def stop_after(monkeypatch, step: int) -> None:
    """Make the time loop raise :class:`Stop` after ``step`` (and its checkpoint, if due);
    ``monkeypatch.undo()`` restores the loop."""
    after_step = ck.Checkpointer.after_step

    def stop(self, n, n_steps, problems):
        after_step(self, n, n_steps, problems)
        if n == step:
            raise Stop

    monkeypatch.setattr(ck.Checkpointer, "after_step", stop)


def assert_same_metrics(a: dict, b: dict, rtol: float, special: dict | None = None) -> None:
    assert a.keys() == b.keys()
    special = special or {}
    for key in a.keys() - NOT_COMPARED:
        tol = special.get(key, rtol)
        if tol is None:
            continue
        if isinstance(a[key], (int, float)):
            assert np.isclose(a[key], b[key], rtol=tol, atol=1e-12), (key, a[key], b[key])
        else:
            assert a[key] == b[key], key


def test_stop_and_resume_gives_the_same_metrics(cheap_case, uninterrupted, shared_tmp,
                                                monkeypatch):
    comm = MPI.COMM_WORLD
    out = shared_tmp / "ck_stopped"
    stop_after(monkeypatch, 10)
    with pytest.raises(Stop):
        run_case(cheap_case, out, comm, checkpoint_every=4)
    monkeypatch.undo()
    assert not (out / "metrics.json").exists()
    with np.load(out / "checkpoint" / "state.npz") as z:
        assert json.loads(str(z["meta"]))["step"] == 8  # the last checkpoint before the stop

    # A checkpoint of another case is refused (exit status 2 on the command line).
    other = load_case(DEMO, CHEAP + ["laser.energy_mJ=12"])
    with pytest.raises(CaseError, match="different case"):
        run_case(other, out, comm, resume=True)

    resumed = run_case(cheap_case, out, comm, resume=True)
    assert_same_metrics(uninterrupted, resumed, rtol=ROUND_OFF)
    assert not (out / "checkpoint").exists()  # removed once metrics.json is written


def test_resume_at_any_step_repeats_the_arithmetic(shared_tmp, monkeypatch):
    """With the mechanics at an output time (its last solution is the next first guess) and
    a ladder of step sizes (which size owns an AMG is planned from the schedule): resumed
    just after the output (step 20) and after the largest change of step size (0.15 to
    0.3 ms at step 21 of 26), every metric and iteration count is the uninterrupted run's
    (before the output: test_stop_and_resume_gives_the_same_metrics, step 8). The
    displacement kept at the output time for ``fields/displacement.pvd`` comes back too."""
    import pyvista

    comm = MPI.COMM_WORLD
    case = load_case(DEMO, CHEAP + ["mechanics.enabled=true", "output.fields=true"])
    steps = [b - a for a, b in Schedule.of(case).steps]
    jump = max(range(1, len(steps)), key=lambda i: steps[i] / steps[i - 1])  # 0-based index
    at = sorted({min(Schedule.of(case).output_steps), jump + 1})
    assert at[-1] > jump  # one of them after the change (steps count from 1)
    save = ck.Checkpointer.save

    def keep_copies(self, n, problems):
        save(self, n, problems)
        if n in at and comm.rank == 0:
            shutil.copytree(self.dir, shared_tmp / f"ck_at{n}" / "checkpoint")

    monkeypatch.setattr(ck.Checkpointer, "save", keep_copies)
    full = run_case(case, shared_tmp / "ck_every", comm, checkpoint_every=1)
    monkeypatch.undo()
    comm.Barrier()
    for n in at:
        resumed = run_case(case, shared_tmp / f"ck_at{n}", comm, resume=True)
        assert resumed["heat_cg_iterations"] == full["heat_cg_iterations"], n
        assert resumed["mechanics_cg_iterations"] == full["mechanics_cg_iterations"], n
        assert_same_metrics(full, resumed, rtol=ROUND_OFF)
        series = [pyvista.PVDReader(shared_tmp / d / names.DISPLACEMENT_PVD)
                  for d in ("ck_every", f"ck_at{n}")]
        assert series[1].time_values == pytest.approx(series[0].time_values)
        for t in series[0].time_values:
            a, b = (s.set_active_time_value(t) or s.read()[0] for s in series)
            assert np.allclose(a.point_data["displacement_um"], b.point_data["displacement_um"],
                               rtol=1e-9, atol=1e-9 * np.abs(a.point_data["displacement_um"]).max())


def test_resume_without_checkpoint_starts_from_the_beginning(cheap_case, uninterrupted,
                                                             shared_tmp):
    resumed = run_case(cheap_case, shared_tmp / "ck_none", MPI.COMM_WORLD, resume=True)
    assert_same_metrics(uninterrupted, resumed, rtol=ROUND_OFF)


@pytest.mark.serial
def test_killed_run_resumes_on_another_number_of_ranks(uninterrupted, tmp_path, mtz_cmd):
    """Kill a one-rank ``mtz run`` after a checkpoint; resume it on two ranks."""
    out = tmp_path / "killed"
    sets = [a for s in CHEAP for a in ("--set", s)]
    proc = subprocess.Popen([*mtz_cmd, "run", str(DEMO), "-o", str(out), *sets,
                             "--checkpoint-every", "3"], cwd=ROOT, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    state = out / "checkpoint" / "state.npz"
    deadline = time.time() + 120
    while not state.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert state.exists(), "no checkpoint before the run ended"
    assert not (out / "metrics.json").exists()
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    res = subprocess.run([mpiexec, "-n", "2", *mtz_cmd, "run", str(DEMO), "-o", str(out), *sets,
                          "--resume"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "resume: continuing after step" in res.stderr
    resumed = json.loads((out / "metrics.json").read_text())
    assert resumed["ranks"] == 2
    assert_same_metrics(uninterrupted, resumed, 1e-4, ACROSS_RANKS)  # rank invariance


def test_node_keys_are_a_partition_of_the_input_nodes(cheap_case):
    import dolfinx.fem as dfem

    from fem.run.mesh import build_mesh

    data, _ = build_mesh(cheap_case, MPI.COMM_WORLD)
    V = dfem.functionspace(data.mesh, ("Lagrange", 1))
    keys = ck.node_keys(V)
    all_keys = np.concatenate(MPI.COMM_WORLD.allgather(keys))
    assert np.array_equal(np.sort(all_keys), np.arange(V.dofmap.index_map.size_global))


def test_frames_and_probe_history_survive_a_restart(cheap_case, shared_tmp, monkeypatch):
    """The animation frames and the probe history recorded before the checkpoint come back."""
    from fem.post.probes import PointEvaluator
    from fem.run.coupled import run_thermal_damage
    from fem.run.mesh import build_mesh
    from fem.run.problems import beam_source, damage_integrals, heat_problem
    from fem.run.schedule import Schedule

    comm = MPI.COMM_WORLD
    data, _ = build_mesh(cheap_case, comm)
    frame_steps = {0, 5, 9, 15, 20}

    def run(checkpointer):
        source = beam_source(cheap_case)  # one source for the heat problem and the loop
        heat = heat_problem(data.mesh, data.cell_tags, data.facet_tags, cheap_case, source)
        probes = PointEvaluator(data.mesh, np.array(cheap_case.output.probes))
        steps = Schedule.of(cheap_case, source)
        schedule = Schedule(steps.steps, steps.end_of_pulses, frame_steps=frozenset(frame_steps))
        return run_thermal_damage(heat, damage_integrals(heat.V, cheap_case), schedule,
                                  source, probes, progress=False, checkpoint=checkpointer)

    full = run(None)
    out = shared_tmp / "ck_frames"
    stop_after(monkeypatch, 12)
    with pytest.raises(Stop):
        run(ck.Checkpointer(out, cheap_case.resolved, comm, every_steps=10))
    monkeypatch.undo()
    resumed = run(ck.Checkpointer(out, cheap_case.resolved, comm, resume=True))
    assert [t for t, _ in resumed.frames] == [t for t, _ in full.frames]
    assert len(full.frames) == len(frame_steps)
    for (_, a), (_, b) in zip(full.frames, resumed.frames):
        assert np.allclose(a.x.array, b.x.array, rtol=ROUND_OFF, atol=0)
    assert resumed.probe_times == full.probe_times
    assert np.allclose(np.stack(resumed.probe_values), np.stack(full.probe_values),
                       rtol=ROUND_OFF, atol=0)

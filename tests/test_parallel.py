"""Work and failure across ranks (fem.parallel): rank-0 work reaches every rank, and an error
raised on one rank only ends the whole run quickly instead of leaving the others waiting."""

import os
import subprocess
import sys
import textwrap
import time

from mpi4py import MPI

import pytest

from fem import parallel

from conftest import ROOT

DEMO = ROOT / "studies" / "demo.toml"


def test_on_root_returns_rank_0s_result_on_every_rank(comm):
    assert parallel.on_root(comm, lambda: ("done", comm.rank)) == ("done", 0)


def test_on_root_raises_rank_0s_error_on_every_rank(comm):
    def work():
        raise ValueError("disk full")

    with pytest.raises(ValueError, match="disk full"):
        parallel.on_root(comm, work)


def test_errors_raised_together_are_seen_together(comm):
    guard = comm.Dup()
    assert parallel.failed_together(comm, guard, seconds=30.0)
    guard.Free()


def test_abort_on_error_returns_1_on_one_rank(capsys):
    def work():
        raise RuntimeError("a bug")

    assert parallel.abort_on_error(MPI.COMM_SELF, work) == 1
    err = capsys.readouterr().err
    assert "mtz: internal error: RuntimeError: a bug" in err and "Traceback" in err


# A run on two ranks whose rank 1 fails in the middle of the time loop (step 12 of 41), alone.
FAIL_ON_RANK_1 = textwrap.dedent("""
    import sys
    from mpi4py import MPI
    import fem.physics.heat as heat

    original = heat.PennesProblem.step

    def failing(self, t0, t1, power, step=0):
        if MPI.COMM_WORLD.rank == 1 and step == 12:
            raise RuntimeError("injected failure on rank 1 at step 12")
        return original(self, t0, t1, power, step=step)

    heat.PennesProblem.step = failing
    from fem.cli import main
    sys.exit(main(sys.argv[1:]))
""")


@pytest.mark.serial
def test_an_error_on_one_rank_ends_every_rank(tmp_path):
    """Rank 1 raises in the time loop while rank 0 waits in the next collective solve: the
    run ends with status 1 within a minute, the error is shown with its rank, and no
    metrics.json is left."""
    script = tmp_path / "fail_on_rank_1.py"
    script.write_text(FAIL_ON_RANK_1)
    out = tmp_path / "out"
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    tic = time.monotonic()
    p = subprocess.run([mpiexec, "-n", "2", sys.executable, str(script), "run", str(DEMO),
                        "-o", str(out), "--set", "mesh.resolution=coarse",
                        "--set", "output.render=false", "--set", "mechanics.enabled=false"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    seconds = time.monotonic() - tic
    assert p.returncode == 1, (p.returncode, p.stderr[-3000:])
    assert seconds < 60, seconds
    assert "on rank 1 of 2: RuntimeError: injected failure on rank 1 at step 12" in p.stderr
    assert not (out / "metrics.json").exists()
    assert "step 8/41" in p.stderr  # it failed in the middle of the time loop


@pytest.mark.serial
def test_an_error_on_one_rank_of_a_study_case_ends_the_study(tmp_path):
    """In a study, an error that every rank of a case raises fails the case alone; one raised
    on rank 1 only, while rank 0 waits in a collective call, ends the whole study with
    status 1 (after the ranks of the case are given time to agree)."""
    script = tmp_path / "fail_on_rank_1.py"
    script.write_text(FAIL_ON_RANK_1)
    study = tmp_path / "s.toml"
    study.write_text(textwrap.dedent(f"""
        base = "{DEMO}"
        ranks_per_case = 2
        [sweep]
        "laser.energy_mJ" = [10]
        [set]
        "mesh.resolution" = "coarse"
        "output.render" = false
        "mechanics.enabled" = false
    """))
    out = tmp_path / "out"
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    tic = time.monotonic()
    p = subprocess.run([mpiexec, "-n", "2", sys.executable, str(script), "study", str(study),
                        "-o", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    seconds = time.monotonic() - tic
    assert p.returncode == 1, (p.returncode, p.stderr[-3000:])
    assert seconds < 60, seconds
    assert "case energy_mJ-10 failed on rank 1 of 2: RuntimeError: injected failure" in p.stderr
    assert not (out / "energy_mJ-10" / "metrics.json").exists()

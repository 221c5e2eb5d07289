"""Where results are written: a directory that cannot be created or written, too little free
space and a disk that fills up during the writes give exit status 1, one line naming the path
and the reason, and no partial result (only ``case.toml`` and the checkpoint stay, so that
``--resume`` can finish the run once there is room); the first two before anything is solved.
"""

import errno

from mpi4py import MPI

import pytest

from fem import cli
from fem.output import names
from fem.run import driver

from conftest import CHEAP, DEMO
SETS = [a for s in CHEAP for a in ("--set", s)]


def mtz_run(out, capsys) -> tuple[int, str]:
    status = cli.main(["run", str(DEMO), "-o", str(out), *SETS])
    return status, capsys.readouterr().err


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("mtz: error:")]


def test_an_output_directory_under_a_file_is_refused_before_the_solve(shared_tmp, capsys,
                                                                      monkeypatch):
    blocker = shared_tmp / "a_file"
    if MPI.COMM_WORLD.rank == 0:
        blocker.write_text("not a directory\n")
    MPI.COMM_WORLD.Barrier()
    monkeypatch.setattr(driver.CaseRun, "heat_and_damage",
                        lambda *a: pytest.fail("solved although the results cannot be written"))
    status, err = mtz_run(blocker / "out", capsys)
    assert status == 1
    if MPI.COMM_WORLD.rank == 0:
        (line,) = error_lines(err)
        assert "cannot create the result directory" in line and str(blocker) in line, line


def test_too_little_free_space_is_refused_before_the_solve(shared_tmp, capsys, monkeypatch):
    out = shared_tmp / "no_space"
    monkeypatch.setattr(driver, "free_bytes", lambda path: 1_000_000)
    monkeypatch.setattr(driver.CaseRun, "heat_and_damage",
                        lambda *a: pytest.fail("solved although the disk is too small"))
    status, err = mtz_run(out, capsys)
    assert status == 1
    if MPI.COMM_WORLD.rank == 0:
        (line,) = error_lines(err)
        assert str(out) in line and "MB needed, 1 MB free" in line, line


def test_a_disk_that_fills_up_leaves_no_partial_result(shared_tmp, capsys, monkeypatch):
    out = shared_tmp / "disk_full"
    snapshot = driver.write_snapshot

    def full_disk(path, *args):
        snapshot(path, *args)  # written, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(driver, "write_snapshot", full_disk)
    status, err = mtz_run(out, capsys)
    assert status == 1
    if MPI.COMM_WORLD.rank == 0:
        (line,) = error_lines(err)
        assert "No space left on device" in line and names.SNAPSHOT_VTU in line, line
        left = {p.name for p in out.iterdir()}
        assert left <= {names.CASE_TOML, names.CHECKPOINT_DIR}, left

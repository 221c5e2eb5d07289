"""No silent wrong answer: an end time that cuts the last pulse short is bad input (exit 2);
a run whose energy checks fail stops with exit 1 and the figures unless
``solver.energy_checks = "warn"`` keeps it (the failures then among its warnings); a case far
outside its laser's clinical range, or one that damages nothing, runs with warnings in the log
and in ``metrics.json``.
"""

import json

from mpi4py import MPI

import pytest

from fem import cli
from fem.config import CaseError, load_case
from fem.output import names
from fem.post import sanity

from conftest import CHEAP, DEMO
SETS = [a for s in CHEAP for a in ("--set", s)]


def test_an_end_time_before_the_pulse_ends_is_bad_input(capsys):
    with pytest.raises(CaseError, match=r"time.end_ms = 2.0: the last pulse ends at 3 ms"):
        load_case(DEMO, ["time.end_ms=2"])  # the demo's single 3 ms pulse
    assert cli.main(["check", str(DEMO), "--set", "time.end_ms=2"]) == 2
    if MPI.COMM_WORLD.rank == 0:
        assert "time.end_ms" in capsys.readouterr().err


def test_a_failed_energy_check_stops_the_run_unless_kept(shared_tmp, capsys, monkeypatch):
    """The demo's source holds its beam to 1e-7; a tolerance below that makes the check fail
    (the same code path as a pulse the mesh under-resolves)."""
    monkeypatch.setattr(sanity, "SOURCE_ENERGY_TOLERANCE", 1e-12)
    out = shared_tmp / "energy_check"
    status = cli.main(["run", str(DEMO), "-o", str(out), *SETS])
    err = capsys.readouterr().err
    assert status == 1
    assert not (out / names.METRICS_JSON).exists()
    if MPI.COMM_WORLD.rank == 0:
        (line,) = [x for x in err.splitlines() if x.startswith("mtz: numerical failure")]
        assert "energy check: source_energy_error = " in line and "J the beam" in line, line
        assert "solver.energy_checks=warn" in line
    assert (out / names.CHECKPOINT_STATE).exists()  # the last step, for the rerun that keeps it
    status = cli.main(["run", str(DEMO), "-o", str(out), *SETS, "--resume",
                       "--set", "solver.energy_checks=warn"])
    err = capsys.readouterr().err
    assert status == 0
    if MPI.COMM_WORLD.rank == 0:
        assert "resume: continuing after step" in err
    metrics = json.loads((out / names.METRICS_JSON).read_text())
    assert any(w.startswith("energy check: source_energy_error") for w in metrics["warnings"])
    assert metrics["energy_balance_error"] <= metrics["energy_balance_bound"]


def test_joules_in_the_millijoule_key_warn_in_the_log_and_the_metrics(shared_tmp, capsys):
    out = shared_tmp / "joules"
    status = cli.main(["run", str(DEMO), "-o", str(out), *SETS, "--set", "laser.energy_mJ=0.01"])
    err = capsys.readouterr().err
    assert status == 0
    warnings = json.loads((out / names.METRICS_JSON).read_text())["warnings"]
    assert any("laser.energy_mJ = 0.01" in w and "joules" in w for w in warnings), warnings
    assert any("no damage" in w for w in warnings), warnings
    if MPI.COMM_WORLD.rank == 0:
        logged = [x for x in err.splitlines() if "warning: laser.energy_mJ = 0.01" in x]
        assert len(logged) == 1, err[-3000:]  # said once, before the solve


def test_a_normal_demo_has_no_warnings():
    case = load_case(DEMO, CHEAP)
    assert sanity.case_warnings(case) == []
    assert sanity.energy_check_failures({"source_energy_error": 1e-7,
                                         "energy_balance_error": 1e-9,
                                         "energy_balance_bound": 1e-6,
                                         "absorbed_energy_J": 5e-3}) == []
    failed = sanity.energy_check_failures({"source_energy_error": 0.33,
                                           "energy_balance_error": 2e-6,
                                           "energy_balance_bound": 1e-6,
                                           "absorbed_energy_J": 5e-3,
                                           "expected_absorbed_energy_J": 7.5e-3})
    assert len(failed) == 2 and "0.33" in failed[0] and "bound 1e-06" in failed[1]

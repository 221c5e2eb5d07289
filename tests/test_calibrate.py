"""``mtz calibrate``: the residuals in band units, the least-squares fit recovering known
parameters from rows the model itself made, bad calibration files, and the CO2 crater stage
end to end."""

import dataclasses
import hashlib
import json
import math

from mpi4py import MPI

import pytest

from fem.cli import main
from fem.config import load_case
from fem.post.calibration import TOLERANCE, ChartPoint
from fem.run import calibrate as cal

from conftest import ROOT

STUDIES = ROOT / "studies"


def point(quantity, energy, spot, value, relation="approx", high=None):
    return ChartPoint(10600.0, energy, spot, quantity, value, high or value, relation, "test")


def test_residuals_are_in_band_half_widths():
    row = point("ablation_depth_um", 80.0, 120.0, 500.0)
    lo, hi = 500 * (1 + TOLERANCE[0]), 500 * (1 + TOLERANCE[1])
    assert cal.residual(row, lo) == pytest.approx(-1.0)
    assert cal.residual(row, hi) == pytest.approx(1.0)
    assert cal.residual(row, math.sqrt(lo * hi)) == pytest.approx(0.0, abs=1e-12)
    assert cal.in_band(row, 1.3 * 500) and not cal.in_band(row, 1.4 * 500)
    bound = point("depth_um", 40.0, None, 1000.0, "greater_than")
    assert cal.residual(bound, 1200.0) == 0.0 and cal.residual(bound, 900.0) < 0.0
    span = point("width_um", 10.0, None, 70.0, "typical_range", 100.0)
    assert cal.residual(span, 70 * 0.9) == pytest.approx(-1.0)
    assert cal.residual(span, 100 * 1.35) == pytest.approx(1.0)


def test_the_fit_recovers_parameters_that_made_the_rows(tmp_path):
    """Crater depths computed by the model at known (eta, A) become chart rows (at the band
    centre); least squares from another start finds (eta, A) again."""
    calib = cal.load_calibration(STUDIES / "calibrate_co2.toml")
    truth = {"laser.ablation_efficiency": 0.3, "laser.shielding_aspect": 2.0}
    rows = []
    for energy, spot in ((40.0, 120.0), (160.0, 120.0), (100.0, 300.0), (180.0, 300.0)):
        ov = [*calib.overrides, f"laser.energy_mJ={energy}", f"laser.spot_um={spot}",
              *(f"{k}={v}" for k, v in truth.items())]
        depth = load_case(calib.base, ov).crater.depth * 1e6
        rows.append(point("ablation_depth_um", energy, spot, depth / math.exp(cal.CENTRE)))
    synthetic = dataclasses.replace(calib, chart=tuple(rows), stages=calib.stages[:1])
    fit = cal.Fitter(synthetic, tmp_path, MPI.COMM_WORLD).fit(synthetic.stages[0])
    for k, v in truth.items():
        assert fit["values"][k] == pytest.approx(v, rel=0.02), k
    assert all(abs(r["residual"]) < 0.02 for r in fit["rows"])
    assert fit["standard_errors"]["laser.ablation_efficiency"] >= 0.0


def calibration_dir(tmp_path, body: str):
    """A directory shared by the ranks with the calibration file ``cal.toml`` and its base
    case ``demo.toml``; returns the directory and the file."""
    path = tmp_path / "cal.toml"
    if MPI.COMM_WORLD.rank == 0:
        tmp_path.mkdir()
        path.write_text(body)
        (tmp_path / "demo.toml").write_text((STUDIES / "demo.toml").read_text())
    MPI.COMM_WORLD.Barrier()
    return tmp_path, path


@pytest.mark.parametrize("body, message", [
    ('base = "demo.toml"\nwavelength_nm = 10600\nstages = 1\n', "stages: unknown key"),
    ('base = "demo.toml"\nwavelength_nm = 10600\n', "stage: missing"),
    ('base = "demo.toml"\nwavelength_nm = 10600\n[[stage]]\nquantities = ["depth_mm"]\n'
     '[stage.parameters]\n"laser.spot_um" = [1, 2, 3]\n', "quantities"),
    ('base = "demo.toml"\nwavelength_nm = 10600\n[[stage]]\nquantities = '
     '["ablation_depth_um"]\n[stage.parameters]\n"laser.spot_um" = [3, 2, 1]\n', "lower"),
    ('base = "demo.toml"\nwavelength_nm = 1927\n[[stage]]\nquantities = ["depth_um"]\n'
     '[stage.parameters]\n"laser.spot_um" = [1, 2, 3]\n', "no chart row"),
])
def test_bad_calibration_files_exit_2(shared_tmp, capsys, body, message):
    tmp_path, path = calibration_dir(
        shared_tmp / f"bad_calibration_{hashlib.sha1(body.encode()).hexdigest()[:10]}", body)
    assert main(["calibrate", str(path), "-o", str(tmp_path / "out")]) == 2
    if MPI.COMM_WORLD.rank == 0:
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "out").exists()


def test_calibrate_the_co2_crater_stage(shared_tmp):
    """studies/calibrate_co2.toml (its crater stage) through the command line: fit.json with
    the values, their standard errors and the residual of each row; the 120 um tip rows are
    met, and the channel deepens with the energy at both tips."""
    tmp_path, path = calibration_dir(shared_tmp / "calibrate_co2",
                                     (STUDIES / "calibrate_co2.toml").read_text())
    assert main(["calibrate", str(path), "-o", str(tmp_path / "out")]) == 0
    fit = json.loads((tmp_path / "out" / "fit.json").read_text())
    (stage,) = fit["stages"]
    assert set(stage["values"]) == {"laser.ablation_efficiency", "laser.shielding_aspect"}
    rows = {(r["energy_mJ"], r["spot_um"]): r for r in stage["rows"]}
    assert len(rows) == 4
    assert rows[80.0, 120.0]["in_band"] and rows[160.0, 120.0]["in_band"]
    assert rows[160.0, 120.0]["simulated_um"] > rows[80.0, 120.0]["simulated_um"]
    assert rows[180.0, 300.0]["simulated_um"] > rows[100.0, 300.0]["simulated_um"]
    assert len(fit["evaluations"]) >= 3


def test_a_calibration_file_is_not_a_case(capsys):
    path = STUDIES / "calibrate_co2.toml"
    assert main(["run", str(path), "-o", "unused"]) == 2
    assert main(["check", str(path)]) == 0
    if MPI.COMM_WORLD.rank == 0:
        out = capsys.readouterr()
        assert "run it with: mtz calibrate" in out.err and "calibration file, 1 stage" in out.out

"""Full field (``pattern.layout = "full_field"``): the fluence of the fractional column's axis
over the whole surface, as a full-field resurfacing laser, on the coarse mesh.

The block is a 200 um square whose insulated sides are symmetry planes of an infinite,
uniformly heated field, lit by a flat top of the Gaussian's peak fluence ``2 E / (pi w0^2)``.
The runs go through the command line in-process and also run under ``mpiexec -n 2``; the
checks of bad input start ``mtz`` in a subprocess and are serial.

Lateral uniformity is checked in the dermis, 300-900 um deep, where the end-of-pulse
temperature agrees across the block to 5e-4 of its rise (measured); within about 50 um of the
surface and of the layer interfaces the coarse mesh's discretisation error (an unstructured
mesh does not reproduce a 1D profile exactly) leaves 1-3 % of the rise.
"""

import csv
import json
import math
import subprocess
from pathlib import Path

from mpi4py import MPI

import numpy as np
import pytest

from fem.cli import main
from fem.config import CaseError, load_case, resolve
from fem.physics.source import attenuation
from fem.run.problems import beam_source
from meshes.patterns import FULL_FIELD_PATCH, make_layout

from conftest import ROOT

DEMO = ROOT / "studies" / "demo.toml"  # 1550 nm, 10 mJ, 200 um spot, face
# The Beer-Lambert flat top: its absorbed energy and lateral uniformity are exact (the Monte
# Carlo full field is checked in tests/test_light.py).
FAST = ["--set", "laser.light='beer_lambert'", "--set", "mesh.resolution=coarse",
        "--set", "output.render=false",
        "--set", "output.fields=false", "--set", "mechanics.enabled=false",
        "--set", "time.end_ms=10"]
FULL = ["--set", "pattern.layout='full_field'"]
# Points across the block (um): the nominal centre, in and outside the refined column, corners.
LATERAL_UM = ((0, 0), (60, 0), (0, -95), (95, 95), (-90, 40), (-95, -95), (30, -70))
DEPTHS_UM = (300, 600, 900)
UNIFORM_MJ = 2.0  # no boiling at these depths: the temperatures are not capped at 100 C


def run(out: Path, *args: str) -> dict:
    assert main(["run", str(DEMO), "-o", str(out), *FAST, *args]) == 0
    MPI.COMM_WORLD.Barrier()
    return json.loads((out / "metrics.json").read_text())


@pytest.fixture(scope="module")
def runs(shared_tmp):
    """The full field at 2 mJ (probed) and at 10 mJ, and one fractional column at 10 mJ."""
    probes = [[x, y, -z] for z in DEPTHS_UM for x, y in LATERAL_UM]
    out = shared_tmp / "full_field"
    return {
        "uniform": (out / "uniform", run(out / "uniform", *FULL, "--set",
                                         f"laser.energy_mJ={UNIFORM_MJ}", "--set",
                                         f"output.probes_um={probes}")),
        "full": (out / "full", run(out / "full", *FULL)),
        "single": (out / "single", run(out / "single", "--set", "pattern.layout='single'")),
    }


def end_of_pulse_rise(out: Path) -> dict[int, np.ndarray]:
    """Per probed depth: the temperature rise (K) at the end of the pulse at each lateral
    point, from probes.csv."""
    case = load_case(out / "case.toml")
    with (out / "probes.csv").open() as f:
        rows = list(csv.DictReader(f))
    t = np.array([float(r["time_ms"]) for r in rows])
    i = int(np.argmin(np.abs(t - case.laser.duration * 1e3)))
    assert t[i] == pytest.approx(case.laser.duration * 1e3, rel=1e-9)
    rise = {}
    for k, z in enumerate(DEPTHS_UM):
        cols = [f"p{k * len(LATERAL_UM) + j}_z{-z}um_T_C" for j in range(len(LATERAL_UM))]
        rise[z] = np.array([float(rows[i][c]) - float(rows[0][c]) for c in cols])
    return rise


def test_temperature_is_laterally_uniform_at_the_end_of_the_pulse(runs):
    out, _ = runs["uniform"]
    for z, rise in end_of_pulse_rise(out).items():
        assert rise.min() > 5.0, z  # heated, and below boiling
        spread = (rise.max() - rise.min()) / rise.mean()
        assert spread < 1e-3, (z, rise)


def test_full_field_is_at_least_as_deep_as_the_column_axis(runs):
    _, full = runs["full"]
    _, single = runs["single"]
    # The same fluence as the column's axis, without the lateral conduction that cools a
    # column (and without the beam's broadening with depth): at least as deep.
    assert full["necrosis_depth_um"] >= single["necrosis_depth_um"] > 0
    assert full["mtz_depth_um"] >= single["mtz_depth_um"] > 0
    # Column metrics of a uniform injury: the whole field.
    side_um = FULL_FIELD_PATCH * 1e6
    assert full["columns"] == 1 and full["coverage_percent"] == pytest.approx(100.0)
    for key in ("necrosis_width_um", "mtz_width_um", "mend_width_um"):
        assert full[key] == pytest.approx(side_um), key
    assert full["spared_volume_percent"] == pytest.approx(0.0, abs=1e-9)
    assert full["ablation_depth_um"] == 0.0


@pytest.mark.parametrize("name", ["uniform", "full"])
def test_energy_ledger_closes_and_source_is_exact(runs, name):
    out, m = runs[name]
    case = load_case(out / "case.toml")
    lz, layers = case.laser, case.skin.layers
    fluence = 2.0 * lz.energy / (math.pi * lz.w0**2)
    delivered = fluence * case.pattern.layout.area
    tau = sum(attenuation(lz, la) * la.thickness for la in layers)
    assert m["delivered_energy_J"] == pytest.approx(delivered, rel=1e-12)
    assert m["expected_absorbed_energy_J"] == pytest.approx(
        delivered * (1.0 - lz.specular) * (1.0 - math.exp(-tau)),
                                                            rel=1e-12)
    assert m["source_energy_error"] < 1e-6  # a flat top in depth only: quadrature-exact
    assert m["energy_balance_error"] < 1e-6
    assert 0 < m["absorbed_energy_J"] < m["delivered_energy_J"]


def test_flat_top_source_and_delivered_energy():
    case = load_case(DEMO, ["pattern.layout='full_field'"])
    source = beam_source(case)
    F = 2.0 * case.laser.energy / (math.pi * case.laser.w0**2)
    assert source.fluence == pytest.approx(F)
    assert source.delivered_energy == pytest.approx(F * (200e-6) ** 2)
    x = np.array([[0.0, 90e-6, -99e-6], [0.0, -50e-6, 99e-6], [-1e-4, -1e-4, -1e-4]])
    q = source.density(2, x)
    assert np.ptp(q) == 0.0 and q[0] > 0  # the same at every point of one depth
    # The fractional layouts keep E per column (a quarter column is its whole column).
    for layout, n in (("single", 1), ("quarter_cell", 1), ("grid", 9)):
        s = beam_source(load_case(DEMO, [f"pattern.layout={layout!r}", "mesh.resolution='coarse'"]))
        assert s.delivered_energy == pytest.approx(n * case.laser.energy), layout


def test_layout_is_a_small_square_with_one_nominal_centre():
    lay = make_layout("full_field", 200e4)
    assert lay.extent == pytest.approx((-1e-4, 1e-4, -1e-4, 1e-4))
    assert lay.centres == ((0.0, 0.0),) and lay.full_field and lay.symmetry_factor == 1
    assert make_layout("full_field", 5000e4, patch=400e-6).area == pytest.approx((400e-6) ** 2)


def test_resolves_without_crater_and_fires_once():
    co2 = resolve({"laser": {"preset": "co2_10600"}, "pattern": {"layout": "full_field"}})
    assert co2["crater"]["shape"] == "none"  # auto: no blow-off crater under a full field
    ok = resolve({"pattern": {"layout": "full_field", "passes": 3, "density_per_cm2": 50}})
    assert ok["pattern"]["firing_order"] == "simultaneous"
    with pytest.raises(CaseError) as err:
        resolve({"pattern": {"layout": "full_field", "firing_order": "raster"}})
    msg = str(err.value)
    assert "\n" not in msg
    for w in ("pattern.firing_order", "'raster'", "full_field", "'simultaneous'"):
        assert w in msg, (w, msg)


@pytest.mark.serial
@pytest.mark.parametrize("crater", [["crater.shape='blowoff'"],
                                    ["crater.shape='cone'", "crater.depth_um=30",
                                     "crater.diameter_um=60"]])
def test_crater_with_full_field_exits_2_with_one_line(tmp_path, mtz_cmd, crater):
    out = tmp_path / "results"
    sets = [a for c in ["pattern.layout='full_field'", *crater] for a in ("--set", c)]
    for verb in (["run", str(DEMO), "-o", str(out)], ["check", str(DEMO)]):
        p = subprocess.run(mtz_cmd + verb + sets, capture_output=True, text=True, cwd=tmp_path)
        assert p.returncode == 2, p.stderr
        lines = [line for line in p.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("mtz: error:"), p.stderr
        shape = crater[0].split("=")[1]
        for w in ("crater.shape", shape, "full_field", "'none'"):
            assert w in lines[0], (w, lines[0])
        assert not out.exists()


@pytest.mark.serial
def test_mtz_check_accepts_full_field(mtz_cmd):
    p = subprocess.run(mtz_cmd + ["check", str(DEMO), "--set", "pattern.layout=full_field"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert 'layout = "full_field"' in p.stdout and 'shape = "none"' in p.stdout

"""Input that cannot be wrong silently: probes outside the tissue, NaN and infinity in every
numeric key, layers the mesh cannot resolve, overlapping columns, meshes that do not fit in
memory. Each is one line naming the key, the value and what is allowed (exit status 2),
raised before meshing, with no result directory."""

import logging
import math

from mpi4py import MPI

import numpy as np
import pytest

from fem.cli import main
from fem.config import CaseError, load_case, resolve
from fem.config import budget, feasible
from fem.config.resolve import SCHEMA, LAYER_SCHEMA
from fem.config.schema import Spec

from conftest import ROOT

DEMO = ROOT / "studies" / "demo.toml"
COARSE = ["mesh.resolution='coarse'"]
CO2 = ["laser.preset='co2_10600'", "mesh.resolution='coarse'"]


def refused(overrides, *words, path=DEMO):
    """The one-line error of a case that must be refused, checked to hold every word."""
    with pytest.raises(CaseError) as err:
        load_case(path, overrides)
    msg = str(err.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, (w, msg)
    return msg


# ------------------------------------------------------------------------------- probes


@pytest.mark.serial
@pytest.mark.parametrize("probe, words", [
    ([0, 0, 50], ["[0, 0, 50]", "above the skin surface", "z in [-2265, 0]"]),
    ([0, 0, -3000], ["[0, 0, -3000]", "below the bottom of the skin", "-2265"]),
    ([1000, 0, -10], ["[1000, 0, -10]", "outside the block", "x in [-353.553, 353.553]"]),
    ([0, -400, -10], ["[0, -400, -10]", "outside the block", "y in [-353.553, 353.553]"]),
])
def test_a_probe_outside_the_tissue_is_refused(probe, words):
    refused([f"output.probes_um=[[0, 0, -100], {probe}]"], "output.probes_um[1]", *words,
            "allowed: points inside the tissue")


@pytest.mark.serial
def test_a_quarter_cell_covers_only_its_quarter():
    sets = ["pattern.layout='quarter_cell'"]
    refused(sets + ["output.probes_um=[[-10, 10, -50]]"], "output.probes_um[0] = [-10, 10, -50]",
            "x in [0, 353.553]")
    case = load_case(DEMO, sets + ["output.probes_um=[[10, 10, -50], [353.553, 0, -2265]]"])
    assert len(case.output.probes) == 2


@pytest.mark.serial
def test_a_probe_in_a_crater_is_refused_and_one_below_its_floor_is_not():
    case = load_case(DEMO, CO2)
    floor_um = case.crater.depth * 1e6
    assert case.crater.shape != "none" and floor_um > 20
    msg = refused(CO2 + ["output.probes_um=[[0, 0, -10]]"], "output.probes_um[0] = [0, 0, -10]",
                  "inside the ablation crater", f"crater.shape = {case.crater.shape!r}",
                  "outside the craters")
    assert "column at (0, 0)" in msg
    load_case(DEMO, CO2 + [f"output.probes_um=[[0, 0, {-floor_um - 5}]]"])
    # beside the mouth, in the tissue
    mouth_um = case.crater.radius * 1e6
    load_case(DEMO, CO2 + [f"output.probes_um=[[{mouth_um + 5}, 0, -5]]"])


@pytest.mark.serial
def test_the_default_probes_start_at_the_crater_floor():
    case = load_case(DEMO, CO2)
    depths = [-p[2] * 1e6 for p in case.output.probes]
    floor = case.crater.depth * 1e6
    assert depths == pytest.approx([floor, floor + 100, floor + 300, floor + 500], abs=1e-3)
    plain = load_case(DEMO, COARSE)  # without a crater: at the surface, as always
    assert [-p[2] * 1e6 for p in plain.output.probes] == pytest.approx([0, 100, 300, 500])


@pytest.mark.serial
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_points_refuse_nan_and_infinity(value):
    refused([f"output.probes_um=[[0, 0, -10], [0, {value}, -10]]"], "output.probes_um",
            value, "entry 1 is not finite")


# ----------------------------------------------------------------- NaN and infinity


def numeric_keys():
    """Every numeric key of a case: (dotted key, spec)."""
    out = []
    for section, schema in SCHEMA.items():
        if isinstance(schema, Spec):
            continue
        out += [(f"{section}.{k}", s) for k, s in schema.items()
                if s.kind in ("float", "int", "floats") and not s.choices]
    out += [(f"skin.layers.epidermis.{k}", s) for k, s in LAYER_SCHEMA.items()
            if s.kind == "float"]
    return out


@pytest.mark.serial
@pytest.mark.parametrize("key, spec", numeric_keys(), ids=lambda v: v if isinstance(v, str)
                         else "")
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_every_numeric_key_refuses_nan_and_infinity(key, spec, bad):
    raw: dict = {}
    node = raw
    *tables, name = key.split(".")
    for t in tables:
        node = node.setdefault(t, {})
    node[name] = [1.0, bad] if spec.kind == "floats" else bad
    with pytest.raises(CaseError) as err:
        resolve(raw)
    msg = str(err.value)
    assert msg.startswith(f"{key} = ") and repr(bad) in msg, msg
    assert "finite" in msg or "wrong type" in msg, msg


@pytest.mark.serial
def test_a_study_refuses_nan_in_its_sweep_and_set(tmp_path):
    from fem.run.study import load_study

    (tmp_path / "demo.toml").write_text(DEMO.read_text())
    path = tmp_path / "s.toml"
    path.write_text('base = "demo.toml"\n[sweep]\n"laser.energy_mJ" = [10, nan]\n')
    with pytest.raises(CaseError, match=r"energy_mJ-nan: .*laser\.energy_mJ = nan: not a "
                                        "finite number"):
        load_study(path)
    path.write_text('base = "demo.toml"\n[sweep]\n"laser.energy_mJ" = [10]\n'
                    '[set]\n"laser.spot_um" = inf\n')
    with pytest.raises(CaseError, match=r"laser\.spot_um = inf"):
        load_study(path)
    path.write_text('base = "demo.toml"\n[sweep]\n"ranks" = [1, inf]\n')
    with pytest.raises(CaseError, match=r"sweep\.ranks = \[1, inf\]"):
        load_study(path)


@pytest.mark.serial
@pytest.mark.parametrize("bounds", ["[nan, 20]", "[5, inf]", "[-inf, 20]"])
def test_a_plan_refuses_nan_and_infinity_in_its_bounds(tmp_path, bounds):
    from fem.config.plan import load_plan

    (tmp_path / "demo.toml").write_text(DEMO.read_text())
    path = tmp_path / "p.toml"
    path.write_text('base = "demo.toml"\ngoal = "tone_pigment"\n[free]\n'
                    f'"laser.energy_mJ" = {bounds}\n')
    with pytest.raises(CaseError, match=r"free\.laser\.energy_mJ = \["):
        load_plan(path)


@pytest.mark.serial
@pytest.mark.parametrize("edit, words", [
    (('wavelength_nm = 1550', 'wavelength_nm = nan'), ["wavelength_nm = nan", "finite"]),
    (('typical_at_mJ = [6, 10]', 'typical_at_mJ = [6, inf]'), ["typical_at_mJ = [6, inf]"]),
    (('[50.0, 120.0, 250.0]', '[50.0, 120.0, inf]'),
     ['stage[0].parameters.laser.spot_um = [50.0, 120.0, inf]', "finite"]),
    (('max_peak_temperature_C = 110', 'max_peak_temperature_C = nan'),
     ["max_peak_temperature_C = nan"]),
    (('"laser.photons" = 200000', '"laser.photons" = 200000\n"laser.energy_mJ" = inf'),
     ["laser.energy_mJ = inf"]),
    (('"laser.spot_um" = [50.0', '"laser.spot_m" = [50.0'), ["stage[0].parameters", "spot_m"]),
    (('base = "demo.toml"', 'base = 3'), ["base = 3"]),
    (('quantities = ["depth_um", "width_um"]', 'quantities = "depth_um"'),
     ["stage[0].quantities = 'depth_um'", "allowed: a list"]),
    (('[set]', 'set = 1\n[sets]'), ["sets", "unknown key"]),
])
def test_a_calibration_file_refuses_bad_numbers(tmp_path, edit, words):
    from fem.run.calibrate import load_calibration

    (tmp_path / "demo.toml").write_text(DEMO.read_text())
    path = tmp_path / "c.toml"
    text = (ROOT / "studies" / "calibrate_1550.toml").read_text()
    assert edit[0] in text
    path.write_text(text.replace(*edit))
    with pytest.raises(CaseError) as err:
        load_calibration(path)
    for w in words:
        assert w in str(err.value), (w, str(err.value))


# ------------------------------------------------------- impossible before meshing


@pytest.mark.serial
def test_a_layer_thinner_than_its_elements_allow_is_refused():
    msg = refused(["skin.layers.reticular_dermis.thickness_um=2"],
                  "skin.layers.reticular_dermis.thickness_um = 2.0",
                  "thinner than the mesh can resolve", "mesh.far_size_um", "1/20")
    limit = float(msg.split("thickness_um >= ")[1].split(",")[0])
    assert 2.0 < limit < 10.0
    load_case(DEMO, [f"skin.layers.reticular_dermis.thickness_um={limit * 1.01}"])
    # the stratum corneum under a surface size the user set too large for it
    refused(["skin.layers.stratum_corneum.thickness_um=1", "mesh.surface_size_um=25"],
            "skin.layers.stratum_corneum.thickness_um = 1.0", "up to 25 um",
            "thickness_um >= 1.25", "mesh.surface_size_um")


@pytest.mark.serial
@pytest.mark.parametrize("sets, words", [
    (["pattern.density_per_cm2=9999"],
     ["pattern.density_per_cm2 = 9999.0", "laser.spot_um = 100.5", "allowed: <= 9900 per cm2"]),
    (["pattern.layout='grid'", "pattern.density_per_cm2=5000", "pattern.passes=2",
      "pattern.patch_um=1000"],
     ["pattern.density_per_cm2 = 5000.0", "5000 x 2 passes", "<= 4950 per cm2 per pass with "
      "2 passes"]),
    (["pattern.layout='hex'", "pattern.density_per_cm2=3000", "pattern.passes=4",
      "pattern.patch_um=1000"],
     ["pattern.density_per_cm2 = 3000.0", "hex lattice", "<= 2858 per cm2 per pass"]),
    (["laser.spot_um=400", "pattern.layout='quarter_cell'", "pattern.density_per_cm2=800"],
     ["pattern.density_per_cm2 = 800.0", "laser.spot_um = 400", "<= 625 per cm2"]),
])
def test_columns_closer_than_the_spot_are_refused(sets, words):
    refused(sets, "the columns would overlap", *words)


@pytest.mark.serial
def test_the_largest_allowed_density_resolves_and_random_passes_may_overlap():
    spot = load_case(DEMO, COARSE).resolved["laser"]["spot_um"]
    load_case(DEMO, COARSE + [f"pattern.density_per_cm2={(1e4 / spot) ** 2 * 0.999}"])
    load_case(DEMO, COARSE + ["pattern.layout='random'", "pattern.density_per_cm2=5000",
                              "pattern.passes=3", "pattern.patch_um=600"])


@pytest.mark.serial
def test_a_mesh_larger_than_the_memory_is_refused(monkeypatch):
    from fem.run.mesh import geometry_from_case

    monkeypatch.delenv(budget.MEMORY_ENV, raising=False)
    msg = refused(["pattern.patch_um=20000"], "pattern.patch_um = 20000.0", "cells",
                  "GB of this machine", "MTZ_MEMORY_GB", "mesh.resolution")
    # at least the far field: 4.5 cells per (100 um)^3 of the 20 x 20 x 2.265 mm block
    assert float(msg.split("about ")[1].split(" cells")[0]) > 4.5 * 20**2 * 2.265 / 0.1**3
    # a memory between what the demo needs at medium and at coarse resolution
    need = {res: budget.memory_bytes(budget.estimate_cells(geometry_from_case(
        load_case(DEMO, [f"mesh.resolution={res!r}"]))), None) for res in ("coarse", "medium")}
    assert need["coarse"] < need["medium"]
    gb = 0.5 * (need["coarse"] + need["medium"]) / 1e9
    monkeypatch.setenv(budget.MEMORY_ENV, f"{gb}")
    refused([], "mesh.resolution = 'medium'", f"{gb:.3g} GB of this machine")
    load_case(DEMO, COARSE)
    monkeypatch.setenv(budget.MEMORY_ENV, "2000")
    records = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append
    logger = logging.getLogger("fem.config.budget")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        case = load_case(DEMO, ["pattern.patch_um=20000"])
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert case.pattern.patch == pytest.approx(0.02)
    assert any(r.getMessage().startswith("budget: ") and "cells (1 columns)" in r.getMessage()
               for r in records), [r.getMessage() for r in records]


@pytest.mark.serial
def test_too_many_columns_are_refused_before_they_are_placed(monkeypatch):
    monkeypatch.delenv(budget.MEMORY_ENV, raising=False)
    refused(["pattern.layout='random'", "pattern.patch_um=100000", "pattern.passes=50",
             "pattern.density_per_cm2=10000"], "pattern.patch_um = 100000.0", "5e+07 columns")


@pytest.mark.serial
@pytest.mark.parametrize("sets", [COARSE, CO2, ["pattern.layout='quarter_cell'"] + CO2,
                                  ["pattern.layout='full_field'"] + CO2,
                                  ["crater.shape='cone'", "crater.depth_um=100",
                                   "crater.diameter_um=80", "laser.light='beer_lambert'"]])
def test_the_budget_sees_the_geometry_the_mesher_gets(sets):
    from dataclasses import asdict

    from fem.run.mesh import geometry_from_case

    case = load_case(DEMO, sets)
    r = case.resolved
    profile = feasible.mesh_profile_um(r["crater"], tuple((a * 1e6, b * 1e6)
                                                          for a, b in case.crater.profile))
    mine, theirs = asdict(budget.geometry_of(r, case.pattern.layout, profile)), \
        asdict(geometry_from_case(case))
    assert mine.keys() == theirs.keys()
    for k in mine:
        if k == "layer_names":
            assert mine[k] == theirs[k]
            continue
        assert np.allclose(np.array(mine[k], dtype=float), np.array(theirs[k], dtype=float),
                           rtol=1e-9, atol=1e-15), k


def test_the_cell_estimate_is_near_the_mesh():
    """The coarse demo (56 k cells) and its CO2 crater: the estimate within -35 % / +15 %
    (small meshes have relatively more surface cells, see fem.config.budget)."""
    from fem.run.mesh import build_mesh, geometry_from_case

    for sets in (COARSE, ["pattern.layout='quarter_cell'"] + CO2):
        case = load_case(DEMO, sets)
        _, quality = build_mesh(case, MPI.COMM_WORLD)
        estimate = budget.estimate_cells(geometry_from_case(case))
        assert 0.65 < estimate / quality["cells"] < 1.15, (sets, estimate, quality["cells"])


def test_a_probe_no_rank_finds_is_an_input_error_on_every_rank():
    """The safety net under the configuration: a named probe outside the mesh."""
    from fem.post.probes import PointEvaluator
    from fem.run.mesh import build_mesh

    data, _ = build_mesh(load_case(DEMO, COARSE), MPI.COMM_WORLD)
    pts = np.array([[0.0, 0.0, -100e-6], [0.0, 0.0, 50e-6]])
    assert np.isnan(PointEvaluator(data.mesh, pts)(_constant(data.mesh))[1])
    with pytest.raises(CaseError, match=r"output\.probes_um\[1\] = \[0, 0, 50\]: not inside "
                                        "the mesh"):
        PointEvaluator(data.mesh, pts, key="output.probes_um")
    ev = PointEvaluator(data.mesh, pts[:1], key="output.probes_um")
    assert ev(_constant(data.mesh))[0] == pytest.approx(1.0)


def _constant(domain):
    import dolfinx.fem as dfem

    V = dfem.functionspace(domain, ("Lagrange", 1))
    u = dfem.Function(V)
    u.x.array[:] = 1.0
    return u


# ---------------------------------------------------------------------- the command line


def test_mtz_check_and_run_of_a_bad_probe_exit_2_and_write_nothing(shared_tmp, capsys):
    comm = MPI.COMM_WORLD
    path = shared_tmp / "bad_probe.toml"
    if comm.rank == 0:
        path.write_text(DEMO.read_text() + "\n[output]\nprobes_um = [[0, 0, -100], "
                        "[0, 0, 50]]\n")
    comm.Barrier()
    out = shared_tmp / "bad_probe_out"
    assert main(["check", str(path)]) == 2
    assert main(["run", str(path), "-o", str(out)]) == 2
    comm.Barrier()
    assert not out.exists()
    err = capsys.readouterr().err
    if comm.rank == 0:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 2 and all(line.startswith("mtz: error:") for line in lines), err
        assert "output.probes_um[1] = [0, 0, 50]: above the skin surface" in lines[1]
        assert "Traceback" not in err

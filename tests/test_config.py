"""Case-file validation: good cases resolve, bad ones exit 2 with one clear line."""

import subprocess

import pytest

from fem.config import CaseError, load_case, parse_override, resolve

from conftest import ROOT

DEMO = ROOT / "studies" / "demo.toml"
pytestmark = pytest.mark.serial


def test_demo_resolves_presets_in_si():
    case = load_case(DEMO)
    assert [la.name for la in case.skin.layers] == ["stratum_corneum", "epidermis",
                                                    "papillary_dermis", "reticular_dermis", "fat"]
    assert case.laser.energy == pytest.approx(10e-3)
    assert case.pattern.layout.pitch == pytest.approx(1e-2 / 200**0.5)  # 200 per cm2 -> 707 um
    dermis = case.skin.layers[3]
    assert dermis.perfusion == pytest.approx(1.97e-3) and dermis.k == pytest.approx(0.37)
    from fem.config.presets import LASER_PRESETS

    # preset values expanded
    assert case.resolved["laser"]["spot_um"] == LASER_PRESETS["erglass_1550"]["spot_um"]
    assert case.resolved["laser"]["light"] == "monte_carlo"


@pytest.mark.parametrize("site, epidermis_um, dermis_um", [
    ("face", 50.0, 1200.0), ("forearm", 75.0, 1200.0), ("abdomen", 100.0, 2000.0)])
def test_skin_sites_have_five_layers_with_papillary_and_reticular_dermis(site, epidermis_um,
                                                                          dermis_um):
    case = load_case(DEMO, [f"skin.preset={site!r}"])
    names = [la.name for la in case.skin.layers]
    assert names == ["stratum_corneum", "epidermis", "papillary_dermis", "reticular_dermis", "fat"]
    um = {la.name: la.thickness * 1e6 for la in case.skin.layers}
    assert um["epidermis"] == pytest.approx(epidermis_um)
    assert um["papillary_dermis"] + um["reticular_dermis"] == pytest.approx(dermis_um)


def test_layers_as_an_array_of_tables(tmp_path):
    layer = ("thickness_um = {t}\ndensity_kg_per_m3 = 1100.0\nspecific_heat_J_per_kgK = 3500.0\n"
             "conductivity_W_per_mK = 0.4\nperfusion_per_s = 0.0\nmetabolic_W_per_kg = 0.0\n"
             "water_fraction = 0.7\nyoungs_modulus_kPa = 100.0\npoisson_ratio = 0.45\n"
             "expansion_per_K = 1e-4\ncollagen = true\n")
    text = "[skin]\npreset = 'none'\n" + "".join(
        f"[[skin.layers]]\nname = '{n}'\n" + layer.format(t=t)
        for n, t in (("epidermis", 80.0), ("papillary_dermis", 150.0), ("reticular_dermis", 1800.0)))
    path = tmp_path / "layers.toml"
    path.write_text(text)
    case = load_case(path)
    assert [la.name for la in case.skin.layers] == ["epidermis", "papillary_dermis",
                                                    "reticular_dermis"]
    assert case.skin.depth == pytest.approx(2030e-6)


def test_overrides_any_key():
    case = load_case(DEMO, ["laser.energy_mJ=20", "laser.spot_um=120",
                            "skin.layers.reticular_dermis.thickness_um=1500", "mesh.resolution=coarse"])
    assert case.laser.energy == pytest.approx(20e-3)
    assert case.laser.w0 == pytest.approx(60e-6)
    assert case.skin.layers[3].thickness == pytest.approx(1.5e-3)
    assert case.resolved["mesh"]["resolution"] == "coarse"


def test_parse_override_reads_toml_values():
    assert parse_override("a.b=3") == (["a", "b"], 3)
    assert parse_override("a=[1, 2]") == (["a"], [1, 2])
    assert parse_override("a=plain") == (["a"], "plain")
    with pytest.raises(CaseError):
        parse_override("novalue")


@pytest.mark.parametrize("raw, words", [
    ({"laser": {"energy_mj": 10}}, ["laser.energy_mj", "unknown key", "energy_mJ"]),
    ({"laser": {"energy_mJ": "ten"}}, ["laser.energy_mJ", "'ten'", "wrong type"]),
    ({"laser": {"energy_mJ": -5}}, ["laser.energy_mJ", "-5", "out of range", "> 0"]),
    ({"laser": {"preset": "ruby_694"}}, ["laser.preset", "ruby_694", "erglass_1550"]),
    ({"skin": {"preset": "foot"}}, ["skin.preset", "foot", "face"]),
    ({"skin": {"layers": {"reticular_dermis": {"thickness_um": 0}}}}, ["skin.layers.reticular_dermis.thickness_um"]),
    ({"skin": {"layers": {"bone": {"thickness_um": 10}}}}, ["skin.layers.bone", "face"]),
    ({"pattern": {"density_per_cm2": 1e6}}, ["pattern.density_per_cm2", "out of range"]),
    ({"time": {"steps_per_pulse": 2.5}}, ["time.steps_per_pulse", "wrong type"]),
    ({"output": {"probes_um": [[0, 0]]}}, ["output.probes_um", "[x, y, z]"]),
    ({"mesh": {"column_radius_um": 500}}, ["mesh.column_radius_um", "half the column spacing"]),
    ({"pattern": {"layout": "spiral"}}, ["pattern.layout", "'spiral'", "'hex'"]),
    ({"pattern": {"layout": "unit_cell", "patch_um": 2000}}, ["pattern.patch_um", "unit_cell"]),
    ({"pattern": {"passes": 0}}, ["pattern.passes", "out of range"]),
    ({"crater": {"shape": "cone", "depth_um": 30}}, ["crater.diameter_um", "missing"]),
    ({"crater": {"depth_um": 30}}, ["crater.depth_um", "crater.shape"]),
    ({"crater": {"shape": "cone", "depth_um": 30, "diameter_um": 600}},
     ["crater.diameter_um", "600", "column_radius_um"]),
    ({"crater": {"shape": "bowl"}}, ["crater.shape", "'paraboloid'"]),
    ({"skin": {"layers": [{"thickness_um": 10}]}}, ["skin.layers[0]", "name"]),
    ({"lasr": {}}, ["lasr", "unknown key"]),
])
def test_bad_values_name_key_value_and_allowed(raw, words):
    with pytest.raises(CaseError) as err:
        resolve(raw)
    msg = str(err.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, (w, msg)


BAD_FILES = {
    "syntax": "[laser\nenergy_mJ = 10\n",
    "unknown_key": "[laser]\nenergy_mJ = 10\nwavelength = 3\n",
    "wrong_type": "[laser]\nenergy_mJ = 'ten'\n",
    "range": "[laser]\nenergy_mJ = 0\n",
    "preset": "[skin]\npreset = 'elbow'\n",
}


@pytest.mark.parametrize("name", [*BAD_FILES, "missing"])
def test_cli_bad_input_exits_2_without_traceback_or_results(name, tmp_path, mtz_cmd):
    case = tmp_path / f"{name}.toml"
    if name != "missing":
        case.write_text(BAD_FILES[name])
    out = tmp_path / "results"
    for verb in (["run", str(case), "-o", str(out)], ["check", str(case)]):
        p = subprocess.run(mtz_cmd + verb, capture_output=True, text=True, cwd=tmp_path)
        assert p.returncode == 2, p.stderr
        assert "Traceback" not in p.stderr
        lines = [line for line in p.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("mtz: error:"), p.stderr
        assert not out.exists()


def test_cli_bad_override_exits_2(tmp_path, mtz_cmd):
    p = subprocess.run(mtz_cmd + ["check", str(DEMO), "--set", "laser.energy_mJ=-1"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "laser.energy_mJ = -1.0" in p.stderr


def test_cli_check_prints_resolved_case(mtz_cmd):
    p = subprocess.run(mtz_cmd + ["check", str(DEMO), "--set", "laser.energy_mJ=20"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "energy_mJ = 20" in p.stdout and "[skin.layers.reticular_dermis]" in p.stdout

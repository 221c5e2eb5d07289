"""Reading a case file and resolving it: every key checked, presets and defaults expanded.

1. :func:`read_case_dict` parses the TOML file and applies ``--set key=value`` overrides;
2. :func:`resolve_case` checks every key against :data:`SCHEMA` (the keys of the section
   dataclasses of :mod:`fem.config.sections`: unknown keys, types, ranges, choices), fills
   the defaults, expands the presets (every preset value can be overridden) and derives the
   defaults that depend on other keys (mesh sizes, the refined column, the ablation
   threshold, the probes, the mechanics times). It returns the resolved case in file units
   (what ``case.toml`` in a result directory holds) and the values derived on the way (the
   layout of the columns, when each fires, the blow-off crater), computed once.

Every problem raises :class:`~fem.config.schema.CaseError` with one line naming the key, the
value and what is allowed.
"""

from __future__ import annotations

import copy
import math
import random
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fem.config import budget, feasible, presets
from fem.config import crater as craters
from fem.config.schema import UM, CaseError, Spec, check_table, check_value, section_schema
from fem.config.sections import (DAMAGE_PURPOSES, PERIODIC_PASSES, SECTIONS, Layer,
                                 central_column, delivery_time)
from meshes import patterns

SCHEMA: dict[str, Any] = {
    "title": Spec("str", default="MTZ case"),
    **{name: section_schema(cls) for name, cls in SECTIONS.items()},
}
LAYER_SCHEMA: dict[str, Spec] = section_schema(Layer)
TABLES_OF_TABLES = {"skin": "layers", "damage": "layers"}  # checked on their own

MAX_NU_P1 = 0.45  # largest Poisson ratio meshed with P1 displacements by default

# Element sizes per resolution: the column size as a fraction of the 1/e^2 beam radius, and
# absolute sizes of the top layers (surface) and the far field. The column size keeps about 3
# (coarse) to 8 (fine) elements across the beam radius, enough to integrate the source to
# better than 1 %. Cells follow the injury: the column's elements grow linearly in depth to
# column_bottom times that size at the bottom of the refined column, and the top layers away
# from the columns take surface_far times the surface size (at most SURFACE_FAR_LAYERS times
# the thinner top layer); on the demo at medium resolution 3x and 3x give 38.9k cells instead
# of 136.8k and move no metric by more than the medium-to-fine difference (README, Numerics).
RESOLUTIONS = {
    "coarse": {"column": 0.6, "column_bottom": 3.0, "surface_um": 25.0, "surface_far": 3.0,
               "far_um": 150.0},
    "medium": {"column": 0.3, "column_bottom": 3.0, "surface_um": 15.0, "surface_far": 3.0,
               "far_um": 100.0},
    "fine": {"column": 0.15, "column_bottom": 3.0, "surface_um": 8.0, "surface_far": 3.0,
             "far_um": 60.0},
}
SURFACE_FAR_LAYERS = 3.0  # the top layers' elements away from the columns: <= 3x the thinner


@dataclass(frozen=True)
class Derived:
    """What resolving a case computes on the way, kept so that nothing computes it again."""

    layout: patterns.Layout  # the domain in the plane and the column axes (m)
    fire_times_ms: tuple[float, ...]  # when each column's pulse starts
    crater_profile_um: tuple[tuple[float, float], ...]  # a blow-off/steady-state crater, or ()
    wall_fluence_J_per_cm2: tuple[float, ...] = ()  # the heat a steady-state crater wall holds


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def read_toml(path: str | Path) -> dict:
    """Parse a TOML file, turning every failure into a :class:`CaseError`."""
    path = Path(path)
    if not path.is_file():
        raise CaseError(f"{path}: no such case file")
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise CaseError(f"{path}: TOML syntax error: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CaseError(f"{path}: cannot read: {e}") from None


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``key.path=value``; the value is read as TOML, else taken as a plain string."""
    if "=" not in text:
        raise CaseError(f"--set {text!r}: expected key=value, e.g. laser.energy_mJ=20")
    key, raw = (s.strip() for s in text.split("=", 1))
    if not key or any(not part for part in key.split(".")):
        raise CaseError(f"--set {text!r}: empty key")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.split("."), value


def apply_overrides(raw: dict, overrides: list[str] | None) -> dict:
    """Apply ``--set`` overrides to a parsed case dictionary (a copy is returned)."""
    raw = copy.deepcopy(raw)
    for text in overrides or []:
        keys, value = parse_override(text)
        node = raw
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise CaseError(f"--set {text!r}: {k} is not a table")
        node[keys[-1]] = value
    return raw


def set_dotted(raw: dict, dotted: str, value: Any) -> None:
    """Set ``a.b.c = value`` in a nested case dictionary (tables created as needed)."""
    keys = dotted.split(".")
    node = raw
    for k in keys[:-1]:
        node = node.setdefault(k, {})
        if not isinstance(node, dict):
            raise CaseError(f"{dotted} = {value!r}: {k} is not a table")
    node[keys[-1]] = copy.deepcopy(value)


def read_case_dict(path: str | Path, overrides: list[str] | None = None) -> dict:
    """Read a case file and apply overrides; nothing is validated yet."""
    return apply_overrides(read_toml(path), overrides)


# --------------------------------------------------------------------------------------------
# Resolving
# --------------------------------------------------------------------------------------------


def resolve_case(raw: dict) -> tuple[dict, Derived]:
    """Validate a parsed case and expand presets and defaults.

    Args:
        raw: the parsed TOML (with overrides applied).

    Returns:
        The fully resolved case as a plain dictionary in file units (enough to rerun it), and
        the values derived on the way.

    Raises:
        CaseError: on the first problem, naming key, value and what is allowed.
    """
    if not isinstance(raw, dict):
        raise CaseError("a case file must be a TOML table")
    for key, value in raw.items():
        if key not in SCHEMA:
            raise CaseError(f"{key} = {value!r}: unknown key; known sections: {', '.join(SCHEMA)}")
    out: dict[str, Any] = {}
    for section, schema in SCHEMA.items():
        if isinstance(schema, Spec):
            out[section] = check_value(section, raw.get(section, schema.default), schema)
            continue
        table = raw.get(section, {})
        if not isinstance(table, dict):
            raise CaseError(f"{section} = {table!r}: expected a table [{section}]")
        extra = {TABLES_OF_TABLES[section]} if section in TABLES_OF_TABLES else set()
        checked = check_table(section, {k: v for k, v in table.items() if k not in extra}, schema)
        for key, spec in schema.items():
            if key not in checked and spec.default is not None:
                checked[key] = spec.default
        out[section] = checked

    out["skin"]["layers"] = _resolve_layers(raw.get("skin", {}))
    # P1 elasticity locks as nu -> 1/2: P2 where a layer is more incompressible than the
    # presets' nu = 0.45 (measured in tests/test_mechanics.py; README, Mechanics).
    nu_max = max(layer["poisson_ratio"] for layer in out["skin"]["layers"].values())
    mech = out["mechanics"]
    if out["pattern"]["layout"] == "full_field" and "sides" not in raw.get("mechanics", {}):
        mech["sides"] = "periodic"  # a full field is a large treated area: one periodic cell
    mech.setdefault("degree", 2 if nu_max > MAX_NU_P1 or mech["formulation"] == "mixed" else 1)
    if mech["formulation"] == "mixed" and mech["degree"] != 2:
        raise CaseError(f"mechanics.degree = {mech['degree']!r}: mechanics.formulation = "
                        "'mixed' is Taylor-Hood P2-P1; allowed: 2")
    out["damage"]["layers"] = _resolve_damage_layers(raw.get("damage", {}), out["skin"]["layers"])

    laser = out["laser"]
    for key, value in presets.LASER_PRESETS[laser["preset"]].items():
        laser.setdefault(key, value)
    top = next(iter(out["skin"]["layers"].values()))
    mu_top_per_cm = top["water_fraction"] * laser["water_absorption_per_cm"]
    if mu_top_per_cm > 0:  # blow-off threshold h_abl / mu_a of the surface layer
        h_abl = craters.heat_of_ablation(top["water_fraction"], top["density_kg_per_m3"],
                                         top["specific_heat_J_per_kgK"],
                                         out["boundary"]["core_temperature_C"])
        laser.setdefault("ablation_threshold_J_per_cm2",
                         round(h_abl * 1e-6 / mu_top_per_cm, 6))

    if "divergence_deg" not in laser:  # the diffraction of the Gaussian beam, lambda/(pi w0)
        laser["divergence_deg"] = round(math.degrees(math.atan(
            laser["wavelength_nm"] * 1e-9 / (math.pi * 0.5 * laser["spot_um"] * UM))), 6)
    _resolve_cooling(out["cooling"])
    feasible.check_density(out)

    res = RESOLUTIONS[out["mesh"]["resolution"]]
    mesh = out["mesh"]
    w0_um = laser["spot_um"] / 2.0
    mesh.setdefault("column_size_um", round(res["column"] * w0_um, 3))
    mesh.setdefault("column_bottom_size_um",
                    round(res["column_bottom"] * mesh["column_size_um"], 3))
    # The stratum corneum and epidermis are resolved across their thickness: elements no larger
    # than 1.2 times the thinner of the two (larger ones in a thin layer make slivers).
    thin_um = min(layer["thickness_um"] for layer in list(out["skin"]["layers"].values())[:2])
    mesh.setdefault("surface_size_um", round(min(res["surface_um"], 1.2 * thin_um,
                                                 mesh["column_size_um"] * 1.5), 3))
    mesh.setdefault("far_size_um", res["far_um"])
    mesh.setdefault("surface_far_size_um",
                    round(min(res["surface_far"] * mesh["surface_size_um"],
                              SURFACE_FAR_LAYERS * thin_um, mesh["far_size_um"]), 3))
    total_um = sum(layer["thickness_um"] for layer in out["skin"]["layers"].values())
    crater, profile, wall = _resolve_crater(out, total_um)
    # The refined column covers the beam (twice its 1/e^2 radius at depth) and the crater
    # mouth, down to where the deposition has fallen to a few percent; bounded by the block.
    room_um = _column_room_um(out["pattern"])
    crater_r = 0.5 * crater.get("diameter_um", 0.0)
    mesh.setdefault("column_radius_um",
                    round(min(0.8 * room_um, max(2.0 * w0_um, 1.5 * crater_r)), 3))
    mesh.setdefault("column_depth_um",
                    round(min(0.8 * total_um, max(1000.0, 2.0 * crater.get("depth_um", 0.0))), 3))
    if mesh["column_depth_um"] >= total_um:
        raise CaseError(
            f"mesh.column_depth_um = {mesh['column_depth_um']!r}: must be less than the "
            f"skin thickness {total_um:g} um"
        )
    if mesh["column_radius_um"] >= room_um:
        raise CaseError(
            f"mesh.column_radius_um = {mesh['column_radius_um']!r}: must be less than "
            f"{room_um:.4g} um (half the column spacing of pattern.layout = "
            f"{out['pattern']['layout']!r} at pattern.density_per_cm2 = "
            f"{out['pattern']['density_per_cm2']!r}, or half the patch)"
        )
    if crater_r and crater_r >= mesh["column_radius_um"]:
        raise CaseError(
            f"crater.diameter_um = {crater['diameter_um']!r}: the crater must fit in the "
            f"refined column (mesh.column_radius_um = {mesh['column_radius_um']!r})")
    if crater.get("depth_um", 0.0) >= mesh["column_depth_um"]:
        raise CaseError(
            f"crater.depth_um = {crater['depth_um']!r}: must be less than "
            f"mesh.column_depth_um = {mesh['column_depth_um']!r}")
    if crater["shape"] != "none" and laser["light"] == "monte_carlo":
        raise CaseError(f"crater.shape = {crater['shape']!r}: a crater is modelled with "
                        "laser.light = 'beer_lambert' only (the ablative wavelengths); allowed "
                        "with 'monte_carlo': 'auto' or 'none'")
    budget.precheck_columns(out, raw, *feasible.expected_columns(out["pattern"]))
    layout = make_layout(out["pattern"], mesh["column_radius_um"] * UM)
    cut = feasible.mesh_profile_um(crater, profile)  # what the mesh cuts out, um
    feasible.check_mesh(out, raw, layout, cut)
    fire_times_ms, end_of_pulses_ms = _resolve_firing(out, layout)
    centre = tuple(c * 1e6 for c in central_column(layout))
    out["output"].setdefault("probes_um", feasible.default_probes(centre, total_um, cut))
    feasible.check_probes(out, layout, cut)
    out["output"].setdefault("times_ms", [round(end_of_pulses_ms, 9)]
                             if end_of_pulses_ms < out["time"]["end_ms"] else [])
    late = [t for t in out["output"]["times_ms"] if t > out["time"]["end_ms"]]
    if late:
        raise CaseError(f"output.times_ms = {out['output']['times_ms']!r}: {late[0]:g} ms is "
                        f"after time.end_ms = {out['time']['end_ms']:g}; allowed: times in "
                        f"(0, {out['time']['end_ms']:g}]")
    _resolve_healing(out)
    return out, Derived(layout, tuple(fire_times_ms), profile, wall)


HEALING_DAYS = (7.0, 28.0, 90.0)  # the default output days (healing.md: collagen III from day
# 7, HSP47 peak at 1 month, remodelling at 3 months)


def _resolve_healing(out: dict) -> None:
    """The healing defaults that depend on other keys: the output days, the follicle density
    of the skin preset, the size of the cells of the basal plane."""
    h = out["healing"]
    end = h["end_days"]
    h.setdefault("output_days", sorted({d for d in HEALING_DAYS if d < end} | {end}))
    late = [d for d in h["output_days"] if d > end]
    if late:
        raise CaseError(f"healing.output_days = {h['output_days']!r}: {late[0]:g} is after "
                        f"healing.end_days = {end:g}; allowed: days in (0, {end:g}]")
    course = out["course"]
    last = (course["sessions"] - 1) * course["interval_days"]
    if course["sessions"] > 1 and not h["enabled"]:
        raise CaseError(f"course.sessions = {course['sessions']!r}: a course needs the healing "
                        "stage (healing.enabled = true); allowed: 1 without it")
    if last >= end:
        raise CaseError(f"course.interval_days = {course['interval_days']!r}: the last of "
                        f"{course['sessions']} sessions fires on day {last:g}, not before "
                        f"healing.end_days = {end:g} (counted from the first session); "
                        f"allowed: interval_days < {end / (course['sessions'] - 1):.4g} or a "
                        "later end_days")
    preset = presets.SKIN_PRESETS.get(out["skin"]["preset"], {})
    h.setdefault("follicles_per_cm2", preset.get("follicles_per_cm2", 0.0))
    # cells of the basal plane: a third of the column's, at most 10 um (wounds ~50-250 um)
    h.setdefault("plane_size_um", round(min(10.0, out["mesh"]["column_size_um"] / 3.0), 3))


def _layers_by_name(user: Any) -> dict:
    """Layers given as tables ``[skin.layers.<name>]`` or as an array ``[[skin.layers]]``
    whose entries carry a ``name`` (top to bottom)."""
    if isinstance(user, list):
        out = {}
        for i, entry in enumerate(user):
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise CaseError(f"skin.layers[{i}] = {entry!r}: each [[skin.layers]] entry "
                                "needs a name = \"...\" string")
            if entry["name"] in out:
                raise CaseError(f"skin.layers[{i}].name = {entry['name']!r}: used twice")
            out[entry["name"]] = {k: v for k, v in entry.items() if k != "name"}
        return out
    if not isinstance(user, dict):
        raise CaseError(f"skin.layers = {user!r}: expected a table of layers")
    return user


def _resolve_layers(skin_raw: dict) -> dict:
    preset = skin_raw.get("preset", SCHEMA["skin"]["preset"].default)
    user = _layers_by_name(skin_raw.get("layers", {}))
    if preset == "none":
        base: dict[str, dict] = {}
        if not user:
            raise CaseError("skin.layers = {}: skin.preset = 'none' needs at least one layer")
    else:
        base = copy.deepcopy(presets.SKIN_PRESETS[preset]["layers"])
    layers = {}
    for name in list(base) + [n for n in user if n not in base]:
        if name not in base and preset != "none":
            raise CaseError(
                f"skin.layers.{name}: not a layer of skin preset {preset!r} (its layers: "
                f"{', '.join(base)}); use skin.preset = 'none' to define your own stack"
            )
        values = dict(base.get(name, {}))
        values.update(check_table(f"skin.layers.{name}", user.get(name, {}), LAYER_SCHEMA))
        for k, spec in LAYER_SCHEMA.items():
            if spec.default is not None:
                values.setdefault(k, spec.default)
        missing = [k for k in LAYER_SCHEMA if k not in values]
        if missing:
            raise CaseError(f"skin.layers.{name}: missing keys {', '.join(missing)}")
        layers[name] = values
    return layers


def _resolve_damage_layers(damage_raw: dict, layers: dict) -> dict:
    """``[damage.layers.<layer>]``: kinetics of a purpose that differ in one layer."""
    user = damage_raw.get("layers", {})
    if not isinstance(user, dict):
        raise CaseError(f"damage.layers = {user!r}: expected tables [damage.layers.<layer>]")
    schema = {p: SCHEMA["damage"][p] for p in DAMAGE_PURPOSES}
    out = {}
    for name, table in user.items():
        if name not in layers:
            raise CaseError(f"damage.layers.{name} = {table!r}: not a layer of the skin; "
                            f"allowed: one of {', '.join(repr(n) for n in layers)}")
        out[name] = check_table(f"damage.layers.{name}", table, schema)
    return out


def _resolve_cooling(cooling: dict) -> None:
    """Fill the defaults of the cooling mode; refuse keys of another mode."""
    modes = presets.COOLING_MODE_KEYS
    mode = cooling["mode"]
    for key, value in cooling.items():
        if key != "mode" and key not in modes[mode]:
            owner = next(m for m, keys in modes.items() if key in keys)
            raise CaseError(f"cooling.{key} = {value!r}: only with cooling.mode = {owner!r} "
                            f"(cooling.mode is {mode!r})")
    for key, value in modes[mode].items():
        cooling.setdefault(key, value)


def _resolve_crater(out: dict, total_um: float) -> tuple[dict, tuple, tuple]:
    """The crater: ``auto`` is, for ablative lasers, the steady-state crater of a pulse
    longer than the thermal relaxation time of the absorption depth and the blow-off crater
    of a shorter one, and none otherwise (always none under a full field, which refuses an
    explicit crater); a blow-off or steady-state crater gets its depth and diameter from the
    pulse (none below threshold); a cone or paraboloid needs its depth and diameter. Returns
    the table, the profile (um, ``()`` for a cone or paraboloid) and the wall fluences of a
    steady-state crater (J/cm^2)."""
    crater = out["crater"]
    if out["pattern"]["layout"] == "full_field":  # no crater is modelled under a full field
        if crater["shape"] not in ("auto", "none"):
            raise CaseError(f"crater.shape = {crater['shape']!r}: an ablation crater is not "
                            "modelled with pattern.layout = 'full_field'; allowed: 'auto' or "
                            "'none'")
        crater["shape"] = "none"
    if crater["shape"] == "auto":
        ablative = out["laser"]["preset"] in presets.ABLATIVE_LASERS
        crater["shape"] = _ablation_regime(out) if ablative else "none"
    if crater["shape"] in ("blowoff", "steady_state"):
        profile, wall = _ablation_profile_um(out, crater["shape"])
        for key in ("depth_um", "diameter_um"):
            crater.pop(key, None)  # derived: recomputed from the pulse on every read
        if not profile:
            crater["shape"] = "none"
            return crater, (), ()
        crater["depth_um"] = round(profile[0][1], 3)
        crater["diameter_um"] = round(2.0 * profile[-1][0], 3)
        if crater["depth_um"] >= 0.5 * total_um:
            raise CaseError(f"laser.energy_mJ = {out['laser']['energy_mJ']!r}: the "
                            f"{crater['shape']} crater ({crater['depth_um']:.4g} um) would "
                            f"reach half the skin thickness ({0.5 * total_um:g} um)")
        return crater, profile, wall
    given = [k for k in ("depth_um", "diameter_um") if k in crater]
    if crater["shape"] == "none":
        if given:
            raise CaseError(f"crater.{given[0]} = {crater[given[0]]!r}: needs crater.shape = "
                            "'cone' or 'paraboloid' (it is 'none')")
        return crater, (), ()
    for key in ("depth_um", "diameter_um"):
        if key not in crater:
            raise CaseError(f"crater.{key}: missing; a crater of shape {crater['shape']!r} "
                            "needs depth_um and diameter_um (numbers > 0)")
    if crater["depth_um"] >= 0.5 * total_um:
        raise CaseError(f"crater.depth_um = {crater['depth_um']!r}: must be less than half the "
                        f"skin thickness ({0.5 * total_um:g} um)")
    return crater, (), ()


def _layer_absorption(resolved: dict) -> list[float]:
    """mu_a of each layer (water), 1/m."""
    lz = resolved["laser"]
    return [la["water_fraction"] * lz["water_absorption_per_cm"] * 100.0
            for la in resolved["skin"]["layers"].values()]


def relaxation_time_ms(resolved: dict) -> float:
    """Thermal relaxation time of the absorption depth of the most absorbing layer, ms."""
    layers = list(resolved["skin"]["layers"].values())
    mu_a = _layer_absorption(resolved)
    i = int(max(range(len(layers)), key=lambda j: mu_a[j]))
    la = layers[i]
    return 1e3 * craters.relaxation_time(mu_a[i], la["conductivity_W_per_mK"],
                                         la["density_kg_per_m3"], la["specific_heat_J_per_kgK"])


def _ablation_regime(resolved: dict) -> str:
    """``steady_state`` for a pulse longer than the thermal relaxation time of the absorption
    depth, ``blowoff`` for a shorter one."""
    long = pulse_duration_ms(resolved["laser"]) >= relaxation_time_ms(resolved)
    return "steady_state" if long else "blowoff"


def _ablation_profile_um(resolved: dict, shape: str) -> tuple[tuple, tuple]:
    """The blow-off or steady-state crater profile of a resolved case, ``((r_um, d_um), ...)``,
    and for the steady state the wall fluences (J/cm^2)."""
    layers, lz = list(resolved["skin"]["layers"].values()), resolved["laser"]
    if "ablation_threshold_J_per_cm2" not in lz:
        raise CaseError(f"crater.shape = {shape!r}: the surface layer does not absorb at this "
                        "wavelength; set laser.ablation_threshold_J_per_cm2")
    thick = [la["thickness_um"] * UM for la in layers]
    w0 = 0.5 * lz["spot_um"] * UM
    divergence = math.radians(lz["divergence_deg"])
    threshold = lz["ablation_threshold_J_per_cm2"] * 1e4
    entering = 1.0 - ((lz["refractive_index"] - 1.0) / (lz["refractive_index"] + 1.0)) ** 2
    energy = lz["energy_mJ"] * 1e-3 * entering
    if shape == "blowoff":
        mu = [m + lz["reduced_scattering_per_cm"] * 100.0 for m in _layer_absorption(resolved)]
        ws = math.hypot(w0, math.tan(divergence) * lz["focal_depth_um"] * UM)
        profile = craters.blowoff_profile(thick, mu, threshold, energy, ws)
        return tuple((r * 1e6, d * 1e6) for r, d in profile), ()
    missing = [k for k in ("ablation_efficiency", "wall_heat_fraction") if k not in lz]
    if missing:
        raise CaseError(f"laser.{missing[0]}: missing; crater.shape = 'steady_state' needs "
                        "laser.ablation_efficiency (0-1] and laser.wall_heat_fraction [0-1]")
    eta, chi = lz["ablation_efficiency"], lz["wall_heat_fraction"]
    if eta + chi > 1.0:
        raise CaseError(f"laser.wall_heat_fraction = {chi!r}: with laser.ablation_efficiency "
                        f"= {eta!r} more than all of the fluence; allowed: <= {1.0 - eta:.4g}")
    heats = [craters.heat_of_ablation(la["water_fraction"], la["density_kg_per_m3"],
                                      la["specific_heat_J_per_kgK"],
                                      resolved["boundary"]["core_temperature_C"])
             for la in layers]
    profile, wall = craters.steady_state_profile(
        thick, heats, threshold, energy, w0, divergence, lz["focal_depth_um"] * UM, eta,
        lz.get("shielding_aspect"), chi)
    return (tuple((r * 1e6, d * 1e6) for r, d in profile),
            tuple(round(f * 1e-4, 9) for f in wall))


def _column_room_um(pattern: dict) -> float:
    """Largest allowed refined-column radius (um): half the column spacing or of the patch."""
    kind, density = pattern["layout"], lattice_density_per_cm2(pattern) * 1e4
    if "patch_um" in pattern and kind in ("unit_cell", "quarter_cell"):
        raise CaseError(f"pattern.patch_um = {pattern['patch_um']!r}: does not apply to "
                        f"pattern.layout = {kind!r} (its side is the pitch 1/sqrt(density))")
    pitch_um = 1e6 * patterns.square_pitch(density)
    default_um = {"single": pitch_um, "full_field": 1e6 * patterns.FULL_FIELD_PATCH}
    patch_um = pattern.get("patch_um", default_um.get(kind, 3 * pitch_um))
    room = {"single": 0.5 * patch_um, "random": 0.5 * patch_um, "full_field": 0.5 * patch_um,
            "hex": 0.5e6 * patterns.hex_pitch(density)}.get(kind, 0.5 * pitch_um)
    return min(room, 0.5 * patch_um)


def lattice_density_per_cm2(pattern: dict) -> float:
    """Columns per cm2 of a layout (:attr:`fem.config.sections.Pattern.lattice_density`)."""
    periodic = pattern["layout"] in PERIODIC_PASSES
    return pattern["density_per_cm2"] * (pattern["passes"] if periodic else 1)


def make_layout(pattern: dict, margin: float) -> patterns.Layout:
    """The :class:`meshes.patterns.Layout` of a resolved ``[pattern]`` table (metres)."""
    patch = pattern.get("patch_um")
    return patterns.make_layout(pattern["layout"], lattice_density_per_cm2(pattern) * 1e4,
                                None if patch is None else patch * UM, margin=margin,
                                seed=pattern["seed"], passes=pattern["passes"])


def pulse_duration_ms(laser: dict) -> float:
    """How long a pulse of a resolved ``[laser]`` table delivers energy, ms."""
    return delivery_time(laser["pulse_ms"], laser["pulse_shape"])


def _resolve_firing(out: dict, layout: patterns.Layout) -> tuple[list[float], float]:
    """Check the firing order against the layout and the end time against the last pulse;
    returns when each column fires and when the last pulse ends (ms)."""
    pat = out["pattern"]
    if pat["firing_order"] == "simultaneous":
        if "column_interval_ms" in pat:
            raise CaseError(f"pattern.column_interval_ms = {pat['column_interval_ms']!r}: only "
                            f"with a sequential pattern.firing_order ('raster' or 'random')")
    else:
        if pat["layout"] == "full_field":
            raise CaseError(
                f"pattern.firing_order = {pat['firing_order']!r}: a full field "
                "(pattern.layout = 'full_field') is one flat-top shot over the whole field; "
                "allowed: 'simultaneous'")
        if pat["layout"] in ("unit_cell", "quarter_cell"):
            raise CaseError(
                f"pattern.firing_order = {pat['firing_order']!r}: a periodic cell "
                f"(pattern.layout = {pat['layout']!r}) fires all its images at once; allowed: "
                f"'simultaneous', or a patch layout (single, grid, hex, random)")
        pat.setdefault("column_interval_ms", pulse_duration_ms(out["laser"]))
    times = _fire_times_ms(out, layout)
    last_ms = max(times) + pulse_duration_ms(out["laser"])
    if out["time"]["end_ms"] < last_ms * (1 - 1e-12):  # a pulse cut short: energy not delivered
        raise CaseError(f"time.end_ms = {out['time']['end_ms']!r}: the last pulse ends at "
                        f"{last_ms:.6g} ms; allowed: >= {last_ms:.6g}")
    return times, last_ms


def _fire_times_ms(resolved: dict, layout: patterns.Layout) -> list[float]:
    """When each column of the layout fires, ms (pulse start; the first at 0): pass after
    pass, in each pass the columns in the order placed (raster) or shuffled (random, seeded),
    one every ``column_interval_ms``; passes ``pass_delay_ms`` apart (from the end of one to
    the start of the next). Simultaneous: every column of a pass at once."""
    pat = resolved["pattern"]
    n = layout.count
    passes = pat["passes"] if pat["layout"] == "random" else 1
    per_pass = n // passes
    duration = pulse_duration_ms(resolved["laser"])
    if pat["firing_order"] == "simultaneous":
        return [(i // per_pass) * (duration + pat["pass_delay_ms"]) for i in range(n)]
    interval = pat["column_interval_ms"]
    pass_length = (per_pass - 1) * interval + duration
    times = [0.0] * n
    rng = random.Random(pat["seed"])
    for p in range(passes):
        order = list(range(per_pass))
        if pat["firing_order"] == "random":
            rng.shuffle(order)
        for k, i in enumerate(order):  # the k-th shot of pass p hits column p*per_pass + i
            times[p * per_pass + i] = p * (pass_length + pat["pass_delay_ms"]) + k * interval
    return times

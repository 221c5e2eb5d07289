"""Case files: TOML with units in the key names, validated into typed objects in SI.

A case file is read in three steps:

1. :func:`read_case_dict` parses the TOML file and applies ``--set key=value`` overrides;
2. :func:`resolve` checks every key against :data:`SCHEMA` (unknown keys, types, ranges,
   choices), fills the defaults and expands the presets (every preset value can be
   overridden), and returns the fully resolved dictionary (what ``case.toml`` in a result
   directory contains);
3. :func:`build_case` turns the resolved dictionary into a :class:`Case` in SI units.

Every problem raises :class:`CaseError` with one line naming the key, the value and what is
allowed; the command line turns it into exit status 2.
"""

from __future__ import annotations

import copy
import math
import random
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fem import ablation, presets
from meshes import patterns


class CaseError(ValueError):
    """Bad input in a case or study file (exit status 2)."""


# --------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """One case-file key: its type, default and allowed values."""

    kind: str  # "float", "int", "str", "bool", "points"
    default: Any = None  # None: required (or filled by a preset / derived)
    lo: float | None = None  # inclusive lower bound
    hi: float | None = None  # inclusive upper bound
    lo_open: bool = False  # lower bound exclusive
    choices: tuple | None = None
    doc: str = ""

    def allowed(self) -> str:
        """Human-readable description of the allowed values."""
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "points":
            return "a list of [x, y, z] triples in micrometres"
        if self.kind == "floats":
            return "a list of numbers > 0"
        parts = []
        if self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '>='} {self.lo:g}")
        if self.hi is not None:
            parts.append(f"<= {self.hi:g}")
        kind = {"float": "a number", "int": "an integer", "str": "a string", "bool": "true or false"}
        return kind[self.kind] + (" " + " and ".join(parts) if parts else "")


F = Spec
LAYER_SCHEMA: dict[str, Spec] = {
    "thickness_um": F("float", lo=0.0, lo_open=True, hi=1e5),
    "density_kg_per_m3": F("float", lo=1.0, hi=1e5),
    "specific_heat_J_per_kgK": F("float", lo=1.0, hi=1e5),
    "conductivity_W_per_mK": F("float", lo=0.0, lo_open=True, hi=100.0),
    "perfusion_per_s": F("float", lo=0.0, hi=1.0),
    "metabolic_W_per_kg": F("float", lo=0.0, hi=1e3),
    "water_fraction": F("float", lo=0.0, hi=1.0),
    "youngs_modulus_kPa": F("float", lo=0.0, lo_open=True, hi=1e7),
    "poisson_ratio": F("float", lo=0.0, hi=0.499),
    "expansion_per_K": F("float", lo=0.0, hi=1e-2),
    "collagen": F("bool"),
}

LASERS = tuple(presets.LASER_PRESETS)
KINETICS = tuple(presets.KINETICS_PRESETS)

SCHEMA: dict[str, Any] = {
    "title": F("str", default="MTZ case"),
    "skin": {
        "preset": F("str", default="face", choices=tuple(presets.SKIN_PRESETS) + ("none",)),
        # "layers" is a table of tables, checked against LAYER_SCHEMA
    },
    "laser": {
        "preset": F("str", default="erglass_1550", choices=LASERS),
        "wavelength_nm": F("float", lo=100.0, hi=2e4),
        "water_absorption_per_cm": F("float", lo=0.0, lo_open=True, hi=1e5),
        "reduced_scattering_per_cm": F("float", lo=0.0, hi=1e4),
        "energy_mJ": F("float", lo=0.0, lo_open=True, hi=1000.0),
        "spot_um": F("float", lo=5.0, hi=2000.0),
        "focal_depth_um": F("float", lo=-1e4, hi=1e4),
        "divergence_deg": F("float", lo=0.0, hi=60.0),
        "pulse_ms": F("float", lo=1e-3, hi=1e4),
        "pulse_shape": F("str", choices=("square", "gaussian")),
        "ablation_threshold_J_per_cm2": F("float", lo=0.0, lo_open=True, hi=1e6),  # derived
    },
    "pattern": {
        "layout": F("str", default="single", choices=patterns.LAYOUTS),
        "density_per_cm2": F("float", default=1000.0, lo=1.0, hi=10000.0),
        "patch_um": F("float", lo=10.0, hi=1e5),  # single, grid, hex, random
        "seed": F("int", default=1, lo=0, hi=2**31 - 1),  # random
        "passes": F("int", default=1, lo=1, hi=50),  # random
        # When the columns fire (fem.source.firing_groups): all at once, or one after another in the order
        # they were placed (raster) or in a seeded random order, pass after pass.
        "firing_order": F("str", default="simultaneous",
                          choices=("simultaneous", "raster", "random")),
        "column_interval_ms": F("float", lo=0.0, hi=1e6),  # default: the pulse, back to back
        "pass_delay_ms": F("float", default=0.0, lo=0.0, hi=1e7),
    },
    "crater": {
        "shape": F("str", default="auto",
                   choices=("auto", "none", "blowoff", "cone", "paraboloid")),
        "depth_um": F("float", lo=0.0, lo_open=True, hi=1e4),
        "diameter_um": F("float", lo=0.0, lo_open=True, hi=1e4),
    },
    "boundary": {
        "ambient_temperature_C": F("float", default=25.0, lo=-200.0, hi=100.0),
        "surface_htc_W_per_m2K": F("float", default=10.0, lo=0.0, hi=1e6),
        "core_temperature_C": F("float", default=37.0, lo=0.0, hi=50.0),
        "arterial_temperature_C": F("float", default=37.0, lo=0.0, hi=50.0),
        # Evaporation from the skin surface to air (fem.cooling; ASHRAE Fundamentals ch. 9).
        "evaporation": F("bool", default=True),
        "relative_humidity_percent": F("float", default=50.0, lo=0.0, hi=100.0),
        "skin_wettedness": F("float", default=0.06, lo=0.0, hi=1.0),
    },
    "cooling": {  # surface cooling device (fem.cooling); defaults cited there
        "mode": F("str", default="none", choices=("none", "contact", "cryogen")),
        "window_temperature_C": F("float", lo=-50.0, hi=60.0),  # contact
        "contact_conductance_W_per_m2K": F("float", lo=0.0, lo_open=True, hi=1e7),
        "precool_ms": F("float", lo=0.0, hi=1e6),  # contact before the pulse
        "spray_htc_W_per_m2K": F("float", lo=0.0, lo_open=True, hi=1e7),  # cryogen
        "spray_temperature_C": F("float", lo=-100.0, hi=60.0),
        "spray_ms": F("float", lo=0.0, lo_open=True, hi=1e6),
        "delay_ms": F("float", lo=0.0, hi=1e6),  # from the end of the spurt to the pulse
    },
    "tissue": {
        # Perfusion w_b (1 - F(Omega_cell)) stops as the tissue dies (fem.heat).
        "perfusion_shutdown": F("bool", default=True),
        # Tissue water boils at 100 C: its latent heat caps the temperature (fem.heat).
        "vaporisation": F("bool", default=True),
        # k(T) = k (1 + slope (T - 37 C)); 0: constant (fem.heat, explicit correction).
        "conductivity_slope_per_K": F("float", default=0.0, lo=-0.01, hi=0.05),
    },
    "time": {
        "end_ms": F("float", default=50.0, lo=0.0, lo_open=True, hi=1e7),
        "steps_per_pulse": F("int", default=20, lo=20, hi=10000),
        "growth": F("float", default=2.0, lo=1.0, hi=10.0),
        "steps_per_rung": F("int", default=4, lo=1, hi=10000),
        "max_step_ms": F("float", default=10.0, lo=0.0, lo_open=True, hi=1e7),
    },
    "damage": {  # kinetics per purpose; [damage.layers.<layer>] overrides them per layer
        "cell": F("str", default="henriques_moritz", choices=KINETICS),
        "collagen": F("str", default="maitland_walsh", choices=KINETICS),
        "cem43": F("bool", default=False),  # also the CEM43 thermal dose (Sapareto-Dewey)
    },
    "mechanics": {
        "enabled": F("bool", default=True),
        "shrinkage_max": F("float", default=0.2, lo=0.0, hi=0.6),
        "shrinkage_plane": F("str", default="in_plane", choices=("in_plane", "isotropic")),
        "degree": F("int", choices=(1, 2)),  # default: 2 if a layer has nu > 0.45, else 1
        # free: an isolated patch; periodic: one cell of a large treated area (sides stay
        # plane, zero net force); held: the patch held by the surrounding untreated skin
        "sides": F("str", default="free", choices=("free", "periodic", "held")),
        # displacement (P1 or P2) | mixed (Taylor-Hood P2 displacement, P1 pressure)
        "formulation": F("str", default="displacement", choices=("displacement", "mixed")),
    },
    "mesh": {
        "resolution": F("str", default="medium", choices=("coarse", "medium", "fine")),
        "column_size_um": F("float", lo=0.5, hi=1e4),
        "surface_size_um": F("float", lo=0.5, hi=1e4),
        "far_size_um": F("float", lo=0.5, hi=1e5),
        "column_radius_um": F("float", lo=1.0, hi=1e5),
        "column_depth_um": F("float", lo=1.0, hi=1e5),
        "cache": F("bool", default=True),  # reuse meshes of the same geometry
    },
    "solver": {
        "rtol": F("float", default=1e-10, lo=1e-16, hi=1e-3),
        "max_it": F("int", default=500, lo=1, hi=100000),
    },
    "output": {
        "probes_um": F("points"),
        # when mechanics is solved before the end (default: the end of the last pulse)
        "times_ms": F("floats", lo=0.0, lo_open=True),
        "fields": F("bool", default=True),
        "render": F("bool", default=True),
    },
}

MAX_NU_P1 = 0.45  # largest Poisson ratio meshed with P1 displacements by default

# Element sizes per resolution, as fractions of the 1/e^2 beam radius (column) and absolute
# sizes (surface layers, far field). The column size keeps about 3 (coarse) to 8 (fine)
# elements across the beam radius, enough to integrate the source to better than 1 %.
RESOLUTIONS = {
    "coarse": {"column": 0.6, "surface_um": 25.0, "far_um": 150.0},
    "medium": {"column": 0.3, "surface_um": 15.0, "far_um": 100.0},
    "fine": {"column": 0.15, "surface_um": 8.0, "far_um": 60.0},
}


# --------------------------------------------------------------------------------------------
# Reading and resolving
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


def read_case_dict(path: str | Path, overrides: list[str] | None = None) -> dict:
    """Read a case file and apply overrides; nothing is validated yet."""
    return apply_overrides(read_toml(path), overrides)


def _check_value(key: str, value: Any, spec: Spec) -> Any:
    def bad(problem: str) -> CaseError:
        return CaseError(f"{key} = {value!r}: {problem}; allowed: {spec.allowed()}")

    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise bad("wrong type")
        return value
    if spec.kind == "str":
        if not isinstance(value, str):
            raise bad("wrong type")
    elif spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("wrong type")
    elif spec.kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("wrong type")
        value = float(value)
        if not math.isfinite(value):
            raise bad("not a finite number")
    elif spec.kind == "floats":
        if not (isinstance(value, list) and all(
                isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c)
                and c > 0 for c in value)):
            raise bad("wrong type" if not isinstance(value, list) else "not all > 0")
        return sorted(float(c) for c in value)
    elif spec.kind == "points":
        ok = isinstance(value, list) and all(
            isinstance(p, list)
            and len(p) == 3
            and all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in p)
            for p in value
        )
        if not ok:
            raise bad("wrong type")
        return [[float(c) for c in p] for p in value]
    if spec.choices is not None:
        if value not in spec.choices:
            raise bad("unknown value")
        return value
    if spec.lo is not None and (value < spec.lo or (spec.lo_open and value == spec.lo)):
        raise bad("out of range")
    if spec.hi is not None and value > spec.hi:
        raise bad("out of range")
    return value


def _check_table(prefix: str, table: Any, schema: dict[str, Spec]) -> dict:
    if not isinstance(table, dict):
        raise CaseError(f"{prefix} = {table!r}: expected a table")
    out = {}
    for key, value in table.items():
        if key not in schema:
            known = ", ".join(schema)
            raise CaseError(f"{prefix}.{key} = {value!r}: unknown key; known keys: {known}")
        out[key] = _check_value(f"{prefix}.{key}", value, schema[key])
    return out


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
        values.update(_check_table(f"skin.layers.{name}", user.get(name, {}), LAYER_SCHEMA))
        missing = [k for k in LAYER_SCHEMA if k not in values]
        if missing:
            raise CaseError(f"skin.layers.{name}: missing keys {', '.join(missing)}")
        layers[name] = values
    return layers


DAMAGE_PURPOSES = ("cell", "collagen")


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
        out[name] = _check_table(f"damage.layers.{name}", table, schema)
    return out


def resolve(raw: dict) -> dict:
    """Validate a parsed case and expand presets and defaults.

    Args:
        raw: the parsed TOML (with overrides applied).

    Returns:
        The fully resolved case as a plain dictionary, enough to rerun it.

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
            out[section] = _check_value(section, raw.get(section, schema.default), schema)
            continue
        table = raw.get(section, {})
        if not isinstance(table, dict):
            raise CaseError(f"{section} = {table!r}: expected a table [{section}]")
        extra = {"layers"} if section in ("skin", "damage") else set()
        checked = _check_table(section, {k: v for k, v in table.items() if k not in extra}, schema)
        for key, spec in schema.items():
            if key not in checked and spec.default is not None:
                checked[key] = spec.default
        out[section] = checked

    out["skin"]["layers"] = _resolve_layers(raw.get("skin", {}))
    # P1 elasticity locks as nu -> 1/2: P2 where a layer is more incompressible than the
    # presets' nu = 0.45 (measured in tests/test_mechanics.py; README, Mechanics).
    nu_max = max(layer["poisson_ratio"] for layer in out["skin"]["layers"].values())
    mech = out["mechanics"]
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
    if mu_top_per_cm > 0:  # blow-off threshold h_abl / mu_a of the surface layer (fem.ablation)
        h_abl = ablation.heat_of_ablation(top["water_fraction"], top["density_kg_per_m3"],
                                          top["specific_heat_J_per_kgK"],
                                          out["boundary"]["core_temperature_C"])
        laser.setdefault("ablation_threshold_J_per_cm2",
                         round(h_abl * 1e-6 / mu_top_per_cm, 6))

    _resolve_cooling(out["cooling"])

    res = RESOLUTIONS[out["mesh"]["resolution"]]
    mesh = out["mesh"]
    w0_um = laser["spot_um"] / 2.0
    mesh.setdefault("column_size_um", round(res["column"] * w0_um, 3))
    # The stratum corneum and epidermis are resolved across their thickness: elements no larger
    # than 1.2 times the thinner of the two (larger ones in a thin layer make slivers).
    thin_um = min(layer["thickness_um"] for layer in list(out["skin"]["layers"].values())[:2])
    mesh.setdefault("surface_size_um", round(min(res["surface_um"], 1.2 * thin_um,
                                                 mesh["column_size_um"] * 1.5), 3))
    mesh.setdefault("far_size_um", res["far_um"])
    total_um = sum(layer["thickness_um"] for layer in out["skin"]["layers"].values())
    crater = _resolve_crater(out, total_um)
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
    layout = make_layout(out, mesh["column_radius_um"] * UM)
    end_of_pulses_ms = _resolve_firing(out, layout)
    cx, cy = (c * 1e6 for c in central_column(layout))
    out["output"].setdefault("probes_um",
                             [[cx, cy, -z] for z in (0.0, 100.0, 300.0, 500.0)])
    out["output"].setdefault("times_ms", [round(end_of_pulses_ms, 9)]
                             if end_of_pulses_ms < out["time"]["end_ms"] else [])
    late = [t for t in out["output"]["times_ms"] if t > out["time"]["end_ms"]]
    if late:
        raise CaseError(f"output.times_ms = {out['output']['times_ms']!r}: {late[0]:g} ms is "
                        f"after time.end_ms = {out['time']['end_ms']:g}; allowed: times in "
                        f"(0, {out['time']['end_ms']:g}]")
    return out


def _resolve_cooling(cooling: dict) -> None:
    """Fill the defaults of the cooling mode; refuse keys of another mode."""
    from fem.cooling import MODE_KEYS

    mode = cooling["mode"]
    for key, value in cooling.items():
        if key != "mode" and key not in MODE_KEYS[mode]:
            owner = next(m for m, keys in MODE_KEYS.items() if key in keys)
            raise CaseError(f"cooling.{key} = {value!r}: only with cooling.mode = {owner!r} "
                            f"(cooling.mode is {mode!r})")
    for key, value in MODE_KEYS[mode].items():
        cooling.setdefault(key, value)


def pulse_duration_ms(laser: dict) -> float:
    """How long a pulse delivers energy, ms (a Gaussian pulse: 3 FWHM, fem.source)."""
    return delivery_time(laser["pulse_ms"], laser["pulse_shape"])


def delivery_time(pulse: float, shape: str) -> float:
    """How long a pulse of length (FWHM) ``pulse`` delivers energy, in the unit of ``pulse``:
    the pulse itself if square, ``GAUSSIAN_WINDOW`` FWHM if Gaussian."""
    return pulse * (1.0 if shape == "square" else GAUSSIAN_WINDOW)


def _resolve_firing(out: dict, layout: patterns.Layout) -> float:
    """Check the firing order against the layout and the end time against the last pulse;
    returns when the last pulse ends (ms)."""
    pat = out["pattern"]
    if pat["firing_order"] == "simultaneous":
        if "column_interval_ms" in pat:
            raise CaseError(f"pattern.column_interval_ms = {pat['column_interval_ms']!r}: only "
                            f"with a sequential pattern.firing_order ('raster' or 'random')")
    else:
        if pat["layout"] in ("unit_cell", "quarter_cell"):
            raise CaseError(
                f"pattern.firing_order = {pat['firing_order']!r}: a periodic cell "
                f"(pattern.layout = {pat['layout']!r}) fires all its images at once; allowed: "
                f"'simultaneous', or a patch layout (single, grid, hex, random)")
        pat.setdefault("column_interval_ms", pulse_duration_ms(out["laser"]))
    last_ms = max(_fire_times_ms(out, layout)) + pulse_duration_ms(out["laser"])
    if out["time"]["end_ms"] < last_ms * (1 - 1e-12) and last_ms > pulse_duration_ms(out["laser"]):
        raise CaseError(f"time.end_ms = {out['time']['end_ms']!r}: the last pulse ends at "
                        f"{last_ms:.6g} ms; allowed: >= {last_ms:.6g}")
    return last_ms


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


def _resolve_crater(out: dict, total_um: float) -> dict:
    """The crater: ``auto`` is the blow-off crater for ablative lasers and none otherwise; a
    blow-off crater gets its depth and diameter from the pulse (none below threshold); a cone
    or paraboloid needs its depth and diameter."""
    crater = out["crater"]
    if crater["shape"] == "auto":
        ablative = out["laser"]["preset"] in presets.ABLATIVE_LASERS
        crater["shape"] = "blowoff" if ablative else "none"
    if crater["shape"] == "blowoff":
        profile = _blowoff_profile_um(out)
        for key in ("depth_um", "diameter_um"):
            crater.pop(key, None)  # derived: recomputed from the pulse on every read
        if not profile:
            crater["shape"] = "none"
            return crater
        crater["depth_um"] = round(profile[0][1], 3)
        crater["diameter_um"] = round(2.0 * profile[-1][0], 3)
        if crater["depth_um"] >= 0.5 * total_um:
            raise CaseError(f"laser.energy_mJ = {out['laser']['energy_mJ']!r}: the blow-off "
                            f"crater ({crater['depth_um']:.4g} um) would reach half the skin "
                            f"thickness ({0.5 * total_um:g} um)")
        return crater
    given = [k for k in ("depth_um", "diameter_um") if k in crater]
    if crater["shape"] == "none":
        if given:
            raise CaseError(f"crater.{given[0]} = {crater[given[0]]!r}: needs crater.shape = "
                            "'cone' or 'paraboloid' (it is 'none')")
        return crater
    for key in ("depth_um", "diameter_um"):
        if key not in crater:
            raise CaseError(f"crater.{key}: missing; a crater of shape {crater['shape']!r} "
                            "needs depth_um and diameter_um (numbers > 0)")
    if crater["depth_um"] >= 0.5 * total_um:
        raise CaseError(f"crater.depth_um = {crater['depth_um']!r}: must be less than half the "
                        f"skin thickness ({0.5 * total_um:g} um)")
    return crater


def _blowoff_profile_um(resolved: dict) -> tuple[tuple[float, float], ...]:
    """The blow-off crater profile of a resolved case, ``((r_um, d_um), ...)``."""
    layers, lz = list(resolved["skin"]["layers"].values()), resolved["laser"]
    if "ablation_threshold_J_per_cm2" not in lz:
        raise CaseError("crater.shape = 'blowoff': the surface layer does not absorb at this "
                        "wavelength; set laser.ablation_threshold_J_per_cm2")
    mu = [(la["water_fraction"] * lz["water_absorption_per_cm"] + lz["reduced_scattering_per_cm"])
          * 100.0 for la in layers]
    w0 = 0.5 * lz["spot_um"] * UM
    ws = math.hypot(w0, math.tan(math.radians(lz["divergence_deg"])) * lz["focal_depth_um"] * UM)
    profile = ablation.blowoff_profile([la["thickness_um"] * UM for la in layers], mu,
                                       lz["ablation_threshold_J_per_cm2"] * 1e4,
                                       lz["energy_mJ"] * 1e-3, ws)
    return tuple((r * 1e6, d * 1e6) for r, d in profile)


def _column_room_um(pattern: dict) -> float:
    """Largest allowed refined-column radius (um): half the column spacing or of the patch."""
    kind, density = pattern["layout"], pattern["density_per_cm2"] * 1e4
    if "patch_um" in pattern and kind in ("unit_cell", "quarter_cell"):
        raise CaseError(f"pattern.patch_um = {pattern['patch_um']!r}: does not apply to "
                        f"pattern.layout = {kind!r} (its side is the pitch 1/sqrt(density))")
    pitch_um = 1e6 * patterns.square_pitch(density)
    patch_um = pattern.get("patch_um", pitch_um if kind == "single" else 3 * pitch_um)
    room = {"single": 0.5 * patch_um, "random": 0.5 * patch_um,
            "hex": 0.5e6 * patterns.hex_pitch(density)}.get(kind, 0.5 * pitch_um)
    return min(room, 0.5 * patch_um)


def make_layout(resolved: dict, margin: float) -> patterns.Layout:
    """The :class:`meshes.patterns.Layout` of a resolved case (metres)."""
    p = resolved["pattern"]
    patch = p.get("patch_um")
    return patterns.make_layout(p["layout"], p["density_per_cm2"] * 1e4,
                                None if patch is None else patch * UM, margin=margin,
                                seed=p["seed"], passes=p["passes"])


def central_column(layout: patterns.Layout) -> tuple[float, float]:
    """The column nearest the centre of the domain (probes and cuts go through it)."""
    x0, x1, y0, y1 = layout.extent
    c = layout.centres
    return min(c, key=lambda p: (p[0] - 0.5 * (x0 + x1)) ** 2 + (p[1] - 0.5 * (y0 + y1)) ** 2)


# --------------------------------------------------------------------------------------------
# Typed configuration in SI
# --------------------------------------------------------------------------------------------

UM = 1e-6
MS = 1e-3
GAUSSIAN_WINDOW = 3.0  # a Gaussian pulse of FWHM tau is delivered over [0, 3 tau]
KELVIN = 273.15


@dataclass(frozen=True)
class Layer:
    """One skin layer, SI units."""

    name: str
    thickness: float  # m
    rho: float  # kg/m3
    c: float  # J/(kg K)
    k: float  # W/(m K)
    perfusion: float  # 1/s (volumetric blood flow per tissue volume)
    metabolic: float  # W/kg
    water_fraction: float
    E: float  # Pa
    nu: float
    alpha: float  # 1/K
    collagen: bool


@dataclass(frozen=True)
class Laser:
    """Gaussian beam and pulse, SI units."""

    preset: str
    wavelength: float  # m
    water_absorption: float  # 1/m
    reduced_scattering: float  # 1/m
    energy: float  # J
    w0: float  # 1/e^2 radius at the focus, m
    focal_depth: float  # m below the surface
    divergence: float  # half-angle broadening of the 1/e^2 radius, rad
    pulse: float  # s
    pulse_shape: str

    @property
    def duration(self) -> float:
        """How long a pulse delivers energy, s (a Gaussian pulse: GAUSSIAN_WINDOW FWHM)."""
        return delivery_time(self.pulse, self.pulse_shape)


@dataclass(frozen=True)
class Crater:
    """An ablation crater cut out of the tissue at each column, SI units."""

    shape: str  # "none", "blowoff", "cone", "paraboloid"
    depth: float  # m
    radius: float  # mouth radius at the surface, m
    profile: tuple[tuple[float, float], ...] = ()  # (r, depth) from the axis to the mouth, m

    @property
    def volume(self) -> float:
        """Volume of one whole crater as meshed (its profile revolved), m^3."""
        return ablation.profile_volume(self.profile) if self.profile else 0.0


@dataclass(frozen=True)
class Case:
    """A fully validated case, SI units inside; ``resolved`` is what case.toml holds."""

    title: str
    layers: tuple[Layer, ...]
    laser: Laser
    layout: patterns.Layout  # domain in the plane and column axes (m)
    crater: Crater
    fire_times: tuple[float, ...]  # when each column's pulse starts, s
    ambient_T: float  # K
    h_surface: float  # W/(m2 K)
    core_T: float  # K
    arterial_T: float  # K
    end_time: float  # s
    steps_per_pulse: int
    growth: float
    steps_per_rung: int
    max_step: float  # s
    perfusion_shutdown: bool  # w_b (1 - F(Omega_cell))
    vaporisation: bool  # latent heat of tissue water at 100 C
    conductivity_slope: float  # 1/K, k(T) = k (1 + slope (T - 37 C))
    kinetics: dict[str, dict]  # purpose -> preset values
    kinetics_names: dict[str, str]
    mechanics_enabled: bool
    shrinkage_max: float
    shrinkage_plane: str
    mechanics_degree: int
    mechanics_sides: str  # "free" (the patch contracts) | "periodic" | "held" (u_n = 0)
    mechanics_formulation: str  # "displacement" | "mixed" (Taylor-Hood u-p)
    column_size: float  # m
    surface_size: float  # m
    far_size: float  # m
    column_radius: float  # m
    column_depth: float  # m
    mesh_cache: bool
    rtol: float
    max_it: int
    probes: tuple[tuple[float, float, float], ...]  # m
    output_times: tuple[float, ...]  # s, mechanics before the end
    write_fields: bool
    render: bool
    resolved: dict = field(repr=False)

    @property
    def depth(self) -> float:
        """Total thickness of the skin block, m."""
        return sum(layer.thickness for layer in self.layers)

    def layer_interfaces(self) -> list[float]:
        """Depths (m, positive downward) of the top of each layer and of the bottom."""
        z = [0.0]
        for layer in self.layers:
            z.append(z[-1] + layer.thickness)
        return z

    def absorption(self, layer: Layer) -> float:
        """Absorption coefficient of a layer at the laser wavelength, 1/m (water-driven)."""
        return layer.water_fraction * self.laser.water_absorption

    def attenuation(self, layer: Layer) -> float:
        """Attenuation of the collimated beam in a layer, mu_a + mu_s', 1/m.

        Light scattered out of the beam is taken as absorbed close to it (a modelling choice,
        good where mu_s' is of the order of mu_a or above, within a few per cent of the
        diffusion-theory sqrt(3 mu_a (mu_a + mu_s')) at 1550 nm); the lateral spread of the
        scattered light is carried by the beam broadening (``divergence_deg``). The energy
        deposited is exactly the energy removed from the beam.
        """
        return self.absorption(layer) + self.laser.reduced_scattering


def build_case(resolved: dict) -> Case:
    """Convert a resolved case dictionary into a :class:`Case` in SI units."""
    r = resolved
    layers = tuple(
        Layer(
            name=name,
            thickness=v["thickness_um"] * UM,
            rho=v["density_kg_per_m3"],
            c=v["specific_heat_J_per_kgK"],
            k=v["conductivity_W_per_mK"],
            perfusion=v["perfusion_per_s"],
            metabolic=v["metabolic_W_per_kg"],
            water_fraction=v["water_fraction"],
            E=v["youngs_modulus_kPa"] * 1e3,
            nu=v["poisson_ratio"],
            alpha=v["expansion_per_K"],
            collagen=v["collagen"],
        )
        for name, v in r["skin"]["layers"].items()
    )
    lz = r["laser"]
    laser = Laser(
        preset=lz["preset"],
        wavelength=lz["wavelength_nm"] * 1e-9,
        water_absorption=lz["water_absorption_per_cm"] * 100.0,
        reduced_scattering=lz["reduced_scattering_per_cm"] * 100.0,
        energy=lz["energy_mJ"] * 1e-3,
        w0=0.5 * lz["spot_um"] * UM,
        focal_depth=lz["focal_depth_um"] * UM,
        divergence=math.radians(lz["divergence_deg"]),
        pulse=lz["pulse_ms"] * MS,
        pulse_shape=lz["pulse_shape"],
    )
    t, m, mesh, b = r["time"], r["mechanics"], r["mesh"], r["boundary"]
    layout = make_layout(r, mesh["column_radius_um"] * UM)
    return Case(
        title=r["title"],
        layers=layers,
        laser=laser,
        layout=layout,
        crater=_build_crater(r),
        fire_times=tuple(t * MS for t in _fire_times_ms(r, layout)),
        ambient_T=b["ambient_temperature_C"] + KELVIN,
        h_surface=b["surface_htc_W_per_m2K"],
        core_T=b["core_temperature_C"] + KELVIN,
        arterial_T=b["arterial_temperature_C"] + KELVIN,
        end_time=t["end_ms"] * MS,
        steps_per_pulse=t["steps_per_pulse"],
        growth=t["growth"],
        steps_per_rung=t["steps_per_rung"],
        max_step=t["max_step_ms"] * MS,
        perfusion_shutdown=r["tissue"]["perfusion_shutdown"],
        vaporisation=r["tissue"]["vaporisation"],
        conductivity_slope=r["tissue"]["conductivity_slope_per_K"],
        kinetics=_build_kinetics(r),
        kinetics_names={p: r["damage"][p] for p in DAMAGE_PURPOSES},
        mechanics_enabled=m["enabled"],
        shrinkage_max=m["shrinkage_max"],
        shrinkage_plane=m["shrinkage_plane"],
        mechanics_degree=m["degree"],
        mechanics_sides=m["sides"],
        mechanics_formulation=m["formulation"],
        column_size=mesh["column_size_um"] * UM,
        surface_size=mesh["surface_size_um"] * UM,
        far_size=mesh["far_size_um"] * UM,
        column_radius=mesh["column_radius_um"] * UM,
        column_depth=mesh["column_depth_um"] * UM,
        mesh_cache=mesh["cache"],
        rtol=r["solver"]["rtol"],
        max_it=r["solver"]["max_it"],
        probes=tuple(tuple(c * UM for c in p) for p in r["output"]["probes_um"]),
        output_times=tuple(t * MS for t in r["output"]["times_ms"]),
        write_fields=r["output"]["fields"],
        render=r["output"]["render"],
        resolved=resolved,
    )


def _build_kinetics(resolved: dict) -> dict[str, dict]:
    """Purpose -> preset values for :func:`fem.damage.make_damage`: the layers whose set differs
    go in ``by_depth`` as ``(top, bottom, values)`` in metres; ``cem43`` adds the dose."""
    d = resolved["damage"]
    names = list(resolved["skin"]["layers"])
    z = [0.0]
    for v in resolved["skin"]["layers"].values():
        z.append(z[-1] + v["thickness_um"] * UM)
    out: dict[str, dict] = {}
    for p in DAMAGE_PURPOSES:
        out[p] = dict(presets.KINETICS_PRESETS[d[p]])
        by_depth = tuple((z[i], z[i + 1], presets.KINETICS_PRESETS[d["layers"][n][p]])
                         for i, n in enumerate(names)
                         if p in d["layers"].get(n, {}) and d["layers"][n][p] != d[p])
        if by_depth:
            out[p]["by_depth"] = by_depth
    if d["cem43"]:
        out["cem43"] = {}
    return out


def _build_crater(resolved: dict) -> Crater:
    """The :class:`Crater` of a resolved case, with its profile."""
    cr = resolved["crater"]
    if cr["shape"] == "none":
        return Crater("none", 0.0, 0.0)
    depth, radius = cr["depth_um"] * UM, 0.5 * cr["diameter_um"] * UM
    if cr["shape"] == "blowoff":
        profile = tuple((r * UM, d * UM) for r, d in _blowoff_profile_um(resolved))
    else:
        profile = ablation.shape_profile(cr["shape"], depth, radius)
    return Crater(cr["shape"], depth, radius, profile)


def load_case(path: str | Path, overrides: list[str] | None = None) -> Case:
    """Read, validate and build a case; raises :class:`CaseError` with the file name."""
    try:
        return build_case(resolve(read_case_dict(path, overrides)))
    except CaseError as e:
        msg = str(e)
        raise CaseError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None

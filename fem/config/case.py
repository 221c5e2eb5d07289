"""From a case file to the typed :class:`~fem.config.sections.Case`, in SI.

:func:`load_case` reads a file (with ``--set`` overrides), :func:`case_from_dict` a parsed
dictionary: both resolve it (:func:`fem.config.resolve.resolve_case`) and build every section
once, with the derived values of the resolution (layout, firing times, crater profile) and
the kinetics per purpose.
"""

from __future__ import annotations

from pathlib import Path

from fem.config import crater as craters
from fem.config import presets
from fem.config.resolve import Derived, read_case_dict, resolve_case
from fem.config.schema import MS, UM, CaseError, build_section
from fem.config.sections import (DAMAGE_PURPOSES, Boundary, Case, Cooling, Course, Crater,
                                 Damage, Healing, Laser, Layer, Mechanics, Mesh, Output,
                                 Pattern, Skin, Solver, Tissue, Time)


def build_case(resolved: dict, derived: Derived) -> Case:
    """The typed case of a resolved case dictionary and what its resolution derived."""
    r = resolved
    layers = tuple(build_section(Layer, v, name=name) for name, v in r["skin"]["layers"].items())
    return Case(
        title=r["title"],
        skin=build_section(Skin, r["skin"], layers=layers),
        laser=build_section(Laser, r["laser"]),
        pattern=build_section(Pattern, r["pattern"], layout=derived.layout,
                              fire_times=tuple(t * MS for t in derived.fire_times_ms)),
        crater=_build_crater(r["crater"], derived.crater_profile_um,
                             derived.wall_fluence_J_per_cm2),
        boundary=build_section(Boundary, r["boundary"]),
        cooling=build_section(Cooling, r["cooling"]),
        tissue=build_section(Tissue, r["tissue"]),
        time=build_section(Time, r["time"]),
        damage=build_section(Damage, r["damage"], kinetics=_build_kinetics(r)),
        mechanics=build_section(Mechanics, r["mechanics"]),
        mesh=build_section(Mesh, r["mesh"]),
        solver=build_section(Solver, r["solver"]),
        output=build_section(Output, r["output"]),
        healing=build_section(Healing, r["healing"]),
        course=build_section(Course, r["course"]),
        resolved=resolved,
    )


def _build_kinetics(resolved: dict) -> dict[str, dict]:
    """Purpose -> preset values for :func:`fem.physics.damage.make_damage`: the layers whose
    set differs go in ``by_depth`` as ``(top, bottom, values)`` in metres; ``cem43`` adds the
    dose."""
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


def _build_crater(table: dict, profile_um: tuple, wall_J_per_cm2: tuple) -> Crater:
    """The :class:`Crater` of a resolved ``[crater]`` table, with its profile (and the wall
    fluences of a steady-state crater)."""
    if table["shape"] == "none":
        return Crater("none", 0.0, 0.0)
    crater = build_section(Crater, table)
    if crater.shape in ("blowoff", "steady_state"):
        profile = tuple((r * UM, d * UM) for r, d in profile_um)
    else:
        profile = craters.shape_profile(crater.shape, crater.depth, crater.radius)
    return Crater(crater.shape, crater.depth, crater.radius, profile,
                  tuple(f * 1e4 for f in wall_J_per_cm2))


def case_from_dict(raw: dict) -> Case:
    """Validate, resolve and build a parsed case; raises :class:`CaseError`."""
    return build_case(*resolve_case(raw))


def resolve(raw: dict) -> dict:
    """The resolved case dictionary (file units) of a parsed case; raises :class:`CaseError`."""
    return resolve_case(raw)[0]


def load_case(path: str | Path, overrides: list[str] | None = None) -> Case:
    """Read, validate and build a case; raises :class:`CaseError` with the file name."""
    try:
        return case_from_dict(read_case_dict(path, overrides))
    except CaseError as e:
        msg = str(e)
        raise CaseError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None

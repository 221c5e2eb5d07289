"""The glossary of ``metrics.json``: every key a run can write, with its unit and meaning.

One registry, :data:`METRICS`, from which the tables of the documentation (the whole
glossary, ``glossary_markdown``, between the markers ``<!-- metrics:start -->`` and
``<!-- metrics:end -->`` of ``fem/README.md``; the headline metrics, :data:`HEADLINE`, between
``<!-- headline-metrics:start -->`` and ``<!-- headline-metrics:end -->`` of the front-door
``README.md``), the ``mtz metrics`` command (``glossary_text``) and the report take their
words, so that they cannot drift apart; ``tests/test_glossary.py`` checks that a coarse demo
writes no key missing here and that both files hold their tables as generated. Regenerate
them with::

    python -m fem.post.glossary --markdown                        # print the whole table
    python -m fem.post.glossary --readme README.md fem/README.md  # rewrite the blocks

Which keys appear depends on the case: the ``light_*`` counts only with the Monte Carlo light
model, ``cem43_*`` only with ``damage.cem43 = true``, the mechanics keys only with
``mechanics.enabled`` and the healing and course keys only with ``healing.enabled``.

**Generated names.** A column metric, the mean over the columns of the patch (those of
:data:`COLUMN_MEANS`), comes with ``<name>_min`` and ``<name>_max`` when the patch has several
columns (:func:`fem.post.metrics.summarise`). These companions are concrete entries of
:data:`METRICS` too, made here from their mean's entry (same unit and group), so that
:func:`lookup` answers for every key; the tables fold them into one row per group, the
pattern ``<mean>_min, <mean>_max`` (:data:`COMPANION_ROW`). No other key of ``metrics.json``
is generated: the per-day and per-time values are in ``healing.csv`` and ``mechanics.csv``.

This module imports nothing but the standard library (layer ``fem.post``, used by the command
line and the report without a solver).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Metric:
    """One key of ``metrics.json``.

    Attributes:
        name: the key.
        unit: short unit string ("µm", "°C", "%", "J", "h", "days", "kPa", "s"); "" for a
            dimensionless number, a fraction, a count or a list.
        definition: one plain-language line.
        group: the heading it is listed under, one of :data:`GROUPS`.
    """

    name: str
    unit: str
    definition: str
    group: str


#: The headings, in the order the tables list them.
GROUPS = ("Column geometry", "Damage", "Heat and energy", "Light", "Mechanics", "Healing",
          "Course", "Run")

#: Column metrics that are means over the columns, with ``_min`` / ``_max`` companions.
COLUMN_MEANS = ("mtz_depth_um", "mtz_width_um", "necrosis_depth_um", "necrosis_width_um",
                "mend_width_um", "cem43_depth_um", "cem43_width_um")
COMPANIONS = ("_min", "_max")
#: How the tables name the companions, and what they say of them.
COMPANION_ROW = "<mean>_min, <mean>_max"
COMPANION_DEFINITION = ("smallest and largest over the columns of each mean above "
                        "(patterns of several columns only)")

# (name, unit, definition), by group, in the order of the tables.
_ENTRIES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "Column geometry": (
        ("columns", "", "number of laser columns (MTZs) in the simulated patch"),
        ("mtz_depth_um", "µm", "depth of the coagulated collagen column below the skin surface "
         "(collagen Omega = 1), mean over columns"),
        ("mtz_width_um", "µm", "widest diameter of the coagulated collagen column (collagen "
         "Omega = 1), mean over columns"),
        ("necrosis_depth_um", "µm", "depth of the column of dead cells below the skin surface "
         "(cell damage Omega = 1), mean over columns"),
        ("necrosis_width_um", "µm", "widest diameter of the column of dead cells (cell damage "
         "Omega = 1), mean over columns"),
        ("mend_width_um", "µm", "width of the dead epidermis over a column, the future MEND "
         "(epidermal debris), mean over columns"),
        ("ablation_depth_um", "µm", "depth of the crater the laser vaporises; 0 for "
         "non-ablative lasers"),
        ("cem43_depth_um", "µm", "depth of the thermal-dose column, CEM43 of 240 min or more "
         "(with damage.cem43)"),
        ("cem43_width_um", "µm", "widest diameter of the thermal-dose column, CEM43 of 240 min "
         "or more (with damage.cem43)"),
    ),
    "Damage": (
        ("coverage_percent", "%", "share of the skin surface above a coagulated column "
         "(the columns seen from above)"),
        ("spared_volume_percent", "%", "share of the treated volume (down to the deepest "
         "column) where cells survive"),
        ("max_epidermal_gap_um", "µm", "farthest distance from dead to living epidermis: how "
         "far healing cells must migrate"),
    ),
    "Heat and energy": (
        ("peak_temperature_C", "°C", "highest temperature reached anywhere in the tissue during "
         "the run"),
        ("delivered_energy_J", "J", "laser energy fired at the skin by all columns"),
        ("absorbed_energy_J", "J", "laser energy absorbed by the tissue in the heat model "
         "(whole unit: a quarter cell counts 4x)"),
        ("expected_absorbed_energy_J", "J", "energy the light model says is absorbed: delivered "
         "x absorbed fraction"),
        ("source_energy_error", "", "relative gap between the absorbed and the expected "
         "absorbed energy; the run stops above 0.005"),
        ("energy_balance_error", "", "relative imbalance of the heat books: stored against "
         "absorbed + inflow - losses"),
        ("energy_balance_bound", "", "largest energy_balance_error the solver tolerance allows; "
         "above it the run stops"),
        ("stored_energy_J", "J", "heat still in the tissue at the end of the run, above the "
         "starting state"),
        ("perfusion_loss_J", "J", "heat carried away by the blood flow (perfusion)"),
        ("surface_loss_J", "J", "heat lost through the skin surface: air, evaporation, contact "
         "or cryogen cooling"),
        ("vaporised_energy_J", "J", "heat spent boiling tissue water (latent heat at 100 °C)"),
        ("bottom_inflow_J", "J", "heat flowing in through the bottom of the block, held at "
         "body core temperature"),
    ),
    "Light": (
        ("specular_reflectance", "", "share of the delivered energy mirrored off the skin "
         "surface"),
        ("diffuse_reflectance", "", "share of the delivered energy scattered back out of the "
         "skin"),
        ("absorbed_fraction", "", "share of the delivered energy absorbed in the tissue"),
        ("transmitted_fraction", "", "share of the delivered energy leaving through the bottom "
         "of the block"),
        ("side_loss_fraction", "", "share of the delivered energy leaving through the sides of "
         "the block"),
        ("ablation_fraction", "", "share of the delivered energy carried off with the crater "
         "tissue (ablative lasers)"),
        ("light_ledger_error", "", "how far the light shares above are from adding up to one"),
        ("light_photons", "", "photon packets traced by the Monte Carlo light model"),
        ("light_error", "", "relative statistical error of the Monte Carlo light map "
         "(0.03 is 3 %)"),
        ("light_seconds", "s", "time spent computing the Monte Carlo light map (that of its "
         "first run when cached)"),
    ),
    "Mechanics": (
        ("tightening_area_percent", "%", "loss of area of the treated patch seen from above, at "
         "the end time (still warm)"),
        ("linear_contraction_percent", "%", "shortening of the side of a square drawn on the "
         "patch, at the end time"),
        ("max_von_mises_kPa", "kPa", "largest von Mises stress (overall stress intensity) in "
         "the tissue at the end time"),
        ("residual_stress_kPa", "kPa", "mean in-plane stress in the collagen layers at the end "
         "time, positive in tension"),
        ("cooled_tightening_area_percent", "%", "the lasting tightening: the area loss once "
         "the tissue has cooled to its starting temperature"),
        ("cooled_linear_contraction_percent", "%", "the lasting linear contraction, once the "
         "tissue has cooled to its starting temperature"),
        ("cooled_max_von_mises_kPa", "kPa", "largest von Mises stress once the tissue has cooled "
         "to its starting temperature"),
        ("cooled_residual_stress_kPa", "kPa", "mean in-plane collagen stress once the tissue has "
         "cooled to its starting temperature"),
    ),
    "Healing": (
        ("reepithelialization_h", "h", "hours until new epidermis covers the whole wound "
         "(0 without an epidermal wound)"),
        ("epidermal_defect_percent", "%", "share of the patch where the base of the epidermis "
         "died: the wound to close"),
        ("open_defect_end_percent", "%", "share of the patch where the wound is still open at "
         "the end of the healing time"),
        ("mend_shed_days", "days", "days until the last MEND (dead epidermal debris) reaches the "
         "surface and is shed"),
        ("pigment_cleared_percent", "%", "share of the epidermal melanin in dead or ablated "
         "tissue, carried out by one session"),
        ("stimulated_volume_percent", "%", "share of the dermis where the injury stimulates "
         "fibroblasts to make collagen (S >= 1/2)"),
        ("new_collagen_percent", "%", "new collagen (types III + I) at healing.end_days, % of "
         "the native dermal collagen"),
        ("initial_denatured_collagen_percent", "%", "collagen denatured by the pulse, % of the "
         "native dermal collagen"),
        ("remodelling_complete_days", "days", "days until 95 % of the denatured collagen is "
         "cleared and replaced"),
        ("late_tightening_area_percent", "%", "area loss of the patch seen from above at "
         "healing.end_days, from collagen remodelling"),
        ("late_linear_contraction_percent", "%", "linear contraction of the patch at "
         "healing.end_days, from collagen remodelling"),
        ("downtime_days", "days", "days until the wound is closed and visible debris covers "
         "under 5 % of the skin"),
    ),
    "Course": (
        ("sessions", "", "treatment sessions in the course (1 without a [course] section)"),
        ("course_pigment_cleared_percent", "%", "expected share of the melanin cleared by all "
         "N sessions, 1 - (1 - p)^N"),
        ("course_downtime_days", "days", "total downtime of the course, overlapping parts "
         "counted once"),
        ("course_early_sessions", "", "sessions fired before the MENDs of the session before "
         "were shed (0 is good)"),
    ),
    "Run": (
        ("dofs", "", "unknowns of the heat problem (temperature at the mesh nodes)"),
        ("mechanics_dofs", "", "unknowns of the elasticity problem (0 without mechanics)"),
        ("cells", "", "tetrahedra in the mesh"),
        ("time_steps", "", "time steps of the heat solve"),
        ("heat_cg_iterations", "", "linear-solver (CG) iterations of all heat steps together"),
        ("mechanics_cg_iterations", "", "linear-solver iterations of the last elasticity "
         "solve (MINRES for the mixed form)"),
        ("ranks", "", "MPI processes the case ran on"),
        ("warnings", "", "list of sentences on what to check in this result "
         "(fem/README.md, Reliability); empty if none"),
        ("wall_time_s", "s", "wall-clock time of the whole run"),
    ),
}


def _build() -> dict[str, Metric]:
    out: dict[str, Metric] = {}
    for group in GROUPS:
        for name, unit, definition in _ENTRIES[group]:
            out[name] = Metric(name, unit, definition, group)
    for mean in COLUMN_MEANS:
        m = out[mean]
        for suffix, word in zip(COMPANIONS, ("smallest", "largest")):
            name = mean + suffix
            out[name] = Metric(name, m.unit, f"{word} {mean} over the columns (patterns of "
                               "several columns only)", m.group)
    return out


#: Every key ``metrics.json`` can hold, by name.
METRICS: dict[str, Metric] = _build()


def lookup(name: str) -> Metric | None:
    """The entry of a ``metrics.json`` key, or None when the key is unknown."""
    return METRICS.get(name)


def is_companion(name: str) -> bool:
    """Whether ``name`` is the ``_min`` or ``_max`` companion of a column mean."""
    return any(name.endswith(s) and name[:-len(s)] in COLUMN_MEANS for s in COMPANIONS)


def rows() -> list[tuple[str, list[tuple[str, str, str]]]]:
    """The tables' rows, ``(group, [(name, unit, definition), ...])`` in :data:`GROUPS` order,
    the companions folded into one :data:`COMPANION_ROW` after the means of their group."""
    out = []
    for group in GROUPS:
        entries = [m for m in METRICS.values() if m.group == group]
        body = [(m.name, m.unit, m.definition) for m in entries if not is_companion(m.name)]
        companions = {m.unit for m in entries if is_companion(m.name)}
        if companions:
            body.append((COMPANION_ROW, "/".join(sorted(companions)), COMPANION_DEFINITION))
        out.append((group, body))
    return out


def glossary_markdown() -> str:
    """The glossary as one Markdown table (metric | unit | meaning), a bold row per group."""
    lines = ["| metric | unit | meaning |", "| --- | --- | --- |"]
    for group, body in rows():
        lines.append(f"| **{group}** | | |")
        for name, unit, definition in body:
            label = ", ".join(f"`{n.strip()}`" for n in name.split(","))
            lines.append(f"| {label} | {unit} | {definition} |")
    return "\n".join(lines) + "\n"


def glossary_text() -> str:
    """The glossary for a terminal: a heading per group, one metric a line, aligned."""
    every = [r for _, body in rows() for r in body]
    w_name = max(len(r[0]) for r in every)
    w_unit = max(len(r[1]) for r in every)
    lines = ["Metrics of metrics.json (name, unit, meaning); "
             "the companions <mean>_min and <mean>_max appear for patterns."]
    for group, body in rows():
        lines += ["", group]
        lines += [f"  {name:<{w_name}}  {unit:<{w_unit}}  {definition}"
                  for name, unit, definition in body]
    return "\n".join(lines) + "\n"


#: The metrics of the front-door README's short table: what a user asks first.
HEADLINE = ("mtz_depth_um", "mtz_width_um", "necrosis_depth_um", "mend_width_um",
            "ablation_depth_um", "coverage_percent", "peak_temperature_C",
            "cooled_tightening_area_percent", "reepithelialization_h", "mend_shed_days",
            "downtime_days", "new_collagen_percent", "late_tightening_area_percent", "warnings")


def headline_markdown() -> str:
    """The :data:`HEADLINE` metrics as one Markdown table (metric | unit | meaning)."""
    lines = ["| metric | unit | meaning |", "| --- | --- | --- |"]
    lines += [f"| `{m.name}` | {m.unit} | {m.definition} |" for m in map(lookup, HEADLINE)]
    return "\n".join(lines) + "\n"


START, END = "<!-- metrics:start -->", "<!-- metrics:end -->"
HEADLINE_START, HEADLINE_END = "<!-- headline-metrics:start -->", "<!-- headline-metrics:end -->"
BLOCKS = ((START, END, glossary_markdown), (HEADLINE_START, HEADLINE_END, headline_markdown))


def replace_block(text: str) -> str:
    """``text`` with the generated tables between their markers (:data:`BLOCKS`: each marker
    on its own line, each block at most once); a text without any block is an error."""
    found = False
    for start, end, table in BLOCKS:
        head, sep, rest = text.partition(start)
        _, sep2, tail = rest.partition(end)
        if sep and sep2:
            text, found = f"{head}{start}\n{table()}{end}{tail}", True
    if not found:
        raise ValueError(f"no {START} ... {END} or {HEADLINE_START} ... {HEADLINE_END} block")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fem.post.glossary",
                                     description="the metrics of metrics.json")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--markdown", action="store_true", help="print the README table")
    how.add_argument("--readme", type=Path, metavar="FILE", nargs="+",
                     help="put the tables between the markers of each FILE")
    args = parser.parse_args(argv)
    for path in args.readme or []:
        path.write_text(replace_block(path.read_text(encoding="utf-8")), encoding="utf-8")
    if not args.readme:
        sys.stdout.write(glossary_markdown() if args.markdown else glossary_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())

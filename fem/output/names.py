"""Every result file name, in one place.

A case's result directory (``mtz run``), a mesh directory (``mtz mesh``) and a study's
directory (``mtz study``) hold the files below; the writers (the run layer), the readers
(render, report, studies, calibration) and the tests take the names from here. Paths are
relative to the directory they live in; a name ending in ``_DIR`` is a folder. The cases of
a study live in directories named after their parameters (:func:`case_name`).
"""

from __future__ import annotations

import re
from typing import Any

# -- one case (mtz run) -------------------------------------------------------------------
CASE_TOML = "case.toml"  # the resolved case, enough to rerun it
METRICS_JSON = "metrics.json"  # written last and atomically: marks the case finished
PROBES_CSV = "probes.csv"
COLUMNS_CSV = "columns.csv"
MECHANICS_CSV = "mechanics.csv"
HEALING_CSV = "healing.csv"  # one row per healing time step (hours to months)
PROVENANCE_JSON = "provenance.json"
REPORT_HTML = "report.html"
ERROR_TXT = "error.txt"  # a failed case of a study

FIELDS_DIR = "fields"
HEAT_BP = f"{FIELDS_DIR}/heat.bp"  # VTX (ADIOS2): temperatures and damage
DISPLACEMENT_BP = f"{FIELDS_DIR}/displacement.bp"
SNAPSHOT_VTU = f"{FIELDS_DIR}/snapshot.vtu"  # the fields the pictures are drawn from (µm, °C)
SNAPSHOT_JSON = f"{FIELDS_DIR}/snapshot.json"  # its metadata (layers, pattern, crater)
FRAMES_VTU = f"{FIELDS_DIR}/frames.vtu"  # the temperatures of the animation
FRAMES_JSON = f"{FIELDS_DIR}/frames.json"
EPIDERMIS_VTU = f"{FIELDS_DIR}/epidermis.vtu"  # basal plane of the epidermis: wound closure
HEALING_BP = f"{FIELDS_DIR}/healing.bp"  # VTX (ADIOS2): the healing fields over days
# time series for every ParaView (fem.output.series): a PVD, its VTU pieces in the folder of
# its stem (fields/temperature/temperature_000.vtu, ...)
TEMPERATURE_PVD = f"{FIELDS_DIR}/temperature.pvd"  # the thermal run at the animation's times
DISPLACEMENT_PVD = f"{FIELDS_DIR}/displacement.pvd"  # at the mechanics output times and the end
HEALING_PVD = f"{FIELDS_DIR}/healing.pvd"  # the healing fields at the output days

CHECKPOINT_DIR = "checkpoint"
CHECKPOINT_STATE = f"{CHECKPOINT_DIR}/state.npz"
CHECKPOINT_HEALING = f"{CHECKPOINT_DIR}/healing.npz"  # the healing stage (fem.run.course)

# -- the pictures of a case (renders/) ------------------------------------------------------
RENDERS_DIR = "renders"
TEMPERATURE_PNG = "temperature_end_of_pulse.png"
TEMPERATURE_PEAK_PNG = "temperature_peak.png"
TEMPERATURE_END_PNG = "temperature_end.png"
DAMAGE_PNG = "damage_contours.png"
HISTOLOGY_PNG = "histology.png"
ISOSURFACES_PNG = "damage_isosurfaces.png"
VON_MISES_PNG = "von_mises.png"
PRINCIPAL_1_PNG = "principal_stress_1.png"
PRINCIPAL_3_PNG = "principal_stress_3.png"
SURFACE_PNG = "surface_displacement.png"
OVERVIEW_PNG = "overview_3d.png"
COVERAGE_PNG = "coverage_top.png"
PROBES_PNG = "probes.png"
ANIMATION_GIF = "temperature.gif"
VIEW3D_HTML = "view3d.html"
MESH_CUT_PNG = "mesh_cut.png"
MESH_TOP_PNG = "mesh_top.png"
WOUND_CLOSURE_PNG = "wound_closure.png"
COLLAGEN_PNG = "collagen_remodelling.png"
HEALING_TIMELINE_PNG = "healing_timeline.png"

# -- a mesh (mtz mesh) ----------------------------------------------------------------------
MESH_XDMF = "mesh.xdmf"
MESH_VTU = "mesh.vtu"
MESH_JSON = "mesh.json"
MESH_QUALITY_JSON = "mesh_quality.json"

# -- a study (mtz study) --------------------------------------------------------------------
STUDY_JSON = "study.json"  # the study and its expanded cases
STUDY_METRICS_CSV = "metrics.csv"  # one row per case
PLOTS_DIR = "plots"
CALIBRATION_PNG = "calibration.png"
CALIBRATION_JSON = "calibration.json"
FIT_JSON = "fit.json"  # mtz calibrate: fitted values, residuals, evaluations
PLAN_JSON = "plan.json"  # mtz plan: the recommendation, its outcome, every run
PLAN_HTML = "plan.html"
PLAN_RUNS_DIR = "runs"  # the plan's runs of one session, a study's case directories
RECOMMENDED_TOML = "recommended.toml"  # the recommended case, for mtz run
RECOMMENDED_DIR = "recommended"  # its verifying run
TRADEOFF_PNG = "tradeoff.png"
SLURM_SH = "slurm.sh"
SLURM_DIR = "slurm"

# -- the benchmarks (results/bench/, make bench-*) -------------------------------------------
BENCH_MESH_JSON = "mesh_scaling.json"  # make bench-mesh: cells against columns and area
BENCH_PIPELINE_JSON = "pipeline.json"  # make bench-pipeline: a patch end to end
BENCH_MECHANICS_JSON = "mechanics.json"  # make bench-mechanics: demo pattern against production
BENCH_MECHANICS_RUNS_DIR = "mechanics_runs"  # its workers' records and displacements


def format_value(value: Any) -> str:
    """A value as it appears in a directory name."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = format(value, "g")
        if float(text) != value:
            text = repr(value)
    elif isinstance(value, list):
        text = "x".join(format_value(v) for v in value)
    else:
        text = str(value)
    return re.sub(r"[^A-Za-z0-9_.+-]+", "-", text).strip("-") or "none"


def case_name(params: dict[str, Any]) -> str:
    """Directory name of a study's case from its parameters: the last part of each key (the
    whole key where two keys end alike) and the value, ``energy_mJ-20_preset-co2_10600``."""
    if not params:
        return "base"
    last = [k.split(".")[-1] for k in params]
    parts = []
    for key, short in zip(params, last):
        label = short if last.count(short) == 1 else key.replace(".", "-")
        parts.append(f"{label}-{format_value(params[key])}")
    return "_".join(parts)

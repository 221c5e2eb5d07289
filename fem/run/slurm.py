"""A study as a Slurm job array: one array task per case (``mtz study --slurm``)."""

from __future__ import annotations

import shlex
from pathlib import Path

from fem.output import names
from fem.output.files import atomic_write_text

#: Seconds before the time limit at which Slurm sends SIGTERM (``--signal=TERM@...``).
SIGNAL_SECONDS = 300


def write_slurm(study, out: Path, study_arg: str | None = None) -> Path:
    """``OUT/slurm.sh``: a job array with one task per case, each ``srun -n <ranks>``.

    Every task runs ``mtz study STUDY -o OUT --case $SLURM_ARRAY_TASK_ID --resume`` (so a
    requeued task continues from its checkpoint); ``$MTZ`` may name the command inside a
    container (``MTZ="apptainer exec mtz-fem.sif mtz" sbatch slurm.sh``). Gather the table
    afterwards with ``mtz study STUDY -o OUT --resume`` (every case finished: it only writes
    ``metrics.csv`` and the report).

    Slurm sends SIGTERM to every rank :data:`SIGNAL_SECONDS` before the time limit
    (``--signal``) and on preemption: the case checkpoints at the end of its step and exits
    with 143 (:mod:`fem.run.signals`), and the task requeues itself (``scontrol requeue``) to
    continue with ``--resume``; :data:`SIGNAL_SECONDS` covers the longest step or phase of a
    100-column patch (the mechanics, about 2 minutes on 2 ranks) and the checkpoint.
    """
    out = Path(out).resolve()
    study_path = Path(study_arg or study.path).resolve()
    ranks = [c.ranks for c in study.cases]
    sets = "".join(f" --set {shlex.quote(s)}" for s in study.overrides)
    cmd = f"study {shlex.quote(str(study_path))} -o {shlex.quote(str(out))}{sets}"
    lines = [
        "#!/bin/bash",
        f"# MTZ-FEM study {study.title!r}: {len(ranks)} case(s), one array task each.",
        "# Written by `mtz study --slurm`. Submit, then gather the table when all tasks end:",
        "#   jid=$(sbatch --parsable slurm.sh)",
        f"#   sbatch --dependency=afterany:$jid --ntasks=1 --wrap \"mtz {cmd} --resume\"",
        "# In a container: MTZ=\"apptainer exec mtz-fem.sif mtz\" sbatch slurm.sh",
        f"#SBATCH --job-name=mtz-{names.format_value(study.path.stem)}",
        f"#SBATCH --array=0-{len(ranks) - 1}",
        f"#SBATCH --ntasks={max(ranks)}",
        "#SBATCH --cpus-per-task=1",
        f"#SBATCH --output={out}/{names.SLURM_DIR}/%A_%a.out",
        "#SBATCH --open-mode=append",
        "# SIGTERM to every rank before the time limit: checkpoint after the step, exit 143",
        f"#SBATCH --signal=TERM@{SIGNAL_SECONDS}",
        "#SBATCH --requeue",
        "set -euo pipefail",
        "MTZ=${MTZ:-mtz}",
        "export OMP_NUM_THREADS=1 PYVISTA_OFF_SCREEN=true",
        f"RANKS=({' '.join(str(r) for r in ranks)})",
        "n=${RANKS[$SLURM_ARRAY_TASK_ID]}",
        "status=0",
        f"srun -n \"$n\" $MTZ {cmd} --case \"$SLURM_ARRAY_TASK_ID\" --resume || status=$?",
        "if [ \"$status\" -eq 143 ]; then  # stopped by the signal, checkpointed: continue",
        "  scontrol requeue \"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\"",
        "fi",
        "exit \"$status\"",
        "",
    ]
    (out / names.SLURM_DIR).mkdir(parents=True, exist_ok=True)
    path = out / names.SLURM_SH
    atomic_write_text(path, "\n".join(lines))
    path.chmod(0o755)
    return path

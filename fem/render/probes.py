"""The probe histories: ``probes.csv`` read into arrays and drawn with matplotlib
(temperature and damage integrals against time).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from fem.output.names import PROBES_CSV, PROBES_PNG
from fem.render.snapshot import OMEGA_FLOOR, read_csv_table
from fem.render.style import WINDOW_SIZE

logger = logging.getLogger(__name__)


def read_probes(path: Path) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]] | None:
    """Parse ``probes.csv``.

    Args:
        path: The CSV file (header ``time_ms,<probe>_T_C,<probe>_omega_cell,...``).

    Returns:
        ``(time_ms, {probe: {quantity: values}})`` with quantity ``T_C`` or
        ``omega_<kind>`` (other columns: the text after the last underscore),
        or None if the file is missing or has no usable data.
    """
    table = read_csv_table(path)
    if table is None:
        return None
    header, data = table
    tcol = next((j for j, h in enumerate(header) if h.lower().startswith("time")), 0)
    time = data[:, tcol]
    probes: dict[str, dict[str, np.ndarray]] = {}
    for j, h in enumerate(header):
        if j == tcol:
            continue
        match = re.fullmatch(r"(.+?)_(T_C|omega_[A-Za-z0-9]+)", h)
        if match:
            probe, qty = match.groups()
        else:
            probe, _, qty = h.rpartition("_")
        probes.setdefault(probe or h, {})[qty or h] = data[:, j]
    return time, probes


def render_probes(
    result_dir: Path, out_dir: Path, pulse_end_ms: float | None = None
) -> Path | None:
    """Temperature (and damage, if present) against time at each probe.

    Args:
        result_dir: The results directory holding ``probes.csv``.
        out_dir: Directory for the PNG.
        pulse_end_ms: End of the laser pulse, marked by a vertical line if known.

    Returns:
        Path of ``probes.png``, or None if there is no probe file.
    """
    parsed = read_probes(Path(result_dir) / PROBES_CSV)
    if parsed is None:
        logger.warning("no usable %s in %s: skipping %s", PROBES_CSV, result_dir, PROBES_PNG)
        return None
    time, probes = parsed
    temps = {k: v["T_C"] for k, v in probes.items() if "T_C" in v}
    damage = {(k, q): v[q] for k, v in probes.items() for q in v if q.startswith("omega_")}
    if not temps and not damage:
        logger.warning("%s has no temperature or damage columns: skipping %s", PROBES_CSV,
                       PROBES_PNG)
        return None

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ncols = 2 if damage else 1
    fig = Figure(figsize=(WINDOW_SIZE[0] / 100, WINDOW_SIZE[1] / 100), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    positive = time > 0
    logx = bool(np.count_nonzero(positive) >= 2) and (
        np.nanmax(time[positive]) / np.nanmin(time[positive]) > 20.0
    )
    mask = positive if logx else np.isfinite(time)
    import matplotlib as mpl

    cycle = mpl.colormaps["tab10"].colors
    colors = {name: cycle[i % len(cycle)] for i, name in enumerate(probes)}

    ax = axes[0]
    for name, values in temps.items():
        ax.plot(time[mask], values[mask], lw=2, color=colors[name], label=name)
    ax.set_title("Temperature at the probes")
    ax.set_ylabel("Temperature (°C)")
    if damage:
        ax2 = axes[1]
        for (name, qty), values in damage.items():
            ls = {"omega_collagen": "-", "omega_cell": "--"}.get(qty, ":")
            y = np.clip(values[mask], OMEGA_FLOOR, None)
            ax2.plot(
                time[mask],
                y,
                ls=ls,
                lw=2,
                color=colors[name],
                label=f"{name} {qty.replace('omega_', 'Ω ')}",
            )
        ax2.set_yscale("log")
        ax2.axhline(1.0, color="k", lw=1, alpha=0.6)
        ax2.text(0.01, 1.0, " Ω = 1", transform=ax2.get_yaxis_transform(), va="bottom")
        styles = "solid: collagen, dashed: cell"
        if any(q not in ("omega_collagen", "omega_cell") for _, q in damage):
            styles += ", dotted: other"
        ax2.set_title(f"Damage integral at the probes ({styles})")
        ax2.set_ylabel("Ω (dimensionless)")
        lo, hi = ax2.get_ylim()
        if hi > 1e-12 > lo:  # do not spend decades on negligible damage
            ax2.set_ylim(1e-12, hi)
    for a in axes:
        if logx:
            a.set_xscale("log")
        a.set_xlabel("Time (ms)" + (", log scale" if logx else ""))
        a.grid(True, which="major", alpha=0.4)
        if pulse_end_ms is not None and (not logx or pulse_end_ms > 0):
            a.axvline(pulse_end_ms, color="0.3", ls=":", lw=1.5, label="end of pulse")
        a.legend(fontsize=8, loc="best")
    fig.suptitle("Probe histories", fontsize=14)
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / PROBES_PNG
    fig.savefig(path, dpi=100, facecolor="white")
    logger.info("wrote %s", path)
    return path

"""The course of the healing stage over hours to months: ``healing.csv`` read into arrays
(:func:`read_healing_csv`) and drawn with matplotlib against the time after the pulse on a
log axis (:func:`render_healing_timeline`), the milestones of ``metrics.json`` marked.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from fem.output.names import HEALING_CSV, HEALING_TIMELINE_PNG, METRICS_JSON
from fem.render.healing import _figure, _read_json, _save, fmt_hours, healing_meta
from fem.render.snapshot import Snapshot, _as_float, read_csv_table
from fem.render.style import WINDOW_SIZE

logger = logging.getLogger(__name__)


#: The late tightening columns of ``healing.csv`` (filled only where mechanics was solved).
LATE_COLUMNS: tuple[str, str] = ("late_tightening_area_percent",
                                 "late_linear_contraction_percent")

def read_healing_csv(path: Path) -> dict[str, np.ndarray] | None:
    """``healing.csv`` as ``{column: values}``; empty cells are NaN.

    Returns:
        The columns (with ``time_days`` made from ``time_h`` if missing), or None when the
        file is missing or has no rows.
    """
    table = read_csv_table(path)
    if table is None:
        return None
    header, data = table
    columns = {h: data[:, j] for j, h in enumerate(header)}
    if "time_days" not in columns and "time_h" in columns:
        columns["time_days"] = columns["time_h"] / 24.0
    return columns if "time_days" in columns else None




#: Round times (days) and their labels for the log time axis.
_TIME_TICKS = ((1 / 1440, "1 min"), (10 / 1440, "10 min"), (1 / 24, "1 h"), (6 / 24, "6 h"),
               (1.0, "1 d"), (3.0, "3 d"), (7.0, "1 wk"), (14.0, "2 wk"), (28.0, "4 wk"),
               (90.0, "3 mo"), (180.0, "6 mo"), (365.0, "1 yr"))


def _time_axis(ax: Any, lo: float, hi: float) -> None:
    """Log time axis from ``lo`` to a little past ``hi`` (days), ticks at round times."""
    ticks = [(t, label) for t, label in _TIME_TICKS if lo <= t <= hi * 1.0001]
    ax.set_xscale("log")
    ax.set_xlim(lo, hi * 1.25)
    if len(ticks) >= 2:
        from matplotlib.ticker import NullFormatter

        ax.set_xticks([t for t, _ in ticks], [label for _, label in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.grid(True, which="major", alpha=0.35)


def _marks(ax: Any, marks: list[tuple[float | None, str, Any]], lo: float, hi: float) -> None:
    """Dotted vertical lines at the days of ``marks`` with their labels along them.

    A label goes left of its line, unless the previous line is close (in log time): then
    right of it, so that the labels of near milestones do not overlap.
    """
    shown = sorted((d, label, color) for d, label, color in marks
                   if d is not None and lo < d <= hi * 1.25)
    previous = -math.inf
    for day, label, color in shown:
        near = math.log10(day) - previous < 0.12
        ax.axvline(day, color=color, ls=":", lw=1.6)
        ax.text(day, 0.97, " " + label + " ", rotation=90, va="top",
                ha="left" if near else "right", transform=ax.get_xaxis_transform(),
                fontsize=9, color=color,
                bbox={"facecolor": "white", "alpha": 0.75, "lw": 0, "pad": 1.0})
        previous = math.log10(day)


def render_healing_timeline(result_dir: Path, out_dir: Path,
                            snap: Snapshot | None = None) -> Path | None:
    """The course of the healing against time after the pulse (days, log scale).

    Top: the open epidermal defect and the debris (MENDs at the surface), with the depth of
    the deepest MEND on a second axis. Middle: the activated fibroblasts and the collagen
    (new type III and type I, denatured). Bottom, where mechanics was solved: the late
    tightening (area and linear) at those days. Re-epithelialisation, MEND shedding,
    downtime and the end of remodelling are marked where ``metrics.json`` (or, before it is
    written, the ``healing`` entry of ``snapshot.json``) has them.

    Args:
        result_dir: The results directory (``healing.csv``, ``metrics.json``).
        out_dir: Directory for the PNG.
        snap: The loaded snapshot, only for its metadata (the ``healing`` key); read from
            ``snapshot.json`` if None.

    Returns:
        Path of ``healing_timeline.png``, or None without healing or ``healing.csv``.
    """
    healing = healing_meta(result_dir, snap)
    if healing is None:
        return None
    data = read_healing_csv(Path(result_dir) / HEALING_CSV)
    if data is None:
        logger.warning("no usable %s in %s: skipping %s", HEALING_CSV, result_dir,
                       HEALING_TIMELINE_PNG)
        return None
    metrics = _read_json(Path(result_dir) / METRICS_JSON) or {}
    t = data["time_days"]
    keep = np.isfinite(t) & (t > 0)
    if np.count_nonzero(keep) < 2:
        logger.warning("%s has fewer than two positive times: skipping %s", HEALING_CSV,
                       HEALING_TIMELINE_PNG)
        return None
    lo, hi = float(t[keep].min()), float(t[keep].max())
    tt = t[keep]

    def column(name: str) -> np.ndarray | None:
        values = data.get(name)
        return values[keep] if values is not None and np.isfinite(values[keep]).any() else None

    def metric(name: str) -> float | None:
        # metrics.json is written after the pictures of a run: the milestones the solver also
        # puts in the healing entry of snapshot.json are taken from there.
        return _as_float(metrics.get(name, healing.get(name)))

    late = {k: data[k] for k in LATE_COLUMNS if k in data and np.isfinite(data[k][keep]).any()}
    nrows = 3 if late else 2
    fig = _figure(WINDOW_SIZE[0] / 100, WINDOW_SIZE[1] / 100 * (1.15 if late else 1.0))
    axes = fig.subplots(nrows, 1, sharex=True,
                        gridspec_kw={"height_ratios": [1.0, 1.0, 0.6][:nrows]})
    import matplotlib as mpl

    c = mpl.colormaps["tab10"].colors

    ax = axes[0]
    for name, label, color in (("open_defect_percent", "open epidermal defect", c[3]),
                               ("debris_percent", "debris at the surface (MENDs)", c[5])):
        y = column(name)
        if y is not None:
            ax.plot(tt, y, lw=2.2, color=color, label=label)
    ax.set_ylabel("Share of the skin (%)")
    ax.set_ylim(bottom=0.0)
    ax.set_title("Epidermis: wound closure and MEND shedding", fontsize=12, loc="left")
    lines, labels = ax.get_legend_handles_labels()
    depth = column("mend_depth_um")
    if depth is not None:
        ax2 = ax.twinx()
        (line,) = ax2.plot(tt, depth, lw=1.8, ls="--", color="0.35",
                           label="depth of the deepest MEND (right axis)")
        ax2.set_ylabel("MEND depth below the surface (µm)")
        ax2.set_ylim(bottom=0.0, top=max(float(np.nanmax(depth)) * 1.1, 1.0))
        lines, labels = lines + [line], labels + [line.get_label()]
    if lines:
        ax.legend(lines, labels, fontsize=9, loc="center left")
    reep, shed, down = (metric("reepithelialization_h"), metric("mend_shed_days"),
                        metric("downtime_days"))
    _marks(ax, [
        (reep / 24.0 if reep else None, f"epidermis closed, {fmt_hours(reep or 0.0)}", c[3]),
        (shed, f"MENDs shed, day {shed:.3g}" if shed else "", c[5]),
        (down, f"downtime {down:.3g} days" if down else "", "0.3"),
    ], lo, hi)

    ax = axes[1]
    for name, label, color, style in (
        ("activated_fibroblasts_percent", "activated fibroblasts", c[1], "-"),
        ("collagen_III_percent", "new collagen III", c[2], "-"),
        ("collagen_I_percent", "new collagen I", c[0], "-"),
        ("denatured_collagen_percent", "denatured collagen", "black", "--"),
    ):
        y = column(name)
        if y is not None:
            ax.plot(tt, y, lw=2.2, ls=style, color=color, label=label)
    ax.set_ylabel("Share (%)")
    ax.set_ylim(bottom=0.0)
    ax.set_title("Dermis: fibroblasts and collagen", fontsize=12, loc="left")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=9, loc="upper left")
    done = metric("remodelling_complete_days")
    _marks(ax, [(done, f"95 % remodelled, day {done:.3g}" if done else "", "0.3")], lo, hi)

    if late:
        ax = axes[2]
        for (name, values), label, color, marker in zip(
                late.items(), ("area", "linear"), (c[4], c[9]), ("o", "s")):
            ok = keep & np.isfinite(values)
            ax.plot(t[ok], values[ok], ls=":", lw=1.2, marker=marker, ms=8, color=color,
                    label=f"late tightening, {label}")
            for x, y in zip(t[ok], values[ok]):
                ax.annotate(f"{y:.2g} %", (x, y), textcoords="offset points", xytext=(-8, 7),
                            ha="right", fontsize=9, color=color)
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.set_ylabel("Shrinkage (%)")
        ax.set_title("Late tightening from the remodelling (where mechanics was solved)",
                     fontsize=12, loc="left")
        ax.legend(fontsize=9, loc="upper left")
        ymin, ymax = ax.get_ylim()
        ax.set_ylim(min(ymin, 0.0), ymax + 0.25 * (ymax - min(ymin, 0.0)))
    for a in axes:
        _time_axis(a, lo, hi)
    axes[-1].set_xlabel("Time after the pulse (log scale)")
    fig.suptitle("After the treatment: the course of the healing", fontsize=14)
    fig.tight_layout()
    return _save(fig, Path(out_dir) / HEALING_TIMELINE_PNG)

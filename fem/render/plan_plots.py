"""The trade-off chart of ``mtz plan`` (matplotlib, off screen): the surrogate's predictions on
the search grid, the model runs, the targets and the recommendation.

Drawn from the plan's result dictionary (``plan.json``) alone, so a written plan can be drawn
again. Two panels: the column depth against the downtime of one session, with the targets
shaded, and the efficacy of the course against its downtime, with the Pareto front.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fem.post.tradeoff import pareto
from fem.render.style import COVERAGE_CMAP

#: The efficacy metric of each goal (y axis of the trade-off panel) and its axis label.
EFFICACY: dict[str, tuple[str, str]] = {
    "tone_pigment": ("course_pigment_cleared_percent", "pigment cleared over the course (%)"),
    "scar_elasticity": ("new_collagen_percent", "new collagen at the outcome day (%)"),
    "rapid_recovery": ("new_collagen_percent", "new collagen at the outcome day (%)"),
}
#: The target that bounds each efficacy metric from below.
EFFICACY_TARGET: dict[str, str] = {
    "course_pigment_cleared_percent": "min_pigment_cleared_percent",
    "new_collagen_percent": "min_new_collagen_percent",
}
#: Colour of the recommendation (and of the nearest setting of an infeasible plan).
PICK_COLOR: str = "#d62728"
#: Fill colour of the targets' region.
TARGET_FILL: str = "#b7e4b0"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _efficacy(result: Mapping[str, Any]) -> tuple[str, str]:
    """The efficacy metric of the plan's goal and its axis label."""
    goal = result.get("goal")
    if goal in EFFICACY:
        return EFFICACY[goal]
    targets = result.get("targets") or {}
    if "min_pigment_cleared_percent" in targets:
        return EFFICACY["tone_pigment"]
    return EFFICACY["scar_elasticity"]


def _pick(result: Mapping[str, Any]) -> tuple[dict, str, str]:
    """The predicted outcome of the recommendation (or of the nearest setting), its legend
    label and marker."""
    rec = result.get("recommended")
    if isinstance(rec, Mapping) and isinstance(rec.get("predicted"), Mapping):
        return dict(rec["predicted"]), "recommended", "*"
    near = result.get("nearest")
    if isinstance(near, Mapping) and isinstance(near.get("predicted"), Mapping):
        return dict(near["predicted"]), "nearest", "X"
    return {}, "", ""


def _span(values: list[float], extra: list[float]) -> tuple[float, float]:
    """Axis limits holding ``values`` and ``extra`` with a 6 % margin."""
    every = [v for v in values + extra if _is_number(v)]
    if not every:
        return 0.0, 1.0
    lo, hi = min(every), max(every)
    pad = 0.06 * (hi - lo) if hi > lo else max(abs(hi) * 0.1, 1.0)
    return lo - pad, hi + pad


def _draw_pick(ax, pred: dict, label: str, marker: str, xkey: str, ykey: str) -> None:
    if not (label and _is_number(pred.get(xkey)) and _is_number(pred.get(ykey))):
        return
    size = 320 if marker == "*" else 160
    ax.scatter([pred[xkey]], [pred[ykey]], marker=marker, s=size, c=PICK_COLOR,
               edgecolors="black", linewidths=0.8, zorder=6, label=label)


def _draw_candidates(ax, pts: list[dict], xk: str, yk: str, norm, cmap) -> None:
    """The surrogate's predictions, small and coloured by coverage; those predicted to meet
    every target with a black edge."""
    if not pts:
        return
    cov = [c["coverage_percent"] if _is_number(c.get("coverage_percent")) else math.nan
           for c in pts]
    ax.scatter([c[xk] for c in pts], [c[yk] for c in pts], c=cov, cmap=cmap, norm=norm, s=22,
               alpha=0.6, linewidths=0, zorder=2)
    ax.scatter([], [], s=22, c="#888888", alpha=0.6, linewidths=0,
               label="surrogate predictions")  # a neutral legend entry
    good = [c for c in pts if c.get("feasible") is True]
    if good:
        ax.scatter([c[xk] for c in good], [c[yk] for c in good], s=22, facecolors="none",
                   edgecolors="black", linewidths=0.7, zorder=3,
                   label="predicted to meet the targets")


def _depth_panel(ax, result: Mapping[str, Any], cands: list[dict], norm, cmap) -> None:
    """Left panel: depth against the downtime of one session, the targets shaded."""
    xk, yk = "depth_um", "downtime_days"
    pts = [c for c in cands if _is_number(c.get(xk)) and _is_number(c.get(yk))]
    runs = [r for r in result.get("runs") or [] if isinstance(r, Mapping)
            and r.get("status") == "ok" and _is_number(r.get(xk)) and _is_number(r.get(yk))]
    targets = result.get("targets") or {}
    depth = targets.get("depth_um")
    depth = list(depth) if isinstance(depth, (list, tuple)) and len(depth) == 2 else None
    if depth is not None and not all(_is_number(v) for v in depth):
        depth = None
    max_down = targets.get("max_downtime_days")
    max_down = max_down if _is_number(max_down) else None
    pred, label, marker = _pick(result)

    xs = [c[xk] for c in pts] + [r[xk] for r in runs] + [pred.get(xk)]
    ys = [c[yk] for c in pts] + [r[yk] for r in runs] + [pred.get(yk)]
    xlim = _span([v for v in xs if _is_number(v)], depth or [])
    ylim = _span([v for v in ys if _is_number(v)], [max_down] if max_down is not None else [])
    if all(v >= 0 for v in ys if _is_number(v)):  # downtimes: the axis starts at zero
        ylim = (0.0, ylim[1])
    if depth is not None or max_down is not None:
        from matplotlib.patches import Rectangle

        x0, x1 = depth if depth is not None else xlim
        y0, y1 = ylim[0], max_down if max_down is not None else ylim[1]
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, facecolor=TARGET_FILL, alpha=0.45,
                               edgecolor="#3c8d2f", linewidth=0.8, zorder=0, label="targets"))

    _draw_candidates(ax, pts, xk, yk, norm, cmap)
    if runs:
        ax.scatter([r[xk] for r in runs], [r[yk] for r in runs], s=70, facecolors="none",
                   edgecolors="black", linewidths=1.4, zorder=4, label="model runs")
    _draw_pick(ax, pred, label, marker, xk, yk)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel("column depth (µm)")
    ax.set_ylabel("downtime per session (days)")
    ax.set_title("Depth against downtime")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")


def _tradeoff_panel(ax, result: Mapping[str, Any], cands: list[dict], norm, cmap) -> None:
    """Right panel: efficacy of the course against its downtime, with the Pareto front."""
    xk = "course_downtime_days"
    yk, ylabel = _efficacy(result)
    pts = [c for c in cands if _is_number(c.get(xk)) and _is_number(c.get(yk))]
    targets = result.get("targets") or {}
    _draw_candidates(ax, pts, xk, yk, norm, cmap)
    if pts:
        points = [(float(c[xk]), float(c[yk])) for c in pts]
        front = [points[i] for i in pareto(points)]
        if front:
            ax.step([p[0] for p in front], [p[1] for p in front], where="post",
                    color="#333333", linewidth=1.5, zorder=4, label="Pareto front")
    target = targets.get(EFFICACY_TARGET.get(yk, ""))
    if _is_number(target):
        ax.axhline(target, color="#3c8d2f", linestyle="--", linewidth=1.2, zorder=1,
                   label="efficacy target")
    max_course = targets.get("max_course_downtime_days")
    if _is_number(max_course):
        ax.axvline(max_course, color="#3c8d2f", linestyle=":", linewidth=1.2, zorder=1,
                   label="course downtime target")
    pred, label, marker = _pick(result)
    _draw_pick(ax, pred, label, marker, xk, yk)
    ax.set_xlabel("downtime of the course (days)")
    ax.set_ylabel(ylabel)
    ax.set_title("Trade-off")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")


def plot_tradeoff(result: dict, path: Path) -> Path | None:
    """Draw the trade-off chart of a plan.

    Args:
        result: the plan's result dictionary (``plan.json``): its ``candidates`` (surrogate
            predictions on the search grid), ``runs``, ``targets``, ``goal``, ``title`` and
            ``recommended`` (or ``nearest``).
        path: the PNG to write.

    Returns:
        ``path``, or None when the plan has no candidates.
    """
    cands = [c for c in result.get("candidates") or [] if isinstance(c, Mapping)]
    if not cands:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

    cov = [c.get("coverage_percent") for c in cands if _is_number(c.get("coverage_percent"))]
    lo, hi = (min(cov), max(cov)) if cov else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    norm = Normalize(vmin=lo, vmax=hi)
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap

    # the palest colours of the map vanish on white: keep its darker 3/4
    cmap = ListedColormap(plt.get_cmap(COVERAGE_CMAP)([0.25 + 0.75 * i / 255 for i in range(256)]))

    fig, (left, right) = plt.subplots(1, 2, figsize=(12.5, 5.0), layout="constrained")
    _depth_panel(left, result, cands, norm, cmap)
    _tradeoff_panel(right, result, cands, norm, cmap)
    if cov:
        fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=[left, right],
                     label="coverage per session (%)", shrink=0.9)
    fig.suptitle(str(result.get("title") or "Plan"))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.png")
    try:
        fig.savefig(tmp, dpi=90)
    finally:
        plt.close(fig)
    tmp.replace(path)
    return path

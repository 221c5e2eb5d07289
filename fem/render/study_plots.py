"""The plots of a study: its metrics against each swept key (matplotlib, off screen).

Drawn from the rows of the study's metrics table (one dict per case: its parameters, its
``status`` and its metrics), so a killed and resumed study draws the same plots.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from fem.output.names import format_value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def plot_study(study, rows: list[dict], plot_dir: Path) -> list[Path]:
    """One figure per x axis (each swept key, then each ``plot_against`` metric), with one
    panel per metric and one line per combination of the other swept values.

    Args:
        study: the study (its ``title``, ``sweep``, ``metrics`` and ``plot_against``).
        rows: the rows of its metrics table.
        plot_dir: where the figures go.

    Returns:
        The written figures.
    """
    ok = [r for r in rows if r["status"] == "ok"]
    metrics = [m for m in study.metrics if any(_is_number(r.get(m)) for r in ok)]
    if not ok or not metrics:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plot_dir.mkdir(parents=True, exist_ok=True)
    swept = list(study.sweep)
    paths = []
    for x_key in swept + [k for k in study.plot_against if k not in swept]:
        if x_key in swept:
            others = [k for k in swept if k != x_key]
        else:  # a metric as x axis: it follows the first swept key
            others = swept[1:]
        xs_all = [r.get(x_key) for r in ok]
        numeric = all(_is_number(x) for x in xs_all)
        categories = list(dict.fromkeys(format_value(x) for x in xs_all))
        ncol = min(3, len(metrics))
        nrow = math.ceil(len(metrics) / ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.3 * nrow), squeeze=False)
        groups = {}
        for r in ok:
            groups.setdefault(tuple(format_value(r.get(k)) for k in others), []).append(r)
        for ax, metric in zip(axes.flat, metrics):
            for label, members in groups.items():
                pts = [(r[x_key], r[metric]) for r in members if _is_number(r.get(metric))]
                if not pts:
                    continue
                if numeric:
                    pts.sort()
                    x = [p[0] for p in pts]
                else:
                    x = [categories.index(format_value(p[0])) for p in pts]
                name = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in zip(others, label))
                ax.plot(x, [p[1] for p in pts], "o-", label=name or None)
            if numeric:
                xv = [x for x in xs_all if x > 0]
                if len(xv) == len(xs_all) and max(xv) / min(xv) > 20:
                    ax.set_xscale("log")
            else:
                ax.set_xticks(range(len(categories)), categories, rotation=20)
            ax.set_xlabel(x_key)
            ax.set_ylabel(metric)
            ax.grid(alpha=0.3)
            if len(groups) > 1:
                ax.legend(fontsize=7)
        for ax in list(axes.flat)[len(metrics):]:
            ax.set_visible(False)
        fig.suptitle(f"{study.title}: metrics against {x_key}")
        fig.tight_layout()
        path = plot_dir / f"vs_{x_key.replace('.', '_')}.png"
        tmp = path.with_name(path.stem + ".tmp.png")
        fig.savefig(tmp, dpi=90)
        plt.close(fig)
        tmp.replace(path)
        paths.append(path)
    return paths

"""The plots of a study: its metrics against each swept key (matplotlib, off screen).

Drawn from the rows of the study's metrics table (one dict per case: its parameters, its
``status`` and its metrics), so a killed and resumed study draws the same plots. Which metrics
get a panel is :func:`panel_metrics` (the study report lists the same ones); the axes are
labelled by :func:`fem.report.captions.axis_label` ("Column depth (µm)").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from fem.output.names import format_value
from fem.post.glossary import lookup

#: Metrics of the computation rather than of the treatment (wall times and counts: cells,
#: DOFs, steps, iterations, ranks, photons): the glossary's "Run" group and these.
BOOKKEEPING_EXTRA = ("light_photons", "light_seconds")
#: Swept keys that make a study one of the computation itself (scaling, convergence): there
#: the bookkeeping metrics are what the study is for, and they keep their panels.
COMPUTE_KEYS = ("ranks", "mesh.")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_bookkeeping(metric: str) -> bool:
    """Whether ``metric`` counts the computation (wall time, cells, DOFs, steps, iterations)."""
    entry = lookup(metric)
    return metric in BOOKKEEPING_EXTRA or (entry is not None and entry.group == "Run")


def is_constant(metric: str, rows: Iterable[Mapping[str, Any]]) -> bool:
    """Whether the numeric values of ``metric`` in ``rows`` are all the same (to 1e-9 of the
    largest; a metric no row has a number for counts as constant)."""
    values = [float(r[metric]) for r in rows if _is_number(r.get(metric))]
    if not values:
        return True
    scale = max(abs(v) for v in values)
    return max(values) - min(values) <= 1e-9 * scale


def computes(sweep: Iterable[str], plot_against: Iterable[str] = ()) -> bool:
    """Whether a study is one of the computation itself: it sweeps the ranks or the mesh, or
    plots against a bookkeeping metric (e.g. ``plot_against = ["dofs"]``)."""
    swept = [k for k in sweep if any(k == c or (c.endswith(".") and k.startswith(c))
                                     for c in COMPUTE_KEYS)]
    return bool(swept) or any(is_bookkeeping(k) for k in plot_against)


def left_out(metrics: Iterable[str], rows: Iterable[Mapping[str, Any]],
             sweep: Iterable[str] = (), plot_against: Iterable[str] = ()) -> dict[str, str]:
    """The metrics that get no panel, each with why: ``"no value"`` (no finished case has a
    number for it), ``"constant"`` (the same in every finished case, when there are two or
    more: ablation depth 0 at 1550 nm) or ``"bookkeeping"`` (:func:`is_bookkeeping`: wall time,
    counts; kept in a study of the computation, :func:`computes`).

    Args:
        metrics: the study's metrics (``metrics`` of the study file).
        rows: the rows of its metrics table; those with a ``status`` other than ``ok`` are
            skipped (rows without a status count as finished).
        sweep: the swept keys.
        plot_against: the metrics used as extra x axes.
    """
    ok = [r for r in rows if r.get("status", "ok") == "ok"]
    keep_counts = computes(list(sweep), list(plot_against))
    out = {}
    for m in dict.fromkeys(metrics):
        if not any(_is_number(r.get(m)) for r in ok):
            out[m] = "no value"
        elif len(ok) > 1 and is_constant(m, ok):
            out[m] = "constant"
        elif is_bookkeeping(m) and not keep_counts:
            out[m] = "bookkeeping"
    return out


def panel_metrics(metrics: Iterable[str], rows: Iterable[Mapping[str, Any]],
                  sweep: Iterable[str] = (), plot_against: Iterable[str] = ()) -> list[str]:
    """The metrics that get a panel, in the order asked for: those not :func:`left_out` (same
    arguments)."""
    metrics = list(dict.fromkeys(metrics))
    dropped = left_out(metrics, rows, sweep, plot_against)
    return [m for m in metrics if m not in dropped]


def x_axes(study) -> list[str]:
    """The x axes of the study's figures: each swept key, then each ``plot_against`` metric."""
    swept = list(study.sweep)
    return swept + [k for k in study.plot_against if k not in swept]


def plot_name(x_key: str) -> str:
    """The file name of the figure against ``x_key``."""
    return f"vs_{x_key.replace('.', '_')}.png"


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
    from fem.report.captions import axis_label, lower_first  # here: fem.report imports this

    ok = [r for r in rows if r["status"] == "ok"]
    every = panel_metrics(study.metrics, ok, study.sweep, study.plot_against)
    if not ok or not every:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plot_dir.mkdir(parents=True, exist_ok=True)
    swept = list(study.sweep)
    paths = []
    for x_key in x_axes(study):
        if x_key in swept:
            others = [k for k in swept if k != x_key]
        else:  # a metric as x axis: it follows the first swept key
            others = swept[1:]
        metrics = [m for m in every if m != x_key]  # not a metric against itself
        if not metrics:
            continue
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
                name = ", ".join(f"{lower_first(axis_label(k, unit=False))} {v}"
                                 for k, v in zip(others, label))
                ax.plot(x, [p[1] for p in pts], "o-", label=name or None)
            if numeric:
                xv = [x for x in xs_all if x > 0]
                if len(xv) == len(xs_all) and max(xv) / min(xv) > 20:
                    ax.set_xscale("log")
            else:
                ax.set_xticks(range(len(categories)), categories, rotation=20)
            ax.set_xlabel(axis_label(x_key))
            ax.set_ylabel(axis_label(metric))
            ax.grid(alpha=0.3)
            if len(groups) > 1:
                ax.legend(fontsize=7)
        for ax in list(axes.flat)[len(metrics):]:
            ax.set_visible(False)
        fig.suptitle(f"{study.title}: against {lower_first(axis_label(x_key))}")
        fig.tight_layout()
        path = plot_dir / plot_name(x_key)
        tmp = path.with_name(path.stem + ".tmp.png")
        fig.savefig(tmp, dpi=90)
        plt.close(fig)
        tmp.replace(path)
        paths.append(path)
    return paths

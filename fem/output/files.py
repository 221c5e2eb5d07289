"""Small result files (JSON, CSV, TOML, text, the metrics table of a study), written atomically.

Each is written to ``name.tmp`` and renamed, so a result file is never left half-written;
the callers write on one rank (rank 0 of the case's communicator, :func:`fem.parallel.on_root`).
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import tomli_w

KELVIN = 273.15


class OutputError(Exception):
    """The results cannot be written (no permission, a full disk): exit status 1, with the
    path and the reason; raised on every rank of the case."""


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (the temporary file
    is removed when the write fails)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path: Path, obj) -> None:
    """Atomic, indented JSON."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_case_toml(path: Path, resolved: dict) -> None:
    """The fully resolved case, enough to rerun it."""
    atomic_write_text(path, "# Resolved case (presets expanded)\n" + tomli_w.dumps(resolved))


def write_probes_csv(path: Path, names: list[str], purposes: list[str], times, values) -> None:
    """``probes.csv``: one row per time, temperature (C) and damage per probe."""
    buf = io.StringIO()
    w = csv.writer(buf)
    header = ["time_ms"]
    for name in names:
        header += [f"{name}_T_C"] + [f"{name}_omega_{p}" for p in purposes]
    w.writerow(header)
    for t, v in zip(times, values):  # v: (n_probes, 1 + n_purposes)
        row = [f"{t * 1e3:.6g}"]
        for p in range(v.shape[0]):
            row += [f"{v[p, 0] - KELVIN:.6g}"] + [f"{x:.6g}" for x in v[p, 1:]]
        w.writerow(row)
    atomic_write_text(path, buf.getvalue())


def csv_text(columns: tuple[str, ...], rows: list[dict]) -> str:
    """A table of numbers in the given column order, ``%.8g``; None is an empty cell
    (``mechanics.csv``, ``healing.csv``)."""
    lines = [",".join(columns)]
    lines += [",".join("" if r.get(k) is None else f"{r[k]:.8g}" for k in columns)
              for r in rows]
    return "\n".join(lines) + "\n"


def write_table(path: Path, rows: list[dict]) -> None:
    """``metrics.csv``: one row per case, columns in order of first appearance, written
    atomically; floats as their shortest exact repr."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns and k != "error"]
    if any("error" in row for row in rows):
        columns.append("error")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for row in rows:
        w.writerow(["" if row.get(k) is None else _csv_value(row[k]) for k in columns])
    atomic_write_text(path, buf.getvalue())


def _csv_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return repr(value) if isinstance(value, float) else str(value)

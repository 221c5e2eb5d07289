"""Mesh-building time against the number of columns (``make bench-mesh``).

Builds patches of 1, 10 and 100 columns at 400 columns/cm^2 (coarse resolution, face skin) for a
square grid (geometric columns, one fragment for all of them) and a single random pass (columns
that may overlap are refined by the size field and tagged by centroid), on one process, and
writes ``results/bench/mesh_scaling.json`` and a table on stdout: seconds, cells, seconds per
column and per million cells, and the minimum element quality.

    python -m fem.bench.mesh [--counts 1 10 100] [--out results/bench]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

from mpi4py import MPI  # noqa: F401  (before gmsh/dolfinx, see README)

from fem.config import load_case
from fem.run.mesh import geometry_from_case
from meshes.skin import build_skin_block, quality_summary

ROOT = Path(__file__).resolve().parents[2]
DENSITY = 400.0  # columns per cm2: pitch 500 um


def build_once(layout: str, n: int) -> dict:
    """Mesh a patch of about ``n`` columns; returns the timing record."""
    import gmsh

    patch_um = math.sqrt(n / DENSITY) * 1e4
    sets = [f"pattern.layout={layout!r}", f"pattern.density_per_cm2={DENSITY}",
            f"pattern.patch_um={patch_um}", "mesh.resolution='coarse'", "output.render=false"]
    case = load_case(ROOT / "studies" / "demo.toml", sets)
    geo = geometry_from_case(case)
    gmsh.initialize(interruptible=False)
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.option.setNumber("General.NumThreads", 1)
    try:
        gmsh.model.add("bench")
        t0 = time.perf_counter()
        build_skin_block(gmsh.model, geo)
        seconds = time.perf_counter() - t0
        q = quality_summary(gmsh.model)
    finally:
        gmsh.finalize()
    return {"layout": layout, "columns": len(geo.centres), "geometric_columns":
            geo.conforming_columns, "patch_um": round(patch_um, 1), "cells": q["cells"],
            "seconds": round(seconds, 2),
            "seconds_per_column": round(seconds / len(geo.centres), 3),
            "seconds_per_million_cells": round(seconds / q["cells"] * 1e6, 2),
            "min_quality": round(q["min_quality"], 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--layouts", nargs="+", default=["grid", "random"])
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "bench")
    args = parser.parse_args(argv)
    records = []
    header = (f"{'layout':8s} {'columns':>7s} {'cells':>9s} {'seconds':>8s} {'s/column':>9s} "
              f"{'s/Mcells':>9s} {'min q':>6s}")
    print(header, flush=True)
    for layout in args.layouts:
        for n in args.counts:
            r = build_once(layout, n)
            records.append(r)
            print(f"{r['layout']:8s} {r['columns']:7d} {r['cells']:9d} {r['seconds']:8.1f} "
                  f"{r['seconds_per_column']:9.3f} {r['seconds_per_million_cells']:9.1f} "
                  f"{r['min_quality']:6.3f}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "mesh_scaling.json").write_text(json.dumps(records, indent=2) + "\n")
    print(f"wrote {args.out / 'mesh_scaling.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

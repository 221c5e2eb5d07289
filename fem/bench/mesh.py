"""Meshes against the number of columns and the patch size (``make bench-mesh``).

Two sweeps, on one process, facial skin, 1550 nm, medium resolution (``--resolution``):

* **columns**: patches of 1, 10 and 100 columns at 400 columns/cm^2 (the patch grows with the
  columns) as a square grid (geometric columns, one fragment for all of them) and as one
  random pass (columns that may overlap are refined by the size field and tagged by centroid);
* **area**: 4 random columns on patches of 1, 2 and 4 mm (the same columns on 16 times the
  area): the cells follow the injury, so the count should hardly grow with the area.

Each record has the mesher's seconds, the cells in all and per region (the top layers, the
papillary and reticular dermis, the fat; inside and outside the refined columns together),
the estimate of :func:`fem.config.budget.estimate_cells` beside the count, seconds per column
and per million cells, and the minimum element quality. Written to
``results/bench/mesh_scaling.json`` with a table on stdout.

    python -m fem.bench.mesh [--counts 1 10 100] [--areas 1000 2000 4000] [--out DIR]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from mpi4py import MPI  # noqa: F401  (before gmsh/dolfinx, see README)

from fem.config import load_case
from fem.config.budget import estimate_cells
from fem.output import names
from fem.output.files import write_json
from fem.run.mesh import geometry_from_case
from meshes.skin import build_skin_block, quality_summary

ROOT = Path(__file__).resolve().parents[2]
DENSITY = 400.0  # columns per cm2: pitch 500 um
AREA_COLUMNS = 4  # columns of the area sweep
# Regions of the table: the top layers (stratum corneum and epidermis), then one per layer.
REGIONS = {"top layers": ("stratum_corneum", "epidermis"), "papillary": ("papillary_dermis",),
           "reticular": ("reticular_dermis",), "fat": ("fat",)}


def region_cells(quality: dict) -> dict[str, int]:
    """Cells per region of :data:`REGIONS` (a layer's column part counted with the layer)."""
    per_layer: dict[str, int] = {}
    for name, r in quality["regions"].items():
        layer = name.removeprefix("column_")
        per_layer[layer] = per_layer.get(layer, 0) + r["cells"]
    return {region: sum(per_layer.get(la, 0) for la in layers)
            for region, layers in REGIONS.items()}


def build_once(sweep: str, layout: str, density: float, patch_um: float,
               resolution: str) -> dict:
    """Mesh one patch; returns its record."""
    import gmsh

    sets = [f"pattern.layout={layout!r}", f"pattern.density_per_cm2={density}",
            f"pattern.patch_um={patch_um}", f"mesh.resolution={resolution!r}",
            "output.render=false"]
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
    n = len(geo.centres)
    return {"sweep": sweep, "layout": layout, "resolution": resolution, "columns": n,
            "geometric_columns": geo.conforming_columns, "patch_um": round(patch_um, 1),
            "cells": q["cells"], "cells_per_region": region_cells(q),
            "column_cells": sum(r["cells"] for name, r in q["regions"].items()
                                if name.startswith("column_")),
            "estimated_cells": round(estimate_cells(geo)), "seconds": round(seconds, 2),
            "seconds_per_column": round(seconds / n, 3),
            "seconds_per_million_cells": round(seconds / q["cells"] * 1e6, 2),
            "min_quality": round(q["min_quality"], 3)}


def table_line(r: dict) -> str:
    """One record as a row of the stdout table."""
    regions = " ".join(f"{r['cells_per_region'][k]:10d}" for k in REGIONS)
    return (f"{r['sweep']:7s} {r['layout']:7s} {r['columns']:7d} {r['patch_um']:8.0f} "
            f"{r['cells']:9d} {regions} {r['estimated_cells']:9d} {r['seconds']:8.1f} "
            f"{r['min_quality']:6.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--layouts", nargs="+", default=["grid", "random"])
    parser.add_argument("--areas", type=float, nargs="*", default=[1000.0, 2000.0, 4000.0],
                        help=f"patch sides (um) of the area sweep ({AREA_COLUMNS} columns)")
    parser.add_argument("--resolution", default="medium", choices=("coarse", "medium", "fine"))
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "bench")
    args = parser.parse_args(argv)
    runs = [("columns", layout, DENSITY, math.sqrt(n / DENSITY) * 1e4)
            for layout in args.layouts for n in args.counts]
    runs += [("area", "random", AREA_COLUMNS / (side * 1e-4) ** 2, side) for side in args.areas]
    print(f"{'sweep':7s} {'layout':7s} {'columns':>7s} {'patch um':>8s} {'cells':>9s} "
          + " ".join(f"{k:>10s}" for k in REGIONS)
          + f" {'estimate':>9s} {'seconds':>8s} {'min q':>6s}", flush=True)
    records = []
    for sweep, layout, density, side in runs:
        records.append(build_once(sweep, layout, density, side, args.resolution))
        print(table_line(records[-1]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / names.BENCH_MESH_JSON, records)
    print(f"wrote {args.out / names.BENCH_MESH_JSON}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

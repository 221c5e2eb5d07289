"""The whole pipeline of a treated patch, timed (``make bench-pipeline``).

Runs ``mtz run`` on a case (default ``studies/patch_100.toml``, 98 columns) on ``--ranks``
MPI ranks from scratch (an empty mesh and light cache of its own, so meshing and the Monte
Carlo map are timed too), samples the memory in use by the run's processes every second
(the resident set of every process below ``mpiexec``, summed; ``/proc``), and writes
``results/bench/pipeline.json``: the case, ranks, cells, DOFs, the wall time, the time of each
phase (``provenance.json`` of the run: mesh, light, heat, damage, mechanics, healing, metrics,
output, render) and the peak memory, and a table on stdout.

    python -m fem.bench.pipeline [--case studies/patch_100.toml] [--ranks 2]
        [--set KEY=VALUE ...] [--out results/bench]

Driver only: do not start it under ``mpiexec``; it starts the run itself.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from fem.output import names
from fem.output.files import write_json

ROOT = Path(__file__).resolve().parents[2]
CASE = ROOT / "studies" / "patch_100.toml"
PAGE = os.sysconf("SC_PAGE_SIZE")


def _children(pid: int) -> list[int]:
    """Every process below ``pid`` (``/proc/<pid>/task/*/children``)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except (OSError, ValueError):
                continue
            out += kids
            todo += kids
    return out


def _rss(pids: list[int]) -> int:
    """Resident bytes of the processes (those that still exist)."""
    total = 0
    for p in pids:
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            pass
    return total


class MemorySampler(threading.Thread):
    """The summed resident memory of a process tree, sampled every ``period`` s: its peak and
    its series ``[(Unix time, bytes), ...]``."""

    def __init__(self, pid: int, period: float = 1.0):
        super().__init__(daemon=True)
        self.pid, self.period, self.peak = pid, period, 0
        self.series: list[tuple[float, int]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            rss = _rss([self.pid] + _children(self.pid))
            self.series.append((time.time(), rss))
            self.peak = max(self.peak, rss)
            self.done.wait(self.period)


def peak_per_phase(series: list[tuple[float, int]], started: dict[str, float]) -> dict:
    """The peak memory (GB) within each phase: from its start to the next phase's start (the
    last to the end of the series); the heat phase holds the mechanics solved in its loop."""
    order = sorted(started.items(), key=lambda kv: kv[1])
    peaks = {}
    for k, (name, t0) in enumerate(order):
        t1 = order[k + 1][1] if k + 1 < len(order) else float("inf")
        inside = [b for t, b in series if t0 <= t < t1]
        peaks[name] = round(max(inside) / 1e9, 2) if inside else None
    return peaks


def run(case: Path, ranks: int, sets: list[str], out: Path) -> dict:
    """One timed run; returns its record."""
    work = Path(tempfile.mkdtemp(prefix="mtz_pipeline_"))
    env = dict(os.environ, MTZ_MESH_CACHE=str(work / "mesh_cache"),
               MTZ_LIGHT_CACHE=str(work / "light_cache"), OMP_NUM_THREADS="1")
    result = out / f"run_{case.stem}_n{ranks}"
    shutil.rmtree(result, ignore_errors=True)
    venv = Path(sys.executable).parent
    cmd = [str(venv / "mpiexec"), "-n", str(ranks), str(venv / "mtz"), "run", str(case),
           "-o", str(result)] + [a for s in sets for a in ("--set", s)]
    print("[bench] " + " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env)
    sampler = MemorySampler(proc.pid)
    sampler.start()
    rc = proc.wait()
    wall = time.perf_counter() - t0
    sampler.done.set()
    sampler.join()
    shutil.rmtree(work, ignore_errors=True)
    if rc != 0:
        raise SystemExit(f"bench-pipeline: mtz run exited with status {rc}")
    prov = json.loads((result / names.PROVENANCE_JSON).read_text())
    phases = prov["phases_s"]
    return {"case": str(case.relative_to(ROOT)) if case.is_relative_to(ROOT) else str(case),
            "set": sets, "ranks": ranks, "wall_s": round(wall, 1),
            "peak_memory_GB": round(sampler.peak / 1e9, 2),
            "phases_s": {k: round(float(v), 1) for k, v in phases.items()},
            "peak_memory_GB_per_phase": peak_per_phase(
                sampler.series, prov.get("phase_started_unix_s", {})),
            "cells": prov.get("cells"), "heat_dofs": prov.get("dofs"),
            "mechanics_dofs": prov.get("mechanics_dofs"), "result": str(result)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", type=Path, default=CASE)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "bench")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rec = run(args.case.resolve(), args.ranks, args.set, args.out)
    print(f"[bench] {rec['case']} on {rec['ranks']} ranks: {rec['wall_s']} s, peak "
          f"{rec['peak_memory_GB']} GB, {rec['cells']} cells, {rec['heat_dofs']} heat DOFs")
    for k, v in rec["phases_s"].items():
        gb = rec["peak_memory_GB_per_phase"].get(k)
        print(f"[bench]   {k:<10} {v:8.1f} s" + (f"  peak {gb:6.2f} GB" if gb else ""))
    write_json(args.out / names.BENCH_PIPELINE_JSON, rec)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The heat benchmark (``make bench``) in its quick form: the coarse demo on one rank, and the
production loop of the coarse scanned patch against its floor on one rank.

Checks that the records are complete, that the fast solver and the DOLFINx tutorial pattern
give the same temperatures, that the fast one is the faster, and that production and its
floor ran the same steps on the same DOFs. No timing threshold beyond that: the benchmark
itself measures (``make bench``).
"""

import json
import subprocess
import sys

import pytest

from fem.bench.heat import ROOT

FIELDS = ("name", "dofs", "ranks", "seconds_per_step", "baseline_seconds_per_step", "speedup",
          "max_rel_diff", "peak_rss_MB")
PRODUCTION_FIELDS = ("name", "dofs", "ranks", "steps", "firing_groups", "seconds_per_step",
                     "floor_seconds_per_step", "production_over_floor",
                     "beyond_floor_seconds_per_step", "heat_seconds_per_step",
                     "damage_seconds_per_step", "other_seconds_per_step", "cg_iterations",
                     "floor_cg_iterations", "step_sizes", "floor_step_sizes", "peak_rss_MB",
                     "floor_peak_rss_MB", "light", "evaporation", "perfusion_shutdown",
                     "vaporisation")


@pytest.mark.serial
def test_quick_bench(tmp_path):
    p = subprocess.run([sys.executable, "-m", "fem.bench", "--quick", "--out", str(tmp_path)],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    records = json.loads((tmp_path / "bench.json").read_text())
    assert [(r["kind"], r["name"]) for r in records] == [("solver", "coarse"),
                                                         ("production", "patch_coarse")]
    r, prod = records
    for key in FIELDS:
        assert key in r, key
    assert r["ranks"] == 1 and r["dofs"] > 1000
    assert r["seconds_per_step"] > 0 and r["baseline_seconds_per_step"] > 0
    assert r["peak_rss_MB"] > 0
    assert r["max_rel_diff"] <= 1e-6
    assert r["speedup"] > 1
    # production (the loop of a run, all the demo's physics, a scan) against its floor
    for key in PRODUCTION_FIELDS:
        assert key in prod, key
    assert prod["ranks"] == 1 and prod["dofs"] > 1000 and prod["firing_groups"] > 1
    assert prod["light"] == "monte_carlo" and prod["evaporation"] and prod["perfusion_shutdown"]
    assert prod["vaporisation"]
    runs = {v: json.loads((tmp_path / "runs" / f"patch_coarse_{v}_n1.json").read_text())
            for v in ("production", "floor")}
    assert runs["production"]["steps"] == runs["floor"]["steps"] == prod["steps"] > 1
    assert runs["production"]["dofs"] == runs["floor"]["dofs"] == prod["dofs"]
    assert prod["step_sizes"] == prod["floor_step_sizes"] >= 1
    assert prod["seconds_per_step"] > 0 and prod["floor_seconds_per_step"] > 0
    assert prod["production_over_floor"] == pytest.approx(prod["seconds_per_step"]
                                                          / prod["floor_seconds_per_step"])
    parts = [prod[f"{k}_seconds_per_step"] for k in ("heat", "damage", "other")]
    assert parts[0] > 0 and parts[1] > 0
    assert sum(parts) == pytest.approx(prod["seconds_per_step"])
    assert prod["cg_iterations"] >= prod["steps"]
    assert prod["floor_cg_iterations"] >= prod["steps"]
    assert prod["peak_rss_MB"] > 0 and prod["floor_peak_rss_MB"] > 0
    assert "max_rel_diff" not in prod  # different physics: no difference of answers


@pytest.mark.serial
def test_pipeline_memory_sampler_sees_the_children():
    """``make bench-pipeline`` sums the resident memory of every process below the one it
    started (mpiexec, its proxies, the ranks): a grandchild holding 300 MB is seen."""
    from fem.bench.pipeline import MemorySampler

    code = "import time; b = bytearray(300_000_000); b[::4096] = b'x' * len(b[::4096]); " \
           "time.sleep(2.0)"
    p = subprocess.Popen(["sh", "-c", f"{sys.executable} -c \"{code}\"; true"])
    sampler = MemorySampler(p.pid, period=0.2)
    sampler.start()
    p.wait()
    sampler.done.set()
    sampler.join()
    assert 0.3e9 <= sampler.peak < 1.0e9


MECHANICS_FIELDS = ("total_seconds", "setup_seconds", "solve_seconds", "cpu_seconds",
                    "iterations", "peak_rss_MB", "peak_rss_MB_all_ranks",
                    "max_rel_err_vs_reference", "converged", "states")


@pytest.mark.serial
def test_quick_mechanics_bench(tmp_path):
    """``make bench-mechanics`` in its quick form (a coarse 1 mm patch, one rank): the records
    are complete, production and the DOLFINx demo pattern both converged on all six states
    and give the same displacements (1e-6 relative), each within 1e-6 of the 1e-12 reference.
    No timing threshold: the benchmark itself measures."""
    from fem.output import names

    p = subprocess.run([sys.executable, "-m", "fem.bench.mechanics", "--quick", "--out",
                        str(tmp_path)], capture_output=True, text=True, cwd=ROOT, timeout=110)
    assert p.returncode == 0, p.stdout + p.stderr
    (r,) = json.loads((tmp_path / names.BENCH_MECHANICS_JSON).read_text())
    assert r["name"] == "quick" and r["ranks"] == 1 and r["dofs"] > 1000
    assert len(r["states"]) == 6
    for variant in ("demo", "production"):
        v = r[variant]
        for key in MECHANICS_FIELDS:
            assert key in v, (variant, key)
        assert v["converged"] and len(v["iterations"]) == 6
        assert all(row["converged_reason"] > 0 for row in v["states"])
        assert v["max_rel_err_vs_reference"] <= 1e-6
        assert v["total_seconds"] > 0 and v["peak_rss_MB"] > 0
    assert r["demo"]["rtol"] == 1e-8 and not r["demo"]["initial_guess_nonzero"]
    assert r["production"]["rtol"] == 1e-8 and r["production"]["initial_guess_nonzero"]
    assert r["max_rel_diff"] <= 1e-6 and len(r["max_rel_diff_per_state"]) == 6
    assert r["speedup"] > 0

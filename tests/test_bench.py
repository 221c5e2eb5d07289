"""The heat benchmark (``make bench``) in its quick form: the coarse demo on one rank.

Checks that the records are complete, that the fast solver and the DOLFINx tutorial pattern
give the same temperatures, and that the fast one is the faster. No timing threshold beyond
that: the benchmark itself measures (``make bench``).
"""

import json
import subprocess
import sys

import pytest

from fem.bench.heat import ROOT

FIELDS = ("name", "dofs", "ranks", "seconds_per_step", "baseline_seconds_per_step", "speedup",
          "max_rel_diff", "peak_rss_MB")


@pytest.mark.serial
def test_quick_bench(tmp_path):
    p = subprocess.run([sys.executable, "-m", "fem.bench", "--quick", "--out", str(tmp_path)],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    records = json.loads((tmp_path / "bench.json").read_text())
    assert [r["name"] for r in records] == ["coarse"]
    (r,) = records
    for key in FIELDS:
        assert key in r, key
    assert r["ranks"] == 1 and r["dofs"] > 1000
    assert r["seconds_per_step"] > 0 and r["baseline_seconds_per_step"] > 0
    assert r["peak_rss_MB"] > 0
    assert r["max_rel_diff"] <= 1e-6
    assert r["speedup"] > 1


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

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

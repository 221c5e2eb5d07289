"""The Python interface (``import fem``): overrides as Python values, a run that returns its
metrics, files and DOLFINx functions, and a result directory read back as arrays."""

from __future__ import annotations

import json
import sys

from mpi4py import MPI

import numpy as np
import pytest

import fem
from fem.config import CaseError

from conftest import DEMO, ROOT

QUICK = {"mesh": {"resolution": "coarse"}, "time": {"end_ms": 8},
         "output": {"render": False, "times_ms": [4]}, "healing": {"enabled": False}}


def test_importing_fem_loads_no_solver():
    assert callable(fem.run) and callable(fem.read_results)
    with pytest.raises(AttributeError):
        fem.no_such_thing  # noqa: B018


def test_overrides_are_python_values_checked_like_the_file():
    case = fem.load_case(DEMO, laser={"energy_mJ": 20, "spot_um": 150},
                         mesh={"resolution": "coarse"})
    assert case.laser.energy == pytest.approx(0.020)
    assert case.resolved["laser"]["spot_um"] == 150
    with pytest.raises(CaseError, match=r"laser.energy_mJ = -3.0: out of range"):
        fem.load_case(DEMO, laser={"energy_mJ": -3})
    with pytest.raises(CaseError, match="title: not a table"):
        fem.load_case(DEMO, title={"x": 1})
    with pytest.raises(CaseError, match="lazer"):
        fem.load_case(DEMO, lazer={"energy_mJ": 20})


def test_command_line_sets_come_before_the_keyword_overrides():
    """``mtz run --set`` goes through ``sets``; a keyword override of the same key wins."""
    case = fem.load_case(DEMO, sets=["laser.energy_mJ=20", "laser.spot_um=150"],
                         laser={"energy_mJ": 12})
    assert case.laser.energy == pytest.approx(0.012)
    assert case.resolved["laser"]["spot_um"] == 150
    with pytest.raises(CaseError, match=r"demo.toml: --set 'laser.energy_mJ': expected key=value"):
        fem.load_case(DEMO, sets=["laser.energy_mJ"])


def test_a_run_returns_metrics_files_and_fields_and_reads_back(shared_tmp):
    out = shared_tmp / "api_run"
    result = fem.run(fem.load_case(DEMO, **QUICK), out, progress=False)
    # the functions live: the peak temperature field holds the reported peak (K); the
    # collective first, so that a failed assertion on one rank cannot leave the other waiting
    T = result.fields["temperature_peak"]
    n = T.function_space.dofmap.index_map.size_local
    peak = MPI.COMM_WORLD.allreduce(T.x.array[:n].max(), op=MPI.MAX)
    on_disk = json.loads((out / "metrics.json").read_text())
    assert json.loads(json.dumps(result.metrics)) == on_disk
    assert result.metrics["mtz_depth_um"] == on_disk["mtz_depth_um"] > 0
    for name in ("metrics", "case", "probes", "mechanics", "snapshot", "heat_bp"):
        assert result.paths[name].exists(), name
    assert peak - 273.15 == pytest.approx(result.metrics["peak_temperature_C"], abs=1e-6)
    assert {"omega_cell", "omega_collagen", "displacement"} <= set(result.fields)

    saved = fem.read_results(out)
    assert saved.metrics == on_disk
    assert saved.provenance["ranks"] == MPI.COMM_WORLD.size
    t = saved.probes["time_ms"]
    assert t[0] == 0 and np.all(np.diff(t) > 0) and t[-1] == pytest.approx(8.0)
    assert any(k.endswith("_T_C") for k in saved.probes)
    assert saved.mechanics["time_ms"].tolist() == pytest.approx([4.0, 8.0], abs=0.5)  # steps
    assert saved.mechanics["tightening_area_percent"][-1] == pytest.approx(
        on_disk["tightening_area_percent"], rel=1e-6)
    assert saved.healing == {}
    assert saved.columns["mtz_depth_um"].shape == (1,)


def test_reading_a_directory_that_is_no_result_says_so(tmp_path):
    with pytest.raises(CaseError, match="not a finished result directory"):
        fem.read_results(tmp_path)


def test_the_module_docstring_example_names_real_attributes():
    doc = sys.modules["fem.api"].__doc__
    assert "fem.load_case(" in doc and "fem.read_results(" in doc
    assert (ROOT / "studies" / "demo.toml").is_file()

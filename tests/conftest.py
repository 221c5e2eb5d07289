"""Test configuration: MPI-aware, collective clean-up after each test."""

import gc
import os
import sys
from pathlib import Path

from mpi4py import MPI

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PYVISTA_OFF_SCREEN", "true")
DEMO = ROOT / "studies" / "demo.toml"
#: The demo cut to its thermal stage on the coarse mesh (a few seconds): the case of the
#: checkpoint, signal and failure tests. Healing off: it runs after the thermal stage and has
#: its own checkpoint tests (tests/test_healing.py).
CHEAP = ["mesh.resolution=coarse", "time.end_ms=5", "output.render=false",
         "output.fields=false", "mechanics.enabled=false", "healing.enabled=false"]


def pytest_collection_modifyitems(config, items):
    """Skip tests marked ``serial`` when running on several ranks."""
    if MPI.COMM_WORLD.size > 1:
        skip = pytest.mark.skip(reason="serial-only test")
        for item in items:
            if "serial" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def collective_cleanup():
    """Collect garbage and meet at a barrier so collective PETSc destructors line up."""
    yield
    gc.collect()
    MPI.COMM_WORLD.Barrier()


@pytest.fixture(scope="session")
def comm():
    return MPI.COMM_WORLD


@pytest.fixture(scope="session")
def mtz_cmd():
    """The mtz command of this interpreter's environment."""
    return [sys.executable, "-m", "fem"]


@pytest.fixture(scope="session")
def shared_tmp(tmp_path_factory, comm):
    """A temporary directory that is the same on every rank."""
    path = tmp_path_factory.mktemp("shared") if comm.rank == 0 else None
    return Path(comm.bcast(str(path) if path else None, root=0))


@pytest.fixture(scope="session")
def cheap_case():
    """The :data:`CHEAP` demo case."""
    from fem.config import load_case

    return load_case(DEMO, CHEAP)


@pytest.fixture(scope="session")
def uninterrupted(cheap_case, shared_tmp):
    """The metrics of the :data:`CHEAP` demo run from start to end (once per session)."""
    from fem.run.driver import run_case

    return run_case(cheap_case, shared_tmp / "cheap_full", MPI.COMM_WORLD)

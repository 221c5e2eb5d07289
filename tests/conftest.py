"""Test configuration: MPI-aware, collective clean-up after each test."""

import gc
import os
import sys
from pathlib import Path

from mpi4py import MPI

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PYVISTA_OFF_SCREEN", "true")


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

"""Static checks of the container recipe (CI has no Docker engine)."""

import re

import pytest

from conftest import ROOT

pytestmark = pytest.mark.serial
DOCKERFILE = (ROOT / "containers" / "Dockerfile").read_text()


def test_base_image_is_pinned_official_dolfinx():
    base = re.search(r"^FROM\s+(\S+)", DOCKERFILE, re.M).group(1)
    assert base.startswith("ghcr.io/fenics/dolfinx/dolfinx:v0.11"), base


def test_copies_what_the_package_needs_and_installs_without_deps():
    for path in ("pyproject.toml", "fem", "meshes", "studies"):
        assert re.search(rf"^COPY .*\b{path}\b", DOCKERFILE, re.M), path
        assert (ROOT / path).exists(), path
    assert "pip install --no-deps -e ." in DOCKERFILE
    assert "PYVISTA_OFF_SCREEN=true" in DOCKERFILE


def test_every_runtime_dependency_is_in_the_image():
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!\[ ]", d)[0] for d in deps}
    from_image = {"dolfinx-solver-real", "mpi4py", "mpich", "numpy"}  # in the DOLFINx image
    installed = set(re.search(r"pip install (gmsh[^\n]*)", DOCKERFILE).group(1).split())
    assert names - from_image <= installed, names - from_image - installed

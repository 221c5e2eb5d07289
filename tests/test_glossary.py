"""The metric glossary (fem/post/glossary.py) against what a run writes and what the README says.

The coarse demo runs once for this module (about 10 s: renders and fields off, cut to 5 ms,
``damage.cem43`` on so that its keys are written too; none of those settings adds or removes
another key); every key of its ``metrics.json`` must have an entry. The ``_min`` / ``_max``
companions of the column means, which only patterns of several columns write, are checked
against the names ``fem/post/metrics.py`` summarises. Serial and on 2 ranks (nothing written
but by the run itself).
"""

import json
import re

from mpi4py import MPI

import pytest

from fem.post import glossary
from fem.post.glossary import GROUPS, METRICS, glossary_markdown, glossary_text, lookup

from conftest import DEMO, ROOT

#: The coarse demo, cut to its thermal pulse and a short cooling, with every stage on.
COARSE = ["mesh.resolution=coarse", "time.end_ms=5", "output.render=false",
          "output.fields=false", "damage.cem43=true"]
#: Name suffix -> unit (``_min`` / ``_max`` stripped first); a name without one is unitless.
SUFFIX_UNITS = {"_um": "µm", "_C": "°C", "_percent": "%", "_J": "J", "_h": "h",
                "_days": "days", "_kPa": "kPa", "_s": "s", "_seconds": "s"}


@pytest.fixture(scope="module")
def demo_metrics(shared_tmp):
    """``metrics.json`` of the coarse demo (every rank reads it once the run is done)."""
    from fem.config import load_case
    from fem.run.driver import run_case

    out = shared_tmp / "glossary_demo"
    run_case(load_case(DEMO, COARSE), out, MPI.COMM_WORLD, draw=False)
    MPI.COMM_WORLD.Barrier()
    return json.loads((out / "metrics.json").read_text())


def expected_unit(name: str) -> str:
    for companion in glossary.COMPANIONS:
        if name.endswith(companion) and glossary.is_companion(name):
            name = name[:-len(companion)]
    for suffix, unit in SUFFIX_UNITS.items():
        if name.endswith(suffix):
            return unit
    return ""


def test_every_key_of_the_demo_has_an_entry(demo_metrics):
    missing = sorted(k for k in demo_metrics if lookup(k) is None)
    assert not missing, f"metrics.json keys without a glossary entry: {missing}"
    # the conditional keys this run was set up to write
    for key in ("cem43_depth_um", "light_photons", "cooled_tightening_area_percent",
                "reepithelialization_h", "course_downtime_days", "warnings"):
        assert key in demo_metrics, key


def test_companions_are_those_the_metrics_summarise():
    source = (ROOT / "fem" / "post" / "metrics.py").read_text()
    summarised = re.findall(r'summarise\("(\w+)"', source)
    assert sorted(summarised) == sorted(glossary.COLUMN_MEANS)
    for name in summarised:
        for companion in ("_min", "_max"):
            m = lookup(name + companion)
            assert m is not None and m.unit == METRICS[name].unit, name + companion


def test_entries_are_complete_and_consistent():
    assert len(METRICS) >= 80
    for name, m in METRICS.items():
        assert m.name == name
        assert m.group in GROUPS, name
        assert m.definition.strip() and "\n" not in m.definition and "|" not in m.definition
        assert len(m.definition) <= 110, (name, len(m.definition))
        assert m.unit == expected_unit(name), (name, m.unit)
    assert lookup("no_such_metric") is None
    assert {m.group for m in METRICS.values()} == set(GROUPS)


def test_tables_list_every_entry_in_group_order():
    md, text = glossary_markdown(), glossary_text()
    for name in METRICS:
        if not glossary.is_companion(name):
            assert f"| `{name}` |" in md, name
            assert re.search(rf"^  {name} ", text, re.M), name
    assert f"`{glossary.COMPANION_ROW.split(',')[0]}`" in md
    heads = [md.index(f"| **{g}** |") for g in GROUPS]
    assert heads == sorted(heads)
    heads = [text.index(f"\n{g}\n") for g in GROUPS]
    assert heads == sorted(heads)


@pytest.mark.parametrize("path, start, end, table", [
    ("fem/README.md", glossary.START, glossary.END, glossary_markdown),
    ("README.md", glossary.HEADLINE_START, glossary.HEADLINE_END, glossary.headline_markdown)])
def test_the_documentation_holds_the_generated_tables(path, start, end, table):
    readme = (ROOT / path).read_text(encoding="utf-8")
    assert readme.count(start) == 1 and readme.count(end) == 1
    block = readme.split(start)[1].split(end)[0]
    assert block == "\n" + table(), (
        f"{path} is out of date: python -m fem.post.glossary --readme README.md fem/README.md")
    assert glossary.replace_block(readme) == readme


def test_the_headline_metrics_are_in_the_registry():
    assert all(lookup(name) for name in glossary.HEADLINE)
    md = glossary.headline_markdown()
    assert md.count("\n") == len(glossary.HEADLINE) + 2 and "`mtz_depth_um` | µm" in md
    with pytest.raises(ValueError, match="no <!-- metrics:start"):
        glossary.replace_block("no markers here")


def test_script_prints_the_table(capsys):
    assert glossary.main(["--markdown"]) == 0
    assert capsys.readouterr().out == glossary_markdown()
    assert glossary.main([]) == 0
    assert capsys.readouterr().out == glossary_text()

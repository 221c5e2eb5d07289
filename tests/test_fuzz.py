"""Property-based tests of bad input: random values, types, keys and nestings of case files
and study files never give a traceback; the command line either accepts them (exit 0) or
refuses them with one line (exit 2), and a refused ``mtz run`` / ``mtz study`` leaves no
result directory. Valid inputs are not solved: the driver (and the study runner) are stubs.

The counts of examples (exit 0 and exit 2, per verb) are printed at the end (``pytest -s``)
and written to ``<pytest base temp>/fuzz_counts.json``.
"""

import copy
import datetime
import json
import math
import os
import tomllib
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fem.cli import main
from fem.config.resolve import LAYER_SCHEMA, SCHEMA
from fem.config.schema import Spec

from conftest import ROOT

pytestmark = pytest.mark.serial

DEMO = ROOT / "studies" / "demo.toml"
DEMO_DICT = tomllib.loads(DEMO.read_text())
COUNTS: Counter = Counter()
#: Examples of the case fuzzer (the study fuzzer tries half as many): fixed and derandomised
#: for the test suite (about 25 s); MTZ_FUZZ_EXAMPLES=5000 explores further, with new seeds.
EXAMPLES = int(os.environ.get("MTZ_FUZZ_EXAMPLES", "500"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                derandomize="MTZ_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])

# ------------------------------------------------------------------------------ values

SPECIAL = st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, 0.0, -0.0,
                           -1.0, 1e6, 1e-12, 2**63 - 1, -(2**63), 0, -1, 10**12])
SCALAR = st.one_of(
    SPECIAL,
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(["coarse", "single", "random", "none", "cone", "co2_10600", "face",
                     "quarter_cell", "hex", "full_field", "contact", "erglass_1550"]),
    st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date(2100, 1, 1)),
)
KEY = st.one_of(
    st.text(min_size=1, max_size=10),
    st.sampled_from(["goal", "stage", "base", "sweep", "set", "layers", "preset", "probes_um",
                     "thickness_um", "density_per_cm2", "nan", "inf", "a.b", ""]),
)


def values(depth: int = 2):
    """Any TOML value: scalars, lists, tables, lists of tables, nested to ``depth``."""
    if depth == 0:
        return SCALAR
    inner = values(depth - 1)
    return st.one_of(SCALAR, SCALAR, st.lists(inner, max_size=4),
                     st.dictionaries(KEY, inner, max_size=3),
                     st.lists(st.dictionaries(KEY, SCALAR, max_size=3), min_size=1, max_size=2))


def known_keys() -> list[tuple[tuple[str, ...], Spec]]:
    """Every key of a case file (a layer's keys under each of the face layers)."""
    out = []
    for section, schema in SCHEMA.items():
        if isinstance(schema, Spec):
            out.append(((section,), schema))
            continue
        out += [((section, k), s) for k, s in schema.items()]
    for layer in ("stratum_corneum", "epidermis", "papillary_dermis", "reticular_dermis", "fat"):
        out += [(("skin", "layers", layer, k), s) for k, s in LAYER_SCHEMA.items()]
    return out


KNOWN = known_keys()


def plausible(spec: Spec):
    """A value of the key's own type, inside its range or near it (valid cases come out)."""
    if spec.choices:
        return st.sampled_from(list(spec.choices))
    lo = spec.lo if spec.lo is not None else -1e4
    hi = spec.hi if spec.hi is not None else 1e4
    if spec.kind == "bool":
        return st.booleans()
    if spec.kind == "str":
        return st.text(max_size=8)
    if spec.kind == "int":
        return st.integers(min_value=int(max(lo, -1e6)) - 1, max_value=int(min(hi, 1e6)) + 1)
    if spec.kind == "floats":
        return st.lists(st.floats(min_value=1e-3, max_value=200.0), max_size=3)
    if spec.kind == "points":
        coord = st.floats(min_value=-3000.0, max_value=3000.0)
        return st.lists(st.lists(coord, min_size=3, max_size=3), max_size=3)
    number = st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)
    # log-uniform too: most ranges span decades
    if lo > 0 and hi / lo > 100:
        number = st.one_of(number, st.floats(min_value=math.log(lo), max_value=math.log(hi))
                           .map(math.exp).filter(lambda v: lo <= v <= hi))
    return number


@st.composite
def mutation(draw):
    """One edit of a case dictionary: (operation, path, value)."""
    op = draw(st.sampled_from(["plausible", "plausible", "plausible", "any", "unknown",
                               "delete", "nest", "section"]))
    path, spec = draw(st.sampled_from(KNOWN))
    if op == "plausible":
        return op, path, draw(plausible(spec))
    if op == "any":
        return op, path, draw(values())
    if op == "unknown":
        depth = draw(st.integers(1, 3))
        return op, tuple(draw(st.lists(KEY, min_size=depth, max_size=depth))), draw(values(1))
    if op == "nest":  # a table where a value belongs, or a value where a table belongs
        return op, path, draw(st.dictionaries(KEY, values(1), min_size=1, max_size=2))
    if op == "section":
        return op, path[:1], draw(values(1))
    return op, path, None


def apply(raw: dict, edit) -> None:
    op, path, value = edit
    node = raw
    for k in path[:-1]:
        if not isinstance(node, dict):
            return
        node = node.setdefault(k, {})
    if not isinstance(node, dict):
        return
    if op == "delete":
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value


def write_toml(path: Path, raw: dict) -> bool:
    """Write ``raw`` as TOML; False where TOML cannot hold it (then nothing is tested)."""
    import tomli_w

    try:
        text = tomli_w.dumps(raw)
        tomllib.loads(text)
    except (TypeError, ValueError, tomllib.TOMLDecodeError):
        return False
    path.write_text(text)
    return True


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("mtz: error:"), err
    return lines[0]


# ------------------------------------------------------------------------------ tests


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    (d / "demo.toml").write_text(DEMO.read_text())
    yield d
    summary = {k: COUNTS[k] for k in sorted(COUNTS)}
    (tmp_path_factory.getbasetemp() / "fuzz_counts.json").write_text(json.dumps(summary,
                                                                                indent=1))
    print("\nfuzz counts:", json.dumps(summary))


@pytest.fixture
def stub_runs(monkeypatch):
    """The driver and the study runner record their calls instead of solving."""
    import fem.run.driver
    import fem.run.study

    calls = []
    monkeypatch.setattr(fem.run.driver, "run_case", lambda case, out, *a, **k: calls.append(
        ("run", out)) or {})
    monkeypatch.setattr(fem.run.study, "run_study", lambda study, out, *a, **k: calls.append(
        ("study", out)) or [])
    return calls


def check_and_run(path: Path, out: Path, run_verb: str, capsys, calls) -> int:
    """``mtz check`` then ``mtz run``/``mtz study``: exit 0 or 2, one line on error, no result
    directory when refused; returns the exit status of check."""
    capsys.readouterr()
    status = main(["check", str(path)])
    captured = capsys.readouterr()
    assert status in (0, 2), captured.err
    assert "Traceback" not in captured.err
    if status == 2:
        line = one_error_line(captured.err)
        event(line.rsplit(str(path) + ": ", 1)[-1][:30])
    else:
        assert captured.out.strip()
    n = len(calls)
    ran = main([run_verb, str(path), "-o", str(out)])
    captured = capsys.readouterr()
    assert ran in (0, 2), captured.err
    assert "Traceback" not in captured.err
    if ran == 2:
        one_error_line(captured.err)
        assert not out.exists()
        assert len(calls) == n
    else:
        assert status == 0 and calls[n:] == [(run_verb, out)]
    COUNTS[f"{path.stem}: check exit {status}"] += 1
    COUNTS[f"{path.stem}: {run_verb} exit {ran}"] += 1
    return status


@FUZZ
@given(edits=st.lists(mutation(), min_size=1, max_size=4))
def test_random_case_files_load_or_exit_2(workdir, capsys, stub_runs, edits):
    raw = copy.deepcopy(DEMO_DICT)
    raw.setdefault("mesh", {})["resolution"] = "coarse"
    for e in edits:
        apply(raw, e)
    path = workdir / "case.toml"
    if not write_toml(path, raw):
        COUNTS["case: not TOML"] += 1
        return
    check_and_run(path, workdir / "case_out", "run", capsys, stub_runs)


STUDY_KEYS = [".".join(p) for p, _ in KNOWN if len(p) == 2] + ["ranks", "laser", "nope.x",
                                                                "laser.energy_mJ.x"]


TWO_LEVEL = [k for k in KNOWN if len(k[0]) == 2]


@st.composite
def plausible_sweep(draw):
    """One or two case keys, each with one to three distinct values of its own type."""
    keys = draw(st.lists(st.sampled_from(TWO_LEVEL), min_size=1, max_size=2,
                         unique_by=lambda k: k[0]))
    return {".".join(path): draw(st.lists(plausible(spec), min_size=1, max_size=3,
                                          unique_by=repr))
            for path, spec in keys}


@st.composite
def study_file(draw):
    """A study: base, mode, sweep and set tables; a third of them plausible throughout, the
    others with one part (or, now and then, all of them) random."""
    bad = draw(st.sampled_from([None, "base", "sweep", "mode", "set", "meta", "extra", "all"]))
    hostile = st.dictionaries(
        st.one_of(st.sampled_from(STUDY_KEYS), KEY),
        st.one_of(st.lists(st.one_of(SPECIAL, SCALAR), min_size=0, max_size=3), values(1)),
        min_size=0, max_size=3)
    raw = {"base": draw(SCALAR) if bad in ("base", "all") else "demo.toml",
           "sweep": draw(hostile if bad in ("sweep", "all") else plausible_sweep())}
    if bad in ("mode", "all"):
        raw["mode"] = draw(SCALAR)
    elif draw(st.booleans()):
        raw["mode"] = draw(st.sampled_from(["grid", "zip"]))
    raw["set"] = {"mesh.resolution": "coarse"}
    if bad in ("set", "all") or draw(st.booleans()):
        path, spec = draw(st.sampled_from(TWO_LEVEL))
        raw["set"][".".join(path)] = draw(values(1) if bad in ("set", "all")
                                          else plausible(spec))
    meta = {"title": st.text(max_size=8), "ranks_per_case": st.integers(1, 4),
            "small": st.booleans(), "metrics": st.just(["mtz_depth_um"]),
            "plot_against": st.just(["dofs"])}
    for key in draw(st.lists(st.sampled_from(sorted(meta)), max_size=2)):
        raw[key] = draw(values(1) if bad in ("meta", "all") else meta[key])
    if bad in ("extra", "all"):
        raw[draw(KEY)] = draw(values(1))
    return raw


@settings(FUZZ, max_examples=max(1, EXAMPLES // 2))
@given(raw=study_file())
def test_random_study_files_load_or_exit_2(workdir, capsys, stub_runs, raw):
    path = workdir / "study.toml"
    if not write_toml(path, raw):
        COUNTS["study: not TOML"] += 1
        return
    check_and_run(path, workdir / "study_out", "study", capsys, stub_runs)


def test_counts_were_recorded(workdir):
    """Both fuzzers tried examples and saw both outcomes."""
    for name, verb in (("case", "run"), ("study", "study")):
        assert COUNTS[f"{name}: check exit 0"] > 0 and COUNTS[f"{name}: check exit 2"] > 0, COUNTS
        assert COUNTS[f"{name}: {verb} exit 2"] > 0, COUNTS

"""Studies: sweep expansion, validation, concurrent cases on sub-communicators, failures,
kill-and-resume, atomic writes, Slurm scripts."""

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

from mpi4py import MPI

import pytest

from fem.output.names import case_name
from fem.run import study as st
from fem.cli import main
from fem.config import CaseError

from conftest import ROOT

# Healing off: the studies here test the sweep machinery, not the days after the pulse.
CHEAP = {"mesh.resolution": "coarse", "time.end_ms": 5, "output.render": False,
         "output.fields": False, "mechanics.enabled": False, "healing.enabled": False}


def write_study(path, sweep: dict, mode: str = "grid", extra: str = "", **fixed) -> None:
    """A study of the demo case with the cheap settings (on rank 0)."""
    if MPI.COMM_WORLD.rank == 0:
        import tomli_w

        body = {"title": "test", "base": str(ROOT / "studies" / "demo.toml"), "mode": mode,
                "sweep": sweep, "set": {**CHEAP, **fixed}}
        path.write_text(extra + tomli_w.dumps(body))
    MPI.COMM_WORLD.Barrier()


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# ----------------------------------------------------------------------- expansion, names


def test_grid_expansion_is_the_product_last_key_fastest():
    cases = st.expand({"a": [1, 2], "b": ["x", "y", "z"]}, "grid")
    assert len(cases) == 6
    assert cases[0] == {"a": 1, "b": "x"} and cases[1] == {"a": 1, "b": "y"}
    assert cases[-1] == {"a": 2, "b": "z"}


def test_zip_expansion_pairs_the_values():
    assert st.expand({"a": [1, 2, 3], "b": [4, 5, 6]}, "zip") == [
        {"a": 1, "b": 4}, {"a": 2, "b": 5}, {"a": 3, "b": 6}]
    with pytest.raises(CaseError, match="one length"):
        st.expand({"a": [1, 2], "b": [1]}, "zip")


def test_case_names_follow_the_parameters():
    assert case_name({"laser.energy_mJ": 20, "laser.preset": "co2_10600"}) == \
        "energy_mJ-20_preset-co2_10600"
    assert case_name({"skin.preset": "face", "laser.preset": "co2_10600"}) == \
        "skin-preset-face_laser-preset-co2_10600"
    assert case_name({"time.end_ms": 0.1, "output.probes_um": [[0, 0, 1]]}) == \
        "end_ms-0.1_probes_um-0x0x1"


CLUSTER_STUDIES = {"weak_scaling"}  # cases larger than this machine (MTZ_MEMORY_GB)


def test_every_shipped_study_validates():
    names = {p.stem for p in (ROOT / "studies").glob("*.toml")}
    assert {"energy_sweep_1550", "density_sweep", "co2_vs_1550", "calibration_1550",
            "convergence", "scaling"} | CLUSTER_STUDIES <= names
    studies = {p.stem: st.load_study(p) for p in (ROOT / "studies").glob("*.toml")
               if st.is_study_file(p) and p.stem not in CLUSTER_STUDIES}  # each loaded once
    for s in studies.values():
        assert s.cases and len({c.name for c in s.cases}) == len(s.cases)
    small = [name for name, s in studies.items() if s.small]
    assert "energy_sweep_1550" in small and "convergence" not in small


def test_check_lists_the_cases_of_a_study(capsys):
    assert main(["check", str(ROOT / "studies" / "co2_vs_1550.toml")]) == 0
    if MPI.COMM_WORLD.rank == 0:
        text = capsys.readouterr().out
        assert text.count("[[cases]]") == 6 and 'name = "preset-co2_10600_energy_mJ-20"' in text


@pytest.mark.parametrize("body, message", [
    ('base = "demo.toml"\n[sweep]\n"laser.energy_J" = [1, 2]\n', "laser.energy_J"),
    ('base = "demo.toml"\n[sweep]\n"laser.energy_mJ" = [10, -1]\n', "energy_mJ = -1"),
    ('base = "demo.toml"\nmode = "cross"\n[sweep]\n"laser.energy_mJ" = [1]\n', "mode"),
    ('base = "demo.toml"\nranks_per_case = 0\n[sweep]\n"laser.energy_mJ" = [1]\n',
     "ranks_per_case"),
    ('base = "demo.toml"\n[sweep]\n"laser.energy_mJ" = []\n', "non-empty"),
    ('base = "nothere.toml"\n[sweep]\n"laser.energy_mJ" = [1]\n', "no such case file"),
    ('base = "demo.toml"\nsweeps = 1\n[sweep]\n"laser.energy_mJ" = [1]\n', "unknown key"),
    ('base = "demo.toml"\nmode = "zip"\n[sweep]\n"laser.energy_mJ" = [1, 2]\n'
     '"laser.spot_um" = [100]\n', "one length"),
])
def test_bad_study_files_are_input_errors(tmp_path_factory, body, message):
    d = tmp_path_factory.mktemp("bad") if MPI.COMM_WORLD.rank == 0 else None
    d = MPI.COMM_WORLD.bcast(d, root=0)
    path = d / "bad.toml"
    if MPI.COMM_WORLD.rank == 0:
        (d / "demo.toml").write_text((ROOT / "studies" / "demo.toml").read_text())
        path.write_text(body)
    MPI.COMM_WORLD.Barrier()
    with pytest.raises(CaseError, match=message):
        st.load_study(path)


@pytest.mark.serial
def test_bad_study_exits_2_with_one_line_and_writes_nothing(tmp_path, mtz_cmd):
    path = tmp_path / "bad.toml"
    path.write_text(f'base = "{ROOT / "studies" / "demo.toml"}"\n'
                    '[sweep]\n"laser.energy_mJ" = [10, 1e9]\n')
    out = tmp_path / "out"
    res = subprocess.run([*mtz_cmd, "study", str(path), "-o", str(out)], capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mtz: error:"), res.stderr
    assert "laser.energy_mJ = 1000000000.0" in lines[0] and "energy_mJ-1e+09" in lines[0]
    assert not out.exists()


# ---------------------------------------------------------------------------- running


def test_cases_run_concurrently_and_a_failure_does_not_stop_the_study(shared_tmp):
    """Two single-rank cases, one failing (CG limited to one iteration); under mpiexec -n 2
    they run at once, each on its own rank."""
    comm = MPI.COMM_WORLD
    path = shared_tmp / "fail.toml"
    write_study(path, {"solver.max_it": [500, 1]}, extra="ranks_per_case = 1\n")
    out = shared_tmp / "fail_out"
    assert main(["study", str(path), "-o", str(out)]) == 1  # a case failed
    comm.Barrier()
    rows = read_csv(out / "metrics.csv")
    assert [r["case"] for r in rows] == ["max_it-500", "max_it-1"]
    ok, failed = rows
    assert ok["status"] == "ok" and float(ok["mtz_depth_um"]) > 0 and ok["ranks"] == "1"
    assert failed["status"] == "failed" and "numerical failure" in failed["error"]
    assert "steady heat" in failed["error"] and failed["mtz_depth_um"] == ""
    assert (out / "max_it-1" / "error.txt").is_file()
    assert not (out / "max_it-1" / "metrics.json").exists()
    assert (out / "report.html").is_file()
    if comm.size == 2:  # both cases ran at the same time, on one rank each
        first, second = out / "max_it-500", out / "max_it-1"
        assert (second / "case.toml").stat().st_mtime < (first / "metrics.json").stat().st_mtime


def test_sweep_writes_table_plots_and_report(shared_tmp):
    comm = MPI.COMM_WORLD
    path = shared_tmp / "energy.toml"
    write_study(path, {"laser.energy_mJ": [5, 20]})
    out = shared_tmp / "energy_out"
    rows = st.run_study(st.load_study(path), out, comm)
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert rows[1]["mtz_depth_um"] > rows[0]["mtz_depth_um"]  # more energy, deeper
    if comm.rank == 0:
        table = read_csv(out / "metrics.csv")
        assert [r["laser.energy_mJ"] for r in table] == ["5", "20"]
        assert float(table[1]["mtz_depth_um"]) == rows[1]["mtz_depth_um"]  # exact repr
        plot = out / "plots" / "vs_laser_energy_mJ.png"
        assert plot.stat().st_size > 10_000
        report = (out / "report.html").read_text()
        assert "vs_laser_energy_mJ.png" in report and "energy_mJ-20" in report
        assert json.loads((out / "study.json").read_text())["study"]["cases"] == 2


def test_cases_of_a_study_are_drawn_once_with_one_view(shared_tmp, monkeypatch):
    """The runs of a study leave the pictures to draw_cases, which draws every case once,
    with the common view, sharing the cases among the ranks; each case gets its report."""
    import fem.render

    comm = MPI.COMM_WORLD
    calls = []
    monkeypatch.setattr(fem.render, "render_all",
                        lambda d, view=None: calls.append((d.name, view)) or [])
    path = shared_tmp / "drawn.toml"
    write_study(path, {"laser.energy_mJ": [5, 20]}, **{"output.render": True})
    out = shared_tmp / "drawn_out"
    rows = st.run_study(st.load_study(path), out, comm)
    assert [r["status"] for r in rows] == ["ok", "ok"]
    drawn = [c for per_rank in comm.allgather(calls) for c in per_rank]
    assert sorted(name for name, _ in drawn) == ["energy_mJ-20", "energy_mJ-5"]
    assert all(view is not None and view == drawn[0][1] for _, view in drawn)
    assert drawn[0][1].depth_um > 0 and drawn[0][1].temperature_C is not None  # fitted
    for name in ("energy_mJ-5", "energy_mJ-20"):
        assert (out / name / "report.html").is_file()


@pytest.mark.serial
def test_killed_study_resumes_to_the_same_table(tmp_path, mtz_cmd):
    """Kill a study while its second case runs (after a checkpoint), resume it, and compare
    metrics.csv with an uninterrupted run: equal but for the wall time."""
    path = tmp_path / "s.toml"
    write_study(path, {"laser.energy_mJ": [5, 20]})
    base = [*mtz_cmd, "study", str(path), "--checkpoint-every", "3"]
    full = tmp_path / "full"
    subprocess.run([*base, "-o", str(full)], cwd=ROOT, check=True, capture_output=True,
                   timeout=300)
    out = tmp_path / "killed"
    proc = subprocess.Popen([*base, "-o", str(out)], cwd=ROOT, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    state = out / "energy_mJ-20" / "checkpoint" / "state.npz"
    deadline = time.time() + 200
    while not state.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert state.exists() and not (out / "metrics.csv").exists()
    first = out / "energy_mJ-5" / "metrics.json"
    json.loads(first.read_text())  # complete, although the process was killed
    stamp = first.stat().st_mtime_ns
    res = subprocess.run([*base, "-o", str(out), "--resume"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "1 of 2 case(s) already finished" in res.stderr
    assert "continuing after step" in res.stderr  # the second case, from its checkpoint
    assert first.stat().st_mtime_ns == stamp  # the finished case was not run again
    a, b = read_csv(full / "metrics.csv"), read_csv(out / "metrics.csv")
    assert [r.keys() for r in a] == [r.keys() for r in b]
    for ra, rb in zip(a, b):
        for key in ra.keys() - {"wall_time_s"}:
            if ra[key] != rb[key]:  # resumed from a checkpoint: equal to solver tolerance
                assert abs(float(ra[key]) - float(rb[key])) <= 1e-9 * abs(float(ra[key])), key


@pytest.mark.serial
def test_atomic_writes_leave_no_half_written_file(tmp_path):
    """Kill a process that rewrites a large JSON file in a loop: the file is always whole."""
    target = tmp_path / "metrics.json"
    code = textwrap.dedent(f"""
        import itertools
        from fem.output.files import write_json
        big = {{f"key_{{i}}": [float(i)] * 50 for i in range(4000)}}
        for n in itertools.count():
            big["n"] = n
            write_json({str(target)!r}, big)
            print(n, flush=True)
    """)
    for delay in (0.05, 0.13, 0.29):
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                                cwd=ROOT, start_new_session=True)
        proc.stdout.readline()  # one write done: kill during a later one
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        data = json.loads(target.read_text())
        assert len(data) == 4001 and len(data["key_3999"]) == 50


# ------------------------------------------------------------------------------ Slurm


@pytest.mark.serial
def test_slurm_script_has_one_task_per_case(tmp_path, mtz_cmd):
    out = tmp_path / "scaling"
    res = subprocess.run([*mtz_cmd, "study", "studies/scaling.toml", "-o", str(out), "--slurm",
                          "--set", "time.end_ms=5"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    script = (out / "slurm.sh").read_text()
    n = len(st.load_study(ROOT / "studies" / "scaling.toml").cases)
    assert f"#SBATCH --array=0-{n - 1}" in script
    assert "#SBATCH --ntasks=4" in script and "RANKS=(1 2 4 1 2 4 1 2 4)" in script
    assert 'srun -n "$n" $MTZ study' in script and "--case \"$SLURM_ARRAY_TASK_ID\"" in script
    assert "--set time.end_ms=5" in script and "--resume" in script
    assert "#SBATCH --signal=TERM@300" in script and "#SBATCH --requeue" in script
    assert 'if [ "$status" -eq 143 ]' in script  # checkpointed by the signal: requeued
    assert subprocess.run(["bash", "-n", str(out / "slurm.sh")]).returncode == 0
    assert not any(p.is_dir() and p.name != "slurm" for p in out.iterdir())  # nothing ran


@pytest.mark.serial
def test_weak_scaling_study_has_the_columns_proportional_to_the_ranks(monkeypatch):
    """studies/weak_scaling.toml: about 25 columns per rank from 1 to 64 ranks; refused on
    this machine from 8 ranks on unless MTZ_MEMORY_GB gives the allocation's memory."""
    path = ROOT / "studies" / "weak_scaling.toml"
    monkeypatch.delenv("MTZ_MEMORY_GB", raising=False)
    with pytest.raises(CaseError, match="MTZ_MEMORY_GB"):
        st.load_study(path)
    monkeypatch.setenv("MTZ_MEMORY_GB", "4000")
    study = st.load_study(path)
    assert [c.ranks for c in study.cases] == [1, 2, 4, 8, 16, 32, 64]
    per_rank = [len(c.case.pattern.layout.centres) / c.ranks for c in study.cases]
    assert 20 <= min(per_rank) and max(per_rank) <= 30, per_rank


def test_one_case_of_a_study_as_an_array_task(shared_tmp):
    """``--case i`` runs only case i; the table lists the others as not run."""
    path = shared_tmp / "one.toml"
    write_study(path, {"laser.energy_mJ": [5, 20]})
    out = shared_tmp / "one_out"
    assert main(["study", str(path), "-o", str(out), "--case", "1"]) == 0
    MPI.COMM_WORLD.Barrier()
    rows = read_csv(out / "metrics.csv")
    assert [r["status"] for r in rows] == ["not run", "ok"]


def test_sweep_over_ranks_runs_each_case_on_its_ranks(shared_tmp):
    """``sweep.ranks`` (scaling studies): each case on that many ranks; more ranks than the
    study has is an input error before anything runs."""
    comm = MPI.COMM_WORLD
    path = shared_tmp / "ranks.toml"
    write_study(path, {"ranks": [1, 2]})
    study = st.load_study(path)
    out = shared_tmp / "ranks_out"
    if comm.size < 2:
        with pytest.raises(CaseError, match="needs 2 MPI ranks"):
            st.run_study(study, out, comm)
        assert not out.exists()
        return
    rows = st.run_study(study, out, comm)
    assert [(r["status"], r["ranks"]) for r in rows] == [("ok", 1), ("ok", 2)]
    assert rows[0]["mtz_depth_um"] == pytest.approx(rows[1]["mtz_depth_um"], rel=1e-4)

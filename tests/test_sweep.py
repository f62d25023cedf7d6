"""Yield parameter sweeps: the sweep file, designs, metrics, local and Dask execution, resuming, outputs."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from sim.scenario import ScenarioError
from sim.sweep import run_sweep
from sim.sweep.driver import Progress, SweepResult, execute_sweep
from sim.sweep.metrics import METRICS, aggregate, t975
from sim.sweep.runner import run_one
from sim.sweep.spec import load_sweep

ROOT = Path(__file__).resolve().parents[1]

#: Tiny worlds: 15 holders and 4 traders for 20 days (a quarter of a second each); 4 points x 2 seeds.
TINY = """
[sweep]
name = "tiny"
scenario = "yield_season"
seeds = 2

[override.world]
users = 15
duration = "20d"

[override.yield]
traders = 4

[vary]
base_rate = [300, 500]
bronze_multiplier = [110, 150]

[objective]
metric = "holder_apy_mean"
goal = "maximize"
constraints = ["liability_ratio <= 0.003"]
"""

TABLES = ("runs.csv", "points.csv")


def write(tmp_path: Path, text: str, name: str = "tiny.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def same_outputs(a: Path, b: Path) -> None:
    for name in TABLES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    for name in ("runs.parquet", "points.parquet"):
        assert pq.read_table(a / name).equals(pq.read_table(b / name)), name


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny sweep run once on one local worker: (sweep file, output folder, result)."""
    tmp = tmp_path_factory.mktemp("tiny")
    path = write(tmp, TINY)
    result = execute_sweep(load_sweep(str(path)), tmp / "one", workers=1, stream=io.StringIO())
    return path, tmp / "one", result


# ---------------------------------------------------------------------------------------- the file


BAD = [
    ("[sweep]\nscenario='yield_season'\n[vary]\nbase_rate=[1]\n[objective]\nmetric='holder_apy_mean'\n[extra]\n",
     r"unknown table \[extra\]"),
    (TINY.replace('name = "tiny"', 'name = "tiny"\ncolour = 1'), r"\[sweep\]: unknown key 'colour'"),
    (TINY.replace("base_rate = [300, 500]", "base_rte = [300, 500]"), r"\[vary\]: unknown parameter 'base_rte'"),
    (TINY.replace("base_rate = [300, 500]", 'base_rate = [300, "lots"]'),
     r"\[vary\] base_rate values\[1\]: expected an integer, got 'lots'"),
    (TINY.replace("base_rate = [300, 500]", "base_rate = { min = 900, max = 100, steps = 3 }"),
     r"\[vary\] base_rate: expected min <= max"),
    (TINY.replace("base_rate = [300, 500]", "base_rate = { min = 100, max = 900 }"),
     r"\[vary\] base_rate: a grid needs values"),
    (TINY.replace("base_rate = [300, 500]", "base_rate = { min = 100, max = 900, steps = 3 }")
     + "[design]\nkind = 'latin'\ncount = 4\n", r"base_rate steps: steps only apply to grid designs"),
    (TINY + "[design]\nkind = 'random'\n", r"\[design\]: a random design needs count"),
    (TINY + "[design]\nkind = 'sobul'\n",
     r"\[design\] kind: expected one of grid, random, latin, sobol, morris, got 'sobul'"),
    (TINY.replace("seeds = 2", "seeds = 0"), r"\[sweep\] seeds: expected a count of seeds in \[1, 100,000\], got 0"),
    (TINY.replace("seeds = 2", "seeds = [1, 1]"), r"\[sweep\] seeds: expected distinct seeds"),
    (TINY.replace("users = 15", "users = 15\nseed = 4"), r"world.seed: set by the sweep"),
    (TINY.replace("users = 15", "userz = 15"),
     r"\[override\] over .*yield_season.toml: \[world\]: unknown key 'userz'"),
    (TINY.replace('duration = "20d"', 'duration = "twenty days"'), r"\[world\] duration: expected a duration"),
    (TINY.replace('metric = "holder_apy_mean"', 'metric = "happiness"'),
     r"\[objective\] metric: expected one of holder_apy_mean"),
    (TINY.replace('"liability_ratio <= 0.003"', '"liability_ratio is small"'),
     r"constraints\[0\]: expected \"<metric> <op> <number>\""),
    (TINY.replace('scenario = "yield_season"', 'scenario = "no_such_world"'),
     r"\[sweep\] scenario: no_such_world: not a scenario file"),
    (TINY.replace("bronze_multiplier = [110, 150]", 'silver_after = ["400d"]'),
     r"point base_rate-300_silver_after-400d: \[protocol.yield\] gold_after: expected at least silver_after"),
    # every varied value, seed and design seed is checked like the field it sets, before any point is built
    (TINY.replace("base_rate = [300, 500]", "base_rate = [300, 9_000_000_000_000_000_000]"),
     r"\[vary\] base_rate values\[1\]: expected at most 10,000 basis points"),
    (TINY.replace("base_rate = [300, 500]", "base_rate = [-5, 500]"),
     r"\[vary\] base_rate values\[0\]: expected a whole number in \[0, 2\*\*256 - 1\], got -5"),
    (TINY.replace("base_rate = [300, 500]", "gold_after = { min = 0, max = 1e400, steps = 3 }"),
     r"\[vary\] gold_after max: expected a duration"),
    (TINY.replace("base_rate = [300, 500]", "gold_after = { min = 0, max = 9_000_000_000_000_000_000, steps = 3 }"),
     r"\[vary\] gold_after max: expected at most 315,360,000 seconds"),
    (TINY.replace("seeds = 2", "seeds = [-1, 2]"), r"\[sweep\] seeds: expected a whole number in \[0, "),
    (TINY.replace("seeds = 2", "seeds = 1_000_000_000_000"), r"\[sweep\] seeds: expected a count of seeds in \[1, "),
    (TINY + "[design]\nkind = 'random'\ncount = 2\nseed = -1\n", r"\[design\] seed: expected a whole number in \[0, 2\*\*128\)"),
    ("[sweep]\nname = 5\nscenario = \"baseline\"\n[vary]\nbase_rate = [1]\n[objective]\nmetric = \"claims\"\n", r"\[sweep\] name: expected a string, got 5"),
    ("sweep = 5\n[vary]\n[objective]\n", r"expected a table \[sweep\], got 5"),
]


@pytest.mark.parametrize("text, message", BAD)
def test_bad_sweep_files_get_one_line_naming_file_key_and_expectation(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError, match=message) as info:
        load_sweep(str(path))
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_input_exits_2_with_one_line(tmp_path, capsys):
    assert run_sweep(str(write(tmp_path, TINY.replace("seeds = 2", "seeds = 'x'")))) == 2
    assert run_sweep(str(write(tmp_path, TINY)), str(tmp_path / "o"), None, "localhost:8786") == 2
    assert not (tmp_path / "o").exists()  # a bad scheduler address is caught before the folder is made
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[0].startswith("rbtc-sim: error:") and "tcp://HOST:PORT" in err[1]


def test_designs_are_deterministic_and_ids_come_from_values(tmp_path):
    grid = load_sweep(str(write(tmp_path, TINY)))
    assert [p.id for p in grid.points] == ["base_rate-300_bronze_multiplier-110", "base_rate-300_bronze_multiplier-150",
                                           "base_rate-500_bronze_multiplier-110", "base_rate-500_bronze_multiplier-150"]
    assert grid.seeds == (1, 2) and grid.backend == "model"
    assert grid.scenario.config.users == 15 and grid.scenario.config.duration_s == 20 * 86_400
    assert grid.points[3].scenario.config.params.yield_params.bronze_multiplier == 150
    assert load_sweep(str(write(tmp_path, TINY))).design_hash == grid.design_hash
    more_seeds = load_sweep(str(write(tmp_path, TINY.replace("seeds = 2", "seeds = [1, 2, 9]"))))
    assert more_seeds.base_hash == grid.base_hash and more_seeds.design_hash != grid.design_hash
    assert load_sweep(str(write(tmp_path, TINY.replace("users = 15", "users = 16")))).base_hash != grid.base_hash

    latin = TINY.replace("base_rate = [300, 500]", "base_rate = { min = 100, max = 899 }").replace(
        "bronze_multiplier = [110, 150]", 'silver_after = { min = "10d", max = "170d" }')
    latin += "[design]\nkind = 'latin'\ncount = 8\nseed = 5\n"
    first = load_sweep(str(write(tmp_path, latin)))
    assert [p.id for p in first.points] == [p.id for p in load_sweep(str(write(tmp_path, latin))).points]
    rates = sorted(p.values["base_rate"] for p in first.points)
    assert len(first.points) == 8 and [(r - 100) // 100 for r in rates] == list(range(8))  # one per stratum
    assert first.points[0].id.startswith("base_rate-") and "_silver_after-" in first.points[0].id
    random = load_sweep(str(write(tmp_path, latin.replace("latin", "random"))))
    assert len(random.points) == 8 and all(100 <= p.values["base_rate"] <= 899 for p in random.points)

    stepped = TINY.replace("base_rate = [300, 500]", "base_rate = { min = 100, max = 900, steps = 5 }")
    assert [p.values["base_rate"] for p in load_sweep(str(write(tmp_path, stepped))).points[::2]] == \
        [100, 300, 500, 700, 900]


def test_t_quantile_and_confidence_intervals():
    # The table against the t distribution integrated numerically with numpy.
    for df in (1, 2, 5, 10, 29, 30, 31, 60, 120):
        q = t975(df)
        x = np.linspace(0.0, q, 200_001)
        pdf = math.gamma((df + 1) / 2) / (math.sqrt(df * math.pi) * math.gamma(df / 2)) * (1 + x * x / df) ** (
            -(df + 1) / 2)
        assert abs(0.5 + np.trapezoid(pdf, x) - 0.975) < 1e-6, df
    stats = aggregate([1.0, 2.0, 3.0, None])
    assert stats["n"] == 3 and stats["mean"] == 2.0 and stats["std"] == 1.0
    assert stats["ci95_high"] - 2.0 == pytest.approx(4.302653 / math.sqrt(3))
    assert math.isnan(aggregate([5.0])["std"]) and aggregate([])["n"] == 0


# ---------------------------------------------------------------------------------------- running


def test_one_and_two_local_workers_give_identical_tables(tiny, tmp_path):
    path, one, result = tiny
    assert result.executed == 8 and result.reused == 0 and result.complete and not result.failed
    two = execute_sweep(load_sweep(str(path)), tmp_path / "two", workers=2, stream=io.StringIO())
    assert two.executed == 8
    same_outputs(one, two.out)
    for plot in sorted((one / "plots").glob("*.png")):  # deterministic PNGs
        assert plot.read_bytes() == (two.out / "plots" / plot.name).read_bytes(), plot.name
    # A run is a pure function of (point, seed): the same digest in this process.
    sweep = load_sweep(str(path))
    point = sweep.points[1]
    answer = run_one({"run": sweep.run_id(point, 2), "point": point.id, "seed": 2, "config": point.scenario.config})
    stored = json.loads((one / "runs" / f"{point.id}-s2.json").read_text())
    assert answer["digest"] == stored["digest"] and answer["metrics"] == stored["metrics"]


def test_a_dask_cluster_on_loopback_gives_exactly_the_local_results(tiny, tmp_path, capsys):
    from dask.distributed import LocalCluster

    path, one, _ = tiny
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        code = run_sweep(str(path), str(tmp_path / "dask"), None, cluster.scheduler_address)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "8 executed" in out and "Dask scheduler tcp://127.0.0.1" in out
    same_outputs(one, tmp_path / "dask")


def test_an_interrupted_sweep_resumes_with_only_the_missing_runs(tiny, tmp_path):
    path, one, _ = tiny
    out = tmp_path / "resume"
    seen = []

    def stop_after_three(answer):
        seen.append(answer["run"])
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        execute_sweep(load_sweep(str(path)), out, workers=2, on_run=stop_after_three, stream=io.StringIO())
    assert sorted(p.stem for p in (out / "runs").glob("*.json")) == sorted(seen)
    assert json.loads((out / "sweep.json").read_text())["status"] == "incomplete"
    assert not (out / "runs.csv").exists()
    (out / "runs" / f"{seen[0]}.json").unlink()  # and a finished run lost on top

    executed = []
    result = execute_sweep(load_sweep(str(path)), out, workers=2, on_run=lambda a: executed.append(a["run"]),
                           stream=io.StringIO())
    assert len(executed) == 6 and result.executed == 6 and result.reused == 2
    assert not set(executed) & set(seen[1:])
    assert json.loads((out / "sweep.json").read_text())["status"] == "complete"
    same_outputs(one, out)

    # A complete sweep reruns nothing, and a half-written run file from a kill is ignored and cleaned.
    (out / "runs" / f".{seen[1]}.json.123.tmp").write_text('{"half": ')
    again = execute_sweep(load_sweep(str(path)), out, workers=2, stream=io.StringIO())
    assert again.executed == 0 and again.reused == 8 and again.complete
    assert not list((out / "runs").glob(".*.tmp"))
    same_outputs(one, out)
    # Runs measured by other simulator code are reused, and the user is told how many.
    edited = out / "runs" / f"{seen[1]}.json"
    edited.write_text(edited.read_text().replace('"code": "', '"code": "0ld'))
    notes = io.StringIO()
    assert execute_sweep(load_sweep(str(path)), out, workers=2, stream=notes).executed == 0
    assert "1 of the runs reused" in notes.getvalue() and "other simulator code" in notes.getvalue()


def test_damaged_run_files_are_run_again(tiny, tmp_path):
    """Binary, list-shaped or metric-less run files (read bounded, never trusted) are run again, not a crash."""
    path, one, _ = tiny
    out = tmp_path / "damaged"
    shutil.copytree(one, out)
    runs = sorted((out / "runs").glob("*.json"))
    runs[0].write_bytes(b"\xff\x00 not json")
    runs[1].write_text("[1, 2]")
    record = json.loads(runs[2].read_text())
    runs[2].write_text(json.dumps(dict(record, metrics=5)))
    again = execute_sweep(load_sweep(str(path)), out, workers=1, stream=io.StringIO())
    assert again.executed == 3 and again.reused == len(runs) - 3 and again.complete
    same_outputs(one, out)


def test_a_changed_sweep_file_is_refused_extended_or_restarted(tiny, tmp_path, capsys):
    path, one, _ = tiny
    out = tmp_path / "changed"
    shutil.copytree(one, out)
    # Other base (a different world): refused, exit 2, nothing touched.
    other = write(tmp_path, TINY.replace("users = 15", "users = 16"), "other.toml")
    before = sorted(p.name for p in (out / "runs").iterdir())
    assert run_sweep(str(other), str(out)) == 2
    err = capsys.readouterr().err
    assert "holds 8 runs of a different sweep" in err and "--restart" in err and "\n" not in err.strip()
    assert sorted(p.name for p in (out / "runs").iterdir()) == before
    # Same base, one more seed: the 8 runs are reused, only the 4 new ones execute.
    wider = load_sweep(str(write(tmp_path, TINY.replace("seeds = 2", "seeds = 3"), "wider.toml")))
    notes = io.StringIO()
    result = execute_sweep(wider, out, workers=2, stream=notes)
    assert (result.executed, result.reused) == (4, 8) and "points or seeds changed" in notes.getvalue()
    assert len((out / "runs.csv").read_text().splitlines()) == 1 + 12
    # --restart discards everything and runs the other base from scratch.
    restarted = execute_sweep(load_sweep(str(other)), out, workers=2, restart=True, stream=io.StringIO())
    assert restarted.executed == 8 and restarted.reused == 0
    assert len(list((out / "runs").glob("*.json"))) == 8
    # One sweep at a time per folder.
    from sim.sweep.store import Store

    holder = Store(load_sweep(str(other)), out)
    holder.open()
    try:
        with pytest.raises(ScenarioError, match="another sweep is running in this folder"):
            execute_sweep(load_sweep(str(other)), out, workers=1, stream=io.StringIO())
    finally:
        holder.close()
    # A folder that is not a sweep's is never written into.
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    with pytest.raises(ScenarioError, match="holds no sweep"):
        execute_sweep(wider, stranger, workers=1, stream=io.StringIO())


# ---------------------------------------------------------------------------------------- what comes out


def test_metrics_are_plausible(tiny):
    _, _, result = tiny
    by = {(r["values"]["base_rate"], r["values"]["bronze_multiplier"], r["seed"]): r["metrics"] for r in result.records}
    assert set(by[(500, 110, 1)]) == set(METRICS)
    for seed in (1, 2):
        m = by[(500, 110, seed)]
        # 5 % at full rBTC scale, x1.10 for Bronze, times the scale (supply / peak) that the world reached.
        scale = m["rate_bps_mean"] / 500
        assert 0.5 < scale <= 1.0
        assert 5.0 * 1.10 * 0.5 < m["holder_apy_mean"] <= 5.0 * 1.10 + 0.05
        assert m["holder_apy_p5"] <= m["holder_apy_p50"] <= m["holder_apy_p95"]
        assert m["holders"] == 15 and m["traders"] == 4 and m["tier_bronze"] == 19 and m["tier_silver"] == 0
        assert m["liability_ratio"] > 0 and m["reserves_sats"] > 0 and m["violations"] == 0
        assert m["holder_accrued_sats"] == pytest.approx(m["holder_claimed_sats"] + m["holder_unclaimed_sats"])
        assert m["trader_accrued_usdt"] > 0 and m["trader_apy_mean"] > 0
        # The same world with a 150 % multiplier pays 150/110 as much (the yield does not feed back).
        assert by[(500, 150, seed)]["holder_apy_mean"] / m["holder_apy_mean"] == pytest.approx(150 / 110, rel=1e-4)
        assert by[(300, 110, seed)]["holder_apy_mean"] < m["holder_apy_mean"]


def test_outputs_rank_points_mark_constraints_and_say_how_to_reproduce(tiny):
    path, one, result = tiny
    points = pq.read_table(one / "points.parquet").to_pylist()
    best = min(points, key=lambda r: r["rank"])
    feasible = [r for r in points if r["feasible"]]
    assert feasible and best["feasible"]
    assert best["holder_apy_mean_mean"] == max(r["holder_apy_mean_mean"] for r in feasible)
    assert all(r["holder_apy_mean_ci95_low"] <= r["holder_apy_mean_mean"] <= r["holder_apy_mean_ci95_high"]
               for r in points)
    assert any(not r["feasible"] for r in points)  # base_rate 500 at 150 % owes too much for the constraint
    runs = pq.read_table(one / "runs.parquet")
    assert runs.num_rows == 8 and runs.column_names[:4] == ["point", "seed", "base_rate", "bronze_multiplier"]
    summary = (one / "summary.md").read_text()
    assert "✗ liability_ratio <= 0.003" in summary and "✓ liability_ratio <= 0.003" in summary
    assert f"rbtc-sim sweep {path}" in summary and "sats" in summary and "USDT" in summary
    page = (one / "summary.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and "<img" in page and "src='plots/" not in page
    names = sorted(p.name for p in (one / "plots").glob("*.png"))
    assert names == ["heatmap-base_rate-bronze_multiplier.png", "sensitivity-base_rate.png",
                     "sensitivity-bronze_multiplier.png"]
    # Each point is a scenario file that `rbtc-sim run` replays to the same digest.
    from sim.run import execute, with_overrides
    from sim.scenario import load

    record = result.records[0]
    scenario = with_overrides(load(str(one / "points" / f"{record['point']}.toml")), seed=record["seed"])
    summary_json, _ = execute(scenario, one.parent / "replay", report=False)
    assert summary_json["digest"] == record["digest"]


def test_exit_status_and_progress(tiny, tmp_path, monkeypatch, capsys):
    path, one, result = tiny
    assert run_sweep(str(path), str(one)) == 0  # everything reused
    assert "0 executed, 8 reused" in capsys.readouterr().out

    import sim.sweep.driver as driver

    violating = SweepResult(result.sweep, one, [dict(result.records[0], metrics=dict(
        result.records[0]["metrics"], violations=2))], 1, 0, [], 1.0, "test", False)
    monkeypatch.setattr(driver, "execute_sweep", lambda *a, **k: violating)
    assert run_sweep(str(path), str(tmp_path / "v")) == 1

    quiet = io.StringIO()
    Progress("x", 4, 0, quiet).step()
    assert quiet.getvalue() == ""

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    progress = Progress("x", 4, 1, tty)
    progress.step()
    progress.close()
    assert "sweep x: 2/4 runs (1 reused)" in tty.getvalue() and "runs/s" in tty.getvalue()


def test_the_built_in_example_validates():
    sweep = load_sweep("yield_example")
    assert sweep.path == ROOT / "scenarios" / "sweeps" / "yield_example.toml"
    assert 6 <= len(sweep.points) <= 12 and len(sweep.seeds) == 2 and sweep.backend == "model"
    assert sweep.engine == "fast" and sweep.scenario.config.engine == "fast"  # sweeps default to the fast engine
    assert sweep.scenario.config.users >= 1_000  # research size: thousands of holders…
    assert sweep.scenario.config.duration_s >= 366 * 86_400  # …for a year: long enough for Gold


def test_a_sweep_can_ask_for_the_reference_engine(tmp_path):
    path = tmp_path / "ref.toml"
    path.write_text('[sweep]\nname = "ref"\nscenario = "yield_season"\nengine = "reference"\n'
                    '[vary]\nbase_rate = [400]\n[objective]\nmetric = "holder_apy_mean"\n')
    sweep = load_sweep(str(path))
    assert sweep.engine == "reference" and sweep.scenario.config.engine == "reference"
    path.write_text('[sweep]\nname = "bad"\nscenario = "yield_season"\nbackend = "evm"\nengine = "fast"\n'
                    '[vary]\nbase_rate = [400]\n[objective]\nmetric = "holder_apy_mean"\n')
    with pytest.raises(ScenarioError, match="fast engine"):
        load_sweep(str(path))


def test_unreadable_sweep_files_and_bad_worker_counts_exit_2_with_one_line(tmp_path, capsys):
    from sim.cli import main

    path = tmp_path / "s.toml"
    for content, needle in [(TINY.encode("utf-16"), "UTF-16"), (bytes(range(256)), "not UTF-8"),
                            (b"x = " + b"[" * 100_000 + b"]" * 100_000, "nested more than 32 levels")]:
        path.write_bytes(content)
        assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip()
        assert needle in err and len(err.splitlines()) == 1
    for workers in ("0", "-3", "100000"):
        assert main(["sweep", "yield_example", "--workers", workers, "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip()
        assert f"--workers {workers}: expected a number of worker processes in [1, 256]" in err
    assert not (tmp_path / "out").exists()


def test_backend_override_runs_the_same_sweep_on_revm(tmp_path):
    """`sweep --backend revm`: another sweep (its own base hash), the same per-run figures as the models
    (on the reference engine: the fast engine draws its worlds differently)."""
    one = TINY.replace("seeds = 2", "seeds = 1\nengine = \"reference\"").replace("bronze_multiplier = [110, 150]",
                                                                              "bronze_multiplier = [110]")
    path = write(tmp_path, one)
    model, revm = load_sweep(str(path)), load_sweep(str(path), "revm")
    assert (model.backend, revm.backend) == ("model", "revm") and model.base_hash != revm.base_hash
    assert run_sweep(str(path), str(tmp_path / "m"), 1) == 0
    assert run_sweep(str(path), str(tmp_path / "r"), 1, backend="revm") == 0
    m, r = (list(csv.DictReader(open(tmp_path / out / "runs.csv"))) for out in ("m", "r"))
    figures = [key for key in m[0] if key in METRICS]
    assert len(m) == 2 and len(figures) > 5
    assert [{k: row[k] for k in figures} for row in m] == [{k: row[k] for k in figures} for row in r]
    with pytest.raises(ScenarioError, match="--backend: expected one of"):
        load_sweep(str(path), "geth")

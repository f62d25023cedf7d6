"""The research toolkit: any scenario key in [vary], user metrics in worker processes, time series, Sobol'
and Morris indices, the adversarial search and the notebook API (sim.research)."""

from __future__ import annotations

import io
import json
import math
import tomllib
from pathlib import Path

import attrs
import numpy as np
import pyarrow.parquet as pq
import pytest

from contracts_model.params import YieldParams
from sim import research
from sim.scenario import NAME, ScenarioError, load
from sim.search.cli import run_search
from sim.search.driver import execute_search
from sim.search.loop import best, search_loop
from sim.search.spec import load_search
from sim.sweep import sensitivity as gsa
from sim.sweep.driver import execute_sweep
from sim.sweep.metrics import METRICS, REGISTRY, metric
from sim.sweep.runner import run_one
from sim.sweep.spec import Param, load_sweep

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str, name: str = "file.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------- any key

ANY = """
[sweep]
scenario = "deep_reorg"
seeds = 1
[override.world]
users = 20
[vary]
"protocol.pct_bps" = [10, 50]
"events[1].depth" = [1, 3]
"world.duration" = ["3d", "80h"]
"protocol.yield.max_rate" = [800]
[vary.agents]
spend_per_day = { min = 0.5, max = 2.5, steps = 3 }
[objective]
metric = "max_backing_window_s"
"""


def test_vary_takes_any_scenario_key_dotted_or_nested(tmp_path):
    sweep = load_sweep(str(write(tmp_path, ANY)))
    assert [(p.name, p.kind) for p in sweep.params] == [
        ("protocol.pct_bps", "int"), ("events[1].depth", "int"), ("world.duration", "int"), ("max_rate", "int"),
        ("agents.spend_per_day", "float")]
    assert len(sweep.points) == 2 * 2 * 2 * 1 * 3
    last = sweep.points[-1]
    assert last.id == "protocol.pct_bps-50_events.1.depth-3_world.duration-80h_max_rate-800_agents.spend_per_day-2.5"
    c = last.scenario.config
    assert (c.params.pct_bps, c.agents.spend_per_day, c.duration_s) == (50, 2.5, 80 * 3600)
    assert c.schedule[1].params["depth"] == 3 and c.schedule[3].params["depth"] == 2  # only events[1] varies
    assert c.params.yield_params.max_rate == 800 and c.preset is None
    base = sweep.scenario.config
    assert attrs.evolve(c, params=base.params, preset=base.preset, agents=base.agents, duration_s=base.duration_s,
                        schedule=base.schedule) == base  # nothing else moved
    # Bare YieldParams names: the same worlds as replacing yield_params directly (what sweeps did before).
    bare = load_sweep("yield_example")
    for point in bare.points[:3]:
        expected = attrs.evolve(bare.scenario.config.params.yield_params or YieldParams(), **point.values)
        assert point.scenario.config == attrs.evolve(
            bare.scenario.config, params=attrs.evolve(bare.scenario.config.params, yield_params=expected), preset=None)


BAD_KEYS = [
    ('"agents.spend_per_dy" = [1]', r"\[vary\] agents.spend_per_dy: \[agents\]: unknown key 'spend_per_dy' \(known keys"),
    ('"events[9].depth" = [1]', r"\[vary\]: events\[9\].depth: the base scenario has 4 \[\[events\]\]"),
    ('"protocol.pct_bps" = [1.5]', r"\[vary\] protocol.pct_bps values\[0\]: expected an integer, got 1.5"),
    # a value is checked on its own like the field it sets, at its place in the file (also one a random
    # design may never draw); a point, whole, by the scenario parser (the checks across keys)
    ('"agents.taproot_share" = [0.5, 1.5]', r"\[vary\] agents.taproot_share values\[1\]: expected a share in \[0, 1\], got 1.5"),
    ('"agents.taproot_share" = { min = 0.1, max = 1.5 }\n[design]\nkind = "random"\ncount = 1',
     r"\[vary\] agents.taproot_share max: expected a share in \[0, 1\], got 1.5"),
    ('"adversary.probes_per_day" = [0.0, -1.0]', r"\[vary\] adversary.probes_per_day values\[1\]: expected a rate per user"),
    ('"world.duration" = ["1d", "3d"]',
     r"point world.duration-1d: \[\[events\]\] #2 at: expected a time before the end of the world \(86,400 s\)"),
    ('"world.seed" = [1]', r"'world.seed' is set by the sweep, not varied \(use \[sweep\] seeds\)"),
    ('"wrld.users" = [1]', r"'wrld.users': unknown table 'wrld'"),
    ('base_rate = [1]\n"protocol.yield.base_rate" = [2]', r"base_rate: varied twice"),
    ('"bitcoin.network" = { min = 1, max = 2 }', r"bitcoin.network: min/max need a numeric key"),
    ('"oracle.poll_interval_s" = [300, "5m"]', r"oracle.poll_interval_s values: expected distinct values"),
]


def test_point_scenarios_are_named_as_scenario_names_must_be(tmp_path):
    """A point's scenario is <sweep>.<point id>, spelt as a scenario name (no ',' of a pair, at most 100
    characters: a long id keeps its start and a hash of the whole)."""
    line = '"agents.addresses_per_user" = [[1, 2], [2, 3]]\n"agents.spend_per_day" = [0.123456, 0.234567]'
    text = f'[sweep]\nname = "{"n" * 90}"\nscenario = "deep_reorg"\n[vary]\n{line}\n[objective]\nmetric = "syncs"\n'
    sweep = load_sweep(str(write(tmp_path, text)))
    names = [p.scenario.name for p in sweep.points]
    assert sweep.points[0].id == "agents.addresses_per_user-1,2_agents.spend_per_day-0.123456"
    assert len(set(names)) == 4 and all(NAME.fullmatch(n) for n in names), names


def test_keys_checked_together_only_in_whole_points(tmp_path):
    """Silver and Gold thresholds varied past each other: each value is fine on its own, and every point
    keeps Gold after Silver, so the sweep is accepted (a value is not judged against the base's other keys)."""
    line = 'silver_after = ["200d", "400d"]\ngold_after = ["450d", "500d"]'
    path = write(tmp_path, f'[sweep]\nscenario = "deep_reorg"\n[vary]\n{line}\n[objective]\nmetric = "syncs"\n')
    sweep = load_sweep(str(path))
    assert [p.scenario.config.params.yield_params.silver_after // 86_400 for p in sweep.points] == [200, 200, 400, 400]


@pytest.mark.parametrize("line, message", BAD_KEYS)
def test_bad_keys_get_the_scenario_parsers_one_line_errors(tmp_path, line, message):
    path = write(tmp_path, f'[sweep]\nscenario = "deep_reorg"\n[vary]\n{line}\n[objective]\nmetric = "syncs"\n')
    with pytest.raises(ScenarioError, match=message) as info:
        load_sweep(str(path))
    assert str(path) in str(info.value) and "\n" not in str(info.value)


# ---------------------------------------------------------------------------------------- metrics, series

MODULE = '''
from sim.research import metric

@metric(unit="count", integer=True, description="users that bound two addresses or more")
def multi_address_users(world):
    return sum(1 for u in world.registry.users() if len(world.registry.addresses_of(u)) > 1)
'''

SERIES = """
[sweep]
name = "series"
scenario = "yield_season"
seeds = 2
metrics = ["liability_ratio"]
modules = ["lab_metrics.py"]
[override.world]
users = 8
duration = "5d"
[override.yield]
traders = 0
[vary]
"protocol.yield.base_rate" = [300, 900]
[series]
columns = ["yield_owed_total", "backing_ratio", "syncs"]
bands = ["yield_owed_total"]
[objective]
metric = "multi_address_users"
constraints = ["liability_ratio <= 1"]
"""


@pytest.fixture(scope="module")
def series_sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("series")
    (tmp / "lab_metrics.py").write_text(MODULE, encoding="utf-8")
    path = write(tmp, SERIES, "series.toml")
    result = execute_sweep(load_sweep(str(path)), tmp / "out", workers=2, stream=io.StringIO())
    return path, tmp / "out", result


def test_a_user_metric_registered_in_a_module_is_measured_by_worker_processes(series_sweep):
    path, out, result = series_sweep
    assert result.executed == 4 and not result.failed
    sweep = load_sweep(str(path))
    assert "multi_address_users" in sweep.metrics and "multi_address_users" not in METRICS
    point = sweep.points[1]
    here = run_one(sweep.task(point, 2))  # the same run in this process, through the registry
    stored = json.loads((out / "runs" / f"{point.id}-s2.json").read_text())
    assert stored["metrics"]["multi_address_users"] == here["metrics"]["multi_address_users"] > 0
    assert {m for m in stored["metrics"]} == set(METRICS) | {"multi_address_users"}
    summary = (out / "summary.md").read_text()
    assert "multi_address_users" in summary and "users that bound two addresses or more" in summary
    assert pq.read_table(out / "runs.parquet").schema.field("multi_address_users").type == "int64"
    # A module that does not exist, a name taken by a built-in.
    with pytest.raises(ScenarioError, match=r"\[sweep\] modules\[0\]: 'nope.py': no such file"):
        load_sweep(str(write(path.parent, SERIES.replace("lab_metrics.py", "nope.py"), "nope.toml")))
    with pytest.raises(ValueError, match="is a built-in metric"):
        metric("syncs")(lambda world: 1)


def test_time_series_are_kept_per_run_and_drawn_as_bands(series_sweep):
    path, out, result = series_sweep
    files = sorted(p.relative_to(out).as_posix() for p in (out / "series").rglob("*.parquet"))
    assert files == [f"series/point=base_rate-{r}/seed={s}/part-0.parquet" for r in (300, 900) for s in (1, 2)]
    data = research.load(out)
    series = data.series
    assert list(series.columns) == ["point", "seed", "t", "yield_owed_total", "backing_ratio", "syncs"]
    sweep = load_sweep(str(path))
    rows = run_one(sweep.task(sweep.points[0], 1))["series"]  # the worker's own rows
    one = series[(series.point == "base_rate-300") & (series.seed == 1)]
    assert one["t"].tolist() == rows["t"] and one["syncs"].tolist() == rows["syncs"]
    bands = data.bands("yield_owed_total")
    at = bands[(bands.point == "base_rate-900")].iloc[-1]
    last = series[(series.point == "base_rate-900") & (series.t == at.t)]["yield_owed_total"].to_numpy(float)
    assert at["mean"] == pytest.approx(last.mean()) and at["p95"] == pytest.approx(np.percentile(last, 95))
    assert at["p5"] <= at["mean"] <= at["p95"] and at["seeds"] == 2
    assert (out / "plots" / "bands-yield_owed_total.png").is_file()
    assert "bands-yield_owed_total" in (out / "summary.md").read_text()
    # A folder swept without series: turning them on reruns exactly the runs that lack them.
    plain = path.parent / "plain"
    text = SERIES.replace('[series]\ncolumns = ["yield_owed_total", "backing_ratio", "syncs"]\n'
                          'bands = ["yield_owed_total"]\n', "")
    execute_sweep(load_sweep(str(write(path.parent, text, "plain.toml"))), plain, workers=1, stream=io.StringIO())
    again = execute_sweep(load_sweep(str(path)), plain, workers=1, stream=io.StringIO())
    assert (again.executed, again.reused) == (4, 0)
    assert json.loads((plain / "runs" / "base_rate-300-s1.json").read_text())["digest"] == \
        json.loads((out / "runs" / "base_rate-300-s1.json").read_text())["digest"]


# ---------------------------------------------------------------------------------------- sensitivity

A, B = 7.0, 0.1  # Ishigami: y = sin x1 + a sin^2 x2 + b x3^4 sin x1 on [-pi, pi]^3
_V = A * A / 8 + B * math.pi**4 / 5 + B * B * math.pi**8 / 18 + 0.5
_V1, _V2, _V13 = 0.5 * (1 + B * math.pi**4 / 5) ** 2, A * A / 8, B * B * math.pi**8 * (1 / 18 - 1 / 50)
ISHIGAMI_S1 = (_V1 / _V, _V2 / _V, 0.0)  # 0.314, 0.442, 0
ISHIGAMI_ST = ((_V1 + _V13) / _V, _V2 / _V, _V13 / _V)  # 0.558, 0.442, 0.244


def test_sobol_indices_of_the_ishigami_function():
    """N = 1024 base samples (5,120 evaluations). Over 20 design seeds the largest error of any index was
    0.024 and the bootstrap half-widths stay below 0.1; a tolerance of 0.05 is twice the worst error seen
    and well under the gaps between the indices (>= 0.13), so a wrong estimator cannot pass."""
    params = [Param(f"x{i}", low=-math.pi, high=math.pi, kind="float") for i in (1, 2, 3)]
    names = [p.name for p in params]
    unit = gsa.rows("sobol", names, samples=1024, seed=7)
    assert unit.shape == (gsa.row_count("sobol", 3, samples=1024), 3)
    x = np.column_stack([p.pick(unit[:, j]) for j, p in enumerate(params)])
    y = np.sin(x[:, 0]) + A * np.sin(x[:, 1]) ** 2 + B * x[:, 2] ** 4 * np.sin(x[:, 0])
    result = gsa.analyze("sobol", names, unit, y, seed=7)
    assert np.allclose(result["S1"], ISHIGAMI_S1, atol=0.05), result["S1"]
    assert np.allclose(result["ST"], ISHIGAMI_ST, atol=0.05), result["ST"]
    assert all(0 < c < 0.1 for c in result["S1_conf"] + result["ST_conf"])
    assert gsa.analyze("sobol", names, unit, np.ones(len(y)), seed=7) == "the same in every run: nothing to apportion"


def test_morris_elementary_effects_of_a_linear_function_are_its_slopes():
    names = ["a", "b", "c"]
    unit = gsa.rows("morris", names, trajectories=10, levels=4, seed=3)
    y = 3 * unit[:, 0] + 1 * unit[:, 1]  # slope per whole range: 3, 1, 0
    result = gsa.analyze("morris", names, unit, y, levels=4, seed=3)
    assert np.allclose(result["mu_star"], [3, 1, 0]) and np.allclose(result["mu"], [3, 1, 0])
    assert np.allclose(result["sigma"], 0, atol=1e-9)


SOBOL = """
[sweep]
name = "sobol_tiny"
scenario = "yield_season"
seeds = 1
metrics = ["liability_ratio", "syncs"]
[override.world]
users = 6
duration = "4d"
[override.yield]
traders = 0
[vary]
base_rate = { min = 100, max = 1500 }
"oracle.delta_threshold_sats" = { min = 500, max = 5000 }
[design]
kind = "sobol"
samples = 16
seed = 2
[objective]
metric = "liability_ratio"
"""


def test_a_real_sobol_sweep_finds_the_dominant_parameter(tmp_path):
    """The holders' yield (the liability) is linear in base_rate; the oracle's rate-limit threshold decides
    only whether small increases wait one EVM block, which leaves the yield accrued over five days as it is."""
    sweep = load_sweep(str(write(tmp_path, SOBOL)))
    assert len(sweep.samples) == 16 * (2 + 2) and len(sweep.points) <= len(sweep.samples)
    assert not sweep.notes  # the design separates both parameters (see sensitivity.resolution)
    result = execute_sweep(sweep, tmp_path / "out", workers=2, stream=io.StringIO())
    assert result.complete and not result.failed
    rows = {(r["metric"], r["parameter"]): r for r in result.indices}
    rate, threshold = rows[("liability_ratio", "base_rate")], rows[("liability_ratio", "oracle.delta_threshold_sats")]
    assert rate["ST"] > 0.8 and rate["S1"] > 0.8 and threshold["ST"] < 0.05
    table = pq.read_table(tmp_path / "out" / "sensitivity.parquet").to_pylist()
    assert {(r["metric"], r["parameter"]) for r in table} == set(rows)
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "## Global sensitivity" in summary and "| base_rate |" in summary
    assert (tmp_path / "out" / "plots" / "sobol-liability_ratio.png").is_file()
    assert research.load(tmp_path / "out").indices.shape[0] == len(result.indices)


def test_sensitivity_designs_are_validated(tmp_path):
    for extra, message in (("kind = 'sobol'\n", r"a sobol design needs samples"),
                           ("kind = 'sobol'\nsamples = 12\n", r"samples: expected a power of 2"),
                           ("kind = 'morris'\n", r"a morris design needs trajectories"),
                           ("kind = 'morris'\ntrajectories = 4\nlevels = 3\n", r"levels: expected an even number"),
                           ("kind = 'grid'\nsamples = 8\n", r"only sobol designs take a samples")):
        text = SOBOL.split("[design]")[0] + "[design]\n" + extra + "[objective]\nmetric = 'syncs'\n"
        with pytest.raises(ScenarioError, match=message):
            load_sweep(str(write(tmp_path, text)))
    example = load_sweep("sobol_example")
    assert example.design == "sobol" and len(example.samples) == example.options["samples"] * (len(example.params) + 2)
    assert not example.notes
    # Too few samples for five parameters: the design says so, and how badly.
    small = load_sweep(str(write(tmp_path, SOBOL.replace("samples = 16", "samples = 4"))))
    assert "too small to separate" in small.notes[0] and "raise samples" in small.notes[0]


# ---------------------------------------------------------------------------------------- search

TOY = """
[search]
scenario = "baseline"
budget = 80
batch = 8
seed = {seed}
sampler = "{sampler}"
[vary]
"agents.spend_per_day" = {{ min = 0.0, max = 1.0 }}
"agents.receive_per_day" = {{ min = 0.0, max = 1.0 }}
[objective]
metric = "syncs"
bound = 0.8
"""
#: The planted flaw: a bump of width 0.05 at the centre of a cell of the 9 x 9 grid; the bound breaks
#: only within 0.033 of its centre, 0.34 % of the square.
CENTRE, WIDTH = (0.6875, 0.3125), 0.05


def planted(values: dict) -> dict:
    x, y = values["agents.spend_per_day"], values["agents.receive_per_day"]
    return {"syncs": math.exp(-((x - CENTRE[0]) ** 2 + (y - CENTRE[1]) ** 2) / (2 * WIDTH**2))}


def test_the_search_finds_a_narrow_planted_flaw_that_a_grid_of_equal_budget_misses(tmp_path):
    grid = [planted({"agents.spend_per_day": x, "agents.receive_per_day": y})["syncs"]
            for x in np.linspace(0, 1, 9) for y in np.linspace(0, 1, 9)]  # 81 points >= the 80 trials
    assert max(grid) < 0.25
    for sampler, seed in (("tpe", 1), ("tpe", 2), ("tpe", 3), ("cmaes", 1)):
        search = load_search(str(write(tmp_path, TOY.format(seed=seed, sampler=sampler))))
        trials = search_loop(search, lambda batch: [planted(v) for v in batch])
        found = best(search, trials)
        assert len(trials) == 80 and found.breaks and found.value >= 0.8, (sampler, seed, found)
    # Deterministic for a seed, whatever the evaluation order inside a batch.
    search = load_search(str(write(tmp_path, TOY.format(seed=1, sampler="tpe"))))
    first = search_loop(search, lambda batch: [planted(v) for v in batch])

    def reversed_order(batch):
        answers = {i: planted(v) for i, v in reversed(list(enumerate(batch)))}
        return [answers[i] for i in range(len(batch))]

    assert [t.values for t in search_loop(search, reversed_order)] == [t.values for t in first]


SEARCH = """
[search]
name = "tiny_window"
scenario = "deep_reorg"
budget = 8
batch = 4
startup = 4
seed = 5
[override.world]
users = 20
[vary]
"oracle.reaction_delay_s" = { min = 0, max = 120 }
"events[1].depth" = { min = 1, max = 4 }
[objective]
metric = "max_backing_window_s"
bound = 100
"""


def test_a_search_on_worlds_reports_a_replayable_worst_case(tmp_path, capsys):
    path = write(tmp_path, SEARCH, "search.toml")
    assert run_search(str(path), str(tmp_path / "one"), workers=1) == 1  # the bound of 100 s breaks
    out = capsys.readouterr().out
    assert "bound 100: BROKEN" in out and "worst.toml" in out
    manifest = json.loads((tmp_path / "one" / "search.json").read_text())
    worst = manifest["worst"]
    # A window closes when the oracle acts on the reorg, reaction_delay_s later: the delay is the window.
    assert worst["value"] > 100 and worst["value"] <= worst["values"]["oracle.reaction_delay_s"] + 1
    assert manifest["replay"]["matches"] and (tmp_path / "one" / "worst" / "report.html").is_file()
    scenario = load(str(tmp_path / "one" / "worst.toml"))
    assert scenario.config.oracle.reaction_delay_s == worst["values"]["oracle.reaction_delay_s"]
    assert (tmp_path / "one" / "plots" / "progress.png").is_file()
    assert "BROKEN" in (tmp_path / "one" / "summary.md").read_text()
    # The same command again resumes: nothing to run, and the search rewrites its own worst/ run folder.
    assert run_search(str(path), str(tmp_path / "one"), workers=1) == 1
    assert "0 runs executed" in capsys.readouterr().out
    # Two workers: the same trials; a rerun into the same folder replays without running anything.
    two = execute_search(load_search(str(path)), tmp_path / "two", workers=2, stream=io.StringIO())
    assert (tmp_path / "one" / "trials.csv").read_bytes() == (tmp_path / "two" / "trials.csv").read_bytes()
    again = execute_search(load_search(str(path)), tmp_path / "two", workers=2, report=False, stream=io.StringIO())
    assert again.executed == 0 and [t.values for t in again.trials] == [t.values for t in two.trials]
    data = research.load(tmp_path / "two")
    assert len(data.trials) == 8 and data.worst["trial"] == worst["trial"]


def test_bad_search_files_exit_2_with_one_line(tmp_path, capsys):
    cases = [(SEARCH.replace("batch = 4", "batch = 9"), "batch: 9 trials at once exceed the budget of 8"),
             (SEARCH.replace("seed = 5", "seed = 5\nsampler = 'grid'"), "sampler: expected one of tpe, cmaes, random"),
             (SEARCH.replace("bound = 100", "bound = 'high'"), "bound: expected a number"),
             (SEARCH.replace("[search]", "[sweep]"), "a sweep file (it has [sweep]); run it with `rbtc-sim sweep`"),
             (SEARCH.replace('"events[1].depth" = { min = 1, max = 4 }', '"events[1].dept" = { min = 1, max = 4 }'),
              "unknown key 'dept'"),
             # seeds, the optimiser's seed and every bound are checked like the field they set, before anything runs
             (SEARCH.replace("seed = 5", "seed = 4_294_967_296"),
              "[search] seed: expected a whole number in [0, 2**32), got 4294967296"),
             (SEARCH.replace("seed = 5", "seed = -1"), "[search] seed: expected a whole number in [0, 2**32), got -1"),
             (SEARCH.replace("seed = 5", "seed = 5\nseeds = 0"), "[search] seeds: expected a count of seeds in [1, 100,000]"),
             (SEARCH.replace("max = 120 }", "max = 9_000_000_000 }"),
              "[vary] oracle.reaction_delay_s max: expected a whole number of seconds in [0, 315,360,000], got 9000000000"),
             (SEARCH.replace("{ min = 1, max = 4 }", "{ min = 0, max = 4 }"),
              "[vary] events[1].depth min: expected a number of blocks in [1, 1,000,000], got 0")]
    from sim.cli import main

    for text, message in cases:
        assert main(["search", str(write(tmp_path, text, "bad.toml")), "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("rbtc-sim: error:") and message in err and "\n" not in err, err
    assert main(["search", str(write(tmp_path, SEARCH, "ok.toml")), "--out", str(tmp_path / "o"), "--workers", "0"]) == 2
    assert "--workers 0: expected a number of worker processes in [1, 256]" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------------------------------- notebook API


def test_research_runs_a_sweep_from_a_dict_and_loads_dataframes(tmp_path):
    spec = {
        "sweep": {"name": "nb", "scenario": "yield_season", "seeds": 2, "metrics": ["liability_ratio"]},
        "override": {"world": {"users": 8, "duration": "5d"}, "yield": {"traders": 0}},
        "vary": {"protocol.yield.base_rate": [300, 600], "agents": {"spend_per_day": {"values": [0.02, 0.2]}}},
        "series": {"columns": ["yield_owed_total"]},
        "objective": {"metric": "liability_ratio", "goal": "minimize"},
    }
    assert tomllib.loads(research.to_toml(spec)) == spec
    data = research.run(spec, tmp_path / "nb", workers=2)
    assert data.parameters == ["base_rate", "agents.spend_per_day"]
    assert len(data.points) == 4 and len(data.runs) == 8 and set(data.series.seed) == {1, 2}
    best_point = data.points.sort_values("rank").iloc[0]
    assert best_point["liability_ratio_mean"] == data.points["liability_ratio_mean"].min()
    assert best_point["base_rate"] == 300
    # The stored sweep.toml reruns it: nothing left to execute.
    again = execute_sweep(load_sweep(str(tmp_path / "nb" / "sweep.toml")), tmp_path / "nb", workers=1,
                          stream=io.StringIO())
    assert again.executed == 0 and again.reused == 8
    from sim.exits import BadInput

    with pytest.raises(BadInput, match="not a sweep or search folder"):
        research.load(tmp_path)


@pytest.fixture(autouse=True)
def _registry_is_left_as_found():
    before = dict(REGISTRY)
    yield
    REGISTRY.clear()
    REGISTRY.update(before)

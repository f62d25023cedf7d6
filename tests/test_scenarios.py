"""Scenario files: validation messages, round-trips, and every built-in's pinned digest."""

from __future__ import annotations

import json
import os
from pathlib import Path

import attrs
import pytest

from sim.config import DAY
from sim.scenario import ScenarioError, builtins, dump, load, parse, parse_duration

DIGESTS = Path(__file__).with_name("digests.json")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[world]\nuserz = 5\n", r"\[world\]: unknown key 'userz' \(known keys: .*users"),
        ("[world]\nduration = -5\n", r"\[world\] duration: expected a whole number of seconds in \[1, 315,360,000\], got -5"),
        ("[world]\nduration = \"0s\"\n", r"\[world\] duration: expected a whole number of seconds in \[1, .*\], got '0s'"),
        ("[world]\nduration = \"two days\"\n", r"\[world\] duration: expected a duration"),
        ("[protocol]\npreset = \"mainnet\"\n", r"\[protocol\] preset: unknown preset 'mainnet' \(known presets: fixed_fee, testnet\)"),
        ("[protocol]\npct_bps = \"ten\"\n", r"\[protocol\] pct_bps: expected an integer, got 'ten'"),
        ("[world]\nbackend = \"geth\"\n", r"\[world\] backend: expected one of model, evm, revm, lockstep, lockstep-revm, got 'geth'"),
        ("[agents]\nspend_fraction = [0.5]\n", r"\[agents\] spend_fraction: expected a list of 2 values"),
        ("[agents]\nprepay_wei = [10, 1]\n", r"\[agents\] prepay_wei: expected \[low, high\] of wei in \[0, 2\*\*256 - 1\] with low <= high, got \[10, 1\]"),
        ("[agents]\ntopup_share = 1.5\n", r"\[agents\] topup_share: expected a share in \[0, 1\], got 1.5"),
        ("[bitcoin]\nnetwork = \"signet\"\n", r"\[bitcoin\] network: expected one of mainnet, testnet, regtest"),
        ("[oracle]\npoll_interval = 300\n", r"\[oracle\]: unknown key 'poll_interval'"),
        ("[world]\nduration = \"1d\"\n[[events]]\nkind = \"earthquake\"\nat = 5\n", r"\[\[events\]\] #1 kind: expected one of reorg"),
        ("[world]\nduration = \"1d\"\n[[events]]\nkind = \"reorg\"\nat = \"2d\"\ndepth = 2\n", r"#1 at: expected a time before the end of the world \(86,400 s\), got '2d'"),
        ("[world]\nduration = \"1d\"\n[[events]]\nkind = \"reorg\"\nat = 5\n", r"a reorg needs 'depth'"),
        ("[world]\nduration = \"1d\"\n[[events]]\nkind = \"reorg\"\nat = 5\ndepth = 2\nwidth = 3\n", r"unknown key 'width' for a reorg"),
        ("[wrld]\nusers = 5\n", r"unknown table \[wrld\]"),
        ("[world\nusers = 5\n", r"not valid TOML"),
    ],
)
def test_bad_scenarios_get_one_line_naming_file_key_and_expectation(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError, match=expected) as caught:
        load(str(path))
    message = str(caught.value)
    assert message.startswith(str(path))
    assert "\n" not in message


def test_unknown_scenario_names_the_built_ins():
    with pytest.raises(ScenarioError, match="built-ins: .*baseline"):
        load("no_such_scenario")


def test_durations():
    assert parse_duration("90s", "x") == 90
    assert parse_duration("30m", "x") == 1800
    assert parse_duration("12h", "x") == 43200
    assert parse_duration("7d", "x") == 604800
    assert parse_duration(1.5e3, "x") == 1500
    with pytest.raises(ScenarioError):
        parse_duration(1.5, "x")
    with pytest.raises(ScenarioError):
        parse_duration(True, "x")


def test_protocol_overrides_on_a_preset_and_yield_parameters():
    scenario = parse({"protocol": {"preset": "fixed_fee", "fixed_wei": 5, "yield": {"base_rate": 800,
                                                                                     "silver_after": "90d"}}}, "t")
    params = scenario.config.params
    assert (params.pct_bps, params.fixed_wei) == (10, 5)
    assert params.yield_params.base_rate == 800 and params.yield_params.silver_after == 90 * 86400
    assert scenario.config.preset is None  # customised: no longer the named preset


def test_every_built_in_validates_and_round_trips_through_toml(tmp_path):
    scenarios = builtins()
    names = {s.name for s in scenarios}
    assert {"baseline", "fee_drought", "deep_reorg", "dispute_storm", "yield_season", "oracle_outage",
            "load_10k"} <= names
    for scenario in scenarios:
        assert scenario.description and scenario.expected, f"{scenario.name} lacks its story"
        path = tmp_path / f"{scenario.name}.toml"
        path.write_text(dump(scenario))
        again = load(str(path))
        assert again.config == scenario.config
        assert (again.name, again.description, again.expected) == (scenario.name, scenario.description,
                                                                    scenario.expected)


@pytest.mark.parametrize("name", sorted(s.name for s in builtins() if s.config.engine == "reference"))
def test_built_in_scenarios_keep_their_pinned_digest_and_expected_outcome(name, builtin_run):
    """Same scenario + same seed = same digest, on any machine: pinned in tests/digests.json.

    After an intended change of behaviour, refresh the pins with
    `RBTC_UPDATE_DIGESTS=1 .venv/bin/python -m pytest tests/test_scenarios.py -k pinned`.
    Scenarios on the fast engine are pinned (shortened) in tests/test_fast_engine.py.
    """
    summary, _ = builtin_run(name)
    pinned = json.loads(DIGESTS.read_text()) if DIGESTS.exists() else {}
    if os.environ.get("RBTC_UPDATE_DIGESTS"):
        pinned[name] = summary["digest"]
        DIGESTS.write_text(json.dumps(dict(sorted(pinned.items())), indent=2) + "\n")
    assert summary["complete"]
    assert summary["digest"] == pinned.get(name), f"{name}: digest changed (or not pinned yet)"
    assert summary["invariant_violations"] == []
    if name == "fee_drought":
        assert summary["emergency_burns"] > 0
    if name == "deep_reorg":
        windows = summary["backing"]
        assert windows["windows_by_cause"]["reorg"] > 0
        assert windows["windows_by_cause"]["unexplained"] == 0
        assert 0 < windows["max_violation_window_s"] <= 31
    if name == "oracle_outage":
        assert summary["backing"]["windows_by_cause"]["outage"] > 0
    if name == "dispute_storm":
        disputes = summary["disputes"]
        assert disputes["accepted"] > 0 and disputes["rejected"] > 0 and disputes["open"] == 0
        assert disputes["max_resolution_s"] <= 900
    if name == "yield_season":
        tiers = summary["yield"]["tiers"]
        assert tiers["silver"] > 0 and tiers["gold"] > 0
        assert summary["yield"]["claims"] > 0 and summary["yield"]["traders"] > 0
    if name == "baseline":
        assert summary["backend"] == "evm" and summary["backing"]["violations"] == 0


# ---------------------------------------------------------------------------------------- one validation

W = '[world]\nusers = 2\nduration = "1d"\n'


@pytest.mark.parametrize(("text", "expected"), [
    # what validated but crashed or hung a run, or was silently accepted (the bug report's list)
    (W + "evm_block_time_s = 0\n", r"\[world\] evm_block_time_s: expected a whole number of seconds in \[1, "),
    (W + "[bitcoin]\nmean_block_interval_s = 0\n", r"\[bitcoin\] mean_block_interval_s: expected .* \[1, "),
    (W + "[bitcoin]\nmax_block_txs = 0\n", r"\[bitcoin\] max_block_txs: expected a whole number in \[1, "),
    (W + "[oracle]\npoll_interval_s = 0\n", r"\[oracle\] poll_interval_s: expected .* in \[1, .*got 0"),
    (W + '[[events]]\nkind = "reorg"\nat = 5\ndepth = 2\ndouble_spend = 0.7\ndrop = 0.6\n',
     r"#1 drop: expected double_spend \+ drop <= 1 \(double_spend is 0.7.*got 0.6"),
    (W + '[[events]]\nkind = "reorg"\nat = 5\ndepth = 2\ndrop = 0.5\n', r"#1 drop: expected double_spend \+ drop <= 1"),
    (W + "[agents]\nspend_per_day = nan\n", r"\[agents\] spend_per_day: expected a rate per user per day .*got nan"),
    (W + "[agents]\nreceive_per_day = inf\n", r"\[agents\] receive_per_day: expected .*got inf"),
    (W + "[agents]\nreceive_per_day = 1e6\n", r"\[agents\] receive_per_day: expected a rate per user per day in \[0, 1,000\]"),
    (W + "[agents]\ntaproot_share = nan\n", r"\[agents\] taproot_share: expected a share in \[0, 1\], got nan"),
    (W + "[oracle]\nregister_with_prepay_share = 1.01\n", r"register_with_prepay_share: expected a share"),
    (W + "[agents]\ninitial_btc_sats = [0, 0]\n", r"\[agents\] initial_btc_sats: expected \[low, high\] of sats in \[1, "),
    (W + "[agents]\nreceive_sats = [1, 2_100_000_000_000_001]\n", r"receive_sats: expected .* \(21 M BTC\)"),
    (W + "[agents]\nprepay_wei = [0, 115792089237316195423570985008687907853269984665640564039457584007913129639936]\n",
     r"prepay_wei: expected \[low, high\] of wei in \[0, 2\*\*256 - 1\]"),
    ('[world]\nusers = 1_000_000_000\nduration = "1d"\n', r"\[world\] users: expected a whole number in \[1, 1,000,000\]"),
    ('[world]\nusers = 2\nduration = "5200000w"\n', r"\[world\] duration: expected .* in \[1, 315,360,000\], got '5200000w'"),
    ('[world]\nusers = 2\nduration = inf\n', r"\[world\] duration: expected a duration .*got inf"),
    ('[world]\nusers = 2\nduration = nan\n', r"\[world\] duration: expected a duration .*got nan"),
    ('[world]\nusers = 2\nduration = "1d"\nduration_s = 60\n', r"\[world\]: give duration or duration_s, not both"),
    ('[world]\nusers = 1_000_000\nduration = "3650d"\n',
     r"\[world\] users x duration x rates: expected a run of at most 200,000,000 estimated events"),
    (W + "[protocol]\npct_bps = 9_000_000_000_000_000_000\n", r"\[protocol\] pct_bps: expected at most 10,000 basis points"),
    (W + "[protocol.yield]\nbase_rate = 9e18\n", r"\[protocol.yield\] base_rate: expected an integer, got 9e\+18"),
    (W + "[protocol.yield]\nmax_rate = 9_000_000_000_000_000_000\n",
     r"\[protocol.yield\] max_rate: expected at most 10,000 basis points"),
    (W + "[protocol]\nfixed_wei = -1\n", r"\[protocol\] fixed_wei: expected a whole number in \[0, 2\*\*256 - 1\], got -1"),
    ('[world]\nseed = -1\n', r"\[world\] seed: expected a whole number in \[0, "),
    ("world = 5\n", r"\[world\]: expected a table, got 5"),
    ("[scenario]\nname = \"../x\"\n", r"\[scenario\] name: expected a name of letters"),
    ("[scenario]\nname = 5\n", r"\[scenario\] name: expected a string, got 5"),
    ("[yield]\njoin_holders = 1\n", r"\[yield\] join_holders: expected true or false, got 1"),
    ("[world]\nusers = 1979-05-27\n", r"\[world\] users: expected an integer, got datetime.date"),
    (W + "[[events]]\nkind = \"oracle_outage\"\nat = 5\nduration = \"1d\"\nduration_s = 5\n",
     r"#1: unknown key 'duration_s' for a oracle_outage"),
])
def test_validate_rejects_what_run_would_fail_on(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError, match=expected) as caught:
        load(str(path))
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


def test_a_world_config_built_in_python_is_checked_like_a_file():
    from contracts_model.validation import InvalidValue
    from sim.config import AgentConfig, BitcoinConfig, ScheduledEvent, WorldConfig

    for build, field in [
        (lambda: WorldConfig(evm_block_time_s=0), "evm_block_time_s"),
        (lambda: WorldConfig(users=10**9), "users"),
        (lambda: BitcoinConfig(max_block_txs=0), "max_block_txs"),
        (lambda: AgentConfig(prepay_wei=(10**19, 10**18)), "prepay_wei"),
        (lambda: AgentConfig(spend_per_day=float("inf")), "spend_per_day"),
        (lambda: ScheduledEvent("reorg", 5, {"depth": 1, "double_spend": 0.6, "drop": 0.6}), "drop"),
        (lambda: WorldConfig(duration_s=60, schedule=(ScheduledEvent("reorg", 60, {"depth": 1}),)),
         "schedule[0].at_s"),
    ]:
        with pytest.raises(InvalidValue) as caught:
            build()
        assert caught.value.field == field


def test_big_wei_ranges_run_and_small_ones_keep_numpys_draws():
    """Regression: prepay_wei = [10**18, 10**19] crashed with "high is out of bounds for int64"."""
    import numpy as np

    from sim.draws import uniform_int
    from sim.world import World

    for low, high in [(0, 10), (10**15, 10**16), (5, 5), (0, 2**63 - 1)]:
        ours, theirs = np.random.default_rng(4), np.random.default_rng(4)
        assert [uniform_int(ours, low, high) for _ in range(50)] == [
            int(theirs.integers(low, high + 1)) if high > low else low for _ in range(50)]
    rng = np.random.default_rng(1)
    for low, high in [(10**18, 10**19), (0, 2**256 - 1), (2**63, 2**63 + 1)]:
        draws = [uniform_int(rng, low, high) for _ in range(200)]
        assert all(low <= d <= high for d in draws) and len(set(draws)) > 1
    assert [uniform_int(np.random.default_rng(2), 0, 2**256 - 1) for _ in range(2)] == [
        uniform_int(np.random.default_rng(2), 0, 2**256 - 1)] * 2  # deterministic
    scenario = parse({"world": {"users": 5, "duration": "6h"}, "agents": {"prepay_wei": [10**18, 10**19]}}, "t")
    world = World(scenario.config)
    world.run()
    world.finish()
    prepaid = [r["value"] for r in world.log.records if r["kind"] == "evm_tx" and r["fn"] == "depositETH"]
    prepaid += [r["prepay_wei"] for r in world.log.records if r["kind"] == "bind" and r["prepay_wei"]]
    assert prepaid and all(10**18 <= v <= 10**19 for v in prepaid) and world.violations.count == 0


def test_the_simulated_world_never_deposits_more_than_21_million_btc():
    from sim.bitcoin.transactions import MAX_MONEY
    from sim.world import World

    scenario = parse({"world": {"users": 30, "duration": "1d"},
                      "agents": {"initial_btc_sats": [MAX_MONEY // 10, MAX_MONEY // 10], "receive_per_day": 0.0}}, "t")
    world = World(scenario.config)
    world.run()
    world.finish()
    deposits = [r for r in world.log.records if r["kind"] == "btc_tx" and r["tx_kind"] == "deposit"]
    refused = [r for r in world.log.records if r["kind"] == "agent_error" and r["error"] == "SupplyExhausted"]
    assert len(deposits) == 10 and len(refused) == 20
    assert world.chain.external_funded == MAX_MONEY and world.violations.count == 0


@pytest.mark.parametrize("name", sorted(s.name for s in builtins()))
def test_the_estimate_of_every_built_in_is_within_a_factor_of_two(name, builtin_run, tmp_path):
    """Research-scale scenarios (the fast engine's) are checked shortened to 1,000 users and two weeks,
    on their own engine, whose event count is the reference's (README "Counting events")."""
    from sim.estimate import estimate
    from sim.run import execute

    scenario = load(name)
    if scenario.config.engine == "reference":
        summary, _ = builtin_run(name)
    else:
        scenario = attrs.evolve(scenario, config=attrs.evolve(scenario.config, users=1_000, duration_s=14 * DAY))
        summary, _ = execute(scenario, tmp_path / "run", report=False)
    guess = estimate(scenario.config)
    assert 0.5 <= guess.records / summary["events"] <= 2, (guess.records, summary["events"])

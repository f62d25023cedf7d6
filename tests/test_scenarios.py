"""Scenario files: validation messages, round-trips, and every built-in's pinned digest."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

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
        ("[world]\nduration = -5\n", r"\[world\] duration: expected a non-negative whole number of seconds, got -5"),
        ("[world]\nduration = \"0s\"\n", r"\[world\] duration: expected a positive duration, got 0"),
        ("[world]\nduration = \"two days\"\n", r"\[world\] duration: expected a duration"),
        ("[protocol]\npreset = \"mainnet\"\n", r"\[protocol\] preset: unknown preset 'mainnet' \(known presets: fixed_fee, testnet\)"),
        ("[protocol]\npct_bps = \"ten\"\n", r"\[protocol\] pct_bps: expected an integer, got 'ten'"),
        ("[world]\nbackend = \"geth\"\n", r"\[world\] backend: expected one of model, evm, revm, lockstep, lockstep-revm, got 'geth'"),
        ("[agents]\nspend_fraction = [0.5]\n", r"\[agents\] spend_fraction: expected a list of 2 values"),
        ("[agents]\nprepay_wei = [10, 1]\n", r"\[agents\] prepay_wei: expected \[low, high\] with low <= high"),
        ("[agents]\ntopup_share = 1.5\n", r"\[agents\] topup_share: expected a share between 0 and 1"),
        ("[bitcoin]\nnetwork = \"signet\"\n", r"\[bitcoin\] network: expected one of mainnet, testnet, regtest"),
        ("[oracle]\npoll_interval = 300\n", r"\[oracle\]: unknown key 'poll_interval'"),
        ("[world]\nduration = \"1d\"\n[[events]]\nkind = \"earthquake\"\nat = 5\n", r"\[\[events\]\] #1 kind: expected one of reorg"),
        ("[world]\nduration = \"1d\"\n[[events]]\nkind = \"reorg\"\nat = \"2d\"\ndepth = 2\n", r"at: '2d' is not before the end"),
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

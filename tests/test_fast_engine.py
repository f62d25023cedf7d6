"""The fast engine (sim/fast): the reference engine's outcome on shared traces, its own determinism, its checks.

Equivalence: a reference world runs with a :class:`~sim.fast.trace.TraceRecorder` attached (it only
listens), and the fast engine's protocol core is driven with that trace — the same blocks and
reorgs, bindings, users' transactions, claims and disputes, in the reference's own order. Every
outcome record (transactions with their decoded events, oracle operations and rounds, backing
windows, reserves figures, disputes, publications, violations) and every metrics row must be the
same, second by second. Every built-in scenario is checked this way, shortened to at most 1,000
users (two weeks for the large ones), and random worlds too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import attrs
import numpy as np
import pytest
from hypothesis import given, settings

from sim.bitcoin.chain import BitcoinChain
from contracts_model.params import PRESETS, YieldParams
from sim.config import DAY, HOUR, AgentConfig, WorldConfig
from sim.fast import core as fast_core
from sim.fast.chain import FastChain
from sim.fast.records import FastLog
from sim.fast.trace import TraceRecorder, compare, compare_rows, replay
from sim.fast.world import FastWorld
from sim.scenario import builtins
from sim.world import World
from tests.conftest import examples
from tests.test_world import worlds

DIGESTS = Path(__file__).with_name("digests_fast.json")
MAX_USERS = 1_000


def shortened(config: WorldConfig) -> WorldConfig:
    """At most 1,000 users; a scenario that had more is also cut to a week, and a year-long one keeps its
    year (the loyalty tiers) with 60 users, to keep CI fast. The reference side runs the model backend
    (whose log equals the EVM backend's, tests/test_world.py)."""
    changes = {"backend": "model", "engine": "reference", "log": "full"}
    if config.users > MAX_USERS:
        changes.update(users=MAX_USERS, duration_s=min(config.duration_s, 7 * DAY))
    elif config.duration_s > 60 * DAY:
        changes.update(users=min(config.users, 60))
    return attrs.evolve(config, **changes)


def outcome_differences(config: WorldConfig) -> tuple[list[str], object, World]:
    world = World(config)
    recorder = TraceRecorder(world)
    world.run()
    world.finish()
    core, log, rows = replay(recorder, config)
    return compare(world.log.records, log.records) + compare_rows(world.metrics.rows, rows), core, world


# ---------------------------------------------------------------------------------------- equivalence


@pytest.mark.parametrize("name", sorted(s.name for s in builtins()))
def test_the_fast_core_reaches_the_reference_outcome_on_every_built_in_scenario(name):
    scenario = next(s for s in builtins() if s.name == name)
    problems, core, world = outcome_differences(shortened(scenario.config))
    assert problems == [], "\n".join(problems[:10])
    # the comparison compared something: the reference's committee acted, and so did the core
    assert world.metrics.ops["sync"] > 0 and core.ops["sync"] == world.metrics.ops["sync"]
    assert core.violations.count == 0 and world.violations.count == 0


@settings(max_examples=examples(8), deadline=None)
@given(config=worlds(max_users=25, max_duration_s=DAY))
def test_random_worlds_replay_to_the_same_outcome(config):
    """Reorgs that double-spend part of the deposits, min_conf up to 3, reaction delays, outages."""
    problems, _, _ = outcome_differences(config)
    assert problems == [], "\n".join(problems[:10])


def test_yield_beyond_64_bits_reaches_the_reference_outcome():
    """Whales of a quarter of all bitcoin, traders with 10^24 USDT, 100 % rates and 100x multipliers: the
    pool's and the ghost ledger's arithmetic leaves int64 (sim/fast/exact.py takes the Python-integer road
    and the amount columns turn into Python integers), and the outcome is still the reference's."""
    from contracts_model.validation import MAX_SATS
    from sim.config import YieldConfig

    yields = YieldParams(base_rate=10_000, max_rate=10_000, silver_after=DAY, gold_after=2 * DAY,
                         bronze_multiplier=10_000, silver_multiplier=10_000, gold_multiplier=10_000)
    config = WorldConfig(seed=5, users=6, duration_s=3 * DAY, backend="model", log="full",
                         params=attrs.evolve(PRESETS["testnet"], yield_params=yields), preset=None,
                         agents=AgentConfig(initial_btc_sats=(MAX_SATS // 8, MAX_SATS // 4), receive_per_day=2.0,
                                            spend_per_day=2.0),
                         yields=YieldConfig(traders=3, trader_usdt=(10**23, 10**24), claim_per_day=3.0,
                                            trader_add_per_day=2.0))
    problems, core, world = outcome_differences(config)
    assert problems == [], "\n".join(problems[:10])
    assert core.claims > 0 and world.violations.count == 0
    # the columns that outgrew int64 turned into Python integers rather than wrapping
    assert core.g_earned.dtype == object and core.p_usdt.dtype == object and core.g_base.dtype == object


def test_the_comparison_notices_a_fee_one_wei_off(monkeypatch):
    quote = fast_core.Core.quote
    monkeypatch.setattr(fast_core.Core, "quote", lambda self, delta: quote(self, delta) + 1)
    problems, _, _ = outcome_differences(WorldConfig(seed=3, users=12, duration_s=8 * HOUR))
    assert any("Spent" in p for p in problems)


def test_a_pool_that_loses_accrual_is_caught_by_the_fast_ghost_ledger(monkeypatch):
    def lossy(self, who, now):  # forgets what was earned since the last checkpoint
        self.p_index[who] = self.index

    monkeypatch.setattr(fast_core.Core, "_checkpoint", lossy)
    config = WorldConfig(seed=4, users=15, duration_s=30 * DAY,
                         agents=AgentConfig(receive_per_day=1.0, spend_per_day=0.5))
    world = FastWorld(config)
    world.run()
    world.finish()
    assert any(v.invariant == "yield" for v in world.core.violations.kept)


# ---------------------------------------------------------------------------------------- the fast world's own checks


def _fast(config: WorldConfig, **kwargs) -> FastWorld:
    world = FastWorld(attrs.evolve(config, engine="fast", backend="model"), **kwargs)
    world.run()
    world.finish()
    return world


def test_an_oracle_that_ignores_decreases_breaks_backing_on_the_fast_engine(monkeypatch):
    reconcile = fast_core.Core.reconcile

    def never_burns(self, t, users, *, force=False):
        users = users[self.user_conf[users] >= self.recorded[users]]
        return reconcile(self, t, users, force=force)

    monkeypatch.setattr(fast_core.Core, "reconcile", never_burns)
    world = _fast(WorldConfig(seed=5, users=20, duration_s=DAY, agents=AgentConfig(spend_per_day=8.0)))
    backing = [v for v in world.core.violations.kept if v.invariant == "backing"]
    assert backing and backing[0].values["rbtc"] > backing[0].values["confirmed_btc"]


def test_an_oracle_that_skips_users_is_caught_by_the_fast_mirroring_check(monkeypatch):
    reconcile = fast_core.Core.reconcile

    def lazy(self, t, users, *, force=False):
        keep = np.array([not self.names[u].endswith(("0", "1", "2", "3")) for u in users.tolist()], dtype=bool)
        return reconcile(self, t, users[keep], force=force)

    monkeypatch.setattr(fast_core.Core, "reconcile", lazy)
    world = _fast(WorldConfig(seed=2, users=30, duration_s=12 * HOUR))
    assert any(v.invariant == "mirroring" for v in world.core.violations.kept)


def test_same_seed_same_digest_whether_rendered_or_not_and_in_one_or_two_processes(tmp_path):
    config = WorldConfig(seed=42, users=60, duration_s=2 * DAY)
    plain = _fast(config, workers=1)
    again = _fast(config, workers=1)
    assert plain.log.digest == again.log.digest and plain.log.count == again.log.count
    forked = _fast(config, workers=2)
    assert forked.log.digest == plain.log.digest
    rendered = FastWorld(attrs.evolve(config, engine="fast"), log=FastLog(tmp_path / "events.jsonl"), workers=1)
    rendered.run()
    rendered.finish()
    rendered.log.close()
    assert rendered.log.digest == plain.log.digest
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert len(lines) == plain.log.count  # one reference-format record per counted event
    kinds = {json.loads(line)["kind"] for line in lines}
    assert {"evm_tx", "oracle_op", "oracle_round", "btc_tx", "btc_block", "bind", "reserves"} <= kinds
    assert _fast(attrs.evolve(config, seed=43), workers=1).log.digest != plain.log.digest


@pytest.mark.parametrize("name", sorted(s.name for s in builtins()))
def test_every_built_in_scenario_meets_its_expectation_on_the_fast_engine(name):
    """The expected outcomes tests/test_scenarios.py checks on the reference engine, and a pinned digest
    (``RBTC_UPDATE_DIGESTS=1`` re-pins after an intended change). Large scenarios are shortened."""
    scenario = next(s for s in builtins() if s.name == name)
    config = scenario.config
    if config.users > MAX_USERS:
        config = attrs.evolve(config, users=MAX_USERS, duration_s=min(config.duration_s, 14 * DAY))
    world = _fast(config, workers=1)
    core = world.core
    assert core.violations.count == 0, [v.as_dict() for v in core.violations.kept[:3]]
    assert core.ops["sync"] > 0
    windows = core.windows()
    if name == "fee_drought":
        assert core.ops["emergency_burn"] > 0
    if name == "deep_reorg":
        assert windows and all(w.cause == "reorg" for w in windows)
        assert 0 < max(w.duration for w in windows) <= 31
    if name == "oracle_outage":
        assert any(w.cause == "outage" for w in windows)
    if name == "dispute_storm":
        summary = core.dispute_summary()
        assert summary["accepted"] > 0 and summary["rejected"] > 0 and summary["open"] == 0
    if name == "yield_season":
        tiers = core.tiers()
        assert tiers["silver"] > 0 and tiers["gold"] > 0 and core.claims > 0
    if name in ("baseline", "load_10k", "load_100k_year"):
        assert not windows
    pinned = json.loads(DIGESTS.read_text()) if DIGESTS.exists() else {}
    if os.environ.get("RBTC_UPDATE_DIGESTS"):
        pinned[name] = world.log.digest
        DIGESTS.write_text(json.dumps(dict(sorted(pinned.items())), indent=2) + "\n")
    assert world.log.digest == pinned.get(name), f"{name}: fast-engine digest changed (or not pinned yet)"


# ---------------------------------------------------------------------------------------- the chain model


def test_the_fast_chain_keeps_the_reference_chains_balances():
    """The same deposits, spends (by amount, or by share as users make them) and blocks on both chains
    give the same confirmed balance at every min_conf, block after block (one coin per address and block, so no tie of coin order arises)."""
    rng = np.random.default_rng(9)
    addresses = [f"bcrt1qaddress{i}" for i in range(6)]
    for min_conf in (1, 3):
        reference = BitcoinChain("regtest")
        fast = FastChain(min_conf)
        fast.add_addresses(len(addresses))
        for height in range(1, 40):
            for i in rng.permutation(len(addresses))[:3].tolist():
                if rng.random() < 0.6:
                    amount = int(rng.integers(1_000, 100_000))
                    reference.deposit(addresses[i], amount)
                    fast.deposit(i, amount)
                else:
                    fraction = rng.uniform(0.1, 0.9)
                    amount = int(fast.spendable(i) * fraction)
                    assert fast.spendable(i) == reference.spendable_balance(addresses[i])
                    if amount > 0:
                        reference.spend(addresses[i], "bcrt1qsink", amount)
                    if rng.random() < 0.5:  # the users' one-pass spend (sim.fast.exogenous)
                        assert fast.spend_share(i, fraction, fast.reserve_numbers(1)) == (amount or None)
                    elif amount > 0:
                        fast.spend(i, amount)
            reference.mine_block(height * 600)
            change = fast.mine(height * 600, height * 600)
            for i, address in enumerate(addresses):
                assert fast.confirmed(i) == reference.confirmed_balance(address, min_conf), (height, i)
            assert set(change.changed.tolist()) >= {i for i in range(len(addresses))
                                                    if i in change.touched.tolist()}


# ---------------------------------------------------------------------------------------- the command line


def test_run_on_the_fast_engine_without_an_event_log_writes_summary_metrics_and_report(tmp_path, capsys):
    from sim.cli import main

    scenario = tmp_path / "s.toml"
    scenario.write_text('[world]\nusers = 40\nduration = "1d"\n')
    out = tmp_path / "run"
    assert main(["run", str(scenario), "--engine", "fast", "--log", "summary", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["engine"] == "fast" and summary["log"] == "summary" and summary["complete"]
    assert summary["events"] > 0 and summary["syncs"] > 0 and summary["violation_count"] == 0
    assert "--engine fast" in summary["reproduce"]
    assert not (out / "events.jsonl").exists()
    assert (out / "metrics.csv").read_text().count("\n") > 2 and (out / "report.html").exists()
    assert "MISSING INPUT" not in (out / "report.md").read_text()
    assert main(["replay", str(out)]) == 0  # the digest is reproduced without a log file
    assert "MATCH" in capsys.readouterr().out


def test_the_fast_engine_refuses_other_backends_with_one_line(tmp_path, capsys):
    from sim.cli import main

    scenario = tmp_path / "s.toml"
    scenario.write_text('[world]\nusers = 5\nduration = "1h"\nbackend = "evm"\nengine = "fast"\n')
    assert main(["run", str(scenario), "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err.strip()
    assert "fast engine" in error and "\n" not in error


# ---------------------------------------------------------------------------------------- what main added to worlds


def _errors(records) -> list[tuple[str, str]]:
    return [(r["action"], r["error"]) for r in records if r["kind"] == "agent_error"]


def test_wallets_run_dry_and_the_21m_btc_supply_runs_out_on_both_engines_alike():
    """Prepayments beyond a user's 100 ETH wallet fail as InsufficientFunds (no transaction), and the
    outside world deposits at most 21 M BTC in all (SupplyExhausted), on the reference engine and the
    fast one; neither is a violation. Wei and USDT ranges beyond int64 are drawn exactly."""
    from contracts_model.validation import MAX_SATS

    config = WorldConfig(
        seed=3, users=4, duration_s=DAY,
        agents=AgentConfig(prepay_wei=(6 * 10**19, 6 * 10**19 + 2**70), topup_share=1.0,
                           topup_below_wei=10**30, initial_btc_sats=(MAX_SATS // 2, MAX_SATS // 2), withdraw_per_day=0.0),
    )
    reference = World(config)
    reference.run()
    reference.finish()
    fast = FastWorld(attrs.evolve(config, engine="fast"), log=FastLog(keep=True), workers=1)
    fast.run()
    fast.finish()
    for world in (reference, fast):
        errors = _errors(world.log.records)
        assert errors.count(("deposit", "SupplyExhausted")) >= 2, errors  # two users fill 21 M BTC
        assert ("topup", "InsufficientFunds") in errors, errors  # the second 6e19 wei does not fit in 1e20
        assert world.violations.count == 0
    deposits = [r for r in fast.log.records if r["kind"] == "evm_tx" and r["fn"] in ("depositETH", "registerAndPrepay")
                and r["status"] == "ok"]
    assert deposits and all(r["value"] >= 6 * 10**19 for r in deposits)
    assert reference.chain.external_funded == fast.feeder.exo.funded == MAX_SATS
    from sim.agents import USER_ETH_WEI
    from sim.protocol.deployment import OPERATOR_FUNDING_WEI

    core = fast.core
    paid = {name: 0 for name in core.names}
    for r in deposits:
        if r["from"] in paid:
            paid[r["from"]] += r["value"]
    assert all(USER_ETH_WEI - paid[name] == core.wallet[i] >= 0 for i, name in enumerate(core.names))
    assert OPERATOR_FUNDING_WEI - core.committee_wallet == sum(r["value"] for r in deposits if r["from"] == core.committee)


def test_the_fast_engine_refuses_what_it_does_not_model_with_one_line(tmp_path, capsys):
    """Probes, other backends, foreign wiring: refused by the config itself (exit 2 naming the key), never
    run without them."""
    from contracts_model.validation import InvalidValue
    from sim.cli import main
    from sim.config import AdversaryConfig

    with pytest.raises(InvalidValue) as refused:
        WorldConfig(engine="fast", adversary=AdversaryConfig(probes_per_day=1.0))
    assert refused.value.field == "adversary.probes_per_day"
    scenario = tmp_path / "s.toml"
    scenario.write_text('[world]\nusers = 5\nduration = "1h"\n[adversary]\nprobes_per_day = 2.0\n')
    for args, names in ((["--engine", "fast"], "probes_per_day"), (["--engine", "fast", "--backend", "evm"], "--backend")):
        assert main(["run", str(scenario), *args, "--out", str(tmp_path / "run")]) == 2
        error = capsys.readouterr().err.strip()
        assert names in error and "fast" in error and "\n" not in error
    assert not (tmp_path / "run").exists()


def test_a_fast_run_hands_every_frozen_object_back_to_the_collector():
    """The fast engine freezes what is alive after each block (sim/fast/objects.py); a run, finished or
    stopped part way, leaves nothing frozen, so a process running many worlds keeps its collection."""
    import gc

    world = FastWorld(WorldConfig(seed=2, users=30, duration_s=DAY))
    world.run(until=DAY // 2)
    assert gc.get_freeze_count() == 0
    world.run()
    world.finish()
    assert gc.get_freeze_count() == 0 and world.core.checks > 0

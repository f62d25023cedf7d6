"""YieldScales and disputes as flows in the world, with invariants 6 and 7 checked from outside."""

from __future__ import annotations

import attrs
import pytest

from contracts_model.params import PRESETS
from sim.config import DAY, HOUR, AgentConfig, DisputeConfig, ScheduledEvent, WorldConfig, YieldConfig
from sim.disputes import Disputes
from sim.world import World

YEAR = 365 * DAY


def run(config: WorldConfig) -> World:
    world = World(config)
    world.run()
    world.finish()
    return world


# ---------------------------------------------------------------------------------------- yield

def short_season(days: int = 372, **changes) -> WorldConfig:
    return WorldConfig(seed=6, users=25, duration_s=days * DAY, agents=AgentConfig(
        onboarding_window_s=2 * DAY, receive_per_day=0.05, spend_per_day=0.04, withdraw_per_day=0.0,
        bind_extra_address_per_day=0.0, prepay_wei=(10**16, 5 * 10**16)),
        yields=YieldConfig(traders=5, claim_per_day=0.05), **changes)


@pytest.fixture(scope="module")
def season() -> World:
    return run(short_season())


def test_holders_reach_silver_and_gold_and_the_rate_stays_bounded(season):
    tiers = season.yields.tiers()
    assert tiers["silver"] > 0 and tiers["gold"] > 0, tiers
    assert season.violations.kept == []
    assert all(0 <= row["yield_rate_bps"] <= 2000 for row in season.metrics.rows)
    kinds = set(season.yields.participants.values())
    assert kinds == {0, 1}  # holders joined by the oracle, traders by the partner


def test_every_claim_paid_exactly_the_accrual(season):
    """Claims equal accrual to the unit: after each claim nothing is owed, and the total paid is
    within rounding (one unit per checkpoint) of the ghost ledger's exact accrual."""
    ledger = season.yield_monitor.ledger
    claims = [r for r in season.log.records if r["kind"] == "evm_tx" and r["fn"] == "claimYield"]
    assert len(claims) > 50
    for user, position in ledger.items():
        owed = season.port.call("YieldScalesPool", "calculateYieldOwed", (user,))
        assert position.claimed <= position.earned < position.claimed + owed + position.checkpoints + 1


def test_contribution_changes_between_claims_lose_nothing():
    """A holder's balance changes twice between claims; a naive pool that restarts the clock on each
    update would pay only the last period. The expected accrual is worked out by hand."""
    from contracts_model.system import ModelSystem

    committee, user = "0x" + "cc" * 20, "0x" + "a1" * 20
    system = ModelSystem(PRESETS["testnet"], "0x" + "dd" * 20, committee, "0x" + "ee" * 20, 1_000_000,
                         operator_funding_wei=10**21)
    system.transact(committee, "FeeVault", "depositETH", (user,), value=10**18)
    system.transact(committee, "OracleAggregator", "sync", (user, 100_000_000, b""))
    system.transact(committee, "YieldScalesPool", "joinAsBitcoinHolder", (user,))
    # supply == peak, so the rate is the base rate: 500 bps; Bronze multiplier 110
    day = 86_400
    system.set_block(2, 1_000_000 + 100 * day)
    system.transact(committee, "OracleAggregator", "sync", (user, 300_000_000, b""))
    system.transact(committee, "YieldScalesPool", "updateRBTCContribution", (user, 300_000_000))
    system.set_block(3, 1_000_000 + 150 * day)
    system.transact(committee, "YieldScalesPool", "updateRBTCContribution", (user, 300_000_000))
    system.set_block(4, 1_000_000 + 200 * day)
    divisor = 10_000 * 31_536_000 * 100
    first = 100_000_000 * 500 * 100 * day * 110 // divisor  # 100 days on 1 BTC, Bronze
    second = 300_000_000 * 500 * 50 * day * 110 // divisor  # 50 days on 3 BTC, Bronze
    third = 300_000_000 * 500 * 50 * day * 110 // divisor  # 50 days on 3 BTC (Silver only from 180 d, at a checkpoint)
    owed = system.call("YieldScalesPool", "calculateYieldOwed", (user,))
    assert owed == first + second + third
    naive = 300_000_000 * 500 * 50 * day * 110 // divisor  # what a "reset the clock on every update" pool owes
    assert owed > 2 * naive
    _, events = system.transact(user, "YieldScalesPool", "claimYield")
    assert [e.args[1] for e in events if e.name == "YieldClaimed"] == [owed]


def test_the_ghost_ledger_catches_a_pool_that_restarts_the_clock(monkeypatch):
    """Plant the naive bug in the model pool; the world's yield monitor must report lost accrual."""
    from contracts_model import yield_pool

    def forgetful_checkpoint(self, user):
        s = self.s
        s.participantIndex[user] = s.yieldIndex  # accrues nothing: the clock restarts

    method = "_checkpoint"
    assert hasattr(yield_pool.YieldScalesPool, method)
    monkeypatch.setattr(yield_pool.YieldScalesPool, method, forgetful_checkpoint)
    world = run(short_season(days=40))
    assert any(v.invariant == "yield" for v in world.violations.kept)


def test_yield_flow_agrees_in_lockstep():
    world = run(attrs.evolve(short_season(days=3), users=6, backend="lockstep",
                             yields=YieldConfig(traders=2, claim_per_day=2.0)))
    assert world.violations.kept == []
    assert world.yields.claims > 0


# ---------------------------------------------------------------------------------------- disputes

def storm(**changes) -> WorldConfig:
    return WorldConfig(seed=8, users=80, duration_s=DAY, agents=AgentConfig(spend_per_day=3.0, receive_per_day=3.0),
                       disputes=DisputeConfig(frivolous_per_day=0.2, discrepancy_per_day=0.5),
                       schedule=(ScheduledEvent("oracle_outage", 10 * HOUR + 50, {"duration_s": HOUR}),
                                 ScheduledEvent("dispute_wave", 10 * HOUR + 600, {"users": 0.5, "truthful": 0.5})),
                       **changes)


def test_a_dispute_storm_resolves_every_dispute_correctly_and_in_time():
    world = run(storm())
    disputes = world.disputes.all
    assert len(disputes) > 30
    assert {d.state for d in disputes} == {"accepted", "rejected"}
    assert world.disputes.open == {}
    assert world.violations.kept == []
    for dispute in disputes:
        assert dispute.state == ("accepted" if dispute.reported == dispute.truth else "rejected")
    # waiting out the outage is allowed; once the committee is back it answers within the bound
    back = world.oracle.offline_until
    waited = [d for d in disputes if back - HOUR <= d.filed_at < back]
    assert waited and all(back <= d.resolved_at <= back + 900 for d in waited)
    kinds = [r["kind"] for r in world.log.records]
    assert kinds.count("dispute_filed") == kinds.count("dispute_validated") == kinds.count("dispute_resolved")


def test_disputes_flow_on_chain_for_participants():
    world = run(storm())
    onchain = [d for d in world.disputes.all if d.onchain]
    assert onchain
    calls = {r["fn"] for r in world.log.records if r["kind"] == "evm_tx" and r["to"] == "YieldScalesPool"}
    assert {"disputeBalance", "resolveDispute"} <= calls
    for dispute in onchain:  # every on-chain dispute was resolved on chain too
        assert world.port.call("YieldScalesPool", "isDisputed", (dispute.user,)) is False


def test_a_committee_that_accepts_everything_is_caught(monkeypatch):
    monkeypatch.setattr(Disputes, "decide", lambda self, dispute, confirmed: True)
    world = run(attrs.evolve(storm(), duration_s=12 * HOUR))
    assert any(v.invariant == "disputes" for v in world.violations.kept)


def test_a_slow_committee_breaks_the_resolution_bound():
    world = run(attrs.evolve(storm(), disputes=DisputeConfig(frivolous_per_day=1.0, validation_delay_s=1_800,
                                                             resolution_bound_s=900), schedule=()))
    late = [v for v in world.violations.kept if v.invariant == "disputes"]
    assert late and "resolution bound" in late[0].message

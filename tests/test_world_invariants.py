"""Every invariant is monitored in every world: planted defects in the build are caught by the
invariant that names them, with the function and the cause, and the world runs to its end."""

from __future__ import annotations

import attrs
import pytest

from contracts_model.errors import Panic
from contracts_model.fee_vault import FeeVault
from contracts_model.oracle import OracleAggregator
from contracts_model.params import PRESETS
from contracts_model.synth import RBTCSynth
from contracts_model.yield_pool import YieldScalesPool
from sim.config import DAY, AdversaryConfig, AgentConfig, WorldConfig, YieldConfig
from sim.world import World

SMALL = WorldConfig(seed=5, users=25, duration_s=DAY, params=PRESETS["fixed_fee"],
                    agents=AgentConfig(withdraw_per_day=0.5), yields=YieldConfig(claim_per_day=2.0))


def run(config: WorldConfig = SMALL) -> World:
    world = World(config)
    world.run()
    world.finish()
    return world


def found(world: World, invariant: str) -> list:
    return [v for v in world.violations.kept if v.invariant == invariant]


def test_the_project_build_holds_every_invariant_with_probes_on():
    world = run(attrs.evolve(SMALL, adversary=AdversaryConfig(probes_per_day=4.0)))
    assert world.violations.count == 0, [v.as_dict() for v in world.violations.kept[:3]]
    paths = world.paths()
    for path in ("increase", "decrease", "deposit", "withdraw", "join_holder", "claim", "probe"):
        assert paths.get(path, 0) > 0, (path, paths)
    assert any(name.startswith("revert:RBTCSynth.transfer:Soulbound") for name in paths), paths


def test_a_vault_that_credits_twice_breaks_fee_conservation(monkeypatch):
    def credits_twice(self, msg, user):
        self.s._balanceOf[user] = self.s._balanceOf[user] + 2 * msg.value
        self._emit("Deposited", user, msg.value)

    monkeypatch.setattr(FeeVault, "depositETH", credits_twice)
    world = run()
    fees = found(world, "fees")
    assert fees and fees[0].function in ("FeeVault.depositETH", "OracleAggregator.registerAndPrepay")
    assert fees[0].message == "a deposit credited the user's vault balance wrongly"
    assert fees[0].values["actual"] == 2 * fees[0].values["deposit"]


def test_a_withdrawal_that_does_not_zero_the_balance_is_caught(monkeypatch):
    original = FeeVault.withdrawUnused

    def keeps_balance(self, msg):
        held = self.s._balanceOf[msg.sender]
        original(self, msg)
        self.s._balanceOf[msg.sender] = held  # pays out and forgets to zero

    monkeypatch.setattr(FeeVault, "withdrawUnused", keeps_balance)
    world = run()
    assert any(v.message == "a withdrawal left a vault balance behind" and v.function == "FeeVault.withdrawUnused"
               for v in found(world, "fees"))


def test_a_transferable_token_is_caught_by_the_probes(monkeypatch):
    def moves(self, msg, to, amount):
        s = self.s
        amount = min(amount, s.balanceOf[msg.sender])
        s.balanceOf[msg.sender] -= amount
        s.balanceOf[to] += amount
        self._emit("Transfer", msg.sender, to, amount)
        return True

    monkeypatch.setattr(RBTCSynth, "transfer", moves)
    world = run(attrs.evolve(SMALL, adversary=AdversaryConfig(probes_per_day=4.0)))
    access = found(world, "access")
    assert any(v.message == "transfer succeeded on the soulbound rBTC-SYNTH" for v in access)
    assert all(v.function for v in access)


def test_a_refused_sync_without_needs_topup_is_an_observability_violation(monkeypatch):
    original = OracleAggregator._emit

    def silent(self, name, *args):
        if name != "NeedsTopUp":
            original(self, name, *args)

    config = attrs.evolve(SMALL, agents=AgentConfig(withdraw_per_day=2.0, topup_share=0.0,
                                                   prepay_wei=(10**12, 2 * 10**12)),
                          oracle=attrs.evolve(SMALL.oracle, precheck_fees=False))  # the contract decides
    assert run(config).violations.count == 0  # the project's build: every refusal emits NeedsTopUp
    monkeypatch.setattr(OracleAggregator, "_emit", silent)
    world = run(config)
    observability = found(world, "observability")
    assert observability and observability[0].function == "OracleAggregator.sync"
    assert observability[0].message == "a sync refused for lack of prepaid fees emitted no NeedsTopUp"


def test_a_panic_in_a_claim_is_a_yield_violation_naming_the_call_and_the_world_finishes(monkeypatch):
    def underflows(self, msg):
        raise Panic(0x11)

    monkeypatch.setattr(YieldScalesPool, "claimYield", underflows)
    world = run()
    assert world.finished
    failed = [v for v in found(world, "yield") if v.function == "YieldScalesPool.claimYield"]
    assert failed and "Panic(17)" in failed[0].message
    assert world.violations.count == world.violations.groups[("yield", failed[0].message)]["count"] + sum(
        g["count"] for key, g in world.violations.groups.items() if key != ("yield", failed[0].message))


def test_a_panicking_view_does_not_end_the_world(monkeypatch):
    def overflows(self, msg, user):
        raise Panic(0x11)

    monkeypatch.setattr(YieldScalesPool, "calculateYieldOwed", overflows)
    world = run()
    assert world.finished
    assert any(v.function and v.function.startswith("YieldScalesPool") for v in found(world, "yield"))


def test_a_refused_decrease_is_a_backing_violation_whose_cause_is_the_reverted_sync(monkeypatch):
    original = OracleAggregator.sync

    def refuses_decreases(self, msg, user, newBalanceSats, proof):
        if newBalanceSats < self.s.lastSats[user]:
            raise Panic(0x11)
        return original(self, msg, user, newBalanceSats, proof)

    monkeypatch.setattr(OracleAggregator, "sync", refuses_decreases)
    world = run(attrs.evolve(SMALL, agents=AgentConfig(spend_per_day=3.0)))
    backing = found(world, "backing")
    assert backing
    causes = backing[0].causes
    assert causes and causes[-1]["call"] == "OracleAggregator.sync" and causes[-1]["error"] == "Panic(17)"
    record = world.log.records[causes[-1]["seq"]]
    assert record["kind"] == "evm_tx" and record["status"] == "revert" and record["args"][0] == backing[0].actor
    # the committee backs off: each refused user is retried about log2(day / poll) times, not every round
    refused = sum(1 for r in world.log.records if r["kind"] == "oracle_op" and r["op"] == "error")
    stuck = {r["user"] for r in world.log.records if r["kind"] == "oracle_op" and r["op"] == "error"}
    rounds = world.oracle.rounds
    assert refused < len(stuck) * 12 < len(stuck) * rounds
    assert world.violations.by_invariant()["backing"] == sum(
        g["count"] for (inv, _), g in world.violations.groups.items() if inv == "backing")


def test_a_pool_oracle_that_is_a_contract_is_a_wiring_violation(tmp_path):
    path = tmp_path / "deployment.toml"
    path.write_text('[roles]\npool_oracle = "OracleAggregator"\n')
    world = run(attrs.evolve(SMALL, deployment_file=str(path)))
    wiring = found(world, "wiring")
    assert wiring and "pool_oracle" in wiring[0].message
    assert any(v.message == "a holder of rBTC never became a pool participant" for v in wiring)


def test_the_report_counts_every_violation_and_breaks_reverts_down(monkeypatch, tmp_path):
    """More violations than the report lists one by one: the verdict and the groups keep exact counts."""
    from sim.report.build import build_report
    from sim.run import execute
    from sim.scenario import Scenario

    def credits_twice(self, msg, user):
        self.s._balanceOf[user] = self.s._balanceOf[user] + 2 * msg.value
        self._emit("Deposited", user, msg.value)

    monkeypatch.setattr(FeeVault, "depositETH", credits_twice)
    config = attrs.evolve(SMALL, users=300, adversary=AdversaryConfig(probes_per_day=1.0))
    summary, run_dir = execute(Scenario("double_credit", "", "", config), tmp_path / "run", report=False)
    total = summary["violation_count"]
    assert total > 200 and total == sum(summary["violations_by_invariant"].values())
    assert len(summary["invariant_violations"]) == min(total, 1_000)
    build_report(run_dir)
    md = (run_dir / "report.md").read_text()
    assert f"{total:,} INVARIANT VIOLATIONS" in md
    assert f"fees × {summary['violations_by_invariant']['fees']:,}" in md
    group = next(g for g in summary["violation_groups"] if g["message"].startswith("a deposit credited"))
    assert f"| fees | {group['count']:,} | a deposit credited" in md
    assert "## Reverted transactions" in md and "Soulbound()" in md


def test_the_deployed_behaviour_emit_then_revert_erases_needs_topup(monkeypatch):
    """The deployed aggregator emits NeedsTopUp and then reverts, which erases the event the indexer must
    see: a refusal the rules make by returning is an observability violation when it reverts instead."""
    from contracts_model.errors import RevertString

    original = OracleAggregator.sync

    def reverts_when_unpaid(self, msg, user, newBalanceSats, proof):
        logs = len(self._logs)
        result = original(self, msg, user, newBalanceSats, proof)
        if any(e.name == "NeedsTopUp" for e in self._logs[logs:]):
            raise RevertString("insufficient prepaid fees")
        return result

    monkeypatch.setattr(OracleAggregator, "sync", reverts_when_unpaid)
    config = attrs.evolve(SMALL, agents=AgentConfig(withdraw_per_day=2.0, topup_share=0.0,
                                                   prepay_wei=(10**12, 2 * 10**12)),
                          oracle=attrs.evolve(SMALL.oracle, precheck_fees=False))
    world = run(config)
    erased = [v for v in found(world, "observability") if "erasing" in v.message]
    assert erased and erased[0].function == "OracleAggregator.sync" and "insufficient prepaid fees" in erased[0].values["error"]

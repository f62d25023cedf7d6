"""The world end to end: backing against the simulated Bitcoin chain, reorg windows, determinism."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts_model.params import PRESETS, ProtocolParams
from sim.config import DAY, HOUR, AgentConfig, OracleConfig, ScheduledEvent, WorldConfig
from sim.oracle_service import OracleService
from sim.protocol.evm_backend import EvmBackend
from sim.protocol.lockstep import LockstepBackend
from sim.protocol.model_backend import ModelBackend
from sim.world import World
from tests.conftest import examples

QUIET = AgentConfig(receive_per_day=0.0, spend_per_day=0.0, withdraw_per_day=0.0, bind_extra_address_per_day=0.0,
                    addresses_per_user=(1, 1), onboarding_window_s=60, initial_btc_sats=(500_000, 500_000))


def run(config: WorldConfig) -> World:
    world = World(config)
    world.run()
    world.finish()
    return world


# ---------------------------------------------------------------------------------------- random worlds

fee_params = st.sampled_from([
    PRESETS["testnet"],
    PRESETS["fixed_fee"],
    # a fixed leg large enough that small prepayments run dry and decreases trigger emergency burns
    ProtocolParams(pct_bps=10, fixed_wei=3 * 10**14, wei_per_sat=10**9, min_confirmations=1,
                   max_fee_per_sync_wei=10**16),
    ProtocolParams(pct_bps=25, fixed_wei=10**12, wei_per_sat=10**9, min_confirmations=3,
                   max_fee_per_sync_wei=10**16),
])


@st.composite
def worlds(draw, max_users: int, max_duration_s: int):
    duration = draw(st.integers(6 * HOUR, max_duration_s))
    reorgs = draw(st.lists(
        st.tuples(st.integers(HOUR, duration - 1), st.integers(1, 4), st.sampled_from([0.0, 0.5, 1.0])),
        max_size=3,
    ))
    agents = AgentConfig(
        onboarding_window_s=draw(st.integers(60, 4 * HOUR)),
        receive_per_day=draw(st.floats(0.0, 6.0)),
        spend_per_day=draw(st.floats(0.0, 6.0)),
        prepay_wei=draw(st.sampled_from([(10**15, 10**16), (10**14, 10**15), (0, 5 * 10**14)])),
        topup_share=draw(st.floats(0.0, 1.0)),
        withdraw_per_day=draw(st.sampled_from([0.0, 0.5])),
        bind_extra_address_per_day=draw(st.sampled_from([0.0, 0.5])),
    )
    oracle = OracleConfig(reaction_delay_s=draw(st.sampled_from([0, 0, 20, 120])))
    schedule = tuple(ScheduledEvent("reorg", at, {"depth": depth, "double_spend": share})
                     for at, depth, share in reorgs)
    if draw(st.booleans()):
        schedule += (ScheduledEvent("oracle_outage", draw(st.integers(0, duration - 1)),
                                    {"duration_s": draw(st.integers(60, 2 * HOUR))}),)
    return WorldConfig(
        seed=draw(st.integers(0, 2**32 - 1)),
        users=draw(st.integers(1, max_users)),
        duration_s=duration,
        params=draw(fee_params),
        agents=agents,
        oracle=oracle,
        schedule=schedule,
    )


def assert_backed(world: World) -> None:
    monitor = world.monitor
    assert monitor.checks > 0
    assert world.violations.kept == [], [v.as_dict() for v in world.violations.kept[:5]]
    # every window is explained and closed by the end unless the run ended inside its bound
    for window in monitor.windows():
        assert window.cause in ("reorg", "outage", "latency")
    # invariant 1 at the end, recomputed from the chain itself
    min_conf = max(1, world.config.params.min_confirmations)
    for user in world.registry.users():
        held = world.port.rbtc_balance(user)
        confirmed = world.chain.total_confirmed(world.registry.addresses_of(user), min_conf)
        if user not in monitor.open:
            assert held <= confirmed, (user, held, confirmed)


@settings(max_examples=examples(20), deadline=None)
@given(config=worlds(max_users=40, max_duration_s=2 * DAY))
def test_random_worlds_stay_backed_on_the_model_backend(config):
    assert_backed(run(config))


@settings(max_examples=examples(5), deadline=None)
@given(config=worlds(max_users=6, max_duration_s=12 * HOUR))
def test_random_worlds_stay_backed_in_lockstep(config):
    world = run(attrs.evolve(config, backend="lockstep"))
    assert_backed(world)


@settings(max_examples=examples(5), deadline=None)
@given(config=worlds(max_users=6, max_duration_s=12 * HOUR))
def test_random_worlds_run_the_same_on_the_models_py_evm_and_revm(config):
    """Three-way lockstep: models = py-evm = revm on every action, whole state every 10 actions."""
    three = LockstepBackend(
        LockstepBackend(ModelBackend(config.params), EvmBackend(config.params), observe_every=10),
        EvmBackend(config.params, engine="revm"), observe_every=10)
    world = World(config, backend=three)
    world.run()
    world.finish()
    three.check_state("end of the world")
    assert_backed(world)
    alone = run(attrs.evolve(config, backend="revm"))
    assert alone.log.digest == world.log.digest


# ---------------------------------------------------------------------------------------- a deep reorg

def test_a_deep_reorg_reversing_a_deposit_opens_a_bounded_window_the_next_round_repairs():
    config = WorldConfig(seed=7, users=1, duration_s=6 * HOUR, agents=QUIET,
                         oracle=OracleConfig(reaction_delay_s=30))
    world = World(config)
    user = world.population.users[0].address
    # run until the initial deposit is confirmed and mirrored
    while world.port.rbtc_balance(user) == 0:
        world.run(until=int(world.env.now) + 60, step_s=60)
    deposit_height = world.chain.height
    assert world.port.rbtc_balance(user) == 500_000
    depth = world.chain.height - deposit_height + 1 + 1  # deeper than minConfirmations (1)
    world.apply("reorg", {"depth": depth, "double_spend": 1.0})
    reorg_at = int(world.env.now)
    world.run()
    world.finish()
    windows = world.monitor.windows()
    assert len(windows) == 1
    window = windows[0]
    assert window.cause == "reorg"
    assert window.max_excess == 500_000  # the whole reversed deposit was over-issued…
    assert window.start == reorg_at
    assert window.end is not None and 0 < window.duration <= config.oracle.reaction_delay_s + 1  # …and repaired
    assert world.violations.kept == []
    assert world.port.rbtc_balance(user) == 0
    kinds = [r["kind"] for r in world.log.records]
    assert "backing_window_open" in kinds and "backing_window_close" in kinds


def test_a_shallow_reorg_within_min_confirmations_opens_no_window():
    params = attrs.evolve(PRESETS["testnet"], min_confirmations=3)
    config = WorldConfig(seed=11, users=3, duration_s=12 * HOUR, params=params, agents=attrs.evolve(
        QUIET, receive_per_day=12.0), oracle=OracleConfig(reaction_delay_s=30),
        schedule=(ScheduledEvent("reorg", 8 * HOUR, {"depth": 2, "double_spend": 1.0}),))
    world = run(config)
    assert world.monitor.windows() == []
    assert world.violations.kept == []
    assert any(r["kind"] == "btc_reorg" for r in world.log.records)


def test_an_oracle_that_ignores_decreases_is_caught(monkeypatch):
    """The monitor can fail: plant an oracle bug and the backing invariant must report it."""
    original = OracleService.reconcile

    def never_burns(self, user):
        if self.confirmed(user) < self.recorded.get(user, 0):
            return "none"
        return original(self, user)

    monkeypatch.setattr(OracleService, "reconcile", never_burns)
    config = WorldConfig(seed=5, users=20, duration_s=DAY, agents=AgentConfig(spend_per_day=8.0))
    world = run(config)
    backing = [v for v in world.violations.kept if v.invariant == "backing"]
    assert backing, "an oracle that never syncs decreases must break backing"
    first = backing[0]
    assert first.values["rbtc"] > first.values["confirmed_btc"]
    assert first.actor.startswith("0x")


def test_an_oracle_that_skips_users_is_caught_by_the_mirroring_check(monkeypatch):
    original = OracleService.reconcile

    def lazy(self, user):
        if user.endswith(("0", "1", "2", "3")):
            return "none"
        return original(self, user)

    monkeypatch.setattr(OracleService, "reconcile", lazy)
    world = run(WorldConfig(seed=2, users=30, duration_s=12 * HOUR))
    assert any(v.invariant == "mirroring" for v in world.violations.kept)


# ---------------------------------------------------------------------------------------- determinism

SMALL = WorldConfig(seed=42, users=25, duration_s=DAY, schedule=(
    ScheduledEvent("reorg", 10 * HOUR, {"depth": 2, "double_spend": 0.5}),
    ScheduledEvent("oracle_outage", 14 * HOUR, {"duration_s": HOUR}),
))


def test_same_seed_same_digest_and_another_seed_another():
    first, second = run(SMALL), run(SMALL)
    assert first.log.digest == second.log.digest
    assert first.log.count == second.log.count
    assert run(attrs.evolve(SMALL, seed=43)).log.digest != first.log.digest


def test_model_and_evm_backends_write_the_same_event_log():
    config = attrs.evolve(SMALL, users=8, duration_s=8 * HOUR, schedule=())  # SMALL's events come after 8 h
    assert run(config).log.digest == run(attrs.evolve(config, backend="evm")).log.digest


def test_the_digest_does_not_depend_on_the_process_or_hash_seed():
    script = textwrap.dedent("""
        from tests.test_world import SMALL, run
        print(run(SMALL).log.digest)
    """)
    digests = set()
    for hash_seed in ("0", "1", "987654"):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                              env={"PYTHONHASHSEED": hash_seed, "PATH": "/usr/bin:/bin"}, cwd=_root())
        digests.add(done.stdout.strip())
    assert digests == {run(SMALL).log.digest}


def _root() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parents[1])


def test_a_deep_reorg_during_an_outage_is_bounded_by_the_committees_return():
    """Found by the random worlds (a reorg at 3,600 s while the committee was offline from 763 s to
    5,009 s): nothing is repaired while the committee is away, so the window's clock starts at its return."""
    agents = attrs.evolve(QUIET, receive_per_day=6.0, receive_sats=(100_000, 200_000))
    config = WorldConfig(seed=2258912, users=4, duration_s=6 * HOUR, agents=agents,
                         schedule=(ScheduledEvent("oracle_outage", 763, {"duration_s": 5009 - 763}),
                                   ScheduledEvent("reorg", 3600, {"depth": 3, "double_spend": 1.0})))
    world = run(config)
    reorg_windows = [w for w in world.monitor.windows() if w.cause == "reorg"]
    assert reorg_windows and all(w.start < 5009 for w in reorg_windows)
    assert all(w.end is not None and w.end <= 5009 + 300 + 1 for w in reorg_windows)
    assert world.violations.kept == [], [v.as_dict() for v in world.violations.kept]

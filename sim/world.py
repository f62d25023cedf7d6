"""The world: a SimPy clock wiring the Bitcoin chain, the users, the oracle service and a protocol backend.

A world is a function of (config, code): all randomness comes from one ``numpy`` seed sequence
(split into independent streams for the chain, the users, the committee and the schedule, so
changing how users behave does not reshuffle block times); every simulated time is a whole second;
nothing iterates an unordered collection without sorting it. The event log's digest therefore
comes out the same on every machine and under any ``PYTHONHASHSEED``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import simpy

from sim.agents import Population
from sim.bitcoin.block import next_block_gap
from sim.bitcoin.chain import BitcoinChain
from sim.bitcoin.reorg import ReorgPolicy
from sim.config import BACKENDS, WorldConfig
from sim.eventlog import EventLog
from sim.disputes import Disputes
from sim.invariants import BackingMonitor, YieldMonitor
from sim.metrics import Metrics
from sim.oracle_service import OracleService
from sim.protocol.evm_backend import GENESIS_TIMESTAMP, EvmBackend
from sim.protocol.lockstep import LockstepBackend
from sim.protocol.model_backend import ModelBackend
from sim.protocol.port import Backend
from sim.protocol.recorder import RecordingBackend
from sim.registry import Registry
from sim.reserves import ReservesPublisher
from sim.yield_flow import YieldFlow

def make_backend(config: WorldConfig) -> Backend:
    """The protocol deployed on the backend the config names."""
    if config.backend == "model":
        return ModelBackend(config.params)
    if config.backend == "evm":
        return EvmBackend(config.params, artifacts_dir=config.contracts_dir)
    if config.backend == "lockstep":
        # In a world every account is touched sooner or later, so the full-state comparison runs
        # every 50 actions (and at the end); outcomes and events are still compared on every action.
        return LockstepBackend(ModelBackend(config.params),
                               EvmBackend(config.params, artifacts_dir=config.contracts_dir), observe_every=50)
    raise ValueError(f"unknown backend {config.backend!r}; expected one of {', '.join(BACKENDS)}")


class World:
    def __init__(self, config: WorldConfig, *, log: EventLog | None = None, backend: Backend | None = None):
        self.config = config
        self.env = simpy.Environment()
        streams = np.random.SeedSequence(config.seed).spawn(6)
        (self.rng_chain, self.rng_agents, self.rng_oracle, self.rng_events, self.rng_yield,
         self.rng_disputes) = (np.random.default_rng(s) for s in streams)
        self.log = log if log is not None else EventLog()
        self.backend = backend if backend is not None else make_backend(config)
        self.port = RecordingBackend(self.backend, self.log, lambda: int(self.env.now), GENESIS_TIMESTAMP,
                                     config.evm_block_time_s)
        btc = config.bitcoin
        self.chain = BitcoinChain(btc.network, genesis_time=GENESIS_TIMESTAMP, max_block_txs=btc.max_block_txs)
        self.chain.add_listener(self._log_chain_event)
        self.registry = Registry(btc.network)
        self.oracle = OracleService(self.env, self.chain, self.port, self.registry, self.log, config.oracle,
                                    self.rng_oracle)
        self.population = Population(self.env, self.chain, self.port, self.oracle, self.log, config.agents,
                                     config.users, btc.network, self.rng_agents,
                                     config.oracle.register_with_prepay_share)
        self.monitor = None
        self.yield_monitor = None
        self.violations: list = []
        if config.check_invariants:
            self.monitor = BackingMonitor(self.env, self.chain, self.port, self.registry, self.oracle, self.log)
            self.oracle.on_bind.append(lambda binding: self.monitor.user_bound(binding.user))
            self.yield_monitor = YieldMonitor(self.port, config.params, self.log, self.violate, GENESIS_TIMESTAMP)
        self.yields = YieldFlow(self.env, self.port, self.oracle, self.log, config.yields, self.rng_yield,
                                config.agents.onboarding_window_s)
        self.disputes = Disputes(self.env, self.chain, self.port, self.registry, self.oracle, self.yields, self.log,
                                 config.disputes, self.rng_disputes, self.violate)
        self.reserves = ReservesPublisher(self.env, self.chain, self.port, self.registry, self.log, config.reserves,
                                          self.oracle.min_conf, GENESIS_TIMESTAMP, self.violate)
        self.metrics = Metrics(self)
        self.log.append(0, "world_start", seed=config.seed, users=config.users, duration_s=config.duration_s,
                        contracts=self.backend.addresses)
        env = self.env
        env.process(self._mine())
        env.process(self.oracle.run())
        env.process(self.population.onboarding())
        env.process(self.population.activity())
        env.process(self._schedule())
        env.process(self.yields.trader_onboarding())
        env.process(self.yields.activity())
        env.process(self.disputes.activity(self.population.onboarded))
        env.process(self.reserves.run())
        env.process(self.metrics.run(self.metrics_interval))
        self.finished = False

    @property
    def metrics_interval(self) -> int:
        return max(60, self.config.duration_s // 500)

    # ------------------------------------------------------------------ processes

    def _mine(self):
        mean = self.config.bitcoin.mean_block_interval_s
        while True:
            gap = max(1, int(round(next_block_gap(self.rng_chain, mean))))
            yield self.env.timeout(gap)
            self.chain.mine_block(GENESIS_TIMESTAMP + int(self.env.now))

    def _log_chain_event(self, event) -> None:
        now = int(self.env.now)
        if hasattr(event, "addresses"):
            self.log.append(now, "btc_block", height=event.height, hash=event.hash, txs=len(event.txs))
        else:
            self.log.append(now, "btc_reorg", depth=event.depth, fork_height=event.fork_height,
                            old_tip=event.old_tip_hash, new_tip=event.new_tip_hash,
                            double_spent=[pair[0] for pair in event.double_spent], dropped=list(event.dropped),
                            affected=len(event.affected_addresses))

    def _schedule(self):
        for item in sorted(self.config.schedule, key=lambda e: e.at_s):
            if item.at_s > self.env.now:
                yield self.env.timeout(item.at_s - int(self.env.now))
            self.apply(item.kind, item.params)

    def apply(self, kind: str, params: dict) -> None:
        """Make a scheduled event happen now."""
        now = int(self.env.now)
        if kind == "reorg":
            depth = min(int(params["depth"]), self.chain.height)
            if depth < 1:
                self.log.append(now, "reorg_skipped", reason="chain too short")
                return
            policy = ReorgPolicy(p_double_spend=float(params.get("double_spend", 1.0)),
                                 p_drop=float(params.get("drop", 0.0)))
            self.chain.reorg(depth, self.rng_events, policy, timestamp=GENESIS_TIMESTAMP + now)
        elif kind == "fee_drought":
            self.population.fee_drought(int(params["duration_s"]))
        elif kind == "oracle_outage":
            self.oracle.go_offline(int(params["duration_s"]))
        elif kind == "dispute_wave":
            self.disputes.wave(self.population.onboarded, float(params.get("users", 0.2)),
                               float(params.get("truthful", 0.5)))
        elif kind == "deposit_burst":
            self.population.deposit_burst(float(params.get("users", 0.5)), tuple(params.get("sats", (10_000, 1_000_000))))
        else:
            raise ValueError(f"unknown scheduled event kind {kind!r}")

    # ------------------------------------------------------------------ invariants and figures

    def violate(self, invariant: str, actor: str, message: str, **values) -> None:
        """Record an invariant violation (every monitor reports through the backing monitor's list)."""
        if self.monitor is not None:
            self.monitor.violate(invariant, actor, message, **values)

    def yield_snapshot(self) -> dict:
        figures = self.yields.snapshot()
        if self.yield_monitor is not None:
            figures["owed"] = int(self.yield_monitor.owed_total(GENESIS_TIMESTAMP + int(self.env.now)))
        return figures

    def dispute_summary(self) -> dict:
        return self.disputes.summary()

    def yield_rate(self) -> int:
        """The pool's current rate in basis points."""
        return self.port.call("YieldScalesPool", "calculateYieldRate")

    def extra_summary(self) -> dict:
        latest = self.reserves.latest
        return {
            "yield": {
                "participants": len(self.yields.participants),
                "traders": sum(1 for kind in self.yields.participants.values() if kind == 1),
                "claims": self.yields.claims,
                "claimed": self.yields.claimed,
                "rate_bps": self.port.call("YieldScalesPool", "calculateYieldRate"),
                "tiers": self.yields.tiers(),
            },
            "proof_of_reserves": {
                "rounds": self.reserves.rounds,
                "last_root": "0x" + latest.root.hex() if latest else None,
                "last_height": latest.height if latest else None,
                "last_total_sats": latest.total_sats if latest else None,
                "onchain_verified_proofs": self.reserves.verified,
            },
        }

    # ------------------------------------------------------------------ running

    def run(self, until: int | None = None, *, on_progress: Callable[[int], None] | None = None,
            step_s: int = 3_600) -> None:
        """Advance the clock to ``until`` (default: the configured duration), reporting progress per step."""
        end = self.config.duration_s if until is None else until
        while self.env.now < end:
            target = min(end, int(self.env.now) + step_s)
            self.env.run(until=target)
            if on_progress is not None:
                on_progress(int(self.env.now))

    def finish(self) -> None:
        """Final checks over every account (invariant 2 at world scale) and the closing record."""
        if self.finished:
            return
        self.finished = True
        now = int(self.env.now)
        users = self.registry.users()
        supply = self.port.total_supply()
        recorded = sum(self.port.last_sats(u) for u in users)
        if self.monitor is not None:
            balances = {u: self.port.rbtc_balance(u) for u in users}
            if supply != recorded or supply != sum(balances.values()):
                self.violate("consistency", "system", "totalSupply differs from the sum of lastSats or of balances",
                             total_supply=supply, sum_last_sats=recorded, sum_balances=sum(balances.values()))
            for user in users:
                if balances[user] != self.monitor.rbtc.get(user, 0):
                    self.violate("consistency", user, "balanceOf differs from the Transfer events",
                                 balance=balances[user], from_events=self.monitor.rbtc.get(user, 0))
            if self.yield_monitor is not None:
                self.yield_monitor.final_check(self.port, GENESIS_TIMESTAMP + now)
            if isinstance(self.backend, LockstepBackend):
                self.backend.track(*users)
                self.backend.check_state("end of run")
        self.metrics.sample()
        self.log.append(now, "world_end", total_supply=supply, btc_height=self.chain.height,
                        users=len(users))
        self.log.flush()

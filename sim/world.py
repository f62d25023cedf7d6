"""The world: a SimPy clock wiring the Bitcoin chain, the users, the oracle service and a protocol backend.

A world is a function of (config, code): all randomness comes from one ``numpy`` seed sequence
(split into independent streams for the chain, the users, the committee and the schedule, so
changing how users behave does not reshuffle block times); every simulated time is a whole second;
nothing iterates an unordered collection without sorting it. The event log's digest therefore
comes out the same on every machine and under any ``PYTHONHASHSEED``.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable

import numpy as np
import simpy

from contracts_model.deployment import Deployment, yield_configuration
from contracts_model.errors import ContractRevert
from sim.adversary import Probes
from sim.agents import Population
from sim.bitcoin.block import next_block_gap
from sim.bitcoin.chain import BitcoinChain
from sim.bitcoin.reorg import ReorgPolicy
from sim.config import BACKENDS, ENGINE_OF, WorldConfig
from sim.eventlog import EventLog
from sim.disputes import Disputes
from sim.invariants import (BackingMonitor, CauseTracker, ProtocolLedger, Violations, WiringMonitor,
                            YieldMonitor)
from sim.metrics import Metrics
from sim.oracle_service import OracleService
from sim.protocol.deployment import load_deployment
from sim.protocol.deviations import load_deviations
from sim.protocol.evm_backend import GENESIS_TIMESTAMP, EvmBackend
from sim.protocol.lockstep import Divergence, LockstepBackend
from sim.protocol.model_backend import ModelBackend
from sim.protocol.port import Backend, RoleNotHeld
from sim.protocol.recorder import RecordingBackend
from sim.registry import Registry
from sim.reserves import ReservesPublisher
from sim.yield_flow import YieldFlow

def require_backend(name: str) -> None:
    """Raise bad input (exit status 2) now if backend ``name`` cannot run on this machine (revm without its wheel)."""
    if ENGINE_OF.get(name) == "revm":
        from sim.evm.revm_engine import require_revm

        require_revm()


def deployment_of(config: WorldConfig) -> Deployment:
    """Who holds each role in this world: the config's deployment file, or the project's own wiring."""
    return load_deployment(config.deployment_file).deployment if config.deployment_file else Deployment()


def make_backend(config: WorldConfig, on_divergence: Callable[[Divergence], None] | None = None) -> Backend:
    """The protocol deployed on the backend the config names. A lockstep backend records a divergence
    (handing it to ``on_divergence``) and goes on with the build under test."""
    if config.backend not in BACKENDS:
        raise ValueError(f"unknown backend {config.backend!r}; expected one of {', '.join(BACKENDS)}")
    deployment = deployment_of(config)
    engine = ENGINE_OF[config.backend]
    if engine is None:
        return ModelBackend(config.params, deployment=deployment)
    evm = EvmBackend(config.params, engine=engine, deployment=deployment, artifacts_dir=config.contracts_dir)
    if not config.backend.startswith("lockstep"):
        return evm
    # In a world every account is touched sooner or later, so the full-state comparison runs
    # every 50 actions (and at the end); outcomes and events are still compared on every action.
    return LockstepBackend(ModelBackend(config.params, deployment=deployment), evm,
                           observe_every=50, deviations=load_deviations(config.deviations_file),
                           on_divergence="record", listener=on_divergence)


class World:
    def __init__(self, config: WorldConfig, *, log: EventLog | None = None, backend: Backend | None = None):
        self.config = config
        self.env = simpy.Environment()
        # Child streams are fixed by their index, so adding a stream leaves the others' draws unchanged.
        streams = np.random.SeedSequence(config.seed).spawn(7)
        (self.rng_chain, self.rng_agents, self.rng_oracle, self.rng_events, self.rng_yield,
         self.rng_disputes, self.rng_probes) = (np.random.default_rng(s) for s in streams)
        self.log = log if log is not None else EventLog()
        self.backend = backend if backend is not None else make_backend(config, self._diverged)
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
        #: The one sink every monitor reports to; each violation carries the actor's latest failed calls.
        self.causes = CauseTracker(self.port)
        self.violations = Violations(self.log, lambda: int(self.env.now), self.causes)
        self.ledger = self.monitor = self.yield_monitor = self.wiring = None
        if config.check_invariants:
            self.ledger = ProtocolLedger(self.port, self.violate)
            self.monitor = BackingMonitor(self.env, self.chain, self.port, self.registry, self.oracle, self.log,
                                          self.violate, self.ledger)
            self.oracle.on_bind.append(lambda binding: self.monitor.user_bound(binding.user))
            self.yield_monitor = YieldMonitor(self.port, config.params, self.log, self.violate, GENESIS_TIMESTAMP)
            self.wiring = WiringMonitor(self.port, self.violate, config.yields.join_holders)
        self.yields = YieldFlow(self.env, self.port, self.oracle, self.log, config.yields, self.rng_yield,
                                config.agents.onboarding_window_s, self.unexpected_failure)
        self.disputes = Disputes(self.env, self.chain, self.port, self.registry, self.oracle, self.yields, self.log,
                                 config.disputes, self.rng_disputes, self.violate, self.unexpected_failure)
        self.reserves = ReservesPublisher(self.env, self.chain, self.port, self.registry, self.log, config.reserves,
                                          self.oracle.min_conf, GENESIS_TIMESTAMP, self.violate)
        self.metrics = Metrics(self)
        start = {"seed": config.seed, "users": config.users, "duration_s": config.duration_s,
                 "contracts": self.backend.addresses}
        configured = yield_configuration(config.params)
        if configured is not None:  # the deployment's configureYield call, which the log does not otherwise hold
            start["yield_parameters"] = list(configured)
        self.log.append(0, "world_start", **start)
        env = self.env
        env.process(self._mine())
        env.process(self.oracle.run())
        env.process(self.population.onboarding())
        env.process(self._guarded(self.population.activity))
        env.process(self._schedule())
        env.process(self.yields.trader_onboarding())
        env.process(self._guarded(self.yields.activity))
        env.process(self._guarded(lambda: self.disputes.activity(self.population.onboarded)))
        env.process(self._guarded(self.reserves.run))
        self.probes = Probes(env, self.port, config.adversary, self.rng_probes)
        env.process(self._guarded(lambda: self.probes.run(self.population.onboarded)))
        env.process(self._guarded(lambda: self.metrics.run(self.metrics_interval)))
        self.finished = False

    @property
    def metrics_interval(self) -> int:
        return max(60, self.config.duration_s // 500)

    # ------------------------------------------------------------------ processes

    def _guarded(self, start: Callable):
        """Run the process ``start()`` makes; a protocol call failing in it that its actor did not
        expect (a panic in the build, a role no account holds) becomes a violation naming the call and
        its cause, and the process starts again, so a defect in the build never ends the world."""
        while True:
            try:
                yield from start()
                return
            except (ContractRevert, RoleNotHeld) as exc:
                self.unexpected_failure(exc)

    def unexpected_failure(self, exc: Exception, actor: str = "system") -> None:
        """Record a protocol call that failed where the rules say it works."""
        call = getattr(exc, "call", None)
        if isinstance(exc, RoleNotHeld):
            self.violate("wiring", actor, str(exc), function=call)
            return
        contract = (call or "").split(".")[0]
        invariant = {"FeeVault": "fees", "FeePolicy": "fees", "YieldScalesPool": "yield",
                     "ProofOfReserves": "reserves"}.get(contract, "consistency")
        self.violate(invariant, actor, f"a protocol call failed: {call or 'a call'} reverted {exc!r}",
                     function=call, error=repr(exc))

    def _diverged(self, divergence: Divergence) -> None:
        left, right = divergence.names
        first = divergence.diffs[0] if divergence.diffs else ("", None, None)
        self.violate("lockstep", "system", f"the build differs from the reference models ({first[0]})",
                     step=divergence.step, action=divergence.action, differences=len(divergence.diffs),
                     diffs=[{"path": path, left: repr(a), right: repr(b)} for path, a, b in divergence.diffs[:40]])

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
        """Record an invariant violation in the world's one sink (see :mod:`sim.invariants.sink`)."""
        self.violations(invariant, actor, message, **values)

    def yield_snapshot(self) -> dict:
        figures = self.yields.snapshot()
        if self.yield_monitor is not None:
            figures["owed"] = int(self.yield_monitor.owed_total(GENESIS_TIMESTAMP + int(self.env.now)))
        return figures

    def paths(self) -> dict[str, int]:
        """The protocol paths this world reached (sync outcomes, deposits, withdrawals, reverts by name,
        pool joins, claims and tier changes, disputes, probes), for coverage tables."""
        found = Counter()
        if self.ledger is not None:
            found.update(self.ledger.paths)
            found.update(self.yield_monitor.paths)
        summary = self.disputes.summary()
        found["dispute_filed"] += summary["filed"]
        found["dispute_resolved"] += summary["accepted"] + summary["rejected"]
        found["probe"] += self.probes.tried
        if self.port.has("ProofOfReserves"):
            found["publish_reserves"] += self.reserves.rounds
        return {name: count for name, count in sorted(found.items()) if count}

    def lockstep_summary(self) -> dict | None:
        if not isinstance(self.backend, LockstepBackend):
            return None
        first = self.backend.divergences[0] if self.backend.divergences else None
        return {"divergences": len(self.backend.divergences), "first": first.as_dict() if first else None,
                "waived": self.backend.deviations.report()}

    def dispute_summary(self) -> dict:
        return self.disputes.summary()

    def yield_rate(self) -> int | None:
        """The pool's current rate in basis points."""
        return self._read(lambda: self.port.call("YieldScalesPool", "calculateYieldRate"))

    def _read(self, read: Callable, default=None):
        """A figure read through the port for the summary; a revert (a defect in the build) gives ``default``."""
        try:
            return read()
        except ContractRevert as exc:
            self.unexpected_failure(exc)
            return default

    def extra_summary(self) -> dict:
        latest = self.reserves.latest
        return {
            "yield": {
                "participants": len(self.yields.participants),
                "traders": sum(1 for kind in self.yields.participants.values() if kind == 1),
                "claims": self.yields.claims,
                "claimed": self.yields.claimed,
                "rate_bps": self._read(lambda: self.port.call("YieldScalesPool", "calculateYieldRate")),
                "tiers": self._read(self.yields.tiers, {}),
            },
            "lockstep": self.lockstep_summary(),
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
        if self.ledger is not None:
            self.ledger.final_check(users)
            self.yield_monitor.final_check(self.port, GENESIS_TIMESTAMP + now)
            self.wiring.final_check([u for u in users if self.ledger.rbtc.get(u, 0) > 0])
            if isinstance(self.backend, LockstepBackend):
                self.backend.track(*users)
                self.backend.check_state("end of run")
        self.metrics.sample()
        self.log.append(now, "world_end", total_supply=supply, btc_height=self.chain.height,
                        users=len(users))
        self.log.flush()

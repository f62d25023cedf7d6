"""The fast world: the same scenario as :class:`sim.world.World`, on one scheduler and array-drawn behaviour.

Instead of SimPy processes there is one heap of timed events: the protocol side's own (oracle
polls and wake-ups, claims, disputes, reactions to top-up requests, the committee's outages,
proof-of-reserves rounds, metrics samples) and what :class:`sim.fast.exogenous.Exogenous` hands over
from outside (onboardings, bindings, blocks, reorgs, deposit bursts), a block's worth at a time. The
users' fee checks and withdrawals arrive as arrays and are looked at just before the next event: a
check tops up only when the prepaid balance is low, which one comparison over the array decides.

Within one simulated second things happen in a fixed order: scheduled world events, due timers
(top-ups, dispute validations, onboarding), users' actions, claims and disputes, the block, the
committee's rounds (a block's wake-up, then the poll), proof of reserves, the metrics sample, and
last the end-of-instant checks when anything changed. The reference engine orders events of one
second by when SimPy scheduled them; both are valid, and the equivalence tests drive the core in
the reference's own order (:mod:`sim.fast.trace`).
"""

from __future__ import annotations

import heapq
import multiprocessing
import os
from collections import Counter
from typing import Callable

import numpy as np

from contracts_model.deployment import yield_configuration
from sim.config import DAY, WorldConfig
from sim.draws import uniform_int
from sim.fast.core import Core
from sim.fast import objects
from sim.fast.exogenous import Exogenous, Feeder
from sim.fast.records import FastLog
from sim.metrics import COLUMNS
from sim.protocol.evm_backend import GENESIS_TIMESTAMP
from sim.registry import METHOD_BIP322, binding_checksum

# scheduling classes within one second (see the module docstring); users' actions are class 2
SCHEDULED, TIMER, ACTIONS, ARRIVAL, BLOCK, WAKE, POLL, RESERVES, SAMPLE = range(9)
RATE_RECHECK_S = 600


class _Figures:
    """What the run folder's summary reads from a world (``world.monitor``, ``world.chain``…), read
    from the core under the reference world's names (``renames``: reference name -> core name)."""

    def __init__(self, core: Core, **renames):
        self._core, self._renames = core, renames

    def __getattr__(self, name):
        return getattr(self._core, self._renames.get(name, name))


class FastWorld:
    engine = "fast"

    def __init__(self, config: WorldConfig, *, log: FastLog | None = None, workers: int | None = None):
        """``workers``: 2 runs the outside world (users' draws, the Bitcoin chain) in a second process;
        the default does so for worlds of 5,000 users or more when two cores are free."""
        self.config = config
        streams = np.random.SeedSequence([config.seed, 13]).spawn(8)
        (rng_chain, rng_agents, self.rng_oracle, rng_events, self.rng_yield, self.rng_disputes,
         rng_actions, self.rng_react) = (np.random.default_rng(s) for s in streams)
        self.log = log if log is not None else FastLog()
        self.now = 0
        self.genesis = GENESIS_TIMESTAMP
        raw = rng_agents.bytes(20 * config.users)
        names = sorted({"0x" + raw[20 * i:20 * i + 20].hex() for i in range(config.users)})
        while len(names) < config.users:  # a collision of 160-bit draws: draw more
            names = sorted(set(names) | {"0x" + rng_agents.bytes(20).hex()})
        self.n = n = config.users
        c = config.agents
        self.tops_up = rng_agents.random(n) < c.topup_share
        traders = ["0x" + self.rng_yield.bytes(20).hex() for _ in range(config.yields.traders)]
        self.core = core = Core(config, self.log, names, traders, self.genesis)
        self.trader_ids = list(range(n, n + len(traders)))
        exo = Exogenous(config, rng_agents, rng_actions, rng_chain, rng_events, core.min_conf, self.genesis)
        if workers is None:  # a sweep's pool worker is daemonic and may not fork
            workers = 2 if (config.users >= 5_000 and len(os.sched_getaffinity(0)) >= 2
                            and not multiprocessing.current_process().daemon) else 1
        self.feeder = Feeder(exo, config.duration_s, in_child=workers >= 2)
        self.onboarded: list[int] = []
        self.drought_until = -1
        self.topup_pending = np.zeros(n, dtype=bool)
        core.on_needs_topup = self._needs_topup
        self._heap: list = []  # (t, class, sequence, handler, argument)
        self._seq = 0
        self._horizon = -1  # everything from outside up to this second is in the heap
        self._ticks: list[_Ticks] = []  # users' fee checks and withdrawals not yet looked at
        window = max(1, c.onboarding_window_s)
        if traders:
            ttimes = np.sort(self.rng_yield.integers(0, window, size=len(traders)))
            for trader, at in zip(self.trader_ids, ttimes.tolist()):
                self._push(at, TIMER, self._trader_onboard, trader)
        self._push(config.oracle.poll_interval_s, POLL, self._poll, None)
        for item in sorted(config.schedule, key=lambda e: e.at_s):
            if item.kind not in ("reorg", "deposit_burst"):  # those happen to the chain (Exogenous)
                self._push(item.at_s, SCHEDULED, self._apply, item)
        if config.reserves.interval_s > 0:
            self._push(config.reserves.interval_s, RESERVES, self._reserves, None)
        self._push(0, SAMPLE, self._sample, None)
        self._push(0, ARRIVAL, self._claim_stream, None)
        self._push(0, ARRIVAL, self._dispute_stream, None)
        self._wakes_pushed: set[int] = set()
        # figures the run folder reads, named as on the reference world
        self.monitor = _Figures(core)
        self.metrics = _Metrics(self)
        self.oracle = core
        self.reserves = core
        self.yield_monitor = core
        self.yields = core
        self.disputes = _Figures(core, all="disputes")  # every dispute filed (the sweep's backlog metrics)
        self.registry = _Registry(core)
        self.finished = False
        start = {"seed": config.seed, "users": config.users, "duration_s": config.duration_s,
                 "contracts": core.contracts, "engine": "fast"}
        configured = yield_configuration(config.params)
        if configured is not None:  # the deployment's configureYield call, as the reference world logs it
            start["yield_parameters"] = list(configured)
        self.log.record(0, "world_start", **start)

    # ------------------------------------------------------------------ scheduling

    def _push(self, t: int, cls: int, handler: Callable, arg) -> None:
        heapq.heappush(self._heap, (t, cls, self._seq, handler, arg))
        self._seq += 1

    @property
    def metrics_interval(self) -> int:
        return max(60, self.config.duration_s // 500)

    def run(self, until: int | None = None, *, on_progress: Callable[[int], None] | None = None,
            step_s: int = 3_600) -> None:
        end = self.config.duration_s if until is None else min(until, self.config.duration_s)
        try:
            self._run(end, on_progress, step_s)
        finally:
            objects.release()

    def _run(self, end: int, on_progress, step_s: int) -> None:
        core = self.core
        next_report = self.now + step_s
        heap = self._heap
        while True:
            while self._horizon < end and (not heap or heap[0][0] > self._horizon):
                self._from_outside(end)
                objects.settle()
            if not heap or heap[0][0] >= end:
                break
            t, cls = heap[0][0], heap[0][1]
            if self._ticks and self._ticks[0].next_t <= t:
                self._run_ticks(t, cls > ACTIONS)
            _, _, _, handler, arg = heapq.heappop(heap)
            if t != self.now:
                self._advance(t)
            handler(t, arg)
            for wake_t, reason in core.wakeups.items():
                if wake_t not in self._wakes_pushed:
                    self._wakes_pushed.add(wake_t)
                    self._push(wake_t, WAKE, self._wake, reason)
            if on_progress is not None and t >= next_report:
                on_progress(t)
                next_report = t + step_s
        if self._ticks:
            self._run_ticks(end, False)
        self._advance(end)
        if on_progress is not None:
            on_progress(end)

    def _from_outside(self, end: int) -> None:
        """Take the next block's worth from :class:`Exogenous` into the heap."""
        horizon, items = self.feeder.next_batch()
        self._horizon = horizon
        for t, cls, kind, payload in items:
            if kind == "btc_tx":
                self.log.batch("btc_tx", payload.pop("t"), len(payload["txid"]), **payload)
            elif kind == "ticks":
                self._ticks.append(_Ticks(payload, self.tops_up))
            else:
                self._push(t, cls, self._outside, (kind, payload))

    def _advance(self, t: int) -> None:
        """Close the current second (its end-of-instant checks, if anything changed) and move to ``t``."""
        if self.core.changed:
            self.core.end_of_instant(self.now)
        self.now = t

    # ------------------------------------------------------------------ what happens from outside

    def _outside(self, t: int, item) -> None:
        kind, payload = item
        core = self.core
        if kind == "block":
            self.log.record(t, "btc_block", height=payload.height, hash=payload.hash, txs=payload.txs)
            core.chain_change(payload)
        elif kind == "onboard":
            self._onboard(t, *payload)
            self.onboarded.append(payload[0])
        elif kind == "bind":
            user, address = payload
            self._register(t, user, address)
        elif kind == "reorg":
            if payload is None:
                self.log.record(t, "reorg_skipped", reason="chain too short")
                return
            self.log.record(t, "btc_reorg", depth=payload.depth, fork_height=payload.fork_height,
                            old_tip=payload.old_tip, new_tip=payload.hash, double_spent=list(payload.double_spent),
                            dropped=list(payload.dropped), affected=len(payload.touched))
            core.chain_change(payload)
        elif kind == "supply_exhausted":  # deposits the outside world could not make (21 M BTC in all)
            for user in payload:
                self.log.record(t, "agent_error", user=self.core.names[user], action="deposit", error="SupplyExhausted")
        elif kind == "deposit_burst":
            payload, refused = payload
            for user in refused:
                self.log.record(t, "agent_error", user=self.core.names[user], action="deposit", error="SupplyExhausted")
            if payload:
                users, addresses, amounts, numbers = (np.array(column, dtype=np.int64) for column in zip(*payload))
                self.log.batch("btc_tx", t, len(users), tx_kind=["deposit"] * len(users), txid=numbers, user=users,
                               address=addresses, amount=amounts, burst=True)

    def _run_ticks(self, t: int, inclusive: bool) -> None:
        """Users' fee checks and withdrawals before second ``t`` (at ``t`` too when ``inclusive``): a check
        tops up only a top-upper whose prepaid balance is low, so one comparison picks the few that may."""
        core = self.core
        threshold = self.config.agents.topup_below_wei
        while self._ticks:
            ticks = self._ticks[0]
            times, start = ticks.t, ticks.pos
            stop = int(np.searchsorted(times, t, side="right" if inclusive else "left"))
            if stop <= start:
                return
            users, withdraw = ticks.user[start:stop], ticks.withdraw[start:stop]
            may = ticks.tops_up[start:stop].copy()  # a check may top up: a top-upper whose vault is low now ...
            looked = np.flatnonzero(may)
            may[looked] = (core.vault[users[looked]] < threshold).astype(bool)
            if ticks.withdrawals[stop] > ticks.withdrawals[start]:  # ... or once its own withdrawal empties it
                may |= ticks.tops_up[start:stop] & np.isin(users, users[withdraw])
                may |= withdraw
            for i in np.flatnonzero(may).tolist():
                when, user = int(times[start + i]), int(users[i])
                if when != self.now:
                    self._advance(when)
                if withdraw[i]:
                    if core.vault[user] > 0:
                        core.withdraw(when, user)
                elif self._may_top_up(user, when) and core.vault[user] < threshold:
                    self._top_up(when, user, int(ticks.topup[start + i]))
            if stop < len(times):
                ticks.pos, ticks.next_t = stop, int(times[stop])
                return
            self._ticks.pop(0)

    # ------------------------------------------------------------------ users

    def _register(self, t: int, user: int, address: tuple, prepay: int = 0) -> None:
        address_id, text, program = address
        self.core.add_addresses([text])
        salt = self.rng_oracle.bytes(32)
        checksum = binding_checksum(self.core.names[user], program, salt)
        self.core.register(t, user, address_id, program, METHOD_BIP322, checksum, prepay)

    def _onboard(self, t: int, user: int, addresses: list, prepay: int, via_committee: bool, number: int,
                 initial: int) -> None:
        for i, address in enumerate(addresses):
            self._register(t, user, address, prepay if (i == 0 and via_committee) else 0)
        if not via_committee:
            error = self.core.deposit(t, self.core.names[user], user, prepay)
            if error is not None:
                self.log.record(t, "agent_error", user=self.core.names[user], action="deposit", error=error)
        if initial is None:  # 21 M BTC deposited in all: the world has no more to send
            self.log.record(t, "agent_error", user=self.core.names[user], action="deposit", error="SupplyExhausted")
            return
        self.log.batch("btc_tx", t, 1, tx_kind=["deposit"], txid=np.array([number]), user=np.array([user]),
                       address=np.array([addresses[0][0]]), amount=np.array([initial]))

    def _draw(self, bounds) -> int:
        return uniform_int(self.rng_react, *bounds)

    def _may_top_up(self, user: int, t: int) -> bool:
        return bool(self.tops_up[user]) and t >= self.drought_until

    def _top_up(self, t: int, user: int, amount: int) -> None:
        error = self.core.deposit(t, self.core.names[user], user, amount)
        if error is not None:
            self.log.record(t, "agent_error", user=self.core.names[user], action="topup", error=error)

    def _needs_topup(self, t: int, user: int) -> None:
        if not self._may_top_up(user, t) or self.topup_pending[user]:
            return
        self.topup_pending[user] = True
        self._push(t + int(self.rng_react.integers(600, 6 * 3600)), TIMER, self._delayed_top_up, user)

    def _delayed_top_up(self, t: int, user: int) -> None:
        self.topup_pending[user] = False
        if self._may_top_up(user, t):
            self._top_up(t, user, self._draw(self.config.agents.prepay_wei))

    # ------------------------------------------------------------------ the committee

    def _poll(self, t: int, _) -> None:
        self.core.round(t, "poll")
        self._push(t + self.config.oracle.poll_interval_s, POLL, self._poll, None)

    def _wake(self, t: int, reason: str) -> None:
        self.core.wakeups.pop(t, None)
        self._wakes_pushed.discard(t)
        self.core.round(t, reason)

    def _reserves(self, t: int, _) -> None:
        self.core.publish_reserves(t)
        self._push(t + self.config.reserves.interval_s, RESERVES, self._reserves, None)

    def _sample(self, t: int, _) -> None:
        self.metrics.sample(t)
        self._push(t + self.metrics_interval, SAMPLE, self._sample, None)

    # ------------------------------------------------------------------ yields and disputes

    def _trader_onboard(self, t: int, trader: int) -> None:
        self.core.trader_join(t, trader, self._usdt())

    def _usdt(self) -> int:
        return uniform_int(self.rng_yield, *self.config.yields.trader_usdt)

    def _next_arrival(self, t: int, rate: float, handler) -> None:
        if rate <= 0:
            self._push(t + 3600, ARRIVAL, handler, None)
            return
        rng = self.rng_yield if handler == self._claim_stream else self.rng_disputes
        gap = rng.exponential(1.0 / rate)
        if gap > RATE_RECHECK_S + 0.5:  # round(gap) > RATE_RECHECK_S, also when a tiny rate makes gap infinite
            self._push(t + RATE_RECHECK_S, ARRIVAL, handler, None)
        else:
            self._push(t + int(round(gap)), ARRIVAL, handler, "due")

    def _claim_stream(self, t: int, due) -> None:
        c = self.config.yields
        core = self.core
        population = len(core.participants)
        claim_rate, add_rate = c.claim_per_day / DAY, c.trader_add_per_day / DAY
        total = claim_rate * population + add_rate * len(self.trader_ids)
        if due == "due" and total > 0:
            if self.rng_yield.random() * total < claim_rate * population:
                core.claim(t, core.participants[int(self.rng_yield.integers(0, population))])
            else:
                trader = self.trader_ids[int(self.rng_yield.integers(0, len(self.trader_ids)))]
                if core.p_kind[trader] >= 0:
                    core.trader_join(t, trader, self._usdt())
            population = len(core.participants)
            total = claim_rate * population + add_rate * len(self.trader_ids)
        self._next_arrival(t, total, self._claim_stream)

    def _dispute_stream(self, t: int, due) -> None:
        c = self.config.disputes
        per_user = c.frivolous_per_day + c.discrepancy_per_day
        count = len(self.onboarded)
        if due == "due" and count and per_user > 0:
            user = self.onboarded[int(self.rng_disputes.integers(0, count))]
            if self.rng_disputes.random() * per_user < c.frivolous_per_day:
                self._file_frivolous(t, user)
            elif int(self.core.rbtc[user]) != self.core.confirmed(user):
                self._file(t, user, self.core.confirmed(user))
        self._next_arrival(t, per_user / DAY * len(self.onboarded), self._dispute_stream)

    def _file_frivolous(self, t: int, user: int) -> None:
        truth = self.core.confirmed(user)
        self._file(t, user, truth + int(self.rng_disputes.integers(1_000, max(2_000, truth // 2 + 2_000))))

    def _file(self, t: int, user: int, reported: int) -> None:
        dispute = self.core.file_dispute(t, user, reported)
        if dispute is not None:
            self._push(t + self.config.disputes.validation_delay_s, TIMER, self._validate, dispute)

    def _validate(self, t: int, dispute) -> None:
        if self.core.is_offline(t):
            self._push(self.core.offline_until, TIMER, self._validate, dispute)
            return
        self.core.validate_dispute(t, dispute)

    # ------------------------------------------------------------------ scheduled events

    def _apply(self, t: int, item) -> None:
        self.apply(item.kind, item.params, t)

    def apply(self, kind: str, params: dict, t: int | None = None) -> None:
        t = self.now if t is None else t
        core = self.core
        if kind in ("reorg", "deposit_burst"):
            raise ValueError(f"{kind} happens to the chain: it is Exogenous's, at its scheduled time")
        elif kind == "fee_drought":
            self.drought_until = max(self.drought_until, t + int(params["duration_s"]))
            self.log.record(t, "fee_drought", until=self.drought_until)
        elif kind == "oracle_outage":
            core.go_offline(t, int(params["duration_s"]))
        elif kind == "dispute_wave":
            share, truthful = float(params.get("users", 0.2)), float(params.get("truthful", 0.5))
            for user in list(self.onboarded):
                if self.rng_disputes.random() < share:
                    if self.rng_disputes.random() < truthful:
                        self._file(t, user, core.confirmed(user))
                    else:
                        self._file_frivolous(t, user)
        else:
            raise ValueError(f"unknown scheduled event kind {kind!r}")

    # ------------------------------------------------------------------ figures

    @property
    def env(self):
        return self

    @property
    def port(self):
        """Gas is the EVM's; like the model backend, the fast engine has none to report."""
        return _Figures(self, gas="_no_gas")

    @property
    def _no_gas(self):
        from sim.protocol.gas import GasTable

        return GasTable()

    @property
    def chain(self):
        """The Bitcoin chain as the protocol saw it last (its tip height)."""
        return _Figures(self.core, height="tip")

    def dispute_summary(self) -> dict:
        return self.core.dispute_summary()

    @property
    def violations(self):
        """The one violation sink (:class:`sim.invariants.Violations`)."""
        return self.core.violations

    @property
    def causes(self):
        return _Reverts(self.core.reverts)

    def paths(self) -> dict[str, int]:
        """The protocol paths this world reached, as :meth:`sim.world.World.paths` counts them."""
        found = Counter(self.core.ledger.paths)
        found.update(self.core.yield_paths)
        for (contract, function, error), count in self.core.reverts.items():
            found[f"revert:{contract}.{function}:{error[:-2]}"] += count
            if error == "FeeCapExceeded()":
                found["fee_cap"] += count
        summary = self.core.dispute_summary()
        found["dispute_filed"] += summary["filed"]
        found["dispute_resolved"] += summary["accepted"] + summary["rejected"]
        return {name: count for name, count in sorted(found.items()) if count}

    def yield_rate(self) -> int:
        return self.core.rate

    def yield_snapshot(self) -> dict:
        core = self.core
        return {"rate": core.rate, "claimed": core.distributed, "participants": core.total_participants,
                "owed": int(core.owed_total(self.genesis + self.now))}

    def extra_summary(self) -> dict:
        core = self.core
        latest = core.latest
        return {
            "yield": {
                "participants": len(core.participants),
                "traders": sum(1 for u in core.participants if core.p_kind[u] == 1),
                "claims": core.claims,
                "claimed": core.claimed,
                "rate_bps": core.rate,
                "tiers": core.tiers(),
            },
            "proof_of_reserves": {
                "rounds": core.reserve_rounds,
                "last_root": "0x" + latest.root.hex() if latest else None,
                "last_height": latest.height if latest else None,
                "last_total_sats": latest.total_sats if latest else None,
                "onchain_verified_proofs": core.verified,
            },
        }

    def finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        t = self.now
        core = self.core
        if self.config.check_invariants:
            core.finish(t)
        self.metrics.sample(t)
        self.log.record(t, "world_end", total_supply=core.supply, btc_height=core.tip, users=core.registered_count)
        self.feeder.close()
        self.log.flush()


class _Ticks:
    """One batch of users' fee checks and withdrawals (arrays in time order), looked at from ``pos`` on."""

    __slots__ = ("t", "user", "withdraw", "topup", "tops_up", "withdrawals", "pos", "next_t")

    def __init__(self, payload: dict, tops_up: np.ndarray):
        self.t, self.user, self.withdraw, self.topup = payload["t"], payload["user"], payload["withdraw"], payload["topup"]
        self.tops_up = tops_up[self.user]  # who tops up at all is drawn once per world
        self.withdrawals = np.concatenate([[0], np.cumsum(self.withdraw)])  # withdrawals before each position
        self.pos, self.next_t = 0, int(self.t[0])


class _Registry:
    """Who bound which address, read like :class:`sim.registry.Registry` (for metrics of one's own)."""

    def __init__(self, core: Core):
        self._core = core

    def _by_user(self) -> dict[str, list[str]]:
        core, found = self._core, {}
        for user, address, *_ in core.bindings:
            found.setdefault(core.names[user], []).append(core.addresses[address])
        return found

    def users(self) -> list[str]:
        """Users in registration order."""
        return list(self._by_user())

    def addresses_of(self, user: str) -> list[str]:
        return self._by_user().get(user, [])

    def owner_of(self, btc_address: str) -> str | None:
        return next((user for user, addresses in self._by_user().items() if btc_address in addresses), None)


class _Reverts:
    """Reverted transactions by contract, function and error (the summary's ``reverts``)."""

    def __init__(self, counts: Counter):
        self.counts = counts

    def breakdown(self) -> list[dict]:
        return [{"contract": c, "function": f, "error": e, "count": n}
                for (c, f, e), n in sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))]


class _Metrics:
    """The metrics time series (same columns as :class:`sim.metrics.Metrics`) from the core's running totals."""

    def __init__(self, world: FastWorld):
        self.world = world
        self.rows: list[dict] = []
        self.on_row: list = []

    @property
    def ops(self):
        return self.world.core.ops

    @property
    def kinds(self):
        return self.world.core.kinds

    @property
    def fees(self):
        return self.world.core.fees

    @property
    def sync_delays(self):
        return self.world.core.sync_delays

    def sample(self, t: int | None = None) -> dict:
        w = self.world
        row = metrics_row(w.core, w.now if t is None else t, w.core.tip)
        self.rows.append(row)
        for listener in self.on_row:
            listener(row)
        return row


def metrics_row(core: Core, t: int, btc_height: int) -> dict:
    """One row of metrics.csv, with the reference columns (:data:`sim.metrics.COLUMNS`)."""
    lowest, core.interval_min_ratio = core.interval_min_ratio, None
    supply, reserves = core.total_rbtc, core.total_confirmed
    row = {
        "t": t,
        "rbtc_supply": supply,
        "btc_reserves": reserves,
        "backing_ratio": round(reserves / supply, 6) if supply else None,
        "backing_ratio_min": round(lowest, 6) if lowest is not None else None,
        "users": core.registered_count,
        "syncs": core.ops["sync"],
        "emergency_burns": core.ops["emergency_burn"],
        "needs_topup": len(core.needs_topup),
        "open_windows": len(core.open),
        "vault_total_wei": core.vault_total,
        "fees_collected_wei": core.fees,
        "btc_height": btc_height,
        "reorgs": core.kinds["btc_reorg"],
        "disputes_filed": core.kinds["dispute_filed"],
        "disputes_resolved": core.kinds["dispute_resolved"],
        "yield_rate_bps": core.rate,
        "yield_owed_total": int(core.owed_total(core.genesis + t)),
        "yield_claimed_total": core.distributed,
        "pool_participants": core.total_participants,
    }
    assert list(row) == list(COLUMNS)
    return row

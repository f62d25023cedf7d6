"""The fast world: the same scenario as :class:`sim.world.World`, on one scheduler and array-drawn behaviour.

Instead of SimPy processes there is one heap of timed events (blocks, oracle polls and wake-ups,
claims, disputes, reactions to top-up requests, scheduled events, proof-of-reserves rounds, metrics
samples) and, between them, users' actions drawn in chunks of simulated time as arrays (arrival
times of one Poisson stream over the onboarded users, which user, which action, and the amounts
and fractions the action needs). Actions that only touch the Bitcoin chain (receive, spend) run
against :class:`sim.fast.chain.FastChain`; a check of prepaid fees is one vectorised comparison
over the chunk; the rest (withdraw, bind, top-up) call the protocol core.

Within one simulated second things happen in a fixed order: scheduled world events, due timers
(top-ups, dispute validations, onboarding), users' actions, claims and disputes, the block, the
committee's rounds (a block's wake-up, then the poll), proof of reserves, the metrics sample, and
last the end-of-instant checks when anything changed. The reference engine orders events of one
second by when SimPy scheduled them; both are valid, and the equivalence tests drive the core in
the reference's own order (:mod:`sim.fast.trace`).
"""

from __future__ import annotations

import heapq
from typing import Callable

import numpy as np

from sim.bitcoin.address import encode_p2tr, encode_p2wpkh
from sim.config import DAY, WorldConfig
from sim.fast.chain import FastChain
from sim.fast.core import Core
from sim.fast.records import FastLog
from sim.metrics import COLUMNS
from sim.protocol.evm_backend import GENESIS_TIMESTAMP
from sim.registry import METHOD_BIP322, binding_checksum

# scheduling classes within one second (see the module docstring); users' actions are class 2
SCHEDULED, TIMER, ACTIONS, ARRIVAL, BLOCK, WAKE, POLL, RESERVES, SAMPLE = range(9)
RECEIVE, SPEND, CHECK_FEES, WITHDRAW, BIND = range(5)
CHUNK_S = 3_600
RATE_RECHECK_S = 600
USER_ETH_WEI = 10**20


class _Figures:
    """What the run folder's summary reads from a world (``world.monitor``, ``world.metrics``…)."""

    def __init__(self, core: Core):
        self._core = core

    def __getattr__(self, name):
        return getattr(self._core, name)


class FastWorld:
    engine = "fast"

    def __init__(self, config: WorldConfig, *, log: FastLog | None = None):
        self.config = config
        streams = np.random.SeedSequence([config.seed, 13]).spawn(8)
        (self.rng_chain, self.rng_agents, self.rng_oracle, self.rng_events, self.rng_yield, self.rng_disputes,
         self.rng_actions, self.rng_react) = (np.random.default_rng(s) for s in streams)
        self.log = log if log is not None else FastLog()
        self.now = 0
        self.genesis = GENESIS_TIMESTAMP
        rng = self.rng_agents
        raw = rng.bytes(20 * config.users)
        names = sorted({"0x" + raw[20 * i:20 * i + 20].hex() for i in range(config.users)})
        while len(names) < config.users:  # a collision of 160-bit draws: draw more
            names = sorted(set(names) | {"0x" + rng.bytes(20).hex()})
        self.n = n = config.users
        c = config.agents
        self.tops_up = rng.random(n) < c.topup_share
        traders = ["0x" + self.rng_yield.bytes(20).hex() for _ in range(config.yields.traders)]
        self.core = core = Core(config, self.log, names, traders, self.genesis)
        self.trader_ids = list(range(n, n + len(traders)))
        depth = max([int(e.params["depth"]) for e in config.schedule if e.kind == "reorg"], default=0)
        self.chain = FastChain(core.min_conf, max_block_txs=config.bitcoin.max_block_txs, keep_blocks=depth)
        self.addresses_of: list[list[int]] = [[] for _ in range(n)]
        self.onboarded: list[int] = []
        self.drought_until = -1
        self.topup_pending = np.zeros(n, dtype=bool)
        core.on_needs_topup = self._needs_topup
        # the heap: (t, class, sequence, handler, argument)
        self._heap: list = []
        self._seq = 0
        window = max(1, c.onboarding_window_s)
        times = np.sort(rng.integers(0, window, size=n))
        self.onboard_order = rng.permutation(n)
        self.onboard_times = times
        for i, at in enumerate(times.tolist()):
            self._push(at, TIMER, self._onboard, int(self.onboard_order[i]))
        if traders:
            ttimes = np.sort(self.rng_yield.integers(0, window, size=len(traders)))
            for trader, at in zip(self.trader_ids, ttimes.tolist()):
                self._push(at, TIMER, self._trader_onboard, trader)
        self._push(max(1, int(round(self.rng_chain.exponential(config.bitcoin.mean_block_interval_s)))), BLOCK,
                   self._block, None)
        self._push(config.oracle.poll_interval_s, POLL, self._poll, None)
        for item in sorted(config.schedule, key=lambda e: e.at_s):
            self._push(item.at_s, SCHEDULED, self._apply, item)
        if config.reserves.interval_s > 0:
            self._push(config.reserves.interval_s, RESERVES, self._reserves, None)
        self._push(0, SAMPLE, self._sample, None)
        self._push(0, ARRIVAL, self._claim_stream, None)
        self._push(0, ARRIVAL, self._dispute_stream, None)
        self._wakes_pushed: set[int] = set()
        # users' actions, drawn a chunk at a time
        rates = np.array([c.receive_per_day, c.spend_per_day, 1.0, c.withdraw_per_day, c.bind_extra_address_per_day])
        self._rates_total = float(rates.sum()) / DAY
        self._kind_cdf = np.cumsum(rates / rates.sum()) if rates.sum() > 0 else None
        self._chunk_end = 0
        self._actions = None
        self._pos = 0
        # figures the run folder reads, named as on the reference world
        self.monitor = _Figures(core)
        self.metrics = _Metrics(self)
        self.oracle = core
        self.reserves = core
        self.yield_monitor = core
        self.yields = core
        self.finished = False
        self.log.record(0, "world_start", seed=config.seed, users=config.users, duration_s=config.duration_s,
                        contracts=core.contracts, engine="fast")

    # ------------------------------------------------------------------ scheduling

    def _push(self, t: int, cls: int, handler: Callable, arg) -> None:
        heapq.heappush(self._heap, (t, cls, self._seq, handler, arg))
        self._seq += 1

    @property
    def metrics_interval(self) -> int:
        return max(60, self.config.duration_s // 500)

    def run(self, until: int | None = None, *, on_progress: Callable[[int], None] | None = None,
            step_s: int = 3_600) -> None:
        end = self.config.duration_s if until is None else until
        core = self.core
        heap = self._heap
        next_report = self.now + step_s
        while heap and heap[0][0] < end:
            t, cls, _, handler, arg = heap[0]
            self._actions_until(t, cls)
            heapq.heappop(heap)
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
        self._actions_until(end, -1)
        self._advance(end)
        if on_progress is not None:
            on_progress(end)

    def _advance(self, t: int) -> None:
        """Close the current second (its end-of-instant checks, if anything changed) and move to ``t``."""
        if self.core.changed:
            self.core.end_of_instant(self.now)
        self.now = t

    # ------------------------------------------------------------------ users' actions

    def _draw_chunk(self, start: int) -> None:
        """Every action arriving in [start, start + CHUNK_S): times, users, kinds and their draws."""
        end = start + CHUNK_S
        rng = self.rng_actions
        active_end = int(np.searchsorted(self.onboard_times, end - 1, side="right"))
        rate = self._rates_total * active_end
        count = int(rng.poisson(rate * CHUNK_S)) if rate > 0 else 0
        times = np.sort(rng.integers(start, end, size=count))
        active = np.searchsorted(self.onboard_times, times, side="right")
        keep = rng.random(count) * active_end < active  # thinning while the population still grows
        times, active = times[keep], active[keep]
        count = len(times)
        pick = (rng.random(count) * active).astype(np.int64)
        c = self.config.agents
        self._actions = {
            "t": times,
            "user": self.onboard_order[pick],
            "kind": np.searchsorted(self._kind_cdf, rng.random(count), side="right"),
            "address": rng.random(count),
            "receive": rng.integers(c.receive_sats[0], c.receive_sats[1] + 1, size=count),
            "fraction": rng.uniform(c.spend_fraction[0], c.spend_fraction[1], size=count),
            "topup": rng.integers(c.prepay_wei[0], c.prepay_wei[1] + 1, size=count) if c.prepay_wei[1] < 2**62
            else np.array([c.prepay_wei[0]] * count, dtype=object),
        }
        self._pos = 0
        self._chunk_end = end

    def _actions_until(self, t: int, cls: int) -> None:
        """Run every action before second ``t`` (and those at ``t`` when the next event comes after them)."""
        if self._kind_cdf is None:
            return
        inclusive = cls > ACTIONS
        while True:
            if self._actions is None:
                if self._chunk_end >= self.config.duration_s:
                    return
                self._draw_chunk(self._chunk_end)
            times = self._actions["t"]
            stop = int(np.searchsorted(times, t, side="right" if inclusive else "left"))
            if stop > self._pos:
                self._run_actions(self._pos, stop)
                self._pos = stop
            if self._pos < len(times) or self._chunk_end > t or (not inclusive and self._chunk_end == t):
                return
            self._actions = None

    def _run_actions(self, start: int, stop: int) -> None:
        a = self._actions
        kinds = a["kind"][start:stop]
        core = self.core
        # a fee check tops up only a top-upper below the threshold: one comparison for the whole slice
        checks = np.flatnonzero(kinds == CHECK_FEES)
        due = set()
        if len(checks):
            users = a["user"][start:stop][checks]
            low = (core.vault[users] < self.config.agents.topup_below_wei).astype(bool) & self.tops_up[users]
            due = set((checks[low] + start).tolist())
        times, who = a["t"], a["user"]
        chain = self.chain
        rows_t, rows_kind, rows_tx, rows_user, rows_addr, rows_amount = [], [], [], [], [], []
        vault_touched: set[int] = set()
        for k in range(start, stop):
            kind = int(a["kind"][k])
            if kind == CHECK_FEES and k not in due:
                user = int(who[k])
                if user not in vault_touched:
                    continue
            t = int(times[k])
            user = int(who[k])
            if kind == RECEIVE or kind == SPEND:
                own = self.addresses_of[user]
                address = own[int(a["address"][k] * len(own))]
                if kind == RECEIVE:
                    amount = int(a["receive"][k])
                    tx = chain.deposit(address, amount)
                    rows_kind.append("deposit")
                else:
                    amount = int(chain.spendable(address) * float(a["fraction"][k]))
                    tx = chain.spend(address, amount)
                    if tx is None:
                        continue
                    rows_kind.append("spend")
                rows_t.append(t)
                rows_tx.append(tx.number)
                rows_user.append(user)
                rows_addr.append(address)
                rows_amount.append(amount)
                continue
            if t != self.now:
                self._advance(t)
            if kind == CHECK_FEES:
                if self._may_top_up(user, t) and core.vault[user] < self.config.agents.topup_below_wei:
                    self._top_up(t, user, int(a["topup"][k]))
                    vault_touched.add(user)
            elif kind == WITHDRAW:
                if core.vault[user] > 0:
                    core.withdraw(t, user)
                    vault_touched.add(user)
            elif kind == BIND:
                self._bind(t, user)
        if rows_t:
            self.log.batch("btc_tx", np.asarray(rows_t, dtype=np.int64), len(rows_t), tx_kind=rows_kind,
                           txid=np.asarray(rows_tx, dtype=np.int64), user=np.asarray(rows_user, dtype=np.int64),
                           address=np.asarray(rows_addr, dtype=np.int64),
                           amount=np.asarray(rows_amount, dtype=np.int64))

    # ------------------------------------------------------------------ users

    def _new_address(self) -> tuple[int, bytes]:
        rng = self.rng_agents
        network = self.config.bitcoin.network
        if rng.random() < self.config.agents.taproot_share:
            program = rng.bytes(32)
            text, por = encode_p2tr(program, network), program
        else:
            program = rng.bytes(20)
            text, por = encode_p2wpkh(program, network), b"\x00" * 12 + program
        self.chain.add_addresses(1)
        self.core.add_addresses([text])
        return len(self.core.addresses) - 1, por

    def _register(self, t: int, user: int, prepay: int = 0) -> int:
        address, program = self._new_address()
        salt = self.rng_oracle.bytes(32)
        checksum = binding_checksum(self.core.names[user], program, salt)
        self.addresses_of[user].append(address)
        self.core.register(t, user, address, program, METHOD_BIP322, checksum, prepay)
        return address

    def _draw(self, bounds) -> int:
        low, high = bounds
        return int(self.rng_agents.integers(low, high + 1)) if high > low else int(low)

    def _onboard(self, t: int, user: int) -> None:
        c = self.config.agents
        count = self._draw(c.addresses_per_user)
        prepay = self._draw(c.prepay_wei)
        via_committee = self.rng_agents.random() < self.config.oracle.register_with_prepay_share
        for i in range(max(1, count)):
            self._register(t, user, prepay if (i == 0 and via_committee) else 0)
        if not via_committee:
            if not self.core.deposit(t, self.core.names[user], user, prepay):
                self.log.record(t, "agent_error", user=self.core.names[user], action="deposit", error="ZeroValue")
        initial = self._draw(c.initial_btc_sats)
        address = self.addresses_of[user][0]
        tx = self.chain.deposit(address, initial)
        self.log.batch("btc_tx", t, 1, tx_kind=["deposit"], txid=np.array([tx.number]), user=np.array([user]),
                       address=np.array([address]), amount=np.array([initial]))
        self.onboarded.append(user)

    def _bind(self, t: int, user: int) -> None:
        self._register(t, user)

    def _may_top_up(self, user: int, t: int) -> bool:
        return bool(self.tops_up[user]) and t >= self.drought_until

    def _top_up(self, t: int, user: int, amount: int) -> None:
        if not self.core.deposit(t, self.core.names[user], user, amount):
            self.log.record(t, "agent_error", user=self.core.names[user], action="topup", error="ZeroValue")

    def _needs_topup(self, t: int, user: int) -> None:
        if not self._may_top_up(user, t) or self.topup_pending[user]:
            return
        self.topup_pending[user] = True
        self._push(t + int(self.rng_react.integers(600, 6 * 3600)), TIMER, self._delayed_top_up, user)

    def _delayed_top_up(self, t: int, user: int) -> None:
        self.topup_pending[user] = False
        if self._may_top_up(user, t):
            self._top_up(t, user, self._draw(self.config.agents.prepay_wei))

    # ------------------------------------------------------------------ the chain and the committee

    def _block(self, t: int, _) -> None:
        change = self.chain.mine(t, self.genesis + t)
        self.log.record(t, "btc_block", height=change.height, hash=change.hash, txs=change.txs)
        self.core.chain_change(change)
        gap = max(1, int(round(self.rng_chain.exponential(self.config.bitcoin.mean_block_interval_s))))
        self._push(t + gap, BLOCK, self._block, None)

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
        low, high = self.config.yields.trader_usdt
        return int(self.rng_yield.integers(low, high + 1))

    def _next_arrival(self, t: int, rate: float, handler) -> None:
        if rate <= 0:
            self._push(t + 3600, ARRIVAL, handler, None)
            return
        gap = int(round(self.rng_yield.exponential(1.0 / rate))) if handler == self._claim_stream else \
            int(round(self.rng_disputes.exponential(1.0 / rate)))
        if gap > RATE_RECHECK_S:
            self._push(t + RATE_RECHECK_S, ARRIVAL, handler, None)
        else:
            self._push(t + gap, ARRIVAL, handler, "due")

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
        if kind == "reorg":
            depth = min(int(params["depth"]), self.chain.height)
            if depth < 1:
                self.log.record(t, "reorg_skipped", reason="chain too short")
                return
            change = self.chain.reorg(t, self.genesis + t, depth, self.rng_events, float(params.get("drop", 0.0)),
                                      float(params.get("double_spend", 1.0)))
            self.log.record(t, "btc_reorg", depth=change.depth, fork_height=change.fork_height,
                            old_tip=change.old_tip, new_tip=change.hash, double_spent=list(change.double_spent),
                            dropped=list(change.dropped), affected=len(change.touched))
            core.chain_change(change)
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
        elif kind == "deposit_burst":
            share = float(params.get("users", 0.5))
            low, high = tuple(params.get("sats", (10_000, 1_000_000)))
            for user in list(self.onboarded):
                if self.rng_events.random() < share:
                    amount = int(self.rng_events.integers(low, high + 1)) if high > low else int(low)
                    address = self.addresses_of[user][0]
                    tx = self.chain.deposit(address, amount)
                    self.log.batch("btc_tx", t, 1, tx_kind=["deposit"], txid=np.array([tx.number]),
                                   user=np.array([user]), address=np.array([address]), amount=np.array([amount]),
                                   burst=True)
        else:
            raise ValueError(f"unknown scheduled event kind {kind!r}")

    # ------------------------------------------------------------------ figures

    @property
    def env(self):
        return self

    def dispute_summary(self) -> dict:
        return self.core.dispute_summary()

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
        self.log.record(t, "world_end", total_supply=core.supply, btc_height=self.chain.height,
                        users=core.registered_count)
        self.log.flush()


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
        row = metrics_row(w.core, w.now if t is None else t, w.chain.height)
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

"""The fast engine's protocol core: committee, contracts and every monitor, over arrays, one instant at a time.

This is the reference engine's protocol — :mod:`sim.oracle_service`, the models of
:mod:`contracts_model` behind :mod:`sim.protocol.model_backend`, :mod:`sim.yield_flow`,
:mod:`sim.disputes`, :mod:`sim.reserves` and the monitors of :mod:`sim.invariants` — with the state
of every user in arrays indexed by user number (users are numbered in the order of their EVM
addresses, so "sorted by address", the order the committee reconciles in, is numeric order). An
oracle round is one batch: the candidates' deltas, fee quotes, vault checks, mints, burns, fees,
emergency burns, pool checkpoints, scale refreshes and the ghost ledger's checks are array
operations over the touched users, with exactly the models' integer arithmetic (wei and yield
amounts in Python integers — numpy ``object`` arrays — because they outgrow 64 bits; sats in
``int64``, which a 21-million-BTC supply cannot overflow). Within one instant the pool's index does
not move (no time passes), so a round's checkpoints all use the same index and only the scale
refreshes run in order (a cumulative sum and a running maximum).

The core is driven by calls (:meth:`Core.chain_change`, :meth:`Core.round`, :meth:`Core.end_of_instant`,
:meth:`Core.deposit`, …): the fast world's scheduler makes them at the times its own draws give
(:mod:`sim.fast.world`), and :mod:`sim.fast.trace` makes them from a reference world's recorded
inputs to show that both engines reach the same outcome.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from attrs import define

from contracts_model.deployment import deployment_plan
from contracts_model.params import YieldParams
from contracts_model.proof_of_reserves import leaf_hash, process_proof
from sim.disputes import Dispute  # the reference's record; here `user` is the user's number
from sim.disputes import summarize as summarize_disputes
from sim.fast.chain import ChainChange
from sim.fast.exact import add, add_into, add_one, dot, product, put, put_one, sub, total
from sim.fast import merkle
from sim.fast.ledger import FastLedger
from sim.fast.records import EMERGENCY_REASON, USDT_SCALE, Context, FastLog
from sim.invariants import Violations, Window
from sim.agents import USER_ETH_WEI
from sim.oracle_service import MAX_BACKOFF_S
from sim.protocol.deployment import OPERATOR_FUNDING_WEI, Accounts

ACCRUAL_DIVISOR = 10_000 * 31_536_000 * 100
HOLDER, TRADER = 0, 1
INT64_SAFE = 2**62


def _exact_within_rounding(whole, paid_and_owed, checkpoints):
    """The yield monitor's accrual rule: the exact accrual (a numerator over ACCRUAL_DIVISOR) is at least
    what was paid and is owed, and exceeds it by less than one unit of rounding per checkpoint, plus one:
    ``0 <= exact - paid_and_owed * D < (checkpoints + 1) * D``. Given ``whole = exact // D`` (the remainder
    is below one unit) that is ``0 <= whole - paid_and_owed <= checkpoints``. For one participant (Python
    integers) or elementwise (integer arrays)."""
    gap = whole - paid_and_owed if isinstance(whole, int) and isinstance(paid_and_owed, int) else \
        sub(whole, paid_and_owed)
    return (gap >= 0) & (gap <= checkpoints)


def _obj(values) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


@define
class Snapshot:
    round: int | None
    root: bytes
    height: int
    total_sats: int
    timestamp: int
    leaves: tuple

    def as_json(self) -> dict:
        return {"round": self.round, "root": "0x" + self.root.hex(), "height": self.height,
                "total_sats": self.total_sats, "timestamp": self.timestamp,
                "leaves": [dict(leaf, btc_program="0x" + leaf["btc_program"].hex(),
                                checksum="0x" + leaf["checksum"].hex()) for leaf in self.leaves]}


class _Leaves:
    """A snapshot's leaves, built on demand (a 100,000-user snapshot is only written out at the end)."""

    def __init__(self, core, balances: np.ndarray, height: int, timestamp: int):
        self.bindings, self.names, self.addresses = list(core.bindings), core.names, core.addresses
        self.balances, self.height, self.timestamp = balances, height, timestamp

    def __len__(self) -> int:
        return len(self.bindings)

    def eth(self, i: int) -> str:
        return self.names[self.bindings[i][0]]

    def __getitem__(self, i: int) -> dict:
        user, address, program, method, checksum = self.bindings[i]
        return {"eth": self.names[user], "btc_address": self.addresses[address], "btc_program": program,
                "checksum": checksum, "method": method, "balance_sats": int(self.balances[i]), "height": self.height,
                "timestamp": self.timestamp}

    def __iter__(self):
        return (self[i] for i in range(len(self)))


class Core:
    """See the module docstring. ``users`` are the EVM addresses, sorted; ``traders`` follow them."""

    def __init__(self, config, log: FastLog, users: list[str], traders: list[str], genesis: int):
        self.config, self.log, self.genesis = config, log, genesis
        params = config.params
        self.params = params
        self.y = params.yield_params or YieldParams()
        accounts = Accounts()
        self.committee = accounts.committee
        plan = deployment_plan(params, {"deployer": accounts.deployer, "committee": accounts.committee,
                                        "fee_collector": accounts.fee_collector})
        self.contracts = {step.contract: step.address for step in plan}
        self.bt = config.evm_block_time_s
        self.n = n = len(users)
        self.names = list(users) + list(traders)
        p = len(self.names)
        self.addresses: list[str] = []  # address id -> string
        self.log.context = Context(self.contracts, self.committee, self.names, self.addresses, self.bt, genesis)
        oc = config.oracle
        self.poll_s, self.threshold, self.delay_s = oc.poll_interval_s, oc.delta_threshold_sats, oc.reaction_delay_s
        self.min_conf = max(1, params.min_confirmations)
        self.cap = params.max_fee_per_sync_wei
        # ---- registry and the chain as the protocol sees it
        self.addr_owner = np.full(0, -1, dtype=np.int64)
        self.addr_conf = np.zeros(0, dtype=np.int64)
        self.user_addrs: list[list[int]] = [[] for _ in range(n)]
        self.bindings: list[tuple] = []  # (user, address id, program, method, checksum)
        #: per binding, the packed leaf's first 85 bytes (eth, btcProgram, checksum, method): they never change
        self.leaf_prefix = np.zeros((0, 85), dtype=np.uint8)
        self.binding_address = np.zeros(0, dtype=np.int64)
        self.registered = np.zeros(n, dtype=bool)
        self.registered_count = 0
        self.user_conf = np.zeros(n, dtype=np.int64)  # the chain's confirmed BTC per user (all its addresses)
        self.tip = 0
        self.chain_cursor = 0
        # ---- the committee (oracle service)
        self.recorded = np.zeros(n, dtype=np.int64)
        self.needs_topup: set[int] = set()
        self.emergency: set[int] = set()
        self.deferred: set[int] = set()
        #: user -> (refusals in a row, earliest retry): syncs the contract refused, retried with back-off
        self.backoff: dict[int, tuple[int, int]] = {}
        self.offline_until = -1
        self.last_sync_block = np.full(n, -1, dtype=np.int64)
        self.dirty_since = np.full(n, -1, dtype=np.int64)
        self.rounds = 0
        self.oracle_pending: set[int] = set()
        self.oracle_reorged = False
        self.oracle_cursor = 0
        self.wakeups: dict[int, str] = {}  # wake-up rounds the committee asked for (t -> reason)
        self.on_needs_topup = None  # agents' reaction, set by the fast world
        # ---- contracts
        self.last_sats = np.zeros(n, dtype=np.int64)
        self.rbtc = np.zeros(n, dtype=np.int64)
        self.supply = 0
        self.burned_flag = np.zeros(n, dtype=bool)
        self.total_emergency_burns = 0
        self.vault = _obj([0] * n)
        # ETH wallets: each user's faucet funding (set when it onboards, before it pays anything) and the
        # committee's genesis funding; a deposit beyond its payer's wallet fails like InsufficientFunds
        self.wallet = _obj([USER_ETH_WEI] * n)
        self.committee_wallet = OPERATOR_FUNDING_WEI
        self.collected = 0
        self.por_rounds: list[tuple] = []
        # pool (participants: users then traders)
        self.p_kind = np.full(p, -1, dtype=np.int8)
        # amounts (USDT, yield, sats) are int64 columns that turn into Python integers if one must (exact.put)
        self.p_usdt = np.zeros(p, dtype=np.int64)
        self.p_rbtc = np.zeros(p, dtype=np.int64)
        self.p_earned = np.zeros(p, dtype=np.int64)
        self.p_claimed = np.zeros(p, dtype=np.int64)
        self.p_joined = np.zeros(p, dtype=np.int64)
        self.p_last = np.zeros(p, dtype=np.int64)
        self.p_tier = np.zeros(p, dtype=np.int64)
        self.p_index = np.zeros(p, dtype=np.int64)  # rates <= 10,000 a second for <= 10 years: far inside int64
        self.disputed = np.zeros(p, dtype=bool)
        self.total_participants = 0
        self.total_usdt = 0
        self.index = 0
        self.index_at = genesis
        self.rate = 0
        self.scale = 0
        self.peak = 1
        self.distributed = 0
        self.mult = np.array([self.y.bronze_multiplier, self.y.silver_multiplier, self.y.gold_multiplier], dtype=np.int64)
        # ---- the ghost ledger (YieldMonitor), kept from the events alone
        self.g_present = np.zeros(p, dtype=bool)
        self.g_kind = np.zeros(p, dtype=np.int8)
        self.g_base = np.zeros(p, dtype=np.int64)
        self.g_tier = np.zeros(p, dtype=np.int64)
        self.g_joined = np.zeros(p, dtype=np.int64)
        self.g_ckpt = np.zeros(p, dtype=np.int64)  # accrual indices, as p_index
        # the exact accrual of each participant, a numerator over ACCRUAL_DIVISOR, as whole units and remainder
        self.g_earned = np.zeros(p, dtype=np.int64)  # exact // ACCRUAL_DIVISOR (Python integers if it must)
        self.g_earned_rest = np.zeros(p, dtype=np.int64)  # exact % ACCRUAL_DIVISOR
        self.g_claimed = np.zeros(p, dtype=np.int64)
        self.g_checkpoints = np.zeros(p, dtype=np.int64)
        self.g_base_seconds = np.zeros(p, dtype=np.int64)  # (Python integers if it must)
        self.g_changed = np.zeros(p, dtype=np.int64)
        self.g_supply = 0
        self.g_peak = 1
        self.g_rate = 0
        self.g_index = 0
        self.g_index_at = genesis
        self.g_weight = 0
        self.g_weighted = 0
        self.g_earned_total = 0
        self.g_claimed_total = 0
        self.g_mult = self.mult
        # ---- the backing monitor
        self.mon_conf = np.zeros(n, dtype=np.int64)
        self.total_rbtc = 0  # the ledger's total as of the last end of instant
        self.total_confirmed = 0
        self.open: dict[int, Window] = {}
        self.closed: list[Window] = []
        self._t = 0
        self.violations = Violations(log, lambda: self._t)
        self.reverts: Counter = Counter()  # (contract, function, error) -> count
        self.yield_paths: Counter = Counter()
        self.min_ratio: float | None = None
        self.interval_min_ratio: float | None = None
        self.checks = 0
        self.out_of_sync: set[int] = set()
        self.mon_dirty: set[int] = set()
        self.mirror_flagged: set[int] = set()
        self.mirror_candidates: set[int] = set()
        self.prev_deferred: set[int] = set()
        self.rounds_seen = 0
        self.mon_cursor = 0
        self.reorged: set[int] = set()
        self.changed = False  # something happened this instant: the end-of-instant check is due
        self.slack = self.delay_s + self.bt
        self.ledger = FastLedger(self)
        # ---- metrics, yields, disputes, reserves
        self.ops: Counter = Counter()
        self.kinds: Counter = Counter()
        self.vault_total = 0
        self.fees = 0
        self.sync_delays: Counter = Counter()
        self.participants: list[int] = []  # in joining order
        self.claims = 0
        self.claimed = 0
        self.disputes_open: dict[int, Dispute] = {}
        self.disputes: list[Dispute] = []
        self.latest: Snapshot | None = None
        self.reserve_rounds = 0
        self.verified = 0

    # ====================================================================== helpers

    def evm_block(self, t: int) -> int:
        return 1 + t // self.bt

    def violate(self, t: int, invariant: str, actor: str, message: str, *, function: str | None = None,
                **values) -> None:
        """Record a violation in the sink every monitor reports to (:class:`sim.invariants.Violations`)."""
        self._t = t
        self.violations(invariant, actor, message, function=function, **values)

    def quote(self, delta: np.ndarray) -> np.ndarray:
        """FeePolicy.quoteFees, exactly: fixed + (delta > 0 ? delta * weiPerSat * pctBps / 10000 : 0).

        In ``int64`` when the largest possible result, computed in Python integers, fits; in Python
        integers otherwise (a fee in wei outgrows 64 bits for large deltas or prices)."""
        p = self.params
        positive = np.maximum(delta, 0)
        rate = p.wei_per_sat * p.pct_bps
        top = int(positive.max()) if len(positive) else 0
        if top * rate + p.fixed_wei < INT64_SAFE:
            return positive * rate // 10_000 + p.fixed_wei
        return positive.astype(object) * rate // 10_000 + p.fixed_wei

    def _tx(self, t: int, sender: str, contract: str, function: str, args: tuple, events: list, value: int = 0,
            status: str = "ok", error: str | None = None) -> None:
        record = {"status": status, "block": self.evm_block(t), "from": sender, "to": contract, "fn": function,
                  "args": args, "value": value, "events": events}
        if error is not None:
            record["error"] = error
        self.log.record(t, "evm_tx", **record)
        if status == "ok":
            self.changed = True
            self.ledger.access(t, sender, contract, function)
        else:
            self.reverts[(contract, function, f"{error}()")] += 1

    def _op(self, t: int, op: str, user: int, delta: int, confirmed: int, recorded: int, **extra) -> None:
        self.ops[op] += 1
        self.log.record(t, "oracle_op", op=op, user=self.names[user], delta=delta, confirmed=confirmed,
                        recorded=recorded, **extra)

    # ====================================================================== the chain side

    def add_addresses(self, strings: list[str]) -> None:
        self.addresses.extend(strings)
        size = len(self.addresses)
        if size > len(self.addr_owner):  # room for twice as many
            grow = max(1024, size)
            self.addr_owner = np.concatenate([self.addr_owner, np.full(grow, -1, dtype=np.int64)])
            self.addr_conf = np.concatenate([self.addr_conf, np.zeros(grow, dtype=np.int64)])

    def chain_change(self, change: ChainChange) -> None:
        """A block or a reorg: new confirmed balances, and who the committee and the monitors must re-read."""
        t = change.t
        self.tip = change.height
        self.chain_cursor = change.cursor
        if len(change.changed):
            owners = self.addr_owner[change.changed]
            diff = change.balances - self.addr_conf[change.changed]
            self.addr_conf[change.changed] = change.balances
            bound = owners >= 0
            owners = owners[bound]
            np.add.at(self.user_conf, owners, diff[bound])
            touched_users = np.unique(owners).tolist()
            self.oracle_pending.update(touched_users)
            self.mon_dirty.update(touched_users)
        if len(change.touched):
            owners = self.addr_owner[change.touched]
            owners = np.unique(owners[owners >= 0])
            fresh = owners[self.dirty_since[owners] < 0]
            self.dirty_since[fresh] = t
        if change.kind == "reorg":
            self.oracle_reorged = True
            self.kinds["btc_reorg"] += 1
            if change.depth >= self.min_conf:
                owners = self.addr_owner[change.touched]
                self.reorged.update(np.unique(owners[owners >= 0]).tolist())
        self.wakeups.setdefault(t + self.delay_s, "block")
        self.changed = True

    # ====================================================================== registration and users' transactions

    def register(self, t: int, user: int, address: int, program: bytes, method: int, checksum: bytes,
                 prepay_wei: int = 0) -> None:
        """A binding (the committee checked the user's proof); optionally prepaid through registerAndPrepay."""
        self.addr_owner[address] = user
        self.user_addrs[user].append(address)
        self.bindings.append((user, address, program, method, checksum))
        count = len(self.bindings)
        if count > len(self.binding_address):  # room for twice as many
            grow = max(1024, count)
            self.leaf_prefix = np.vstack([self.leaf_prefix, np.zeros((grow, 85), dtype=np.uint8)])
            self.binding_address = np.concatenate([self.binding_address, np.zeros(grow, dtype=np.int64)])
        self.leaf_prefix[count - 1] = np.frombuffer(bytes.fromhex(self.names[user][2:]) + program + checksum +
                                                    bytes([method]), dtype=np.uint8)
        self.binding_address[count - 1] = address
        self.log.record(t, "bind", user=self.names[user], btc_address=self.addresses[address], method=method,
                        checksum=checksum, prepay_wei=prepay_wei)
        if not self.registered[user]:
            self.registered[user] = True
            self.registered_count += 1
        # the monitor re-reads the user (its new address counts from now on)
        self.mon_dirty.add(user)
        self.changed = True
        conf = int(self.addr_conf[address])
        if conf:
            self.user_conf[user] += conf
        if prepay_wei:
            self._prepay(t, user, method, checksum, prepay_wei)
        if self.dirty_since[user] < 0:
            self.dirty_since[user] = t
        self.deferred.add(user)

    def deposit(self, t: int, payer: str, user: int, wei: int) -> str | None:
        """FeeVault.depositETH from ``payer`` (the committee or the user itself) for ``user``; None, or why it
        failed: ``ZeroValue`` (reverted) or ``InsufficientFunds`` (the payer's wallet cannot send ``wei``)."""
        return self._deposit(t, payer, user, wei, "FeeVault", "depositETH", (self.names[user],))

    def _prepay(self, t: int, user: int, method: int, checksum: bytes, wei: int) -> None:
        """OracleService.prepay: registerAndPrepay from the committee; a failure is a refusal (op ``error``)."""
        error = self._deposit(t, self.committee, user, wei, "OracleAggregator", "registerAndPrepay",
                              (self.names[user], method, checksum))
        if error is not None:
            recorded = int(self.recorded[user])
            self._refused(t, user, error, 0, recorded, recorded, None, call=None)

    def _deposit(self, t, sender, user, wei, contract, function, args) -> str | None:
        by_committee = sender == self.committee
        if wei > (self.committee_wallet if by_committee else self.wallet[user]):
            return "InsufficientFunds"  # refused before any transaction, like the EVM
        if wei == 0:
            self._tx(t, sender, contract, function, args, [], value=wei, status="revert", error="ZeroValue")
            return "ZeroValue"
        if by_committee:
            self.committee_wallet -= wei
        else:
            self.wallet[user] -= wei
        self.vault[user] += wei
        self.vault_total += wei
        self._tx(t, sender, contract, function, args, [["FeeVault", "Deposited", (self.names[user], wei)]], value=wei)
        self.ledger.deposit(t, user, wei, f"{contract}.{function}")
        self.mirror_candidates.add(user)
        if user in self.needs_topup:  # the committee lets a waiting user through at the next round
            self.needs_topup.discard(user)
            self.mirror_candidates.add(user)
            self.deferred.add(user)
        return None

    def withdraw(self, t: int, user: int) -> bool:
        held = self.vault[user]
        name = self.names[user]
        if held == 0:
            self._tx(t, name, "FeeVault", "withdrawUnused", (), [], status="revert", error="InsufficientBalance")
            return False
        self.vault[user] = 0
        self.vault_total -= held
        self.wallet[user] += held
        self._tx(t, name, "FeeVault", "withdrawUnused", (), [["FeeVault", "Withdrawn", (name, held)]])
        self.ledger.withdraw(t, user, held)
        self.mirror_candidates.add(user)
        return True

    # ====================================================================== oracle rounds

    def is_offline(self, t: int) -> bool:
        return t < self.offline_until

    def go_offline(self, t: int, duration_s: int) -> None:
        self.offline_until = max(self.offline_until, t + duration_s)
        self.log.record(t, "oracle_outage", until=self.offline_until)
        self.wakeups.setdefault(self.offline_until, "back online")

    def round(self, t: int, reason: str) -> None:
        if t < self.offline_until:
            return
        self.rounds += 1
        candidates = self.oracle_pending | self.deferred
        if self.backoff:
            candidates.update(user for user, (_, retry_at) in self.backoff.items() if retry_at <= t)
        self.oracle_pending = set()
        reorged, self.oracle_reorged = self.oracle_reorged, False
        self.oracle_cursor = self.chain_cursor
        self.deferred = set()
        tally = {"sync": 0, "needs_topup": 0, "emergency_burn": 0, "deferred": 0, "error": 0}
        if candidates:
            users = np.fromiter(sorted(candidates), dtype=np.int64, count=len(candidates))
            for op, count in self.reconcile(t, users).items():
                if op in tally:
                    tally[op] += count
        self.log.record(t, "oracle_round", reason=reason, tip=self.tip, reorged=reorged, candidates=len(candidates),
                        **tally)

    def confirmed(self, user: int) -> int:
        return int(self.user_conf[user])

    def reconcile(self, t: int, users: np.ndarray, *, force: bool = False) -> Counter:
        """OracleService.reconcile for every user of ``users`` (sorted), as one batch; returns op counts."""
        outcome: Counter = Counter()
        conf = self.user_conf[users]
        rec = self.recorded[users]
        delta = conf - rec
        zero = delta == 0
        if zero.any():
            idle = users[zero]
            self.dirty_since[idle] = -1
            if self.backoff:
                for user in idle.tolist():
                    self.backoff.pop(user, None)
            outcome["none"] += int(zero.sum())
        block = self.evm_block(t)
        defer = (~zero) & (delta > 0) & (delta < self.threshold) & (self.last_sync_block[users] == block)
        if force:
            defer[:] = False
        if defer.any():
            late = users[defer]
            self.deferred.update(late.tolist())
            outcome["deferred"] += len(late)
            self.ops["deferred"] += len(late)
            self.log.batch("deferred", t, len(late), user=late, delta=delta[defer], confirmed=conf[defer],
                           recorded=rec[defer])
            self.wakeups.setdefault(block * self.bt, "rate limit")
        act = ~zero & ~defer
        if not act.any():
            return outcome
        users, conf, rec, delta = users[act], conf[act], rec[act], delta[act]
        fee = self.quote(delta)
        short = (delta > 0) & (self.vault[users] < fee) & self.config.oracle.precheck_fees
        if short.any():
            self._mark_needs_topup(t, users[short], delta[short], conf[short], rec[short], fee[short])
            outcome["needs_topup"] += int(short.sum())
            go = ~short
            users, conf, rec, delta, fee = users[go], conf[go], rec[go], delta[go], fee[go]
        if len(users):
            self._sync(t, users, conf, rec, delta, fee, block, outcome)
        return outcome

    def _mark_needs_topup(self, t, users, delta, conf, rec, fee) -> None:
        new = np.fromiter((u not in self.needs_topup for u in users.tolist()), dtype=bool, count=len(users))
        if new.any():
            fresh = users[new]
            self.needs_topup.update(fresh.tolist())
            self.ops["needs_topup"] += len(fresh)
            self.log.batch("needs_topup", t, len(fresh), user=fresh, delta=delta[new], confirmed=conf[new],
                           recorded=rec[new], fee=fee[new])
            if self.on_needs_topup is not None:
                for user in fresh.tolist():
                    self.on_needs_topup(t, user)

    def _refused(self, t: int, user: int, error: str, delta: int, confirmed: int, recorded: int, fee,
                 call: str | None = "OracleAggregator.sync") -> None:
        """OracleService._refused: log the refusal and schedule the retry with bounded back-off."""
        refusals = self.backoff.get(user, (0, 0))[0] + 1
        wait = min(self.poll_s * 2 ** min(refusals - 1, 30), MAX_BACKOFF_S)
        self.backoff[user] = (refusals, t + wait)
        self._op(t, "error", user, delta, confirmed, recorded, fee=fee, error=error, call=call, retry_in_s=wait)

    def _sync(self, t, users, conf, rec, delta, fee, block, outcome) -> None:
        """OracleAggregator.sync for each user (the contract's own view), then the committee's bookkeeping."""
        names = self.names
        prev = self.last_sats[users]
        d = conf - prev  # the contract's delta, from its own lastSats
        fee_c = self.quote(d)
        vault = self.vault[users]
        capped = (d != 0) & (fee_c > self.cap)
        short = (d != 0) & ~capped & (vault < fee_c)
        emerg = short & (d < 0)
        topup = short & (d > 0)
        plain = (d != 0) & ~capped & ~short
        held = self.rbtc[users]
        burn_exceeds = (plain & (d < 0) & (held < -d)) | (emerg & (held < prev))
        failed = capped | burn_exceeds
        ok = plain & ~burn_exceeds
        emerg &= ~burn_exceeds
        # -- reverted syncs: the committee retries them with back-off
        for i in np.flatnonzero(failed).tolist():
            user = int(users[i])
            error = "FeeCapExceeded" if capped[i] else "BurnExceeds"
            self._tx(t, self.committee, "OracleAggregator", "sync", (names[user], int(conf[i]), b""), [],
                     status="revert", error=error)
            self._refused(t, user, error, int(delta[i]), int(conf[i]), int(rec[i]), fee[i])
        outcome["error"] += int(failed.sum())
        applied = ~failed
        if self.backoff:
            for user in users[applied].tolist():
                self.backoff.pop(user, None)
        self.last_sync_block[users[applied]] = block
        # -- the contract: mints, burns, fees
        change = np.where(ok, d, 0) - np.where(emerg, prev, 0)  # the supply change of each user's sync
        self.last_sats[users[ok]] = conf[ok]
        self.last_sats[users[emerg]] = 0
        self.rbtc[users] += change
        paid = ok & (fee_c > 0)
        if paid.any():
            payers = users[paid]
            self.vault[payers] = self.vault[payers] - fee_c[paid]
            spent = sum(fee_c[paid].tolist())
            self.collected += spent
            self.fees += spent
            self.vault_total -= spent
        if emerg.any():
            self.burned_flag[users[emerg]] = True
            self.total_emergency_burns += int(emerg.sum())
        supply_after = self.supply + np.cumsum(change)
        self.supply = int(supply_after[-1]) if len(change) else self.supply
        moved = ok | emerg
        silent = np.flatnonzero(applied & (d == 0)).tolist()  # syncs that changed nothing
        if moved.any():  # the Transfer events, as an indexer counts them
            self.ledger.from_events[users[moved]] += change[moved]
        if applied.any():
            self.changed = True
            done = users[applied]
            received = np.where(paid, fee_c, 0)[applied]
            for i in np.flatnonzero(topup).tolist():  # the contract's NeedsTopUp is a transaction too
                user = names[int(users[i])]
                self._tx(t, self.committee, "OracleAggregator", "sync", (user, int(conf[i]), b""),
                         [["OracleAggregator", "NeedsTopUp", (user,)]])
            for i in silent:  # a sync without events
                self._tx(t, self.committee, "OracleAggregator", "sync", (names[int(users[i])], int(conf[i]), b""), [])
            self.ledger.access(t, self.committee, "OracleAggregator", "sync")
            self.ledger.syncs(t, done, conf[applied], received, topup[applied])
        # -- the committee's view of the outcome
        if ok.any():
            synced = users[ok]
            since = self.dirty_since[synced]
            delay = np.where(since >= 0, t - since, 0)
            self.dirty_since[synced] = -1
            self.recorded[synced] = conf[ok]
            self.needs_topup.difference_update(synced.tolist())
            self.ops["sync"] += len(synced)
            outcome["sync"] += len(synced)
            self.sync_delays.update(delay.tolist())
            self.log.batch("sync", t, len(synced), user=synced, delta=delta[ok], confirmed=conf[ok],
                           recorded=rec[ok], fee=fee[ok], delay_s=delay)
            back = [u for u in synced.tolist() if u in self.emergency and self.recorded[u] > 0]
            for user in back:
                self.burned_flag[user] = False
                self._tx(t, self.committee, "OracleAggregator", "resetEmergencyBurnStatus", (names[user],), [])
                self.ledger.reset(t, user)
                self.emergency.discard(user)
                c = int(self.recorded[user])
                self._op(t, "emergency_reset", user, 0, c, c)
        if emerg.any():
            burned_users = users[emerg]
            self.recorded[burned_users] = 0
            self.emergency.update(burned_users.tolist())
            self.needs_topup.difference_update(burned_users.tolist())
            self.ops["emergency_burn"] += len(burned_users)
            outcome["emergency_burn"] += len(burned_users)
            self.log.batch("emergency", t, len(burned_users), user=burned_users, delta=delta[emerg],
                           confirmed=conf[emerg], recorded=rec[emerg], burned=prev[emerg])  # op burned = recorded
            still = burned_users[conf[emerg] > 0]
            self.deferred.update(still.tolist())
        if topup.any():  # the contract refused it (no pre-check, or the vault changed meanwhile)
            self._mark_needs_topup(t, users[topup], delta[topup], conf[topup], rec[topup], fee[topup])
            outcome["needs_topup"] += int(topup.sum())
        for i in silent:  # returned without saying what it did: refused
            self._refused(t, int(users[i]), "SilentSync", int(delta[i]), int(conf[i]), int(rec[i]), fee[i])
            outcome["error"] += 1
        # -- the yield flow: join, update or burn each participant, in the same order
        if self.config.yields.join_holders and moved.any():
            self._pool_after_sync(t, users, ok, emerg, conf, prev, change, supply_after)

    # ====================================================================== the pool

    def _tier(self, age):
        return np.where(age >= self.y.gold_after, 2, np.where(age >= self.y.silver_after, 1, 0))

    def _rates(self, supply: np.ndarray, peak0: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Running peak, rBTC scale and rate after each refresh, from each refresh's supply."""
        peak = np.maximum.accumulate(np.maximum(supply, peak0))
        scale = supply * 100 // peak
        y = self.y
        if y.base_rate * 100 * 100 < INT64_SAFE:
            rate = y.base_rate * scale * USDT_SCALE // 10_000
            if y.max_rate < INT64_SAFE:
                rate = np.minimum(rate, y.max_rate)
        else:
            rate = np.array([min(y.max_rate, y.base_rate * s * USDT_SCALE // 10_000) for s in scale.tolist()],
                            dtype=object)
        return scale, rate, int(peak[-1])

    def _accrue(self, now: int) -> None:
        self.index += self.rate * (now - self.index_at)
        self.index_at = now

    def _pool_after_sync(self, t, users, ok, emerg, conf, prev, change, supply_after) -> None:
        now = self.genesis + t
        kind = self.p_kind[users]
        update = ok & (kind == HOLDER)
        join = ok & (kind < 0) & (conf > 0)
        burn = emerg & (kind >= 0)
        pooled = update | join | burn
        if not pooled.any():
            return
        who = users[pooled]
        supply = supply_after[pooled]
        is_join, is_burn = join[pooled], burn[pooled]
        existing = ~is_join
        owed_before = self._owed_many(who, now)  # what the yield monitor reads before each write
        # the pool: accrue the index (once: no time passes within the instant), checkpoint, re-base
        self._accrue(now)
        ex = who[existing]
        if len(ex):
            self._checkpoint(ex, now)
        old = self.p_rbtc[who].copy()
        new = np.where(is_burn, np.where(self.p_kind[who] == HOLDER, 0, old),
                       np.where(is_join, self.rbtc[who], conf[pooled]))
        self.p_rbtc[who] = new
        self.p_last[who] = now
        jn = who[is_join]
        if len(jn):
            self.p_kind[jn] = HOLDER
            self.p_usdt[jn] = 0
            self.p_earned[jn] = 0
            self.p_claimed[jn] = 0
            self.p_joined[jn] = now
            self.p_tier[jn] = 0
            self.p_index[jn] = self.index
            self.total_participants += len(jn)
            self.participants.extend(jn.tolist())
        scale, rate, self.peak = self._rates(supply, self.peak)
        self.scale, self.rate = int(scale[-1]), int(rate[-1])
        usdt = self.total_usdt
        # records (a holder's update, join or emergency report, with the scale refresh it ends with)
        upd = ~is_join & ~is_burn
        self.yield_paths["contribution_update"] += int(upd.sum())
        self.yield_paths["pool_emergency_burn"] += int(is_burn.sum())
        if upd.any():
            self.log.batch("pool_update", t, int(upd.sum()), user=who[upd], old=old[upd], new=new[upd],
                           scale=scale[upd], usdt=usdt, supply=supply[upd], rate=rate[upd])
        if is_join.any():
            self.log.batch("pool_join", t, int(is_join.sum()), user=jn, new=new[is_join], scale=scale[is_join],
                           usdt=usdt, supply=supply[is_join], rate=rate[is_join])
        for i in np.flatnonzero(is_burn).tolist():
            user = int(who[i])
            burned = int(prev[pooled][i])
            events = [["YieldScalesPool", "ScalesBalanceUpdated", (USDT_SCALE, int(scale[i]), now)],
                      ["YieldScalesPool", "YieldCalculated", (usdt, int(supply[i]), int(rate[i]))],
                      ["YieldScalesPool", "EmergencyBurnTriggered", (self.names[user], burned, EMERGENCY_REASON)]]
            self._tx(t, self.committee, "YieldScalesPool", "emergencyBurn", (self.names[user], burned), events)
        self.changed = True
        # the ghost ledger follows the same transactions from their events
        transfers = change  # the Transfer amounts of the round, signed, in order
        g_supply = self.g_supply + np.cumsum(transfers)
        self.g_supply = int(g_supply[-1])
        self._ghost(t, who, is_join, new, g_supply[pooled], rate, join_amount=new, owed_before=owed_before,
                    functions=np.where(is_join, "joinAsBitcoinHolder",
                                       np.where(is_burn, "emergencyBurn", "updateRBTCContribution")))

    def _earned_at(self, who: np.ndarray, index: int) -> np.ndarray:
        """What each participant of ``who`` has earned once checkpointed at ``index``: its earned yield plus
        its base (USDT for a trader, rBTC for a holder) times the index's growth and its tier's multiplier."""
        kind = self.p_kind[who]
        traders = kind == TRADER
        base = np.where(traders, self.p_usdt[who], self.p_rbtc[who]) if traders.any() else self.p_rbtc[who]
        grown = product(base, sub(index, self.p_index[who]), self.mult[self.p_tier[who]])
        return add(self.p_earned[who], grown // ACCRUAL_DIVISOR)

    def _owed_many(self, who: np.ndarray, now: int) -> np.ndarray:
        """calculateYieldOwed for each of ``who`` (None for one that is not a participant)."""
        owed = sub(self._earned_at(who, self.index + self.rate * (now - self.index_at)), self.p_claimed[who])
        absent = self.p_kind[who] < 0
        if absent.any():
            owed = owed.astype(object)
            owed[absent] = None
        return owed

    def _checkpoint(self, who: np.ndarray, now: int) -> None:
        """YieldScalesPool._checkpoint for each participant of ``who`` (the index is current)."""
        self.p_earned = put(self.p_earned, who, self._earned_at(who, self.index))
        self.p_index[who] = self.index
        self.p_tier[who] = self._tier(now - self.p_joined[who])

    # ====================================================================== the ghost ledger (invariant 7)

    def _ghost(self, t: int, who: np.ndarray, is_join: np.ndarray, new_base: np.ndarray, supply: np.ndarray,
               reported: np.ndarray, *, join_amount: np.ndarray, kind: int = HOLDER, owed_before: list | None = None,
               functions=None) -> None:
        """YieldMonitor._on_transaction for pool writes to ``who`` at one instant, in order."""
        now = self.genesis + t
        self.g_index += self.g_rate * (now - self.g_index_at)
        self.g_index_at = now
        mult = self.g_mult
        index = self.g_index
        ex = who[~is_join]
        if len(ex):
            # take each participant's weight out of the totals, checkpoint it, move its base-seconds on
            base, ckpt = self.g_base[ex], self.g_ckpt[ex]
            tiers_before = self.g_tier[ex]
            weight = product(base, mult[tiers_before])
            self.g_weight -= total(weight)
            self.g_weighted -= dot(weight, ckpt)
            accrued = product(weight, sub(index, ckpt))
            self._ghost_accrue(ex, accrued)
            self.g_earned_total += total(accrued)
            self.g_base_seconds = add_into(self.g_base_seconds, ex, product(base, now - self.g_changed[ex]))
            self.g_ckpt[ex] = index
            tiers = self._tier(now - self.g_joined[ex])
            self.g_tier[ex] = tiers
            up = tiers > tiers_before
            if up.any():
                for kind_code, tier in zip(self.g_kind[ex][up].tolist(), tiers[up].tolist()):
                    self.yield_paths[f"tier:{'holder' if kind_code == HOLDER else 'trader'}:"
                                     f"{('bronze', 'silver', 'gold')[tier]}"] += 1
            self.g_checkpoints[ex] += 1
            self.g_changed[ex] = now
            self.g_base = put(self.g_base, ex, new_base[~is_join])
        jn = who[is_join]
        if len(jn):
            self.yield_paths["join_holder" if kind == HOLDER else "join_trader"] += len(jn)
            self.g_present[jn] = True
            self.g_kind[jn] = kind
            self.g_base = put(self.g_base, jn, join_amount[is_join])
            self.g_tier[jn] = 0
            self.g_joined[jn] = now
            self.g_ckpt[jn] = index
            self.g_earned[jn] = 0
            self.g_earned_rest[jn] = 0
            self.g_claimed[jn] = 0
            self.g_checkpoints[jn] = 0
            self.g_base_seconds[jn] = 0
            self.g_changed[jn] = now
        # every written participant's weight back in, checkpointed at the current index
        weight = total(product(self.g_base[who], mult[self.g_tier[who]]))
        self.g_weight += weight
        self.g_weighted += weight * index
        self._ghost_reads(t, who, owed_before, functions)
        peak = np.maximum.accumulate(np.maximum(supply, self.g_peak))
        self.g_peak = int(peak[-1])
        y = self.y
        if y.base_rate * 100 * 100 < INT64_SAFE and y.max_rate < INT64_SAFE:  # scales are at most 100
            expected = np.minimum(y.base_rate * (supply * 100 // peak) * 100 // 10_000, y.max_rate)
            self.g_rate = int(expected[-1])
        else:
            expected = _obj([min(y.max_rate, y.base_rate * (s * 100 // pk) * 100 // 10_000)
                             for s, pk in zip(supply.tolist(), peak.tolist())])
            self.g_rate = expected[-1]
        wrong = np.flatnonzero(np.asarray(reported) != expected)
        for i in wrong.tolist():
            self.violate(t, "yield", self.names[int(who[i])], "the pool's rate differs from the rate the scales "
                         "prescribe", function=f"YieldScalesPool.{functions[i] if functions is not None else 'joinAsTrader'}",
                         pool_rate=int(reported[i]), expected_rate=int(expected[i]))

    def _ghost_accrue(self, who: np.ndarray, accrued: np.ndarray) -> None:
        """Add each accrual (a numerator over ACCRUAL_DIVISOR, int64 or Python integers) to the ghost's exact
        accrual of ``who``, kept as whole units and remainder."""
        rest = self.g_earned_rest[who] + (accrued % ACCRUAL_DIVISOR).astype(np.int64)  # below 2 * ACCRUAL_DIVISOR
        whole = accrued // ACCRUAL_DIVISOR + rest // ACCRUAL_DIVISOR
        self.g_earned_rest[who] = rest % ACCRUAL_DIVISOR
        self.g_earned = add_into(self.g_earned, who, whole)

    def _ghost_accrue_one(self, user: int, accrued: int) -> None:
        """:meth:`_ghost_accrue` for one participant, in Python integers (a claim)."""
        whole, rest = divmod(int(self.g_earned_rest[user]) + accrued, ACCRUAL_DIVISOR)
        self.g_earned_rest[user] = rest
        self.g_earned = add_one(self.g_earned, user, whole)

    def _ghost_earned(self, user: int) -> int:
        """The ghost's exact accrual of ``user``, a numerator over ACCRUAL_DIVISOR."""
        return int(self.g_earned[user]) * ACCRUAL_DIVISOR + int(self.g_earned_rest[user])

    def _ghost_reads(self, t: int, who: np.ndarray, owed_before: np.ndarray | None, functions) -> None:
        """The yield monitor's reads after pool writes that are not claims: owed never falls, the tier is the
        one time in the pool gives, claimed + owed is the exact accrual up to rounding. ``owed_before`` holds
        None for one that was not a participant."""
        owed_after = sub(self.p_earned[who], self.p_claimed[who])
        whole, claimed, checkpoints = self.g_earned[who], self.g_claimed[who], self.g_checkpoints[who]
        fell = False
        if owed_before is not None:
            known = owed_before != None if owed_before.dtype == object else slice(None)  # noqa: E711 (elementwise)
            fell = bool((owed_after[known] < owed_before[known]).any())
        wrong_tier = (self.p_tier[who] != self.g_tier[who]).any()
        off = not _exact_within_rounding(whole, add(claimed, owed_after), checkpoints).all()
        if not (fell or wrong_tier or off):
            return
        for i, user in enumerate(who.tolist()):
            name = self.names[user]
            label = f"YieldScalesPool.{functions[i] if functions is not None else 'joinAsTrader'}"
            before = owed_before[i] if owed_before is not None else None
            if before is not None and owed_after[i] < before:
                self.violate(t, "yield", name, "owed yield fell across a write that is not a claim", function=label,
                             owed_before=int(before), owed_after=int(owed_after[i]))
            if self.p_tier[user] != self.g_tier[user]:
                self.violate(t, "yield", name, "the participant's tier differs from the one its time in the pool "
                             "gives", function=label, tier=int(self.p_tier[user]), expected_tier=int(self.g_tier[user]),
                             days_in_pool=(self.genesis + t - int(self.g_joined[user])) // 86_400,
                             kind="holder" if self.g_kind[user] == HOLDER else "trader")
            paid_and_owed = int(claimed[i]) + int(owed_after[i])
            if not _exact_within_rounding(int(whole[i]), paid_and_owed, int(checkpoints[i])):
                self.violate(t, "yield", name, "accrued yield differs from the exact accrual by more than rounding",
                             function=label, claimed_plus_owed=paid_and_owed,
                             exact=self._ghost_earned(user) / ACCRUAL_DIVISOR, checkpoints=int(checkpoints[i]))

    def owed_total(self, now: int) -> float:
        index = self.g_index + self.g_rate * (now - self.g_index_at)
        pending = index * self.g_weight - self.g_weighted
        from fractions import Fraction

        return Fraction(self.g_earned_total - self.g_claimed_total * ACCRUAL_DIVISOR + pending, ACCRUAL_DIVISOR)

    # ====================================================================== participants' own pool calls

    def owed(self, user: int, now: int) -> int:
        """YieldScalesPool.calculateYieldOwed (a view)."""
        index = self.index + self.rate * (now - self.index_at)
        base = int(self.p_usdt[user]) if self.p_kind[user] == TRADER else int(self.p_rbtc[user])
        accrued = base * (index - int(self.p_index[user])) * int(self.mult[self.p_tier[user]]) // ACCRUAL_DIVISOR
        return int(self.p_earned[user]) + accrued - int(self.p_claimed[user])

    def _rate_of(self, supply: int) -> tuple[int, int]:
        """The pool's refresh for one transaction (scalar): peak, scale and rate."""
        if supply > self.peak:
            self.peak = supply
        scale = supply * 100 // self.peak
        y = self.y
        return scale, min(y.max_rate, y.base_rate * scale * USDT_SCALE // 10_000)

    def claim(self, t: int, user: int) -> None:
        """A participant claims (if anything is owed), as YieldFlow.claim does. One participant at one
        instant: plain integers (the batched path is for rounds)."""
        now = self.genesis + t
        if self.p_kind[user] < 0:
            return
        owed_before = self.owed(user, now)
        if owed_before == 0:
            return
        self._accrue(now)
        # checkpoint
        kind = self.p_kind[user]
        base = int(self.p_usdt[user]) if kind == TRADER else int(self.p_rbtc[user])
        tier = int(self.p_tier[user])
        earned = int(self.p_earned[user]) + base * (self.index - int(self.p_index[user])) * int(self.mult[tier]) // \
            ACCRUAL_DIVISOR
        self.p_earned = put_one(self.p_earned, user, earned)
        self.p_index[user] = self.index
        age = now - int(self.p_joined[user])
        y = self.y
        self.p_tier[user] = 2 if age >= y.gold_after else (1 if age >= y.silver_after else 0)
        amount = earned - int(self.p_claimed[user])
        name = self.names[user]
        if amount == 0:
            self._tx(t, name, "YieldScalesPool", "claimYield", (), [], status="revert", error="NothingToClaim")
            self.log.record(t, "yield_error", function="claimYield", user=name, error="NothingToClaim")
            return
        self.p_claimed = add_one(self.p_claimed, user, amount)
        self.p_last[user] = now
        self.distributed += amount
        scale, rate = self._rate_of(self.supply)
        self.scale, self.rate = scale, rate
        self.log.batch("claim", t, 1, user=[user], paid=[amount], scale=[scale], usdt=self.total_usdt,
                       supply=[self.supply], rate=[rate])
        self.changed = True
        self.claims += 1
        self.claimed += amount
        self._ghost_claim(t, user, owed_before, rate)

    def _ghost_claim(self, t: int, user: int, owed_before: int, reported: int) -> None:
        """YieldMonitor._on_transaction for one claimYield (plain integers)."""
        now = self.genesis + t
        self.g_index += self.g_rate * (now - self.g_index_at)
        self.g_index_at = now
        base, tier, ckpt = int(self.g_base[user]), int(self.g_tier[user]), int(self.g_ckpt[user])
        mult = int(self.g_mult[tier])
        self.g_weight -= base * mult
        self.g_weighted -= base * mult * ckpt
        accrued = base * (self.g_index - ckpt) * mult
        self._ghost_accrue_one(user, accrued)
        self.g_earned_total += accrued
        self.g_ckpt[user] = self.g_index
        age = now - int(self.g_joined[user])
        y = self.y
        tier = 2 if age >= y.gold_after else (1 if age >= y.silver_after else 0)
        self.g_tier[user] = tier
        self.g_checkpoints[user] += 1
        self.g_base_seconds = add_one(self.g_base_seconds, user, base * (now - int(self.g_changed[user])))
        self.g_changed[user] = now
        label = "YieldScalesPool.claimYield"
        name = self.names[user]
        paid = int(self.p_claimed[user]) - int(self.g_claimed[user])  # read from the pool's record of the participant
        self.g_claimed = add_one(self.g_claimed, user, paid)
        self.g_claimed_total += paid
        self.yield_paths["claim"] += 1
        if paid != owed_before:
            self.violate(t, "yield", name, "a claim paid other than what the participant was owed", function=label,
                         paid=paid, owed_before=owed_before)
        owed_after = int(self.p_earned[user]) - int(self.p_claimed[user])
        if owed_after != 0:
            self.violate(t, "yield", name, "a claim left yield owed", function=label, owed_after=owed_after)
        if int(self.g_claimed[user]) > int(self.g_earned[user]):  # claimed * D > whole * D + rest, as rest < D
            self.violate(t, "yield", name, "a claim took more than had accrued", function=label,
                         claimed=int(self.g_claimed[user]), accrued=self._ghost_earned(user) / ACCRUAL_DIVISOR)
        mult = int(self.g_mult[tier])
        self.g_weight += base * mult
        self.g_weighted += base * mult * self.g_index
        # the yield monitor's reads (_ghost_reads, for one participant in plain integers; it reports)
        if self.p_tier[user] != tier or not _exact_within_rounding(int(self.g_earned[user]), int(self.g_claimed[user]) + owed_after,
                                                                   int(self.g_checkpoints[user])):
            self._ghost_reads(t, np.array([user]), None, ["claimYield"])
        if self.g_supply > self.g_peak:
            self.g_peak = self.g_supply
        expected = min(y.max_rate, y.base_rate * (self.g_supply * 100 // self.g_peak) * 100 // 10_000)
        self.g_rate = expected
        if reported != expected:
            self.violate(t, "yield", name, "the pool's rate differs from the rate the scales prescribe",
                         function=label, pool_rate=reported, expected_rate=expected)

    def trader_join(self, t: int, trader: int, usdt: int) -> bool:
        """YieldScalesPool.joinAsTrader by the committee: a new trader, or more USDT for one."""
        now = self.genesis + t
        name = self.names[trader]
        if usdt == 0:
            self._tx(t, self.committee, "YieldScalesPool", "joinAsTrader", (name, usdt), [], status="revert",
                     error="InvalidAmount")
            self.log.record(t, "yield_error", function="joinAsTrader", user=name, error="InvalidAmount")
            return False
        who = np.array([trader], dtype=np.int64)
        owed_before = self._owed_many(who, now)
        self._accrue(now)
        joined = self.p_kind[trader] < 0
        if joined:
            self.p_kind[trader] = TRADER
            self.p_usdt = put_one(self.p_usdt, trader, usdt)
            self.p_rbtc[trader] = 0
            self.p_earned[trader] = 0
            self.p_claimed[trader] = 0
            self.p_joined[trader] = now
            self.p_last[trader] = now
            self.p_tier[trader] = 0
            self.p_index[trader] = self.index
            self.total_participants += 1
            self.participants.append(trader)
        else:
            self._checkpoint(who, now)
            self.p_usdt = add_one(self.p_usdt, trader, usdt)
            self.p_last[trader] = now
        self.total_usdt += usdt
        supply = np.array([self.supply], dtype=np.int64)
        scale, rate, self.peak = self._rates(supply, self.peak)
        self.scale, self.rate = int(scale[0]), int(rate[0])
        self._tx(t, self.committee, "YieldScalesPool", "joinAsTrader", (name, usdt),
                 [["YieldScalesPool", "ScalesBalanceUpdated", (USDT_SCALE, int(scale[0]), now)],
                  ["YieldScalesPool", "YieldCalculated", (self.total_usdt, self.supply, int(rate[0]))],
                  ["YieldScalesPool", "ParticipantJoined", (name, TRADER, usdt)]])
        if joined:
            self._ghost(t, who, np.array([True]), _obj([usdt]), np.array([self.g_supply], dtype=np.int64), rate,
                        join_amount=_obj([usdt]), kind=TRADER, functions=["joinAsTrader"])
        else:
            self._ghost(t, who, np.array([False]), _obj([int(self.g_base[trader]) + usdt]),
                        np.array([self.g_supply], dtype=np.int64), rate, join_amount=_obj([0]),
                        owed_before=owed_before, functions=["joinAsTrader"])
        return joined

    # ====================================================================== disputes (invariant 6)

    def file_dispute(self, t: int, user: int, reported: int) -> Dispute | None:
        if user in self.disputes_open or not self.registered[user]:
            return None
        recorded = int(self.last_sats[user])
        onchain = self.config.yields is not None and self.p_kind[user] >= 0
        name = self.names[user]
        if onchain:
            if self.disputed[user]:
                self._tx(t, name, "YieldScalesPool", "disputeBalance", (reported, recorded), [], status="revert",
                         error="DisputeAlreadyFiled")
                self.log.record(t, "dispute_refused", user=name, error="DisputeAlreadyFiled")
                return None
            self.disputed[user] = True
            self._tx(t, name, "YieldScalesPool", "disputeBalance", (reported, recorded),
                     [["YieldScalesPool", "BalanceDisputed", (name, reported, recorded)]])
        dispute = Dispute(len(self.disputes) + 1, user, reported, recorded, t, bool(onchain))
        self.disputes_open[user] = dispute
        self.disputes.append(dispute)
        self.kinds["dispute_filed"] += 1
        self.log.record(t, "dispute_filed", dispute_id=dispute.id, user=name, reported=reported, recorded=recorded,
                        onchain=bool(onchain))
        return dispute

    def validate_dispute(self, t: int, dispute: Dispute) -> None:
        """The committee checks the claim against the chain, decides, re-syncs and checks invariant 6."""
        user = dispute.user
        name = self.names[user]
        dispute.truth = truth = self.confirmed(user)
        dispute.state = "validated"
        self.log.record(t, "dispute_validated", dispute_id=dispute.id, user=name, confirmed=truth)
        accepted = dispute.reported == truth
        if accepted:
            delta = truth - int(self.recorded[user])
            if delta != 0:
                fee = int(self.quote(np.array([delta]))[0])
                shortfall = fee - self.vault[user]
                if shortfall > 0:  # the committee prepays; one that cannot pay that much logs it
                    self._prepay(t, user, 1, next(b[4] for b in self.bindings if b[0] == user), shortfall)
                self.reconcile(t, np.array([user], dtype=np.int64), force=True)
        if dispute.onchain:
            self.disputed[user] = False
            self._tx(t, self.committee, "YieldScalesPool", "resolveDispute", (name, accepted),
                     [["YieldScalesPool", "DisputeResolved", (name, accepted)]])
        dispute.state = "accepted" if accepted else "rejected"
        dispute.resolved_at = t
        del self.disputes_open[user]
        self.kinds["dispute_resolved"] += 1
        self.log.record(t, "dispute_resolved", dispute_id=dispute.id, user=name, outcome=dispute.state,
                        resolved_in_s=t - dispute.filed_at)
        truth = self.confirmed(user)
        end = self.offline_until
        back = end if dispute.filed_at < end <= t else dispute.filed_at
        bound = self.config.disputes.resolution_bound_s
        if t - max(dispute.filed_at, back) > bound:
            self.violate(t, "disputes", name, "a dispute took longer than the resolution bound",
                         dispute_id=dispute.id, resolved_in_s=t - dispute.filed_at, bound_s=bound)
        if (dispute.state == "accepted") != (dispute.reported == truth):
            self.violate(t, "disputes", name, "the dispute's outcome differs from the Bitcoin chain's answer",
                         dispute_id=dispute.id, outcome=dispute.state, reported=dispute.reported, confirmed_btc=truth)
        if dispute.state == "accepted" and int(self.rbtc[user]) != truth:
            self.violate(t, "disputes", name, "an accepted dispute left the user's rBTC different from its BTC",
                         dispute_id=dispute.id, rbtc=int(self.rbtc[user]), confirmed_btc=truth)

    def dispute_summary(self) -> dict:
        return summarize_disputes(self.disputes, len(self.disputes_open))

    # ====================================================================== proof of reserves (invariant 8)

    def leaf_hashes(self, height: int, timestamp: int) -> tuple[np.ndarray, np.ndarray]:
        """Every binding's leaf hash (an ``(n, 32)`` byte matrix): PROTOCOL.md's packed layout, built for all
        leaves in one array and hashed by the compiled keccak of :mod:`sim.fast.merkle`."""
        n = len(self.bindings)
        balances = self.addr_conf[self.binding_address[:n]]
        packed = np.empty((n, 105), dtype=np.uint8)
        packed[:, :85] = self.leaf_prefix[:n]
        packed[:, 85:93] = balances.astype(">u8").view(np.uint8).reshape(n, 8)
        packed[:, 93:105] = np.frombuffer(height.to_bytes(4, "big") + timestamp.to_bytes(8, "big"), dtype=np.uint8)
        return balances, merkle.hash_rows(packed)

    def publish_reserves(self, t: int) -> Snapshot | None:
        if not self.bindings:
            return None
        now = self.genesis + t
        height = self.tip
        balances, hashes = self.leaf_hashes(height, now)
        user, _, program, method, checksum = self.bindings[0]
        if hashes[0].tobytes() != leaf_hash(self.names[user], program, checksum, method, int(balances[0]), height, now):
            raise AssertionError("the packed leaves differ from ProofOfReserves.leafHash")  # a layout bug, not a finding
        tree = merkle.Tree(hashes)
        total = int(balances.sum())
        round_ = len(self.por_rounds)
        self.por_rounds.append((tree.root, height, total, now))
        self._tx(t, self.committee, "ProofOfReserves", "publishRoot", (tree.root, height, total),
                 [["ProofOfReserves", "ReservesPublished", (round_, tree.root, height, total, now)]])
        snapshot = Snapshot(round_, tree.root, height, total, now, _Leaves(self, balances, height, now))
        self.latest = snapshot
        self.reserve_rounds += 1
        self.log.record(t, "por_published", round=round_, root=tree.root, height=height, total_sats=total,
                        leaves=len(hashes), timestamp=now)
        self._check_reserves(t, snapshot, tree, hashes)
        return snapshot

    def _check_reserves(self, t: int, snapshot: Snapshot, tree: merkle.Tree, hashes: np.ndarray) -> None:
        """Invariant 8: every leaf's proof leads to the published root, the total is the chain's, the
        contract accepts sampled proofs and rejects a tampered leaf.

        A leaf's proof is the sibling of each node on its path (what ``MerkleTree.proof`` returns);
        its walk hashes upwards. Walks of leaves under one node continue identically above it once
        they reach it with the same value, so each walk stops where it meets a walked path with the
        same value and takes that walk's end: the answer of walking every proof to the top, with
        each node hashed once per round instead of once per leaf below it (:func:`sim.fast.merkle.walk_all`).
        """
        for i in np.flatnonzero(~merkle.walk_all(hashes, tree, snapshot.root)).tolist():
            self.violate(t, "reserves", snapshot.leaves.eth(i), "a leaf's proof does not lead to the "
                         "published root", round=snapshot.round, leaf=hashes[i].tobytes())
        reserves = int(self.addr_conf[self.binding_address[:len(self.bindings)]].sum())
        if snapshot.total_sats != reserves:
            self.violate(t, "reserves", "committee", "the published total differs from the confirmed BTC on the chain",
                         round=snapshot.round, published=snapshot.total_sats, confirmed_btc=reserves)
        published = self.por_rounds[snapshot.round]
        if published[:3] != (snapshot.root, snapshot.height, snapshot.total_sats):
            self.violate(t, "reserves", "committee", "the on-chain publication differs from the snapshot",
                         round=snapshot.round, onchain=published[:3])
        count = len(hashes)
        checks = self.config.reserves.onchain_checks
        step = max(1, count // max(1, checks))
        for i in range(0, count, step)[:checks]:  # ProofOfReserves.verifyInRound
            self.verified += 1
            if process_proof(hashes[i].tobytes(), tree.proof(i)) != published[0]:
                self.violate(t, "reserves", snapshot.leaves.eth(i), "the contract rejected a valid proof",
                             round=snapshot.round, answer="False")
        first = snapshot.leaves[0]
        forged = leaf_hash(first["eth"], first["btc_program"], first["checksum"], first["method"],
                           first["balance_sats"] + 1, first["height"], first["timestamp"])
        if process_proof(forged, tree.proof(0)) == published[0]:
            self.violate(t, "reserves", first["eth"], "the contract accepted a proof for a tampered leaf",
                         round=snapshot.round)

    # ====================================================================== the backing monitor (invariants 1, 2)

    def _bound(self, window: Window) -> int:
        """BackingMonitor._bound: nothing is repaired while the committee is offline, so for every cause
        the clock starts when it returns, if that is later."""
        start = max(window.start, self.offline_until)
        if window.cause == "latency" and start == window.start:
            return start + self.slack
        return start + self.poll_s + self.slack

    def _cause(self, user: int, t: int) -> str:
        if user in self.reorged:
            return "reorg"
        if t < self.offline_until:
            return "outage"
        if self.oracle_cursor < self.chain_cursor:
            return "latency"
        return "unexplained"

    def end_of_instant(self, t: int) -> None:
        """BackingMonitor._end_of_instant: re-read every touched user, windows, totals, mirroring."""
        self.changed = False
        self.checks += 1
        self.total_rbtc = self.ledger.rbtc_total
        new_tip = self.mon_cursor != self.chain_cursor
        self.mon_cursor = self.chain_cursor
        if self.mon_dirty:
            dirty = np.fromiter(sorted(self.mon_dirty), dtype=np.int64, count=len(self.mon_dirty))
            self.mon_dirty = set()
            conf = self.user_conf[dirty]
            self.total_confirmed += int((conf - self.mon_conf[dirty]).sum())
            self.mon_conf[dirty] = conf
            held = self.ledger.rbtc[dirty]  # rBTC as the ledger last read it from the chain
            excess = held - conf
            self.mirror_candidates.update(dirty.tolist())
            off = excess != 0
            self.out_of_sync.update(dirty[off].tolist())
            even = dirty[~off].tolist()
            self.out_of_sync.difference_update(even)
            self.mirror_flagged.difference_update(even)
            over = np.flatnonzero(excess > 0)
            for i in over.tolist():
                user, value = int(dirty[i]), int(excess[i])
                window = self.open.get(user)
                if window is None:
                    cause = self._cause(user, t)
                    window = self.open[user] = Window(self.names[user], cause, t, value)
                    self.log.record(t, "backing_window_open", user=self.names[user], cause=cause, excess=value,
                                    rbtc=int(held[i]), confirmed=int(conf[i]))
                    if cause == "unexplained":
                        window.violated = True
                        self.violate(t, "backing", self.names[user], "rBTC exceeds confirmed BTC with no reorg, outage "
                                     "or pending oracle reaction to explain it", rbtc=int(held[i]),
                                     confirmed_btc=int(conf[i]))
                else:
                    window.max_excess = max(window.max_excess, value)
            if self.open:
                for i in np.flatnonzero(excess <= 0).tolist():
                    user = int(dirty[i])
                    window = self.open.get(user)
                    if window is not None:
                        window.end = t
                        self.closed.append(self.open.pop(user))
                        self.log.record(t, "backing_window_close", user=self.names[user], cause=window.cause,
                                        duration_s=window.duration, max_excess=window.max_excess)
        self.reorged.clear()
        for window in self.open.values():
            if not window.violated and t > self._bound(window):
                window.violated = True
                self.violate(t, "backing", window.user, f"{window.cause} window outlived its bound",
                             opened_at=window.start, bound=self._bound(window), excess=window.max_excess)
        if new_tip:
            self.log.record(t, "reserves", height=self.tip, min_conf=self.min_conf, confirmed_sats=self.total_confirmed,
                            addresses=len(self.bindings))
        if self.total_rbtc > 0:
            ratio = self.total_confirmed / self.total_rbtc
            if self.min_ratio is None or ratio < self.min_ratio:
                self.min_ratio = ratio
            if self.interval_min_ratio is None or ratio < self.interval_min_ratio:
                self.interval_min_ratio = ratio
        if self.total_rbtc > self.total_confirmed and not self.open:
            self.violate(t, "backing", "system", "total rBTC exceeds total confirmed BTC", rbtc=self.total_rbtc,
                         confirmed_btc=self.total_confirmed)
        self._check_mirroring(t)

    def _check_mirroring(self, t: int) -> None:
        """After a settled round: every out-of-sync user is one the committee waits on. Only users whose
        standing may have changed since the last check are looked at (see docs: the answer is the
        reference monitor's, which looks at all of them)."""
        if self.rounds == self.rounds_seen or t < self.offline_until or self.oracle_cursor != self.chain_cursor:
            return
        self.rounds_seen = self.rounds
        suspects = (self.mirror_candidates | self.prev_deferred) & self.out_of_sync
        self.mirror_candidates = set()
        self.prev_deferred = set(self.deferred)
        may_wait = self.ledger.may_wait
        for user in sorted(suspects):
            if user in self.deferred or user in self.open or user in self.mirror_flagged:
                continue
            if may_wait(user, int(self.mon_conf[user])):
                continue
            self.mirror_flagged.add(user)
            self.violate(t, "mirroring", self.names[user], "after a settled oracle round a user that is not waiting "
                         "for a top-up holds rBTC different from its confirmed BTC", rbtc=int(self.ledger.rbtc[user]),
                         confirmed_btc=int(self.mon_conf[user]))

    def windows(self) -> list[Window]:
        return self.closed + list(self.open.values())

    # ====================================================================== the end

    def finish(self, t: int) -> None:
        """Invariant 2 at world scale and the ghost ledger's final comparison, as World.finish does."""
        users = np.flatnonzero(self.registered)
        self.ledger.final_check(t, users)
        self._final_yield(t)
        if self.config.yields.join_holders:  # the wiring monitor: every holder of rBTC joined the pool
            for user in users[(self.ledger.rbtc[users] > 0) & (self.p_kind[users] < 0)].tolist():
                self.violate(t, "wiring", self.names[user], "a holder of rBTC never became a pool participant",
                             function="YieldScalesPool.joinAsBitcoinHolder")

    def _final_yield(self, t: int) -> None:
        now = self.genesis + t
        index = self.g_index + self.g_rate * (now - self.g_index_at)
        present = np.flatnonzero(self.g_present)
        order = sorted(present.tolist(), key=lambda u: self.names[u])
        for user in order:
            exact = self._ghost_earned(user) + int(self.g_base[user]) * (index - int(self.g_ckpt[user])) * \
                int(self.g_mult[int(self.g_tier[user])])
            paid_and_owed = int(self.g_claimed[user]) + self.owed(user, now)
            if not _exact_within_rounding(exact // ACCRUAL_DIVISOR, paid_and_owed, int(self.g_checkpoints[user])):
                self.violate(t, "yield", self.names[user], "accrued yield differs from the exact accrual by more "
                             "than rounding", function="YieldScalesPool.calculateYieldOwed",
                             claimed_plus_owed=paid_and_owed, exact=exact / ACCRUAL_DIVISOR,
                             checkpoints=int(self.g_checkpoints[user]))

    def participant_figures(self, now: int) -> list[dict]:
        index = self.g_index + self.g_rate * (now - self.g_index_at)
        figures = []
        for user in sorted(np.flatnonzero(self.g_present).tolist(), key=lambda u: self.names[u]):
            seconds = now - int(self.g_joined[user])
            base = int(self.g_base[user])
            base_seconds = int(self.g_base_seconds[user]) + base * (now - int(self.g_changed[user]))
            accrued = self._ghost_earned(user) + base * (index - int(self.g_ckpt[user])) * int(self.g_mult[int(self.g_tier[user])])
            from fractions import Fraction

            accrued_f = Fraction(accrued, ACCRUAL_DIVISOR)
            apy = float(accrued_f * 31_536_000 / base_seconds) if base_seconds > 0 else None
            figures.append({"user": self.names[user], "kind": "holder" if self.g_kind[user] == HOLDER else "trader",
                            "tier": int(self._tier(np.array([seconds]))[0]), "days": seconds / 86_400,
                            "accrued": float(accrued_f), "claimed": int(self.g_claimed[user]), "apy": apy})
        return figures

    def tiers(self) -> dict[str, int]:
        counts = {"bronze": 0, "silver": 0, "gold": 0}
        names = ("bronze", "silver", "gold")
        for user in self.participants:
            counts[names[int(self.p_tier[user])]] += 1
        return counts

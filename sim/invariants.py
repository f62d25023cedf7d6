"""Invariant monitors of the running world (PROTOCOL.md invariant 1 and the world-level part of 2).

**Backing** is checked at the end of every simulated instant (after everything that happens at
that time, including the oracle's same-instant reaction to a block): per user, rBTC-SYNTH must not
exceed the confirmed BTC (at ``minConfirmations``) of the user's bound addresses, read from the
Bitcoin chain itself, never from the oracle's records. Only touched users are re-read, so the check
costs what the instant changed.

A user holding more rBTC than BTC opens a *window*, classified by its cause:

* ``reorg``: a reorg at least ``minConfirmations`` deep removed outputs the oracle had counted
  (PROTOCOL.md's exception; "deeper than" there, since an output in the tip block already has one
  confirmation, is depth >= minConfirmations here);
* ``outage``: the committee is offline (a scheduled event);
* ``latency``: the oracle has not yet processed the block that lowered the balance (only when the
  scenario gives the oracle a reaction delay).

Each cause has a bound (the oracle's reaction delay, poll interval and one EVM block for the rate
limit, measured from the cause's end); a window without a cause, or one outliving its bound, is an
invariant violation. Windows are reported whatever their cause.

**Mirroring** (after a settled oracle round, i.e. the oracle has seen the chain's tip and is
online): every user whose rBTC differs from its confirmed BTC must be one the oracle is waiting on
(needs a top-up, or deferred by the rate limit); anyone else is a violation.
"""

from __future__ import annotations

from fractions import Fraction

from attrs import define

from sim.bitcoin.chain import BitcoinChain
from sim.eventlog import EventLog
from sim.oracle_service import OracleService
from sim.protocol.recorder import RecordingBackend
from sim.registry import Registry

ZERO = "0x" + "00" * 20
#: SimPy priority below NORMAL (1): runs after every other event of the same instant.
END_OF_INSTANT = 2


@define
class Violation:
    invariant: str
    seq: int  # position in the event log when it was detected
    t: int
    actor: str
    values: dict
    message: str

    def as_dict(self) -> dict:
        return {"invariant": self.invariant, "step": self.seq, "t": self.t, "actor": self.actor,
                "values": self.values, "message": self.message}


@define
class Window:
    user: str
    cause: str
    start: int
    max_excess: int
    end: int | None = None
    violated: bool = False

    @property
    def duration(self) -> int:
        return (self.end if self.end is not None else self.start) - self.start


class BackingMonitor:
    """Checks backing and mirroring at the end of every instant; see the module docstring."""

    def __init__(self, env, chain: BitcoinChain, port: RecordingBackend, registry: Registry,
                 oracle: OracleService, log: EventLog):
        self.env, self.chain, self.port, self.registry, self.oracle, self.log = env, chain, port, registry, oracle, log
        self.min_conf = max(1, port.params.min_confirmations)
        self.slack = oracle.config.reaction_delay_s + port.block_time_s
        #: rBTC per user, from the Transfer events of the chain.
        self.rbtc: dict[str, int] = {}
        #: Confirmed BTC per user at minConfirmations, from the Bitcoin chain.
        self.confirmed: dict[str, int] = {}
        self.total_rbtc = 0
        self.total_confirmed = 0
        self.open: dict[str, Window] = {}
        self.closed: list[Window] = []
        self.violations: list[Violation] = []
        self.min_ratio: float | None = None
        #: The lowest ratio since the metrics last sampled it (a 30-second dip falls between samples).
        self.interval_min_ratio: float | None = None
        self.checks = 0
        self.out_of_sync: set[str] = set()
        self._dirty: set[str] = set()
        self._mirror_flagged: set[str] = set()
        self._rounds_seen = 0
        self._cursor = 0
        self._reorged: set[str] = set()
        self._scheduled = False
        chain.add_listener(self._on_chain_event)
        port.subscribe(self._on_transaction)

    # ------------------------------------------------------------------ inputs

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            event = self.env.event()
            event.callbacks.append(lambda _: self._end_of_instant())
            event._ok, event._value = True, None
            self.env.schedule(event, priority=END_OF_INSTANT)

    def _on_chain_event(self, event) -> None:
        if not hasattr(event, "addresses") and event.depth >= self.min_conf:  # a deep reorg
            owner_of = self.registry.owner_of
            self._reorged.update(u for u in map(owner_of, event.affected_addresses) if u is not None)
        self._schedule()

    def _on_transaction(self, record: dict, receipt) -> None:
        for event in receipt.events:
            if event.name == "Transfer" and event.contract == "RBTCSynth":
                source, target, amount = event.args
                if source != ZERO:
                    self.rbtc[source] = self.rbtc.get(source, 0) - amount
                    self.total_rbtc -= amount
                    self._dirty.add(source)
                if target != ZERO:
                    self.rbtc[target] = self.rbtc.get(target, 0) + amount
                    self.total_rbtc += amount
                    self._dirty.add(target)
        self._schedule()

    def user_bound(self, user: str) -> None:
        """A new address was bound: its coins count from now on."""
        self._dirty.add(user)
        self._schedule()

    # ------------------------------------------------------------------ the check

    def violate(self, invariant: str, actor: str, message: str, **values) -> None:
        violation = Violation(invariant, self.log.count, int(self.env.now), actor, values, message)
        self.violations.append(violation)
        fields = violation.as_dict()
        del fields["t"]
        self.log.append(violation.t, "invariant_violation", **fields)

    def _bound(self, window: Window) -> int:
        cfg = self.oracle.config
        if window.cause == "outage":
            return max(window.start, self.oracle.offline_until) + cfg.poll_interval_s + self.slack
        if window.cause == "reorg":
            return window.start + cfg.poll_interval_s + self.slack
        return window.start + self.slack

    def _end_of_instant(self) -> None:
        self._scheduled = False
        self.checks += 1
        now = int(self.env.now)
        total_confirmed = self.chain.total_confirmed
        min_conf = self.min_conf
        changes = self.chain.changes_since(self._cursor, min_conf, self.registry.watched)
        new_tip = changes.cursor != self._cursor
        self._cursor = changes.cursor
        owner_of = self.registry.owner_of
        self._dirty.update(owner_of(a) for a in changes.addresses)
        for user in sorted(self._dirty):
            confirmed = total_confirmed(self.registry.addresses_of(user), min_conf)
            self.total_confirmed += confirmed - self.confirmed.get(user, 0)
            self.confirmed[user] = confirmed
            excess = self.rbtc.get(user, 0) - confirmed
            if excess:
                self.out_of_sync.add(user)
            else:
                self.out_of_sync.discard(user)
                self._mirror_flagged.discard(user)
            window = self.open.get(user)
            if excess > 0:
                if window is None:
                    cause = self._cause(user)
                    window = self.open[user] = Window(user, cause, now, excess)
                    self.log.append(now, "backing_window_open", user=user, cause=cause, excess=excess,
                                    rbtc=self.rbtc.get(user, 0), confirmed=confirmed)
                    if cause == "unexplained":
                        window.violated = True
                        self.violate("backing", user, "rBTC exceeds confirmed BTC with no reorg, outage or "
                                      "pending oracle reaction to explain it", rbtc=self.rbtc.get(user, 0),
                                      confirmed_btc=confirmed)
                else:
                    window.max_excess = max(window.max_excess, excess)
            elif window is not None:
                window.end = now
                self.closed.append(self.open.pop(user))
                self.log.append(now, "backing_window_close", user=user, cause=window.cause,
                                duration_s=window.duration, max_excess=window.max_excess)
        self._dirty.clear()
        self._reorged.clear()
        for window in self.open.values():
            if not window.violated and now > self._bound(window):
                window.violated = True
                self.violate("backing", window.user, f"{window.cause} window outlived its bound",
                              opened_at=window.start, bound=self._bound(window), excess=window.max_excess)
        if new_tip:  # the chain-side reserves, for the indexer and the API's backing ratio
            self.log.append(now, "reserves", height=self.chain.height, min_conf=min_conf,
                            confirmed_sats=self.total_confirmed, addresses=len(self.registry.watched))
        if self.total_rbtc > 0:
            ratio = self.total_confirmed / self.total_rbtc
            if self.min_ratio is None or ratio < self.min_ratio:
                self.min_ratio = ratio
            if self.interval_min_ratio is None or ratio < self.interval_min_ratio:
                self.interval_min_ratio = ratio
        if self.total_rbtc > self.total_confirmed and not self.open:
            self.violate("backing", "system", "total rBTC exceeds total confirmed BTC",
                          rbtc=self.total_rbtc, confirmed_btc=self.total_confirmed)
        self._check_mirroring()

    def _cause(self, user: str) -> str:
        if user in self._reorged:
            return "reorg"
        if self.oracle.offline:
            return "outage"
        if self.oracle.cursor < self.chain.cursor:
            return "latency"
        return "unexplained"

    def _check_mirroring(self) -> None:
        """Only after an instant in which the oracle ran a round and has seen the whole chain."""
        oracle = self.oracle
        if oracle.rounds == self._rounds_seen or oracle.offline or oracle.cursor != self.chain.cursor:
            return
        self._rounds_seen = oracle.rounds
        for user in sorted(self.out_of_sync):
            if user in oracle.needs_topup or user in oracle.deferred or user in self.open:
                continue
            if user in self._mirror_flagged:
                continue
            self._mirror_flagged.add(user)
            self.violate("mirroring", user, "after a settled oracle round a user that is not waiting "
                          "for a top-up holds rBTC different from its confirmed BTC",
                          rbtc=self.rbtc.get(user, 0), confirmed_btc=self.confirmed[user])

    # ------------------------------------------------------------------ results

    def windows(self) -> list[Window]:
        return self.closed + list(self.open.values())


@define
class Position:
    """The ghost ledger's view of one pool participant."""

    kind: int  # 0 holder, 1 trader
    base: int
    tier: int
    joined_at: int
    checkpoint_index: int
    earned: object  # Fraction: exact accrual up to the last checkpoint
    claimed: int = 0
    checkpoints: int = 0
    base_seconds: int = 0  # integral of base over time, for time-weighted APYs
    changed_at: int = 0


class YieldMonitor:
    """Invariant 7 in the running world, from an independent ghost ledger of the pool.

    The ghost follows every pool transaction from the outside: it keeps its own rBTC supply (from
    Transfer events), recomputes the scale and rate the protocol prescribes, integrates rate x time
    into its own index, and accrues each participant's yield as an exact fraction at every
    checkpoint the specification requires. The contract floors at each checkpoint, so for every
    participant ``0 <= ghost - (claimed + owed) < checkpoints + 1``: a reset clock loses whole
    periods (too low), double counting overshoots (too high). The rate must match and stay in
    ``[0, maxRate]``; a claim must never take more than has accrued.
    """

    WRITES = {"joinAsBitcoinHolder", "joinAsTrader", "updateRBTCContribution", "emergencyBurn", "claimYield"}

    def __init__(self, port: RecordingBackend, params, log: EventLog, violate, genesis_timestamp: int):
        from contracts_model.params import YieldParams

        self.p = params.yield_params or YieldParams()
        self.log, self.violate, self.genesis = log, violate, genesis_timestamp
        self.supply = 0
        self.peak = 1
        self.rate = 0
        self.index = 0
        self.index_at = genesis_timestamp
        self.divisor = 10_000 * 31_536_000 * 100
        self.ledger: dict[str, Position] = {}
        # Aggregates for the pool-wide exact accrual in O(1): sums over participants of
        # base * multiplier and of base * multiplier * checkpoint index; earned and claimed totals.
        self._weight = 0
        self._weighted_checkpoints = 0
        self.earned_total = Fraction(0)
        self.claimed_total = 0
        port.subscribe(self._on_transaction)

    def _tier(self, age: int) -> int:
        return 2 if age >= self.p.gold_after else (1 if age >= self.p.silver_after else 0)

    def _multiplier(self, tier: int) -> int:
        return (self.p.bronze_multiplier, self.p.silver_multiplier, self.p.gold_multiplier)[tier]

    def _weigh(self, position: Position, sign: int) -> None:
        weight = position.base * self._multiplier(position.tier)
        self._weight += sign * weight
        self._weighted_checkpoints += sign * weight * position.checkpoint_index

    def _checkpoint(self, position: Position, now: int) -> None:
        """Accrue at the old tier, re-evaluate the tier; the caller changes the base, then re-weighs."""
        self._weigh(position, -1)
        accrued = Fraction(position.base * (self.index - position.checkpoint_index) * self._multiplier(position.tier),
                           self.divisor)
        position.earned += accrued
        self.earned_total += accrued
        position.checkpoint_index = self.index
        position.tier = self._tier(now - position.joined_at)
        position.checkpoints += 1
        position.base_seconds += position.base * (now - position.changed_at)
        position.changed_at = now

    def owed_total(self, now: int) -> Fraction:
        """Every participant's exact accrual not yet claimed, pool-wide, in O(1)."""
        index = self.index + self.rate * (now - self.index_at)
        pending = Fraction(index * self._weight - self._weighted_checkpoints, self.divisor)
        return self.earned_total - self.claimed_total + pending

    def _on_transaction(self, record: dict, receipt) -> None:
        for event in receipt.events:
            if event.name == "Transfer" and event.contract == "RBTCSynth":
                source, target, amount = event.args
                self.supply += amount if source == ZERO else 0
                self.supply -= amount if target == ZERO else 0
        function = record["fn"]
        if record["to"] != "YieldScalesPool" or function not in self.WRITES:
            return
        now = self.genesis + record["t"]
        self.index += self.rate * (now - self.index_at)
        self.index_at = now
        user = record["from"] if function == "claimYield" else record["args"][0]
        position = self.ledger.get(user)
        if position is None:  # a join
            amount = next(e.args[2] for e in receipt.events if e.name == "ParticipantJoined")
            kind = 0 if function == "joinAsBitcoinHolder" else 1
            position = self.ledger[user] = Position(kind, amount, 0, now, self.index, Fraction(0), changed_at=now)
        else:
            self._checkpoint(position, now)
            if function == "joinAsTrader":
                position.base += record["args"][1]
            elif function == "updateRBTCContribution":
                position.base = record["args"][1]
            elif function == "emergencyBurn" and position.kind == 0:
                position.base = 0
            elif function == "claimYield":
                paid = next(e.args[1] for e in receipt.events if e.name == "YieldClaimed")
                position.claimed += paid
                self.claimed_total += paid
                if position.claimed > position.earned:
                    self.violate("yield", user, "a claim took more than had accrued", claimed=position.claimed,
                                 accrued=float(position.earned))
                elif position.earned - position.claimed >= position.checkpoints:
                    self.violate("yield", user, "accrued yield was lost before the claim", claimed=position.claimed,
                                 accrued=float(position.earned), checkpoints=position.checkpoints)
        self._weigh(position, +1)
        self.peak = max(self.peak, self.supply)
        self.rate = min(self.p.max_rate, self.p.base_rate * (self.supply * 100 // self.peak) * 100 // 10_000)
        reported = next((e.args[2] for e in receipt.events if e.name == "YieldCalculated"), None)
        if reported != self.rate:
            self.violate("yield", user, "the pool's rate differs from the rate the scales prescribe",
                         pool_rate=reported, expected_rate=self.rate)

    def _exact(self, position: Position, index: int) -> Fraction:
        pending = position.base * (index - position.checkpoint_index) * self._multiplier(position.tier)
        return position.earned + Fraction(pending, self.divisor)

    def final_check(self, port, now: int) -> None:
        """Compare every participant's claimed + owed with the ghost's exact accrual."""
        index = self.index + self.rate * (now - self.index_at)
        for user in sorted(self.ledger):
            position = self.ledger[user]
            exact = self._exact(position, index)
            paid_and_owed = position.claimed + port.call("YieldScalesPool", "calculateYieldOwed", (user,))
            if not 0 <= exact - paid_and_owed < position.checkpoints + 1:
                self.violate("yield", user, "accrued yield differs from the exact accrual by more than rounding",
                             claimed_plus_owed=paid_and_owed, exact=float(exact), checkpoints=position.checkpoints)

    def participant_figures(self, now: int) -> list[dict]:
        """Per participant: kind, tier, days in the pool, exact accrual, claimed, and the APY it earned
        (accrual over the time-weighted base), for research sweeps and reports."""
        index = self.index + self.rate * (now - self.index_at)
        figures = []
        for user in sorted(self.ledger):
            position = self.ledger[user]
            seconds = now - position.joined_at
            base_seconds = position.base_seconds + position.base * (now - position.changed_at)
            accrued = self._exact(position, index)
            apy = float(accrued * 31_536_000 / base_seconds) if base_seconds > 0 else None
            figures.append({"user": user, "kind": "holder" if position.kind == 0 else "trader",
                            "tier": self._tier(seconds), "days": seconds / 86_400, "accrued": float(accrued),
                            "claimed": position.claimed, "apy": apy})
        return figures

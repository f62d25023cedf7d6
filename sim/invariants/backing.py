"""Backing and mirroring in the running world (PROTOCOL.md invariant 1).

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
online): every user whose rBTC differs from its confirmed BTC must be one the rules let wait: the
protocol ledger (:mod:`sim.invariants.ledger`, the rules' own account of the vault, not the
committee's bookkeeping) says its pending increase needs a top-up or exceeds the fee cap, or the
committee deferred it under its rate limit for the next EVM block. Anyone else is a violation.
"""

from __future__ import annotations

from attrs import define

from sim.bitcoin.chain import BitcoinChain
from sim.eventlog import EventLog
from sim.oracle_service import OracleService
from sim.protocol.recorder import RecordingBackend
from sim.registry import Registry

#: SimPy priority below NORMAL (1): runs after every other event of the same instant.
END_OF_INSTANT = 2


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
                 oracle: OracleService, log: EventLog, violate, ledger):
        self.env, self.chain, self.port, self.registry, self.oracle, self.log = env, chain, port, registry, oracle, log
        self.violate = violate
        #: The protocol ledger: rBTC balances as read from the chain, and when the rules let a user wait.
        self.ledger = ledger
        self.min_conf = max(1, port.params.min_confirmations)
        self.slack = oracle.config.reaction_delay_s + port.block_time_s
        #: rBTC per user, as the ledger last read it from the chain.
        self.rbtc = ledger.rbtc
        #: Confirmed BTC per user at minConfirmations, from the Bitcoin chain.
        self.confirmed: dict[str, int] = {}
        self.total_rbtc = 0
        self.total_confirmed = 0
        self.open: dict[str, Window] = {}
        self.closed: list[Window] = []
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
        ledger.on_rbtc.append(self._on_rbtc)

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

    def _on_rbtc(self, user: str) -> None:
        self._dirty.add(user)
        self._schedule()

    def user_bound(self, user: str) -> None:
        """A new address was bound: its coins count from now on."""
        self._dirty.add(user)
        self._schedule()

    # ------------------------------------------------------------------ the check

    def _bound(self, window: Window) -> int:
        """The latest time the window may still be open. Nothing is repaired while the committee is
        offline, so for every cause the clock starts when it returns, if that is later."""
        start = max(window.start, self.oracle.offline_until)
        if window.cause == "latency" and start == window.start:
            return start + self.slack
        return start + self.oracle.config.poll_interval_s + self.slack

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
        self.total_rbtc = self.ledger.rbtc_total
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
            if user in oracle.deferred or user in self.open or self.ledger.may_wait(user, self.confirmed[user]):
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



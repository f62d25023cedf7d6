"""The oracle service: the committee's off-chain process between the Bitcoin chain and the contracts.

Every ``poll_interval_s`` and after every new Bitcoin block (``reaction_delay_s`` later) it runs a
*round*: it asks the chain which watched addresses may have changed since its last round (an
incremental cursor, correct across reorgs), adds the users it still owes a sync (deferred by the
rate limit, or waiting for a top-up that has since arrived), and reconciles each of them:

1. the confirmed balance counts only outputs with at least ``minConfirmations`` confirmations;
2. the rate limit allows one sync per user per EVM block unless ``|delta| >= delta_threshold_sats``;
   decreases are never deferred (a deferred decrease would leave rBTC unbacked until the next block);
3. the fee is quoted first; an increase the user cannot pay for is skipped and the user marked as
   needing a top-up (with ``precheck_fees = false`` it is sent anyway and the contract's
   ``NeedsTopUp`` says so); a decrease the user cannot pay for is sent anyway, and the contract
   burns the user's whole balance (emergency burn);
4. a user back from an emergency burn (topped up and re-synced) gets its emergency flag reset.

A sync the contract refuses (it reverts: the fee cap, or a defect in the build under test) is logged
with its reason and retried with bounded exponential back-off: after the n-th refusal in a row the
user is retried no sooner than ``poll_interval_s * 2**(n-1)`` later, at most :data:`MAX_BACKOFF_S`;
a change of its Bitcoin balance makes it a candidate again at once. So a broken build costs about
what a healthy one does, instead of one failing sync per stuck user per round.

Every operation is written to the event log as an ``oracle_op`` record (the seed's
``oracle_operations_log``) and every round as an ``oracle_round`` record.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from contracts_model.errors import ContractRevert, InsufficientFunds
from sim.bitcoin.chain import BitcoinChain
from sim.protocol.port import RoleNotHeld
from sim.config import OracleConfig
from sim.eventlog import EventLog
from sim.protocol.recorder import RecordingBackend
from sim.registry import METHOD_BIP322, Binding, Registry

#: The longest a refused user waits before the committee retries it (6 hours).
MAX_BACKOFF_S = 6 * 3_600


class SilentSync(Exception):
    """A sync that returned without emitting Synced, EmergencyBurn or NeedsTopUp."""

    call = "OracleAggregator.sync"


class OracleService:
    """The committee. Create it, then start :meth:`run` as a SimPy process."""

    def __init__(self, env, chain: BitcoinChain, port: RecordingBackend, registry: Registry, log: EventLog,
                 config: OracleConfig, rng: np.random.Generator):
        self.env = env
        self.chain = chain
        self.port = port
        self.registry = registry
        self.log = log
        self.config = config
        self.rng = rng
        self.min_conf = max(1, port.params.min_confirmations)
        self.cap = port.params.max_fee_per_sync_wei
        self.cursor = 0
        #: lastSats as the committee last set it (it is the only account that can change it).
        self.recorded: dict[str, int] = {}
        self.needs_topup: set[str] = set()
        self.emergency: set[str] = set()
        self.deferred: set[str] = set()
        #: user -> (refusals in a row, earliest retry time): syncs the contract refused, retried with back-off.
        self.backoff: dict[str, tuple[int, int]] = {}
        self.offline_until = -1
        self._pending_wakeups: set[int] = set()
        self._last_sync_block: dict[str, int] = {}
        self._dirty_since: dict[str, int] = {}
        self.rounds = 0
        #: Called as ``hook(user, op, receipt)`` after each sync or emergency burn (yield flow, metrics).
        self.after_sync: list[Callable] = []
        #: Called as ``hook(user)`` when a user is first marked as needing a top-up (agents react).
        self.on_needs_topup: list[Callable] = []
        #: Called as ``hook(binding)`` after a new binding (invariant monitors re-read the user).
        self.on_bind: list[Callable] = []
        chain.add_listener(self._on_chain_event)
        port.subscribe(self._on_transaction)

    # ------------------------------------------------------------------ wiring

    @property
    def now(self) -> int:
        return int(self.env.now)

    @property
    def offline(self) -> bool:
        return self.now < self.offline_until

    def go_offline(self, duration_s: int) -> None:
        self.offline_until = max(self.offline_until, self.now + duration_s)
        self.log.append(self.now, "oracle_outage", until=self.offline_until)
        self._wake_at(self.offline_until, "back online")

    def _on_chain_event(self, event) -> None:
        addresses = getattr(event, "addresses", None)
        if addresses is None:  # a reorg result
            addresses = event.affected_addresses
        owner_of = self.registry.owner_of
        now = self.now
        for address in addresses:
            user = owner_of(address)
            if user is not None and user not in self._dirty_since:
                self._dirty_since[user] = now
        self._wake_at(now + self.config.reaction_delay_s, "block")

    def _on_transaction(self, record: dict, receipt) -> None:
        # A top-up lets a waiting user through at the next round.
        for event in receipt.events:
            if event.name == "Deposited" and event.args[0] in self.needs_topup:
                self.needs_topup.discard(event.args[0])
                self.deferred.add(event.args[0])

    def _wake_at(self, t: int, reason: str) -> None:
        if t in self._pending_wakeups:
            return
        self._pending_wakeups.add(t)
        self.env.process(self._wake(t, reason))

    def _wake(self, t: int, reason: str):
        yield self.env.timeout(t - self.now)
        self._pending_wakeups.discard(t)
        self.round(reason)

    def run(self):
        """SimPy process: a round every ``poll_interval_s``."""
        while True:
            yield self.env.timeout(self.config.poll_interval_s)
            self.round("poll")

    # ------------------------------------------------------------------ registration

    def register(self, user: str, btc_address: str, *, prepay_wei: int = 0, method: int = METHOD_BIP322) -> Binding:
        """Bind ``btc_address`` to ``user`` (after the user proved control of it); optionally prepay."""
        salt = self.rng.bytes(32)
        binding = self.registry.bind(user, btc_address, method, salt, self.now)
        self.log.append(self.now, "bind", user=user, btc_address=binding.btc_address, method=method,
                        checksum=binding.checksum, prepay_wei=prepay_wei)
        self.recorded.setdefault(user, 0)
        for hook in self.on_bind:
            hook(binding)
        if prepay_wei:
            self.prepay(user, method, binding.checksum, prepay_wei)
        # Coins already confirmed at the address count from the next round on.
        self._dirty_since.setdefault(user, self.now)
        self.deferred.add(user)
        return binding

    def prepay(self, user: str, method: int, checksum: bytes, wei: int) -> bool:
        """``registerAndPrepay`` ``wei`` for ``user`` from the committee's account. False, with the failure
        logged like any refused call, when the contract refuses or the committee cannot pay that much."""
        try:
            self.port.register_and_prepay(user, method, checksum, wei)
        except (ContractRevert, InsufficientFunds, RoleNotHeld) as exc:
            self._refused(user, exc)
            return False
        return True

    # ------------------------------------------------------------------ rounds

    def round(self, reason: str) -> None:
        if self.offline:
            return
        self.rounds += 1
        changes = self.chain.changes_since(self.cursor, self.min_conf, self.registry.watched)
        self.cursor = changes.cursor
        owner_of = self.registry.owner_of
        candidates = {owner_of(a) for a in changes.addresses}
        candidates |= self.deferred
        now = self.now
        candidates.update(user for user, (_, retry_at) in self.backoff.items() if retry_at <= now)
        self.deferred = set()
        tally = {"sync": 0, "needs_topup": 0, "emergency_burn": 0, "deferred": 0, "error": 0}
        for user in sorted(candidates):
            try:
                op = self.reconcile(user)
            except (ContractRevert, RoleNotHeld) as exc:  # a view or a follow-up call failed (a defect in the build)
                op = self._refused(user, exc)
            if op in tally:
                tally[op] += 1
        self.log.append(self.now, "oracle_round", reason=reason, tip=changes.tip_height, reorged=changes.reorged,
                        candidates=len(candidates), **tally)

    def confirmed(self, user: str) -> int:
        """The user's confirmed BTC at minConfirmations, over all its bound addresses."""
        return self.chain.total_confirmed(self.registry.addresses_of(user), self.min_conf)

    def reconcile(self, user: str, *, force: bool = False) -> str:
        """Bring one user's lastSats to its confirmed balance if the rules allow; returns what was done.

        ``force`` skips the rate limit (the committee re-syncing a user after an accepted dispute).
        """
        confirmed = self.confirmed(user)
        recorded = self.recorded.get(user, 0)
        delta = confirmed - recorded
        if delta == 0:
            self._dirty_since.pop(user, None)
            self.backoff.pop(user, None)
            return "none"
        block = self.port.evm_block_at(self.now)
        if (not force and 0 < delta < self.config.delta_threshold_sats
                and self._last_sync_block.get(user) == block):
            self.deferred.add(user)
            self._op("deferred", user, delta, confirmed, recorded)
            self._wake_at((block) * self.port.block_time_s, "rate limit")  # the next EVM block
            return "deferred"
        fee = self.port.quote_fee(user, delta)
        if self.config.precheck_fees and delta > 0 and self.port.vault_balance(user) < fee:
            return self._needs_topup(user, delta, confirmed, recorded, fee)
        try:
            receipt = self.port.sync(user, confirmed)
        except ContractRevert as exc:
            return self._refused(user, exc, delta=delta, confirmed=confirmed, recorded=recorded, fee=fee)
        self.backoff.pop(user, None)
        self._last_sync_block[user] = block
        names = [e.name for e in receipt.events]
        if "EmergencyBurn" in names:
            self.recorded[user] = 0
            self.emergency.add(user)
            self.needs_topup.discard(user)
            self._op("emergency_burn", user, delta, confirmed, recorded, fee=0, burned=recorded)
            if confirmed > 0:  # what is still held must be minted back once the user can pay for it
                self.deferred.add(user)
            op = "emergency_burn"
        elif "NeedsTopUp" in names:  # the contract refused it (no pre-check, or the vault changed meanwhile)
            return self._needs_topup(user, delta, confirmed, recorded, fee)
        elif "Synced" not in names:  # it returned without saying what it did: treat it as not applied
            return self._refused(user, SilentSync(), delta=delta, confirmed=confirmed, recorded=recorded, fee=fee)
        else:
            self.recorded[user] = confirmed
            since = self._dirty_since.pop(user, self.now)
            self.needs_topup.discard(user)
            self._op("sync", user, delta, confirmed, recorded, fee=fee, delay_s=self.now - since)
            op = "sync"
            if user in self.emergency and confirmed > 0:
                self.port.reset_emergency_burn_status(user)
                self.emergency.discard(user)
                self._op("emergency_reset", user, 0, confirmed, confirmed)
        for hook in self.after_sync:
            hook(user, op, receipt)
        return op

    def _needs_topup(self, user: str, delta: int, confirmed: int, recorded: int, fee: int) -> str:
        if user not in self.needs_topup:
            self.needs_topup.add(user)
            self._op("needs_topup", user, delta, confirmed, recorded, fee=fee)
            for hook in self.on_needs_topup:
                hook(user)
        return "needs_topup"

    def _refused(self, user: str, exc: Exception, **known) -> str:
        """A call for ``user`` failed: log it with its reason and schedule the retry with back-off."""
        refusals = self.backoff.get(user, (0, 0))[0] + 1
        wait = min(self.config.poll_interval_s * 2 ** min(refusals - 1, 30), MAX_BACKOFF_S)
        self.backoff[user] = (refusals, self.now + wait)
        error = (exc.error_name or repr(exc)) if isinstance(exc, ContractRevert) else type(exc).__name__
        recorded = known.get("recorded", self.recorded.get(user, 0))
        confirmed = known.get("confirmed", recorded)
        self._op("error", user, known.get("delta", confirmed - recorded), confirmed, recorded,
                 fee=known.get("fee"), error=error, call=getattr(exc, "call", None), retry_in_s=wait)
        return "error"

    def _op(self, op: str, user: str, delta: int, confirmed: int, recorded: int, **extra) -> None:
        self.log.append(self.now, "oracle_op", op=op, user=user, delta=delta, confirmed=confirmed,
                        recorded=recorded, **extra)

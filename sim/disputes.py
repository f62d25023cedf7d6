"""Balance disputes: users claim their recorded balance is wrong; the committee checks Bitcoin and decides.

A dispute moves only filed -> validated -> accepted | rejected, and a user has at most one open.
The committee validates a claim ``validation_delay_s`` after it is filed (or as soon as it is back
online) by reading the user's confirmed balance at ``minConfirmations`` from the Bitcoin chain. The
user is right when its reported balance is that confirmed balance; then the dispute is accepted and
the user is re-synced to it at once (the committee prepays the sync fee if the user cannot: a
disputed balance is the protocol's fault, not the user's). Otherwise it is rejected.

Participants of the YieldScales pool dispute on chain too (``disputeBalance``, then the committee's
``resolveDispute``); other users' disputes are off-chain records only, because the pool accepts
disputes from participants alone.

Invariant 6 is checked here, against the chain and independently of the decision just taken: every
dispute resolves within ``resolution_bound_s`` of filing (of the committee's return, when it was
offline); the outcome equals the ground truth read from the chain; an accepted dispute leaves the
user's rBTC equal to its confirmed BTC.
"""

from __future__ import annotations

import numpy as np
from attrs import define

from contracts_model.errors import ContractRevert
from sim.protocol.port import RoleNotHeld
from sim.bitcoin.chain import BitcoinChain
from sim.config import DAY, DisputeConfig
from sim.eventlog import EventLog
from sim.oracle_service import OracleService
from sim.poisson import next_arrival
from sim.protocol.recorder import RecordingBackend
from sim.registry import Registry


@define
class Dispute:
    id: int
    user: str
    reported: int
    recorded: int
    filed_at: int
    onchain: bool
    state: str = "filed"
    truth: int | None = None
    resolved_at: int | None = None


class Disputes:
    def __init__(self, env, chain: BitcoinChain, port: RecordingBackend, registry: Registry, oracle: OracleService,
                 yields, log: EventLog, config: DisputeConfig, rng: np.random.Generator, violate, on_failure=None):
        self.env, self.chain, self.port, self.registry, self.oracle = env, chain, port, registry, oracle
        self.yields, self.log, self.config, self.rng, self.violate = yields, log, config, rng, violate
        #: on_failure(exception, actor): a call the rules say works failed (a panic in the build…).
        self.on_failure = on_failure or (lambda exc, actor: None)
        self.open: dict[str, Dispute] = {}
        self.all: list[Dispute] = []

    @property
    def now(self) -> int:
        return int(self.env.now)

    # ------------------------------------------------------------------ filing

    def file(self, user: str, reported: int) -> Dispute | None:
        """``user`` claims its balance is ``reported`` sats; None if it already has an open dispute."""
        if user in self.open or user not in self.registry:
            return None
        recorded = self.port.last_sats(user)
        onchain = self.yields is not None and user in self.yields.participants
        if onchain:
            try:
                self.port.transact(user, "YieldScalesPool", "disputeBalance", (reported, recorded))
            except ContractRevert as exc:
                self.log.append(self.now, "dispute_refused", user=user, error=exc.error_name)
                return None
        dispute = Dispute(len(self.all) + 1, user, reported, recorded, self.now, onchain)
        self.open[user] = dispute
        self.all.append(dispute)
        self.log.append(self.now, "dispute_filed", dispute_id=dispute.id, user=user, reported=reported,
                        recorded=recorded, onchain=onchain)
        self.env.process(self._handle(dispute))
        return dispute

    def file_truthful(self, user: str) -> Dispute | None:
        """The user reports what its wallet shows: its confirmed balance now."""
        return self.file(user, self.oracle.confirmed(user))

    def file_frivolous(self, user: str) -> Dispute | None:
        """The user claims more than it has."""
        truth = self.oracle.confirmed(user)
        return self.file(user, truth + int(self.rng.integers(1_000, max(2_000, truth // 2 + 2_000))))

    # ------------------------------------------------------------------ the committee

    def _handle(self, dispute: Dispute):
        yield self.env.timeout(self.config.validation_delay_s)
        while self.oracle.offline:
            yield self.env.timeout(self.oracle.offline_until - self.now)
        user = dispute.user
        dispute.truth = truth = self.oracle.confirmed(user)
        dispute.state = "validated"
        self.log.append(self.now, "dispute_validated", dispute_id=dispute.id, user=user, confirmed=truth)
        accepted = self.decide(dispute, truth)
        try:
            if accepted:
                self._resync(user, truth)
            if dispute.onchain:
                self.port.pool("resolveDispute", user, accepted)
        except (ContractRevert, RoleNotHeld) as exc:  # the dispute is still decided; the check below judges it
            self.on_failure(exc, user)
        dispute.state = "accepted" if accepted else "rejected"
        dispute.resolved_at = self.now
        del self.open[user]
        self.log.append(self.now, "dispute_resolved", dispute_id=dispute.id, user=user, outcome=dispute.state,
                        resolved_in_s=self.now - dispute.filed_at)
        self._check(dispute)

    def decide(self, dispute: Dispute, confirmed: int) -> bool:
        """The committee's decision: the user is right when it reported its confirmed balance."""
        return dispute.reported == confirmed

    def _resync(self, user: str, truth: int) -> None:
        delta = truth - self.oracle.recorded.get(user, 0)
        if delta == 0:
            return
        fee = self.port.quote_fee(user, delta)
        shortfall = fee - self.port.vault_balance(user)
        if shortfall > 0:  # the committee prepays; one that cannot pay that much logs it and the sync fails
            self.oracle.prepay(user, 1, self.registry.bindings(user)[0].checksum, shortfall)
        self.oracle.reconcile(user, force=True)

    def _check(self, dispute: Dispute) -> None:
        user = dispute.user
        min_conf = self.oracle.min_conf
        truth = self.chain.total_confirmed(self.registry.addresses_of(user), min_conf)
        started = max(dispute.filed_at, self._back_online_at(dispute))
        if dispute.resolved_at - started > self.config.resolution_bound_s:
            self.violate("disputes", user, "a dispute took longer than the resolution bound",
                         dispute_id=dispute.id, resolved_in_s=dispute.resolved_at - dispute.filed_at,
                         bound_s=self.config.resolution_bound_s)
        if (dispute.state == "accepted") != (dispute.reported == truth):
            self.violate("disputes", user, "the dispute's outcome differs from the Bitcoin chain's answer",
                         dispute_id=dispute.id, outcome=dispute.state, reported=dispute.reported,
                         confirmed_btc=truth)
        if dispute.state == "accepted":
            held = self.port.rbtc_balance(user)
            if held != truth:
                self.violate("disputes", user, "an accepted dispute left the user's rBTC different from its BTC",
                             dispute_id=dispute.id, rbtc=held, confirmed_btc=truth)

    def _back_online_at(self, dispute: Dispute) -> int:
        """When the committee came back, if it was offline while the dispute waited."""
        end = self.oracle.offline_until
        return end if dispute.filed_at < end <= (dispute.resolved_at or self.now) else dispute.filed_at

    # ------------------------------------------------------------------ users filing on their own

    def activity(self, active: list):
        """SimPy process: spontaneous disputes at the configured per-user rates, among ``active``
        (the population's onboarded users, a list that grows as they onboard)."""
        c = self.config
        rate = (c.frivolous_per_day + c.discrepancy_per_day) / DAY
        while True:
            if rate <= 0 or not active:
                yield self.env.timeout(3600)
                continue
            count = len(active)  # those onboarded when the wait began (the list only grows)
            if not (yield from next_arrival(self.env, self.rng, rate * count)):
                continue
            user = active[int(self.rng.integers(0, count))].address
            if self.rng.random() * (c.frivolous_per_day + c.discrepancy_per_day) < c.frivolous_per_day:
                self.file_frivolous(user)
            elif self.port.rbtc_balance(user) != self.oracle.confirmed(user):
                self.file_truthful(user)

    def wave(self, active: list, share: float, truthful: float) -> None:
        """A dispute wave: a share of the onboarded users file at once, a share of those truthfully."""
        for user in active:
            if self.rng.random() < share:
                if self.rng.random() < truthful:
                    self.file_truthful(user.address)
                else:
                    self.file_frivolous(user.address)

    def summary(self) -> dict:
        return summarize(self.all, len(self.open))


def summarize(disputes: list, still_open: int) -> dict:
    """The run summary's ``disputes``: counts by outcome and the longest resolution (both engines)."""
    resolved = [d for d in disputes if d.resolved_at is not None]
    return {
        "filed": len(disputes),
        "accepted": sum(d.state == "accepted" for d in disputes),
        "rejected": sum(d.state == "rejected" for d in disputes),
        "open": still_open,
        "onchain": sum(d.onchain for d in disputes),
        "max_resolution_s": max((d.resolved_at - d.filed_at for d in resolved), default=None),
    }

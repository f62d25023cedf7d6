"""Invariant 7 in the running world: an independent ghost ledger of the YieldScales pool, per transaction."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

from attrs import define

from contracts_model.errors import ContractRevert
from sim.eventlog import EventLog
from sim.protocol.recorder import RecordingBackend

TIER_NAMES = ("bronze", "silver", "gold")
KIND_NAMES = ("holder", "trader")
_TIER, _CLAIMED = 7, 4  # positions in the pool's Participant struct


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

    The ghost follows every pool transaction from the outside, reading the chain's own state (the
    rBTC supply, the participant's record, what it is owed) rather than what the pool emits: it
    recomputes the scale and rate the protocol prescribes, integrates rate x time into its own index,
    and accrues each participant's yield as an exact fraction at every checkpoint the specification
    requires. After every pool write, for the participant it touched:

    * owed yield never falls across a write that is not a claim;
    * a claim pays exactly what the participant was owed just before it, and leaves nothing owed;
    * the participant's tier is the one its time in the pool gives (holders and traders alike);
    * ``0 <= ghost - (claimed + owed) < checkpoints + 1`` (the contract floors at each checkpoint): a
      reset clock loses whole periods, double counting overshoots;
    * the pool's rate is the one the scales prescribe, within ``[0, maxRate]``.

    Each violation names the pool function whose call broke it.
    """

    WRITES = {"joinAsBitcoinHolder", "joinAsTrader", "updateRBTCContribution", "emergencyBurn", "claimYield"}

    def __init__(self, port: RecordingBackend, params, log: EventLog, violate, genesis_timestamp: int):
        from contracts_model.params import YieldParams

        self.p = params.yield_params or YieldParams()
        self.port, self.log, self.violate, self.genesis = port, log, violate, genesis_timestamp
        #: Pool paths reached: joins, claims, tier changes per kind, contribution updates, burns.
        self.paths: Counter = Counter()
        self._owed_before = None
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
        port.subscribe_before(self._before)
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

    def _view(self, function: str, user: str, label: str):
        """A pool view for ``user``; a revert (a panic in the build) is a violation, and None."""
        try:
            return self.port.call("YieldScalesPool", function, (user,))
        except ContractRevert as exc:
            self.violate("yield", user, f"YieldScalesPool.{function} reverted", function=label, error=repr(exc))
            return None

    def _before(self, sender: str, contract: str, function: str, args: tuple, value: int) -> None:
        self._owed_before = None
        if contract == "YieldScalesPool" and function in self.WRITES:
            user = sender if function == "claimYield" else (args[0] if args else None)
            if user in self.ledger:
                self._owed_before = self._view("calculateYieldOwed", user, f"YieldScalesPool.{function}")

    def _on_transaction(self, record: dict, receipt) -> None:
        function = record["fn"]
        if record["to"] != "YieldScalesPool" or function not in self.WRITES:
            return
        label = f"YieldScalesPool.{function}"
        now = self.genesis + record["t"]
        self.index += self.rate * (now - self.index_at)
        self.index_at = now
        user = record["from"] if function == "claimYield" else record["args"][0]
        owed_before, self._owed_before = self._owed_before, None
        position = self.ledger.get(user)
        if position is None:  # a join
            kind = 0 if function == "joinAsBitcoinHolder" else 1
            base = self.port.rbtc_balance(user) if kind == 0 else record["args"][1]
            position = self.ledger[user] = Position(kind, base, 0, now, self.index, Fraction(0), changed_at=now)
            self.paths[f"join_{KIND_NAMES[kind]}"] += 1
        else:
            tier_before = position.tier
            self._checkpoint(position, now)
            if position.tier > tier_before:
                self.paths[f"tier:{KIND_NAMES[position.kind]}:{TIER_NAMES[position.tier]}"] += 1
            if function == "joinAsTrader":
                position.base += record["args"][1]
            elif function == "updateRBTCContribution":
                position.base = record["args"][1]
                self.paths["contribution_update"] += 1
            elif function == "emergencyBurn":
                self.paths["pool_emergency_burn"] += 1
                if position.kind == 0:
                    position.base = 0
        self._weigh(position, +1)
        participant = self._view("participants", user, label)
        owed_after = self._view("calculateYieldOwed", user, label)
        if function == "claimYield" and participant is not None:
            paid = participant[_CLAIMED] - position.claimed
            position.claimed += paid
            self.claimed_total += paid
            self.paths["claim"] += 1
            if isinstance(owed_before, int) and paid != owed_before:
                self.violate("yield", user, "a claim paid other than what the participant was owed", function=label,
                             paid=paid, owed_before=owed_before)
            if isinstance(owed_after, int) and owed_after != 0:
                self.violate("yield", user, "a claim left yield owed", function=label, owed_after=owed_after)
            if position.claimed > position.earned:
                self.violate("yield", user, "a claim took more than had accrued", function=label,
                             claimed=position.claimed, accrued=float(position.earned))
        elif isinstance(owed_before, int) and isinstance(owed_after, int) and owed_after < owed_before:
            self.violate("yield", user, "owed yield fell across a write that is not a claim", function=label,
                         owed_before=owed_before, owed_after=owed_after)
        if participant is not None and participant[_TIER] != position.tier:
            self.violate("yield", user, "the participant's tier differs from the one its time in the pool gives",
                         function=label, tier=participant[_TIER], expected_tier=position.tier,
                         days_in_pool=(now - position.joined_at) // 86_400, kind=KIND_NAMES[position.kind])
        if isinstance(owed_after, int):
            exact = position.earned  # checkpointed just now: nothing is pending at this index
            if not 0 <= exact - (position.claimed + owed_after) < position.checkpoints + 1:
                self.violate("yield", user, "accrued yield differs from the exact accrual by more than rounding",
                             function=label, claimed_plus_owed=position.claimed + owed_after, exact=float(exact),
                             checkpoints=position.checkpoints)
        self.supply = self.port.total_supply()
        self.peak = max(self.peak, self.supply)
        self.rate = min(self.p.max_rate, self.p.base_rate * (self.supply * 100 // self.peak) * 100 // 10_000)
        reported = self.port.call("YieldScalesPool", "calculateYieldRate")
        if reported != self.rate:
            self.violate("yield", user, "the pool's rate differs from the rate the scales prescribe", function=label,
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
            owed = self._view("calculateYieldOwed", user, "YieldScalesPool.calculateYieldOwed")
            if owed is None:
                continue
            paid_and_owed = position.claimed + owed
            if not 0 <= exact - paid_and_owed < position.checkpoints + 1:
                self.violate("yield", user, "accrued yield differs from the exact accrual by more than rounding",
                             function="YieldScalesPool.calculateYieldOwed", claimed_plus_owed=paid_and_owed,
                             exact=float(exact), checkpoints=position.checkpoints)

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

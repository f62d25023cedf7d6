"""YieldScalesPool.sol: virtual yield positions for Bitcoin holders and traders. Holds no funds.

Rate in basis points: min(maxRate, baseRate * rbtcScale * usdtScale / 10000), where the USDT scale is
100 and the rBTC scale is totalSupply * 100 / peakSupply, refreshed whenever the pool is touched.
Yield accrues through a global index of rate x seconds: a rate change applies from that moment on, and
every participant is checkpointed (accrued at its tier, then its tier re-evaluated) before anything
changes its base.
"""

from __future__ import annotations

from contracts_model.accounts import ZERO_ADDRESS
from contracts_model.contract import NONPAYABLE, VIEW, Contract
from contracts_model.errors import (
    AlreadyParticipant,
    DisputeAlreadyFiled,
    InsufficientBalance,
    InvalidAmount,
    InvalidParticipant,
    NoDispute,
    NothingToClaim,
    NotOracle,
    NotParticipant,
    PoolActive,
    RevertString,
)
from contracts_model.evm_math import add, div, mul, sub
from contracts_model.params import DAY
from contracts_model.storage import Mapping, Struct

TYPE_BITCOIN_HOLDER = 0
TYPE_TRADER = 1
USDT_SCALE = 100
ACCRUAL_DIVISOR = 10_000 * 31_536_000 * 100
EMERGENCY_REASON = "Insufficient fees"


class Participant(Struct):
    __slots__ = FIELDS = (
        "participantType",  # 0 = Bitcoin holder, 1 = trader
        "virtualUSDTDeposited",
        "rbtcContributed",
        "yieldEarned",  # accrued up to the last checkpoint
        "yieldClaimed",
        "joinedAt",
        "lastActivityAt",
        "loyaltyTier",  # 0 = Bronze, 1 = Silver, 2 = Gold
    )


class ScalesBalance(Struct):
    __slots__ = FIELDS = ("usdtScale", "rbtcScale", "lastUpdated")


class YieldMetrics(Struct):
    __slots__ = FIELDS = ("baseYieldRate", "currentYieldRate", "totalYieldDistributed", "peakRBTCSupply")


class YieldParameters(Struct):
    __slots__ = FIELDS = (
        "baseRate", "maxRate", "silverAfter", "goldAfter", "bronzeMultiplier", "silverMultiplier",
        "goldMultiplier",
    )


# What `participants[user]` reads for an address that never joined (never written through).
_NO_PARTICIPANT = Participant(None, 0, 0, 0, 0, 0, 0, 0, 0)


class YieldScalesPool(Contract):
    FUNCTIONS = {
        "rbtcSynth": ((), VIEW),
        "feeVault": ((), VIEW),
        "oracle": ((), VIEW),
        "participants": (("address",), VIEW),
        "participantIndex": (("address",), VIEW),
        "disputedBalances": (("address",), VIEW),
        "scalesBalance": ((), VIEW),
        "yieldMetrics": ((), VIEW),
        "yieldParameters": ((), VIEW),
        "totalVirtualUSDT": ((), VIEW),
        "totalParticipants": ((), VIEW),
        "yieldIndex": ((), VIEW),
        "indexUpdatedAt": ((), VIEW),
        "configureYield": (("uint256",) * 7, NONPAYABLE),
        "joinAsBitcoinHolder": (("address",), NONPAYABLE),
        "joinAsTrader": (("address", "uint256"), NONPAYABLE),
        "updateRBTCContribution": (("address", "uint256"), NONPAYABLE),
        "emergencyBurn": (("address", "uint256"), NONPAYABLE),
        "resolveDispute": (("address", "bool"), NONPAYABLE),
        "claimYield": ((), NONPAYABLE),
        "disputeBalance": (("uint256", "uint256"), NONPAYABLE),
        "calculateYieldRate": ((), VIEW),
        "calculateYieldOwed": (("address",), VIEW),
        "getScaleBalance": ((), VIEW),
        "getParticipant": (("address",), VIEW),
        "getSystemStats": ((), VIEW),
        "isDisputed": (("address",), VIEW),
    }
    CONSTRUCTOR = (("address", "address", "address"), NONPAYABLE)

    def __init__(self, chain, address, rbtcSynth_, feeVault_, oracle_):
        super().__init__(chain, address)
        if rbtcSynth_ == ZERO_ADDRESS:
            raise RevertString("Invalid rBTC address")
        if feeVault_ == ZERO_ADDRESS:
            raise RevertString("Invalid FeeVault address")
        if oracle_ == ZERO_ADDRESS:
            raise RevertString("Invalid oracle address")
        s = self.s
        j = s._journal
        s.rbtcSynth = rbtcSynth_  # immutable IRBTCSynth
        s.feeVault = feeVault_  # immutable
        s.oracle = oracle_  # immutable
        s.participants = Mapping(j, _NO_PARTICIPANT)
        s.participantIndex = Mapping(j, 0)
        s.disputedBalances = Mapping(j, False)
        now = chain.timestamp
        s.scalesBalance = ScalesBalance(j, USDT_SCALE, 0, now)
        s.yieldParameters = YieldParameters(j, 500, 2000, 180 * DAY, 365 * DAY, 110, 125, 150)
        s.yieldMetrics = YieldMetrics(j, 500, 0, 0, 1)
        s.totalVirtualUSDT = 0
        s.totalParticipants = 0
        s.yieldIndex = 0  # sum over time of rate (bps) x seconds, brought up to date at indexUpdatedAt
        s.indexUpdatedAt = now
        self._rbtcSynth = chain.code_at(rbtcSynth_)

    # ------------------------------------------------------------------ modifiers

    def _onlyOracle(self, msg):
        if msg.sender != self.s.oracle:
            raise NotOracle()

    def _onlyParticipant(self, user):
        if self.s.participants[user].joinedAt == 0:
            raise NotParticipant()

    # ------------------------------------------------------------------ configuration

    def configureYield(self, msg, baseRate, maxRate, silverAfter, goldAfter, bronzeMultiplier,
                       silverMultiplier, goldMultiplier):
        """Sets the yield parameters; only before the first participant joins."""
        self._onlyOracle(msg)
        s = self.s
        if s.totalParticipants != 0:
            raise PoolActive()
        if silverAfter > goldAfter:
            raise InvalidAmount()
        self._accrueIndex()
        s.yieldParameters = YieldParameters(
            s._journal, baseRate, maxRate, silverAfter, goldAfter, bronzeMultiplier, silverMultiplier,
            goldMultiplier,
        )
        s.yieldMetrics.baseYieldRate = baseRate
        self._refreshScales()
        self._emit(
            "YieldParametersSet", baseRate, maxRate, silverAfter, goldAfter, bronzeMultiplier,
            silverMultiplier, goldMultiplier,
        )

    # ------------------------------------------------------------------ participants (oracle)

    def joinAsBitcoinHolder(self, msg, user):
        self._onlyOracle(msg)
        s = self.s
        if s.participants[user].joinedAt != 0:
            raise AlreadyParticipant()
        held = self._rbtcSynth.balanceOf(self._as_caller, user)
        if held == 0:
            raise InsufficientBalance()
        self._accrueIndex()
        now = self._chain.timestamp
        s.participants[user] = Participant(s._journal, TYPE_BITCOIN_HOLDER, 0, held, 0, 0, now, now, 0)
        s.participantIndex[user] = s.yieldIndex
        s.totalParticipants = add(s.totalParticipants, 1)
        self._refreshScales()
        self._emit("ParticipantJoined", user, TYPE_BITCOIN_HOLDER, held)

    def joinAsTrader(self, msg, user, virtualUSDT):
        self._onlyOracle(msg)
        s = self.s
        if virtualUSDT == 0:
            raise InvalidAmount()
        self._accrueIndex()
        now = self._chain.timestamp
        p = s.participants[user]
        if p.joinedAt == 0:
            s.participants[user] = Participant(s._journal, TYPE_TRADER, virtualUSDT, 0, 0, 0, now, now, 0)
            s.participantIndex[user] = s.yieldIndex
            s.totalParticipants = add(s.totalParticipants, 1)
        else:
            if p.participantType != TYPE_TRADER:
                raise InvalidParticipant()
            self._checkpoint(user)
            p.virtualUSDTDeposited = add(p.virtualUSDTDeposited, virtualUSDT)
            p.lastActivityAt = now
        s.totalVirtualUSDT = add(s.totalVirtualUSDT, virtualUSDT)
        self._refreshScales()
        self._emit("ParticipantJoined", user, TYPE_TRADER, virtualUSDT)

    def updateRBTCContribution(self, msg, user, newRBTCBalance):
        self._onlyOracle(msg)
        self._onlyParticipant(user)
        s = self.s
        p = s.participants[user]
        if p.participantType != TYPE_BITCOIN_HOLDER:
            raise InvalidParticipant()
        self._accrueIndex()
        self._checkpoint(user)
        old = p.rbtcContributed
        p.rbtcContributed = newRBTCBalance
        p.lastActivityAt = self._chain.timestamp
        self._refreshScales()
        self._emit("ContributionUpdated", user, old, newRBTCBalance)

    def emergencyBurn(self, msg, user, burnedAmount):
        self._onlyOracle(msg)
        self._onlyParticipant(user)
        self._accrueIndex()
        self._checkpoint(user)
        p = self.s.participants[user]
        if p.participantType == TYPE_BITCOIN_HOLDER:
            p.rbtcContributed = 0
        p.lastActivityAt = self._chain.timestamp
        self._refreshScales()
        self._emit("EmergencyBurnTriggered", user, burnedAmount, EMERGENCY_REASON)

    def resolveDispute(self, msg, user, accepted):
        self._onlyOracle(msg)
        s = self.s
        if not s.disputedBalances[user]:
            raise NoDispute()
        s.disputedBalances[user] = False
        self._emit("DisputeResolved", user, accepted)

    # ------------------------------------------------------------------ participants (self)

    def claimYield(self, msg):
        self._onlyParticipant(msg.sender)
        self._accrueIndex()
        self._checkpoint(msg.sender)
        s = self.s
        p = s.participants[msg.sender]
        amount = sub(p.yieldEarned, p.yieldClaimed)
        if amount == 0:
            raise NothingToClaim()
        p.yieldClaimed = add(p.yieldClaimed, amount)
        p.lastActivityAt = self._chain.timestamp
        s.yieldMetrics.totalYieldDistributed = add(s.yieldMetrics.totalYieldDistributed, amount)
        self._refreshScales()
        self._emit("YieldClaimed", msg.sender, amount)

    def disputeBalance(self, msg, reportedBalance, oracleBalance):
        self._onlyParticipant(msg.sender)
        s = self.s
        if s.disputedBalances[msg.sender]:
            raise DisputeAlreadyFiled()
        s.disputedBalances[msg.sender] = True
        self._emit("BalanceDisputed", msg.sender, reportedBalance, oracleBalance)

    # ------------------------------------------------------------------ views

    def calculateYieldRate(self, msg):
        return self._rate(self.s.scalesBalance.rbtcScale)

    def calculateYieldOwed(self, msg, user):
        self._onlyParticipant(user)
        s = self.s
        p = s.participants[user]
        elapsed = sub(self._chain.timestamp, s.indexUpdatedAt)
        index = add(s.yieldIndex, mul(s.yieldMetrics.currentYieldRate, elapsed))
        accrued = self._accrued(p, sub(index, s.participantIndex[user]))
        return sub(add(p.yieldEarned, accrued), p.yieldClaimed)

    def getScaleBalance(self, msg):
        b = self.s.scalesBalance
        return (b.usdtScale, b.rbtcScale, b.lastUpdated)

    def getParticipant(self, msg, user):
        return self.s.participants[user].as_tuple()

    def getSystemStats(self, msg):
        s = self.s
        return (
            s.totalParticipants,
            s.totalVirtualUSDT,
            s.yieldMetrics.currentYieldRate,
            s.yieldMetrics.totalYieldDistributed,
            s.scalesBalance.usdtScale,
            s.scalesBalance.rbtcScale,
        )

    def isDisputed(self, msg, user):
        return self.s.disputedBalances[user]

    # public state-variable getters
    def rbtcSynth(self, msg):
        return self.s.rbtcSynth

    def feeVault(self, msg):
        return self.s.feeVault

    def oracle(self, msg):
        return self.s.oracle

    def participants(self, msg, user):
        return self.s.participants[user].as_tuple()

    def participantIndex(self, msg, user):
        return self.s.participantIndex[user]

    def disputedBalances(self, msg, user):
        return self.s.disputedBalances[user]

    def scalesBalance(self, msg):
        return self.s.scalesBalance.as_tuple()

    def yieldMetrics(self, msg):
        return self.s.yieldMetrics.as_tuple()

    def yieldParameters(self, msg):
        return self.s.yieldParameters.as_tuple()

    def totalVirtualUSDT(self, msg):
        return self.s.totalVirtualUSDT

    def totalParticipants(self, msg):
        return self.s.totalParticipants

    def yieldIndex(self, msg):
        return self.s.yieldIndex

    def indexUpdatedAt(self, msg):
        return self.s.indexUpdatedAt

    # ------------------------------------------------------------------ internals

    def _rate(self, rbtcScale):
        params = self.s.yieldParameters
        rate = mul(mul(params.baseRate, rbtcScale), USDT_SCALE) // 10_000
        return params.maxRate if rate > params.maxRate else rate

    def _accrued(self, p, indexDelta):
        base = p.virtualUSDTDeposited if p.participantType == TYPE_TRADER else p.rbtcContributed
        return mul(mul(base, indexDelta), self._multiplier(p.loyaltyTier)) // ACCRUAL_DIVISOR

    def _multiplier(self, tier):
        params = self.s.yieldParameters
        if tier == 2:
            return params.goldMultiplier
        if tier == 1:
            return params.silverMultiplier
        return params.bronzeMultiplier

    def _accrueIndex(self):
        """Brings the global index up to now at the rate that held since its last update."""
        s = self.s
        now = self._chain.timestamp
        elapsed = sub(now, s.indexUpdatedAt)
        s.yieldIndex = add(s.yieldIndex, mul(s.yieldMetrics.currentYieldRate, elapsed))
        s.indexUpdatedAt = now

    def _checkpoint(self, user):
        """Accrues what the participant earned since its last checkpoint at its tier, then re-evaluates
        the tier. The global index must be current."""
        s = self.s
        p = s.participants[user]
        p.yieldEarned = add(p.yieldEarned, self._accrued(p, sub(s.yieldIndex, s.participantIndex[user])))
        s.participantIndex[user] = s.yieldIndex
        age = sub(self._chain.timestamp, p.joinedAt)
        params = s.yieldParameters
        p.loyaltyTier = 2 if age >= params.goldAfter else (1 if age >= params.silverAfter else 0)

    def _refreshScales(self):
        """Re-reads the rBTC supply, tracks its peak and sets the rate that applies from now on."""
        s = self.s
        supply = self._rbtcSynth.totalSupply(self._as_caller)
        metrics = s.yieldMetrics
        if supply > metrics.peakRBTCSupply:
            metrics.peakRBTCSupply = supply
        rbtcScale = div(mul(supply, 100), metrics.peakRBTCSupply)
        now = self._chain.timestamp
        s.scalesBalance.rbtcScale = rbtcScale
        s.scalesBalance.lastUpdated = now
        metrics.currentYieldRate = self._rate(rbtcScale)
        self._emit("ScalesBalanceUpdated", USDT_SCALE, rbtcScale, now)
        self._emit("YieldCalculated", s.totalVirtualUSDT, supply, metrics.currentYieldRate)

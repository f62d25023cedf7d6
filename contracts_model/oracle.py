"""OracleAggregator.sol: applies the committee's confirmed BTC balances to rBTC-SYNTH.

sync(user, newBalanceSats): delta = new - lastSats[user]; the fee is quoted and capped; a user who
cannot pay a decrease is emergency-burned to zero; a user who cannot pay an increase gets NeedsTopUp
and nothing changes; otherwise |delta| is minted or burned and the fee is spent from the user's vault
balance.
"""

from __future__ import annotations

from contracts_model.accounts import ZERO_ADDRESS
from contracts_model.chain import Msg
from contracts_model.contract import NONPAYABLE, PAYABLE, VIEW, Contract
from contracts_model.errors import (
    BalanceOutOfRange,
    BareRevert,
    FeeCapExceeded,
    Restricted,
    RevertString,
    ZeroAddress,
    ZeroValue,
)
from contracts_model.evm_math import INT64_MAX, add, uint32, uint64
from contracts_model.storage import Mapping

EMERGENCY_REASON = "Insufficient fees"


class OracleAggregator(Contract):
    FUNCTIONS = {
        "synth": ((), VIEW),
        "feeVault": ((), VIEW),
        "feePolicy": ((), VIEW),
        "committee": ((), VIEW),
        "minConfirmations": ((), VIEW),
        "maxFeePerSyncWei": ((), VIEW),
        "lastSats": (("address",), VIEW),
        "emergencyBurnExecuted": (("address",), VIEW),
        "totalEmergencyBurns": ((), VIEW),
        "sync": (("address", "uint64", "bytes"), NONPAYABLE),
        "executeEmergencyBurn": (("address",), NONPAYABLE),
        "resetEmergencyBurnStatus": (("address",), NONPAYABLE),
        "registerAndPrepay": (("address", "uint8", "bytes32"), PAYABLE),
    }
    CONSTRUCTOR = (("address", "address", "address", "address", "uint256", "uint256"), NONPAYABLE)

    def __init__(self, chain, address, synth_, feeVault_, feePolicy_, committee_, minConfirmations_,
                 maxFeePerSyncWei_):
        super().__init__(chain, address)
        if ZERO_ADDRESS in (synth_, feeVault_, feePolicy_, committee_):
            raise ZeroAddress()
        s = self.s
        s.synth = synth_  # immutable IRBTCSynth
        s.feeVault = feeVault_  # immutable IFeeVault
        s.feePolicy = feePolicy_  # immutable IFeePolicy
        s.committee = committee_  # immutable
        s.minConfirmations = minConfirmations_  # immutable
        s.maxFeePerSyncWei = maxFeePerSyncWei_  # immutable
        s.lastSats = Mapping(s._journal, 0)
        s.emergencyBurnExecuted = Mapping(s._journal, False)
        s.totalEmergencyBurns = 0
        s._locked = 1
        # The code behind the interface-typed immutables (deployed before this contract).
        self._synth = chain.code_at(synth_)
        self._feeVault = chain.code_at(feeVault_)
        self._feePolicy = chain.code_at(feePolicy_)

    # modifier nonReentrant, as in FeeVault.
    def _nonReentrantBefore(self):
        s = self.s
        if s._locked != 1:
            raise RevertString("reentrant")
        s._locked = 2

    def _nonReentrantAfter(self):
        self.s._locked = 1

    # ------------------------------------------------------------------ getters

    def synth(self, msg):
        return self.s.synth

    def feeVault(self, msg):
        return self.s.feeVault

    def feePolicy(self, msg):
        return self.s.feePolicy

    def committee(self, msg):
        return self.s.committee

    def minConfirmations(self, msg):
        return self.s.minConfirmations

    def maxFeePerSyncWei(self, msg):
        return self.s.maxFeePerSyncWei

    def lastSats(self, msg, user):
        return self.s.lastSats[user]

    def emergencyBurnExecuted(self, msg, user):
        return self.s.emergencyBurnExecuted[user]

    def totalEmergencyBurns(self, msg):
        return self.s.totalEmergencyBurns

    # ------------------------------------------------------------------ committee

    def sync(self, msg, user, newBalanceSats, proof):
        if msg.sender != self.s.committee:  # onlyCommittee
            raise Restricted()
        self._nonReentrantBefore()
        self._sync(user, newBalanceSats)
        self._nonReentrantAfter()

    def _sync(self, user, newBalanceSats):
        """The body of sync (a `return` here still runs the rest of the modifiers)."""
        s = self.s
        if user == ZERO_ADDRESS:
            raise ZeroAddress()
        if newBalanceSats > INT64_MAX:
            raise BalanceOutOfRange()
        previous = s.lastSats[user]
        # int64(newBalanceSats) - int64(previous): lastSats only ever holds a newBalanceSats that passed
        # the check above, or 0, so both casts are exact and the difference cannot overflow int64.
        delta = newBalanceSats - previous
        if delta == 0:
            return

        feeWei = self._feePolicy.quoteFees(self._as_caller, user, delta)
        if feeWei > s.maxFeePerSyncWei:
            raise FeeCapExceeded()

        if self._feeVault.balanceOf(self._as_caller, user) < feeWei:
            if delta < 0:
                self._emergencyBurn(user, previous)
            else:
                self._emit("NeedsTopUp", user)
            return

        s.lastSats[user] = newBalanceSats
        if delta > 0:
            self._synth.oracleMint(self._as_caller, user, delta)
        else:
            self._synth.oracleBurn(self._as_caller, user, -delta)
        if feeWei > 0:
            self._feeVault.spendFrom(self._as_caller, user, feeWei)
        chain = self._chain
        self._emit("Synced", user, newBalanceSats, delta, feeWei, uint32(chain.number), uint64(chain.timestamp))

    def executeEmergencyBurn(self, msg, user):
        if msg.sender != self.s.committee:  # onlyCommittee
            raise Restricted()
        self._nonReentrantBefore()
        recorded = self.s.lastSats[user]
        if recorded > 0:
            self._emergencyBurn(user, recorded)
        self._nonReentrantAfter()

    def resetEmergencyBurnStatus(self, msg, user):
        if msg.sender != self.s.committee:  # onlyCommittee
            raise Restricted()
        self.s.emergencyBurnExecuted[user] = False

    def registerAndPrepay(self, msg, user, method, checksum):
        if msg.sender != self.s.committee:  # onlyCommittee
            raise Restricted()
        self._nonReentrantBefore()
        if user == ZERO_ADDRESS:
            raise ZeroAddress()
        if msg.value == 0:
            raise ZeroValue()
        # feeVault.depositETH{value: msg.value}(user): the call carries the value to the vault.
        if not self._chain.move_value(self.address, self.s.feeVault, msg.value):
            raise BareRevert()
        self._feeVault.depositETH(Msg(self.address, msg.value), user)
        self._nonReentrantAfter()

    # ------------------------------------------------------------------ internal

    def _emergencyBurn(self, user, amount):
        """Burns the user's whole recorded balance; charges nothing."""
        s = self.s
        s.lastSats[user] = 0
        self._synth.oracleBurn(self._as_caller, user, amount)
        s.emergencyBurnExecuted[user] = True
        s.totalEmergencyBurns = add(s.totalEmergencyBurns, 1)
        self._emit("EmergencyBurn", user, amount, EMERGENCY_REASON)
        # -int64(amount): amount is a lastSats value, at most type(int64).max, so both are exact.
        chain = self._chain
        self._emit("Synced", user, 0, -amount, 0, uint32(chain.number), uint64(chain.timestamp))

"""FeeVault.sol: prepaid sync fees per user, in ETH.

Anyone prepays for a user; only the oracle contract spends, always to the fee collector; a user takes
back its unused balance. The vault's ETH equals the sum of its balances.
"""

from __future__ import annotations

from contracts_model.accounts import ZERO_ADDRESS
from contracts_model.contract import NONPAYABLE, PAYABLE, VIEW, Contract
from contracts_model.errors import (
    FeeTransferFailed,
    InsufficientBalance,
    NotOracle,
    RevertString,
    WithdrawTransferFailed,
    ZeroAddress,
    ZeroValue,
)
from contracts_model.evm_math import add
from contracts_model.storage import Mapping


class FeeVault(Contract):
    FUNCTIONS = {
        "oracle": ((), VIEW),
        "feeCollector": ((), VIEW),
        "balanceOf": (("address",), VIEW),
        "depositETH": (("address",), PAYABLE),
        "spendFrom": (("address", "uint256"), NONPAYABLE),
        "withdrawUnused": ((), NONPAYABLE),
        "receive": ((), PAYABLE),  # plain ETH transfer (empty calldata)
        "fallback": ((), PAYABLE),  # calldata matching no function
    }
    CONSTRUCTOR = (("address", "address"), NONPAYABLE)

    def __init__(self, chain, address, oracle_, feeCollector_):
        super().__init__(chain, address)
        if oracle_ == ZERO_ADDRESS or feeCollector_ == ZERO_ADDRESS:
            raise ZeroAddress()
        s = self.s
        s.oracle = oracle_  # immutable
        s.feeCollector = feeCollector_  # immutable
        s._balanceOf = Mapping(s._journal, 0)
        s._locked = 1

    # modifier nonReentrant: _nonReentrantBefore(); body; _nonReentrantAfter(). A revert undoes the
    # lock with everything else, so the pair needs no try/finally.
    def _nonReentrantBefore(self):
        s = self.s
        if s._locked != 1:
            raise RevertString("reentrant")
        s._locked = 2

    def _nonReentrantAfter(self):
        self.s._locked = 1

    # ------------------------------------------------------------------ getters

    def oracle(self, msg):
        return self.s.oracle

    def feeCollector(self, msg):
        return self.s.feeCollector

    def balanceOf(self, msg, user):
        return self.s._balanceOf[user]

    # ------------------------------------------------------------------ functions

    def depositETH(self, msg, user):
        self._nonReentrantBefore()
        s = self.s
        if user == ZERO_ADDRESS:
            raise ZeroAddress()
        if msg.value == 0:
            raise ZeroValue()
        s._balanceOf[user] = add(s._balanceOf[user], msg.value)
        self._emit("Deposited", user, msg.value)
        self._nonReentrantAfter()

    def spendFrom(self, msg, user, amount):
        self._nonReentrantBefore()
        s = self.s
        if msg.sender != s.oracle:
            raise NotOracle()
        if amount == 0:
            raise ZeroValue()
        held = s._balanceOf[user]
        if held < amount:
            raise InsufficientBalance()
        s._balanceOf[user] = held - amount
        if not self._chain.send_value(self.address, s.feeCollector, amount):  # feeCollector.call{value}
            raise FeeTransferFailed()
        self._emit("Spent", user, amount, msg.sender)
        self._nonReentrantAfter()

    def withdrawUnused(self, msg):
        self._nonReentrantBefore()
        s = self.s
        held = s._balanceOf[msg.sender]
        if held == 0:
            raise InsufficientBalance()
        s._balanceOf[msg.sender] = 0
        if not self._chain.send_value(self.address, msg.sender, held):  # payable(msg.sender).call{value}
            raise WithdrawTransferFailed()
        self._emit("Withdrawn", msg.sender, held)
        self._nonReentrantAfter()

    def receive(self, msg):
        raise RevertString("DIRECT_ETH_REJECTED")

    def fallback(self, msg):
        raise RevertString("DIRECT_CALL_REJECTED")

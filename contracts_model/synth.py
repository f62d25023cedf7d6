"""RBTCSynth.sol: rBTC-SYNTH, a soulbound mirror of confirmed BTC, 1 token unit = 1 sat.

Only the oracle contract mints and burns; nothing ever moves between holders.
"""

from __future__ import annotations

from contracts_model.accounts import ZERO_ADDRESS
from contracts_model.contract import NONPAYABLE, PURE, VIEW, Contract
from contracts_model.errors import BurnExceeds, Restricted, RevertString, Soulbound
from contracts_model.evm_math import add, sub
from contracts_model.storage import Mapping


class RBTCSynth(Contract):
    FUNCTIONS = {
        "name": ((), VIEW),
        "symbol": ((), VIEW),
        "decimals": ((), VIEW),
        "oracle": ((), VIEW),
        "totalSupply": ((), VIEW),
        "balanceOf": (("address",), VIEW),
        "oracleMint": (("address", "uint64"), NONPAYABLE),
        "oracleBurn": (("address", "uint64"), NONPAYABLE),
        "transfer": (("address", "uint256"), PURE),
        "transferFrom": (("address", "address", "uint256"), PURE),
        "approve": (("address", "uint256"), PURE),
        "allowance": (("address", "address"), PURE),
    }
    CONSTRUCTOR = (("address",), NONPAYABLE)

    TOKEN_NAME = "Reserve BTC Synth"  # string public constant name
    SYMBOL = "rBTC-SYNTH"  # string public constant symbol
    DECIMALS = 8  # uint8 public constant decimals

    def __init__(self, chain, address, oracle_):
        super().__init__(chain, address)
        if oracle_ == ZERO_ADDRESS:
            raise RevertString("oracle=0")
        s = self.s
        s.oracle = oracle_  # immutable
        s.totalSupply = 0
        s.balanceOf = Mapping(s._journal, 0)

    # ------------------------------------------------------------------ getters

    def name(self, msg):
        return self.TOKEN_NAME

    def symbol(self, msg):
        return self.SYMBOL

    def decimals(self, msg):
        return self.DECIMALS

    def oracle(self, msg):
        return self.s.oracle

    def totalSupply(self, msg):
        return self.s.totalSupply

    def balanceOf(self, msg, user):
        return self.s.balanceOf[user]

    # ------------------------------------------------------------------ oracle

    def oracleMint(self, msg, user, deltaSats):
        s = self.s
        if msg.sender != s.oracle:  # onlyOracle
            raise Restricted()
        if deltaSats == 0:
            return
        s.balanceOf[user] = add(s.balanceOf[user], deltaSats)
        s.totalSupply = add(s.totalSupply, deltaSats)
        self._emit("Transfer", ZERO_ADDRESS, user, deltaSats)

    def oracleBurn(self, msg, user, deltaSats):
        s = self.s
        if msg.sender != s.oracle:  # onlyOracle
            raise Restricted()
        if deltaSats == 0:
            return
        held = s.balanceOf[user]
        if held < deltaSats:
            raise BurnExceeds()
        s.balanceOf[user] = held - deltaSats
        s.totalSupply = sub(s.totalSupply, deltaSats)
        self._emit("Transfer", user, ZERO_ADDRESS, deltaSats)

    # ------------------------------------------------------------------ soulbound ERC-20 surface

    def transfer(self, msg, to, amount):
        raise Soulbound()

    def transferFrom(self, msg, sender, to, amount):
        raise Soulbound()

    def approve(self, msg, spender, amount):
        raise Soulbound()

    def allowance(self, msg, owner, spender):
        return 0

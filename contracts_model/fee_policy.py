"""FeePolicy.sol: the fee for one sync.

fee = fixedWei, plus delta * weiPerSat * pctBps / 10000 (floor) when delta > 0.
"""

from __future__ import annotations

from contracts_model.contract import NONPAYABLE, VIEW, Contract
from contracts_model.evm_math import add, mul


class FeePolicy(Contract):
    FUNCTIONS = {
        "pctBps": ((), VIEW),
        "fixedWei": ((), VIEW),
        "weiPerSat": ((), VIEW),
        "quoteFees": (("address", "int64"), VIEW),
    }
    CONSTRUCTOR = (("uint256", "uint256", "uint256"), NONPAYABLE)

    def __init__(self, chain, address, pctBps_, fixedWei_, weiPerSat_):
        super().__init__(chain, address)
        s = self.s
        s.pctBps = pctBps_  # immutable
        s.fixedWei = fixedWei_  # immutable
        s.weiPerSat = weiPerSat_  # immutable

    def pctBps(self, msg):
        return self.s.pctBps

    def fixedWei(self, msg):
        return self.s.fixedWei

    def weiPerSat(self, msg):
        return self.s.weiPerSat

    def quoteFees(self, msg, user, deltaSats):
        s = self.s
        feeWei = 0
        if deltaSats > 0:
            # uint256(uint64(deltaSats)) * weiPerSat * pctBps / 10_000, each product checked
            feeWei = mul(mul(deltaSats, s.weiPerSat), s.pctBps) // 10_000
        return add(feeWei, s.fixedWei)

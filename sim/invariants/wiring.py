"""The deployment is live: no protocol call fails for lack of a role, and every holder the rules make
eligible becomes a pool participant.

A deployment file can give a role to an account or contract that never exercises it (in the deployed
system the pool's oracle is the OracleAggregator contract, which never calls the pool). The world then
runs, but part of the protocol is dead; this monitor says so, naming the role and the call.
"""

from __future__ import annotations

from contracts_model.errors import ContractRevert
from sim.invariants.ledger import RESTRICTED

ACCESS_ERRORS = ("Restricted", "NotOracle")


class WiringMonitor:
    def __init__(self, port, violate, join_holders: bool):
        self.port, self.violate, self.join_holders = port, violate, join_holders
        self.holders = {role: port.role_address(role) for role in set(RESTRICTED.values())}
        self._reported: set[tuple[str, str]] = set()
        port.subscribe_reverts(self._reverted)

    def _reverted(self, record: dict, error: ContractRevert) -> None:
        role = RESTRICTED.get((record["to"], record["fn"]))
        if role is not None and error.error_name in ACCESS_ERRORS and record["from"] == self.holders[role]:
            self.violate("wiring", record["from"], f"the holder of role {role} was refused {error.error_name}()",
                         function=f"{record['to']}.{record['fn']}", role=role)

    def final_check(self, holders_of_rbtc) -> None:
        """Every user holding rBTC is a pool participant (when the scenario's committee joins holders)."""
        if not self.join_holders:
            return
        for user in holders_of_rbtc:
            joined = self.port.call("YieldScalesPool", "participants", (user,))[5]
            if joined == 0:
                self.violate("wiring", user, "a holder of rBTC never became a pool participant",
                             function="YieldScalesPool.joinAsBitcoinHolder")

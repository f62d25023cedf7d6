"""What the contracts see of the chain: the call context, the block, ETH balances, logs, other code.

`Chain` is the one environment object shared by the contracts of a system: the block context
(`number`, `timestamp`), the ETH balance of every account, the code at each address, the event log
of the running transaction and the undo journal that makes a transaction atomic.
"""

from __future__ import annotations

import attrs

from contracts_model.errors import BareRevert
from contracts_model.storage import Mapping, rollback


@attrs.frozen(slots=True)
class Msg:
    """The call context: `msg.sender` and `msg.value` of the current call frame."""

    sender: str
    value: int = 0


class _NoCode:
    """The code at an address without a contract: any external call to it reverts without data
    (solc checks extcodesize before a call, or fails decoding the empty return data)."""

    def __getattr__(self, name):
        raise BareRevert()


NO_CODE = _NoCode()


class Chain:
    def __init__(self, number: int, timestamp: int):
        self.number = number
        self.timestamp = timestamp
        self.journal: list = []  # undo entries of the running transaction
        self.logs: list = []  # events of the running transaction, in emission order
        self.balances = Mapping(self.journal, 0)  # address -> wei
        self.code: dict = {}  # address -> contract model

    def deploy(self, contract) -> None:
        """Puts a constructed contract model at its address."""
        if contract.address in self.code:
            raise ValueError(f"there is already a contract at {contract.address}")
        self.code[contract.address] = contract

    def code_at(self, address: str):
        """The contract model at `address`, or NO_CODE when it is an account without code."""
        return self.code.get(address, NO_CODE)

    def move_value(self, sender: str, recipient: str, amount: int) -> bool:
        """Moves `amount` wei; False (and nothing moves) if the sender holds less."""
        balances = self.balances
        held = balances[sender]
        if held < amount:
            return False
        balances[sender] = held - amount
        balances[recipient] += amount
        return True

    def send_value(self, sender: str, recipient: str, amount: int) -> bool:
        """`recipient.call{value: amount}("")` from a contract: the success flag.

        None of the system's contracts accepts plain ETH (FeeVault's receive reverts, the others have
        neither receive nor fallback), so a transfer to any of them fails; an account without code
        always accepts.
        """
        if recipient in self.code:
            return False
        return self.move_value(sender, recipient, amount)

    def commit(self) -> list:
        """Ends a successful transaction: its events, in emission order."""
        events = self.logs.copy()
        self.logs.clear()
        self.journal.clear()
        return events

    def abort(self) -> None:
        """Ends a failed transaction: every write undone, its events dropped."""
        rollback(self.journal)
        self.logs.clear()

"""What every contract model shares: its address, its state, emitting events, calling others.

A contract model mirrors one Solidity contract:
- each external/public function is a method of the same name taking `(msg, *abi_args)`, where `msg`
  is the caller's `Msg(sender, value)`; it returns what web3 would decode (one value, a tuple for
  several outputs or a struct, None for none) or raises a `ContractRevert`;
- its state variables live in `self.s` (a journaled `State`), named exactly as in Solidity;
- `FUNCTIONS` lists its ABI: name -> (input types, state mutability);
- a call to another contract passes `self._as_caller` (msg.sender = this contract, msg.value = 0).
"""

from __future__ import annotations

from contracts_model.chain import Chain, Msg
from contracts_model.events import Event
from contracts_model.storage import State

PURE, VIEW, NONPAYABLE, PAYABLE = "pure", "view", "nonpayable", "payable"


class Contract:
    NAME: str = ""
    FUNCTIONS: dict[str, tuple[tuple[str, ...], str]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.NAME = cls.__name__

    def __init__(self, chain: Chain, address: str):
        self.address = address
        self.s = State(chain.journal)
        self._chain = chain
        self._logs = chain.logs
        self._as_caller = Msg(address, 0)

    def _emit(self, event_name: str, *args) -> None:
        self._logs.append(Event(self.NAME, event_name, args))

    def __repr__(self):
        return f"<{self.NAME} model at {self.address}>"

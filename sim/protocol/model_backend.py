"""The model backend: the pure-Python reference contracts of :mod:`contracts_model`.

The models check call arguments against the ABI themselves (raising ``ArgumentError`` as the EVM
backend's encoder does), so this adapter only translates between the port and ``ModelSystem``.
"""

from __future__ import annotations

from typing import Any

from contracts_model.deployment import Deployment
from contracts_model.params import ProtocolParams
from contracts_model.system import ModelSystem
from sim.protocol.deployment import OPERATOR_FUNDING_WEI, Accounts
from sim.protocol.evm_backend import GENESIS_TIMESTAMP
from sim.protocol.port import Backend, Receipt


class ModelBackend(Backend):
    """The protocol as plain Python: the specification, and the fast path for large worlds."""

    name = "model"

    def __init__(
        self,
        params: ProtocolParams,
        *,
        accounts: Accounts | None = None,
        deployment: Deployment = Deployment(),
        genesis_timestamp: int = GENESIS_TIMESTAMP,
        genesis_block: int = 1,
    ):
        self.params = params
        self.accounts = accounts or Accounts()
        self.deployment = deployment
        self.system = ModelSystem(
            params,
            deployer=self.accounts.deployer,
            committee=self.accounts.committee,
            fee_collector=self.accounts.fee_collector,
            genesis_timestamp=genesis_timestamp,
            genesis_block=genesis_block,
            operator_funding_wei=OPERATOR_FUNDING_WEI,
            deployment=deployment,
        )
        self.addresses = dict(self.system.addresses)

    def transact(self, sender: str, contract: str, function: str, args: tuple = (), value: int = 0) -> Receipt:
        result, events = self.system.transact(sender, contract, function, args, value)
        return Receipt(result, tuple(events))

    def call(self, contract: str, function: str, args: tuple = ()) -> Any:
        return self.system.call(contract, function, args)

    def set_block(self, number: int, timestamp: int) -> None:
        self.system.set_block(number, timestamp)  # raises ValueError if either goes back

    @property
    def block(self) -> tuple[int, int]:
        return self.system.block_number, self.system.block_timestamp

    def eth_balance(self, address: str) -> int:
        return self.system.eth_balance(address)

    def set_eth_balance(self, address: str, wei: int) -> None:
        self.system.set_eth_balance(address, wei)

    def snapshot(self) -> Any:
        return self.system.snapshot()  # the block context included

    def revert(self, token: Any) -> None:
        self.system.revert(token)

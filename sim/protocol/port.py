"""The protocol port: the one interface everything above the contracts talks to.

A backend deploys the protocol (see :mod:`sim.protocol.deployment`) and then answers four things:
``transact`` (a state-changing call by some account), ``call`` (a view), the block context, and
ETH balances. Everything else — the typed helpers below, the oracle service, agents, invariant
monitors, the lockstep comparison — is written once against this interface, so a new backend (a
faster EVM, someone else's build of the contracts) plugs in by implementing the abstract methods.

Reverts surface as the exception classes of :mod:`contracts_model.errors`, named after the Solidity
errors, on every backend; arguments that do not fit the ABI raise
:class:`sim.evm.codec.InvalidArgument` before anything executes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from attrs import field, frozen

from contracts_model.deployment import Deployment
from contracts_model.events import Event
from contracts_model.params import ProtocolParams
from sim.protocol.deployment import Accounts


class RoleNotHeld(RuntimeError):
    """The harness was asked to act in a role that, in this deployment, a contract holds."""


@frozen
class Receipt:
    """The result of a successful transaction: the function's return value and every event, in order.

    ``gas`` is what the transaction cost (a receipt's ``gasUsed``: 21,000 intrinsic and calldata
    included, refunds deducted) on backends that meter it as a transaction would be (py-evm), and
    None elsewhere (the models; revm, see :mod:`sim.evm.revm_engine`). It is not part of equality:
    two backends agree on a receipt when their results and events agree.
    """

    result: Any
    events: tuple[Event, ...]
    gas: int | None = field(default=None, eq=False)


class Backend(ABC):
    """A deployed ReserveBTC system that can be called, observed and rewound."""

    #: Short name used on the command line and in reports (``model``, ``evm``, ``revm``, ``lockstep``…).
    name: str = "abstract"

    params: ProtocolParams
    accounts: Accounts
    #: Who holds each role (the project's own wiring unless a deployment file said otherwise).
    deployment: Deployment = Deployment()
    #: Contract name -> address (lowercase hex) of every deployed contract.
    addresses: dict[str, str]

    # ------------------------------------------------------------------ the port itself

    @abstractmethod
    def transact(self, sender: str, contract: str, function: str, args: tuple = (), value: int = 0) -> Receipt:
        """Run ``contract.function(*args)`` as a transaction from ``sender``; raise on revert (nothing changes)."""

    @abstractmethod
    def call(self, contract: str, function: str, args: tuple = ()) -> Any:
        """Evaluate a view function at the current block."""

    @abstractmethod
    def set_block(self, number: int, timestamp: int) -> None:
        """Set ``block.number`` and ``block.timestamp`` for later calls (never backwards)."""

    @property
    @abstractmethod
    def block(self) -> tuple[int, int]:
        """The current ``(block.number, block.timestamp)``."""

    @abstractmethod
    def eth_balance(self, address: str) -> int:
        """ETH (wei) held by an account or contract."""

    @abstractmethod
    def set_eth_balance(self, address: str, wei: int) -> None:
        """Give an account exactly ``wei`` (a faucet for simulated users)."""

    @abstractmethod
    def snapshot(self) -> Any:
        """A token for :meth:`revert`."""

    @abstractmethod
    def revert(self, token: Any) -> None:
        """Return to the state (and block context) of a :meth:`snapshot`."""

    def has(self, contract: str) -> bool:
        """Whether this deployment includes ``contract`` (ProofOfReserves is optional for foreign builds)."""
        return contract in self.addresses

    def has_function(self, contract: str, function: str) -> bool:
        """Whether the deployed ``contract`` has ``function`` (foreign builds may lack the project's extras)."""
        return contract in self.addresses

    def role_address(self, role: str) -> str:
        """The address holding ``role`` (an account or a contract)."""
        return self.deployment.address(role, self.accounts.as_dict())

    def actor(self, role: str) -> str:
        """The account the harness acts from in ``role``; :class:`RoleNotHeld` if a contract holds it."""
        sender = self.deployment.actor(role, self.accounts.as_dict())
        if sender is None:
            raise RoleNotHeld(f"role {role} is held by the contract {self.deployment.holder(role)}, "
                              "which the harness cannot make call")
        return sender

    def contract(self, name: str) -> "ContractProxy":
        """``backend.contract("RBTCSynth").balanceOf(user)`` calls a view;
        ``.oracleMint(user, 5, sender=addr)`` sends a transaction (``value=`` for payable functions)."""
        if name not in self.addresses:
            raise KeyError(f"no contract {name!r} in this deployment (has: {', '.join(self.addresses)})")
        return ContractProxy(self, name)

    # ------------------------------------------------------------------ typed helpers

    def sync(self, user: str, new_balance_sats: int, proof: bytes = b"") -> Receipt:
        return self.transact(self.actor("committee"), "OracleAggregator", "sync", (user, new_balance_sats, proof))

    def deposit(self, payer: str, user: str, wei: int) -> Receipt:
        return self.transact(payer, "FeeVault", "depositETH", (user,), value=wei)

    def withdraw_unused(self, user: str) -> Receipt:
        return self.transact(user, "FeeVault", "withdrawUnused")

    def register_and_prepay(self, user: str, method: int, checksum: bytes, wei: int) -> Receipt:
        return self.transact(
            self.actor("committee"), "OracleAggregator", "registerAndPrepay", (user, method, checksum), value=wei
        )

    def execute_emergency_burn(self, user: str) -> Receipt:
        return self.transact(self.actor("committee"), "OracleAggregator", "executeEmergencyBurn", (user,))

    def reset_emergency_burn_status(self, user: str) -> Receipt:
        return self.transact(self.actor("committee"), "OracleAggregator", "resetEmergencyBurnStatus", (user,))

    def quote_fee(self, user: str, delta_sats: int) -> int:
        return self.call("FeePolicy", "quoteFees", (user, delta_sats))

    def last_sats(self, user: str) -> int:
        return self.call("OracleAggregator", "lastSats", (user,))

    def rbtc_balance(self, user: str) -> int:
        return self.call("RBTCSynth", "balanceOf", (user,))

    def total_supply(self) -> int:
        return self.call("RBTCSynth", "totalSupply")

    def vault_balance(self, user: str) -> int:
        return self.call("FeeVault", "balanceOf", (user,))

    def emergency_burned(self, user: str) -> bool:
        return self.call("OracleAggregator", "emergencyBurnExecuted", (user,))

    def pool(self, function: str, *args: Any) -> Receipt:
        """Call an oracle-only YieldScalesPool function (join, update, emergencyBurn, resolveDispute…) as
        the pool's oracle (the committee account in the project's own wiring)."""
        return self.transact(self.actor("pool_oracle"), "YieldScalesPool", function, args)

    def publish_reserves(self, root: bytes, height: int, total_sats: int) -> Receipt:
        return self.transact(self.actor("reserves_publisher"), "ProofOfReserves", "publishRoot",
                             (root, height, total_sats))


class ContractProxy:
    """One deployed contract's functions as Python attributes (see :meth:`Backend.contract`)."""

    def __init__(self, backend: Backend, name: str):
        self._backend, self._name = backend, name
        self.address = backend.addresses[name]

    def __getattr__(self, function: str):
        if function.startswith("_"):
            raise AttributeError(function)
        backend, name = self._backend, self._name

        def invoke(*args: Any, sender: str | None = None, value: int = 0):
            if sender is None:
                return backend.call(name, function, args)
            return backend.transact(sender, name, function, args, value)

        invoke.__name__ = function
        return invoke

    def __repr__(self) -> str:
        return f"<{self._name} at {self.address} on {self._backend.name}>"

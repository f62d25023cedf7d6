"""ModelSystem: the whole deployed ReserveBTC system in Python, driven like a chain.

Deployment follows `contracts_model.deployment.deployment_plan` (from `deployer`, nonces 0..5,
addresses by CREATE exactly as on the EVM; who holds each role is the `deployment`'s wiring, by
default the project's own). `operator_funding_wei`, if given, is the genesis ETH of the deployer
and of the committee. Then, if `params.yield_params` differs from the defaults, the pool's oracle
calls YieldScalesPool.configureYield(...) (its events are kept in `deployment_events`).

`transact` runs one transaction atomically: on any exception every storage write, ETH movement and
event of that transaction is undone (journal replay) and the exception propagates. The model charges
no gas: ETH only moves as msg.value and as the contracts send it.
"""

from __future__ import annotations

from contracts_model.abi import args_checker, canonical_address
from contracts_model.accounts import ZERO_ADDRESS, to_address
from contracts_model.chain import Chain, Msg
from contracts_model.contract import PAYABLE, PURE, VIEW
from contracts_model.deployment import Deployment, DeploymentError, deployment_plan, yield_configuration
from contracts_model.errors import ArgumentError, BareRevert, InsufficientFunds
from contracts_model.evm_math import UINT256_MAX
from contracts_model.fee_policy import FeePolicy
from contracts_model.fee_vault import FeeVault
from contracts_model.oracle import OracleAggregator
from contracts_model.params import ProtocolParams
from contracts_model.proof_of_reserves import ProofOfReserves
from contracts_model.storage import restore, snapshot_of
from contracts_model.synth import RBTCSynth
from contracts_model.yield_pool import YieldScalesPool



def _uint(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= UINT256_MAX:
        raise ArgumentError(f"{what} must be an int in [0, 2**256), got {value!r}")
    return int(value)


class _Snapshot:
    __slots__ = ("system", "number", "timestamp", "balances", "states")

    def __init__(self, system, number, timestamp, balances, states):
        self.system = system
        self.number = number
        self.timestamp = timestamp
        self.balances = balances
        self.states = states


class ModelSystem:
    def __init__(self, params: ProtocolParams, deployer: str, committee: str, fee_collector: str,
                 genesis_timestamp: int, genesis_block: int = 1, operator_funding_wei: int = 0,
                 deployment: Deployment = Deployment()):
        if not isinstance(params, ProtocolParams):
            raise TypeError(f"params must be a ProtocolParams, got {params!r}")
        deployer = to_address(deployer)
        committee = to_address(committee)
        fee_collector = to_address(fee_collector)
        self.params = params
        self.deployer = deployer
        self.committee = committee
        self.fee_collector = fee_collector
        genesis = (_uint(genesis_block, "genesis_block"), _uint(genesis_timestamp, "genesis_timestamp"))
        self._chain = chain = Chain(*genesis)

        operator_funding_wei = _uint(operator_funding_wei, "operator_funding_wei")
        for operator in dict.fromkeys((deployer, committee)):  # their genesis allocation
            chain.balances[operator] += operator_funding_wei

        models = {"FeePolicy": FeePolicy, "RBTCSynth": RBTCSynth, "FeeVault": FeeVault,
                  "OracleAggregator": OracleAggregator, "YieldScalesPool": YieldScalesPool,
                  "ProofOfReserves": ProofOfReserves}
        self.addresses: dict[str, str] = {}
        accounts = {"deployer": deployer, "committee": committee, "fee_collector": fee_collector}
        for step in deployment_plan(params, accounts, deployment):
            chain.deploy(models[step.contract](chain, step.address, *step.args))
            self.addresses[step.contract] = step.address
        chain.commit()
        self.contracts: dict[str, object] = {name: chain.code[address] for name, address in self.addresses.items()}

        # (contract name or address) -> function name -> (method, args checker, payable, read-only, address)
        self._entries: dict[str, dict[str, tuple]] = {}
        for name, contract in self.contracts.items():
            table = {
                function: (
                    getattr(contract, function),
                    args_checker(f"{name}.{function}", inputs),
                    mutability == PAYABLE,
                    mutability in (VIEW, PURE),
                    contract.address,
                )
                for function, (inputs, mutability) in contract.FUNCTIONS.items()
            }
            self._entries[name] = self._entries[contract.address] = table
        self._msgs: dict[str, Msg] = {}  # sender -> Msg(sender, 0), reused by every value-less call

        self.deployment_events: list = []
        configuration = yield_configuration(params)
        if configuration is not None:
            configurer = deployment.actor("pool_oracle", accounts)
            if configurer is None:
                raise DeploymentError("custom yield parameters are set by the pool's oracle, "
                                      f"which this deployment makes the contract {deployment.holder('pool_oracle')}")
            _, self.deployment_events = self.transact(configurer, "YieldScalesPool", "configureYield", configuration)

    # ------------------------------------------------------------------ block context and ETH

    @property
    def block_number(self) -> int:
        return self._chain.number

    @property
    def block_timestamp(self) -> int:
        return self._chain.timestamp

    def set_block(self, number: int, timestamp: int) -> None:
        """What block.number / block.timestamp return from now on; neither may go backwards."""
        number = _uint(number, "block number")
        timestamp = _uint(timestamp, "block timestamp")
        chain = self._chain
        if number < chain.number or timestamp < chain.timestamp:
            raise ValueError(
                f"the block context cannot go back: ({chain.number}, {chain.timestamp}) -> ({number}, {timestamp})"
            )
        chain.number = number
        chain.timestamp = timestamp

    def eth_balance(self, address: str) -> int:
        return self._chain.balances[canonical_address(address)]

    def set_eth_balance(self, address: str, wei: int) -> None:
        """Sets the ETH balance of an account (outside any transaction), as a test chain's setBalance."""
        self._chain.balances[canonical_address(address)] = _uint(wei, "wei")
        self._chain.commit()

    def fund(self, address: str, wei: int) -> None:
        """Test faucet: credits `wei` to `address` (outside any transaction)."""
        address = canonical_address(address)
        balances = self._chain.balances
        balances[address] = _uint(balances[address] + _uint(wei, "wei"), "the funded balance")
        self._chain.commit()

    # ------------------------------------------------------------------ calls

    def _entry(self, contract: str, function: str) -> tuple:
        try:
            return self._entries[contract][function]
        except KeyError:
            pass
        table = self._entries.get(contract)
        if table is None and isinstance(contract, str):
            table = self._entries.get(contract.lower())
        if table is None:
            raise ArgumentError(f"no contract {contract!r}; known: {', '.join(self.addresses)}")
        if function not in table:
            raise ArgumentError(f"{contract} has no function {function!r}; it has: {', '.join(sorted(table))}")
        return table[function]

    def _msg(self, sender: str) -> Msg:
        msg = self._msgs.get(sender)
        if msg is None:
            msg = self._msgs[sender] = Msg(sender, 0)
        return msg

    def transact(self, sender: str, contract: str, function: str, args: tuple = (), value: int = 0):
        """Runs one external call as a transaction; returns (return value, events in emission order)."""
        method, check_args, payable, _, address = self._entry(contract, function)
        sender = canonical_address(sender)
        args = check_args(args)
        chain = self._chain
        if value == 0 and value.__class__ is int:
            msg = self._msg(sender)
        else:
            value = _uint(value, "value")
            if chain.balances[sender] < value:
                raise InsufficientFunds(f"{sender} holds {chain.balances[sender]} wei, the call sends {value}")
            msg = Msg(sender, value)
        try:
            if value:
                if not payable:
                    raise BareRevert()  # solc's callvalue check of a non-payable function
                chain.move_value(sender, address, value)
            result = method(msg, *args)
        except BaseException:
            chain.abort()
            raise
        return result, chain.commit()

    def call(self, contract: str, function: str, args: tuple = (), sender: str = ZERO_ADDRESS):
        """Runs a call without keeping any of its effects (eth_call) and returns its return value."""
        method, check_args, _, read_only, _ = self._entry(contract, function)
        msg = self._msg(canonical_address(sender))
        args = check_args(args)
        if read_only:
            return method(msg, *args)
        try:
            return method(msg, *args)
        finally:
            self._chain.abort()

    def send_eth(self, sender: str, to: str, value: int):
        """A plain ETH transfer (empty calldata); returns (None, events) like `transact`."""
        sender = canonical_address(sender)
        to = canonical_address(to)
        value = _uint(value, "value")
        chain = self._chain
        if chain.balances[sender] < value:
            raise InsufficientFunds(f"{sender} holds {chain.balances[sender]} wei, the transfer sends {value}")
        table = self._entries.get(to)
        if table is not None:
            if "receive" in table:
                return self.transact(sender, to, "receive", (), value)
            raise BareRevert()  # a contract without receive or fallback
        chain.move_value(sender, to, value)
        return None, chain.commit()

    # ------------------------------------------------------------------ whole-state operations

    def snapshot(self) -> _Snapshot:
        """A copy of the whole system state (block context, ETH, every contract's storage)."""
        chain = self._chain
        return _Snapshot(
            self, chain.number, chain.timestamp, dict(chain.balances),
            {name: snapshot_of(contract.s) for name, contract in self.contracts.items()},
        )

    def revert(self, token: _Snapshot) -> None:
        """Puts the whole system back to `token` (which stays valid for further reverts)."""
        if not isinstance(token, _Snapshot) or token.system is not self:
            raise ValueError("not a snapshot of this system")
        chain = self._chain
        chain.number = token.number
        chain.timestamp = token.timestamp
        dict.clear(chain.balances)
        dict.update(chain.balances, token.balances)
        for name, contract in self.contracts.items():
            restore(contract.s, token.states[name])

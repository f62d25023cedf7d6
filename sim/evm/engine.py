"""An in-memory EVM that executes calls as bare py-evm messages.

The chain is an eth-tester ``PyEVMBackend`` (so a web3.py ``Web3`` can be pointed at it for ad-hoc
inspection), but calls do not go through transactions: each one is a single py-evm message applied
to one long-lived state, the way ``eth_call`` works but with its changes kept. That skips signing,
nonces, gas purchase, receipts and block building, which is most of the cost of the naive path.
Gas is metered (so an out-of-gas loop still stops) but nobody pays for it: ETH balances move only
by ``value``, exactly as the Python models move them.

Each call is metered as the transaction it stands for (see :func:`transaction_gas`): the sender and
the target start warm and everything else cold (EIP-2929), storage refunds compare against the
values before the call, and the intrinsic cost is added. That is the receipt's ``gasUsed``, the
figure Foundry's gas report shows with its default per-call isolation.

Block number and timestamp are whatever the simulation sets with :meth:`EvmEngine.set_block`.
:class:`EvmEngine` is one of two engines with the same small interface (execute, deploy, set_block,
balance, set_balance, snapshot, revert); the other is :class:`sim.evm.revm_engine.RevmEngine`.
"""

from __future__ import annotations

from attrs import frozen
from eth.exceptions import InsufficientFunds as EvmInsufficientFunds
from eth.exceptions import Revert
from eth.vm.execution_context import ExecutionContext
from eth.vm.forks.cancun import CancunVM
from eth.vm.message import Message
from eth_tester import EthereumTester, PyEVMBackend
from eth_utils import keccak
import rlp

from contracts_model import errors

GAS_PER_CALL = 30_000_000
#: Chain id of the simulated EVM chain (MegaETH testnet's, for realism; nothing depends on it).
CHAIN_ID = 6342
#: The hard fork both engines run: the one the artifacts are compiled for (solc evmVersion cancun).
HARDFORK = "cancun"

_JUMPDEST_ANALYSIS: dict[bytes, tuple[set, set]] = {}


def _shared_analysis(computation_class: type) -> type:
    """A computation class whose JUMPDEST analysis is shared by every execution of the same code.

    py-evm works out lazily which code positions are real opcodes (not PUSH data) and keeps the
    answer on a per-execution CodeStream, so every call re-derives it. The answer depends only on
    the code bytes, so it is safe to keep one pair of sets per code; this saves about a sixth of
    the time of a protocol sync.
    """

    class SharedAnalysisComputation(computation_class):
        def __init__(self, state, message, transaction_context):
            super().__init__(state, message, transaction_context)
            code = message.code
            sets = _JUMPDEST_ANALYSIS.get(code)
            if sets is None:
                sets = _JUMPDEST_ANALYSIS[code] = (set(), set())
            self.code.valid_positions, self.code.invalid_positions = sets

    SharedAnalysisComputation.__name__ = f"SharedAnalysis{computation_class.__name__}"
    return SharedAnalysisComputation


def create_address(sender: bytes, nonce: int) -> bytes:
    """The address CREATE gives the ``nonce``-th contract deployed by ``sender``."""
    return keccak(rlp.encode([sender, nonce]))[12:]


#: EIP-3529: refunds pay back at most a fifth of the gas a transaction used.
MAX_REFUND_QUOTIENT = 5


def intrinsic_gas(data: bytes, create: bool = False) -> int:
    """What a transaction costs before its first opcode (Cancun): 21,000, calldata, and for a
    creation 32,000 plus two per 32-byte word of init code (EIP-3860). No access list."""
    zeros = data.count(0)
    gas = 21_000 + 4 * zeros + 16 * (len(data) - zeros)
    if create:
        gas += 32_000 + 2 * ((len(data) + 31) // 32)
    return gas


def transaction_gas(intrinsic: int, execution: int, refund: int) -> int:
    """A receipt's ``gasUsed``: intrinsic plus execution gas, less the refund capped by EIP-3529."""
    used = intrinsic + execution
    return used - min(refund, used // MAX_REFUND_QUOTIENT)


@frozen
class Execution:
    """What one message did, in the same form on every engine.

    ``output`` is the return data, or the revert data of a REVERT; ``halt`` names any other VM
    failure (out of gas, invalid opcode…) and is None otherwise. ``logs`` are
    ``(address as lowercase 0x hex, topics as 32-byte strings, data)`` in emission order. ``gas`` is
    the call's gas as a transaction (:func:`transaction_gas`), or None if the engine cannot tell.
    """

    success: bool
    output: bytes
    logs: tuple
    halt: str | None = None
    created: bytes | None = None
    gas: int | None = None


class BlockClock:
    """The block context of an engine: ``block_number`` and ``timestamp``, which never go back."""

    block_number: int
    timestamp: int

    def set_block(self, number: int, timestamp: int) -> None:
        """Make later calls see ``block.number == number`` and ``block.timestamp == timestamp``."""
        if number < self.block_number or timestamp < self.timestamp:
            raise ValueError(
                f"block context may not go back: ({self.block_number}, {self.timestamp}) -> ({number}, {timestamp})"
            )
        if (number, timestamp) != (self.block_number, self.timestamp):
            self.block_number, self.timestamp = number, timestamp
            self._set_context()

    def _set_context(self) -> None:
        """Hand the current block number and timestamp to the EVM."""
        raise NotImplementedError


class EvmEngine(BlockClock):
    """One in-memory chain, its state, and the current block context."""

    def __init__(self, genesis_timestamp: int, genesis_block: int = 1):
        params = PyEVMBackend.generate_genesis_params({"timestamp": genesis_timestamp})
        self._backend = PyEVMBackend(genesis_parameters=params, vm_configuration=((0, CancunVM),))
        self._tester: EthereumTester | None = None
        self._web3 = None
        chain = self._backend.chain
        vm = chain.get_vm()
        self._state = vm.state
        self._state_class = type(self._state)
        self._computation = _shared_analysis(self._state.computation_class)
        self._tx_context_class = self._state.get_transaction_context_class()
        self._base_context = self._state.execution_context
        self.block_number = genesis_block
        self.timestamp = genesis_timestamp
        self._set_context()
        #: Accounts eth-tester funds at genesis with their private keys (for the web3 view and the baseline).
        self.tester_keys = tuple(self._backend.account_keys)

    # ------------------------------------------------------------------ block context

    def _set_context(self) -> None:
        base = self._base_context
        self._state.execution_context = ExecutionContext(
            coinbase=base.coinbase,
            timestamp=self.timestamp,
            block_number=self.block_number,
            difficulty=base.difficulty,
            mix_hash=base.mix_hash,
            gas_limit=GAS_PER_CALL,
            prev_hashes=(),
            chain_id=CHAIN_ID,
            base_fee_per_gas=0,
            excess_blob_gas=0,
        )

    # ------------------------------------------------------------------ execution

    @staticmethod
    def address(hex_address: str) -> bytes:
        """An address in the form :meth:`execute` takes (py-evm: 20 raw bytes)."""
        return bytes.fromhex(hex_address[2:])

    def execute(self, sender: bytes, to: bytes, data: bytes, value: int = 0, *, static: bool = False) -> Execution:
        """Apply one call from ``sender`` to ``to``; keep its changes unless it fails or ``static``.

        Raises :class:`contracts_model.errors.InsufficientFunds` when the sender cannot pay ``value``.
        """
        state = self._state
        message = Message(
            gas=GAS_PER_CALL,
            to=to,
            sender=sender,
            value=value,
            data=data,
            code=state.get_code(to),
            is_static=static,
        )
        try:
            return self._apply(message, sender, keep=not static, intrinsic=intrinsic_gas(data))
        except EvmInsufficientFunds as exc:
            raise errors.InsufficientFunds(str(exc)) from None

    def deploy(self, sender: bytes, init_code: bytes, value: int = 0) -> Execution:
        """Run contract creation code from ``sender``; the new address is ``Execution.created``."""
        state = self._state
        nonce = state.get_nonce(sender)
        address = create_address(sender, nonce)
        state.increment_nonce(sender)
        message = Message(
            gas=GAS_PER_CALL,
            to=b"",
            sender=sender,
            value=value,
            data=b"",
            code=init_code,
            create_address=address,
        )
        result = self._apply(message, sender, keep=True, create=True, intrinsic=intrinsic_gas(init_code, create=True))
        return Execution(result.success, result.output, result.logs, result.halt, address if result.success else None,
                         result.gas)

    def _apply(self, message: Message, origin: bytes, *, keep: bool, intrinsic: int, create: bool = False) -> Execution:
        state = self._state
        context = self._tx_context_class(gas_price=0, origin=origin)
        snapshot = state.snapshot()
        # As a transaction would (EIP-2929): the sender and the target start warm.
        state.mark_address_warm(origin)
        state.mark_address_warm(message.storage_address)
        if create:
            computation = self._computation.apply_create_message(state, message, context)
        else:
            computation = self._computation.apply_message(state, message, context)
        failed = computation.is_error
        if failed or not keep:
            state.revert(snapshot)
        else:
            state.commit(snapshot)
        state.clear_transient_storage()
        state.lock_changes()
        gas = transaction_gas(intrinsic, computation.get_gas_used(), computation.get_gas_refund())
        if failed:
            # A REVERT keeps its data as the output; other VM errors erase it.
            error = computation.error
            return Execution(False, computation.output, (), None if isinstance(error, Revert) else repr(error), gas=gas)
        logs = tuple(("0x" + address.hex(), tuple(topic.to_bytes(32, "big") for topic in topics), data)
                     for address, topics, data in computation.get_log_entries())
        return Execution(True, computation.output, logs, gas=gas)

    # ------------------------------------------------------------------ accounts

    def balance(self, address: bytes) -> int:
        return self._state.get_balance(address)

    def set_balance(self, address: bytes, wei: int) -> None:
        self._state.set_balance(address, wei)
        self._state.lock_changes()

    def code(self, address: bytes) -> bytes:
        return self._state.get_code(address)

    def nonce(self, address: bytes) -> int:
        return self._state.get_nonce(address)

    # ------------------------------------------------------------------ snapshots

    def snapshot(self) -> tuple:
        """Persist the state and return a token that :meth:`revert` restores, block context included."""
        self._state.persist()
        return (self._state.state_root, self.block_number, self.timestamp)

    def revert(self, token: tuple) -> None:
        root, self.block_number, self.timestamp = token
        self._state = self._state_class(self._state._db, self._state.execution_context, root)
        self._set_context()

    # ------------------------------------------------------------------ web3 view

    def web3(self):
        """A web3.py ``Web3`` on this chain, showing the state as of now.

        The current state is sealed into a new block of the underlying eth-tester chain, so
        ``w3.eth.contract(...).functions.f().call()`` and ``w3.eth.get_balance`` see what the
        simulation sees. Block numbers and timestamps in that view are the tester chain's own.
        Call again after more simulation steps to refresh the view.
        """
        from web3 import EthereumTesterProvider, Web3

        self._state.persist()
        chain = self._backend.chain
        chain.header = chain.header.copy(state_root=self._state.state_root)
        if self._tester is None:
            self._tester = EthereumTester(self._backend, auto_mine_transactions=True)
            self._web3 = Web3(EthereumTesterProvider(self._tester))
        self._tester.mine_blocks()
        # Continue from the sealed state (same root, same db).
        self._state = self._state_class(self._state._db, self._state.execution_context, self._state.state_root)
        self._set_context()
        return self._web3

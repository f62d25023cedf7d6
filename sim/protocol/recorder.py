"""The world's view of the EVM chain: a backend decorator that keeps the block clock and the ledger.

:class:`RecordingBackend` wraps any backend. Before each call it moves the block context to the
world clock (EVM block ``1 + t // block_time``, timestamp ``genesis + t``). Each transaction gets a
position in its block and a deterministic hash, and is written to the event log as one ``evm_tx``
record (sender, target, function, arguments, status, decoded events or revert reason): what an
indexer reads from a real chain's blocks and receipts. Listeners (the oracle service, invariant
monitors, the indexer) are told of every transaction as it happens: before it runs, and after, with
its receipt or its revert. The gas each transaction cost (on backends that meter it) goes to
:attr:`RecordingBackend.gas`, not into the log.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable

from contracts_model.errors import ContractRevert
from sim.eventlog import EventLog
from sim.protocol.gas import GasTable
from sim.protocol.port import Backend, Receipt

TxListener = Callable[[dict, Receipt], None]
RevertListener = Callable[[dict, ContractRevert], None]
BeforeListener = Callable[[str, str, str, tuple, int], None]


class RecordingBackend(Backend):
    """Delegates to ``inner``; keeps it on the world clock and records every transaction."""

    def __init__(self, inner: Backend, log: EventLog, clock: Callable[[], int], genesis_timestamp: int,
                 block_time_s: int = 1):
        self.inner = inner
        self.log = log
        self.clock = clock
        self.genesis_timestamp = genesis_timestamp
        self.block_time_s = block_time_s
        self.params, self.accounts, self.addresses = inner.params, inner.accounts, inner.addresses
        self.deployment = inner.deployment
        self.name = inner.name
        self._listeners: list[TxListener] = []
        self._revert_listeners: list[RevertListener] = []
        self._before_listeners: list[BeforeListener] = []
        #: Gas per function of every transaction so far (empty on backends that do not meter gas).
        self.gas = GasTable()
        self._block = (-1, -1)
        self._tx_index = 0

    def subscribe(self, listener: TxListener) -> None:
        """Call ``listener(tx_record, receipt)`` after every successful transaction."""
        self._listeners.append(listener)

    def subscribe_reverts(self, listener: RevertListener) -> None:
        """Call ``listener(tx_record, exception)`` after every reverted transaction."""
        self._revert_listeners.append(listener)

    def subscribe_before(self, listener: BeforeListener) -> None:
        """Call ``listener(sender, contract, function, args, value)`` before every transaction runs (a
        monitor reads the state the rules compare the outcome with)."""
        self._before_listeners.append(listener)

    def evm_block_at(self, t: int) -> int:
        return 1 + t // self.block_time_s

    def _follow_clock(self) -> int:
        t = self.clock()
        block = (self.evm_block_at(t), self.genesis_timestamp + t)
        if block != self._block:
            if block[0] != self._block[0]:
                self._tx_index = 0
            self.inner.set_block(*block)
            self._block = block
        return t

    def transact(self, sender: str, contract: str, function: str, args: tuple = (), value: int = 0) -> Receipt:
        t = self._follow_clock()
        number = self._block[0]
        index = self._tx_index
        self._tx_index += 1
        # A deterministic stand-in for a transaction hash: arguments are ints, strings, bytes and
        # tuples of them, whose repr does not depend on the process.
        identity = f"{number}|{index}|{sender}|{contract}|{function}|{args!r}|{value}"
        record = {
            "block": number,
            "index": index,
            "hash": "0x" + hashlib.sha256(identity.encode()).hexdigest(),
            "from": sender,
            "to": contract,
            "fn": function,
            "args": args,
            "value": value,
        }
        for before in self._before_listeners:
            before(sender, contract, function, args, value)
        try:
            receipt = self.inner.transact(sender, contract, function, args, value)
        except ContractRevert as exc:
            exc.call = f"{contract}.{function}"  # which call failed, for whoever reports it
            logged = self.log.append(t, "evm_tx", status="revert", error=exc.error_name or repr(exc), events=[],
                                     **record)
            self.gas.reverted(contract, function)
            for listener in self._revert_listeners:
                listener(logged, exc)
            raise
        if receipt.gas is not None:
            self.gas.record(contract, function, receipt.gas)
        record = self.log.append(
            t,
            "evm_tx",
            status="ok",
            events=[[e.contract, e.name, e.args] for e in receipt.events],
            **record,
        )
        for listener in self._listeners:
            listener(record, receipt)
        return receipt

    def call(self, contract: str, function: str, args: tuple = ()) -> Any:
        self._follow_clock()
        try:
            return self.inner.call(contract, function, args)
        except ContractRevert as exc:
            exc.call = f"{contract}.{function}"
            raise

    def set_block(self, number: int, timestamp: int) -> None:
        raise RuntimeError("the recording backend follows the world clock; advance the clock instead")

    @property
    def block(self) -> tuple[int, int]:
        return self.inner.block

    def eth_balance(self, address: str) -> int:
        return self.inner.eth_balance(address)

    def set_eth_balance(self, address: str, wei: int) -> None:
        self.inner.set_eth_balance(address, wei)

    def has_function(self, contract: str, function: str) -> bool:
        return self.inner.has_function(contract, function)

    def snapshot(self) -> Any:
        return self.inner.snapshot()

    def revert(self, token: Any) -> None:
        self.inner.revert(token)

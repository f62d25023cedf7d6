"""Value types of the simulated Bitcoin chain: outpoints, inputs, outputs, transactions, coins.

A simulated transaction is a UTXO transaction without scripts or signatures: each input names
the output it spends and, like a PSBT's ``witness_utxo``, carries that output's address and value,
so a transaction alone says how it moves sats. Addresses are opaque strings to the chain (the
world validates user addresses with :mod:`sim.bitcoin.address`).

The txid is the SHA-256 of a canonical byte encoding of the transaction's contents, so equal
contents always give equal txids, on every machine and in every process.
"""

from __future__ import annotations

import hashlib
import operator
from typing import Final

from attrs import define, field

__all__ = [
    "MAX_MONEY",
    "TX_KINDS",
    "ChainError",
    "InvalidTransaction",
    "DoubleSpendError",
    "MissingInputError",
    "InsufficientFunds",
    "OutPoint",
    "TxIn",
    "TxOut",
    "Transaction",
    "Coin",
]

#: 21 million BTC in sats: no amount may exceed it.
MAX_MONEY: Final = 21_000_000 * 100_000_000
#: The kinds of transaction the simulation creates.
TX_KINDS: Final = ("deposit", "spend", "transfer", "double-spend")


class ChainError(Exception):
    """Base class of the simulated chain's errors."""


class SupplyExhausted(ChainError):
    """A deposit beyond the 21 M BTC that can ever exist (the chain counts every external deposit)."""


class InvalidTransaction(ChainError, ValueError):
    """A transaction that is malformed or does not fit the chain state."""


class DoubleSpendError(InvalidTransaction):
    """A transaction spends an output that a confirmed or mempool transaction already spends."""

    def __init__(self, txid: str, outpoint: OutPoint, spent_by: str, where: str) -> None:
        self.txid = txid
        self.outpoint = outpoint
        self.spent_by = spent_by
        self.where = where
        super().__init__(
            f"transaction {txid} double-spends {outpoint}: already spent by {spent_by} ({where})"
        )


class MissingInputError(InvalidTransaction):
    """A transaction spends an output that does not exist (or not with that address/value)."""


class InsufficientFunds(ChainError, ValueError):
    """An address does not hold enough spendable sats for the requested payment."""

    def __init__(self, address: str, needed: int, available: int) -> None:
        self.address = address
        self.needed = needed
        self.available = available
        super().__init__(
            f"address {address} has {available} spendable sats, {needed} needed"
        )


def _sats(value: object) -> int:
    """Accept any integer type (numpy included, bool excluded) as an amount in sats."""
    if isinstance(value, bool):
        raise TypeError("an amount in sats must be an integer, not a bool")
    return operator.index(value)  # type: ignore[arg-type]


def _check_txid(instance: object, attribute: object, value: str) -> None:
    if not (isinstance(value, str) and len(value) == 64):
        raise ValueError(f"a txid is 64 hex characters, got {value!r}")
    int(value, 16)


def _check_amount(instance: object, attribute: object, value: int) -> None:
    if not 0 < value <= MAX_MONEY:
        raise ValueError(f"amount {value} sats is outside 1..{MAX_MONEY}")


def _check_address(instance: object, attribute: object, value: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"an address is a non-empty string, got {value!r}")


@define(frozen=True, order=True)
class OutPoint:
    """A reference to output ``index`` of transaction ``txid``. Ordered by (txid, index)."""

    txid: str = field(validator=_check_txid)
    index: int = field(converter=operator.index)

    def __str__(self) -> str:
        return f"{self.txid}:{self.index}"


@define(frozen=True)
class TxIn:
    """An input: the output it spends, with that output's address and value."""

    prevout: OutPoint
    address: str = field(validator=_check_address)
    value: int = field(converter=_sats, validator=_check_amount)


@define(frozen=True)
class TxOut:
    """An output paying ``value`` sats to ``address``."""

    address: str = field(validator=_check_address)
    value: int = field(converter=_sats, validator=_check_amount)


def _encode_str(text: str) -> bytes:
    raw = text.encode("utf-8")
    return len(raw).to_bytes(2, "little") + raw


def compute_txid(
    kind: str, inputs: tuple[TxIn, ...], outputs: tuple[TxOut, ...], conflicts_with: str | None
) -> str:
    """SHA-256 (hex) of the canonical encoding of a transaction's contents."""
    parts = [b"reservebtc-sim/tx/v1", _encode_str(kind), len(inputs).to_bytes(4, "little")]
    for txin in inputs:
        parts.append(bytes.fromhex(txin.prevout.txid))
        parts.append(txin.prevout.index.to_bytes(4, "little"))
        parts.append(_encode_str(txin.address))
        parts.append(txin.value.to_bytes(8, "little"))
    parts.append(len(outputs).to_bytes(4, "little"))
    for txout in outputs:
        parts.append(_encode_str(txout.address))
        parts.append(txout.value.to_bytes(8, "little"))
    parts.append(_encode_str(conflicts_with or ""))
    return hashlib.sha256(b"".join(parts)).hexdigest()


@define(frozen=True)
class Transaction:
    """A simulated Bitcoin transaction.

    Build one with :meth:`Transaction.build`, which computes the txid and checks the basic rules:
    at least one input and one output, no outpoint spent twice within the transaction, and the
    outputs not worth more than the inputs (the difference is the fee).

    ``kind`` is one of :data:`TX_KINDS`; ``conflicts_with`` is set on a ``double-spend``
    transaction to the txid it replaces.
    """

    txid: str = field(validator=_check_txid)
    kind: str
    inputs: tuple[TxIn, ...]
    outputs: tuple[TxOut, ...]
    conflicts_with: str | None = None

    @classmethod
    def build(
        cls,
        kind: str,
        inputs: tuple[TxIn, ...] | list[TxIn],
        outputs: tuple[TxOut, ...] | list[TxOut],
        conflicts_with: str | None = None,
    ) -> Transaction:
        """Make a transaction from its contents; raises :class:`InvalidTransaction` if malformed."""
        inputs = tuple(inputs)
        outputs = tuple(outputs)
        if kind not in TX_KINDS:
            raise InvalidTransaction(f"unknown transaction kind {kind!r}; expected one of {TX_KINDS}")
        if not inputs:
            raise InvalidTransaction("a transaction needs at least one input")
        if not outputs:
            raise InvalidTransaction("a transaction needs at least one output")
        prevouts = [txin.prevout for txin in inputs]
        if len(set(prevouts)) != len(prevouts):
            raise InvalidTransaction("a transaction spends the same outpoint twice")
        total_in = sum(txin.value for txin in inputs)
        total_out = sum(txout.value for txout in outputs)
        if total_out > total_in:
            raise InvalidTransaction(
                f"outputs ({total_out} sats) are worth more than inputs ({total_in} sats)"
            )
        txid = compute_txid(kind, inputs, outputs, conflicts_with)
        return cls(txid=txid, kind=kind, inputs=inputs, outputs=outputs, conflicts_with=conflicts_with)

    @property
    def input_value(self) -> int:
        return sum(txin.value for txin in self.inputs)

    @property
    def output_value(self) -> int:
        return sum(txout.value for txout in self.outputs)

    @property
    def fee(self) -> int:
        """Sats the inputs carry beyond the outputs."""
        return self.input_value - self.output_value

    @property
    def addresses(self) -> tuple[str, ...]:
        """Every address this transaction spends from or pays to, sorted, without repeats."""
        return tuple(sorted({txin.address for txin in self.inputs} | {o.address for o in self.outputs}))

    def outpoint(self, index: int) -> OutPoint:
        """The outpoint of this transaction's output ``index``."""
        if not 0 <= index < len(self.outputs):
            raise IndexError(f"transaction {self.txid} has no output {index}")
        return OutPoint(self.txid, index)

    def delta(self, address: str) -> int:
        """Net sats this transaction moves into (positive) or out of (negative) ``address``."""
        gained = sum(o.value for o in self.outputs if o.address == address)
        lost = sum(i.value for i in self.inputs if i.address == address)
        return gained - lost


@define(frozen=True)
class Coin:
    """An unspent output as the UTXO set holds it: where, how much, and the height of the block
    that created it (0 for external coins, which exist outside the simulated blocks)."""

    outpoint: OutPoint
    address: str
    value: int
    height: int

    @property
    def sort_key(self) -> tuple[int, str, int]:
        """Oldest first, then by outpoint: the order coin selection uses."""
        return (self.height, self.outpoint.txid, self.outpoint.index)

"""The simulated Bitcoin side of the harness.

* :mod:`sim.bitcoin.address` — real P2WPKH/P2TR addresses (BIP-173/BIP-350), ``InvalidAddress``.
* :mod:`sim.bitcoin.transactions` — outpoints, inputs, outputs, transactions, coins, errors.
* :mod:`sim.bitcoin.block` — blocks, block hashes, the exponential block-interval draw.
* :mod:`sim.bitcoin.utxo` — the UTXO set with its per-address confirmed-balance index.
* :mod:`sim.bitcoin.mempool` — unconfirmed transactions in arrival order.
* :mod:`sim.bitcoin.reorg` — reorg policies, transaction fates, reorg results.
* :mod:`sim.bitcoin.changes` — the change journal behind incremental polling.
* :mod:`sim.bitcoin.chain` — :class:`BitcoinChain`, which ties them together.
"""

from .address import (
    BtcAddress,
    InvalidAddress,
    decode,
    encode_p2tr,
    encode_p2wpkh,
    por_program,
    random_address,
    validate,
)
from .block import Block, next_block_gap
from .chain import BitcoinChain, TxStatus
from .changes import ChangeSet, JournalEntry
from .reorg import Fate, ReorgPolicy, ReorgResult
from .transactions import (
    ChainError,
    Coin,
    DoubleSpendError,
    InsufficientFunds,
    InvalidTransaction,
    MissingInputError,
    OutPoint,
    Transaction,
    TxIn,
    TxOut,
)

__all__ = [
    "BtcAddress",
    "InvalidAddress",
    "decode",
    "encode_p2tr",
    "encode_p2wpkh",
    "por_program",
    "random_address",
    "validate",
    "Block",
    "next_block_gap",
    "BitcoinChain",
    "TxStatus",
    "ChangeSet",
    "JournalEntry",
    "Fate",
    "ReorgPolicy",
    "ReorgResult",
    "ChainError",
    "Coin",
    "DoubleSpendError",
    "InsufficientFunds",
    "InvalidTransaction",
    "MissingInputError",
    "OutPoint",
    "Transaction",
    "TxIn",
    "TxOut",
]

"""Blocks of the simulated Bitcoin chain and the block-interval draw.

A block's hash is the SHA-256 of its parent's hash, height, timestamp, nonce and the txids it
confirms, so it is a pure function of the chain's history. There is no proof of work: the world
decides when a block is found (see :func:`next_block_gap`).
"""

from __future__ import annotations

import hashlib
from typing import Final

import numpy as np
from attrs import define

from .transactions import Transaction

__all__ = ["MEAN_BLOCK_INTERVAL", "GENESIS_PREV_HASH", "Block", "block_hash", "next_block_gap"]

#: Mean seconds between Bitcoin blocks.
MEAN_BLOCK_INTERVAL: Final = 600.0
#: The "parent hash" of the genesis block.
GENESIS_PREV_HASH: Final = "00" * 32


def block_hash(prev_hash: str, height: int, timestamp: int, nonce: int, txids: tuple[str, ...]) -> str:
    """SHA-256 (hex) over the block header fields and the ordered txids."""
    h = hashlib.sha256()
    h.update(b"reservebtc-sim/block/v1")
    h.update(bytes.fromhex(prev_hash))
    h.update(height.to_bytes(4, "little"))
    h.update(timestamp.to_bytes(8, "little", signed=True))
    h.update(nonce.to_bytes(8, "little"))
    h.update(len(txids).to_bytes(4, "little"))
    for txid in txids:
        h.update(bytes.fromhex(txid))
    return h.hexdigest()


@define(frozen=True)
class Block:
    """A block of the simulated chain.

    Attributes:
        height: 0 for genesis, parent's height + 1 otherwise.
        timestamp: unix seconds (integer), never below the parent's.
        prev_hash: the parent's hash (``GENESIS_PREV_HASH`` for genesis).
        nonce: 0 for blocks mined normally; the reorg number for blocks of a competing branch,
            so that a replacement block never shares the hash of the block it replaces.
        txs: the transactions it confirms, in order (a transaction may spend outputs of earlier
            transactions of the same block).
        addresses: every address whose UTXOs this block creates or spends, sorted.
        hash: :func:`block_hash` of the fields above.
    """

    height: int
    timestamp: int
    prev_hash: str
    nonce: int
    txs: tuple[Transaction, ...]
    addresses: tuple[str, ...]
    hash: str

    @classmethod
    def make(
        cls, height: int, timestamp: int, prev_hash: str, txs: tuple[Transaction, ...], nonce: int = 0
    ) -> Block:
        """Build a block, computing its address list and hash."""
        txs = tuple(txs)
        addresses: set[str] = set()
        for tx in txs:
            addresses.update(txin.address for txin in tx.inputs)
            addresses.update(txout.address for txout in tx.outputs)
        txids = tuple(tx.txid for tx in txs)
        return cls(
            height=height,
            timestamp=timestamp,
            prev_hash=prev_hash,
            nonce=nonce,
            txs=txs,
            addresses=tuple(sorted(addresses)),
            hash=block_hash(prev_hash, height, timestamp, nonce, txids),
        )

    @property
    def txids(self) -> tuple[str, ...]:
        return tuple(tx.txid for tx in self.txs)


def next_block_gap(rng: np.random.Generator, mean: float = MEAN_BLOCK_INTERVAL) -> float:
    """Seconds until the next block: one exponential draw with the given mean (600 s default).

    All randomness comes from ``rng``; the same generator state gives the same gap.
    """
    if not mean > 0:
        raise ValueError(f"mean block interval must be positive, got {mean}")
    return float(rng.exponential(mean))

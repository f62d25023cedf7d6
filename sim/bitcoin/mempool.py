"""The mempool: unconfirmed transactions, ordered by arrival.

Each entry keeps the sequence number it was first given, so a transaction that a reorg returns
to the mempool regains its old place (ahead of everything that arrived after it). The mempool also
indexes which outpoint each entry spends, for O(1) double-spend detection.
"""

from __future__ import annotations

from attrs import define

from .transactions import OutPoint, Transaction

__all__ = ["MempoolEntry", "Mempool"]


@define(frozen=True)
class MempoolEntry:
    """A transaction waiting for a block, with its arrival sequence number."""

    seq: int
    tx: Transaction


class Mempool:
    """Unconfirmed transactions, keyed by txid, ordered by sequence number."""

    def __init__(self) -> None:
        self._entries: dict[str, MempoolEntry] = {}
        self._spends: dict[OutPoint, str] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, txid: object) -> bool:
        return txid in self._entries

    def get(self, txid: str) -> MempoolEntry | None:
        return self._entries.get(txid)

    def spender(self, outpoint: OutPoint) -> str | None:
        """The txid of the mempool transaction spending ``outpoint``, if any."""
        return self._spends.get(outpoint)

    def add(self, tx: Transaction, seq: int) -> None:
        """Add ``tx``; the caller has checked it conflicts with nothing here."""
        if tx.txid in self._entries:
            raise KeyError(f"transaction {tx.txid} is already in the mempool")
        self._entries[tx.txid] = MempoolEntry(seq, tx)
        for txin in tx.inputs:
            self._spends[txin.prevout] = tx.txid

    def remove(self, txid: str) -> MempoolEntry:
        """Remove and return the entry; ``KeyError`` if absent."""
        entry = self._entries.pop(txid)
        for txin in entry.tx.inputs:
            if self._spends.get(txin.prevout) == txid:
                del self._spends[txin.prevout]
        return entry

    def ordered(self) -> list[MempoolEntry]:
        """All entries, oldest (lowest sequence number) first."""
        return sorted(self._entries.values(), key=lambda e: e.seq)

    def txids(self) -> tuple[str, ...]:
        """All txids, oldest first."""
        return tuple(e.tx.txid for e in self.ordered())

    def clear(self) -> list[MempoolEntry]:
        """Remove everything; return the former entries, oldest first."""
        entries = self.ordered()
        self._entries.clear()
        self._spends.clear()
        return entries

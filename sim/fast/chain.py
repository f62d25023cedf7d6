"""The fast engine's Bitcoin chain: UTXOs per address, a mempool, blocks, confirmations and reorgs.

The same chain rules as :mod:`sim.bitcoin.chain` (a tip-block output has one confirmation; the
confirmed balance at ``min_conf`` counts unspent outputs with at least that many; a spend takes the
address's confirmed, unreserved coins oldest first and returns the change to the address; deposits
spend external coins, so a reorg can double-spend them back to their source), kept as plain
per-address coin lists instead of transaction objects with SHA-256 ids. Transactions are numbered
in arrival order and that number is their id: coins of one height are taken in that order (the
reference wallet breaks the same tie by txid; either is a deterministic wallet).

The chain answers what the protocol side needs after every block or reorg — a :class:`ChainChange`:
the addresses it touched and the new confirmed balance of every address whose balance may have
changed — and nothing needs the chain's internals beyond that.
"""

from __future__ import annotations

import hashlib

import numpy as np
from attrs import define

#: A coin: [value, height, tx number]. Lists (not tuples) are cheap to build and compare.
VALUE, HEIGHT, TXN = 0, 1, 2


@define(slots=True)
class Tx:
    """A pending or confirmed transaction: a deposit to ``address`` or a spend from it."""

    number: int
    kind: str  # "deposit" | "spend"
    address: int  # address id (deposit target, spend source)
    amount: int
    inputs: list  # spend: the coins it takes (each a coin list); deposit: []
    change: int = 0


@define(slots=True)
class ChainChange:
    """What one block or reorg did, as the protocol side sees it."""

    t: int
    kind: str  # "block" | "reorg"
    height: int  # tip after it
    cursor: int  # journal entries so far (connects + disconnects)
    touched: np.ndarray  # address ids of every connected or disconnected block (what changed)
    changed: np.ndarray  # address ids whose confirmed balance at min_conf may differ
    balances: np.ndarray  # their new confirmed balances, aligned with ``changed``
    hash: str = ""
    txs: int = 0
    depth: int = 0
    fork_height: int = 0
    old_tip: str = ""
    double_spent: tuple = ()
    dropped: tuple = ()


class FastChain:
    """Per-address coins; see the module docstring."""

    def __init__(self, min_conf: int, *, max_block_txs: int | None = None, keep_blocks: int = 0):
        self.min_conf = max(1, min_conf)
        self.max_block_txs = max_block_txs
        self.coins: list[list] = []  # address id -> coins, oldest first
        self.total = np.zeros(0, dtype=np.int64)  # sum of every unspent coin per address
        self.mempool: list[Tx] = []
        self.height = 0
        self.cursor = 0
        self.hashes = ["00" * 32]
        self.tx_count = 0
        #: address ids each block touched, by height (the last ``keep`` blocks; for maturity windows)
        self._touched_at: dict[int, np.ndarray] = {}
        #: the confirmed txs of the last blocks, by height (for reorgs)
        self._block_txs: dict[int, list[Tx]] = {}
        self._block_ts: dict[int, int] = {}
        self._keep = max(keep_blocks, self.min_conf) + 2
        self.reorgs = 0

    # ------------------------------------------------------------------ addresses

    def add_addresses(self, count: int) -> int:
        """Make room for ``count`` new addresses; returns the first new id."""
        first = len(self.coins)
        self.coins.extend([] for _ in range(count))
        self.total = np.concatenate([self.total, np.zeros(count, dtype=np.int64)])
        return first

    def confirmed(self, address: int) -> int:
        """Unspent coins with at least ``min_conf`` confirmations."""
        total = int(self.total[address])
        if self.min_conf <= 1 or not total:
            return total
        cutoff = self.height - self.min_conf + 1
        return total - sum(c[VALUE] for c in self.coins[address] if c[HEIGHT] > cutoff)

    def confirmed_many(self, addresses: np.ndarray) -> np.ndarray:
        if self.min_conf <= 1:
            return self.total[addresses]
        return np.fromiter((self.confirmed(int(a)) for a in addresses), dtype=np.int64, count=len(addresses))

    def spendable(self, address: int) -> int:
        """Confirmed coins no pending spend has taken yet (what a spend can use)."""
        return sum(c[VALUE] for c in self.coins[address] if len(c) == 3)

    # ------------------------------------------------------------------ transactions

    def deposit(self, address: int, amount: int) -> Tx:
        tx = Tx(self.tx_count, "deposit", address, amount, [])
        self.tx_count += 1
        self.mempool.append(tx)
        return tx

    def spend(self, address: int, amount: int) -> Tx | None:
        """Pay ``amount`` from ``address`` to the outside world; None if its spendable coins fall short."""
        if amount <= 0:
            return None
        chosen = []
        total = 0
        for coin in self.coins[address]:
            if len(coin) == 3:  # not reserved by a pending spend
                chosen.append(coin)
                total += coin[VALUE]
                if total >= amount:
                    break
        if total < amount:
            return None
        for coin in chosen:
            coin.append(True)  # reserved
        tx = Tx(self.tx_count, "spend", address, amount, chosen, total - amount)
        self.tx_count += 1
        self.mempool.append(tx)
        return tx

    # ------------------------------------------------------------------ blocks

    def mine(self, t: int, timestamp: int) -> ChainChange:
        cap = self.max_block_txs
        included = self.mempool if cap is None else self.mempool[:cap]
        self.mempool = [] if cap is None else self.mempool[cap:]
        return self._connect_block(t, timestamp, included)

    def _connect_block(self, t: int, timestamp: int, txs: list[Tx], nonce: int = 0) -> ChainChange:
        height = self.height + 1
        touched = self._apply(txs, height)
        self.height = height
        self.cursor += 1
        self._remember(height, txs, touched, timestamp)
        digest = hashlib.sha256(f"{self.hashes[-1]}|{height}|{timestamp}|{nonce}|{len(txs)}|"
                                f"{txs[0].number if txs else -1}|{txs[-1].number if txs else -1}".encode()).hexdigest()
        self.hashes.append(digest)
        changed = self._with_maturing(touched)
        return ChainChange(t, "block", height, self.cursor, touched, changed, self.confirmed_many(changed),
                           hash=digest, txs=len(txs))

    def _apply(self, txs: list[Tx], height: int) -> np.ndarray:
        coins, total = self.coins, self.total
        addresses = []
        for tx in txs:
            address = tx.address
            own = coins[address]
            if tx.kind == "deposit":
                own.append([tx.amount, height, tx.number])
                total[address] += tx.amount
            else:
                numbers = {coin[TXN] for coin in tx.inputs}
                for coin in [c for c in own if c[TXN] in numbers]:
                    own.remove(coin)
                    total[address] -= coin[VALUE]
                if tx.change:
                    own.append([tx.change, height, tx.number])
                    total[address] += tx.change
            addresses.append(address)
        return np.unique(np.asarray(addresses, dtype=np.int64))

    def _remember(self, height: int, txs: list[Tx], touched: np.ndarray, timestamp: int) -> None:
        self._touched_at[height] = touched
        self._block_txs[height] = txs
        self._block_ts[height] = timestamp
        old = height - self._keep
        self._touched_at.pop(old, None)
        self._block_txs.pop(old, None)
        self._block_ts.pop(old, None)

    def _with_maturing(self, touched: np.ndarray) -> np.ndarray:
        """``touched`` plus the addresses whose coins just reached ``min_conf`` confirmations."""
        if self.min_conf <= 1:
            return touched
        maturing = self._touched_at.get(self.height - self.min_conf + 1)
        return touched if maturing is None else np.union1d(touched, maturing)

    # ------------------------------------------------------------------ reorgs

    def reorg(self, t: int, timestamp: int, depth: int, rng: np.random.Generator, p_drop: float,
              p_double_spend: float) -> ChainChange:
        """Replace the last ``depth`` blocks by a branch of ``depth + 1``; deposits may be double-spent
        (their external source takes the coins back) or dropped to the mempool, as
        :func:`sim.bitcoin.reorg.plan_fates` decides per transaction (one draw each, in chain order;
        a spend of a coin whose deposit is gone is invalidated, one of a dropped deposit dropped)."""
        if not 1 <= depth <= min(self.height, self._keep - 2):
            raise ValueError(f"reorg depth {depth} is outside 1..{min(self.height, self._keep - 2)}")
        fork = self.height - depth
        old_tip = self.hashes[-1]
        old = [(h, self._block_txs[h], self._block_ts[h]) for h in range(fork + 1, self.height + 1)]
        plan = [tx for _, txs, _ in old for tx in txs]
        draws = rng.random(len(plan)) if plan else np.empty(0)
        self.reorgs += 1
        touched = [self._touched_at[h] for h, _, _ in old]
        for h, txs, _ in reversed(old):  # disconnect, newest first
            self._disconnect(h, txs)
        gone: set[int] = set()  # tx numbers whose outputs no longer exist
        dropped_numbers: set[int] = set()
        kept: list[list[Tx]] = [[] for _ in range(depth + 1)]
        double_spent, dropped = [], []
        position = 0
        for i, (_, txs, _) in enumerate(old):
            for tx in txs:
                draw = float(draws[position])
                position += 1
                parents = {c[TXN] for c in tx.inputs}
                if parents & gone:
                    gone.add(tx.number)  # invalidated
                elif parents & dropped_numbers or draw < p_drop:
                    dropped.append(tx)
                    dropped_numbers.add(tx.number)
                elif draw < p_drop + p_double_spend and tx.kind == "deposit":
                    double_spent.append(tx)
                    gone.add(tx.number)
                else:
                    kept[i].append(tx)
        changes = []
        for i in range(depth + 1):
            ts = old[i][2] if i < depth else timestamp
            changes.append(self._connect_block(t, ts, kept[i], nonce=self.reorgs))
        self.cursor += depth  # the disconnects are journal entries too
        # Dropped transactions go back to the mempool in their old place; pending spends of coins that
        # are gone are evicted (their coins are released).
        pending = sorted(dropped + self.mempool, key=lambda tx: tx.number)
        self.mempool = []
        for tx in pending:
            if tx.kind == "spend" and any(c[TXN] in gone for c in tx.inputs):
                for coin in tx.inputs:
                    del coin[3:]
                continue
            if tx.kind == "spend":
                for coin in tx.inputs:
                    if len(coin) == 3:
                        coin.append(True)
            self.mempool.append(tx)
        touched.extend(c.touched for c in changes)
        all_touched = np.unique(np.concatenate(touched)) if touched else np.zeros(0, dtype=np.int64)
        changed = self._with_maturing(all_touched)
        if self.min_conf > 1:  # every height's maturity may have moved
            changed = np.union1d(changed, np.unique(np.concatenate(
                [self._touched_at.get(h, np.zeros(0, dtype=np.int64)) for h in
                 range(max(1, fork - self.min_conf + 1), self.height + 1)])))
        return ChainChange(t, "reorg", self.height, self.cursor, all_touched, changed, self.confirmed_many(changed),
                           hash=self.hashes[-1], depth=depth, fork_height=fork, old_tip=old_tip,
                           double_spent=tuple(tx.number for tx in double_spent),
                           dropped=tuple(tx.number for tx in dropped))

    def _disconnect(self, height: int, txs: list[Tx]) -> None:
        coins, total = self.coins, self.total
        for tx in reversed(txs):
            own = coins[tx.address]
            if tx.kind == "deposit":
                own.remove(next(c for c in own if c[TXN] == tx.number and c[HEIGHT] == height))
                total[tx.address] -= tx.amount
            else:
                if tx.change:
                    own.remove(next(c for c in own if c[TXN] == tx.number and c[HEIGHT] == height))
                    total[tx.address] -= tx.change
                for coin in tx.inputs:
                    del coin[3:]  # unspent and unreserved again
                    own.append(coin)
                    total[tx.address] += coin[VALUE]
                own.sort(key=lambda c: (c[HEIGHT], c[TXN]))
        self.height = height - 1
        self.hashes.pop()

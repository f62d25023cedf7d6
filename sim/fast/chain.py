"""The fast engine's Bitcoin chain: UTXOs per address, a mempool, blocks, confirmations and reorgs.

The same chain rules as :mod:`sim.bitcoin.chain` (a tip-block output has one confirmation; the
confirmed balance at ``min_conf`` counts unspent outputs with at least that many; a spend takes the
address's confirmed coins that no pending spend holds, oldest first, and returns the change to the
address; deposits spend external coins, so a reorg can double-spend them back to their source),
kept as plain per-address coin lists instead of transaction objects with SHA-256 ids. Transactions
are numbered in arrival order and that number is their id: coins of one height are taken in that
order (the reference wallet breaks the same tie by txid; either is a deterministic wallet).

The chain answers what the protocol side needs after every block or reorg — a :class:`ChainChange`:
the addresses it touched and the new confirmed balance of every address whose balance may have
changed — and nothing needs the chain's internals beyond that.
"""

from __future__ import annotations

import hashlib

import numpy as np
from attrs import define

#: A coin: [value, height, tx number], and a fourth item while a pending spend holds it.
VALUE, HEIGHT, TXN = 0, 1, 2
#: A transaction: (number, kind, address, amount, the coins it spends, change), kinds below.
DEPOSIT, SPEND = 0, 1
_NONE = np.zeros(0, dtype=np.int64)
#: What a confirmed spend leaves as its coins' fourth item, so that one pass removes them.
_SPENT = object()


def _number(tx: tuple) -> int:
    return tx[0]


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
        self.mempool: list[tuple] = []
        self.height = 0
        self.cursor = 0
        self.hashes = ["00" * 32]
        self.tx_count = 0
        #: address ids each block touched, by height (the last blocks; for maturity windows)
        self._touched_at: dict[int, np.ndarray] = {}
        #: the confirmed txs of the last blocks, by height (for reorgs)
        self._block_txs: dict[int, list] = {}
        self._block_ts: dict[int, int] = {}
        self._keep = max(keep_blocks, self.min_conf) + 2
        self.reorgs = 0
        self._sorted = True

    # ------------------------------------------------------------------ addresses

    def add_addresses(self, count: int) -> int:
        """Make room for ``count`` new addresses; returns the first new id."""
        first = len(self.coins)
        self.coins.extend([] for _ in range(count))
        if first + count > len(self.total):  # room for twice as many
            self.total = np.concatenate([self.total, np.zeros(max(1024, first + count), dtype=np.int64)])
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
        """Confirmed coins no pending spend holds (what a spend can use)."""
        return sum(c[VALUE] for c in self.coins[address] if len(c) == 3)

    # ------------------------------------------------------------------ transactions

    def deposit(self, address: int, amount: int) -> int:
        """External funding of ``address``; returns the transaction's number."""
        number = self.tx_count
        self.tx_count += 1
        self.mempool.append((number, DEPOSIT, address, amount, None, 0))
        return number

    def reserve_numbers(self, count: int) -> int:
        """Set aside ``count`` transaction numbers (for a batch of arrivals); returns the first."""
        first = self.tx_count
        self.tx_count += count
        return first

    def deposit_many(self, addresses: np.ndarray, amounts: np.ndarray, numbers: np.ndarray) -> None:
        """Deposits numbered by the caller (see :meth:`reserve_numbers`), as one batch."""
        count = len(addresses)
        self.mempool.extend(zip(numbers.tolist(), [DEPOSIT] * count, addresses.tolist(), amounts.tolist(),
                                [None] * count, [0] * count))
        self._sorted = False

    def spend(self, address: int, amount: int, number: int | None = None) -> int | None:
        """Pay ``amount`` from ``address`` to the outside world; the transaction's number, or None if the
        address's spendable coins fall short."""
        if amount <= 0:
            return None
        numbered = number is None  # the next number, taken only if the spend is made
        if numbered:
            number = self.tx_count
        free = (coin for coin in self.coins[address] if len(coin) == 3)  # not held by a pending spend
        if not self._hold(address, free, amount, number):
            return None
        if numbered:
            self.tx_count += 1
        return number

    def spend_share(self, address: int, fraction: float, number: int) -> int | None:
        """A user's spend of ``fraction`` of its address's spendable coins (``int(spendable * fraction)``
        sats, as :meth:`spendable` then :meth:`spend` would make it, in one pass): the amount, or None
        when nothing is spent."""
        free = [coin for coin in self.coins[address] if len(coin) == 3]
        amount = int(sum(coin[VALUE] for coin in free) * fraction)
        if amount <= 0:
            return None
        self._hold(address, free, amount, number)
        return amount

    def _hold(self, address: int, free, amount: int, number: int) -> bool:
        """Hold the oldest of the ``free`` coins that cover ``amount`` for spend ``number`` (into the
        mempool, change back to the address); False, holding nothing, if they fall short."""
        chosen = []
        total = 0
        for coin in free:
            chosen.append(coin)
            total += coin[VALUE]
            if total >= amount:
                break
        if total < amount:
            return False
        for coin in chosen:
            coin.append(True)
        if self.mempool and number < self.mempool[-1][0]:  # behind the last arrival: mine() sorts again
            self._sorted = False
        self.mempool.append((number, SPEND, address, amount, chosen, total - amount))
        return True

    # ------------------------------------------------------------------ blocks

    def mine(self, t: int, timestamp: int) -> ChainChange:
        if not self._sorted:  # batches and single arrivals interleave: back to arrival order
            self.mempool.sort(key=_number)
            self._sorted = True
        cap = self.max_block_txs
        included = self.mempool if cap is None else self.mempool[:cap]
        self.mempool = [] if cap is None else self.mempool[cap:]
        return self._connect_block(t, timestamp, included)

    def _connect_block(self, t: int, timestamp: int, txs: list, nonce: int = 0) -> ChainChange:
        height = self.height + 1
        touched = self._apply(txs, height)
        self.height = height
        self.cursor += 1
        self._remember(height, txs, touched, timestamp)
        first, last = (txs[0][0], txs[-1][0]) if txs else (-1, -1)
        digest = hashlib.sha256(f"{self.hashes[-1]}|{height}|{timestamp}|{nonce}|{len(txs)}|{first}|{last}"
                                .encode()).hexdigest()
        self.hashes.append(digest)
        changed = self._with_maturing(touched)
        return ChainChange(t, "block", height, self.cursor, touched, changed, self.confirmed_many(changed),
                           hash=digest, txs=len(txs))

    def _apply(self, txs: list, height: int) -> np.ndarray:
        """Confirm ``txs`` in order: a deposit adds a coin, a spend takes its coins and returns the change."""
        coins = self.coins
        moved: dict[int, int] = {}  # address -> change of its unspent total
        for number, kind, address, amount, inputs, change in txs:
            own = coins[address]
            if kind == DEPOSIT:
                own.append([amount, height, number])
                moved[address] = moved.get(address, 0) + amount
                continue
            spent = 0
            for coin in inputs:  # held by this spend (a fourth item), or free again after a reorg
                spent += coin[VALUE]
                if len(coin) == 3:
                    coin.append(_SPENT)
                else:
                    coin[3] = _SPENT
            kept = [c for c in own if len(c) == 3 or c[3] is not _SPENT]
            if change:
                kept.append([change, height, number])
            coins[address] = kept
            moved[address] = moved.get(address, 0) + change - spent
        if not txs:
            return _NONE
        touched = np.fromiter(moved, dtype=np.int64, count=len(moved))
        self.total[touched] += np.fromiter(moved.values(), dtype=np.int64, count=len(moved))
        touched.sort()
        return touched

    def _remember(self, height: int, txs: list, touched: np.ndarray, timestamp: int) -> None:
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
        """Replace the last ``depth`` blocks by a branch of ``depth + 1``. Each transaction of the
        replaced blocks draws its fate as :func:`sim.bitcoin.reorg.plan_fates` does (one draw each, in
        chain order): dropped back to the mempool, double-spent (deposits only: the external source
        takes the coins back), or kept in the same place; a spend of a coin whose deposit is gone is
        invalidated, one of a dropped deposit is dropped with it. Pending spends of coins that are
        gone are evicted from the mempool."""
        if not 1 <= depth <= min(self.height, self._keep - 2):
            raise ValueError(f"reorg depth {depth} is outside 1..{min(self.height, self._keep - 2)}")
        fork = self.height - depth
        old_tip = self.hashes[-1]
        old = [(h, self._block_txs[h], self._block_ts[h]) for h in range(fork + 1, self.height + 1)]
        count = sum(len(txs) for _, txs, _ in old)
        draws = rng.random(count) if count else np.empty(0)
        self.reorgs += 1
        touched = [self._touched_at[h] for h, _, _ in old]
        for h, txs, _ in reversed(old):  # disconnect, newest first
            self._disconnect(h, txs)
        gone: set[int] = set()  # tx numbers whose outputs no longer exist
        dropped_numbers: set[int] = set()
        kept: list[list] = [[] for _ in range(depth + 1)]
        double_spent, dropped = [], []
        position = 0
        for i, (_, txs, _) in enumerate(old):
            for tx in txs:
                draw = float(draws[position])
                position += 1
                number, kind, _, _, inputs, _ = tx
                parents = {c[TXN] for c in inputs} if inputs else set()
                if parents & gone:
                    gone.add(number)  # invalidated
                elif parents & dropped_numbers or draw < p_drop:
                    dropped.append(tx)
                    dropped_numbers.add(number)
                elif draw < p_drop + p_double_spend and kind == DEPOSIT:
                    double_spent.append(tx)
                    gone.add(number)
                else:
                    kept[i].append(tx)
        changes = []
        for i in range(depth + 1):
            ts = old[i][2] if i < depth else timestamp
            changes.append(self._connect_block(t, ts, kept[i], nonce=self.reorgs))
        self.cursor += depth  # the disconnections are journal entries too
        pending = sorted(dropped + self.mempool, key=lambda tx: tx[0])
        self.mempool = []
        for tx in pending:
            inputs = tx[4]
            if tx[1] == SPEND and any(c[TXN] in gone for c in inputs):
                for coin in inputs:
                    del coin[3:]
                continue
            if tx[1] == SPEND:
                for coin in inputs:
                    if len(coin) == 3:
                        coin.append(True)
            self.mempool.append(tx)
        touched.extend(c.touched for c in changes)
        all_touched = np.unique(np.concatenate(touched)) if touched else _NONE
        changed = self._with_maturing(all_touched)
        if self.min_conf > 1:  # the maturity of every height since the fork may have moved
            changed = np.union1d(changed, np.unique(np.concatenate(
                [self._touched_at.get(h, _NONE) for h in range(max(1, fork - self.min_conf + 1), self.height + 1)])))
        return ChainChange(t, "reorg", self.height, self.cursor, all_touched, changed, self.confirmed_many(changed),
                           hash=self.hashes[-1], depth=depth, fork_height=fork, old_tip=old_tip,
                           double_spent=tuple(tx[0] for tx in double_spent),
                           dropped=tuple(tx[0] for tx in dropped))

    def _disconnect(self, height: int, txs: list) -> None:
        coins, total = self.coins, self.total
        for number, kind, address, amount, inputs, change in reversed(txs):
            own = coins[address]
            if kind == DEPOSIT:
                own.remove(next(c for c in own if c[TXN] == number))
                total[address] -= amount
                continue
            if change:
                own.remove(next(c for c in own if c[TXN] == number))
                total[address] -= change
            for coin in inputs:
                del coin[3:]  # unspent and free again
                own.append(coin)
                total[address] += coin[VALUE]
            own.sort(key=lambda c: (c[HEIGHT], c[TXN]))
        self.height = height - 1
        self.hashes.pop()

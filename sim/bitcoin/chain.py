"""The simulated Bitcoin chain: blocks, UTXOs, mempool, confirmations, reorgs.

:class:`BitcoinChain` is a plain data structure. It has no clock and no process of its own: the
world decides when blocks are found (drawing gaps with :func:`next_block_gap`) and calls
:meth:`BitcoinChain.mine_block`; it creates transactions with :meth:`~BitcoinChain.deposit`,
:meth:`~BitcoinChain.spend` and :meth:`~BitcoinChain.transfer`; it injects reorgs with
:meth:`~BitcoinChain.reorg`. Every random choice is drawn from a ``numpy.random.Generator`` the
caller passes in, so the same calls with the same seed give the same block hashes.

Confirmation semantics (as Bitcoin Core's wallet counts them): a transaction or output in the tip
block has 1 confirmation, one in the block below it 2, and so on; an unconfirmed one has 0. The
*confirmed balance* of an address at ``min_conf`` is the sum of its unspent outputs (as of the
tip) that have at least ``min_conf`` confirmations; a confirmed spend lowers it at once. Mempool
transactions never count.

Deposits come from *external coins*: coins of the outside world, owned by an external source
address, that exist outside the simulated blocks and outside the UTXO index (so they never count
in any balance: only blocks move balances). A deposit spends one, so a reorg can double-spend a
deposit by confirming a conflicting transaction that sends the same external coin back to its
source — whose balance then does count it, since a block paid it.
"""

from __future__ import annotations

import hashlib
import math
import operator
from collections.abc import Callable, Collection, Iterable
from typing import Union

import numpy as np
from attrs import define

from .address import NETWORKS, encode_p2wpkh, random_address
from .block import GENESIS_PREV_HASH, MEAN_BLOCK_INTERVAL, Block, next_block_gap
from .changes import ChangeJournal, ChangeSet, JournalEntry
from .mempool import Mempool
from .reorg import Fate, ReorgPolicy, ReorgResult, plan_fates
from .transactions import (
    ChainError,
    Coin,
    DoubleSpendError,
    InsufficientFunds,
    InvalidTransaction,
    MAX_MONEY,
    MissingInputError,
    OutPoint,
    SupplyExhausted,
    Transaction,
    TxIn,
    TxOut,
    _sats,
)
from .utxo import UtxoSet

__all__ = [
    "BitcoinChain",
    "TxStatus",
    "ChainEvent",
    "MEAN_BLOCK_INTERVAL",
    "next_block_gap",
    "default_external_source",
]

#: What listeners receive: the mined :class:`Block`, or the :class:`ReorgResult` of a reorg.
ChainEvent = Union[Block, ReorgResult]


@define(frozen=True)
class TxStatus:
    """Where a transaction stands.

    ``state`` is ``"confirmed"`` (in the active chain at ``height``), ``"mempool"``, ``"removed"``
    (known, but vanished, invalidated or double-spent by a reorg, or replaced) or ``"unknown"``.
    ``confirmations`` is ``tip - height + 1`` when confirmed, else 0.
    """

    txid: str
    state: str
    height: int | None
    confirmations: int


def default_external_source(network: str) -> str:
    """The external address deposits come from unless the caller names one."""
    program = hashlib.sha256(b"reservebtc-sim/external-source").digest()[:20]
    return encode_p2wpkh(program, network)


def _external_txid(number: int) -> str:
    return hashlib.sha256(b"reservebtc-sim/external-coin/" + number.to_bytes(8, "little")).hexdigest()


def _timestamp(value: object) -> int:
    """Unix seconds as an integer; non-integral numbers are floored."""
    if isinstance(value, bool):
        raise TypeError("a timestamp must be a number, not a bool")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return math.floor(float(value))  # type: ignore[arg-type]


def _min_conf(value: int) -> int:
    value = operator.index(value)
    if value < 1:
        raise ValueError(f"min_conf must be >= 1 (confirmed outputs only), got {value}")
    return value


class BitcoinChain:
    """A deterministic simulated Bitcoin chain (see the module docstring for the semantics).

    Args:
        network: ``"mainnet"``, ``"testnet"`` or ``"regtest"``: the network of the addresses the
            chain itself makes (the default external source, double-spend destinations).
        genesis_time: the genesis block's timestamp (unix seconds).
        max_block_txs: default cap on transactions per mined block (``None``: no cap).
        external_source: the address deposits come from by default.
    """

    def __init__(
        self,
        network: str = "regtest",
        genesis_time: int = 0,
        *,
        max_block_txs: int | None = None,
        external_source: str | None = None,
    ) -> None:
        if network not in NETWORKS:
            raise ValueError(f"unknown network {network!r}; expected one of {', '.join(NETWORKS)}")
        if max_block_txs is not None and max_block_txs < 1:
            raise ValueError(f"max_block_txs must be >= 1 or None, got {max_block_txs}")
        self.network = network
        self.max_block_txs = max_block_txs
        self.external_source = external_source or default_external_source(network)
        genesis = Block.make(0, _timestamp(genesis_time), GENESIS_PREV_HASH, ())
        self._blocks: list[Block] = [genesis]
        self._utxo = UtxoSet()
        self._undo: dict[str, list[Coin]] = {}
        self._spent_by: dict[OutPoint, str] = {}
        self._tx_height: dict[str, int] = {}
        self._txs: dict[str, Transaction] = {}
        self._tx_seq: dict[str, int] = {}
        self._next_seq = 0
        self._mempool = Mempool()
        self._external_coins: dict[OutPoint, Coin] = {}  # unspent external coins
        self._external_ids: set[OutPoint] = set()  # every external coin ever made
        self._external_count = 0
        self.external_funded = 0  # sats ever deposited from outside; never more than MAX_MONEY
        self._journal = ChangeJournal(genesis_height=0)
        self._listeners: list[Callable[[ChainEvent], None]] = []
        self._reorg_count = 0

    # ----------------------------------------------------------------------------------------
    # Chain shape
    # ----------------------------------------------------------------------------------------

    @property
    def height(self) -> int:
        """Height of the tip (0 before any block is mined)."""
        return len(self._blocks) - 1

    @property
    def tip(self) -> Block:
        return self._blocks[-1]

    @property
    def tip_hash(self) -> str:
        return self._blocks[-1].hash

    @property
    def genesis(self) -> Block:
        return self._blocks[0]

    @property
    def reorg_count(self) -> int:
        """How many reorgs this chain has gone through."""
        return self._reorg_count

    def block_at(self, height: int) -> Block:
        """The active block at ``height``; ``IndexError`` outside ``0..height``."""
        if not 0 <= height < len(self._blocks):
            raise IndexError(f"no block at height {height}; the tip is at {self.height}")
        return self._blocks[height]

    def blocks(self) -> tuple[Block, ...]:
        """The active chain, genesis first (a copy: O(height))."""
        return tuple(self._blocks)

    # ----------------------------------------------------------------------------------------
    # Listeners
    # ----------------------------------------------------------------------------------------

    def add_listener(self, listener: Callable[[ChainEvent], None]) -> None:
        """Call ``listener`` after every mined block (with the :class:`Block`) and every reorg
        (with the :class:`ReorgResult`), once the chain state is updated. Exceptions propagate."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[ChainEvent], None]) -> None:
        self._listeners.remove(listener)

    def _emit(self, event: ChainEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    # ----------------------------------------------------------------------------------------
    # Transactions
    # ----------------------------------------------------------------------------------------

    def deposit(
        self, to: str, amount: int, *, fee: int = 0, source: str | None = None
    ) -> Transaction:
        """External funding: a fresh external coin of ``amount + fee`` sats owned by ``source``
        (default :attr:`external_source`) is spent to ``to``. Submitted to the mempool and
        returned; it counts once mined."""
        amount = _sats(amount)
        fee = _sats(fee)
        if fee < 0:
            raise ValueError(f"fee must be >= 0, got {fee}")
        if self.external_funded + amount + fee > MAX_MONEY:
            raise SupplyExhausted(f"a deposit of {amount + fee} sats would take the BTC ever deposited past "
                                  f"21 M BTC ({self.external_funded} sats so far)")
        self.external_funded += amount + fee
        source = source or self.external_source
        self._external_count += 1
        coin = Coin(OutPoint(_external_txid(self._external_count), 0), source, amount + fee, 0)
        self._external_coins[coin.outpoint] = coin
        self._external_ids.add(coin.outpoint)
        tx = Transaction.build(
            "deposit", [TxIn(coin.outpoint, source, coin.value)], [TxOut(to, amount)]
        )
        return self.submit(tx)

    def spend(
        self,
        from_address: str,
        to: str,
        amount: int,
        *,
        fee: int = 0,
        change_to: str | None = None,
        kind: str = "spend",
    ) -> Transaction:
        """Pay ``amount`` sats from ``from_address`` to ``to``, change back to ``change_to``
        (default: ``from_address``), ``fee`` sats to the miner.

        Spends only confirmed coins that no mempool transaction spends yet, oldest first.
        Submitted to the mempool and returned. Raises :class:`InsufficientFunds` if those coins
        are worth less than ``amount + fee``.
        """
        amount = _sats(amount)
        fee = _sats(fee)
        if amount <= 0 or fee < 0:
            raise ValueError(f"amount must be > 0 and fee >= 0, got {amount} and {fee}")
        needed = amount + fee
        chosen: list[Coin] = []
        total = 0
        for coin in self._spendable_coins(from_address):
            chosen.append(coin)
            total += coin.value
            if total >= needed:
                break
        if total < needed:
            raise InsufficientFunds(from_address, needed, total)
        outputs = [TxOut(to, amount)]
        if total > needed:
            outputs.append(TxOut(change_to or from_address, total - needed))
        inputs = [TxIn(c.outpoint, c.address, c.value) for c in chosen]
        return self.submit(Transaction.build(kind, inputs, outputs))

    def transfer(self, from_address: str, to: str, amount: int, *, fee: int = 0) -> Transaction:
        """:meth:`spend` between two user addresses (kind ``"transfer"``)."""
        return self.spend(from_address, to, amount, fee=fee, kind="transfer")

    def submit(self, tx: Transaction) -> Transaction:
        """Add a transaction to the mempool and return it.

        Its inputs must be unspent outputs of the active chain (external coins included) or
        outputs of mempool transactions, with the address and value the inputs state. Raises
        :class:`DoubleSpendError` if a confirmed or mempool transaction already spends one of
        them, :class:`MissingInputError` if one does not exist, :class:`InvalidTransaction` if the
        txid is already confirmed or pending.
        """
        if tx.txid in self._tx_height or tx.txid in self._mempool:
            raise InvalidTransaction(f"transaction {tx.txid} is already confirmed or in the mempool")
        self._check_mempool_inputs(tx)
        self._remember(tx)
        self._mempool.add(tx, self._tx_seq[tx.txid])
        return tx

    def _remember(self, tx: Transaction) -> None:
        self._txs.setdefault(tx.txid, tx)
        if tx.txid not in self._tx_seq:
            self._tx_seq[tx.txid] = self._next_seq
            self._next_seq += 1

    def _spendable_coins(self, address: str) -> list[Coin]:
        return [c for c in self._utxo.coins(address) if self._mempool.spender(c.outpoint) is None]

    def _check_mempool_inputs(self, tx: Transaction) -> None:
        for txin in tx.inputs:
            prevout = txin.prevout
            spender = self._mempool.spender(prevout)
            if spender is not None:
                raise DoubleSpendError(tx.txid, prevout, spender, "in the mempool")
            coin = self._coin(prevout)
            if coin is not None:
                if coin.address != txin.address or coin.value != txin.value:
                    raise MissingInputError(
                        f"transaction {tx.txid} input {prevout} claims {txin.value} sats at "
                        f"{txin.address}, but that output is {coin.value} sats at {coin.address}"
                    )
                continue
            parent = self._mempool.get(prevout.txid)
            if parent is not None and prevout.index < len(parent.tx.outputs):
                out = parent.tx.outputs[prevout.index]
                if out.address != txin.address or out.value != txin.value:
                    raise MissingInputError(
                        f"transaction {tx.txid} input {prevout} claims {txin.value} sats at "
                        f"{txin.address}, but that output is {out.value} sats at {out.address}"
                    )
                continue
            spent_by = self._spent_by.get(prevout)
            if spent_by is not None:
                raise DoubleSpendError(
                    tx.txid, prevout, spent_by, f"confirmed at height {self._tx_height[spent_by]}"
                )
            raise MissingInputError(f"transaction {tx.txid} spends {prevout}, which does not exist")

    def _mempool_accepts(self, tx: Transaction) -> bool:
        try:
            self._check_mempool_inputs(tx)
        except InvalidTransaction:
            return False
        return True

    # ----------------------------------------------------------------------------------------
    # Blocks
    # ----------------------------------------------------------------------------------------

    def mine_block(self, timestamp: int | float, *, max_txs: int | None = None) -> Block:
        """Mine the next block at ``timestamp`` and return it.

        It confirms mempool transactions oldest first, up to ``max_txs`` (default
        :attr:`max_block_txs`; ``None`` means all); a transaction whose mempool parent is not
        included stays for a later block. ``timestamp`` (unix seconds, floored to an integer) must
        not be below the tip's. Listeners receive the block.
        """
        ts = _timestamp(timestamp)
        if ts < self.tip.timestamp:
            raise ValueError(f"block timestamp {ts} is below the tip's ({self.tip.timestamp})")
        cap = self.max_block_txs if max_txs is None else max_txs
        included: list[Transaction] = []
        created: set[OutPoint] = set()
        spent: set[OutPoint] = set()
        for entry in self._mempool.ordered():
            if cap is not None and len(included) >= cap:
                break
            tx = entry.tx
            if not all(
                (self._coin(txin.prevout) is not None or txin.prevout in created)
                and txin.prevout not in spent
                for txin in tx.inputs
            ):
                continue
            spent.update(txin.prevout for txin in tx.inputs)
            created.update(OutPoint(tx.txid, i) for i in range(len(tx.outputs)))
            included.append(tx)
        block = Block.make(self.height + 1, ts, self.tip_hash, tuple(included))
        self._connect(block)
        for tx in included:
            self._mempool.remove(tx.txid)
        self._emit(block)
        return block

    def _check_block(self, block: Block) -> None:
        """Raise :class:`InvalidTransaction` unless every input of ``block`` is available."""
        created: dict[OutPoint, TxOut] = {}
        spent: set[OutPoint] = set()
        for tx in block.txs:
            if tx.txid in self._tx_height:
                raise InvalidTransaction(f"transaction {tx.txid} is already confirmed")
            for txin in tx.inputs:
                prevout = txin.prevout
                if prevout in spent:
                    raise DoubleSpendError(tx.txid, prevout, "an earlier transaction", "same block")
                coin = self._coin(prevout)
                found = (coin.address, coin.value) if coin is not None else None
                if found is None and prevout in created:
                    out = created[prevout]
                    found = (out.address, out.value)
                if found != (txin.address, txin.value):
                    raise MissingInputError(
                        f"block {block.height}: transaction {tx.txid} spends {prevout}, "
                        f"which is not an unspent output of {txin.value} sats at {txin.address}"
                    )
                spent.add(prevout)
            for index, out in enumerate(tx.outputs):
                created[OutPoint(tx.txid, index)] = out

    def _coin(self, outpoint: OutPoint) -> Coin | None:
        """The unspent coin at ``outpoint``: a chain output or an external coin."""
        coin = self._utxo.get(outpoint)
        return coin if coin is not None else self._external_coins.get(outpoint)

    def _take_coin(self, outpoint: OutPoint) -> Coin:
        if outpoint in self._external_ids:
            return self._external_coins.pop(outpoint)
        return self._utxo.remove(outpoint)

    def _put_coin(self, coin: Coin) -> None:
        if coin.outpoint in self._external_ids:
            self._external_coins[coin.outpoint] = coin
        else:
            self._utxo.add(coin)

    def _connect(self, block: Block) -> None:
        if block.height != self.height + 1 or block.prev_hash != self.tip_hash:
            raise ChainError(f"block {block.hash} does not extend the tip")
        self._check_block(block)
        undo: list[Coin] = []
        for tx in block.txs:
            for txin in tx.inputs:
                undo.append(self._take_coin(txin.prevout))
                self._spent_by[txin.prevout] = tx.txid
            for index, out in enumerate(tx.outputs):
                self._utxo.add(Coin(OutPoint(tx.txid, index), out.address, out.value, block.height))
            self._tx_height[tx.txid] = block.height
            self._remember(tx)
        self._undo[block.hash] = undo
        self._blocks.append(block)
        self._journal.record("connect", block, self.height)

    def _disconnect_tip(self) -> Block:
        block = self._blocks.pop()
        undo = self._undo.pop(block.hash)
        end = len(undo)
        for tx in reversed(block.txs):
            for index in range(len(tx.outputs)):
                self._utxo.remove(OutPoint(tx.txid, index))
            start = end - len(tx.inputs)
            for txin, coin in zip(tx.inputs, undo[start:end]):
                self._put_coin(coin)
                del self._spent_by[txin.prevout]
            end = start
            del self._tx_height[tx.txid]
        self._journal.record("disconnect", block, self.height)
        return block

    # ----------------------------------------------------------------------------------------
    # Reorgs
    # ----------------------------------------------------------------------------------------

    def reorg(
        self,
        depth: int,
        rng: np.random.Generator,
        policy: ReorgPolicy | None = None,
        *,
        timestamp: int | float | None = None,
    ) -> ReorgResult:
        """Replace the last ``depth`` blocks with a competing branch and return what changed.

        The branch has ``policy.branch_length(depth)`` blocks (``depth + 1`` by default). Block
        ``i`` of the branch (``i < depth``) keeps the timestamp of the block it replaces and its
        KEEP transactions, in order, with double-spent transactions replaced in place by their
        conflicts; later blocks get ``timestamp`` (default: the old tip's). DELAYed transactions
        go, in order, at the end of the last block. DROPped ones return to the mempool in their
        old place; mempool transactions that can no longer be valid are evicted. Fates are drawn
        by :func:`sim.bitcoin.reorg.plan_fates` from ``rng``. Branch blocks carry the reorg
        number as nonce, so their hashes differ from the replaced ones. Listeners receive the
        result.
        """
        policy = policy or ReorgPolicy()
        depth = operator.index(depth)
        if not 1 <= depth <= self.height:
            raise ValueError(f"reorg depth {depth} is outside 1..{self.height} (the tip height)")
        length = policy.branch_length(depth)
        old_tip = self.tip
        ts_extra = old_tip.timestamp if timestamp is None else _timestamp(timestamp)
        if ts_extra < old_tip.timestamp:
            raise ValueError(f"timestamp {ts_extra} is below the old tip's ({old_tip.timestamp})")
        fork_height = self.height - depth
        cursor_before = self.cursor
        old_blocks = self._blocks[fork_height + 1 :]
        block_index = {tx.txid: i for i, b in enumerate(old_blocks) for tx in b.txs}
        plan = plan_fates([tx for b in old_blocks for tx in b.txs], rng, policy)

        self._reorg_count += 1
        nonce = self._reorg_count
        for _ in range(depth):
            self._disconnect_tip()

        contents: list[list[Transaction]] = [[] for _ in range(length)]
        delayed: list[Transaction] = []
        by_fate: dict[Fate, list[str]] = {fate: [] for fate in Fate}
        double_spent: list[tuple[str, str]] = []
        for tx, fate in plan:
            by_fate[fate].append(tx.txid)
            if fate is Fate.KEEP:
                contents[block_index[tx.txid]].append(tx)
            elif fate is Fate.DELAY:
                delayed.append(tx)
            elif fate is Fate.DOUBLE_SPEND:
                conflict = self._conflict_for(tx, rng, policy)
                contents[block_index[tx.txid]].append(conflict)
                double_spent.append((tx.txid, conflict.txid))
        contents[-1].extend(delayed)

        connected: list[Block] = []
        for i, txs in enumerate(contents):
            ts = old_blocks[i].timestamp if i < depth else ts_extra
            block = Block.make(self.height + 1, ts, self.tip_hash, tuple(txs), nonce=nonce)
            self._connect(block)
            connected.append(block)

        for txid in by_fate[Fate.DROP]:
            self._mempool.add(self._txs[txid], self._tx_seq[txid])
        evicted = self._revalidate_mempool()

        addresses = set()
        for block in (*old_blocks, *connected):
            addresses.update(block.addresses)
        result = ReorgResult(
            reorg_number=nonce,
            depth=depth,
            fork_height=fork_height,
            old_tip_height=old_tip.height,
            old_tip_hash=old_tip.hash,
            new_tip_height=self.height,
            new_tip_hash=self.tip_hash,
            disconnected=tuple(old_blocks),
            connected=tuple(connected),
            fates=tuple((tx.txid, fate) for tx, fate in plan),
            kept=tuple(by_fate[Fate.KEEP]),
            delayed=tuple(by_fate[Fate.DELAY]),
            dropped=tuple(by_fate[Fate.DROP]),
            vanished=tuple(by_fate[Fate.VANISH]),
            double_spent=tuple(double_spent),
            invalidated=tuple(by_fate[Fate.INVALIDATED]) + tuple(evicted),
            affected_addresses=tuple(sorted(addresses)),
            cursor_before=cursor_before,
            cursor_after=self.cursor,
        )
        self._emit(result)
        return result

    def _conflict_for(
        self, tx: Transaction, rng: np.random.Generator, policy: ReorgPolicy
    ) -> Transaction:
        """A transaction spending ``tx``'s inputs elsewhere, with the same fee."""
        if tx.kind == "deposit":
            destination = tx.inputs[0].address
        else:
            destination = policy.double_spend_to or random_address(rng, "p2wpkh", self.network)
        conflict = Transaction.build(
            "double-spend", tx.inputs, [TxOut(destination, tx.output_value)], conflicts_with=tx.txid
        )
        self._remember(conflict)
        return conflict

    def _revalidate_mempool(self) -> list[str]:
        """Re-admit every mempool transaction in arrival order; return the txids that no longer
        fit (their inputs are spent by the chain or gone)."""
        evicted: list[str] = []
        for entry in self._mempool.clear():
            if self._mempool_accepts(entry.tx) and entry.tx.txid not in self._tx_height:
                self._mempool.add(entry.tx, entry.seq)
            else:
                evicted.append(entry.tx.txid)
        return evicted

    # ----------------------------------------------------------------------------------------
    # Queries
    # ----------------------------------------------------------------------------------------

    def confirmed_balance(self, address: str, min_conf: int = 1) -> int:
        """Sats in ``address``'s unspent outputs with at least ``min_conf`` (>= 1) confirmations.

        ``O(min(min_conf, k))`` (``k``: distinct heights of the address's unspent coins): no scan
        of the UTXO set.
        """
        return self._utxo.balance(address, _min_conf(min_conf), self.height)

    def total_confirmed(self, addresses: Iterable[str], min_conf: int = 1) -> int:
        """Sum of :meth:`confirmed_balance` over ``addresses`` (each distinct address once)."""
        min_conf = _min_conf(min_conf)
        tip = self.height
        return sum(self._utxo.balance(a, min_conf, tip) for a in dict.fromkeys(addresses))

    def spendable_balance(self, address: str) -> int:
        """Sats in ``address``'s confirmed coins that no mempool transaction spends yet: what
        :meth:`spend` can use."""
        return sum(c.value for c in self._spendable_coins(address))

    def utxos(self, address: str) -> tuple[Coin, ...]:
        """The address's unspent confirmed coins, oldest first."""
        return tuple(self._utxo.coins(address))

    def is_external_coin(self, outpoint: OutPoint) -> bool:
        """True for the outpoint of an external coin (see the module docstring)."""
        return outpoint in self._external_ids

    def external_coin_unspent(self, outpoint: OutPoint) -> bool:
        """True while the external coin at ``outpoint`` is spent by no active-chain block."""
        return outpoint in self._external_coins

    def get_transaction(self, txid: str) -> Transaction:
        """Any transaction the chain has seen (confirmed, pending or removed); ``KeyError`` else."""
        return self._txs[txid]

    def tx_status(self, txid: str) -> TxStatus:
        """Where ``txid`` stands now (see :class:`TxStatus`)."""
        height = self._tx_height.get(txid)
        if height is not None:
            return TxStatus(txid, "confirmed", height, self.height - height + 1)
        if txid in self._mempool:
            return TxStatus(txid, "mempool", None, 0)
        if txid in self._txs:
            return TxStatus(txid, "removed", None, 0)
        return TxStatus(txid, "unknown", None, 0)

    def confirmations(self, txid: str) -> int:
        """``tip - height + 1`` for a confirmed transaction, else 0."""
        height = self._tx_height.get(txid)
        return 0 if height is None else self.height - height + 1

    def mempool_txids(self) -> tuple[str, ...]:
        """Pending txids, oldest first (the order the next block takes them)."""
        return self._mempool.txids()

    def mempool_transactions(self) -> tuple[Transaction, ...]:
        return tuple(e.tx for e in self._mempool.ordered())

    # ----------------------------------------------------------------------------------------
    # Incremental polling
    # ----------------------------------------------------------------------------------------

    @property
    def cursor(self) -> int:
        """The change cursor: grows by one per block connected or disconnected, never shrinks."""
        return self._journal.cursor

    def changes_since(
        self, cursor: int, min_conf: int = 1, watched: Collection[str] | None = None
    ) -> ChangeSet:
        """Addresses whose confirmed balance at ``min_conf`` may differ from when the chain was
        at ``cursor`` (a superset; exact for the blocks involved, see
        :mod:`sim.bitcoin.changes`), restricted to ``watched`` if given, with the new cursor.
        Correct across reorgs: addresses touched by disconnected blocks are included."""
        return self._journal.changes_since(
            cursor, _min_conf(min_conf), self.height, self.tip_hash, self.block_at, watched
        )

    def changed_addresses(
        self, since_cursor: int, min_conf: int = 1, watched: Collection[str] | None = None
    ) -> tuple[str, ...]:
        """The ``addresses`` of :meth:`changes_since`."""
        return self.changes_since(since_cursor, min_conf, watched).addresses

    def journal_since(self, cursor: int) -> list[JournalEntry]:
        """The connect/disconnect entries after ``cursor``, oldest first (for event logs)."""
        return self._journal.entries_since(cursor)

"""The simulated Bitcoin chain: balances, confirmations, mempool, reorgs, polling, determinism."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from sim.bitcoin import (
    BitcoinChain,
    DoubleSpendError,
    Fate,
    InsufficientFunds,
    InvalidTransaction,
    MissingInputError,
    OutPoint,
    ReorgPolicy,
    ReorgResult,
    Transaction,
    TxIn,
    TxOut,
    next_block_gap,
    random_address,
)
from sim.bitcoin.block import block_hash
from tests.conftest import examples

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------
# Brute force: recompute everything from the active chain's blocks alone
# ---------------------------------------------------------------------------------------------


def replay(chain: BitcoinChain) -> tuple[dict[OutPoint, tuple[str, int, int]], dict[str, int]]:
    """Replay every block from genesis, checking linkage and spends; return the unspent
    outputs ``{outpoint: (address, value, height)}`` and each confirmed txid's height.
    External coins (deposit sources) live outside the blocks and count in no balance."""
    unspent: dict[OutPoint, tuple[str, int, int]] = {}
    spent: set[OutPoint] = set()
    heights: dict[str, int] = {}
    blocks = chain.blocks()
    for height, block in enumerate(blocks):
        assert block.height == height
        if height:
            parent = blocks[height - 1]
            assert block.prev_hash == parent.hash
            assert block.timestamp >= parent.timestamp
        assert block.hash == block_hash(block.prev_hash, height, block.timestamp, block.nonce, block.txids)
        for tx in block.txs:
            assert tx.txid not in heights, "a transaction confirmed twice"
            heights[tx.txid] = height
            assert tx.output_value <= tx.input_value
            for txin in tx.inputs:
                assert txin.prevout not in spent, f"{txin.prevout} spent twice in the active chain"
                spent.add(txin.prevout)
                if txin.prevout in unspent:
                    assert unspent.pop(txin.prevout)[:2] == (txin.address, txin.value)
                else:
                    assert chain.is_external_coin(txin.prevout), f"{txin.prevout} comes from nowhere"
            for index, out in enumerate(tx.outputs):
                unspent[OutPoint(tx.txid, index)] = (out.address, out.value, height)
    return unspent, heights


def brute_balance(unspent: dict, address: str, min_conf: int, tip: int) -> int:
    return sum(v for (a, v, h) in unspent.values() if a == address and tip - h + 1 >= min_conf)


def users(n: int, seed: int = 99) -> list[str]:
    rng = np.random.default_rng(seed)
    return [random_address(rng, "p2wpkh" if i % 2 == 0 else "p2tr", "regtest") for i in range(n)]


# ---------------------------------------------------------------------------------------------
# Blocks and confirmation semantics
# ---------------------------------------------------------------------------------------------


def test_block_gaps_are_exponential_with_mean_600_and_deterministic() -> None:
    gaps = [next_block_gap(np.random.default_rng(5)) for _ in range(2)]
    assert gaps[0] == gaps[1]
    rng = np.random.default_rng(2024)
    sample = np.array([next_block_gap(rng) for _ in range(20_000)])
    assert (sample >= 0).all()
    assert 580 < sample.mean() < 620  # fixed seed: deterministic, not a flaky statistical test
    assert 580 < np.median(sample) / np.log(2) < 620
    with pytest.raises(ValueError):
        next_block_gap(rng, mean=0)


def test_confirmations_at_min_conf_1_and_6() -> None:
    alice, bob = users(2)
    chain = BitcoinChain()
    deposit = chain.deposit(alice, 100_000)
    assert chain.tx_status(deposit.txid).state == "mempool"
    assert chain.confirmations(deposit.txid) == 0
    assert chain.confirmed_balance(alice, 1) == 0  # the mempool never counts

    chain.mine_block(600)
    assert chain.confirmations(deposit.txid) == 1  # in the tip block: 1 confirmation
    assert chain.confirmed_balance(alice, 1) == 100_000
    assert chain.confirmed_balance(alice, 2) == 0
    assert chain.confirmed_balance(alice, 6) == 0

    for i in range(4):
        chain.mine_block(1200 + 600 * i)
    assert chain.confirmations(deposit.txid) == 5
    assert chain.confirmed_balance(alice, 6) == 0
    chain.mine_block(4000)
    assert chain.confirmations(deposit.txid) == 6
    assert chain.confirmed_balance(alice, 6) == 100_000
    assert chain.tx_status(deposit.txid).height == 1

    # A second, younger deposit counts at min_conf 1 only; a confirmed spend counts at once.
    chain.deposit(alice, 5_000)
    chain.spend(alice, bob, 30_000, fee=500)
    chain.mine_block(4600)
    assert chain.confirmed_balance(alice, 1) == 100_000 + 5_000 - 30_000 - 500
    # The change output is young, the old coin is spent: nothing has 6 confirmations.
    assert chain.confirmed_balance(alice, 6) == 0
    assert chain.confirmed_balance(bob, 1) == 30_000
    assert chain.total_confirmed([alice, bob, alice], 1) == 105_000 - 500
    with pytest.raises(ValueError):
        chain.confirmed_balance(alice, 0)


def test_balances_at_every_min_conf_match_brute_force_on_a_longer_run() -> None:
    rng = np.random.default_rng(11)
    people = users(12)
    chain = BitcoinChain(max_block_txs=7)
    now = 0.0
    for _ in range(60):
        for _ in range(int(rng.integers(0, 5))):
            who = people[int(rng.integers(len(people)))]
            if rng.random() < 0.5:
                chain.deposit(who, int(rng.integers(1, 10**6)), fee=int(rng.integers(0, 100)))
            else:
                other = people[int(rng.integers(len(people)))]
                try:
                    chain.transfer(who, other, int(rng.integers(1, 10**5)), fee=10)
                except InsufficientFunds:
                    pass
        now += next_block_gap(rng)
        chain.mine_block(now)
    unspent, _ = replay(chain)
    for who in people:
        for min_conf in (1, 2, 3, 6, 10, 100):
            assert chain.confirmed_balance(who, min_conf) == brute_balance(unspent, who, min_conf, chain.height)


def test_timestamps_must_not_go_backwards() -> None:
    chain = BitcoinChain(genesis_time=1_700_000_000)
    with pytest.raises(ValueError):
        chain.mine_block(1_699_999_999)
    block = chain.mine_block(1_700_000_600.9)
    assert block.timestamp == 1_700_000_600


# ---------------------------------------------------------------------------------------------
# Mempool and double spends
# ---------------------------------------------------------------------------------------------


def test_double_spend_detection_in_mempool_and_chain() -> None:
    alice, bob, carol = users(3)
    chain = BitcoinChain()
    chain.deposit(alice, 50_000)
    chain.mine_block(600)
    pay = chain.spend(alice, bob, 20_000)
    assert chain.spendable_balance(alice) == 0  # the only coin is reserved by the pending spend
    with pytest.raises(InsufficientFunds) as info:
        chain.spend(alice, carol, 1)
    assert info.value.available == 0

    conflicting = Transaction.build("spend", pay.inputs, [TxOut(carol, 49_000)])
    with pytest.raises(DoubleSpendError) as ds:
        chain.submit(conflicting)
    assert ds.value.spent_by == pay.txid and "mempool" in str(ds.value)

    chain.mine_block(1200)
    with pytest.raises(DoubleSpendError) as ds:
        chain.submit(conflicting)
    assert ds.value.spent_by == pay.txid and "confirmed at height 2" in str(ds.value)

    with pytest.raises(InvalidTransaction):
        chain.submit(pay)  # already confirmed
    bogus = Transaction.build("spend", [TxIn(OutPoint("ab" * 32, 0), alice, 5)], [TxOut(bob, 5)])
    with pytest.raises(MissingInputError):
        chain.submit(bogus)
    lying = Transaction.build("spend", [TxIn(OutPoint(pay.txid, 0), bob, 1)], [TxOut(carol, 1)])
    with pytest.raises(MissingInputError):
        chain.submit(lying)  # wrong value for that output


def test_unconfirmed_chains_and_block_cap_take_oldest_first() -> None:
    alice, bob, carol = users(3)
    chain = BitcoinChain(max_block_txs=2)
    deposits = [chain.deposit(alice, 1_000 * (i + 1)) for i in range(5)]
    first = chain.mine_block(600)
    assert first.txids == (deposits[0].txid, deposits[1].txid)
    # A child of a pending transaction waits for its parent.
    parent = chain.spend(alice, bob, 2_500)
    child = Transaction.build("transfer", [TxIn(parent.outpoint(0), bob, 2_500)], [TxOut(carol, 2_400)])
    chain.submit(child)
    assert chain.mempool_txids() == (deposits[2].txid, deposits[3].txid, deposits[4].txid, parent.txid, child.txid)
    chain.mine_block(1200)
    chain.mine_block(1800, max_txs=10)
    assert chain.mempool_txids() == ()
    assert chain.confirmations(child.txid) == 1
    assert chain.confirmed_balance(carol) == 2_400
    unspent, _ = replay(chain)
    assert chain.confirmed_balance(alice) == brute_balance(unspent, alice, 1, chain.height)


# ---------------------------------------------------------------------------------------------
# Reorgs
# ---------------------------------------------------------------------------------------------


def _funded_chain() -> tuple[BitcoinChain, list[str], Transaction]:
    alice, bob = users(2)
    chain = BitcoinChain()
    chain.deposit(alice, 10_000)
    chain.mine_block(600)
    deposit = chain.deposit(alice, 70_000)
    chain.mine_block(1200)
    chain.mine_block(1800)
    return chain, [alice, bob], deposit


def test_reorg_double_spending_a_deposit_lowers_the_confirmed_balance() -> None:
    chain, (alice, _), deposit = _funded_chain()
    assert chain.confirmed_balance(alice, 1) == 80_000
    assert chain.confirmed_balance(alice, 2) == 80_000
    old_tip = chain.tip_hash
    events: list[object] = []
    chain.add_listener(events.append)

    result = chain.reorg(2, np.random.default_rng(0), ReorgPolicy(fates={deposit.txid: Fate.DOUBLE_SPEND}))

    assert events == [result]
    assert result.old_tip_hash == old_tip and result.new_tip_hash == chain.tip_hash != old_tip
    assert (result.fork_height, result.old_tip_height, result.new_tip_height) == (1, 3, 4)
    assert len(result.disconnected) == 2 and len(result.connected) == 3
    # Replacement blocks keep the replaced blocks' timestamps; the extra one gets the old tip's.
    assert [b.timestamp for b in result.connected] == [1200, 1800, 1800]
    assert [b.height for b in result.connected] == [2, 3, 4]
    assert all(b.nonce == result.reorg_number == 1 for b in result.connected)
    (original, conflict_txid), = result.double_spent
    assert original == deposit.txid
    conflict = chain.get_transaction(conflict_txid)
    assert conflict.kind == "double-spend" and conflict.conflicts_with == deposit.txid
    assert conflict.inputs == deposit.inputs
    assert conflict.outputs == (TxOut(deposit.inputs[0].address, 70_000),)  # the source took it back
    assert chain.confirmations(conflict_txid) == 3
    assert chain.tx_status(deposit.txid).state == "removed"
    assert chain.confirmed_balance(alice, 1) == 10_000
    assert chain.confirmed_balance(alice, 2) == 10_000
    assert alice in result.affected_addresses
    unspent, _ = replay(chain)
    assert chain.confirmed_balance(alice) == brute_balance(unspent, alice, 1, chain.height)


def test_reorg_dropping_a_deposit_returns_it_to_the_mempool() -> None:
    chain, (alice, _), deposit = _funded_chain()
    result = chain.reorg(2, np.random.default_rng(0), ReorgPolicy(fates={deposit.txid: "drop"}))
    assert result.dropped == (deposit.txid,)
    assert chain.confirmed_balance(alice) == 10_000
    assert chain.tx_status(deposit.txid).state == "mempool"
    chain.mine_block(2400)
    assert chain.confirmations(deposit.txid) == 1
    assert chain.confirmed_balance(alice, 1) == 80_000
    assert chain.confirmed_balance(alice, 2) == 10_000


def test_reorg_vanish_delay_and_keep() -> None:
    chain, (alice, _), deposit = _funded_chain()
    result = chain.reorg(2, np.random.default_rng(0), ReorgPolicy(fates={deposit.txid: Fate.VANISH}))
    assert result.vanished == (deposit.txid,)
    assert chain.tx_status(deposit.txid).state == "removed"
    assert chain.mempool_txids() == ()
    assert chain.confirmed_balance(alice) == 10_000
    assert chain.is_external_coin(deposit.inputs[0].prevout)
    assert chain.external_coin_unspent(deposit.inputs[0].prevout)  # the source has its coin back
    assert chain.confirmed_balance(deposit.inputs[0].address) == 0  # outside coins never count

    chain, (alice, _), deposit = _funded_chain()
    result = chain.reorg(
        2, np.random.default_rng(0), ReorgPolicy(new_length=4, fates={deposit.txid: Fate.DELAY}), timestamp=2500.5
    )
    assert [b.timestamp for b in result.connected] == [1200, 1800, 2500, 2500]
    assert result.delayed == (deposit.txid,)
    assert chain.height == 5 and chain.tx_status(deposit.txid).height == 5
    assert chain.confirmed_balance(alice, 1) == 80_000
    assert chain.confirmed_balance(alice, 2) == 10_000

    chain, (alice, _), deposit = _funded_chain()
    before = chain.confirmations(deposit.txid)
    result = chain.reorg(2, np.random.default_rng(0))
    assert result.kept == (deposit.txid,)
    assert chain.confirmations(deposit.txid) == before + 1  # same height, one more block on top
    assert chain.confirmed_balance(alice, 3) == 80_000


def test_reorg_invalidates_descendants_in_chain_and_mempool() -> None:
    alice, bob, carol = users(3)
    chain = BitcoinChain()
    deposit = chain.deposit(alice, 40_000)
    chain.mine_block(600)
    moved = chain.transfer(alice, bob, 25_000)
    chain.mine_block(1200)
    pending = chain.transfer(bob, carol, 5_000)  # spends `moved`'s output, waits in the mempool
    result = chain.reorg(2, np.random.default_rng(0), ReorgPolicy(fates={deposit.txid: Fate.DOUBLE_SPEND}))
    assert result.fate_of(moved.txid) is Fate.INVALIDATED
    assert set(result.invalidated) == {moved.txid, pending.txid}
    assert chain.mempool_txids() == ()
    for who in (alice, bob, carol):
        assert chain.confirmed_balance(who) == 0

    # A delayed parent drags its kept child along; a dropped parent takes it to the mempool.
    chain = BitcoinChain()
    deposit = chain.deposit(alice, 40_000)
    chain.mine_block(600)
    moved = chain.transfer(alice, bob, 25_000)
    chain.mine_block(1200)
    result = chain.reorg(2, np.random.default_rng(0), ReorgPolicy(fates={deposit.txid: Fate.DELAY}))
    assert result.delayed == (deposit.txid, moved.txid)
    assert chain.tx_status(moved.txid).height == chain.height == 3
    assert chain.confirmed_balance(bob) == 25_000

    chain = BitcoinChain()
    deposit = chain.deposit(alice, 40_000)
    chain.mine_block(600)
    moved = chain.transfer(alice, bob, 25_000)
    chain.mine_block(1200)
    result = chain.reorg(2, np.random.default_rng(0), ReorgPolicy(fates={deposit.txid: Fate.DROP}))
    assert result.dropped == (deposit.txid, moved.txid)
    assert chain.mempool_txids() == (deposit.txid, moved.txid)
    chain.mine_block(1800)
    assert chain.confirmed_balance(bob) == 25_000


def test_reorg_arguments_are_checked() -> None:
    chain, _, _ = _funded_chain()
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        chain.reorg(0, rng)
    with pytest.raises(ValueError):
        chain.reorg(4, rng)  # deeper than the chain
    with pytest.raises(ValueError):
        chain.reorg(2, rng, ReorgPolicy(new_length=1))
    with pytest.raises(ValueError):
        ReorgPolicy(p_drop=0.7, p_vanish=0.5)
    with pytest.raises(ValueError):
        ReorgPolicy(fates={"00" * 32: Fate.INVALIDATED})
    assert chain.height == 3  # nothing happened


# ---------------------------------------------------------------------------------------------
# Incremental polling
# ---------------------------------------------------------------------------------------------


def test_changes_since_for_incremental_polls() -> None:
    alice, bob, carol = users(3)
    chain = BitcoinChain()
    start = chain.cursor
    deposit = chain.deposit(alice, 1_000)
    chain.mine_block(600)
    poll = chain.changes_since(start, min_conf=1, watched={alice, bob, carol})
    assert poll.addresses == (alice,) and poll.cursor == chain.cursor and not poll.reorged

    # Nothing happened: nothing changed, at any depth.
    assert chain.changes_since(poll.cursor, 1, watched={alice, bob}).addresses == ()
    assert chain.changes_since(poll.cursor, 6).addresses == ()
    # At min_conf 2 alice's deposit matures when the next block arrives, even an empty one.
    poll2 = chain.changes_since(poll.cursor, 2, watched={alice, bob})
    chain.mine_block(1200)
    assert chain.confirmed_balance(alice, 2) == 1_000
    assert alice in chain.changed_addresses(poll2.cursor, 2, watched={alice, bob})
    assert chain.changed_addresses(chain.cursor, 1) == ()

    chain.transfer(alice, bob, 400)
    chain.mine_block(1800)
    mark = chain.cursor
    result = chain.reorg(2, np.random.default_rng(0), ReorgPolicy(fates={deposit.txid: Fate.VANISH}))
    after = chain.changes_since(mark, 1, watched=[alice, bob, carol])
    assert after.reorged and set(after.addresses) == {alice, bob}
    assert result.cursor_before == mark and result.cursor_after == chain.cursor
    entries = chain.journal_since(mark)
    assert [e.action for e in entries] == ["disconnect", "disconnect", "connect", "connect", "connect"]
    with pytest.raises(ValueError):
        chain.changes_since(chain.cursor + 1)


# ---------------------------------------------------------------------------------------------
# Random operation sequences including reorgs (Hypothesis stateful test)
# ---------------------------------------------------------------------------------------------

MIN_CONFS = (1, 2, 3, 6)


class ChainMachine(RuleBasedStateMachine):
    """A handler that makes valid-looking moves; invariants recompute the truth from the blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.people = users(5, seed=3)
        self.outsider = users(1, seed=4)[0]
        self.chain = BitcoinChain("regtest", genesis_time=1_700_000_000)
        self.now = 1_700_000_000
        self.events: list[object] = []
        self.chain.add_listener(self.events.append)
        self.snapshots: list[tuple[int, dict[tuple[str, int], int]]] = []
        self.external: dict[OutPoint, str] = {}  # ghost: external coin -> the deposit using it

    def _addresses(self) -> list[str]:
        return [*self.people, self.outsider, self.chain.external_source]

    @initialize()
    def take_initial_snapshot(self) -> None:
        self.snapshot()

    @rule(who=st.integers(0, 4), amount=st.integers(1, 2_000_000), fee=st.integers(0, 500))
    def deposit(self, who: int, amount: int, fee: int) -> None:
        tx = self.chain.deposit(self.people[who], amount, fee=fee)
        assert self.chain.tx_status(tx.txid).state == "mempool"
        (coin,) = tx.inputs
        assert self.chain.is_external_coin(coin.prevout) and coin.value == amount + fee
        self.external[coin.prevout] = tx.txid

    @rule(who=st.integers(0, 4), to_outsider=st.booleans(), other=st.integers(0, 4),
          amount=st.integers(1, 1_000_000), fee=st.integers(0, 500))
    def pay(self, who: int, to_outsider: bool, other: int, amount: int, fee: int) -> None:
        source = self.people[who]
        available = self.chain.spendable_balance(source)
        try:
            if to_outsider:
                tx = self.chain.spend(source, self.outsider, amount, fee=fee)
            else:
                tx = self.chain.transfer(source, self.people[other], amount, fee=fee)
        except InsufficientFunds:
            assert available < amount + fee
        else:
            assert available >= amount + fee
            assert tx.fee == fee and tx.delta(source) <= -fee

    @rule()
    def attempt_double_spend(self) -> None:
        candidates = self.chain.mempool_transactions() or tuple(
            tx for block in self.chain.blocks()[-3:] for tx in block.txs
        )
        assume(candidates)
        original = candidates[0]
        conflict = Transaction.build(
            "double-spend", original.inputs, [TxOut(self.outsider, original.output_value)],
            conflicts_with=original.txid,
        )
        try:
            self.chain.submit(conflict)
        except DoubleSpendError as error:
            assert error.spent_by == original.txid
        else:
            raise AssertionError("a double spend was accepted")

    @rule(gap=st.integers(0, 3_000), cap=st.one_of(st.none(), st.integers(1, 3)))
    def mine(self, gap: int, cap: int | None) -> None:
        pending = self.chain.mempool_txids()
        self.now += gap
        block = self.chain.mine_block(self.now, max_txs=cap)
        assert self.events[-1] is block
        if cap is None:
            assert block.txids == pending and self.chain.mempool_txids() == ()
        else:
            assert len(block.txids) <= cap
            # Oldest first: the block is an ordered subsequence of the queue, the rest waits.
            queue = iter(pending)
            assert all(txid in queue for txid in block.txids)
            assert self.chain.mempool_txids() == tuple(t for t in pending if t not in block.txids)

    @precondition(lambda self: self.chain.height >= 1)
    @rule(
        depth=st.integers(1, 4),
        extra=st.integers(0, 2),
        weights=st.tuples(*[st.integers(0, 3)] * 5),
        seed=st.integers(0, 2**32 - 1),
        any_kind=st.booleans(),
    )
    def reorg(self, depth: int, extra: int, weights: tuple[int, ...], seed: int, any_kind: bool) -> None:
        depth = min(depth, self.chain.height)
        total = sum(weights) or 1
        p_keep, p_drop, p_vanish, p_delay, p_ds = (w / total for w in weights)
        policy = ReorgPolicy(
            new_length=depth + extra,
            p_drop=p_drop, p_vanish=p_vanish, p_delay=p_delay, p_double_spend=p_ds,
            double_spend_kinds=("deposit", "spend", "transfer") if any_kind else ("deposit",),
        )
        old_height = self.chain.height
        result = self.chain.reorg(depth, np.random.default_rng(seed), policy, timestamp=self.now)
        assert self.events[-1] is result
        assert result.old_tip_height == old_height
        assert self.chain.height == old_height - depth + depth + extra == result.new_tip_height
        check_reorg_result(self.chain, result)

    @rule()
    def snapshot(self) -> None:
        balances = {(a, c): self.chain.confirmed_balance(a, c) for a in self._addresses() for c in MIN_CONFS}
        self.snapshots.append((self.chain.cursor, balances))
        del self.snapshots[:-3]

    @invariant()
    def balances_match_brute_force(self) -> None:
        unspent, heights = replay(self.chain)
        tip = self.chain.height
        addresses = sorted({a for (a, _, _) in unspent.values()} | set(self._addresses()))
        for address in addresses:
            for min_conf in MIN_CONFS:
                assert self.chain.confirmed_balance(address, min_conf) == brute_balance(
                    unspent, address, min_conf, tip
                ), (address, min_conf)
            assert [c.outpoint for c in self.chain.utxos(address)] == sorted(
                (op for op, (a, _, _) in unspent.items() if a == address),
                key=lambda op: (unspent[op][2], op.txid, op.index),
            )
        for txid, height in heights.items():
            assert self.chain.confirmations(txid) == tip - height + 1
        assert self.chain.total_confirmed(self.people, 2) == sum(
            brute_balance(unspent, a, 2, tip) for a in self.people
        )
        spent_in_chain = {txin.prevout for b in self.chain.blocks() for tx in b.txs for txin in tx.inputs}
        for coin in self.external:
            assert self.chain.external_coin_unspent(coin) == (coin not in spent_in_chain)

    @invariant()
    def change_sets_cover_every_balance_change(self) -> None:
        for cursor, balances in self.snapshots:
            for min_conf in MIN_CONFS:
                changed = set(self.chain.changed_addresses(cursor, min_conf))
                for address in self._addresses():
                    if self.chain.confirmed_balance(address, min_conf) != balances[(address, min_conf)]:
                        assert address in changed, (address, min_conf, cursor)

    @invariant()
    def mempool_is_consistent(self) -> None:
        unspent, heights = replay(self.chain)
        pending = self.chain.mempool_transactions()
        created: set[OutPoint] = set()
        spending: set[OutPoint] = set()
        for tx in pending:
            assert tx.txid not in heights
            for txin in tx.inputs:
                assert txin.prevout not in spending
                spending.add(txin.prevout)
                assert (
                    txin.prevout in unspent
                    or txin.prevout in created
                    or (txin.prevout in self.external and self.chain.external_coin_unspent(txin.prevout))
                )
            created.update(OutPoint(tx.txid, i) for i in range(len(tx.outputs)))


def check_reorg_result(chain: BitcoinChain, result: ReorgResult) -> None:
    """Each fate's promise holds right after the reorg."""
    conflicts = dict(result.double_spent)
    for txid, fate in result.fates:
        status = chain.tx_status(txid)
        if fate is Fate.KEEP:
            assert status.state == "confirmed" and status.height <= result.fork_height + result.depth
        elif fate is Fate.DELAY:
            assert status.state == "confirmed" and status.height == result.new_tip_height
        elif fate is Fate.DROP:
            assert status.state == "mempool"
        else:
            assert status.state == "removed"
        if fate is Fate.DOUBLE_SPEND:
            assert chain.tx_status(conflicts[txid]).state == "confirmed"
        if fate is Fate.INVALIDATED:
            assert txid in result.invalidated
    for txid in result.invalidated:
        assert chain.tx_status(txid).state == "removed"
    touched = set()
    for block in (*result.disconnected, *result.connected):
        touched.update(block.addresses)
    assert tuple(sorted(touched)) == result.affected_addresses


TestChainMachine = ChainMachine.TestCase
TestChainMachine.settings = settings(
    max_examples=examples(100),
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# ---------------------------------------------------------------------------------------------
# Determinism
# ---------------------------------------------------------------------------------------------

SCENARIO = textwrap.dedent(
    """
    import hashlib
    import numpy as np
    from sim.bitcoin import BitcoinChain, ReorgPolicy, InsufficientFunds, next_block_gap, random_address

    rng = np.random.default_rng(20240601)
    people = [random_address(rng, "p2wpkh" if i % 3 else "p2tr", "testnet") for i in range(40)]
    chain = BitcoinChain("testnet", genesis_time=1_700_000_000, max_block_txs=15)
    now = 1_700_000_000.0
    log = []
    chain.add_listener(lambda event: log.append(type(event).__name__))
    for step in range(120):
        for _ in range(int(rng.integers(0, 8))):
            who = people[int(rng.integers(len(people)))]
            if rng.random() < 0.5:
                chain.deposit(who, int(rng.integers(1, 10**7)), fee=int(rng.integers(0, 300)))
            else:
                try:
                    chain.transfer(who, people[int(rng.integers(len(people)))], int(rng.integers(1, 10**6)), fee=50)
                except InsufficientFunds:
                    pass
        now += next_block_gap(rng)
        chain.mine_block(now)
        if step % 17 == 16:
            chain.reorg(int(rng.integers(1, 4)), rng, ReorgPolicy(p_drop=0.2, p_vanish=0.1, p_delay=0.2, p_double_spend=0.2,
                        double_spend_kinds=("deposit", "transfer")), timestamp=now)
    digest = hashlib.sha256(repr([chain.confirmed_balance(p, 6) for p in people]).encode()).hexdigest()
    print(chain.tip_hash, chain.height, digest, len(log), ",".join(chain.mempool_txids()))
    """
)


def test_same_seed_same_tip_hash_across_processes_and_hash_seeds() -> None:
    outputs = []
    for hash_seed in ("0", "1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, "-c", SCENARIO], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout.strip())
    assert outputs[0] and outputs[0] == outputs[1] == outputs[2]
    # And in this process too.
    namespace: dict[str, object] = {}
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(SCENARIO, "<scenario>", "exec"), namespace)  # noqa: S102
    assert buffer.getvalue().strip() == outputs[0]


def test_different_seeds_give_different_chains() -> None:
    def run(seed: int) -> str:
        rng = np.random.default_rng(seed)
        chain = BitcoinChain()
        person = random_address(rng, "p2wpkh", "regtest")
        now = 0.0
        for _ in range(5):
            chain.deposit(person, int(rng.integers(1, 1000)))
            now += next_block_gap(rng)
            chain.mine_block(now)
        return chain.tip_hash

    assert run(1) == run(1) != run(2)


# ---------------------------------------------------------------------------------------------
# Performance sanity (loose bound; the numbers are printed for a human)
# ---------------------------------------------------------------------------------------------


def test_balance_queries_do_not_scan_the_utxo_set() -> None:
    rng = np.random.default_rng(1)
    people = users(10_000, seed=8)
    chain = BitcoinChain(max_block_txs=None)
    now = 0.0
    started = time.perf_counter()
    for height in range(300):
        for i in range(60):
            chain.deposit(people[(height * 60 + i) % len(people)], int(rng.integers(1, 10**6)))
        now += next_block_gap(rng)
        chain.mine_block(now)
    build = time.perf_counter() - started

    started = time.perf_counter()
    total = sum(chain.confirmed_balance(p, 6) for p in people)
    query = time.perf_counter() - started
    poll = chain.changes_since(chain.cursor - 1, 6, watched=set(people))
    print(f"\nbuilt 300 blocks / 18,000 deposits in {build:.2f}s; 10,000 balance queries in {query*1000:.1f} ms; "
          f"{len(poll.addresses)} addresses changed since the last block")
    assert total == chain.total_confirmed(people, 6)
    assert len(poll.addresses) <= 60 * 2  # the last block, and the one whose coins reached 6 confs
    assert query < 2.0  # about 10-30 ms expected; generous against slow machines

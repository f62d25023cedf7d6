"""The fast engine's compiled proof of reserves (sim/fast/merkle.py) against pysha3 and MerkleTree.

The fast engine's roots, proofs and invariant-8 verdicts come from these kernels, so each is held to
the reference implementation it replaces: keccak256 to pysha3 for every message length a block
holds, the tree to ``MerkleTree`` (root and every proof, including leaves that share their first
bytes or are equal), and the proof walks to ``process_proof`` run on every leaf of a tree with a
planted wrong node.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sha3 import keccak_256

from contracts_model.proof_of_reserves import MerkleTree, process_proof
from sim.fast import merkle


@pytest.mark.parametrize("length", range(136))
def test_keccak_of_every_length_a_block_holds_matches_pysha3(length):
    rows = np.random.default_rng(length).integers(0, 256, size=(7, length), dtype=np.uint8)
    rows[0] = 0  # all zero bytes
    rows[1] = 0xFF  # all one bits: the padding bytes must xor, not overwrite
    got = merkle.hash_rows(rows)
    assert got.shape == (7, 32)
    assert [bytes(row) for row in got] == [keccak_256(row.tobytes()).digest() for row in rows]


def test_rows_a_block_cannot_hold_are_refused():
    with pytest.raises(ValueError, match="length < 136"):
        merkle.hash_rows(np.zeros((2, 136), dtype=np.uint8))


def _leaves(draw_bytes: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(draw_bytes), dtype=np.uint8).reshape(len(draw_bytes), 32)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.binary(min_size=32, max_size=32),
                          # leaves sharing their first 8 (or 31) bytes take the tie-breaking sort
                          st.binary(min_size=24, max_size=24).map(lambda b: b"\x07" * 8 + b),
                          st.binary(min_size=1, max_size=1).map(lambda b: b"\x09" * 31 + b)),
                min_size=1, max_size=70))
def test_tree_root_and_every_proof_match_merkletree(leaves):
    reference = MerkleTree(leaves)
    tree = merkle.Tree(_leaves(leaves))
    assert tree.root == reference.root
    assert [tree.proof(i) for i in range(len(leaves))] == [reference.proof(i) for i in range(len(leaves))]
    assert merkle.walk_all(_leaves(leaves), tree, tree.root).all()


def test_equal_leaves_keep_their_given_order_like_sorted():
    same = [b"\x01" * 32, b"\x00" * 32, b"\x01" * 32, b"\x01" * 32]
    reference, tree = MerkleTree(same), merkle.Tree(_leaves(same))
    assert tree.root == reference.root
    assert [tree.proof(i) for i in range(4)] == [reference.proof(i) for i in range(4)]


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 300), st.data())
def test_walks_fail_exactly_where_process_proof_fails(n, data):
    """A wrong node (or a wrong root, or a leaf that is not in the tree) fails the walks of exactly the
    leaves whose proofs process_proof rejects: the memoized walks answer like walking every proof."""
    rng = np.random.default_rng(n)
    leaves = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    tree = merkle.Tree(leaves)
    root = tree.root
    what = data.draw(st.sampled_from(["node", "root", "leaf"]))
    if what == "node":
        node = data.draw(st.integers(1, 2 * n - 2))
        tree.nodes[node, data.draw(st.integers(0, 3))] ^= np.uint64(1 << data.draw(st.integers(0, 63)))
    elif what == "root":
        root = bytes(32)
    else:
        leaves = leaves.copy()
        leaves[data.draw(st.integers(0, n - 1)), 0] ^= 0x80
    verdict = merkle.walk_all(leaves, tree, root)
    truth = [process_proof(leaves[i].tobytes(), tree.proof(i)) == root for i in range(n)]
    assert verdict.tolist() == truth
    assert not all(truth) or (what == "node" and n > 1)  # a wrong root or leaf always fails some walk


def test_the_fast_engine_reports_a_wrong_tree_as_a_reserves_violation(monkeypatch):
    """Invariant 8 in the fast engine: a committee tree with one wrong node fails the walks below its
    sibling (and not the others), and each such leaf is a violation naming its holder."""
    from sim.config import DAY, ReservesConfig, WorldConfig
    from sim.fast.world import FastWorld

    class Broken(merkle.Tree):
        def __init__(self, leaves):
            super().__init__(leaves)
            self.nodes[2, 0] ^= np.uint64(1)  # node 2: a child of the root, so the root stays as published

    monkeypatch.setattr(merkle, "Tree", Broken)
    world = FastWorld(WorldConfig(seed=3, users=40, duration_s=DAY, reserves=ReservesConfig(interval_s=6 * 3600)))
    world.run()
    world.finish()
    assert world.violations.by_invariant().keys() == {"reserves"}
    counts = {g["message"]: g["count"] for g in world.violations.grouped()}
    # the walks of the leaves below node 1 fail, and so do the contract's checks of sampled ones among them
    assert counts.keys() == {"a leaf's proof does not lead to the published root", "the contract rejected a valid proof"}
    leaves = len(world.core.bindings)
    assert 0 < counts["a leaf's proof does not lead to the published root"] < leaves * world.core.reserve_rounds

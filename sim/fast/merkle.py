"""Proof of reserves for the fast engine: keccak256, the Merkle tree and the proof walks, compiled.

A 100,000-holder year publishes roots over up to ~880,000 leaves, and every leaf's hash changes
every round (its height and timestamp are in it): the leaves, the tree and every leaf's proof walk
are tens of millions of keccak256 calls a year. Through Python (pysha3, one call per hash) that was
the largest cost of a long run. Here the same computations run as numba-compiled loops over byte
arrays, one call per round:

* :func:`hash_rows` — keccak256 of every row of a ``uint8`` matrix (the packed leaves);
* :class:`Tree` — OpenZeppelin's ``SimpleMerkleTree`` layout, exactly as
  :class:`contracts_model.proof_of_reserves.MerkleTree` builds it (leaves sorted as big-endian
  bytes32 fill the last ``n`` of ``2n - 1`` slots, node ``i`` = sorted-pair hash of ``2i + 1`` and
  ``2i + 2``);
* :func:`walk_all` — every leaf's proof walked to the top (the siblings on its path, as
  ``MerkleTree.proof`` returns them), memoized: a walk that reaches a node with the value an
  earlier walk had there takes that walk's end (see :meth:`sim.fast.core.Core._check_reserves`).

Keccak-f[1600] follows FIPS 202 with Ethereum's original padding (``0x01 … 0x80``, rate 136
bytes); the round constants are derived from their LFSR, and the permutation keeps the 25 lanes in
local variables, one line per lane. Hashes are kept as four little-endian 64-bit lanes, so a node
pair is loaded into the state without touching bytes. Tests hold every function to pysha3 and to
``MerkleTree`` (``tests/test_fast_merkle.py``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

RATE = 136  # bytes absorbed per permutation by keccak256


def _round_constants() -> np.ndarray:
    """RC[i] from the LFSR x^8 + x^6 + x^5 + x^4 + 1 (FIPS 202, algorithm 5)."""
    def rc(t: int) -> int:
        r = 1
        for _ in range(t % 255):
            r <<= 1
            if r & 0x100:
                r ^= 0x171
        return r & 1

    out = []
    for i in range(24):
        value = 0
        for j in range(7):
            if rc(j + 7 * i):
                value |= 1 << ((1 << j) - 1)
        out.append(value)
    return np.array(out, dtype=np.uint64)


ROUND_CONSTANTS = _round_constants()
_1, _63 = np.uint64(1), np.uint64(63)


@njit(cache=True)
def _permute(a, rcs):
    """Keccak-f[1600] on the 25 lanes ``a`` (lane x + 5y), in place: theta, rho and pi, chi, iota, with the
    lanes in local variables (FIPS 202's rotation offsets and lane moves written out per lane)."""
    a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24 = (
        a[0], a[1], a[2], a[3], a[4],
        a[5], a[6], a[7], a[8], a[9],
        a[10], a[11], a[12], a[13], a[14],
        a[15], a[16], a[17], a[18], a[19],
        a[20], a[21], a[22], a[23], a[24],
    )
    for rnd in range(24):
        c0 = a0 ^ a5 ^ a10 ^ a15 ^ a20
        c1 = a1 ^ a6 ^ a11 ^ a16 ^ a21
        c2 = a2 ^ a7 ^ a12 ^ a17 ^ a22
        c3 = a3 ^ a8 ^ a13 ^ a18 ^ a23
        c4 = a4 ^ a9 ^ a14 ^ a19 ^ a24
        d0 = c4 ^ ((c1 << _1) | (c1 >> _63))
        d1 = c0 ^ ((c2 << _1) | (c2 >> _63))
        d2 = c1 ^ ((c3 << _1) | (c3 >> _63))
        d3 = c2 ^ ((c4 << _1) | (c4 >> _63))
        d4 = c3 ^ ((c0 << _1) | (c0 >> _63))
        b0 = (a0 ^ d0)
        b10 = (((a1 ^ d1) << np.uint64(1)) | ((a1 ^ d1) >> np.uint64(63)))
        b20 = (((a2 ^ d2) << np.uint64(62)) | ((a2 ^ d2) >> np.uint64(2)))
        b5 = (((a3 ^ d3) << np.uint64(28)) | ((a3 ^ d3) >> np.uint64(36)))
        b15 = (((a4 ^ d4) << np.uint64(27)) | ((a4 ^ d4) >> np.uint64(37)))
        b16 = (((a5 ^ d0) << np.uint64(36)) | ((a5 ^ d0) >> np.uint64(28)))
        b1 = (((a6 ^ d1) << np.uint64(44)) | ((a6 ^ d1) >> np.uint64(20)))
        b11 = (((a7 ^ d2) << np.uint64(6)) | ((a7 ^ d2) >> np.uint64(58)))
        b21 = (((a8 ^ d3) << np.uint64(55)) | ((a8 ^ d3) >> np.uint64(9)))
        b6 = (((a9 ^ d4) << np.uint64(20)) | ((a9 ^ d4) >> np.uint64(44)))
        b7 = (((a10 ^ d0) << np.uint64(3)) | ((a10 ^ d0) >> np.uint64(61)))
        b17 = (((a11 ^ d1) << np.uint64(10)) | ((a11 ^ d1) >> np.uint64(54)))
        b2 = (((a12 ^ d2) << np.uint64(43)) | ((a12 ^ d2) >> np.uint64(21)))
        b12 = (((a13 ^ d3) << np.uint64(25)) | ((a13 ^ d3) >> np.uint64(39)))
        b22 = (((a14 ^ d4) << np.uint64(39)) | ((a14 ^ d4) >> np.uint64(25)))
        b23 = (((a15 ^ d0) << np.uint64(41)) | ((a15 ^ d0) >> np.uint64(23)))
        b8 = (((a16 ^ d1) << np.uint64(45)) | ((a16 ^ d1) >> np.uint64(19)))
        b18 = (((a17 ^ d2) << np.uint64(15)) | ((a17 ^ d2) >> np.uint64(49)))
        b3 = (((a18 ^ d3) << np.uint64(21)) | ((a18 ^ d3) >> np.uint64(43)))
        b13 = (((a19 ^ d4) << np.uint64(8)) | ((a19 ^ d4) >> np.uint64(56)))
        b14 = (((a20 ^ d0) << np.uint64(18)) | ((a20 ^ d0) >> np.uint64(46)))
        b24 = (((a21 ^ d1) << np.uint64(2)) | ((a21 ^ d1) >> np.uint64(62)))
        b9 = (((a22 ^ d2) << np.uint64(61)) | ((a22 ^ d2) >> np.uint64(3)))
        b19 = (((a23 ^ d3) << np.uint64(56)) | ((a23 ^ d3) >> np.uint64(8)))
        b4 = (((a24 ^ d4) << np.uint64(14)) | ((a24 ^ d4) >> np.uint64(50)))
        a0 = b0 ^ (~b1 & b2)
        a1 = b1 ^ (~b2 & b3)
        a2 = b2 ^ (~b3 & b4)
        a3 = b3 ^ (~b4 & b0)
        a4 = b4 ^ (~b0 & b1)
        a5 = b5 ^ (~b6 & b7)
        a6 = b6 ^ (~b7 & b8)
        a7 = b7 ^ (~b8 & b9)
        a8 = b8 ^ (~b9 & b5)
        a9 = b9 ^ (~b5 & b6)
        a10 = b10 ^ (~b11 & b12)
        a11 = b11 ^ (~b12 & b13)
        a12 = b12 ^ (~b13 & b14)
        a13 = b13 ^ (~b14 & b10)
        a14 = b14 ^ (~b10 & b11)
        a15 = b15 ^ (~b16 & b17)
        a16 = b16 ^ (~b17 & b18)
        a17 = b17 ^ (~b18 & b19)
        a18 = b18 ^ (~b19 & b15)
        a19 = b19 ^ (~b15 & b16)
        a20 = b20 ^ (~b21 & b22)
        a21 = b21 ^ (~b22 & b23)
        a22 = b22 ^ (~b23 & b24)
        a23 = b23 ^ (~b24 & b20)
        a24 = b24 ^ (~b20 & b21)
        a0 ^= rcs[rnd]
    (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15], a[16], a[17], a[18], a[19], a[20], a[21], a[22], a[23], a[24]) = (
        a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23, a24)


def _lanes(rows: np.ndarray) -> np.ndarray:
    """Messages shorter than a block, padded (``0x01 … 0x80``) into the 17 little-endian lanes of one block."""
    n, length = rows.shape
    block = np.zeros((n, RATE), dtype=np.uint8)
    block[:, :length] = rows
    block[:, length] ^= 0x01
    block[:, RATE - 1] ^= 0x80
    return block.view("<u8")


@njit(cache=True)
def _hash_blocks(blocks, rcs):
    n = blocks.shape[0]
    out = np.empty((n, 4), dtype=np.uint64)
    a = np.zeros(25, dtype=np.uint64)
    for r in range(n):
        a[:17] = blocks[r]
        a[17:] = 0
        _permute(a, rcs)
        out[r] = a[:4]
    return out


def hash_rows(rows: np.ndarray) -> np.ndarray:
    """keccak256 of each row of a ``uint8`` matrix (rows shorter than 136 bytes): an ``(n, 32)`` matrix."""
    rows = np.ascontiguousarray(rows, dtype=np.uint8)
    if rows.ndim != 2 or rows.shape[1] >= RATE:
        raise ValueError(f"hash_rows takes (n, length < {RATE}) uint8 rows, got shape {rows.shape}")
    return _hash_blocks(_lanes(rows), ROUND_CONSTANTS).view(np.uint8)


@njit(cache=True, inline="always")
def _swap(v):
    """A little-endian lane read big-endian: bytes32 order is the order of the swapped lanes."""
    v = ((v & np.uint64(0x00FF00FF00FF00FF)) << np.uint64(8)) | ((v >> np.uint64(8)) & np.uint64(0x00FF00FF00FF00FF))
    v = ((v & np.uint64(0x0000FFFF0000FFFF)) << np.uint64(16)) | ((v >> np.uint64(16)) & np.uint64(0x0000FFFF0000FFFF))
    return (v << np.uint64(32)) | (v >> np.uint64(32))


@njit(cache=True, inline="always")
def _less(x, y):
    """bytes32 ``x < y`` as big-endian unsigned integers (Solidity's comparison, Python's bytes order)."""
    for k in range(4):
        if x[k] != y[k]:
            return _swap(x[k]) < _swap(y[k])
    return False


@njit(cache=True, inline="always")
def _hash_pair(x, y, a, rcs, out):
    """keccak256 of the two 32-byte nodes (4 lanes each), smaller first, into ``out``."""
    if _less(x, y):
        a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7] = x[0], x[1], x[2], x[3], y[0], y[1], y[2], y[3]
    else:
        a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7] = y[0], y[1], y[2], y[3], x[0], x[1], x[2], x[3]
    a[8:] = 0
    a[8] = 0x01  # the padding after 64 bytes ...
    a[16] = np.uint64(0x80) << np.uint64(56)  # ... and at the block's last byte
    _permute(a, rcs)
    out[0], out[1], out[2], out[3] = a[0], a[1], a[2], a[3]


@njit(cache=True)
def _build(sorted_leaves, rcs):
    n = sorted_leaves.shape[0]
    size = 2 * n - 1
    nodes = np.empty((size, 4), dtype=np.uint64)
    for rank in range(n):
        nodes[size - 1 - rank] = sorted_leaves[rank]
    a = np.zeros(25, dtype=np.uint64)
    for i in range(size - 1 - n, -1, -1):
        _hash_pair(nodes[2 * i + 1], nodes[2 * i + 2], a, rcs, nodes[i])
    return nodes


def _as_lanes(hashes: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(hashes, dtype=np.uint8).view("<u8")


def sort_order(leaves: np.ndarray) -> np.ndarray:
    """The ``(n, 32)`` leaves' order as bytes32 sorted ascending (stable, like ``sorted`` on bytes)."""
    words = np.ascontiguousarray(leaves, dtype=np.uint8).view(">u8")
    order = np.argsort(words[:, 0], kind="stable")  # the first 8 bytes decide, unless two leaves share them
    first = words[order, 0]
    if len(first) > 1 and (first[1:] == first[:-1]).any():
        order = np.lexsort((words[:, 3], words[:, 2], words[:, 1], words[:, 0]))
    return order


class Tree:
    """A Merkle tree over ``(n, 32)`` leaf hashes in :class:`~contracts_model.proof_of_reserves.MerkleTree`'s
    layout: ``root``, ``proof(i)`` of the i-th leaf as given, and the nodes for :func:`walk_all`."""

    def __init__(self, leaves: np.ndarray):
        n = len(leaves)
        if n == 0:
            raise ValueError("a Merkle tree needs at least one leaf")
        order = sort_order(leaves)
        self.order = order  # leaf index as given, by rank (node 2n - 2 - rank)
        self.nodes = _build(np.ascontiguousarray(_as_lanes(leaves)[order]), ROUND_CONSTANTS)
        self.positions = np.empty(n, dtype=np.int64)  # leaf index as given -> node index
        self.positions[order] = 2 * n - 2 - np.arange(n)

    def node(self, i: int) -> bytes:
        return self.nodes[i].tobytes()

    @property
    def root(self) -> bytes:
        return self.node(0)

    def proof(self, i: int) -> list[bytes]:
        node, proof = int(self.positions[i]), []
        while node > 0:
            proof.append(self.node(node + 1 if node & 1 else node - 1))
            node = (node - 1) >> 1
        return proof


@njit(cache=True)
def _walk_all(leaves, positions, nodes, root, rcs, sequence):
    size = nodes.shape[0]
    n = leaves.shape[0]
    seen = np.zeros(size, dtype=np.bool_)  # a walk passed this node ...
    seen_value = np.empty((size, 4), dtype=np.uint64)  # ... with this value ...
    seen_ok = np.zeros(size, dtype=np.bool_)  # ... and ended at the root
    trail = np.empty(64, dtype=np.int64)
    ok = np.zeros(n, dtype=np.bool_)
    value = np.empty(4, dtype=np.uint64)
    a = np.zeros(25, dtype=np.uint64)
    for i in sequence:  # neighbouring leaves in turn: their walks meet low, in memory just walked
        value[:] = leaves[i]
        node = positions[i]
        depth = 0
        met = False
        ended = False
        while node > 0:
            sibling = node + 1 if node & 1 else node - 1
            _hash_pair(value, nodes[sibling], a, rcs, value)
            node = (node - 1) >> 1
            if seen[node] and seen_value[node, 0] == value[0] and seen_value[node, 1] == value[1] \
                    and seen_value[node, 2] == value[2] and seen_value[node, 3] == value[3]:
                met = True
                ended = seen_ok[node]
                break
            trail[depth] = node
            seen_value[node] = value
            depth += 1
        if not met:
            ended = value[0] == root[0] and value[1] == root[1] and value[2] == root[2] and value[3] == root[3]
        for j in range(depth):
            seen[trail[j]] = True
            seen_ok[trail[j]] = ended
        ok[i] = ended
    return ok


def walk_all(leaves: np.ndarray, tree: Tree, root: bytes) -> np.ndarray:
    """Whether each leaf's proof in ``tree`` leads to ``root``: a boolean per ``(n, 32)`` leaf."""
    return _walk_all(_as_lanes(leaves), tree.positions, tree.nodes,
                     np.frombuffer(root, dtype="<u8").copy(), ROUND_CONSTANTS, tree.order)

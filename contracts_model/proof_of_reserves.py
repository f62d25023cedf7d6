"""ProofOfReserves.sol: the committee publishes Merkle roots of the users' confirmed BTC; anyone checks
a leaf's inclusion against a published root. Also the off-chain side: leaf hashes and the tree.

Leaf: keccak256(abi.encodePacked(eth, btcProgram, checksum, method, balanceSats, height, timestamp)),
i.e. address 20 bytes | bytes32 | bytes32 | uint8 1 byte | uint64 8 bytes | uint32 4 bytes | uint64 8 bytes.
Tree: sorted-pair keccak256, as OpenZeppelin's MerkleProof verifies it.

`MerkleTree` builds the tree exactly like OpenZeppelin's `@openzeppelin/merkle-tree` (`SimpleMerkleTree`):
the leaves (sorted by default) fill the last n slots of an array holding a complete binary tree of
2n - 1 nodes, and node i = hash_pair(node 2i+1, node 2i+2). There is no "odd node at a level" to pad:
nothing is duplicated or promoted, so every root commits to exactly n leaves, and a leaf's proof has
floor(log2 n) or ceil(log2 n) siblings. Roots equal those of OpenZeppelin's library for the same leaves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from contracts_model.keccak import keccak256 as keccak

from contracts_model.accounts import ZERO_ADDRESS, to_address
from contracts_model.contract import NONPAYABLE, PURE, VIEW, Contract
from contracts_model.errors import NoPublication, Restricted, RevertString
from contracts_model.evm_math import uint64
from contracts_model.storage import Array, Struct

# ----------------------------------------------------------------------------- pure helpers


def _uint_bytes(value: int, size: int, what: str) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << (8 * size):
        raise ValueError(f"{what} must be an int in [0, 2**{8 * size}), got {value!r}")
    return value.to_bytes(size, "big")


def _bytes32(value: bytes, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray)) or len(value) != 32:
        raise ValueError(f"{what} must be 32 bytes, got {value!r}")
    return bytes(value)


def leaf_hash(eth: str, btc_program32: bytes, checksum32: bytes, method: int, balance_sats: int,
              height: int, timestamp: int) -> bytes:
    """ProofOfReserves.leafHash: keccak256 of the packed snapshot leaf."""
    packed = (
        bytes.fromhex(to_address(eth)[2:])
        + _bytes32(btc_program32, "btc_program32")
        + _bytes32(checksum32, "checksum32")
        + _uint_bytes(method, 1, "method")
        + _uint_bytes(balance_sats, 8, "balance_sats")
        + _uint_bytes(height, 4, "height")
        + _uint_bytes(timestamp, 8, "timestamp")
    )
    return keccak(packed)


def hash_pair(a: bytes, b: bytes) -> bytes:
    """keccak256 of the two nodes, smaller first (bytes32 compare as big-endian unsigned integers)."""
    return keccak(a + b) if a < b else keccak(b + a)


def process_proof(leaf: bytes, proof: Iterable[bytes]) -> bytes:
    """ProofOfReserves.processProof: the root that `proof` leads to from `leaf`."""
    node = leaf
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node


class MerkleTree:
    """A sorted-pair keccak256 Merkle tree over bytes32 leaves, laid out like OpenZeppelin's
    SimpleMerkleTree (see the module docstring). `proof(i)` is the proof of the i-th leaf as given."""

    def __init__(self, leaves: Sequence[bytes], sort_leaves: bool = True):
        leaves = [_bytes32(leaf, "a leaf") for leaf in leaves]
        if not leaves:
            raise ValueError("a Merkle tree needs at least one leaf")
        order = sorted(range(len(leaves)), key=leaves.__getitem__) if sort_leaves else range(len(leaves))
        size = 2 * len(leaves) - 1
        nodes: list[bytes] = [b""] * size
        self._position = [0] * len(leaves)  # leaf index as given -> node index
        for rank, index in enumerate(order):
            self._position[index] = size - 1 - rank
            nodes[size - 1 - rank] = leaves[index]
        for i in range(size - 1 - len(leaves), -1, -1):
            nodes[i] = hash_pair(nodes[2 * i + 1], nodes[2 * i + 2])
        self.leaves = tuple(leaves)
        self._nodes = nodes

    @property
    def root(self) -> bytes:
        return self._nodes[0]

    def proof(self, leaf_index: int) -> list[bytes]:
        """The sibling hashes from the leaf up to the root, as processProof consumes them."""
        node = self._position[leaf_index]
        proof = []
        while node > 0:
            sibling = node + 1 if node % 2 == 1 else node - 1
            proof.append(self._nodes[sibling])
            node = (node - 1) // 2
        return proof


# ----------------------------------------------------------------------------- the contract


class Publication(Struct):
    __slots__ = FIELDS = ("root", "height", "totalSats", "timestamp")


class ProofOfReserves(Contract):
    FUNCTIONS = {
        "committee": ((), VIEW),
        "publishRoot": (("bytes32", "uint32", "uint64"), NONPAYABLE),
        "rounds": ((), VIEW),
        "publication": (("uint256",), VIEW),
        "latest": ((), VIEW),
        "leafHash": (("address", "bytes32", "bytes32", "uint8", "uint64", "uint32", "uint64"), PURE),
        "processProof": (("bytes32", "bytes32[]"), PURE),
        "verify": (("bytes32", "bytes32", "bytes32[]"), PURE),
        "verifyInRound": (("uint256", "bytes32", "bytes32[]"), VIEW),
    }
    CONSTRUCTOR = (("address",), NONPAYABLE)

    def __init__(self, chain, address, committee_):
        super().__init__(chain, address)
        if committee_ == ZERO_ADDRESS:
            raise RevertString("committee=0")
        s = self.s
        s.committee = committee_  # immutable
        s._publications = Array(s._journal)

    def committee(self, msg):
        return self.s.committee

    def publishRoot(self, msg, root, height, totalSats):
        s = self.s
        if msg.sender != s.committee:
            raise Restricted()
        round_ = len(s._publications)
        timestamp = uint64(self._chain.timestamp)
        s._publications.push(Publication(s._journal, root, height, totalSats, timestamp))
        self._emit("ReservesPublished", round_, root, height, totalSats, timestamp)
        return round_

    def rounds(self, msg):
        return len(self.s._publications)

    def publication(self, msg, round_):
        publications = self.s._publications
        if round_ >= len(publications):
            raise NoPublication()
        return publications[round_].as_tuple()

    def latest(self, msg):
        publications = self.s._publications
        if len(publications) == 0:
            raise NoPublication()
        return publications[-1].as_tuple()

    def leafHash(self, msg, eth, btcProgram, checksum, method, balanceSats, height, timestamp):
        return leaf_hash(eth, btcProgram, checksum, method, balanceSats, height, timestamp)

    def processProof(self, msg, leaf, proof):
        return process_proof(leaf, proof)

    def verify(self, msg, root, leaf, proof):
        return process_proof(leaf, proof) == root

    def verifyInRound(self, msg, round_, leaf, proof):
        publications = self.s._publications
        if round_ >= len(publications):
            raise NoPublication()
        return process_proof(leaf, proof) == publications[round_].root

"""Proof of reserves: the committee's Merkle snapshots of every binding's confirmed BTC, published on chain.

Each round (every ``interval_s``) the committee builds one leaf per binding with PROTOCOL.md's exact
layout — ``eth`` (20 bytes), ``btcProgram`` (32), ``checksum`` (32), ``method`` (1), ``balance_sats``
(8), ``height`` (4), ``timestamp`` (8), keccak256 of the packed bytes — where the balance is the
address's confirmed BTC at ``minConfirmations`` read from the Bitcoin chain, ``height`` the Bitcoin
tip and ``timestamp`` the snapshot's unix time. The sorted-pair keccak tree's root, the height and
the total are published with ``ProofOfReserves.publishRoot``; the leaves are kept, so every user can
be given its proofs.

Invariant 8 is checked every round: every leaf's proof leads to the published root (checked with
the proof walk, not by rebuilding the tree), the published total equals the confirmed BTC of all
bound addresses at that height read from the chain, and the contract itself accepts a sample of
proofs and rejects a tampered leaf.
"""

from __future__ import annotations

from attrs import asdict, frozen

from contracts_model.errors import ContractRevert
from contracts_model.proof_of_reserves import MerkleTree, leaf_hash, process_proof
from sim.bitcoin.chain import BitcoinChain
from sim.config import ReservesConfig
from sim.eventlog import EventLog
from sim.protocol.recorder import RecordingBackend
from sim.registry import Registry


@frozen
class Leaf:
    eth: str
    btc_address: str
    btc_program: bytes
    checksum: bytes
    method: int
    balance_sats: int
    height: int
    timestamp: int

    def hash(self) -> bytes:
        return leaf_hash(self.eth, self.btc_program, self.checksum, self.method, self.balance_sats, self.height,
                         self.timestamp)

    def as_json(self) -> dict:
        fields = asdict(self)
        for key in ("btc_program", "checksum"):
            fields[key] = "0x" + fields[key].hex()
        return fields


@frozen
class Snapshot:
    round: int | None  # the on-chain round, None when the deployment has no ProofOfReserves
    root: bytes
    height: int
    total_sats: int
    timestamp: int
    leaves: tuple[Leaf, ...]

    def as_json(self) -> dict:
        return {"round": self.round, "root": "0x" + self.root.hex(), "height": self.height,
                "total_sats": self.total_sats, "timestamp": self.timestamp,
                "leaves": [leaf.as_json() for leaf in self.leaves]}


class ReservesPublisher:
    def __init__(self, env, chain: BitcoinChain, port: RecordingBackend, registry: Registry, log: EventLog,
                 config: ReservesConfig, min_conf: int, genesis_timestamp: int, violate):
        self.env, self.chain, self.port, self.registry, self.log = env, chain, port, registry, log
        self.config, self.min_conf, self.genesis, self.violate = config, min_conf, genesis_timestamp, violate
        self.latest: Snapshot | None = None
        self.rounds = 0
        self.verified = 0

    def run(self):
        """SimPy process: a snapshot every ``interval_s``."""
        if self.config.interval_s <= 0:
            return
        while True:
            yield self.env.timeout(self.config.interval_s)
            self.publish()

    def publish(self) -> Snapshot | None:
        bindings = self.registry.all_bindings()
        if not bindings:
            return None
        now = self.genesis + int(self.env.now)
        height = self.chain.height
        balance = self.chain.confirmed_balance
        leaves = tuple(Leaf(b.user, b.btc_address, b.btc_program, b.checksum, b.method,
                            balance(b.btc_address, self.min_conf), height, now) for b in bindings)
        hashes = [leaf.hash() for leaf in leaves]
        tree = MerkleTree(hashes)
        total = sum(leaf.balance_sats for leaf in leaves)
        round_ = None
        if self.port.has("ProofOfReserves"):
            receipt = self.port.publish_reserves(tree.root, height, total)
            round_ = next(e.args[0] for e in receipt.events if e.name == "ReservesPublished")
        snapshot = Snapshot(round_, tree.root, height, total, now, leaves)
        self.latest = snapshot
        self.rounds += 1
        self.log.append(int(self.env.now), "por_published", round=round_, root=tree.root, height=height,
                        total_sats=total, leaves=len(leaves), timestamp=now)
        self._check(snapshot, tree, hashes)
        return snapshot

    def _check(self, snapshot: Snapshot, tree: MerkleTree, hashes: list[bytes]) -> None:
        for i, leaf in enumerate(hashes):
            if process_proof(leaf, tree.proof(i)) != snapshot.root:
                self.violate("reserves", snapshot.leaves[i].eth, "a leaf's proof does not lead to the published root",
                             round=snapshot.round, leaf=leaf)
        addresses = [leaf.btc_address for leaf in snapshot.leaves]
        reserves = self.chain.total_confirmed(addresses, self.min_conf)
        if snapshot.total_sats != reserves:
            self.violate("reserves", "committee", "the published total differs from the confirmed BTC on the chain",
                         round=snapshot.round, published=snapshot.total_sats, confirmed_btc=reserves)
        if snapshot.round is None:
            return
        published = self.port.call("ProofOfReserves", "publication", (snapshot.round,))
        if published[:3] != (snapshot.root, snapshot.height, snapshot.total_sats):
            self.violate("reserves", "committee", "the on-chain publication differs from the snapshot",
                         round=snapshot.round, onchain=published[:3])
        count = len(hashes)
        step = max(1, count // max(1, self.config.onchain_checks))
        for i in range(0, count, step)[: self.config.onchain_checks]:
            try:
                ok = self.port.call("ProofOfReserves", "verifyInRound", (snapshot.round, hashes[i], tree.proof(i)))
            except ContractRevert as exc:
                ok = exc
            self.verified += 1
            if ok is not True:
                self.violate("reserves", snapshot.leaves[i].eth, "the contract rejected a valid proof",
                             round=snapshot.round, answer=repr(ok))
        tampered = snapshot.leaves[0]
        forged = Leaf(tampered.eth, tampered.btc_address, tampered.btc_program, tampered.checksum, tampered.method,
                      tampered.balance_sats + 1, tampered.height, tampered.timestamp).hash()
        if self.port.call("ProofOfReserves", "verifyInRound", (snapshot.round, forged, tree.proof(0))):
            self.violate("reserves", tampered.eth, "the contract accepted a proof for a tampered leaf",
                         round=snapshot.round)

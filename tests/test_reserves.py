"""Proof of reserves: Python and the contract agree on leaves, roots and proofs; the world publishes honest roots."""

from __future__ import annotations

import json

import pytest

from contracts_model.params import PRESETS
from contracts_model.proof_of_reserves import MerkleTree, leaf_hash, process_proof
from sim.cli import main
from sim.config import DAY, ReservesConfig, WorldConfig
from sim.protocol.evm_backend import EvmBackend
from sim.registry import binding_checksum
from sim.reserves_proof import proofs_for_user, verify_document
from sim.world import World

ETH = "0x" + "ab" * 20
P2WPKH_PROGRAM = bytes(12) + bytes.fromhex("751e76e8199196d454941c45d1b3a323f1433bd6")  # BIP-173's example key
SALT = bytes(range(32))


def vector_leaves() -> list[tuple]:
    checksum = binding_checksum(ETH, P2WPKH_PROGRAM, SALT)
    return [(ETH, P2WPKH_PROGRAM, checksum, 1, 150_000_000, 870_000, 1_758_412_800)] + [
        ("0x" + f"{i:040x}", bytes([i]) * 32, bytes([255 - i]) * 32, 1 + i % 2, i * 1_000, 870_000, 1_758_412_800)
        for i in range(1, 9)
    ]


@pytest.fixture(scope="module")
def evm():
    return EvmBackend(PRESETS["testnet"])


def test_fixed_vectors_leaf_hash_layout_and_checksum():
    checksum = binding_checksum(ETH, P2WPKH_PROGRAM, SALT)
    # checksum = keccak256(eth || btcProgram || vrf_salt || "reservebtc:v1")
    from eth_utils import keccak

    assert checksum == keccak(bytes.fromhex("ab" * 20) + P2WPKH_PROGRAM + SALT + b"reservebtc:v1")
    packed = (bytes.fromhex("ab" * 20) + P2WPKH_PROGRAM + checksum + bytes([1]) + (150_000_000).to_bytes(8, "big")
              + (870_000).to_bytes(4, "big") + (1_758_412_800).to_bytes(8, "big"))
    assert len(packed) == 20 + 32 + 32 + 1 + 8 + 4 + 8
    assert leaf_hash(*vector_leaves()[0]) == keccak(packed)


def test_python_and_the_contract_agree_on_leaves_root_and_proofs(evm):
    leaves = vector_leaves()
    hashes = [leaf_hash(*leaf) for leaf in leaves]
    for leaf, expected in zip(leaves, hashes):
        assert evm.call("ProofOfReserves", "leafHash", leaf) == expected
    tree = MerkleTree(hashes)
    for i, leaf in enumerate(hashes):
        proof = tree.proof(i)
        assert evm.call("ProofOfReserves", "processProof", (leaf, proof)) == tree.root == process_proof(leaf, proof)
        assert evm.call("ProofOfReserves", "verify", (tree.root, leaf, proof)) is True


def test_the_contract_rejects_a_tampered_leaf_and_verifies_against_a_published_round(evm):
    token = evm.snapshot()
    try:
        leaves = vector_leaves()
        tree = MerkleTree([leaf_hash(*leaf) for leaf in leaves])
        total = sum(leaf[4] for leaf in leaves)
        receipt = evm.publish_reserves(tree.root, 870_000, total)
        (published,) = [e for e in receipt.events if e.name == "ReservesPublished"]
        assert published.args[:4] == (0, tree.root, 870_000, total)
        honest = leaf_hash(*leaves[0])
        assert evm.call("ProofOfReserves", "verifyInRound", (0, honest, tree.proof(0))) is True
        forged = list(leaves[0])
        forged[4] += 1  # one more sat than the snapshot says
        assert evm.call("ProofOfReserves", "verifyInRound", (0, leaf_hash(*forged), tree.proof(0))) is False
        assert evm.call("ProofOfReserves", "verify", (tree.root, honest, tree.proof(1))) is False
    finally:
        evm.revert(token)


def test_worlds_publish_roots_whose_totals_are_the_chains_reserves():
    world = World(WorldConfig(seed=4, users=40, duration_s=3 * DAY, reserves=ReservesConfig(interval_s=DAY // 2)))
    world.run()
    world.finish()
    assert world.reserves.rounds == 5
    snapshot = world.reserves.publish()  # one more round now, to compare with the chain as it stands
    assert world.violations.kept == []
    addresses = [b.btc_address for b in world.registry.all_bindings()]
    assert snapshot.total_sats == world.chain.total_confirmed(addresses, 1) > 0
    assert snapshot.total_sats == sum(leaf.balance_sats for leaf in snapshot.leaves)
    assert world.port.call("ProofOfReserves", "rounds") == 6
    assert world.port.call("ProofOfReserves", "latest")[:3] == (snapshot.root, snapshot.height, snapshot.total_sats)
    published = [r for r in world.log.records if r["kind"] == "por_published"]
    assert [r["round"] for r in published] == [0, 1, 2, 3, 4, 5]
    # every user's proof verifies offline
    document = snapshot.as_json()
    for user in world.registry.users()[:10]:
        results = verify_document(proofs_for_user(document, user))
        assert results and all(ok for _, ok, _ in results)


def test_a_committee_over_reporting_reserves_is_caught(monkeypatch):
    """Plant a dishonest committee: its snapshot counts 1,000 sats more per address than the chain holds."""
    from sim import reserves

    original = reserves.ReservesPublisher.publish

    def over_report(self):
        honest = self.chain.confirmed_balance
        self.chain.confirmed_balance = lambda address, min_conf=1: honest(address, min_conf) + 1_000
        try:
            return original(self)
        finally:
            del self.chain.confirmed_balance

    monkeypatch.setattr(reserves.ReservesPublisher, "publish", over_report)
    world = World(WorldConfig(seed=4, users=10, duration_s=DAY, reserves=ReservesConfig(interval_s=DAY // 2)))
    world.run()
    caught = [v for v in world.violations.kept if v.invariant == "reserves"]
    assert caught and "published total differs" in caught[0].message
    assert caught[0].values["published"] > caught[0].values["confirmed_btc"]


def test_proof_and_verify_proof_commands(tmp_path, capsys):
    from sim.run import execute
    from sim.scenario import parse

    scenario = parse({"world": {"users": 12, "duration": "1d", "seed": 2}, "reserves": {"interval_s": "12h"}}, "t")
    _, run_dir = execute(scenario, tmp_path / "run", report=False)
    snapshot = json.loads((run_dir / "proof_of_reserves.json").read_text())
    user = snapshot["leaves"][0]["eth"]
    assert main(["proof", str(run_dir), "--user", user.upper().replace("0X", "0x")]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["user"] == user and document["leaves"]
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(document))
    assert main(["verify-proof", str(path)]) == 0
    assert "VALID" in capsys.readouterr().out
    document["leaves"][0]["leaf"]["balance_sats"] += 1
    document["leaves"][0].pop("leaf_hash")
    path.write_text(json.dumps(document))
    assert main(["verify-proof", str(path)]) == 1
    assert "INVALID" in capsys.readouterr().out
    assert main(["proof", str(run_dir), "--user", "0xnot-an-address"]) == 2
    assert "not an EVM address" in capsys.readouterr().err
    assert main(["proof", str(run_dir), "--user", "0x" + "00" * 20]) == 2
    assert "no leaf for this user" in capsys.readouterr().err

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
from sim.exits import UNVERIFIED
from sim.reserves_proof import VALID, parse_document, proofs_for_user, verify_document
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
        results = verify_document(parse_document(proofs_for_user(document, user), "doc"), {snapshot.root: "(round)"})
        assert results and all(verdict == VALID for _, verdict, _ in results)


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


@pytest.fixture(scope="module")
def por_run(tmp_path_factory):
    """A small run with proof-of-reserves rounds published on chain."""
    from sim.run import execute
    from sim.scenario import parse

    scenario = parse({"world": {"users": 12, "duration": "1d", "seed": 2}, "reserves": {"interval_s": "12h"}}, "t")
    _, run_dir = execute(scenario, tmp_path_factory.mktemp("por") / "run", report=False)
    return run_dir


def _proof_document(run_dir, capsys) -> dict:
    snapshot = json.loads((run_dir / "proof_of_reserves.json").read_text())
    user = snapshot["leaves"][0]["eth"]
    assert main(["proof", str(run_dir), "--user", user.upper().replace("0X", "0x")]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["user"] == user and document["leaves"]
    return document


def verdicts(out: str) -> list[str]:
    return [line.split()[1] for line in out.splitlines()]


def test_proof_and_verify_proof_against_the_runs_published_roots(por_run, tmp_path, capsys):
    document = _proof_document(por_run, capsys)
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(document))
    assert main(["verify-proof", str(path), "--run", str(por_run)]) == 0
    out = capsys.readouterr().out
    assert set(verdicts(out)) == {"VALID"} and f"published on chain in round {document['round']}" in out
    assert main(["verify-proof", str(path), "--root", document["root"]]) == 0
    assert set(verdicts(capsys.readouterr().out)) == {"VALID"}
    # without a trusted root: self-consistent only, exit 4, and never the word VALID
    assert main(["verify-proof", str(path)]) == UNVERIFIED == 4
    captured = capsys.readouterr()
    assert "self-consistent, not verified against a published root" in captured.out and "VALID" not in captured.out
    # a changed balance no longer leads to the published root
    document["leaves"][0]["leaf"]["balance_sats"] += 1
    document["leaves"][0].pop("leaf_hash")
    path.write_text(json.dumps(document))
    assert main(["verify-proof", str(path), "--run", str(por_run)]) == 1
    assert "INVALID" in verdicts(capsys.readouterr().out)
    assert main(["proof", str(por_run), "--user", "0xnot-an-address"]) == 2
    assert "not an EVM address" in capsys.readouterr().err
    assert main(["proof", str(por_run), "--user", "0x" + "00" * 20]) == 2
    assert "no leaf for this user" in capsys.readouterr().err


def test_a_forged_one_leaf_document_is_never_valid(por_run, tmp_path, capsys):
    """One leaf of 21 M BTC, the root set to its own hash, no siblings: consistent with itself only."""
    document = _proof_document(por_run, capsys)
    leaf = dict(document["leaves"][0]["leaf"], balance_sats=21_000_000 * 10**8)
    forged_hash = "0x" + parse_document({"leaves": [{"leaf": leaf, "proof": []}]}, "f").entries[0].leaf.hash.hex()
    forged = dict(document, root=forged_hash, total_sats=leaf["balance_sats"],
                  leaves=[{"leaf": leaf, "leaf_hash": forged_hash, "proof": []}])
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(forged))
    assert main(["verify-proof", str(path), "--run", str(por_run)]) == 1
    assert verdicts(capsys.readouterr().out) == ["INVALID"]
    assert main(["verify-proof", str(path), "--root", document["root"]]) == 1
    assert verdicts(capsys.readouterr().out) == ["INVALID"]
    assert main(["verify-proof", str(path)]) == 4  # self-consistent, which proves nothing
    assert "VALID" not in capsys.readouterr().out


@pytest.mark.parametrize(("content", "needle"), [
    (b"", "not JSON"),
    (b"\xff\xfe{\x00}\x00", "UTF-16"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8"),
    (b"[1, 2]", "expected a JSON object"),
    (b'{"root": "0x' + b"00" * 32 + b'", "leaves": []}', "leaves: expected a non-empty list"),
    (b'{"root": "0x12", "leaves": [{"leaf": {}, "proof": []}]}', "missing 'eth'"),
    (b"[" * 100_000 + b"]" * 100_000, "nested more than"),
])
def test_verify_proof_refuses_garbage_with_exit_2_and_one_line(tmp_path, capsys, content, needle):
    path = tmp_path / "doc.json"
    path.write_bytes(content)
    assert main(["verify-proof", str(path), "--root", "0x" + "11" * 32]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_verify_proof_refuses_a_bad_root_or_a_run_without_published_roots(tmp_path, capsys, por_run):
    document = _proof_document(por_run, capsys)
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(document))
    assert main(["verify-proof", str(path), "--root", "0x1234"]) == 2
    assert "--root: expected 32 bytes" in capsys.readouterr().err
    empty = tmp_path / "empty-run"
    empty.mkdir()
    (empty / "events.jsonl").write_text('{"seq":0,"t":0,"kind":"world_start"}\n')
    assert main(["verify-proof", str(path), "--run", str(empty)]) == 2
    assert "no ReservesPublished event" in capsys.readouterr().err


def test_proof_refuses_a_broken_snapshot_with_exit_2(tmp_path, capsys, por_run):
    import shutil

    broken = tmp_path / "run"
    shutil.copytree(por_run, broken)
    for content, needle in ((b"{not json", "not JSON"), (b'{"leaves": "many"}', "leaves: expected a non-empty list"),
                            (b"\x00\x01\xff", "not UTF-8")):
        (broken / "proof_of_reserves.json").write_bytes(content)
        assert main(["proof", str(broken), "--user", "0x" + "00" * 20]) == 2
        err = capsys.readouterr().err.strip()
        assert needle in err and len(err.splitlines()) == 1

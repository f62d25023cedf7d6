"""A user's proof-of-reserves document, and checking one offline (``rbtc-sim proof`` / ``verify-proof``).

The document is plain JSON: the snapshot's round, root, height and total, and for each of the
user's bindings the leaf's fields, its hash and its Merkle proof. Verification recomputes the leaf
hash from the fields (PROTOCOL.md's packed layout), walks the proof with sorted-pair keccak and
compares the result with the root — no trust in the hashes the document carries.
"""

from __future__ import annotations

from contracts_model.proof_of_reserves import MerkleTree, leaf_hash, process_proof


def _bytes(text: str) -> bytes:
    return bytes.fromhex(text[2:] if text.startswith("0x") else text)


def _hash(leaf: dict) -> bytes:
    return leaf_hash(leaf["eth"], _bytes(leaf["btc_program"]), _bytes(leaf["checksum"]), int(leaf["method"]),
                     int(leaf["balance_sats"]), int(leaf["height"]), int(leaf["timestamp"]))


def proofs_for_user(snapshot: dict, user: str) -> dict:
    """From a run's proof_of_reserves.json: the user's leaves with their proofs."""
    leaves = snapshot["leaves"]
    tree = MerkleTree([_hash(leaf) for leaf in leaves])
    mine = [
        {"leaf": leaf, "leaf_hash": "0x" + _hash(leaf).hex(), "proof": ["0x" + p.hex() for p in tree.proof(i)]}
        for i, leaf in enumerate(leaves) if leaf["eth"] == user
    ]
    return {"round": snapshot["round"], "root": snapshot["root"], "height": snapshot["height"],
            "total_sats": snapshot["total_sats"], "timestamp": snapshot["timestamp"], "user": user, "leaves": mine}


def verify_document(document: dict) -> list[tuple[str, bool, str]]:
    """``(leaf hash, valid, reason)`` for every leaf of a document from :func:`proofs_for_user`."""
    results = []
    try:
        root = _bytes(document["root"])
        entries = document["leaves"]
    except (KeyError, TypeError, ValueError):
        return [("-", False, "the document lacks a root or leaves")]
    for entry in entries:
        try:
            computed = _hash(entry["leaf"])
            proof = [_bytes(p) for p in entry["proof"]]
        except (KeyError, TypeError, ValueError) as exc:
            results.append(("-", False, f"malformed leaf: {exc}"))
            continue
        if "leaf_hash" in entry and _bytes(entry["leaf_hash"]) != computed:
            results.append(("0x" + computed.hex(), False, "the leaf's fields do not hash to the stated leaf_hash"))
        elif process_proof(computed, proof) != root:
            results.append(("0x" + computed.hex(), False, "the proof does not lead to the root"))
        else:
            results.append(("0x" + computed.hex(), True, f"included in root {document['root']}"))
    return results

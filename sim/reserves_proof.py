"""A user's proof-of-reserves document, and checking one offline (``rbtc-sim proof`` / ``verify-proof``).

The document is plain JSON: the snapshot's round, root, height and total, and for each of the
user's bindings the leaf's fields, its hash and its Merkle proof. Verification recomputes the leaf
hash from the fields (PROTOCOL.md's packed layout), walks the proof with sorted-pair keccak and
compares the result with a **trusted** root: one given on the command line, or one the committee
published on chain (a ``ReservesPublished`` event in a run's ``events.jsonl``). The root a document
states about itself is never trusted: anyone can write a one-leaf document whose root is its own
leaf. Without a trusted root, a check can only say a document is self-consistent.

Documents are parsed strictly (:func:`parse_document`): anything malformed is bad input
(:class:`~sim.exits.BadInput`, naming the field), never an "invalid" verdict.
"""

from __future__ import annotations

import re
from pathlib import Path

from attrs import frozen

from contracts_model.proof_of_reserves import MerkleTree, leaf_hash, process_proof
from contracts_model.validation import show
from sim.exits import BadInput
from sim.input_files import parse_json

_HEX32 = re.compile(r"(0x)?[0-9a-fA-F]{64}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
#: Leaf fields and their integer widths (PROTOCOL.md's packed layout).
_UINT_FIELDS = {"method": 8, "balance_sats": 64, "height": 32, "timestamp": 64}
#: A proof longer than this cannot come from a tree that fits in memory.
MAX_PROOF_LENGTH = 256


# ---------------------------------------------------------------------------------------- parsing


def bytes32(value, where: str) -> bytes:
    """32 bytes from ``0x`` + 64 hex digits (the prefix is optional)."""
    if not isinstance(value, str) or not _HEX32.fullmatch(value):
        raise BadInput(f"{where}: expected 32 bytes as 0x followed by 64 hex digits, got {show(value)}")
    return bytes.fromhex(value[2:] if value.startswith("0x") else value)


def _field(table, key: str, where: str):
    if not isinstance(table, dict):
        raise BadInput(f"{where}: expected a JSON object, got {show(table)}")
    if key not in table:
        raise BadInput(f"{where}: missing {key!r}")
    return table[key]


@frozen
class Leaf:
    """A snapshot leaf as a document carries it, checked field by field: its owner and its hash."""

    eth: str
    hash: bytes


def parse_leaf(data, where: str) -> Leaf:
    eth = _field(data, "eth", where)
    if not isinstance(eth, str) or not _ADDRESS.fullmatch(eth):
        raise BadInput(f"{where}.eth: expected an EVM address (0x followed by 40 hex digits), got {show(eth)}")
    values = {}
    for key, bits in _UINT_FIELDS.items():
        value = _field(data, key, where)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**bits:
            raise BadInput(f"{where}.{key}: expected a uint{bits} (a whole number in [0, 2**{bits})), got {show(value)}")
        values[key] = value
    program = bytes32(_field(data, "btc_program", where), f"{where}.btc_program")
    checksum = bytes32(_field(data, "checksum", where), f"{where}.checksum")
    return Leaf(eth.lower(), leaf_hash(eth, program, checksum, values["method"], values["balance_sats"],
                                       values["height"], values["timestamp"]))


@frozen
class Entry:
    leaf: Leaf
    proof: tuple[bytes, ...]
    stated_hash: bytes | None  # the leaf_hash the document states, if any


@frozen
class Document:
    entries: tuple[Entry, ...]
    stated_root: bytes | None  # never trusted; only for the self-consistency check
    round: int | None


def parse_document(data, source: str) -> Document:
    """A document written by ``rbtc-sim proof``; raises BadInput naming the first malformed field."""
    if not isinstance(data, dict):
        raise BadInput(f"{source}: expected a JSON object with root and leaves, got {show(data)}")
    leaves = _field(data, "leaves", source)
    if not isinstance(leaves, list) or not leaves:
        raise BadInput(f"{source}: leaves: expected a non-empty list of leaves with their proofs, got {show(leaves)}")
    entries = []
    for i, item in enumerate(leaves):
        where = f"{source}: leaves[{i}]"
        leaf = parse_leaf(_field(item, "leaf", where), f"{where}.leaf")
        proof = _field(item, "proof", where)
        if not isinstance(proof, list) or len(proof) > MAX_PROOF_LENGTH:
            raise BadInput(f"{where}.proof: expected a list of at most {MAX_PROOF_LENGTH} sibling hashes, "
                           f"got {show(proof)}")
        siblings = tuple(bytes32(p, f"{where}.proof[{j}]") for j, p in enumerate(proof))
        stated = bytes32(item["leaf_hash"], f"{where}.leaf_hash") if item.get("leaf_hash") is not None else None
        entries.append(Entry(leaf, siblings, stated))
    root = bytes32(data["root"], f"{source}: root") if data.get("root") is not None else None
    round_ = data.get("round")
    if round_ is not None and (isinstance(round_, bool) or not isinstance(round_, int) or round_ < 0):
        raise BadInput(f"{source}: round: expected a round number or null, got {show(round_)}")
    return Document(tuple(entries), root, round_)


# ---------------------------------------------------------------------------------------- producing


def proofs_for_user(snapshot, user: str, source: str = "proof_of_reserves.json") -> dict:
    """From a run's proof_of_reserves.json: the user's leaves with their proofs."""
    if not isinstance(snapshot, dict):
        raise BadInput(f"{source}: expected a JSON object (a proof-of-reserves snapshot), got {show(snapshot)}")
    raw = _field(snapshot, "leaves", source)
    if not isinstance(raw, list) or not raw:
        raise BadInput(f"{source}: leaves: expected a non-empty list of leaves, got {show(raw)}")
    leaves = [parse_leaf(item, f"{source}: leaves[{i}]") for i, item in enumerate(raw)]
    header = {key: _field(snapshot, key, source) for key in ("round", "root", "height", "total_sats", "timestamp")}
    bytes32(header["root"], f"{source}: root")
    tree = MerkleTree([leaf.hash for leaf in leaves])
    mine = [
        {"leaf": raw[i], "leaf_hash": "0x" + leaf.hash.hex(), "proof": ["0x" + p.hex() for p in tree.proof(i)]}
        for i, leaf in enumerate(leaves) if leaf.eth == user
    ]
    return {**header, "user": user, "leaves": mine}


# ---------------------------------------------------------------------------------------- verifying


def published_roots(run_dir: Path) -> dict[bytes, int]:
    """Every root the committee published on chain in a run: ``ReservesPublished`` events of successful
    transactions in ``events.jsonl``, root -> round."""
    path = Path(run_dir) / "events.jsonl"
    if not path.is_file():
        raise BadInput(f"{run_dir}: not a run folder (no events.jsonl to read published roots from)")
    roots: dict[bytes, int] = {}
    try:
        with open(path, "rb") as handle:
            for number, line in enumerate(handle, 1):
                if b"ReservesPublished" not in line:
                    continue
                record = parse_json(line.decode("utf-8", "replace"), f"{path}: line {number}")
                if not isinstance(record, dict) or record.get("kind") != "evm_tx" or record.get("status") != "ok":
                    continue
                for event in record.get("events") or ():
                    if (isinstance(event, list) and len(event) == 3 and event[:2] == ["ProofOfReserves",
                                                                                      "ReservesPublished"]):
                        args = event[2]
                        if not isinstance(args, list) or len(args) < 2 or not isinstance(args[0], int):
                            raise BadInput(f"{path}: line {number}: a ReservesPublished event without "
                                           "[round, root, ...]")
                        roots[bytes32(args[1], f"{path}: line {number} ReservesPublished root")] = args[0]
    except OSError as exc:
        raise BadInput(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not roots:
        raise BadInput(f"{run_dir}: the run published no root on chain (no ReservesPublished event); "
                       "nothing to verify against")
    return roots


#: Verdicts per leaf.
VALID, INVALID, SELF_CONSISTENT = "VALID", "INVALID", "self-consistent"
UNVERIFIED_NOTE = "self-consistent, not verified against a published root"


def verify_document(document: Document, trusted: dict[bytes, str] | None) -> list[tuple[str, str, str]]:
    """``(leaf hash, verdict, reason)`` for every leaf.

    ``trusted`` maps each trusted root to how it is known ("given with --root", "published in round 3").
    A leaf is VALID only if its proof leads to a trusted root. With ``trusted=None`` the best a leaf can
    be is SELF_CONSISTENT: its proof leads to the root the document states, which proves nothing."""
    results = []
    for entry in document.entries:
        computed = entry.leaf.hash
        shown = "0x" + computed.hex()
        if entry.stated_hash is not None and entry.stated_hash != computed:
            results.append((shown, INVALID, "the leaf's fields do not hash to the stated leaf_hash"))
            continue
        reached = process_proof(computed, entry.proof)
        if trusted is not None:
            if reached in trusted:
                results.append((shown, VALID, f"included in root 0x{reached.hex()} {trusted[reached]}"))
            else:
                results.append((shown, INVALID, "the proof does not lead to a trusted root"))
        elif document.stated_root is None:
            raise BadInput("the document states no root, and no trusted root was given (--root or --run)")
        elif reached == document.stated_root:
            results.append((shown, SELF_CONSISTENT, UNVERIFIED_NOTE))
        else:
            results.append((shown, INVALID, "the proof does not even lead to the document's own root"))
    return results

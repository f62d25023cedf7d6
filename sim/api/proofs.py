"""Where the server finds proof-of-reserves snapshots, to hand a user its Merkle proofs.

The event log records each round's root, height and total (indexed into ``proof_of_reserves``), not
its leaves, so the leaves come from the world that built them:

* :class:`RunFolderSnapshots` — a finished run's ``proof_of_reserves.json`` (its last round);
* :class:`LiveSnapshots` — a running world's snapshots as the committee publishes them (``run --serve``).

A served document has the shape of ``rbtc-sim proof`` (so ``rbtc-sim verify-proof`` checks it too).
Its ``root`` is the snapshot's own; whoever verifies must compare the proof walk with the root
*published on chain* for that round, which the API serves from the index beside it, never with the
document's. Each round's tree is built once and kept.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from contracts_model.proof_of_reserves import MerkleTree, leaf_hash

#: Rounds kept by a live source (older ones have been superseded on chain anyway).
KEEP_ROUNDS = 8


def _bytes(text: str) -> bytes:
    return bytes.fromhex(text[2:] if text.startswith("0x") else text)


class _Round:
    """One snapshot (as JSON) with its tree and the leaf positions of each user."""

    def __init__(self, snapshot: dict):
        self.snapshot = snapshot
        self._tree: MerkleTree | None = None
        self._hashes: list[bytes] = []
        self._lock = threading.Lock()

    def _build(self) -> MerkleTree:
        with self._lock:
            if self._tree is None:
                self._hashes = [leaf_hash(leaf["eth"], _bytes(leaf["btc_program"]), _bytes(leaf["checksum"]),
                                          int(leaf["method"]), int(leaf["balance_sats"]), int(leaf["height"]),
                                          int(leaf["timestamp"])) for leaf in self.snapshot["leaves"]]
                self._tree = MerkleTree(self._hashes)
            return self._tree

    def document(self, user: str) -> dict:
        tree = self._build()
        leaves = [{"leaf": leaf, "leaf_hash": "0x" + self._hashes[i].hex(),
                   "proof": ["0x" + p.hex() for p in tree.proof(i)]}
                  for i, leaf in enumerate(self.snapshot["leaves"]) if leaf["eth"] == user]
        snap = self.snapshot
        return {"round": snap["round"], "root": snap["root"], "height": snap["height"],
                "total_sats": snap["total_sats"], "timestamp": snap["timestamp"], "user": user, "leaves": leaves}


class Snapshots:
    """No snapshots (a server given only a database URL)."""

    available = False

    def rounds(self) -> list[int | None]:
        return []

    def document(self, user: str, round_: int | None = None) -> dict | None:
        """The user's proof document for ``round_`` (default: the newest round this source holds)."""
        return None


class RunFolderSnapshots(Snapshots):
    """A run folder's ``proof_of_reserves.json``, read when first asked (it appears at the run's end)."""

    available = True

    def __init__(self, run_dir: Path | str):
        self.path = Path(run_dir) / "proof_of_reserves.json"
        self._round: _Round | None = None
        self._mtime: float | None = None

    def _load(self) -> _Round | None:
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            return None
        if self._round is None or mtime != self._mtime:
            try:
                snapshot = json.loads(self.path.read_text(encoding="utf-8"))
                snapshot["leaves"]  # noqa: B018 - the shape this source needs
            except (OSError, ValueError, KeyError, TypeError):
                return None
            self._round, self._mtime = _Round(snapshot), mtime
        return self._round

    def rounds(self) -> list[int | None]:
        current = self._load()
        return [] if current is None else [current.snapshot["round"]]

    def document(self, user: str, round_: int | None = None) -> dict | None:
        current = self._load()
        if current is None or (round_ is not None and current.snapshot["round"] != round_):
            return None
        return current.document(user)


class LiveSnapshots(Snapshots):
    """The snapshots a running world publishes; call :meth:`attach` with the world once it is built."""

    available = True

    def __init__(self):
        self._rounds: dict = {}
        self._order: list = []
        self._lock = threading.Lock()

    def attach(self, world) -> "LiveSnapshots":
        publisher = world.reserves

        def on_record(record: dict) -> None:
            if record["kind"] == "por_published" and publisher.latest is not None:
                self.add(publisher.latest.as_json())

        if publisher.latest is not None:
            self.add(publisher.latest.as_json())
        world.log.subscribe(on_record)
        return self

    def add(self, snapshot: dict) -> None:
        with self._lock:
            key = snapshot["round"]
            if key not in self._rounds:
                self._order.append(key)
            self._rounds[key] = _Round(snapshot)
            while len(self._order) > KEEP_ROUNDS:
                self._rounds.pop(self._order.pop(0), None)

    def rounds(self) -> list[int | None]:
        with self._lock:
            return list(self._order)

    def document(self, user: str, round_: int | None = None) -> dict | None:
        with self._lock:
            if not self._order:
                return None
            chosen = self._rounds.get(self._order[-1] if round_ is None else round_)
        return None if chosen is None else chosen.document(user)

"""Compiled contract artifacts: finding them, reading them, and checking they fit the protocol's ABI.

Two layouts are understood:

* the project's own (``contracts_model/artifacts/<Contract>.json`` with ``abi`` and ``bytecode``),
* Foundry's ``out/`` (``out/<File>.sol/<Contract>.json`` with ``abi`` and ``bytecode.object``).

Hardhat's ``artifacts/contracts/<File>.sol/<Contract>.json`` also works, since it has the same shape
as Foundry's apart from ``bytecode`` being a plain string.

:func:`load_artifacts` returns one :class:`Artifact` per protocol contract, or raises
:class:`ArtifactError` with one message naming the file (or directory) and what is wrong with it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from attrs import frozen

from contracts_model.protocol import CONTRACTS, OPTIONAL_CONTRACTS, REQUIRED_CONTRACTS, SPECS
from sim.evm.codec import canonical_type
from sim.input_files import MAX_ARTIFACT_BYTES, MAX_ARTIFACT_DEPTH, read_json

#: The project's own artifact directory, used when no other is given.
DEFAULT_ARTIFACT_DIR = Path(__file__).resolve().parents[2] / "contracts_model" / "artifacts"
#: The Solidity sources those artifacts are compiled from.
SOURCE_DIR = DEFAULT_ARTIFACT_DIR.parent / "solidity"

#: What the harness calls on each contract and the events it relies on (declared in protocol.json).
REQUIRED_FUNCTIONS: dict[str, tuple[str, ...]] = {c.name: c.functions for c in CONTRACTS if c.functions}
REQUIRED_EVENTS: dict[str, tuple[str, ...]] = {c.name: c.events for c in CONTRACTS if c.events}
#: Contracts every build must have, in deployment order, and those it may lack (losing that feature).
PROTOCOL_CONTRACTS = REQUIRED_CONTRACTS

_IMPORT = re.compile(r"""^\s*import\s+[^;]*?["']\./([^"']+\.sol)["']""", re.MULTILINE)


class ArtifactError(ValueError):
    """An artifact directory or file that cannot be used; the message names it and the reason."""


@frozen
class Artifact:
    """One contract's ABI and creation bytecode, and the file they came from."""

    name: str
    abi: tuple
    bytecode: bytes
    path: Path

    def signatures(self, kind: str = "function") -> set[str]:
        """Canonical signatures (``name(type,...)``) of the ABI entries of one kind."""
        return {_signature(entry) for entry in self.abi if entry.get("type") == kind}


def _signature(entry: dict) -> str:
    types = ",".join(canonical_type(p) for p in entry.get("inputs", ()))
    return f"{entry.get('name', '')}({types})"


def source_files(contract: str, source_dir: Path = SOURCE_DIR) -> list[str]:
    """The ``.sol`` files ``contract`` is compiled from: its own and, transitively, what it imports."""
    found: list[str] = []
    pending = [SPECS[contract].source]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.append(name)
        pending.extend(_IMPORT.findall((source_dir / name).read_text(encoding="utf-8")))
    return sorted(found)


def source_digest(contract: str, source_dir: Path = SOURCE_DIR) -> str:
    """sha256 over ``name\\0content\\0`` of :func:`source_files`, sorted by name: the digest
    tools/compile.js records in each artifact, so editing one contract's source leaves the others' alone."""
    digest = hashlib.sha256()
    for name in source_files(contract, source_dir):
        digest.update(name.encode() + b"\0" + (source_dir / name).read_bytes() + b"\0")
    return digest.hexdigest()


def _find_file(directory: Path, name: str) -> Path | None:
    for candidate in (
        directory / f"{name}.json",  # our own layout
        directory / f"{name}.sol" / f"{name}.json",  # Foundry out/ and Hardhat
        directory / "contracts" / f"{name}.sol" / f"{name}.json",  # Hardhat artifacts/ root
    ):
        if candidate.is_file():
            return candidate
    # Foundry keeps the source file's name, which need not match the contract's.
    matches = sorted(directory.glob(f"*/{name}.json"))
    return matches[0] if matches else None


def _read_artifact(path: Path, name: str) -> Artifact:
    data = read_json(path, f"artifact for {name}", MAX_ARTIFACT_BYTES, ArtifactError, MAX_ARTIFACT_DEPTH)
    if not isinstance(data, dict):
        raise ArtifactError(f"{path}: expected a JSON object with 'abi' and 'bytecode'")
    abi = data.get("abi")
    if not isinstance(abi, list) or not all(isinstance(e, dict) for e in abi):
        raise ArtifactError(f"{path}: missing or malformed 'abi' (expected a list of ABI entries)")
    code = data.get("bytecode")
    if isinstance(code, dict):  # Foundry: {"object": "0x..."}
        code = code.get("object")
    if not isinstance(code, str):
        raise ArtifactError(f"{path}: missing 'bytecode' for {name}")
    text = code[2:] if code.startswith("0x") else code
    if "__" in text:
        raise ArtifactError(f"{path}: bytecode for {name} has unlinked library placeholders")
    try:
        bytecode = bytes.fromhex(text)
    except ValueError:
        raise ArtifactError(f"{path}: 'bytecode' for {name} is not hex") from None
    if not bytecode:
        raise ArtifactError(f"{path}: empty bytecode for {name} (an interface or abstract contract?)")
    return Artifact(name=name, abi=tuple(abi), bytecode=bytecode, path=path)


def _check_abi(artifact: Artifact) -> None:
    functions = artifact.signatures("function")
    missing = [s for s in REQUIRED_FUNCTIONS.get(artifact.name, ()) if s not in functions]
    events = artifact.signatures("event")
    missing += [f"event {s}" for s in REQUIRED_EVENTS.get(artifact.name, ()) if s not in events]
    if missing:
        raise ArtifactError(
            f"{artifact.path}: the ABI of {artifact.name} lacks what the protocol requires: {', '.join(missing)}"
        )


def load_artifacts(directory: Path | str | None = None) -> dict[str, Artifact]:
    """Load and check the protocol contracts' artifacts from ``directory`` (default: the project's own).

    Returns ``{contract name: Artifact}`` for every protocol contract and every optional contract found.
    """
    root = Path(directory) if directory is not None else DEFAULT_ARTIFACT_DIR
    if not root.exists():
        raise ArtifactError(f"{root}: artifact directory does not exist")
    if not root.is_dir():
        raise ArtifactError(f"{root}: not a directory (give the folder holding the compiled contracts)")
    found: dict[str, Artifact] = {}
    for name in PROTOCOL_CONTRACTS + OPTIONAL_CONTRACTS:
        path = _find_file(root, name)
        if path is None:
            if name in OPTIONAL_CONTRACTS:
                continue
            raise ArtifactError(
                f"{root}: no artifact for contract {name} (looked for {name}.json and {name}.sol/{name}.json)"
            )
        artifact = _read_artifact(path, name)
        _check_abi(artifact)
        found[name] = artifact
    return found

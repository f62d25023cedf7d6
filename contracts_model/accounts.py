"""EVM account addresses: the canonical form the models use, and CREATE addresses."""

from __future__ import annotations

import rlp
from contracts_model.keccak import keccak256 as keccak

from contracts_model.errors import ArgumentError

ZERO_ADDRESS = "0x" + "00" * 20

_HEX_DIGITS = frozenset("0123456789abcdef")


def to_address(value) -> str:
    """The canonical form of an address: lowercase "0x" + 40 hex digits.

    Accepts a hex string in any letter case (the EIP-55 checksum is not verified) or 20 raw bytes.
    """
    if isinstance(value, (bytes, bytearray)):
        if len(value) != 20:
            raise ArgumentError(f"an address has 20 bytes, got {len(value)}: {bytes(value).hex()}")
        return "0x" + bytes(value).hex()
    if not isinstance(value, str):
        raise ArgumentError(f"an address must be a hex string, got {type(value).__name__}: {value!r}")
    text = value.lower()
    if len(text) != 42 or not text.startswith("0x") or not _HEX_DIGITS.issuperset(text[2:]):
        raise ArgumentError(f"not an address (0x + 40 hex digits): {value!r}")
    return text


def create_address(deployer: str, nonce: int) -> str:
    """The address of the contract `deployer` creates with CREATE at `nonce`:
    keccak256(rlp([deployer, nonce]))[12:]."""
    if isinstance(nonce, bool) or not isinstance(nonce, int) or nonce < 0:
        raise ArgumentError(f"a nonce is a non-negative int, got {nonce!r}")
    sender = bytes.fromhex(to_address(deployer)[2:])
    return "0x" + keccak(rlp.encode([sender, nonce]))[12:].hex()

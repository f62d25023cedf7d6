"""The fast keccak agrees with eth-hash's pycryptodome backend, and py-evm uses it."""

from __future__ import annotations

import os

from eth_hash.backends import pycryptodome

from contracts_model.keccak import keccak256


def test_fast_keccak_matches_the_reference_backend():
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    for size in (0, 1, 31, 32, 33, 64, 135, 136, 137, 1_000):
        data = bytes(range(256)) * (size // 256 + 1)
        assert keccak256(data[:size]) == pycryptodome.keccak256(data[:size])


def test_eth_hash_is_pointed_at_pysha3():
    assert os.environ.get("ETH_HASH_BACKEND") == "pysha3"

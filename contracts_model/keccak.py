"""keccak256 from the fastest implementation installed.

pysha3's C keccak (the ``safe-pysha3`` package, a project dependency) is about ten times faster per
call than eth-hash's default pycryptodome backend. Importing this module also points eth-hash, and
with it py-evm's SHA3 opcode and storage hashing, at pysha3, unless ``ETH_HASH_BACKEND`` is already
set. Without pysha3 everything falls back to eth-hash's own choice; results are identical.
"""

from __future__ import annotations

import os

try:
    from sha3 import keccak_256 as _keccak_256
except ImportError:  # pragma: no cover - the pinned environment has it
    from eth_hash.auto import keccak as keccak256
else:
    os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")

    def keccak256(data: bytes) -> bytes:
        """keccak256 (Ethereum's, not SHA3-256) of ``data``."""
        return _keccak_256(data).digest()

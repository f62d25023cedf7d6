"""The protocol's own accounts (deployer, committee, fee collector) and their starting ETH.

What they deploy, and in which order, is :mod:`contracts_model.deployment`'s plan, shared by every
backend.
"""

from __future__ import annotations

from attrs import frozen
from eth_keys import keys


def _address_of_key(secret: int) -> str:
    return keys.PrivateKey(secret.to_bytes(32, "big")).public_key.to_checksum_address().lower()


@frozen
class Accounts:
    """The protocol's own EVM accounts (lowercase hex).

    The defaults are the keys 1, 2 and 3, which eth-tester also knows, so the web3 view and the
    naive baseline can sign transactions as them.
    """

    deployer: str = _address_of_key(1)
    committee: str = _address_of_key(2)
    fee_collector: str = _address_of_key(3)


#: ETH the deployer and the committee start with (the committee prepays through registerAndPrepay).
OPERATOR_FUNDING_WEI = 10**24

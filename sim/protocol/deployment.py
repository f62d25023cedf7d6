"""Who deploys the protocol, in which order, with which constructor arguments.

Every backend deploys from the same plan, so contract addresses (CREATE addresses of the deployer's
nonces 0..5) are identical across backends and lockstep can compare events and state directly.
The constructors reference each other circularly (RBTCSynth and FeeVault need the aggregator's
address, the aggregator needs theirs), which is resolved the way the deployed system resolves it:
by computing the aggregator's future CREATE address up front.
"""

from __future__ import annotations

from attrs import frozen
from eth_keys import keys

from contracts_model.accounts import create_address
from contracts_model.params import ProtocolParams, YieldParams


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

    @staticmethod
    def private_key(address: str) -> bytes | None:
        for secret in (1, 2, 3):
            if _address_of_key(secret) == address:
                return secret.to_bytes(32, "big")
        return None


#: ETH the deployer and the committee start with (the committee prepays through registerAndPrepay).
OPERATOR_FUNDING_WEI = 10**24


@frozen
class Step:
    """One deployment: the contract, its constructor arguments, the address it will get."""

    contract: str
    args: tuple
    address: str


def deployment_plan(params: ProtocolParams, accounts: Accounts) -> tuple[Step, ...]:
    """The six deployments, in nonce order, with their constructor arguments."""
    at = [create_address(accounts.deployer, nonce) for nonce in range(6)]
    policy, synth, vault, oracle, pool, por = at
    return (
        Step("FeePolicy", (params.pct_bps, params.fixed_wei, params.wei_per_sat), policy),
        Step("RBTCSynth", (oracle,), synth),
        Step("FeeVault", (oracle, accounts.fee_collector), vault),
        Step(
            "OracleAggregator",
            (synth, vault, policy, accounts.committee, params.min_confirmations, params.max_fee_per_sync_wei),
            oracle,
        ),
        # The pool's oracle is the committee account: it is the one that calls the pool.
        Step("YieldScalesPool", (synth, vault, accounts.committee), pool),
        Step("ProofOfReserves", (accounts.committee,), por),
    )


def yield_configuration(params: ProtocolParams) -> tuple | None:
    """Arguments of the committee's ``configureYield`` call after deployment, or None for the defaults."""
    chosen = params.yield_params
    if chosen is None or chosen == YieldParams():
        return None
    return (
        chosen.base_rate,
        chosen.max_rate,
        chosen.silver_after,
        chosen.gold_after,
        chosen.bronze_multiplier,
        chosen.silver_multiplier,
        chosen.gold_multiplier,
    )

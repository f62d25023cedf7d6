"""Who deploys what, in which order, with which constructor arguments: one plan for every backend.

All six contracts are CREATE-deployed from ``deployer`` with nonces 0..5, so their addresses are the
same on every backend and lockstep can compare events and state directly. The constructors
reference each other circularly (RBTCSynth and FeeVault need the aggregator's address, the
aggregator needs theirs), resolved as the deployed system resolves it: by computing the
aggregator's future CREATE address up front. Non-default yield parameters are then set by the
committee (the pool's oracle) with ``configureYield``.
"""

from __future__ import annotations

from attrs import frozen

from contracts_model.accounts import create_address
from contracts_model.params import ProtocolParams, YieldParams


@frozen
class Step:
    """One deployment: the contract, its constructor arguments (ABI order), the address it gets."""

    contract: str
    args: tuple
    address: str


def deployment_plan(params: ProtocolParams, deployer: str, committee: str, fee_collector: str) -> tuple[Step, ...]:
    """The six deployments, in nonce order."""
    policy, synth, vault, oracle, pool, por = (create_address(deployer, nonce) for nonce in range(6))
    return (
        Step("FeePolicy", (params.pct_bps, params.fixed_wei, params.wei_per_sat), policy),
        Step("RBTCSynth", (oracle,), synth),
        Step("FeeVault", (oracle, fee_collector), vault),
        Step("OracleAggregator",
             (synth, vault, policy, committee, params.min_confirmations, params.max_fee_per_sync_wei), oracle),
        # The pool's oracle is the committee account: it is the one that calls the pool.
        Step("YieldScalesPool", (synth, vault, committee), pool),
        Step("ProofOfReserves", (committee,), por),
    )


#: Contract names in deployment order (nonce order), as deployment_plan lists them.
DEPLOYMENT_ORDER = ("FeePolicy", "RBTCSynth", "FeeVault", "OracleAggregator", "YieldScalesPool", "ProofOfReserves")


def yield_configuration(params: ProtocolParams) -> tuple | None:
    """Arguments of the committee's ``configureYield`` call after deployment, or None for the defaults."""
    chosen = params.yield_params
    if chosen is None or chosen == YieldParams():
        return None
    return chosen.as_args()

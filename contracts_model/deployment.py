"""Who deploys what, in which order, with which constructor arguments: one plan for every backend.

The contracts, their order and their constructor shapes come from ``protocol.json``
(:mod:`contracts_model.protocol`); *who holds each role* comes from a :class:`Deployment`, whose
default is the project's own wiring (the committee account syncs, publishes reserves and is the
pool's oracle; the OracleAggregator contract mints, burns and spends fees). A deployment file (see
:mod:`sim.protocol.deployment`) can wire it otherwise, e.g. the pool's oracle being the
OracleAggregator contract, as in the deployed system.

All contracts are CREATE-deployed from the deployer with nonces 0, 1, 2, … in declaration order,
so their addresses are the same on every backend and lockstep can compare events and state
directly. The constructors reference each other circularly (RBTCSynth and FeeVault need the
aggregator's address, the aggregator needs theirs); as in the deployed system, every address is
computed up front from the deployer's nonces. Non-default yield parameters are then set by the
pool's oracle with ``configureYield``.
"""

from __future__ import annotations

from attrs import frozen

from contracts_model.accounts import create_address, to_address
from contracts_model.errors import ArgumentError
from contracts_model.params import ProtocolParams, YieldParams
from contracts_model.protocol import CONTRACTS, DEPLOYMENT_ORDER, ROLES

#: The protocol's own accounts a role may name (their addresses come with the backend).
ACCOUNT_NAMES = ("deployer", "committee", "fee_collector")


class DeploymentError(ValueError):
    """A deployment that names an unknown role or a holder that is neither an account nor a contract."""


@frozen
class Step:
    """One deployment: the contract, its constructor arguments (ABI order), the address it gets."""

    contract: str
    args: tuple
    address: str


def _holder(value: str, role: str) -> str:
    if not isinstance(value, str):
        raise DeploymentError(f"role {role}: expected an account name, a contract name or an address, got {value!r}")
    if value in ACCOUNT_NAMES or value in DEPLOYMENT_ORDER:
        return value
    try:
        return to_address(value)
    except ArgumentError:
        raise DeploymentError(
            f"role {role}: {value!r} is neither an account ({', '.join(ACCOUNT_NAMES)}), a contract "
            f"({', '.join(DEPLOYMENT_ORDER)}) nor a 0x address"
        ) from None


@frozen
class Deployment:
    """Who holds each role: ``role -> holder``, a holder being an account name, a contract name or an address."""

    holders: tuple[tuple[str, str], ...] = tuple(sorted((name, spec.default) for name, spec in ROLES.items()))

    @classmethod
    def of(cls, **holders: str) -> "Deployment":
        """The default wiring with some roles reassigned: ``Deployment.of(pool_oracle="OracleAggregator")``."""
        unknown = sorted(set(holders) - set(ROLES))
        if unknown:
            raise DeploymentError(f"unknown role {unknown[0]!r} (roles: {', '.join(sorted(ROLES))})")
        chosen = dict(cls().holders)
        chosen.update({role: _holder(value, role) for role, value in holders.items()})
        return cls(tuple(sorted(chosen.items())))

    def holder(self, role: str) -> str:
        return dict(self.holders)[role]

    @property
    def is_default(self) -> bool:
        return self == Deployment()

    def changes(self) -> dict[str, str]:
        """The roles held by someone other than in the default wiring."""
        default = dict(Deployment().holders)
        return {role: holder for role, holder in self.holders if default[role] != holder}

    def address(self, role: str, accounts: dict[str, str]) -> str:
        """The address holding ``role``, given the accounts' addresses (contracts at their planned addresses)."""
        return resolve(self.holder(role), accounts)

    def actor(self, role: str, accounts: dict[str, str]) -> str | None:
        """The account the harness sends ``role``'s calls from, or None when a contract holds the role
        (the harness cannot make a contract call anything it does not call by itself)."""
        holder = self.holder(role)
        return None if holder in DEPLOYMENT_ORDER else resolve(holder, accounts)


def contract_addresses(deployer: str) -> dict[str, str]:
    """Every contract's planned CREATE address (nonce = position in the declaration)."""
    return {name: create_address(deployer, nonce) for nonce, name in enumerate(DEPLOYMENT_ORDER)}


def resolve(holder: str, accounts: dict[str, str]) -> str:
    if holder in ACCOUNT_NAMES:
        return accounts[holder]
    if holder in DEPLOYMENT_ORDER:
        return contract_addresses(accounts["deployer"])[holder]
    return holder


def deployment_plan(params: ProtocolParams, accounts: dict[str, str],
                    deployment: Deployment = Deployment()) -> tuple[Step, ...]:
    """Every contract's deployment, in nonce order. ``accounts`` maps deployer, committee and
    fee_collector to addresses."""
    planned = contract_addresses(accounts["deployer"])
    steps = []
    for spec in CONTRACTS:
        args = []
        for arg in spec.constructor:
            kind, name = arg.split(":", 1)
            if kind == "param":
                args.append(getattr(params, name))
            elif kind == "role":
                args.append(deployment.address(name, accounts))
            else:
                args.append(planned[name])
        steps.append(Step(spec.name, tuple(args), planned[spec.name]))
    return tuple(steps)


def yield_configuration(params: ProtocolParams) -> tuple | None:
    """Arguments of the pool oracle's ``configureYield`` call after deployment, or None for the defaults."""
    chosen = params.yield_params
    if chosen is None or chosen == YieldParams():
        return None
    return chosen.as_args()

"""The protocol's contracts as data, read from ``protocol.json`` (the one place they are declared).

``protocol.json`` lists the contracts in deployment (nonce) order with their source file, their
constructor's shape, the functions and events a build must have for the harness to drive it, and
the roles a deployment assigns. ``tools/compile.js`` reads the same file, so the contract list, the
compiler settings, the constructor shapes and the roles cannot drift apart between the compiler,
the deployment plan, the artifact loader and the models.

A constructor argument is one of:

* ``param:NAME``: a field of :class:`~contracts_model.params.ProtocolParams`;
* ``role:NAME``: whoever holds the role in the deployment (an account or a contract, see
  :mod:`contracts_model.deployment`);
* ``contract:NAME``: the address of another contract of the same deployment.
"""

from __future__ import annotations

import json
from pathlib import Path

from attrs import frozen

SPEC_PATH = Path(__file__).with_name("protocol.json")


@frozen
class ContractSpec:
    name: str
    source: str
    constructor: tuple[str, ...]
    functions: tuple[str, ...]  # canonical signatures the harness calls
    events: tuple[str, ...]  # canonical signatures the checks and the indexer rely on
    optional: bool = False

    def roles(self) -> tuple[str, ...]:
        return tuple(arg.split(":", 1)[1] for arg in self.constructor if arg.startswith("role:"))


@frozen
class RoleSpec:
    name: str
    default: str  # an account name (deployer, committee, fee_collector) or a contract name
    what: str


def _load() -> tuple[tuple[ContractSpec, ...], dict[str, RoleSpec], dict]:
    data = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    contracts = tuple(
        ContractSpec(c["name"], c["source"], tuple(c["constructor"]), tuple(c["functions"]), tuple(c["events"]),
                     bool(c.get("optional", False)))
        for c in data["contracts"]
    )
    roles = {name: RoleSpec(name, r["default"], r["what"]) for name, r in data["roles"].items()}
    return contracts, roles, data["compiler"]


CONTRACTS, ROLES, COMPILER = _load()
#: Contract names in deployment (nonce) order.
DEPLOYMENT_ORDER: tuple[str, ...] = tuple(c.name for c in CONTRACTS)
#: Contracts every build must have, and those a build may lack (losing only that feature).
REQUIRED_CONTRACTS: tuple[str, ...] = tuple(c.name for c in CONTRACTS if not c.optional)
OPTIONAL_CONTRACTS: tuple[str, ...] = tuple(c.name for c in CONTRACTS if c.optional)
SPECS: dict[str, ContractSpec] = {c.name: c for c in CONTRACTS}
#: The roles each contract's constructor assigns, e.g. ``pool_oracle`` -> ``YieldScalesPool``.
ROLE_CONTRACT: dict[str, str] = {role: c.name for c in CONTRACTS for role in c.roles()}

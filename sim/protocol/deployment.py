"""The protocol's own accounts, and deployment files: who holds each role in a build under test.

What is deployed, and in which order, is :mod:`contracts_model.deployment`'s plan, shared by every
backend; *who holds each role* is a :class:`~contracts_model.deployment.Deployment`, read here from
a file:

* a TOML deployment file::

      [roles]                        # any subset; the rest keep the project's own wiring
      pool_oracle = "OracleAggregator"   # an account (deployer, committee, fee_collector),
      reserves_publisher = "deployer"    # a contract of the deployment, or a 0x address

* a Foundry broadcast file (``broadcast/<Script>/<chain>/run-latest.json``): the ``CREATE``
  transactions of the protocol's contracts, whose constructor arguments name the role holders (an
  address that is another contract of the broadcast becomes that contract; the aggregator's
  committee and the vault's fee collector become the committee and fee-collector accounts; the
  broadcasting account is the deployer; any other address is kept as it is). Its numeric
  constructor arguments are the deployed protocol parameters, returned beside the wiring.
"""

from __future__ import annotations

from pathlib import Path

from attrs import asdict, frozen
from eth_keys import keys

from contracts_model.deployment import ACCOUNT_NAMES, Deployment, DeploymentError
from contracts_model.protocol import DEPLOYMENT_ORDER, ROLES, SPECS
from sim.input_files import read_json, read_toml

#: The largest deployment file read (bytes); a broadcast of six contracts is a few hundred kB.
MAX_FILE_BYTES = 16 * 1024 * 1024


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

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


#: ETH the deployer and the committee start with (the committee prepays through registerAndPrepay).
OPERATOR_FUNDING_WEI = 10**24


@frozen
class DeploymentFile:
    """A deployment read from a file: the wiring, and the protocol parameters it states (if any)."""

    path: Path
    deployment: Deployment
    params: dict  # ProtocolParams field -> value, from a broadcast's constructor arguments


def load_deployment(path: str | Path) -> DeploymentFile:
    """Read a TOML deployment file or a Foundry broadcast JSON; raise DeploymentError with one line."""
    path = Path(path)
    if path.suffix == ".json":
        data = read_json(path, "deployment", MAX_FILE_BYTES, DeploymentError)
        deployment, params = _from_broadcast(data, path)
        return DeploymentFile(path, deployment, params)
    data, _ = read_toml(path, "deployment", DeploymentError)
    unknown = sorted(set(data) - {"roles"})
    if unknown:
        raise DeploymentError(f"{path}: unknown table [{unknown[0]}] (a deployment file has [roles])")
    roles = data.get("roles", {})
    if not isinstance(roles, dict):
        raise DeploymentError(f"{path}: [roles] must be a table of role = holder")
    try:
        return DeploymentFile(path, Deployment.of(**roles), {})
    except DeploymentError as exc:
        raise DeploymentError(f"{path}: [roles] {exc}") from None


def _from_broadcast(data, path: Path) -> tuple[Deployment, dict]:
    transactions = data.get("transactions") if isinstance(data, dict) else None
    if not isinstance(transactions, list):
        raise DeploymentError(f"{path}: not a Foundry broadcast file (no 'transactions' list)")
    creates = {}
    deployer = None
    for tx in transactions:
        if not isinstance(tx, dict) or tx.get("transactionType") not in ("CREATE", "CREATE2"):
            continue
        name, address = tx.get("contractName"), tx.get("contractAddress")
        if name in SPECS and isinstance(address, str):
            creates[name] = tx
            sender = (tx.get("transaction") or {}).get("from")
            deployer = deployer or (sender.lower() if isinstance(sender, str) else None)
    missing = [name for name in DEPLOYMENT_ORDER if name not in creates and not SPECS[name].optional]
    if missing:
        raise DeploymentError(f"{path}: the broadcast creates no {missing[0]} (it creates: "
                              f"{', '.join(sorted(creates)) or 'none of the protocol contracts'})")
    contract_at = {tx["contractAddress"].lower(): name for name, tx in creates.items()}
    raw_roles: dict[str, str] = {}
    params: dict = {}
    for name, tx in creates.items():
        spec = SPECS[name]
        arguments = tx.get("arguments") or []
        if len(arguments) != len(spec.constructor):
            raise DeploymentError(f"{path}: {name} was created with {len(arguments)} constructor arguments, "
                                  f"the protocol's {name} takes {len(spec.constructor)}")
        for declared, value in zip(spec.constructor, arguments):
            kind, key = declared.split(":", 1)
            if kind == "role":
                raw_roles[key] = str(value).lower()
            elif kind == "param":
                try:
                    params[key] = int(str(value), 0)
                except ValueError:
                    raise DeploymentError(f"{path}: {name} argument {key} = {value!r} is not an integer") from None
    accounts = {"deployer": deployer}
    for role in ("committee", "fee_collector"):
        if role in raw_roles and raw_roles[role] not in contract_at:
            accounts[role] = raw_roles[role]
    holders = {}
    for role, address in raw_roles.items():
        if address in contract_at:
            holders[role] = contract_at[address]
        else:
            holders[role] = next((account for account in ACCOUNT_NAMES if accounts.get(account) == address), address)
    return Deployment.of(**{role: holder for role, holder in holders.items() if role in ROLES}), params

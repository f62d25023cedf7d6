"""Everything observable about a deployed system, read through the port's views only.

Because it uses nothing but :meth:`Backend.call` and ETH balances, the same code observes every
backend, and two observations can be compared key by key (see :mod:`sim.protocol.lockstep`).
"""

from __future__ import annotations

from typing import Any

from contracts_model.errors import ContractRevert

#: (contract, view) pairs read once per observation, when the deployment has them.
GLOBAL_VIEWS = (
    ("RBTCSynth", "totalSupply"),
    ("OracleAggregator", "totalEmergencyBurns"),
    ("YieldScalesPool", "getSystemStats"),
    ("YieldScalesPool", "getScaleBalance"),
    ("YieldScalesPool", "calculateYieldRate"),
    ("YieldScalesPool", "yieldMetrics"),
    ("YieldScalesPool", "yieldParameters"),
    ("YieldScalesPool", "yieldIndex"),
    ("YieldScalesPool", "indexUpdatedAt"),
    ("ProofOfReserves", "rounds"),
)

#: (label, contract, view) read per user.
USER_VIEWS = (
    ("rbtc", "RBTCSynth", "balanceOf"),
    ("lastSats", "OracleAggregator", "lastSats"),
    ("vault", "FeeVault", "balanceOf"),
    ("emergencyBurnExecuted", "OracleAggregator", "emergencyBurnExecuted"),
    ("participant", "YieldScalesPool", "participants"),
    ("participantIndex", "YieldScalesPool", "participantIndex"),
    ("disputed", "YieldScalesPool", "isDisputed"),
)
_JOINED_AT = 5  # position of joinedAt in the Participant tuple


def _read(backend, contract: str, function: str, args: tuple = ()) -> Any:
    """The view's value, or the revert it raised (reverts compare by name and arguments): with
    extreme yield parameters calculateYieldOwed can overflow, on every backend alike."""
    try:
        return backend.call(contract, function, args)
    except ContractRevert as exc:
        return exc


def observe(backend, users, view_exists=None, contracts: dict[str, str] | None = None) -> dict:
    """``{"globals": {...}, "users": {address: {...}}}`` for the given users, in sorted order.

    ``view_exists(contract, function)`` chooses the views read (default: those the backend has) and
    ``contracts`` the contracts whose ETH is read (default: the backend's), so two different builds
    are observed on what they share.
    """
    view_exists = view_exists or backend.has_function
    found: dict[str, Any] = {}
    for contract, function in GLOBAL_VIEWS:
        if view_exists(contract, function):
            found[f"{contract}.{function}"] = _read(backend, contract, function)
    if view_exists("ProofOfReserves", "latest") and found.get("ProofOfReserves.rounds"):
        found["ProofOfReserves.latest"] = _read(backend, "ProofOfReserves", "latest")
    for name, address in sorted((contracts if contracts is not None else backend.addresses).items()):
        found[f"eth.{name}"] = backend.eth_balance(address)
    found["eth.feeCollector"] = backend.eth_balance(backend.role_address("fee_collector"))
    per_user: dict[str, dict] = {}
    for user in sorted(set(users)):
        row: dict[str, Any] = {"eth": backend.eth_balance(user)}
        for label, contract, function in USER_VIEWS:
            if view_exists(contract, function):
                row[label] = _read(backend, contract, function, (user,))
        if view_exists("YieldScalesPool", "calculateYieldOwed"):
            joined = isinstance(row.get("participant"), tuple) and row["participant"][_JOINED_AT] != 0
            row["yieldOwed"] = _read(backend, "YieldScalesPool", "calculateYieldOwed", (user,)) if joined else None
        per_user[user] = row
    return {"globals": found, "users": per_user}


def differences(left: dict, right: dict, path: str = "") -> list[tuple[str, Any, Any]]:
    """Every ``(path, left value, right value)`` where two observations disagree."""
    found = []
    for key in sorted(set(left) | set(right), key=str):
        where = f"{path}.{key}" if path else str(key)
        a, b = left.get(key, "<absent>"), right.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            found.extend(differences(a, b, where))
        elif a != b:
            found.append((where, a, b))
    return found

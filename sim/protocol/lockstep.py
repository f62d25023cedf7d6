"""Lockstep: every action on two backends (the Python models and the EVM), compared after each one.

An action's outcomes must match (same return value and the same events in the same order, or the
same revert), and then the whole observable state (:func:`sim.protocol.observe.observe`) of every
account the run has touched must match. The first difference stops the run with
:class:`LockstepDivergence`, which names the step, the action and every differing value.
"""

from __future__ import annotations

from typing import Any

import attrs

from contracts_model.errors import ContractRevert
from contracts_model.events import Event
from sim.protocol.observe import differences, observe
from sim.protocol.port import Backend, Receipt


class LockstepDivergence(AssertionError):
    """The two backends disagreed; ``step``, ``action`` and ``diffs`` say where and how."""

    def __init__(self, step: int, action: str, diffs: list[tuple[str, Any, Any]], names: tuple[str, str]):
        self.step, self.action, self.diffs = step, action, diffs
        left, right = names
        lines = [f"lockstep divergence at step {step}: {action}"]
        lines += [f"  {path}: {left}={a!r} {right}={b!r}" for path, a, b in diffs[:40]]
        if len(diffs) > 40:
            lines.append(f"  ... and {len(diffs) - 40} more")
        super().__init__("\n".join(lines))


def _outcome(run) -> tuple[str, Any]:
    try:
        return "ok", run()
    except ContractRevert as exc:
        return "revert", exc
    except Exception as exc:  # noqa: BLE001 - any other failure is an outcome to compare too
        return "error", exc


def _describe(kind: str, value: Any) -> Any:
    if kind == "revert":
        return f"revert {value.error_name}{tuple(value.error_args)!r}"
    if kind == "error":
        return f"{type(value).__name__}"
    return value


def _addresses(values) -> list[str]:
    found = []
    for v in values:
        if isinstance(v, str) and len(v) == 42 and v.startswith("0x"):
            found.append(v)
        elif isinstance(v, (tuple, list)):
            found.extend(_addresses(v))
    return found


class LockstepBackend(Backend):
    """Runs ``left`` (the reference, normally the model) and ``right`` (normally the EVM) side by side.

    A receipt is the reference's, with the gas of whichever side meters it. Lockstep backends nest:
    ``LockstepBackend(LockstepBackend(model, py_evm), revm)`` keeps all three in step.
    """

    name = "lockstep"

    def __init__(self, left: Backend, right: Backend, *, observe_every: int = 1):
        if left.addresses != right.addresses:
            raise ValueError(f"backends deployed at different addresses: {left.addresses} vs {right.addresses}")
        self.left, self.right = left, right
        self.params, self.accounts, self.addresses = left.params, left.accounts, left.addresses
        self.names = (left.name, right.name)
        self.name = f"lockstep({left.name}, {right.name})"
        #: Compare the full observable state every this many actions (1 = after every action).
        self.observe_every = observe_every
        self.step = 0
        self.tracked: set[str] = {self.accounts.committee, self.accounts.fee_collector, self.accounts.deployer}

    def _fail(self, action: str, diffs) -> None:
        raise LockstepDivergence(self.step, action, diffs, self.names)

    def _compare_outcomes(self, action: str, a: tuple[str, Any], b: tuple[str, Any]) -> None:
        da, db = _describe(*a), _describe(*b)
        if a[0] != b[0] or (a[0] != "ok" and da != db):
            self._fail(action, [("outcome", da, db)])
        if a[0] == "ok" and a[1] != b[1]:
            if isinstance(a[1], Receipt) and isinstance(b[1], Receipt):
                diffs = []
                if a[1].result != b[1].result:
                    diffs.append(("result", a[1].result, b[1].result))
                for i in range(max(len(a[1].events), len(b[1].events))):
                    ea = a[1].events[i] if i < len(a[1].events) else "<none>"
                    eb = b[1].events[i] if i < len(b[1].events) else "<none>"
                    if ea != eb:
                        diffs.append((f"events[{i}]", ea, eb))
                self._fail(action, diffs)
            self._fail(action, [("result", a[1], b[1])])

    def check_state(self, action: str = "state check") -> None:
        """Compare the full observable state of every tracked account now."""
        diffs = differences(observe(self.left, self.tracked), observe(self.right, self.tracked))
        if diffs:
            self._fail(action, diffs)

    def track(self, *users: str) -> None:
        self.tracked.update(users)

    # ------------------------------------------------------------------ the port

    def transact(self, sender: str, contract: str, function: str, args: tuple = (), value: int = 0) -> Receipt:
        self.step += 1
        action = f"{sender} -> {contract}.{function}{args!r}" + (f" value={value}" if value else "")
        a = _outcome(lambda: self.left.transact(sender, contract, function, args, value))
        b = _outcome(lambda: self.right.transact(sender, contract, function, args, value))
        self._compare_outcomes(action, a, b)
        self.tracked.add(sender)
        self.tracked.update(_addresses(args))
        if a[0] == "ok":
            for event in a[1].events:
                if isinstance(event, Event):
                    self.tracked.update(_addresses(event.args))
        if self.step % self.observe_every == 0:
            self.check_state(action)
        if a[0] != "ok":
            raise a[1]
        if a[1].gas is None and b[1].gas is not None:  # the gas of whichever side meters it
            return attrs.evolve(a[1], gas=b[1].gas)
        return a[1]

    def call(self, contract: str, function: str, args: tuple = ()) -> Any:
        action = f"view {contract}.{function}{args!r}"
        a = _outcome(lambda: self.left.call(contract, function, args))
        b = _outcome(lambda: self.right.call(contract, function, args))
        self._compare_outcomes(action, a, b)
        if a[0] != "ok":
            raise a[1]
        return a[1]

    def set_block(self, number: int, timestamp: int) -> None:
        self.left.set_block(number, timestamp)
        self.right.set_block(number, timestamp)

    @property
    def block(self) -> tuple[int, int]:
        return self.left.block

    def eth_balance(self, address: str) -> int:
        a, b = self.left.eth_balance(address), self.right.eth_balance(address)
        if a != b:
            self._fail(f"eth balance of {address}", [("eth", a, b)])
        return a

    def set_eth_balance(self, address: str, wei: int) -> None:
        self.left.set_eth_balance(address, wei)
        self.right.set_eth_balance(address, wei)
        self.tracked.add(address)

    def has_function(self, contract: str, function: str) -> bool:
        return self.left.has_function(contract, function) and self.right.has_function(contract, function)

    def snapshot(self) -> Any:
        return (self.left.snapshot(), self.right.snapshot(), self.step, frozenset(self.tracked))

    def revert(self, token: Any) -> None:
        left, right, self.step, tracked = token
        self.left.revert(left)
        self.right.revert(right)
        self.tracked = set(tracked)

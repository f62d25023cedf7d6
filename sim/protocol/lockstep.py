"""Lockstep: every action on two backends (the reference models and a build under test), compared.

An action's outcomes must match (same return value and the same events in the same order, or the
same revert), and then the whole observable state (:func:`sim.protocol.observe.observe`) of every
account the run has touched must match. Only what both deployments have is compared: the contracts
both deployed and the views both ABIs declare, so a build without the optional ProofOfReserves, or
without the project's extra views, is compared on the protocol's required surface. Differences the
build's authors declared (:mod:`sim.protocol.deviations`) are waived and counted.

The first difference is a :class:`Divergence` naming the step, the action and every differing value.
With ``on_divergence="raise"`` (the property tests) it is raised as :class:`LockstepDivergence`; with
``"record"`` (worlds, ``rbtc-sim check``) it is kept in :attr:`LockstepBackend.divergences`, handed
to the ``listener``, and comparison stops (the two states differ from then on), while the run goes
on with the build under test. Either way the action's result is the build's (``right``'s): the
reference only judges.
"""

from __future__ import annotations

from typing import Any, Callable

from attrs import evolve, frozen

from contracts_model.errors import ContractRevert
from contracts_model.events import Event
from sim.protocol.deviations import Deviations
from sim.protocol.observe import differences, observe
from sim.protocol.port import Backend, Receipt

#: Differences shown per divergence in messages (all of them are kept in ``Divergence.diffs``).
SHOWN_DIFFS = 40


@frozen
class Divergence:
    """Where and how the two backends disagreed."""

    step: int
    action: str
    diffs: tuple[tuple[str, Any, Any], ...]
    names: tuple[str, str]

    def render(self) -> str:
        left, right = self.names
        lines = [f"lockstep divergence at step {self.step}: {self.action}"]
        lines += [f"  {path}: {left}={a!r} {right}={b!r}" for path, a, b in self.diffs[:SHOWN_DIFFS]]
        if len(self.diffs) > SHOWN_DIFFS:
            lines.append(f"  ... and {len(self.diffs) - SHOWN_DIFFS} more")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        left, right = self.names
        return {"step": self.step, "action": self.action,
                "diffs": [{"path": path, left: repr(a), right: repr(b)} for path, a, b in self.diffs]}


class LockstepDivergence(AssertionError):
    """The two backends disagreed; the :class:`Divergence` is the only argument, so the exception can
    be rebuilt from its args (SimPy re-raises a process's exception as ``type(exc)(*exc.args)``)."""

    def __init__(self, divergence: Divergence):
        super().__init__(divergence)
        self.divergence = divergence

    @property
    def step(self) -> int:
        return self.divergence.step

    @property
    def action(self) -> str:
        return self.divergence.action

    @property
    def diffs(self) -> list[tuple[str, Any, Any]]:
        return list(self.divergence.diffs)

    def __str__(self) -> str:
        return self.divergence.render()


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


def _summarize(outcome: tuple[str, Any]) -> str:
    """One line for an outcome: ``ok: Transfer, Spent, Synced`` or ``revert FeeCapExceeded()``."""
    kind, value = outcome
    if kind == "ok" and isinstance(value, Receipt):
        return "ok" + (": " + ", ".join(e.name for e in value.events) if value.events else "")
    return str(_describe(kind, value))


def _addresses(values) -> list[str]:
    found = []
    for v in values:
        if isinstance(v, str) and len(v) == 42 and v.startswith("0x"):
            found.append(v.lower())
        elif isinstance(v, (tuple, list)):
            found.extend(_addresses(v))
    return found


class LockstepBackend(Backend):
    """Runs ``left`` (the reference, normally the models) and ``right`` (the build under test) side by side.

    A receipt is the build under test's, with the gas of whichever side meters it. Lockstep backends
    nest: ``LockstepBackend(LockstepBackend(model, py_evm), revm)`` keeps all three in step.
    """

    name = "lockstep"

    def __init__(self, left: Backend, right: Backend, *, observe_every: int = 1, deviations: Deviations | None = None,
                 on_divergence: str = "raise", listener: Callable[[Divergence], None] | None = None):
        if on_divergence not in ("raise", "record"):
            raise ValueError(f"on_divergence must be 'raise' or 'record', got {on_divergence!r}")
        shared = sorted(set(left.addresses) & set(right.addresses))
        moved = [name for name in shared if left.addresses[name] != right.addresses[name]]
        if moved or left.accounts != right.accounts:
            raise ValueError(f"backends deployed at different addresses: {left.addresses} vs {right.addresses}")
        self.left, self.right = left, right
        self.params, self.accounts, self.deployment = left.params, left.accounts, left.deployment
        #: Only the contracts both deployed are compared (and offered to the world).
        self.addresses = {name: left.addresses[name] for name in left.addresses if name in right.addresses}
        self.names = (left.name, right.name)
        self.name = f"lockstep({left.name}, {right.name})"
        #: Compare the full observable state every this many actions (1 = after every action).
        self.observe_every = observe_every
        self.deviations = deviations if deviations is not None else Deviations()
        self.on_divergence = on_divergence
        self.listener = listener
        self.divergences: list[Divergence] = []
        #: If a list, every transaction is appended as (journal_step, action, outcome) (readable counterexamples).
        self.journal: list | None = None
        self.journal_step = 0
        self.step = 0
        self.tracked: set[str] = {self.accounts.committee, self.accounts.fee_collector, self.accounts.deployer}
        #: Contracts and the zero address are observed through the global views, not as users.
        self._untracked = set(left.addresses.values()) | set(right.addresses.values()) | {"0x" + "00" * 20}

    @property
    def comparing(self) -> bool:
        """False once a recorded divergence has made the two states differ."""
        return not (self.divergences and self.on_divergence == "record")

    def _fail(self, action: str, diffs) -> None:
        divergence = Divergence(self.step, action, tuple(diffs), self.names)
        self.divergences.append(divergence)
        if self.listener is not None:
            self.listener(divergence)
        if self.on_divergence == "raise":
            raise LockstepDivergence(divergence)

    def _compare_outcomes(self, action: str, a: tuple[str, Any], b: tuple[str, Any]) -> None:
        da, db = _describe(*a), _describe(*b)
        if a[0] != b[0] or (a[0] != "ok" and da != db):
            self._fail(action, [("outcome", da, db)])
            return
        if a[0] != "ok" or a[1] == b[1]:
            return
        if isinstance(a[1], Receipt) and isinstance(b[1], Receipt):
            left_events, right_events = self.deviations.reconcile(a[1].events, b[1].events)
            diffs = []
            if a[1].result != b[1].result:
                diffs.append(("result", a[1].result, b[1].result))
            for i in range(max(len(left_events), len(right_events))):
                ea = left_events[i] if i < len(left_events) else "<none>"
                eb = right_events[i] if i < len(right_events) else "<none>"
                if ea != eb:
                    diffs.append((f"events[{i}]", ea, eb))
            if diffs:
                self._fail(action, diffs)
            return
        self._fail(action, [("result", a[1], b[1])])

    def view_compared(self, contract: str, function: str) -> bool:
        """A view both ABIs declare and no deviation waives."""
        return self.has_function(contract, function) and f"{contract}.{function}" not in self.deviations.ignored_views()

    def check_state(self, action: str = "state check") -> None:
        """Compare the full observable state of every tracked account now (what both builds have)."""
        if not self.comparing:
            return
        left = observe(self.left, self.tracked, self.view_compared, self.addresses)
        right = observe(self.right, self.tracked, self.view_compared, self.addresses)
        diffs = differences(left, right)
        if diffs:
            self._fail(action, diffs)

    def track(self, *users: str) -> None:
        self.tracked.update(users)

    # ------------------------------------------------------------------ the port

    def transact(self, sender: str, contract: str, function: str, args: tuple = (), value: int = 0) -> Receipt:
        if not self.comparing and self.journal is None:
            return self.right.transact(sender, contract, function, args, value)
        action = f"{sender} -> {contract}.{function}{args!r}" + (f" value={value}" if value else "")
        b = _outcome(lambda: self.right.transact(sender, contract, function, args, value))
        a = None
        if self.comparing:
            self.step += 1
            a = _outcome(lambda: self.left.transact(sender, contract, function, args, value))
            self._compare_outcomes(action, a, b)
            self._track(action, sender, args, (a, b))
        if self.journal is not None:
            self.journal.append((self.journal_step, action, _summarize(b)))
        if b[0] != "ok":
            raise b[1]
        if b[1].gas is None and a is not None and a[0] == "ok" and isinstance(a[1], Receipt) and a[1].gas is not None:
            return evolve(b[1], gas=a[1].gas)  # the gas of whichever side meters it
        return b[1]

    def _track(self, action: str, sender: str, args: tuple, outcomes) -> None:
        found = [str(sender).lower(), *_addresses(args)]
        for outcome in outcomes:
            if outcome[0] == "ok":
                for event in outcome[1].events:
                    if isinstance(event, Event):
                        found.extend(_addresses(event.args))
        self.tracked.update(a for a in found if a not in self._untracked)
        if self.comparing and self.step % self.observe_every == 0:
            self.check_state(action)

    def call(self, contract: str, function: str, args: tuple = ()) -> Any:
        if not self.comparing or self.deviations.view_waived(contract, function):
            return self.right.call(contract, function, args)
        action = f"view {contract}.{function}{args!r}"
        a = _outcome(lambda: self.left.call(contract, function, args))
        b = _outcome(lambda: self.right.call(contract, function, args))
        self._compare_outcomes(action, a, b)
        if b[0] != "ok":
            raise b[1]
        return b[1]

    def set_block(self, number: int, timestamp: int) -> None:
        self.left.set_block(number, timestamp)
        self.right.set_block(number, timestamp)

    @property
    def block(self) -> tuple[int, int]:
        return self.right.block

    def eth_balance(self, address: str) -> int:
        b = self.right.eth_balance(address)
        if self.comparing:
            a = self.left.eth_balance(address)
            if a != b:
                self._fail(f"eth balance of {address}", [("eth", a, b)])
        return b

    def set_eth_balance(self, address: str, wei: int) -> None:
        self.left.set_eth_balance(address, wei)
        self.right.set_eth_balance(address, wei)
        self.tracked.add(address)

    def has_function(self, contract: str, function: str) -> bool:
        return self.left.has_function(contract, function) and self.right.has_function(contract, function)

    def snapshot(self) -> Any:
        return (self.left.snapshot(), self.right.snapshot(), self.step, frozenset(self.tracked),
                len(self.divergences))

    def revert(self, token: Any) -> None:
        left, right, self.step, tracked, divergences = token
        self.left.revert(left)
        self.right.revert(right)
        self.tracked = set(tracked)
        del self.divergences[divergences:]

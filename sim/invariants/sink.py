"""The world's one sink for invariant violations, and what led to each one.

Every monitor reports through :class:`Violations` (owned by the world). A violation names the
invariant, the simulated time and event-log position, the actor, the values that disagree, the
function whose call broke it (when one did) and its *causes*: the actor's latest failed calls and
emergency events before it (from :class:`CauseTracker`), each with its position in ``events.jsonl``
and its revert reason. Violations are written to the event log as ``invariant_violation`` records.
All are counted, by invariant and message; the first :data:`KEPT` are kept whole, and each group
keeps its first occurrence, so a run with 110,000 violations reports exact counts in bounded memory.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Callable

from attrs import define, field

from sim.eventlog import EventLog

#: Every invariant a world or a check reports, in PROTOCOL.md's order, then the harness's own.
INVARIANTS = ("backing", "mirroring", "consistency", "lockstep", "burns", "fees", "access", "disputes", "yield",
              "reserves", "observability", "wiring")
#: Violations kept whole (the rest are counted in their groups).
KEPT = 1_000
#: Failed or notable calls remembered per actor, as causes of its next violation.
CAUSES_PER_ACTOR = 5


@define
class Violation:
    invariant: str
    seq: int  # position in the event log when it was detected
    t: int
    actor: str
    values: dict
    message: str
    function: str | None = None  # "Contract.function" whose call broke it
    causes: tuple = ()

    def as_dict(self) -> dict:
        found = {"invariant": self.invariant, "step": self.seq, "t": self.t, "actor": self.actor,
                 "values": self.values, "message": self.message}
        if self.function is not None:
            found["function"] = self.function
        if self.causes:
            found["causes"] = list(self.causes)
        return found


class CauseTracker:
    """Remembers, per actor, the latest reverted calls and emergency events, and counts every revert
    by contract, function and error (the report's breakdown)."""

    def __init__(self, port):
        self._recent: dict[str, deque] = {}
        #: (contract, function, error) -> count of reverted transactions
        self.reverts: Counter = Counter()
        port.subscribe(self._on_transaction)
        port.subscribe_reverts(self._on_revert)

    def _remember(self, actor: str, entry: dict) -> None:
        recent = self._recent.get(actor)
        if recent is None:
            recent = self._recent[actor] = deque(maxlen=CAUSES_PER_ACTOR)
        recent.append(entry)

    @staticmethod
    def _subject(record: dict) -> str:
        args = record["args"]
        first = args[0] if args else None
        return first if isinstance(first, str) and first.startswith("0x") and len(first) == 42 else record["from"]

    def _on_revert(self, record: dict, error) -> None:
        name = repr(error)  # with its arguments: Panic(17), RevertString('reentrant'), FeeCapExceeded()
        self.reverts[(record["to"], record["fn"], name)] += 1
        self._remember(self._subject(record), {"seq": record["seq"], "t": record["t"],
                                               "call": f"{record['to']}.{record['fn']}", "status": "revert",
                                               "error": name, "args": repr(record["args"])})

    def _on_transaction(self, record: dict, receipt) -> None:
        for event in receipt.events:
            if event.name in ("EmergencyBurn", "NeedsTopUp"):
                self._remember(event.args[0], {"seq": record["seq"], "t": record["t"],
                                               "call": f"{record['to']}.{record['fn']}", "status": "ok",
                                               "event": event.name})

    def causes(self, actor: str) -> tuple:
        return tuple(self._recent.get(actor, ()))

    def breakdown(self) -> list[dict]:
        """Reverted transactions by contract, function and error, most frequent first."""
        return [{"contract": c, "function": f, "error": e, "count": n}
                for (c, f, e), n in sorted(self.reverts.items(), key=lambda item: (-item[1], item[0]))]


@define
class Violations:
    """The sink: ``violations(invariant, actor, message, function=..., **values)`` records one."""

    log: EventLog
    clock: Callable[[], int]
    causes: CauseTracker | None = None
    kept: list = field(factory=list)
    groups: dict = field(factory=dict)  # (invariant, message) -> {"count", "first"}
    count: int = 0

    def __call__(self, invariant: str, actor: str, message: str, *, function: str | None = None,
                 **values) -> Violation:
        if invariant not in INVARIANTS:
            raise ValueError(f"unknown invariant {invariant!r}")
        causes = self.causes.causes(actor) if self.causes is not None else ()
        violation = Violation(invariant, self.log.count, int(self.clock()), actor, values, message, function, causes)
        self.count += 1
        if len(self.kept) < KEPT:
            self.kept.append(violation)
        group = self.groups.get((invariant, message))
        if group is None:
            self.groups[(invariant, message)] = {"count": 1, "first": violation}
        else:
            group["count"] += 1
        fields = violation.as_dict()
        del fields["t"]
        self.log.append(violation.t, "invariant_violation", **fields)
        return violation

    def by_invariant(self) -> dict[str, int]:
        counts = Counter()
        for (invariant, _), group in self.groups.items():
            counts[invariant] += group["count"]
        return {name: counts[name] for name in INVARIANTS if counts[name]}

    def grouped(self) -> list[dict]:
        """One entry per (invariant, message): the full count and the first occurrence."""
        return [{"invariant": invariant, "message": message, "count": group["count"],
                 "first": group["first"].as_dict()}
                for (invariant, message), group in self.groups.items()]

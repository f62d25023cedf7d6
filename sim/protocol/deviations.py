"""Declared deviations: where a build under test may differ from the reference models, and how.

A build of the contracts can differ from the project's own in ways its authors chose on purpose (the
deployed OracleAggregator emits ``Synced.height = 0``; another build may not emit the project's extra
events). Lockstep would report each as a divergence; a deviations file waives them explicitly, and
the report lists every waiver with how often it applied. The file is TOML::

    [[deviation]]
    event = "OracleAggregator.Synced"    # Contract.Event
    field = "height"                     # an argument, by name (the protocol's ABI) or position
    expect = "any"                       # any value is accepted on the build's side…
    reason = "the deployed contract emits 0"

    [[deviation]]
    event = "OracleAggregator.Synced"
    field = "height"
    expect = 0                           # …or exactly this value

    [[deviation]]
    event = "YieldScalesPool.ContributionUpdated"
    expect = "absent"                    # the build does not emit this event at all

    [[deviation]]
    view = "YieldScalesPool.yieldMetrics"   # Contract.view: not compared
    expect = "any"
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from attrs import define, field, frozen

from contracts_model.events import Event
from contracts_model.protocol import DEPLOYMENT_ORDER
from sim.input_files import read_toml



class DeviationError(ValueError):
    """A deviations file that cannot be used; the message is one line naming the file and the entry."""


@frozen
class Deviation:
    kind: str  # "event" | "view"
    contract: str
    name: str
    field: int | None  # argument position, for an event field
    field_name: str | None
    expect: Any  # "any" | "absent" | a value
    reason: str

    @property
    def label(self) -> str:
        where = f"{self.contract}.{self.name}" + (f".{self.field_name or self.field}" if self.field is not None else "")
        if self.expect == "any":
            rule = "any value"
        elif self.expect == "absent":
            rule = "may be absent"
        else:
            rule = f"always {self.expect!r}"
        return f"{self.kind} {where}: {rule}"


def _event_inputs() -> dict[tuple[str, str], list[str]]:
    """(contract, event) -> argument names, from the project's own ABI (the protocol's names)."""
    from sim.protocol.artifacts import DEFAULT_ARTIFACT_DIR

    names = {}
    for contract in DEPLOYMENT_ORDER:
        abi = json.loads((DEFAULT_ARTIFACT_DIR / f"{contract}.json").read_text())["abi"]
        for entry in abi:
            if entry.get("type") == "event":
                names[(contract, entry["name"])] = [p.get("name", "") for p in entry.get("inputs", ())]
    return names


@define
class Deviations:
    """The waivers of one check, with how often each applied."""

    entries: tuple[Deviation, ...] = ()
    applied: dict = field(factory=dict)  # label -> count

    def _count(self, deviation: Deviation) -> None:
        self.applied[deviation.label] = self.applied.get(deviation.label, 0) + 1

    def ignored_views(self) -> set[str]:
        return {f"{d.contract}.{d.name}" for d in self.entries if d.kind == "view"}

    def view_waived(self, contract: str, function: str) -> bool:
        for d in self.entries:
            if d.kind == "view" and (d.contract, d.name) == (contract, function):
                self._count(d)
                return True
        return False

    def reconcile(self, reference: tuple, subject: tuple) -> tuple[tuple, tuple]:
        """The two event lists with every waived difference taken out: absent events dropped on both
        sides, waived fields replaced by the reference's value where the subject's fits the rule."""
        if not self.entries:
            return reference, subject
        absent = {(d.contract, d.name): d for d in self.entries if d.kind == "event" and d.expect == "absent"}
        fields = [d for d in self.entries if d.kind == "event" and d.field is not None]

        def keep(events):
            kept = []
            for event in events:
                waiver = absent.get((getattr(event, "contract", None), getattr(event, "name", None)))
                if waiver is not None:
                    self._count(waiver)
                    continue
                kept.append(event)
            return kept

        reference, subject = keep(reference), keep(subject)
        for i, (ref, sub) in enumerate(zip(reference, subject)):
            if not (isinstance(ref, Event) and isinstance(sub, Event)) or ref == sub:
                continue
            if (ref.contract, ref.name) != (sub.contract, sub.name) or len(ref.args) != len(sub.args):
                continue
            args = list(sub.args)
            for d in fields:
                if (d.contract, d.name) != (sub.contract, sub.name) or d.field >= len(args):
                    continue
                if args[d.field] != ref.args[d.field] and (d.expect == "any" or args[d.field] == d.expect):
                    args[d.field] = ref.args[d.field]
                    self._count(d)
            subject[i] = Event(sub.contract, sub.name, tuple(args))
        return tuple(reference), tuple(subject)

    def report(self) -> list[dict]:
        return [{"waiver": d.label, "reason": d.reason, "applied": self.applied.get(d.label, 0)} for d in self.entries]


def load_deviations(path: str | Path | None) -> Deviations:
    """Read a deviations file (None: no waivers); DeviationError with one line if it cannot be used."""
    if path is None:
        return Deviations()
    path = Path(path)
    data, _ = read_toml(path, "deviations", DeviationError)
    unknown = sorted(set(data) - {"deviation"})
    if unknown:
        raise DeviationError(f"{path}: unknown key {unknown[0]!r} (a deviations file has [[deviation]] tables)")
    items = data.get("deviation", [])
    if not isinstance(items, list):
        raise DeviationError(f"{path}: 'deviation' must be [[deviation]] tables")
    names = _event_inputs()
    return Deviations(tuple(_entry(item, f"{path}: [[deviation]] #{i + 1}", names) for i, item in enumerate(items)))


def _entry(item, where: str, names: dict) -> Deviation:
    if not isinstance(item, dict):
        raise DeviationError(f"{where}: expected a table")
    unknown = sorted(set(item) - {"event", "view", "field", "expect", "reason"})
    if unknown:
        raise DeviationError(f"{where}: unknown key {unknown[0]!r} (known: event, view, field, expect, reason)")
    if ("event" in item) == ("view" in item):
        raise DeviationError(f"{where}: give exactly one of 'event' or 'view' (as \"Contract.Name\")")
    kind = "event" if "event" in item else "view"
    target = item[kind]
    if not isinstance(target, str) or target.count(".") != 1:
        raise DeviationError(f"{where} {kind}: expected \"Contract.Name\", got {target!r}")
    contract, name = target.split(".")
    if contract not in DEPLOYMENT_ORDER:
        raise DeviationError(f"{where} {kind}: unknown contract {contract!r} (contracts: {', '.join(DEPLOYMENT_ORDER)})")
    expect = item.get("expect", "any")
    if isinstance(expect, str) and expect not in ("any", "absent"):
        raise DeviationError(f"{where} expect: expected \"any\", \"absent\" or a value, got {expect!r}")
    reason = item.get("reason", "")
    if not isinstance(reason, str):
        raise DeviationError(f"{where} reason: expected a string")
    position, field_name = None, None
    if kind == "event":
        inputs = names.get((contract, name))
        if inputs is None:
            raise DeviationError(f"{where} event: {contract} declares no event {name!r} in the protocol's ABI")
        if "field" in item:
            chosen = item["field"]
            if isinstance(chosen, str) and chosen in inputs:
                position, field_name = inputs.index(chosen), chosen
            elif isinstance(chosen, int) and not isinstance(chosen, bool) and 0 <= chosen < len(inputs):
                position, field_name = chosen, inputs[chosen] or None
            else:
                raise DeviationError(f"{where} field: {chosen!r} is not an argument of {target} "
                                     f"({', '.join(inputs)})")
        elif expect != "absent":
            raise DeviationError(f"{where}: an event deviation needs a 'field', or expect = \"absent\"")
    elif "field" in item:
        raise DeviationError(f"{where}: a view deviation takes no 'field'")
    return Deviation(kind, contract, name, position, field_name, expect, reason)

"""Scenario keys a sweep or a search varies, and setting them in a scenario document.

A key names one value of a scenario file: ``"protocol.pct_bps"``, ``"agents.spend_per_day"``,
``"world.users"``, ``"events[0].depth"``, ``"protocol.yield.base_rate"``. The seven YieldScales
parameters may also be named bare (``base_rate``), the form sweep files used first; a dotted
``protocol.yield.<field>`` is shown by its bare name too, so both spellings are one parameter.

Nothing here knows the schema. A varied value is set in the base scenario's document (the tables as
written, overrides applied) and the result is parsed by :func:`sim.scenario.parse`, the one
validation path of every scenario; :func:`value_kind` only reads the base's resolved value to know
whether a range draws integers or real numbers.
"""

from __future__ import annotations

import copy
import re

import attrs

from contracts_model.params import YieldParams
from sim.scenario import TABLES as CONFIG_TABLES
from sim.scenario import ScenarioError, is_duration

#: The YieldScales parameters, which may be named bare (the fields of YieldParams, in ABI order).
YIELD_FIELDS = tuple(f.name for f in attrs.fields(YieldParams))
#: Tables a key may start with: the scenario parser's (the [scenario] header is text; the world's seed,
#: backend and engine belong to the sweep).
TABLES = ("world", "protocol", *CONFIG_TABLES, "events")
SET_BY_SWEEP = {"world.seed": "[sweep] seeds", "world.backend": "[sweep] backend", "world.engine": "[sweep] engine"}
_SEGMENT = r"[a-z_][a-z0-9_]*(?:\[\d+\])?"
_KEY = re.compile(rf"^{_SEGMENT}(?:\.{_SEGMENT})*$")
_SPEC_KEYS = frozenset(("values", "min", "max", "steps"))


def flatten(table: dict, where: str, prefix: str = "") -> list[tuple[str, object]]:
    """``[vary]`` as (key, spec) pairs in file order: nested tables (``[vary.protocol]``) are joined
    with dots; a table whose keys are all of values/min/max/steps is a parameter's spec."""
    items = []
    for key, spec in table.items():
        name = f"{prefix}{key}"
        if isinstance(spec, dict) and spec and not set(spec) <= _SPEC_KEYS:
            items += flatten(spec, where, f"{name}.")
        else:
            items.append((name, spec))
    return items


def canonical(key: str, where: str) -> str:
    """The one name of a key: surrounding spaces dropped, ``protocol.yield.<field>`` as its bare field."""
    name = key.strip()
    if name.startswith("protocol.yield.") and name[len("protocol.yield."):] in YIELD_FIELDS:
        name = name[len("protocol.yield."):]
    if name in YIELD_FIELDS:
        return name
    if "." not in name:
        raise ScenarioError(f"{where}: unknown parameter {key!r} (known: {', '.join(YIELD_FIELDS)}, or any "
                            "scenario key as \"table.key\", e.g. \"protocol.pct_bps\", \"agents.spend_per_day\", "
                            "\"events[0].depth\")")
    if not _KEY.match(name):
        raise ScenarioError(f"{where}: {key!r} is not a scenario key (expected \"table.key\" such as "
                            "\"agents.spend_per_day\" or \"events[0].depth\")")
    table = name.split(".")[0].split("[")[0]
    if table not in TABLES or (table == "events") != name.startswith("events["):
        raise ScenarioError(f"{where}: {key!r}: unknown table {table!r} (known: {', '.join(TABLES)}; "
                            "events as events[<index>].<key>)")
    if name in SET_BY_SWEEP:
        raise ScenarioError(f"{where}: {key!r} is set by the sweep, not varied (use {SET_BY_SWEEP[name]})")
    return name


def path(name: str) -> list:
    """Where a canonical key lives in a scenario document (``events[0].depth`` -> ["events", 0, "depth"])."""
    if name in YIELD_FIELDS:
        return ["protocol", "yield", name]
    steps: list = []
    for segment in name.split("."):
        if "[" in segment:
            head, index = segment[:-1].split("[")
            steps += [head, int(index)]
        else:
            steps.append(segment)
    return steps


def field_name(name: str) -> str:
    """The last segment: what the scenario parser calls the value (durations are recognised by it)."""
    return path(name)[-1]


def get(document: dict, name: str):
    """The value at ``name`` in ``document``, or KeyError."""
    node = document
    for step in path(name):
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                raise KeyError(name)
        elif not isinstance(node, dict) or step not in node:
            raise KeyError(name)
        node = node[step]
    return node


def apply(document: dict, values: dict, where: str) -> dict:
    """A deep copy of ``document`` with every ``name -> value`` of ``values`` set in it."""
    doc = copy.deepcopy(document)
    for name, value in values.items():
        steps = path(name)
        if steps[:2] == ["world", "duration"] or steps[:2] == ["world", "duration_s"]:
            world = doc.setdefault("world", {})  # one spelling wins, whichever the base used
            world.pop("duration", None)
            world.pop("duration_s", None)
        node = doc
        for i, step in enumerate(steps[:-1]):
            if isinstance(step, int):
                if not isinstance(node, list) or step >= len(node):
                    count = len(node) if isinstance(node, list) else 0
                    raise ScenarioError(f"{where}: {name}: the base scenario has {count} [[events]] "
                                        f"(events[0] to events[{count - 1}])" if count else
                                        f"{where}: {name}: the base scenario has no [[events]]")
                node = node[step]
            else:
                child = node.get(step)
                if child is None:
                    child = node[step] = [] if isinstance(steps[i + 1], int) else {}
                if not isinstance(child, (dict, list)):
                    raise ScenarioError(f"{where}: {name}: {step!r} is a value in the base scenario, not a table")
                node = child
        node[steps[-1]] = value
    return doc


def value_kind(name: str, resolved: dict, values: list) -> str:
    """``int``, ``float`` or ``any``: from the base scenario's resolved value at ``name`` (every default
    spelled out), else from the values given (a field whose default is unset)."""
    if name in YIELD_FIELDS or is_duration(field_name(name)):
        return "int"
    try:
        current = get(resolved, name)
    except KeyError:
        current = None
    probe = [current] if current is not None else values
    if probe and all(isinstance(v, int) and not isinstance(v, bool) for v in probe):
        return "int"
    if probe and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in probe):
        return "float"
    return "any"

"""Scenario files: TOML in, a validated :class:`~sim.config.WorldConfig` out, and back to TOML.

The schema *is* the config classes of :mod:`sim.config`: every table maps to one of them and every
key to one of its fields, so a new field is a new scenario key with no second list to keep in step.
This module only parses and coerces (TOML types to field types, duration strings to seconds);
the config classes check every value themselves (:mod:`sim.config`, with the caps listed there), and
any :class:`~contracts_model.validation.InvalidValue` they raise becomes a :class:`ScenarioError`
here: one line naming the file, the table and key, the value and what was expected.

Layout::

    [scenario]   name, description, expected          (free text; `expected` is the story's outcome)
    [world]      seed, users, duration, backend, engine, log, evm_block_time_s, contracts_dir
    [protocol]   preset = "testnet" | "fixed_fee", and/or pct_bps, fixed_wei, wei_per_sat,
                 min_confirmations, max_fee_per_sync_wei
    [protocol.yield]  base_rate, max_rate, silver_after, gold_after, *_multiplier
    [bitcoin]    network, mean_block_interval_s, max_block_txs
    [oracle]     poll_interval_s, delta_threshold_sats, reaction_delay_s, register_with_prepay_share
    [agents]     fields of AgentConfig (rates per user per day, ranges as [low, high])
    [yield]      join_holders, traders, trader_usdt, trader_add_per_day, claim_per_day
    [disputes]   frivolous_per_day, discrepancy_per_day, validation_delay_s, resolution_bound_s
    [reserves]   interval_s (proof-of-reserves rounds; 0 = off), onchain_checks
    [[events]]   kind = "reorg" | "fee_drought" | "deposit_burst" | "oracle_outage" | "dispute_wave",
                 at = <time>, and the kind's own keys

Durations (`duration`, `at`, every key ending in `_s`, `silver_after`, `gold_after`) take seconds or
a string such as "90s", "30m", "12h", "7d", "2w". Files are written back with ``tomli-w``
(:func:`dump`), and every valid scenario survives dump -> parse unchanged.
"""

from __future__ import annotations

import math
import re
import types
import typing
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import attrs
import tomli_w

from contracts_model.params import PRESETS, ProtocolParams, YieldParams
from contracts_model.validation import InvalidValue, show, text
from sim.config import (
    ESTIMATED_EVENTS,
    EVENT_PARAMS,
    AdversaryConfig,
    AgentConfig,
    BitcoinConfig,
    DisputeConfig,
    OracleConfig,
    ReservesConfig,
    ScheduledEvent,
    WorldConfig,
    YieldConfig,
    check_field,
)
from sim.exits import BadInput
from sim.input_files import read_toml

SCENARIO_DIR = Path(__file__).resolve().parents[1] / "scenarios"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
#: A scenario's name becomes part of its run folder's name: letters (any script), digits, ``_``,
#: ``-`` and ``.``, starting with a letter, digit or ``_``; at most 100 characters.
NAME = re.compile(r"\w[\w.-]{0,99}")
#: The longest description or expected outcome.
MAX_TEXT = 10_000

#: The tables of a scenario file, and the config class each one is built into.
TABLES = {"bitcoin": BitcoinConfig, "oracle": OracleConfig, "agents": AgentConfig, "yield": YieldConfig,
          "disputes": DisputeConfig, "reserves": ReservesConfig, "adversary": AdversaryConfig}
#: The WorldConfig field each of those tables fills.
TABLE_FIELDS = {"bitcoin": "bitcoin", "oracle": "oracle", "agents": "agents", "yield": "yields",
                "disputes": "disputes", "reserves": "reserves", "adversary": "adversary"}
#: WorldConfig fields that come from their own tables (or not from a file at all), not from [world].
_NOT_WORLD_KEYS = ("params", "preset", *TABLE_FIELDS.values(), "schedule", "check_invariants")
#: WorldConfig attribute -> scenario table, where the two names differ.
_TABLE_OF_FIELD = {"params": "protocol", "params.yield_params": "protocol.yield", "yields": "yield",
                   "preset": "protocol"}
#: Field names that a file spells otherwise.
_FILE_KEY = {"duration_s": "duration", "at_s": "at"}
_FIELD_KEY = {"duration": "duration_s", "at": "at_s"}


class ScenarioError(BadInput, ValueError):
    """A scenario that cannot run; the message is one line naming file, key, value and expectation."""


# ---------------------------------------------------------------------------------------- values


def parse_duration(value, where: str) -> int:
    """Seconds from a number or a string like "90s", "12h", "7d" (range checks are the config's)."""
    expected = 'expected a duration (whole seconds, or like "12h", "7d")'
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ScenarioError(f"{where}: {expected}, got {show(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise ScenarioError(f"{where}: {expected}, got {show(value)}")
        return int(value)
    match = _DURATION.match(value)
    if match is None:
        raise ScenarioError(f"{where}: {expected}, got {show(value)}")
    seconds = Fraction(match.group(1)) * _UNITS[match.group(2)]
    if seconds.denominator != 1:
        raise ScenarioError(f"{where}: expected a whole number of seconds, got {show(value)}")
    return int(seconds)


def is_duration(name: str) -> bool:
    return name.endswith("_s") or name in ("duration", "at", "silver_after", "gold_after")


def coerce(value, annotation, where: str, name: str):
    """Coerce a TOML value to a field's annotated type, or raise ScenarioError (types only: the
    config classes check ranges)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        annotation = next(a for a in args if a is not type(None))
        return coerce(value, annotation, where, name)
    if annotation is int:
        if is_duration(name):
            return parse_duration(value, where)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ScenarioError(f"{where}: expected an integer, got {show(value)}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ScenarioError(f"{where}: expected a number, got {show(value)}")
        try:
            return float(value)
        except OverflowError:  # an integer beyond any float: out of every range
            raise ScenarioError(f"{where}: expected a finite number, got {show(value)}") from None
    if annotation is str:
        if not isinstance(value, str):
            raise ScenarioError(f"{where}: expected a string, got {show(value)}")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ScenarioError(f"{where}: expected true or false, got {show(value)}")
        return value
    if origin is tuple:
        if not isinstance(value, list) or len(value) != len(args):
            raise ScenarioError(f"{where}: expected a list of {len(args)} values [low, high], got {show(value)}")
        return tuple(coerce(v, a, f"{where}[{i}]", "") for i, (v, a) in enumerate(zip(value, args)))
    raise ScenarioError(f"{where}: unsupported type {annotation!r}")


def _table(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: expected a table, got {show(value)}")
    return value


def _fields(table: dict, cls, where: str, skip: tuple[str, ...] = ()) -> dict:
    """The table's values coerced to ``cls``'s field types, by field name; unknown keys are errors."""
    _table(table, where)
    fields = [f.name for f in attrs.fields(cls) if f.name not in skip]
    keys = {_FILE_KEY.get(name, name): name for name in fields}
    for alias, name in _FILE_KEY.items():
        if alias in fields:
            keys[alias] = alias  # the field's own name works too, but not both spellings at once
            if name in table and alias in table:
                raise ScenarioError(f"{where}: give {name} or {alias}, not both")
    unknown = sorted(set(table) - set(keys), key=str)
    if unknown:
        raise ScenarioError(f"{where}: unknown key {show(unknown[0])} (known keys: {', '.join(sorted(keys))})")
    hints = typing.get_type_hints(cls)
    return {keys[key]: coerce(value, hints[keys[key]], f"{where} {key}", key) for key, value in table.items()}


def _build(cls, table: dict, where: str, base=None, skip: tuple[str, ...] = ()):
    """An instance of attrs class ``cls`` from a TOML table; unknown keys and invalid values are errors."""
    values = _fields(table, cls, where, skip)
    with _located(_table_locator(where, table)):
        return attrs.evolve(base, **values) if base is not None else cls(**values)


_MISSING = object()


@contextmanager
def _located(locate):
    """Turn an :class:`InvalidValue` raised inside into a ScenarioError located in the file.

    ``locate(field)`` gives ``(place, raw)``: where the field is in the file and the value as the file
    spells it (``"2d"`` rather than 172800), or ``_MISSING`` when the file does not set it."""
    try:
        yield
    except InvalidValue as exc:
        place, raw = locate(exc.field)
        raise ScenarioError(f"{place}: expected {exc.expected}, got {show(exc.value if raw is _MISSING else raw)}") \
            from None


def _table_locator(where: str, table: dict):
    def locate(field: str) -> tuple[str, object]:
        key = _FILE_KEY.get(field, field)
        return f"{where} {key}", table.get(key, _MISSING)

    return locate


def _world_locator(source: str, data: dict):
    """``params.pct_bps`` -> ``FILE: [protocol] pct_bps``; ``schedule[1].at_s`` -> ``FILE: [[events]] #2 at``."""

    def locate(path: str) -> tuple[str, object]:
        if path == ESTIMATED_EVENTS:
            return f"{source}: [world] users x duration x rates", _MISSING
        match = re.fullmatch(r"schedule\[(\d+)\]\.(\w+)", path)
        if match:
            index, key = int(match.group(1)), _FILE_KEY.get(match.group(2), match.group(2))
            return f"{source}: [[events]] #{index + 1} {key}", data["events"][index].get(key, _MISSING)
        table, _, key = path.rpartition(".")
        if not table:
            table = _TABLE_OF_FIELD.get(key, "world")
        table, key = _TABLE_OF_FIELD.get(table, table), _FILE_KEY.get(key, key)
        node = data
        for part in table.split("."):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return f"{source}: [{table}] {key}", node.get(key, _MISSING) if isinstance(node, dict) else _MISSING

    return locate


# ---------------------------------------------------------------------------------------- loading


def resolve(name_or_path: str, directory: Path = SCENARIO_DIR, what: str = "scenario") -> Path:
    """A file from a path or a built-in name (``baseline`` -> scenarios/baseline.toml); ``directory`` and
    ``what`` serve other kinds of built-in files (sweeps)."""
    path = Path(name_or_path)
    builtin = directory / f"{name_or_path}.toml"
    try:
        exists, is_file = path.exists(), path.is_file()
        is_builtin = bool(NAME.fullmatch(name_or_path)) and builtin.is_file()
    except (OSError, ValueError) as exc:  # a NUL byte in the name, a name too long for the system
        raise ScenarioError(f"{show(name_or_path)}: not a usable file name ({exc})") from None
    if path.suffix == ".toml" or exists:
        if not is_file:
            raise ScenarioError(f"{name_or_path}: no such {what} file")
        return path
    if is_builtin:
        return builtin
    names = ", ".join(sorted(p.stem for p in directory.glob("*.toml"))) or "none"
    raise ScenarioError(f"{name_or_path}: not a {what} file nor a built-in {what} (built-ins: {names})")


def _name(instance, attribute, value):
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise InvalidValue(attribute.name, value, "a name of letters, digits, '_', '-' or '.' (at most 100, "
                                                  "starting with a letter, digit or '_'), usable as a folder name")


@attrs.frozen
class Scenario:
    name: str = attrs.field(validator=_name)
    description: str = attrs.field(validator=text(MAX_TEXT))
    expected: str = attrs.field(validator=text(MAX_TEXT))
    config: WorldConfig = attrs.field(validator=attrs.validators.instance_of(WorldConfig))
    path: Path | None = None


def load(name_or_path: str) -> Scenario:
    path = resolve(name_or_path)
    data, _ = read_toml(path, "scenario", ScenarioError)
    return parse(data, str(path), path)


def _default_name(path: Path | None) -> str:
    """A file's stem as a scenario name: characters a name cannot hold become ``_``."""
    if path is None:
        return "scenario"
    name = re.sub(r"[^\w.-]", "_", path.stem)[:100]
    return name if NAME.fullmatch(name) else f"_{name}"[:100]


def parse(data: dict, source: str, path: Path | None = None) -> Scenario:
    known = ("scenario", "world", "protocol", *TABLES, "events")
    _table(data, source)
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ScenarioError(f"{source}: unknown table [{unknown[0]}] (known: {', '.join(known)})")
    header = _table(data.get("scenario", {}), f"{source}: [scenario]")
    bad = sorted(set(header) - {"name", "description", "expected"})
    if bad:
        raise ScenarioError(f"{source}: [scenario] unknown key {show(bad[0])} (known keys: description, expected, name)")
    texts = {key: coerce(header[key], str, f"{source}: [scenario] {key}", key)
             for key in ("name", "description", "expected") if key in header}
    params, preset = _protocol(data.get("protocol", {}), source)
    world = _fields(data.get("world", {}), WorldConfig, f"{source}: [world]", skip=_NOT_WORLD_KEYS)
    tables = {TABLE_FIELDS[table]: _build(cls, data.get(table, {}), f"{source}: [{table}]")
              for table, cls in TABLES.items()}
    events = data.get("events", [])
    if not isinstance(events, list):
        raise ScenarioError(f"{source}: events: expected [[events]] tables, got {show(events)}")
    schedule = tuple(_event(item, f"{source}: [[events]] #{i + 1}") for i, item in enumerate(events))
    with _located(_world_locator(source, data)):
        config = WorldConfig(**world, **tables, params=params, preset=preset, schedule=schedule)
    with _located(_table_locator(f"{source}: [scenario]", header)):
        return Scenario(texts.get("name") or _default_name(path), texts.get("description", ""),
                        texts.get("expected", ""), config, path)


def _protocol(table: dict, source: str) -> tuple[ProtocolParams, str | None]:
    where = f"{source}: [protocol]"
    table = dict(_table(table, where))
    preset = coerce(table.pop("preset", "testnet"), str, f"{where} preset", "preset")
    if preset not in PRESETS:
        raise ScenarioError(f"{where} preset: unknown preset {show(preset)} "
                            f"(known presets: {', '.join(sorted(PRESETS))})")
    yield_table = table.pop("yield", None)
    params = _build(ProtocolParams, table, where, base=PRESETS[preset], skip=("yield_params",))
    if yield_table is not None:
        yield_params = _build(YieldParams, yield_table, f"{source}: [protocol.yield]")
        params = attrs.evolve(params, yield_params=yield_params)
    # The preset these values are, whatever the file started from (so that dump -> parse gives it back).
    return params, next((name for name in sorted(PRESETS) if PRESETS[name] == params), None)


def _event(item: dict, where: str) -> ScheduledEvent:
    item = _table(item, where)
    kind = item.get("kind")
    if not isinstance(kind, str) or kind not in EVENT_PARAMS:
        raise ScenarioError(f"{where} kind: expected one of {', '.join(EVENT_PARAMS)}, got {show(kind)}")
    if "at" not in item:
        raise ScenarioError(f"{where}: missing key 'at' (when the {kind} happens)")
    spec = EVENT_PARAMS[kind]
    keys = {_FILE_KEY.get(name, name): name for name in spec}
    unknown = sorted(set(item) - {"kind", "at"} - set(keys), key=str)
    if unknown:
        raise ScenarioError(f"{where}: unknown key {show(unknown[0])} for a {kind} "
                            f"(known keys: at, kind, {', '.join(keys)})")
    at = parse_duration(item["at"], f"{where} at")
    params = {}
    for key, name in keys.items():
        if key in item:
            kind_type = spec[name][0]
            annotation = tuple[int, int] if kind_type is tuple else kind_type
            params[name] = coerce(item[key], annotation, f"{where} {key}", key)
    with _located(_table_locator(where, item)):
        return ScheduledEvent(kind, at, params)


def _field_at(path: list, data: dict):
    """The field a document path names, as ``(check, annotation)``: ``check(value)`` raises
    :class:`InvalidValue`; None when the path names no field (the parser then says why)."""
    head, rest = path[0], path[1:]
    if head == "events" and len(rest) == 2 and isinstance(rest[0], int):
        events = data.get("events")
        item = events[rest[0]] if isinstance(events, list) and rest[0] < len(events) else None
        key = _FIELD_KEY.get(rest[1], rest[1])
        if key == "at_s":
            return (lambda v: check_field(ScheduledEvent, "at_s", v)), int
        spec = EVENT_PARAMS.get(item.get("kind")) if isinstance(item, dict) and isinstance(item.get("kind"), str) else None
        if spec is None or key not in spec:
            return None
        kind_type, _, check = spec[key]
        return (lambda v: check(None, types.SimpleNamespace(name=key), v)), \
            tuple[int, int] if kind_type is tuple else kind_type
    if head == "protocol" and len(rest) == 2 and rest[0] == "yield":
        cls, name = YieldParams, rest[1]
    elif head == "protocol" and len(rest) == 1:
        cls, name = ProtocolParams, rest[0]
    elif head == "world" and len(rest) == 1 and _FIELD_KEY.get(rest[0], rest[0]) not in _NOT_WORLD_KEYS:
        cls, name = WorldConfig, _FIELD_KEY.get(rest[0], rest[0])
    elif head in TABLES and len(rest) == 1:
        cls, name = TABLES[head], rest[0]
    else:
        return None
    if name not in attrs.fields_dict(cls):
        return None
    return (lambda v: check_field(cls, name, v)), typing.get_type_hints(cls)[name]


def check_value(path: list, value, where: str, data: dict) -> None:
    """One value for the key at ``path`` of scenario document ``data`` (``["agents", "spend_per_day"]``,
    ``["protocol", "yield", "base_rate"]``, ``["events", 0, "depth"]``) checked on its own, as the parser
    checks that key: its field's type, validator and cap, but none of the checks across fields (those run
    when the whole document is parsed). A path that names no field is left to :func:`parse`."""
    target = _field_at(path, data)
    if target is None:
        return
    check, annotation = target
    try:
        check(coerce(value, annotation, where, str(path[-1])))
    except InvalidValue as exc:
        raise ScenarioError(f"{where}: expected {exc.expected}, got {show(value)}") from None


def builtins() -> list[Scenario]:
    """Every scenario in scenarios/, by name."""
    return [load(str(p)) for p in sorted(SCENARIO_DIR.glob("*.toml"))]


# ---------------------------------------------------------------------------------------- writing


def _values(instance, skip: tuple[str, ...] = ()) -> dict:
    """An attrs instance's fields as a TOML table (None omitted, field names spelled as files spell them)."""
    return {_FILE_KEY.get(f.name, f.name): getattr(instance, f.name) for f in attrs.fields(type(instance))
            if f.name not in skip and getattr(instance, f.name) is not None}


def document(scenario: Scenario) -> dict:
    """The scenario as the TOML document :func:`dump` writes: every default spelled out."""
    c = scenario.config
    protocol = {"preset": c.preset} if c.preset is not None and PRESETS.get(c.preset) == c.params else {}
    protocol.update(_values(c.params, skip=("yield_params",)))
    if c.params.yield_params is not None:
        protocol["yield"] = _values(c.params.yield_params)
    doc = {"scenario": {"name": scenario.name, "description": scenario.description, "expected": scenario.expected},
           "world": _values(c, skip=_NOT_WORLD_KEYS), "protocol": protocol}
    for table, field in TABLE_FIELDS.items():
        doc[table] = _values(getattr(c, field))
    if c.schedule:
        doc["events"] = [{"kind": e.kind, "at": e.at_s, **{_FILE_KEY.get(k, k): v for k, v in e.params.items()}}
                         for e in c.schedule]
    return doc


def dump(scenario: Scenario) -> str:
    """The scenario as TOML, fully resolved (every default spelled out), so it replays identically."""
    return tomli_w.dumps(document(scenario))

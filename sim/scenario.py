"""Scenario files: TOML in, a validated :class:`~sim.config.WorldConfig` out, and back to TOML.

The schema *is* the config classes of :mod:`sim.config`: every table maps to one of them and every
key to one of its fields, so a new field is a new scenario key with no second list to keep in step.
Validation is strict and speaks in the file's terms: an unknown key, a wrong type, a negative
duration or an unknown preset raises :class:`ScenarioError` naming the file, the key, the value and
what was expected.

Layout::

    [scenario]   name, description, expected          (free text; `expected` is the story's outcome)
    [world]      seed, users, duration, backend, evm_block_time_s, contracts_dir
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
a string such as "90s", "30m", "12h", "7d".
"""

from __future__ import annotations

import re
import tomllib
import types
import typing
from pathlib import Path

import attrs

from contracts_model.params import PRESETS, ProtocolParams, YieldParams
from sim.config import (
    BACKENDS,
    AdversaryConfig,
    AgentConfig,
    BitcoinConfig,
    DisputeConfig,
    OracleConfig,
    ReservesConfig,
    ScheduledEvent,
    WorldConfig,
    YieldConfig,
)

SCENARIO_DIR = Path(__file__).resolve().parents[1] / "scenarios"
NETWORKS = ("mainnet", "testnet", "regtest")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

#: Keys each scheduled event kind takes besides `kind` and `at` (name -> (type, required)).
EVENT_KEYS: dict[str, dict[str, tuple[type, bool]]] = {
    "reorg": {"depth": (int, True), "double_spend": (float, False), "drop": (float, False)},
    "fee_drought": {"duration": (int, True)},
    "deposit_burst": {"users": (float, False), "sats": (tuple, False)},
    "oracle_outage": {"duration": (int, True)},
    "dispute_wave": {"users": (float, False), "truthful": (float, False)},
}


#: WorldConfig fields that come from their own tables, not from [world].
_NOT_WORLD_KEYS = ("params", "preset", "bitcoin", "oracle", "agents", "yields", "disputes", "reserves", "adversary",
                   "schedule",
                   "check_invariants")


class ScenarioError(ValueError):
    """A scenario that cannot run; the message is one line naming file, key, value and expectation."""


# ---------------------------------------------------------------------------------------- values


def parse_duration(value, where: str) -> int:
    if isinstance(value, bool):
        raise ScenarioError(f"{where}: expected a duration (seconds, or like \"12h\", \"7d\"), got {value!r}")
    if isinstance(value, (int, float)):
        seconds = value
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise ScenarioError(f"{where}: expected a duration (seconds, or like \"12h\", \"7d\"), got {value!r}")
    if seconds < 0 or seconds != int(seconds):
        raise ScenarioError(f"{where}: expected a non-negative whole number of seconds, got {value!r}")
    return int(seconds)


def is_duration(name: str) -> bool:
    return name.endswith("_s") or name in ("duration", "at", "silver_after", "gold_after")


def coerce(value, annotation, where: str, name: str):
    """Coerce a TOML value to a field's annotated type, or raise ScenarioError."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        annotation = next(a for a in args if a is not type(None))
        return coerce(value, annotation, where, name)
    if annotation is int:
        if is_duration(name):
            return parse_duration(value, where)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ScenarioError(f"{where}: expected an integer, got {value!r}")
        if value < 0:
            raise ScenarioError(f"{where}: expected a non-negative integer, got {value}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ScenarioError(f"{where}: expected a number, got {value!r}")
        if value < 0:
            raise ScenarioError(f"{where}: expected a non-negative number, got {value}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ScenarioError(f"{where}: expected a string, got {value!r}")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ScenarioError(f"{where}: expected true or false, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list) or len(value) != len(args):
            raise ScenarioError(f"{where}: expected a list of {len(args)} values [low, high], got {value!r}")
        items = tuple(coerce(v, a, f"{where}[{i}]", "") for i, (v, a) in enumerate(zip(value, args)))
        if items[0] > items[1]:
            raise ScenarioError(f"{where}: expected [low, high] with low <= high, got {value!r}")
        return items
    raise ScenarioError(f"{where}: unsupported type {annotation!r}")


def _build(cls, table: dict, where: str, base=None, skip: tuple[str, ...] = ()):
    """An instance of attrs class ``cls`` from a TOML table; unknown keys are errors."""
    if not isinstance(table, dict):
        raise ScenarioError(f"{where}: expected a table, got {table!r}")
    fields = {f.name: f for f in attrs.fields(cls) if f.name not in skip}
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(table) - set(fields))
    if unknown:
        raise ScenarioError(
            f"{where}: unknown key {unknown[0]!r} (known keys: {', '.join(sorted(fields))})"
        )
    values = {name: coerce(value, hints[name], f"{where} {name}", name) for name, value in table.items()}
    try:
        return attrs.evolve(base, **values) if base is not None else cls(**values)
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"{where}: {exc}") from None


# ---------------------------------------------------------------------------------------- loading


def resolve(name_or_path: str, directory: Path = SCENARIO_DIR, what: str = "scenario") -> Path:
    """A file from a path or a built-in name (``baseline`` -> scenarios/baseline.toml); ``directory`` and
    ``what`` serve other kinds of built-in files (sweeps)."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ScenarioError(f"{name_or_path}: no such {what} file")
        return path
    builtin = directory / f"{name_or_path}.toml"
    if builtin.is_file():
        return builtin
    names = ", ".join(sorted(p.stem for p in directory.glob("*.toml"))) or "none"
    raise ScenarioError(f"{name_or_path}: not a {what} file nor a built-in {what} (built-ins: {names})")


@attrs.frozen
class Scenario:
    name: str
    description: str
    expected: str
    config: WorldConfig
    path: Path | None = None


def load(name_or_path: str) -> Scenario:
    path = resolve(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML ({exc})") from None
    return parse(data, str(path), path)


def parse(data: dict, source: str, path: Path | None = None) -> Scenario:
    known = ("scenario", "world", "protocol", "bitcoin", "oracle", "agents", "yield", "disputes", "reserves",
             "adversary", "events")
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ScenarioError(f"{source}: unknown table [{unknown[0]}] (known: {', '.join(known)})")
    header = data.get("scenario", {})
    bad = sorted(set(header) - {"name", "description", "expected"})
    if bad:
        raise ScenarioError(f"{source}: [scenario] unknown key {bad[0]!r} (known keys: description, expected, name)")
    name = header.get("name") or (path.stem if path else "scenario")
    params, preset = _protocol(data.get("protocol", {}), source)
    world = dict(data.get("world", {}))
    if "duration" in world:
        world["duration_s"] = parse_duration(world.pop("duration"), f"{source}: [world] duration")
    config = _build(WorldConfig, world, f"{source}: [world]", skip=_NOT_WORLD_KEYS)
    if config.duration_s <= 0:
        raise ScenarioError(f"{source}: [world] duration: expected a positive duration, got {config.duration_s}")
    if config.users < 1:
        raise ScenarioError(f"{source}: [world] users: expected at least 1 user, got {config.users}")
    if config.backend not in BACKENDS:
        raise ScenarioError(f"{source}: [world] backend: expected one of {', '.join(BACKENDS)}, got {config.backend!r}")
    bitcoin = _build(BitcoinConfig, data.get("bitcoin", {}), f"{source}: [bitcoin]")
    if bitcoin.network not in NETWORKS:
        raise ScenarioError(f"{source}: [bitcoin] network: expected one of {', '.join(NETWORKS)}, got {bitcoin.network!r}")
    oracle = _build(OracleConfig, data.get("oracle", {}), f"{source}: [oracle]")
    agents = _build(AgentConfig, data.get("agents", {}), f"{source}: [agents]")
    yields = _build(YieldConfig, data.get("yield", {}), f"{source}: [yield]")
    disputes = _build(DisputeConfig, data.get("disputes", {}), f"{source}: [disputes]")
    reserves = _build(ReservesConfig, data.get("reserves", {}), f"{source}: [reserves]")
    adversary = _build(AdversaryConfig, data.get("adversary", {}), f"{source}: [adversary]")
    for share in ("taproot_share", "topup_share"):
        if getattr(agents, share) > 1:
            raise ScenarioError(f"{source}: [agents] {share}: expected a share between 0 and 1, got {getattr(agents, share)}")
    events = data.get("events", [])
    if not isinstance(events, list):
        raise ScenarioError(f"{source}: events: expected [[events]] tables, got {events!r}")
    schedule = tuple(_event(item, f"{source}: [[events]] #{i + 1}", config.duration_s) for i, item in enumerate(events))
    config = attrs.evolve(config, params=params, preset=preset, bitcoin=bitcoin, oracle=oracle, agents=agents,
                          yields=yields, disputes=disputes, reserves=reserves, adversary=adversary, schedule=schedule)
    return Scenario(name, header.get("description", ""), header.get("expected", ""), config, path)


def _protocol(table: dict, source: str) -> tuple[ProtocolParams, str | None]:
    where = f"{source}: [protocol]"
    if not isinstance(table, dict):
        raise ScenarioError(f"{where}: expected a table")
    table = dict(table)
    preset = table.pop("preset", "testnet")
    if preset not in PRESETS:
        raise ScenarioError(f"{where} preset: unknown preset {preset!r} (known presets: {', '.join(sorted(PRESETS))})")
    yield_table = table.pop("yield", None)
    params = _build(ProtocolParams, table, where, base=PRESETS[preset], skip=("yield_params",))
    if yield_table is not None:
        params = attrs.evolve(params, yield_params=_build(YieldParams, yield_table, f"{where}.yield"))
    return params, (preset if params == PRESETS[preset] else None)


def _event(item: dict, where: str, duration_s: int) -> ScheduledEvent:
    if not isinstance(item, dict):
        raise ScenarioError(f"{where}: expected a table")
    kind = item.get("kind")
    if kind not in EVENT_KEYS:
        raise ScenarioError(f"{where} kind: expected one of {', '.join(EVENT_KEYS)}, got {kind!r}")
    if "at" not in item:
        raise ScenarioError(f"{where}: missing key 'at' (when the {kind} happens)")
    at = parse_duration(item["at"], f"{where} at")
    if at >= duration_s:
        raise ScenarioError(f"{where} at: {item['at']!r} is not before the end of the world ({duration_s} s)")
    spec = EVENT_KEYS[kind]
    unknown = sorted(set(item) - {"kind", "at"} - set(spec))
    if unknown:
        raise ScenarioError(f"{where}: unknown key {unknown[0]!r} for a {kind} (known keys: at, kind, {', '.join(spec)})")
    params = {}
    for key, (kind_type, required) in spec.items():
        if key not in item:
            if required:
                raise ScenarioError(f"{where}: a {kind} needs {key!r}")
            continue
        annotation = tuple[int, int] if kind_type is tuple else kind_type
        value = coerce(item[key], annotation, f"{where} {key}", key)
        if kind_type is float and key in ("double_spend", "drop", "users", "truthful") and value > 1:
            raise ScenarioError(f"{where} {key}: expected a share between 0 and 1, got {value}")
        if key == "depth" and value < 1:
            raise ScenarioError(f"{where} depth: expected at least 1 block, got {value}")
        params[key if key != "duration" else "duration_s"] = value
    return ScheduledEvent(kind, at, params)


def builtins() -> list[Scenario]:
    """Every scenario in scenarios/, by name."""
    return [load(str(p)) for p in sorted(SCENARIO_DIR.glob("*.toml"))]


# ---------------------------------------------------------------------------------------- writing


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def _table(name: str, instance, skip: tuple[str, ...] = ()) -> list[str]:
    lines = [f"[{name}]"]
    for f in attrs.fields(type(instance)):
        value = getattr(instance, f.name)
        if f.name in skip or value is None:
            continue
        lines.append(f"{f.name} = {_toml_value(value)}")
    return lines + [""]


def dump(scenario: Scenario) -> str:
    """The scenario as TOML, fully resolved (every default spelled out), so it replays identically."""
    c = scenario.config
    lines = ["[scenario]", f"name = {_toml_value(scenario.name)}",
             f"description = {_toml_value(scenario.description)}", f"expected = {_toml_value(scenario.expected)}", ""]
    lines += _table("world", c, skip=_NOT_WORLD_KEYS)
    lines += _table("protocol", c.params, skip=("yield_params",))
    if c.preset is not None:
        lines.insert(len(lines) - 1, f"preset = {_toml_value(c.preset)}")
    if c.params.yield_params is not None:
        lines += _table("protocol.yield", c.params.yield_params)
    lines += _table("bitcoin", c.bitcoin) + _table("oracle", c.oracle) + _table("agents", c.agents)
    lines += _table("yield", c.yields) + _table("disputes", c.disputes) + _table("reserves", c.reserves)
    lines += _table("adversary", c.adversary)
    for event in c.schedule:
        lines.append("[[events]]")
        lines.append(f"kind = {_toml_value(event.kind)}")
        lines.append(f"at = {event.at_s}")
        for key, value in event.params.items():
            lines.append(f"{'duration' if key == 'duration_s' else key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)

"""Sweep files: TOML in, a validated :class:`Sweep` with its resolved design out.

A sweep names a base scenario, the YieldScales parameters to vary, how to pick the points
(``grid``, ``random``, ``latin`` hypercube), the seeds every point runs with, the metrics to tabulate
and the objective to rank the points by. Validation is as strict as :mod:`sim.scenario`'s, with
the same helpers and :class:`~sim.scenario.ScenarioError`: one line naming the file, the key, the
value and what was expected. Layout::

    [sweep]      name, description, scenario (built-in name or path), backend, seeds, metrics
    [override]   tables of a scenario file (world, protocol, agents, yield, …) laid over the base
    [vary]       parameter = [values]  or  { min, max [, steps] }  or  { values = [...] }
    [design]     kind = "grid" | "random" | "latin", count, seed
    [objective]  metric, goal = "maximize" | "minimize", constraints = ["metric <= x", …]

Every point is the base scenario with ``params.yield_params`` replaced; every run is a point with
one seed. Runs are identified by content, never by position: a point's id spells out its parameter
values, and two hashes fingerprint what the results depend on — the *base hash* (the resolved base
scenario, backend and the names of the varied parameters: anything that changes every run) and
the *design hash* (base hash plus the points and seeds).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from pathlib import Path

import attrs
import numpy as np

from contracts_model.params import YieldParams
from sim.scenario import (
    BACKENDS,
    ENGINES,
    SCENARIO_DIR,
    Scenario,
    ScenarioError,
    coerce,
    is_duration,
    dump,
    parse,
    resolve,
)
from sim.sweep.metrics import METRICS

SWEEP_DIR = SCENARIO_DIR / "sweeps"
#: The YieldScales parameters a sweep can vary (the fields of YieldParams, in ABI order).
PARAMETERS = tuple(f.name for f in attrs.fields(YieldParams))
DESIGNS = ("grid", "random", "latin")
GOALS = ("maximize", "minimize")
OPERATORS = ("<=", ">=", "<", ">", "==")
#: Scenario tables an [override] may set (the [scenario] header and seed/backend come from the sweep).
OVERRIDE_TABLES = ("world", "protocol", "bitcoin", "oracle", "agents", "yield", "disputes", "reserves", "events")
#: Refuse designs beyond this many runs.
MAX_RUNS = 100_000
#: Bump when the meaning of a run file changes, so old results are not mixed with new ones.
FORMAT = 1

_CONSTRAINT = re.compile(r"^\s*([a-z][a-z0-9_]*)\s*(<=|>=|==|<|>)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")


# ---------------------------------------------------------------------------------------- value types


@attrs.frozen
class Param:
    """One varied parameter: explicit ``values``, or an integer range ``[low, high]`` (``steps`` on a grid)."""

    name: str
    values: tuple[int, ...] | None = None
    low: int | None = None
    high: int | None = None
    steps: int | None = None

    def grid_values(self) -> tuple[int, ...]:
        if self.values is not None:
            return self.values
        return tuple(int(v) for v in np.rint(np.linspace(self.low, self.high, self.steps)).astype(np.int64))

    def pick(self, u: np.ndarray) -> list[int]:
        """Map uniform numbers in [0, 1) onto this parameter's values (uniform over the integers of a range)."""
        if self.values is not None:
            index = np.minimum((u * len(self.values)).astype(np.int64), len(self.values) - 1)
            return [self.values[i] for i in index.tolist()]
        span = self.high - self.low + 1
        return [min(self.high, self.low + int(x)) for x in np.floor(u * span).tolist()]

    def describe(self) -> str:
        fmt = lambda v: format_value(self.name, v)  # noqa: E731
        if self.values is not None:
            return "{" + ", ".join(fmt(v) for v in self.values) + "}"
        text = f"[{fmt(self.low)}, {fmt(self.high)}]"
        return text + (f" in {self.steps} steps" if self.steps is not None else "")

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in attrs.asdict(self).items() if v is not None}


@attrs.frozen
class Constraint:
    metric: str
    op: str
    bound: float

    def holds(self, value: float | None) -> bool:
        if value is None or value != value:  # a missing figure satisfies nothing
            return False
        return {"<=": value <= self.bound, ">=": value >= self.bound, "<": value < self.bound,
                ">": value > self.bound, "==": value == self.bound}[self.op]

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"


@attrs.frozen
class Objective:
    metric: str
    goal: str = "maximize"
    constraints: tuple[Constraint, ...] = ()


@attrs.frozen
class Point:
    """One parameter set: its content-derived id, the varied values and the world it runs (seed aside)."""

    index: int  # position in the design, for stable ordering of tables
    id: str
    values: dict  # varied parameter -> int, in [vary] order
    yield_params: YieldParams
    scenario: Scenario


@attrs.frozen
class Sweep:
    name: str
    description: str
    path: Path
    text: str  # the sweep file as read
    scenario: Scenario  # the base, overrides applied, backend set
    scenario_source: str  # as named in the file
    overrides: dict
    backend: str
    params: tuple[Param, ...]
    design: str
    count: int | None
    design_seed: int | None
    seeds: tuple[int, ...]
    metrics: tuple[str, ...]  # what the tables show (objective and constraint metrics included)
    objective: Objective
    points: tuple[Point, ...]
    base_hash: str
    design_hash: str
    notes: tuple[str, ...] = ()  # things the user should know (duplicate random points dropped, …)
    engine: str = "fast"  # reference | fast

    @property
    def runs(self) -> list[tuple[Point, int]]:
        return [(point, seed) for point in self.points for seed in self.seeds]

    def run_id(self, point: Point, seed: int) -> str:
        return f"{point.id}-s{seed}"


# ---------------------------------------------------------------------------------------- helpers


def format_value(name: str, value: int) -> str:
    """A parameter value for ids and tables: durations in whole days/hours where they are whole."""
    if is_duration(name):
        for unit, seconds in (("d", 86_400), ("h", 3_600), ("m", 60)):
            if value and value % seconds == 0:
                return f"{value // seconds}{unit}"
        return f"{value}s"
    return str(value)


def point_id(values: dict) -> str:
    """``base_rate-500_max_rate-2000``: derived from the values alone, so it names the same point in any design."""
    return "_".join(f"{name}-{format_value(name, value)}" for name, value in values.items())


def _hash(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _table(data: dict, key: str, where: str) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: expected a table [{key}], got {value!r}")
    return value


def _unknown(table: dict, known: tuple[str, ...], where: str) -> None:
    unknown = [k for k in table if k not in known]
    if unknown:
        raise ScenarioError(f"{where}: unknown key {unknown[0]!r} (known keys: {', '.join(known)})")


def _string(table: dict, key: str, where: str, default: str | None = None, choices: tuple[str, ...] = ()) -> str | None:
    if key not in table:
        return default
    value = coerce(table[key], str, f"{where} {key}", key)
    if choices and value not in choices:
        raise ScenarioError(f"{where} {key}: expected one of {', '.join(choices)}, got {value!r}")
    return value


def _merge(base: dict, override: dict) -> dict:
    """``override`` laid over ``base`` table by table; lists (``events``) and values are replaced whole."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# ---------------------------------------------------------------------------------------- loading


def resolve_sweep(name_or_path: str) -> Path:
    """A sweep file from a path or a built-in name (``yield_example`` -> scenarios/sweeps/yield_example.toml)."""
    return resolve(name_or_path, SWEEP_DIR, "sweep")


def load_sweep(name_or_path: str, backend: str | None = None) -> Sweep:
    """The sweep file, parsed and checked; ``backend`` overrides its ``[sweep] backend``."""
    path = resolve_sweep(name_or_path)
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML ({exc})") from None
    return parse_sweep(data, str(path), path, text, backend)


def parse_sweep(data: dict, source: str, path: Path, text: str = "", backend_override: str | None = None) -> Sweep:
    known = ("sweep", "override", "vary", "design", "objective")
    unknown = [k for k in data if k not in known]
    if unknown:
        raise ScenarioError(f"{source}: unknown table [{unknown[0]}] (known: {', '.join(known)})")
    for required in ("sweep", "vary", "objective"):
        if required not in data:
            raise ScenarioError(f"{source}: missing table [{required}]")

    header = _table(data, "sweep", source)
    where = f"{source}: [sweep]"
    _unknown(header, ("name", "description", "scenario", "backend", "engine", "seeds", "metrics"), where)
    name = _string(header, "name", where, default=path.stem)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise ScenarioError(f"{where} name: expected letters, digits, '_', '-' or '.', got {name!r}")
    description = _string(header, "description", where, default="")
    if "scenario" not in header:
        raise ScenarioError(f"{where}: missing key 'scenario' (a built-in scenario name or a scenario file path)")
    scenario_source = _string(header, "scenario", where)
    backend = _string(header, "backend", where, default="model", choices=BACKENDS)
    if backend_override is not None:
        if backend_override not in BACKENDS:
            raise ScenarioError(f"--backend: expected one of {', '.join(BACKENDS)}, got {backend_override!r}")
        backend = backend_override
    # Sweeps run the fast engine unless the file says otherwise (it needs the model backend).
    engine = _string(header, "engine", where, default="fast" if backend == "model" else "reference", choices=ENGINES)
    if engine == "fast" and backend != "model":
        raise ScenarioError(f"{where} engine: the fast engine runs the models' semantics; it needs backend = "
                            f"\"model\", got {backend!r}")

    overrides = _table(data, "override", source)
    scenario = _base_scenario(scenario_source, overrides, backend, engine, path, f"{source}: [override]")
    params = _params(_table(data, "vary", source), f"{source}: [vary]")
    design, count, design_seed = _design(_table(data, "design", source), f"{source}: [design]", params)
    seeds = _seeds(header.get("seeds", 1), f"{where} seeds", scenario.config.seed)
    objective = _objective(_table(data, "objective", source), f"{source}: [objective]")
    metrics = _metrics(header, where, objective)

    size = count if design != "grid" else math.prod(len(p.values) if p.values is not None else p.steps
                                                      for p in params)
    if size * len(seeds) > MAX_RUNS:  # checked before anything is drawn: a typo in a grid multiplies fast
        raise ScenarioError(f"{source}: [vary] the design has {size:,} points x {len(seeds)} seeds = "
                            f"{size * len(seeds):,} runs; expected at most {MAX_RUNS:,}")
    values, notes = _design_values(params, design, count, design_seed)
    base_yield = scenario.config.params.yield_params or YieldParams()
    points = []
    for index, point_values in enumerate(values):
        pid = point_id(point_values)
        try:
            yield_params = attrs.evolve(base_yield, **point_values)
        except (TypeError, ValueError) as exc:
            raise ScenarioError(f"{source}: [vary] point {pid}: {exc}") from None
        config = attrs.evolve(scenario.config, params=attrs.evolve(scenario.config.params, yield_params=yield_params),
                              preset=None)
        points.append(Point(index, pid, point_values, yield_params,
                            attrs.evolve(scenario, name=f"{name}.{pid}", config=config)))

    neutral = attrs.evolve(scenario, name="base", description="", expected="", path=None,
                           config=attrs.evolve(scenario.config, seed=0))
    base_hash = _hash({"format": FORMAT, "scenario": dump(neutral), "vary": [p.name for p in params]})
    design_hash = _hash({"base": base_hash, "points": [p.id for p in points], "seeds": list(seeds)})
    return Sweep(name, description, path, text, scenario, scenario_source, overrides, backend, params, design, count,
                 design_seed, seeds, metrics, objective, tuple(points), base_hash, design_hash, tuple(notes),
                 engine=engine)


def _base_scenario(name: str, overrides: dict, backend: str, engine: str, sweep_path: Path, where: str) -> Scenario:
    """The base scenario file's own tables with [override] laid over them, parsed by sim.scenario."""
    _unknown(overrides, OVERRIDE_TABLES, where)
    world = overrides.get("world", {})
    if isinstance(world, dict):
        for key, instead in (("seed", "[sweep] seeds"), ("backend", "[sweep] backend"), ("engine", "[sweep] engine")):
            if key in world:
                raise ScenarioError(f"{where} world.{key}: set by the sweep, not the override (use {instead})")
    candidate = sweep_path.parent / name
    try:
        path = candidate if (name.endswith(".toml") or "/" in name) and candidate.is_file() else resolve(name)
    except ScenarioError as exc:
        raise ScenarioError(f"{sweep_path}: [sweep] scenario: {exc}") from None
    try:
        base = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML ({exc})") from None
    if "duration" in world or "duration_s" in world:  # one spelling wins, whichever the base used
        base_world = dict(base.get("world", {}))
        base_world.pop("duration", None)
        base_world.pop("duration_s", None)
        base = dict(base, world=base_world)
    merged = _merge(base, overrides)
    merged.setdefault("world", {})
    merged["world"] = dict(merged["world"], backend=backend, engine=engine, log="summary")
    source = f"{where} over {path}" if overrides else str(path)
    return parse(merged, source, path)


def _params(table: dict, where: str) -> tuple[Param, ...]:
    if not table:
        raise ScenarioError(f"{where}: expected at least one parameter to vary (known: {', '.join(PARAMETERS)})")
    params = []
    for name, spec in table.items():
        if name not in PARAMETERS:
            raise ScenarioError(f"{where}: unknown parameter {name!r} (known: {', '.join(PARAMETERS)})")
        at = f"{where} {name}"
        if isinstance(spec, list):
            spec = {"values": spec}
        if not isinstance(spec, dict):
            raise ScenarioError(f"{at}: expected a list of values or a table {{ min, max [, steps] }}, got {spec!r}")
        _unknown(spec, ("values", "min", "max", "steps"), at)
        if "values" in spec:
            if set(spec) != {"values"}:
                raise ScenarioError(f"{at}: give either values or min/max, not both")
            raw = spec["values"]
            if not isinstance(raw, list) or not raw:
                raise ScenarioError(f"{at} values: expected a non-empty list, got {raw!r}")
            values = tuple(coerce(v, int, f"{at} values[{i}]", name) for i, v in enumerate(raw))
            if len(set(values)) != len(values):
                raise ScenarioError(f"{at} values: expected distinct values, got {raw!r}")
            params.append(Param(name, values=values))
            continue
        for key in ("min", "max"):
            if key not in spec:
                raise ScenarioError(f"{at}: missing key {key!r} (or give values = [...])")
        low = coerce(spec["min"], int, f"{at} min", name)
        high = coerce(spec["max"], int, f"{at} max", name)
        if low > high:
            raise ScenarioError(f"{at}: expected min <= max, got min {spec['min']!r} > max {spec['max']!r}")
        steps = None
        if "steps" in spec:
            steps = coerce(spec["steps"], int, f"{at} steps", "steps")
            if steps < 1 or (steps == 1 and low != high):
                raise ScenarioError(f"{at} steps: expected at least 2 (1 only when min == max), got {steps}")
            if steps > high - low + 1:
                raise ScenarioError(f"{at} steps: {steps} steps do not fit the {high - low + 1} integers "
                                    f"in [{spec['min']!r}, {spec['max']!r}]")
        params.append(Param(name, low=low, high=high, steps=steps))
    return tuple(params)


def _design(table: dict, where: str, params: tuple[Param, ...]) -> tuple[str, int | None, int | None]:
    _unknown(table, ("kind", "count", "seed"), where)
    kind = _string(table, "kind", where, default="grid", choices=DESIGNS)
    if kind == "grid":
        for key in ("count", "seed"):
            if key in table:
                raise ScenarioError(f"{where} {key}: only random and latin designs take a {key} "
                                    "(a grid is every combination)")
        for p in params:
            if p.values is None and p.steps is None:
                raise ScenarioError(f"{where.replace('[design]', '[vary]')} {p.name}: a grid needs values = [...] "
                                    "or steps with min/max")
        return kind, None, None
    for p in params:
        if p.steps is not None:
            raise ScenarioError(f"{where.replace('[design]', '[vary]')} {p.name} steps: steps only apply to grid "
                                f"designs; a {kind} design draws from [min, max]")
    if "count" not in table:
        raise ScenarioError(f"{where}: a {kind} design needs count (how many points to draw)")
    count = coerce(table["count"], int, f"{where} count", "count")
    if count < 1:
        raise ScenarioError(f"{where} count: expected at least 1 point, got {count}")
    seed = coerce(table.get("seed", 1), int, f"{where} seed", "seed")
    return kind, count, seed


def _design_values(params: tuple[Param, ...], design: str, count: int | None,
                   seed: int | None) -> tuple[list[dict], list[str]]:
    names = [p.name for p in params]
    if design == "grid":
        columns = [p.grid_values() for p in params]
        mesh = np.array(np.meshgrid(*[np.arange(len(c)) for c in columns], indexing="ij")).reshape(len(params), -1).T
        return [dict(zip(names, (columns[j][i] for j, i in enumerate(row)))) for row in mesh.tolist()], []
    rng = np.random.default_rng(seed)
    columns = []
    for p in params:
        if design == "latin":  # one draw in each of `count` equal strata, strata shuffled per parameter
            u = (rng.permutation(count) + rng.random(count)) / count
        else:
            u = rng.random(count)
        columns.append(p.pick(u))
    seen, values = set(), []
    for row in zip(*columns):
        if row not in seen:
            seen.add(row)
            values.append(dict(zip(names, row)))
    notes = []
    if len(values) < count:
        notes.append(f"the {design} design drew {count} points, {count - len(values)} of them duplicates "
                     f"of earlier ones after rounding to integers: {len(values)} distinct points run")
    return values, notes


def _seeds(value, where: str, first: int) -> tuple[int, ...]:
    if isinstance(value, list):
        if not value:
            raise ScenarioError(f"{where}: expected a non-empty list of seeds or a count, got []")
        seeds = tuple(coerce(v, int, f"{where}[{i}]", "seed") for i, v in enumerate(value))
        if len(set(seeds)) != len(seeds):
            raise ScenarioError(f"{where}: expected distinct seeds, got {value!r}")
        return seeds
    count = coerce(value, int, where, "seeds")
    if count < 1:
        raise ScenarioError(f"{where}: expected at least 1 seed, got {value!r}")
    return tuple(range(first, first + count))


def _objective(table: dict, where: str) -> Objective:
    _unknown(table, ("metric", "goal", "constraints"), where)
    if "metric" not in table:
        raise ScenarioError(f"{where}: missing key 'metric' (one of: {', '.join(METRICS)})")
    metric = _string(table, "metric", where, choices=tuple(METRICS))
    goal = _string(table, "goal", where, default="maximize", choices=GOALS)
    raw = table.get("constraints", [])
    if not isinstance(raw, list):
        raise ScenarioError(f"{where} constraints: expected a list like [\"liability_ratio <= 0.05\"], got {raw!r}")
    constraints = []
    for i, item in enumerate(raw):
        at = f"{where} constraints[{i}]"
        match = _CONSTRAINT.match(item) if isinstance(item, str) else None
        if match is None:
            raise ScenarioError(f"{at}: expected \"<metric> <op> <number>\" with op one of "
                                f"{' '.join(OPERATORS)}, got {item!r}")
        if match.group(1) not in METRICS:
            raise ScenarioError(f"{at}: unknown metric {match.group(1)!r} (known: {', '.join(METRICS)})")
        constraints.append(Constraint(match.group(1), match.group(2), float(match.group(3))))
    return Objective(metric, goal, tuple(constraints))


def _metrics(header: dict, where: str, objective: Objective) -> tuple[str, ...]:
    raw = header.get("metrics")
    if raw is None:
        chosen = list(METRICS)
    else:
        if not isinstance(raw, list) or not raw:
            raise ScenarioError(f"{where} metrics: expected a non-empty list of metric names, got {raw!r}")
        chosen = []
        for i, item in enumerate(raw):
            if not isinstance(item, str) or item not in METRICS:
                raise ScenarioError(f"{where} metrics[{i}]: unknown metric {item!r} (known: {', '.join(METRICS)})")
            if item not in chosen:
                chosen.append(item)
    for extra in [objective.metric, *(c.metric for c in objective.constraints), "violations"]:
        if extra not in chosen:
            chosen.append(extra)
    return tuple(chosen)


__all__ = ["Constraint", "Objective", "PARAMETERS", "Param", "Point", "Sweep", "SWEEP_DIR", "format_value",
           "load_sweep", "parse_sweep", "point_id", "resolve_sweep"]

"""Sweep files: TOML in, a validated :class:`Sweep` with its resolved design out.

A sweep names a base scenario, the scenario keys to vary, how to pick the points (``grid``,
``random``, ``latin`` hypercube, or the ``sobol`` and ``morris`` designs of global sensitivity
analysis), the seeds every point runs with, the metrics to tabulate and the objective to rank the
points by. Validation is as strict as :mod:`sim.scenario`'s, with the same helpers and
:class:`~sim.scenario.ScenarioError`: one line naming the file, the key, the value and what was
expected. The files are read through :mod:`sim.input_files` (bounded). Layout::

    [sweep]      name, description, scenario (built-in name or path), backend, engine, seeds, metrics, modules
    [override]   tables of a scenario file (world, protocol, agents, yield, …) laid over the base
    [vary]       key = [values]  or  { min, max [, steps] }  or  { values = [...] }; a key is a YieldParams
                 field (base_rate) or any scenario key ("protocol.pct_bps", "events[0].depth", or the
                 nested [vary.protocol] pct_bps = …)
    [design]     kind = "grid" | "random" | "latin" | "sobol" | "morris", count, seed, samples,
                 second_order, trajectories, levels
    [series]     columns, bands: keep each run's metrics time series, plot bands across seeds
    [objective]  metric, goal = "maximize" | "minimize", constraints = ["metric <= x", …]

Validation is layered, one mechanism per layer: every listed value and range bound is checked on its
own like the field it sets (:func:`sim.scenario.check_value`: the field's type, validator and cap), and
the seeds and design seed likewise, before any point is built; every point is then the base scenario's
document with the varied keys set, parsed by :func:`sim.scenario.parse` (see :mod:`sim.sweep.keys`),
which adds the checks across fields (Gold after Silver, events inside the world, the world's size).

Every run is a point with one seed. Runs are identified by content, never by position: a point's id
spells out its parameter values, and two hashes fingerprint what the results depend on — the *base
hash* (the resolved base scenario, backend and the names of the varied parameters: anything that
changes every run) and the *design hash* (base hash plus the points and seeds, and a sensitivity
design's sample rows).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path

import attrs
import numpy as np

from contracts_model.validation import InvalidValue, show
from sim.config import BACKENDS, ENGINES, WorldConfig, check_field
from sim.input_files import read_toml
from sim.metrics import COLUMNS as SERIES_COLUMNS
from sim.scenario import (
    SCENARIO_DIR,
    Scenario,
    ScenarioError,
    check_value,
    coerce,
    document,
    is_duration,
    parse,
    resolve,
)
from sim.sweep import keys, plugins, sensitivity
from sim.sweep.metrics import METRICS, known

SWEEP_DIR = SCENARIO_DIR / "sweeps"
#: The YieldScales parameters a sweep can vary by their bare names (the fields of YieldParams, in ABI order).
PARAMETERS = keys.YIELD_FIELDS
DESIGNS = ("grid", "random", "latin", *sensitivity.KINDS)
GOALS = ("maximize", "minimize")
OPERATORS = ("<=", ">=", "<", ">", "==")
#: Scenario tables an [override] may set (the [scenario] header and seed/backend come from the sweep).
OVERRIDE_TABLES = keys.TABLES
#: Refuse designs beyond this many runs.
MAX_RUNS = 100_000
#: A design's own seed (random, latin, sobol, morris) is a whole number below this.
MAX_DESIGN_SEED = 2**128
#: Bump when the meaning of a run file changes, so old results are not mixed with new ones.
FORMAT = 1
#: Time-series columns plotted as bands when [series] names none.
DEFAULT_BANDS = ("backing_ratio", "yield_owed_total")

_CONSTRAINT = re.compile(r"^\s*([a-z][a-z0-9_]*)\s*(<=|>=|==|<|>)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")


# ---------------------------------------------------------------------------------------- value types


def _round(value: float, digits: int) -> float:
    return float(f"{value:.{digits}g}")


@attrs.frozen
class Param:
    """One varied parameter: explicit ``values``, or a range ``[low, high]`` (``steps`` on a grid).

    ``kind`` is ``int`` (ranges draw integers, durations are seconds), ``float`` (ranges draw real
    numbers, rounded to 6 significant digits so that ids stay readable) or ``any`` (explicit values
    only: strings, booleans, [low, high] pairs).
    """

    name: str
    values: tuple | None = None
    low: int | float | None = None
    high: int | float | None = None
    steps: int | None = None
    kind: str = "int"

    def grid_values(self) -> tuple:
        if self.values is not None:
            return self.values
        raw = np.linspace(self.low, self.high, self.steps)
        if self.kind == "int":
            return tuple(int(v) for v in np.rint(raw).astype(np.int64))
        return tuple(_round(float(v), 12) for v in raw)

    def pick(self, u: np.ndarray) -> list:
        """Map uniform numbers in [0, 1] onto this parameter's values (uniform over the integers of an
        integer range, over the interval of a real one, over the listed values)."""
        if self.values is not None:
            index = np.minimum((u * len(self.values)).astype(np.int64), len(self.values) - 1)
            return [self.values[i] for i in index.tolist()]
        if self.kind == "int":
            span = self.high - self.low + 1
            return [min(self.high, self.low + int(x)) for x in np.floor(u * span).tolist()]
        return [min(self.high, _round(self.low + float(x) * (self.high - self.low), 6)) for x in u.tolist()]

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

    def excess(self, value: float | None) -> float:
        """How far ``value`` is beyond the bound (<= 0: the constraint holds); for optimisers."""
        if value is None or value != value:
            return math.inf
        if self.op in ("<=", "<"):
            gap = value - self.bound
        elif self.op in (">=", ">"):
            gap = self.bound - value
        else:
            gap = abs(value - self.bound)
        return gap if gap > 0 or self.holds(value) else max(gap, 1e-12)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"


@attrs.frozen
class Objective:
    metric: str
    goal: str = "maximize"
    constraints: tuple[Constraint, ...] = ()
    #: Searches only: the claim under test ("the metric stays at or below/above this"); a trial past it breaks it.
    bound: float | None = None

    def better(self, a: float, b: float) -> bool:
        """``a`` beats ``b`` in the objective's direction."""
        return a > b if self.goal == "maximize" else a < b

    def breaks(self, value: float | None) -> bool:
        if self.bound is None or value is None or value != value:
            return False
        return value > self.bound if self.goal == "maximize" else value < self.bound


@attrs.frozen
class Series:
    """``[series]``: keep these metrics.csv columns of every run; draw these as bands across seeds."""

    columns: tuple[str, ...]
    bands: tuple[str, ...]


@attrs.frozen
class Point:
    """One parameter set: its content-derived id, the varied values and the world it runs (seed aside)."""

    index: int  # position in the design, for stable ordering of tables
    id: str
    values: dict  # varied parameter -> value, in [vary] order
    yield_params: object
    scenario: Scenario


@attrs.frozen
class Space:
    """What a sweep or a search varies: the base scenario's document (its tables as written, overrides
    laid over them) and the parameters; makes a :class:`Point` of any values by setting them in the
    document and parsing it with the scenario parser."""

    name: str  # the sweep's or search's name: point scenarios are called <name>.<point id>
    where: str  # "<file>: [vary]", for messages
    scenario: Scenario  # the base
    document: dict = attrs.field(eq=False, repr=False)
    resolved: dict = attrs.field(eq=False, repr=False)  # the base with every default spelled out
    params: tuple[Param, ...] = ()

    def point(self, index: int, values: dict) -> Point:
        pid = point_id(values)
        where = f"{self.where} point {pid}"
        scenario = parse(keys.apply(self.document, values, where), where, self.scenario.path)
        return Point(index, pid, values, scenario.config.params.yield_params,
                     attrs.evolve(scenario, name=scenario_name(f"{self.name}.{pid}")))


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
    modules: tuple[tuple[str, str], ...] = ()  # user modules (name, folder) every worker imports
    series: Series | None = None
    #: Sensitivity designs: the point id of every sample row, in SALib's order, and the rows in the unit cube.
    samples: tuple[str, ...] = ()
    unit: tuple[tuple[float, ...], ...] = ()
    options: dict = attrs.field(factory=dict)  # samples/second_order or trajectories/levels
    space: Space | None = attrs.field(default=None, eq=False, repr=False)
    engine: str = "fast"  # reference | fast

    @property
    def runs(self) -> list[tuple[Point, int]]:
        return [(point, seed) for point in self.points for seed in self.seeds]

    @property
    def extra_metrics(self) -> tuple[str, ...]:
        """Tabulated metrics that are registered by user modules, not built in."""
        return tuple(m for m in self.metrics if m not in METRICS)

    def run_id(self, point: Point, seed: int) -> str:
        return f"{point.id}-s{seed}"

    def task(self, point: Point, seed: int) -> dict:
        """What a worker needs to run and measure one run (see :func:`sim.sweep.runner.run_one`)."""
        return {"run": self.run_id(point, seed), "point": point.id, "seed": seed, "config": point.scenario.config,
                "modules": self.modules, "extra_metrics": self.extra_metrics,
                "series": self.series.columns if self.series else None}


# ---------------------------------------------------------------------------------------- helpers


_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.,+-]")


def format_value(name: str, value) -> str:
    """A parameter value for ids and tables: durations in whole days/hours where they are whole."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and is_duration(keys.field_name(name)):
        for unit, seconds in (("d", 86_400), ("h", 3_600), ("m", 60)):
            if value and value % seconds == 0:
                return f"{value // seconds}{unit}"
        return f"{value}s"
    if isinstance(value, float):
        return f"{value:.12g}"
    if isinstance(value, (list, tuple)):
        return ",".join(format_value("", v) for v in value)
    return str(value)


def point_id(values: dict) -> str:
    """``base_rate-500_max_rate-2000``: derived from the values alone, so it names the same point in any
    design; safe as a file name (``events[0].depth`` is spelled ``events.0.depth``)."""
    parts = []
    for name, value in values.items():
        label = name.replace("[", ".").replace("]", "")
        parts.append(f"{label}-{_ID_UNSAFE.sub('_', format_value(name, value))}")
    return "_".join(parts)


def scenario_name(text: str) -> str:
    """``text`` (``<sweep>.<point id>``) as a scenario name may be spelt (:data:`sim.scenario.NAME`): other
    characters become ``_``, and a name over 100 characters keeps its first 91 and a hash of the whole,
    so distinct points keep distinct names."""
    name = re.sub(r"[^\w.-]", "_", text)
    return name if len(name) <= 100 else f"{name[:91]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def _hash(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _table(data: dict, key: str, where: str) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: expected a table [{key}], got {value!r}")
    return value


def _unknown(table: dict, known_keys: tuple[str, ...], where: str) -> None:
    unknown = [k for k in table if k not in known_keys]
    if unknown:
        raise ScenarioError(f"{where}: unknown key {unknown[0]!r} (known keys: {', '.join(known_keys)})")


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
    data, text = read_toml(path, "sweep", ScenarioError)
    return parse_sweep(data, str(path), path, text, backend)


HEADER_KEYS = ("name", "description", "scenario", "backend", "engine", "seeds", "metrics", "modules")


@attrs.frozen
class Header:
    """What sweep and search files share: the header's keys, the base scenario with its overrides, the
    varied parameters, the seeds, the user modules and the objective."""

    name: str
    description: str
    scenario_source: str
    backend: str
    engine: str
    overrides: dict
    space: Space
    seeds: tuple[int, ...]
    modules: tuple[tuple[str, str], ...]
    objective: Objective
    metrics: tuple[str, ...]


def parse_header(data: dict, source: str, path: Path, table: str, extra_keys: tuple[str, ...] = (),
                 bound: bool = False, backend_override: str | None = None) -> Header:
    """The shared part of a sweep (``table`` = "sweep") or search ("search") file; ``backend_override``
    (``--backend``) replaces the file's backend."""
    header = _table(data, table, source)
    where = f"{source}: [{table}]"
    _unknown(header, HEADER_KEYS + extra_keys, where)
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
    # Sweeps and searches run the fast engine unless the file says otherwise (it needs the model backend).
    engine = _string(header, "engine", where, default="fast" if backend == "model" else "reference", choices=ENGINES)
    if engine == "fast" and backend != "model":
        raise ScenarioError(f"{where} engine: the fast engine runs the models' semantics; it needs backend = "
                            f"\"model\", got {backend!r} (use engine = \"reference\")")
    modules = plugins.load(header.get("modules", []), path.parent, f"{where} modules")

    overrides = _table(data, "override", source)
    base_document, scenario = _base_scenario(scenario_source, overrides, backend, engine, path,
                                             f"{source}: [override]")
    vary_where = f"{source}: [vary]"
    space = Space(name, vary_where, scenario, base_document, document(scenario))
    space = attrs.evolve(space, params=_params(_table(data, "vary", source), vary_where, space))
    seeds = _seeds(header.get("seeds", 1), f"{where} seeds", scenario.config.seed)
    for seed in (min(seeds), max(seeds)):
        try:
            check_field(WorldConfig, "seed", seed)
        except InvalidValue as exc:
            raise ScenarioError(f"{where} seeds: expected {exc.expected}, got {show(seed)}") from None
    objective = _objective(_table(data, "objective", source), f"{source}: [objective]", bound)
    metrics = _metrics(header, where, objective)
    return Header(name, description, scenario_source, backend, engine, overrides, space, seeds, modules, objective,
                  metrics)


def check_tables(data: dict, source: str, kind: str, known: tuple[str, ...]) -> None:
    """A sweep's (``kind`` = "sweep") or search's tables: none unknown, the required ones there."""
    other = "search" if kind == "sweep" else "sweep"
    if other in data and kind not in data:
        raise ScenarioError(f"{source}: a {other} file (it has [{other}]); run it with `rbtc-sim {other}`")
    unknown = [k for k in data if k not in known]
    if unknown:
        raise ScenarioError(f"{source}: unknown table [{unknown[0]}] (known: {', '.join(known)})")
    for required in (kind, "vary", "objective"):
        if required not in data:
            raise ScenarioError(f"{source}: missing table [{required}]")


def parse_sweep(data: dict, source: str, path: Path, text: str = "", backend_override: str | None = None) -> Sweep:
    check_tables(data, source, "sweep", ("sweep", "override", "vary", "design", "series", "objective"))
    head = parse_header(data, source, path, "sweep", backend_override=backend_override)
    space, params, seeds = head.space, head.space.params, head.seeds
    design, count, design_seed, options = _design(_table(data, "design", source), f"{source}: [design]", params)
    series = _series(data, source)

    if design in sensitivity.KINDS:
        size = sensitivity.row_count(design, len(params), **options)
    else:
        size = count if design != "grid" else math.prod(len(p.values) if p.values is not None else p.steps
                                                          for p in params)
    if size * len(seeds) > MAX_RUNS:  # checked before anything is drawn: a typo in a grid multiplies fast
        raise ScenarioError(f"{source}: [vary] the design has {size:,} points x {len(seeds)} seeds = "
                            f"{size * len(seeds):,} runs; expected at most {MAX_RUNS:,}")
    values, notes, samples, unit = _design_values(params, design, count, design_seed, options)
    points = tuple(space.point(index, point_values) for index, point_values in enumerate(values))

    scenario = head.space.scenario
    base = base_hash(scenario, params)
    design_data = {"base": base, "points": [p.id for p in points], "seeds": list(seeds)}
    if samples:
        design_data["samples"] = list(samples)
    design_hash = _hash(design_data)
    return Sweep(head.name, head.description, path, text, scenario, head.scenario_source, head.overrides,
                 head.backend, params, design, count, design_seed, seeds, head.metrics, head.objective, points,
                 base, design_hash, tuple(notes), head.modules, series, samples, unit, options, space,
                 engine=head.engine)


def base_hash(scenario: Scenario, params: tuple[Param, ...]) -> str:
    """What every run depends on: the resolved base scenario (seed aside) and the names of the varied keys."""
    neutral = attrs.evolve(scenario, name="base", description="", expected="", path=None,
                           config=attrs.evolve(scenario.config, seed=0))
    return _hash({"format": FORMAT, "scenario": document(neutral), "vary": [p.name for p in params]})


def _base_scenario(name: str, overrides: dict, backend: str, engine: str, sweep_path: Path,
                   where: str) -> tuple[dict, Scenario]:
    """The base scenario file's own tables with [override] laid over them (the document points are made
    of), and that document parsed by sim.scenario."""
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
    base, _ = read_toml(path, "scenario", ScenarioError)
    if "duration" in world or "duration_s" in world:  # one spelling wins, whichever the base used
        base_world = dict(base.get("world", {}))
        base_world.pop("duration", None)
        base_world.pop("duration_s", None)
        base = dict(base, world=base_world)
    merged = _merge(base, overrides)
    merged.setdefault("world", {})
    merged["world"] = dict(merged["world"], backend=backend, engine=engine, log="summary")
    source = f"{where} over {path}" if overrides else str(path)
    return merged, parse(merged, source, path)


def _params(table: dict, where: str, space: Space) -> tuple[Param, ...]:
    if not table:
        raise ScenarioError(f"{where}: expected at least one parameter to vary (known: {', '.join(PARAMETERS)}, "
                            "or any scenario key such as \"protocol.pct_bps\")")
    params, seen = [], {}
    for key, spec in keys.flatten(table, where):
        name = keys.canonical(key, where)
        at = f"{where} {name}"
        if name in seen:
            raise ScenarioError(f"{at}: varied twice (as {seen[name]!r} and {key!r})")
        seen[name] = key
        if isinstance(spec, list):
            spec = {"values": spec}
        if not isinstance(spec, dict):
            raise ScenarioError(f"{at}: expected a list of values or a table {{ min, max [, steps] }}, got {spec!r}")
        _unknown(spec, ("values", "min", "max", "steps"), at)
        field = keys.field_name(name)
        if "values" in spec:
            if set(spec) != {"values"}:
                raise ScenarioError(f"{at}: give either values or min/max, not both")
            raw = spec["values"]
            if not isinstance(raw, list) or not raw:
                raise ScenarioError(f"{at} values: expected a non-empty list, got {raw!r}")
            kind = keys.value_kind(name, space.resolved, raw)
            if kind == "any":
                values = tuple(raw)
            else:
                values = tuple(coerce(v, int if kind == "int" else float, f"{at} values[{i}]", field)
                               for i, v in enumerate(raw))
            if len({json.dumps(v, sort_keys=True) for v in values}) != len(values):
                raise ScenarioError(f"{at} values: expected distinct values, got {raw!r}")
            param = Param(name, values=values, kind=kind)
        else:
            for bound in ("min", "max"):
                if bound not in spec:
                    raise ScenarioError(f"{at}: missing key {bound!r} (or give values = [...])")
            kind = keys.value_kind(name, space.resolved, [spec["min"], spec["max"]])
            if kind == "any":
                raise ScenarioError(f"{at}: min/max need a numeric key; give values = [...] for this one")
            number = int if kind == "int" else float
            low = coerce(spec["min"], number, f"{at} min", field)
            high = coerce(spec["max"], number, f"{at} max", field)
            if low > high:
                raise ScenarioError(f"{at}: expected min <= max, got min {spec['min']!r} > max {spec['max']!r}")
            steps = None
            if "steps" in spec:
                steps = coerce(spec["steps"], int, f"{at} steps", "steps")
                if steps < 1 or (steps == 1 and low != high):
                    raise ScenarioError(f"{at} steps: expected at least 2 (1 only when min == max), got {steps}")
                if kind == "int" and steps > high - low + 1:
                    raise ScenarioError(f"{at} steps: {steps} steps do not fit the {high - low + 1} integers "
                                        f"in [{spec['min']!r}, {spec['max']!r}]")
            param = Param(name, low=low, high=high, steps=steps, kind=kind)
        raws = ([(f"{at} values[{i}]", v) for i, v in enumerate(spec["values"])] if "values" in spec
                else [(f"{at} min", spec["min"]), (f"{at} max", spec["max"])])
        for place, raw in raws:  # every value on its own, also those a random design may not draw
            check_value(keys.path(name), raw, place, space.document)
        _check_key(space, param, where)
        params.append(param)
    return tuple(params)


def _check_key(space: Space, param: Param, where: str) -> None:
    """A key missing from the resolved base is unknown or optional: let the scenario parser say which."""
    if param.name in PARAMETERS:
        return
    try:
        keys.get(space.resolved, param.name)
        return
    except KeyError:
        pass
    value = param.values[0] if param.values is not None else param.low
    at = f"{where} {param.name}"
    parse(keys.apply(space.document, {param.name: value}, where), at, space.scenario.path)


def _design(table: dict, where: str, params: tuple[Param, ...]) -> tuple[str, int | None, int | None, dict]:
    _unknown(table, ("kind", "count", "seed", "samples", "second_order", "trajectories", "levels"), where)
    kind = _string(table, "kind", where, default="grid", choices=DESIGNS)
    vary = where.replace("[design]", "[vary]")
    own = {"grid": (), "random": ("count", "seed"), "latin": ("count", "seed"),
           "sobol": ("samples", "second_order", "seed"), "morris": ("trajectories", "levels", "seed")}[kind]
    for key in table:
        if key != "kind" and key not in own:
            takes = [k for k, keys_ in (("random and latin", ("count",)), ("sobol", ("samples", "second_order")),
                                        ("morris", ("trajectories", "levels"))) if key in keys_]
            reason = "a grid is every combination" if kind == "grid" else f"a {kind} design takes {', '.join(own)}"
            raise ScenarioError(f"{where} {key}: only {' and '.join(takes) or 'random, latin, sobol and morris'} "
                                f"designs take a {key} ({reason})")
    if kind == "grid":
        for p in params:
            if p.values is None and p.steps is None:
                raise ScenarioError(f"{vary} {p.name}: a grid needs values = [...] or steps with min/max")
        return kind, None, None, {}
    for p in params:
        if p.steps is not None:
            raise ScenarioError(f"{vary} {p.name} steps: steps only apply to grid designs; a {kind} design "
                                "draws from [min, max]")
    seed = coerce(table.get("seed", 1), int, f"{where} seed", "seed")
    if not 0 <= seed < MAX_DESIGN_SEED:
        raise ScenarioError(f"{where} seed: expected a whole number in [0, 2**128), got {show(seed)}")
    if kind == "sobol":
        if "samples" not in table:
            raise ScenarioError(f"{where}: a sobol design needs samples (N, a power of 2: the design has "
                                "N x (parameters + 2) points)")
        samples = coerce(table["samples"], int, f"{where} samples", "samples")
        if samples < 2 or samples & (samples - 1):
            raise ScenarioError(f"{where} samples: expected a power of 2 of at least 2 (Sobol' sequences balance "
                                f"only then), got {samples}")
        second = coerce(table.get("second_order", False), bool, f"{where} second_order", "second_order")
        if len(params) < 2:
            raise ScenarioError(f"{vary}: a sobol design needs at least 2 parameters")
        return kind, None, seed, {"samples": samples, "second_order": second}
    if kind == "morris":
        if "trajectories" not in table:
            raise ScenarioError(f"{where}: a morris design needs trajectories (r: the design has "
                                "r x (parameters + 1) points)")
        trajectories = coerce(table["trajectories"], int, f"{where} trajectories", "trajectories")
        if trajectories < 2:
            raise ScenarioError(f"{where} trajectories: expected at least 2, got {trajectories}")
        levels = coerce(table.get("levels", 4), int, f"{where} levels", "levels")
        if levels < 2 or levels % 2:
            raise ScenarioError(f"{where} levels: expected an even number of at least 2, got {levels}")
        return kind, None, seed, {"trajectories": trajectories, "levels": levels}
    if "count" not in table:
        raise ScenarioError(f"{where}: a {kind} design needs count (how many points to draw)")
    count = coerce(table["count"], int, f"{where} count", "count")
    if count < 1:
        raise ScenarioError(f"{where} count: expected at least 1 point, got {count}")
    return kind, count, seed, {}


def _distinct(rows: list[dict]) -> list[dict]:
    seen, values = set(), []
    for row in rows:
        key = point_id(row)
        if key not in seen:
            seen.add(key)
            values.append(row)
    return values


def _design_values(params: tuple[Param, ...], design: str, count: int | None, seed: int | None,
                   options: dict) -> tuple[list[dict], list[str], tuple[str, ...], tuple[tuple[float, ...], ...]]:
    """The design's distinct points (in first-appearance order), notes, and for sensitivity designs every
    sample row's point id and unit-cube coordinates."""
    names = [p.name for p in params]
    if design == "grid":
        columns = [p.grid_values() for p in params]
        mesh = np.array(np.meshgrid(*[np.arange(len(c)) for c in columns], indexing="ij")).reshape(len(params), -1).T
        return [dict(zip(names, (columns[j][i] for j, i in enumerate(row)))) for row in mesh.tolist()], [], (), ()
    if design in sensitivity.KINDS:
        unit = sensitivity.rows(design, names, seed=seed, **options)
        columns = [p.pick(unit[:, j]) for j, p in enumerate(params)]
        rows = [dict(zip(names, row)) for row in zip(*columns)]
        values = _distinct(rows)
        notes = []
        weak = {n: v for n, v in sensitivity.resolution(design, names, unit, **options).items() if v < 0.8}
        if weak:
            more = "samples" if design == "sobol" else "trajectories"
            notes.append(f"the {design} design is too small to separate {', '.join(weak)}: a metric equal to "
                         f"{next(iter(weak))} alone would get an index of {next(iter(weak.values())):.2f} instead "
                         f"of 1; raise {more} (the indices below are unreliable)")
        if len(values) < len(rows):
            notes.append(f"the {design} design has {len(rows)} sample rows naming {len(values)} distinct points "
                         "(integer and listed values repeat); each distinct point runs once per seed")
        return values, notes, tuple(point_id(r) for r in rows), tuple(tuple(map(float, r)) for r in unit.tolist())
    rng = np.random.default_rng(seed)
    columns = []
    for p in params:
        if design == "latin":  # one draw in each of `count` equal strata, strata shuffled per parameter
            u = (rng.permutation(count) + rng.random(count)) / count
        else:
            u = rng.random(count)
        columns.append(p.pick(u))
    values = _distinct([dict(zip(names, row)) for row in zip(*columns)])
    notes = []
    if len(values) < count:
        notes.append(f"the {design} design drew {count} points, {count - len(values)} of them duplicates "
                     f"of earlier ones after rounding to integers: {len(values)} distinct points run")
    return values, notes, (), ()


def _seeds(value, where: str, first: int) -> tuple[int, ...]:
    if isinstance(value, list):
        if not value:
            raise ScenarioError(f"{where}: expected a non-empty list of seeds or a count, got []")
        seeds = tuple(coerce(v, int, f"{where}[{i}]", "seed") for i, v in enumerate(value))
        if len(set(seeds)) != len(seeds):
            raise ScenarioError(f"{where}: expected distinct seeds, got {value!r}")
        return seeds
    count = coerce(value, int, where, "seeds")
    if not 1 <= count <= MAX_RUNS:
        raise ScenarioError(f"{where}: expected a count of seeds in [1, {MAX_RUNS:,}], got {show(value)}")
    return tuple(range(first, first + count))


def _objective(table: dict, where: str, bound: bool = False) -> Objective:
    _unknown(table, ("metric", "goal", "constraints", "bound") if bound else ("metric", "goal", "constraints"), where)
    names = tuple(known())
    if "metric" not in table:
        raise ScenarioError(f"{where}: missing key 'metric' (one of: {', '.join(names)})")
    metric = _string(table, "metric", where, choices=names)
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
        if match.group(1) not in names:
            raise ScenarioError(f"{at}: unknown metric {match.group(1)!r} (known: {', '.join(names)})")
        constraints.append(Constraint(match.group(1), match.group(2), float(match.group(3))))
    limit = None
    if "bound" in table:
        value = table["bound"]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ScenarioError(f"{where} bound: expected a number, got {value!r}")
        limit = float(value)
    return Objective(metric, goal, tuple(constraints), limit)


def _metrics(header: dict, where: str, objective: Objective) -> tuple[str, ...]:
    raw = header.get("metrics")
    names = known()
    if raw is None:
        chosen = list(METRICS)
    else:
        if not isinstance(raw, list) or not raw:
            raise ScenarioError(f"{where} metrics: expected a non-empty list of metric names, got {raw!r}")
        chosen = []
        for i, item in enumerate(raw):
            if not isinstance(item, str) or item not in names:
                raise ScenarioError(f"{where} metrics[{i}]: unknown metric {item!r} (known: {', '.join(names)})")
            if item not in chosen:
                chosen.append(item)
    for extra in [objective.metric, *(c.metric for c in objective.constraints), "violations"]:
        if extra not in chosen:
            chosen.append(extra)
    return tuple(chosen)


def _series(data: dict, source: str) -> Series | None:
    if "series" not in data:
        return None
    table = _table(data, "series", source)
    where = f"{source}: [series]"
    _unknown(table, ("columns", "bands"), where)
    available = [c for c in SERIES_COLUMNS if c != "t"]

    def names(key: str, default: list[str]) -> list[str]:
        raw = table.get(key, default)
        if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw):
            raise ScenarioError(f"{where} {key}: expected a list of metrics.csv columns, got {raw!r}")
        for i, column in enumerate(raw):
            if column not in available:
                raise ScenarioError(f"{where} {key}[{i}]: unknown column {column!r} (known: {', '.join(available)})")
        return list(dict.fromkeys(raw))

    columns = names("columns", available)
    bands = names("bands", [c for c in DEFAULT_BANDS if c in columns])
    missing = [c for c in bands if c not in columns]
    if missing:
        raise ScenarioError(f"{where} bands: {missing[0]!r} is not among the kept columns")
    return Series(tuple(columns), tuple(bands))


__all__ = ["Constraint", "Objective", "PARAMETERS", "Param", "Point", "Series", "Space", "Sweep", "SWEEP_DIR",
           "format_value", "load_sweep", "parse_sweep", "point_id", "resolve_sweep"]

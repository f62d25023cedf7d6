"""Search files: the same base, overrides, [vary] and objective as sweep files, an optimiser instead of
a design. Layout::

    [search]     name, description, scenario, backend, engine, seeds, metrics, modules (as [sweep]), and
                 budget (trials), batch (trials asked at once), sampler = "tpe" | "cmaes" | "random",
                 seed (the optimiser's), startup (random trials before TPE models the results)
    [override]   tables of a scenario file laid over the base
    [vary]       key = { min, max } (integers or real numbers) or [values] / { values = [...] } (categories)
    [objective]  metric, goal = "maximize" | "minimize", constraints = [...], bound (optional): the
                 claim under test — a trial beyond it breaks it

A trial is one point (the varied values) run with every seed; its value is the metric's mean over
seeds. Trials that miss a constraint are infeasible: TPE learns where they lie (Optuna's constrained
TPE), and none is reported as the worst case.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from contracts_model.validation import show
from sim.input_files import read_toml
from sim.scenario import ScenarioError, coerce
from sim.sweep.spec import (
    Header,
    Sweep,
    _hash,
    _string,
    _table,
    base_hash,
    check_tables,
    parse_header,
    resolve_sweep,
)

SAMPLERS = ("tpe", "cmaes", "random")
KEYS = ("budget", "batch", "sampler", "seed", "startup")
#: Refuse searches beyond this many runs (trials x seeds).
MAX_RUNS = 100_000
#: The optimiser's seed is a whole number below this (Optuna's samplers take 32-bit seeds).
MAX_SEED = 2**32


@attrs.frozen
class Search:
    name: str
    description: str
    path: Path
    text: str
    head: Header = attrs.field(repr=False)
    budget: int
    batch: int
    sampler: str
    seed: int
    startup: int
    base_hash: str
    search_hash: str

    @property
    def params(self):
        return self.head.space.params

    @property
    def objective(self):
        return self.head.objective

    @property
    def seeds(self) -> tuple[int, ...]:
        return self.head.seeds

    def sweep(self, points: tuple = ()) -> Sweep:
        """The trials' points as a sweep, so that the sweep machinery (worker pools, run files, resuming,
        tables) runs and stores them."""
        h = self.head
        return Sweep(self.name, self.description, self.path, self.text, h.space.scenario, h.scenario_source,
                     h.overrides, h.backend, h.space.params, "search", None, self.seed, h.seeds, h.metrics,
                     h.objective, tuple(points), self.base_hash, self.search_hash, (), h.modules, None,
                     space=h.space, engine=h.engine)


def load_search(name_or_path: str) -> Search:
    path = resolve_sweep(name_or_path)
    data, text = read_toml(path, "search", ScenarioError)
    return parse_search(data, str(path), path, text)


def parse_search(data: dict, source: str, path: Path, text: str = "") -> Search:
    check_tables(data, source, "search", ("search", "override", "vary", "objective"))
    head = parse_header(data, source, path, "search", extra_keys=KEYS, bound=True)
    table = _table(data, "search", source)
    where = f"{source}: [search]"
    budget = _positive(table, "budget", where, 48)
    batch = _positive(table, "batch", where, 8)
    if batch > budget:
        raise ScenarioError(f"{where} batch: {batch} trials at once exceed the budget of {budget}")
    sampler = _string(table, "sampler", where, default="tpe", choices=SAMPLERS)
    seed = coerce(table.get("seed", 1), int, f"{where} seed", "seed")
    if not 0 <= seed < MAX_SEED:
        raise ScenarioError(f"{where} seed: expected a whole number in [0, 2**32), got {show(seed)}")
    startup = coerce(table.get("startup", 10), int, f"{where} startup", "startup")
    if budget * len(head.seeds) > MAX_RUNS:
        raise ScenarioError(f"{where}: {budget:,} trials x {len(head.seeds)} seeds = {budget * len(head.seeds):,} "
                            f"runs; expected at most {MAX_RUNS:,}")
    for p in head.space.params:
        if p.steps is not None:
            raise ScenarioError(f"{source}: [vary] {p.name} steps: a search draws from [min, max]; steps are for "
                                "grid sweeps")
    base = base_hash(head.space.scenario, head.space.params)
    search_hash = _hash({"base": base, "params": [p.as_dict() for p in head.space.params],
                         "seeds": list(head.seeds), "budget": budget, "batch": batch, "sampler": sampler,
                         "seed": seed, "startup": startup, "objective": attrs.asdict(head.objective)})
    return Search(head.name, head.description, path, text, head, budget, batch, sampler, seed, startup, base,
                  search_hash)


def _positive(table: dict, key: str, where: str, default: int) -> int:
    value = coerce(table.get(key, default), int, f"{where} {key}", key)
    if value < 1:
        raise ScenarioError(f"{where} {key}: expected at least 1, got {value}")
    return value

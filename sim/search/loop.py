"""The search loop, over any evaluator: ask a batch, evaluate it, tell the results in ask order.

``evaluate(values)`` takes the batch's parameter values (one dict per trial, in ask order) and
returns, in the same order, each trial's metrics (the means over seeds) or ``None`` for a trial that
could not be measured. Worlds are one evaluator (:mod:`sim.search.driver`); a plain function of
the values is another, which is how the tests check the optimiser against a grid.
"""

from __future__ import annotations

import math
from typing import Callable

import attrs

from sim.search.optimizer import Optimizer


@attrs.define
class Trial:
    number: int
    batch: int
    values: dict
    metrics: dict | None  # means over seeds; None: failed
    value: float | None  # the objective's metric
    feasible: bool  # every constraint holds
    breaks: bool  # beyond the objective's bound

    @property
    def ok(self) -> bool:
        return self.value is not None and self.feasible


def search_loop(search, evaluate: Callable[[list[dict]], list[dict | None]], *,
                on_batch: Callable[[list[Trial]], None] | None = None) -> list[Trial]:
    """Run ``search.budget`` trials in batches of ``search.batch``; returns every trial in ask order."""
    objective = search.objective
    optimizer = Optimizer(search.params, objective.goal, search.sampler, search.seed, search.startup,
                          constrained=bool(objective.constraints))
    trials: list[Trial] = []
    batch = 0
    while len(trials) < search.budget:
        asked = optimizer.ask(min(search.batch, search.budget - len(trials)))
        results = evaluate([values for _, values in asked])
        if len(results) != len(asked):
            raise ValueError(f"the evaluator answered {len(results)} trials for a batch of {len(asked)}")
        done = []
        for (trial, values), metrics in zip(asked, results):
            value = _number(metrics.get(objective.metric)) if metrics is not None else None
            constraint_values = [_number(metrics.get(c.metric)) if metrics is not None else None
                                 for c in objective.constraints]
            excess = [c.excess(v) for c, v in zip(objective.constraints, constraint_values)]
            feasible = all(c.holds(v) for c, v in zip(objective.constraints, constraint_values))
            optimizer.tell(trial, value, excess)
            done.append(Trial(len(trials) + len(done), batch, values, metrics, value, feasible,
                              feasible and objective.breaks(value)))
        trials += done
        batch += 1
        if on_batch is not None:
            on_batch(trials)
    return trials


def best(search, trials: list[Trial]) -> Trial | None:
    """The worst case found: the feasible trial with the most extreme objective (the earliest on ties)."""
    found = None
    for trial in trials:
        if trial.ok and (found is None or search.objective.better(trial.value, found.value)):
            found = trial
    return found


def _number(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value

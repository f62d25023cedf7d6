"""The optimiser: an Optuna study asked and told in fixed-size batches.

Each batch asks ``batch`` trials, evaluates them all (in parallel, in any order), then tells every
result in the order the trials were asked. What the sampler sees therefore depends only on the
results, never on which worker finished first, and the same seed gives the same trials on any number
of workers. Integer ranges are Optuna integer distributions, real ranges float distributions (the
suggestion rounded to 6 significant digits, like a random sweep's draws), listed values categories
(by index, so any TOML value can be one).
"""

from __future__ import annotations

import math
import warnings

from sim.sweep.spec import Param, _round

#: Told in place of an infinite constraint excess (a missing metric), which Optuna cannot order.
LARGE = 1e300


def _quiet():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def distribution(param: Param):
    optuna = _quiet()
    d = optuna.distributions
    if param.values is not None:
        return d.CategoricalDistribution(tuple(range(len(param.values))))
    if param.kind == "int":
        return d.IntDistribution(int(param.low), int(param.high))
    return d.FloatDistribution(float(param.low), float(param.high))


def value_of(param: Param, suggestion):
    if param.values is not None:
        return param.values[int(suggestion)]
    if param.kind == "int":
        return int(suggestion)
    return min(param.high, max(param.low, _round(float(suggestion), 6)))


class Optimizer:
    def __init__(self, params: tuple[Param, ...], goal: str, sampler: str, seed: int, startup: int,
                 constrained: bool):
        optuna = _quiet()
        samplers = optuna.samplers
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if sampler == "tpe":
                chosen = samplers.TPESampler(seed=seed, n_startup_trials=startup, multivariate=True,
                                             constraints_func=_constraints if constrained else None)
            elif sampler == "cmaes":
                chosen = samplers.CmaEsSampler(seed=seed, n_startup_trials=startup,
                                               independent_sampler=samplers.RandomSampler(seed=seed),
                                               warn_independent_sampling=False)
            else:
                chosen = samplers.RandomSampler(seed=seed)
        self.params = params
        self.study = optuna.create_study(direction=goal, sampler=chosen)
        self.distributions = {p.name: distribution(p) for p in params}
        self.state = optuna.trial.TrialState

    def ask(self, count: int) -> list[tuple[object, dict]]:
        """``count`` new trials and the parameter values each stands for, in [vary] order."""
        asked = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(count):
                trial = self.study.ask(self.distributions)
                asked.append((trial, {p.name: value_of(p, trial.params[p.name]) for p in self.params}))
        return asked

    def tell(self, trial, value: float | None, excess: list[float]) -> None:
        """The result of one trial (``None``: it failed or the metric does not apply); ``excess`` per
        constraint, <= 0 where it holds."""
        trial.set_user_attr("constraints", [min(LARGE, e) for e in excess])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if value is None or not math.isfinite(value):
                self.study.tell(trial, state=self.state.FAIL)
            else:
                self.study.tell(trial, value)


def _constraints(frozen) -> list[float]:
    return frozen.user_attrs.get("constraints", [LARGE])

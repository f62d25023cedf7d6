"""Global sensitivity: Sobol' and Morris designs drawn and analysed with SALib.

A design is a matrix of samples in the unit hypercube, one column per varied parameter, drawn by
SALib's samplers (Saltelli's scheme on a scrambled Sobol' sequence; Morris trajectories on a grid
of ``levels``). Each row becomes a point through :meth:`sim.sweep.spec.Param.pick` (ranges of
integers are rounded, lists of values are categories), so two rows can name the same point; the
design keeps every row, in SALib's order, and the analysis reads each row's metric as the mean over
seeds of its point.

Indices per metric: Sobol' gives the first-order index ``S1`` (the share of the metric's variance
that one parameter explains alone) and the total index ``ST`` (alone and with every interaction),
each with a bootstrap 95 % confidence half-width; Morris gives ``mu_star`` (the mean absolute
elementary effect, in metric units per whole range of the parameter), ``mu``, ``sigma`` and a
bootstrap 95 % half-width for ``mu_star``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

KINDS = ("sobol", "morris")
#: Bootstrap resamples for the confidence intervals.
RESAMPLES = 200
SOBOL_COLUMNS = ("S1", "S1_conf", "ST", "ST_conf")
MORRIS_COLUMNS = ("mu_star", "mu_star_conf", "mu", "sigma")


def _problem(names: list[str]) -> dict:
    return {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}


def rows(kind: str, names: list[str], *, samples: int = 0, second_order: bool = False, trajectories: int = 0,
         levels: int = 4, seed: int = 1) -> np.ndarray:
    """The design's unit-hypercube sample matrix (rows x parameters), deterministic for ``seed``."""
    problem = _problem(names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "sobol":
            from SALib.sample import sobol

            return sobol.sample(problem, samples, calc_second_order=second_order, scramble=True, seed=seed)
        if kind == "morris":
            from SALib.sample import morris

            return morris.sample(problem, trajectories, num_levels=levels, seed=seed)
    raise ValueError(f"unknown sensitivity design {kind!r}")


def row_count(kind: str, parameters: int, *, samples: int = 0, second_order: bool = False,
              trajectories: int = 0) -> int:
    if kind == "sobol":
        return samples * ((2 * parameters + 2) if second_order else (parameters + 2))
    return trajectories * (parameters + 1)


def analyze(kind: str, names: list[str], unit: np.ndarray, y: np.ndarray, *, second_order: bool = False,
            levels: int = 4, seed: int = 1) -> dict[str, list[float]] | str:
    """Indices of one metric over the design's rows, per parameter in ``names`` order; or, when the
    metric cannot be analysed, a short reason (missing in some rows, or the same in every row)."""
    y = np.asarray(y, dtype=np.float64)
    if y.size == 0 or not np.all(np.isfinite(y)):
        return "missing in some runs"
    if float(np.ptp(y)) == 0.0:
        return "the same in every run: nothing to apportion"
    problem = _problem(names)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if kind == "sobol":
            from SALib.analyze import sobol

            result = sobol.analyze(problem, y, calc_second_order=second_order, num_resamples=RESAMPLES,
                                   conf_level=0.95, print_to_console=False, seed=seed)
            return {c: [float(v) for v in result[c]] for c in SOBOL_COLUMNS}
        from SALib.analyze import morris

        result = morris.analyze(problem, np.asarray(unit, dtype=np.float64), y, num_resamples=RESAMPLES,
                                conf_level=0.95, num_levels=levels, seed=seed)
        return {c: [float(v) for v in result[c]] for c in MORRIS_COLUMNS}


def resolution(kind: str, names: list[str], unit: np.ndarray, **options) -> dict[str, float]:
    """How well the design separates each parameter: the index it gives a metric that *is* that
    parameter (S1 for Sobol', which should be 1; mu* for Morris, which should be 1). Scrambled Sobol'
    sequences with few points per dimension can correlate a parameter's two sample columns, and then
    a parameter that explains everything scores far below 1 (5 parameters at N = 16: under 0.2)."""
    key = "S1" if kind == "sobol" else "mu_star"
    options = {k: v for k, v in options.items() if k in ("second_order", "levels")}
    return {name: analyze(kind, names, unit, unit[:, j], seed=1, **options)[key][j] for j, name in enumerate(names)}


def columns(kind: str) -> tuple[str, ...]:
    return SOBOL_COLUMNS if kind == "sobol" else MORRIS_COLUMNS


def clean(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def indices(sweep, points: list[dict]) -> tuple[list[dict], dict[str, str]]:
    """The design's indices for every tabulated metric, from the points table (the metric's mean over
    seeds at each point): one row per (metric, parameter), and the metrics left out with the reason."""
    by_id = {row["point"]: row for row in points}
    names = [p.name for p in sweep.params]
    unit = np.array(sweep.unit, dtype=np.float64)
    rows, skipped = [], {}
    if any(not by_id.get(pid, {}).get("runs") for pid in set(sweep.samples)):
        return [], {m: "the sweep is incomplete" for m in sweep.metrics}
    for metric in sweep.metrics:
        y = np.array([np.nan if by_id[pid][f"{metric}_mean"] is None else by_id[pid][f"{metric}_mean"]
                      for pid in sweep.samples], dtype=np.float64)
        result = analyze(sweep.design, names, unit, y, seed=1 if sweep.design_seed is None else sweep.design_seed, **_analysis_options(sweep))
        if isinstance(result, str):
            skipped[metric] = result
            continue
        for j, name in enumerate(names):
            rows.append({"metric": metric, "parameter": name, **{c: clean(result[c][j]) for c in columns(sweep.design)}})
    return rows, skipped


def _analysis_options(sweep) -> dict:
    if sweep.design == "sobol":
        return {"second_order": sweep.options["second_order"]}
    return {"levels": sweep.options["levels"]}


def ranked_parameters(rows: list[dict], metric: str, kind: str) -> list[dict]:
    """One metric's rows, the most influential parameter first (by ST, or by mu_star for Morris)."""
    key = "ST" if kind == "sobol" else "mu_star"
    chosen = [r for r in rows if r["metric"] == metric]
    return sorted(chosen, key=lambda r: -(r[key] if r[key] is not None else -math.inf))

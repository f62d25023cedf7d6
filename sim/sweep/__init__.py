"""Yield parameter sweeps: many seeded worlds per YieldScales parameter set, compared on an objective.

    rbtc-sim sweep scenarios/sweeps/yield_example.toml [--out DIR] [--workers N] [--scheduler tcp://HOST:PORT]

Modules, one idea each: :mod:`~sim.sweep.spec` (the sweep file and its design),
:mod:`~sim.sweep.metrics` (what one world yields, aggregation over seeds), :mod:`~sim.sweep.runner`
(one run, in a worker), :mod:`~sim.sweep.execute` (local processes or Dask),
:mod:`~sim.sweep.store` (the output folder, resuming), :mod:`~sim.sweep.driver` (putting it together),
:mod:`~sim.sweep.tables`, :mod:`~sim.sweep.plots`, :mod:`~sim.sweep.summary` (outputs) and
:mod:`~sim.sweep.cli` (the command).
"""

from sim.sweep.cli import add_arguments, cmd_sweep, run_sweep

__all__ = ["add_arguments", "cmd_sweep", "run_sweep"]

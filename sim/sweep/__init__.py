"""Parameter sweeps: many seeded worlds per parameter set, compared on an objective.

    rbtc-sim sweep scenarios/sweeps/yield_example.toml [--out DIR] [--workers N] [--scheduler tcp://HOST:PORT]

Modules, one idea each: :mod:`~sim.sweep.spec` (the sweep file and its design),
:mod:`~sim.sweep.keys` (scenario keys and setting them in a scenario document),
:mod:`~sim.sweep.sensitivity` (Sobol' and Morris designs and indices, with SALib),
:mod:`~sim.sweep.metrics` (what one world yields, user metrics, aggregation over seeds),
:mod:`~sim.sweep.plugins` (user modules, imported in every worker), :mod:`~sim.sweep.runner`
(one run, in a worker), :mod:`~sim.sweep.execute` (local processes or Dask),
:mod:`~sim.sweep.store` (the output folder, resuming), :mod:`~sim.sweep.driver` (putting it together),
:mod:`~sim.sweep.tables`, :mod:`~sim.sweep.plots`, :mod:`~sim.sweep.summary` (outputs) and
:mod:`~sim.sweep.cli` (the command). The adversarial search (:mod:`sim.search`) runs its trials
through this machinery; :mod:`sim.research` is the Python API over both.
"""

from sim.sweep.cli import add_arguments, cmd_sweep, run_sweep

__all__ = ["add_arguments", "cmd_sweep", "run_sweep"]

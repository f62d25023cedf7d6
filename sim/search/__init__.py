"""Adversarial search: within bounds, the parameters and behaviours that drive a metric to its worst.

    rbtc-sim search scenarios/sweeps/worst_backing_window.toml [--out DIR] [--workers N] [--scheduler ...]

Modules: :mod:`~sim.search.spec` (the search file), :mod:`~sim.search.optimizer` (Optuna, asked and
told in fixed batches), :mod:`~sim.search.loop` (the loop over any evaluator),
:mod:`~sim.search.driver` (evaluating trials as sweep runs on the sweep's worker pools, writing the
outputs), :mod:`~sim.search.report` (progress plot, worst scenario, summary) and
:mod:`~sim.search.cli` (the command).
"""

"""Testing any build of the ReserveBTC contracts: the property suite, its strategies and fixtures.

* :class:`Build`: compiled artifacts, their wiring and declared deviations; :func:`deployed` gives the
  reference models and the build in lockstep, deployed once and rewound.
* :class:`ProtocolMachine`: the Hypothesis state machine checking PROTOCOL.md's invariants on a build;
  :func:`machine_for` makes one for a build and parameters; :data:`SUITES` are the standard ones.
* :mod:`sim.testing.strategies`: ``users``, ``balances``, ``wei`` and the accounts the suite uses.
* Counterexamples: :func:`run_machine`, :func:`replay_counterexample`.
* A pytest plugin (``pytest --rbtc-contracts DIR``) runs the suite against a build and offers the
  fixtures ``rbtc_build`` and ``rbtc_chain`` for properties of your own.
"""

from sim.testing.build import Build, deployed
from sim.testing.counterexample import Counterexample, run_machine
from sim.testing.counterexample import replay as replay_counterexample
from sim.testing.machine import REQUIRED_PATHS, InvariantFailure, ProtocolMachine, machine_for, step
from sim.testing.strategies import STRANGER, USERS, balances, users, wei
from sim.testing.suites import BUDGETS, SUITES, Budget, machines

__all__ = ["BUDGETS", "REQUIRED_PATHS", "STRANGER", "SUITES", "USERS", "Budget", "Build", "Counterexample",
           "InvariantFailure", "ProtocolMachine", "balances", "deployed", "machine_for", "machines",
           "replay_counterexample", "run_machine", "step", "users", "wei"]

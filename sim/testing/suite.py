"""The property suites as pytest tests, against the build ``pytest --rbtc-contracts DIR`` chose.

Collected only when the plugin adds it (see :mod:`sim.testing.plugin`). One test class per suite
(:data:`sim.testing.suites.SUITES`) at the chosen budget, derandomized (the same build
and budget give the same verdict on every run); a suite the build cannot run is reported
as skipped with the reason.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from sim.testing.build import Build
from sim.testing.plugin import CHOSEN
from sim.testing.suites import BUDGETS, machines



def _tests() -> dict:
    """One Hypothesis test class per suite the build can run; a skipping test per suite it cannot."""
    build: Build = CHOSEN["build"] or Build.at(None)
    budget = BUDGETS[CHOSEN["budget"]]
    suites, skipped = machines(build)
    tests = {}
    for machine in suites.values():
        case = machine.TestCase
        # derandomized: the same build at the same budget gets the same verdict on every run and machine
        case.settings = settings(max_examples=budget.examples, stateful_step_count=budget.steps, deadline=None,
                                 derandomize=True, database=None, suppress_health_check=list(HealthCheck))
        tests[f"TestRbtc{machine.__name__}"] = case
    for name, reason in skipped.items():
        def skipped_suite(reason=reason):
            pytest.skip(reason)

        tests[f"test_rbtc_suite_{name}"] = skipped_suite
    return tests


globals().update(_tests())

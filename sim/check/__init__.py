"""``rbtc-sim check``: check any build of the contracts against PROTOCOL.md (see :mod:`sim.check.runner`)."""

from sim.check.runner import CheckResult, deployment_checks, run_check

__all__ = ["CheckResult", "deployment_checks", "run_check"]

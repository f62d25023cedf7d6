"""The standard property suites: which machines run against a build, and how long (budgets).

Three parameter sets, chosen so every rule is exercised where it bites:

* ``testnet``: the public testnet preset (no fixed fee: a decrease is free);
* ``fixed_fee``: a fixed leg, so a decrease costs a fee and the emergency burn happens;
* ``yield_caps``: a fixed leg and yield parameters whose base rate exceeds the cap at full scale
  (so ``maxRate`` bites) with tiers reached within a run (Silver after 25 days, Gold after 60).
  It needs ``configureYield`` (the project's extra); a build without it skips this suite and says so.
"""

from __future__ import annotations

from attrs import frozen
from hypothesis import Phase

from contracts_model.params import PRESETS, ProtocolParams, YieldParams
from sim.testing.build import Build
from sim.testing.machine import ProtocolMachine, machine_for

DAY = 86_400
#: Every Hypothesis phase but ``explain``, which re-runs a failing example under a line tracer (minutes
#: on a build, for a note on which source lines only failing runs reached); the counterexample's own
#: rendering says what failed.
PHASES = tuple(phase for phase in Phase if phase is not Phase.explain)

SUITES: dict[str, ProtocolParams] = {
    "testnet": PRESETS["testnet"],
    "fixed_fee": PRESETS["fixed_fee"],
    "yield_caps": ProtocolParams(pct_bps=10, fixed_wei=10**12, wei_per_sat=10**9, min_confirmations=1,
                                 max_fee_per_sync_wei=10**16,
                                 yield_params=YieldParams(base_rate=5_000, max_rate=2_000, silver_after=25 * DAY,
                                                          gold_after=60 * DAY, bronze_multiplier=110,
                                                          silver_multiplier=125, gold_multiplier=150)),
}


@frozen
class Budget:
    """How much of the property suite and of the worlds a check runs."""

    name: str
    examples: int  # Hypothesis examples per suite
    steps: int  # steps per example
    world_users: int
    world_days: float


#: Sized for revm (the default EVM of a check where it loads): on the 2-core machine ``quick`` takes about
#: a minute and ``ci`` about six; on py-evm the suites take about 30x as long and the worlds 5x.
#: ``smoke`` is for the harness's own CI tests (the mutant subset), a few seconds per build.
BUDGETS = {
    "smoke": Budget("smoke", examples=30, steps=30, world_users=40, world_days=1.0),
    "quick": Budget("quick", examples=150, steps=50, world_users=300, world_days=3.0),
    "ci": Budget("ci", examples=1_000, steps=60, world_users=500, world_days=4.0),
    "deep": Budget("deep", examples=5_000, steps=80, world_users=1_000, world_days=7.0),
}


def yield_not_configurable(build: Build) -> str | None:
    """Why ``build``'s yield parameters cannot be set (None when they can)."""
    from contracts_model.deployment import DEPLOYMENT_ORDER

    if build.deployment.holder("pool_oracle") in DEPLOYMENT_ORDER:
        return f"the pool's oracle is the contract {build.deployment.holder('pool_oracle')}, which cannot configureYield"
    if not build.evm_backend(SUITES["testnet"]).has_function("YieldScalesPool", "configureYield"):
        return "the build has no configureYield, so its yield parameters cannot be set"
    return None


def machines(build: Build) -> tuple[dict[str, type[ProtocolMachine]], dict[str, str]]:
    """The suite machines for ``build``, and the suites skipped with why."""
    chosen, skipped = {}, {}
    why_not = yield_not_configurable(build)
    for name, params in SUITES.items():
        if params.yield_params is not None and why_not:
            skipped[name] = why_not
            continue
        chosen[name] = machine_for(build, params, name="".join(part.title() for part in name.split("_")))
    return chosen, skipped

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

from contracts_model.params import PRESETS, ProtocolParams, YieldParams
from sim.testing.build import Build
from sim.testing.machine import ProtocolMachine, machine_for

DAY = 86_400

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


#: Sized for revm (the default EVM of a check where it loads); on py-evm a budget takes about 30x as long
#: in the suites and 5x in the worlds.
BUDGETS = {
    "quick": Budget("quick", examples=50, steps=40, world_users=60, world_days=1.0),
    "ci": Budget("ci", examples=300, steps=50, world_users=300, world_days=3.0),
    "deep": Budget("deep", examples=2_000, steps=80, world_users=1_000, world_days=7.0),
}


def machines(build: Build, has_configure_yield: bool = True) -> tuple[dict[str, type[ProtocolMachine]], dict[str, str]]:
    """The suite machines for ``build``, and the suites skipped with why."""
    chosen, skipped = {}, {}
    for name, params in SUITES.items():
        if params.yield_params is not None and not has_configure_yield:
            skipped[name] = "the build has no configureYield, so its yield parameters cannot be set"
            continue
        chosen[name] = machine_for(build, params, name="".join(part.title() for part in name.split("_")))
    return chosen, skipped

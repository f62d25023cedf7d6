"""The scenario worlds ``rbtc-sim check`` runs against a build, sized by the budget.

Each is a built-in scenario, on the lockstep backend (the reference models beside the build, on the
build's EVM), with
the build's wiring and declared deviations, shortened to the budget (its scheduled events keep their
place relative to the run's length), and tuned so every rule bites somewhere: probes try soulbound
transfers and restricted calls; users withdraw; in ``fee_drought`` the committee sends syncs the user
cannot pay for, so the contract must refuse them with ``NeedsTopUp``; ``yield_season`` reaches Silver
and Gold within days and, when the build can be configured, a base rate above the cap.
"""

from __future__ import annotations

import attrs

from contracts_model.params import YieldParams
from sim.config import DAY, AdversaryConfig
from sim.scenario import Scenario, load
from sim.testing.suites import Budget

#: The worlds, in the order they run: (built-in scenario, why it is in the check).
WORLDS = (
    ("baseline", "ordinary traffic: syncs, fees, joins, claims, probes"),
    ("fee_drought", "fees run dry: NeedsTopUp, emergency burns, top-ups and re-mints"),
    ("dispute_storm", "an outage, then a dispute wave: disputes decided as the chain says"),
    ("deep_reorg", "reorgs deeper than minConfirmations: bounded backing windows"),
    ("yield_season", "the pool over its tiers: Silver, Gold, claims, the rate cap"),
)


def _scaled(scenario: Scenario, users: int, duration_s: int) -> Scenario:
    config = scenario.config
    factor = duration_s / config.duration_s
    schedule = tuple(
        attrs.evolve(event, at_s=int(event.at_s * factor),
                     params={k: (int(v * factor) if k == "duration_s" else v) for k, v in event.params.items()})
        for event in config.schedule
    )
    return attrs.evolve(scenario, config=attrs.evolve(config, users=users, duration_s=duration_s, schedule=schedule))


def world_scenario(name: str, budget: Budget, *, seed: int, contracts_dir: str | None, deployment_file: str | None,
                   deviations_file: str | None, configurable_yield: bool, evm: str = "pyevm") -> Scenario:
    """The built-in scenario ``name``, made into a check world for ``budget``."""
    scenario = load(name)
    duration = int(budget.world_days * DAY)
    if name == "dispute_storm":  # its outage and wave come after a day: keep the whole story
        duration = max(duration, int(1.2 * DAY))
    scenario = _scaled(scenario, budget.world_users, duration)
    c = scenario.config
    changes = dict(seed=seed, backend="lockstep-revm" if evm == "revm" else "lockstep", contracts_dir=contracts_dir,
                   deployment_file=deployment_file,
                   deviations_file=deviations_file, adversary=AdversaryConfig(probes_per_day=2.0),
                   agents=attrs.evolve(c.agents, withdraw_per_day=max(c.agents.withdraw_per_day, 0.3),
                                       onboarding_window_s=min(c.agents.onboarding_window_s, duration // 4)))
    if name == "fee_drought":
        changes["oracle"] = attrs.evolve(c.oracle, precheck_fees=False)
    if name == "yield_season":
        tiers = dict(silver_after=int(duration * 0.3), gold_after=int(duration * 0.6))
        if configurable_yield:  # otherwise the default tiers take months: the check says they were not reached
            changes["params"] = attrs.evolve(c.params, yield_params=YieldParams(base_rate=5_000, max_rate=2_000, **tiers))
            changes["preset"] = None
        changes["yields"] = attrs.evolve(c.yields, traders=max(4, budget.world_users // 10), claim_per_day=1.0,
                                         trader_add_per_day=0.5)
        changes["reserves"] = attrs.evolve(c.reserves, interval_s=max(3_600, duration // 4))
    config = attrs.evolve(c, **changes)
    return attrs.evolve(scenario, name=f"check-{name}", config=config)

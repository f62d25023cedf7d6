"""A small world that produces every kind of record the indexer reads, for tests and for trying the API.

Two simulated days of 60 users on the ``fixed_fee`` preset (a decrease costs a fee, so users whose
prepaid balance runs dry are emergency-burned, and reset after topping up), with YieldScales traders
and frequent claims (loyalty tiers after 12 and 36 hours instead of 180 and 365 days, so every tier
is reached), spontaneous disputes and a dispute wave, proof-of-reserves rounds every six hours, a
Bitcoin reorg and an oracle outage. About 3,000 records; well under a second to run.

    python -m sim.datacheck.sample RUN_DIR      # writes RUN_DIR/events.jsonl and indexes it
"""

from __future__ import annotations

import sys
from pathlib import Path

import attrs

from contracts_model.params import PRESETS, YieldParams
from sim.config import AgentConfig, DisputeConfig, ReservesConfig, ScheduledEvent, WorldConfig, YieldConfig
from sim.eventlog import EventLog


def sample_config(*, users: int = 60, days: float = 2, seed: int = 7, backend: str = "model") -> WorldConfig:
    duration_s = int(days * 86_400)
    events = (ScheduledEvent("reorg", 30_000, {"depth": 2}),
              ScheduledEvent("oracle_outage", 50_000, {"duration_s": 3_000}),
              ScheduledEvent("dispute_wave", 60_000, {"users": 0.3, "truthful": 0.5}))
    return WorldConfig(
        users=users, duration_s=duration_s, seed=seed, backend=backend,
        params=attrs.evolve(PRESETS["fixed_fee"], yield_params=YieldParams(silver_after=12 * 3_600,
                                                                           gold_after=36 * 3_600)),
        preset=None,
        agents=AgentConfig(topup_share=0.5, prepay_wei=(10**12, 4 * 10**12), spend_per_day=1.5,
                           receive_per_day=1.5, withdraw_per_day=0.5),
        yields=YieldConfig(traders=3, claim_per_day=2.0),
        disputes=DisputeConfig(frivolous_per_day=0.3, discrepancy_per_day=0.5),
        reserves=ReservesConfig(interval_s=6 * 3_600),
        schedule=tuple(event for event in events if event.at_s < duration_s),  # a shorter world skips the rest
    )


def sample_world(run_dir: Path | str | None = None, *, live_db_url: str | None = None, **options):
    """Run the sample world to its end; with ``run_dir`` its log goes to ``run_dir/events.jsonl``,
    with ``live_db_url`` a :class:`~sim.indexer.LiveIndexer` follows it (returned as ``world.live_indexer``)."""
    from sim.world import World

    log = None
    if run_dir is not None:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        log = EventLog(Path(run_dir) / "events.jsonl")
    world = World(sample_config(**options), log=log)
    world.live_indexer = None
    if live_db_url is not None:
        from sim.indexer import LiveIndexer

        world.live_indexer = LiveIndexer(live_db_url, batch_size=250).attach(world.log)
    world.run()
    world.finish()
    world.log.close()
    if world.live_indexer is not None:
        world.live_indexer.close()
    return world


if __name__ == "__main__":
    from sim.indexer import index_run

    if len(sys.argv) != 2:
        sys.exit("usage: python -m sim.datacheck.sample RUN_DIR")
    sample_world(sys.argv[1])
    print(index_run(sys.argv[1]))

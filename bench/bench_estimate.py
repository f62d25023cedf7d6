"""``bench.py --only estimate``: calibrate and check :mod:`sim.estimate` against real runs.

For each backend it runs a handful of worlds of different shapes (transaction-heavy, block- and
poll-heavy, yield-heavy), counts their records and contract transactions, fits the two costs of the
estimate's wall-time model (seconds per record, seconds per contract transaction) by least squares,
and prints the estimate against the actual figures. Paste the fitted costs into ``sim/estimate.py``
after a change that moves them. Targets: estimated records within 2x of the actual count, estimated
wall time within 3x, for every world.
"""

from __future__ import annotations

import time

import attrs
import numpy as np

from sim.config import DAY, AgentConfig, BitcoinConfig, OracleConfig, WorldConfig, YieldConfig
from sim.estimate import COST_PER_RECORD_S, COST_PER_TX_S, COST_PER_USER_S, estimate
from sim.eventlog import EventLog
from sim.world import World


def add_arguments(parser) -> None:
    parser.add_argument("--estimate-backends", default="model,evm,lockstep,revm,lockstep-revm",
                        help="backends to calibrate (comma-separated)")


def _worlds(backend: str) -> list[tuple[str, WorldConfig]]:
    scale = 1 if backend == "model" else 8  # the EVM is ~25x slower per transaction
    base = WorldConfig(backend=backend)
    return [
        ("default", attrs.evolve(base, users=400 // scale, duration_s=3 * DAY)),
        ("busy users", attrs.evolve(base, users=200 // scale, duration_s=2 * DAY,
                                    agents=AgentConfig(receive_per_day=5.0, spend_per_day=5.0))),
        ("fast blocks", attrs.evolve(base, users=20 // scale + 2, duration_s=2 * DAY,
                                     bitcoin=BitcoinConfig(mean_block_interval_s=60),
                                     oracle=OracleConfig(poll_interval_s=60))),
        ("yield season", attrs.evolve(base, users=40 // scale + 2, duration_s=60 * DAY // scale,
                                      yields=YieldConfig(traders=10, claim_per_day=0.5))),
    ]


def _measure(config: WorldConfig) -> tuple[int, int, float]:
    log = EventLog(keep=False)
    transactions = [0]
    log.subscribe(lambda record: transactions.__setitem__(0, transactions[0] + (record["kind"] == "evm_tx")))
    started = time.perf_counter()
    world = World(config, log=log)
    world.run()
    world.finish()
    return log.count, transactions[0], time.perf_counter() - started


def bench_estimate(args) -> bool:
    """Estimated against actual records and wall time; the costs fitted from these runs."""
    ok = True
    print("estimate: sim/estimate.py against real runs (records, contract transactions, wall time)")
    for backend in args.estimate_backends.split(","):
        rows = []
        for name, config in _worlds(backend):
            records, transactions, wall = _measure(config)
            rows.append((name, config, estimate(config), records, transactions, wall))
        # wall - users * per-user cost = records * a + transactions * b, least squares
        matrix = np.array([[r[3], r[4]] for r in rows], dtype=float)
        target = np.array([r[5] - r[1].users * COST_PER_USER_S for r in rows])
        (per_record, per_tx), *_ = np.linalg.lstsq(matrix, target, rcond=None)
        print(f"  {backend}: fitted {max(per_record, 0) * 1e6:.0f} us/record, {max(per_tx, 0) * 1e6:.0f} us/transaction "
              f"(sim/estimate.py: {COST_PER_RECORD_S[backend] * 1e6:.0f}, {COST_PER_TX_S[backend] * 1e6:.0f})")
        for name, config, guess, records, transactions, wall in rows:
            ratio_records, ratio_wall = guess.records / records, guess.wall_s / wall
            good = 0.5 <= ratio_records <= 2 and 1 / 3 <= ratio_wall <= 3
            ok &= good
            print(f"    {name:<13} {config.users:>4} users {config.duration_s / DAY:>4g} d: records {records:>7,} "
                  f"(est {guess.records:>9,.0f}, x{ratio_records:.2f}), transactions {transactions:>6,} "
                  f"(est {guess.transactions:>8,.0f}), wall {wall:6.2f} s (est {guess.wall_s:6.2f} s, "
                  f"x{ratio_wall:.2f}) {'ok' if good else 'MISSED'}")
    return ok

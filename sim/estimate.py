"""How big a run will be, before it runs: expected event-log records and wall time.

A run's work is dominated by a few streams whose expected counts follow from the config:

* **Bitcoin blocks** (``duration / mean_block_interval_s``): a ``btc_block`` and a ``reserves`` record
  each, and an oracle round;
* **oracle polls** (``duration / poll_interval_s``): an ``oracle_round`` each;
* **user transactions**: one initial deposit per user plus ``receive_per_day + spend_per_day`` per
  user-day (and deposit bursts); each is a ``btc_tx``, then a sync (``evm_tx`` + ``oracle_op``) and,
  with ``join_holders``, a pool update (``evm_tx``);
* **onboarding**: per user its bindings, its registration or deposit and its pool join;
* the smaller streams: extra bindings, withdrawals and top-ups, claims, traders, disputes and dispute
  waves, proof-of-reserves rounds, adversary probes (one transaction each).

Wall time is ``records x cost per record + transactions x cost per transaction``, with the two costs
per backend measured on the 2-core development machine by ``bench/bench.py --only estimate`` (which
prints estimated against actual figures for a set of worlds, and the costs it measured). The counts
are expectations: every built-in scenario's actual count is within 2x of its estimate
(``tests/test_scenarios.py``) and every generated tiny world's within 3x plus 300 records
(``tests/test_fuzz_inputs.py``); wall time varies with the machine and its load.

A world estimated above :data:`MAX_EVENTS` records is refused by :class:`~sim.config.WorldConfig`:
that is a run of many hours and tens of GB of event log, and it is how a typo such as
``duration = "5200000w"`` or ``users = 10**6`` with every rate at its cap is caught before it starts.
"""

from __future__ import annotations

from attrs import frozen

#: The largest run a world may be (estimated event-log records): about 6 hours and 60 GB of log on the
#: model backend.
MAX_EVENTS = 200_000_000
#: A run is "large" (``rbtc-sim run`` prints its estimate first) from this many seconds of wall time.
LARGE_WALL_S = 30.0

#: Seconds per record (any kind) and per contract transaction, by backend, fitted by
#: ``bench/bench.py --only estimate`` on the 2-core development machine (shared with other jobs).
COST_PER_RECORD_S = {"model": 25e-6, "evm": 50e-6, "lockstep": 50e-6, "revm": 35e-6, "lockstep-revm": 25e-6}
COST_PER_TX_S = {"model": 75e-6, "evm": 3.2e-3, "lockstep": 7.2e-3, "revm": 350e-6, "lockstep-revm": 500e-6}
#: Per user at start-up (accounts, addresses), seconds.
COST_PER_USER_S = 20e-6
#: The fast engine (sim/fast) per record, transactions included: 160,000-300,000 events/s over a year
#: of 10,000 or 100,000 holders (``bench/bench.py --only scale``, README "Research scale"); 3.6 µs puts
#: both within about 40 % of their measured wall time (the smaller year runs its proofs daily).
FAST_COST_PER_RECORD_S = 3.6e-6

DAY = 86_400


@frozen
class Estimate:
    records: float  # expected event-log records
    transactions: float  # expected contract transactions among them
    wall_s: float  # expected wall time on the development machine
    backend: str
    engine: str = "reference"

    @property
    def large(self) -> bool:
        return self.wall_s >= LARGE_WALL_S or self.records >= 1e7

    def describe(self) -> str:
        return (f"~{_count(self.records)} events ({_count(self.transactions)} contract transactions), "
                f"~{_duration(self.wall_s)} on the {self.backend} backend"
                f"{' (fast engine)' if self.engine == 'fast' else ''} (2-core reference machine)")


def _count(value: float) -> str:
    for limit, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            return f"{value / limit:.3g}{unit}"
    return f"{value:.0f}"


def _duration(seconds: float) -> str:
    for limit, unit in ((86_400, "d"), (3_600, "h"), (60, "min")):
        if seconds >= limit:
            return f"{seconds / limit:.2g} {unit}"
    return f"{max(seconds, 0.1):.2g} s"


def estimate(config) -> Estimate:
    """The expected size of a run of ``config`` (a :class:`~sim.config.WorldConfig`)."""
    c, a, y, d = config, config.agents, config.yields, config.disputes
    days = c.duration_s / DAY
    users = c.users
    user_days = users * days
    blocks = c.duration_s / c.bitcoin.mean_block_interval_s
    polls = c.duration_s / c.oracle.poll_interval_s
    addresses = sum(a.addresses_per_user) / 2
    holder = 1 if y.join_holders else 0
    bursts = sum(users * e.params.get("users", 0.5) for e in c.schedule if e.kind == "deposit_burst")
    waves = sum(users * e.params.get("users", 0.2) for e in c.schedule if e.kind == "dispute_wave")
    btc_txs = users + user_days * (a.receive_per_day + a.spend_per_day) + bursts
    syncs = btc_txs  # every balance change is synced once (changes within one block share a sync)
    participants = users * holder + y.traders
    disputes = user_days * (d.frivolous_per_day + d.discrepancy_per_day) + waves
    rounds = c.duration_s / c.reserves.interval_s if c.reserves.interval_s else 0
    transactions = (
        syncs * (1 + holder)  # sync, and the pool's updateRBTCContribution
        + users * (1 + holder)  # registerAndPrepay or depositETH, joinAsBitcoinHolder
        + user_days * a.withdraw_per_day * 2  # withdrawUnused, then a top-up
        + participants * days * y.claim_per_day
        + y.traders * (1 + days * y.trader_add_per_day)
        + disputes * 2
        + rounds
        + user_days * c.adversary.probes_per_day
    )
    records = (
        transactions
        + 2 * blocks + polls + blocks  # btc_block + reserves per block; an oracle round per poll and per block
        + btc_txs + syncs  # btc_tx, oracle_op
        + users * addresses + user_days * a.bind_extra_address_per_day  # bind
        + disputes * 3  # filed, validated, resolved
        + rounds
    )
    if c.engine == "fast":
        wall = records * FAST_COST_PER_RECORD_S + users * COST_PER_USER_S
    else:
        wall = (records * COST_PER_RECORD_S[c.backend] + transactions * COST_PER_TX_S[c.backend]
                + users * COST_PER_USER_S)
    return Estimate(records, transactions, wall, c.backend, c.engine)

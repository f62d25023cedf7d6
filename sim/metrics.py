"""Running totals of a world and a time series of them, sampled at a fixed simulated interval.

The totals are kept from what the world already produces (event-log records and transaction
receipts), so sampling costs one row per interval; nothing is re-read from the chain.
"""

from __future__ import annotations

from collections import Counter

COLUMNS = (
    "t", "rbtc_supply", "btc_reserves", "backing_ratio", "backing_ratio_min", "users", "syncs", "emergency_burns", "needs_topup",
    "open_windows", "vault_total_wei", "fees_collected_wei", "btc_height", "reorgs", "disputes_filed",
    "disputes_resolved", "yield_rate_bps", "yield_owed_total", "yield_claimed_total", "pool_participants",
)


class Metrics:
    def __init__(self, world):
        self.world = world
        self.rows: list[dict] = []
        self.ops: Counter = Counter()
        self.kinds: Counter = Counter()
        self.vault_total = 0
        self.fees = 0
        self.sync_delays: Counter = Counter()  # delay (s) -> syncs
        #: Called with every sampled row (the run folder streams them to metrics.csv).
        self.on_row: list = []
        world.log.subscribe(self._on_record)
        world.port.subscribe(self._on_transaction)

    def _on_record(self, record: dict) -> None:
        kind = record["kind"]
        self.kinds[kind] += 1
        if kind == "oracle_op":
            self.ops[record["op"]] += 1
            if record["op"] == "sync":
                self.sync_delays[record["delay_s"]] += 1

    def _on_transaction(self, record: dict, receipt) -> None:
        for event in receipt.events:
            name = event.name
            if name == "Deposited":
                self.vault_total += event.args[1]
            elif name == "Spent":
                self.vault_total -= event.args[1]
                self.fees += event.args[1]
            elif name == "Withdrawn":
                self.vault_total -= event.args[1]

    def sample(self) -> dict:
        w = self.world
        monitor = w.monitor
        supply = monitor.total_rbtc if monitor else w.port.total_supply()
        reserves = monitor.total_confirmed if monitor else 0
        extra = w.yield_snapshot()
        lowest = None
        if monitor is not None:
            lowest, monitor.interval_min_ratio = monitor.interval_min_ratio, None
        row = {
            "t": int(w.env.now),
            "rbtc_supply": supply,
            "btc_reserves": reserves,
            "backing_ratio": round(reserves / supply, 6) if supply else None,
            "backing_ratio_min": round(lowest, 6) if lowest is not None else None,
            "users": len(w.registry),
            "syncs": self.ops["sync"],
            "emergency_burns": self.ops["emergency_burn"],
            "needs_topup": len(w.oracle.needs_topup),
            "open_windows": len(monitor.open) if monitor else 0,
            "vault_total_wei": self.vault_total,
            "fees_collected_wei": self.fees,
            "btc_height": w.chain.height,
            "reorgs": self.kinds["btc_reorg"],
            "disputes_filed": self.kinds["dispute_filed"],
            "disputes_resolved": self.kinds["dispute_resolved"],
            "yield_rate_bps": extra.get("rate"),
            "yield_owed_total": extra.get("owed"),
            "yield_claimed_total": extra.get("claimed"),
            "pool_participants": extra.get("participants"),
        }
        self.rows.append(row)
        for listener in self.on_row:
            listener(row)
        return row

    def run(self, interval_s: int):
        """SimPy process: one row every ``interval_s`` (and one at t = 0)."""
        env = self.world.env
        while True:
            self.sample()
            yield env.timeout(interval_s)

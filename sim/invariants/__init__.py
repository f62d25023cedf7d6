"""The invariants of PROTOCOL.md, monitored in every world: a layer of its own, one sink for violations.

| module | invariants |
|---|---|
| :mod:`~sim.invariants.sink` | the sink (:class:`Violations`), causes of a violation, revert breakdown |
| :mod:`~sim.invariants.backing` | 1 backing (per user and total, windows by cause) and mirroring |
| :mod:`~sim.invariants.ledger` | 2 consistency, 3 burns, 4 fees, 5 access (soulbound), observability, per transaction |
| :mod:`~sim.invariants.yield_ledger` | 7 yield, per pool transaction (a ghost ledger of the pool) |
| :mod:`~sim.invariants.wiring` | the deployment is live (roles exercised, eligible holders joined) |

Disputes (6) are checked by :mod:`sim.disputes` and proof of reserves (8) by :mod:`sim.reserves`, where
each is decided; model = EVM (2) by the lockstep backend.
"""

from sim.invariants.backing import BackingMonitor, Window
from sim.invariants.ledger import ProtocolLedger
from sim.invariants.sink import INVARIANTS, CauseTracker, Violation, Violations
from sim.invariants.wiring import WiringMonitor
from sim.invariants.yield_ledger import YieldMonitor

__all__ = ["INVARIANTS", "BackingMonitor", "CauseTracker", "ProtocolLedger", "Violation", "Violations",
           "WiringMonitor", "Window", "YieldMonitor"]

"""Probes: the calls the rules say must fail, tried in the world so that a build where they succeed shows.

Nobody in an honest world ever transfers the soulbound rBTC-SYNTH or calls a restricted function
without its role, so without probes a transferable token or an open ``sync`` would go unnoticed.
At ``probes_per_day`` per onboarded user, a probe picks one of :data:`PROBES` and tries it: a holder
transferring or approving its rBTC to another user, or a stranger calling a committee-, oracle- or
publisher-only function. Every probe is an ordinary transaction in the event log; a probe that
reverts is the protocol working, one that succeeds is reported by the protocol ledger
(:mod:`sim.invariants.ledger`) as an ``access`` violation.
"""

from __future__ import annotations

import numpy as np

from contracts_model.errors import ContractRevert
from sim.config import DAY, AdversaryConfig
from sim.poisson import next_arrival

#: What a probe may try.
PROBES = ("transfer", "transferFrom", "approve", "sync", "executeEmergencyBurn", "oracleMint", "oracleBurn",
          "spendFrom", "joinAsBitcoinHolder", "publishRoot")


class Probes:
    def __init__(self, env, port, config: AdversaryConfig, rng: np.random.Generator):
        self.env, self.port, self.config, self.rng = env, port, config, rng
        self.stranger = "0x" + rng.bytes(20).hex()
        self.tried = 0

    def run(self, active: list):
        """SimPy process over ``active`` (the population's onboarded users, a list that grows)."""
        rate = self.config.probes_per_day / DAY
        while True:
            if rate <= 0 or len(active) < 2:
                yield self.env.timeout(3600)
                continue
            if not (yield from next_arrival(self.env, self.rng, rate * len(active))):
                continue
            holder = active[int(self.rng.integers(0, len(active)))].address
            other = active[int(self.rng.integers(0, len(active)))].address
            self.probe(PROBES[int(self.rng.integers(0, len(PROBES)))], holder, other)

    def probe(self, kind: str, holder: str, other: str) -> None:
        port, stranger = self.port, self.stranger
        amount = 1 + int(self.rng.integers(0, 1_000))
        calls = {
            "transfer": (holder, "RBTCSynth", "transfer", (other, amount)),
            "transferFrom": (other, "RBTCSynth", "transferFrom", (holder, other, amount)),
            "approve": (holder, "RBTCSynth", "approve", (other, amount)),
            "sync": (stranger, "OracleAggregator", "sync", (holder, amount, b"")),
            "executeEmergencyBurn": (stranger, "OracleAggregator", "executeEmergencyBurn", (holder,)),
            "oracleMint": (stranger, "RBTCSynth", "oracleMint", (stranger, amount)),
            "oracleBurn": (stranger, "RBTCSynth", "oracleBurn", (holder, amount)),
            "spendFrom": (stranger, "FeeVault", "spendFrom", (holder, amount)),
            "joinAsBitcoinHolder": (stranger, "YieldScalesPool", "joinAsBitcoinHolder", (holder,)),
            "publishRoot": (stranger, "ProofOfReserves", "publishRoot", (b"\x5a" * 32, 1, amount)),
        }
        sender, contract, function, args = calls[kind]
        if not port.has(contract):
            return
        self.tried += 1
        try:
            port.transact(sender, contract, function, args)
        except ContractRevert:
            pass  # refused, as the rules say; the revert is in the event log

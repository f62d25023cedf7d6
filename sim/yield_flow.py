"""The YieldScales flow: who joins the pool, what the pool is told, and who claims when.

* The oracle joins a Bitcoin holder the first time a sync leaves it holding rBTC-SYNTH, reports
  every later sync as a contribution update, and reports emergency burns to the pool. In our wiring
  the pool's oracle is the committee account, the same account that runs the oracle service, so
  these calls really happen (in the deployed system the pool's oracle was set to an address that
  never called it).
* A DeFi partner joins trader accounts with virtual USDT and reports more from time to time.
* Every participant claims its yield at its own Poisson rate.
"""

from __future__ import annotations

import numpy as np

from contracts_model.errors import ContractRevert
from sim.config import DAY, YieldConfig
from sim.draws import uniform_int
from sim.protocol.port import RoleNotHeld
from sim.eventlog import EventLog
from sim.oracle_service import OracleService
from sim.poisson import next_arrival
from sim.protocol.recorder import RecordingBackend

HOLDER, TRADER = 0, 1
#: ETH a trader account holds (claims are transactions from the participant itself).
TRADER_ETH_WEI = 10**18


class YieldFlow:
    def __init__(self, env, port: RecordingBackend, oracle: OracleService, log: EventLog, config: YieldConfig,
                 rng: np.random.Generator, onboarding_window_s: int, on_failure=None):
        self.env, self.port, self.oracle, self.log, self.config, self.rng = env, port, oracle, log, config, rng
        #: on_failure(exception, actor): a call the rules say works failed (a role no account holds…).
        self.on_failure = on_failure or (lambda exc, actor: None)
        self.onboarding_window_s = onboarding_window_s
        #: participant -> HOLDER or TRADER, in joining order.
        self.participants: dict[str, int] = {}
        self._order: list[str] = []
        self.traders = ["0x" + rng.bytes(20).hex() for _ in range(config.traders)]
        self.claims = 0
        self.claimed = 0
        if config.join_holders:
            oracle.after_sync.append(self._after_sync)

    @property
    def now(self) -> int:
        return int(self.env.now)

    def _join(self, user: str, kind: int) -> None:
        self.participants[user] = kind
        self._order.append(user)

    def _pool(self, function: str, *args) -> bool:
        try:
            self.port.pool(function, *args)
            return True
        except ContractRevert as exc:
            self.log.append(self.now, "yield_error", function=function, user=args[0], error=exc.error_name)
            return False
        except RoleNotHeld as exc:  # the deployment gives the pool's oracle to a contract: nobody can join anyone
            self.on_failure(exc, args[0])
            return False

    def _after_sync(self, user: str, op: str, receipt) -> None:
        kind = self.participants.get(user)
        if op == "emergency_burn":
            if kind is not None:
                burned = next(e.args[1] for e in receipt.events if e.name == "EmergencyBurn")
                self._pool("emergencyBurn", user, burned)
            return
        balance = next(e.args[1] for e in receipt.events if e.name == "Synced")
        if kind == HOLDER:
            self._pool("updateRBTCContribution", user, balance)
        elif kind is None and balance > 0 and self._pool("joinAsBitcoinHolder", user):
            self._join(user, HOLDER)

    # ------------------------------------------------------------------ processes

    def trader_onboarding(self):
        """SimPy process: the partner joins its traders at uniform times over the onboarding window."""
        if not self.traders:
            return
        times = np.sort(self.rng.integers(0, max(1, self.onboarding_window_s), size=len(self.traders)))
        for trader, at in zip(self.traders, times.tolist()):
            if at > self.now:
                yield self.env.timeout(at - self.now)
            self.port.set_eth_balance(trader, TRADER_ETH_WEI)
            if self._pool("joinAsTrader", trader, self._usdt()):
                self._join(trader, TRADER)

    def activity(self):
        """SimPy process: claims by every participant, and the partner's further USDT reports."""
        c = self.config
        rates = np.array([c.claim_per_day, c.trader_add_per_day]) / DAY
        while True:
            population = len(self._order)
            total = float(rates[0]) * population + float(rates[1]) * len(self.traders)
            if total <= 0:
                yield self.env.timeout(3600)
                continue
            if not (yield from next_arrival(self.env, self.rng, total)):
                continue
            if self.rng.random() * total < float(rates[0]) * population:
                self.claim(self._order[int(self.rng.integers(0, len(self._order)))])
            else:
                trader = self.traders[int(self.rng.integers(0, len(self.traders)))]
                if trader in self.participants:
                    self._pool("joinAsTrader", trader, self._usdt())

    def _usdt(self) -> int:
        return uniform_int(self.rng, *self.config.trader_usdt)

    def claim(self, user: str) -> None:
        try:
            owed = self.port.call("YieldScalesPool", "calculateYieldOwed", (user,))
        except ContractRevert as exc:  # a panic in the build: the participant cannot even see what it is owed
            self.on_failure(exc, user)
            return
        if owed == 0:
            return
        try:
            receipt = self.port.transact(user, "YieldScalesPool", "claimYield")
        except ContractRevert as exc:  # the rules say a claim of owed yield pays it
            self.log.append(self.now, "yield_error", function="claimYield", user=user, error=exc.error_name)
            self.on_failure(exc, user)
            return
        paid = next((e.args[1] for e in receipt.events if e.name == "YieldClaimed"), 0)
        self.claims += 1
        self.claimed += paid

    # ------------------------------------------------------------------ reporting

    def snapshot(self) -> dict:
        """Pool-wide figures for the metrics time series."""
        stats = self.port.call("YieldScalesPool", "getSystemStats")
        return {"rate": stats[2], "claimed": stats[3], "participants": stats[0]}

    def tiers(self) -> dict[str, int]:
        counts = {"bronze": 0, "silver": 0, "gold": 0}
        names = ("bronze", "silver", "gold")
        for user in self._order:
            counts[names[self.port.call("YieldScalesPool", "participants", (user,))[7]]] += 1
        return counts

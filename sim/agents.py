"""Simulated users: Bitcoin holders who bind addresses, receive and spend BTC, and prepay sync fees.

One :class:`Population` drives every user from a handful of SimPy processes (not one per user), so
10,000 users cost what their actions cost. Actions arrive as a Poisson process over all onboarded
users, each action type at its configured per-user daily rate; times are whole seconds.

Fee behaviour: a share of users (``topup_share``) top their prepaid balance up when the oracle marks
them as needing it (after a human delay) or when they notice it running low; the rest let it run
dry. During a fee drought nobody tops up.
"""

from __future__ import annotations

import numpy as np
from attrs import define, field

from contracts_model.errors import ContractRevert, InsufficientFunds
from sim.bitcoin.address import random_address
from sim.bitcoin.chain import BitcoinChain
from sim.bitcoin.transactions import ChainError, SupplyExhausted
from sim.config import DAY, AgentConfig
from sim.draws import uniform_int
from sim.eventlog import EventLog
from sim.oracle_service import OracleService
from sim.poisson import next_arrival
from sim.protocol.recorder import RecordingBackend

#: Wallet funding every simulated user gets from the faucet (ETH for prepaying fees).
USER_ETH_WEI = 10**20


@define
class User:
    address: str  # EVM
    btc: list[str] = field(factory=list)
    tops_up: bool = True
    onboarded: bool = False
    topup_pending: bool = False


class Population:
    def __init__(self, env, chain: BitcoinChain, port: RecordingBackend, oracle: OracleService, log: EventLog,
                 config: AgentConfig, count: int, network: str, rng: np.random.Generator,
                 register_with_prepay_share: float):
        self.env = env
        self.chain = chain
        self.port = port
        self.oracle = oracle
        self.log = log
        self.config = config
        self.network = network
        self.rng = rng
        self.register_with_prepay_share = register_with_prepay_share
        self.sink = random_address(rng, "p2wpkh", network)
        self.users: list[User] = []
        self.onboarded: list[User] = []
        self.by_address: dict[str, User] = {}
        self.drought_until = -1
        taken: set[str] = set()
        for _ in range(count):
            address = "0x" + rng.bytes(20).hex()
            while address in taken:
                address = "0x" + rng.bytes(20).hex()
            taken.add(address)
            user = User(address, tops_up=bool(rng.random() < config.topup_share))
            self.users.append(user)
            self.by_address[address] = user
        oracle.on_needs_topup.append(self._needs_topup)

    @property
    def now(self) -> int:
        return int(self.env.now)

    # ------------------------------------------------------------------ processes

    def onboarding(self):
        """SimPy process: users register at uniform times over the onboarding window."""
        window = max(1, self.config.onboarding_window_s)
        times = np.sort(self.rng.integers(0, window, size=len(self.users)))
        for user, at in zip(self.users, times.tolist()):
            if at > self.now:
                yield self.env.timeout(at - self.now)
            self._onboard(user)

    def activity(self):
        """SimPy process: every user action, as one Poisson stream over the onboarded users."""
        c = self.config
        kinds = ("receive", "spend", "check_fees", "withdraw", "bind")
        rates = np.array([c.receive_per_day, c.spend_per_day, 1.0, c.withdraw_per_day, c.bind_extra_address_per_day])
        rates = rates / DAY
        total = float(rates.sum())
        if total <= 0:
            return
        cumulative = np.cumsum(rates / total)
        rng = self.rng
        while True:
            active = len(self.onboarded)
            if active == 0:
                yield self.env.timeout(60)
                continue
            if not (yield from next_arrival(self.env, rng, total * active)):
                continue
            user = self.onboarded[int(rng.integers(0, len(self.onboarded)))]
            kind = kinds[int(np.searchsorted(cumulative, rng.random(), side="right"))]
            getattr(self, f"_{kind}")(user)

    # ------------------------------------------------------------------ actions

    def _draw(self, bounds) -> int:
        return uniform_int(self.rng, *bounds)

    def _new_btc_address(self) -> str:
        kind = "p2tr" if self.rng.random() < self.config.taproot_share else "p2wpkh"
        return random_address(self.rng, kind, self.network)

    def _onboard(self, user: User) -> None:
        c = self.config
        self.port.set_eth_balance(user.address, USER_ETH_WEI)
        count = self._draw(c.addresses_per_user)
        prepay = self._draw(c.prepay_wei)
        via_committee = self.rng.random() < self.register_with_prepay_share
        for i in range(max(1, count)):
            btc = self._new_btc_address()
            user.btc.append(btc)
            self.oracle.register(user.address, btc, prepay_wei=prepay if (i == 0 and via_committee) else 0)
        if not via_committee:
            self._transact(user, "deposit", lambda: self.port.deposit(user.address, user.address, prepay))
        self._deposit(user, user.btc[0], self._draw(c.initial_btc_sats))
        user.onboarded = True
        self.onboarded.append(user)

    def _receive(self, user: User) -> None:
        address = user.btc[int(self.rng.integers(0, len(user.btc)))]
        self._deposit(user, address, self._draw(self.config.receive_sats))

    def _deposit(self, user: User, address: str, amount: int, **extra) -> None:
        try:
            tx = self.chain.deposit(address, amount)
        except SupplyExhausted:  # 21 M BTC deposited in all: the world has no more to send
            self.log.append(self.now, "agent_error", user=user.address, action="deposit", error="SupplyExhausted")
            return
        self.log.append(self.now, "btc_tx", tx_kind="deposit", txid=tx.txid, user=user.address, address=address,
                        amount=amount, **extra)

    def _spend(self, user: User) -> None:
        address = user.btc[int(self.rng.integers(0, len(user.btc)))]
        spendable = self.chain.spendable_balance(address)
        low, high = self.config.spend_fraction
        amount = int(spendable * self.rng.uniform(low, high))
        if amount <= 0:
            return
        try:
            tx = self.chain.spend(address, self.sink, amount)
        except ChainError:
            return
        self.log.append(self.now, "btc_tx", tx_kind="spend", txid=tx.txid, user=user.address, address=address,
                        amount=amount)

    def _check_fees(self, user: User) -> None:
        if self._may_top_up(user) and self.port.vault_balance(user.address) < self.config.topup_below_wei:
            self._top_up(user)

    def _withdraw(self, user: User) -> None:
        if self.port.vault_balance(user.address) > 0:
            self._transact(user, "withdraw", lambda: self.port.withdraw_unused(user.address))

    def _bind(self, user: User) -> None:
        btc = self._new_btc_address()
        user.btc.append(btc)
        self.oracle.register(user.address, btc)

    # ------------------------------------------------------------------ fees

    def _may_top_up(self, user: User) -> bool:
        return user.tops_up and self.now >= self.drought_until

    def _needs_topup(self, address: str) -> None:
        user = self.by_address.get(address)
        if user is None or not self._may_top_up(user) or user.topup_pending:
            return
        user.topup_pending = True
        delay = int(self.rng.integers(600, 6 * 3600))
        self.env.process(self._delayed_top_up(user, delay))

    def _delayed_top_up(self, user: User, delay: int):
        yield self.env.timeout(delay)
        user.topup_pending = False
        if self._may_top_up(user):
            self._top_up(user)

    def _top_up(self, user: User) -> None:
        amount = self._draw(self.config.prepay_wei)
        self._transact(user, "topup", lambda: self.port.deposit(user.address, user.address, amount))

    def _transact(self, user: User, what: str, call) -> None:
        try:
            call()
        except ContractRevert as exc:
            self.log.append(self.now, "agent_error", user=user.address, action=what, error=exc.error_name)
        except InsufficientFunds:  # the user's wallet cannot cover the amount (prepay_wei has no upper bound)
            self.log.append(self.now, "agent_error", user=user.address, action=what, error="InsufficientFunds")

    # ------------------------------------------------------------------ scheduled events

    def fee_drought(self, duration_s: int) -> None:
        self.drought_until = max(self.drought_until, self.now + duration_s)
        self.log.append(self.now, "fee_drought", until=self.drought_until)

    def deposit_burst(self, share: float, sats: tuple[int, int]) -> None:
        chosen = [u for u in self.onboarded if self.rng.random() < share]
        for user in chosen:
            self._deposit(user, user.btc[0], self._draw(sats), burst=True)

"""Stateful property test: the contracts on revm and the Python models, in lockstep, under random actions.

A Hypothesis ``RuleBasedStateMachine`` plays a handler in the Foundry sense: it makes valid-looking
moves (and deliberately wrong ones: wrong caller, zero values, out-of-range balances), keeps ghost
variables of what the chain should hold, and after every step checks invariants 2, 3, 4, 5 and 7 of
PROTOCOL.md. Every action goes through :class:`LockstepBackend`, which additionally fails on any
difference between model and EVM (outcome, events, or the whole observable state).

It runs with the public testnet preset (``fixedWei = 0``) and with a fixed-fee preset, where a
decrease costs a fee and the emergency burn can happen. The bytecode runs on revm, the fast engine
(revm itself is held to py-evm by tests/test_revm_backend.py and tests/test_backends_agree.py), which
buys ten times the examples x steps py-evm allowed in the same CI time.
"""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from contracts_model import errors
from contracts_model.accounts import ZERO_ADDRESS
from tests.conftest import deployed_lockstep, examples

USERS = tuple("0x" + (0xA11CE0 + i).to_bytes(20, "big").hex() for i in range(3))
STRANGER = "0x" + (0xBAD).to_bytes(20, "big").hex()
INT64_MAX = 2**63 - 1
YEAR = 365 * 86_400

users = st.sampled_from(USERS)
balances = st.one_of(
    st.sampled_from((0, 1, 999, 1_000, 50_000, 100_000_000, 2_100_000_000_000_000)),
    st.integers(min_value=0, max_value=5 * 10**8),
)
wei = st.one_of(st.sampled_from((0, 1, 10**12, 10**15, 10**17)), st.integers(min_value=0, max_value=10**18))


class LockstepMachine(RuleBasedStateMachine):
    preset = "testnet"

    def __init__(self):
        super().__init__()
        self.chain = deployed_lockstep(self.preset, evm="revm")
        self.p = self.chain.params
        self.committee = self.chain.accounts.committee
        self.collector = self.chain.accounts.fee_collector
        self.collector_start = self.chain.eth_balance(self.collector)
        # ghost variables
        self.deposited = 0
        self.spent = 0
        self.withdrawn = 0
        self.claimed: dict[str, int] = {u: 0 for u in USERS}
        self.last_owed: dict[str, int] = {}
        number, self.now = self.chain.block

    @initialize()
    def fund_accounts(self):
        for account in USERS + (STRANGER,):
            self.chain.set_eth_balance(account, 10**21)

    # ------------------------------------------------------------------ helpers

    def _tally(self, receipt) -> None:
        for event in receipt.events:
            if event.name == "Deposited":
                self.deposited += event.args[1]
            elif event.name == "Spent":
                self.spent += event.args[1]
            elif event.name == "Withdrawn":
                self.withdrawn += event.args[1]
            elif event.name == "Transfer" and event.contract == "RBTCSynth":
                # invariant 5: rBTC only ever comes from or goes to the zero address
                assert ZERO_ADDRESS in (event.args[0], event.args[1]), event

    def _expect(self, error, fn, *args, **kwargs):
        with pytest.raises(error):
            fn(*args, **kwargs)

    # ------------------------------------------------------------------ fee vault

    @rule(payer=st.sampled_from(USERS + (STRANGER,)), user=st.one_of(users, st.just(ZERO_ADDRESS)), amount=wei)
    def deposit(self, payer, user, amount):
        if user == ZERO_ADDRESS:
            self._expect(errors.ZeroAddress, self.chain.deposit, payer, user, amount)
        elif amount == 0:
            self._expect(errors.ZeroValue, self.chain.deposit, payer, user, amount)
        else:
            before = self.chain.vault_balance(user)
            self._tally(self.chain.deposit(payer, user, amount))
            assert self.chain.vault_balance(user) == before + amount

    @rule(user=users)
    def withdraw(self, user):
        held = self.chain.vault_balance(user)
        if held == 0:
            self._expect(errors.InsufficientBalance, self.chain.withdraw_unused, user)
            return
        eth_before = self.chain.eth_balance(user)
        self._tally(self.chain.withdraw_unused(user))
        assert self.chain.vault_balance(user) == 0
        assert self.chain.eth_balance(user) == eth_before + held

    @rule(user=users, amount=wei, by_committee=st.booleans())
    def register_and_prepay(self, user, amount, by_committee):
        sender = self.committee if by_committee else STRANGER
        call = lambda: self.chain.transact(  # noqa: E731
            sender, "OracleAggregator", "registerAndPrepay", (user, 1, b"\x11" * 32), value=amount
        )
        if not by_committee:
            self._expect(errors.Restricted, call)
        elif amount == 0:
            self._expect(errors.ZeroValue, call)
        else:
            self._tally(call())

    @rule(user=users, amount=st.integers(min_value=1, max_value=10**15))
    def vault_spend_by_outsider(self, user, amount):
        self._expect(errors.NotOracle, self.chain.transact, STRANGER, "FeeVault", "spendFrom", (user, amount))

    # ------------------------------------------------------------------ sync

    @rule(user=users, balance=balances)
    def sync(self, user, balance):
        target = balance
        c = self.chain
        previous, held, vault = c.last_sats(user), c.rbtc_balance(user), c.vault_balance(user)
        burns, flagged = c.call("OracleAggregator", "totalEmergencyBurns"), c.emergency_burned(user)
        delta = target - previous
        if target > INT64_MAX:
            self._expect(errors.BalanceOutOfRange, c.sync, user, target)
            return
        if delta == 0:
            assert c.sync(user, target).events == ()
            return
        fee = c.quote_fee(user, delta)
        # the percentage leg is never charged on a burn
        if delta < 0:
            assert fee == self.p.fixed_wei
        if fee > self.p.max_fee_per_sync_wei:
            self._expect(errors.FeeCapExceeded, c.sync, user, target)
            return
        receipt = c.sync(user, target)
        self._tally(receipt)
        names = [e.name for e in receipt.events]
        if vault < fee and delta < 0:
            # invariant 3: the emergency burn zeroes the user, sets flag and counter, charges nothing
            assert c.last_sats(user) == 0 and c.rbtc_balance(user) == 0
            assert c.emergency_burned(user)
            assert c.call("OracleAggregator", "totalEmergencyBurns") == burns + 1
            assert c.vault_balance(user) == vault
            assert "EmergencyBurn" in names and "Spent" not in names
        elif vault < fee:
            assert names == ["NeedsTopUp"]
            assert (c.last_sats(user), c.rbtc_balance(user), c.vault_balance(user)) == (previous, held, vault)
        else:
            # invariant 3: a decrease burns exactly |delta|; invariant 4: fee == quote <= cap
            assert c.last_sats(user) == target
            assert c.rbtc_balance(user) == held + delta
            assert c.vault_balance(user) == vault - fee
            synced = [e for e in receipt.events if e.name == "Synced"]
            assert len(synced) == 1 and synced[0].args[2] == delta and synced[0].args[3] == fee
            assert fee <= self.p.max_fee_per_sync_wei
            assert c.emergency_burned(user) == flagged

    @rule(user=users, balance=st.integers(min_value=2**64, max_value=2**66))
    def sync_beyond_uint64(self, user, balance):
        self._expect(errors.ArgumentError, self.chain.sync, user, balance)

    @rule(user=users, balance=balances)
    def sync_by_outsider(self, user, balance):
        self._expect(
            errors.Restricted, self.chain.transact, STRANGER, "OracleAggregator", "sync", (user, balance, b"")
        )

    @rule(user=users)
    def manual_emergency_burn(self, user):
        c = self.chain
        recorded, burns = c.last_sats(user), c.call("OracleAggregator", "totalEmergencyBurns")
        self._tally(c.execute_emergency_burn(user))
        assert c.last_sats(user) == 0 and c.rbtc_balance(user) == 0
        if recorded:
            assert c.emergency_burned(user)
            assert c.call("OracleAggregator", "totalEmergencyBurns") == burns + 1

    @rule(user=users)
    def reset_emergency(self, user):
        self.chain.reset_emergency_burn_status(user)
        assert not self.chain.emergency_burned(user)

    @rule(user=users, function=st.sampled_from(("executeEmergencyBurn", "resetEmergencyBurnStatus")))
    def emergency_by_outsider(self, user, function):
        self._expect(errors.Restricted, self.chain.transact, STRANGER, "OracleAggregator", function, (user,))

    # ------------------------------------------------------------------ soulbound token

    @rule(
        holder=users,
        other=users,
        amount=st.integers(min_value=0, max_value=10**9),
        function=st.sampled_from(("transfer", "approve", "transferFrom")),
    )
    def move_rbtc(self, holder, other, amount, function):
        args = (holder, other, amount) if function == "transferFrom" else (other, amount)
        self._expect(errors.Soulbound, self.chain.transact, holder, "RBTCSynth", function, args)

    @rule(user=users, amount=st.integers(min_value=1, max_value=10**9), mint=st.booleans())
    def mint_by_outsider(self, user, amount, mint):
        function = "oracleMint" if mint else "oracleBurn"
        self._expect(errors.Restricted, self.chain.transact, user, "RBTCSynth", function, (user, amount))

    # ------------------------------------------------------------------ yield pool

    def _participant(self, user) -> tuple:
        return self.chain.call("YieldScalesPool", "participants", (user,))

    @rule(user=users)
    def join_as_holder(self, user):
        c = self.chain
        if self._participant(user)[5] != 0:
            self._expect(errors.AlreadyParticipant, c.pool, "joinAsBitcoinHolder", user)
        elif c.rbtc_balance(user) == 0:
            self._expect(errors.InsufficientBalance, c.pool, "joinAsBitcoinHolder", user)
        else:
            c.pool("joinAsBitcoinHolder", user)
            self.last_owed[user] = 0

    @rule(user=users, usdt=st.integers(min_value=0, max_value=10**12))
    def join_as_trader(self, user, usdt):
        c, info = self.chain, self._participant(user)
        if usdt == 0:
            self._expect(errors.InvalidAmount, c.pool, "joinAsTrader", user, usdt)
        elif info[5] != 0 and info[0] != 1:
            self._expect(errors.InvalidParticipant, c.pool, "joinAsTrader", user, usdt)
        else:
            c.pool("joinAsTrader", user, usdt)
            self.last_owed.setdefault(user, 0)

    @rule(user=users, actual=st.booleans(), amount=st.integers(min_value=0, max_value=10**9))
    def update_contribution(self, user, actual, amount):
        c, info = self.chain, self._participant(user)
        value = c.rbtc_balance(user) if actual else amount
        if info[5] == 0:
            self._expect(errors.NotParticipant, c.pool, "updateRBTCContribution", user, value)
        elif info[0] != 0:
            self._expect(errors.InvalidParticipant, c.pool, "updateRBTCContribution", user, value)
        else:
            c.pool("updateRBTCContribution", user, value)
            assert self._participant(user)[2] == value

    @rule(user=users, burned=st.integers(min_value=0, max_value=10**9))
    def pool_emergency_burn(self, user, burned):
        c, info = self.chain, self._participant(user)
        if info[5] == 0:
            self._expect(errors.NotParticipant, c.pool, "emergencyBurn", user, burned)
        else:
            c.pool("emergencyBurn", user, burned)
            if info[0] == 0:
                assert self._participant(user)[2] == 0

    @rule(user=users)
    def claim(self, user):
        c = self.chain
        if self._participant(user)[5] == 0:
            self._expect(errors.NotParticipant, c.transact, user, "YieldScalesPool", "claimYield")
            return
        owed = c.call("YieldScalesPool", "calculateYieldOwed", (user,))
        if owed == 0:
            self._expect(errors.NothingToClaim, c.transact, user, "YieldScalesPool", "claimYield")
            return
        receipt = c.transact(user, "YieldScalesPool", "claimYield")
        paid = [e.args[1] for e in receipt.events if e.name == "YieldClaimed"]
        # invariant 7: a claim pays exactly what has accrued and not been claimed
        assert paid == [owed]
        self.claimed[user] += owed
        assert c.call("YieldScalesPool", "calculateYieldOwed", (user,)) == 0
        assert self._participant(user)[4] == self.claimed[user]
        self.last_owed[user] = 0

    @rule(user=users, reported=st.integers(min_value=0, max_value=10**9), recorded=st.integers(0, 10**9))
    def dispute(self, user, reported, recorded):
        c = self.chain
        call = lambda: c.transact(user, "YieldScalesPool", "disputeBalance", (reported, recorded))  # noqa: E731
        if self._participant(user)[5] == 0:
            self._expect(errors.NotParticipant, call)
        elif c.call("YieldScalesPool", "isDisputed", (user,)):
            self._expect(errors.DisputeAlreadyFiled, call)
        else:
            call()
            assert c.call("YieldScalesPool", "isDisputed", (user,))

    @rule(user=users, accepted=st.booleans())
    def resolve(self, user, accepted):
        c = self.chain
        if not c.call("YieldScalesPool", "isDisputed", (user,)):
            self._expect(errors.NoDispute, c.pool, "resolveDispute", user, accepted)
        else:
            c.pool("resolveDispute", user, accepted)
            assert not c.call("YieldScalesPool", "isDisputed", (user,))

    @rule(
        user=users,
        function=st.sampled_from(("joinAsBitcoinHolder", "joinAsTrader", "updateRBTCContribution", "emergencyBurn")),
    )
    def pool_by_outsider(self, user, function):
        args = (user,) if function == "joinAsBitcoinHolder" else (user, 5)
        self._expect(errors.NotOracle, self.chain.transact, STRANGER, "YieldScalesPool", function, args)

    # ------------------------------------------------------------------ proof of reserves and time

    @rule(root=st.binary(min_size=32, max_size=32), height=st.integers(0, 2**32 - 1), by_committee=st.booleans())
    def publish_reserves(self, root, height, by_committee):
        total = self.chain.total_supply()
        sender = self.committee if by_committee else STRANGER
        call = lambda: self.chain.transact(sender, "ProofOfReserves", "publishRoot", (root, height, total))  # noqa: E731
        if by_committee:
            rounds = self.chain.call("ProofOfReserves", "rounds")
            call()
            assert self.chain.call("ProofOfReserves", "latest")[:3] == (root, height, total)
            assert self.chain.call("ProofOfReserves", "rounds") == rounds + 1
        else:
            self._expect(errors.Restricted, call)

    @rule(seconds=st.sampled_from((1, 600, 86_400, 30 * 86_400, 190 * 86_400, YEAR)))
    def time_passes(self, seconds):
        number, timestamp = self.chain.block
        self.chain.set_block(number + seconds, timestamp + seconds)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def supply_equals_recorded_balances(self):
        # invariant 2 (model == EVM is checked by lockstep after every action)
        c = self.chain
        assert c.total_supply() == sum(c.last_sats(u) for u in USERS)
        for user in USERS:
            assert c.rbtc_balance(user) == c.last_sats(user)

    @invariant()
    def fees_are_conserved(self):
        # invariant 4
        c = self.chain
        vaults = sum(c.vault_balance(u) for u in USERS)
        assert self.deposited == vaults + self.spent + self.withdrawn
        assert c.eth_balance(c.addresses["FeeVault"]) == vaults
        assert c.eth_balance(self.collector) == self.collector_start + self.spent

    @invariant()
    def yield_is_monotone_and_rate_bounded(self):
        # invariant 7
        c = self.chain
        rate = c.call("YieldScalesPool", "calculateYieldRate")
        assert 0 <= rate <= c.call("YieldScalesPool", "yieldParameters")[1]
        for user, previous in list(self.last_owed.items()):
            owed = c.call("YieldScalesPool", "calculateYieldOwed", (user,))
            assert owed >= previous, f"accrued yield of {user} went down: {previous} -> {owed}"
            self.last_owed[user] = owed

    def teardown(self):
        # the whole observable state once more, whatever observe_every was
        self.chain.check_state("teardown")


class FixedFeeMachine(LockstepMachine):
    preset = "fixed_fee"


# The CI budget per preset: 100 examples x up to 75 steps, ten times the 25 x 30 py-evm allowed, in
# about half its time (see the README); `make fuzz` runs 40 times the examples.
TestLockstepTestnet = LockstepMachine.TestCase
TestLockstepTestnet.settings = settings(max_examples=examples(100), stateful_step_count=75, deadline=None)
TestLockstepFixedFee = FixedFeeMachine.TestCase
TestLockstepFixedFee.settings = settings(max_examples=examples(100), stateful_step_count=75, deadline=None)

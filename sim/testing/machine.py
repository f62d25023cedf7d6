"""The stateful property suite: a Hypothesis state machine that drives a build against the rules.

:class:`ProtocolMachine` plays a handler in the Foundry sense. Its rules make valid-looking moves
(and deliberately wrong ones: a wrong caller, zero values, out-of-range balances, a soulbound
transfer), some of them goal-directed so a short run reaches the paths that matter (an increase
the vault can pay for, a decrease it cannot, a top-up and re-mint, a fee above the cap, a tier
change after months in the pool). It keeps ghost variables of what the chain should hold and
checks PROTOCOL.md's invariants on the build's own state after every step; every action also runs
on the reference models, and the two must agree (``lockstep``, checked last, so a failure is named
by the most specific invariant it breaks).

A failure is an :class:`InvariantFailure` naming the invariant. Every step is recorded
(:attr:`ProtocolMachine.trace`), so the minimal failing run Hypothesis shrinks to can be saved and
replayed (:mod:`sim.testing.counterexample`). The paths each run reached are counted per machine
class (:attr:`ProtocolMachine.paths`) and reported to Hypothesis with ``event()``.

Subclass it (or use :func:`machine_for`) to choose the build, the protocol parameters and the wiring.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any, Callable

from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from contracts_model import errors
from contracts_model.accounts import ZERO_ADDRESS
from contracts_model.params import PRESETS, ProtocolParams
from sim.invariants.ledger import rule_fee
from sim.protocol.lockstep import LockstepDivergence
from sim.protocol.port import RoleNotHeld
from sim.testing.build import Build, deployed
from sim.testing.strategies import STRANGER, USERS, balances, users, wei

INT64_MAX = 2**63 - 1
YEAR = 365 * 86_400
TIERS = ("bronze", "silver", "gold")
KINDS = ("holder", "trader")
#: The paths a run of the suite must reach (the coverage test and ``rbtc-sim check`` report them).
REQUIRED_PATHS = (
    "increase", "decrease", "emergency_burn", "needs_topup", "remint_after_topup", "withdraw", "fee_cap",
    "join_holder", "join_trader", "claim", "tier:holder:silver", "tier:holder:gold", "tier:trader:silver",
    "tier:trader:gold", "dispute_filed", "dispute_resolved",
    "revert:Restricted", "revert:NotOracle", "revert:Soulbound", "revert:ZeroAddress", "revert:ZeroValue",
    "revert:InsufficientBalance", "revert:FeeCapExceeded", "revert:BalanceOutOfRange", "revert:AlreadyParticipant",
    "revert:NotParticipant", "revert:InvalidParticipant", "revert:InvalidAmount", "revert:NothingToClaim",
    "revert:DisputeAlreadyFiled", "revert:NoDispute",
)


class InvariantFailure(AssertionError):
    """A property of PROTOCOL.md does not hold; ``invariant`` names it (see :data:`sim.invariants.INVARIANTS`)."""

    def __init__(self, invariant: str, message: str, values: dict | None = None):
        super().__init__(invariant, message, values or {})
        self.invariant, self.message, self.values = invariant, message, values or {}

    def __str__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.values.items())
        return f"[{self.invariant}] {self.message}" + (f" ({shown})" if shown else "")


def step(invariant: str) -> Callable:
    """Record a rule's call in the trace; an unexpected exception in it breaks ``invariant``."""

    def decorate(function: Callable) -> Callable:
        @functools.wraps(function)
        def recorded(self, **kwargs):
            if not self.depth:  # a rule calling another rule is one step, recorded once
                self.trace.append((function.__name__, dict(kwargs)))
                self.chain.journal_step = len(self.trace) - 1
            self.depth += 1
            try:
                return function(self, **kwargs)
            except (InvariantFailure, LockstepDivergence):
                raise
            except RoleNotHeld as exc:
                raise InvariantFailure("wiring", str(exc)) from exc
            except errors.ContractRevert as exc:
                raise InvariantFailure(invariant, f"{function.__name__}: a call the rules say succeeds reverted "
                                                  f"{exc!r} ({getattr(exc, 'call', 'a call')})") from exc
            except AssertionError as exc:
                raise InvariantFailure(invariant, f"{function.__name__}: {exc}") from exc
            finally:
                self.depth -= 1

        return recorded

    return decorate


class ProtocolMachine(RuleBasedStateMachine):
    """See the module docstring. Class attributes choose what is checked."""

    build: Build = Build()
    params: ProtocolParams = PRESETS["testnet"]
    #: Paths reached by every run of this class (and its subclasses' own counters).
    paths: Counter = Counter()
    #: The trace and the contract calls of the most recent run (after a failure: the minimal one).
    last_trace: list = []
    last_calls: list = []
    OBSERVE_EVERY = 8
    #: The @invariant methods, in the order they run (replays call them the same way).
    INVARIANT_CHECKS = ("supply_equals_recorded_balances", "fees_are_conserved", "yield_is_monotone_and_rate_bounded",
                        "matches_reference_models")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.paths = Counter()
        cls.last_trace = []
        cls.last_calls = []

    def __init__(self, *, under_hypothesis: bool = True):
        super().__init__()
        self.under_hypothesis = under_hypothesis
        self.trace: list[tuple[str, dict]] = []
        type(self).last_trace = self.trace
        self.depth = 0
        # Outcomes and events are compared on every action; the whole state every OBSERVE_EVERY actions
        # and at the end (the invariants read the state that matters after every step).
        self.chain = deployed(self.build, self.params, on_divergence="record", observe_every=self.OBSERVE_EVERY)
        #: Every contract call of the run: (trace index, action, outcome), for readable counterexamples.
        self.calls: list[tuple[int, str, str]] = []
        self.chain.journal = self.calls
        type(self).last_calls = self.calls
        self.p = self.params
        self.committee = self.chain.actor("committee")
        self.collector = self.chain.role_address("fee_collector")
        self.collector_start = self.chain.eth_balance(self.collector)
        # ghost variables
        self.deposited = 0
        self.spent = 0
        self.withdrawn = 0
        self.claimed: dict[str, int] = {u: 0 for u in USERS}
        self.last_owed: dict[str, int] = {}
        self.tiers: dict[str, int] = {}
        self.burned_out: set[str] = set()

    # ------------------------------------------------------------------ helpers

    def _path(self, name: str) -> None:
        type(self).paths[name] += 1
        if self.under_hypothesis:
            event(name)

    def _check(self, invariant: str, holds: bool, message: str, **values: Any) -> None:
        if not holds:
            raise InvariantFailure(invariant, message, values)

    def _tally(self, receipt) -> None:
        for e in receipt.events:
            if e.name == "Transfer" and e.contract == "RBTCSynth":
                self._check("access", ZERO_ADDRESS in (e.args[0], e.args[1]),
                            "rBTC-SYNTH moved between two users (it is soulbound)", event=repr(e))

    def _deposit(self, payer: str, user: str, amount: int) -> None:
        self._tally(self.chain.deposit(payer, user, amount))
        self.deposited += amount  # the ghost counts what the rules move, not what the build emits
        self._path("deposit")

    def _withdraw(self, user: str) -> None:
        held = self.chain.vault_balance(user)
        self._tally(self.chain.withdraw_unused(user))
        self.withdrawn += held
        self._path("withdraw")

    def _empty_vault(self, user: str) -> None:
        """Withdraw the user's whole prepaid balance (prepaying one wei first, so a withdrawal happens)."""
        if not self.chain.vault_balance(user):
            self._deposit(user, user, 1)
        self._withdraw(user)

    def _expect(self, error: type, invariant: str, call: Callable, *args, **kwargs) -> None:
        """``call`` must revert with ``error`` (the rules refuse it); record the revert as a path."""
        try:
            receipt = call(*args, **kwargs)
        except error:
            self._path(f"revert:{error.__name__}")
            return
        except errors.ContractRevert as exc:
            raise InvariantFailure(invariant, f"expected {error.__name__}(), got {exc!r}") from exc
        if hasattr(receipt, "events"):
            self._tally(receipt)
        raise InvariantFailure(invariant, f"expected {error.__name__}(), but the call succeeded")

    def _participant(self, user) -> tuple:
        return self.chain.call("YieldScalesPool", "participants", (user,))

    def _note_tier(self, user: str) -> None:
        info = self._participant(user)
        if info[5] == 0:
            return
        tier, before = info[7], self.tiers.get(user, 0)
        if tier > before:
            self._path(f"tier:{KINDS[info[0]]}:{TIERS[tier]}")
        self.tiers[user] = tier

    # ------------------------------------------------------------------ set-up

    @initialize()
    @step("fees")
    def fund_accounts(self):
        for account in USERS + (STRANGER,):
            self.chain.set_eth_balance(account, 10**21)

    # ------------------------------------------------------------------ fee vault

    @rule(payer=st.sampled_from(USERS + (STRANGER,)), user=st.one_of(users, st.just(ZERO_ADDRESS)), amount=wei)
    @step("fees")
    def deposit(self, payer, user, amount):
        c = self.chain
        if user == ZERO_ADDRESS:
            self._expect(errors.ZeroAddress, "fees", c.deposit, payer, user, amount)
        elif amount == 0:
            self._expect(errors.ZeroValue, "fees", c.deposit, payer, user, amount)
        else:
            before = c.vault_balance(user)
            self._deposit(payer, user, amount)
            self._check("fees", c.vault_balance(user) == before + amount, "a deposit credited the vault wrongly",
                        before=before, deposit=amount, after=c.vault_balance(user))

    @rule(user=users)
    @step("fees")
    def withdraw(self, user):
        c = self.chain
        held = c.vault_balance(user)
        if held == 0:
            self._expect(errors.InsufficientBalance, "fees", c.withdraw_unused, user)
            return
        eth_before = c.eth_balance(user)
        self._withdraw(user)
        self._check("fees", c.vault_balance(user) == 0, "a withdrawal left a vault balance behind",
                    left=c.vault_balance(user))
        self._check("fees", c.eth_balance(user) == eth_before + held, "a withdrawal paid back other than the balance",
                    received=c.eth_balance(user) - eth_before, balance=held)

    @rule(user=users, amount=wei, by_committee=st.booleans())
    @step("fees")
    def register_and_prepay(self, user, amount, by_committee):
        sender = self.committee if by_committee else STRANGER
        call = lambda: self.chain.transact(  # noqa: E731
            sender, "OracleAggregator", "registerAndPrepay", (user, 1, b"\x11" * 32), value=amount
        )
        if not by_committee:
            self._expect(errors.Restricted, "access", call)
        elif amount == 0:
            self._expect(errors.ZeroValue, "fees", call)
        else:
            before = self.chain.vault_balance(user)
            self._tally(call())
            self.deposited += amount
            self._path("deposit")
            self._check("fees", self.chain.vault_balance(user) == before + amount,
                        "registerAndPrepay credited the vault wrongly", before=before, deposit=amount)

    @step("access")
    def vault_spend_by_outsider(self, user, amount):
        self._expect(errors.NotOracle, "access", self.chain.transact, STRANGER, "FeeVault", "spendFrom", (user, amount))

    # ------------------------------------------------------------------ sync

    def _sync(self, user: str, target: int) -> None:
        """``sync`` by the committee, checked against the rules whatever the vault holds."""
        c = self.chain
        previous, held, vault = c.last_sats(user), c.rbtc_balance(user), c.vault_balance(user)
        burns, flagged = c.call("OracleAggregator", "totalEmergencyBurns"), c.emergency_burned(user)
        delta = target - previous
        if target > INT64_MAX:
            self._expect(errors.BalanceOutOfRange, "consistency", c.sync, user, target)
            return
        if delta == 0:
            receipt = c.sync(user, target)
            self._check("consistency", receipt.events == (), "a sync without a change emitted events",
                        events=repr(receipt.events))
            return
        fee = rule_fee(self.p, delta)
        quoted = c.quote_fee(user, delta)
        self._check("fees", quoted == fee, "FeePolicy quotes other than the rules' fee", quoted=quoted, rules=fee,
                    delta=delta)
        if fee > self.p.max_fee_per_sync_wei:
            self._path("fee_cap")
            self._expect(errors.FeeCapExceeded, "fees", c.sync, user, target)
            return
        try:
            receipt = c.sync(user, target)
        except errors.ContractRevert as exc:
            if vault < fee and delta > 0:  # the rules refuse it with an observable NeedsTopUp, not a revert
                raise InvariantFailure("observability", "a sync refused for lack of prepaid fees reverted, erasing "
                                       "NeedsTopUp", {"error": repr(exc), "delta": delta, "fee": fee}) from exc
            raise
        self._tally(receipt)
        names = [e.name for e in receipt.events]
        if vault < fee and delta < 0:
            self._path("emergency_burn")
            self._check("burns", c.last_sats(user) == 0 and c.rbtc_balance(user) == 0,
                        "an emergency burn did not zero the user", last_sats=c.last_sats(user),
                        balance=c.rbtc_balance(user))
            self._check("burns", c.emergency_burned(user), "an emergency burn did not set the flag")
            self._check("burns", c.call("OracleAggregator", "totalEmergencyBurns") == burns + 1,
                        "an emergency burn did not increment the counter")
            self._check("burns", c.vault_balance(user) == vault, "an emergency burn charged a fee",
                        charged=vault - c.vault_balance(user))
            self._check("observability", "EmergencyBurn" in names, "an emergency burn emitted no EmergencyBurn")
            self.burned_out.add(user)
        elif vault < fee:
            self._path("needs_topup")
            self._check("observability", "NeedsTopUp" in names, "a sync refused for lack of fees emitted no NeedsTopUp",
                        events=names)
            self._check("consistency",
                        (c.last_sats(user), c.rbtc_balance(user), c.vault_balance(user)) == (previous, held, vault),
                        "a sync refused for lack of fees changed the state")
        else:
            self._path("increase" if delta > 0 else "decrease")
            if delta > 0 and user in self.burned_out:
                self._path("remint_after_topup")
                self.burned_out.discard(user)
            invariant = "burns" if delta < 0 else "consistency"
            self._check(invariant, c.last_sats(user) == target, "lastSats is not the synced balance",
                        last_sats=c.last_sats(user), synced=target)
            self._check(invariant, c.rbtc_balance(user) == held + delta,
                        "a decrease did not burn exactly |delta|" if delta < 0 else "an increase did not mint delta",
                        balance=c.rbtc_balance(user), expected=held + delta)
            charged = vault - c.vault_balance(user)
            if delta < 0 and charged > fee:
                raise InvariantFailure("burns", "the percentage fee was charged on a burn", {"charged": charged,
                                                                                              "rules_fee": fee})
            self._check("fees", charged == fee, "the fee charged differs from the rules' quote", charged=charged,
                        rules_fee=fee)
            self.spent += fee
            synced = [e for e in receipt.events if e.name == "Synced"]
            self._check("observability", len(synced) == 1 and synced[0].args[2] == delta and synced[0].args[3] == fee,
                        "Synced does not report the delta and the fee", events=repr(receipt.events))
            self._check("burns", c.emergency_burned(user) == flagged, "a regular sync changed the emergency flag")
        if self._participant(user)[5] != 0 and self._participant(user)[0] == 0:
            self._update(user, c.rbtc_balance(user))

    @step("consistency")
    def sync(self, user, balance):
        self._sync(user, balance)

    @step("consistency")
    def prepaid_increase(self, user, up):
        """Goal-directed: prepay what an increase costs, then sync up (an increase that applies)."""
        c = self.chain
        target = c.last_sats(user) + up
        fee = rule_fee(self.p, up)
        if 0 < fee <= self.p.max_fee_per_sync_wei:
            self._deposit(STRANGER, user, fee)
        self._sync(user, target)

    @step("burns")
    def unpaid_decrease(self, user, fraction):
        """Goal-directed: empty the vault, then sync down (an emergency burn when a decrease costs a fee)."""
        self._empty_vault(user)
        self._sync(user, int(self.chain.last_sats(user) * fraction))

    @step("consistency")
    def unpaid_increase(self, user, up):
        """Goal-directed: empty the vault, then sync up (the contract must refuse with NeedsTopUp)."""
        self._empty_vault(user)
        self._sync(user, self.chain.last_sats(user) + up)

    @step("burns")
    def prepaid_decrease(self, user, fraction):
        """Goal-directed: hold something, prepay the decrease's fee, then sync down (a decrease that applies)."""
        c = self.chain
        if c.last_sats(user) == 0:
            self.prepaid_increase(user=user, up=10_000_000)
        if c.last_sats(user) == 0:
            return
        target = int(c.last_sats(user) * fraction)
        fee = rule_fee(self.p, target - c.last_sats(user))
        if fee:
            self._deposit(STRANGER, user, fee)
        self._sync(user, target)

    @rule(user=users, up=st.integers(min_value=1_000, max_value=10**8), days=st.sampled_from((30, 190, 400)),
          kind=st.sampled_from(("holder", "trader")))
    @step("yield")
    def pool_lifecycle(self, user, up, days, kind):
        """Goal-directed: join the pool (as a holder after an increase, or as a trader), let time pass,
        checkpoint (a tier change when the rules say), then claim."""
        c = self.chain
        info = self._participant(user)
        if info[5] == 0:
            if kind == "holder":
                self.prepaid_increase(user=user, up=up)
                if c.rbtc_balance(user) == 0:
                    return
                self.join_as_holder(user=user)
            else:
                self.join_as_trader(user=user, usdt=up)
            info = self._participant(user)
        self.time_passes(seconds=days * 86_400)
        if info[0] == 0:
            self.update_contribution(user=user, actual=True, amount=0)
        else:
            self.join_as_trader(user=user, usdt=up)
        self.claim(user=user)

    @step("disputes")
    def dispute_lifecycle(self, user, accepted):
        """Goal-directed: a participant disputes its balance and the pool's oracle resolves it."""
        c = self.chain
        if self._participant(user)[5] == 0:
            self.join_as_trader(user=user, usdt=10**9)
        if not c.call("YieldScalesPool", "isDisputed", (user,)):
            self.dispute(user=user, reported=c.rbtc_balance(user) + 1, recorded=c.last_sats(user))
        self.resolve(user=user, accepted=accepted)

    @rule(user=users)
    @step("access")
    def refusals(self, user):
        """Goal-directed: a tour of the calls the rules refuse that random moves rarely make, each of which
        must revert with its own error: zero deposits and prepayments, a deposit to the zero address,
        withdrawing nothing, a zero trader amount, a balance beyond int64, joining twice, joining with
        nothing, a holder's wrong kind of update, a claim of nothing, a second dispute, resolving none."""
        c = self.chain
        self._expect(errors.ZeroValue, "fees", c.deposit, STRANGER, user, 0)
        self._expect(errors.ZeroAddress, "fees", c.deposit, STRANGER, ZERO_ADDRESS, 1)
        self._expect(errors.ZeroValue, "fees", c.transact, self.committee, "OracleAggregator", "registerAndPrepay",
                     (user, 1, b"\x11" * 32), value=0)
        if not c.vault_balance(user):
            self._expect(errors.InsufficientBalance, "fees", c.withdraw_unused, user)
        self._expect(errors.InvalidAmount, "yield", c.pool, "joinAsTrader", user, 0)
        self._sync(user, INT64_MAX + 1)
        if self._participant(user)[5] == 0 and c.rbtc_balance(user) == 0:
            self._expect(errors.InsufficientBalance, "yield", c.pool, "joinAsBitcoinHolder", user)
        if self._participant(user)[5] == 0:
            self.join_as_trader(user=user, usdt=10**9)
        self._expect(errors.AlreadyParticipant, "yield", c.pool, "joinAsBitcoinHolder", user)
        if self._participant(user)[0] == 1:
            self._expect(errors.InvalidParticipant, "yield", c.pool, "updateRBTCContribution", user, 1)
        else:
            self._expect(errors.InvalidParticipant, "yield", c.pool, "joinAsTrader", user, 1)
        if c.call("YieldScalesPool", "calculateYieldOwed", (user,)):
            self.claim(user=user)
        self._expect(errors.NothingToClaim, "yield", c.transact, user, "YieldScalesPool", "claimYield")
        if c.call("YieldScalesPool", "isDisputed", (user,)):
            self.resolve(user=user, accepted=False)
        self._expect(errors.NoDispute, "disputes", c.pool, "resolveDispute", user, True)
        self.dispute(user=user, reported=1, recorded=0)
        self._expect(errors.DisputeAlreadyFiled, "disputes", c.transact, user, "YieldScalesPool", "disputeBalance",
                     (2, 0))

    @step("fees")
    def over_the_cap(self, user):
        """Goal-directed: an increase whose fee is above the cap (FeeCapExceeded)."""
        per_sat = max(1, self.p.wei_per_sat * self.p.pct_bps // 10_000)
        up = self.p.max_fee_per_sync_wei // per_sat + 10**6
        self._sync(user, min(INT64_MAX, self.chain.last_sats(user) + up))

    @step("consistency")
    def sync_beyond_uint64(self, user, balance):
        try:
            self.chain.sync(user, balance)
        except errors.ArgumentError:
            return
        raise InvariantFailure("consistency", "a balance beyond uint64 was accepted")

    @step("access")
    def sync_by_outsider(self, user, balance):
        self._expect(errors.Restricted, "access", self.chain.transact, STRANGER, "OracleAggregator", "sync",
                     (user, balance, b""))

    @step("burns")
    def manual_emergency_burn(self, user):
        c = self.chain
        recorded, burns = c.last_sats(user), c.call("OracleAggregator", "totalEmergencyBurns")
        self._tally(c.execute_emergency_burn(user))
        self._check("burns", c.last_sats(user) == 0 and c.rbtc_balance(user) == 0,
                    "executeEmergencyBurn did not zero the user")
        if recorded:
            self._path("emergency_burn")
            self.burned_out.add(user)
            self._check("burns", c.emergency_burned(user), "executeEmergencyBurn did not set the flag")
            self._check("burns", c.call("OracleAggregator", "totalEmergencyBurns") == burns + 1,
                        "executeEmergencyBurn did not increment the counter")

    @step("burns")
    def reset_emergency(self, user):
        self.chain.reset_emergency_burn_status(user)
        self._check("burns", not self.chain.emergency_burned(user), "resetEmergencyBurnStatus left the flag set")

    @step("access")
    def emergency_by_outsider(self, user, function):
        self._expect(errors.Restricted, "access", self.chain.transact, STRANGER, "OracleAggregator", function, (user,))

    # ------------------------------------------------------------------ soulbound token

    @step("access")
    def move_rbtc(self, holder, other, amount, function):
        args = (holder, other, amount) if function == "transferFrom" else (other, amount)
        self._expect(errors.Soulbound, "access", self.chain.transact, holder, "RBTCSynth", function, args)

    @step("access")
    def mint_by_outsider(self, user, amount, mint):
        function = "oracleMint" if mint else "oracleBurn"
        self._expect(errors.Restricted, "access", self.chain.transact, user, "RBTCSynth", function, (user, amount))

    # ------------------------------------------------------------------ yield pool

    def _update(self, user: str, value: int) -> None:
        owed = self.chain.call("YieldScalesPool", "calculateYieldOwed", (user,))
        self.chain.pool("updateRBTCContribution", user, value)
        self._path("contribution_update")
        self._check("yield", self._participant(user)[2] == value, "the contribution is not the reported balance")
        after = self.chain.call("YieldScalesPool", "calculateYieldOwed", (user,))
        self._check("yield", after >= owed, "owed yield fell across updateRBTCContribution", before=owed, after=after)
        self._note_tier(user)

    @step("yield")
    def join_as_holder(self, user):
        c = self.chain
        if self._participant(user)[5] != 0:
            self._expect(errors.AlreadyParticipant, "yield", c.pool, "joinAsBitcoinHolder", user)
        elif c.rbtc_balance(user) == 0:
            self._expect(errors.InsufficientBalance, "yield", c.pool, "joinAsBitcoinHolder", user)
        else:
            c.pool("joinAsBitcoinHolder", user)
            self._path("join_holder")
            self.last_owed[user] = 0
            self.tiers[user] = 0
            self._check("yield", self._participant(user)[2] == c.rbtc_balance(user),
                        "a holder joined with other than its balance")

    @step("yield")
    def join_as_trader(self, user, usdt):
        c, info = self.chain, self._participant(user)
        if usdt == 0:
            self._expect(errors.InvalidAmount, "yield", c.pool, "joinAsTrader", user, usdt)
        elif info[5] != 0 and info[0] != 1:
            self._expect(errors.InvalidParticipant, "yield", c.pool, "joinAsTrader", user, usdt)
        else:
            owed = c.call("YieldScalesPool", "calculateYieldOwed", (user,)) if info[5] else 0
            c.pool("joinAsTrader", user, usdt)
            self._path("join_trader")
            self.last_owed.setdefault(user, 0)
            self.tiers.setdefault(user, 0)
            after = c.call("YieldScalesPool", "calculateYieldOwed", (user,))
            self._check("yield", after >= owed, "owed yield fell across joinAsTrader", before=owed, after=after)
            self._note_tier(user)

    @step("yield")
    def update_contribution(self, user, actual, amount):
        c, info = self.chain, self._participant(user)
        value = c.rbtc_balance(user) if actual else amount
        if info[5] == 0:
            self._expect(errors.NotParticipant, "yield", c.pool, "updateRBTCContribution", user, value)
        elif info[0] != 0:
            self._expect(errors.InvalidParticipant, "yield", c.pool, "updateRBTCContribution", user, value)
        else:
            self._update(user, value)

    @step("yield")
    def pool_emergency_burn(self, user, burned):
        c, info = self.chain, self._participant(user)
        if info[5] == 0:
            self._expect(errors.NotParticipant, "yield", c.pool, "emergencyBurn", user, burned)
            return
        owed = c.call("YieldScalesPool", "calculateYieldOwed", (user,))
        c.pool("emergencyBurn", user, burned)
        self._path("pool_emergency_burn")
        if info[0] == 0:
            self._check("yield", self._participant(user)[2] == 0, "a pool emergency burn left a contribution")
        after = c.call("YieldScalesPool", "calculateYieldOwed", (user,))
        self._check("yield", after >= owed, "owed yield fell across emergencyBurn", before=owed, after=after)
        self._note_tier(user)

    @step("yield")
    def claim(self, user):
        c = self.chain
        if self._participant(user)[5] == 0:
            self._expect(errors.NotParticipant, "yield", c.transact, user, "YieldScalesPool", "claimYield")
            return
        owed = c.call("YieldScalesPool", "calculateYieldOwed", (user,))
        if owed == 0:
            self._expect(errors.NothingToClaim, "yield", c.transact, user, "YieldScalesPool", "claimYield")
            return
        receipt = c.transact(user, "YieldScalesPool", "claimYield")
        self._path("claim")
        paid = [e.args[1] for e in receipt.events if e.name == "YieldClaimed"]
        self._check("yield", paid == [owed], "a claim paid other than what had accrued", paid=paid, owed=owed)
        self.claimed[user] += owed
        self._check("yield", c.call("YieldScalesPool", "calculateYieldOwed", (user,)) == 0, "a claim left yield owed")
        self._check("yield", self._participant(user)[4] == self.claimed[user], "yieldClaimed is not the sum of claims",
                    recorded=self._participant(user)[4], claimed=self.claimed[user])
        self.last_owed[user] = 0
        self._note_tier(user)

    @step("disputes")
    def dispute(self, user, reported, recorded):
        c = self.chain
        call = lambda: c.transact(user, "YieldScalesPool", "disputeBalance", (reported, recorded))  # noqa: E731
        if self._participant(user)[5] == 0:
            self._expect(errors.NotParticipant, "disputes", call)
        elif c.call("YieldScalesPool", "isDisputed", (user,)):
            self._expect(errors.DisputeAlreadyFiled, "disputes", call)
        else:
            call()
            self._path("dispute_filed")
            self._check("disputes", c.call("YieldScalesPool", "isDisputed", (user,)), "a filed dispute is not open")

    @step("disputes")
    def resolve(self, user, accepted):
        c = self.chain
        if not c.call("YieldScalesPool", "isDisputed", (user,)):
            self._expect(errors.NoDispute, "disputes", c.pool, "resolveDispute", user, accepted)
        else:
            c.pool("resolveDispute", user, accepted)
            self._path("dispute_resolved")
            self._check("disputes", not c.call("YieldScalesPool", "isDisputed", (user,)),
                        "a resolved dispute is still open")

    @step("access")
    def pool_by_outsider(self, user, function):
        args = (user,) if function == "joinAsBitcoinHolder" else (user, 5)
        self._expect(errors.NotOracle, "access", self.chain.transact, STRANGER, "YieldScalesPool", function, args)

    # ------------------------------------------------------------------ proof of reserves and time

    # ------------------------------------------------------------------ the rules Hypothesis chooses among
    #
    # Few rules with a ``kind`` each, rather than one rule per move: Hypothesis's swarm testing turns
    # whole rules on and off per example, so a handful of broad rules reaches every move in a short run.

    SYNC_MOVES = ("any", "prepaid_increase", "prepaid_decrease", "unpaid_increase", "unpaid_decrease",
                  "burn_and_remint", "over_the_cap", "beyond_uint64")

    @rule(user=users, kind=st.sampled_from(SYNC_MOVES), balance=balances,
          up=st.integers(min_value=1_000, max_value=5 * 10**8), fraction=st.sampled_from((0.0, 0.3, 0.9)))
    @step("consistency")
    def sync_move(self, user, kind, balance, up, fraction):
        """The committee syncs a user: any balance, or a move aimed at a path (an increase or decrease
        the vault can or cannot pay for, a fee above the cap, a balance beyond uint64)."""
        if kind == "any":
            self.sync(user=user, balance=balance)
        elif kind in ("prepaid_increase", "unpaid_increase"):
            getattr(self, kind)(user=user, up=up)
        elif kind in ("prepaid_decrease", "unpaid_decrease"):
            getattr(self, kind)(user=user, fraction=fraction)
        elif kind == "burn_and_remint":  # a decrease the vault cannot pay, then a top-up and an increase
            self.prepaid_increase(user=user, up=up)
            self.unpaid_decrease(user=user, fraction=fraction)
            self.prepaid_increase(user=user, up=up)
        elif kind == "over_the_cap":
            self.over_the_cap(user=user)
        else:
            self.sync_beyond_uint64(user=user, balance=2**64 + balance)

    OUTSIDER_MOVES = ("sync", "spendFrom", "executeEmergencyBurn", "resetEmergencyBurnStatus", "oracleMint",
                      "oracleBurn", "transfer", "approve", "transferFrom", "joinAsBitcoinHolder", "joinAsTrader",
                      "updateRBTCContribution", "emergencyBurn")

    @rule(user=users, other=users, amount=st.integers(min_value=1, max_value=10**9))
    @step("access")
    def outsider(self, user, other, amount):
        """Every restricted call tried by someone without its role, and every way of moving soulbound
        rBTC: each must revert (Restricted, NotOracle or Soulbound)."""
        for kind in self.OUTSIDER_MOVES:
            if kind == "sync":
                self.sync_by_outsider(user=user, balance=amount)
            elif kind == "spendFrom":
                self.vault_spend_by_outsider(user=user, amount=amount)
            elif kind in ("executeEmergencyBurn", "resetEmergencyBurnStatus"):
                self.emergency_by_outsider(user=user, function=kind)
            elif kind in ("oracleMint", "oracleBurn"):
                self.mint_by_outsider(user=user, amount=amount, mint=kind == "oracleMint")
            elif kind in ("transfer", "approve", "transferFrom"):
                self.move_rbtc(holder=user, other=other, amount=amount, function=kind)
            else:
                self.pool_by_outsider(user=user, function=kind)

    @rule(user=users, reset=st.booleans())
    @step("burns")
    def committee_emergency(self, user, reset):
        """The committee burns a user's whole balance, or resets its emergency flag."""
        if reset:
            self.reset_emergency(user=user)
        else:
            self.manual_emergency_burn(user=user)

    POOL_MOVES = ("join_holder", "join_trader", "update", "burn", "claim")

    @rule(user=users, kind=st.sampled_from(POOL_MOVES), usdt=st.one_of(st.just(0), st.integers(1, 10**12)),
          actual=st.booleans(), amount=st.integers(min_value=0, max_value=10**9))
    @step("yield")
    def pool_move(self, user, kind, usdt, actual, amount):
        """The pool's oracle joins, updates or burns a participant, or a participant claims."""
        if kind == "join_holder":
            self.join_as_holder(user=user)
        elif kind == "join_trader":
            self.join_as_trader(user=user, usdt=usdt)
        elif kind == "update":
            self.update_contribution(user=user, actual=actual, amount=amount)
        elif kind == "burn":
            self.pool_emergency_burn(user=user, burned=amount)
        else:
            self.claim(user=user)

    @rule(user=users, kind=st.sampled_from(("file", "resolve", "lifecycle")), accepted=st.booleans(),
          reported=st.integers(min_value=0, max_value=10**9))
    @step("disputes")
    def dispute_move(self, user, kind, accepted, reported):
        """A participant disputes its balance, the pool's oracle resolves a dispute, or both."""
        if kind == "file":
            self.dispute(user=user, reported=reported, recorded=self.chain.last_sats(user))
        elif kind == "resolve":
            self.resolve(user=user, accepted=accepted)
        else:
            self.dispute_lifecycle(user=user, accepted=accepted)

    @rule(root=st.binary(min_size=32, max_size=32), height=st.integers(0, 2**32 - 1), by_publisher=st.booleans())
    @step("reserves")
    def publish_reserves(self, root, height, by_publisher):
        c = self.chain
        if not c.has("ProofOfReserves"):
            return
        total = c.total_supply()
        sender = c.actor("reserves_publisher") if by_publisher else STRANGER
        call = lambda: c.transact(sender, "ProofOfReserves", "publishRoot", (root, height, total))  # noqa: E731
        if by_publisher:
            rounds = c.call("ProofOfReserves", "rounds")
            call()
            self._path("publish_reserves")
            self._check("reserves", c.call("ProofOfReserves", "latest")[:3] == (root, height, total),
                        "the latest publication is not what was published")
            self._check("reserves", c.call("ProofOfReserves", "rounds") == rounds + 1, "rounds did not increase")
        else:
            self._expect(errors.Restricted, "access", call)

    @rule(seconds=st.sampled_from((1, 600, 86_400, 30 * 86_400, 190 * 86_400, YEAR)))
    @step("yield")
    def time_passes(self, seconds):
        number, timestamp = self.chain.block
        self.chain.set_block(number + seconds, timestamp + seconds)

    # ------------------------------------------------------------------ invariants (run after every step)

    @invariant()
    def supply_equals_recorded_balances(self):
        c = self.chain
        supply = c.total_supply()
        recorded = sum(c.last_sats(u) for u in USERS)
        self._check("consistency", supply == recorded, "totalSupply differs from the sum of lastSats",
                    total_supply=supply, sum_last_sats=recorded)
        for user in USERS:
            self._check("consistency", c.rbtc_balance(user) == c.last_sats(user), "balanceOf differs from lastSats",
                        user=user, balance=c.rbtc_balance(user), last_sats=c.last_sats(user))

    @invariant()
    def fees_are_conserved(self):
        c = self.chain
        vaults = sum(c.vault_balance(u) for u in USERS)
        self._check("fees", self.deposited == vaults + self.spent + self.withdrawn,
                    "deposits differ from vault balances + spent + withdrawn", deposited=self.deposited,
                    vaults=vaults, spent=self.spent, withdrawn=self.withdrawn)
        self._check("fees", c.eth_balance(c.addresses["FeeVault"]) == vaults,
                    "the vault's ETH differs from the sum of its balances", eth=c.eth_balance(c.addresses["FeeVault"]),
                    vaults=vaults)
        self._check("fees", c.eth_balance(self.collector) == self.collector_start + self.spent,
                    "the fee collector received other than the fees spent",
                    received=c.eth_balance(self.collector) - self.collector_start, spent=self.spent)

    @invariant()
    def yield_is_monotone_and_rate_bounded(self):
        c = self.chain
        rate = c.call("YieldScalesPool", "calculateYieldRate")
        maximum = (self.p.yield_params.max_rate if self.p.yield_params else 2000)
        self._check("yield", 0 <= rate <= maximum, "the yield rate is outside [0, maxRate]", rate=rate, max=maximum)
        for user, previous in list(self.last_owed.items()):
            owed = c.call("YieldScalesPool", "calculateYieldOwed", (user,))
            self._check("yield", owed >= previous, "accrued yield went down between claims", user=user,
                        before=previous, after=owed)
            self.last_owed[user] = owed

    @invariant()
    def matches_reference_models(self):
        divergences = self.chain.divergences
        if divergences:
            raise LockstepDivergence(divergences[0])

    def teardown(self):
        if not self.chain.divergences:
            self.chain.check_state("teardown")
            self.matches_reference_models()


def machine_for(build: Build = Build(), params: ProtocolParams = PRESETS["testnet"], name: str = "Protocol",
                base: type = ProtocolMachine) -> type[ProtocolMachine]:
    """A machine class checking ``build`` deployed with ``params`` (its own path counter and trace)."""
    return type(f"{name}Machine", (base,), {"build": build, "params": params, "__module__": base.__module__})


__all__ = ["INT64_MAX", "REQUIRED_PATHS", "InvariantFailure", "ProtocolMachine", "machine_for", "step"]

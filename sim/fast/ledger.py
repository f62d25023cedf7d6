"""The fast engine's protocol ledger: invariants 2–5 on every transaction, from the rules, over arrays.

:class:`sim.invariants.ledger.ProtocolLedger` for the fast core: a ghost ledger kept from the
*rules* of PROTOCOL.md (its own ``lastSats``, rBTC and vault balances, the vault's ETH, deposits,
fees and withdrawals), compared after every transaction with what the contracts' state holds.
A round's syncs are one batch: each user is synced at most once per round and nothing in one
user's sync touches another's state, so every sync's expected outcome (path, ``lastSats``, balance,
fee, emergency flag) is one array expression and every comparison one mask; each mismatch is
reported as the reference ledger reports it, under the invariant it breaks, naming the function.
After a report the ghost takes the chain's values, so one defect is one violation per occurrence.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from contracts_model.evm_math import INT64_MAX
from sim.invariants.ledger import RESTRICTED

SYNC = "OracleAggregator.sync"


class FastLedger:
    def __init__(self, core):
        self.core = core
        p = core.params
        self.fixed, self.rate, self.cap = p.fixed_wei, p.wei_per_sat * p.pct_bps, p.max_fee_per_sync_wei
        n = core.n
        self.last = np.zeros(n, dtype=np.int64)
        self.rbtc = np.zeros(n, dtype=np.int64)  # as last read from the chain (the backing monitor reads it)
        self.rbtc_total = 0
        self.vault = np.empty(n, dtype=object)
        self.vault[:] = 0
        self.from_events = np.zeros(n, dtype=np.int64)  # rBTC per user from the Transfer events
        self.burned_out: set[int] = set()
        self.emergency_burns = 0
        self.vault_eth = 0
        self.deposited = self.spent = self.withdrawn = 0
        self.paths: Counter = Counter()
        self.holders = {role: core.committee for role in set(RESTRICTED.values())}

    # ------------------------------------------------------------------ helpers

    def rule_fees(self, delta: np.ndarray) -> list[int]:
        """FeePolicy's quote by PROTOCOL.md (percentage leg on increases only), in Python integers."""
        fixed, rate = self.fixed, self.rate
        return [fixed + (d * rate // 10_000 if d > 0 else 0) for d in delta.tolist()]

    def access(self, t: int, sender: str, contract: str, function: str) -> None:
        role = RESTRICTED.get((contract, function))
        if role is not None and sender != self.holders[role]:
            self.core.violate(t, "access", sender, f"{contract}.{function} succeeded for an account that does not "
                              f"hold its role ({role})", function=f"{contract}.{function}",
                              role_holder=self.holders[role])

    def _vault_eth(self, t: int, function: str, actor: str) -> None:
        actual = self.core.vault_total
        if actual != self.vault_eth:
            self.core.violate(t, "fees", actor, "the vault's ETH differs from the sum of its users' balances",
                              function=function, actual=actual, expected=self.vault_eth)
        self.vault_eth = actual

    def may_wait(self, user: int, confirmed: int) -> bool:
        """Whether the rules let ``user``'s rBTC differ from ``confirmed`` after a settled round."""
        pending = confirmed - int(self.last[user])
        if pending <= 0:
            return False
        fee = self.fixed + pending * self.rate // 10_000
        return fee > self.cap or self.vault[user] < fee

    def _read(self, users: np.ndarray) -> None:
        """Read the users' rBTC balances from the chain (the backing monitor re-checks them)."""
        balance = self.core.rbtc[users]
        self.rbtc_total += int((balance - self.rbtc[users]).sum())
        self.rbtc[users] = balance
        self.core.mon_dirty.update(users.tolist())

    # ------------------------------------------------------------------ the fee vault

    def deposit(self, t: int, user: int, value: int, function: str) -> None:
        self.paths["deposit"] += 1
        expected = self.vault[user] + value
        actual = self.core.vault[user]
        if actual != expected:
            self.core.violate(t, "fees", self.core.names[user], "a deposit credited the user's vault balance wrongly",
                              function=function, actual=actual, expected=expected, deposit=value)
        self.vault[user] = actual
        self.deposited += value
        self.vault_eth += value
        self._vault_eth(t, function, self.core.names[user])

    def withdraw(self, t: int, user: int, received: int) -> None:
        held = self.vault[user]
        self.paths["withdraw"] += 1
        name, function = self.core.names[user], "FeeVault.withdrawUnused"
        actual = self.core.vault[user]
        if actual != 0:
            self.core.violate(t, "fees", name, "a withdrawal left a vault balance behind", function=function,
                              actual=actual, expected=0, withdrawn=held)
        if received != held:
            self.core.violate(t, "fees", name, "a withdrawal paid back other than the user's whole balance",
                              function=function, actual=received, expected=held)
        self.vault[user] = actual
        self.withdrawn += held
        self.vault_eth -= held
        self._vault_eth(t, function, name)

    # ------------------------------------------------------------------ syncs, as one batch

    def syncs(self, t: int, users: np.ndarray, new: np.ndarray, received: np.ndarray, events: np.ndarray) -> None:
        """The syncs of ``users`` (each once, all successful) to ``new``; ``received`` what the fee collector
        got for each, ``events`` whether each emitted NeedsTopUp."""
        core, names = self.core, self.core.names
        previous = self.last[users]
        delta = new - previous
        held = self.rbtc[users]
        vault = self.vault[users]
        fee = self.rule_fees(delta)
        fee_o = np.empty(len(fee), dtype=object)
        fee_o[:] = fee
        short = vault < fee_o
        refused = (delta != 0) & ((new > INT64_MAX) | (fee_o > self.cap))
        unchanged = delta == 0
        emerg = ~unchanged & ~refused & short & (delta < 0)
        topup = ~unchanged & ~refused & short & (delta > 0)
        moves = ~unchanged & ~refused & ~short
        want_last = np.where(emerg, 0, np.where(moves, new, previous))
        want_balance = np.where(emerg, held - previous, np.where(moves, held + delta, held))
        want_fee = np.where(moves, fee_o, 0)
        last = core.last_sats[users]
        balance = core.rbtc[users]
        vault_after = core.vault[users]
        charged = vault - vault_after
        counts = Counter({"sync_unchanged": int(unchanged.sum()), "emergency_burn": int(emerg.sum()),
                          "needs_topup": int(topup.sum()), "increase": int((moves & (delta > 0)).sum()),
                          "decrease": int((moves & (delta < 0)).sum())})
        self.paths.update(+counts)
        if self.burned_out:
            self.paths["remint_after_topup"] += sum(1 for u in users[moves & (delta > 0)].tolist()
                                                   if u in self.burned_out)
        for i in np.flatnonzero(refused).tolist():
            core.violate(t, "fees" if new[i] <= INT64_MAX else "consistency", names[int(users[i])],
                         "a sync the rules refuse (fee above the cap, or a balance out of range) went through",
                         function=SYNC, new_balance=int(new[i]), fee=fee[i], cap=self.cap)
        checked = ~refused
        bad_last = checked & (last != want_last)
        burn_wrong = checked & (((delta < 0) & moves & (held - balance != -delta)) |
                                (emerg & (held - balance != previous)))
        bad_balance = checked & ~(moves & (delta < 0)) & ~emerg & (balance != want_balance)
        bad_fee = checked & (charged != want_fee)
        bad_received = received != charged
        if (bad_last | burn_wrong | bad_balance | bad_fee | bad_received | (topup & ~events)).any():
            self._report(t, users, delta, previous, held, balance, last, want_last, want_balance, charged, want_fee,
                         received, bad_last, burn_wrong, bad_balance, bad_fee, bad_received, emerg, moves, topup, events,
                         fee, vault)
        if emerg.any():
            burned = users[emerg]
            counter = core.total_emergency_burns
            if counter != self.emergency_burns + len(burned):
                core.violate(t, "burns", names[int(burned[0])], "an emergency burn did not increment "
                             "totalEmergencyBurns", function=SYNC, actual=counter,
                             expected=self.emergency_burns + len(burned))
            self.emergency_burns = counter
            for user in burned[~core.burned_flag[burned]].tolist():
                core.violate(t, "burns", names[user], "an emergency burn did not set the user's flag", function=SYNC,
                             actual=False, expected=True)
            self.burned_out.update(burned.tolist())
        self.last[users] = last
        self.vault[users] = vault_after
        spent = sum(charged.tolist())
        self.spent += spent
        self.vault_eth -= spent
        if self.burned_out:
            self.burned_out.difference_update(users[(balance > 0) & ~emerg].tolist())
        self._read(users)
        self._vault_eth(t, SYNC, names[int(users[0])])

    def _report(self, t, users, delta, previous, held, balance, last, want_last, want_balance, charged, want_fee,
                received, bad_last, burn_wrong, bad_balance, bad_fee, bad_received, emerg, moves, topup, events, fee,
                vault) -> None:
        core, names = self.core, self.core.names
        for i in range(len(users)):
            name = names[int(users[i])]
            path = "emergency_burn" if emerg[i] else ("needs_topup" if topup[i] else
                                                      ("increase" if delta[i] > 0 else "decrease") if moves[i]
                                                      else "sync_unchanged")
            if bad_last[i]:
                core.violate(t, "burns" if delta[i] < 0 else "consistency", name, f"after a sync ({path}) lastSats "
                             "differs from the rules", function=SYNC, actual=int(last[i]), expected=int(want_last[i]),
                             delta=int(delta[i]))
            if burn_wrong[i]:
                message = ("an emergency burn did not burn the whole recorded balance" if emerg[i]
                           else "a decrease did not burn exactly |delta|")
                core.violate(t, "burns", name, message, function=SYNC, actual=int(held[i] - balance[i]),
                             expected=int(previous[i] if emerg[i] else -delta[i]))
            if bad_balance[i]:
                core.violate(t, "consistency", name, f"after a sync ({path}) the rBTC balance differs", function=SYNC,
                             actual=int(balance[i]), expected=int(want_balance[i]), delta=int(delta[i]))
            if bad_fee[i]:
                if emerg[i]:
                    core.violate(t, "burns", name, "an emergency burn charged a fee", function=SYNC,
                                 actual=charged[i], expected=0)
                elif moves[i] and delta[i] < 0 and charged[i] == want_fee[i] + int(-delta[i]) * self.rate // 10_000:
                    core.violate(t, "burns", name, "the percentage fee was charged on a burn", function=SYNC,
                                 charged=charged[i], rules_fee=want_fee[i])
                else:
                    core.violate(t, "fees", name, "the fee charged differs from the rules' quote", function=SYNC,
                                 actual=charged[i], expected=want_fee[i], delta=int(delta[i]))
            if bad_received[i]:
                core.violate(t, "fees", name, "the fee collector received other than the fee charged", function=SYNC,
                             actual=received[i], expected=charged[i])
            if topup[i] and not events[i]:
                core.violate(t, "observability", name, "a sync refused for lack of prepaid fees emitted no NeedsTopUp",
                             function=SYNC, delta=int(delta[i]), fee=fee[i], vault=vault[i])

    def reset(self, t: int, user: int) -> None:
        if self.core.burned_flag[user]:
            self.core.violate(t, "burns", self.core.names[user], "resetEmergencyBurnStatus left the flag set",
                              function="OracleAggregator.resetEmergencyBurnStatus", actual=True, expected=False)

    # ------------------------------------------------------------------ end of run

    def final_check(self, t: int, users: np.ndarray) -> None:
        """Invariant 2 at world scale and invariant 4 (deposits = vault balances + fees spent + withdrawals)."""
        core = self.core
        supply = core.supply
        recorded = int(core.last_sats[users].sum())
        balances = int(core.rbtc[users].sum())
        if supply != recorded or supply != balances:
            core.violate(t, "consistency", "system", "totalSupply differs from the sum of lastSats or of balances",
                         function="RBTCSynth.totalSupply", total_supply=supply, sum_last_sats=recorded,
                         sum_balances=balances)
        for user in users[core.rbtc[users] != self.from_events[users]].tolist():
            core.violate(t, "consistency", core.names[user], "balanceOf differs from the Transfer events",
                         function="RBTCSynth.balanceOf", balance=int(core.rbtc[user]),
                         from_events=int(self.from_events[user]))
        vaults = sum(core.vault[users].tolist())
        if self.deposited != vaults + self.spent + self.withdrawn:
            core.violate(t, "fees", "system", "deposits differ from vault balances + fees spent + withdrawals",
                         function=None, deposited=self.deposited, vault_balances=vaults, spent=self.spent,
                         withdrawn=self.withdrawn)

"""The protocol ledger: invariants 3, 4 and 5 and observability, checked on every transaction.

A Foundry-style ghost ledger kept from the *rules* (PROTOCOL.md), never from what a build emits:
for each transaction it works out what the rules say the chain must now hold, reads the touched
accounts' state through the port's views, and reports every difference under the invariant it
breaks, naming the function whose call broke it. After a report the ledger takes the chain's values
as its own, so one defect is one violation per occurrence, not a cascade.

* **burns** (3): a decrease burns exactly ``|delta|`` and charges ``fixedWei`` only (never the
  percentage leg); an emergency burn zeroes ``lastSats`` and the balance, sets the flag, increments
  the counter and charges nothing;
* **consistency** (2): an increase mints exactly ``delta``; ``lastSats`` is what was synced;
* **fees** (4): a deposit credits exactly its value; a charged fee equals the rules' quote and is at
  most the cap; the collector receives exactly what is charged; a withdrawal pays back exactly the
  user's balance and zeroes it; the vault's ETH equals the sum of its users' balances;
* **access** (5): a restricted function succeeds only for its role's holder; rBTC-SYNTH never moves
  between users (``transfer``/``transferFrom``/``approve`` never succeed; no Transfer between two
  non-zero addresses);
* **observability**: every refused sync leaves a record that survives the transaction: a
  ``NeedsTopUp`` event when the vault cannot pay an increase (the sync returns; a revert would erase
  the event the indexer must see), or, for the refusals the rules make by reverting (the fee cap, a
  caller without the role, a balance out of range), a revert with a decodable reason.

It also counts the protocol paths the run reached (:attr:`paths`), for the coverage tables of
``rbtc-sim check`` and the property suite.
"""

from __future__ import annotations

from collections import Counter

from contracts_model.errors import BareRevert
from contracts_model.evm_math import INT64_MAX, UINT256_MAX

ZERO = "0x" + "00" * 20

#: (contract, function) -> the role whose holder alone may call it.
RESTRICTED = {
    ("OracleAggregator", "sync"): "committee",
    ("OracleAggregator", "executeEmergencyBurn"): "committee",
    ("OracleAggregator", "resetEmergencyBurnStatus"): "committee",
    ("OracleAggregator", "registerAndPrepay"): "committee",
    ("RBTCSynth", "oracleMint"): "synth_minter",
    ("RBTCSynth", "oracleBurn"): "synth_minter",
    ("FeeVault", "spendFrom"): "vault_spender",
    ("YieldScalesPool", "joinAsBitcoinHolder"): "pool_oracle",
    ("YieldScalesPool", "joinAsTrader"): "pool_oracle",
    ("YieldScalesPool", "updateRBTCContribution"): "pool_oracle",
    ("YieldScalesPool", "emergencyBurn"): "pool_oracle",
    ("YieldScalesPool", "resolveDispute"): "pool_oracle",
    ("YieldScalesPool", "configureYield"): "pool_oracle",
    ("ProofOfReserves", "publishRoot"): "reserves_publisher",
}
SOULBOUND = ("transfer", "transferFrom", "approve")
#: Reverts whose reason is not decodable (no data, or data matching no declared error).
UNDECODABLE = ("", "UnknownError")


def rule_fee(params, delta: int) -> int:
    """FeePolicy's quote by PROTOCOL.md: the percentage leg on increases only, plus the fixed leg."""
    fee = params.fixed_wei
    if delta > 0:
        fee += delta * params.wei_per_sat * params.pct_bps // 10_000
    return fee


class ProtocolLedger:
    """Follows every transaction of the world's recording port; see the module docstring."""

    def __init__(self, port, violate):
        self.port, self.violate = port, violate
        self.params = port.params
        self.holders = {role: port.role_address(role) for role in set(RESTRICTED.values())}
        self.collector = port.role_address("fee_collector")
        self.vault_address = port.addresses["FeeVault"]
        #: Ghost state: what the rules say the chain holds (re-aligned to the chain after a report).
        self.last: dict[str, int] = {}
        self.rbtc: dict[str, int] = {}
        self.rbtc_total = 0
        self.vault: dict[str, int] = {}
        self.flagged: set[str] = set()
        self.burned_out: set[str] = set()  # emergency-burned and not yet re-minted
        self.emergency_burns = port.call("OracleAggregator", "totalEmergencyBurns")
        self.vault_eth = port.eth_balance(self.vault_address)
        self.collector_eth = port.eth_balance(self.collector)
        self.deposited = self.spent = self.withdrawn = 0
        #: Protocol paths reached (increase, decrease, emergency_burn, needs_topup, …) and reverts by name.
        self.paths: Counter = Counter()
        #: Called with a user whenever its rBTC balance was read anew (the backing monitor listens).
        self.on_rbtc: list = []
        #: rBTC per user as the Transfer events tell it (what an indexer sees), checked against balanceOf at the end.
        self.from_events: Counter = Counter()
        self._eth_before: int | None = None
        port.subscribe_before(self._before)
        port.subscribe(self._after)
        port.subscribe_reverts(self._reverted)

    # ------------------------------------------------------------------ helpers

    def _read_rbtc(self, user: str) -> int:
        value = self.port.rbtc_balance(user)
        self.rbtc_total += value - self.rbtc.get(user, 0)
        self.rbtc[user] = value
        for listener in self.on_rbtc:
            listener(user)
        return value

    def _expect(self, invariant: str, function: str, actor: str, message: str, actual, expected, **values) -> bool:
        if actual == expected:
            return True
        self.violate(invariant, actor, message, function=function, actual=actual, expected=expected, **values)
        return False

    def _check_vault_eth(self, function: str, actor: str) -> None:
        actual = self.port.eth_balance(self.vault_address)
        self._expect("fees", function, actor, "the vault's ETH differs from the sum of its users' balances",
                     actual, self.vault_eth)
        self.vault_eth = actual

    def may_wait(self, user: str, confirmed: int) -> bool:
        """Whether the rules let ``user``'s rBTC differ from ``confirmed`` after a settled round: its
        pending increase needs a top-up (the vault cannot pay the rules' fee) or exceeds the fee cap."""
        pending = confirmed - self.last.get(user, 0)
        if pending <= 0:
            return False
        fee = rule_fee(self.params, pending)
        return fee > self.params.max_fee_per_sync_wei or self.vault.get(user, 0) < fee

    # ------------------------------------------------------------------ hooks

    def _before(self, sender: str, contract: str, function: str, args: tuple, value: int) -> None:
        self._eth_before = self.port.eth_balance(sender) if (contract, function) == ("FeeVault", "withdrawUnused") \
            else None

    def _reverted(self, record: dict, error) -> None:
        name = error.error_name if not isinstance(error, BareRevert) else ""
        self.paths[f"revert:{record['to']}.{record['fn']}:{name or 'no reason'}"] += 1
        if (record["to"], record["fn"]) == ("OracleAggregator", "sync"):
            user = record["args"][0] if record["args"] else record["from"]
            if name in UNDECODABLE:
                self.violate("observability", user, "a refused sync reverted without a decodable reason",
                             function="OracleAggregator.sync", error=repr(error))
            elif self._rules_say_needs_topup(record):
                self.violate("observability", user, "a sync refused for lack of prepaid fees reverted, erasing "
                             "the NeedsTopUp the indexer must see", function="OracleAggregator.sync",
                             error=repr(error))
            if name == "FeeCapExceeded":
                self.paths["fee_cap"] += 1

    def _rules_say_needs_topup(self, record: dict) -> bool:
        """A committee sync of an increase the vault cannot pay (within the cap): the rules refuse it by
        returning with NeedsTopUp, which must stay observable."""
        args = record["args"]
        if record["from"] != self.holders["committee"] or len(args) < 2 or not isinstance(args[1], int):
            return False
        user, new = args[0], args[1]
        delta = new - self.last.get(user, 0)
        fee = rule_fee(self.params, delta)
        return (0 < delta and new <= INT64_MAX and fee <= self.params.max_fee_per_sync_wei
                and self.vault.get(user, 0) < fee)

    def _after(self, record: dict, receipt) -> None:
        contract, function, sender, args = record["to"], record["fn"], record["from"], record["args"]
        label = f"{contract}.{function}"
        role = RESTRICTED.get((contract, function))
        if role is not None and sender != self.holders[role]:
            self.violate("access", sender, f"{label} succeeded for an account that does not hold its role ({role})",
                         function=label, role_holder=self.holders[role])
        for event in receipt.events:
            if event.name == "Transfer" and event.contract == "RBTCSynth":
                source, target, amount = event.args
                self.from_events[source] -= amount
                self.from_events[target] += amount
                if ZERO not in (source, target):
                    self.violate("access", source, "rBTC-SYNTH moved between two users (it is soulbound)",
                                 function=label, to=target, amount=amount)
        if contract == "RBTCSynth" and function in SOULBOUND:
            self.violate("access", sender, f"{function} succeeded on the soulbound rBTC-SYNTH", function=label)
            for user in {sender, *(a for a in args if isinstance(a, str) and a.startswith("0x"))}:
                self._read_rbtc(user)
            return
        handler = self._HANDLERS.get((contract, function))
        if handler is not None:
            handler(self, record, receipt, label)
        elif any(e.name == "Transfer" and e.contract == "RBTCSynth" for e in receipt.events):
            for event in receipt.events:  # a mint or burn outside sync (oracleMint by a role holder, a probe…)
                if event.name == "Transfer" and event.contract == "RBTCSynth":
                    for user in event.args[:2]:
                        if user != ZERO:
                            self._read_rbtc(user)

    # ------------------------------------------------------------------ fee vault

    def _credit(self, record: dict, receipt, label: str, user: str) -> None:
        value = record["value"]
        self.paths["deposit"] += 1
        expected = self.vault.get(user, 0) + value
        actual = self.port.vault_balance(user)
        self._expect("fees", label, user, "a deposit credited the user's vault balance wrongly", actual, expected,
                     deposit=value)
        self.vault[user] = actual
        self.deposited += value
        self.vault_eth += value
        self._check_vault_eth(label, user)

    def _deposit(self, record, receipt, label):
        self._credit(record, receipt, label, record["args"][0])

    def _register(self, record, receipt, label):
        self._credit(record, receipt, label, record["args"][0])

    def _withdraw(self, record, receipt, label):
        user = record["from"]
        held = self.vault.get(user, 0)
        self.paths["withdraw"] += 1
        actual = self.port.vault_balance(user)
        self._expect("fees", label, user, "a withdrawal left a vault balance behind", actual, 0, withdrawn=held)
        if self._eth_before is not None:
            received = self.port.eth_balance(user) - self._eth_before
            self._expect("fees", label, user, "a withdrawal paid back other than the user's whole balance",
                         received, held)
        self.vault[user] = actual
        self.withdrawn += held
        self.vault_eth -= held
        self._check_vault_eth(label, user)

    # ------------------------------------------------------------------ oracle

    def _sync(self, record, receipt, label):
        user, new = record["args"][0], record["args"][1]
        previous = self.last.get(user, 0)
        delta = new - previous
        names = [e.name for e in receipt.events]
        held = self.rbtc.get(user, 0)
        vault = self.vault.get(user, 0)
        p = self.params
        fee = rule_fee(p, delta)
        if delta == 0:
            expected = ("sync_unchanged", previous, held, vault, 0)
        elif new > INT64_MAX or fee > p.max_fee_per_sync_wei or fee > UINT256_MAX:
            self.violate("fees" if new <= INT64_MAX else "consistency", user,
                         "a sync the rules refuse (fee above the cap, or a balance out of range) went through",
                         function=label, new_balance=new, fee=fee, cap=p.max_fee_per_sync_wei)
            expected = None
        elif vault < fee and delta < 0:
            expected = ("emergency_burn", 0, held - previous, vault, 0)
        elif vault < fee:
            expected = ("needs_topup", previous, held, vault, 0)
        else:
            expected = ("increase" if delta > 0 else "decrease", new, held + delta, vault - fee, fee)
        last = self.port.last_sats(user)
        balance = self._read_rbtc(user)
        vault_after = self.port.vault_balance(user)
        charged = vault - vault_after
        collector = self.port.eth_balance(self.collector)
        received = collector - self.collector_eth
        if expected is not None:
            path, want_last, want_balance, want_vault, want_fee = expected
            self.paths[path] += 1
            if path == "increase" and user in self.burned_out:
                self.paths["remint_after_topup"] += 1
            invariant = "burns" if delta < 0 else "consistency"
            self._expect(invariant, label, user, f"after a sync ({path}) lastSats differs from the rules", last,
                         want_last, delta=delta)
            if path == "decrease":
                self._expect("burns", label, user, "a decrease did not burn exactly |delta|", held - balance,
                             -delta)
            elif path == "emergency_burn":
                self._expect("burns", label, user, "an emergency burn did not burn the whole recorded balance",
                             held - balance, previous)
            else:
                self._expect("consistency", label, user, f"after a sync ({path}) the rBTC balance differs",
                             balance, want_balance, delta=delta)
            if path == "emergency_burn":
                self._expect("burns", label, user, "an emergency burn charged a fee", charged, 0)
                self._emergency(user, label)
            elif path == "decrease" and charged != want_fee and charged == want_fee + rule_fee(p, -delta) - p.fixed_wei:
                self.violate("burns", user, "the percentage fee was charged on a burn", function=label,
                             charged=charged, rules_fee=want_fee)
            else:
                self._expect("fees", label, user, "the fee charged differs from the rules' quote", charged, want_fee,
                             delta=delta)
            if path == "needs_topup" and "NeedsTopUp" not in names:
                self.violate("observability", user, "a sync refused for lack of prepaid fees emitted no NeedsTopUp",
                             function=label, delta=delta, fee=fee, vault=vault)
        self._expect("fees", label, user, "the fee collector received other than the fee charged", received, charged)
        self.last[user] = last
        self.vault[user] = vault_after
        self.collector_eth = collector
        self.spent += charged
        self.vault_eth -= charged
        if balance > 0 and expected is not None and expected[0] != "emergency_burn":
            self.burned_out.discard(user)
        self._check_vault_eth(label, user)

    def _emergency(self, user: str, label: str) -> None:
        counter = self.port.call("OracleAggregator", "totalEmergencyBurns")
        self._expect("burns", label, user, "an emergency burn did not increment totalEmergencyBurns", counter,
                     self.emergency_burns + 1)
        self.emergency_burns = counter
        flag = self.port.emergency_burned(user)
        self._expect("burns", label, user, "an emergency burn did not set the user's flag", flag, True)
        self.flagged.add(user)
        self.burned_out.add(user)

    def _execute_emergency_burn(self, record, receipt, label):
        user = record["args"][0]
        previous, held = self.last.get(user, 0), self.rbtc.get(user, 0)
        last, balance = self.port.last_sats(user), self._read_rbtc(user)
        if previous > 0:
            self.paths["emergency_burn"] += 1
            self._expect("burns", label, user, "an emergency burn left lastSats", last, 0)
            self._expect("burns", label, user, "an emergency burn did not burn the whole recorded balance",
                         held - balance, previous)
            self._emergency(user, label)
        self.last[user] = last

    def _reset(self, record, receipt, label):
        user = record["args"][0]
        self._expect("burns", label, user, "resetEmergencyBurnStatus left the flag set",
                     self.port.emergency_burned(user), False)
        self.flagged.discard(user)

    _HANDLERS = {
        ("FeeVault", "depositETH"): _deposit,
        ("OracleAggregator", "registerAndPrepay"): _register,
        ("FeeVault", "withdrawUnused"): _withdraw,
        ("OracleAggregator", "sync"): _sync,
        ("OracleAggregator", "executeEmergencyBurn"): _execute_emergency_burn,
        ("OracleAggregator", "resetEmergencyBurnStatus"): _reset,
    }

    # ------------------------------------------------------------------ end of run

    def final_check(self, users) -> None:
        """Invariant 2 at world scale (totalSupply = Σ lastSats = Σ balanceOf, each balance matching its
        Transfer events) and invariant 4 (Σ deposits = Σ vault balances + Σ spent + Σ withdrawn), over
        the chain's own state."""
        supply = self.port.total_supply()
        recorded = sum(self.port.last_sats(u) for u in users)
        balances = {u: self.port.rbtc_balance(u) for u in users}
        if supply != recorded or supply != sum(balances.values()):
            self.violate("consistency", "system", "totalSupply differs from the sum of lastSats or of balances",
                         function="RBTCSynth.totalSupply", total_supply=supply, sum_last_sats=recorded,
                         sum_balances=sum(balances.values()))
        for user in users:
            if balances[user] != self.from_events[user]:
                self.violate("consistency", user, "balanceOf differs from the Transfer events",
                             function="RBTCSynth.balanceOf", balance=balances[user], from_events=self.from_events[user])
        balances = sum(self.port.vault_balance(u) for u in users)
        if self.deposited != balances + self.spent + self.withdrawn:
            self.violate("fees", "system", "deposits differ from vault balances + fees spent + withdrawals",
                         function=None, deposited=self.deposited, vault_balances=balances, spent=self.spent,
                         withdrawn=self.withdrawn)

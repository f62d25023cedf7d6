"""What happens to the protocol from outside, for the fast engine: the users' draws and the Bitcoin chain.

Nothing here reads the protocol's state: onboarding, users' actions (receive, spend, check fees,
withdraw, bind), the chain's blocks and the scenario's reorgs and deposit bursts depend only on
this module's own draws and on the chain. So it runs ahead of the protocol core and hands it a
time-ordered stream (:meth:`Exogenous.next_batch`): what the core must act on (onboardings,
bindings, blocks and reorgs as :class:`~sim.fast.chain.ChainChange`), the users' fee checks and
withdrawals as arrays (whether a check tops up depends on the prepaid balance, which only the core
knows), and the ``btc_tx`` records.

Everything between two blocks is one batch: the actions' times, users, kinds and amounts are drawn
for an hour at a time as arrays (arrivals of one Poisson stream over the onboarded users, thinned
while the population grows); receives are one batch of deposits; spends run one by one (each
needs its address's spendable coins); a user's binding or onboarding inside the batch counts for
the actions after it.
"""

from __future__ import annotations

import numpy as np

from sim.bitcoin.address import encode_p2tr, encode_p2wpkh
from sim.bitcoin.transactions import MAX_MONEY
from sim.config import DAY, WorldConfig
from sim.draws import uniform_int
from sim.fast import objects
from sim.fast.chain import FastChain

RECEIVE, SPEND, CHECK_FEES, WITHDRAW, BIND, ONBOARD = range(6)
CHUNK_S = 3_600


class Exogenous:
    def __init__(self, config: WorldConfig, rng_agents, rng_actions, rng_chain, rng_events, min_conf: int,
                 genesis: int):
        self.config, self.genesis = config, genesis
        self.rng_agents, self.rng_actions, self.rng_chain, self.rng_events = rng_agents, rng_actions, rng_chain, \
            rng_events
        c = config.agents
        n = config.users
        depth = max([int(e.params["depth"]) for e in config.schedule if e.kind == "reorg"], default=0)
        self.chain = FastChain(min_conf, max_block_txs=config.bitcoin.max_block_txs, keep_blocks=depth)
        self.address_strings: list[str] = []
        self.address_table = np.full((n, 4), -1, dtype=np.int64)  # user -> its address ids, in binding order
        self.address_count = np.zeros(n, dtype=np.int64)
        window = max(1, c.onboarding_window_s)
        self.onboard_times = np.sort(rng_agents.integers(0, window, size=n))
        self.onboard_order = rng_agents.permutation(n)
        self.onboarded: list[int] = []
        self.funded = 0  # sats ever deposited from outside; never more than MAX_MONEY (BitcoinChain's rule)
        rates = np.array([c.receive_per_day, c.spend_per_day, 1.0, c.withdraw_per_day, c.bind_extra_address_per_day])
        self._rate = float(rates.sum()) / DAY
        self._cdf = np.cumsum(rates / rates.sum()) if rates.sum() > 0 else None
        self._pending: list = []  # drawn actions not yet run: arrays of one chunk
        self._chunk_end = 0
        self._next_onboard = 0
        self.next_block = max(1, int(round(rng_chain.exponential(config.bitcoin.mean_block_interval_s))))
        self._schedule = sorted((e for e in config.schedule if e.kind in ("reorg", "deposit_burst")),
                                key=lambda e: e.at_s)

    # ------------------------------------------------------------------ drawing

    def _draw_chunk(self) -> None:
        """Every action arriving in the next hour: times, users, kinds and their draws."""
        start, end = self._chunk_end, self._chunk_end + CHUNK_S
        self._chunk_end = end
        rng, c = self.rng_actions, self.config.agents
        columns = {}
        if self._cdf is not None:
            active_end = int(np.searchsorted(self.onboard_times, end - 1, side="right"))
            rate = self._rate * active_end
            count = int(rng.poisson(rate * CHUNK_S)) if rate > 0 else 0
            times = np.sort(rng.integers(start, end, size=count))
            active = np.searchsorted(self.onboard_times, times, side="right")
            keep = rng.random(count) * active_end < active  # thinning while the population still grows
            times, active = times[keep], active[keep]
            count = len(times)
            columns = {
                "t": times,
                "user": self.onboard_order[(rng.random(count) * active).astype(np.int64)],
                "kind": np.searchsorted(self._cdf, rng.random(count), side="right"),
                "pick": rng.random(count),
                "receive": rng.integers(c.receive_sats[0], c.receive_sats[1] + 1, size=count),
                "fraction": rng.uniform(c.spend_fraction[0], c.spend_fraction[1], size=count),
                "topup": rng.integers(c.prepay_wei[0], c.prepay_wei[1] + 1, size=count) if c.prepay_wei[1] < 2**62
                else np.array([uniform_int(rng, *c.prepay_wei) for _ in range(count)], dtype=object),
            }
        # onboardings in this hour, before the actions of their second
        lo = self._next_onboard
        hi = int(np.searchsorted(self.onboard_times, end, side="left"))
        self._next_onboard = hi
        if hi > lo:
            k = hi - lo
            onboard = {"t": self.onboard_times[lo:hi], "user": self.onboard_order[lo:hi],
                       "kind": np.full(k, ONBOARD), "pick": np.zeros(k), "receive": np.zeros(k, dtype=np.int64),
                       "fraction": np.zeros(k), "topup": np.zeros(k, dtype=np.int64)}
            if columns:
                merged = {key: np.concatenate([onboard[key], columns[key]]) for key in columns}
                order = np.lexsort((merged["kind"] != ONBOARD, merged["t"]))  # by second, onboardings first
                columns = {key: value[order] for key, value in merged.items()}
            else:
                columns = onboard
        if columns:
            self._pending.append(columns)

    def _take_until(self, t: int) -> dict | None:
        """The drawn actions before second ``t`` (actions of second ``t`` come before its block)."""
        while self._chunk_end <= t and self._chunk_end < self.config.duration_s:
            self._draw_chunk()
        parts = []
        rest = []
        for columns in self._pending:
            stop = int(np.searchsorted(columns["t"], t, side="right"))
            if stop:
                parts.append({key: value[:stop] for key, value in columns.items()})
            if stop < len(columns["t"]):
                rest.append({key: value[stop:] for key, value in columns.items()})
        self._pending = rest
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}

    # ------------------------------------------------------------------ addresses

    def _new_address(self) -> tuple[int, str, bytes]:
        rng = self.rng_agents
        network = self.config.bitcoin.network
        if rng.random() < self.config.agents.taproot_share:
            program = rng.bytes(32)
            text, por = encode_p2tr(program, network), program
        else:
            program = rng.bytes(20)
            text, por = encode_p2wpkh(program, network), b"\x00" * 12 + program
        self.chain.add_addresses(1)
        self.address_strings.append(text)
        return len(self.address_strings) - 1, text, por

    def _add_address(self, user: int) -> tuple[int, str, bytes]:
        address = self._new_address()
        count = int(self.address_count[user])
        if count == self.address_table.shape[1]:
            self.address_table = np.hstack([self.address_table, np.full_like(self.address_table, -1)])
        self.address_table[user, count] = address[0]
        self.address_count[user] = count + 1
        return address

    def _draw(self, bounds) -> int:
        return uniform_int(self.rng_agents, *bounds)

    def _fund(self, amounts: np.ndarray) -> np.ndarray | None:
        """Which of these deposits (in order) the outside world can still make: BitcoinChain refuses one
        that would take the sats ever deposited past 21 M BTC. None when it can make all of them."""
        if self.funded + float(amounts.sum(dtype=np.float64)) < MAX_MONEY - 2**20:  # far from the cap
            self.funded += int(amounts.sum())
            return None
        made = np.zeros(len(amounts), dtype=bool)
        for i, amount in enumerate(amounts.tolist()):
            if self.funded + amount <= MAX_MONEY:
                self.funded += amount
                made[i] = True
        return made

    # ------------------------------------------------------------------ the stream

    def next_batch(self, until: int) -> tuple[int, list[tuple]]:
        """Everything up to the next block or scheduled chain event before second ``until`` (exclusive):
        ``(horizon, items)``, items ``(t, class, kind, payload)`` in time order, all of them at or before
        ``horizon``; nothing further happens before ``horizon``. ``horizon == until`` when the world is done."""
        block = self.next_block < until
        stop = self.next_block if block else until - 1
        scheduled = self._schedule[0] if self._schedule and self._schedule[0].at_s <= stop else None
        items: list[tuple] = []
        if scheduled is not None:
            actions = self._take_until(scheduled.at_s - 1)
            if actions is not None:
                self._run(actions, items)
            self._schedule.pop(0)
            items.append((scheduled.at_s, 0, scheduled.kind, self._scheduled(scheduled)))
            return scheduled.at_s, items
        actions = self._take_until(stop)
        if actions is not None:
            self._run(actions, items)
        if not block:
            return until, items
        t = self.next_block
        items.append((t, 4, "block", self.chain.mine(t, self.genesis + t)))
        self.next_block = t + max(1, int(round(self.rng_chain.exponential(self.config.bitcoin.mean_block_interval_s))))
        return t, items

    def _run(self, a: dict, items: list) -> None:
        """One inter-block batch of actions (see the module docstring)."""
        kinds, users, times = a["kind"], a["user"], a["t"]
        chain = self.chain
        count = len(kinds)
        first = chain.reserve_numbers(count)
        # addresses first: onboardings and bindings, in order; later actions of those users see them
        counts = self.address_count[users]  # what each acting user had when the batch began (a copy)
        made = np.flatnonzero((kinds == ONBOARD) | (kinds == BIND))
        for i in made.tolist():
            user, t = int(users[i]), int(times[i])
            had = int(self.address_count[user])
            if kinds[i] == ONBOARD:
                self._onboard(t, user, first + i, items)
            else:
                items.append((t, 2, "bind", (user, self._add_address(user))))
            later = np.flatnonzero(users[i + 1:] == user) + i + 1
            counts[later] += int(self.address_count[user]) - had
        chain_rows = []
        receive = np.flatnonzero(kinds == RECEIVE)
        if len(receive):
            made = self._fund(a["receive"][receive])
            if made is not None:
                for i in receive[~made].tolist():
                    items.append((int(times[i]), 2, "supply_exhausted", [int(users[i])]))
                receive = receive[made]
        if len(receive):
            who = users[receive]
            addresses = self._pick(who, a["pick"][receive], counts[receive])
            amounts = a["receive"][receive]
            chain.deposit_many(addresses, amounts, first + receive)
            chain_rows.append((receive, np.zeros(len(receive), dtype=np.int64), addresses, amounts))
        spend = np.flatnonzero(kinds == SPEND)
        if len(spend):
            who = users[spend]
            addresses = self._pick(who, a["pick"][spend], counts[spend])
            spend_share = chain.spend_share
            done, amounts = [], []
            for i, address, fraction in zip(spend.tolist(), addresses.tolist(), a["fraction"][spend].tolist()):
                amount = spend_share(address, fraction, first + i)
                if amount is not None:
                    done.append(i)
                    amounts.append(amount)
            if done:
                positions = np.asarray(done, dtype=np.int64)
                chain_rows.append((positions, np.ones(len(done), dtype=np.int64),
                                   addresses[np.searchsorted(spend, positions)], np.asarray(amounts, dtype=np.int64)))
        if chain_rows:
            positions = np.concatenate([r[0] for r in chain_rows])
            order = np.argsort(positions, kind="stable")
            positions = positions[order]
            codes = np.concatenate([r[1] for r in chain_rows])[order]
            items.append((int(times[positions[0]]), 2, "btc_tx", {
                "t": times[positions], "tx_kind": ["deposit" if k == 0 else "spend" for k in codes.tolist()],
                "txid": first + positions, "user": users[positions],
                "address": np.concatenate([r[2] for r in chain_rows])[order],
                "amount": np.concatenate([r[3] for r in chain_rows])[order]}))
        ticks = np.flatnonzero((kinds == CHECK_FEES) | (kinds == WITHDRAW))
        if len(ticks):
            items.append((int(times[ticks[0]]), 2, "ticks", {"t": times[ticks], "user": users[ticks],
                                                             "withdraw": kinds[ticks] == WITHDRAW,
                                                             "topup": a["topup"][ticks]}))

    def _pick(self, users: np.ndarray, uniforms: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Each user's address at a uniform draw over the ``counts`` addresses it had at the action's time."""
        return self.address_table[users, (uniforms * counts).astype(np.int64)]

    def _onboard(self, t: int, user: int, number: int, items: list) -> None:
        c = self.config.agents
        count = self._draw(c.addresses_per_user)
        prepay = self._draw(c.prepay_wei)
        via_committee = self.rng_agents.random() < self.config.oracle.register_with_prepay_share
        addresses = [self._add_address(user) for _ in range(max(1, count))]
        initial = self._draw(c.initial_btc_sats)
        if self._fund(np.array([initial])) is None:
            self.chain.deposit_many(np.array([addresses[0][0]]), np.array([initial]), np.array([number]))
        else:
            initial = None  # the world logs SupplyExhausted instead of the deposit
        self.onboarded.append(user)
        items.append((t, 1, "onboard", (user, addresses, prepay, via_committee, number, initial)))

    # ------------------------------------------------------------------ scheduled chain events

    def _scheduled(self, item):
        t, params = item.at_s, item.params
        if item.kind == "reorg":
            depth = min(int(params["depth"]), self.chain.height)
            if depth < 1:
                return None
            return self.chain.reorg(t, self.genesis + t, depth, self.rng_events, float(params.get("drop", 0.0)),
                                    float(params.get("double_spend", 1.0)))
        share = float(params.get("users", 0.5))
        low, high = tuple(params.get("sats", (10_000, 1_000_000)))
        rows, refused = [], []
        for user in list(self.onboarded):
            if self.rng_events.random() < share:
                amount = uniform_int(self.rng_events, low, high)
                if self._fund(np.array([amount])) is not None:
                    refused.append(user)
                    continue
                address = int(self.address_table[user, 0])
                rows.append((user, address, amount, self.chain.deposit(address, amount)))
        return rows, refused


class Feeder:
    """Hands the protocol side :meth:`Exogenous.next_batch` results, from this process or from a child.

    With ``in_child`` the generator runs in a forked process on the other core and sends its batches
    ahead through a pipe (a few hundred per message); the protocol side reads them in the same order,
    so the run — and its digest — is the same either way.
    """

    PER_MESSAGE = 64

    def __init__(self, exo: Exogenous, until: int, *, in_child: bool = False):
        self.exo, self.until = exo, until
        self._queue: list = []
        self._child = None
        if in_child:
            import multiprocessing

            context = multiprocessing.get_context("fork")
            self._conn, child_end = context.Pipe(duplex=False)
            self._child = context.Process(target=_produce, args=(exo, until, child_end, self.PER_MESSAGE), daemon=True)
            self._child.start()
            child_end.close()

    def next_batch(self) -> tuple[int, list]:
        if self._child is None:
            return self.exo.next_batch(self.until)
        if not self._queue:
            message = self._conn.recv()
            if isinstance(message, BaseException):
                raise message
            self._queue = message
            self._queue.reverse()
        return self._queue.pop()

    def close(self) -> None:
        if self._child is not None:
            self._conn.close()
            self._child.terminate()
            self._child.join()
            self._child = None


def _produce(exo: Exogenous, until: int, conn, per_message: int) -> None:
    """The child: batches until the world's end, ``per_message`` at a time."""
    try:
        done = False
        while not done:
            message = []
            while len(message) < per_message:
                horizon, items = exo.next_batch(until)
                message.append((horizon, items))
                objects.settle()
                if horizon >= until:
                    done = True
                    break
            conn.send(message)
    except BaseException as exc:  # the parent raises it
        conn.send(exc)
    finally:
        conn.close()

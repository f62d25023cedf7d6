"""The shared exogenous trace: what a reference world was given, replayed into the fast engine's core.

Both engines model the same protocol but draw their randomness in different orders, so their
event logs (and digests) differ. To show that they nevertheless compute the same thing, a
reference :class:`sim.world.World` is run with a :class:`TraceRecorder` attached. The recorder only
listens (a chain listener, an event-log listener, and wrappers around a few methods that note when
they are called); it draws nothing and writes nothing, so the reference world's digest is
unchanged. It notes, in the order they happen:

* the exogenous inputs: every block and reorg, as the protocol sees it (the addresses they touched,
  and the new confirmed balance of every address whose balance may have changed); every binding;
  every transaction a user sends (deposits, top-ups, withdrawals) and every trader report; every
  claim and dispute a user files; the committee's outages;
* when the reference ran each of the protocol's own steps: an oracle round (and why), the
  end-of-instant checks, a proof-of-reserves round, a dispute validation, a metrics sample, the
  final checks.

:func:`replay` feeds that trace to a fresh :class:`sim.fast.core.Core` in the same order and
returns its records rendered in the reference format; :func:`compare` lines them up with the
reference's records second by second (within a second the fast core writes a round's records
grouped by kind, the reference user by user, so each second is compared as a multiset) and
returns every difference. Equal protocol outcome means: the same transactions with the same
decoded events (every sync, fee, burn, emergency burn, pool update, join, claim, dispute, publication),
the same oracle operations and rounds, the same backing windows, reserves figures and violations,
the same metrics rows.
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np

from sim.bitcoin.address import validate
from sim.eventlog import canonical
from sim.fast.chain import ChainChange
from sim.fast.core import Core
from sim.fast.records import FastLog
from sim.fast.world import metrics_row

#: Reference record kinds that belong to the users or the Bitcoin chain, not to the protocol's outcome.
NOT_OUTCOME = {"btc_tx", "btc_block", "btc_reorg", "reorg_skipped", "fee_drought", "agent_error", "world_start",
               "world_end"}
#: Fields that number records or transactions by position (they depend on how records are batched).
POSITIONAL = ("seq", "hash", "index", "step")


class TraceRecorder:
    """Attach to a reference world before it runs; ``items`` is the trace once it has finished."""

    def __init__(self, world):
        self.world = world
        self.items: list[tuple] = []
        self.users = sorted(u.address for u in world.population.users)
        self.traders = list(world.yields.traders)
        self.committee = world.port.accounts.committee
        self._cursor = 0
        self.min_conf = world.oracle.min_conf
        world.log.subscribe(self._on_record)
        world.chain.add_listener(self._on_chain)
        now = lambda: int(world.env.now)  # noqa: E731

        def mark(owner, name, item):
            original = getattr(owner, name)

            def wrapper(*args, **kwargs):
                self.items.append(item(now(), *args))
                return original(*args, **kwargs)

            setattr(owner, name, wrapper)

        mark(world.oracle, "round", lambda t, reason: ("round", t, reason))
        mark(world.monitor, "_end_of_instant", lambda t: ("eoi", t))
        mark(world.reserves, "publish", lambda t: ("por", t))
        mark(world.metrics, "sample", lambda t: ("sample", t))
        mark(world.yields, "claim", lambda t, user: ("claim", t, user))
        mark(world.disputes, "file", lambda t, user, reported: ("dispute_file", t, user, reported))
        mark(world, "finish", lambda t: ("finish", t))

    def _on_record(self, record: dict) -> None:
        self.items.append(("record", record["t"], record))

    def _on_chain(self, event) -> None:
        chain = self.world.chain
        changes = chain.changes_since(self._cursor, self.min_conf)
        self._cursor = changes.cursor
        touched = event.addresses if hasattr(event, "addresses") else event.affected_addresses
        balances = [chain.confirmed_balance(a, self.min_conf) for a in changes.addresses]
        depth = 0 if hasattr(event, "addresses") else event.depth
        self.items.append(("chain", int(self.world.env.now), tuple(touched), changes.addresses, balances,
                           "block" if depth == 0 else "reorg", depth, chain.height, chain.cursor))


def replay(recorder: TraceRecorder, config) -> tuple[Core, FastLog, list[dict]]:
    """Drive a fresh fast core with the recorded trace; returns it, its log (records kept) and metrics rows."""
    from sim.protocol.evm_backend import GENESIS_TIMESTAMP

    log = FastLog(keep=True)
    core = Core(config, log, recorder.users, recorder.traders, GENESIS_TIMESTAMP)
    user_id = {name: i for i, name in enumerate(core.names)}
    address_id: dict[str, int] = {}
    disputes: dict[int, object] = {}
    rows: list[dict] = []
    committee = recorder.committee
    height = 0
    for item in recorder.items:
        kind, t = item[0], item[1]
        if kind == "chain":
            _, _, touched, changed, balances, change_kind, depth, height, cursor = item
            known = [(address_id[a], b) for a, b in zip(changed, balances) if a in address_id]
            change = ChainChange(
                t, change_kind, height, cursor,
                np.array(sorted(address_id[a] for a in touched if a in address_id), dtype=np.int64),
                np.array([k for k, _ in known], dtype=np.int64), np.array([b for _, b in known], dtype=np.int64),
                depth=depth)
            core.chain_change(change)
        elif kind == "round":
            core.round(t, item[2])
        elif kind == "eoi":
            core.end_of_instant(t)
        elif kind == "por":
            core.publish_reserves(t)
        elif kind == "sample":
            rows.append(metrics_row(core, t, height))
        elif kind == "claim":
            core.claim(t, user_id[item[2]])
        elif kind == "dispute_file":
            dispute = core.file_dispute(t, user_id[item[2]], item[3])
            if dispute is not None:
                disputes[dispute.id] = dispute
        elif kind == "finish":
            core.finish(t)
        elif kind == "record":
            record = item[2]
            what = record["kind"]
            if what == "bind":
                address = record["btc_address"]
                address_id[address] = len(core.addresses)
                core.add_addresses([address])
                core.register(t, user_id[record["user"]], address_id[address], validate(address).por_program,
                              record["method"], record["checksum"], record["prepay_wei"])
            elif what == "evm_tx" and record["from"] != committee:
                if record["fn"] == "depositETH":
                    core.deposit(t, record["from"], user_id[record["args"][0]], record["value"])
                elif record["fn"] == "withdrawUnused":
                    core.withdraw(t, user_id[record["from"]])
            elif what == "evm_tx" and record["fn"] == "joinAsTrader":
                core.trader_join(t, user_id[record["args"][0]], record["args"][1])
            elif what == "oracle_outage":
                core.go_offline(t, record["until"] - t)
            elif what == "dispute_validated":
                core.validate_dispute(t, disputes[record["dispute_id"]])
    return core, log, rows


def _key(record: dict) -> str:
    trimmed = {k: v for k, v in record.items() if k not in POSITIONAL}
    return canonical(trimmed)


def compare(reference: list[dict], fast: list[dict]) -> list[str]:
    """Every difference between the reference's outcome records and the fast core's, second by second."""
    def by_second(records):
        seconds: dict[int, Counter] = {}
        for record in records:
            if record["kind"] in NOT_OUTCOME:
                continue
            seconds.setdefault(record["t"], Counter())[_key(record)] += 1
        return seconds

    ref, got = by_second(reference), by_second(fast)
    problems = []
    for t in sorted(set(ref) | set(got)):
        a, b = ref.get(t, Counter()), got.get(t, Counter())
        if a != b:
            missing, extra = a - b, b - a
            for line in list(missing)[:3]:
                problems.append(f"t={t}: only the reference wrote {line}")
            for line in list(extra)[:3]:
                problems.append(f"t={t}: only the fast engine wrote {line}")
        if len(problems) > 30:
            break
    return problems


def compare_rows(reference: list[dict], fast: list[dict]) -> list[str]:
    """The metrics time series, row by row."""
    problems = []
    if len(reference) != len(fast):
        problems.append(f"{len(reference)} metrics rows in the reference, {len(fast)} in the fast engine")
    for a, b in zip(reference, fast):
        if a != b:
            problems.append(f"metrics at t={a['t']}: reference {json.dumps(a)} fast {json.dumps(b)}")
            if len(problems) > 10:
                break
    return problems
